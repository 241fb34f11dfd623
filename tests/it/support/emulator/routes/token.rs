//! The token endpoint: password and client-credentials grants, as Keycloak answers them.

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
    let (level, admin_api) = match get("grant_type").as_str() {
        "password" => match inner.users.get(&(realm.to_string(), get("username"))) {
            Some((pw, level)) if *pw == get("password") && get("client_id") == "admin-cli" => {
                server_admin &= get("username") == super::super::ADMIN_USER;
                (*level, has_admin_api_scope(inner, realm, "admin-cli"))
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
        },
    );
    // The client's default scopes that go into a token's scope: `profile email` for admin-cli
    // and for a new service client alike (seen on 26.6.4 and 26.7.4; the differential test
    // compares them), and the Admin API's where the client has it.
    let mut scope = "profile email".to_string();
    if admin_api {
        scope.push_str(&format!(" {ADMIN_API_SCOPE}"));
    }
    reply(
        200,
        json!({
            "access_token": token,
            "expires_in": lifetime.as_secs(),
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": scope
        }),
    )
}

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
