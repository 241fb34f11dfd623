//! What Keycloak shows that is easy to misread: a masked secret, a null attribute, authorization
//! ignored, a secret without a creation time.

use super::*;

both!(authorization_services_bring_a_service_account, |kc| {
    let v = resource_for(&kc, |o| {
        merge_spec(o, json!({"client": {"authorizationServicesEnabled": true}}))
    });
    sync_keycloak(&kc.admin_session(), &v).await.unwrap();
    let client = kc.client(REALM, "openmetadata").await.unwrap();
    assert_eq!(client["authorizationServicesEnabled"], true);
    assert_eq!(client["serviceAccountsEnabled"], true);
});

both!(
    /// Turned on for a client made without them, through the session that made it: a client
    /// read back without authorization (not asked for) says nothing of the server's feature.
    authorization_services_asked_later_are_turned_on,
    |kc| {
        let session = kc.admin_session();
        sync_keycloak(&session, &resource_for(&kc, |_| {}))
            .await
            .unwrap();
        let authorization = json!({"client": {"authorizationServicesEnabled": true}});
        let v = resource_for(&kc, |o| merge_spec(o, authorization));
        sync_keycloak(&session, &v).await.unwrap();
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        assert_eq!(client["authorizationServicesEnabled"], true);
        assert_eq!(client["serviceAccountsEnabled"], true);
    }
);

/// From 26.8 on, an account that may view but not manage clients gets `"**********"` for a
/// secret (no such Keycloak is served to test against: the emulator models it). The mask is
/// never taken for a secret, and the account's lack of rights is said plainly.
#[tokio::test]
async fn a_masked_secret_is_never_taken_for_the_secret() {
    let kc = Kc::emulator_as((26, 8, 0)).await;
    let v = resource_for(&kc, |_| {});
    sync_keycloak(&kc.admin_session(), &v).await.unwrap();
    kc.add_user("viewer", "viewer-pw", Level::View).await;
    let listed = kc.log();
    assert!(listed.iter().all(|e| {
        e.response
            .as_ref()
            .is_none_or(|r| !r.to_string().contains("**********"))
    }));
    let viewer = kc.session(Credentials::Password {
        username: "viewer".into(),
        password: "viewer-pw".into(),
    });
    kc.clear_log().await;
    let err = sync_keycloak(&viewer, &v).await.unwrap_err();
    assert_eq!(err.reason(), Reason::KeycloakForbidden, "{err}");
    assert!(err.to_string().contains("manage-clients"), "{err}");
    assert!(
        kc.log().iter().any(|e| e
            .response
            .as_ref()
            .is_some_and(|r| r.to_string().contains("**********"))),
        "the viewer was shown the mask"
    );
    assert!(kc.writes().is_empty(), "{:?}", kc.writes());
}

/// A client attribute stored without a value (older versions, imports) comes back as `null`:
/// it does not break reading the client. A real Keycloak 26 no longer stores one through its
/// API, so the emulator plants it.
#[tokio::test]
async fn a_null_attribute_does_not_break_parsing() {
    let kc = Kc::emulator().await;
    let v = resource_for(&kc, |_| {});
    let session = kc.admin_session();
    sync_keycloak(&session, &v).await.unwrap();
    kc.emulator_only()
        .unwrap()
        .edit_client(REALM, "openmetadata", |c| {
            c.null_attributes.insert("legacy.setting".into());
        });
    assert!(
        kc.client(REALM, "openmetadata").await.unwrap()["attributes"]["legacy.setting"].is_null()
    );
    let synced = sync_keycloak(&session, &v).await.unwrap();
    assert!(synced.changes.is_empty(), "{:?}", synced.changes);
}

/// With the server's `authorization` feature off, `authorizationServicesEnabled` never shows:
/// the operator says so once instead of sending the same update on every resync. On the
/// emulator, and on a real Keycloak started without the feature (`keycloak.sh features-off`, in CI).
mod authorization_on_a_server_without_the_feature_is_a_clear_error_not_a_put_per_resync {
    use super::*;

