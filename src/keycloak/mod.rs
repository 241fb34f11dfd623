//! A client of Keycloak's Admin REST API, and nothing more: HTTP, tokens, sessions, verbs and
//! error mapping. It knows nothing about what the operator wants; [`crate::reconcile`] decides.
//!
//! [`Session`] is one connection (base URL, admin realm, credentials, TLS roots) with a token
//! cache; its verbs are idempotent where Keycloak allows it ("already gone" is success).
//! [`Pool`] hands out one session per connection, replaces it when the credentials change, and
//! limits the requests in flight per Keycloak host.

pub mod error;
mod http;
mod pool;
mod scopes;
mod server;
mod session;
pub mod token;

use std::{
    fmt,
    hash::{DefaultHasher, Hash, Hasher},
    time::Duration,
};

use keycloak::types::ClientRepresentation;

pub use error::KeycloakError;
pub use pool::Pool;
pub use server::untested;
pub use session::Session;
pub use token::{Credentials, TokenCache};

/// Timeout of one HTTP request to Keycloak.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What identifies a connection to Keycloak.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionKey {
    /// Base URL (opaque; may end in `/auth`).
    pub base_url: String,
    /// Realm the credentials authenticate against.
    pub admin_realm: String,
    /// Where the credentials come from: `secret/<namespace>/<name>` for a resource's own,
    /// `connection/<name>` for a ClusterKeycloakConnection's.
    pub credentials_source: String,
}

/// Everything needed to open a [`Session`].
#[derive(Clone, Debug)]
pub struct ConnectionSpec {
    pub key: ConnectionKey,
    pub credentials: Credentials,
    pub ca_bundle: Option<String>,
}

impl ConnectionKey {
    /// The credentials source of a resource's own Secret. Three segments: never equal to a
    /// connection's two (a namespace may be called `connection`).
    pub fn secret_source(namespace: &str, name: &str) -> String {
        format!("secret/{namespace}/{name}")
    }

    /// The credentials source of a ClusterKeycloakConnection.
    pub fn connection_source(name: &str) -> String {
        format!("connection/{name}")
    }

    /// The ClusterKeycloakConnection a credentials source is of, if it is one's.
    pub fn connection_of(source: &str) -> Option<&str> {
        source.strip_prefix("connection/")
    }
}

impl ConnectionSpec {
    /// Changes to credentials or CA roots produce a new fingerprint, and so a new session.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.credentials.hash(&mut hasher);
        self.ca_bundle.hash(&mut hasher);
        hasher.finish()
    }

    /// `host:port` of the base URL: requests in flight are limited per host.
    pub(crate) fn host(&self) -> String {
        url::Url::parse(&self.key.base_url)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .unwrap_or_else(|| self.key.base_url.clone())
    }
}

/// A secret value (a client secret). Neither `Debug` nor `Display` show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that writes it (the output Secret).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A client as Keycloak reports it, with its secret taken out of the representation.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedClient {
    /// The representation, `secret` removed.
    pub rep: ClientRepresentation,
    /// The client secret (confidential clients, when the caller may manage the client).
    pub secret: Option<SecretValue>,
    /// Whether the caller may manage the client (Keycloak's `access.manage`; absent: yes).
    pub may_manage: bool,
}

impl ObservedClient {
    /// Splits the secret off a representation. A masked secret (`**********`, what Keycloak
    /// 26.8 and later show an account that may view but not manage clients) is no secret.
    pub fn new(mut rep: ClientRepresentation) -> Self {
        let secret = rep
            .secret
            .take()
            .filter(|s| !s.is_empty() && !s.chars().all(|c| c == '*'))
            .map(SecretValue);
        let may_manage = rep
            .access
            .as_ref()
            .and_then(|a| a.get("manage"))
            .copied()
            .unwrap_or(true);
        Self {
            rep,
            secret,
            may_manage,
        }
    }
}

/// A realm's client scope: id and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub id: String,
    pub name: String,
}

/// A `reqwest` client for Keycloak: TLS with the process's provider and `ca_bundle` added to
/// the system roots, timeouts, and **no redirects**.
pub(crate) fn http_client(ca_bundle: Option<&str>) -> Result<reqwest::Client, KeycloakError> {
    crate::tls::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "openmetadata-keycloak-operator/",
            env!("CARGO_PKG_VERSION")
        ));
    if let Some(pem) = ca_bundle {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| KeycloakError::InvalidCaBundle(error::tidy(&e.to_string())))?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| {
        KeycloakError::Unreachable(format!("HTTP client: {}", error::tidy(&e.to_string())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observed_client_shows_that_it_has_a_secret_never_the_secret() {
        let observed = ObservedClient::new(ClientRepresentation {
            client_id: Some("openmetadata".into()),
            secret: Some("s3cr3t-value".into()),
            ..Default::default()
        });
        let text = format!("{observed:?}");
        assert!(text.contains("secret: Some(<redacted>)"), "{text}");
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert_eq!(
            observed.rep.secret, None,
            "the secret is taken out of the body"
        );
    }
}
