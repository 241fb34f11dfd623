//! The values OpenMetadata's Helm chart needs besides the Secret (pure): published in status,
//! and, when asked, written into a ConfigMap in the chart's own YAML shape.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::{callback_url, owner_reference, secret::subset, secret_labels};
use crate::{
    crd::OpenMetadataValues,
    validate::{Validated, ValuesTarget},
};

/// The non-secret values OpenMetadata's Helm chart needs. `issuer` is the realm's issuer as
/// browsers reach it (`<public keycloak>/realms/<realm>`).
pub fn openmetadata_values(v: &Validated, issuer: &str) -> OpenMetadataValues {
    let authority = issuer.trim_end_matches('/').to_string();
    OpenMetadataValues {
        discovery_uri: format!("{authority}/.well-known/openid-configuration"),
        public_keys: vec![
            format!("{}/api/v1/system/config/jwks", v.openmetadata_url),
            format!("{authority}/protocol/openid-connect/certs"),
        ],
        callback_url: callback_url(v),
        server_url: v.openmetadata_url.clone(),
        // OpenMetadata sends PKCE only when told; the client requires it or not.
        disable_pkce: Some(!v.require_pkce),
        authority,
    }
}

/// The OpenMetadata chart's values for this client: `openmetadata.config.authentication` and
/// `openmetadata.config.authorizer`, exactly where the chart reads them. No secret: the client
/// id and secret are referenced in the output Secret.
pub fn helm_values(v: &Validated, issuer: &str) -> Value {
    let om = openmetadata_values(v, issuer);
    let mut authorizer = json!({
        "className": "org.openmetadata.service.security.DefaultAuthorizer",
        "containerRequestFilter": "org.openmetadata.service.security.JwtFilter",
    });
    if !v.initial_admins.is_empty() {
        authorizer["initialAdmins"] = json!(v.initial_admins);
    }
    if let Some(domain) = &v.principal_domain {
        authorizer["principalDomain"] = json!(domain);
    }
    json!({
        "openmetadata": {
            "config": {
                "authorizer": authorizer,
                "authentication": {
                    "enabled": true,
                    "provider": "custom-oidc",
                    "clientType": "confidential",
                    "publicKeys": om.public_keys,
                    "authority": om.authority,
                    "clientId": v.client_id,
                    "callbackUrl": om.callback_url,
                    "oidcConfiguration": {
                        "enabled": true,
                        "oidcType": "Keycloak",
                        "clientId": {
                            "secretRef": v.secret.name,
                            "secretKey": v.secret.client_id_key,
                        },
                        "clientSecret": {
                            "secretRef": v.secret.name,
                            "secretKey": v.secret.client_secret_key,
                        },
                        "scope": "openid email profile",
                        "disablePkce": om.disable_pkce,
                        "discoveryUri": om.discovery_uri,
                        "callbackUrl": om.callback_url,
                        "serverUrl": om.server_url,
                    },
                },
            },
        },
    })
}

/// The values as YAML text (keys sorted: the same values always give the same text).
pub fn helm_values_yaml(v: &Validated, issuer: &str) -> String {
    // serde_json's maps are sorted (no `preserve_order`), so the YAML is deterministic.
    let header = format!(
        "# OpenMetadata Helm values for Keycloak client {:?} in realm {:?}.\n# Written by openmetadata-keycloak-operator from OpenMetadataKeycloakClient {}/{}; edits are overwritten.\n",
        v.client_id, v.realm, v.namespace, v.name
    );
    let body = serde_saphyr::to_string(&helm_values(v, issuer)).unwrap_or_default();
    header + &body
}

/// The values ConfigMap, owned by the resource like the output Secret.
pub fn values_config_map(v: &Validated, target: &ValuesTarget, issuer: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(target.name.clone()),
            namespace: Some(v.namespace.clone()),
            labels: Some(secret_labels(v)),
            owner_references: Some(vec![owner_reference(v)]),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            target.key.clone(),
            helm_values_yaml(v, issuer),
        )])),
        ..Default::default()
    }
}

/// Whether an observed ConfigMap holds what `desired` sets (data, labels; the owner is judged
/// before).
pub fn config_map_holds(observed: &ConfigMap, desired: &ConfigMap) -> bool {
    subset(&desired.data, &observed.data)
        && subset(&desired.metadata.labels, &observed.metadata.labels)
}
