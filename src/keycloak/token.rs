//! Admin access tokens: one cache per Keycloak connection, renewed shortly before expiry and
//! on demand after a 401, so a reconcile costs no token request while the token lives; a
//! refused login, or a token the Admin API refuses, is remembered for a backoff window instead
//! of being retried per resource. A password grant's renewal uses its refresh token, so the
//! connection keeps one session in Keycloak and the password is not hashed again each minute.

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

/// The client scope that, from Keycloak 26.8.2 on, puts the Admin API in a token's audience:
/// the Admin API refuses a token without it (401). Keycloak gives it to `admin-cli` (and its
/// console) in every realm; any other client must be given it.
pub const ADMIN_API_SCOPE: &str = "kc-admin-api";

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    /// The token's client scopes, space-separated (read leniently: only a hint hangs on it).
    #[serde(default)]
    scope: Option<serde_json::Value>,
    /// Given with a password grant's token (not with client credentials', by Keycloak's
    /// default), for its session's idle time.
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    refresh_expires_in: Option<u64>,
}

/// Whether a token response's `scope` (space-separated names) names [`ADMIN_API_SCOPE`];
/// `None` when it says nothing readable.
fn names_admin_api_scope(scope: Option<&serde_json::Value>) -> Option<bool> {
    let names = scope?.as_str()?;
    Some(names.split_ascii_whitespace().any(|s| s == ADMIN_API_SCOPE))
}

/// An admin access token. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub value: String,
    /// Whether its scopes name [`ADMIN_API_SCOPE`] (`None`: Keycloak did not list them).
    pub admin_api_scope: Option<bool>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("admin_api_scope", &self.admin_api_scope)
            .finish_non_exhaustive()
    }
}

struct CachedToken {
    token: Token,
    renew_at: Instant,
    /// The refresh token that renews it, and until when it is used. Never shown.
    refresh: Option<(String, Instant)>,
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

/// Refusals worth remembering: they will not change until the credentials, the realm or the
/// credentials' client in Keycloak do.
fn is_refusal(error: &KeycloakError) -> bool {
    matches!(
        error,
        KeycloakError::CredentialsRejected { .. }
            | KeycloakError::RealmNotFound(_)
            | KeycloakError::TokenRefused { .. }
    )
}

impl State {
    /// What the cache answers at `now`: the token until its renewal time, else a refusal
    /// until its window ends; `None` when Keycloak must be asked.
    fn cached(&self, now: Instant) -> Option<Result<Token, KeycloakError>> {
        if let Some(cached) = &self.token
            && now < cached.renew_at
        {
            return Some(Ok(cached.token.clone()));
        }
        if let Some(refusal) = &self.refusal
            && now < refusal.until
        {
            return Some(Err(refusal.error.clone()));
        }
        None
    }

    /// The refresh token to renew the token with at `now`, while it lives.
    fn refresh(&self, now: Instant) -> Option<String> {
        let (value, until) = self.token.as_ref()?.refresh.as_ref()?;
        (now < *until).then(|| value.clone())
    }

    /// Keeps Keycloak's answer at `now`: a token (forgetting any refusal), or a refusal
    /// remembered for a window one step longer than the last; other errors are not kept.
    fn record(
        &mut self,
        answer: Result<CachedToken, KeycloakError>,
        now: Instant,
    ) -> Result<Token, KeycloakError> {
        match answer {
            Ok(fresh) => {
                let token = fresh.token.clone();
                *self = State {
                    token: Some(fresh),
                    refusal: None,
                };
                Ok(token)
            }
            Err(error) => Err(self.refuse(error, now)),
        }
    }

