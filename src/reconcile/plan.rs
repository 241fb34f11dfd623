//! Plan step (pure): from the validated spec and what was observed, the writes to make, the
//! status to publish and the changes to report. Nothing here does IO; [`super::apply`]
//! executes what [`plan`] returns.

use k8s_openapi::api::core::v1::Secret;
use keycloak::types::ClientRepresentation;

use super::{
    Error,
    change::Change,
    desired::{self, Ownership},
};
use crate::{
    crd::{DeletionPolicy, OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus},
    keycloak::{KeycloakError, ObservedClient},
    names::ADOPTED_ATTRIBUTE,
    validate::Validated,
};

/// What was observed, read by [`super::dereference`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Observed<'a> {
    /// Keycloak's base URL as browsers reach it (for the values published in status).
    pub public_base: &'a str,
    /// The client id this resource's status recorded, if any.
    pub known_uuid: Option<&'a str>,
    /// The client in Keycloak, if it exists.
    pub client: Option<&'a ObservedClient>,
    /// The output Secret, if it exists.
    pub secret: Option<&'a Secret>,
    /// Other output Secrets this resource owns (left behind by a rename).
    pub previous_secrets: &'a [Secret],
}

/// A write to Keycloak.
#[derive(Clone, Debug, PartialEq)]
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
    },
    /// Generate a new secret for the client (it has none, or a new one is due).
    RegenerateSecret {
        /// Keycloak's internal id.
        uuid: String,
    },
}

/// A write of the output Secret.
#[derive(Clone, Debug, PartialEq)]
pub enum SecretWrite {
    /// It does not exist: create it.
    Create(Secret),
    /// It exists, is ours, and differs: apply it.
    Apply(Secret),
}

/// The Kubernetes side of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    /// The Secret write, if one is needed.
    pub secret: Option<SecretWrite>,
    /// Previous output Secrets of this resource to delete.
    pub remove: Vec<String>,
    /// The status to write, if it changed.
    pub status: Option<OpenMetadataKeycloakClientStatus>,
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
            && self
                .outputs
                .as_ref()
                .is_some_and(|o| o.secret.is_none() && o.remove.is_empty() && o.status.is_none())
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
        Ownership::Unowned if v.adopt_existing => {
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
        Ownership::OtherResource(owner) => {
            return Err(Error::ClientConflict(format!(
                "client {:?} in realm {:?} belongs to OpenMetadataKeycloakClient {owner}; nothing was changed",
                v.client_id, v.realm
            )));
        }
    }
    let fields = desired::client_drift(&client.rep, &wanted);
    if !fields.is_empty() {
        keycloak.push(KeycloakAction::Update {
            uuid: uuid.clone(),
            body: desired::update_body(&client.rep, &wanted, &fields),
        });
        changes.push(Change::ClientUpdated {
            client_id: v.client_id.clone(),
            fields,
        });
    }
    let current = client.rep.default_client_scopes.clone().unwrap_or_default();
    let missing = desired::missing_scopes(&current, &desired::REQUIRED_SCOPES);
    if !missing.is_empty() {
        keycloak.push(KeycloakAction::AddScopes {
            uuid: uuid.clone(),
            names: missing.clone(),
        });
        changes.push(Change::ScopesAdded { scopes: missing });
    }
    let Some(secret_value) = client.secret.as_ref() else {
        // No secret reported: the account may not manage the client (Keycloak strips it), or
        // the client has none yet (it was public). Never guess: refuse, or write first and
        // read the client again, or give it a secret.
        if client.rep.access.as_ref().and_then(|a| a.get("manage")) == Some(&false) {
            return Err(KeycloakError::Forbidden { status: 403 }.into());
        }
        if keycloak.is_empty() {
            keycloak.push(KeycloakAction::RegenerateSecret { uuid });
            changes.push(Change::SecretRegenerated {
                client_id: v.client_id.clone(),
            });
        }
        return Ok(Plan {
            keycloak,
            outputs: None,
            changes,
        });
    };
    let (secret, secret_change) = secret(v, secret_value.expose(), observed.secret)?;
    changes.extend(secret_change);
    let remove: Vec<String> = observed
        .previous_secrets
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .filter(|name| *name != v.secret.name)
        .collect();
    changes.extend(
        remove
            .iter()
            .map(|name| Change::SecretRemoved { name: name.clone() }),
    );
    Ok(Plan {
        keycloak,
        outputs: Some(Outputs {
            secret,
            remove,
            status: super::status::to_write(
                obj,
                super::status::ready(obj, v, &uuid, observed.public_base),
            ),
        }),
        changes,
    })
}

