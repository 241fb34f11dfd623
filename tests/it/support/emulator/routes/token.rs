//! The token endpoint: password, refresh-token and client-credentials grants, as Keycloak
//! answers them. A password grant starts a user session and gives a refresh token for it (idle
//! for 30 min, the realm's default); a refresh keeps the session. Client credentials get no
//! refresh token (Keycloak's default for that grant).

use super::*;
use crate::support::emulator::ADMIN_API_SCOPE;

pub(super) fn token(inner: &mut Inner, method: &Method, realm: &str, raw: &[u8]) -> Reply {
    if *method != Method::POST {
        return reply(405, json!({"error": "method not allowed"}));
    }
    if !inner.realms.contains_key(realm) {
        return reply(404, json!({"error": "Realm does not exist"}));
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(raw).into_owned().collect();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut server_admin = realm == "master";
    let mut session = None;
    let (level, admin_api) = match get("grant_type").as_str() {
        "password" => match inner.users.get(&(realm.to_string(), get("username"))) {
            Some((pw, level)) if *pw == get("password") && get("client_id") == "admin-cli" => {
                server_admin &= get("username") == super::super::ADMIN_USER;
                let level = *level;
                let (id, user) = (inner.next_id("session"), get("username"));
                session = Some(Session {
                    id,
                    user,
                    ended: false,
                });
                (level, has_admin_api_scope(inner, realm, "admin-cli"))
            }
            _ => {
                // 401 on 26.0, 400 on 26.7 (both seen; the versions between are untested).
                let status = if inner.version >= (26, 7, 0) {
                    400
                } else {
                    401
                };
                return reply(
                    status,
                    json!({"error": "invalid_grant", "error_description": "Invalid user credentials"}),
                );
            }
        },
        "client_credentials" => match inner
            .service_clients
            .get(&(realm.to_string(), get("client_id")))
        {
            Some((secret, admin_api)) if *secret == get("client_secret") => {
                (Level::Manage, *admin_api)
            }
            _ => {
                return reply(
                    401,
                    json!({"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"}),
                );
            }
        },
        "refresh_token" => match inner.tokens.get(&get("refresh_token")) {
            // The token is good but its session is gone: what Keycloak 26.7.4 answered to a
            // refresh after the session was deleted through the Admin API.
            Some(Token {
                session: Some(Session { ended: true, .. }),
                ..
            }) => {
                return reply(
                    400,
                    json!({"error": "invalid_grant", "error_description": "Session not active"}),
                );
            }
            Some(t)
                if t.session.is_some()
                    && t.expires > Instant::now()
                    && t.realm == realm
                    && get("client_id") == "admin-cli" =>
            {
                server_admin = t.server_admin;
                session = t.session.clone();
                (t.level, t.admin_api)
            }
            _ => {
                return reply(
                    400,
                    json!({"error": "invalid_grant", "error_description": "Invalid refresh token"}),
                );
            }
        },
        _ => return reply(400, json!({"error": "unsupported_grant_type"})),
    };
    let token = format!("token-{}", inner.next_id("t"));
    let lifetime = inner.token_lifetime;
    inner.tokens.insert(
        token.clone(),
        Token {
            expires: Instant::now() + lifetime,
            level,
            realm: realm.to_string(),
            server_admin,
            admin_api,
            session: None,
        },
    );
    let refresh = session.map(|session| {
        let refresh = format!("refresh-{}", inner.next_id("r"));
        inner.tokens.insert(
            refresh.clone(),
            Token {
                expires: Instant::now() + SESSION_IDLE,
                level,
                realm: realm.to_string(),
                server_admin,
                admin_api,
                session: Some(session),
            },
        );
        refresh
    });
    // The client's default scopes that go into a token's scope: `profile email` for admin-cli
    // and for a new service client alike (seen on 26.6.4 and 26.7.4; the differential test
    // compares them), and the Admin API's where the client has it.
    let mut scope = "profile email".to_string();
    if admin_api {
        scope.push_str(&format!(" {ADMIN_API_SCOPE}"));
    }
    let mut answer = json!({
        "access_token": token,
        "expires_in": lifetime.as_secs(),
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": scope
    });
    if let Some(refresh) = refresh {
        answer["refresh_token"] = json!(refresh);
        answer["refresh_expires_in"] = json!(SESSION_IDLE.as_secs());
    }
    reply(200, answer)
}

/// The user session a refresh token keeps: its id, the user's name, and whether it ended
/// (signed out, or idle or past its maximum).
#[derive(Clone)]
pub(in crate::support::emulator) struct Session {
    pub id: String,
    pub user: String,
    pub ended: bool,
}

/// A realm's SSO Session Idle by default: how long a refresh token lives.
const SESSION_IDLE: std::time::Duration = std::time::Duration::from_secs(1800);

/// Whether a built-in client of the realm has the default client scope [`ADMIN_API_SCOPE`].
fn has_admin_api_scope(inner: &Inner, realm: &str, client_id: &str) -> bool {
    let Some(r) = inner.realms.get(realm) else {
        return false;
    };
    let Some(scope) = r.scopes.iter().find(|s| s.name == ADMIN_API_SCOPE) else {
        return false;
    };
    r.clients
        .values()
        .any(|c| c.client_id == client_id && c.default_scopes.contains(&scope.id))
}
