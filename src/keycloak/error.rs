//! Errors of the Keycloak Admin API layer, in the operator's own words.
//!
//! A remote body is never carried: an error holds the HTTP status, Keycloak's error *code* when
//! it is a plain identifier (`invalid_grant`, `unknown_error`), and nothing else from the
//! response. So no text chosen by whatever answers at `keycloak.url` reaches a status, an Event
//! or a log line, and no credential can travel through an error.

use std::time::Duration;

use super::token::ADMIN_API_SCOPE;
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
    /// An admin call refused a token Keycloak had just issued (401 after one renewal): from
    /// 26.8.2 on, most likely a token without the client scope `kc-admin-api`, which puts the
    /// Admin API in its audience (`admin_api_scope`: whether the token names it).
    #[error(
        "Keycloak refused the admin token it had just issued (HTTP 401){}",
        token_hint(*.admin_api_scope, *.password_grant, .admin_realm)
    )]
    TokenRefused {
        admin_api_scope: Option<bool>,
        /// The token came from the password grant (client `admin-cli`), else from the
        /// credentials' own client.
        password_grant: bool,
        admin_realm: String,
    },
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

/// What to do about [`KeycloakError::TokenRefused`]. The credentials' client is not named: its
/// id comes from a Secret.
fn token_hint(admin_api_scope: Option<bool>, password_grant: bool, realm: &str) -> String {
    if admin_api_scope == Some(true) {
        return format!(
            ": it has the client scope {ADMIN_API_SCOPE}, so its audience or issuer does not match the URL the operator calls (Keycloak's hostname settings, or the admin realm {realm:?})"
        );
    }
    let client = if password_grant {
        "client admin-cli"
    } else {
        "the client of the credentials Secret"
    };
    format!(
        ": from Keycloak 26.8.2 on, the Admin API takes only tokens with the client scope {ADMIN_API_SCOPE}, which this one lacks; add {ADMIN_API_SCOPE} to the default client scopes of {client} in realm {realm:?} (Keycloak gives it to admin-cli and the admin console alone)"
    )
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
            Self::Forbidden { .. } | Self::TokenRefused { .. } | Self::MayNotManage => {
                Reason::KeycloakForbidden
            }
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
mod tests;
