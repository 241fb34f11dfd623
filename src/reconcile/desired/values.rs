//! The values OpenMetadata's Helm chart needs besides the Secret (pure).

use super::callback_url;
use crate::{crd::OpenMetadataValues, urls, validate::Validated};

/// The non-secret values OpenMetadata's Helm chart needs, with Keycloak's URLs as browsers
/// reach it (`public_base`).
pub fn openmetadata_values(v: &Validated, public_base: &str) -> OpenMetadataValues {
    let authority = urls::realm_url(public_base, &v.realm);
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
