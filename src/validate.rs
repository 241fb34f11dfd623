//! Validate step (pure): the raw spec becomes a [`Validated`] value with defaults applied, or a
//! specific, user-facing error. CEL rules in the CRD reject most of this at admission already;
//! this repeats them so a cluster without CEL, or an object written before a rule existed,
//! still gets a clear answer.

use std::collections::BTreeMap;

use url::Url;

use crate::crd::{DeletionPolicy, OpenMetadataKeycloakClient};

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
    /// Resource name.
    pub name: String,
    /// Resource UID (the output Secret's owner reference).
    pub uid: String,
    /// Keycloak base URL without a trailing slash (`/auth` kept when given).
    pub keycloak_url: String,
    /// Realm holding the client.
    pub realm: String,
    /// Realm the admin credentials belong to.
    pub admin_realm: String,
    /// Name of the credentials Secret.
    pub credentials_secret: String,
    /// Optional PEM CA bundle.
    pub ca_bundle: Option<String>,
    /// OpenMetadata base URL without a trailing slash.
    pub openmetadata_url: String,
    /// Extra redirect URIs.
    pub extra_redirect_uris: Vec<String>,
    /// Extra web origins.
    pub extra_web_origins: Vec<String>,
    /// Keycloak client id.
    pub client_id: String,
    /// Display name.
    pub client_name: String,
    /// Description.
    pub description: Option<String>,
    /// Implicit flow switch.
    pub implicit_flow: bool,
    /// Service account switch: `None` leaves Keycloak's value alone (forced on by
    /// authorization services).
    pub service_accounts: Option<bool>,
    /// Authorization services switch: `None` leaves Keycloak's value alone.
    pub authorization_services: Option<bool>,
    /// Whether an unowned existing client may be taken over.
    pub adopt_existing: bool,
    /// Output Secret settings.
    pub secret: SecretTarget,
    /// Deletion policy as written; `None`: delete a client this resource created, retain one
    /// it adopted.
    pub deletion_policy: Option<DeletionPolicy>,
}

