//! The real Keycloak code of the operator, over HTTP, against the Admin API emulator.

use std::time::Duration;

use omkc::{
    Error,
    crd::OpenMetadataKeycloakClient,
    keycloak::Session,
    keycloak::{Credentials, KeycloakError},
    names::OWNER_ATTRIBUTE,
    reason::Reason,
    reconcile::{
        change::Change,
        desired::ClientField,
        plan::{Deletion, SecretWrite},
    },
    validate::validate,
};
use serde_json::json;

use crate::support::{
    INSTALLATION, admin_session,
    emulator::{ADMIN_USER, Emulator},
    fixture, keycloak_delete, keycloak_sync,
    openapi::OpenApi,
    session_with,
};

fn resource_for(
    emu: &Emulator,
    edit: impl FnOnce(&mut OpenMetadataKeycloakClient),
) -> OpenMetadataKeycloakClient {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak.url = Some(emu.base_url.clone());
    edit(&mut obj);
    validate(&obj, INSTALLATION).expect("fixture is valid");
    obj
}

/// What the Keycloak half of a reconcile did. `Debug` hides the secret.
struct Synced {
    client_uuid: String,
    client_secret: String,
    changes: Vec<Change>,
}

impl std::fmt::Debug for Synced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Synced {{ client_uuid: {:?}, changes: {:?} }}",
            self.client_uuid, self.changes
        )
    }
}

/// The Keycloak half of a reconcile, with no output Secret in place yet.
async fn sync_keycloak(
    session: &Session,
    obj: &OpenMetadataKeycloakClient,
) -> Result<Synced, Error> {
    let v = validate(obj, INSTALLATION).unwrap();
    let (outputs, changes) = keycloak_sync(session, obj).await?;
    let Some(SecretWrite::Create(secret)) = outputs.secret else {
        panic!("with no Secret in place, the plan creates one")
    };
    let value = &secret.data.unwrap()[&v.secret.client_secret_key];
    Ok(Synced {
        client_uuid: outputs.status.unwrap().client_uuid.unwrap(),
        client_secret: String::from_utf8(value.0.clone()).unwrap(),
        changes: changes
            .into_iter()
            .filter(|c| !matches!(c, Change::SecretCreated { .. }))
            .collect(),
    })
}

async fn delete(session: &Session, obj: &OpenMetadataKeycloakClient) -> Result<Deletion, Error> {
    keycloak_delete(session, obj).await
}

fn writes(emu: &Emulator) -> Vec<String> {
    emu.admin_calls()
        .into_iter()
        .filter(|c| !c.starts_with("GET "))
        .collect()
}

#[tokio::test]
async fn creates_a_confidential_client_with_openmetadata_urls_and_reads_its_secret() {
    let emu = Emulator::start().await;
    let v = resource_for(&emu, |_| {});
    let session = admin_session(&emu);

    let synced = sync_keycloak(&session, &v).await.unwrap();

    let client = emu
        .client("data-sec", "openmetadata")
        .expect("client created");
    assert_eq!(client["publicClient"], false);
    assert_eq!(client["standardFlowEnabled"], true);
    assert_eq!(client["implicitFlowEnabled"], false);
    assert_eq!(client["serviceAccountsEnabled"], false);
    assert_eq!(client["directAccessGrantsEnabled"], false);
    assert_eq!(client["clientAuthenticatorType"], "client-secret");
    assert_eq!(client["rootUrl"], "https://openmetadata.example.com");
    assert_eq!(
        client["redirectUris"],
        json!(["https://openmetadata.example.com/callback"])
    );
    assert_eq!(
        client["webOrigins"],
        json!(["https://openmetadata.example.com"])
    );
    assert_eq!(
        client["attributes"]["post.logout.redirect.uris"],
        "https://openmetadata.example.com/logout"
    );
    assert_eq!(
        client["attributes"][OWNER_ATTRIBUTE],
        "cluster-1/openmetadata/openmetadata"
    );
    assert_eq!(synced.client_uuid, client["id"].as_str().unwrap());
    assert_eq!(
        Some(synced.client_secret.clone()),
        emu.secret_of("data-sec", "openmetadata")
    );
    assert_eq!(
        synced.changes,
        [Change::ClientCreated {
            client_id: "openmetadata".into(),
            realm: "data-sec".into()
        }]
    );
    // Realm defaults kept, email and profile present: the POST body carried no scopes.
    assert_eq!(
        emu.default_scope_names("data-sec", "openmetadata"),
        ["acr", "basic", "email", "profile", "roles", "web-origins"]
    );
    let post = emu
        .log()
        .into_iter()
        .find(|e| e.method == "POST" && e.path.ends_with("/clients"))
        .unwrap()
        .body
        .unwrap();
    for absent in [
        "defaultClientScopes",
        "authorizationServicesEnabled",
        "serviceAccountsEnabled",
        "secret",
    ] {
        assert!(
            post.get(absent).is_none(),
            "{absent} left to Keycloak: {post}"
        );
    }
    assert_eq!(client.get("authorizationServicesEnabled"), None);
    // A fresh client: lookup, create, read back; one token.
    assert_eq!(
        emu.admin_calls(),
        [
            "GET /admin/realms/data-sec/clients".to_string(),
            "POST /admin/realms/data-sec/clients".to_string(),
            format!("GET /admin/realms/data-sec/clients/{}", synced.client_uuid),
        ]
    );
    assert_eq!(emu.token_requests(), 1);
    assert!(
        !format!("{synced:?}").contains(&synced.client_secret),
        "Debug must hide the secret"
    );
}

