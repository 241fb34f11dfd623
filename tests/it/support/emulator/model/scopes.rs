//! A realm's client scopes as its clients see them: each of one protocol, a client linked only
//! to those of its own, the links a protocol change and a service account bring.

use serde_json::{Map, Value};

use super::{ClientModel, Realm, Refusal, Version};

/// A realm's client scope.
#[derive(Clone, Debug)]
pub struct Scope {
    /// Internal id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `openid-connect` or `saml`: a client sees, and is given, only the scopes of its own
    /// protocol (seen on 22.0.5 and 26.7.4).
    pub protocol: String,
}

/// The realm's scopes of SAML; every other is OpenID Connect's.
const SAML_SCOPES: [&str; 3] = ["role_list", "saml_organization", "AuthnContextClassRef"];

impl Scope {
    pub fn new(id: String, name: &str) -> Self {
        let saml = SAML_SCOPES.contains(&name);
        let protocol = if saml { "saml" } else { "openid-connect" };
        Self {
            id,
            name: name.to_string(),
            protocol: protocol.to_string(),
        }
    }
}

impl ClientModel {
    /// Whether the client sees (and may be given) `scope`: one of its own protocol.
    pub fn sees(&self, scope: &Scope) -> bool {
        scope.protocol == self.protocol
    }

    /// The scopes of `ids` (one of the client's lists) that the client sees, in that order.
    pub fn seen<'a>(
        &'a self,
        ids: &'a [String],
        scopes: &'a [Scope],
    ) -> impl Iterator<Item = &'a Scope> + 'a {
        (ids.iter())
            .filter_map(|id| scopes.iter().find(|s| s.id == *id))
            .filter(|s| self.sees(s))
    }

    /// Links `scope` as a default or optional one, as `PUT …/default-client-scopes/{id}` does:
    /// not a scope of another protocol, nor one the client has in either list (a scope that
    /// is optional stays optional; `ClientAdapter.addClientScopes`).
    pub fn link(&mut self, scope: &Scope, default: bool) {
        let linked =
            self.default_scopes.contains(&scope.id) || self.optional_scopes.contains(&scope.id);
        if linked || !self.sees(scope) {
            return;
        }
        match default {
            true => self.default_scopes.push(scope.id.clone()),
            false => self.optional_scopes.push(scope.id.clone()),
        }
    }

    /// ClientManager.enableServiceAccount / disableServiceAccount (26.1 and later): the realm's
    /// `service_account` scope is added as a default scope with the service account and removed
    /// with it (seen on 26.7.3: create, PUT `false`, PUT `true`).
    pub fn follow_service_account_scope(&mut self) {
        let Some(scope) = self.service_account_scope.clone() else {
            return;
        };
        let has = self.default_scopes.contains(&scope);
        if self.service_accounts_enabled && !has {
            self.default_scopes.push(scope);
        } else if !self.service_accounts_enabled && has {
            self.default_scopes.retain(|s| *s != scope);
        }
    }
}

impl Realm {
    /// `PUT …/clients/{id}` on the model ([`ClientModel::update`]); `None` without such a
    /// client. When the protocol changes, the client is given the realm's default and optional
    /// scopes of its new protocol that it has in neither list (seen on 22.0.5 and 26.7.4: a
    /// default scope removed by hand comes back after a round trip through `saml`).
    pub fn update_client(
        &mut self,
        id: &str,
        rep: &Map<String, Value>,
        version: Version,
    ) -> Option<Result<(), Refusal>> {
        let client = self.clients.get_mut(id)?;
        let before = client.protocol.clone();
        if let Err(refusal) = client.update(rep, version) {
            return Some(Err(refusal));
        }
        if client.protocol != before {
            for (ids, default) in [(&self.default_scopes, true), (&self.optional_scopes, false)] {
                for scope in self.scopes.iter().filter(|s| ids.contains(&s.id)) {
                    client.link(scope, default);
                }
            }
        }
        Some(Ok(()))
    }
}
