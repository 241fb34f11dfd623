//! Reading a Keycloak's state, and what it was asked: clients, secrets, scopes, authorization, the log.

use super::*;

impl Kc {
    /// A client as `GET /clients/{id}` shows it to an admin (with its secret), by clientId.
    pub async fn client(&self, realm: &str, client_id: &str) -> Option<Value> {
        match &self.backend {
            Backend::Emulator(e) => e.client(realm, client_id),
            Backend::Real { admin, .. } => {
                let uuid = admin.client_uuid(realm, client_id).await?;
                Some(admin.get(&format!("/{realm}/clients/{uuid}")).await)
            }
        }
    }

    pub(super) fn uuid_of(client: &Option<Value>) -> String {
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
    /// left out), `None` without a service account. A user missing while the flag is on is
    /// made anew, without roles, by the read itself, as Keycloak does.
    pub async fn service_account_roles(&self, realm: &str, client_id: &str) -> Option<Vec<String>> {
        match &self.backend {
            Backend::Emulator(e) => {
                let mut r = e.service_account_user_roles(realm, client_id)?;
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
                    .get(&format!("/{realm}/users/{id}/role-mappings/realm"))
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
                admin.delete(&format!("/{REALM}/admin-events")).await;
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

    /// The user sessions `username` (a user of `master`) has in Keycloak.
    pub async fn user_sessions(&self, username: &str) -> usize {
        match &self.backend {
            Backend::Emulator(e) => e.user_sessions(username),
            Backend::Real { admin, .. } => {
                let id = admin.user_id("master", username).await;
                let sessions = admin.get(&format!("/master/users/{id}/sessions")).await;
                sessions.as_array().map_or(0, Vec::len)
            }
        }
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
                let list = admin.get(&format!("/{REALM}/admin-events?max=10000")).await;
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
}