#[tokio::test]
async fn a_converged_client_costs_one_request_and_no_write_or_token() {
    let emu = Emulator::start().await;
    let v = resource_for(&emu, |_| {});
    let session = admin_session(&emu);
    sync_keycloak(&session, &v).await.unwrap();
    emu.clear_log();

    let synced = sync_keycloak(&session, &v).await.unwrap();

    assert!(synced.changes.is_empty(), "{:?}", synced.changes);
    let calls = emu.admin_calls();
    assert_eq!(calls, ["GET /admin/realms/data-sec/clients"]);
    assert_eq!(emu.admin_events(), []);
    assert!(calls.iter().all(|c| c.starts_with("GET ")), "{calls:?}");
    assert_eq!(emu.token_requests(), 0, "the cached token is reused");
}

#[tokio::test]
async fn drift_made_by_hand_is_corrected_and_unmanaged_fields_stay() {
    let emu = Emulator::start().await;
    let v = resource_for(&emu, |_| {});
    let session = admin_session(&emu);
    sync_keycloak(&session, &v).await.unwrap();
    emu.edit_client("data-sec", "openmetadata", |c| {
        c.redirect_uris = ["https://evil.example/*".to_string()].into();
        c.public_client = true;
        c.attributes.insert("custom.setting".into(), "kept".into());
        c.consent_required = true;
    });
    emu.clear_log();

    let synced = sync_keycloak(&session, &v).await.unwrap();

    assert_eq!(
        synced.changes,
        [Change::ClientUpdated {
            client_id: "openmetadata".into(),
            fields: vec![ClientField::PublicClient, ClientField::RedirectUris],
        }]
    );
    let client = emu.client("data-sec", "openmetadata").unwrap();
    assert_eq!(
        client["redirectUris"],
        json!(["https://openmetadata.example.com/callback"])
    );
    assert_eq!(client["publicClient"], false);
    assert_eq!(
        client["attributes"]["custom.setting"], "kept",
        "attributes merge key by key"
    );
    assert_eq!(
        client["consentRequired"], true,
        "fields the operator does not manage stay"
    );
    let puts: Vec<_> = emu
        .log()
        .into_iter()
        .filter(|e| e.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 1);
    let body = puts[0].body.clone().unwrap();
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["publicClient", "redirectUris"],
        "exactly the drifted fields; never the secret, never a field the spec does not manage"
    );
    // It was public while drifted (Keycloak hides a public client's secret): read back after.
    assert_eq!(
        synced.client_secret,
        emu.secret_of("data-sec", "openmetadata").unwrap()
    );
}

