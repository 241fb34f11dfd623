//! Tokens, credentials and the account's rights; Keycloak's failures and its legacy base URL.

use super::*;

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

both!(a_renewed_token_keeps_its_session_in_keycloak, |kc| {
    // A user of its own, so that only the operator's sessions count.
    kc.add_user("renewing", "renewing-password", Level::Manage)
        .await;
    let lifetime = if kc.is_real() { 8 } else { 1 };
    kc.set_token_lifetime(Duration::from_secs(lifetime)).await;
    let v = resource_for(&kc, |_| {});
    let session = kc.session(Credentials::Password {
        username: "renewing".into(),
        password: "renewing-password".into(),
    });
    sync_keycloak(&session, &v).await.unwrap();
    tokio::time::sleep(Duration::from_millis(lifetime * 1000 + 100)).await;
    sync_keycloak(&session, &v).await.unwrap();
    kc.set_token_lifetime(Duration::from_secs(60)).await;
    assert_eq!(kc.token_requests(), 2, "renewed once");
    assert_eq!(
        kc.user_sessions("renewing").await,
        1,
        "renewed with its refresh token: the password was not sent again"
    );
});

both!(
    /// A refresh token Keycloak no longer takes (its session ended) is followed by a password
    /// grant at once, and is no failure in the token metric: `OmkcTokenFailures` fires on any.
    a_session_that_ended_signs_in_again_and_counts_no_failure,
    |kc| {
        kc.add_user("ending", "ending-password", Level::Manage)
            .await;
        let lifetime = if kc.is_real() { 8 } else { 1 };
        kc.set_token_lifetime(Duration::from_secs(lifetime)).await;
        let v = resource_for(&kc, |_| {});
        let metrics = std::sync::Arc::new(omkc::telemetry::Metrics::default());
        let credentials = Credentials::Password {
            username: "ending".into(),
            password: "ending-password".into(),
        };
        let session = kc.session_counted_in(credentials, metrics.clone());
        sync_keycloak(&session, &v).await.unwrap();
        kc.end_sessions("ending").await;
        tokio::time::sleep(Duration::from_millis(lifetime * 1000 + 100)).await;
        sync_keycloak(&session, &v).await.unwrap();
        kc.set_token_lifetime(Duration::from_secs(60)).await;
        let grants: Vec<(u16, Option<serde_json::Value>)> = (kc.log().into_iter())
            .filter(|e| e.path.ends_with("/protocol/openid-connect/token"))
            .map(|e| (e.status, e.response.filter(|_| e.status != 200)))
            .collect();
        let refused = serde_json::json!({"error": "invalid_grant", "error_description": "Session not active"});
        assert_eq!(
            grants,
            [(200, None), (400, Some(refused)), (200, None)],
            "signed in, refresh refused, signed in again"
        );
        assert_eq!(kc.user_sessions("ending").await, 1);
        let text = metrics.render();
        assert!(
            text.contains(r#"omkc_keycloak_token_requests_total{result="success"} 2"#),
            "{text}"
        );
        assert!(!text.contains(r#"result="rejected""#), "{text}");
    }
);

both!(
    wrong_credentials_are_a_permanent_error_that_names_no_secret,
    |kc| {
        let v = resource_for(&kc, |_| {});
        let Credentials::Password { username, .. } = kc.admin_credentials() else {
            unreachable!()
        };
        let metrics = std::sync::Arc::new(omkc::telemetry::Metrics::default());
        let wrong = Credentials::Password {
            username,
            password: "wrong-password-xyz".into(),
        };
        let session = kc.session_counted_in(wrong, metrics.clone());
        let err = sync_keycloak(&session, &v).await.unwrap_err();
        assert_eq!(err.reason(), Reason::CredentialsRejected);
        let text = metrics.render();
        let rejected = r#"omkc_keycloak_token_requests_total{result="rejected"} 1"#;
        assert!(text.contains(rejected), "{text}");
        assert!(!text.contains(r#"result="success""#), "{text}");
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
        merge_spec(o, json!({"client": {"clientId": "openmetadata-two"}}))
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

/// From Keycloak 26.8.2 on, the Admin API takes only tokens with the client scope
/// `kc-admin-api`, which Keycloak gives to admin-cli alone (emulated: 26.8 is not served here).
/// A service client without it is told what to add and where, without its id or secret; given
/// the scope, the same credentials work. On 26.8.1 it was not needed.
#[tokio::test]
async fn a_token_without_the_admin_api_scope_is_told_which_scope_to_add_and_where() {
    let credentials = || Credentials::ClientCredentials {
        client_id: "omkc-operator".into(),
        client_secret: "svc-secret".into(),
    };
    let kc = Kc::emulator_as((26, 8, 2)).await;
    let emu = kc.emulator_only().unwrap();
    emu.add_service_client("master", "omkc-operator", "svc-secret");
    let v = resource_for(&kc, |_| {});
    let session = kc.session(credentials());
    let err = sync_keycloak(&session, &v).await.unwrap_err();
    assert_eq!(err.reason(), Reason::KeycloakForbidden);
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(
        text.starts_with("Keycloak refused the admin token it had just issued (HTTP 401): from Keycloak 26.8.2 on"),
        "{text}"
    );
    assert!(
        text.contains(
            "add kc-admin-api to the default client scopes of the client of the credentials Secret in realm \"master\""
        ),
        "{text}"
    );
    assert!(
        !text.contains("omkc-operator") && !text.contains("svc-secret"),
        "{text}"
    );
    // One renewal, then the answer: two tokens, two refused calls, nothing written.
    assert_eq!(kc.token_requests(), 2);
    assert_eq!(kc.log().iter().filter(|e| e.status == 401).count(), 2);
    assert!(kc.client(REALM, "openmetadata").await.is_none());
    // Remembered for the connection: another resource gets the same answer, asking nothing.
    let other = resource_for(&kc, |o| {
        o.spec.client.get_or_insert_default().client_id = Some("other".into())
    });
    kc.clear_log().await;
    assert_eq!(sync_keycloak(&session, &other).await.unwrap_err(), err);
    assert_eq!(kc.token_requests(), 0);
    assert!(kc.log().is_empty(), "{:?}", kc.log());

    assert!(emu.give_admin_api_scope("master", "omkc-operator"));
    sync_keycloak(&kc.session(credentials()), &v).await.unwrap();
    assert!(kc.client(REALM, "openmetadata").await.is_some());
    // admin-cli has the scope: the password grant works as before.
    sync_keycloak(&kc.admin_session(), &v).await.unwrap();

    let before = Kc::emulator_as((26, 8, 1)).await;
    let emu = before.emulator_only().unwrap();
    emu.add_service_client("master", "omkc-operator", "svc-secret");
    assert!(
        !emu.give_admin_api_scope("master", "omkc-operator"),
        "no such scope yet"
    );
    let v = resource_for(&before, |_| {});
    sync_keycloak(&before.session(credentials()), &v)
        .await
        .unwrap();
}

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
        let metrics = std::sync::Arc::new(omkc::telemetry::Metrics::default());
        let session = kc.session_counted_in(kc.admin_credentials(), metrics.clone());

        // A token request Keycloak fails is an error, not a refusal of the credentials.
        let token = "/protocol/openid-connect/token";
        kc.inject(Some("POST"), token, 503, r#"{"error":"unknown_error"}"#);
        let err = sync_keycloak(&session, &v).await.unwrap_err();
        assert_eq!(err.reason(), Reason::KeycloakUnavailable);
        assert!(err.is_transient());
        let text = metrics.render();
        let error = r#"omkc_keycloak_token_requests_total{result="error"} 1"#;
        assert!(text.contains(error), "{text}");
        assert!(!text.contains(r#"result="rejected""#), "{text}");

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
    /// A realm whose `frontendUrl` is set (Keycloak behind a public hostname of that realm's
    /// own) announces it as its issuer, though the operator calls Keycloak by another URL; the
    /// Admin API still answers there.
    a_realms_frontend_url_is_the_issuer_it_announces,
    |kc| {
        let before = kc.admin_session().issuer(REALM).await.unwrap();
        assert!(!before.starts_with("https://sso.example.com"), "{before}");
        kc.set_frontend_url(REALM, "https://sso.example.com/auth").await;
        let fresh = kc.admin_session();
        let issuer = fresh.issuer(REALM).await.unwrap();
        assert_eq!(issuer, format!("https://sso.example.com/auth/realms/{REALM}"));
        let v = resource_for(&kc, |_| {});
        sync_keycloak(&fresh, &v).await.unwrap();
        assert!(kc.client(REALM, "openmetadata").await.is_some());
    }
);
