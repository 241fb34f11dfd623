//! Secrets and what an account sees: the creation stamp, masking for viewers.

use super::*;

both!(
    /// A viewer reads the secret up to 26.7 (from 26.8 on it is masked: see the emulator-only
    /// test in `keycloak`); a query-only account sees no client at all.
    what_a_viewer_and_a_query_only_account_see,
    |kc| {
        kc.seed_client(REALM, json!({"clientId": "om", "publicClient": false}))
            .await;
        let secret = kc.secret_of(REALM, "om").await.unwrap();
        kc.add_user("viewer", "pw", Level::View).await;
        let viewer = Raw::login(&kc, "viewer", "pw").await;
        let listed = viewer.get("/clients?clientId=om").await;
        assert_eq!(listed[0]["secret"], secret.as_str());
        assert_eq!(listed[0]["access"]["manage"], false);
        let (status, _) = viewer
            .send(
                reqwest::Method::PUT,
                &format!("/clients/{}", listed[0]["id"].as_str().unwrap()),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 403);

        kc.add_user("querier", "pw", Level::Query).await;
        let querier = Raw::login(&kc, "querier", "pw").await;
        assert_eq!(querier.get("/clients?clientId=om").await, json!([]));
        let (status, _) = querier
            .send(
                reqwest::Method::GET,
                &format!("/clients/{}", listed[0]["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, 403);
    }
);

both!(
    /// Keycloak stamps `client.secret.creation.time` only when it generates a secret
    /// (`KeycloakModelUtils.generateSecret`): on creation without a secret and on
    /// `POST client-secret`. A secret given in a POST or PUT body is set as is.
    only_a_generated_secret_is_stamped_with_its_creation_time,
    |kc| {
        let raw = Raw::admin(&kc).await;
        let stamp = |c: &Value| c["attributes"]["client.secret.creation.time"].clone();

        let given =
            json!({"clientId": "given", "publicClient": false, "secret": "chosen-by-someone"});
        assert_eq!(
            raw.send(reqwest::Method::POST, "/clients", Some(given))
                .await
                .0,
            201
        );
        let got = &raw.get("/clients?clientId=given").await[0];
        assert_eq!(got["secret"], "chosen-by-someone");
        assert_eq!(stamp(got), Value::Null, "a given secret is not stamped");

        let generated = json!({"clientId": "generated", "publicClient": false});
        raw.send(reqwest::Method::POST, "/clients", Some(generated))
            .await;
        let got = raw.get("/clients?clientId=generated").await[0].clone();
        let id = got["id"].as_str().unwrap().to_string();
        let first = stamp(&got);
        assert!(first.is_string(), "a generated secret is stamped");

        // Keycloak's clock counts seconds: let it move past the first stamp.
        match kc.emulator_only() {
            Some(emu) => emu.advance_clock(std::time::Duration::from_secs(100)),
            None => tokio::time::sleep(std::time::Duration::from_millis(1100)).await,
        }
        let (status, _) = raw
            .send(
                reqwest::Method::PUT,
                &format!("/clients/{id}"),
                Some(json!({"secret": "set-by-put"})),
            )
            .await;
        assert_eq!(status, 204);
        let got = raw.get(&format!("/clients/{id}")).await;
        assert_eq!(got["secret"], "set-by-put");
        assert_eq!(stamp(&got), first, "a PUT keeps the stamp");

        let (status, regenerated) = raw
            .send(
                reqwest::Method::POST,
                &format!("/clients/{id}/client-secret"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        let got = raw.get(&format!("/clients/{id}")).await;
        assert_eq!(got["secret"], regenerated["value"]);
        let moved: i64 = stamp(&got).as_str().unwrap().parse().unwrap();
        let before: i64 = first.as_str().unwrap().parse().unwrap();
        assert!(moved > before, "regenerating stamps it anew");
    }
);
