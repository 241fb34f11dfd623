//! Desired state (pure): what the Keycloak client should be for a [`Validated`] spec, and how
//! an observed client differs from it. The output Secret is in `secret.rs`, the values
//! published for OpenMetadata in `values.rs`.

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
    names::{
        ADOPTED_ATTRIBUTE, OWNER_ATTRIBUTE, OWNER_UID_ATTRIBUTE, PKCE_ATTRIBUTE,
        POST_LOGOUT_ATTRIBUTE,
    },
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
        // Blank: Keycloak removes the attribute, and requires no PKCE.
        (
            PKCE_ATTRIBUTE.to_string(),
            if v.require_pkce { "S256" } else { "" }.to_string(),
        ),
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

/// The managed fields of the Keycloak client, in one list: each one's variant of
/// [`ClientField`], its field of `ClientRepresentation`, its name in Keycloak's JSON, and how
/// [`client_drift`] compares what Keycloak reports with what the spec means.
macro_rules! managed_fields {
    ($($variant:ident: $field:ident, $json:literal, $same:ident;)*) => {
        /// A managed field of the Keycloak client.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ClientField {
            $($variant,)*
        }

        impl ClientField {
            /// Every managed field, in the list's order.
            pub const ALL: &[ClientField] = &[$(Self::$variant,)*];

            /// The field's name in Keycloak's ClientRepresentation.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $json,)*
                }
            }

            /// The managed fields `rep` sets (those an update body sends).
            pub fn set_in(rep: &ClientRepresentation) -> Vec<ClientField> {
                let mut set = Vec::new();
                $(if rep.$field.is_some() {
                    set.push(Self::$variant);
                })*
                set
            }

            /// Sets this field of `to` to its value in `from`.
            fn copy(self, from: &ClientRepresentation, to: &mut ClientRepresentation) {
                match self {
                    $(Self::$variant => to.$field = from.$field.clone(),)*
                }
            }
        }

        /// The managed fields where what Keycloak reports (`observed`) differs from what the
        /// spec means (`desired`), in the list's order; empty when converged.
        pub fn client_drift(
            observed: &ClientRepresentation,
            desired: &ClientRepresentation,
        ) -> Vec<ClientField> {
            let mut drift = Vec::new();
            $(if !$same(&observed.$field, &desired.$field) {
                drift.push(ClientField::$variant);
            })*
            drift
        }
    };
}

managed_fields! {
    ClientId: client_id, "clientId", same;
    Name: name, "name", same;
    Description: description, "description", same;
    Enabled: enabled, "enabled", same;
    Protocol: protocol, "protocol", same;
    PublicClient: public_client, "publicClient", same;
    BearerOnly: bearer_only, "bearerOnly", same;
    ClientAuthenticatorType: client_authenticator_type, "clientAuthenticatorType", same;
    StandardFlowEnabled: standard_flow_enabled, "standardFlowEnabled", same;
    ImplicitFlowEnabled: implicit_flow_enabled, "implicitFlowEnabled", same;
    DirectAccessGrantsEnabled: direct_access_grants_enabled, "directAccessGrantsEnabled", same;
    ServiceAccountsEnabled: service_accounts_enabled, "serviceAccountsEnabled", same_or_false;
    AuthorizationServicesEnabled:
        authorization_services_enabled, "authorizationServicesEnabled", same_or_false;
    RootUrl: root_url, "rootUrl", same;
    RedirectUris: redirect_uris, "redirectUris", same_set;
    WebOrigins: web_origins, "webOrigins", same_set;
    Attributes: attributes, "attributes", same_managed_keys;
}

impl fmt::Display for ClientField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field the spec leaves unset is not compared.
fn same<T: PartialEq>(observed: &Option<T>, desired: &Option<T>) -> bool {
    desired.is_none() || observed == desired
}

/// A flag Keycloak omits when false (`authorizationServicesEnabled` only ever appears as `true`).
fn same_or_false(observed: &Option<bool>, desired: &Option<bool>) -> bool {
    same(&observed.or(Some(false)), desired)
}

/// URI lists compare as sets: Keycloak keeps them unordered.
fn same_set(observed: &Option<Vec<String>>, desired: &Option<Vec<String>>) -> bool {
    as_set(observed) == as_set(desired)
}

/// Attributes compare on the managed keys only: Keycloak adds its own. A blank value is one
/// Keycloak does not store: absent.
fn same_managed_keys(
    observed: &Option<HashMap<String, String>>,
    desired: &Option<HashMap<String, String>>,
) -> bool {
    drifted_attributes(observed, desired).is_empty()
}

/// The managed attribute keys whose observed value differs from the desired one.
pub fn drifted_attributes<'a>(
    observed: &Option<HashMap<String, String>>,
    desired: &'a Option<HashMap<String, String>>,
) -> Vec<&'a str> {
    let have = |k: &str| observed.as_ref().and_then(|h| h.get(k)).map_or("", |v| v);
    let mut keys: Vec<&str> = (desired.iter().flatten())
        .filter(|(k, val)| have(k) != val.as_str())
        .map(|(k, _)| k.as_str())
        .collect();
    keys.sort_unstable();
    keys
}

/// The body of a partial update: exactly the drifted fields, the three that client policies read
/// (`implicitFlowEnabled`, `clientAuthenticatorType`, the managed attributes), the client's own
/// `frontchannelLogout`, and, whenever the client has authorization settings the spec does not
/// turn off, `authorizationServicesEnabled: true`.
/// Keycloak deletes a client's resource server (resources, policies, permissions) on any PUT
/// that does not say `true`, absent included.
pub fn update_body(
    observed: &ClientRepresentation,
    desired: &ClientRepresentation,
    fields: &[ClientField],
) -> ClientRepresentation {
    let mut body = ClientRepresentation::default();
    for field in fields {
        field.copy(desired, &mut body);
    }
    // Three fields a realm's client policies read in every update (seen on 26.0, 26.6, 26.7):
    // `reject-implicit-grant` (without auto-configure) fails an update without the first with
    // HTTP 500 (a NullPointerException); `secure-client-authenticator` gives an update without
    // the second its default authenticator (client-jwt: the client secret would stop working);
    // `pkce-enforcer` refuses an update whose attributes do not say S256, whatever the client
    // has. Keycloak merges attributes key by key: the managed ones are sent again as they are.
    body.implicit_flow_enabled = desired.implicit_flow_enabled;
    body.client_authenticator_type = desired.client_authenticator_type.clone();
    body.attributes = desired.attributes.clone();
    // Not managed, but sent as the client has it: from 25.0 to 26.5 a PUT without it turns
    // front-channel logout off (seen on 25.0.6, 26.0.8, 26.3.5, 26.4.7 and 26.5.6; 24.0.5 and
    // 26.6.4 keep it).
    body.frontchannel_logout = observed.frontchannel_logout;
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
    // Keycloak refuses authorization without a service account; and up to 26.0 a PUT that did
    // not say `serviceAccountsEnabled: true` removed the client's service-account user and its
    // role mappings (the flag stayed, so nothing would show the loss; seen on 24.0.5, 25.0.6 and
    // 26.0.8).
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
