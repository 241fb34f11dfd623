//! Plan step (pure): from the validated spec and what was observed, the writes to make, the
//! status to publish and the changes to report. Nothing here does IO; [`super::apply`]
//! executes what [`plan`] returns.
//!
//! The Keycloak side is here; which secret the client should have (Keycloak's, a rotated one,
//! one from a source Secret) in [`secret`]; the output Secret and ConfigMap in [`outputs`];
//! deletion in [`deletion`]; restarting workloads in [`rollout`].

mod adoption;
pub use adoption::BUILT_IN_CLIENTS;
mod deletion;
mod outputs;
mod redact;
mod rollout;
mod secret;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use keycloak::types::ClientRepresentation;

pub use crate::crd::owner::owned_by;
pub use deletion::{Deletion, deletion};
pub use outputs::checksum;
pub use rollout::{Marks as RolloutMarks, Rollout, patch as rollout_patch, rollout};
pub use secret::{HandOver, secret_created};

use super::{
    Error,
    change::Change,
    desired::{self, Ownership},
};
use crate::{
    crd::{OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus},
    keycloak::{KeycloakError, ObservedClient, SecretValue},
    names::ADOPTED_ATTRIBUTE,
    validate::Validated,
};

/// What was observed, read by [`super::dereference`]. `Debug` never shows a Secret's data.
#[derive(Clone, Copy, Default)]
pub struct Observed<'a> {
    /// The realm's issuer as browsers reach it (for the values published for OpenMetadata).
    pub issuer: &'a str,
    /// The client id this resource's status recorded, if any.
    pub known_uuid: Option<&'a str>,
    /// The client in Keycloak, if it exists.
    pub client: Option<&'a ObservedClient>,
    /// The output Secret, if it exists.
    pub secret: Option<&'a Secret>,
    /// Other output Secrets this resource owns (left behind by a rename).
    pub previous_secrets: &'a [Secret],
    /// The client secret from `spec.secret.source`, when there is one.
    pub source: Option<&'a SecretValue>,
    /// The values ConfigMap, if it exists.
    pub config_map: Option<&'a ConfigMap>,
    /// Other values ConfigMaps this resource owns (left behind by a rename).
    pub previous_config_maps: &'a [ConfigMap],
    /// Now, in epoch seconds (scheduled rotation).
    pub now: i64,
    /// Whether this Keycloak was seen ignoring `authorizationServicesEnabled: true` (its
    /// `authorization` feature is disabled).
    pub authorization_ignored: bool,
    /// Whether the connection lets this resource take over a client no resource owns
    /// (`allowAdoption` of a ClusterKeycloakConnection, `--allow-inline-adoption`).
    pub adoption_allowed: bool,
    /// The shortest time between two rotations of one client's secret (seconds): an
    /// `omkc.dev/rotate` value that arrives sooner waits.
    pub rotation_gap: i64,
}

/// The spec asks for authorization services on a Keycloak that ignores them.
pub fn authorization_unavailable() -> Error {
    Error::InvalidSpec(crate::validate::InvalidSpec {
        field: "spec.client.authorizationServicesEnabled".into(),
        message: "Keycloak ignores it: its authorization feature is disabled (start Keycloak without --features-disabled=authorization, or remove the field)".into(),
    })
}

/// A write to Keycloak. `Debug` never shows a client secret a body carries.
#[derive(Clone, PartialEq)]
pub enum KeycloakAction {
    /// No client with this id exists: create it with this body.
    Create(ClientRepresentation),
    /// Send this partial update (exactly the drifted fields, and what keeps authorization).
    Update {
        /// Keycloak's internal id.
        uuid: String,
        /// The partial representation to PUT.
        body: ClientRepresentation,
    },
    /// Add these default client scopes, by name, one by one.
    AddScopes {
        /// Keycloak's internal id.
        uuid: String,
        /// Scope names.
        names: Vec<String>,
        /// Those of `names` the client has as optional scopes: removed from there first.
        from_optional: Vec<String>,
    },
    /// Generate a new secret for the client (it has none, or a new one is due).
    RegenerateSecret {
        /// Keycloak's internal id.
        uuid: String,
    },
}

/// A write of an object the operator owns. `Debug` never shows a Secret's data.
#[derive(Clone, PartialEq)]
pub enum Write<K> {
    /// It does not exist: create it.
    Create(K),
    /// It exists, is ours, and differs: apply it.
    Apply(K),
}

/// A write of the output Secret.
pub type SecretWrite = Write<Secret>;

/// The Kubernetes side of a plan.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outputs {
    /// The Secret write, if one is needed.
    pub secret: Option<SecretWrite>,
    /// Previous output Secrets of this resource to delete.
    pub remove: Vec<String>,
    /// The values ConfigMap write, if one is needed.
    pub config_map: Option<Write<ConfigMap>>,
    /// Previous values ConfigMaps of this resource to delete.
    pub remove_config_maps: Vec<String>,
    /// The status to write, if it changed.
    pub status: Option<OpenMetadataKeycloakClientStatus>,
    /// Reconcile again after this delay (a rotation step, a scheduled rotation due soon).
    pub requeue: Option<Duration>,
    /// The hash of the Secret's content, when workloads are to be restarted on a change.
    pub checksum: Option<String>,
    /// Plan again once these writes are made (a rotation was marked and comes next).
    pub again: bool,
}

