//! A stateful Keycloak Admin API emulator: a real HTTP server on 127.0.0.1 that behaves as
//! `shared/keycloak/NOTES.md` describes (exact `clientId` lookup, 201 with `Location`, partial
//! PUT with attribute merge, scopes ignored in PUT and replacing realm defaults in POST,
//! unknown fields rejected, authorization without service account failing with 500, 60 s
//! tokens, 401 on expired tokens), with fault injection and a log of every exchange.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};

use super::openapi::OpenApi;

/// One request and its answer, as the emulator saw them.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// HTTP method.
    pub method: String,
    /// Path without the base prefix (`/auth`), without the query.
    pub path: String,
    /// Query string.
    pub query: String,
    /// JSON request body, if any.
    pub body: Option<Value>,
    /// Response status.
    pub status: u16,
    /// JSON response body, if any.
    pub response: Option<Value>,
}

/// A response to serve instead of the real one, once, for the first matching request.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Method to match (`None`: any).
    pub method: Option<&'static str>,
    /// Substring of the path to match.
    pub path_contains: String,
    /// Status to answer.
    pub status: u16,
    /// Body to answer.
    pub body: String,
}

#[derive(Default)]
struct Realm {
    clients: BTreeMap<String, Value>,
    secrets: HashMap<String, String>,
    /// (id, name) of the realm's client scopes.
    scopes: Vec<(String, String)>,
    /// Scope ids every new client gets unless the POST body names its own.
    default_scopes: Vec<String>,
    client_scopes: HashMap<String, Vec<String>>,
}

struct Token {
    expires: Instant,
    forbidden: bool,
}

/// Mutable state of the emulator; tests reach it through [`Emulator`] methods.
pub struct Inner {
    prefix: String,
    realms: BTreeMap<String, Realm>,
    /// (realm, username) → (password, forbidden for admin calls)
    users: HashMap<(String, String), (String, bool)>,
    /// (realm, clientId) → secret, for client-credentials logins.
    service_clients: HashMap<(String, String), String>,
    tokens: HashMap<String, Token>,
    token_lifetime: Duration,
    faults: VecDeque<Fault>,
    log: Vec<Exchange>,
    counter: u64,
}

/// The running emulator.
pub struct Emulator {
    /// Base URL the operator is given (includes `/auth` in legacy mode).
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    server: JoinHandle<()>,
}

/// Admin user the emulator knows in `master`.
pub const ADMIN_USER: &str = "admin";
/// Its password.
pub const ADMIN_PASSWORD: &str = "admin-password-never-logged";

const REALM_SCOPES: [&str; 7] = [
    "acr",
    "basic",
    "email",
    "profile",
    "roles",
    "web-origins",
    "offline_access",
];
const REALM_DEFAULTS: [&str; 6] = ["acr", "basic", "email", "profile", "roles", "web-origins"];

impl Emulator {
    /// Starts an emulator at `http://127.0.0.1:<port>` with realms `master` and `data-sec`.
    pub async fn start() -> Self {
        Self::start_with_prefix("").await
    }

    /// Starts an emulator whose API lives under `/auth` (Keycloak ≤ 16).
    pub async fn start_legacy() -> Self {
        Self::start_with_prefix("/auth").await
    }

