//! Routing of the emulator: the token endpoint, the discovery document and the Admin API
//! endpoints the operator uses, each answering from the model in [`super::model`].

use std::{collections::HashMap, time::Instant};

use axum::http::{HeaderMap, Method, header};
use serde_json::{Value, json};

use super::{
    ADMIN_AUDIENCE_SINCE, AdminEvent, Inner, Level, Token,
    model::{ClientModel, Scope, policies::enforce},
    server,
};

/// Status, optional `Location` header, body (`Null`: no body).
pub type Reply = (u16, Option<String>, Value);

fn reply(status: u16, body: Value) -> Reply {
    (status, None, body)
}

fn not_found_client() -> Reply {
    reply(404, json!({"error": "Could not find client"}))
}

/// Routes one request against the model.
pub fn route(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    raw: &[u8],
    body: Option<&Value>,
) -> Reply {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["realms", realm, "protocol", "openid-connect", "token"] => {
            return token(inner, method, realm, raw);
        }
        ["realms", realm, ".well-known", "openid-configuration"] if *method == Method::GET => {
            let Some(model) = inner.realms.get(*realm) else {
                return reply(404, json!({"error": "Realm does not exist"}));
            };
            // Keycloak's frontend URL: the realm's `frontendUrl` attribute first, then the
            // server's hostname (DefaultHostnameProvider / HostnameV2Provider).
            let base = model.frontend_url.as_ref().unwrap_or(&inner.public_base);
            let issuer = format!("{base}/realms/{realm}");
            return reply(
                200,
                json!({
                    "issuer": issuer,
                    "authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth"),
                    "token_endpoint": format!("{issuer}/protocol/openid-connect/token"),
                    "jwks_uri": format!("{issuer}/protocol/openid-connect/certs"),
                }),
            );
        }
        _ => {}
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let access = inner.tokens.get(bearer).filter(|t| t.session.is_none());
    let (level, issuer) = match access {
        // From 26.8.2 on, the Admin API refuses a token whose audience is not the Admin API.
        Some(t)
            if segments.first() == Some(&"admin")
                && inner.version >= ADMIN_AUDIENCE_SINCE
                && !t.admin_api =>
        {
            return reply(401, json!({"error": "HTTP 401 Unauthorized"}));
        }
        Some(t) if t.expires > Instant::now() => {
            let issuer = if t.server_admin {
                server::SERVER
            } else if t.realm == "master" {
                // A user of master holds roles on the data-sec realm's clients (as the
                // tests' real users get them on `data-sec-realm`).
                "data-sec"
            } else {
                t.realm.as_str()
            };
            (t.level, issuer.to_string())
        }
        _ if segments.first() == Some(&"admin") => {
            return reply(401, json!({"error": "HTTP 401 Unauthorized"}));
        }
        _ => return reply(404, json!({"error": "Not Found"})),
    };
    if segments.first() == Some(&"admin") && level == Level::None {
        return forbidden(inner.version);
    }
    if *method == Method::GET {
        match segments.as_slice() {
            ["admin", "realms"] => return server::realms(inner, &issuer),
            ["admin", "serverinfo"] => return server::info(inner, &issuer),
            _ => {}
        }
    }
    let ["admin", "realms", realm, rest @ ..] = segments.as_slice() else {
        return reply(404, json!({"error": "Not Found"}));
    };
    let realm = realm.to_string();
    if !inner.realms.contains_key(&realm) {
        return reply(404, json!({"error": "Realm not found."}));
    }
    let writes = matches!(*method, Method::POST | Method::PUT | Method::DELETE);
    if writes && level != Level::Manage {
        return forbidden(inner.version);
    }
    let result = admin(inner, method.as_str(), &realm, rest, query, body, level);
    if writes && (200..300).contains(&result.0) {
        inner.admin_events.push(AdminEvent {
            realm: realm.clone(),
            operation: match (method.as_str(), rest) {
                ("POST", ["clients"]) => "CREATE",
                ("POST", _) => "ACTION",
                ("PUT", [_, _, "default-client-scopes" | "optional-client-scopes", _]) => "CREATE",
                ("PUT", _) => "UPDATE",
                _ => "DELETE",
            },
            resource_path: rest.join("/"),
        });
    }
    result
}

