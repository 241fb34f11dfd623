//! A stateful Keycloak Admin API emulator: a real HTTP server on 127.0.0.1 that behaves as
//! `shared/keycloak/NOTES.md` describes. Every answer is built from its own model
//! ([`model::ClientModel`]) the way Keycloak's `ModelToRepresentation` builds it: null fields
//! omitted, `authorizationServicesEnabled` only with a resource server, Keycloak's own
//! attributes, an `access` object, sets in Keycloak's order, the secret in the list by
//! `clientId` too. PUT has Keycloak's partial semantics, including the authorization and
//! service-account side effects. It never echoes a request body.
//!
//! Also: 60 s tokens and 401 on expired ones, callers who may manage, only view, or nothing,
//! admin events for every successful write, an injectable latency, fault injection (with
//! headers such as `Retry-After` or `Location`), and a log of every exchange.

pub mod model;
mod routes;
mod server;

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};

use super::openapi::OpenApi;
use model::{ClientModel, ResourceServer, Scope};

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

/// An admin event, as Keycloak records one for every successful write.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminEvent {
    /// Realm of the resource.
    pub realm: String,
    /// CREATE, UPDATE, DELETE or ACTION.
    pub operation: &'static str,
    /// Path of the resource under the realm.
    pub resource_path: String,
}

/// A response to serve instead of the real one, for the first matching requests.
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
    /// Headers to answer with.
    pub headers: Vec<(&'static str, String)>,
    /// How many requests it answers.
    pub times: usize,
    /// How many matching requests pass untouched before it answers (0: the next one).
    pub pass: usize,
}

impl Fault {
    /// Answers the first request matching `method` and `path_contains` with `status` and `body`.
    pub fn once(
        method: Option<&'static str>,
        path_contains: &str,
        status: u16,
        body: &str,
    ) -> Self {
        Self {
            method,
            path_contains: path_contains.into(),
            status,
            body: body.into(),
            headers: vec![],
            times: 1,
            pass: 0,
        }
    }
}

/// The fault that answers this request instead of Keycloak, if one is queued for it (the first
/// matching fault lets `pass` requests through, then answers `times` of them).
pub fn take_fault(faults: &mut VecDeque<Fault>, method: &str, path: &str) -> Option<Fault> {
    let i = faults
        .iter()
        .position(|f| f.method.is_none_or(|m| m == method) && path.contains(&f.path_contains))?;
    let f = &mut faults[i];
    if f.pass > 0 {
        f.pass -= 1;
        return None;
    }
    f.times -= 1;
    if f.times == 0 {
        faults.remove(i)
    } else {
        Some(f.clone())
    }
}

/// What a caller's token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `manage-clients`.
    Manage,
    /// `view-clients` only: full representations (the secret masked from 26.8 on), no writes.
    View,
    /// `query-clients` only: every list of clients is empty, a client by id is 403.
    Query,
    /// No admin role: 403.
    None,
}

/// A realm of the model.
#[derive(Default)]
pub struct Realm {
    /// Clients by internal id.
    pub clients: BTreeMap<String, ClientModel>,
    /// Client scopes.
    pub scopes: Vec<Scope>,
    /// Ids of the realm's default client scopes.
    pub default_scopes: Vec<String>,
    /// Ids of the realm's optional client scopes.
    pub optional_scopes: Vec<String>,
}

struct Token {
    expires: Instant,
    level: Level,
    /// The realm that issued it.
    realm: String,
    /// Whether it is an admin of the whole server (the bootstrap admin; a service client of
    /// `master`, which the tests give the `admin` role), rather than of some realms' clients.
    server_admin: bool,
}

