//! Plan step (pure): from the validated spec and what was observed, every write to make (in
//! Keycloak and in Kubernetes, the status and the finalizer included), the changes to report,
//! and whether to observe again. Nothing here does IO; [`super::execute`] makes the writes.
//!
//! The Keycloak side is here; which secret the client should have (Keycloak's, a rotated one,
//! one from a source Secret) in `secret.rs`; the Kubernetes side (the output Secret and
//! ConfigMap, the status) in `kubernetes.rs`; deletion in [`deletion()`]; restarting workloads in
//! [`rollout`].

mod adoption;
pub use adoption::BUILT_IN_CLIENTS;
mod deletion;
mod kubernetes;
mod redact;
pub use redact::Body;
pub mod rollout;
mod secret;

use crate::reason::Reason;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

pub use crate::crd::owner::owned_by;
pub use deletion::{deletion, orphaned, retained};
pub use kubernetes::checksum;
pub use secret::{HandOver, secret_created};

use super::{Error, change::Change, desired};
use crate::{
    crd::{OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus, WorkloadKind},
    keycloak::{KeycloakError, ObservedClient, Scope, SecretValue},
    names::{ADOPTED_ATTRIBUTE, PKCE_ATTRIBUTE},
    validate::Validated,
};

/// What a reconcile observed besides the client, read by [`super::observe`], owned: every pass
/// plans from it, and a pass after a write plans from what was written. `Debug` never shows a
/// Secret's data.
#[derive(Clone, Default)]
pub struct Observed {
    /// The realm's issuer as browsers reach it (for the values published for OpenMetadata).
    pub issuer: String,
    pub secret: Option<Secret>,
    /// Other output Secrets this resource owns (left behind by a rename).
    pub previous_secrets: Vec<Secret>,
    /// The client secret from `spec.secret.source`, when there is one.
    pub source: Option<SecretValue>,
    pub config_map: Option<ConfigMap>,
    /// Other values ConfigMaps this resource owns (left behind by a rename).
    pub previous_config_maps: Vec<ConfigMap>,
    /// Now, in epoch seconds (scheduled rotation).
    pub now: i64,
    /// Whether this Keycloak was seen ignoring `authorizationServicesEnabled: true` (its
    /// `authorization` feature is disabled).
    pub authorization_ignored: bool,
    /// Whether the connection lets this resource take over a client no resource owns
    /// (`allowAdoption` of a ClusterKeycloakConnection, `--allow-inline-adoption`).
    pub adoption_allowed: bool,
    /// The realm's client scopes, read when the client lacks one of
    /// [`desired::REQUIRED_SCOPES`] (the scopes are added by id).
    pub realm_scopes: Vec<Scope>,
    /// The shortest time between two rotations of one client's secret (seconds): an
    /// `omkc.dev/rotate` value that arrives sooner waits.
    pub rotation_gap: i64,
    /// The managed fields the previous pass's update sent: one that still differs when the
    /// client is read back is one Keycloak did not keep.
    pub sent: Vec<desired::ClientField>,
}

/// The spec asks for authorization services on a Keycloak that ignores them.
fn authorization_unavailable() -> Error {
    Error::from(crate::validate::InvalidSpec {
        field: "spec.client.authorizationServicesEnabled".into(),
        message: "Keycloak ignores it: its authorization feature is disabled (start Keycloak without --features-disabled=authorization, or remove the field)".into(),
    })
}

/// Keycloak changed fields back right after the operator set them: a client policy of the
/// realm with an executor that auto-configures them, most likely. `attributes`: the managed
/// attributes among them (our own keys).
fn not_kept(v: &Validated, fields: &[&desired::ClientField], attributes: &[&str]) -> Error {
    let fields: Vec<String> = fields
        .iter()
        .map(|f| match f {
            desired::ClientField::Attributes => format!("attributes {}", attributes.join(", ")),
            f => f.to_string(),
        })
        .collect();
    let pkce = attributes.contains(&PKCE_ATTRIBUTE) && !v.require_pkce;
    Error::new(
        Reason::ClientPolicyConflict,
        format!(
            "Keycloak changes {} of client {:?} back after the operator sets it: a client policy of realm {:?} auto-configures it, most likely (Realm settings → Client policies); change the spec{} or the policy (the operator sets it again at each resync)",
            fields.join(", "),
            v.client_id,
            v.realm,
            if pkce {
                " (the realm requires PKCE: spec.client.requirePkce: true)"
            } else {
                ""
            },
        ),
    )
}

