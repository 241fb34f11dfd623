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

impl State {
    /// What the cache answers at `now`: the token until its renewal time, else a refusal
    /// until its window ends; `None` when Keycloak must be asked.
    fn cached(&self, now: Instant) -> Option<Result<String, KeycloakError>> {
        if let Some(token) = &self.token
            && now < token.renew_at
        {
            return Some(Ok(token.value.clone()));
        }
        if let Some(refusal) = &self.refusal
            && now < refusal.until
        {
            return Some(Err(refusal.error.clone()));
        }
        None
    }

    /// Keeps Keycloak's answer at `now`: a token (forgetting any refusal), or a refusal
    /// remembered for a window one step longer than the last; other errors are not kept.
    fn record(
        &mut self,
        answer: Result<CachedToken, KeycloakError>,
        now: Instant,
    ) -> Result<String, KeycloakError> {
        match answer {
            Ok(fresh) => {
                let value = fresh.value.clone();
                *self = State {
                    token: Some(fresh),
                    refusal: None,
                };
                Ok(value)
            }
            Err(error) => {
                self.token = None;
                if is_refusal(&error) {
                    let streak = self.refusal.as_ref().map_or(0, |r| r.streak) + 1;
                    self.refusal = Some(Refusal {
                        error: error.clone(),
                        until: now + refusal_window(streak),
                        streak,
                    });
                }
                Err(error)
            }
        }
    }
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
        if let Some(cached) = state.cached(Instant::now()) {
            return cached;
        }
        let answer = self.request().await;
        self.transport.metrics.token_request(match &answer {
            Ok(_) => "success",
            Err(e) if is_refusal(e) => "rejected",
            Err(_) => "error",
        });
        state.record(answer, Instant::now())
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

    fn rejected() -> KeycloakError {
        KeycloakError::CredentialsRejected {
            status: 401,
            code: Some("invalid_grant".into()),
        }
    }

    fn token(value: &str, renew_at: Instant) -> CachedToken {
        CachedToken {
            value: value.into(),
            renew_at,
        }
    }

    #[test]
    fn a_token_is_served_until_its_renewal_time_then_asked_again() {
        let t0 = Instant::now();
        let mut state = State::default();
        assert_eq!(state.cached(t0), None);
        let renew_at = t0 + Duration::from_secs(45);
        assert_eq!(state.record(Ok(token("t1", renew_at)), t0), Ok("t1".into()));
        let just_before = renew_at - Duration::from_millis(1);
        assert_eq!(state.cached(just_before), Some(Ok("t1".into())));
        assert_eq!(state.cached(renew_at), None);
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
            assert_eq!(state.cached(just_before), Some(Err(rejected())), "{window}");
            assert_eq!(state.cached(end), None, "asked again after {window} s");
            at = end;
        }
        // Accepted at last: the token is served, and the next refusal starts over at 30 s.
        let renew_at = at + Duration::from_secs(45);
        state.record(Ok(token("t1", renew_at)), at).unwrap();
        assert_eq!(state.cached(at), Some(Ok("t1".into())));
        state.record(Err(rejected()), renew_at).unwrap_err();
        assert_eq!(state.cached(renew_at), Some(Err(rejected())));
        assert_eq!(state.cached(renew_at + Duration::from_secs(30)), None);
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
        assert_eq!(state.cached(t0), None, "asked again at once");
        // A missing admin realm is a refusal too: it will not change by itself.
        let missing = KeycloakError::RealmNotFound("master".into());
        state.record(Err(missing.clone()), t0).unwrap_err();
        assert_eq!(state.cached(t0), Some(Err(missing)));
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