/// Mutable state of the emulator; tests reach it through [`Emulator`] methods.
pub struct Inner {
    prefix: String,
    public_base: String,
    realms: BTreeMap<String, Realm>,
    /// (realm, username) → (password, what the user may do)
    users: HashMap<(String, String), (String, Level)>,
    /// (realm, clientId) → secret, for client-credentials logins.
    service_clients: HashMap<(String, String), String>,
    tokens: HashMap<String, Token>,
    token_lifetime: Duration,
    faults: VecDeque<Fault>,
    log: Vec<Exchange>,
    admin_events: Vec<AdminEvent>,
    counter: u64,
    latency: Duration,
    clock_offset: i64,
    /// `major.minor` of the Keycloak modelled: some behaviours changed between versions.
    version: (u32, u32),
    /// Whether the server's `authorization` feature is on (it is by default).
    authorization_feature: bool,
}

/// The newest Keycloak the emulator models by default (the newest of `tests/keycloak/versions`).
pub const NEWEST: (u32, u32) = (26, 7);

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

// A new realm's client scopes in Keycloak 26 (RealmManager / DefaultClientScopes); the SAML ones
// (`role_list`, `saml_organization`) are realm defaults too, but only for SAML clients.
const REALM_SCOPES: [&str; 13] = [
    "acr",
    "basic",
    "email",
    "profile",
    "roles",
    "web-origins",
    "address",
    "phone",
    "offline_access",
    "organization",
    "microprofile-jwt",
    "role_list",
    "saml_organization",
];
// Scopes newer realms have as well: `service_account` (OpenID Connect, given to a client while
// its service account is enabled) and `AuthnContextClassRef` (SAML). Absent on 26.0.8, present on
// 26.7.3 (the differential test sees both); the `service_account` scope came with 26.3.
const REALM_SCOPES_SINCE_26_3: [&str; 2] = ["service_account", "AuthnContextClassRef"];
const REALM_DEFAULTS: [&str; 6] = ["acr", "basic", "email", "profile", "roles", "web-origins"];
const REALM_OPTIONALS: [&str; 5] = [
    "address",
    "phone",
    "offline_access",
    "organization",
    "microprofile-jwt",
];

impl Emulator {
    /// Starts an emulator at `http://127.0.0.1:<port>` with realms `master` and `data-sec`.
    pub async fn start() -> Self {
        Self::start_as(NEWEST, "").await
    }

    /// Starts an emulator whose API lives under `/auth` (Keycloak ≤ 16).
    pub async fn start_legacy() -> Self {
        Self::start_as(NEWEST, "/auth").await
    }

