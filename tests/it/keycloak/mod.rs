//! The real Keycloak code of the operator, over HTTP: each scenario runs against the Admin API
//! emulator and, with `tests/keycloak/keycloak.sh test`, against every supported real Keycloak
//! (the same assertions; see [`crate::support::target`]).

use std::time::Duration;

use omkc::{
    Error,
    crd::OpenMetadataKeycloakClient,
    keycloak::Session,
    keycloak::{Credentials, KeycloakError},
    names::{
        OWNER_ATTRIBUTE, OWNER_UID_ATTRIBUTE, ROTATING_FOR_ANNOTATION, SECRET_CREATION_ATTRIBUTE,
    },
    reason::Reason,
    reconcile::{
        change::{Change, Rotation},
        desired::{self, ClientField},
        plan::Put,
    },
    validate::{ROTATE_ANNOTATION, validate},
};
use serde_json::json;

use crate::{
    both, shows,
    support::{
        INSTALLATION,
        emulator::{Level, SINCE_25},
        fixture, keycloak_delete, keycloak_sync, merge_spec,
        openapi::{OpenApi, violations},
        target::{Kc, REALM, ScopeKind},
        unmade_secret, unmade_status,
    },
};

fn resource_for(
    kc: &Kc,
    edit: impl FnOnce(&mut OpenMetadataKeycloakClient),
) -> OpenMetadataKeycloakClient {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak.url = Some(kc.base_url.clone());
    edit(&mut obj);
    validate(&obj, INSTALLATION).expect("fixture is valid");
    obj
}

/// What the Keycloak half of a reconcile did. `Debug` hides the secret.
pub struct Synced {
    pub client_uuid: String,
    pub client_secret: String,
    pub changes: Vec<Change>,
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
pub async fn sync_keycloak(
    session: &Session,
    obj: &OpenMetadataKeycloakClient,
) -> Result<Synced, Error> {
    let v = validate(obj, INSTALLATION).unwrap();
    let converged = keycloak_sync(session, obj).await?;
    let Some(Put::Create(secret)) = unmade_secret(&converged) else {
        panic!("with no Secret in place, the plan creates one")
    };
    let value = &secret.data.as_ref().unwrap()[&v.secret.client_secret_key];
    Ok(Synced {
        client_uuid: unmade_status(&converged)
            .unwrap()
            .client_uuid
            .clone()
            .unwrap(),
        client_secret: String::from_utf8(value.0.clone()).unwrap(),
        changes: converged
            .changes
            .into_iter()
            .filter(|c| !matches!(c, Change::SecretCreated { .. }))
            .collect(),
    })
}

async fn delete(session: &Session, obj: &OpenMetadataKeycloakClient) -> Result<Change, Error> {
    keycloak_delete(session, obj).await
}

fn adopting(kc: &Kc) -> OpenMetadataKeycloakClient {
    resource_for(kc, |o| {
        merge_spec(o, json!({"client": {"adoptExisting": true}}))
    })
}

both!(
    creates_a_confidential_client_with_openmetadata_urls_and_reads_its_secret,
    |kc| {
        let v = resource_for(&kc, |_| {});
        let session = kc.admin_session();

        let synced = sync_keycloak(&session, &v).await.unwrap();

        let client = kc
            .client(REALM, "openmetadata")
            .await
            .expect("client created");
        let url = "https://openmetadata.example.com";
        let attributes = json!({"post.logout.redirect.uris": format!("{url}/logout"),
                                OWNER_ATTRIBUTE: "cluster-1/openmetadata/openmetadata"});
        shows!(client, {
            "publicClient": false, "standardFlowEnabled": true, "implicitFlowEnabled": false,
            "serviceAccountsEnabled": false, "directAccessGrantsEnabled": false,
            "clientAuthenticatorType": "client-secret", "rootUrl": url,
            "redirectUris": [format!("{url}/callback")], "webOrigins": [url],
            "attributes": attributes
        });
        assert_eq!(synced.client_uuid, client["id"].as_str().unwrap());
        assert_eq!(
            Some(synced.client_secret.clone()),
            kc.secret_of(REALM, "openmetadata").await
        );
        assert_eq!(
            synced.changes,
            [Change::ClientCreated {
                client_id: "openmetadata".into(),
                realm: REALM.into()
            }]
        );
        // Realm defaults kept (`basic` from 25.0 on), email and profile present: the POST body
        // carried no scopes.
        let mut defaults = kc.default_scope_names(REALM, "openmetadata").await;
        if kc.version < SINCE_25 {
            defaults.insert(1, "basic".into());
        }
        assert_eq!(
            defaults,
            ["acr", "basic", "email", "profile", "roles", "web-origins"]
        );
        let post = kc
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
            kc.admin_calls(),
            [
                "GET /admin/realms/data-sec/clients".to_string(),
                "POST /admin/realms/data-sec/clients".to_string(),
                format!("GET /admin/realms/data-sec/clients/{}", synced.client_uuid),
            ]
        );
        assert_eq!(kc.token_requests(), 1);
        assert!(
            !format!("{synced:?}").contains(&synced.client_secret),
            "Debug must hide the secret"
        );
    }
);

