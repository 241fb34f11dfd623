//! Desired state (pure): what the Keycloak client should be for a [`Validated`] spec, and how
//! an observed client differs from it. The output Secret is in [`secret`], the values
//! published for OpenMetadata in [`values`].

mod secret;
mod values;

pub use secret::{RotationMarks, output_secret, owner_reference, secret_holds, secret_labels};
pub use values::{
    config_map_holds, helm_values, helm_values_yaml, openmetadata_values, values_config_map,
};

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
};

use keycloak::types::ClientRepresentation;
use url::Url;

use crate::{
    names::{ADOPTED_ATTRIBUTE, OWNER_ATTRIBUTE, OWNER_UID_ATTRIBUTE, POST_LOGOUT_ATTRIBUTE},
    validate::Validated,
};

/// Default client scopes OpenMetadata needs (`openid` is implicit in OpenID Connect).
pub const REQUIRED_SCOPES: [&str; 2] = ["email", "profile"];

/// The owner marker of clients made before markers named the installation.
fn legacy_owner(v: &Validated) -> String {
    format!("{}/{}", v.namespace, v.name)
}

/// Who a Keycloak client belongs to, from this resource's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Created or adopted by this resource.
    Ours,
    /// Made by someone else (by hand, or another tool): no owner marker.
    Unowned,
    /// Owned by another OpenMetadataKeycloakClient (`installation/namespace/name`).
    OtherResource(String),
    /// Made by an earlier resource of this namespace and name (another uid: a resource deleted
    /// with `Retain`, a recreated namespace, another team): not this resource's until it adopts it.
    EarlierResource(String),
}

/// Reads the owner marker of an existing client. The marker names the installation, so
/// another cluster's resource of the same namespace and name is another owner. A marker of the
/// older `namespace/name` form counts as ours only for the very client whose id this resource's
/// status recorded (`known_uuid`); the next update rewrites it.
pub fn ownership(
    client: &ClientRepresentation,
    v: &Validated,
    known_uuid: Option<&str>,
) -> Ownership {
    let marker = client
        .attributes
        .as_ref()
        .and_then(|a| a.get(OWNER_ATTRIBUTE))
        .filter(|m| !m.is_empty());
    let recorded = known_uuid.is_some() && client.id.as_deref() == known_uuid;
    // Clients marked before the uid was recorded carry none: the name decides for them.
    let other_uid = client
        .attributes
        .as_ref()
        .and_then(|a| a.get(OWNER_UID_ATTRIBUTE))
        .filter(|u| !u.is_empty() && **u != v.uid);
    match marker {
        None => Ownership::Unowned,
        Some(m) if *m == v.owner => match other_uid {
            Some(uid) => Ownership::EarlierResource(uid.clone()),
            None => Ownership::Ours,
        },
        Some(m) if *m == legacy_owner(v) && recorded => Ownership::Ours,
        Some(m) => Ownership::OtherResource(m.to_string()),
    }
}

/// `<openmetadata>/callback`, where OpenMetadata receives the authorization code.
pub fn callback_url(v: &Validated) -> String {
    format!("{}/callback", v.openmetadata_url)
}

/// The origin (`scheme://host[:port]`) of OpenMetadata's URL.
pub fn openmetadata_origin(v: &Validated) -> String {
    Url::parse(&v.openmetadata_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| v.openmetadata_url.clone())
}

/// Redirect URIs: the callback first, then the extra ones, without duplicates.
pub fn redirect_uris(v: &Validated) -> Vec<String> {
    dedup(std::iter::once(callback_url(v)).chain(v.extra_redirect_uris.iter().cloned()))
}