/// One write a plan asks for, in Keycloak or in Kubernetes, in the order given. `Debug` never
/// shows a secret a write carries ([`Body`], [`Put`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// No client with this id exists: create it with this body.
    CreateClient(Body),
    /// Send this partial update (exactly the drifted fields, the two fields client policies
    /// read, and what keeps authorization).
    UpdateClient {
        uuid: String,
        /// The partial representation to PUT.
        body: Body,
    },
    /// Add these default client scopes of the realm, one by one.
    AddScopes {
        uuid: String,
        scopes: Vec<Scope>,
        /// The ids of those the client has as optional scopes: removed from there first.
        from_optional: Vec<String>,
    },
    /// Generate a new secret for the client (it has none, or a new one is due).
    RegenerateSecret { uuid: String },
    /// Delete the client (the resource is deleted and owns it).
    DeleteClient { uuid: String },
    /// Write the output Secret.
    Secret(Put<Secret>),
    /// Write the values ConfigMap.
    ConfigMap(Put<ConfigMap>),
    /// Delete a previous output Secret of this resource (left behind by a rename).
    DeleteSecret(String),
    /// Delete a previous values ConfigMap of this resource.
    DeleteConfigMap(String),
    /// Write the status (it changed).
    Status(OpenMetadataKeycloakClientStatus),
    /// Restart these workloads (`spec.secret.rollout`) if they have not seen this content of
    /// the Secret yet: the last write, and a round of its own (observe the workloads, plan
    /// each with [`rollout::step`], patch).
    Rollout {
        /// The hash of the Secret's content ([`checksum`]).
        checksum: String,
        workloads: Vec<(WorkloadKind, String)>,
    },
    /// Release the finalizer: the resource is deleted, nothing is left to do for it.
    RemoveFinalizer,
}

impl Write {
    /// Whether this sends `authorizationServicesEnabled: true`, which Keycloak ignores with its
    /// `authorization` feature disabled.
    pub fn sends_authorization(&self) -> bool {
        matches!(self, Self::UpdateClient { body, .. } if body.authorization_services_enabled == Some(true))
    }

    /// Whether Keycloak is written (else Kubernetes).
    pub fn is_keycloak(&self) -> bool {
        matches!(
            self,
            Self::CreateClient(_)
                | Self::UpdateClient { .. }
                | Self::AddScopes { .. }
                | Self::RegenerateSecret { .. }
                | Self::DeleteClient { .. }
        )
    }
}

/// A create or server-side apply of an object the operator owns. `Debug` never shows a
/// Secret's data.
#[derive(Clone, PartialEq)]
pub enum Put<K> {
    /// It does not exist: create it.
    Create(K),
    /// It exists, is ours, and differs: apply it.
    Apply(K),
}

/// What comes after a plan's writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Then {
    /// The reconcile is done; come back after this delay (a scheduled rotation, a rotation
    /// asked too soon), else when something changes or at the resync.
    Done(Option<Duration>),
    /// Observe and plan again, from what the writes made: what Keycloak built from a create or
    /// a new secret, or the Secret just marked for a rotation.
    ObserveAgain,
}

/// Everything one pass decides: the writes, the changes they make (for Events), what next.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub writes: Vec<Write>,
    /// The changes all these writes make.
    pub changes: Vec<Change>,
    pub then: Then,
}

