//! Which secret the client should have and what the output Secret must hold (pure): Keycloak's
//! own, a new one (none yet, rotation asked for or due), or the source Secret's.
//!
//! Rotation on demand is exactly once per token, whatever restarts: the state lives in
//! Keycloak (the secret) and on the output Secret (two annotations), never in memory.
//!
//! ```text
//! token T new ──▶ mark rotating-for=T on the Secret ──▶ regenerate in Keycloak ──▶ Secret gets
//!                 (no regeneration before the mark)      (mark seen, Secret still     the new value,
//!                                                          holds the old value)        rotated-for=T
//! ```
//!
//! A restart after the mark and before the regeneration regenerates (the Secret still holds
//! what Keycloak holds); a restart after the regeneration only copies (they differ).
//! Scheduled rotation needs no mark: Keycloak's `client.secret.creation.time` moves with the
//! regeneration, so the rotation stops being due the moment it happened. A secret Keycloak
//! gives no creation time (one given rather than generated, an imported client) has an unknown
//! age: the rotation counts as due, once, and the regenerated secret carries its time.

use super::Observed;
use crate::crd::owner::owned_by;
use crate::{
    duration,
    keycloak::{KeycloakError, ObservedClient, SecretValue},
    names::SECRET_CREATION_ATTRIBUTE,
    reconcile::{
        Error,
        change::{Change, Rotation},
        desired::RotationMarks,
    },
    validate::Validated,
};

/// What [`decide`] settled.
#[derive(Debug)]
pub(super) struct Decided {
    /// Set the client secret to this value (from the source Secret) with the update.
    pub set: Option<SecretValue>,
    pub changes: Vec<Change>,
    pub next: Next,
}

/// After the Keycloak writes of this pass.
#[derive(Debug)]
pub(super) enum Next {
    /// Read the client again (after generating a new secret when `regenerate`): what the
    /// Secret must hold is not known yet.
    ReadAgain { regenerate: bool },
    /// Write the Secret and the rest of the Kubernetes side.
    Write(HandOver),
}

/// What the output Secret must hold.
#[derive(Clone, Debug, PartialEq)]
pub struct HandOver {
    pub value: SecretValue,
    pub marks: RotationMarks,
    /// Run another pass once the Secret is written (a rotation was marked, it comes next).
    pub again: bool,
    /// A rotation asked for waits until then (epoch seconds): come back at that moment.
    pub deferred_until: Option<i64>,
}

fn write(value: &SecretValue, marks: RotationMarks) -> Next {
    Next::Write(HandOver {
        value: value.clone(),
        marks,
        again: false,
        deferred_until: None,
    })
}

/// When Keycloak made the client's current secret (epoch seconds), if it says.
pub fn secret_created(client: &ObservedClient) -> Option<i64> {
    client
        .rep
        .attributes
        .as_ref()?
        .get(SECRET_CREATION_ATTRIBUTE)?
        .parse()
        .ok()
}

/// When the next scheduled rotation is due (epoch seconds): Keycloak's creation time of the
/// current secret plus `rotationInterval`.
pub fn rotation_due(v: &Validated, client: &ObservedClient) -> Option<i64> {
    let interval = i64::try_from(v.secret.rotation_interval?.as_secs()).unwrap_or(i64::MAX);
    Some(secret_created(client)?.saturating_add(interval))
}

/// Whether Keycloak says the signed-in account may not manage the client (it then strips the
/// secret and refuses to set one).
fn may_not_manage(client: &ObservedClient) -> bool {
    client.rep.access.as_ref().and_then(|a| a.get("manage")) == Some(&false)
}

