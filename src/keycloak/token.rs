//! Admin access tokens: one cache per Keycloak connection, renewed shortly before expiry and
//! on demand after a 401, so a reconcile costs no token request while the token lives; a
//! refused login is remembered for a backoff window instead of being retried per resource.

use std::{
    fmt,
    time::{Duration, Instant},
};

use serde::Deserialize;
use tokio::sync::Mutex;

use super::{
    error::{KeycloakError, error_code, from_status},
    http::Transport,
};

/// Admin credentials read from the credentials Secret. `Debug` never shows the secret part.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Credentials {
    /// Password grant through the `admin-cli` client.
    Password { username: String, password: String },
    /// Client-credentials grant of a confidential client with a service account.
    ClientCredentials {
        client_id: String,
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

/// A refusal remembered so that it is not asked again before `until`.
struct Refusal {
    error: KeycloakError,
    until: Instant,
    streak: u32,
}

#[derive(Default)]
struct State {
    token: Option<CachedToken>,
    refusal: Option<Refusal>,
}

/// Obtains and caches admin tokens for one Keycloak, admin realm and set of credentials.
/// A refused login is remembered for a backoff window (30 s doubling to 5 min): the resources
/// that share the connection get the same answer without a token request each.
pub struct TokenCache {
    transport: Transport,
    admin_realm: String,
    token_url: String,
    credentials: Credentials,
    state: Mutex<State>,
}

/// Lifetime assumed when Keycloak does not say (`expires_in` absent).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// First window in which a refused login is not retried.
const REFUSAL_WINDOW: Duration = Duration::from_secs(30);
/// Longest such window.
const MAX_REFUSAL_WINDOW: Duration = Duration::from_secs(300);

/// How long before expiry a token is renewed: a quarter of its lifetime, at most 30 s.
fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(Duration::from_secs(30))
}

/// The window after the `streak`-th consecutive refusal.
fn refusal_window(streak: u32) -> Duration {
    REFUSAL_WINDOW
        .saturating_mul(2u32.saturating_pow(streak.saturating_sub(1).min(8)))
        .min(MAX_REFUSAL_WINDOW)
}

/// Refusals worth remembering: they will not change until the credentials or realm do.
fn is_refusal(error: &KeycloakError) -> bool {
    matches!(
        error,
        KeycloakError::CredentialsRejected { .. } | KeycloakError::RealmNotFound(_)
    )
}

impl TokenCache {
    /// A cache for `credentials` at `{base_url}/realms/{admin_realm}/protocol/openid-connect/token`.
    pub(crate) fn new(
        transport: Transport,
        base_url: &str,
        admin_realm: &str,
        credentials: Credentials,
    ) -> Self {
        Self {
            transport,
            admin_realm: admin_realm.to_string(),
            token_url: format!(
                "{}/protocol/openid-connect/token",
                crate::urls::realm_url(base_url, admin_realm)
            ),
            credentials,
            state: Mutex::default(),
        }
    }

    /// A valid token, from the cache or freshly requested; a remembered refusal while its
    /// window lasts.
    pub async fn get(&self) -> Result<String, KeycloakError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(token) = &state.token
            && now < token.renew_at
        {
            return Ok(token.value.clone());
        }
        if let Some(refusal) = &state.refusal
            && now < refusal.until
        {
            return Err(refusal.error.clone());
        }
        match self.request().await {
            Ok(fresh) => {
                self.transport.metrics.token_request("success");
                let value = fresh.value.clone();
                *state = State {
                    token: Some(fresh),
                    refusal: None,
                };
                Ok(value)
            }
            Err(error) => {
                let refused = is_refusal(&error);
                self.transport
                    .metrics
                    .token_request(if refused { "rejected" } else { "error" });
                if refused {
                    let streak = state.refusal.as_ref().map_or(0, |r| r.streak) + 1;
                    state.refusal = Some(Refusal {
                        error: error.clone(),
                        until: Instant::now() + refusal_window(streak),
                        streak,
                    });
                }
                state.token = None;
                Err(error)
            }
        }
    }

    /// Forgets the cached token (after Keycloak answered 401 to it).
    pub async fn invalidate(&self) {
        self.state.lock().await.token = None;
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
        let answer = self
            .transport
            .send(
                reqwest::Method::POST,
                "/realms/{realm}/protocol/openid-connect/token",
                &self.token_url,
                |r| r.form(&form),
            )
            .await?;
        let code = error_code(&answer.body);
        match answer.status {
            200 => {}
            400 | 401 => {
                return Err(KeycloakError::CredentialsRejected {
                    status: answer.status,
                    code,
                });
            }
            404 => return Err(KeycloakError::RealmNotFound(self.admin_realm.clone())),
            status => {
                return Err(from_status(
                    status,
                    &answer.body,
                    answer.retry_after,
                    &self.admin_realm,
                ));
            }
        }
        // The token itself must never appear in an error: report only the parse failure's kind.
        let parsed: TokenResponse = serde_json::from_str(&answer.body).map_err(|e| {
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
    fn a_refusal_is_remembered_for_a_window_that_doubles_up_to_five_minutes() {
        assert_eq!(refusal_window(1), Duration::from_secs(30));
        assert_eq!(refusal_window(2), Duration::from_secs(60));
        assert_eq!(refusal_window(4), Duration::from_secs(240));
        assert_eq!(refusal_window(9), Duration::from_secs(300));
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
