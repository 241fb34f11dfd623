//! A realm's client policies (Realm settings → Client policies), here `reject-implicit-grant`
//! for every client: a client they refuse, or a field they change back, is said as such
//! (`ClientPolicyConflict`, naming the fields), never fought in a loop.

use keycloak::types::ClientRepresentation;

use super::*;

fn with_implicit_flow(kc: &Kc) -> OpenMetadataKeycloakClient {
    resource_for(kc, |o| {
        merge_spec(o, json!({"client": {"implicitFlowEnabled": true}}))
    })
}

both!(
    a_field_a_client_policy_changes_back_is_said_not_fought,
    |kc| {
        kc.set_client_policy(REALM, "reject-implicit-grant", true)
            .await;
        let session = kc.admin_session();
        for round in ["the first reconcile", "a resync"] {
            kc.clear_log().await;
            let err = sync_keycloak(&session, &with_implicit_flow(&kc))
                .await
                .unwrap_err();
            assert_eq!(err.reason(), Reason::ClientPolicyConflict, "{round}: {err}");
            let said = err.to_string();
            assert!(
                said.starts_with(
                    "Keycloak changes implicitFlowEnabled of client \"openmetadata\" back"
                ),
                "{round}: {said}"
            );
            // Set once and read back, then left: no second update in the same reconcile.
            let puts = kc.writes().iter().filter(|w| w.starts_with("PUT ")).count();
            assert_eq!(puts, 1, "{round}: {:?}", kc.writes());
        }
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        shows!(client, {"implicitFlowEnabled": false});
        // The spec without the field converges: nothing to write.
        kc.clear_log().await;
        let synced = sync_keycloak(&session, &resource_for(&kc, |_| {}))
            .await
            .unwrap();
        assert_eq!(synced.changes, []);
        assert_eq!(kc.writes(), Vec::<String>::new());
    }
);

both!(
    a_client_a_client_policy_refuses_is_said_and_updates_keep_to_it,
    |kc| {
        kc.set_client_policy(REALM, "reject-implicit-grant", false)
            .await;
        let session = kc.admin_session();
        let err = sync_keycloak(&session, &with_implicit_flow(&kc))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::ClientPolicyConflict, "{err}");
        assert!(
            err.to_string()
                .starts_with("a client policy of the realm refuses the client"),
            "{err}"
        );
        assert!(kc.client(REALM, "openmetadata").await.is_none());

        // Without implicit flow it is made. This executor fails an update that does not say
        // implicitFlowEnabled (HTTP 500); the operator's updates say it, so drift is corrected.
        let plain = resource_for(&kc, |_| {});
        let uuid = sync_keycloak(&session, &plain).await.unwrap().client_uuid;
        let silent = ClientRepresentation {
            description: Some("no implicitFlowEnabled".into()),
            ..Default::default()
        };
        assert!(matches!(
            session.update_client(REALM, &uuid, &silent).await,
            Err(KeycloakError::Server { status: 500, .. })
        ));
        kc.edit_client(
            REALM,
            "openmetadata",
            json!({"redirectUris": ["https://evil.example/*"]}),
        )
        .await;
        let synced = sync_keycloak(&session, &plain).await.unwrap();
        assert_eq!(
            synced.changes,
            [Change::ClientUpdated {
                client_id: "openmetadata".into(),
                fields: vec![ClientField::RedirectUris],
            }]
        );
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        shows!(client, {"redirectUris": ["https://openmetadata.example.com/callback"]});
    }
);

both!(
    a_client_policy_asking_for_consent_refuses_the_client_or_is_left_its_field,
    |kc| {
        // consentRequired is not the spec's: without auto-configure the client cannot be made.
        kc.set_client_policy(REALM, "consent-required", false).await;
        let session = kc.admin_session();
        let plain = resource_for(&kc, |_| {});
        let err = sync_keycloak(&session, &plain).await.unwrap_err();
        assert_eq!(err.reason(), Reason::ClientPolicyConflict, "{err}");
        assert!(
            err.to_string()
                .contains("(HTTP 400, error invalid_registration)"),
            "{err}"
        );
        assert!(kc.client(REALM, "openmetadata").await.is_none());
        // With it, Keycloak sets the field, and the operator leaves a field it does not manage.
        kc.set_client_policy(REALM, "consent-required", true).await;
        let synced = sync_keycloak(&session, &plain).await.unwrap();
        assert!(
            matches!(synced.changes[..], [Change::ClientCreated { .. }]),
            "{:?}",
            synced.changes
        );
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        shows!(client, {"consentRequired": true});
    }
);
