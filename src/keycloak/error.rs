//! Errors of the Keycloak Admin API layer, in the operator's own words.
//!
//! A remote body is never carried: an error holds the HTTP status, Keycloak's error *code* when
//! it is a plain identifier (`invalid_grant`, `unknown_error`), and nothing else from the
//! response. So no text chosen by whatever answers at `keycloak.url` reaches a status, an Event
//! or a log line, and no credential can travel through an error.

use std::time::Duration;

use crate::reason::Reason;

/// Something went wrong talking to Keycloak.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum KeycloakError {
    /// Connection refused, DNS, TLS or timeout (the local transport error, bounded).
    #[error("cannot reach Keycloak: {0}")]
    Unreachable(String),
    /// Keycloak answered 5xx.
    #[error("Keycloak failed with HTTP {status}{}", code_suffix(.code))]
    Server { status: u16, code: Option<String> },
    /// 429, or 503 with `Retry-After`: Keycloak asks to come back later.
    #[error("Keycloak is busy (HTTP {status}){}", retry_suffix(.retry_after))]
    Throttled {
        status: u16,
        /// What `Retry-After` asked for.
        retry_after: Option<Duration>,
    },
    /// 409: a concurrent change.
    #[error("Keycloak reported a conflict (HTTP 409)")]
    Conflict,
    /// The token endpoint refused the admin credentials.
    #[error("Keycloak refused the admin credentials (HTTP {status}{})", code_inline(.code))]
    CredentialsRejected {
        status: u16,
        /// Keycloak's error code (`invalid_grant`, `invalid_client`, ...).
        code: Option<String>,
    },
    /// An admin call was refused with fresh credentials (401 after one renewal, or 403).
    #[error(
        "the admin account may not do this (HTTP {status}): grant it manage-clients in the realm"
    )]
    Forbidden { status: u16 },
    /// The account may view the realm's clients but not manage them: Keycloak shows it the
    /// client with `access.manage: false` (and, from 26.8 on, a masked secret).
    #[error(
        "the admin account may view but not manage the realm's clients: grant it manage-clients in the realm"
    )]
    MayNotManage,
    /// The realm does not exist (or the URL does not point at Keycloak's Admin API).
    #[error("realm {0:?} not found in Keycloak (or the URL is not Keycloak's base URL)")]
    RealmNotFound(String),
    /// The addressed object does not exist (404).
    #[error("not found in Keycloak (HTTP 404)")]
    NotFound,
    /// A client scope the client needs does not exist in the realm.
    #[error("client scope {0:?} does not exist in the realm")]
    ScopeNotFound(String),
    /// 400 `invalid_client_metadata` or `invalid_registration`: a client policy of the realm
    /// (Realm settings → Client policies) refused the client as sent (seen on 26.7: the first
    /// from `reject-implicit-grant`, `pkce-enforcer`, `secure-client-authenticator`, the second
    /// from `consent-required`, `full-scope-disabled`). Keycloak's own validation says
    /// `invalid_input`. `pkce`: the refusal is `pkce-enforcer`'s (its description recognised,
    /// never repeated).
    #[error(
        "a client policy of the realm refuses the client as the spec describes it (HTTP 400, error {code}{}): change the spec, or the realm's client policies (Realm settings → Client policies)",
        if *.pkce { ", on its PKCE method: the realm requires spec.client.requirePkce: true" } else { "" }
    )]
    PolicyRefused { code: String, pkce: bool },
    /// Any other refusal (4xx) of a request.
    #[error("Keycloak rejected the request (HTTP {status}{})", code_inline(.code))]
    Rejected { status: u16, code: Option<String> },
    /// A 3xx: redirects are never followed (they could send credentials elsewhere).
    #[error(
        "Keycloak answered with a redirect (HTTP {status}), which is never followed: set the URL to Keycloak's base URL"
    )]
    Redirected { status: u16 },
    /// The CA bundle holds no usable PEM certificate.
    #[error("the CA bundle cannot be read: {0}")]
    InvalidCaBundle(String),
    /// Keycloak's answer was not what its API promises.
    #[error("unexpected answer from Keycloak: {0}")]
    Protocol(String),
}

fn code_inline(code: &Option<String>) -> String {
    code.as_ref()
        .map(|c| format!(", error {c}"))
        .unwrap_or_default()
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref()
        .map(|c| format!(" (error {c})"))
        .unwrap_or_default()
}

fn retry_suffix(after: &Option<Duration>) -> String {
    after
        .map(|d| format!("; it asked to retry after {}s", d.as_secs()))
        .unwrap_or_default()
}