/// Web origins: OpenMetadata's origin, then the extra ones, without duplicates.
pub fn web_origins(v: &Validated) -> Vec<String> {
    dedup(std::iter::once(openmetadata_origin(v)).chain(v.extra_web_origins.iter().cloned()))
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

/// The attributes the operator manages (Keycloak merges attributes key by key, so the others
/// on the client are left alone).
pub fn managed_attributes(v: &Validated) -> HashMap<String, String> {
    HashMap::from([
        // Keycloak keeps the list in one attribute, separated by `##`.
        (
            POST_LOGOUT_ATTRIBUTE.to_string(),
            v.post_logout_redirect_uris.join("##"),
        ),
        (OWNER_ATTRIBUTE.to_string(), v.owner.clone()),
        (OWNER_UID_ATTRIBUTE.to_string(), v.uid.clone()),
    ])
}

/// The client as the operator wants it: only managed fields are set, so the same value works as
/// a creation body and as a partial update. Scopes are not in it (Keycloak ignores them in
/// updates and replaces the realm defaults with them on creation).
pub fn desired_client(v: &Validated) -> ClientRepresentation {
    ClientRepresentation {
        client_id: Some(v.client_id.clone()),
        name: Some(v.client_name.clone()),
        description: v.description.clone(),
        enabled: Some(true),
        protocol: Some("openid-connect".into()),
        public_client: Some(false),
        bearer_only: Some(false),
        client_authenticator_type: Some("client-secret".into()),
        standard_flow_enabled: Some(true),
        implicit_flow_enabled: Some(v.implicit_flow),
        direct_access_grants_enabled: Some(false),
        service_accounts_enabled: v.service_accounts,
        authorization_services_enabled: v.authorization_services,
        root_url: Some(v.openmetadata_url.clone()),
        redirect_uris: Some(redirect_uris(v)),
        web_origins: Some(web_origins(v)),
        attributes: Some(managed_attributes(v)),
        ..Default::default()
    }
}

/// A managed field of the Keycloak client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientField {
    /// `name`.
    Name,
    /// `description`.
    Description,
    /// `enabled`.
    Enabled,
    /// `protocol`.
    Protocol,
    /// `publicClient`.
    PublicClient,
    /// `bearerOnly`.
    BearerOnly,
    /// `clientAuthenticatorType`.
    ClientAuthenticatorType,
    /// `standardFlowEnabled`.
    StandardFlowEnabled,
    /// `implicitFlowEnabled`.
    ImplicitFlowEnabled,
    /// `directAccessGrantsEnabled`.
    DirectAccessGrantsEnabled,
    /// `serviceAccountsEnabled`.
    ServiceAccountsEnabled,
    /// `authorizationServicesEnabled`.
    AuthorizationServicesEnabled,
    /// `rootUrl`.
    RootUrl,
    /// `redirectUris`.
    RedirectUris,
    /// `webOrigins`.
    WebOrigins,
    /// The managed keys of `attributes`.
    Attributes,
}

impl ClientField {
    /// The field's name in Keycloak's ClientRepresentation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Description => "description",
            Self::Enabled => "enabled",
            Self::Protocol => "protocol",
            Self::PublicClient => "publicClient",
            Self::BearerOnly => "bearerOnly",
            Self::ClientAuthenticatorType => "clientAuthenticatorType",
            Self::StandardFlowEnabled => "standardFlowEnabled",
            Self::ImplicitFlowEnabled => "implicitFlowEnabled",
            Self::DirectAccessGrantsEnabled => "directAccessGrantsEnabled",
            Self::ServiceAccountsEnabled => "serviceAccountsEnabled",
            Self::AuthorizationServicesEnabled => "authorizationServicesEnabled",
            Self::RootUrl => "rootUrl",
            Self::RedirectUris => "redirectUris",
            Self::WebOrigins => "webOrigins",
            Self::Attributes => "attributes",
        }
    }
}

impl fmt::Display for ClientField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The managed fields where what Keycloak reports (`observed`) differs from what the spec means
/// (`desired`); empty when converged. A field the spec leaves unset is not compared. A field
/// Keycloak omits is read as Keycloak's default: `authorizationServicesEnabled` only ever
/// appears as `true`. URI lists compare as sets (Keycloak keeps them unordered); attributes
/// compare on the managed keys only (Keycloak adds its own).
pub fn client_drift(
    observed: &ClientRepresentation,
    desired: &ClientRepresentation,
) -> Vec<ClientField> {
    let mut drift = Vec::new();
    macro_rules! scalar {
        ($field:ident, $name:ident) => {
            scalar!($field, $name, None)
        };
        ($field:ident, $name:ident, $absent:expr) => {
            if desired.$field.is_some() && observed.$field.clone().or($absent) != desired.$field {
                drift.push(ClientField::$name);
            }
        };
    }
    scalar!(name, Name);
    scalar!(description, Description);
    scalar!(enabled, Enabled);
    scalar!(protocol, Protocol);
    scalar!(public_client, PublicClient);
    scalar!(bearer_only, BearerOnly);
    scalar!(client_authenticator_type, ClientAuthenticatorType);
    scalar!(standard_flow_enabled, StandardFlowEnabled);
    scalar!(implicit_flow_enabled, ImplicitFlowEnabled);
    scalar!(direct_access_grants_enabled, DirectAccessGrantsEnabled);
    scalar!(
        service_accounts_enabled,
        ServiceAccountsEnabled,
        Some(false)
    );
    scalar!(
        authorization_services_enabled,
        AuthorizationServicesEnabled,
        Some(false)
    );
    scalar!(root_url, RootUrl);
    if as_set(&observed.redirect_uris) != as_set(&desired.redirect_uris) {
        drift.push(ClientField::RedirectUris);
    }
    if as_set(&observed.web_origins) != as_set(&desired.web_origins) {
        drift.push(ClientField::WebOrigins);
    }
    if let Some(wanted) = &desired.attributes {
        let have = observed.attributes.as_ref();
        if wanted
            .iter()
            .any(|(k, val)| have.and_then(|h| h.get(k)) != Some(val))
        {
            drift.push(ClientField::Attributes);
        }
    }
    drift
}

