//! A client's representation as Keycloak's ModelToRepresentation builds it, for what an account may see.

use super::*;

impl ClientModel {
    fn confidential(&self) -> bool {
        !self.public_client && !self.bearer_only
    }

    /// `ModelToRepresentation.toRepresentation`, plus the `access` object the resource adds.
    /// Null fields are omitted; `authorizationServicesEnabled` only appears when a resource
    /// server exists; sets come back in an order of Keycloak's own (not the insertion order);
    /// `secret` for a confidential client, shown as `mask` when one is given (a viewer's
    /// view from 26.8 on).
    pub fn representation(&self, scopes: &[Scope], mask: Option<&str>) -> Value {
        let mut rep = Map::new();
        let mut put = |k: &str, v: Value| {
            rep.insert(k.to_string(), v);
        };
        put("id", json!(self.id));
        put("clientId", json!(self.client_id));
        for (k, v) in [
            ("name", &self.name),
            ("description", &self.description),
            ("adminUrl", &self.admin_url),
            ("rootUrl", &self.root_url),
            ("baseUrl", &self.base_url),
        ] {
            if let Some(v) = v {
                put(k, json!(v));
            }
        }
        put("surrogateAuthRequired", json!(self.surrogate_auth_required));
        put("enabled", json!(self.enabled));
        put(
            "alwaysDisplayInConsole",
            json!(self.always_display_in_console),
        );
        put(
            "clientAuthenticatorType",
            json!(self.client_authenticator_type),
        );
        if self.confidential()
            && let Some(s) = &self.secret
        {
            put("secret", json!(mask.unwrap_or(s)));
        }
        put("redirectUris", json!(keycloak_order(&self.redirect_uris)));
        put("webOrigins", json!(keycloak_order(&self.web_origins)));
        put("notBefore", json!(0));
        put("bearerOnly", json!(self.bearer_only));
        put("consentRequired", json!(self.consent_required));
        put("standardFlowEnabled", json!(self.standard_flow_enabled));
        put("implicitFlowEnabled", json!(self.implicit_flow_enabled));
        put(
            "directAccessGrantsEnabled",
            json!(self.direct_access_grants_enabled),
        );
        put(
            "serviceAccountsEnabled",
            json!(self.service_accounts_enabled),
        );
        if self.resource_server.is_some() {
            put("authorizationServicesEnabled", json!(true));
        }
        put("publicClient", json!(self.public_client));
        put("frontchannelLogout", json!(self.frontchannel_logout));
        put("protocol", json!(self.protocol));
        let mut attributes: Map<String, Value> = self
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        for k in &self.null_attributes {
            attributes.insert(k.clone(), Value::Null);
        }
        // ModelToRepresentation reports the client's realm-client flag as an attribute.
        attributes
            .entry("realm_client")
            .or_insert_with(|| json!("false"));
        put("attributes", Value::Object(attributes));
        put("authenticationFlowBindingOverrides", json!({}));
        put("fullScopeAllowed", json!(self.full_scope_allowed));
        put("nodeReRegistrationTimeout", json!(-1));
        let names = |ids: &[String]| -> Vec<String> {
            self.seen(ids, scopes).map(|s| s.name.clone()).collect()
        };
        put("defaultClientScopes", json!(names(&self.default_scopes)));
        put("optionalClientScopes", json!(names(&self.optional_scopes)));
        put(
            "access",
            json!({"view": true, "configure": true, "manage": true}),
        );
        Value::Object(rep)
    }
}
