//! A realm's client policies (Realm settings → Client policies), one executor for every client:
//! a client they refuse, or a field they change back, is said as such (`ClientPolicyConflict`,
//! naming the fields), never fought in a loop; an update says the fields they read.

use keycloak::types::ClientRepresentation;
use omkc::keycloak::Session;

use super::*;

fn with_implicit_flow(kc: &Kc) -> OpenMetadataKeycloakClient {
    resource_for(kc, |o| {
        merge_spec(o, json!({"client": {"implicitFlowEnabled": true}}))
    })
}

/// The client is refused as `ClientPolicyConflict`, saying `said`, and not made.
async fn refused(kc: &Kc, session: &Session, obj: &OpenMetadataKeycloakClient, said: &str) {
    let err = sync_keycloak(session, obj).await.unwrap_err();
    assert_eq!(err.reason(), Reason::ClientPolicyConflict, "{err}");
    assert!(err.to_string().contains(said), "{err}");
    assert!(kc.client(REALM, "openmetadata").await.is_none());
}

/// Nothing is left to write: a reconcile makes no change and no write.
async fn converged(kc: &Kc, session: &Session, obj: &OpenMetadataKeycloakClient) {
    kc.clear_log().await;
    let synced = sync_keycloak(session, obj).await.unwrap();
    assert_eq!(synced.changes, []);
    assert_eq!(kc.writes(), Vec::<String>::new());
}

/// Redirect URIs changed by hand are corrected by one update and nothing else, under the
/// realm's policy.
async fn hand_made_drift_corrected_once(
    kc: &Kc,
    session: &Session,
    plain: &OpenMetadataKeycloakClient,
) {
    kc.edit_client(
        REALM,
        "openmetadata",
        json!({"redirectUris": ["https://evil.example/*"]}),
    )
    .await;
    kc.clear_log().await;
    let synced = sync_keycloak(session, plain).await.unwrap();
    assert_eq!(
        synced.changes,
        [Change::ClientUpdated {
            client_id: "openmetadata".into(),
            fields: vec![ClientField::RedirectUris],
        }]
    );
    let puts = kc.writes().iter().filter(|w| w.starts_with("PUT ")).count();
    assert_eq!(puts, 1, "{:?}", kc.writes());
    let client = kc.client(REALM, "openmetadata").await.unwrap();
    shows!(client, {"redirectUris": ["https://openmetadata.example.com/callback"]});
}

both!(
    a_field_a_client_policy_changes_back_is_said_not_fought,
    |kc| {
        kc.set_client_policy(
            REALM,
            "reject-implicit-grant",
            json!({"auto-configure": true}),
        )
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
        converged(&kc, &session, &resource_for(&kc, |_| {})).await;
    }
);

both!(
    a_client_a_client_policy_refuses_is_said_and_updates_keep_to_it,
    |kc| {
        kc.set_client_policy(
            REALM,
            "reject-implicit-grant",
            json!({"auto-configure": false}),
        )
        .await;
        let session = kc.admin_session();
        let said = "a client policy of the realm refuses the client";
        refused(&kc, &session, &with_implicit_flow(&kc), said).await;

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
        hand_made_drift_corrected_once(&kc, &session, &plain).await;
    }
);

