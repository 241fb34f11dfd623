//! The emulator's clients as a test sees them: seeding, editing by hand, reading, the log.

use super::*;

impl Emulator {
    /// Creates a client directly (as an admin clicking in the console would); returns its id.
    pub fn seed_client(&self, realm: &str, representation: Value) -> String {
        let mut inner = self.lock();
        let id = inner.next_id("client");
        let secret = format!("generated-secret-{}", inner.next_id("s"));
        let now = inner.now();
        let version = inner.version;
        let r = inner.realms.get_mut(realm).expect("realm");
        let client = ClientModel::create(
            id.clone(),
            representation.as_object().expect("object"),
            secret,
            now,
            r,
            version,
        )
        .and_then(|c| c.stored(version).map(|()| c))
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

    /// Updates a client as `PUT …/clients/{id}` does, past the realm's client policies.
    pub fn update_client(
        &self,
        realm: &str,
        client_id: &str,
        rep: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), (u16, serde_json::Value)> {
        let mut inner = self.lock();
        let version = inner.version;
        let r = inner.realms.get_mut(realm).expect("realm");
        let id = (r.clients.values().find(|c| c.client_id == client_id))
            .map(|c| c.id.clone())
            .unwrap_or_else(|| panic!("client {client_id} exists in {realm}"));
        r.update_client(&id, rep, version).expect("the client")
    }

    /// The roles of a client's service-account user as `GET …/service-account-user` finds it:
    /// Keycloak (`ClientResource.getServiceAccountUser`) makes the user, without roles, where
    /// the flag is on and the user missing; `None` without the flag (400).
    pub fn service_account_user_roles(&self, realm: &str, client_id: &str) -> Option<Vec<String>> {
        self.with_client(realm, client_id, |c| {
            c.service_accounts_enabled.then(|| {
                let user = c.service_account.get_or_insert_with(Default::default);
                user.roles.clone()
            })
        })
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

    /// Gives the realm one client policy, for every client, with this executor (Realm
    /// settings → Client policies).
    pub fn set_client_policy(&self, realm: &str, executor: &str, configuration: &Value) {
        let executor = model::policies::Executor::named(executor, configuration);
        self.lock()
            .realms
            .get_mut(realm)
            .expect("realm")
            .client_policies = vec![executor];
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
        let mut names: Vec<String> = (c.seen(&c.default_scopes, &r.scopes))
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
        let scope = r.scopes.iter().find(|s| s.name == scope).expect("scope");
        let c = r
            .clients
            .values_mut()
            .find(|c| c.client_id == client_id)
            .expect("client");
        c.default_scopes.retain(|s| *s != scope.id);
        c.optional_scopes.retain(|s| *s != scope.id);
        match to {
            ScopeKind::Default => c.link(scope, true),
            ScopeKind::Optional => c.link(scope, false),
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
}
