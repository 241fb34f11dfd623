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
pub mod token;

use std::{
    fmt,
    hash::{DefaultHasher, Hash, Hasher},
    time::Duration,
};

use keycloak::types::{ClientRepresentation, CredentialRepresentation};
use reqwest::Method;
use serde::{Serialize, de::DeserializeOwned};

pub use error::KeycloakError;
pub use pool::Pool;
pub use token::{Credentials, TokenCache};

use crate::urls::{encode_segment, realm_url};
use error::from_status;
use http::{Answer, Transport};

/// Timeout of one HTTP request to Keycloak.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What identifies a connection to Keycloak.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionKey {
    /// Base URL (opaque; may end in `/auth`).
    pub base_url: String,
    /// Realm the credentials authenticate against.
    pub admin_realm: String,
    /// Where the credentials come from (a Secret's `namespace/name`).
    pub credentials_source: String,
}

/// Everything needed to open a [`Session`].
#[derive(Clone, Debug)]
pub struct ConnectionSpec {
    /// Identity of the connection.
    pub key: ConnectionKey,
    /// Admin credentials.
    pub credentials: Credentials,
    /// Extra PEM roots.
    pub ca_bundle: Option<String>,
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
}

impl ObservedClient {
    /// Splits the secret off a representation.
    pub fn new(mut rep: ClientRepresentation) -> Self {
        let secret = rep.secret.take().filter(|s| !s.is_empty()).map(SecretValue);
        Self { rep, secret }
    }
}

/// A realm's client scope: id and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// Internal id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// One authenticated connection to Keycloak's Admin API.
pub struct Session {
    transport: Transport,
    base_url: String,
    tokens: TokenCache,
}

impl Session {
    /// Opens a session on `transport` (no request is made until the first call).
    pub(crate) fn open(spec: &ConnectionSpec, transport: Transport) -> Self {
        let base_url = spec.key.base_url.trim_end_matches('/').to_string();
        let tokens = TokenCache::new(
            transport.clone(),
            &base_url,
            &spec.key.admin_realm,
            spec.credentials.clone(),
        );
        Self {
            transport,
            base_url,
            tokens,
        }
    }