    async fn scenario(kc: Kc) {
        let v = resource_for(&kc, |o| {
            merge_spec(o, json!({"client": {"authorizationServicesEnabled": true}}))
        });
        let session = kc.admin_session();
        let err = sync_keycloak(&session, &v).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InvalidSpec, "{err}");
        assert!(err.to_string().contains("authorization"), "{err}");
        assert!(!err.is_transient());
        kc.clear_log().await;
        let again = sync_keycloak(&session, &v).await.unwrap_err();
        assert_eq!(again.reason(), Reason::InvalidSpec);
        assert_eq!(
            kc.writes(),
            Vec::<String>::new(),
            "no PUT on the next attempt"
        );
    }

    #[tokio::test]
    async fn emulator() {
        let kc = Kc::emulator().await;
        kc.emulator_only().unwrap().disable_authorization_feature();
        scenario(kc).await
    }

    #[tokio::test]
    #[ignore = "needs a real Keycloak without the authorization feature: tests/keycloak/keycloak.sh features-off VERSION"]
    async fn on_a_real_server_without_it() {
        let kc = Kc::real().await;
        let admin = kc.admin().unwrap();
        assert!(
            !admin.feature_enabled("AUTHORIZATION").await,
            "start Keycloak with KC_FEATURES_DISABLED=authorization,admin-fine-grained-authz"
        );
        scenario(kc).await
    }
}

both!(
    /// Keycloak keeps no creation time for a secret given rather than generated (an imported
    /// client): with `rotationInterval` the secret's age is unknown, so it is rotated once, and
    /// from then on by the creation time Keycloak gives the new secret.
    a_secret_of_unknown_age_is_rotated_once_then_on_schedule,
    |kc| {
        let given = "given-by-an-import-0123456789";
        let obj = resource_for(&kc, |o| merge_spec(o, json!({"secret": {"rotationInterval": "1h"}})));
        let v = validate(&obj, INSTALLATION).unwrap();
        kc.seed_client(
            REALM,
            json!({"clientId": v.client_id, "publicClient": false, "secret": given,
                   "attributes": {OWNER_ATTRIBUTE: v.owner, OWNER_UID_ATTRIBUTE: v.uid}}),
        )
        .await;
        let seeded = kc.client(REALM, &v.client_id).await.unwrap();
        assert_eq!(
            seeded["attributes"].get(SECRET_CREATION_ATTRIBUTE),
            None,
            "{} stamps only generated secrets",
            kc.describe()
        );
        let session = kc.admin_session();
        let issuer = session.realm_url(REALM);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let converge = async |held: &str| {
            let observed = omkc::reconcile::plan::Observed {
                issuer: issuer.clone(),
                secret: Some(desired::output_secret(&v, held, &Default::default())),
                now,
                ..Default::default()
            };
            omkc::reconcile::converge_client(&session, &obj, &v, observed, None)
                .await
                .unwrap()
        };

        let converged = converge(given).await;
        let changes = &converged.changes;
        let rotated = Change::SecretRotated {
            client_id: v.client_id.clone(),
            trigger: Rotation::AgeUnknown("1h".into()),
        };
        assert!(changes.contains(&rotated), "{changes:?}");
        let after = kc.client(REALM, &v.client_id).await.unwrap();
        let fresh = after["secret"].as_str().unwrap().to_string();
        assert_ne!(fresh, given);
        assert!(after["attributes"][SECRET_CREATION_ATTRIBUTE].is_string());
        assert!(
            unmade_status(&converged)
                .and_then(|s| s.secret.as_ref())
                .is_some_and(|s| s.next_rotation.is_some()),
            "the next rotation is known now"
        );

        let changes = converge(&fresh).await.changes;
        assert!(
            !changes
                .iter()
                .any(|c| matches!(c, Change::SecretRotated { .. })),
            "rotated once: {changes:?}"
        );
        assert_eq!(kc.secret_of(REALM, &v.client_id).await.unwrap(), fresh);
    }
);

both!(
    /// On MariaDB a client's redirect URIs, and its web origins, compare without case: two that
    /// differ only in case fail the create with 409 and nothing is made (`validate` refuses
    /// them). Elsewhere both are stored.
    redirect_uris_that_differ_only_in_case_are_one_on_mariadb,
    also on mariadb,
    |kc| {
        let session = kc.admin_session();
        let v = validate(&resource_for(&kc, |_| {}), INSTALLATION).unwrap();
        let cases = [
            ("redirectUris", json!(["https://a.example/cb", "https://a.example/CB"])),
            ("webOrigins", json!(["https://a.example", "https://A.example"])),
        ];
        for (i, (field, values)) in cases.into_iter().enumerate() {
            let mut body = serde_json::to_value(desired::desired_client(&v)).unwrap();
            body["clientId"] = json!(format!("cased-{i}"));
            body[field] = values.clone();
            let made = session.create_client(REALM, &serde_json::from_value(body).unwrap()).await;
            let stored = kc.client(REALM, &format!("cased-{i}")).await;
            if kc.database() == "mariadb" {
                assert_eq!(made.unwrap_err(), KeycloakError::Conflict, "{field}");
                assert!(stored.is_none(), "{field}: {stored:?}");
            } else {
                made.unwrap_or_else(|e| panic!("{field} on {}: {e}", kc.describe()));
                let set = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect::<std::collections::BTreeSet<_>>();
                let stored = set(&stored.unwrap()[field]);
                assert_eq!(stored, set(&values), "{field} on {}", kc.describe());
            }
        }
    }
);

