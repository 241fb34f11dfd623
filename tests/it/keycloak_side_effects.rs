//! Keycloak's PUT has side effects: without `authorizationServicesEnabled: true` it deletes a
//! client's authorization settings; `serviceAccountsEnabled: false` removes the service
//! account. The operator never sends what would destroy something the user did not ask to
//! change, and a client it adopted stays in Keycloak on delete unless deletion is asked for.

use omkc::{
    crd::{ClientSpec, DeletionPolicy, OpenMetadataKeycloakClient},
    reconcile::plan::{Deletion, SecretWrite},
};
use serde_json::json;

use crate::support::{
    admin_session,
    emulator::{
        Emulator,
        model::{ResourceServer, ServiceAccount},
    },
    fixture, keycloak_delete, keycloak_sync,
};

fn resource(emu: &Emulator, client: ClientSpec) -> OpenMetadataKeycloakClient {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak.url = Some(emu.base_url.clone());
    obj.spec.client = Some(client);
    obj
}

async fn sync(emu: &Emulator, obj: &OpenMetadataKeycloakClient) {
    let (outputs, _) = keycloak_sync(&admin_session(emu), obj).await.unwrap();
    assert!(matches!(outputs.secret, Some(SecretWrite::Create(_))));
}

/// A confidential client made by hand with authorization settings (policies) and a service
/// account with role mappings.
fn seed_rich_client(emu: &Emulator) {
    emu.seed_client(
        "data-sec",
        json!({
            "clientId": "openmetadata",
            "redirectUris": ["https://old.example/*"],
            "serviceAccountsEnabled": true,
            "authorizationServicesEnabled": true
        }),
    );
    emu.enable_authorization("data-sec", "openmetadata", &["only-admins", "read-catalog"]);
    emu.edit_client("data-sec", "openmetadata", |c| {
        c.service_account = Some(ServiceAccount {
            roles: vec!["uma_protection".into(), "view-users".into()],
        })
    });
}

fn authorization_and_service_account(
    emu: &Emulator,
) -> (Option<ResourceServer>, Option<ServiceAccount>) {
    let model = emu.model("data-sec", "openmetadata").unwrap();
    (model.resource_server, model.service_account)
}

#[tokio::test]
async fn adopting_a_client_keeps_its_authorization_settings_and_service_account() {
    let emu = Emulator::start().await;
    seed_rich_client(&emu);
    let before = authorization_and_service_account(&emu);
    assert!(before.0.is_some() && before.1.is_some());

    let adopting = resource(
        &emu,
        ClientSpec {
            adopt_existing: Some(true),
            ..Default::default()
        },
    );
    sync(&emu, &adopting).await;

    let model = emu.model("data-sec", "openmetadata").unwrap();
    assert_eq!(
        model.redirect_uris,
        ["https://openmetadata.example.com/callback".to_string()].into(),
        "the drift the spec manages was corrected"
    );
    assert_eq!(
        authorization_and_service_account(&emu),
        before,
        "policies, permissions, the service account and its roles are intact"
    );
    let put = emu
        .log()
        .into_iter()
        .find(|e| e.method == "PUT")
        .unwrap()
        .body
        .unwrap();
    assert_eq!(put["authorizationServicesEnabled"], true, "{put}");
    assert!(put.get("serviceAccountsEnabled").is_none(), "{put}");
}

#[tokio::test]
async fn authorization_turned_on_by_hand_on_an_owned_client_survives_a_drift_correction() {
    let emu = Emulator::start().await;
    let obj = resource(&emu, ClientSpec::default());
    sync(&emu, &obj).await;
    emu.enable_authorization("data-sec", "openmetadata", &["by-hand"]);
    emu.edit_client("data-sec", "openmetadata", |c| {
        c.web_origins = ["*".to_string()].into()
    });
    sync(&emu, &obj).await;
    let model = emu.model("data-sec", "openmetadata").unwrap();
    assert_eq!(
        model.web_origins,
        ["https://openmetadata.example.com".to_string()].into()
    );
    assert_eq!(
        model.resource_server.unwrap().policies,
        ["by-hand"],
        "the spec does not mention authorization: it is left as it is"
    );
}

#[tokio::test]
async fn authorization_is_removed_only_when_the_spec_says_so() {
    let emu = Emulator::start().await;
    seed_rich_client(&emu);
    let off = resource(
        &emu,
        ClientSpec {
            adopt_existing: Some(true),
            authorization_services_enabled: Some(false),
            ..Default::default()
        },
    );
    sync(&emu, &off).await;
    let (authorization, service_account) = authorization_and_service_account(&emu);
    assert_eq!(authorization, None, "asked for explicitly");
    assert!(
        service_account.is_some(),
        "the service account was not part of the request"
    );
}

#[tokio::test]
async fn an_adopted_client_stays_on_delete_unless_deletion_is_explicit() {
    let emu = Emulator::start().await;
    seed_rich_client(&emu);
    let adopting = resource(
        &emu,
        ClientSpec {
            adopt_existing: Some(true),
            ..Default::default()
        },
    );
    sync(&emu, &adopting).await;
    let session = admin_session(&emu);

    let decided = keycloak_delete(&session, &adopting).await.unwrap();
    assert_eq!(decided, Deletion::Retain);
    assert!(emu.client("data-sec", "openmetadata").is_some());

    let mut explicit = adopting.clone();
    explicit.spec.deletion_policy = Some(DeletionPolicy::Delete);
    let decided = keycloak_delete(&session, &explicit).await.unwrap();
    assert!(matches!(decided, Deletion::Delete { .. }));
    assert!(emu.client("data-sec", "openmetadata").is_none());
}