both!(
    a_client_policy_asking_for_consent_refuses_the_client_or_is_left_its_field,
    |kc| {
        // consentRequired is not the spec's: without auto-configure the client cannot be made.
        kc.set_client_policy(REALM, "consent-required", json!({"auto-configure": false}))
            .await;
        let session = kc.admin_session();
        let plain = resource_for(&kc, |_| {});
        refused(
            &kc,
            &session,
            &plain,
            "(HTTP 400, error invalid_registration)",
        )
        .await;
        // With it, Keycloak sets the field, and the operator leaves a field it does not manage.
        kc.set_client_policy(REALM, "consent-required", json!({"auto-configure": true}))
            .await;
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

both!(
    an_update_keeps_the_client_authenticator_a_policy_would_replace,
    |kc| {
        // secure-client-authenticator gives a representation without clientAuthenticatorType its
        // default: an update that did not say it would switch the client to client-jwt, and
        // OpenMetadata's client secret would stop working.
        let session = kc.admin_session();
        let plain = resource_for(&kc, |_| {});
        sync_keycloak(&session, &plain).await.unwrap();
        kc.set_client_policy(
            REALM,
            "secure-client-authenticator",
            json!({"allowed-client-authenticators": ["client-secret", "client-jwt"],
               "default-client-authenticator": "client-jwt"}),
        )
        .await;
        hand_made_drift_corrected_once(&kc, &session, &plain).await;
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        shows!(client, {"clientAuthenticatorType": "client-secret"});
        // What the executor does with an update that does not say it (the operator's own session).
        let uuid = client["id"].as_str().unwrap();
        let silent = ClientRepresentation {
            description: Some("no clientAuthenticatorType".into()),
            ..Default::default()
        };
        session.update_client(REALM, uuid, &silent).await.unwrap();
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        shows!(client, {"clientAuthenticatorType": "client-jwt"});
    }
);

fn requiring_pkce(kc: &Kc) -> OpenMetadataKeycloakClient {
    resource_for(kc, |o| {
        merge_spec(o, json!({"client": {"requirePkce": true}}))
    })
}

both!(
    a_realm_that_enforces_pkce_gets_a_client_that_requires_it,
    |kc| {
        kc.set_client_policy(REALM, "pkce-enforcer", json!({"auto-configure": false}))
            .await;
        let session = kc.admin_session();
        // OpenMetadata's default (no PKCE) cannot be made here, and the error says what to set.
        let said = "on its PKCE method: the realm requires spec.client.requirePkce: true";
        refused(&kc, &session, &resource_for(&kc, |_| {}), said).await;
        let pkce = requiring_pkce(&kc);
        let uuid = sync_keycloak(&session, &pkce).await.unwrap().client_uuid;
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        shows!(client, {"attributes": {"pkce.code.challenge.method": "S256"}});
        // The executor reads the representation sent, not the client: an update without the
        // attribute is refused though the client has it; the operator's updates say it.
        let silent = ClientRepresentation {
            description: Some("no attributes".into()),
            ..Default::default()
        };
        assert!(matches!(
            session.update_client(REALM, &uuid, &silent).await,
            Err(KeycloakError::PolicyRefused { pkce: true, .. })
        ));
        hand_made_drift_corrected_once(&kc, &session, &pkce).await;
    }
);

both!(pkce_a_policy_turns_on_is_said_with_the_field_to_set, |kc| {
    kc.set_client_policy(REALM, "pkce-enforcer", json!({"auto-configure": true}))
        .await;
    let session = kc.admin_session();
    let err = sync_keycloak(&session, &resource_for(&kc, |_| {}))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Reason::ClientPolicyConflict, "{err}");
    let said = err.to_string();
    assert!(
        said.starts_with(
            "Keycloak changes attributes pkce.code.challenge.method of client \"openmetadata\" back"
        ) && said.contains("(the realm requires PKCE: spec.client.requirePkce: true)"),
        "{said}"
    );
    // As the spec says it, nothing is left to write.
    sync_keycloak(&session, &requiring_pkce(&kc)).await.unwrap();
    converged(&kc, &session, &requiring_pkce(&kc)).await;
});

both!(pkce_is_required_and_released_as_the_spec_says, |kc| {
    let session = kc.admin_session();
    sync_keycloak(&session, &requiring_pkce(&kc)).await.unwrap();
    let client = kc.client(REALM, "openmetadata").await.unwrap();
    shows!(client, {"attributes": {"pkce.code.challenge.method": "S256"}});
    // Turned off: Keycloak removes the attribute (a blank value is not stored), and the
    // blank the operator sends is then the same as absent: converged.
    let synced = sync_keycloak(&session, &resource_for(&kc, |_| {}))
        .await
        .unwrap();
    assert_eq!(
        synced.changes,
        [Change::ClientUpdated {
            client_id: "openmetadata".into(),
            fields: vec![ClientField::Attributes],
        }]
    );
    let client = kc.client(REALM, "openmetadata").await.unwrap();
    assert_eq!(
        client["attributes"].get("pkce.code.challenge.method"),
        None,
        "{client}"
    );
    converged(&kc, &session, &resource_for(&kc, |_| {})).await;
});