both!(
    /// Keycloak keeps a client's description, name, id, URLs, redirect URIs and web origins in
    /// columns of 255 characters: 255 `é` are stored; 256 `é`, or too many emoji, fail the write
    /// with 500 and nothing is made (`validate` refuses such a value before it is sent). H2
    /// counts as Java does, an emoji twice; PostgreSQL and MariaDB count code points. A NUL
    /// character fails the write on PostgreSQL only. MariaDB keeps the name, description and
    /// attribute values in 3-byte UTF-8: there not one emoji is stored.
    keycloak_stores_255_characters_of_a_clients_fields,
    also on mariadb,
    |kc| {
        let v = validate(&resource_for(&kc, |_| {}), INSTALLATION).unwrap();
        let session = kc.admin_session();
        let mut client = desired::desired_client(&v);
        client.description = Some("é".repeat(255));
        session.create_client(REALM, &client).await.unwrap();
        let stored = kc.client(REALM, &v.client_id).await.unwrap();
        assert_eq!(stored["description"], "é".repeat(255), "{}", kc.describe());
        let db = kc.database();
        let host = "https://om.example.com/";
        // 255 of Java's characters; H2 refuses one more, the others count code points.
        let emoji = |n| json!([format!("{host}{}", "😀".repeat(n))]);
        client.client_id = Some("emoji".into());
        client.redirect_uris = serde_json::from_value(emoji(116)).unwrap();
        session.create_client(REALM, &client).await.unwrap();
        let stored = kc.client(REALM, "emoji").await.unwrap();
        assert_eq!(stored["redirectUris"], emoji(116), "{}", kc.describe());
        let too_many = if db == "dev-file" { 117 } else { 256 - host.len() };
        let long = "a".repeat(256 - host.len());
        let mut refused = vec![
            ("description", json!({"description": "é".repeat(256)})),
            ("redirectUris", json!({"redirectUris": emoji(too_many)})),
            ("redirectUris", json!({"redirectUris": [format!("{host}{long}")]})),
            ("rootUrl", json!({"rootUrl": format!("{host}{long}")})),
        ];
        client.client_id = Some("national".into());
        client.description = Some("a😀".into());
        if db == "mariadb" {
            refused.push(("description", json!({"description": "a😀"})));
            refused.push(("name", json!({"name": "a😀"})));
            refused.push(("attributes", json!({"attributes": {"x": "a😀"}})));
        } else {
            session.create_client(REALM, &client).await.unwrap();
            let stored = kc.client(REALM, "national").await.unwrap();
            assert_eq!(stored["description"], "a😀", "{}", kc.describe());
        }
        // A NUL character: H2 and MariaDB store it, PostgreSQL cannot (`validate` refuses it).
        client.client_id = Some("nul".into());
        client.description = Some("a\0b".into());
        if db != "postgres" {
            session.create_client(REALM, &client).await.unwrap();
            let stored = kc.client(REALM, "nul").await.unwrap();
            assert_eq!(stored["description"], "a\0b", "{}", kc.describe());
        } else {
            refused.push(("description", json!({"description": "a\0b"})));
        }
        for (i, (field, change)) in refused.into_iter().enumerate() {
            let mut body = serde_json::to_value(desired::desired_client(&v)).unwrap();
            body["clientId"] = json!(format!("too-long-{i}"));
            json_patch::merge(&mut body, &change);
            let body = serde_json::from_value(body).unwrap();
            let refused = session.create_client(REALM, &body).await.unwrap_err();
            assert!(
                matches!(refused, KeycloakError::Server { status: 500, .. }),
                "{field} on {}: {refused}",
                kc.describe()
            );
            let made = kc.client(REALM, &format!("too-long-{i}")).await;
            assert!(made.is_none(), "{field} on {}: {made:?}", kc.describe());
        }
    }
);
