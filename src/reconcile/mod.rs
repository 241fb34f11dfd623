//! The reconcile: one loop around a pure plan.
//!
//! ```text
//! resource ─validate─▶ Validated ─observe─▶ Observed, client ─plan─▶ Plan ─execute─▶ Event
//!                                              ▲                     │
//!                                              └── then: ObserveAgain┘
//! ```
//!
//! - [`crate::validate`] (pure): the raw spec becomes a checked value with defaults;
//! - [`observe`] (reads only): the connection, credentials, the Keycloak client, the
//!   output Secret and ConfigMap;
//! - [`plan`] (pure): every write (Keycloak, the Secret, the ConfigMap, the status, the
//!   finalizer on deletion), the changes they make, and whether to observe again;
//! - [`execute`] (the only writes): makes a plan's writes, in order;
//! - [`crate::events`]: one Event per reconcile, from the changes ([`change`]).
//!
//! A deleted resource goes through the same loop: its plan deletes the client and releases the
//! finalizer.

pub mod change;
pub mod connection;
pub mod desired;
mod error;
pub mod execute;
pub mod finalizer;
pub mod observe;
pub mod plan;
pub mod status;

use std::{sync::Arc, time::Duration};

use kube::{core::DeserializeGuard, runtime::controller::Action};
use tracing::{info, warn};

pub use error::Error;

use crate::{
    context::Context,
    crd::{DeletionPolicy, OpenMetadataKeycloakClient, object_key},
    events,
    keycloak::{KeycloakError, ObservedClient, Session},
    reason::Reason,
    validate::{Validated, validate},
};
use change::Change;
use plan::{Then, Write};

/// Passes of observe → plan → write before giving up. The longest path: create the client,
/// read it back, mark a rotation on the Secret, observe again, regenerate, read back.
const MAX_PASSES: usize = 6;

/// Entry point of a reconcile: a malformed object is reported and skipped; the others get the
/// finalizer and converge (a deleted one: its cleanup), in the same reconcile.
pub async fn reconcile(
    guard: Arc<DeserializeGuard<OpenMetadataKeycloakClient>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let obj = match &guard.0 {
        Ok(obj) => obj,
        Err(invalid) => {
            let meta = &invalid.metadata;
            let (name, namespace) = (meta.name.as_deref(), meta.namespace.as_deref());
            warn!(
                name,
                namespace, "malformed OpenMetadataKeycloakClient: {}", invalid.error
            );
            if meta.deletion_timestamp.is_some() && finalizer::has(meta) {
                // Deletable even when it no longer parses; what it made cannot be looked up.
                let left = Change::UnreadableOrphaned {
                    error: invalid.error.clone(),
                };
                ctx.metrics.orphaned_client();
                ctx.events
                    .publish_for_meta(meta, left.reason(), &left.to_string())
                    .await;
                finalizer::remove(meta, &ctx).await?;
            } else {
                ctx.events
                    .publish_for_meta(meta, Reason::MalformedResource, &invalid.error)
                    .await;
            }
            return Ok(Action::await_change());
        }
    };
    let deleting = obj.metadata.deletion_timestamp.is_some();
    let namespace = obj.metadata.namespace.as_deref().unwrap_or_default();
    if !deleting && ctx.namespace_deleting(namespace) {
        // Its deletion comes next: nothing is made for it before (no finalizer, no client that
        // would have to be deleted again, no Secret the namespace would refuse).
        info!(resource = %object_key(obj), "the namespace is being deleted: waiting for the resource's deletion");
        return Ok(Action::await_change());
    }
    match (deleting, finalizer::has(&obj.metadata)) {
        (true, false) => return Ok(Action::await_change()),
        (false, false) => finalizer::add(obj, &ctx).await?,
        _ => {}
    }
    converge_and_report(obj, &ctx).await
}

/// What a converged reconcile did.
#[derive(Debug, Default)]
pub struct Converged {
    /// Every change made (or, on deletion, left), in order.
    pub changes: Vec<Change>,
    /// The writes of the last plan that were not made: the Kubernetes writes, without a
    /// context.
    pub unmade: Vec<Write>,
    /// Come back after this delay (a scheduled rotation, a rotation asked too soon).
    pub requeue: Option<Duration>,
}

