//! What the resource asks for besides the client: where OpenMetadata is, and where and how the
//! credentials are handed over.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where OpenMetadata runs.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpenMetadataSpec {
    /// OpenMetadata's public base URL, e.g. `https://openmetadata.example.com`. Sets the client's
    /// root URL, redirect URI `<url>/callback`, web origin and post-logout redirect `<url>/logout`.
    /// Keycloak stores at most 255 characters of each, so the URL has at most 246 (the operator
    /// says so on the status).
    #[x_kube(validation = kube::core::Rule::new("isURL(self) && url(self).getScheme() in ['http', 'https']").message("openmetadata.url must be an absolute http(s) URL"))]
    #[schemars(length(min = 1, max = 255))]
    pub url: String,
    /// More redirect URIs to allow (for example a second host name of OpenMetadata); Keycloak
    /// stores at most 255 characters of each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 255)))]
    pub extra_redirect_uris: Vec<String>,
    /// More web origins to allow for CORS (at most 255 characters each, as Keycloak stores them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 255)))]
    pub extra_web_origins: Vec<String>,
    /// Where Keycloak may send users after logout (client attribute post.logout.redirect.uris);
    /// "+" stands for the redirect URIs. Default: the url followed by /logout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 2048)))]
    pub post_logout_redirect_uris: Vec<String>,
    /// Write the OpenMetadata Helm values this client needs (the authentication and authorizer
    /// blocks, no secret) into a ConfigMap of this namespace, for a Flux HelmRelease valuesFrom
    /// or to read before pasting. Off by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_config_map: Option<ValuesConfigMapSpec>,
    /// Principals made OpenMetadata admins at first start (authorizer.initialAdmins in the values
    /// ConfigMap).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 253)))]
    pub initial_admins: Vec<String>,
    /// Domain of OpenMetadata's principals (authorizer.principalDomain in the values ConfigMap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub principal_domain: Option<String>,
}

/// The ConfigMap the OpenMetadata Helm values are written into.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ValuesConfigMapSpec {
    /// Name of the ConfigMap (owned by this resource).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key holding the values YAML. Default: values.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub key: Option<String>,
}

/// Where the client credentials are written.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct OutputSecretSpec {
    /// Secret name (default `oidc-secrets`, the OpenMetadata chart's default `secretRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
    /// Key holding the client id (default `openmetadata-oidc-client-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub client_id_key: Option<String>,
    /// Key holding the client secret (default `openmetadata-oidc-client-secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub client_secret_key: Option<String>,
    /// Extra labels for the Secret, as Kubernetes takes them (a value: at most 63 letters,
    /// digits, '-', '_' or '.', starting and ending with a letter or digit). Refused:
    /// app.kubernetes.io/managed-by, app.kubernetes.io/instance, argocd.argoproj.io/* and
    /// omkc.dev/* (the operator's and Argo CD's own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 63}))]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations for the Secret (e.g. a reloader's), keys as Kubernetes takes them.
    /// Refused: the same keys as for labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 262144}))]
    pub annotations: BTreeMap<String, String>,
    /// Generate a new client secret this often, e.g. 720h or 90d (at least 1h). Off by default.
    /// On demand: set the annotation omkc.dev/rotate on the resource to a new value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 16))]
    pub rotation_interval: Option<String>,
    /// Take the client secret from this Secret of the namespace (from Sealed Secrets, External
    /// Secrets, ...) instead of letting Keycloak generate it. The Secret must carry the label
    /// omkc.dev/client-secret-source=true. Not with rotationInterval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SecretKeyReference>,
    /// Workloads of this namespace to restart when the secret changes (OpenMetadata reads it
    /// only at start). Their pod template gets an annotation with a hash of the Secret's content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub rollout: Vec<WorkloadReference>,
}

/// A key of a Secret in the resource's namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyReference {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key holding the client secret.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A Deployment or StatefulSet of the resource's namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadReference {
    /// Deployment or StatefulSet.
    pub kind: WorkloadKind,
    /// Name of the workload.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// The kinds of workload that can be restarted.
#[derive(
    JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
}
