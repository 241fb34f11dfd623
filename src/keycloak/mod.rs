//! A client of Keycloak's Admin REST API, and nothing more: HTTP, tokens, sessions, verbs and
//! error mapping. It knows nothing about what the operator wants; [`crate::reconcile`] decides.
//!
//! [`Session`] is one connection (base URL, admin realm, credentials, TLS roots) with a token
//! cache and a concurrency limit; its verbs are idempotent where Keycloak allows it ("already
//! gone" is success). [`Pool`] hands out one session per connection and replaces it when the
//! credentials change.

pub mod error;
mod pool;
pub mod token;

use std::{
    future::Future,
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
    time::Duration,
};

use keycloak::{
    KeycloakAdmin,
    types::{ClientRepresentation, ClientScopeRepresentation},
};
use tokio::sync::Semaphore;

pub use error::KeycloakError;
pub use pool::Pool;
pub use token::{Credentials, SharedToken, TokenCache};

use error::from_admin;

/// Admin API calls in flight at once against one Keycloak connection.
const MAX_CONCURRENT_CALLS: usize = 4;
/// Timeout of one HTTP request to Keycloak.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What identifies a connection to Keycloak.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionKey {
    /// Base URL (opaque; may end in `/auth`).
    pub base_url: String,
    /// Realm the credentials authenticate against.
    pub admin_realm: String,
    /// Namespace and name of the credentials Secret.
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
}

/// One authenticated connection to Keycloak's Admin API.
pub struct Session {
    admin: KeycloakAdmin<SharedToken>,
    tokens: Arc<TokenCache>,
    limiter: Semaphore,
}

impl Session {
    /// Opens a session (no request is made until the first call).
    pub fn open(spec: &ConnectionSpec) -> Result<Self, KeycloakError> {
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!(
                "openmetadata-keycloak-operator/",
                env!("CARGO_PKG_VERSION")
            ));
        if let Some(pem) = &spec.ca_bundle {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| KeycloakError::InvalidCaBundle(e.to_string()))?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| KeycloakError::Unreachable(format!("HTTP client: {e}")))?;
        let base_url = spec.key.base_url.trim_end_matches('/').to_string();
        let tokens = Arc::new(TokenCache::new(
            http.clone(),
            &base_url,
            &spec.key.admin_realm,
            spec.credentials.clone(),
        ));
        let admin = KeycloakAdmin::new(&base_url, SharedToken(tokens.clone()), http);
        Ok(Self {
            admin,
            tokens,
            limiter: Semaphore::new(MAX_CONCURRENT_CALLS),
        })
    }

    /// Runs one Admin API call with a valid token; on 401 renews the token once and retries.
    async fn call<'a, T, F, Fut>(&'a self, realm: &str, f: F) -> Result<T, KeycloakError>
    where
        F: Fn(&'a KeycloakAdmin<SharedToken>) -> Fut,
        Fut: Future<Output = Result<T, keycloak::KeycloakError>> + 'a,
    {
        let _permit = self
            .limiter
            .acquire()
            .await
            .map_err(|_| KeycloakError::Unreachable("session closed".into()))?;
        // Obtain the token here, so a refused login is reported as such (not as a 401 call).
        self.tokens.get().await?;
        match f(&self.admin).await {
            Err(keycloak::KeycloakError::HttpFailure { status: 401, .. }) => {
                self.tokens.invalidate().await;
                self.tokens.get().await?;
                f(&self.admin).await.map_err(|e| from_admin(e, realm))
            }
            other => other.map_err(|e| from_admin(e, realm)),
        }
    }

    /// The client with exactly this `clientId`, with its `secret` field removed.
    pub async fn find_client(
        &self,
        realm: &str,
        client_id: &str,
    ) -> Result<Option<ClientRepresentation>, KeycloakError> {
        let found = self
            .call(realm, |admin| {
                admin.realm_clients_get(
                    realm,
                    Some(client_id.to_string()),
                    None,
                    None,
                    None,
                    None,
                    None,
                )
            })
            .await?;
        // `clientId=` is an exact match, but never trust a list to hold only what was asked.
        Ok(found
            .into_iter()
            .find(|c| c.client_id.as_deref() == Some(client_id))
            .map(|mut c| {
                c.secret = None;
                c
            }))
    }

    /// Creates a client and returns its internal id (from the `Location` header).
    pub async fn create_client(
        &self,
        realm: &str,
        client: &ClientRepresentation,
    ) -> Result<String, KeycloakError> {
        let response = self
            .call(realm, |admin| {
                admin.realm_clients_post(realm, client.clone())
            })
            .await?;
        response
            .to_id()
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                KeycloakError::Protocol("client created without a Location header".into())
            })
    }

    /// Partially updates a client (Keycloak keeps fields absent from `client`).
    pub async fn update_client(
        &self,
        realm: &str,
        uuid: &str,
        client: &ClientRepresentation,
    ) -> Result<(), KeycloakError> {
        self.call(realm, |admin| {
            admin.realm_clients_with_client_uuid_put(realm, uuid, client.clone())
        })
        .await
        .map(drop)
    }

    /// Deletes a client; an id that no longer exists counts as deleted.
    pub async fn delete_client(&self, realm: &str, uuid: &str) -> Result<(), KeycloakError> {
        match self
            .call(realm, |admin| {
                admin.realm_clients_with_client_uuid_delete(realm, uuid)
            })
            .await
        {
            Ok(_) | Err(KeycloakError::Rejected { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The client's current secret.
    pub async fn client_secret(&self, realm: &str, uuid: &str) -> Result<String, KeycloakError> {
        let credential = self
            .call(realm, |admin| {
                admin.realm_clients_with_client_uuid_client_secret_get(realm, uuid)
            })
            .await?;
        credential
            .value
            .map(|v| v.to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| KeycloakError::Protocol("the client has no secret".into()))
    }

    /// Names of the client's default client scopes.
    pub async fn default_scopes(
        &self,
        realm: &str,
        uuid: &str,
    ) -> Result<Vec<String>, KeycloakError> {
        self.call(realm, |admin| {
            admin.realm_clients_with_client_uuid_default_client_scopes_get(realm, uuid)
        })
        .await
        .map(|scopes| scopes.into_iter().filter_map(|s| s.name).collect())
    }

    /// The realm's client scopes.
    pub async fn realm_scopes(
        &self,
        realm: &str,
    ) -> Result<Vec<ClientScopeRepresentation>, KeycloakError> {
        self.call(realm, |admin| admin.realm_client_scopes_get(realm))
            .await
            .map(|scopes| scopes.into_iter().collect())
    }

    /// Adds one default client scope to the client (no-op if it already has it).
    pub async fn add_default_scope(
        &self,
        realm: &str,
        uuid: &str,
        scope_id: &str,
    ) -> Result<(), KeycloakError> {
        self.call(realm, |admin| {
            admin.realm_clients_with_client_uuid_default_client_scopes_with_client_scope_id_put(
                realm, uuid, scope_id,
            )
        })
        .await
        .map(drop)
    }
}