/// Converges, then reports: one Event for the changes (the status is one of the writes), or the
/// failure in the status and an Event.
async fn converge_and_report(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
) -> Result<Action, Error> {
    // Bounded: every request has its own timeout, and the whole is bounded too, so that a slow
    // Keycloak or API server cannot hold a worker (and the resources behind it) for ever.
    let bound = ctx.settings.reconcile_timeout;
    let converged = tokio::time::timeout(bound, converge(obj, ctx))
        .await
        .unwrap_or(Err(Error::timed_out(bound)));
    match converged {
        Ok(Converged {
            changes, requeue, ..
        }) => {
            ctx.reset_backoff(&object_key(obj));
            for change in &changes {
                info!(resource = %object_key(obj), "{change}");
                if change.reason() == Reason::ClientOrphaned {
                    ctx.metrics.orphaned_client();
                }
            }
            // One Normal Event per reconcile that changed something: named by its first change
            // (the client before its scopes, the secret before the Secret, the Secret before
            // the workloads), its note says every change. A Warning is an Event of its own.
            let (warnings, normal): (Vec<&Change>, _) = changes
                .iter()
                .partition(|c| events::type_of(c.reason()) == events::EventType::Warning);
            if let Some(first) = normal.first() {
                let note = normal
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                ctx.events.publish(obj, first.reason(), &note).await;
            }
            for warning in warnings {
                let note = warning.to_string();
                ctx.events.publish(obj, warning.reason(), &note).await;
            }
            // A scheduled rotation comes back when it is due; everything else with the
            // controller's even spread of resyncs.
            Ok(requeue.map_or_else(Action::await_change, Action::requeue))
        }
        Err(err) => {
            let (message, note) = if obj.metadata.deletion_timestamp.is_some() {
                let note = format!("deleting: {err}");
                let message = format!("{note}; the finalizer stays and the deletion is retried");
                (message, note)
            } else {
                (err.to_string(), err.to_string())
            };
            let failed = status::failed(obj, err.reason(), &message, observe::now());
            if let Some(failed) = status::to_write(obj, failed) {
                execute::status(obj, ctx, &failed).await?;
            }
            ctx.events.publish(obj, err.reason(), &note).await;
            Err(err)
        }
    }
}

