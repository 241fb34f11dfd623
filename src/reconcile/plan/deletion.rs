//! What deleting the resource does (pure): to its client in Keycloak, and to the finalizer.
//!
//! Deletion never hangs on something that cannot come back: when cleanup is impossible for a
//! permanent reason (connection deleted, credentials refused or gone, an invalid spec), the
//! finalizer is released with a `ClientOrphaned` Warning that names the client left behind.
//! A transient failure keeps the finalizer, and the deletion is retried.

use keycloak::types::ClientRepresentation;

use super::{Plan, Then, Write};
use crate::{
    crd::{DeletionPolicy, OpenMetadataKeycloakClient},
    keycloak::KeycloakError,
    reconcile::{
        Error,
        change::Change,
        desired::{self, Ownership},
    },
    validate::{ConnectionSource, Validated},
};

/// The writes of a deletion that ends with `change`: the finalizer goes last.
fn released(client: Option<Write>, change: Option<Change>) -> Plan {
    Plan {
        writes: client.into_iter().chain([Write::RemoveFinalizer]).collect(),
        changes: change.into_iter().collect(),
        then: Then::Done(None),
    }
}

/// `deletionPolicy: Retain`: the client stays, and Keycloak is not even asked.
pub fn retained(v: &Validated) -> Plan {
    released(
        None,
        Some(Change::ClientRetained {
            client_id: v.client_id.clone(),
            realm: v.realm.clone(),
        }),
    )
}

/// Decides what deleting the resource does to the client found in Keycloak.
pub fn deletion(
    v: &Validated,
    found: Option<&ClientRepresentation>,
    known_uuid: Option<&str>,
) -> Result<Plan, Error> {
    let client_id = v.client_id.clone();
    let Some(existing) = found else {
        return Ok(released(None, Some(Change::ClientGone { client_id })));
    };
    if desired::ownership(existing, v, known_uuid) != Ownership::Ours {
        return Ok(released(None, Some(Change::ClientNotOurs { client_id })));
    }
    let policy = v
        .deletion_policy
        .unwrap_or(if desired::is_adopted(existing) {
            DeletionPolicy::Retain
        } else {
            DeletionPolicy::Delete
        });
    if policy == DeletionPolicy::Retain {
        return Ok(retained(v));
    }
    let uuid = existing
        .id
        .clone()
        .ok_or_else(|| KeycloakError::Protocol("a client without an id".into()))?;
    let realm = v.realm.clone();
    Ok(released(
        Some(Write::DeleteClient { uuid }),
        Some(Change::ClientDeleted { client_id, realm }),
    ))
}

/// The deletion failed with `err` before it could decide (`v`: `None` when the spec is
/// invalid). Transient: the error, and the finalizer stays. Permanent: the finalizer is
/// released, naming the client that may be left in Keycloak; nothing is said when the resource
/// never had a client (its status recorded none).
pub fn orphaned(
    obj: &OpenMetadataKeycloakClient,
    v: Option<&Validated>,
    err: Error,
) -> Result<Plan, Error> {
    if err.is_transient() {
        return Err(err);
    }
    let status = obj.status.as_ref();
    let Some(uuid) = status.and_then(|s| s.client_uuid.clone()) else {
        return Ok(released(None, None));
    };
    let place = match v.map(|v| (&v.connection, &v.realm)) {
        Some((ConnectionSource::Cluster(name), realm)) => {
            format!(" in realm {realm:?} through ClusterKeycloakConnection {name:?}")
        }
        Some((ConnectionSource::Inline(inline), realm)) => {
            format!(" in realm {realm:?} of {}", inline.url)
        }
        None => String::new(),
    };
    Ok(released(
        None,
        Some(Change::ClientOrphaned {
            client_id: status.and_then(|s| s.client_id.clone()).unwrap_or_default(),
            uuid,
            place,
            why: err.to_string(),
        }),
    ))
}
