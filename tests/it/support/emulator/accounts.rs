//! Accounts, tokens and faults of the emulator: users, service clients, token lifetimes, injected failures.

use super::*;

impl Emulator {
    /// Adds a user in `master` with what it may do.
    pub fn add_user(&self, username: &str, password: &str, level: Level) {
        self.lock()
            .users
            .insert(("master".into(), username.into()), (password.into(), level));
    }

    /// Registers a confidential service-account client for client-credentials logins; like a
    /// client made in the console, it lacks the client scope [`ADMIN_API_SCOPE`].
    pub fn add_service_client(&self, realm: &str, client_id: &str, secret: &str) {
        self.lock()
            .service_clients
            .insert((realm.into(), client_id.into()), (secret.into(), false));
    }

    /// Gives a service client the default client scope [`ADMIN_API_SCOPE`], where the realm
    /// has it (26.8.2 on); says whether it does.
    pub fn give_admin_api_scope(&self, realm: &str, client_id: &str) -> bool {
        let mut inner = self.lock();
        let exists = inner
            .realms
            .get(realm)
            .is_some_and(|r| r.scopes.iter().any(|s| s.name == ADMIN_API_SCOPE));
        if let Some((_, scope)) = inner
            .service_clients
            .get_mut(&(realm.into(), client_id.into()))
        {
            *scope = exists;
        }
        exists
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

    /// The user sessions of `username` that a refresh token still keeps (each password grant
    /// starts one; a refresh keeps it).
    pub fn user_sessions(&self, username: &str) -> usize {
        let inner = self.lock();
        let live = inner.tokens.values().filter(|t| t.expires > Instant::now());
        let ids: std::collections::BTreeSet<&String> = live
            .filter_map(|t| t.session.as_ref())
            .filter(|s| s.user == username && !s.ended)
            .map(|s| &s.id)
            .collect();
        ids.len()
    }

    /// Ends the user sessions of `username` (idle or past its maximum, or signed out): their
    /// refresh tokens are refused from now on ("Session not active").
    pub fn end_sessions(&self, username: &str) {
        let mut inner = self.lock();
        let sessions = inner.tokens.values_mut().filter_map(|t| t.session.as_mut());
        for session in sessions.filter(|s| s.user == username) {
            session.ended = true;
        }
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
}
