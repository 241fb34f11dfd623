//! A stateful Keycloak Admin API emulator: a real HTTP server on 127.0.0.1 that behaves as
//! `shared/keycloak/NOTES.md` describes. Every answer is built from its own model
//! ([`model::ClientModel`]) the way Keycloak's `ModelToRepresentation` builds it: null fields
//! omitted, `authorizationServicesEnabled` only with a resource server, Keycloak's own
//! attributes, an `access` object, sets in Keycloak's order, the secret in the list by
//! `clientId` too. PUT has Keycloak's partial semantics, including the authorization and
//! service-account side effects. It never echoes a request body.
//!
//! Also: 60 s tokens (401 once expired), a password grant's refresh token, callers who may
//! manage, only view, or nothing, admin events for every successful write, an injectable
//! latency, fault injection (with headers such as `Retry-After`), and a log of every exchange.

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
    /// When the answer was given.
    pub at: std::time::Instant,
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
    /// The realm's `frontendUrl` attribute: the base of its issuer, whatever the request's.
    pub frontend_url: Option<String>,
    /// The executors of the realm's client policies that apply to every client.
    pub client_policies: Vec<model::policies::Executor>,
    /// The database it is kept in.
    pub database: model::Database,
}

struct Token {
    expires: Instant,
    level: Level,
    /// The realm that issued it.
    realm: String,
    /// Whether it is an admin of the whole server (the bootstrap admin; a service client of
    /// `master`, which the tests give the `admin` role), rather than of some realms' clients.
    server_admin: bool,
    /// Whether its scopes include [`ADMIN_API_SCOPE`] (its audience, the Admin API).
    admin_api: bool,
    /// A refresh token's user session (none for an access token).
    session: Option<routes::token::Session>,
}

/// Mutable state of the emulator; tests reach it through [`Emulator`] methods.
pub struct Inner {
    prefix: String,
    public_base: String,
    realms: BTreeMap<String, Realm>,
    /// (realm, username) → (password, what the user may do)
    users: HashMap<(String, String), (String, Level)>,
    /// (realm, clientId) → its secret, and whether it has the client scope
    /// [`ADMIN_API_SCOPE`], for client-credentials logins.
    service_clients: HashMap<(String, String), (String, bool)>,
    tokens: HashMap<String, Token>,
    token_lifetime: Duration,
    faults: VecDeque<Fault>,
    log: Vec<Exchange>,
    admin_events: Vec<AdminEvent>,
    counter: u64,
    latency: Duration,
    clock_offset: i64,
    /// The Keycloak modelled: some behaviours changed between versions.
    version: Version,
    /// Whether the server's `authorization` feature is on (it is by default).
    authorization_feature: bool,
    /// The database its realms are kept in.
    database: model::Database,
}

/// The newest Keycloak the emulator models by default (the newest of `tests/keycloak/versions`).
pub const NEWEST: Version = (26, 7, 4);

/// A Keycloak version: `major.minor.patch`.
pub type Version = (u32, u32, u32);

/// The running emulator.
pub struct Emulator {
    /// Base URL the operator is given (includes `/auth` in legacy mode).
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    server: JoinHandle<()>,
}

/// Admin user the emulator knows in `master`, and its password.
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-never-logged";

/// The first Keycloak 25 and 26: where a realm's scopes, a 403's error and a client's
/// `realm_client` attribute changed (seen on 24.0.5, 25.0.6 and 26.0.8).
pub const SINCE_25: Version = (25, 0, 0);
pub const SINCE_26: Version = (26, 0, 0);
/// Where 26.1 changed what the emulator models: the `service_account` scope, and a PUT without
/// `serviceAccountsEnabled` no longer removes the service-account user (26.0.8 did, 26.1.4 did
/// not).
const CHANGED_IN_26_1: Version = (26, 1, 0);
/// From 26.8.2 on, the Admin API checks a token's audience (RFC 9700): only a token with the
/// client scope [`ADMIN_API_SCOPE`] is taken, else 401. Keycloak puts that scope in every realm
/// and gives it to `admin-cli` and `security-admin-console` alone (Keycloak's upgrading guide,
/// "Migrating to 26.8.2"; its realm migration `MigrateTo26_8_2`, "Admin API client scope for
/// admin clients"; Apache Camel's report of its own 401s, CAMEL-26902). Maven
/// Central does not serve 26.8 here: no real Keycloak checks this model.
pub const ADMIN_AUDIENCE_SINCE: Version = (26, 8, 2);
/// The client scope that puts the Admin API in a token's audience.
pub const ADMIN_API_SCOPE: &str = "kc-admin-api";
/// Where the Admin API changed between 26.6.4 and 26.7.0 (absent on 26.0.8, 26.4.7, 26.5.6 and
/// 26.6.4; present on 26.7.0 and 26.7.3): a realm's `AuthnContextClassRef` scope,
/// `realm-management` not manageable, the version hidden from a realm's admins.
const CHANGED_IN_26_7: Version = (26, 7, 0);
impl Emulator {
    /// Starts an emulator at `http://127.0.0.1:<port>` with realms `master` and `data-sec`.
    pub async fn start() -> Self {
        Self::start_as(NEWEST, "").await
    }

    /// Starts an emulator whose API lives under `/auth` (Keycloak ≤ 16).
    pub async fn start_legacy() -> Self {
        Self::start_as(NEWEST, "/auth").await
    }

    /// Starts an emulator of Keycloak `version` with its API under `prefix`.
    pub async fn start_as(version: Version, prefix: &str) -> Self {
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
            database: model::Database::default(),
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

    /// The Keycloak modelled.
    pub fn version(&self) -> Version {
        self.lock().version
    }

    /// Switches the server's `authorization` feature off (`--features-disabled=authorization`):
    /// `authorizationServicesEnabled` is then ignored and never reported.
    pub fn disable_authorization_feature(&self) {
        self.lock().authorization_feature = false;
    }

    /// Keeps the realms on MariaDB from now on ([`model::Database::MariaDb`]).
    pub fn on_mariadb(&self) {
        let mut inner = self.lock();
        inner.database = model::Database::MariaDb;
        for realm in inner.realms.values_mut() {
            realm.database = model::Database::MariaDb;
            realm
                .clients
                .values_mut()
                .for_each(|c| c.database = realm.database);
        }
    }

    /// The database its realms are kept in.
    pub fn database(&self) -> model::Database {
        self.lock().database
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn with_client<T>(
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

    /// The issuer's base browsers see (what the discovery document names).
    pub fn set_public_base(&self, base: &str) {
        self.lock().public_base = base.trim_end_matches('/').to_string();
    }

    /// Sets a realm's `frontendUrl` attribute, as an admin of the console's realm settings does.
    pub fn set_frontend_url(&self, realm: &str, url: &str) {
        let mut inner = self.lock();
        let r = inner.realms.get_mut(realm).expect("realm exists");
        r.frontend_url = Some(url.trim_end_matches('/').to_string());
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

    /// Stops serving: further connections are refused.
    pub fn stop(&self) {
        self.server.abort();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

mod clients;

mod http;
use http::handle;

mod accounts;
