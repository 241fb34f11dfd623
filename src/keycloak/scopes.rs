//! [`Session`]'s verbs for client scopes: the realm's scopes, and a client's default and
//! optional ones (scopes in client bodies are ignored by PUT and replace the realm's defaults in
//! POST, so they are changed one by one here).

use reqwest::Method;

use super::{KeycloakError, Scope, Session, session::missing_is_done};

impl Session {
    /// The realm's client scopes.
    pub async fn realm_scopes(&self, realm: &str) -> Result<Vec<Scope>, KeycloakError> {
        let route = "/admin/realms/{realm}/client-scopes";
        let answer = self.call(Method::GET, route, &[realm], &[], None).await?;
        let scopes: Vec<keycloak::types::ClientScopeRepresentation> =
            Self::parse(&answer, "the client scopes")?;
        Ok(scopes
            .into_iter()
            .filter_map(|s| {
                Some(Scope {
                    id: s.id?,
                    name: s.name?,
                })
            })
            .collect())
    }

    /// Adds one default client scope to the client (no-op if it already has it).
    pub async fn add_default_scope(
        &self,
        realm: &str,
        uuid: &str,
        scope_id: &str,
    ) -> Result<(), KeycloakError> {
        self.client_scope(Method::PUT, "default", realm, uuid, scope_id)
            .await
    }

    /// Removes one optional client scope from the client (no-op if it does not have it).
    pub async fn remove_optional_scope(
        &self,
        realm: &str,
        uuid: &str,
        scope_id: &str,
    ) -> Result<(), KeycloakError> {
        missing_is_done(
            self.client_scope(Method::DELETE, "optional", realm, uuid, scope_id)
                .await,
        )
    }

    /// `PUT` or `DELETE` of `/clients/{id}/{kind}-client-scopes/{scope}`.
    async fn client_scope(
        &self,
        method: Method,
        kind: &'static str,
        realm: &str,
        uuid: &str,
        scope_id: &str,
    ) -> Result<(), KeycloakError> {
        let route = match kind {
            "default" => "/admin/realms/{realm}/clients/{id}/default-client-scopes/{scope}",
            _ => "/admin/realms/{realm}/clients/{id}/optional-client-scopes/{scope}",
        };
        self.call(method, route, &[realm, uuid, scope_id], &[], None)
            .await
            .map(drop)
    }
}
