//! The emulator's model of a realm and its clients, and the two conversions Keycloak makes:
//! a representation into the model (`RepresentationToModel.createClient` / `updateClient`, with
//! `ClientResource.update`'s service-account and authorization side effects) and the model into
//! a representation (`ModelToRepresentation.toRepresentation`). Responses are always built from
//! the model, never from a request body.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::{CHANGED_IN_26_7, Realm, Version};

/// Authorization settings of a client (a resource server with its policies).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceServer {
    /// Names of the policies and permissions defined on it.
    pub policies: Vec<String>,
}

/// The service-account user of a client, with its role mappings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceAccount {
    /// Roles mapped to the service-account user.
    pub roles: Vec<String>,
}

/// A client as Keycloak stores it.
#[derive(Clone, Debug)]
pub struct ClientModel {
    pub id: String,
    pub client_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub always_display_in_console: bool,
    pub admin_url: Option<String>,
    pub root_url: Option<String>,
    pub base_url: Option<String>,
    pub public_client: bool,
    pub bearer_only: bool,
    pub frontchannel_logout: bool,
    pub protocol: String,
    pub attributes: BTreeMap<String, String>,
    /// Attributes stored without a value (older Keycloak versions, imports): shown as `null`.
    pub null_attributes: BTreeSet<String>,
    pub full_scope_allowed: bool,
    pub consent_required: bool,
    pub standard_flow_enabled: bool,
    pub implicit_flow_enabled: bool,
    pub direct_access_grants_enabled: bool,
    pub service_accounts_enabled: bool,
    pub surrogate_auth_required: bool,
    pub client_authenticator_type: String,
    pub secret: Option<String>,
    pub redirect_uris: BTreeSet<String>,
    pub web_origins: BTreeSet<String>,
    /// Ids of the default client scopes.
    pub default_scopes: Vec<String>,
    /// Ids of the optional client scopes.
    pub optional_scopes: Vec<String>,
    pub resource_server: Option<ResourceServer>,
    pub service_account: Option<ServiceAccount>,
    /// The realm's `service_account` scope (Keycloak 26.1 and later): a default scope of the
    /// client exactly while its service account is enabled.
    pub service_account_scope: Option<String>,
    /// The database it is stored in (its realm's).
    pub database: Database,
}

/// What went wrong turning a representation into the model: HTTP status and body.
pub type Refusal = (u16, Value);

fn get_bool(rep: &Map<String, Value>, key: &str) -> Option<bool> {
    rep.get(key).and_then(Value::as_bool)
}

