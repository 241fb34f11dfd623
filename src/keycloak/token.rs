//! Admin access tokens: one cache per Keycloak connection, renewed shortly before expiry and
//! on demand after a 401, so a reconcile costs no token request while the token lives.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::error::{KeycloakError, body_message, from_reqwest};

/// Admin credentials read from the credentials Secret. `Debug` never shows the secret part.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Credentials {
    /// Password grant through the `admin-cli` client.
    Password {
        /// Admin user name.
        username: String,
        /// Admin password.
        password: String,
    },
    /// Client-credentials grant of a confidential client with a service account.
    ClientCredentials {
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Self::ClientCredentials { client_id, .. } => f
                .debug_struct("ClientCredentials")
                .field("client_id", client_id)
                .field("client_secret", &"<redacted>")
                .finish(),
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

struct CachedToken {
    value: String,
    renew_at: Instant,
}

/// Obtains and caches admin tokens for one Keycloak, admin realm and set of credentials.
pub struct TokenCache {
    http: reqwest::Client,
    admin_realm: String,
    token_url: String,
    credentials: Credentials,
    cached: Mutex<Option<CachedToken>>,
}

/// Lifetime assumed when Keycloak does not say (`expires_in` absent).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

/// How long before expiry a token is renewed: a quarter of its lifetime, at most 30 s.
fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(Duration::from_secs(30))
}

impl TokenCache {
    /// A cache for `credentials` at `{base_url}/realms/{admin_realm}/protocol/openid-connect/token`.
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        admin_realm: &str,
        credentials: Credentials,
    ) -> Self {
        let token_url = format!(
            "{base_url}/realms/{}/protocol/openid-connect/token",
            crate::urls::encode_segment(admin_realm)
        );
        Self {
            http,
            admin_realm: admin_realm.to_string(),
            token_url,
            credentials,
            cached: Mutex::new(None),
        }
    }

    /// A valid token, from the cache or freshly requested.
    pub async fn get(&self) -> Result<String, KeycloakError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let fresh = self.request().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Forgets the cached token (after Keycloak answered 401 to it).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn request(&self) -> Result<CachedToken, KeycloakError> {
        let form: Vec<(&str, &str)> = match &self.credentials {
            Credentials::Password { username, password } => vec![
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", username),
                ("password", password),
            ],
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            } => vec![
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ],
        };
        let started = Instant::now();
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| from_reqwest(&e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| from_reqwest(&e))?;
        match status {
            200 => {}
            400 | 401 => {
                return Err(KeycloakError::CredentialsRejected {
                    status,
                    message: body_message(&text),
                });
            }
            404 => {
                return Err(KeycloakError::RealmNotFound(self.admin_realm.clone()));
            }
            500..=599 => {
                return Err(KeycloakError::Server {
                    status,
                    message: body_message(&text),
                });
            }
            _ => {
                return Err(KeycloakError::Rejected {
                    status,
                    message: body_message(&text),
                });
            }
        }
        // The token itself must never appear in an error: report only the parse failure's kind.
        let parsed: TokenResponse = serde_json::from_str(&text).map_err(|e| {
            KeycloakError::Protocol(format!(
                "token response is not valid JSON ({:?} at column {})",
                e.classify(),
                e.column()
            ))
        })?;
        let lifetime = parsed
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        Ok(CachedToken {
            value: parsed.access_token,
            renew_at: started + lifetime - renewal_margin(lifetime),
        })
    }
}

/// Hands the cached token to the `keycloak` crate's generated calls.
#[derive(Clone)]
pub struct SharedToken(pub Arc<TokenCache>);

#[async_trait]
impl keycloak::KeycloakTokenSupplier for SharedToken {
    async fn get(&self, _url: &str) -> Result<String, keycloak::KeycloakError> {
        self.0
            .get()
            .await
            .map_err(|e| keycloak::KeycloakError::HttpFailure {
                status: 401,
                body: None,
                text: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
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
}
