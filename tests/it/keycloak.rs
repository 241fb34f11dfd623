//! The real Keycloak code of the operator, over HTTP: each scenario runs against the Admin API
//! emulator and, with `tests/keycloak/keycloak.sh test`, against every supported real Keycloak
//! (the same assertions; see [`crate::support::target`]).

use std::time::Duration;

use omkc::{
    Error,
    crd::OpenMetadataKeycloakClient,
    keycloak::Session,
    keycloak::{Credentials, KeycloakError},
    names::{OWNER_ATTRIBUTE, OWNER_UID_ATTRIBUTE, SECRET_CREATION_ATTRIBUTE},
    reason::Reason,
    reconcile::{
        change::{Change, Rotation},
        desired::{self, ClientField},
        plan::Put,
    },
    validate::validate,
};
use serde_json::json;

use crate::{
    both,
    support::{
        INSTALLATION,
        emulator::Level,
        fixture, keycloak_delete, keycloak_sync,
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
        o.spec.client = Some(omkc::crd::ClientSpec {
            adopt_existing: Some(true),
            ..Default::default()
        });
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
            kc.secret_of(REALM, "openmetadata").await
        );
        assert_eq!(
            synced.changes,
            [Change::ClientCreated {
                client_id: "openmetadata".into(),
                realm: REALM.into()
            }]
        );
        // Realm defaults kept, email and profile present: the POST body carried no scopes.
        assert_eq!(
            kc.default_scope_names(REALM, "openmetadata").await,
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
    |kc| {
        let v = resource_for(&kc, |_| {});
        let session = kc.admin_session();
        sync_keycloak(&session, &v).await.unwrap();
        kc.edit_client(
            REALM,
            "openmetadata",
            json!({"redirectUris": ["https://evil.example/*"], "publicClient": true,
               "attributes": {"custom.setting": "kept"}, "consentRequired": true}),
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
        let puts: Vec<_> = kc.log().into_iter().filter(|e| e.method == "PUT").collect();
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
            kc.secret_of(REALM, "openmetadata").await.unwrap()
        );
    }
);

/// Moves `email` on the client the operator made (dropped, or made optional) as the console
/// would; the next sync puts it back among the default scopes. The writes it took.
async fn email_scope_restored(
    kc: &Kc,
    v: &OpenMetadataKeycloakClient,
    to: ScopeKind,
) -> Vec<String> {
    let session = kc.admin_session();
    sync_keycloak(&session, v).await.unwrap();
    kc.set_client_scope(REALM, "openmetadata", "email", to)
        .await;
    kc.clear_log().await;

    let synced = sync_keycloak(&session, v).await.unwrap();
    assert_eq!(
        synced.changes,
        [Change::ScopesAdded {
            scopes: vec!["email".into()]
        }]
    );
    assert!(
        kc.default_scope_names(REALM, "openmetadata")
            .await
            .contains(&"email".to_string()),
        "email is a default scope on {}",
        kc.describe()
    );
    kc.writes()
}

both!(a_removed_default_scope_is_added_back_one_by_one, |kc| {
    let v = resource_for(&kc, |_| {});
    let w = email_scope_restored(&kc, &v, ScopeKind::None).await;
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("PUT /admin/realms/data-sec/clients/")
            && w[0].contains("/default-client-scopes/"),
        "{w:?}"
    );
});

both!(
    /// Keycloak skips adding a default scope the client already has as an optional one (204,
    /// an admin event, nothing changed): the scope is moved, once, and then left alone.
    a_scope_made_optional_by_hand_becomes_a_default_scope_once,
    |kc| {
        let v = resource_for(&kc, |_| {});
        let w = email_scope_restored(&kc, &v, ScopeKind::Optional).await;
        assert!(
            !kc.scope_names(REALM, "openmetadata", true)
                .await
                .contains(&"email".to_string())
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("DELETE ") && w[0].contains("/optional-client-scopes/"), "{w:?}");
        assert!(w[1].starts_with("PUT ") && w[1].contains("/default-client-scopes/"), "{w:?}");

        let session = kc.admin_session();
        kc.clear_log().await;
        for _ in 0..2 {
            let again = sync_keycloak(&session, &v).await.unwrap();
            assert!(again.changes.is_empty(), "{:?}", again.changes);
        }
        assert_eq!(kc.writes(), Vec::<String>::new());
        assert_eq!(kc.admin_events().await, []);
    }
);