/// Whether `secret` is owned by the resource (its ownerReference carries the resource's uid).
pub fn owned_by(secret: &Secret, uid: &str) -> bool {
    secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.kind == "OpenMetadataKeycloakClient")
}

/// Plans the output Secret from the observed one. Refuses ([`Error::SecretConflict`]) to touch
/// a Secret of that name that this resource does not own.
fn secret(
    v: &Validated,
    client_secret: &str,
    observed: Option<&Secret>,
) -> Result<(Option<SecretWrite>, Option<Change>), Error> {
    let wanted = desired::output_secret(v, client_secret);
    let name = v.secret.name.clone();
    Ok(match observed {
        None => (
            Some(SecretWrite::Create(wanted)),
            Some(Change::SecretCreated { name }),
        ),
        Some(existing) if !owned_by(existing, &v.uid) => {
            return Err(Error::SecretConflict(name));
        }
        Some(existing) if desired::secret_holds(existing, &wanted) => (None, None),
        Some(existing) => {
            // Only a change of the data is news; restored labels or annotations are not.
            let data_changed = wanted
                .data
                .iter()
                .flatten()
                .any(|(k, val)| existing.data.as_ref().and_then(|d| d.get(k)) != Some(val));
            let change = data_changed.then(|| Change::SecretUpdated { name: name.clone() });
            (Some(SecretWrite::Apply(wanted)), change)
        }
    })
}

/// What deleting the resource does to the client in Keycloak.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// The client is ours: delete it.
    Delete {
        /// Keycloak's internal id.
        uuid: String,
    },
    /// The client stays: `deletionPolicy: Retain`, or adopted without an explicit `Delete`.
    Retain,
    /// No client with this id exists any more.
    AlreadyGone,
    /// The client is not ours (made by hand, or another resource's): it stays.
    NotOurs,
}

impl Deletion {
    /// The note of the Event that reports the outcome.
    pub fn describe(&self, v: &Validated) -> String {
        match self {
            Self::Delete { .. } => {
                format!("deleted client {:?} from realm {:?}", v.client_id, v.realm)
            }
            Self::Retain => format!(
                "client {:?} stays in realm {:?} (deletionPolicy Retain, or adopted and no explicit Delete)",
                v.client_id, v.realm
            ),
            Self::AlreadyGone => format!("client {:?} was already gone from Keycloak", v.client_id),
            Self::NotOurs => format!(
                "client {:?} is not owned by this resource: left in Keycloak",
                v.client_id
            ),
        }
    }
}

/// Decides what deleting the resource does to the client found in Keycloak.
pub fn deletion(
    v: &Validated,
    found: Option<&ClientRepresentation>,
    known_uuid: Option<&str>,
) -> Result<Deletion, Error> {
    let Some(existing) = found else {
        return Ok(Deletion::AlreadyGone);
    };
    if desired::ownership(existing, v, known_uuid) != Ownership::Ours {
        return Ok(Deletion::NotOurs);
    }
    let policy = v
        .deletion_policy
        .unwrap_or(if desired::is_adopted(existing) {
            DeletionPolicy::Retain
        } else {
            DeletionPolicy::Delete
        });
    if policy == DeletionPolicy::Retain {
        return Ok(Deletion::Retain);
    }
    let uuid = existing
        .id
        .clone()
        .ok_or_else(|| KeycloakError::Protocol("a client without an id".into()))?;
    Ok(Deletion::Delete { uuid })
}

#[cfg(test)]
mod tests;