    /// Drops the token and, for a refusal, remembers it at `now` for a window one step longer
    /// than the last; gives the error back.
    fn refuse(&mut self, error: KeycloakError, now: Instant) -> KeycloakError {
        self.token = None;
        if is_refusal(&error) {
            let streak = self.refusal.as_ref().map_or(0, |r| r.streak) + 1;
            self.refusal = Some(Refusal {
                error: error.clone(),
                until: now + refusal_window(streak),
                streak,
            });
        }
        error
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
    pub async fn get(&self) -> Result<Token, KeycloakError> {
        let mut state = self.state.lock().await;
        if let Some(cached) = state.cached(Instant::now()) {
            return cached;
        }
        // A refresh token Keycloak no longer takes (its session ended or was signed out) is
        // no failure, and not counted as one (`OmkcTokenFailures` would fire): the credentials
        // sign in again.
        let answer = match state.refresh(Instant::now()) {
            Some(refresh) => match self.grant(Some(&refresh)).await {
                Err(KeycloakError::CredentialsRejected { .. }) => self.request().await,
                answer => self.counted(answer),
            },
            None => self.request().await,
        };
        state.record(answer, Instant::now())
    }

    /// Forgets the cached token (after Keycloak answered 401 to it).
    pub async fn invalidate(&self) {
        self.state.lock().await.token = None;
    }

    /// What an Admin API call's 401 to `token`, just issued, means: it names the client to
    /// give [`ADMIN_API_SCOPE`] (`admin-cli`, or the credentials' own, whose id is not repeated:
    /// it comes from a Secret) and the realm it lives in. Remembered as a refused login is, so
    /// the other resources of the connection get it without asking; as each token Keycloak
    /// grants ends a streak, its window stays the first (30 s).
    pub async fn refused(&self, token: &Token) -> KeycloakError {
        let error = KeycloakError::TokenRefused {
            admin_api_scope: token.admin_api_scope,
            password_grant: matches!(self.credentials, Credentials::Password { .. }),
            admin_realm: self.admin_realm.clone(),
        };
        self.state.lock().await.refuse(error, Instant::now())
    }

    /// One token request with the credentials' grant, counted.
    async fn request(&self) -> Result<CachedToken, KeycloakError> {
        let answer = self.grant(None).await;
        self.counted(answer)
    }

    /// Counts a token request's answer in `omkc_keycloak_token_requests_total`.
    fn counted(
        &self,
        answer: Result<CachedToken, KeycloakError>,
    ) -> Result<CachedToken, KeycloakError> {
        self.transport.metrics.token_request(match &answer {
            Ok(_) => "success",
            Err(e) if is_refusal(e) => "rejected",
            Err(_) => "error",
        });
        answer
    }

    /// The refresh grant with `refresh` (a password grant's), else the credentials' grant.
    async fn grant(&self, refresh: Option<&str>) -> Result<CachedToken, KeycloakError> {
        let form: Vec<(&str, &str)> = match (&self.credentials, refresh) {
            (Credentials::Password { .. }, Some(refresh)) => vec![
                ("grant_type", "refresh_token"),
                ("client_id", "admin-cli"),
                ("refresh_token", refresh),
            ],
            (Credentials::Password { username, password }, None) => vec![
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", username),
                ("password", password),
            ],
            (
                Credentials::ClientCredentials {
                    client_id,
                    client_secret,
                },
                _,
            ) => vec![
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
        Ok(parsed.cached(started))
    }
}

impl TokenResponse {
    /// The token as cached, asked for at `started`: renewed a margin before its end, and its
    /// refresh token (if any, and if it lives) used until a margin before its own.
    fn cached(self, started: Instant) -> CachedToken {
        let lifetime = self
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        let renew_at = |lifetime: Duration| started + lifetime - renewal_margin(lifetime);
        let refresh = match (self.refresh_token, self.refresh_expires_in) {
            (Some(value), Some(secs)) if secs > 0 => {
                Some((value, renew_at(Duration::from_secs(secs))))
            }
            _ => None,
        };
        CachedToken {
            token: Token {
                admin_api_scope: names_admin_api_scope(self.scope.as_ref()),
                value: self.access_token,
            },
            renew_at: renew_at(lifetime),
            refresh,
        }
    }
}

#[cfg(test)]
mod tests;