both!(a_missing_realm_scope_is_a_clear_error, |kc| {
    kc.remove_realm_scope(REALM, "profile").await;
    let v = resource_for(&kc, |_| {});
    let err = sync_keycloak(&kc.admin_session(), &v).await.unwrap_err();
    assert_eq!(
        err,
        Error::from(KeycloakError::ScopeNotFound("profile".into()))
    );
    assert!(!err.is_transient());
});

both!(
    a_client_made_by_hand_is_left_alone_unless_adoption_is_asked,
    |kc| {
        kc.seed_client(
        REALM,
        json!({"clientId": "openmetadata", "publicClient": true, "redirectUris": ["http://x/*"]}),
    )
    .await;
        let session = kc.admin_session();
        kc.clear_log().await;

        let err = sync_keycloak(&session, &resource_for(&kc, |_| {}))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::ClientConflict);
        assert!(err.to_string().contains("adoptExisting"), "{err}");
        assert!(kc.writes().is_empty(), "nothing written: {:?}", kc.writes());
        assert_eq!(
            kc.client(REALM, "openmetadata").await.unwrap()["publicClient"],
            true
        );

        let synced = sync_keycloak(&session, &adopting(&kc)).await.unwrap();
        assert_eq!(
            synced.changes[0],
            Change::ClientAdopted {
                client_id: "openmetadata".into()
            }
        );
        assert_eq!(
            Some(synced.client_secret.clone()),
            kc.secret_of(REALM, "openmetadata").await
        );
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        assert_eq!(client["publicClient"], false);
        assert_eq!(
            client["attributes"][OWNER_ATTRIBUTE],
            "cluster-1/openmetadata/openmetadata"
        );
    }
);

both!(
    a_client_of_another_resource_is_never_taken_even_with_adoption,
    |kc| {
        kc.seed_client(
            REALM,
            json!({"clientId": "openmetadata", "attributes": {OWNER_ATTRIBUTE: "other-ns/other"}}),
        )
        .await;
        let v = adopting(&kc);
        let session = kc.admin_session();
        kc.clear_log().await;
        let err = sync_keycloak(&session, &v).await.unwrap_err();
        assert_eq!(err.reason(), Reason::ClientConflict);
        assert!(
            err.to_string()
                .contains("another OpenMetadataKeycloakClient"),
            "{err}"
        );
        assert!(
            !err.to_string().contains("other-ns"),
            "not named to this tenant: {err}"
        );
        assert!(kc.writes().is_empty());
        // Deleting this resource leaves the other's client too.
        delete(&session, &v).await.unwrap();
        assert!(kc.client(REALM, "openmetadata").await.is_some());
    }
);

both!(authorization_services_bring_a_service_account, |kc| {
    let v = resource_for(&kc, |o| {
        o.spec.client = Some(omkc::crd::ClientSpec {
            authorization_services_enabled: Some(true),
            ..Default::default()
        });
    });
    sync_keycloak(&kc.admin_session(), &v).await.unwrap();
    let client = kc.client(REALM, "openmetadata").await.unwrap();
    assert_eq!(client["authorizationServicesEnabled"], true);
    assert_eq!(client["serviceAccountsEnabled"], true);
});

both!(
    an_expired_token_is_renewed_before_use_and_a_revoked_one_after_a_401,
    |kc| {
        // Keycloak counts token lifetimes in whole seconds from a truncated issue time: on a real
        // server a lifetime of a few seconds may end up to a second early, so it gets a longer one.
        let lifetime = if kc.is_real() { 8 } else { 1 };
        kc.set_token_lifetime(Duration::from_secs(lifetime)).await;
        let v = resource_for(&kc, |_| {});
        let session = kc.admin_session();
        sync_keycloak(&session, &v).await.unwrap();
        assert_eq!(kc.token_requests(), 1);

        tokio::time::sleep(Duration::from_millis(lifetime * 1000 + 100)).await;
        sync_keycloak(&session, &v).await.unwrap();
        assert_eq!(
            kc.token_requests(),
            2,
            "renewed before expiry, not after a failure"
        );
        assert!(
            kc.log().iter().all(|e| e.status != 401),
            "no call went out with an expired token"
        );

        kc.set_token_lifetime(Duration::from_secs(60)).await;
        sync_keycloak(&session, &v).await.unwrap();
        kc.revoke_all_tokens().await;
        kc.clear_log().await;
        let synced = sync_keycloak(&session, &v).await.unwrap();
        assert!(synced.changes.is_empty());
        let log = kc.log();
        assert_eq!(
            log.iter().filter(|e| e.status == 401).count(),
            1,
            "one 401, then a fresh token"
        );
        assert_eq!(kc.token_requests(), 1);
    }
);

