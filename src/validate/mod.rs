//! Validate step (pure): the raw spec becomes a [`Validated`] value with defaults applied, or a
//! specific, user-facing error. CEL rules in the CRD reject most of this at admission already;
//! this repeats them so a cluster without CEL, or an object written before a rule existed,
//! still gets a clear answer.

mod columns;
mod fields;
pub mod java_uri;
mod outputs;

use std::collections::BTreeMap;

use columns::{distinct_in_any_case, national, stored};
pub use fields::{
    base_url, ca_bundle, check_dns_subdomain, check_realm_name, is_reserved_metadata_key,
};
use fields::{check_keycloak_uri, check_redirect_uri, check_web_origin, non_empty_or};
pub use outputs::DEFAULT_VALUES_KEY;

use crate::crd::{DeletionPolicy, OpenMetadataKeycloakClient, WorkloadKind};

/// Default Secret name: what OpenMetadata's chart reads (`oidcConfiguration.clientId.secretRef`).
pub const DEFAULT_SECRET_NAME: &str = "oidc-secrets";
/// Default key for the client id.
pub const DEFAULT_CLIENT_ID_KEY: &str = "openmetadata-oidc-client-id";
/// Default key for the client secret.
pub const DEFAULT_CLIENT_SECRET_KEY: &str = "openmetadata-oidc-client-secret";
/// Default display name of the client.
pub const DEFAULT_CLIENT_NAME: &str = "OpenMetadata";
/// Default realm for admin credentials.
pub const DEFAULT_ADMIN_REALM: &str = "master";

/// A spec that passed validation, with every default applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Validated {
    /// Namespace of the resource (the Secret and the credentials live there).
    pub namespace: String,
    pub name: String,
    /// Resource UID (the output Secret's owner reference).
    pub uid: String,
    /// The owner marker this resource puts on its client: unique across clusters and
    /// installations (`<installation>/<namespace>/<name>`).
    pub owner: String,
    /// Which Keycloak, and how to sign in.
    pub connection: ConnectionSource,
    pub realm: String,
    /// OpenMetadata base URL without a trailing slash.
    pub openmetadata_url: String,
    pub extra_redirect_uris: Vec<String>,
    pub extra_web_origins: Vec<String>,
    /// Where Keycloak may send users after logout.
    pub post_logout_redirect_uris: Vec<String>,
    /// The ConfigMap of OpenMetadata Helm values to write, if asked.
    pub values: Option<ValuesTarget>,
    /// OpenMetadata's initial admins (values ConfigMap).
    pub initial_admins: Vec<String>,
    /// OpenMetadata's principal domain (values ConfigMap).
    pub principal_domain: Option<String>,
    /// The value of the `omkc.dev/rotate` annotation: a rotation asked for on demand.
    pub rotate_token: Option<String>,
    pub client_id: String,
    pub client_name: String,
    pub description: Option<String>,
    pub implicit_flow: bool,
    /// Whether the client requires PKCE (S256).
    pub require_pkce: bool,
    /// Service account switch: `None` leaves Keycloak's value alone (forced on by
    /// authorization services).
    pub service_accounts: Option<bool>,
    /// Authorization services switch: `None` leaves Keycloak's value alone.
    pub authorization_services: Option<bool>,
    /// Whether an unowned existing client may be taken over.
    pub adopt_existing: bool,
    pub secret: SecretTarget,
    /// Deletion policy as written; `None`: delete a client this resource created, retain one
    /// it adopted.
    pub deletion_policy: Option<DeletionPolicy>,
}

/// Where the Keycloak connection comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectionSource {
    /// A `ClusterKeycloakConnection`, by name.
    Cluster(String),
    /// A URL and a credentials Secret in the resource's namespace.
    Inline(InlineConnection),
}

/// A connection given in the resource itself.
#[derive(Clone, Debug, PartialEq)]
pub struct InlineConnection {
    /// Keycloak base URL without a trailing slash (`/auth` kept when given).
    pub url: String,
    /// The URL browsers use, when it differs.
    pub public_url: Option<String>,
    /// Realm the admin credentials belong to.
    pub admin_realm: String,
    /// Name of the credentials Secret (in the resource's namespace).
    pub credentials_secret: String,
    /// Optional PEM CA bundle.
    pub ca_bundle: Option<String>,
}