    async fn start_with_prefix(prefix: &str) -> Self {
        let mut inner = Inner {
            prefix: prefix.to_string(),
            realms: BTreeMap::new(),
            users: HashMap::new(),
            service_clients: HashMap::new(),
            tokens: HashMap::new(),
            token_lifetime: Duration::from_secs(60),
            faults: VecDeque::new(),
            log: Vec::new(),
            counter: 0,
        };
        inner.add_realm("master");
        inner.add_realm("data-sec");
        inner.users.insert(
            ("master".into(), ADMIN_USER.into()),
            (ADMIN_PASSWORD.into(), false),
        );
        let inner = Arc::new(Mutex::new(inner));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("emulator serves");
        });
        Self {
            base_url: format!("http://{addr}{prefix}"),
            inner,
            server,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a realm with Keycloak's usual client scopes.
    pub fn add_realm(&self, name: &str) {
        self.lock().add_realm(name);
    }

    /// Removes a client scope from a realm (to provoke `ScopeNotFound`).
    pub fn remove_realm_scope(&self, realm: &str, name: &str) {
        let mut inner = self.lock();
        let r = inner.realms.get_mut(realm).expect("realm exists");
        r.scopes.retain(|(_, n)| n != name);
    }

    /// Adds an admin user in `master` whose token is refused (403) on admin calls.
    pub fn add_unprivileged_user(&self, username: &str, password: &str) {
        self.lock()
            .users
            .insert(("master".into(), username.into()), (password.into(), true));
    }

    /// Changes a user's password (as a rotation would).
    pub fn set_password(&self, username: &str, password: &str) {
        self.lock()
            .users
            .insert(("master".into(), username.into()), (password.into(), false));
    }

    /// Registers a confidential service-account client for client-credentials logins.
    pub fn add_service_client(&self, realm: &str, client_id: &str, secret: &str) {
        self.lock()
            .service_clients
            .insert((realm.into(), client_id.into()), secret.into());
    }

    /// Lifetime of newly issued tokens.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().token_lifetime = lifetime;
    }

    /// Makes every token issued so far invalid (as a restart or revocation would).
    pub fn revoke_all_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// Queues a fault.
    pub fn inject(
        &self,
        method: Option<&'static str>,
        path_contains: &str,
        status: u16,
        body: &str,
    ) {
        self.lock().faults.push_back(Fault {
            method,
            path_contains: path_contains.into(),
            status,
            body: body.into(),
        });
    }

    /// Creates a client directly (as an admin clicking in the console would); returns its id.
    pub fn seed_client(&self, realm: &str, representation: Value) -> String {
        let mut inner = self.lock();
        let (status, headers, _) = inner.create_client(realm, representation);
        assert_eq!(status, 201, "seeding a client");
        let location = headers.expect("Location");
        location.rsplit('/').next().unwrap().to_string()
    }

    /// The stored representation of a client (without secret), by clientId.
    pub fn client(&self, realm: &str, client_id: &str) -> Option<Value> {
        let inner = self.lock();
        inner
            .realms
            .get(realm)?
            .clients
            .values()
            .find(|c| c["clientId"] == client_id)
            .cloned()
    }

    /// Changes a stored client as a person in the console would (drift).
    pub fn edit_client(&self, realm: &str, client_id: &str, edit: impl FnOnce(&mut Value)) {
        let mut inner = self.lock();
        let client = inner
            .realms
            .get_mut(realm)
            .and_then(|r| r.clients.values_mut().find(|c| c["clientId"] == client_id))
            .expect("client exists");
        edit(client);
    }

    /// Deletes a client directly.
    pub fn delete_client_directly(&self, realm: &str, client_id: &str) {
        let mut inner = self.lock();
        let r = inner.realms.get_mut(realm).expect("realm");
        r.clients.retain(|_, c| c["clientId"] != client_id);
    }

    /// The secret of a client, by clientId.
    pub fn secret_of(&self, realm: &str, client_id: &str) -> Option<String> {
        let inner = self.lock();
        let r = inner.realms.get(realm)?;
        let (id, _) = r.clients.iter().find(|(_, c)| c["clientId"] == client_id)?;
        r.secrets.get(id).cloned()
    }

    /// Names of a client's default scopes.
    pub fn default_scope_names(&self, realm: &str, client_id: &str) -> Vec<String> {
        let inner = self.lock();
        let r = inner.realms.get(realm).expect("realm");
        let (id, _) = r
            .clients
            .iter()
            .find(|(_, c)| c["clientId"] == client_id)
            .expect("client");
        let mut names: Vec<String> = r.client_scopes[id]
            .iter()
            .filter_map(|sid| {
                r.scopes
                    .iter()
                    .find(|(i, _)| i == sid)
                    .map(|(_, n)| n.clone())
            })
            .collect();
        names.sort();
        names
    }

    /// Removes a default scope from a client directly (drift).
    pub fn remove_client_default_scope(&self, realm: &str, client_id: &str, scope: &str) {
        let mut inner = self.lock();
        let r = inner.realms.get_mut(realm).expect("realm");
        let id = r
            .clients
            .iter()
            .find(|(_, c)| c["clientId"] == client_id)
            .map(|(id, _)| id.clone())
            .expect("client");
        let scope_id = r
            .scopes
            .iter()
            .find(|(_, n)| n == scope)
            .map(|(i, _)| i.clone())
            .expect("scope");
        r.client_scopes
            .get_mut(&id)
            .expect("scopes")
            .retain(|s| *s != scope_id);
    }

    /// Every exchange so far.
    pub fn log(&self) -> Vec<Exchange> {
        self.lock().log.clone()
    }

    /// Forgets the log.
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// Exchanges other than token requests, as `METHOD path` lines.
    pub fn admin_calls(&self) -> Vec<String> {
        self.lock()
            .log
            .iter()
            .filter(|e| e.path.starts_with("/admin/"))
            .map(|e| format!("{} {}", e.method, e.path))
            .collect()
    }

    /// Number of token requests so far.
    pub fn token_requests(&self) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|e| e.path.ends_with("/protocol/openid-connect/token"))
            .count()
    }

    /// Stops serving: further connections are refused.
    pub fn stop(&self) {
        self.server.abort();
    }

    /// Validates every logged admin request body and response body against the OpenAPI spec.
    pub fn openapi_violations(&self, spec: &OpenApi) -> Vec<String> {
        let mut violations = Vec::new();
        for e in self.log() {
            if !e.path.starts_with("/admin/") {
                continue;
            }
            let Some((template, op)) = spec.operation(&e.method, &e.path) else {
                violations.push(format!(
                    "{} {}: not in the Admin API spec",
                    e.method, e.path
                ));
                continue;
            };
            if let Some(body) = &e.body {
                match spec.request_schema(op) {
                    Some(schema) => violations.extend(
                        spec.validate(schema, body)
                            .into_iter()
                            .map(|v| format!("request {} {template}: {v}", e.method)),
                    ),
                    None => violations.push(format!(
                        "{} {template}: body sent where none is specified",
                        e.method
                    )),
                }
            }
            if (200..300).contains(&e.status) {
                if !spec.documents_status(op, e.status) {
                    violations.push(format!(
                        "{} {template}: status {} not documented",
                        e.method, e.status
                    ));
                }
                if let (Some(resp), Some(schema)) =
                    (&e.response, spec.response_schema(op, e.status))
                {
                    violations.extend(
                        spec.validate(schema, resp)
                            .into_iter()
                            .map(|v| format!("response {} {template}: {v}", e.method)),
                    );
                }
            }
        }
        violations
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Inner {
    fn next_id(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!(
            "{kind}-{:08x}-0000-4000-8000-{:012x}",
            self.counter, self.counter
        )
    }

    fn add_realm(&mut self, name: &str) {
        let mut realm = Realm::default();
        for scope in REALM_SCOPES {
            let id = self.next_id("scope");
            realm.scopes.push((id.clone(), scope.to_string()));
            if REALM_DEFAULTS.contains(&scope) {
                realm.default_scopes.push(id);
            }
        }
        self.realms.insert(name.to_string(), realm);
    }

    fn create_client(&mut self, realm: &str, mut body: Value) -> (u16, Option<String>, Value) {
        let id = self.next_id("client");
        let secret = format!("generated-secret-{}", self.next_id("s"));
        let prefix = self.prefix.clone();
        let Some(r) = self.realms.get_mut(realm) else {
            return (404, None, json!({"error": "Realm not found."}));
        };
        let client_id = body["clientId"].as_str().unwrap_or_default().to_string();
        if r.clients
            .values()
            .any(|c| c["clientId"] == client_id.as_str())
        {
            return (
                409,
                None,
                json!({"errorMessage": format!("Client {client_id} already exists")}),
            );
        }
        if body["authorizationServicesEnabled"] == true && body["serviceAccountsEnabled"] != true {
            return (500, None, json!({"error": "unknown_error"}));
        }
        let scopes = match body.get("defaultClientScopes").and_then(Value::as_array) {
            // POST bodies replace the realm defaults.
            Some(names) => names
                .iter()
                .filter_map(|n| {
                    r.scopes
                        .iter()
                        .find(|(_, s)| n == s.as_str())
                        .map(|(i, _)| i.clone())
                })
                .collect(),
            None => r.default_scopes.clone(),
        };
        let obj = body.as_object_mut().expect("object body");
        obj.remove("defaultClientScopes");
        obj.remove("optionalClientScopes");
        let given_secret = obj
            .remove("secret")
            .and_then(|s| s.as_str().map(str::to_string));
        obj.insert("id".into(), json!(id));
        for (k, v) in [
            ("enabled", json!(true)),
            ("publicClient", json!(false)),
            ("bearerOnly", json!(false)),
            ("standardFlowEnabled", json!(true)),
            ("implicitFlowEnabled", json!(false)),
            ("directAccessGrantsEnabled", json!(true)),
            ("serviceAccountsEnabled", json!(false)),
            ("protocol", json!("openid-connect")),
            ("clientAuthenticatorType", json!("client-secret")),
            ("attributes", json!({})),
            ("redirectUris", json!([])),
            ("webOrigins", json!([])),
        ] {
            obj.entry(k).or_insert(v);
        }
        r.secrets.insert(id.clone(), given_secret.unwrap_or(secret));
        r.client_scopes.insert(id.clone(), scopes);
        r.clients.insert(id.clone(), body);
        let location = format!("http://keycloak{prefix}/admin/realms/{realm}/clients/{id}");
        (201, Some(location), Value::Null)
    }
}

fn reply(status: u16, body: Value) -> (u16, Option<String>, Value) {
    (status, None, body)
}

/// Routes one request.
fn route(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    raw: &[u8],
    body: Option<&Value>,
) -> (u16, Option<String>, Value) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();

    // Token endpoint: /realms/{realm}/protocol/openid-connect/token
    if let ["realms", realm, "protocol", "openid-connect", "token"] = segments.as_slice() {
        if *method != Method::POST {
            return reply(405, json!({"error": "method not allowed"}));
        }
        if !inner.realms.contains_key(*realm) {
            return reply(404, json!({"error": "Realm does not exist"}));
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(raw).into_owned().collect();
        let get = |k: &str| form.get(k).cloned().unwrap_or_default();
        let forbidden = match get("grant_type").as_str() {
            "password" => match inner.users.get(&(realm.to_string(), get("username"))) {
                Some((pw, forbidden))
                    if *pw == get("password") && get("client_id") == "admin-cli" =>
                {
                    *forbidden
                }
                _ => {
                    return reply(
                        401,
                        json!({"error": "invalid_grant", "error_description": "Invalid user credentials"}),
                    );
                }
            },
            "client_credentials" => match inner
                .service_clients
                .get(&(realm.to_string(), get("client_id")))
            {
                Some(secret) if *secret == get("client_secret") => false,
                _ => {
                    return reply(
                        401,
                        json!({"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"}),
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
                forbidden,
            },
        );
        return reply(
            200,
            json!({
                "access_token": token,
                "expires_in": lifetime.as_secs(),
                "refresh_expires_in": 0,
                "token_type": "Bearer",
                "not-before-policy": 0,
                "scope": "profile email"
            }),
        );
    }

    let ["admin", "realms", realm, rest @ ..] = segments.as_slice() else {
        return reply(404, json!({"error": "Not Found"}));
    };
    // Authentication of admin calls.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match inner.tokens.get(bearer) {
        Some(t) if t.expires > Instant::now() && !t.forbidden => {}
        Some(t) if t.expires > Instant::now() => {
            return reply(403, json!({"error": "HTTP 403 Forbidden"}));
        }
        _ => return reply(401, json!({"error": "HTTP 401 Unauthorized"})),
    }
    let realm = realm.to_string();
    if !inner.realms.contains_key(&realm) {
        return reply(404, json!({"error": "Realm not found."}));
    }
    let m = method.as_str();
    match (m, rest) {
        ("GET", ["clients"]) => {
            let wanted: Option<String> = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "clientId")
                .map(|(_, v)| v.into_owned());
            let r = &inner.realms[&realm];
            let list: Vec<Value> = r
                .clients
                .iter()
                .filter(|(_, c)| wanted.as_deref().is_none_or(|w| c["clientId"] == w))
                .map(|(id, c)| full_client(r, id, c))
                .collect();
            reply(200, Value::Array(list))
        }
        ("POST", ["clients"]) => match body {
            Some(b) => inner.create_client(&realm, b.clone()),
            None => reply(400, json!({"error": "invalid body"})),
        },
        ("GET", ["clients", id]) => {
            let r = &inner.realms[&realm];
            match r.clients.get(*id) {
                Some(c) => reply(200, full_client(r, id, c)),
                None => reply(404, json!({"error": "Could not find client"})),
            }
        }
        ("PUT", ["clients", id]) => {
            let r = inner.realms.get_mut(&realm).expect("realm");
            let Some(stored) = r.clients.get(*id).cloned() else {
                return reply(404, json!({"error": "Could not find client"}));
            };
            let Some(Value::Object(patch)) = body else {
                return reply(400, json!({"error": "invalid body"}));
            };
            let mut updated = stored;
            let obj = updated.as_object_mut().expect("object");
            for (k, v) in patch {
                match (k.as_str(), v) {
                    (_, Value::Null) => {}
                    // Ignored in PUT bodies (keycloak#24920).
                    ("defaultClientScopes" | "optionalClientScopes" | "id", _) => {}
                    ("secret", Value::String(s)) => {
                        r.secrets.insert(id.to_string(), s.clone());
                    }
                    ("attributes", Value::Object(attrs)) => {
                        let target = obj.entry("attributes").or_insert(json!({}));
                        for (ak, av) in attrs {
                            target[ak] = av.clone();
                        }
                    }
                    _ => {
                        obj.insert(k.clone(), v.clone());
                    }
                }
            }
            if updated["authorizationServicesEnabled"] == true
                && updated["serviceAccountsEnabled"] != true
            {
                return reply(500, json!({"error": "unknown_error"}));
            }
            r.clients.insert(id.to_string(), updated);
            reply(204, Value::Null)
        }
        ("DELETE", ["clients", id]) => {
            let r = inner.realms.get_mut(&realm).expect("realm");
            match r.clients.remove(*id) {
                Some(_) => {
                    r.secrets.remove(*id);
                    r.client_scopes.remove(*id);
                    reply(204, Value::Null)
                }
                None => reply(404, json!({"error": "Could not find client"})),
            }
        }
        ("GET", ["clients", id, "client-secret"]) => {
            let r = &inner.realms[&realm];
            match r.secrets.get(*id) {
                Some(s) => reply(200, json!({"type": "secret", "value": s})),
                None => reply(404, json!({"error": "Could not find client"})),
            }
        }
        ("POST", ["clients", id, "client-secret"]) => {
            let fresh = format!("regenerated-{}", inner.next_id("s"));
            let r = inner.realms.get_mut(&realm).expect("realm");
            if !r.clients.contains_key(*id) {
                return reply(404, json!({"error": "Could not find client"}));
            }
            r.secrets.insert(id.to_string(), fresh.clone());
            reply(200, json!({"type": "secret", "value": fresh}))
        }
        ("GET", ["clients", id, "default-client-scopes"]) => {
            let r = &inner.realms[&realm];
            match r.client_scopes.get(*id) {
                Some(ids) => reply(
                    200,
                    Value::Array(
                        ids.iter()
                            .filter_map(|sid| {
                                r.scopes
                                    .iter()
                                    .find(|(i, _)| i == sid)
                                    .map(|(i, n)| json!({"id": i, "name": n}))
                            })
                            .collect(),
                    ),
                ),
                None => reply(404, json!({"error": "Could not find client"})),
            }
        }
        ("PUT" | "DELETE", ["clients", id, "default-client-scopes", scope_id]) => {
            let r = inner.realms.get_mut(&realm).expect("realm");
            if !r.scopes.iter().any(|(i, _)| i == scope_id) {
                return reply(404, json!({"error": "Client scope not found"}));
            }
            let Some(list) = r.client_scopes.get_mut(*id) else {
                return reply(404, json!({"error": "Could not find client"}));
            };
            if m == "PUT" {
                if !list.iter().any(|s| s == scope_id) {
                    list.push(scope_id.to_string());
                }
            } else {
                list.retain(|s| s != scope_id);
            }
            reply(204, Value::Null)
        }
        ("GET", ["client-scopes"]) => {
            let r = &inner.realms[&realm];
            reply(
                200,
                Value::Array(
                    r.scopes
                        .iter()
                        .map(|(i, n)| json!({"id": i, "name": n, "protocol": "openid-connect"}))
                        .collect(),
                ),
            )
        }
        _ => reply(404, json!({"error": "Not Found"})),
    }
}

/// A stored client as GET returns it: with its secret and its default scopes as names.
fn full_client(r: &Realm, id: &str, stored: &Value) -> Value {
    let mut c = stored.clone();
    if let Some(s) = r.secrets.get(id) {
        c["secret"] = json!(s);
    }
    let names: Vec<&str> = r
        .client_scopes
        .get(id)
        .into_iter()
        .flatten()
        .filter_map(|sid| {
            r.scopes
                .iter()
                .find(|(i, _)| i == sid)
                .map(|(_, n)| n.as_str())
        })
        .collect();
    c["defaultClientScopes"] = json!(names);
    c
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
    let full_path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let Some(path) = full_path
        .strip_prefix(inner.prefix.as_str())
        .map(str::to_string)
    else {
        return (StatusCode::NOT_FOUND, "not under the base path").into_response();
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let body: Option<Value> = if is_json && !raw.is_empty() {
        match serde_json::from_slice(&raw) {
            Ok(v) => Some(v),
            Err(_) => return (StatusCode::BAD_REQUEST, "malformed JSON").into_response(),
        }
    } else {
        None
    };

    let fault = inner.faults.iter().position(|f| {
        f.method.is_none_or(|m| m == method.as_str()) && path.contains(&f.path_contains)
    });
    let (status, location, response) = if let Some(i) = fault {
        let f = inner.faults.remove(i).expect("fault exists");
        (
            f.status,
            None,
            serde_json::from_str(&f.body).unwrap_or(Value::Null),
        )
    } else if let Some(unknown) = body.as_ref().and_then(|b| unknown_field(&path, &method, b)) {
        // Jackson refuses fields the representation does not have.
        reply(
            400,
            json!({"error": "unknown_error", "error_description": format!("Unrecognized field \"{unknown}\"")}),
        )
    } else {
        route(
            &mut inner,
            &method,
            &path,
            &query,
            &headers,
            &raw,
            body.as_ref(),
        )
    };

    inner.log.push(Exchange {
        method: method.to_string(),
        path: path.clone(),
        query,
        body,
        status,
        response: (!response.is_null()).then(|| response.clone()),
    });

    let mut resp = if response.is_null() {
        StatusCode::from_u16(status)
            .expect("valid status")
            .into_response()
    } else {
        (
            StatusCode::from_u16(status).expect("valid status"),
            axum::Json(response),
        )
            .into_response()
    };
    if let Some(loc) = location {
        // Location ends in the new client's id, as Keycloak's does.
        resp.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(&loc).expect("header"),
        );
    }
    resp
}

/// The first top-level field of a client body that ClientRepresentation does not have.
fn unknown_field(path: &str, method: &Method, body: &Value) -> Option<String> {
    let is_client_body = path.contains("/clients")
        && !path.contains("scopes")
        && !path.contains("secret")
        && matches!(*method, Method::POST | Method::PUT);
    if !is_client_body {
        return None;
    }
    static KNOWN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(|| OpenApi::keycloak().property_names("ClientRepresentation"));
    body.as_object()?
        .keys()
        .find(|k| !known.contains(k))
        .cloned()
}