both!(
    wrong_credentials_are_a_permanent_error_that_names_no_secret,
    |kc| {
        let v = resource_for(&kc, |_| {});
        let Credentials::Password { username, .. } = kc.admin_credentials() else {
            unreachable!()
        };
        let session = kc.session(Credentials::Password {
            username,
            password: "wrong-password-xyz".into(),
        });
        let err = sync_keycloak(&session, &v).await.unwrap_err();
        assert_eq!(err.reason(), Reason::CredentialsRejected);
        assert!(!err.is_transient());
        let status = kc.log()[0].status;
        assert!(status == 400 || status == 401, "{status}");
        assert_eq!(
            err.to_string(),
            format!("Keycloak refused the admin credentials (HTTP {status}, error invalid_grant)"),
            "Keycloak's error code, never its text"
        );
        assert!(!err.to_string().contains("wrong-password-xyz"));
        assert!(kc.admin_calls().is_empty(), "no admin call without a token");
    }
);

/// An account that may do less than manage the realm's clients gets a permission error that
/// says so: never a conflict, never a secret it may not have.
async fn as_limited_account(kc: &Kc, level: Level) -> Error {
    let v = resource_for(kc, |_| {});
    sync_keycloak(&kc.admin_session(), &v).await.unwrap();
    let name = format!("limited-{level:?}").to_lowercase();
    kc.add_user(&name, "limited-pw", level).await;
    let session = kc.session(Credentials::Password {
        username: name,
        password: "limited-pw".into(),
    });
    // A resource whose client does not exist yet, and one whose client exists.
    let other = resource_for(kc, |o| {
        o.spec.client = Some(omkc::crd::ClientSpec {
            client_id: Some("openmetadata-two".into()),
            ..Default::default()
        })
    });
    let err = sync_keycloak(&session, &other).await.unwrap_err();
    assert_eq!(
        err.reason(),
        Reason::KeycloakForbidden,
        "{err} on {}",
        kc.describe()
    );
    assert!(!err.is_transient());
    err
}

both!(an_account_without_rights_gets_forbidden, |kc| {
    as_limited_account(&kc, Level::None).await;
});

both!(
    /// A query-only account gets `[]` from the list by clientId even for a client that exists.
    an_account_that_may_only_query_clients_gets_forbidden_not_a_conflict,
    |kc| {
        let err = as_limited_account(&kc, Level::Query).await;
        assert!(err.to_string().contains("manage-clients"), "{err}");
        assert!(kc.client(REALM, "openmetadata-two").await.is_none());
    }
);

both!(
    an_account_that_may_only_view_clients_may_not_create_one,
    |kc| {
        as_limited_account(&kc, Level::View).await;
        assert!(kc.client(REALM, "openmetadata-two").await.is_none());
    }
);

both!(client_credentials_grant_works, |kc| {
    kc.add_service_client("omkc-operator", "svc-secret").await;
    let v = resource_for(&kc, |_| {});
    let session = kc.session(Credentials::ClientCredentials {
        client_id: "omkc-operator".into(),
        client_secret: "svc-secret".into(),
    });
    sync_keycloak(&session, &v).await.unwrap();
    assert!(kc.client(REALM, "openmetadata").await.is_some());
});

both!(a_missing_realm_is_reported_as_such, |kc| {
    let v = resource_for(&kc, |o| o.spec.keycloak.realm = "nope".into());
    let err = sync_keycloak(&kc.admin_session(), &v).await.unwrap_err();
    assert_eq!(
        err,
        Error::from(KeycloakError::RealmNotFound("nope".into()))
    );
    assert!(!err.is_transient());
});

