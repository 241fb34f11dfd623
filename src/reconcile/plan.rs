//! Plan step (pure): from the validated spec and what was observed, the writes to make.
//! Nothing here does IO; [`super::apply`] executes what these functions return.

use k8s_openapi::{api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::OwnerReference};
use keycloak::types::ClientRepresentation;

use super::{
    Error,
    change::Change,
    desired::{self, ClientField, Ownership},
};
use crate::{
    crd::{OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus},
    keycloak::KeycloakError,
    validate::Validated,
};

/// What to do with the client in Keycloak.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientAction {
    /// No client with this id exists: create it with this body.
    Create(ClientRepresentation),
    /// The client is ours (or adopted) and some managed fields differ: send this partial update.
    Update {
        /// Keycloak's internal id.
        uuid: String,
        /// The partial representation to PUT.
        body: ClientRepresentation,
        /// The fields that differ.
        fields: Vec<ClientField>,
    },
    /// The client is ours and in line with the spec.
    Keep {
        /// Keycloak's internal id.
        uuid: String,
    },
}

/// The Keycloak side of the plan: the client action and the changes it makes.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientPlan {
    /// What to do.
    pub action: ClientAction,
    /// The changes the action makes (empty for [`ClientAction::Keep`]).
    pub changes: Vec<Change>,
}

/// Decides what happens to the client, given the client of that id found in Keycloak (if any).
/// Refuses, with [`Error::ClientConflict`], a client this resource may not take.
pub fn client(v: &Validated, found: Option<&ClientRepresentation>) -> Result<ClientPlan, Error> {
    let wanted = desired::desired_client(v);
    let Some(existing) = found else {
        return Ok(ClientPlan {
            action: ClientAction::Create(wanted),
            changes: vec![Change::ClientCreated {
                client_id: v.client_id.clone(),
                realm: v.realm.clone(),
            }],
        });
    };
    let uuid = existing
        .id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| KeycloakError::Protocol("client listed without an id".into()))?;
    let mut changes = Vec::new();
    match desired::ownership(existing, v) {
        Ownership::Ours => {}
        Ownership::Unowned if v.adopt_existing => changes.push(Change::ClientAdopted {
            client_id: v.client_id.clone(),
        }),
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
    let fields = desired::client_drift(existing, &wanted);
    if fields.is_empty() {
        return Ok(ClientPlan {
            action: ClientAction::Keep { uuid },
            changes,
        });
    }
    changes.push(Change::ClientUpdated {
        client_id: v.client_id.clone(),
        fields: fields.clone(),
    });
    Ok(ClientPlan {
        action: ClientAction::Update {
            uuid,
            body: wanted,
            fields,
        },
        changes,
    })
}

/// The default client scopes to add, by name, given the client's current ones. The realm's
/// other defaults stay: scopes are only ever added, one by one.
pub fn scopes_to_add(current: &[String]) -> Vec<String> {
    desired::missing_scopes(current, &desired::REQUIRED_SCOPES)
}

/// What to do with the output Secret.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretPlan {
    /// The Secret to apply (server-side apply: also restores edited labels or keys).
    pub apply: Secret,
    /// The change it makes, if its data differs from what is there.
    pub change: Option<Change>,
    /// A previous output Secret of this resource to delete (after a rename), if it still exists
    /// and is owned by this resource; checked by the caller at apply time.
    pub remove_previous: Option<String>,
}

/// Whether `secret` is owned by `obj` (its ownerReference carries the resource's uid).
pub fn owned_by(secret: &Secret, obj: &OpenMetadataKeycloakClient) -> bool {
    let uid = obj.metadata.uid.as_deref();
    secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| Some(o.uid.as_str()) == uid && o.kind == "OpenMetadataKeycloakClient")
}

/// Plans the output Secret from the observed one. Refuses ([`Error::SecretConflict`]) to touch
/// a Secret of that name that this resource does not own.
pub fn secret(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    owner: OwnerReference,
    client_secret: &str,
    observed: Option<&Secret>,
) -> Result<SecretPlan, Error> {
    if let Some(existing) = observed
        && !owned_by(existing, obj)
    {
        return Err(Error::SecretConflict(v.secret.name.clone()));
    }
    let apply = desired::output_secret(v, owner, client_secret);
    let name = v.secret.name.clone();
    let change = match observed {
        None => Some(Change::SecretCreated { name }),
        Some(existing) if existing.data != apply.data => Some(Change::SecretUpdated { name }),
        Some(_) => None,
    };
    let remove_previous = obj
        .status
        .as_ref()
        .and_then(|s| s.secret_name.clone())
        .filter(|old| *old != v.secret.name);
    Ok(SecretPlan {
        apply,
        change,
        remove_previous,
    })
}

/// The status after a successful convergence, or `None` when the object already carries it.
pub fn ready_status(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    client_uuid: &str,
) -> Option<OpenMetadataKeycloakClientStatus> {
    super::status::to_write(obj, super::status::ready(obj, v, client_uuid))
}

/// What deleting the resource does to the client in Keycloak.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// The client is ours: delete it.
    Delete {
        /// Keycloak's internal id.
        uuid: String,
    },
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
            Self::AlreadyGone => format!("client {:?} was already gone from Keycloak", v.client_id),
            Self::NotOurs => format!(
                "client {:?} is not owned by this resource: left in Keycloak",
                v.client_id
            ),
        }
    }
}

/// Decides what deleting the resource does to the client found in Keycloak.
pub fn deletion(v: &Validated, found: Option<&ClientRepresentation>) -> Result<Deletion, Error> {
    let Some(existing) = found else {
        return Ok(Deletion::AlreadyGone);
    };
    match desired::ownership(existing, v) {
        Ownership::Ours => {
            let uuid = existing
                .id
                .clone()
                .ok_or_else(|| KeycloakError::Protocol("client listed without an id".into()))?;
            Ok(Deletion::Delete { uuid })
        }
        _ => Ok(Deletion::NotOurs),
    }
}

#[cfg(test)]
mod tests;