/// Where and how the output Secret is written.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretTarget {
    pub name: String,
    pub client_id_key: String,
    pub client_secret_key: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub rotation_interval: Option<std::time::Duration>,
    /// The Secret and key the client secret comes from, instead of Keycloak.
    pub source: Option<(String, String)>,
    /// Workloads to restart when the secret changes.
    pub rollout: Vec<(WorkloadKind, String)>,
}

/// Where the OpenMetadata Helm values are written.
#[derive(Clone, Debug, PartialEq)]
pub struct ValuesTarget {
    pub name: String,
    /// Key of the values YAML.
    pub key: String,
}

/// The annotation that asks for a new client secret: each new value, one new secret.
pub const ROTATE_ANNOTATION: &str = "omkc.dev/rotate";
/// Shortest rotation interval.
pub const MIN_ROTATION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Why a spec was refused. Messages name the field and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidSpec {
    /// Path of the offending field, e.g. `spec.keycloak.realm`.
    pub field: String,
    pub message: String,
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> InvalidSpec {
    InvalidSpec {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Checks the resource and applies defaults. `installation` identifies this operator's
/// installation (the owner marker must be unique across clusters sharing a Keycloak).
pub fn validate(
    obj: &OpenMetadataKeycloakClient,
    installation: &str,
) -> Result<Validated, InvalidSpec> {
    let name = obj
        .metadata
        .name
        .clone()
        .ok_or_else(|| invalid("metadata.name", "is missing"))?;
    let namespace = obj
        .metadata
        .namespace
        .clone()
        .ok_or_else(|| invalid("metadata.namespace", "is missing"))?;
    let uid = obj
        .metadata
        .uid
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| invalid("metadata.uid", "is missing"))?;
    let spec = &obj.spec;

    let connection = connection(&spec.keycloak)?;
    let openmetadata_url = base_url("spec.openmetadata.url", &spec.openmetadata.url)?;
    // Keycloak's root URL: the callback and logout URIs only add plain characters to it.
    check_keycloak_uri("spec.openmetadata.url", &openmetadata_url, None, true)?;

    let realm = spec.keycloak.realm.trim().to_string();
    check_realm_name("spec.keycloak.realm", &realm)?;
    // Realm names compare case-insensitively on some databases: `Master` is master.
    if realm.eq_ignore_ascii_case("master") {
        return Err(invalid(
            "spec.keycloak.realm",
            "must not be master: OpenMetadata's client belongs in an application realm",
        ));
    }

    let callback = format!("{openmetadata_url}/callback");
    let what = "makes the redirect URI <url>/callback,";
    stored("spec.openmetadata.url", what, &callback)?;
    for (i, uri) in spec.openmetadata.extra_redirect_uris.iter().enumerate() {
        let field = format!("spec.openmetadata.extraRedirectUris[{i}]");
        check_redirect_uri(&field, uri, &openmetadata_url)?;
        stored(&field, "is", uri)?;
    }
    for (i, origin) in spec.openmetadata.extra_web_origins.iter().enumerate() {
        let field = format!("spec.openmetadata.extraWebOrigins[{i}]");
        check_web_origin(&field, origin)?;
        stored(&field, "is", origin)?;
    }
    let extra = &spec.openmetadata;
    let field = "spec.openmetadata.extraRedirectUris";
    distinct_in_any_case(field, "redirect URI", &callback, &extra.extra_redirect_uris)?;
    let origin = url::Url::parse(&openmetadata_url).map(|u| u.origin().ascii_serialization());
    let origin = origin.unwrap_or_default();
    let field = "spec.openmetadata.extraWebOrigins";
    distinct_in_any_case(field, "web origin", &origin, &extra.extra_web_origins)?;

    let client = spec.client.clone().unwrap_or_default();
    let client_id = non_empty_or(&client.client_id, &name);
    if client_id.chars().any(char::is_whitespace) {
        return Err(invalid(
            "spec.client.clientId",
            "must not contain white space",
        ));
    }
    stored("spec.client.clientId", "is", &client_id)?;
    for (field, value) in [("name", &client.name), ("description", &client.description)] {
        let (field, value) = (
            format!("spec.client.{field}"),
            value.as_deref().unwrap_or(""),
        );
        stored(&field, "is", value)?;
        national(&field, "holds", value)?;
    }
    let authorization_services = client.authorization_services_enabled;

    let secret = outputs::secret_target(spec.secret.clone().unwrap_or_default())?;
    let rotate_token = outputs::rotate_token(obj, &secret)?;
    let post_logout_redirect_uris =
        outputs::post_logout_redirect_uris(&spec.openmetadata, &openmetadata_url)?;
    let values = outputs::values_target(&spec.openmetadata)?;

    if installation.is_empty() || installation.contains('/') {
        return Err(invalid(
            "the operator's installation id",
            "must be non-empty and contain no '/'",
        ));
    }
    Ok(Validated {
        owner: format!("{installation}/{namespace}/{name}"),
        namespace,
        name,
        uid,
        connection,
        realm,
        openmetadata_url,
        extra_redirect_uris: spec.openmetadata.extra_redirect_uris.clone(),
        extra_web_origins: spec.openmetadata.extra_web_origins.clone(),
        post_logout_redirect_uris,
        values,
        initial_admins: spec
            .openmetadata
            .initial_admins
            .iter()
            .map(|a| a.trim().to_string())
            .collect(),
        principal_domain: spec
            .openmetadata
            .principal_domain
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        rotate_token,
        client_id,
        client_name: non_empty_or(&client.name, DEFAULT_CLIENT_NAME),
        description: client.description.filter(|d| !d.is_empty()),
        implicit_flow: client.implicit_flow_enabled.unwrap_or(false),
        require_pkce: client.require_pkce.unwrap_or(false),
        // Keycloak fails with 500 when authorization is on without a service account.
        service_accounts: if authorization_services == Some(true) {
            Some(true)
        } else {
            client.service_accounts_enabled
        },
        authorization_services,
        adopt_existing: client.adopt_existing.unwrap_or(false),
        secret,
        deletion_policy: spec.deletion_policy,
    })
}

/// The connection part of the spec (CEL checks the same shape at admission).
fn connection(spec: &crate::crd::KeycloakSpec) -> Result<ConnectionSource, InvalidSpec> {
    let inline_only = [
        (
            "spec.keycloak.credentialsSecretRef",
            spec.credentials_secret_ref.is_some(),
        ),
        ("spec.keycloak.adminRealm", spec.admin_realm.is_some()),
        ("spec.keycloak.caBundle", spec.ca_bundle.is_some()),
        ("spec.keycloak.publicUrl", spec.public_url.is_some()),
    ];
    match (&spec.connection_ref, &spec.url) {
        (Some(_), Some(_)) | (None, None) => Err(invalid(
            "spec.keycloak",
            "set either connectionRef, or url with credentialsSecretRef",
        )),
        (Some(reference), None) => {
            if let Some((field, _)) = inline_only.iter().find(|(_, set)| *set) {
                return Err(invalid(
                    field,
                    "must not be set with connectionRef: the connection holds the URL, credentials and CA",
                ));
            }
            let name = reference.name.trim().to_string();
            check_dns_subdomain("spec.keycloak.connectionRef.name", &name)?;
            Ok(ConnectionSource::Cluster(name))
        }
        (None, Some(url)) => {
            let url = base_url("spec.keycloak.url", url)?;
            let public_url = spec
                .public_url
                .as_deref()
                .map(|u| base_url("spec.keycloak.publicUrl", u))
                .transpose()?;
            let credentials_secret = spec
                .credentials_secret_ref
                .as_ref()
                .map(|r| r.name.trim().to_string())
                .ok_or_else(|| {
                    invalid("spec.keycloak.credentialsSecretRef", "is required with url")
                })?;
            check_dns_subdomain(
                "spec.keycloak.credentialsSecretRef.name",
                &credentials_secret,
            )?;
            let admin_realm = non_empty_or(&spec.admin_realm, DEFAULT_ADMIN_REALM);
            check_realm_name("spec.keycloak.adminRealm", &admin_realm)?;
            Ok(ConnectionSource::Inline(InlineConnection {
                url,
                public_url,
                admin_realm,
                credentials_secret,
                ca_bundle: ca_bundle("spec.keycloak.caBundle", spec.ca_bundle.as_deref())?,
            }))
        }
    }
}

#[cfg(test)]
mod tests;
