//! What a test gives the plan, borrowed, and one pass of the plan from it.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use super::super::{Observed, Plan, plan};
use crate::{
    crd::OpenMetadataKeycloakClient,
    keycloak::{ObservedClient, Scope, SecretValue},
    reconcile::{Error, desired::ClientField},
    validate::Validated,
};

/// What a test gives one pass of the plan, borrowed: the client, what the status recorded, and
/// the rest of what was observed.
#[derive(Clone, Copy, Default)]
pub(super) struct Given<'a> {
    pub(super) issuer: &'a str,
    pub(super) known_uuid: Option<&'a str>,
    pub(super) client: Option<&'a ObservedClient>,
    pub(super) secret: Option<&'a Secret>,
    pub(super) previous_secrets: &'a [Secret],
    pub(super) source: Option<&'a SecretValue>,
    pub(super) config_map: Option<&'a ConfigMap>,
    pub(super) previous_config_maps: &'a [ConfigMap],
    pub(super) now: i64,
    pub(super) authorization_ignored: bool,
    pub(super) realm_scopes: &'a [Scope],
    pub(super) adoption_allowed: bool,
    pub(super) rotation_gap: i64,
    pub(super) sent: &'a [ClientField],
}

impl Given<'_> {
    /// One pass of the plan for `obj` (with the uuid this says its status recorded).
    pub(super) fn pass(
        self,
        obj: &OpenMetadataKeycloakClient,
        v: &Validated,
    ) -> Result<Plan, Error> {
        let mut obj = obj.clone();
        if let Some(uuid) = self.known_uuid {
            obj.status.get_or_insert_with(Default::default).client_uuid = Some(uuid.into());
        }
        let observed = Observed {
            issuer: self.issuer.into(),
            secret: self.secret.cloned(),
            previous_secrets: self.previous_secrets.to_vec(),
            source: self.source.cloned(),
            config_map: self.config_map.cloned(),
            previous_config_maps: self.previous_config_maps.to_vec(),
            now: self.now,
            authorization_ignored: self.authorization_ignored,
            realm_scopes: self.realm_scopes.to_vec(),
            adoption_allowed: self.adoption_allowed,
            rotation_gap: self.rotation_gap,
            sent: self.sent.to_vec(),
        };
        plan(&obj, v, &observed, self.client)
    }
}
