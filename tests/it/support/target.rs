//! One suite, two targets: [`Kc`] is either the Admin API emulator or a real Keycloak behind a
//! recording proxy, with the same verbs to arrange a scenario (a client made by hand, drift, a
//! viewer account), to inspect Keycloak afterwards, and to read the exchanges the operator made.
//!
//! [`both!`](crate::both) declares a scenario once and makes two tests of it:
//! `<scenario>::emulator` (always runs) and `<scenario>::real_keycloak` (ignored unless asked
//! for: `tests/keycloak/keycloak.sh test` runs them against every supported Keycloak version).

use std::{sync::Arc, time::Duration};

use axum::http::Method;
use omkc::keycloak::{Credentials, Session};
use serde_json::{Value, json};

use super::{
    emulator::{self, AdminEvent, Emulator, Exchange, Fault, Level},
    real::{self, Admin, Proxy},
    session_at,
};

/// The realm every scenario works in.
pub const REALM: &str = "data-sec";

/// Declares a scenario that runs against the emulator and against a real Keycloak.
#[macro_export]
macro_rules! both {
    ($(#[$doc:meta])* $name:ident, |$kc:ident| $body:block) => {
        $crate::both!($(#[$doc])* $name, as $crate::support::emulator::NEWEST, |$kc| $body);
    };
    ($(#[$doc:meta])* $name:ident, as $version:expr, |$kc:ident| $body:block) => {
        $(#[$doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn scenario($kc: $crate::support::target::Kc) $body
            #[tokio::test]
            async fn emulator() {
                scenario($crate::support::target::Kc::emulator_as($version).await).await
            }
            #[tokio::test]
            #[ignore = "needs a real Keycloak: tests/keycloak/keycloak.sh test (docs/contributors/testing.md)"]
            async fn real_keycloak() {
                scenario($crate::support::target::Kc::real().await).await
            }
        }
    };
}

enum Backend {
    Emulator(Emulator),
    Real { admin: Admin, proxy: Proxy },
}

/// A Keycloak to test against.
pub struct Kc {
    /// Base URL the operator is given.
    pub base_url: String,
    /// `major.minor` of the Keycloak version it is (or emulates).
    pub version: (u32, u32),
    backend: Backend,
}

/// `major.minor` of a version string such as `26.0.8`.
pub fn parse_version(v: &str) -> (u32, u32) {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

impl Kc {
    /// The emulator, as the newest Keycloak it models.
    pub async fn emulator() -> Self {
        Self::from_emulator(Emulator::start().await)
    }

    /// The emulator with its API under `/auth` (Keycloak ≤ 16).
    pub async fn emulator_legacy() -> Self {
        Self::from_emulator(Emulator::start_legacy().await)
    }

    /// The emulator, modelling Keycloak `version`.
    pub async fn emulator_as(version: (u32, u32)) -> Self {
        Self::from_emulator(Emulator::start_as(version, "").await)
    }

    fn from_emulator(emu: Emulator) -> Self {
        Self {
            base_url: emu.base_url.clone(),
            version: emu.version(),
            backend: Backend::Emulator(emu),
        }
    }

    /// The real Keycloak `tests/keycloak/keycloak.sh` started, with a fresh realm `data-sec`.
    pub async fn real() -> Self {
        Self::real_at("").await
    }

    /// The same, with the API under `prefix` (as behind a reverse proxy mapping `/auth`).
    pub async fn real_at(prefix: &str) -> Self {
        let endpoint = real::endpoint().expect(
            "OMKC_TEST_KEYCLOAK_URL names a real Keycloak (tests/keycloak/keycloak.sh start VERSION)",
        );
        let admin = Admin::new(&endpoint);
        admin.set_master_token_lifespan(60).await;
        admin.fresh_realm(REALM).await;
        let proxy = Proxy::start(&endpoint.url, prefix).await;
        Self {
            base_url: proxy.base_url.clone(),
            version: parse_version(&endpoint.version),
            backend: Backend::Real { admin, proxy },
        }
    }

    /// The emulator, when that is the target (for what only it can do).
    pub fn emulator_only(&self) -> Option<&Emulator> {
        match &self.backend {
            Backend::Emulator(e) => Some(e),
            Backend::Real { .. } => None,
        }
    }

    /// Whether this is a real Keycloak.
    pub fn is_real(&self) -> bool {
        matches!(self.backend, Backend::Real { .. })
    }

    /// The admin API as the bootstrap admin (real Keycloak only).
    pub fn admin(&self) -> Option<&Admin> {
        match &self.backend {
            Backend::Real { admin, .. } => Some(admin),
            Backend::Emulator(_) => None,
        }
    }

    /// What the target is, for failure messages.
    pub fn describe(&self) -> String {
        let (major, minor) = self.version;
        match self.backend {
            Backend::Emulator(_) => format!("the emulator (as Keycloak {major}.{minor})"),
            Backend::Real { .. } => format!("real Keycloak {major}.{minor}"),
        }
    }

    /// The admin credentials of `master`.
    pub fn admin_credentials(&self) -> Credentials {
        let (username, password) = match &self.backend {
            Backend::Emulator(_) => (
                emulator::ADMIN_USER.to_string(),
                emulator::ADMIN_PASSWORD.to_string(),
            ),
            Backend::Real { .. } => {
                let e = real::endpoint().expect("endpoint");
                (e.user, e.password)
            }
        };
        Credentials::Password { username, password }
    }

    /// A session as the admin of `master`.
    pub fn admin_session(&self) -> Arc<Session> {
        self.session(self.admin_credentials())
    }

    /// A session with these credentials (admin realm `master`).
    pub fn session(&self, credentials: Credentials) -> Arc<Session> {
        session_at(&self.base_url, credentials)
    }

    /// A user of `master` that may do `level` with the clients of [`REALM`].
    pub async fn add_user(&self, username: &str, password: &str, level: Level) {
        match &self.backend {
            Backend::Emulator(e) => e.add_user(username, password, level),
            Backend::Real { admin, .. } => {
                let id = admin.user("master", username, password).await;
                let roles: &[&str] = match level {
                    Level::Manage => &["manage-clients", "view-clients", "query-client-scopes"],
                    Level::View => &["view-clients"],
                    Level::Query => &["query-clients"],
                    Level::None => &[],
                };
                if !roles.is_empty() {
                    admin
                        .grant_client_roles("master", &id, &format!("{REALM}-realm"), roles)
                        .await;
                }
            }
        }
    }

    /// A confidential client of `master` whose service account is an admin, for client
    /// credentials logins.
    pub async fn add_service_client(&self, client_id: &str, secret: &str) {
        match &self.backend {
            Backend::Emulator(e) => e.add_service_client("master", client_id, secret),
            Backend::Real { admin, .. } => {
                if let Some(old) = admin.client_uuid("master", client_id).await {
                    admin
                        .ok(Method::DELETE, &format!("/master/clients/{old}"), None)
                        .await;
                }
                let created = admin
                    .ok(
                        Method::POST,
                        "/master/clients",
                        Some(json!({"clientId": client_id, "secret": secret,
                                    "publicClient": false, "serviceAccountsEnabled": true,
                                    "standardFlowEnabled": false})),
                    )
                    .await;
                let uuid = real::last_segment(&created);
                let user = admin
                    .ok(
                        Method::GET,
                        &format!("/master/clients/{uuid}/service-account-user"),
                        None,
                    )
                    .await;
                admin
                    .grant_realm_roles("master", user["id"].as_str().unwrap(), &["admin"])
                    .await;
            }
        }
    }

    /// Lifetime of the admin tokens issued from now on.
    pub async fn set_token_lifetime(&self, lifetime: Duration) {
        match &self.backend {
            Backend::Emulator(e) => e.set_token_lifetime(lifetime),
            Backend::Real { admin, .. } => {
                admin.set_master_token_lifespan(lifetime.as_secs()).await
            }
        }
    }

    /// Ends every admin session, so that tokens issued so far are refused.
    pub async fn revoke_all_tokens(&self) {
        match &self.backend {
            Backend::Emulator(e) => e.revoke_all_tokens(),
            Backend::Real { admin, .. } => {
                admin.ok(Method::POST, "/master/logout-all", None).await;
            }
        }
    }

    /// Creates a client directly, as an admin in the console would; returns its id.
    pub async fn seed_client(&self, realm: &str, representation: Value) -> String {
        match &self.backend {
            Backend::Emulator(e) => e.seed_client(realm, representation),
            Backend::Real { admin, .. } => {
                let created = admin
                    .ok(
                        Method::POST,
                        &format!("/{realm}/clients"),
                        Some(representation),
                    )
                    .await;
                real::last_segment(&created)
            }
        }
    }

    /// A client as `GET /clients/{id}` shows it to an admin (with its secret), by clientId.
    pub async fn client(&self, realm: &str, client_id: &str) -> Option<Value> {
        match &self.backend {
            Backend::Emulator(e) => e.client(realm, client_id),
            Backend::Real { admin, .. } => {
                let uuid = admin.client_uuid(realm, client_id).await?;
                Some(
                    admin
                        .ok(Method::GET, &format!("/{realm}/clients/{uuid}"), None)
                        .await,
                )
            }
        }
    }

    fn uuid_of(client: &Option<Value>) -> String {
        client.as_ref().expect("client exists")["id"]
            .as_str()
            .expect("id")
            .to_string()
    }

    /// The secret of a client, by clientId.
    pub async fn secret_of(&self, realm: &str, client_id: &str) -> Option<String> {
        match &self.backend {
            Backend::Emulator(e) => e.secret_of(realm, client_id),
            Backend::Real { .. } => self.client(realm, client_id).await?["secret"]
                .as_str()
                .map(str::to_string),
        }
    }

    /// Changes a client as a person in the console would: the whole representation, with
    /// `patch`'s fields replaced (`attributes` merged), sent back with PUT.
    pub async fn edit_client(&self, realm: &str, client_id: &str, patch: Value) {
        let mut rep = self.client(realm, client_id).await.expect("client exists");
        for (k, v) in patch.as_object().expect("an object") {
            if k == "attributes" {
                for (a, val) in v.as_object().expect("attributes") {
                    rep["attributes"][a] = val.clone();
                }
            } else {
                rep[k] = v.clone();
            }
        }
        match &self.backend {
            Backend::Emulator(e) => {
                let version = e.version();
                e.edit_client(realm, client_id, |c| {
                    c.update(rep.as_object().expect("object"), version)
                        .expect("the console's update is accepted");
                })
            }
            Backend::Real { admin, .. } => {
                let uuid = rep["id"].as_str().unwrap().to_string();
                admin
                    .ok(Method::PUT, &format!("/{realm}/clients/{uuid}"), Some(rep))
                    .await;
            }
        }
    }

    /// Regenerates a client's secret by hand (the console's Credentials tab); the new one.
    pub async fn regenerate_secret_directly(&self, realm: &str, client_id: &str) -> String {
        match &self.backend {
            Backend::Emulator(e) => e.regenerate_secret_directly(realm, client_id),
            Backend::Real { admin, .. } => {
                let uuid = Self::uuid_of(&self.client(realm, client_id).await);
                admin
                    .ok(
                        Method::POST,
                        &format!("/{realm}/clients/{uuid}/client-secret"),
                        None,
                    )
                    .await["value"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
        }
    }

    /// Names of a client's default (`optional: false`) or optional scopes, sorted.
    pub async fn scope_names(&self, realm: &str, client_id: &str, optional: bool) -> Vec<String> {
        let client = self.client(realm, client_id).await.expect("client");
        let key = if optional {
            "optionalClientScopes"
        } else {
            "defaultClientScopes"
        };
        let mut names: Vec<String> = client[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    /// Names of a client's default scopes, sorted.
    pub async fn default_scope_names(&self, realm: &str, client_id: &str) -> Vec<String> {
        self.scope_names(realm, client_id, false).await
    }

    /// Moves one of a client's scopes between its default and optional lists (or drops it),
    /// as the console's Client scopes tab does.
    pub async fn set_client_scope(&self, realm: &str, client_id: &str, scope: &str, to: ScopeKind) {
        match &self.backend {
            Backend::Emulator(e) => e.set_client_scope(realm, client_id, scope, to),
            Backend::Real { admin, .. } => {
                let uuid = Self::uuid_of(&self.client(realm, client_id).await);
                let sid = admin.scope_id(realm, scope).await;
                for kind in ["default-client-scopes", "optional-client-scopes"] {
                    admin
                        .call(
                            Method::DELETE,
                            &format!("/{realm}/clients/{uuid}/{kind}/{sid}"),
                            None,
                        )
                        .await;
                }
                let kind = match to {
                    ScopeKind::Default => "default-client-scopes",
                    ScopeKind::Optional => "optional-client-scopes",
                    ScopeKind::None => return,
                };
                admin
                    .ok(
                        Method::PUT,
                        &format!("/{realm}/clients/{uuid}/{kind}/{sid}"),
                        None,
                    )
                    .await;
            }
        }
    }

    /// Deletes a client scope from the realm.
    pub async fn remove_realm_scope(&self, realm: &str, name: &str) {
        match &self.backend {
            Backend::Emulator(e) => e.remove_realm_scope(realm, name),
            Backend::Real { admin, .. } => {
                let sid = admin.scope_id(realm, name).await;
                admin
                    .call(
                        Method::DELETE,
                        &format!("/{realm}/default-default-client-scopes/{sid}"),
                        None,
                    )
                    .await;
                admin
                    .ok(
                        Method::DELETE,
                        &format!("/{realm}/client-scopes/{sid}"),
                        None,
                    )
                    .await;
            }
        }
    }

    /// Removes a scope from the realm's defaults (new clients do not get it).
    pub async fn remove_realm_default_scope(&self, realm: &str, name: &str) {
        match &self.backend {
            Backend::Emulator(e) => e.remove_realm_default_scope(realm, name),
            Backend::Real { admin, .. } => {
                let sid = admin.scope_id(realm, name).await;
                admin
                    .ok(
                        Method::DELETE,
                        &format!("/{realm}/default-default-client-scopes/{sid}"),
                        None,
                    )
                    .await;
            }
        }
    }

    /// Gives a client a service account (if it has none) and authorization settings with a
    /// client policy per name, as a user of the console would.
    pub async fn enable_authorization(&self, realm: &str, client_id: &str, policies: &[&str]) {
        match &self.backend {
            Backend::Emulator(e) => e.enable_authorization(realm, client_id, policies),
            Backend::Real { admin, .. } => {
                self.edit_client(
                    realm,
                    client_id,
                    json!({"serviceAccountsEnabled": true, "authorizationServicesEnabled": true}),
                )
                .await;
                let uuid = Self::uuid_of(&self.client(realm, client_id).await);
                for policy in policies {
                    admin
                        .ok(
                            Method::POST,
                            &format!("/{realm}/clients/{uuid}/authz/resource-server/policy/client"),
                            Some(json!({"name": policy, "clients": [uuid], "logic": "POSITIVE"})),
                        )
                        .await;
                }
            }
        }
    }

    /// Maps realm roles to a client's service-account user.
    pub async fn grant_service_account_roles(&self, realm: &str, client_id: &str, roles: &[&str]) {
        match &self.backend {
            Backend::Emulator(e) => e.edit_client(realm, client_id, |c| {
                let sa = c.service_account.as_mut().expect("a service account");
                sa.roles.extend(roles.iter().map(|r| r.to_string()));
            }),
            Backend::Real { admin, .. } => {
                let uuid = Self::uuid_of(&self.client(realm, client_id).await);
                let user = admin
                    .ok(
                        Method::GET,
                        &format!("/{realm}/clients/{uuid}/service-account-user"),
                        None,
                    )
                    .await;
                admin
                    .grant_realm_roles(realm, user["id"].as_str().unwrap(), roles)
                    .await;
            }
        }
    }

    /// The policies of a client's authorization settings (sorted), `None` without them.
    pub async fn authorization_policies(
        &self,
        realm: &str,
        client_id: &str,
    ) -> Option<Vec<String>> {
        match &self.backend {
            Backend::Emulator(e) => {
                let mut p = e.model(realm, client_id)?.resource_server?.policies;
                p.sort();
                Some(p)
            }
            Backend::Real { admin, .. } => {
                let uuid = Self::uuid_of(&self.client(realm, client_id).await);
                let (status, list) = admin
                    .call(
                        Method::GET,
                        &format!("/{realm}/clients/{uuid}/authz/resource-server/policy"),
                        None,
                    )
                    .await;
                if status != 200 {
                    return None;
                }
                // The default policy and permission Keycloak gives a new resource server are
                // not the user's to count.
                let mut names: Vec<String> = list
                    .as_array()?
                    .iter()
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .filter(|n| n != "Default Policy" && n != "Default Permission")
                    .collect();
                names.sort();
                Some(names)
            }
        }
    }

    /// The realm roles of a client's service-account user (sorted, the realm's default role
    /// left out), `None` when it has no service-account user.
    pub async fn service_account_roles(&self, realm: &str, client_id: &str) -> Option<Vec<String>> {
        match &self.backend {
            Backend::Emulator(e) => {
                let mut r = e.model(realm, client_id)?.service_account?.roles;
                r.sort();
                Some(r)
            }
            Backend::Real { admin, .. } => {
                let uuid = Self::uuid_of(&self.client(realm, client_id).await);
                let (status, user) = admin
                    .call(
                        Method::GET,
                        &format!("/{realm}/clients/{uuid}/service-account-user"),
                        None,
                    )
                    .await;
                if status != 200 {
                    return None;
                }
                let id = user["id"].as_str()?;
                let roles = admin
                    .ok(
                        Method::GET,
                        &format!("/{realm}/users/{id}/role-mappings/realm"),
                        None,
                    )
                    .await;
                let mut names: Vec<String> = roles
                    .as_array()?
                    .iter()
                    .filter_map(|r| r["name"].as_str().map(str::to_string))
                    .filter(|n| !n.starts_with("default-roles-"))
                    .collect();
                names.sort();
                Some(names)
            }
        }
    }

    /// Every exchange the operator made so far.
    pub fn log(&self) -> Vec<Exchange> {
        match &self.backend {
            Backend::Emulator(e) => e.log(),
            Backend::Real { proxy, .. } => proxy.log(),
        }
    }

    /// Forgets the exchanges and the realm's admin events.
    pub async fn clear_log(&self) {
        match &self.backend {
            Backend::Emulator(e) => e.clear_log(),
            Backend::Real { admin, proxy } => {
                proxy.clear_log();
                admin
                    .ok(Method::DELETE, &format!("/{REALM}/admin-events"), None)
                    .await;
            }
        }
    }

    /// Admin calls (not token requests), as `METHOD path` lines.
    pub fn admin_calls(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|e| e.path.starts_with("/admin/"))
            .map(|e| format!("{} {}", e.method, e.path))
            .collect()
    }

    /// Admin calls that are not GETs.
    pub fn writes(&self) -> Vec<String> {
        self.admin_calls()
            .into_iter()
            .filter(|c| !c.starts_with("GET "))
            .collect()
    }

    /// Number of token requests so far.
    pub fn token_requests(&self) -> usize {
        self.log()
            .iter()
            .filter(|e| e.path.ends_with("/protocol/openid-connect/token"))
            .count()
    }

    /// The admin events Keycloak recorded in [`REALM`], oldest first.
    pub async fn admin_events(&self) -> Vec<AdminEvent> {
        match &self.backend {
            Backend::Emulator(e) => e.admin_events(),
            Backend::Real { admin, .. } => {
                let list = admin
                    .ok(
                        Method::GET,
                        &format!("/{REALM}/admin-events?max=10000"),
                        None,
                    )
                    .await;
                let mut events: Vec<AdminEvent> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| AdminEvent {
                        realm: REALM.to_string(),
                        operation: match e["operationType"].as_str() {
                            Some("CREATE") => "CREATE",
                            Some("UPDATE") => "UPDATE",
                            Some("DELETE") => "DELETE",
                            _ => "ACTION",
                        },
                        resource_path: e["resourcePath"].as_str().unwrap_or_default().to_string(),
                    })
                    .collect();
                events.reverse();
                events
            }
        }
    }

    /// Answers the first request matching `method` and `path_contains` with this status and
    /// body instead of Keycloak (the emulator, or the proxy in front of a real Keycloak).
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
        match &self.backend {
            Backend::Emulator(e) => e.inject_fault(fault),
            Backend::Real { proxy, .. } => proxy.inject_fault(fault),
        }
    }

    /// Stops answering: further connections are refused.
    pub fn stop(&self) {
        match &self.backend {
            Backend::Emulator(e) => e.stop(),
            Backend::Real { proxy, .. } => proxy.stop(),
        }
    }
}

/// Where a client scope sits on a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// A default scope (always in the token).
    Default,
    /// An optional scope (in the token when the `scope` parameter asks for it).
    Optional,
    /// Not on the client.
    None,
}