fn admin(
    inner: &mut Inner,
    method: &str,
    realm: &str,
    rest: &[&str],
    query: &str,
    body: Option<&Value>,
    level: Level,
) -> Reply {
    let now = inner.now();
    match (method, rest) {
        ("GET", ["clients"]) => {
            let wanted: Option<String> = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "clientId")
                .map(|(_, v)| v.into_owned());
            let page = |key: &str| {
                url::form_urlencoded::parse(query.as_bytes())
                    .find(|(k, _)| k == key)
                    .and_then(|(_, v)| v.parse::<usize>().ok())
            };
            if level == Level::Query {
                // ClientsResource.getClients filters by canView: a query-only caller gets [],
                // by clientId or not (seen on 26.0 and 26.7): not proof that nothing exists.
                return reply(200, json!([]));
            }
            let version = inner.version;
            let r = &inner.realms[realm];
            let list: Vec<Value> = r
                .clients
                .values()
                .filter(|c| (wanted.as_deref()).is_none_or(|w| r.database.same_id(&c.client_id, w)))
                .skip(page("first").unwrap_or(0))
                .take(page("max").unwrap_or(usize::MAX))
                .map(|c| shown(c, &r.scopes, level, version))
                .collect();
            reply(200, Value::Array(list))
        }
        ("POST", ["clients"]) => {
            let Some(Value::Object(rep)) = body else {
                return reply(400, json!({"error": "invalid body"}));
            };
            let rep = &match admitted(inner, realm, rep) {
                Ok(rep) => rep,
                Err(refusal) => return refusal,
            };
            let id = inner.next_id("client");
            let secret = format!("generated-secret-{}", inner.next_id("s"));
            let prefix = inner.prefix.clone();
            let version = inner.version;
            let r = inner.realms.get_mut(realm).expect("realm");
            let client_id = rep.get("clientId").and_then(Value::as_str).unwrap_or("");
            if (r.clients.values()).any(|c| r.database.same_id(&c.client_id, client_id)) {
                return reply(
                    409,
                    json!({"errorMessage": format!("Client {client_id} already exists")}),
                );
            }
            match ClientModel::create(id.clone(), rep, secret, now, r, version)
                .and_then(|c| c.stored(version).map(|()| c))
            {
                Ok(client) => {
                    r.clients.insert(id.clone(), client);
                    let location =
                        format!("http://keycloak{prefix}/admin/realms/{realm}/clients/{id}");
                    (201, Some(location), Value::Null)
                }
                Err((status, body)) => reply(status, body),
            }
        }
        ("GET", ["clients", id]) => {
            let r = &inner.realms[realm];
            match r.clients.get(*id) {
                Some(_) if level == Level::Query => forbidden(inner.version),
                Some(c) => reply(200, shown(c, &r.scopes, level, inner.version)),
                None => not_found_client(),
            }
        }
        ("PUT", ["clients", id]) => {
            let Some(Value::Object(rep)) = body else {
                return reply(400, json!({"error": "invalid body"}));
            };
            let version = inner.version;
            let rep = &match admitted(inner, realm, rep) {
                Ok(rep) => rep,
                Err(refusal) => return refusal,
            };
            let r = inner.realms.get_mut(realm).expect("realm");
            match r.update_client(id, rep, version) {
                None => not_found_client(),
                Some(Ok(())) => reply(204, Value::Null),
                Some(Err((status, body))) => reply(status, body),
            }
        }
        ("DELETE", ["clients", id]) => {
            let r = inner.realms.get_mut(realm).expect("realm");
            match r.clients.remove(*id) {
                Some(_) => reply(204, Value::Null),
                None => not_found_client(),
            }
        }
        ("GET", ["clients", id, "client-secret"]) => {
            let r = &inner.realms[realm];
            match r.clients.get(*id) {
                Some(c) if level == Level::Manage => {
                    reply(200, json!({"type": "secret", "value": c.secret}))
                }
                Some(_) => forbidden(inner.version),
                None => not_found_client(),
            }
        }
        ("POST", ["clients", id, "client-secret"]) => {
            let fresh = format!("regenerated-{}", inner.next_id("s"));
            let r = inner.realms.get_mut(realm).expect("realm");
            let Some(client) = r.clients.get_mut(*id) else {
                return not_found_client();
            };
            client.regenerate_secret(fresh.clone(), now);
            reply(200, json!({"type": "secret", "value": fresh}))
        }
        ("GET", ["clients", id, "default-client-scopes"]) => {
            let r = &inner.realms[realm];
            match r.clients.get(*id) {
                Some(c) => reply(
                    200,
                    Value::Array(
                        c.seen(&c.default_scopes, &r.scopes)
                            .map(|s| json!({"id": s.id, "name": s.name}))
                            .collect(),
                    ),
                ),
                None => not_found_client(),
            }
        }
        (
            "PUT" | "DELETE",
            [
                "clients",
                id,
                kind @ ("default-client-scopes" | "optional-client-scopes"),
                scope_id,
            ],
        ) => {
            let r = inner.realms.get_mut(realm).expect("realm");
            let Some(scope) = r.scopes.iter().find(|s| s.id == *scope_id) else {
                return reply(404, json!({"error": "Client scope not found"}));
            };
            let Some(client) = r.clients.get_mut(*id) else {
                return not_found_client();
            };
            let default = *kind == "default-client-scopes";
            match (method, default) {
                // Whatever the scope's protocol (seen on 22.0.5 and 26.7.4).
                ("DELETE", true) => client.default_scopes.retain(|s| s != scope_id),
                ("DELETE", false) => client.optional_scopes.retain(|s| s != scope_id),
                // Still 204, still an admin event, when nothing is linked.
                _ => client.link(scope, default),
            }
            reply(204, Value::Null)
        }
        ("GET", ["client-scopes"]) if level == Level::Query => reply(200, json!([])),
        ("GET", ["client-scopes"]) => {
            let r = &inner.realms[realm];
            reply(
                200,
                Value::Array(
                    r.scopes
                        .iter()
                        .map(|s| json!({"id": s.id, "name": s.name, "protocol": s.protocol}))
                        .collect(),
                ),
            )
        }
        _ => reply(404, json!({"error": "Not Found"})),
    }
}

/// A representation sent to create or update a client, as Keycloak takes it before the model:
/// with the server's `authorization` feature off, `ClientResource` and `RepresentationToModel`
/// never look at `authorizationServicesEnabled`; then the realm's client policies run
/// ([`enforce`]). Keycloak's client validation runs on the model (`ClientModel::check_urls`).
fn admitted(
    inner: &Inner,
    realm: &str,
    rep: &serde_json::Map<String, Value>,
) -> Result<serde_json::Map<String, Value>, Reply> {
    let mut rep = rep.clone();
    if !inner.authorization_feature {
        rep.remove("authorizationServicesEnabled");
    }
    enforce(
        &inner.realms[realm].client_policies,
        &mut rep,
        inner.version,
    )
    .map_err(|(status, body)| reply(status, body))?;
    Ok(rep)
}

mod shown;
pub(super) mod token;
use shown::{forbidden, shown};
use token::token;
