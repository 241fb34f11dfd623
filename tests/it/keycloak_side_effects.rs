//! Keycloak's PUT has side effects: without `authorizationServicesEnabled: true` it deletes a
//! client's authorization settings; `serviceAccountsEnabled: false` (and, up to 26.0, an absent
//! flag) removes the service account. The operator never sends what would destroy something the
//! user did not ask to change, and a client it adopted stays in Keycloak on delete unless
//! deletion is asked for. Each scenario runs on the emulator and on every real Keycloak.

use omkc::{
    crd::{ClientSpec, DeletionPolicy, OpenMetadataKeycloakClient},
    reconcile::{change::Change, plan::Put},
};
use serde_json::json;

use crate::{
    both,
    support::{
        fixture, keycloak_delete, keycloak_sync,
        target::{Kc, REALM},
        unmade_secret,
    },
};

fn resource(kc: &Kc, client: ClientSpec) -> OpenMetadataKeycloakClient {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak.url = Some(kc.base_url.clone());
    obj.spec.client = Some(client);
    obj
}

async fn sync(kc: &Kc, obj: &OpenMetadataKeycloakClient) {
    let converged = keycloak_sync(&kc.admin_session(), obj).await.unwrap();
    assert!(matches!(unmade_secret(&converged), Some(Put::Create(_))));
}

/// Gives the client `openmetadata` authorization settings (policies) and a service account
/// with role mappings, by hand.
async fn enrich(kc: &Kc) {
    kc.enable_authorization(REALM, "openmetadata", &["only-admins", "read-catalog"])
        .await;
    kc.grant_service_account_roles(
        REALM,
        "openmetadata",
        &["offline_access", "uma_authorization"],
    )
    .await;
}

/// A confidential client made by hand, with authorization settings and a service account.
async fn seed_rich_client(kc: &Kc) {
    seed_plain_client(kc).await;
    enrich(kc).await;
}

/// A confidential client made by hand.
async fn seed_plain_client(kc: &Kc) {
    kc.seed_client(
        REALM,
        json!({
            "clientId": "openmetadata",
            "publicClient": false,
            "redirectUris": ["https://old.example/*"],
        }),
    )
    .await;
}

/// A client the operator made, then given authorization settings and a service account by
/// hand, and its redirect URIs changed: what the next sync must correct without destroying.
async fn owned_rich_client(kc: &Kc) {
    sync(kc, &resource(kc, ClientSpec::default())).await;
    enrich(kc).await;
    kc.edit_client(
        REALM,
        "openmetadata",
        json!({"redirectUris": ["https://old.example/*"]}),
    )
    .await;
}

async fn authorization_and_service_account(kc: &Kc) -> (Option<Vec<String>>, Option<Vec<String>>) {
    (
        kc.authorization_policies(REALM, "openmetadata").await,
        kc.service_account_roles(REALM, "openmetadata").await,
    )
}

fn adopting(kc: &Kc) -> OpenMetadataKeycloakClient {
    resource(
        kc,
        ClientSpec {
            adopt_existing: Some(true),
            ..Default::default()
        },
    )
}

/// Web origins widened by hand are narrowed again by the next sync.
async fn web_origins_drift_corrected(kc: &Kc, obj: &OpenMetadataKeycloakClient) {
    kc.edit_client(REALM, "openmetadata", json!({"webOrigins": ["*"]}))
        .await;
    sync(kc, obj).await;
    assert_eq!(
        kc.client(REALM, "openmetadata").await.unwrap()["webOrigins"],
        json!(["https://openmetadata.example.com"])
    );
}

both!(
    /// The partial PUT that corrects drift keeps authorization settings and a service account
    /// added by hand (Keycloak 25 removed the service account from a PUT without the flag).
    a_drift_correction_keeps_authorization_settings_and_the_service_account,
    as (25, 0, 3),
    |kc| {
        owned_rich_client(&kc).await;
        let before = authorization_and_service_account(&kc).await;
        assert_eq!(
            before,
            (
                Some(vec!["only-admins".into(), "read-catalog".into()]),
                Some(vec!["offline_access".into(), "uma_authorization".into()])
            )
        );
        kc.clear_log().await;

        keycloak_sync(&kc.admin_session(), &resource(&kc, ClientSpec::default()))
            .await
            .unwrap();

        let client = kc.client(REALM, "openmetadata").await.unwrap();
        assert_eq!(
            client["redirectUris"],
            json!(["https://openmetadata.example.com/callback"]),
            "the drift the spec manages was corrected"
        );
        assert_eq!(
            authorization_and_service_account(&kc).await,
            before,
            "policies, permissions, the service account and its roles are intact on {}",
            kc.describe()
        );
        let put = kc
            .log()
            .into_iter()
            .find(|e| e.method == "PUT")
            .unwrap()
            .body
            .unwrap();
        assert_eq!(put["authorizationServicesEnabled"], true, "{put}");
        assert_eq!(put["serviceAccountsEnabled"], true, "{put}");
    }
);