/// Where and how the output Secret is written.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretTarget {
    /// Secret name.
    pub name: String,
    /// Key for the client id.
    pub client_id_key: String,
    /// Key for the client secret.
    pub client_secret_key: String,
    /// Extra labels.
    pub labels: BTreeMap<String, String>,
    /// Extra annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Why a spec was refused. Messages name the field and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidSpec {
    /// Path of the offending field, e.g. `spec.keycloak.realm`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> InvalidSpec {
    InvalidSpec {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Checks the resource and applies defaults.
pub fn validate(obj: &OpenMetadataKeycloakClient) -> Result<Validated, InvalidSpec> {
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

    let keycloak_url = base_url("spec.keycloak.url", &spec.keycloak.url)?;
    let openmetadata_url = base_url("spec.openmetadata.url", &spec.openmetadata.url)?;

    let realm = spec.keycloak.realm.trim().to_string();
    if realm.is_empty() {
        return Err(invalid("spec.keycloak.realm", "must not be empty"));
    }
    if realm == "master" {
        return Err(invalid(
            "spec.keycloak.realm",
            "must not be master: OpenMetadata's client belongs in an application realm",
        ));
    }
    let admin_realm = non_empty_or(&spec.keycloak.admin_realm, DEFAULT_ADMIN_REALM);
    let credentials_secret = spec.keycloak.credentials_secret_ref.name.trim().to_string();
    check_dns_subdomain(
        "spec.keycloak.credentialsSecretRef.name",
        &credentials_secret,
    )?;
    let ca_bundle = match spec.keycloak.ca_bundle.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Some(pem.to_string()),
        Some(_) => {
            return Err(invalid(
                "spec.keycloak.caBundle",
                "must hold PEM certificates (-----BEGIN CERTIFICATE-----)",
            ));
        }
    };

    for (i, uri) in spec.openmetadata.extra_redirect_uris.iter().enumerate() {
        check_redirect_uri(&format!("spec.openmetadata.extraRedirectUris[{i}]"), uri)?;
    }
    for (i, origin) in spec.openmetadata.extra_web_origins.iter().enumerate() {
        check_web_origin(&format!("spec.openmetadata.extraWebOrigins[{i}]"), origin)?;
    }

    let client = spec.client.clone().unwrap_or_default();
    let client_id = non_empty_or(&client.client_id, &name);
    if client_id.chars().any(char::is_whitespace) {
        return Err(invalid(
            "spec.client.clientId",
            "must not contain white space",
        ));
    }
    let authorization_services = client.authorization_services_enabled;

    let out = spec.secret.clone().unwrap_or_default();
    let secret = SecretTarget {
        name: non_empty_or(&out.name, DEFAULT_SECRET_NAME),
        client_id_key: non_empty_or(&out.client_id_key, DEFAULT_CLIENT_ID_KEY),
        client_secret_key: non_empty_or(&out.client_secret_key, DEFAULT_CLIENT_SECRET_KEY),
        labels: out.labels,
        annotations: out.annotations,
    };
    check_dns_subdomain("spec.secret.name", &secret.name)?;
    check_secret_key("spec.secret.clientIdKey", &secret.client_id_key)?;
    check_secret_key("spec.secret.clientSecretKey", &secret.client_secret_key)?;
    if secret.client_id_key == secret.client_secret_key {
        return Err(invalid(
            "spec.secret.clientSecretKey",
            "must differ from spec.secret.clientIdKey",
        ));
    }
    for key in secret.labels.keys().chain(secret.annotations.keys()) {
        if is_reserved_metadata_key(key) {
            return Err(invalid(
                "spec.secret",
                format!("label or annotation {key:?} is reserved: the operator or Argo CD sets it"),
            ));
        }
    }

    Ok(Validated {
        namespace,
        name,
        uid,
        keycloak_url,
        realm,
        admin_realm,
        credentials_secret,
        ca_bundle,
        openmetadata_url,
        extra_redirect_uris: spec.openmetadata.extra_redirect_uris.clone(),
        extra_web_origins: spec.openmetadata.extra_web_origins.clone(),
        client_id,
        client_name: non_empty_or(&client.name, DEFAULT_CLIENT_NAME),
        description: client.description.filter(|d| !d.is_empty()),
        implicit_flow: client.implicit_flow_enabled.unwrap_or(false),
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

/// Labels and annotations that the Secret must not carry from the user: the operator's own
/// marker, and Argo CD's tracking keys (they would make Argo CD treat the Secret as its own).
pub fn is_reserved_metadata_key(key: &str) -> bool {
    key == "app.kubernetes.io/managed-by"
        || key == "app.kubernetes.io/instance"
        || key.starts_with("argocd.argoproj.io/")
        || key.starts_with("omkc.dev/")
}

fn non_empty_or(value: &Option<String>, default: &str) -> String {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => default.to_string(),
    }
}

/// Parses an absolute http(s) URL with a host and no query or fragment, and returns it without
/// a trailing slash so paths can be appended.
fn base_url(field: &str, raw: &str) -> Result<String, InvalidSpec> {
    let url =
        Url::parse(raw.trim()).map_err(|e| invalid(field, format!("is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(field, "must use http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(field, "must name a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(field, "must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            field,
            "must not embed credentials; use the credentials Secret",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn check_redirect_uri(field: &str, uri: &str) -> Result<(), InvalidSpec> {
    // Keycloak accepts wildcards ("https://host/*") and relative paths ("/callback").
    if uri.starts_with('/') {
        return Ok(());
    }
    let parsed =
        Url::parse(uri).map_err(|e| invalid(field, format!("is not a valid URI ({e})")))?;
    if parsed.cannot_be_a_base() {
        return Err(invalid(field, "must be an absolute URI or a path"));
    }
    Ok(())
}

fn check_web_origin(field: &str, origin: &str) -> Result<(), InvalidSpec> {
    // "+" means "the redirect URIs' origins", "*" allows all.
    if origin == "+" || origin == "*" {
        return Ok(());
    }
    let url =
        Url::parse(origin).map_err(|e| invalid(field, format!("is not a valid origin ({e})")))?;
    if url.host_str().is_none() || !matches!(url.path(), "" | "/") {
        return Err(invalid(
            field,
            "must be scheme://host[:port], \"+\" or \"*\"",
        ));
    }
    Ok(())
}

fn check_dns_subdomain(field: &str, name: &str) -> Result<(), InvalidSpec> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{name:?} is not a valid Kubernetes object name (lower-case DNS subdomain)"),
        ))
    }
}

fn check_secret_key(field: &str, key: &str) -> Result<(), InvalidSpec> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{key:?} is not a valid Secret key (letters, digits, '-', '_', '.')"),
        ))
    }
}
