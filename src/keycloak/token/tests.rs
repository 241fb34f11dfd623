use super::*;

#[test]
fn renewal_margin_is_a_quarter_capped_at_thirty_seconds() {
    assert_eq!(
        renewal_margin(Duration::from_secs(60)),
        Duration::from_secs(15)
    );
    assert_eq!(
        renewal_margin(Duration::from_secs(300)),
        Duration::from_secs(30)
    );
    assert_eq!(
        renewal_margin(Duration::from_secs(4)),
        Duration::from_secs(1)
    );
}

/// What a token response becomes in the cache: the token renewed a margin before its end, the
/// refresh token used until a margin before its own, none without a lifetime.
#[test]
fn a_token_response_is_cached_with_its_renewal_and_refresh_times() {
    let t0 = Instant::now();
    let answer = |body: serde_json::Value| {
        let parsed: TokenResponse = serde_json::from_value(body).unwrap();
        let cached = parsed.cached(t0);
        let refresh = cached.refresh.map(|(v, until)| (v, until - t0));
        (cached.token.value, cached.renew_at - t0, refresh)
    };
    let secs = Duration::from_secs;
    let password_grant = serde_json::json!({
        "access_token": "a1", "expires_in": 60,
        "refresh_token": "r1", "refresh_expires_in": 1800
    });
    assert_eq!(
        answer(password_grant),
        ("a1".into(), secs(45), Some(("r1".into(), secs(1770))))
    );
    let no_lifetime = serde_json::json!({"access_token": "a2", "refresh_token": "r2"});
    assert_eq!(answer(no_lifetime), ("a2".into(), secs(45), None));
    let ended = serde_json::json!({
        "access_token": "a3", "expires_in": 4, "refresh_token": "r3", "refresh_expires_in": 0
    });
    assert_eq!(answer(ended), ("a3".into(), secs(3), None));
}

#[test]
fn a_token_shows_its_scope_hint_and_never_its_value() {
    let token = Token {
        value: "eyJ-the-token".into(),
        admin_api_scope: Some(false),
    };
    let shown = format!("{token:?}");
    assert_eq!(shown, "Token { admin_api_scope: Some(false), .. }");
}

fn rejected() -> KeycloakError {
    KeycloakError::CredentialsRejected {
        status: 401,
        code: Some("invalid_grant".into()),
    }
}

fn token(value: &str, renew_at: Instant) -> CachedToken {
    CachedToken {
        token: Token {
            value: value.into(),
            admin_api_scope: None,
        },
        renew_at,
        refresh: None,
    }
}

fn value(answer: Option<Result<Token, KeycloakError>>) -> Option<Result<String, KeycloakError>> {
    answer.map(|a| a.map(|t| t.value))
}

#[test]
fn a_token_is_served_until_its_renewal_time_then_asked_again() {
    let t0 = Instant::now();
    let mut state = State::default();
    assert_eq!(value(state.cached(t0)), None);
    let renew_at = t0 + Duration::from_secs(45);
    assert_eq!(
        state.record(Ok(token("t1", renew_at)), t0).map(|t| t.value),
        Ok("t1".into())
    );
    let just_before = renew_at - Duration::from_millis(1);
    assert_eq!(value(state.cached(just_before)), Some(Ok("t1".into())));
    assert_eq!(value(state.cached(renew_at)), None);
}

#[test]
fn refusals_are_remembered_for_windows_that_double_and_a_token_ends_the_streak() {
    let t0 = Instant::now();
    let mut state = State::default();
    let mut at = t0;
    for window in [30, 60, 120, 240, 300, 300] {
        assert_eq!(state.record(Err(rejected()), at), Err(rejected()));
        let end = at + Duration::from_secs(window);
        let just_before = end - Duration::from_millis(1);
        assert_eq!(
            value(state.cached(just_before)),
            Some(Err(rejected())),
            "{window}"
        );
        assert_eq!(
            value(state.cached(end)),
            None,
            "asked again after {window} s"
        );
        at = end;
    }
    // Accepted at last: the token is served, and the next refusal starts over at 30 s.
    let renew_at = at + Duration::from_secs(45);
    state.record(Ok(token("t1", renew_at)), at).unwrap();
    assert_eq!(value(state.cached(at)), Some(Ok("t1".into())));
    state.record(Err(rejected()), renew_at).unwrap_err();
    assert_eq!(value(state.cached(renew_at)), Some(Err(rejected())));
    assert_eq!(
        value(state.cached(renew_at + Duration::from_secs(30))),
        None
    );
}