/// The body of a partial update: exactly the drifted fields, and, whenever the client has
/// authorization settings the spec does not turn off, `authorizationServicesEnabled: true`.
/// Keycloak deletes a client's resource server (resources, policies, permissions) on any PUT
/// that does not say `true`, absent included.
pub fn update_body(
    observed: &ClientRepresentation,
    desired: &ClientRepresentation,
    fields: &[ClientField],
) -> ClientRepresentation {
    let mut body = ClientRepresentation::default();
    for field in fields {
        match field {
            ClientField::Name => body.name = desired.name.clone(),
            ClientField::Description => body.description = desired.description.clone(),
            ClientField::Enabled => body.enabled = desired.enabled,
            ClientField::Protocol => body.protocol = desired.protocol.clone(),
            ClientField::PublicClient => body.public_client = desired.public_client,
            ClientField::BearerOnly => body.bearer_only = desired.bearer_only,
            ClientField::ClientAuthenticatorType => {
                body.client_authenticator_type = desired.client_authenticator_type.clone()
            }
            ClientField::StandardFlowEnabled => {
                body.standard_flow_enabled = desired.standard_flow_enabled
            }
            ClientField::ImplicitFlowEnabled => {
                body.implicit_flow_enabled = desired.implicit_flow_enabled
            }
            ClientField::DirectAccessGrantsEnabled => {
                body.direct_access_grants_enabled = desired.direct_access_grants_enabled
            }
            ClientField::ServiceAccountsEnabled => {
                body.service_accounts_enabled = desired.service_accounts_enabled
            }
            ClientField::AuthorizationServicesEnabled => {}
            ClientField::RootUrl => body.root_url = desired.root_url.clone(),
            ClientField::RedirectUris => body.redirect_uris = desired.redirect_uris.clone(),
            ClientField::WebOrigins => body.web_origins = desired.web_origins.clone(),
            ClientField::Attributes => body.attributes = desired.attributes.clone(),
        }
    }
    let has_authorization = observed.authorization_services_enabled == Some(true);
    let turned_off = desired.authorization_services_enabled == Some(false);
    let turned_on = desired.authorization_services_enabled == Some(true);
    body.authorization_services_enabled = if turned_on || (has_authorization && !turned_off) {
        Some(true)
    } else if turned_off && has_authorization {
        Some(false)
    } else {
        None
    };
    // Keycloak refuses authorization without a service account; and before 26.0 a PUT that did
    // not say `serviceAccountsEnabled: true` removed the client's service-account user and its
    // role mappings (the flag stayed, so nothing would show the loss).
    let has_service_account = observed.service_accounts_enabled == Some(true);
    let kept = has_service_account && desired.service_accounts_enabled != Some(false);
    if turned_on || kept {
        body.service_accounts_enabled = Some(true);
    }
    body
}

fn as_set(list: &Option<Vec<String>>) -> BTreeSet<&str> {
    list.iter().flatten().map(String::as_str).collect()
}

/// Which of [`REQUIRED_SCOPES`] the client lacks among its default scopes.
pub fn missing_scopes(client: &ClientRepresentation) -> Vec<String> {
    let current = client.default_client_scopes.as_deref().unwrap_or_default();
    REQUIRED_SCOPES
        .iter()
        .filter(|w| !current.iter().any(|c| c == *w))
        .map(|w| w.to_string())
        .collect()
}

/// Whether a client carries the adoption marker.
pub fn is_adopted(client: &ClientRepresentation) -> bool {
    client
        .attributes
        .as_ref()
        .and_then(|a| a.get(ADOPTED_ATTRIBUTE))
        .is_some_and(|v| v == "true")
}

#[cfg(test)]
mod tests;