/// Decides the secret. `updating`: an update of the client is planned in this pass (it may
/// give the client a secret, so it is read again before generating one).
pub(super) fn decide(
    v: &Validated,
    client: &ObservedClient,
    observed: &Observed,
    updating: bool,
) -> Result<Decided, Error> {
    let decided = |next: Next, changes: Vec<Change>| Decided {
        set: None,
        changes,
        next,
    };
    // Marks on a Secret this resource does not own are not its own state (and the Secret
    // itself is refused when the Kubernetes side is planned).
    let existing = observed.secret.as_ref().filter(|s| owned_by(*s, &v.uid));
    let marks = existing.map(RotationMarks::of).unwrap_or_default();
    let held = existing
        .and_then(|s| s.data.as_ref()?.get(&v.secret.client_secret_key))
        .map(|b| b.0.as_slice());
    // A token present when the Secret is first written counts as carried out: the secret is
    // new to OpenMetadata anyway.
    let settled = RotationMarks {
        rotated_for: match existing {
            Some(_) => marks.rotated_for.clone(),
            None => v.rotate_token.clone(),
        },
        rotating_for: None,
    };

    if let Some(source) = &observed.source {
        let differs = client.secret.as_ref() != Some(source);
        let changes = if differs {
            vec![Change::SecretSetFromSource {
                client_id: v.client_id.clone(),
                source: v.secret.source.clone().unwrap_or_default().0,
            }]
        } else {
            Vec::new()
        };
        if differs && may_not_manage(client) {
            return Err(KeycloakError::MayNotManage.into());
        }
        return Ok(Decided {
            set: differs.then(|| source.clone()),
            changes,
            next: write(source, settled),
        });
    }

    let Some(current) = client.secret.as_ref() else {
        // No secret reported: the account may not manage the client (Keycloak strips it), or
        // the client has none yet (it was public). Never guess: refuse, or write first and
        // read the client again, or give it a secret.
        if may_not_manage(client) {
            return Err(KeycloakError::MayNotManage.into());
        }
        if updating {
            return Ok(decided(Next::ReadAgain { regenerate: false }, Vec::new()));
        }
        return Ok(decided(
            Next::ReadAgain { regenerate: true },
            vec![Change::SecretRegenerated {
                client_id: v.client_id.clone(),
            }],
        ));
    };

    if let (Some(token), Some(_)) = (&v.rotate_token, existing)
        && marks.rotated_for.as_ref() != Some(token)
    {
        let not_before = secret_created(client).map(|c| c.saturating_add(observed.rotation_gap));
        if marks.rotating_for.as_ref() != Some(token)
            && let Some(until) = not_before.filter(|until| observed.now < *until)
        {
            // Too soon after the last new secret: hand over the current one and come back.
            let mut next = write(current, settled);
            if let Next::Write(h) = &mut next {
                h.deferred_until = Some(until);
            }
            let gap = duration::format(std::time::Duration::from_secs(
                u64::try_from(observed.rotation_gap).unwrap_or(0),
            ));
            return Ok(decided(
                next,
                vec![Change::RotationDeferred {
                    client_id: v.client_id.clone(),
                    token: token.clone(),
                    until,
                    gap,
                }],
            ));
        }
        if marks.rotating_for.as_ref() != Some(token) {
            // Mark first: from here on a restart cannot forget or repeat the rotation.
            let marking = RotationMarks {
                rotated_for: marks.rotated_for.clone(),
                rotating_for: Some(token.clone()),
            };
            let mut next = write(current, marking);
            if let Next::Write(h) = &mut next {
                h.again = true;
            }
            return Ok(decided(next, Vec::new()));
        }
        if held == Some(current.expose().as_bytes()) {
            // Marked and not yet done: the Secret still holds what Keycloak holds.
            return Ok(decided(
                Next::ReadAgain { regenerate: true },
                vec![Change::SecretRotated {
                    client_id: v.client_id.clone(),
                    trigger: Rotation::OnDemand(token.clone()),
                }],
            ));
        }
        // Done (now, or before a restart): hand the new secret over.
        let done = RotationMarks {
            rotated_for: Some(token.clone()),
            rotating_for: None,
        };
        return Ok(decided(write(current, done), Vec::new()));
    }

    if let Some(interval) = v.secret.rotation_interval {
        let interval = duration::format(interval);
        let trigger = match rotation_due(v, client) {
            Some(due) if due <= observed.now => Some(Rotation::Scheduled(interval)),
            Some(_) => None,
            None => Some(Rotation::AgeUnknown(interval)),
        };
        if let Some(trigger) = trigger {
            return Ok(decided(
                Next::ReadAgain { regenerate: true },
                vec![Change::SecretRotated {
                    client_id: v.client_id.clone(),
                    trigger,
                }],
            ));
        }
    }

    // Keycloak's secret, as it is (a secret regenerated by hand is copied here too).
    Ok(decided(write(current, settled), Vec::new()))
}
