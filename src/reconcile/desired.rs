//! Desired state (pure): what the Keycloak client, the output Secret and the published values
//! should be for a [`Validated`] spec, and how an observed client differs from it.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt,
};

use k8s_openapi::{
    ByteString,
    api::core::v1::Secret,
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use keycloak::types::ClientRepresentation;
use url::Url;

use crate::{
    crd::OpenMetadataValues,
    names::{MANAGED_BY_LABEL, OPERATOR_NAME, OWNER_ATTRIBUTE, POST_LOGOUT_ATTRIBUTE},
    urls,
    validate::Validated,
};

/// Default client scopes OpenMetadata needs (`openid` is implicit in OpenID Connect).
pub const REQUIRED_SCOPES: [&str; 2] = ["email", "profile"];

/// The value of [`OWNER_ATTRIBUTE`] for a resource.
pub fn owner_value(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Who a Keycloak client belongs to, from this resource's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Created or adopted by this resource.
    Ours,
    /// Made by someone else (by hand, or another tool): no owner marker.
    Unowned,
    /// Owned by another OpenMetadataKeycloakClient (`namespace/name`).
    OtherResource(String),
}

/// Reads the owner marker of an existing client.
pub fn ownership(client: &ClientRepresentation, v: &Validated) -> Ownership {
    let marker = client
        .attributes
        .as_ref()
        .and_then(|a| a.get(OWNER_ATTRIBUTE))
        .filter(|m| !m.is_empty());
    match marker {
        None => Ownership::Unowned,
        Some(m) if *m == owner_value(&v.namespace, &v.name) => Ownership::Ours,
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
        (
            POST_LOGOUT_ATTRIBUTE.to_string(),
            format!("{}/logout", v.openmetadata_url),
        ),
        (
            OWNER_ATTRIBUTE.to_string(),
            owner_value(&v.namespace, &v.name),
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
        service_accounts_enabled: Some(v.service_accounts),
        authorization_services_enabled: Some(v.authorization_services),
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

/// The managed fields where `observed` differs from `desired` (empty: converged).
/// URI lists compare as sets: Keycloak keeps them unordered.
pub fn client_drift(
    observed: &ClientRepresentation,
    desired: &ClientRepresentation,
) -> Vec<ClientField> {
    let mut drift = Vec::new();
    macro_rules! scalar {
        ($field:ident, $name:ident) => {
            if desired.$field.is_some() && observed.$field != desired.$field {
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
    scalar!(service_accounts_enabled, ServiceAccountsEnabled);
    scalar!(authorization_services_enabled, AuthorizationServicesEnabled);
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

fn as_set(list: &Option<Vec<String>>) -> BTreeSet<&str> {
    list.iter().flatten().map(String::as_str).collect()
}

/// Which of `wanted` are not among `current` (scope names).
pub fn missing_scopes(current: &[String], wanted: &[&str]) -> Vec<String> {
    wanted
        .iter()
        .filter(|w| !current.iter().any(|c| c == *w))
        .map(|w| w.to_string())
        .collect()
}

/// The non-secret values OpenMetadata's Helm chart needs.
pub fn openmetadata_values(v: &Validated) -> OpenMetadataValues {
    let authority = urls::realm_url(&v.keycloak_url, &v.realm);
    OpenMetadataValues {
        discovery_uri: format!("{authority}/.well-known/openid-configuration"),
        public_keys: vec![
            format!("{}/api/v1/system/config/jwks", v.openmetadata_url),
            format!("{authority}/protocol/openid-connect/certs"),
        ],
        callback_url: callback_url(v),
        server_url: v.openmetadata_url.clone(),
        authority,
    }
}

/// Labels of the output Secret: the user's extra labels plus the operator's marker. Nothing is
/// copied from the resource's own labels (Argo CD's tracking label would claim the Secret).
pub fn secret_labels(v: &Validated) -> BTreeMap<String, String> {
    let mut labels = v.secret.labels.clone();
    labels.insert(MANAGED_BY_LABEL.into(), OPERATOR_NAME.into());
    labels
}

/// The output Secret for server-side apply, owned by the resource (garbage-collected with it).
pub fn output_secret(v: &Validated, owner: OwnerReference, client_secret: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(v.secret.name.clone()),
            namespace: Some(v.namespace.clone()),
            labels: Some(secret_labels(v)),
            annotations: (!v.secret.annotations.is_empty()).then(|| v.secret.annotations.clone()),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            (
                v.secret.client_id_key.clone(),
                ByteString(v.client_id.clone().into_bytes()),
            ),
            (
                v.secret.client_secret_key.clone(),
                ByteString(client_secret.as_bytes().to_vec()),
            ),
        ])),
        ..Default::default()
    }
}