#[tokio::test]
async fn a_removed_default_scope_is_added_back_one_by_one() {
    let emu = Emulator::start().await;
    let v = resource_for(&emu, |_| {});
    let session = admin_session(&emu);
    sync_keycloak(&session, &v).await.unwrap();
    emu.remove_client_default_scope("data-sec", "openmetadata", "email");
    emu.clear_log();

    let synced = sync_keycloak(&session, &v).await.unwrap();

    assert_eq!(
        synced.changes,
        [Change::ScopesAdded {
            scopes: vec!["email".into()]
        }]
    );
    assert!(
        emu.default_scope_names("data-sec", "openmetadata")
            .contains(&"email".to_string())
    );
    let w = writes(&emu);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("PUT /admin/realms/data-sec/clients/")
            && w[0].contains("/default-client-scopes/"),
        "{w:?}"
    );
}

#[tokio::test]
async fn a_missing_realm_scope_is_a_clear_error() {
    let emu = Emulator::start().await;
    emu.remove_realm_scope("data-sec", "profile");
    let v = resource_for(&emu, |_| {});
    let err = sync_keycloak(&admin_session(&emu), &v).await.unwrap_err();
    assert!(
        matches!(err, Error::Keycloak(KeycloakError::ScopeNotFound(ref s)) if s == "profile"),
        "{err}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_client_made_by_hand_is_left_alone_unless_adoption_is_asked() {
    let emu = Emulator::start().await;
    emu.seed_client(
        "data-sec",
        json!({"clientId": "openmetadata", "publicClient": true, "redirectUris": ["http://x/*"]}),
    );
    let session = admin_session(&emu);
    emu.clear_log();

    let err = sync_keycloak(&session, &resource_for(&emu, |_| {}))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Reason::ClientConflict);
    assert!(err.to_string().contains("adoptExisting"), "{err}");
    assert!(
        writes(&emu).is_empty(),
        "nothing written: {:?}",
        writes(&emu)
    );
    assert_eq!(
        emu.client("data-sec", "openmetadata").unwrap()["publicClient"],
        true
    );

    let adopt = resource_for(&emu, |o| {
        o.spec.client = Some(omkc::crd::ClientSpec {
            adopt_existing: Some(true),
            ..Default::default()
        });
    });
    let synced = sync_keycloak(&session, &adopt).await.unwrap();
    assert_eq!(
        synced.changes[0],
        Change::ClientAdopted {
            client_id: "openmetadata".into()
        }
    );
    // It was public, so it had no secret: it gets one once confidential.
    assert_eq!(
        synced.changes[2],
        Change::SecretRegenerated {
            client_id: "openmetadata".into()
        }
    );
    assert_eq!(
        Some(synced.client_secret.clone()),
        emu.secret_of("data-sec", "openmetadata")
    );
    let client = emu.client("data-sec", "openmetadata").unwrap();
    assert_eq!(client["publicClient"], false);
    assert_eq!(
        client["attributes"][OWNER_ATTRIBUTE],
        "cluster-1/openmetadata/openmetadata"
    );
}

#[tokio::test]
async fn a_client_of_another_resource_is_never_taken_even_with_adoption() {
    let emu = Emulator::start().await;
    emu.seed_client(
        "data-sec",
        json!({"clientId": "openmetadata", "attributes": {OWNER_ATTRIBUTE: "other-ns/other"}}),
    );
    let v = resource_for(&emu, |o| {
        o.spec.client = Some(omkc::crd::ClientSpec {
            adopt_existing: Some(true),
            ..Default::default()
        });
    });
    let session = admin_session(&emu);
    emu.clear_log();
    let err = sync_keycloak(&session, &v).await.unwrap_err();
    assert_eq!(err.reason(), Reason::ClientConflict);
    assert!(err.to_string().contains("other-ns/other"), "{err}");
    assert!(writes(&emu).is_empty());
    // Deleting this resource leaves the other's client too.
    delete(&session, &v).await.unwrap();
    assert!(emu.client("data-sec", "openmetadata").is_some());
}

