//! The Kubernetes side of a plan (pure): the output Secret, the values ConfigMap, what a rename
//! leaves behind, the status, the restart of workloads, and when to come back.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use super::{
    HandOver, Observed, Plan, Put, Then, Write,
    secret::{rotation_due, secret_created},
};
use crate::{
    crd::{OpenMetadataKeycloakClient, SecretStatus, owner::owned_by},
    keycloak::{ObservedClient, SecretValue},
    reconcile::{Error, change::Change, desired, status},
    validate::Validated,
};

/// A hash of what OpenMetadata reads from the Secret, for the annotation that restarts
/// workloads: SHA-256 over the resource's uid, the client id and the secret, 16 hex digits.
/// It changes exactly when the content does, and tells nothing about the secret.
pub fn checksum(v: &Validated, value: &SecretValue) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [v.uid.as_str(), v.client_id.as_str(), value.expose()] {
        ctx.update(part.as_bytes());
        ctx.update(&[0]);
    }
    ctx.finish()
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Plans the Kubernetes side once the client secret is settled (`hand_over`): in this order the Secret,
/// the ConfigMap, the removals, the status, the restarts.
pub(super) fn plan(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    observed: &Observed,
    client: &ObservedClient,
    uuid: &str,
    hand_over: &HandOver,
) -> Result<Plan, Error> {
    let mut changes = Vec::new();
    let mut writes = Vec::new();
    // With the source being the output Secret itself, the Secret is the user's: not written.
    let source_is_output = v
        .secret
        .source
        .as_ref()
        .is_some_and(|(name, _)| *name == v.secret.name);
    if !source_is_output {
        let (write, change) = secret(v, hand_over, observed.secret.as_ref())?;
        changes.extend(change);
        writes.extend(write.map(Write::Secret));
    }
    // A previous output Secret that is now the source of the client secret (renamed to become
    // it) holds the secret Keycloak is given: never deleted.
    let source = v.secret.source.as_ref().map(|(name, _)| name.as_str());
    let remove: Vec<String> = observed
        .previous_secrets
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .filter(|name| *name != v.secret.name && Some(name.as_str()) != source)
        .collect();
    changes.extend(
        remove
            .iter()
            .map(|name| Change::SecretRemoved { name: name.clone() }),
    );

    if let Some(target) = &v.values {
        let wanted = desired::values_config_map(v, target, &observed.issuer);
        let write = config_map(v, wanted, observed.config_map.as_ref(), &mut changes)?;
        writes.extend(write.map(Write::ConfigMap));
    }
    let keep = v.values.as_ref().map(|t| t.name.as_str());
    let remove_config_maps: Vec<String> = observed
        .previous_config_maps
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .filter(|name| Some(name.as_str()) != keep)
        .collect();
    changes.extend(
        remove_config_maps
            .iter()
            .map(|name| Change::ValuesRemoved { name: name.clone() }),
    );

    writes.extend(remove.into_iter().map(Write::DeleteSecret));
    writes.extend(remove_config_maps.into_iter().map(Write::DeleteConfigMap));
    if hand_over.again {
        // A rotation was marked on the Secret: it comes next, planned from the marked Secret.
        return Ok(Plan {
            writes,
            changes,
            then: Then::ObserveAgain,
        });
    }
    let (secret_status, requeue) = secret_status(v, client, hand_over, observed.now);
    let mut ready = status::ready(obj, v, uuid, &observed.issuer, observed.now);
    ready.secret = secret_status;
    writes.extend(status::to_write(obj, ready).map(Write::Status));
    if !v.secret.rollout.is_empty() {
        writes.push(Write::Rollout {
            checksum: checksum(v, &hand_over.value),
            workloads: v.secret.rollout.clone(),
        });
    }
    Ok(Plan {
        writes,
        changes,
        then: Then::Done(requeue),
    })
}

/// When the secret last changed and when the next rotation is due, and how long until then.
/// From Keycloak's own record, so the status is the same on every pass until it changes.
fn secret_status(
    v: &Validated,
    client: &ObservedClient,
    hand_over: &HandOver,
    now: i64,
) -> (Option<SecretStatus>, Option<Duration>) {
    // A secret set from a source keeps Keycloak's creation time of an older one: not shown.
    let created = secret_created(client).filter(|_| v.secret.source.is_none());
    let rfc3339 = |secs: i64| {
        k8s_openapi::jiff::Timestamp::from_second(secs)
            .ok()
            .map(|t| t.to_string())
    };
    // No interval with a source (validation refuses both): no rotation is ever due then.
    let due = rotation_due(v, client);
    let status = SecretStatus {
        last_changed: created.and_then(rfc3339),
        next_rotation: due.and_then(rfc3339),
        rotation_token: hand_over.marks.rotated_for.clone(),
    };
    let back = match (due, hand_over.deferred_until) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let requeue =
        back.map(|d| Duration::from_secs(u64::try_from(d.saturating_sub(now)).unwrap_or(0)));
    let empty = status == SecretStatus::default();
    ((!empty).then_some(status), requeue)
}

/// Plans the output Secret from the observed one. Refuses ([`Error::secret_conflict`]) to touch
/// a Secret of that name that this resource does not own.
fn secret(
    v: &Validated,
    hand_over: &HandOver,
    observed: Option<&Secret>,
) -> Result<(Option<Put<Secret>>, Option<Change>), Error> {
    let wanted = desired::output_secret(v, hand_over.value.expose(), &hand_over.marks);
    let name = v.secret.name.clone();
    Ok(match observed {
        None => (
            Some(Put::Create(wanted)),
            Some(Change::SecretCreated { name }),
        ),
        Some(existing) if !owned_by(existing, &v.uid) => {
            return Err(Error::secret_conflict(name));
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
            (Some(Put::Apply(wanted)), change)
        }
    })
}

/// Plans the values ConfigMap; refuses ([`Error::config_map_conflict`]) one it does not own.
fn config_map(
    v: &Validated,
    wanted: ConfigMap,
    observed: Option<&ConfigMap>,
    changes: &mut Vec<Change>,
) -> Result<Option<Put<ConfigMap>>, Error> {
    let name = wanted.metadata.name.clone().unwrap_or_default();
    Ok(match observed {
        None => {
            changes.push(Change::ValuesWritten { name });
            Some(Put::Create(wanted))
        }
        Some(existing) if !owned_by(existing, &v.uid) => {
            return Err(Error::config_map_conflict(name));
        }
        Some(existing) if desired::config_map_holds(existing, &wanted) => None,
        Some(existing) => {
            if existing.data != wanted.data {
                changes.push(Change::ValuesWritten { name });
            }
            Some(Put::Apply(wanted))
        }
    })
}