/// Everything one pass decides.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Writes to Keycloak, in order.
    pub keycloak: Vec<KeycloakAction>,
    /// The Kubernetes writes, or `None` when the client must be read (again) first: it is
    /// about to be created, or to get a secret, so what the Secret holds is not known yet.
    pub outputs: Option<Outputs>,
    /// The changes all these writes make, for Events.
    pub changes: Vec<Change>,
}

impl Plan {
    /// Whether the plan writes nothing anywhere.
    pub fn is_empty(&self) -> bool {
        self.keycloak.is_empty()
            && self.outputs.as_ref().is_some_and(|o| {
                o.secret.is_none()
                    && o.remove.is_empty()
                    && o.config_map.is_none()
                    && o.remove_config_maps.is_empty()
                    && o.status.is_none()
            })
    }
}

/// Plans one pass. Refuses, with [`Error::ClientConflict`] or [`Error::SecretConflict`], a
/// client or Secret this resource may not take; nothing is planned then.
pub fn plan(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    observed: Observed<'_>,
) -> Result<Plan, Error> {
    let mut wanted = desired::desired_client(v);
    let Some(client) = observed.client else {
        // A new client: the secret comes from the source when there is one (in the POST body,
        // never reported back), else from Keycloak.
        wanted.secret = observed.source.map(|s| s.expose().to_string());
        return Ok(Plan {
            keycloak: vec![KeycloakAction::Create(wanted)],
            outputs: None,
            changes: vec![Change::ClientCreated {
                client_id: v.client_id.clone(),
                realm: v.realm.clone(),
            }],
        });
    };
    let uuid = client
        .rep
        .id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| KeycloakError::Protocol("a client without an id".into()))?;
    let mut changes = Vec::new();
    let mut keycloak = Vec::new();
    match desired::ownership(&client.rep, v, observed.known_uuid) {
        Ownership::Ours => {}
        Ownership::Unowned | Ownership::EarlierResource(_) if v.adopt_existing => {
            adoption::check(&client.rep, v, observed.adoption_allowed)?;
            changes.push(Change::ClientAdopted {
                client_id: v.client_id.clone(),
            });
            wanted
                .attributes
                .get_or_insert_with(Default::default)
                .insert(ADOPTED_ATTRIBUTE.into(), "true".into());
        }
        Ownership::Unowned => {
            return Err(Error::ClientConflict(format!(
                "client {:?} already exists in realm {:?} and was not created by an OpenMetadataKeycloakClient; nothing was changed (set spec.client.adoptExisting: true to take it over)",
                v.client_id, v.realm
            )));
        }
        Ownership::EarlierResource(uid) => {
            return Err(Error::ClientConflict(format!(
                "client {:?} in realm {:?} was made by an earlier OpenMetadataKeycloakClient of this namespace and name (uid {uid}), not by this one; nothing was changed (set spec.client.adoptExisting: true to take it over, where the connection allows adoption)",
                v.client_id, v.realm
            )));
        }
        Ownership::OtherResource(_) => {
            // Which one is not this tenant's to know: the operator's log names it.
            return Err(Error::ClientConflict(format!(
                "client {:?} in realm {:?} belongs to another OpenMetadataKeycloakClient; nothing was changed (choose another spec.client.clientId)",
                v.client_id, v.realm
            )));
        }
    }
    if v.authorization_services == Some(true)
        && client.rep.authorization_services_enabled != Some(true)
        && observed.authorization_ignored
    {
        return Err(authorization_unavailable());
    }
    let fields = desired::client_drift(&client.rep, &wanted);
    let mut update =
        (!fields.is_empty()).then(|| desired::update_body(&client.rep, &wanted, &fields));
    if !fields.is_empty() {
        changes.push(Change::ClientUpdated {
            client_id: v.client_id.clone(),
            fields,
        });
    }
    let current = client.rep.default_client_scopes.clone().unwrap_or_default();
    let missing = desired::missing_scopes(&current, &desired::REQUIRED_SCOPES);
    let optional = client
        .rep
        .optional_client_scopes
        .clone()
        .unwrap_or_default();
    let from_optional: Vec<String> = missing
        .iter()
        .filter(|m| optional.contains(m))
        .cloned()
        .collect();

    let decided = secret::decide(v, client, observed, update.is_some())?;
    if let Some(value) = &decided.set {
        // The source's secret rides on the update there is anyway, or on one of its own.
        let body = update.get_or_insert_with(|| desired::update_body(&client.rep, &wanted, &[]));
        body.secret = Some(value.expose().to_string());
    }
    if let Some(body) = update {
        keycloak.push(KeycloakAction::Update {
            uuid: uuid.clone(),
            body,
        });
    }
    if !missing.is_empty() {
        keycloak.push(KeycloakAction::AddScopes {
            uuid: uuid.clone(),
            names: missing.clone(),
            from_optional,
        });
        changes.push(Change::ScopesAdded { scopes: missing });
    }
    changes.extend(decided.changes);
    match decided.next {
        secret::Next::ReadAgain { regenerate } => {
            if regenerate {
                keycloak.push(KeycloakAction::RegenerateSecret { uuid });
            }
            Ok(Plan {
                keycloak,
                outputs: None,
                changes,
            })
        }
        secret::Next::Write(hand_over) => {
            let (outputs, more) = outputs::plan(obj, v, observed, client, &uuid, &hand_over)?;
            changes.extend(more);
            Ok(Plan {
                keycloak,
                outputs: Some(outputs),
                changes,
            })
        }
    }
}

#[cfg(test)]
mod tests;