/// Validate, observe, then the loop; for a deleted resource, [`release`].
async fn converge(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<Converged, Error> {
    if obj.metadata.deletion_timestamp.is_some() {
        return release(obj, ctx).await;
    }
    let v = validate(obj, &ctx.settings.installation)?;
    let (session, observed) = observe::resource(obj, &v, ctx).await?;
    converge_client(&session, obj, &v, observed, Some(ctx)).await
}

/// A deleted resource: the loop deletes its client in Keycloak (as its plan says), then its
/// Kubernetes writes release the finalizer. When the loop cannot run or fails for good, what is
/// left in Keycloak is said ([`plan::orphaned`]) and the finalizer released all the same.
async fn release(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<Converged, Error> {
    let plan = match validate(obj, &ctx.settings.installation) {
        Err(e) => plan::orphaned(obj, None, e.into())?,
        // Keycloak is not even asked.
        Ok(v) if v.deletion_policy == Some(DeletionPolicy::Retain) => plan::retained(&v),
        Ok(v) => {
            let converged = match observe::deletion_session(&v, ctx).await {
                Ok(session) => {
                    converge_client(&session, obj, &v, plan::Observed::default(), None).await
                }
                Err(e) => Err(e),
            };
            match converged {
                Ok(c) => plan::Plan {
                    writes: c.unmade,
                    changes: c.changes,
                    then: Then::Done(None),
                },
                Err(e) => plan::orphaned(obj, Some(&v), e)?,
            }
        }
    };
    execute::kubernetes(obj, ctx, &plan.writes).await?;
    Ok(Converged {
        changes: plan.changes,
        ..Default::default()
    })
}

/// The loop at the heart of a reconcile: observe the client, plan, write, until a plan has
/// nothing left to observe again. A plan observes again after creating the client or giving it
/// a secret (what Keycloak built is read back), and after marking a rotation on the Secret (the
/// next pass plans from the Secret just written and the client as it is now).
///
/// Without `ctx` the Kubernetes writes are not made: the first pass that has them returns them
/// as [`Converged::unmade`] (the Keycloak side alone: deletion, tests).
pub async fn converge_client(
    session: &Session,
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    mut observed: plan::Observed,
    ctx: Option<&Context>,
) -> Result<Converged, Error> {
    let known = status::known_uuid(obj);
    let mut client = observe::client(session, v, known).await?;
    let mut changes = Vec::new();
    for _ in 0..MAX_PASSES {
        observed.authorization_ignored = session.authorization_ignored();
        observed.realm_scopes = observe::realm_scopes(session, obj, v, client.as_ref()).await?;
        let planned = plan::plan(obj, v, &observed, client.as_ref())?;
        observed.sent = planned
            .writes
            .iter()
            .find_map(|w| match w {
                Write::UpdateClient { body, .. } => Some(desired::ClientField::set_in(body)),
                _ => None,
            })
            .unwrap_or_default();
        changes.extend(planned.changes);
        let written = execute::keycloak(session, v, &planned.writes).await?;
        let sent_authorization = planned.writes.iter().any(Write::sends_authorization);
        let kubernetes: Vec<Write> = planned
            .writes
            .iter()
            .filter(|w| !w.is_keycloak())
            .cloned()
            .collect();
        let done = match planned.then {
            Then::Done(requeue) => Some(requeue),
            Then::ObserveAgain => None,
        };
        let Some(ctx) = ctx else {
            if done.is_none() && kubernetes.is_empty() {
                client = observe_again(session, v, known, written, sent_authorization).await?;
                continue;
            }
            return Ok(Converged {
                changes,
                unmade: kubernetes,
                requeue: done.flatten(),
            });
        };
        let made = execute::kubernetes(obj, ctx, &kubernetes).await?;
        if let Some(Write::Rollout { checksum, .. }) = kubernetes.last() {
            changes.extend(restart(obj, v, ctx, checksum).await?);
        }
        if let Some(requeue) = done {
            return Ok(Converged {
                changes,
                unmade: Vec::new(),
                requeue,
            });
        }
        // Observe again, from what was just written (the watch may not show it yet).
        observed.secret = made.secret.or(observed.secret);
        observed.config_map = made.config_map.or(observed.config_map);
        if !kubernetes.is_empty() {
            observed.previous_secrets.clear();
            observed.previous_config_maps.clear();
        }
        client = observe_again(session, v, known, written, sent_authorization).await?;
    }
    Err(Error::from(KeycloakError::Protocol(
        "the client did not settle".into(),
    )))
}

/// The round that restarts workloads once the Secret is written: observe them (those not
/// remembered at this checksum), plan each, patch.
async fn restart(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    ctx: &Context,
    checksum: &str,
) -> Result<Vec<Change>, Error> {
    let planned = observe::workloads(ctx, &object_key(obj), v, checksum)
        .await?
        .into_iter()
        .map(|w| {
            let step = plan::rollout::step(&w, checksum, &v.name);
            (w, step)
        })
        .collect();
    execute::restarts(obj, ctx, checksum, planned).await
}

/// The client after a pass's writes: read back by its id when Keycloak was written (what it
/// built from the writes), else looked up as at the start. A client sent
/// `authorizationServicesEnabled: true` that does not show it means Keycloak ignores the field
/// (its `authorization` feature is disabled): the session remembers it, and the plan refuses
/// the spec from then on instead of sending the same update at every resync.
async fn observe_again(
    session: &Session,
    v: &Validated,
    known: Option<&str>,
    written: Option<String>,
    sent_authorization: bool,
) -> Result<Option<ObservedClient>, Error> {
    let client = match written {
        Some(uuid) => Some(observe::client_by_id(session, v, &uuid).await?),
        None => observe::client(session, v, known).await?,
    };
    if sent_authorization
        && client
            .as_ref()
            .is_some_and(|c| c.rep.authorization_services_enabled != Some(true))
    {
        session.note_authorization_ignored();
    }
    Ok(client)
}
