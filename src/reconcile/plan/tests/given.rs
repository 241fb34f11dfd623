//! What a test gives the plan, borrowed, and one pass of the plan from it.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use super::super::{Observed, Plan, plan};
use crate::{
    crd::OpenMetadataKeycloakClient,
    keycloak::{ObservedClient, Scope, SecretValue},
    reconcile::Error,
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
}

/// One pass of the plan for `obj` (with the uuid `given` says its status recorded).
pub(super) fn pass(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    given: Given<'_>,
) -> Result<Plan, Error> {
    let mut obj = obj.clone();
    if let Some(uuid) = given.known_uuid {
        obj.status.get_or_insert_with(Default::default).client_uuid = Some(uuid.into());
    }
    let observed = Observed {
        issuer: given.issuer.into(),
        secret: given.secret.cloned(),
        previous_secrets: given.previous_secrets.to_vec(),
        source: given.source.cloned(),
        config_map: given.config_map.cloned(),
        previous_config_maps: given.previous_config_maps.to_vec(),
        now: given.now,
        authorization_ignored: given.authorization_ignored,
        realm_scopes: given.realm_scopes.to_vec(),
        adoption_allowed: given.adoption_allowed,
        rotation_gap: given.rotation_gap,
    };
    plan(&obj, v, &observed, given.client)
}
