//! Putting a Keycloak in a state by hand: users, service clients, tokens, clients, scopes, authorization.

use super::*;

impl Kc {
    /// A user of `master` that may do `level` with the clients of [`REALM`].
    pub async fn add_user(&self, username: &str, password: &str, level: Level) {
        match &self.backend {
            Backend::Emulator(e) => e.add_user(username, password, level),
            Backend::Real { admin, .. } => {
                let id = admin.user("master", username, password).await;
                let roles: &[&str] = match level {
                    Level::Manage => &["manage-clients", "view-clients"],
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
    /// credentials logins; given the client scope `kc-admin-api` where the realm has it
    /// (26.8.2 on, whose Admin API refuses a token without it).
    pub async fn add_service_client(&self, client_id: &str, secret: &str) {
        match &self.backend {
            Backend::Emulator(e) => {
                e.add_service_client("master", client_id, secret);
                e.give_admin_api_scope("master", client_id);
            }
            Backend::Real { admin, .. } => {
                if let Some(old) = admin.client_uuid("master", client_id).await {
                    admin.delete(&format!("/master/clients/{old}")).await;
                }
                let created = admin
                    .post(
                        "/master/clients",
                        Some(json!({"clientId": client_id, "secret": secret,
                                    "publicClient": false, "serviceAccountsEnabled": true,
                                    "standardFlowEnabled": false})),
                    )
                    .await;
                let uuid = real::last_segment(&created);
                let user = admin
                    .get(&format!("/master/clients/{uuid}/service-account-user"))
                    .await;
                admin
                    .grant_realm_roles("master", user["id"].as_str().unwrap(), &["admin"])
                    .await;
                let scopes = admin.get("/master/client-scopes").await;
                let admin_api = scopes
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["name"] == emulator::ADMIN_API_SCOPE);
                if let Some(scope) = admin_api {
                    let id = scope["id"].as_str().unwrap();
                    admin
                        .put(
                            &format!("/master/clients/{uuid}/default-client-scopes/{id}"),
                            None,
                        )
                        .await;
                }
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

    /// Ends the user sessions of `username` of `master` (as its maximum or a sign-out in the
    /// console would): its refresh tokens are refused from now on.
    pub async fn end_sessions(&self, username: &str) {
        match &self.backend {
            Backend::Emulator(e) => e.end_sessions(username),
            Backend::Real { admin, .. } => {
                let id = admin.user_id("master", username).await;
                let sessions = admin.get(&format!("/master/users/{id}/sessions")).await;
                for s in sessions.as_array().into_iter().flatten() {
                    let session = s["id"].as_str().expect("a session has an id");
                    admin.delete(&format!("/master/sessions/{session}")).await;
                }
            }
        }
    }

    /// Ends every admin session, so that tokens issued so far are refused.
    pub async fn revoke_all_tokens(&self) {
        match &self.backend {
            Backend::Emulator(e) => e.revoke_all_tokens(),
            Backend::Real { admin, .. } => {
                admin.post("/master/logout-all", None).await;
            }
        }
    }

    /// Creates a client directly, as an admin in the console would; returns its id.
    pub async fn seed_client(&self, realm: &str, representation: Value) -> String {
        match &self.backend {
            Backend::Emulator(e) => e.seed_client(realm, representation),
            Backend::Real { admin, .. } => {
                let created = admin
                    .post(&format!("/{realm}/clients"), Some(representation))
                    .await;
                real::last_segment(&created)
            }
        }
    }

    /// Changes a client as a person in the console would: the whole representation, with
    /// `patch`'s fields replaced (`attributes` merged), sent back with PUT.
    pub async fn edit_client(&self, realm: &str, client_id: &str, patch: Value) {
        let edited = self.try_edit_client(realm, client_id, patch).await;
        edited.expect("the console's update is accepted");
    }

    /// [`Self::edit_client`], which Keycloak may refuse: its status and sorted messages.
    pub async fn try_edit_client(
        &self,
        realm: &str,
        client_id: &str,
        patch: Value,
    ) -> Result<(), String> {
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
        let (status, body) = match &self.backend {
            Backend::Emulator(e) => {
                let updated = e.update_client(realm, client_id, rep.as_object().expect("object"));
                updated.map_or_else(|refusal| refusal, |()| (204, Value::Null))
            }
            Backend::Real { admin, .. } => {
                let uuid = rep["id"].as_str().unwrap().to_string();
                let path = format!("/{realm}/clients/{uuid}");
                admin.call(Method::PUT, &path, Some(rep)).await
            }
        };
        if (200..300).contains(&status) {
            return Ok(());
        }
        let mut messages: Vec<&str> = (body["error_description"].as_str())
            .map(|d| d.split("; ").collect())
            .unwrap_or_default();
        messages.sort_unstable();
        Err(format!("{status} {} {messages:?}", body["error"]))
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
                    .put(&format!("/{realm}/clients/{uuid}/{kind}/{sid}"), None)
                    .await;
            }
        }
    }

    /// Sets the realm's `frontendUrl` attribute (the console's realm settings, "Frontend URL").
    pub async fn set_frontend_url(&self, realm: &str, url: &str) {
        match &self.backend {
            Backend::Emulator(e) => e.set_frontend_url(realm, url),
            Backend::Real { admin, .. } => {
                let attributes = json!({"attributes": {"frontendUrl": url}});
                admin.put(&format!("/{realm}"), Some(attributes)).await;
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
                admin.delete(&format!("/{realm}/client-scopes/{sid}")).await;
            }
        }
    }

    /// Gives the realm one client policy, for every client (condition `any-client`), with this
    /// executor, as a realm admin would in Realm settings → Client policies.
    pub async fn set_client_policy(&self, realm: &str, executor: &str, configuration: Value) {
        match &self.backend {
            Backend::Emulator(e) => e.set_client_policy(realm, executor, &configuration),
            Backend::Real { admin, .. } => {
                let profile = json!({"profiles": [{"name": "omkc-test", "executors": [
                    {"executor": executor, "configuration": configuration}]}]});
                admin
                    .put(&format!("/{realm}/client-policies/profiles"), Some(profile))
                    .await;
                let policy = json!({"policies": [{"name": "omkc-test", "enabled": true,
                    "conditions": [{"condition": "any-client", "configuration": {}}],
                    "profiles": ["omkc-test"]}]});
                admin
                    .put(&format!("/{realm}/client-policies/policies"), Some(policy))
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
                        .post(
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
                    .get(&format!("/{realm}/clients/{uuid}/service-account-user"))
                    .await;
                admin
                    .grant_realm_roles(realm, user["id"].as_str().unwrap(), roles)
                    .await;
            }
        }
    }
}