both!(
    a_converged_client_costs_one_request_and_no_write_or_token,
    |kc| {
        let v = resource_for(&kc, |_| {});
        let session = kc.admin_session();
        sync_keycloak(&session, &v).await.unwrap();
        kc.clear_log().await;

        for _ in 0..3 {
            let synced = sync_keycloak(&session, &v).await.unwrap();
            assert!(synced.changes.is_empty(), "{:?}", synced.changes);
        }
        let calls = kc.admin_calls();
        assert_eq!(calls, ["GET /admin/realms/data-sec/clients"; 3]);
        assert_eq!(
            kc.admin_events().await,
            [],
            "no admin event on {}",
            kc.describe()
        );
        assert_eq!(kc.token_requests(), 0, "the cached token is reused");
    }
);

both!(
    drift_made_by_hand_is_corrected_and_unmanaged_fields_stay,
    |kc| { drift_is_corrected_and_unmanaged_fields_stay(kc).await }
);

/// From 25.0 to 26.5 Keycloak turns front-channel logout off on a PUT that does not say it: the
/// update says the client's own value.
#[tokio::test]
async fn unmanaged_fields_stay_on_keycloak_25_to_26_5() {
    drift_is_corrected_and_unmanaged_fields_stay(Kc::emulator_as((26, 5, 6)).await).await
}

async fn drift_is_corrected_and_unmanaged_fields_stay(kc: Kc) {
    let v = resource_for(&kc, |_| {});
    let session = kc.admin_session();
    sync_keycloak(&session, &v).await.unwrap();
    kc.edit_client(
        REALM,
        "openmetadata",
        json!({"redirectUris": ["https://evil.example/*"], "publicClient": true,
           "attributes": {"custom.setting": "kept"}, "consentRequired": true,
           "frontchannelLogout": true}),
    )
    .await;
    kc.clear_log().await;

    let synced = sync_keycloak(&session, &v).await.unwrap();

    assert_eq!(
        synced.changes,
        [Change::ClientUpdated {
            client_id: "openmetadata".into(),
            fields: vec![ClientField::PublicClient, ClientField::RedirectUris],
        }]
    );
    let client = kc.client(REALM, "openmetadata").await.unwrap();
    // Attributes merge key by key; fields the operator does not manage stay.
    shows!(client, {"redirectUris": ["https://openmetadata.example.com/callback"],
                           "publicClient": false, "attributes": {"custom.setting": "kept"},
                           "consentRequired": true, "frontchannelLogout": true});
    let puts: Vec<_> = kc.log().into_iter().filter(|e| e.method == "PUT").collect();
    assert_eq!(puts.len(), 1);
    let body = puts[0].body.clone().unwrap();
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "attributes",
            "clientAuthenticatorType",
            "frontchannelLogout",
            "implicitFlowEnabled",
            "publicClient",
            "redirectUris"
        ],
        "the drifted fields, the three a realm's client policies read (tests/it/keycloak/policies.rs) and the client's own frontchannelLogout; never the secret, never another field the spec does not manage"
    );
    // Of the attributes, the managed ones only (Keycloak merges them key by key).
    let sent = body["attributes"].as_object().unwrap();
    assert!(!sent.contains_key("custom.setting"), "{sent:?}");
    assert_eq!(sent.len(), 4, "{sent:?}");
    // It was public while drifted (Keycloak hides a public client's secret): read back after.
    assert_eq!(
        synced.client_secret,
        kc.secret_of(REALM, "openmetadata").await.unwrap()
    );
}

