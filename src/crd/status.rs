//! What the operator reports about a resource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state, written only by the operator.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct OpenMetadataKeycloakClientStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: True once the client exists in Keycloak as specified and the Secret holds its
    /// credentials; False with a reason otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Keycloak client id (the name OpenMetadata uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Keycloak's internal id (UUID) of the client this resource owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uuid: Option<String>,
    /// Name of the Secret holding the client id and secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Non-secret values for OpenMetadata's Helm values (`openmetadata.config.authentication`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openmetadata: Option<OpenMetadataValues>,
    /// When the client secret last changed, and when the next scheduled rotation is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretStatus>,
}

/// The client secret's life.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SecretStatus {
    /// When Keycloak last generated or set the secret (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_changed: Option<String>,
    /// When the next scheduled rotation is due (RFC 3339), with rotationInterval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation: Option<String>,
    /// The last value of the omkc.dev/rotate annotation that was carried out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_token: Option<String>,
}

/// The values OpenMetadata's chart needs besides the Secret.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct OpenMetadataValues {
    /// `authentication.authority`: the realm's issuer, `<keycloak>/realms/<realm>`.
    pub authority: String,
    /// `oidcConfiguration.discoveryUri`.
    pub discovery_uri: String,
    /// `authentication.publicKeys`: OpenMetadata's own JWKS and the realm's certificate URL.
    pub public_keys: Vec<String>,
    /// `authentication.callbackUrl` and `oidcConfiguration.callbackUrl`.
    pub callback_url: String,
    /// `oidcConfiguration.serverUrl`.
    pub server_url: String,
    /// `oidcConfiguration.disablePkce`: false when the client requires PKCE (`requirePkce`).
    /// Absent from a status written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_pkce: Option<bool>,
}
