//! Checks of what the resource hands over (pure): the output Secret, its secret's source and
//! rotation, the workloads to restart, the values ConfigMap and the logout redirects.

use std::time::Duration;

use super::{
    DEFAULT_CLIENT_ID_KEY, DEFAULT_CLIENT_SECRET_KEY, DEFAULT_SECRET_NAME, InvalidSpec,
    MIN_ROTATION_INTERVAL, ROTATE_ANNOTATION, SecretTarget, ValuesTarget,
    fields::{
        check_dns_subdomain, check_metadata_entry, check_redirect_uri, check_secret_key,
        non_empty_or,
    },
    invalid, is_reserved_metadata_key,
};
use crate::crd::{OpenMetadataKeycloakClient, OpenMetadataSpec, OutputSecretSpec};

/// The most bytes a Secret's annotations from the spec may hold, keys and values together.
const ANNOTATIONS_LIMIT: usize = 262_144 - 4096;

/// Default key of the values YAML in the values ConfigMap.
pub const DEFAULT_VALUES_KEY: &str = "values.yaml";

/// The output Secret target with defaults applied.
pub(super) fn secret_target(out: OutputSecretSpec) -> Result<SecretTarget, InvalidSpec> {
    let rotation_interval = out
        .rotation_interval
        .as_deref()
        .map(|raw| rotation_interval(raw).map_err(|e| invalid("spec.secret.rotationInterval", e)))
        .transpose()?;
    let secret = SecretTarget {
        name: non_empty_or(&out.name, DEFAULT_SECRET_NAME),
        client_id_key: non_empty_or(&out.client_id_key, DEFAULT_CLIENT_ID_KEY),
        client_secret_key: non_empty_or(&out.client_secret_key, DEFAULT_CLIENT_SECRET_KEY),
        labels: out.labels,
        annotations: out.annotations,
        rotation_interval,
        source: out
            .source
            .map(|s| (s.name.trim().to_string(), s.key.trim().to_string())),
        rollout: out
            .rollout
            .into_iter()
            .map(|w| (w.kind, w.name.trim().to_string()))
            .collect(),
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
    for (key, value) in &secret.labels {
        check_metadata_entry("spec.secret.labels", key, Some(value))?;
    }
    for key in secret.annotations.keys() {
        check_metadata_entry("spec.secret.annotations", key, None)?;
    }
    // The API server's limit for all of an object's annotations (256 KiB, keys and values),
    // less room for the operator's own on the Secret.
    let size: usize = (secret.annotations.iter())
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if size > ANNOTATIONS_LIMIT {
        return Err(invalid(
            "spec.secret.annotations",
            format!(
                "{size} bytes in all, more than {ANNOTATIONS_LIMIT} (the API server takes 262144 in all, and the operator adds its own)"
            ),
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
    if let Some((name, key)) = &secret.source {
        check_dns_subdomain("spec.secret.source.name", name)?;
        check_secret_key("spec.secret.source.key", key)?;
        if secret.rotation_interval.is_some() {
            return Err(invalid(
                "spec.secret.rotationInterval",
                "must not be set with spec.secret.source: whoever manages the source rotates it",
            ));
        }
        if *name == secret.name && *key == secret.client_id_key {
            return Err(invalid(
                "spec.secret.source.key",
                "must not be the key the client id is written to",
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, (kind, name)) in secret.rollout.iter().enumerate() {
        check_dns_subdomain(&format!("spec.secret.rollout[{i}].name"), name)?;
        if !seen.insert((*kind, name.clone())) {
            return Err(invalid(
                &format!("spec.secret.rollout[{i}]"),
                format!("{kind:?} {name:?} is listed twice"),
            ));
        }
    }
    Ok(secret)
}

/// A rotation interval: a duration of at least [`MIN_ROTATION_INTERVAL`].
fn rotation_interval(raw: &str) -> Result<Duration, String> {
    crate::duration::parse_at_least(raw, MIN_ROTATION_INTERVAL)
}

/// The value of the rotate annotation, refused when the secret comes from a source.
pub(super) fn rotate_token(
    obj: &OpenMetadataKeycloakClient,
    secret: &SecretTarget,
) -> Result<Option<String>, InvalidSpec> {
    let token = obj
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ROTATE_ANNOTATION))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if token.is_some() && secret.source.is_some() {
        return Err(invalid(
            &format!("metadata.annotations[{ROTATE_ANNOTATION}]"),
            "has no effect with spec.secret.source: rotate the source Secret instead, and remove the annotation",
        ));
    }
    if token.as_ref().is_some_and(|t| t.len() > 63) {
        return Err(invalid(
            &format!("metadata.annotations[{ROTATE_ANNOTATION}]"),
            "must be at most 63 characters",
        ));
    }
    Ok(token)
}

/// The post-logout redirect URIs: as listed, or OpenMetadata's `/logout` page.
pub(super) fn post_logout_redirect_uris(
    spec: &OpenMetadataSpec,
    openmetadata_url: &str,
) -> Result<Vec<String>, InvalidSpec> {
    // OpenMetadata's URL is ASCII once parsed (percent-encoded, punycode): so is its default.
    let uris = if spec.post_logout_redirect_uris.is_empty() {
        vec![format!("{openmetadata_url}/logout")]
    } else {
        spec.post_logout_redirect_uris
            .iter()
            .map(|u| u.trim().to_string())
            .collect()
    };
    // `+` is Keycloak's shorthand for the client's valid redirect URIs.
    for (i, uri) in uris.iter().enumerate().filter(|(_, u)| *u != "+") {
        let field = format!("spec.openmetadata.postLogoutRedirectUris[{i}]");
        check_redirect_uri(&field, uri, openmetadata_url)?;
        super::national(&field, "holds", uri)?;
        if uri.contains("##") {
            return Err(invalid(
                &field,
                "must not contain ## (Keycloak's separator)",
            ));
        }
    }
    Ok(uris)
}

/// The values ConfigMap, if asked for.
pub(super) fn values_target(spec: &OpenMetadataSpec) -> Result<Option<ValuesTarget>, InvalidSpec> {
    let Some(cm) = &spec.values_config_map else {
        return Ok(None);
    };
    let target = ValuesTarget {
        name: cm.name.trim().to_string(),
        key: non_empty_or(&cm.key, DEFAULT_VALUES_KEY),
    };
    check_dns_subdomain("spec.openmetadata.valuesConfigMap.name", &target.name)?;
    check_secret_key("spec.openmetadata.valuesConfigMap.key", &target.key)?;
    for (i, admin) in spec.initial_admins.iter().enumerate() {
        if admin.trim().is_empty() || admin.len() > 253 {
            return Err(invalid(
                &format!("spec.openmetadata.initialAdmins[{i}]"),
                "must be a non-empty name of at most 253 characters",
            ));
        }
    }
    Ok(Some(target))
}