fn get_str(rep: &Map<String, Value>, key: &str) -> Option<String> {
    rep.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A URI list. From 26.7, `RepresentationToModel` leaves out a blank entry (26.6.4 kept `""`
/// and `" "`, and its validation refused `" "`; 26.7.4 stores neither).
fn get_set(rep: &Map<String, Value>, key: &str, version: Version) -> Option<BTreeSet<String>> {
    rep.get(key).and_then(Value::as_array).map(|items| {
        items
            .iter()
            .filter_map(Value::as_str)
            .filter(|u| version < CHANGED_IN_26_7 || !u.trim().is_empty())
            .map(str::to_string)
            .collect()
    })
}

/// `UriUtils.getOrigin`: up to the first `/` from the ninth UTF-16 unit on, or all of it.
fn origin_of(uri: &str) -> String {
    let units: Vec<u16> = uri.encode_utf16().collect();
    match (8..units.len()).find(|&i| units[i] == u16::from(b'/')) {
        Some(end) => String::from_utf16_lossy(&units[..end]),
        None => uri.to_string(),
    }
}

/// A failure Keycloak did not handle (500). 22.0.5 and 23.0.7 say no more; 24.0.5 and 25.0.6 add
/// "For more on this error consult the server log at the debug level.", 26.0.8 to 26.7.4 the
/// same without "at the debug level".
pub(super) fn unknown_error(version: Version) -> Refusal {
    let description = if version >= super::SINCE_26 {
        "For more on this error consult the server log."
    } else if version >= (24, 0, 0) {
        "For more on this error consult the server log at the debug level."
    } else {
        return (500, json!({"error": "unknown_error"}));
    };
    (
        500,
        json!({"error": "unknown_error", "error_description": description}),
    )
}

impl ClientModel {
    /// `ClientResource.update`: a partial update of the scalars present, attributes merged key by
    /// key (a blank value removes the key), URI sets replaced when present, scopes ignored, a
    /// new `secret` set; the service account follows `serviceAccountsEnabled` (up to 26.0, an
    /// absent flag removed the service-account user too), and authorization is enabled by
    /// `true` and **disabled (resource server deleted) by anything else, absent included**.
    pub fn update(&mut self, rep: &Map<String, Value>, version: Version) -> Result<(), Refusal> {
        let mut next = self.clone();
        macro_rules! set_bool {
            ($key:literal, $field:ident) => {
                if let Some(v) = get_bool(rep, $key) {
                    next.$field = v;
                }
            };
        }
        macro_rules! set_opt {
            ($key:literal, $field:ident) => {
                if let Some(v) = get_str(rep, $key) {
                    next.$field = Some(v);
                }
            };
        }
        if let Some(v) = get_str(rep, "clientId") {
            next.client_id = v;
        }
        set_opt!("name", name);
        set_opt!("description", description);
        set_opt!("adminUrl", admin_url);
        set_opt!("rootUrl", root_url);
        set_opt!("baseUrl", base_url);
        set_bool!("enabled", enabled);
        set_bool!("alwaysDisplayInConsole", always_display_in_console);
        set_bool!("publicClient", public_client);
        set_bool!("bearerOnly", bearer_only);
        set_bool!("frontchannelLogout", frontchannel_logout);
        // From 25.0 to 26.5 a PUT without the flag turns front-channel logout off (seen on
        // 25.0.6, 26.0.8, 26.3.5, 26.4.7 and 26.5.6; 22.0.5, 23.0.7, 24.0.5, 26.6.4 and 26.7.4
        // keep it).
        let resets = (super::SINCE_25..(26, 6, 0)).contains(&version);
        if resets && get_bool(rep, "frontchannelLogout").is_none() {
            next.frontchannel_logout = false;
        }
        set_bool!("fullScopeAllowed", full_scope_allowed);
        set_bool!("consentRequired", consent_required);
        set_bool!("standardFlowEnabled", standard_flow_enabled);
        set_bool!("implicitFlowEnabled", implicit_flow_enabled);
        set_bool!("directAccessGrantsEnabled", direct_access_grants_enabled);
        set_bool!("surrogateAuthRequired", surrogate_auth_required);
        if let Some(v) = get_str(rep, "protocol") {
            next.protocol = v;
        }
        if let Some(v) = get_str(rep, "clientAuthenticatorType") {
            next.client_authenticator_type = v;
        }
        if let Some(attrs) = rep.get("attributes").and_then(Value::as_object) {
            for (k, v) in attrs {
                next.null_attributes.remove(k);
                match v.as_str() {
                    Some(v) if !v.trim().is_empty() => {
                        next.attributes.insert(k.clone(), v.to_string());
                    }
                    _ => {
                        next.attributes.remove(k);
                    }
                }
            }
        }
        if let Some(v) = get_set(rep, "redirectUris", version) {
            next.redirect_uris = v;
        }
        if let Some(v) = get_set(rep, "webOrigins", version) {
            next.web_origins = v;
        }
        // RepresentationToModel.updateClient: `if (rep.getSecret() != null)
        // resource.setSecret(...)`. Only KeycloakModelUtils.generateSecret (creation without a
        // secret, POST client-secret) stamps client.secret.creation.time; a PUT keeps it.
        if let Some(secret) = get_str(rep, "secret") {
            next.secret = Some(secret);
        }
        // ClientManager.updateClientServiceAccount.
        match get_bool(rep, "serviceAccountsEnabled") {
            Some(true) => {
                next.service_accounts_enabled = true;
                next.service_account
                    .get_or_insert_with(ServiceAccount::default);
            }
            Some(false) => {
                next.service_accounts_enabled = false;
                next.service_account = None;
            }
            None if !next.service_accounts_enabled => next.service_account = None,
            // Up to 26.0, ClientResource.updateClientFromRep removed the service-account user
            // (and its role mappings) unless the body said `true`; the flag stayed, so a GET
            // shows no change. Seen on real 24.0.5, 25.0.6 and 26.0.8; 26.1.4 to 26.7.4 keep it.
            None if version < super::CHANGED_IN_26_1 => next.service_account = None,
            None => {}
        }
        // ClientResource.updateAuthorizationSettings: authorization needs the service account
        // (else 500) when it makes a resource server; before 26.5 on every PUT that keeps one
        // too. So from 26.5 a PUT of `serviceAccountsEnabled: false` leaves a client with
        // authorization and no service account (seen on 26.5.6, 26.6.4 and 26.7.4; 22.0.5,
        // 26.0.8, 26.3.5 and 26.4.7 refuse it).
        let public_or_bearer = next.public_client || next.bearer_only;
        if get_bool(rep, "authorizationServicesEnabled") == Some(true) && !public_or_bearer {
            let makes = next.resource_server.is_none() || version < (26, 5, 0);
            if makes && next.service_account.is_none() {
                return Err(unknown_error(version));
            }
            next.resource_server
                .get_or_insert_with(ResourceServer::default);
        } else {
            next.resource_server = None;
        }
        next.follow_service_account_scope();
        next.stored(version)?;
        *self = next;
        Ok(())
    }

    /// Regenerates the secret (`POST .../client-secret`).
    pub fn regenerate_secret(&mut self, secret: String, now: i64) {
        self.secret = Some(secret);
        self.attributes
            .insert("client.secret.creation.time".into(), now.to_string());
    }
}

/// Keycloak keeps URI lists as hash sets: what comes back is not in the order that was sent.
/// Emulated with a fixed order that depends on the content only (a simple string hash).
fn keycloak_order(set: &BTreeSet<String>) -> Vec<String> {
    let mut items: Vec<&String> = set.iter().collect();
    items.sort_by_key(|s| {
        s.bytes()
            .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
    });
    items.into_iter().cloned().collect()
}

mod create;
mod database;
pub use database::Database;
pub mod policies;
mod representation;
mod scopes;
mod stored;

pub use scopes::Scope;
