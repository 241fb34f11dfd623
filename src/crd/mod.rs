//! The custom resources (group `omkc.dev`, version `v1alpha1`): `OpenMetadataKeycloakClient`
//! here, `ClusterKeycloakConnection` in `connection.rs`.
//!
//! No field carries a schema `default`: Argo CD compares the applied manifest with the live
//! object, and server-filled defaults show as a perpetual OutOfSync. Defaults live in
//! [`crate::validate`] instead.

// Several `printcolumn(...)` entries repeat `type_ = "string"`, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

mod connection;
mod outputs;
pub mod owner;
mod status;

pub use connection::{
    ClusterKeycloakConnection, ClusterKeycloakConnectionSpec, ClusterKeycloakConnectionStatus,
    NamespacedSecretReference,
};
pub use outputs::{
    OpenMetadataSpec, OutputSecretSpec, SecretKeyReference, ValuesConfigMapSpec, WorkloadKind,
    WorkloadReference,
};
pub use status::{OpenMetadataKeycloakClientStatus, OpenMetadataValues, SecretStatus};

/// `namespace/name` of an object: a resource's key in the operator's memory and log lines.
pub fn object_key(obj: &impl kube::Resource) -> String {
    let meta = obj.meta();
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    format!("{namespace}/{}", meta.name.as_deref().unwrap_or_default())
}

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Spec of an OpenMetadata client in Keycloak and of the Secret that hands its credentials over.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "omkc.dev",
    version = "v1alpha1",
    kind = "OpenMetadataKeycloakClient",
    plural = "openmetadatakeycloakclients",
    shortname = "omkc",
    namespaced,
    status = "OpenMetadataKeycloakClientStatus",
    doc = "OpenMetadata single sign-on through Keycloak: a confidential OpenID Connect client in a Keycloak realm, and the Secret OpenMetadata's Helm chart reads its credentials from.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Client ID", type_ = "string", json_path = ".status.clientId"),
    printcolumn(name = "Realm", type_ = "string", json_path = ".spec.keycloak.realm"),
    printcolumn(name = "Secret", type_ = "string", json_path = ".status.secretName"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = "1",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = kube::core::Rule::new(
    "(has(self.client) && has(self.client.clientId) ? self.client.clientId : '') == (has(oldSelf.client) && has(oldSelf.client.clientId) ? oldSelf.client.clientId : '')"
).message("spec.client.clientId is immutable: create a new resource for another client"))]
#[serde(rename_all = "camelCase")]
pub struct OpenMetadataKeycloakClientSpec {
    /// Where Keycloak is and how the operator signs in to its Admin API.
    pub keycloak: KeycloakSpec,
    /// Where OpenMetadata is served; the client's URLs are derived from it.
    pub openmetadata: OpenMetadataSpec,
    /// Settings of the OpenID Connect client created for OpenMetadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientSpec>,
    /// The Secret the operator writes the client id and secret into (read by OpenMetadata's chart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<OutputSecretSpec>,
    /// What happens to the Keycloak client when this resource is deleted. Delete removes it (only
    /// ever a client this resource owns). Retain leaves it in Keycloak. Default: Delete for a
    /// client this resource created, Retain for a client it adopted with adoptExisting.
    // Not `nullable`: the API server refuses a null that its enum does not list, and a nullable
    // enum cannot list one, so `deletionPolicy:` left empty was refused. It is now dropped, as
    // a null is where the schema allows none: as if absent (kubectl 1.37, dry run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "DeletionPolicy")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// Which Keycloak, which realm, and how the operator signs in: a ClusterKeycloakConnection by
/// name (connectionRef), or a URL and a credentials Secret in this namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.connectionRef) != has(self.url)").message("set either keycloak.connectionRef, or keycloak.url with keycloak.credentialsSecretRef"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.url) || has(self.credentialsSecretRef)").message("keycloak.url needs keycloak.credentialsSecretRef"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.connectionRef) || (!has(self.credentialsSecretRef) && !has(self.adminRealm) && !has(self.caBundle) && !has(self.publicUrl))").message("with keycloak.connectionRef the connection holds the URL, credentials and CA: remove keycloak.credentialsSecretRef, adminRealm, caBundle and publicUrl"))]
#[x_kube(validation = kube::core::Rule::new("(has(self.connectionRef) ? 'connection:' + self.connectionRef.name : 'url:' + (has(self.url) ? self.url : '')) == (has(oldSelf.connectionRef) ? 'connection:' + oldSelf.connectionRef.name : 'url:' + (has(oldSelf.url) ? oldSelf.url : ''))").message("keycloak.url and keycloak.connectionRef are immutable: the client lives in that Keycloak; create a new resource for another one"))]
// Field docs are the CRD's schema descriptions (`kubectl explain`): plain text, bare URLs.
#[allow(rustdoc::bare_urls)]
pub struct KeycloakSpec {
    /// Name of a ClusterKeycloakConnection: the platform's Keycloak, with admin credentials this
    /// namespace never sees. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_ref: Option<ConnectionReference>,
    /// Base URL of Keycloak, e.g. https://keycloak.example.com, or https://host/auth for Keycloak
    /// 16 and older (or Quarkus with --http-relative-path=/auth). Only without connectionRef.
    /// Immutable.
    // maxLength bounds the CEL cost estimate of the rule (unbounded strings can exceed it).
    #[x_kube(validation = kube::core::Rule::new("isURL(self) && url(self).getScheme() in ['http', 'https']").message("keycloak.url must be an absolute http(s) URL"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub url: Option<String>,
    /// Base URL of the same Keycloak as browsers reach it, when it differs from url. The issuer,
    /// discovery URI and key URL published for OpenMetadata use it. Default: the issuer Keycloak
    /// announces in the realm's discovery document. Only without
    /// connectionRef (a connection has its own).
    #[x_kube(validation = kube::core::Rule::new("isURL(self) && url(self).getScheme() in ['http', 'https']").message("keycloak.publicUrl must be an absolute http(s) URL"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub public_url: Option<String>,
    /// Realm that holds the OpenMetadata client. Immutable. master is refused (OpenMetadata's
    /// documentation says to keep applications out of the master realm).
    #[x_kube(validation = kube::core::Rule::new("self != 'master'").message("keycloak.realm must not be master: create the client in an application realm"))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("keycloak.realm is immutable"))]
    #[schemars(length(min = 1, max = 255))]
    pub realm: String,
    /// Realm the admin credentials authenticate against. Default: master. Only without
    /// connectionRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub admin_realm: Option<String>,
    /// Secret in this resource's namespace holding the admin credentials: keys username and
    /// password (password grant through admin-cli), or clientId and clientSecret
    /// (client-credentials grant). It must carry the label omkc.dev/keycloak-credentials=true.
    /// Only without connectionRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretReference>,
    /// PEM bundle of CA certificates to trust for Keycloak's TLS certificate, in addition to the
    /// system roots. Not secret. Only without connectionRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 65536))]
    pub ca_bundle: Option<String>,
}

/// A ClusterKeycloakConnection by name.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionReference {
    /// Name of the ClusterKeycloakConnection.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A Secret in the resource's own namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// Name of the Secret (same namespace as this resource).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// The OpenID Connect client's own settings.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClientSpec {
    /// Keycloak client id (default: this resource's name). Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub client_id: Option<String>,
    /// Display name of the client in Keycloak (default `OpenMetadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub name: Option<String>,
    /// Description of the client in Keycloak (which stores at most 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub description: Option<String>,
    /// Enable the implicit flow (off by default; older OpenMetadata docs turned it on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implicit_flow_enabled: Option<bool>,
    /// Require PKCE (S256) on this client's logins (off by default, as OpenMetadata's
    /// `disablePkce` is on by default). Needed in a realm whose client policies enforce PKCE;
    /// OpenMetadata must then send it: the values ConfigMap sets `disablePkce: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pkce: Option<bool>,
    /// Enable a service account for the client (off by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_accounts_enabled: Option<bool>,
    /// Enable Keycloak Authorization Services (off by default). Implies a service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_services_enabled: Option<bool>,
    /// Take over a client with this id that already exists in the realm and was not created by
    /// any OpenMetadataKeycloakClient (off by default: such a client is left alone and the
    /// resource reports `ClientConflict`). A client owned by another resource is never taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt_existing: Option<bool>,
}

/// What happens to the Keycloak client when this resource is deleted. Delete removes it (only
/// ever a client this resource owns). Retain leaves it in Keycloak. Default: Delete for a client
/// this resource created, Retain for a client it adopted with adoptExisting.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    /// Remove the Keycloak client (only if this resource owns it).
    #[default]
    Delete,
    /// Leave the Keycloak client in place.
    Retain,
}

/// The finalizer that guards Keycloak cleanup.
pub const FINALIZER: &str = "omkc.dev/cleanup";