    /// Starts an emulator of Keycloak `version` (`major.minor`) with its API under `prefix`.
    pub async fn start_as(version: (u32, u32), prefix: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let base_url = format!("http://{addr}{prefix}");
        let mut inner = Inner {
            prefix: prefix.to_string(),
            public_base: base_url.clone(),
            realms: BTreeMap::new(),
            users: HashMap::new(),
            service_clients: HashMap::new(),
            tokens: HashMap::new(),
            token_lifetime: Duration::from_secs(60),
            faults: VecDeque::new(),
            log: Vec::new(),
            admin_events: Vec::new(),
            counter: 0,
            latency: Duration::ZERO,
            clock_offset: 0,
            version,
            authorization_feature: true,
        };
        inner.add_realm("master");
        inner.add_realm("data-sec");
        inner.users.insert(
            ("master".into(), ADMIN_USER.into()),
            (ADMIN_PASSWORD.into(), Level::Manage),
        );
        let inner = Arc::new(Mutex::new(inner));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("emulator serves");
        });
        Self {
            base_url,
            inner,
            server,
        }
    }

    /// `major.minor` of the Keycloak modelled.
    pub fn version(&self) -> (u32, u32) {
        self.lock().version
    }

    /// Switches the server's `authorization` feature off (`--features-disabled=authorization`):
    /// `authorizationServicesEnabled` is then ignored and never reported.
    pub fn disable_authorization_feature(&self) {
        self.lock().authorization_feature = false;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_client<T>(
        &self,
        realm: &str,
        client_id: &str,
        f: impl FnOnce(&mut ClientModel) -> T,
    ) -> T {
        let mut inner = self.lock();
        let client = inner
            .realms
            .get_mut(realm)
            .and_then(|r| r.clients.values_mut().find(|c| c.client_id == client_id))
            .unwrap_or_else(|| panic!("client {client_id} exists in {realm}"));
        f(client)
    }

    /// Adds a realm with Keycloak's usual client scopes.
    pub fn add_realm(&self, name: &str) {
        self.lock().add_realm(name);
    }

    /// The issuer's base browsers see (what the discovery document names).
    pub fn set_public_base(&self, base: &str) {
        self.lock().public_base = base.trim_end_matches('/').to_string();
    }

    /// Removes a client scope from a realm (to provoke `ScopeNotFound`).
    pub fn remove_realm_scope(&self, realm: &str, name: &str) {
        let mut inner = self.lock();
        let r = inner.realms.get_mut(realm).expect("realm exists");
        r.scopes.retain(|s| s.name != name);
    }

    /// Removes a scope from the realm's defaults (new clients do not get it).
    pub fn remove_realm_default_scope(&self, realm: &str, name: &str) {
        let mut inner = self.lock();
        let r = inner.realms.get_mut(realm).expect("realm exists");
        let id = r
            .scopes
            .iter()
            .find(|s| s.name == name)
            .expect("scope")
            .id
            .clone();
        r.default_scopes.retain(|s| *s != id);
    }

    /// Adds a user in `master` with what it may do.
    pub fn add_user(&self, username: &str, password: &str, level: Level) {
        self.lock()
            .users
            .insert(("master".into(), username.into()), (password.into(), level));
    }

    /// Adds an admin user in `master` whose token is refused (403) on admin calls.
    pub fn add_unprivileged_user(&self, username: &str, password: &str) {
        self.add_user(username, password, Level::None);
    }

    /// Changes a user's password (as a rotation would).
    pub fn set_password(&self, username: &str, password: &str) {
        self.add_user(username, password, Level::Manage);
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

    /// Delay before every answer, as a remote Keycloak would have.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Moves Keycloak's clock (secret creation times) forward.
    pub fn advance_clock(&self, by: Duration) {
        self.lock().clock_offset += by.as_secs() as i64;
    }

    /// Makes every token issued so far invalid (as a restart or revocation would).
    pub fn revoke_all_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// Queues a fault for the first request matching `method` and `path_contains`.
    pub fn inject(
        &self,
        method: Option<&'static str>,
        path_contains: &str,
        status: u16,
        body: &str,
    ) {
        self.inject_fault(Fault::once(method, path_contains, status, body));
    }

    /// Queues a fault.
    pub fn inject_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Creates a client directly (as an admin clicking in the console would); returns its id.
    pub fn seed_client(&self, realm: &str, representation: Value) -> String {
        let mut inner = self.lock();
        let id = inner.next_id("client");
        let secret = format!("generated-secret-{}", inner.next_id("s"));
        let now = inner.now();
        let r = inner.realms.get_mut(realm).expect("realm");
        let client = ClientModel::create(
            id.clone(),
            representation.as_object().expect("object"),
            secret,
            now,
            &r.scopes,
            &r.default_scopes,
            &r.optional_scopes,
        )
        .expect("seeding a client");
        r.clients.insert(id.clone(), client);
        id
    }

    /// A client as `GET /clients/{id}` returns it to an admin (with its secret), by clientId.
    pub fn client(&self, realm: &str, client_id: &str) -> Option<Value> {
        let inner = self.lock();
        let r = inner.realms.get(realm)?;
        let c = r.clients.values().find(|c| c.client_id == client_id)?;
        Some(c.representation(&r.scopes, None))
    }

    /// The stored model of a client, by clientId.
    pub fn model(&self, realm: &str, client_id: &str) -> Option<ClientModel> {
        let inner = self.lock();
        let r = inner.realms.get(realm)?;
        r.clients
            .values()
            .find(|c| c.client_id == client_id)
            .cloned()
    }

    /// Changes a stored client as a person in the console would (drift).
    pub fn edit_client(&self, realm: &str, client_id: &str, edit: impl FnOnce(&mut ClientModel)) {
        self.with_client(realm, client_id, edit);
    }

    /// Gives a client authorization settings with policies, as a user of the console would.
    pub fn enable_authorization(&self, realm: &str, client_id: &str, policies: &[&str]) {
        self.with_client(realm, client_id, |c| {
            c.service_accounts_enabled = true;
            c.service_account.get_or_insert_with(Default::default);
            c.follow_service_account_scope();
            c.resource_server = Some(ResourceServer {
                policies: policies.iter().map(|p| p.to_string()).collect(),
            });
        });
    }

    /// Regenerates a client's secret by hand (the console's Credentials tab).
    pub fn regenerate_secret_directly(&self, realm: &str, client_id: &str) -> String {
        let mut inner = self.lock();
        let fresh = format!("by-hand-{}", inner.next_id("s"));
        let now = inner.now();
        let client = inner
            .realms
            .get_mut(realm)
            .and_then(|r| r.clients.values_mut().find(|c| c.client_id == client_id))
            .expect("client");
        client.regenerate_secret(fresh.clone(), now);
        fresh
    }

    /// Deletes a client directly.
    pub fn delete_client_directly(&self, realm: &str, client_id: &str) {
        let mut inner = self.lock();
        let r = inner.realms.get_mut(realm).expect("realm");
        r.clients.retain(|_, c| c.client_id != client_id);
    }

    /// The secret of a client, by clientId.
    pub fn secret_of(&self, realm: &str, client_id: &str) -> Option<String> {
        self.model(realm, client_id)?.secret
    }

    /// Names of a client's default scopes, sorted.
    pub fn default_scope_names(&self, realm: &str, client_id: &str) -> Vec<String> {
        let inner = self.lock();
        let r = inner.realms.get(realm).expect("realm");
        let c = r
            .clients
            .values()
            .find(|c| c.client_id == client_id)
            .expect("client");
        let mut names: Vec<String> = c
            .default_scopes
            .iter()
            .filter_map(|id| r.scopes.iter().find(|s| s.id == *id))
            .map(|s| s.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Moves one of a client's scopes between its default and optional lists, or drops it.
    pub fn set_client_scope(
        &self,
        realm: &str,
        client_id: &str,
        scope: &str,
        to: crate::support::target::ScopeKind,
    ) {
        use crate::support::target::ScopeKind;
        let mut inner = self.lock();
        let r = inner.realms.get_mut(realm).expect("realm");
        let scope_id = r
            .scopes
            .iter()
            .find(|s| s.name == scope)
            .expect("scope")
            .id
            .clone();
        let c = r
            .clients
            .values_mut()
            .find(|c| c.client_id == client_id)
            .expect("client");
        c.default_scopes.retain(|s| *s != scope_id);
        c.optional_scopes.retain(|s| *s != scope_id);
        match to {
            ScopeKind::Default => c.default_scopes.push(scope_id),
            ScopeKind::Optional => c.optional_scopes.push(scope_id),
            ScopeKind::None => {}
        }
    }

    /// Every exchange so far.
    pub fn log(&self) -> Vec<Exchange> {
        self.lock().log.clone()
    }

    /// Forgets the log and the admin events.
    pub fn clear_log(&self) {
        let mut inner = self.lock();
        inner.log.clear();
        inner.admin_events.clear();
    }

    /// Admin events (successful writes) so far.
    pub fn admin_events(&self) -> Vec<AdminEvent> {
        self.lock().admin_events.clone()
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
        super::openapi::violations(spec, &self.log())
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

    /// Keycloak's clock, in epoch seconds.
    fn now(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        real + self.clock_offset
    }

    fn add_realm(&mut self, name: &str) {
        let mut realm = Realm::default();
        let newer: &[&str] = if self.version >= (26, 3) {
            &REALM_SCOPES_SINCE_26_3
        } else {
            &[]
        };
        for &scope in REALM_SCOPES.iter().chain(newer) {
            let id = self.next_id("scope");
            realm.scopes.push(Scope {
                id: id.clone(),
                name: scope.to_string(),
            });
            if REALM_DEFAULTS.contains(&scope) {
                realm.default_scopes.push(id);
            } else if REALM_OPTIONALS.contains(&scope) {
                realm.optional_scopes.push(id);
            }
        }
        // RealmManager.setupRealmDefaults: every realm has its built-in clients, as 26.0.8 and
        // 26.7.3 show them (the differential test compares them); the clients that administer
        // the realm are marked `realm_client`.
        let account = format!("/realms/{name}/account/");
        let console = format!("/admin/{name}/console/");
        let logout = json!({"post.logout.redirect.uris": "+"});
        for (client_id, rep) in [
            (
                "account",
                json!({"publicClient": true, "rootUrl": "${authBaseUrl}", "baseUrl": account,
                       "redirectUris": [format!("{account}*")], "attributes": logout}),
            ),
            (
                "account-console",
                json!({"publicClient": true, "rootUrl": "${authBaseUrl}", "baseUrl": account,
                       "redirectUris": [format!("{account}*")], "attributes": logout}),
            ),
            (
                "admin-cli",
                json!({"publicClient": true, "standardFlowEnabled": false,
                       "directAccessGrantsEnabled": true}),
            ),
            (
                "broker",
                json!({"bearerOnly": true, "attributes": {"realm_client": "true"}}),
            ),
            (
                "realm-management",
                json!({"bearerOnly": true, "attributes": {"realm_client": "true"}}),
            ),
            (
                "security-admin-console",
                json!({"publicClient": true, "rootUrl": "${authAdminUrl}", "baseUrl": console,
                       "redirectUris": [format!("{console}*")], "webOrigins": ["+"],
                       "attributes": logout}),
            ),
        ] {
            let id = self.next_id("client");
            let mut rep = rep;
            rep["clientId"] = json!(client_id);
            rep["name"] = json!(format!("${{client_{client_id}}}"));
            let client = ClientModel::create(
                id.clone(),
                rep.as_object().expect("object"),
                String::new(),
                self.now(),
                &realm.scopes,
                &realm.default_scopes,
                &realm.optional_scopes,
            )
            .expect("a built-in client");
            realm.clients.insert(id, client);
        }
        self.realms.insert(name.to_string(), realm);
    }
}

async fn handle(
    State(shared): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let latency = shared.lock().unwrap_or_else(|e| e.into_inner()).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut inner = shared.lock().unwrap_or_else(|e| e.into_inner());
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

    let mut extra_headers = Vec::new();
    let fault = take_fault(&mut inner.faults, method.as_str(), &path);
    let (status, location, response) = if let Some(f) = fault {
        extra_headers = f.headers.clone();
        (
            f.status,
            None,
            serde_json::from_str(&f.body).unwrap_or(Value::Null),
        )
    } else if let Some(unknown) = body.as_ref().and_then(|b| unknown_field(&path, &method, b)) {
        // Jackson refuses fields the representation does not have.
        (
            400,
            None,
            json!({"error": "unknown_error", "error_description": format!("Unrecognized field \"{unknown}\"")}),
        )
    } else {
        routes::route(
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
    drop(inner);

    let code = StatusCode::from_u16(status).expect("valid status");
    let mut resp = if response.is_null() {
        code.into_response()
    } else {
        (code, axum::Json(response)).into_response()
    };
    if let Some(loc) = location {
        // Location ends in the new client's id, as Keycloak's does.
        resp.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(&loc).expect("header"),
        );
    }
    for (name, value) in extra_headers {
        resp.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("header"),
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
