//! What deleting the resource does to its client in Keycloak (pure).

use keycloak::types::ClientRepresentation;

use crate::{
    crd::DeletionPolicy,
    keycloak::KeycloakError,
    reconcile::{
        Error,
        desired::{self, Ownership},
    },
    validate::Validated,
};

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
