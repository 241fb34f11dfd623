//! Errors of the Keycloak Admin API layer, classified for retry and for status reasons.
//!
//! Messages come from Keycloak's error bodies (never from request bodies) and are cut short,
//! so a credential can never travel into a log line, Event or status through them.

/// Something went wrong talking to Keycloak.
#[derive(Debug, thiserror::Error)]
pub enum KeycloakError {
    /// Connection refused, DNS, TLS or timeout.
    #[error("Keycloak is unreachable: {0}")]
    Unreachable(String),
    /// Keycloak answered 5xx.
    #[error("Keycloak failed with HTTP {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Keycloak's message.
        message: String,
    },
    /// 409: a concurrent change; retried.
    #[error("Keycloak reported a conflict: {0}")]
    Conflict(String),
    /// The token endpoint refused the admin credentials.
    #[error("Keycloak refused the admin credentials (HTTP {status}): {message}")]
    CredentialsRejected {
        /// HTTP status.
        status: u16,
        /// Keycloak's message.
        message: String,
    },
    /// An admin call was refused with fresh credentials (401 after one renewal, or 403).
    #[error("the admin account may not do this (HTTP {status}): {message}")]
    Forbidden {
        /// HTTP status.
        status: u16,
        /// Keycloak's message.
        message: String,
    },
    /// The realm does not exist (or the URL does not point at Keycloak's Admin API).
    #[error("realm {0:?} not found in Keycloak")]
    RealmNotFound(String),
    /// A client scope the client needs does not exist in the realm.
    #[error("client scope {0:?} does not exist in the realm")]
    ScopeNotFound(String),
    /// Any other refusal (4xx) of a request.
    #[error("Keycloak rejected the request (HTTP {status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Keycloak's message.
        message: String,
    },
    /// `spec.keycloak.caBundle` holds no usable PEM certificate.
    #[error("spec.keycloak.caBundle cannot be read: {0}")]
    InvalidCaBundle(String),
    /// Keycloak's answer was not what its API promises.
    #[error("unexpected answer from Keycloak: {0}")]
    Protocol(String),
}

impl KeycloakError {
    /// True when trying again later may succeed without any change by the user.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_) | Self::Server { .. } | Self::Conflict(_) | Self::Protocol(_)
        )
    }

    /// A bounded, CamelCase reason for conditions, Events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unreachable(_) | Self::Server { .. } => "KeycloakUnavailable",
            Self::Conflict(_) => "KeycloakConflict",
            Self::CredentialsRejected { .. } => "CredentialsRejected",
            Self::Forbidden { .. } => "KeycloakForbidden",
            Self::RealmNotFound(_) => "RealmNotFound",
            Self::ScopeNotFound(_) => "ScopeNotFound",
            Self::Rejected { .. } => "KeycloakRejected",
            Self::Protocol(_) => "KeycloakProtocolError",
            Self::InvalidCaBundle(_) => "InvalidSpec",
        }
    }
}

/// Longest Keycloak message kept in an error.
const MAX_MESSAGE: usize = 200;

/// Shortens a message from Keycloak to a bounded, single-line text.
pub(crate) fn tidy(message: &str) -> String {
    let line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim();
    if line.chars().count() > MAX_MESSAGE {
        let cut: String = line.chars().take(MAX_MESSAGE).collect();
        format!("{cut}…")
    } else if line.is_empty() {
        "(no message)".to_string()
    } else {
        line.to_string()
    }
}

/// Keycloak's error bodies: `{"errorMessage"}` or `{"error", "error_description"}`.
#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(rename = "errorMessage")]
    error_message: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Message of a Keycloak error body in any of its three shapes.
pub(crate) fn body_message(text: &str) -> String {
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(ErrorBody {
            error_message: Some(m),
            ..
        }) => tidy(&m),
        Ok(ErrorBody {
            error: Some(e),
            error_description: Some(d),
            ..
        }) => tidy(&format!("{e}: {d}")),
        Ok(ErrorBody { error: Some(e), .. }) => tidy(&e),
        _ => tidy(text),
    }
}

/// Maps a transport error of reqwest without its source chain (which can be long).
pub(crate) fn from_reqwest(err: &reqwest::Error) -> KeycloakError {
    if err.is_decode() {
        return KeycloakError::Protocol(tidy(&err.to_string()));
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    KeycloakError::Unreachable(tidy(&text))
}

/// Maps an error of an Admin API call (after the token was obtained) for `realm`.
pub(crate) fn from_admin(err: keycloak::KeycloakError, realm: &str) -> KeycloakError {
    match err {
        keycloak::KeycloakError::ReqwestFailure(e) => from_reqwest(&e),
        keycloak::KeycloakError::HttpFailure { status, text, .. } => {
            let message = body_message(&text);
            match status {
                401 | 403 => KeycloakError::Forbidden { status, message },
                404 if message.to_ascii_lowercase().contains("realm") => {
                    KeycloakError::RealmNotFound(realm.to_string())
                }
                409 => KeycloakError::Conflict(message),
                500..=599 => KeycloakError::Server { status, message },
                _ => KeycloakError::Rejected { status, message },
            }
        }
    }
}
