//! The `ClusterKeycloakConnection` custom resource (cluster-scoped): a Keycloak, the admin
//! credentials to use there, and who may use it. Platform teams create connections; application
//! teams refer to one by name from their `OpenMetadataKeycloakClient` and never see the admin
//! credentials.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// Spec of a connection to a Keycloak's Admin API, shared by the namespaces it allows.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "omkc.dev",
    version = "v1alpha1",
    kind = "ClusterKeycloakConnection",
    plural = "clusterkeycloakconnections",
    shortname = "kcconn",
    status = "ClusterKeycloakConnectionStatus",
    doc = "A Keycloak, the admin credentials the operator uses there, and which namespaces and realms may use it. Referenced by name from spec.keycloak.connectionRef of an OpenMetadataKeycloakClient.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "URL", type_ = "string", json_path = ".spec.url"),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".status.keycloakVersion"
    ),
    printcolumn(name = "Realms", type_ = "string", json_path = ".status.realms"),
    printcolumn(name = "Resources", type_ = "integer", json_path = ".status.resources"),
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
#[serde(rename_all = "camelCase")]
// Field docs are the CRD's schema descriptions (`kubectl explain`): plain text, bare URLs.
#[allow(rustdoc::bare_urls)]
pub struct ClusterKeycloakConnectionSpec {
    /// Base URL of Keycloak as the operator reaches it, e.g. https://keycloak.example.com, or
    /// https://host/auth for Keycloak 16 and older. Immutable: create another connection for
    /// another Keycloak.
    #[x_kube(validation = kube::core::Rule::new("isURL(self) && url(self).getScheme() in ['http', 'https']").message("url must be an absolute http(s) URL"))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("url is immutable: the clients made through this connection live in that Keycloak; create another connection for another Keycloak"))]
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,
    /// Base URL of the same Keycloak as browsers reach it, when it differs from url (an in-cluster
    /// Service for the operator, a public host for users). The issuer, discovery URI and key URL
    /// published for OpenMetadata use it. Default: the issuer Keycloak announces in the realm's
    /// discovery document.
    #[x_kube(validation = kube::core::Rule::new("isURL(self) && url(self).getScheme() in ['http', 'https']").message("publicUrl must be an absolute http(s) URL"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub public_url: Option<String>,
    /// Realm the admin credentials authenticate against. Default: master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub admin_realm: Option<String>,
    /// The Secret holding the admin credentials: keys username and password, or clientId and
    /// clientSecret. It must carry the label omkc.dev/keycloak-credentials=true.
    pub credentials_secret_ref: NamespacedSecretReference,
    /// PEM bundle of CA certificates to trust for Keycloak's TLS certificate, in addition to the
    /// system roots. Not secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 65536))]
    pub ca_bundle: Option<String>,
    /// Namespaces whose OpenMetadataKeycloakClients may use this connection, by label. An empty
    /// selector ({}) allows every namespace; a namespace that does not match is refused with
    /// ConnectionNotAllowed and nothing reaches Keycloak.
    #[x_kube(validation = kube::core::Rule::new("!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'] && (e.operator in ['In', 'NotIn']) == (has(e.values) && size(e.values) > 0))").message("namespaceSelector.matchExpressions: the operator is In, NotIn, Exists or DoesNotExist, with values for In and NotIn and none for Exists and DoesNotExist"))]
    pub namespace_selector: LabelSelector,
    /// Realms in which clients may be created through this connection. "*" allows every realm but
    /// master. A resource asking for another realm is refused with RealmNotAllowed.
    #[schemars(length(min = 1, max = 64), inner(length(min = 1, max = 100)))]
    pub allowed_realms: Vec<String>,
    /// Whether resources using this connection may take over an existing client that no
    /// resource owns (spec.client.adoptExisting). Default false: a client made by hand or by
    /// another tool is never touched. Even when true, Keycloak's built-in clients and clients
    /// with a service account, authorization settings or another protocol are never adopted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_adoption: Option<bool>,
    /// The most OpenMetadataKeycloakClients that may use this connection, counted in order of
    /// creation: a resource beyond it is refused with ConnectionClientLimit and nothing reaches
    /// Keycloak. Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // A u32's own format ("uint32") is not one the API server knows: 1.37 warns on every apply.
    #[schemars(range(min = 0, max = 100000), extend("format" = "int64"))]
    pub max_clients: Option<u32>,
}

/// What the operator last found when it checked the connection (periodically and on every
/// change): for the platform team; tenants see only their own resources' status.
#[derive(schemars::JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClusterKeycloakConnectionStatus {
    /// Ready: the operator signed in with the connection's credentials and sees at least one
    /// realm it may serve. Its reason says what is wrong otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation of the spec last checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the connection was last checked (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked: Option<String>,
    /// Keycloak's version, when the account may see it (an admin of the master realm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keycloak_version: Option<String>,
    /// The realms this connection may serve: allowedRealms that exist and that its account
    /// administers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub realms: Vec<String>,
    /// OpenMetadataKeycloakClients that name this connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "int64"))]
    pub resources: Option<u32>,
}

/// A Secret by namespace and name.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedSecretReference {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the Secret. Default: the operator's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

impl NamespacedSecretReference {
    /// The Secret's namespace and name, its namespace `default` when the reference names none.
    pub fn in_or(&self, default: &str) -> (String, String) {
        let namespace = self.namespace.as_deref().unwrap_or(default);
        (namespace.to_string(), self.name.clone())
    }
}
