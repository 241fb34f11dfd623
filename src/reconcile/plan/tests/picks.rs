//! The parts of a plan a test looks at, when it does not compare the whole.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use super::super::{Plan, Put, Write};
use crate::crd::OpenMetadataKeycloakClientStatus;

impl Plan {
    /// The Keycloak writes.
    pub(super) fn keycloak(&self) -> Vec<Write> {
        self.writes
            .iter()
            .filter(|w| w.is_keycloak())
            .cloned()
            .collect()
    }

    /// The write of the output Secret.
    pub(super) fn secret(&self) -> Option<&Put<Secret>> {
        self.writes.iter().find_map(|w| match w {
            Write::Secret(put) => Some(put),
            _ => None,
        })
    }

    /// The write of the values ConfigMap.
    pub(super) fn config_map(&self) -> Option<&Put<ConfigMap>> {
        self.writes.iter().find_map(|w| match w {
            Write::ConfigMap(put) => Some(put),
            _ => None,
        })
    }

    /// The names of the previous Secrets and ConfigMaps deleted.
    pub(super) fn deleted(&self) -> (Vec<&str>, Vec<&str>) {
        let (mut secrets, mut config_maps) = (vec![], vec![]);
        for write in &self.writes {
            match write {
                Write::DeleteSecret(name) => secrets.push(name.as_str()),
                Write::DeleteConfigMap(name) => config_maps.push(name.as_str()),
                _ => {}
            }
        }
        (secrets, config_maps)
    }

    /// The checksum of a restart of workloads.
    pub(super) fn checksum(&self) -> Option<&str> {
        self.writes.iter().find_map(|w| match w {
            Write::Rollout { checksum, .. } => Some(checksum.as_str()),
            _ => None,
        })
    }

    /// The status written.
    pub(super) fn status(&self) -> Option<&OpenMetadataKeycloakClientStatus> {
        self.writes.iter().find_map(|w| match w {
            Write::Status(status) => Some(status),
            _ => None,
        })
    }
}