/// Plans one pass. A deleted resource gets its [`deletion()`]. Refuses, with
/// [`Reason::ClientConflict`] or [`Error::secret_conflict`], a client or Secret this resource
/// may not take; nothing is planned then.
pub fn plan(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    observed: &Observed,
    client: Option<&ObservedClient>,
) -> Result<Plan, Error> {
    let known_uuid = super::status::known_uuid(obj);
    if obj.metadata.deletion_timestamp.is_some() {
        return deletion(v, client.map(|c| &c.rep), known_uuid);
    }
    let mut wanted = desired::desired_client(v);
    let Some(client) = client else {
        // A new client: the secret comes from the source when there is one (in the POST body,
        // never reported back), else from Keycloak.
        wanted.secret = observed.source.as_ref().map(|s| s.expose().to_string());
        return Ok(Plan {
            writes: vec![Write::CreateClient(Body(wanted))],
            changes: vec![Change::ClientCreated {
                client_id: v.client_id.clone(),
                realm: v.realm.clone(),
            }],
            then: Then::ObserveAgain,
        });
    };
    let uuid = client
        .rep
        .id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| KeycloakError::Protocol("a client without an id".into()))?;
    let mut changes = Vec::new();
    let mut writes = Vec::new();
    if adoption::claim(&client.rep, v, known_uuid, observed.adoption_allowed)? {
        changes.push(Change::ClientAdopted {
            client_id: v.client_id.clone(),
        });
        wanted
            .attributes
            .get_or_insert_with(Default::default)
            .insert(ADOPTED_ATTRIBUTE.into(), "true".into());
    }
    if v.authorization_services == Some(true)
        && client.rep.authorization_services_enabled != Some(true)
        && observed.authorization_ignored
    {
        return Err(authorization_unavailable());
    }
    let fields = desired::client_drift(&client.rep, &wanted);
    let changed_back: Vec<&desired::ClientField> = fields
        .iter()
        .filter(|f| observed.sent.contains(f))
        .collect();
    if !changed_back.is_empty() {
        let attributes = desired::drifted_attributes(&client.rep.attributes, &wanted.attributes);
        return Err(not_kept(v, &changed_back, &attributes));
    }
    let mut update =
        (!fields.is_empty()).then(|| desired::update_body(&client.rep, &wanted, &fields));
    if !fields.is_empty() {
        changes.push(Change::ClientUpdated {
            client_id: v.client_id.clone(),
            fields,
        });
    }
    if client.rep.authorization_services_enabled != Some(true)
        && let Some(body) = update.take_if(|b| b.authorization_services_enabled == Some(true))
    {
        // Keycloak ignores the field with its `authorization` feature disabled: the client is
        // read back before anything else is written (the loop notes a field ignored, and the
        // next plan refuses the spec).
        writes.push(Write::UpdateClient {
            uuid,
            body: Body(body),
        });
        return Ok(Plan {
            writes,
            changes,
            then: Then::ObserveAgain,
        });
    }
    let missing = desired::missing_scopes(&client.rep);
    let scopes = missing
        .iter()
        .map(|name| {
            let scope = observed.realm_scopes.iter().find(|s| s.name == *name);
            scope
                .cloned()
                .ok_or_else(|| KeycloakError::ScopeNotFound(name.clone()))
        })
        .collect::<Result<Vec<Scope>, _>>()?;
    let optional = client.rep.optional_client_scopes.as_deref();
    let from_optional: Vec<String> = scopes
        .iter()
        .filter(|s| optional.unwrap_or_default().contains(&s.name))
        .map(|s| s.id.clone())
        .collect();

    let updated = update.is_some();
    let decided = secret::decide(v, client, observed, updated)?;
    if let Some(value) = &decided.set {
        // The source's secret rides on the update there is anyway, or on one of its own.
        let body = update.get_or_insert_with(|| desired::update_body(&client.rep, &wanted, &[]));
        body.secret = Some(value.expose().to_string());
    }
    if let Some(body) = update {
        writes.push(Write::UpdateClient {
            uuid: uuid.clone(),
            body: Body(body),
        });
    }
    if !missing.is_empty() {
        writes.push(Write::AddScopes {
            uuid: uuid.clone(),
            scopes,
            from_optional,
        });
        changes.push(Change::ScopesAdded { scopes: missing });
    }
    changes.extend(decided.changes);
    match decided.next {
        secret::Next::ReadAgain { regenerate } => {
            if regenerate {
                writes.push(Write::RegenerateSecret { uuid });
            }
            Ok(Plan {
                writes,
                changes,
                then: Then::ObserveAgain,
            })
        }
        // What Keycloak made of an update is read back before anything is handed over: a
        // client policy may have changed a field back.
        secret::Next::Write(_) if updated => Ok(Plan {
            writes,
            changes,
            then: Then::ObserveAgain,
        }),
        secret::Next::Write(hand_over) => {
            let rest = kubernetes::plan(obj, v, observed, client, &uuid, &hand_over)?;
            writes.extend(rest.writes);
            changes.extend(rest.changes);
            Ok(Plan {
                writes,
                changes,
                then: rest.then,
            })
        }
    }
}

#[cfg(test)]
mod tests;
