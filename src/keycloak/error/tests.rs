use super::*;

#[test]
fn only_plain_error_codes_are_kept_from_a_body() {
    assert_eq!(
        error_code(r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#),
        Some("invalid_grant".into())
    );
    assert_eq!(error_code(r#"{"error":"HTTP 401 Unauthorized"}"#), None);
    assert_eq!(
        error_code(r#"{"errorMessage":"Client x already exists"}"#),
        None
    );
    assert_eq!(error_code("<html>proxy says no</html>"), None);
    let e = from_status(
        400,
        r#"{"error":"<script>","error_description":"steal"}"#,
        None,
        "r",
    );
    assert_eq!(e.to_string(), "Keycloak rejected the request (HTTP 400)");
}

#[test]
fn statuses_map_to_errors_in_our_words() {
    let retry = Some(Duration::from_secs(7));
    assert_eq!(
        from_status(429, "", retry, "r"),
        KeycloakError::Throttled {
            status: 429,
            retry_after: retry
        }
    );
    assert_eq!(
        from_status(503, "", retry, "r").retry_after(),
        retry,
        "503 with Retry-After is throttling"
    );
    assert!(matches!(
        from_status(503, "", None, "r"),
        KeycloakError::Server { .. }
    ));
    assert_eq!(
        from_status(404, r#"{"error":"Realm not found."}"#, None, "data"),
        KeycloakError::RealmNotFound("data".into())
    );
    assert_eq!(
        from_status(404, r#"{"error":"Could not find client"}"#, None, "r"),
        KeycloakError::NotFound
    );
    // A client policy says invalid_client_metadata; Keycloak's own validation invalid_input.
    let policy = r#"{"error":"invalid_client_metadata","error_description":"Invalid client metadata: implicit flow enabled"}"#;
    let refused = |code: &str| KeycloakError::PolicyRefused {
        code: code.into(),
        pkce: false,
    };
    assert_eq!(
        from_status(400, policy, None, "r"),
        refused("invalid_client_metadata")
    );
    let consent = r#"{"error":"invalid_registration","error_description":"Client is required to enable consentRequired"}"#;
    assert_eq!(
        from_status(400, consent, None, "r").to_string(),
        "a client policy of the realm refuses the client as the spec describes it (HTTP 400, error invalid_registration): change the spec, or the realm's client policies (Realm settings → Client policies)"
    );
    let pkce = r#"{"error":"invalid_client_metadata","error_description":"Invalid client metadata: code_challenge_method"}"#;
    assert_eq!(
        from_status(400, pkce, None, "r").to_string(),
        "a client policy of the realm refuses the client as the spec describes it (HTTP 400, error invalid_client_metadata, on its PKCE method: the realm requires spec.client.requirePkce: true): change the spec, or the realm's client policies (Realm settings → Client policies)"
    );
    assert_eq!(
        from_status(400, policy, None, "r").reason(),
        Reason::ClientPolicyConflict
    );
    assert!(matches!(
        from_status(400, r#"{"error":"invalid_input"}"#, None, "r"),
        KeycloakError::Rejected { .. }
    ));
    assert_eq!(
        from_status(307, "", None, "r"),
        KeycloakError::Redirected { status: 307 }
    );
    assert_eq!(
        parse_retry_after(Some(" 12 ")),
        Some(Duration::from_secs(12))
    );
    assert_eq!(
        parse_retry_after(Some("99999")),
        Some(Duration::from_secs(300))
    );
    assert_eq!(
        parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
        None
    );
}

#[test]
fn refusals_and_messages_say_the_status_the_code_and_the_wait_on_one_bounded_line() {
    for status in [401, 403] {
        assert_eq!(
            from_status(status, "", None, "r"),
            KeycloakError::Forbidden { status }
        );
    }
    assert_eq!(from_status(409, "", None, "r"), KeycloakError::Conflict);
    let code = r#"{"error":"unknown_error"}"#;
    assert_eq!(
        from_status(500, code, None, "r").to_string(),
        "Keycloak failed with HTTP 500 (error unknown_error)"
    );
    assert_eq!(
        from_status(400, code, None, "r").to_string(),
        "Keycloak rejected the request (HTTP 400, error unknown_error)"
    );
    assert_eq!(
        from_status(429, "", Some(Duration::from_secs(7)), "r").to_string(),
        "Keycloak is busy (HTTP 429); it asked to retry after 7s"
    );
    assert_eq!(tidy(" one\ntwo "), "one two");
    assert_eq!(tidy("\n"), "(no detail)");
    let long = "x".repeat(MAX_DETAIL);
    assert_eq!(tidy(&long), long, "at the bound: kept whole");
    assert_eq!(tidy(&format!("{long}y")), format!("{long}…"));
}

#[test]
fn a_token_refused_says_which_client_needs_the_admin_api_scope_without_naming_a_secret_one() {
    let refused = |admin_api_scope, password_grant| {
        KeycloakError::TokenRefused {
            admin_api_scope,
            password_grant,
            admin_realm: "master".into(),
        }
        .to_string()
    };
    let own = refused(Some(false), false);
    assert!(own.starts_with("Keycloak refused the admin token it had just issued (HTTP 401): from Keycloak 26.8.2 on"), "{own}");
    assert!(own.contains("add kc-admin-api to the default client scopes of the client of the credentials Secret in realm \"master\""), "{own}");
    // Keycloak did not list the scopes: the same advice.
    assert_eq!(refused(None, false), own);
    let cli = refused(Some(false), true);
    assert!(
        cli.contains("of client admin-cli in realm \"master\""),
        "{cli}"
    );
    // The scope is there: something else is wrong, and adding it again is not the advice.
    let other = refused(Some(true), false);
    assert!(!other.contains("add kc-admin-api"), "{other}");
    assert!(other.contains("hostname settings"), "{other}");
}
