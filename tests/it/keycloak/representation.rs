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
    /// Keycloak keeps a client's description, name, id, URLs, redirect URIs and web origins in
    /// columns of 255 characters as Java counts them: 255 `é` are stored, and 127 emoji with one
    /// more letter; 256 `é`, or 128 emoji, fail the write with 500 and nothing is made
    /// (`validate` refuses such a value before it is sent). On PostgreSQL (`keycloak.sh
    /// postgres`), 255 emoji are stored and a NUL character fails the write.
    keycloak_stores_255_characters_of_a_clients_fields,
    |kc| {
        let v = validate(&resource_for(&kc, |_| {}), INSTALLATION).unwrap();
        let session = kc.admin_session();
        let mut client = desired::desired_client(&v);
        client.description = Some("é".repeat(255));
        session.create_client(REALM, &client).await.unwrap();
        let stored = kc.client(REALM, &v.client_id).await.unwrap();
        assert_eq!(stored["description"], "é".repeat(255), "{}", kc.describe());
        client.client_id = Some("emoji".into());
        client.description = Some(format!("{}a", "😀".repeat(127)));
        session.create_client(REALM, &client).await.unwrap();
        let stored = kc.client(REALM, "emoji").await.unwrap();
        assert_eq!(stored["description"], client.description.unwrap(), "{}", kc.describe());
        let long = "a".repeat(256 - "https://om.example.com/".len());
        // H2 (the tests' database) counts as Java does, an emoji twice: 128 are 256 of its
        // characters. PostgreSQL counts code points, and stores them.
        let db = std::env::var("OMKC_TEST_KEYCLOAK_DB").unwrap_or_else(|_| "dev-file".into());
        let h2 = !kc.is_real() || db == "dev-file";
        let emoji = if h2 { 128 } else { 256 };
        let mut refused = vec![
            ("description", json!({"description": "é".repeat(256)})),
            ("description", json!({"description": "😀".repeat(emoji)})),
            ("redirectUris", json!({"redirectUris": [format!("https://om.example.com/{long}")]})),
            ("rootUrl", json!({"rootUrl": format!("https://om.example.com/{long}")})),
        ];
        // A NUL character: H2 stores it, PostgreSQL cannot (`validate` refuses it).
        client.client_id = Some("nul".into());
        client.description = Some("a\0b".into());
        if h2 {
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