/// A token's refresh token renews it after its renewal time, until the refresh token's own
/// end; a failure, a refusal or a 401 drops it with the token (the credentials sign in again).
#[test]
fn a_refresh_token_renews_until_its_end_and_goes_with_its_token() {
    let t0 = Instant::now();
    let mut state = State::default();
    assert_eq!(state.refresh(t0), None);
    let with_refresh = |until: Instant| CachedToken {
        refresh: Some(("r1".into(), until)),
        ..token("t1", t0 + Duration::from_secs(45))
    };
    let until = t0 + Duration::from_secs(1800);
    state.record(Ok(with_refresh(until)), t0).unwrap();
    assert_eq!(
        state.refresh(t0 + Duration::from_secs(50)),
        Some("r1".into())
    );
    assert_eq!(state.refresh(until), None, "ended: sign in again");
    let unavailable = KeycloakError::Server {
        status: 503,
        code: None,
    };
    state.record(Err(unavailable), t0).unwrap_err();
    assert_eq!(state.refresh(t0), None);
    state.record(Ok(with_refresh(until)), t0).unwrap();
    state.record(Err(rejected()), t0).unwrap_err();
    assert_eq!(state.refresh(t0), None);
    state.record(Ok(with_refresh(until)), t0).unwrap();
    state.token = None; // what `invalidate` does after a 401
    assert_eq!(state.refresh(t0), None);
}

#[test]
fn a_failure_other_than_a_refusal_is_not_remembered_and_drops_the_token() {
    let t0 = Instant::now();
    let mut state = State::default();
    state
        .record(Ok(token("t1", t0 + Duration::from_secs(45))), t0)
        .unwrap();
    let unavailable = KeycloakError::Server {
        status: 503,
        code: None,
    };
    assert_eq!(state.record(Err(unavailable.clone()), t0), Err(unavailable));
    assert_eq!(value(state.cached(t0)), None, "asked again at once");
    // A missing admin realm is a refusal too: it will not change by itself.
    let missing = KeycloakError::RealmNotFound("master".into());
    state.record(Err(missing.clone()), t0).unwrap_err();
    assert_eq!(value(state.cached(t0)), Some(Err(missing)));
}

#[test]
fn a_refused_token_is_remembered_for_the_first_window_as_each_grant_starts_over() {
    let t0 = Instant::now();
    let refused = KeycloakError::TokenRefused {
        admin_api_scope: Some(false),
        password_grant: false,
        admin_realm: "master".into(),
    };
    let mut state = State::default();
    let mut at = t0;
    for _ in 0..3 {
        // Keycloak grants a token (the streak ends), then the Admin API refuses it.
        state
            .record(Ok(token("t", at + Duration::from_secs(45))), at)
            .unwrap();
        assert_eq!(state.refuse(refused.clone(), at), refused);
        let end = at + Duration::from_secs(30);
        assert_eq!(
            value(state.cached(end - Duration::from_millis(1))),
            Some(Err(refused.clone())),
            "the token is dropped, the refusal served"
        );
        assert_eq!(value(state.cached(end)), None);
        at = end;
    }
}

#[test]
fn debug_of_credentials_hides_secrets() {
    let password = Credentials::Password {
        username: "admin".into(),
        password: "hunter2".into(),
    };
    let client = Credentials::ClientCredentials {
        client_id: "ops".into(),
        client_secret: "s3cr3t".into(),
    };
    let text = format!("{password:?} {client:?}");
    assert!(text.contains("admin") && text.contains("ops"));
    assert!(
        !text.contains("hunter2") && !text.contains("s3cr3t"),
        "{text}"
    );
}

#[test]
fn a_token_names_the_admin_api_scope_only_as_a_whole_word_of_a_string() {
    let named = |v: serde_json::Value| names_admin_api_scope(Some(&v));
    assert_eq!(named("profile email kc-admin-api".into()), Some(true));
    assert_eq!(named("kc-admin-api".into()), Some(true));
    assert_eq!(named("profile email".into()), Some(false));
    assert_eq!(named("kc-admin-apis profile".into()), Some(false));
    assert_eq!(named("".into()), Some(false));
    // Not a string (never seen): no hint either way (the field is read as any JSON value, so
    // such a response still gives its token).
    assert_eq!(named(serde_json::json!(5)), None);
    assert_eq!(names_admin_api_scope(None), None);
}