    /// One Admin API call with a valid token; on 401 renews the token once and retries.
    async fn call(
        &self,
        method: Method,
        route: &'static str,
        realm: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<Answer, KeycloakError> {
        let url = format!("{}/admin{}{path}", self.base_url, realm_path(realm));
        let mut renewed = false;
        loop {
            let token = self.tokens.get().await?;
            let answer = self
                .transport
                .send(method.clone(), route, &url, |r| {
                    let r = r.bearer_auth(token).query(query);
                    match body {
                        Some(b) => b.attach(r),
                        None => r,
                    }
                })
                .await?;
            match answer.status {
                200..=299 => return Ok(answer),
                401 if !renewed => {
                    self.tokens.invalidate().await;
                    renewed = true;
                }
                status => return Err(from_status(status, &answer.body, answer.retry_after, realm)),
            }
        }
    }

    fn parse<T: DeserializeOwned>(answer: &Answer, what: &str) -> Result<T, KeycloakError> {
        serde_json::from_str(&answer.body).map_err(|_| {
            KeycloakError::Protocol(format!("{what} is not what the Admin API promises"))
        })
    }

    /// The client with exactly this `clientId` (`GET /clients?clientId=`): the full
    /// representation with flags, attributes, URIs, default scope names and the secret.
    pub async fn find_client(
        &self,
        realm: &str,
        client_id: &str,
    ) -> Result<Option<ObservedClient>, KeycloakError> {
        let answer = self
            .call(
                Method::GET,
                "/admin/realms/{realm}/clients",
                realm,
                "/clients",
                &[("clientId", client_id)],
                None,
            )
            .await?;
        let list: Vec<ClientRepresentation> = Self::parse(&answer, "the client list")?;
        // `clientId=` is an exact match, but never trust a list to hold only what was asked.
        Ok(list
            .into_iter()
            .find(|c| c.client_id.as_deref() == Some(client_id))
            .map(ObservedClient::new))
    }

    /// The client with this internal id, or `None` when it does not exist.
    pub async fn get_client(
        &self,
        realm: &str,
        uuid: &str,
    ) -> Result<Option<ObservedClient>, KeycloakError> {
        let path = format!("/clients/{}", encode_segment(uuid));
        match self
            .call(
                Method::GET,
                "/admin/realms/{realm}/clients/{id}",
                realm,
                &path,
                &[],
                None,
            )
            .await
        {
            Ok(answer) => Ok(Some(ObservedClient::new(Self::parse(
                &answer,
                "the client",
            )?))),
            Err(KeycloakError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a client and returns its internal id (from the `Location` header).
    pub async fn create_client(
        &self,
        realm: &str,
        client: &ClientRepresentation,
    ) -> Result<String, KeycloakError> {
        let answer = self
            .call(
                Method::POST,
                "/admin/realms/{realm}/clients",
                realm,
                "/clients",
                &[],
                Some(&client),
            )
            .await?;
        answer
            .location
            .as_deref()
            .and_then(|l| l.rsplit('/').next())
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                KeycloakError::Protocol("client created without a Location header".into())
            })
    }

    /// Partially updates a client (Keycloak keeps scalar fields absent from `client`).
    pub async fn update_client(
        &self,
        realm: &str,
        uuid: &str,
        client: &ClientRepresentation,
    ) -> Result<(), KeycloakError> {
        let path = format!("/clients/{}", encode_segment(uuid));
        self.call(
            Method::PUT,
            "/admin/realms/{realm}/clients/{id}",
            realm,
            &path,
            &[],
            Some(&client),
        )
        .await
        .map(drop)
    }

    /// Deletes a client; an id that no longer exists counts as deleted.
    pub async fn delete_client(&self, realm: &str, uuid: &str) -> Result<(), KeycloakError> {
        let path = format!("/clients/{}", encode_segment(uuid));
        match self
            .call(
                Method::DELETE,
                "/admin/realms/{realm}/clients/{id}",
                realm,
                &path,
                &[],
                None,
            )
            .await
        {
            Ok(_) | Err(KeycloakError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Regenerates the client's secret now (the old one stops working) and returns the new one.
    pub async fn regenerate_secret(
        &self,
        realm: &str,
        uuid: &str,
    ) -> Result<SecretValue, KeycloakError> {
        let path = format!("/clients/{}/client-secret", encode_segment(uuid));
        let answer = self
            .call(
                Method::POST,
                "/admin/realms/{realm}/clients/{id}/client-secret",
                realm,
                &path,
                &[],
                None,
            )
            .await?;
        let credential: CredentialRepresentation = Self::parse(&answer, "the new secret")?;
        credential
            .value
            .filter(|v| !v.is_empty())
            .map(SecretValue)
            .ok_or_else(|| KeycloakError::Protocol("the regenerated secret is empty".into()))
    }

    /// The realm's client scopes.
    pub async fn realm_scopes(&self, realm: &str) -> Result<Vec<Scope>, KeycloakError> {
        let answer = self
            .call(
                Method::GET,
                "/admin/realms/{realm}/client-scopes",
                realm,
                "/client-scopes",
                &[],
                None,
            )
            .await?;
        let scopes: Vec<keycloak::types::ClientScopeRepresentation> =
            Self::parse(&answer, "the client scopes")?;
        Ok(scopes
            .into_iter()
            .filter_map(|s| {
                Some(Scope {
                    id: s.id?,
                    name: s.name?,
                })
            })
            .collect())
    }

    /// Adds one default client scope to the client (no-op if it already has it).
    pub async fn add_default_scope(
        &self,
        realm: &str,
        uuid: &str,
        scope_id: &str,
    ) -> Result<(), KeycloakError> {
        let path = format!(
            "/clients/{}/default-client-scopes/{}",
            encode_segment(uuid),
            encode_segment(scope_id)
        );
        self.call(
            Method::PUT,
            "/admin/realms/{realm}/clients/{id}/default-client-scopes/{scope}",
            realm,
            &path,
            &[],
            None,
        )
        .await
        .map(drop)
    }

    /// The realm's issuer URL under this connection's base URL.
    pub fn realm_url(&self, realm: &str) -> String {
        realm_url(&self.base_url, realm)
    }
}

/// `/realms/{realm}`, the realm percent-encoded.
fn realm_path(realm: &str) -> String {
    format!("/realms/{}", encode_segment(realm))
}

/// Request bodies of any serializable type, behind one object-safe trait.
mod erased {
    use super::Serialize;

    /// A JSON body that can attach itself to a request.
    pub trait Body {
        /// Sets the body.
        fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder;
    }

    impl<T: Serialize> Body for T {
        fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
            request.json(self)
        }
    }
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