impl KeycloakError {
    /// The reason of this failure, for conditions, Events and exit codes.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Unreachable(_) | Self::Server { .. } | Self::Throttled { .. } => {
                Reason::KeycloakUnavailable
            }
            // Something changed under the operator (a concurrent create, a client deleted
            // between two calls): the next attempt sees the new state.
            Self::Conflict | Self::NotFound => Reason::KeycloakConflict,
            Self::CredentialsRejected { .. } => Reason::CredentialsRejected,
            Self::Forbidden { .. } | Self::MayNotManage => Reason::KeycloakForbidden,
            Self::RealmNotFound(_) => Reason::RealmNotFound,
            Self::ScopeNotFound(_) => Reason::ScopeNotFound,
            Self::Rejected { .. } | Self::Redirected { .. } => Reason::KeycloakRejected,
            Self::PolicyRefused { .. } => Reason::ClientPolicyConflict,
            Self::Protocol(_) => Reason::KeycloakProtocolError,
            Self::InvalidCaBundle(_) => Reason::InvalidSpec,
        }
    }

    /// The delay Keycloak asked for before the next attempt, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Longest local error text kept.
const MAX_DETAIL: usize = 200;

/// Shortens a local message to a bounded, single-line text.
pub(crate) fn tidy(message: &str) -> String {
    let line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim();
    if line.chars().count() > MAX_DETAIL {
        let cut: String = line.chars().take(MAX_DETAIL).collect();
        format!("{cut}…")
    } else if line.is_empty() {
        "(no detail)".to_string()
    } else {
        line.to_string()
    }
}

/// Keycloak's error code from a body (`{"error": "invalid_grant", ...}`), only when it is a
/// plain identifier: free text (`error_description`, `errorMessage`) is never kept.
pub(crate) fn error_code(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Option<String>,
    }
    let code = serde_json::from_str::<Body>(body).ok()?.error?;
    let plain = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    plain.then_some(code)
}

/// Whether a 400 body is `pkce-enforcer`'s refusal of a client without S256 (checked, never
/// repeated).
fn refuses_pkce(body: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Body {
        error_description: Option<String>,
    }
    serde_json::from_str::<Body>(body).is_ok_and(|b| {
        b.error_description.as_deref() == Some("Invalid client metadata: code_challenge_method")
    })
}

/// Whether a 404 body says the realm is missing (checked, never repeated).
pub(crate) fn mentions_realm(body: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Option<String>,
        #[serde(rename = "errorMessage")]
        error_message: Option<String>,
    }
    serde_json::from_str::<Body>(body).is_ok_and(|b| {
        [b.error, b.error_message]
            .into_iter()
            .flatten()
            .any(|m| m.to_ascii_lowercase().contains("realm"))
    })
}

/// `Retry-After` in seconds (HTTP dates are not honoured), capped at five minutes.
pub(crate) fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    let secs: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(300)))
}

/// Maps an HTTP status of an admin call (after the token was obtained) to an error; `realm`
/// names the realm in [`KeycloakError::RealmNotFound`].
pub(crate) fn from_status(
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
    realm: &str,
) -> KeycloakError {
    let code = error_code(body);
    match status {
        300..=399 => KeycloakError::Redirected { status },
        401 | 403 => KeycloakError::Forbidden { status },
        404 if mentions_realm(body) => KeycloakError::RealmNotFound(realm.to_string()),
        404 => KeycloakError::NotFound,
        409 => KeycloakError::Conflict,
        400 if matches!(
            code.as_deref(),
            Some("invalid_client_metadata" | "invalid_registration")
        ) =>
        {
            KeycloakError::PolicyRefused {
                code: code.unwrap_or_default(),
                pkce: refuses_pkce(body),
            }
        }
        429 => KeycloakError::Throttled {
            status,
            retry_after,
        },
        503 if retry_after.is_some() => KeycloakError::Throttled {
            status,
            retry_after,
        },
        500..=599 => KeycloakError::Server { status, code },
        _ => KeycloakError::Rejected { status, code },
    }
}

/// Maps a transport error of reqwest, with its source chain (local text, bounded).
pub(crate) fn from_reqwest(err: &reqwest::Error) -> KeycloakError {
    if err.is_decode() {
        return KeycloakError::Protocol("a response body is not valid JSON".into());
    }
    let mut text = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    if text.contains("invalid peer certificate") {
        // What to do first: the detail may be cut at its bound.
        text = format!(
            "its certificate is not trusted (put the PEM of the authority that signed it in caBundle): {text}"
        );
    }
    KeycloakError::Unreachable(tidy(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_error_codes_are_kept_from_a_body() {
        assert_eq!(
            error_code(
                r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#
            ),
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
}