both!(
    every_request_and_response_matches_keycloaks_openapi_spec,
    |kc| {
        let spec = OpenApi::keycloak();
        let session = kc.admin_session();
        let client = json!({"client": {"description": "SSO", "implicitFlowEnabled": true,
                                       "authorizationServicesEnabled": true}});
        let v = resource_for(&kc, |o| merge_spec(o, client));
        sync_keycloak(&session, &v).await.unwrap();
        kc.edit_client(REALM, "openmetadata", json!({"webOrigins": ["*"]}))
            .await;
        kc.set_client_scope(REALM, "openmetadata", "profile", ScopeKind::Optional)
            .await;
        sync_keycloak(&session, &v).await.unwrap();
        delete(&session, &v).await.unwrap();

        let methods: Vec<String> = kc.admin_calls();
        for wanted in ["POST ", "PUT ", "DELETE ", "GET "] {
            assert!(
                methods.iter().any(|m| m.starts_with(wanted)),
                "scenario covers {wanted}: {methods:?}"
            );
        }
        let found = violations(&spec, &kc.log());
        assert!(
            found.is_empty(),
            "{} on {}: {found:#?}",
            kc.describe(),
            kc.base_url
        );
    }
);

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

mod ownership;

mod policies;

mod access;

mod scopes;

mod representation;

/// Without a context the loop makes no Kubernetes write: a rotation asked for stops at its
/// first pass, which marks the Secret, and hands that write back with nothing sent to Keycloak
/// (a loop that went on would plan the same mark again and again, from a Secret never written).
#[tokio::test]
async fn without_a_context_a_rotation_stops_at_the_mark_it_hands_back() {
    let kc = Kc::emulator().await;
    let session = kc.admin_session();
    let fresh = resource_for(&kc, |_| {});
    let made = keycloak_sync(&session, &fresh).await.unwrap();
    let held = kc.secret_of(REALM, "openmetadata").await.unwrap();
    let mut obj = resource_for(&kc, |o| {
        o.metadata.annotations = Some([(ROTATE_ANNOTATION.to_string(), "t1".to_string())].into());
    });
    obj.status = unmade_status(&made).cloned();
    let v = validate(&obj, INSTALLATION).unwrap();
    let observed = omkc::reconcile::plan::Observed {
        issuer: session.realm_url(REALM),
        secret: Some(desired::output_secret(&v, &held, &Default::default())),
        now: omkc::reconcile::observe::now(),
        ..Default::default()
    };
    kc.clear_log().await;
    let converged = omkc::reconcile::converge_client(&session, &obj, &v, observed, None)
        .await
        .unwrap();
    let Some(Put::Apply(marked)) = unmade_secret(&converged) else {
        panic!("the Secret marked: {:?}", converged.changes)
    };
    assert_eq!(
        marked.metadata.annotations.as_ref().unwrap()[ROTATING_FOR_ANNOTATION],
        "t1"
    );
    assert!(kc.writes().is_empty(), "{:?}", kc.writes());
    assert_eq!(kc.secret_of(REALM, "openmetadata").await.unwrap(), held);
}
