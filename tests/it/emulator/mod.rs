//! The test double tells the truth: what Keycloak does with the Admin API requests the operator
//! makes, checked over raw HTTP (nothing of the operator involved) on the emulator and, with
//! `tests/keycloak/keycloak.sh test`, on every supported real Keycloak with the same
//! assertions. The emulator answers from its own model, the way Keycloak's
//! `ModelToRepresentation` builds a representation, and never echoes a request body; PUT has
//! Keycloak's semantics and side effects.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    both, shows,
    support::{
        emulator::{Level, SINCE_25, SINCE_26},
        openapi::{OpenApi, violations},
        password_grant,
        target::{Kc, REALM},
    },
};

struct Raw {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Raw {
    async fn admin(kc: &Kc) -> Self {
        let omkc::keycloak::Credentials::Password { username, password } = kc.admin_credentials()
        else {
            unreachable!()
        };
        Self::login(kc, &username, &password).await
    }

    async fn login(kc: &Kc, user: &str, password: &str) -> Self {
        omkc::tls::install_crypto_provider();
        let http = reqwest::Client::new();
        let token = password_grant(&http, &kc.base_url, user, password).await;
        Self {
            http,
            base: format!("{}/admin/realms/{REALM}", kc.base_url),
            token: token["access_token"].as_str().unwrap().to_string(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}");
        body
    }
}

fn sorted(v: &Value) -> Vec<String> {
    let mut items: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    items.sort();
    items
}

both!(a_representation_is_built_from_the_model_not_echoed, |kc| {
    let raw = Raw::admin(&kc).await;
    let sent = json!({
        "clientId": "om",
        "authorizationServicesEnabled": false,
        "redirectUris": ["https://c.example/cb", "https://a.example/cb", "https://b.example/cb"],
        "attributes": {"post.logout.redirect.uris": "https://a.example/logout", "blank": " "}
    });
    let (status, _) = raw
        .send(reqwest::Method::POST, "/clients", Some(sent.clone()))
        .await;
    assert_eq!(status, 201);
    let listed = raw.get("/clients?clientId=om").await;
    let got = &listed[0];
    assert_ne!(*got, sent, "never the request body");
    // Null fields omitted; no adminUrl unless given; authorizationServicesEnabled only present,
    // as true, with a resource server; Keycloak's own attributes, blank values not stored.
    // Absent on create: confidential, no direct access grants, no front-channel logout.
    // (`realm_client` is reported from 26.0 on.)
    let realm_client = (kc.version >= SINCE_26).then_some("false");
    shows!(got, {"description": null, "adminUrl": null, "authorizationServicesEnabled": null,
                 "attributes": {"realm_client": realm_client, "blank": null},
                 "publicClient": false, "directAccessGrantsEnabled": false,
                 "frontchannelLogout": false, "access": {"manage": true}});
    assert!(got["attributes"]["client.secret.creation.time"].is_string());
    assert!(
        got["secret"].as_str().is_some_and(|s| !s.is_empty()),
        "the secret, in the list too"
    );
    // The realm's defaults, by name: `basic` from 25.0 on, `organization` from 26.0 on.
    let mut defaults = vec!["acr", "email", "profile", "roles", "web-origins"];
    let mut optionals = vec!["address", "microprofile-jwt", "offline_access", "phone"];
    if kc.version >= SINCE_25 {
        defaults.insert(1, "basic");
    }
    if kc.version >= SINCE_26 {
        optionals.insert(3, "organization");
    }
    assert_eq!(sorted(&got["defaultClientScopes"]), defaults);
    assert_eq!(sorted(&got["optionalClientScopes"]), optionals);
    assert_eq!(sorted(&got["redirectUris"]), sorted(&sent["redirectUris"]));
    for flag in [
        "enabled",
        "publicClient",
        "bearerOnly",
        "standardFlowEnabled",
        "serviceAccountsEnabled",
    ] {
        assert!(got[flag].is_boolean(), "{flag} is always reported");
    }
    let mut by_id = raw
        .get(&format!("/clients/{}", got["id"].as_str().unwrap()))
        .await;
    // In no order of their own: on MariaDB two reads list the scopes in two orders.
    let mut got = got.clone();
    for scopes in ["defaultClientScopes", "optionalClientScopes"] {
        (got[scopes], by_id[scopes]) = (sorted(&got[scopes]).into(), sorted(&by_id[scopes]).into());
    }
    assert_eq!(
        by_id, got,
        "the list by clientId carries the full representation"
    );

    let (status, body) = raw
        .send(
            reqwest::Method::POST,
            "/clients",
            Some(json!({"clientId": "fragment", "redirectUris": ["https://a.example/cb#x"]})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (400, &json!("invalid_input")),
        "{body}"
    );

    assert_eq!(
        violations(&OpenApi::keycloak(), &kc.log()),
        Vec::<String>::new()
    );
});

both!(
    /// Keycloak's client validation (`java.net.URI`, an illegal scheme, a fragment, a root URL it
    /// cannot open; post-logout URIs from 26.6), each distinct message once; a relative URI's
    /// `{template}` without a root URL fails with 500; without `webOrigins`, the origins of the
    /// `http` redirect URIs are the client's; blank URIs are left out from 26.7.
    keycloak_checks_a_clients_uris_and_derives_its_web_origins,
    |kc| {
        let raw = Raw::admin(&kc).await;
        let since_26_6 = kc.version >= (26, 6, 0);
        let post_logout = |u: &str| json!({"attributes": {"post.logout.redirect.uris": u}});
        let invalid = "A redirect URI is not a valid URI";
        let cases = [
            (json!({"redirectUris": ["https://a.example/a b", "https://b.example/|"]}), 400, vec![invalid]),
            (json!({"rootUrl": "https://r.example", "redirectUris": ["/a b"]}), 400, vec![invalid]),
            (json!({"redirectUris": ["/a b", "myapp://cb", "*"]}), 201, vec![]),
            (
                json!({"rootUrl": "javascript:x#f"}),
                400,
                vec!["Root URL must not contain an URL fragment", "Root URL uses an illegal scheme"],
            ),
            (json!({"rootUrl": "myapp://r"}), 400, vec!["Root URL is not a valid URL"]),
            (json!({"adminUrl": "/a b#f"}), 201, vec![]),
            (json!({"redirectUris": ["/{x}"]}), 500, vec![]),
            (
                post_logout("https://a.example/a b"),
                if since_26_6 { 400 } else { 201 },
                if since_26_6 { vec!["A post-logout redirect URI is not a valid URI"] } else { vec![] },
            ),
        ];
        // From 26.6 the admin URL is checked too (openable; a relative one appended to the root).
        let admin = |body: Value, message: &'static str| match since_26_6 {
            true => (body, 400, vec![message]),
            false => (body, 201, vec![]),
        };
        let cases = cases.into_iter().chain([
            admin(json!({"adminUrl": "myapp://a"}), "Admin URL is not a valid URL"),
            admin(json!({"adminUrl": "javascript:a"}), "Admin URL uses an illegal scheme"),
            admin(
                json!({"rootUrl": "https://r.example", "adminUrl": "/a b"}),
                "Admin URL is not a valid URL",
            ),
        ]);
        for (i, (body, status, messages)) in cases.enumerate() {
            let mut body = body;
            body["clientId"] = json!(format!("uris-{i}"));
            let (got, answer) = raw.send(reqwest::Method::POST, "/clients", Some(body.clone())).await;
            let mut said: Vec<&str> = (answer["error_description"].as_str())
                .filter(|_| got == StatusCode::BAD_REQUEST)
                .map(|d| d.split("; ").collect())
                .unwrap_or_default();
            said.sort_unstable();
            assert_eq!((got.as_u16(), said), (status, messages), "{body} on {}", kc.describe());
        }
        let sent = ["https://a.example:8443/cb", "http://b.example", "/rel", "myapp://cb", ""];
        let body = json!({"clientId": "derived", "redirectUris": sent});
        let (status, _) = raw.send(reqwest::Method::POST, "/clients", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED);
        let got = &raw.get("/clients?clientId=derived").await[0];
        let origins = ["http://b.example", "https://a.example:8443"];
        assert_eq!(sorted(&got["webOrigins"]), origins, "{}", kc.describe());
        let kept = if kc.version >= (26, 7, 0) { &sent[..4] } else { &sent[..] };
        assert_eq!(sorted(&got["redirectUris"]), sorted(&json!(kept)), "{}", kc.describe());
    }
);

both!(
    put_is_partial_merges_attributes_ignores_scopes_and_removes_authorization_unless_true,
    |kc| {
        let raw = Raw::admin(&kc).await;
        let id = kc
            .seed_client(
                REALM,
                json!({"clientId": "om", "name": "Catalog", "publicClient": false,
                   "attributes": {"kept": "yes", "dropped": "soon"}}),
            )
            .await;
        kc.enable_authorization(REALM, "om", &["policy-a"]).await;
        let path = format!("/clients/{id}");
        // Keycloak 26.7 also gives a client with a service account the `service_account` scope.
        let scopes_before = sorted(&raw.get(&path).await["defaultClientScopes"]);

        let (status, _) = raw
        .send(
            reqwest::Method::PUT,
            &path,
            Some(json!({"rootUrl": "https://x.example", "attributes": {"added": "1", "dropped": ""},
                        "defaultClientScopes": [], "authorizationServicesEnabled": true,
                        "serviceAccountsEnabled": true})),
        )
        .await;
        assert_eq!(status, 204);
        let got = raw.get(&path).await;
        // Absent scalars stay; attributes merge key by key; a blank value removes the key.
        shows!(got, {"name": "Catalog", "rootUrl": "https://x.example",
                            "attributes": {"kept": "yes", "added": "1", "dropped": null}});
        assert_eq!(
            sorted(&got["defaultClientScopes"]),
            scopes_before,
            "scopes in a PUT body are ignored"
        );
        assert_eq!(got["authorizationServicesEnabled"], true);
        assert_eq!(
            kc.authorization_policies(REALM, "om").await,
            Some(vec!["policy-a".to_string()])
        );

        // A PUT without `authorizationServicesEnabled: true` deletes the resource server.
        raw.send(
            reqwest::Method::PUT,
            &path,
            Some(json!({"rootUrl": "https://y.example", "serviceAccountsEnabled": true})),
        )
        .await;
        let got = raw.get(&path).await;
        assert_eq!(got.get("authorizationServicesEnabled"), None);
        assert_eq!(kc.authorization_policies(REALM, "om").await, None);
        assert!(kc.service_account_roles(REALM, "om").await.is_some());

        // (A PUT without `serviceAccountsEnabled`: see `service_accounts.rs`.)

        // `serviceAccountsEnabled: false` removes the service account.
        raw.send(
            reqwest::Method::PUT,
            &path,
            Some(json!({"serviceAccountsEnabled": false})),
        )
        .await;
        assert_eq!(kc.service_account_roles(REALM, "om").await, None);

        // Authorization without a service account fails as Keycloak does.
        let (status, body) = raw
            .send(
                reqwest::Method::PUT,
                &path,
                Some(json!({"authorizationServicesEnabled": true})),
            )
            .await;
        assert_eq!(status.as_u16(), 500, "{body}");
        // Its description by version, each seen on the real one (25.0.6 by hand, 2026-12-07).
        let description = match kc.version {
            v if v >= (26, 0, 0) => json!("For more on this error consult the server log."),
            v if v >= (24, 0, 0) => {
                json!("For more on this error consult the server log at the debug level.")
            }
            _ => Value::Null,
        };
        assert_eq!(body["error"], "unknown_error");
        assert_eq!(body["error_description"], description, "{body}");
    }
);

both!(
    post_scopes_replace_the_realm_defaults_and_unknown_fields_are_refused,
    |kc| {
        let raw = Raw::admin(&kc).await;
        raw.send(
            reqwest::Method::POST,
            "/clients",
            Some(json!({"clientId": "om", "defaultClientScopes": ["email", "profile"]})),
        )
        .await;
        assert_eq!(
            kc.default_scope_names(REALM, "om").await,
            ["email", "profile"]
        );
        let (status, _) = raw
            .send(
                reqwest::Method::POST,
                "/clients",
                Some(json!({"clientId": "x", "notAField": 1})),
            )
            .await;
        assert_eq!(status, 400);
        let (status, _) = raw
            .send(
                reqwest::Method::POST,
                "/clients",
                Some(json!({"clientId": "om"})),
            )
            .await;
        assert_eq!(status, 409);
    }
);

both!(
    /// Adding a default scope the client has as an optional one changes nothing (204).
    a_default_scope_is_not_added_over_an_optional_one,
    |kc| {
        let raw = Raw::admin(&kc).await;
        let id = kc.seed_client(REALM, json!({"clientId": "om"})).await;
        let scopes = raw.get("/client-scopes").await;
        let address = scopes
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "address")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, _) = raw
            .send(
                reqwest::Method::PUT,
                &format!("/clients/{id}/default-client-scopes/{address}"),
                None,
            )
            .await;
        assert_eq!(status, 204);
        assert!(!kc.default_scope_names(REALM, "om").await.contains(&"address".to_string()));
        assert!(kc.scope_names(REALM, "om", true).await.contains(&"address".to_string()));
    }
);

mod service_accounts;

mod protocol;
mod secrets;
