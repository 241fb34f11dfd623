//! A client made from a representation: `RepresentationToModel.createClient`, with the OIDC
//! protocol's defaults when the body names the protocol.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::*;

impl ClientModel {
    /// `RepresentationToModel.createClient` with the OIDC protocol's client defaults.
    /// `secret` is what Keycloak would generate when the representation carries none;
    /// `realm` gives the scopes and its default ones.
    pub fn create(
        id: String,
        rep: &Map<String, Value>,
        secret: String,
        now: i64,
        realm: &Realm,
        version: Version,
    ) -> Result<Self, Refusal> {
        let scopes = &realm.scopes;
        // OIDCLoginProtocolFactory.setupClientDefaults runs only when the body names the
        // protocol (the operator's does; see `oidc_defaults`).
        let named = get_str(rep, "protocol");
        let oidc = named.as_deref() == Some("openid-connect");
        let protocol = named.unwrap_or_else(|| "openid-connect".into());
        let public_client = get_bool(rep, "publicClient").unwrap_or(oidc);
        let bearer_only = get_bool(rep, "bearerOnly").unwrap_or(false);
        // RepresentationToModel.createClient: blank values are not stored. Keycloak adds no
        // attributes of its own on a creation that names no protocol (seen on 26.0 and 26.7;
        // one that names it gets two, see `oidc_defaults`).
        let mut attributes: BTreeMap<String, String> = rep
            .get("attributes")
            .and_then(Value::as_object)
            .map(|a| {
                a.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .filter(|(_, v)| !v.trim().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        // RepresentationToModel.createClient: a given secret is set as is; only a generated one
        // (KeycloakModelUtils.generateSecret) stamps client.secret.creation.time.
        let confidential = !public_client && !bearer_only;
        let given = get_str(rep, "secret");
        if confidential && given.is_none() {
            attributes.insert("client.secret.creation.time".into(), now.to_string());
        }
        let secret = confidential.then(|| given.unwrap_or(secret));
        let of_protocol =
            |id: &String| scopes.iter().any(|s| s.id == *id && s.protocol == protocol);
        let by_name = |names: &Value| -> Vec<String> {
            names
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| scopes.iter().find(|s| Some(s.name.as_str()) == n.as_str()))
                .map(|s| s.id.clone())
                .filter(of_protocol)
                .collect()
        };
        let realm_ones =
            |ids: &[String]| ids.iter().filter(|id| of_protocol(id)).cloned().collect();
        let service_accounts_enabled = get_bool(rep, "serviceAccountsEnabled").unwrap_or(false);
        let authorization = get_bool(rep, "authorizationServicesEnabled") == Some(true);
        if authorization && !service_accounts_enabled {
            // "Client does not have a service account."
            return Err(unknown_error(version));
        }
        let mut client = Self {
            database: realm.database,
            id,
            client_id: get_str(rep, "clientId").unwrap_or_default(),
            name: get_str(rep, "name"),
            description: get_str(rep, "description"),
            enabled: get_bool(rep, "enabled").unwrap_or(true),
            always_display_in_console: get_bool(rep, "alwaysDisplayInConsole").unwrap_or(false),
            admin_url: get_str(rep, "adminUrl"),
            root_url: get_str(rep, "rootUrl"),
            base_url: get_str(rep, "baseUrl"),
            public_client,
            bearer_only,
            // Only the admin console sends frontchannelLogout: true; the server's default is false.
            frontchannel_logout: get_bool(rep, "frontchannelLogout").unwrap_or(false),
            protocol: protocol.clone(),
            attributes,
            null_attributes: BTreeSet::new(),
            full_scope_allowed: get_bool(rep, "fullScopeAllowed").unwrap_or(true),
            consent_required: get_bool(rep, "consentRequired").unwrap_or(false),
            standard_flow_enabled: get_bool(rep, "standardFlowEnabled").unwrap_or(true),
            implicit_flow_enabled: get_bool(rep, "implicitFlowEnabled").unwrap_or(false),
            // Absent on create: false (seen on 26.0 and 26.7; the console sends its own choice).
            direct_access_grants_enabled: get_bool(rep, "directAccessGrantsEnabled")
                .unwrap_or(oidc),
            service_accounts_enabled,
            surrogate_auth_required: get_bool(rep, "surrogateAuthRequired").unwrap_or(false),
            client_authenticator_type: get_str(rep, "clientAuthenticatorType")
                .unwrap_or_else(|| "client-secret".into()),
            secret,
            redirect_uris: get_set(rep, "redirectUris", version).unwrap_or_default(),
            web_origins: get_set(rep, "webOrigins", version).unwrap_or_default(),
            // A POST body's scopes *replace* the realm defaults.
            default_scopes: match rep.get("defaultClientScopes") {
                Some(names) => by_name(names),
                None => realm_ones(&realm.default_scopes),
            },
            optional_scopes: match rep.get("optionalClientScopes") {
                Some(names) => by_name(names),
                None => realm_ones(&realm.optional_scopes),
            },
            resource_server: authorization.then(ResourceServer::default),
            service_account: service_accounts_enabled.then(ServiceAccount::default),
            service_account_scope: scopes
                .iter()
                .find(|s| s.name == "service_account")
                .map(|s| s.id.clone()),
        };
        // RepresentationToModel.createClient: without webOrigins, the origins of the redirect
        // URIs that start with "http" (seen on 22.0.5 and 26.7.4; relative ones give none).
        if get_set(rep, "webOrigins", version).is_none() {
            client.web_origins = (client.redirect_uris.iter())
                .filter(|u| u.starts_with("http"))
                .map(|u| origin_of(u))
                .collect();
        }
        if oidc {
            client.oidc_defaults(rep);
        }
        client.follow_service_account_scope();
        Ok(client)
    }

    /// `OIDCLoginProtocolFactory.setupClientDefaults`, on a creation whose body names the
    /// protocol (seen alike on 22.0.5 and 26.7.4): with a root URL, a missing `adminUrl` is the
    /// root URL, and no redirect URIs (absent or empty) become `<root>/*` with the root's origin
    /// as the only web origin (replacing any sent); without a `backchannel.logout.url`
    /// attribute, the two backchannel attributes are set whatever was sent. The flags' defaults
    /// change too (`publicClient` and `directAccessGrantsEnabled` true: see `create`).
    fn oidc_defaults(&mut self, rep: &Map<String, Value>) {
        if let Some(root) = self.root_url.clone() {
            if self.redirect_uris.is_empty() {
                let sep = if root.ends_with('/') { "" } else { "/" };
                let redirect = format!("{root}{sep}*");
                self.web_origins = BTreeSet::from([origin_of(&redirect)]);
                self.redirect_uris = BTreeSet::from([redirect]);
            }
            if rep.get("adminUrl").is_none_or(Value::is_null) {
                self.admin_url = Some(root);
            }
        }
        if !self.attributes.contains_key("backchannel.logout.url") {
            for (key, value) in [
                ("backchannel.logout.session.required", "true"),
                ("backchannel.logout.revoke.offline.tokens", "false"),
            ] {
                self.attributes.insert(key.into(), value.into());
            }
        }
    }
}