#[tokio::test]
async fn authorization_services_bring_a_service_account() {
    let emu = Emulator::start().await;
    let v = resource_for(&emu, |o| {
        o.spec.client = Some(omkc::crd::ClientSpec {
            authorization_services_enabled: Some(true),
            ..Default::default()
        });
    });
    sync_keycloak(&admin_session(&emu), &v).await.unwrap();
    let client = emu.client("data-sec", "openmetadata").unwrap();
    assert_eq!(client["authorizationServicesEnabled"], true);
    assert_eq!(client["serviceAccountsEnabled"], true);
}

#[tokio::test]
async fn an_expired_token_is_renewed_before_use_and_a_revoked_one_after_a_401() {
    let emu = Emulator::start().await;
    emu.set_token_lifetime(Duration::from_secs(1));
    let v = resource_for(&emu, |_| {});
    let session = admin_session(&emu);
    sync_keycloak(&session, &v).await.unwrap();
    assert_eq!(emu.token_requests(), 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    sync_keycloak(&session, &v).await.unwrap();
    assert_eq!(
        emu.token_requests(),
        2,
        "renewed before expiry, not after a failure"
    );
    assert!(
        emu.log().iter().all(|e| e.status != 401),
        "no call went out with an expired token"
    );

    emu.set_token_lifetime(Duration::from_secs(60));
    sync_keycloak(&session, &v).await.unwrap();
    emu.revoke_all_tokens();
    emu.clear_log();
    let synced = sync_keycloak(&session, &v).await.unwrap();
    assert!(synced.changes.is_empty());
    let log = emu.log();
    assert_eq!(
        log.iter().filter(|e| e.status == 401).count(),
        1,
        "one 401, then a fresh token"
    );
    assert_eq!(emu.token_requests(), 1);
}

#[tokio::test]
async fn wrong_credentials_are_a_permanent_error_that_names_no_secret() {
    let emu = Emulator::start().await;
    let v = resource_for(&emu, |_| {});
    let session = session_with(
        &emu,
        Credentials::Password {
            username: ADMIN_USER.into(),
            password: "wrong-password-xyz".into(),
        },
    );
    let err = sync_keycloak(&session, &v).await.unwrap_err();
    assert_eq!(err.reason(), Reason::CredentialsRejected);
    assert!(!err.is_transient());
    assert_eq!(
        err.to_string(),
        "Keycloak refused the admin credentials (HTTP 401, error invalid_grant)",
        "Keycloak's error code, never its text"
    );
    assert!(!err.to_string().contains("wrong-password-xyz"));
    assert!(
        emu.admin_calls().is_empty(),
        "no admin call without a token"
    );
}

#[tokio::test]
async fn an_account_without_rights_gets_forbidden_after_one_renewal_attempt() {
    let emu = Emulator::start().await;
    emu.add_unprivileged_user("viewer", "viewer-pw");
    let v = resource_for(&emu, |_| {});
    let session = session_with(
        &emu,
        Credentials::Password {
            username: "viewer".into(),
            password: "viewer-pw".into(),
        },
    );
    let err = sync_keycloak(&session, &v).await.unwrap_err();
    assert_eq!(err.reason(), Reason::KeycloakForbidden);
    assert!(!err.is_transient());
}

#[tokio::test]
async fn client_credentials_grant_works() {
    let emu = Emulator::start().await;
    emu.add_service_client("master", "omkc-operator", "svc-secret");
    let v = resource_for(&emu, |_| {});
    let session = session_with(
        &emu,
        Credentials::ClientCredentials {
            client_id: "omkc-operator".into(),
            client_secret: "svc-secret".into(),
        },
    );
    sync_keycloak(&session, &v).await.unwrap();
    assert!(emu.client("data-sec", "openmetadata").is_some());
}

#[tokio::test]
async fn a_missing_realm_is_reported_as_such() {
    let emu = Emulator::start().await;
    let v = resource_for(&emu, |o| o.spec.keycloak.realm = "nope".into());
    let err = sync_keycloak(&admin_session(&emu), &v).await.unwrap_err();
    assert!(
        matches!(err, Error::Keycloak(KeycloakError::RealmNotFound(ref r)) if r == "nope"),
        "{err}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn conflicts_server_errors_and_outages_are_transient() {
    let emu = Emulator::start().await;
    let v = resource_for(&emu, |_| {});
    let session = admin_session(&emu);

    emu.inject(
        Some("POST"),
        "/clients",
        409,
        r#"{"errorMessage":"Client openmetadata already exists"}"#,
    );
    let err = sync_keycloak(&session, &v).await.unwrap_err();
    assert_eq!(err.reason(), Reason::KeycloakConflict);
    assert!(err.is_transient());

    emu.inject(Some("GET"), "/clients", 503, r#"{"error":"unknown_error"}"#);
    let err = sync_keycloak(&session, &v).await.unwrap_err();
    assert_eq!(err.reason(), Reason::KeycloakUnavailable);
    assert!(err.is_transient());

    // After the faults, the next attempt converges.
    sync_keycloak(&session, &v).await.unwrap();

    emu.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = sync_keycloak(&session, &v).await.unwrap_err();
    assert_eq!(err.reason(), Reason::KeycloakUnavailable);
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_legacy_auth_base_url_works() {
    let emu = Emulator::start_legacy().await;
    assert!(emu.base_url.ends_with("/auth"));
    let v = resource_for(&emu, |_| {});
    let session = admin_session(&emu);
    sync_keycloak(&session, &v).await.unwrap();
    assert!(emu.client("data-sec", "openmetadata").is_some());
    delete(&session, &v).await.unwrap();
    assert!(emu.client("data-sec", "openmetadata").is_none());
}

#[tokio::test]
async fn delete_removes_an_owned_client_and_treats_gone_as_done() {
    let emu = Emulator::start().await;
    let v = resource_for(&emu, |_| {});
    let session = admin_session(&emu);
    sync_keycloak(&session, &v).await.unwrap();

    let decided = delete(&session, &v).await.unwrap();
    assert!(matches!(decided, Deletion::Delete { .. }), "{decided:?}");
    assert!(emu.client("data-sec", "openmetadata").is_none());

    let again = delete(&session, &v).await.unwrap();
    assert_eq!(again, Deletion::AlreadyGone);

    // A 404 from DELETE (deleted by someone else in between) is success too.
    sync_keycloak(&session, &v).await.unwrap();
    emu.inject(
        Some("DELETE"),
        "/clients/",
        404,
        r#"{"error":"Could not find client"}"#,
    );
    delete(&session, &v).await.unwrap();
}

#[tokio::test]
async fn every_request_and_response_matches_keycloaks_openapi_spec() {
    let emu = Emulator::start().await;
    let spec = OpenApi::keycloak();
    let session = admin_session(&emu);
    let v = resource_for(&emu, |o| {
        o.spec.client = Some(omkc::crd::ClientSpec {
            description: Some("SSO".into()),
            implicit_flow_enabled: Some(true),
            authorization_services_enabled: Some(true),
            ..Default::default()
        });
    });
    sync_keycloak(&session, &v).await.unwrap();
    emu.edit_client("data-sec", "openmetadata", |c| {
        c.web_origins = ["*".to_string()].into()
    });
    emu.remove_client_default_scope("data-sec", "openmetadata", "profile");
    sync_keycloak(&session, &v).await.unwrap();
    delete(&session, &v).await.unwrap();

    let methods: Vec<String> = emu.admin_calls();
    for wanted in ["POST ", "PUT ", "DELETE ", "GET "] {
        assert!(
            methods.iter().any(|m| m.starts_with(wanted)),
            "scenario covers {wanted}: {methods:?}"
        );
    }
    let violations = emu.openapi_violations(&spec);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn the_openapi_check_catches_unknown_fields_and_wrong_types() {
    let spec = OpenApi::keycloak();
    let (_, op) = spec
        .operation("PUT", "/admin/realms/r/clients/123")
        .unwrap();
    let schema = spec.request_schema(op).unwrap();
    assert!(
        spec.validate(schema, &json!({"clientId": "a", "redirectUris": ["x"]}))
            .is_empty()
    );
    let errors = spec.validate(
        schema,
        &json!({"clientID": "a", "publicClient": "no", "attributes": {"k": 1}}),
    );
    assert_eq!(errors.len(), 3, "{errors:?}");
}