both!(
    /// Adoption never takes a client whose tokens are worth more than a login: one with
    /// authorization settings and a service account made by hand stays exactly as it was.
    a_client_with_a_service_account_is_never_adopted,
    |kc| {
        seed_rich_client(&kc).await;
        let before = kc.client(REALM, "openmetadata").await.unwrap();
        kc.clear_log().await;
        let err = keycloak_sync(&kc.admin_session(), &adopting(&kc))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), omkc::reason::Reason::ClientConflict);
        assert!(err.to_string().contains("never adopted"), "{err}");
        assert_eq!(kc.writes(), Vec::<String>::new(), "nothing written");
        assert_eq!(kc.client(REALM, "openmetadata").await.unwrap(), before);
    }
);

both!(
    /// Up to Keycloak 26.0 a PUT that did not say `serviceAccountsEnabled: true` removed the
    /// service-account user and its role mappings, though the flag stayed on (the emulator runs
    /// as 25.0 here; of CI's real servers, 24.0.5 does it, 26.6.4 and 26.7.4 do not).
    a_drift_correction_keeps_the_service_account_of_an_owned_client,
    as (25, 0, 3),
    |kc| {
        let obj = resource(
            &kc,
            ClientSpec {
                service_accounts_enabled: Some(true),
                ..Default::default()
            },
        );
        sync(&kc, &obj).await;
        kc.grant_service_account_roles(REALM, "openmetadata", &["offline_access"])
            .await;
        web_origins_drift_corrected(&kc, &obj).await;
        assert_eq!(
            kc.service_account_roles(REALM, "openmetadata").await,
            Some(vec!["offline_access".to_string()]),
            "the service account and its roles are intact on {}",
            kc.describe()
        );
    }
);

both!(
    authorization_turned_on_by_hand_on_an_owned_client_survives_a_drift_correction,
    |kc| {
        let obj = resource(&kc, ClientSpec::default());
        sync(&kc, &obj).await;
        kc.enable_authorization(REALM, "openmetadata", &["by-hand"])
            .await;
        web_origins_drift_corrected(&kc, &obj).await;
        assert_eq!(
            kc.authorization_policies(REALM, "openmetadata").await,
            Some(vec!["by-hand".to_string()]),
            "the spec does not mention authorization: it is left as it is"
        );
    }
);

both!(authorization_is_removed_only_when_the_spec_says_so, |kc| {
    owned_rich_client(&kc).await;
    let off = resource(
        &kc,
        ClientSpec {
            authorization_services_enabled: Some(false),
            ..Default::default()
        },
    );
    sync(&kc, &off).await;
    let (authorization, service_account) = authorization_and_service_account(&kc).await;
    assert_eq!(authorization, None, "asked for explicitly");
    assert!(
        service_account.is_some(),
        "the service account was not part of the request"
    );
});

both!(
    an_adopted_client_stays_on_delete_unless_deletion_is_explicit,
    |kc| {
        seed_plain_client(&kc).await;
        let adopting = adopting(&kc);
        sync(&kc, &adopting).await;
        let session = kc.admin_session();

        let decided = keycloak_delete(&session, &adopting).await.unwrap();
        assert!(
            matches!(decided, Change::ClientRetained { .. }),
            "{decided:?}"
        );
        assert!(kc.client(REALM, "openmetadata").await.is_some());

        let mut explicit = adopting.clone();
        explicit.spec.deletion_policy = Some(DeletionPolicy::Delete);
        let decided = keycloak_delete(&session, &explicit).await.unwrap();
        assert!(
            matches!(decided, Change::ClientDeleted { .. }),
            "{decided:?}"
        );
        assert!(kc.client(REALM, "openmetadata").await.is_none());
    }
);
