//! `Debug` of what a plan writes and observes, without the secrets in it: a client body may carry the secret
//! from `spec.secret.source`, and the output Secret carries the client secret. A plan printed in
//! a test failure or a debug log shows their shape, never their values.

use std::fmt;

use k8s_openapi::{
    ByteString,
    api::core::v1::{ConfigMap, Secret},
};

use keycloak::types::ClientRepresentation;

use super::{Observed, Put};

const REDACTED: &str = "<redacted>";

/// An object whose secret parts `Debug` must not show.
pub trait Redact {
    /// A copy without secret values.
    fn redacted(&self) -> Self;
}

impl Redact for Secret {
    fn redacted(&self) -> Self {
        let mut copy = self.clone();
        for value in copy.data.iter_mut().flat_map(|d| d.values_mut()) {
            *value = ByteString(REDACTED.as_bytes().to_vec());
        }
        for value in copy.string_data.iter_mut().flat_map(|d| d.values_mut()) {
            *value = REDACTED.to_string();
        }
        copy
    }
}

impl Redact for ConfigMap {
    fn redacted(&self) -> Self {
        self.clone()
    }
}

impl<K: Redact + fmt::Debug> fmt::Debug for Put<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Create(k) => f.debug_tuple("Create").field(&k.redacted()).finish(),
            Self::Apply(k) => f.debug_tuple("Apply").field(&k.redacted()).finish(),
        }
    }
}

impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |secrets: &[Secret]| -> Vec<Option<String>> {
            secrets.iter().map(|s| s.metadata.name.clone()).collect()
        };
        f.debug_struct("Observed")
            .field("issuer", &self.issuer)
            .field("secret", &self.secret.as_ref().map(Redact::redacted))
            .field("previous_secrets", &names(&self.previous_secrets))
            .field("source", &self.source)
            .field("config_map", &self.config_map)
            .field("previous_config_maps", &self.previous_config_maps.len())
            .field("now", &self.now)
            .field("authorization_ignored", &self.authorization_ignored)
            .field("adoption_allowed", &self.adoption_allowed)
            .field("realm_scopes", &self.realm_scopes)
            .field("rotation_gap", &self.rotation_gap)
            .finish()
    }
}

/// A client representation to send. It may carry the secret of `spec.secret.source`, which
/// its `Debug` never shows.
#[derive(Clone, PartialEq)]
pub struct Body(pub ClientRepresentation);

impl std::ops::Deref for Body {
    type Target = ClientRepresentation;
    fn deref(&self) -> &ClientRepresentation {
        &self.0
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut copy = self.0.clone();
        if copy.secret.is_some() {
            copy.secret = Some(REDACTED.into());
        }
        copy.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::plan::Write;

    #[test]
    fn neither_a_client_body_nor_a_secret_write_shows_a_secret() {
        let body = keycloak::types::ClientRepresentation {
            client_id: Some("om".into()),
            secret: Some("from-the-vault-s3cr3t".into()),
            ..Default::default()
        };
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("oidc-secrets".into()),
                ..Default::default()
            },
            data: Some([("k".to_string(), ByteString(b"s3cr3t-bytes".to_vec()))].into()),
            string_data: Some([("k".to_string(), "s3cr3t-text".to_string())].into()),
            ..Default::default()
        };
        let observed = Observed {
            secret: Some(secret.clone()),
            ..Default::default()
        };
        let config_map = ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some("sso-values".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        // Each one shows its shape; none shows a secret.
        let printed = [
            (format!("{observed:?}"), "\"oidc-secrets\""),
            (
                format!("{:?}", Write::CreateClient(Body(body.clone()))),
                "\"om\"",
            ),
            (
                format!(
                    "{:?}",
                    Write::UpdateClient {
                        uuid: "u".into(),
                        body: Body(body)
                    }
                ),
                REDACTED,
            ),
            (
                format!("{:?}", Write::Secret(Put::Create(secret.clone()))),
                "\"k\"",
            ),
            (
                format!("{:?}", Write::Secret(Put::Apply(secret))),
                "\"oidc-secrets\"",
            ),
            (
                format!("{:?}", Write::ConfigMap(Put::Apply(config_map))),
                "\"sso-values\"",
            ),
        ];
        let bytes = format!("{:?}", b"s3cr3t-bytes".to_vec());
        for (printed, shape) in printed {
            assert!(printed.contains(shape), "{shape} in {printed}");
            for value in [
                "from-the-vault-s3cr3t",
                "s3cr3t-bytes",
                "s3cr3t-text",
                &bytes[1..20],
            ] {
                assert!(!printed.contains(value), "{printed}");
            }
        }
    }
}