both!(
    /// Keycloak cannot be made to answer 409 or 503 on cue: on a real Keycloak the faults come
    /// from the recording proxy in front of it, as from a load balancer.
    conflicts_server_errors_and_outages_are_transient,
    |kc| {
        let v = resource_for(&kc, |_| {});
        let session = kc.admin_session();

        kc.inject(
            Some("POST"),
            "/clients",
            409,
            r#"{"errorMessage":"Client openmetadata already exists"}"#,
        );
        let err = sync_keycloak(&session, &v).await.unwrap_err();
        assert_eq!(err.reason(), Reason::KeycloakConflict);
        assert!(err.is_transient());

        kc.inject(Some("GET"), "/clients", 503, r#"{"error":"unknown_error"}"#);
        let err = sync_keycloak(&session, &v).await.unwrap_err();
        assert_eq!(err.reason(), Reason::KeycloakUnavailable);
        assert!(err.is_transient());

        // After the faults, the next attempt converges.
        sync_keycloak(&session, &v).await.unwrap();

        kc.stop();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let err = sync_keycloak(&session, &v).await.unwrap_err();
        assert_eq!(err.reason(), Reason::KeycloakUnavailable);
        assert!(err.is_transient());
    }
);

async fn legacy_auth_base_url(kc: Kc) {
    assert!(kc.base_url.ends_with("/auth"));
    let v = resource_for(&kc, |_| {});
    let session = kc.admin_session();
    sync_keycloak(&session, &v).await.unwrap();
    assert!(kc.client(REALM, "openmetadata").await.is_some());
    delete(&session, &v).await.unwrap();
    assert!(kc.client(REALM, "openmetadata").await.is_none());
}

mod a_legacy_auth_base_url_works {
    /// Keycloak ≤ 16 served its API under `/auth`; so does a reverse proxy that maps it there.
    #[tokio::test]
    async fn emulator() {
        super::legacy_auth_base_url(crate::support::target::Kc::emulator_legacy().await).await
    }
    #[tokio::test]
    #[ignore = "needs a real Keycloak: tests/keycloak/keycloak.sh test (docs/contributors/testing.md)"]
    async fn real_keycloak() {
        super::legacy_auth_base_url(crate::support::target::Kc::real_at("/auth").await).await
    }
}

both!(
    delete_removes_an_owned_client_and_treats_gone_as_done,
    |kc| {
        let v = resource_for(&kc, |_| {});
        let session = kc.admin_session();
        sync_keycloak(&session, &v).await.unwrap();

        let decided = delete(&session, &v).await.unwrap();
        assert!(
            matches!(decided, Change::ClientDeleted { .. }),
            "{decided:?}"
        );
        assert!(kc.client(REALM, "openmetadata").await.is_none());

        let again = delete(&session, &v).await.unwrap();
        assert!(matches!(again, Change::ClientGone { .. }), "{again:?}");

        // A 404 from DELETE (deleted by someone else in between) is success too.
        sync_keycloak(&session, &v).await.unwrap();
        kc.inject(
            Some("DELETE"),
            "/clients/",
            404,
            r#"{"error":"Could not find client"}"#,
        );
        delete(&session, &v).await.unwrap();
    }
);

both!(
    every_request_and_response_matches_keycloaks_openapi_spec,
    |kc| {
        let spec = OpenApi::keycloak();
        let session = kc.admin_session();
        let v = resource_for(&kc, |o| {
            o.spec.client = Some(omkc::crd::ClientSpec {
                description: Some("SSO".into()),
                implicit_flow_enabled: Some(true),
                authorization_services_enabled: Some(true),
                ..Default::default()
            });
        });
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

/// From 26.8 on, an account that may view but not manage clients gets `"**********"` for a
/// secret (no such Keycloak is served to test against: the emulator models it). The mask is
/// never taken for a secret, and the account's lack of rights is said plainly.
#[tokio::test]
async fn a_masked_secret_is_never_taken_for_the_secret() {
    let kc = Kc::emulator_as((26, 8)).await;
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
/// the operator says so once instead of sending the same update on every resync.
#[tokio::test]
async fn authorization_on_a_server_without_the_feature_is_a_clear_error_not_a_put_per_resync() {
    let kc = Kc::emulator().await;
    kc.emulator_only().unwrap().disable_authorization_feature();
    let v = resource_for(&kc, |o| {
        o.spec.client = Some(omkc::crd::ClientSpec {
            authorization_services_enabled: Some(true),
            ..Default::default()
        });
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

both!(
    /// Keycloak keeps no creation time for a secret given rather than generated (an imported
    /// client): with `rotationInterval` the secret's age is unknown, so it is rotated once, and
    /// from then on by the creation time Keycloak gives the new secret.
    a_secret_of_unknown_age_is_rotated_once_then_on_schedule,
    |kc| {
        let given = "given-by-an-import-0123456789";
        let obj = resource_for(&kc, |o| {
            o.spec.secret = Some(omkc::crd::OutputSecretSpec {
                rotation_interval: Some("1h".into()),
                ..Default::default()
            })
        });
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
            let seen = omkc::reconcile::Seen {
                issuer: issuer.clone(),
                secret: Some(desired::output_secret(&v, held, &Default::default())),
                now,
                ..Default::default()
            };
            omkc::reconcile::converge_client(&session, &obj, &v, seen, None)
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
    /// Adoption never takes Keycloak's own clients, even through a connection that allows it:
    /// their secrets and roles belong to Keycloak's administration.
    keycloaks_built_in_clients_are_never_adopted,
    |kc| {
        let session = kc.admin_session();
        for builtin in ["admin-cli", "realm-management", "security-admin-console", "broker"] {
            let before = kc.client(REALM, builtin).await.expect("every realm has it");
            let obj = resource_for(&kc, |o| {
                o.spec.client = Some(omkc::crd::ClientSpec {
                    client_id: Some(builtin.into()),
                    adopt_existing: Some(true),
                    ..Default::default()
                })
            });
            kc.clear_log().await;
            let err = sync_keycloak(&session, &obj).await.unwrap_err();
            assert_eq!(err.reason(), Reason::ClientConflict, "{builtin}: {err}");
            assert!(err.to_string().contains("built-in"), "{builtin}: {err}");
            assert_eq!(kc.writes(), Vec::<String>::new(), "{builtin}");
            assert_eq!(kc.client(REALM, builtin).await.unwrap(), before, "{builtin}");
        }
    }
);

both!(
    /// A resource recreated with the same namespace and name (a namespace deleted and made
    /// again, another team) has another uid: the client the first one retained is not its own,
    /// and its secret is not handed over unless the new resource adopts the client.
    a_recreated_resource_does_not_inherit_the_retained_client,
    |kc| {
        let session = kc.admin_session();
        let first = resource_for(&kc, |o| {
            o.spec.deletion_policy = Some(omkc::crd::DeletionPolicy::Retain)
        });
        let made = sync_keycloak(&session, &first).await.unwrap();
        let retained = delete(&session, &first).await.unwrap();
        assert!(matches!(retained, Change::ClientRetained { .. }), "{retained:?}");

        let mut second = first.clone();
        second.metadata.uid = Some("7d3c9a52-0000-4000-8000-0000000000ff".into());
        kc.clear_log().await;
        let err = sync_keycloak(&session, &second).await.unwrap_err();
        assert_eq!(err.reason(), Reason::ClientConflict, "{err}");
        assert!(err.to_string().contains("earlier"), "{err}");
        assert_eq!(kc.writes(), Vec::<String>::new(), "nothing written");
        let left = delete(&session, &second).await.unwrap();
        assert!(matches!(left, Change::ClientNotOurs { .. }), "{left:?}");
        assert!(kc.client(REALM, "openmetadata").await.is_some());

        // Taken over explicitly.
        second.spec.client = Some(omkc::crd::ClientSpec {
            adopt_existing: Some(true),
            ..Default::default()
        });
        let taken = sync_keycloak(&session, &second).await.unwrap();
        assert_eq!(taken.client_uuid, made.client_uuid);
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        assert_eq!(
            client["attributes"][OWNER_UID_ATTRIBUTE],
            "7d3c9a52-0000-4000-8000-0000000000ff"
        );
    }
);
