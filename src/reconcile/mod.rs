//! The reconcile, as a pipeline around a pure plan:
//!
//! ```text
//! resource ─validate─▶ Validated ─dereference─▶ observations ─plan─▶ writes ─apply─▶ status, Events
//! ```
//!
//! - [`crate::validate`] (pure): the raw spec becomes a checked value with defaults;
//! - [`dereference`] (reads only): credentials, the Keycloak client, the output Secret;
//! - [`plan`] (pure): what to create, update or add, the Secret to write, the status;
//! - [`apply`] (the only writes): executes a plan against Keycloak and Kubernetes;
//! - [`status`] (pure) and [`crate::events`]: what is reported;
//! - [`cleanup`]: the same steps when the resource is deleted.

pub mod apply;
pub mod change;
pub mod cleanup;
pub mod connection;
pub mod dereference;
pub mod desired;
mod error;
pub mod finalizer;
pub mod plan;
pub mod status;

use std::sync::Arc;

use kube::{ResourceExt, core::DeserializeGuard, runtime::controller::Action};
use tracing::{info, warn};

pub use error::{Error, keycloak_reason};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use crate::{
    context::Context,
    crd::OpenMetadataKeycloakClient,
    keycloak::{KeycloakError, SecretValue, Session},
    reason::Reason,
    validate::{Validated, validate},
};
use change::Change;

/// `namespace/name` of a resource: the key of its backoff and of its log lines.
pub fn object_key(obj: &OpenMetadataKeycloakClient) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Passes of observe → plan → write before giving up. The longest path: create the client,
/// read it back, mark a rotation on the Secret, observe again, regenerate, read back.
const MAX_PASSES: usize = 6;

/// Entry point of a reconcile: a malformed object is reported and skipped; a deleted one is
/// cleaned up; the others get the finalizer and converge, in the same reconcile.
pub async fn reconcile(
    guard: Arc<DeserializeGuard<OpenMetadataKeycloakClient>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let obj = match &guard.0 {
        Ok(obj) => obj,
        Err(invalid) => {
            let meta = &invalid.metadata;
            warn!(name = ?meta.name, namespace = ?meta.namespace, "malformed OpenMetadataKeycloakClient: {}", invalid.error);
            if meta.deletion_timestamp.is_some() && finalizer::has(meta) {
                // Deletable even when it no longer parses; what it made cannot be looked up.
                cleanup::orphaned_unreadable(meta, &invalid.error, &ctx).await;
                finalizer::remove(meta, &ctx).await?;
            } else {
                ctx.events
                    .publish_for_meta(meta, Reason::MalformedResource, &invalid.error)
                    .await;
            }
            return Ok(Action::await_change());
        }
    };
    if obj.metadata.deletion_timestamp.is_some() {
        if finalizer::has(&obj.metadata) {
            cleanup::cleanup(obj, &ctx).await?;
            finalizer::remove(&obj.metadata, &ctx).await?;
        }
        return Ok(Action::await_change());
    }
    if !finalizer::has(&obj.metadata) {
        finalizer::add(obj, &ctx).await?;
    }
    converge_and_report(obj, &ctx).await
}

/// Converges, then reports: the status (only when it changed) and one Event for the changes.
async fn converge_and_report(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
) -> Result<Action, Error> {
    // Bounded: every request has its own timeout, and the whole is bounded too, so that a slow
    // Keycloak or API server cannot hold a worker (and the resources behind it) for ever.
    let bound = ctx.settings.reconcile_timeout;
    let converged = tokio::time::timeout(bound, converge(obj, ctx))
        .await
        .unwrap_or(Err(Error::TimedOut(bound)));
    match converged {
        Ok((changes, requeue)) => {
            ctx.reset_backoff(&object_key(obj));
            for change in &changes {
                info!(resource = %object_key(obj), "{change}");
            }
            // One Event per reconcile that changed something: named by its first change (the
            // client before its scopes, the secret before the Secret, the Secret before the
            // workloads), its note says every change.
            if let Some(first) = changes.first() {
                let note = changes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                ctx.events.publish(obj, first.reason(), &note).await;
            }
            // A scheduled rotation comes back when it is due; everything else with the
            // controller's even spread of resyncs.
            Ok(requeue.map_or_else(Action::await_change, Action::requeue))
        }
        Err(err) => {
            let failed = status::failed(obj, err.reason(), &err.to_string(), now());
            apply::status(obj, ctx, status::to_write(obj, failed)).await?;
            ctx.events
                .publish(obj, err.reason(), &err.to_string())
                .await;
            Err(err)
        }
    }
}

/// The uuid of the client this resource's status recorded, if any.
pub fn known_uuid(obj: &OpenMetadataKeycloakClient) -> Option<&str> {
    obj.status.as_ref().and_then(|s| s.client_uuid.as_deref())
}

/// Now, in epoch seconds: read here, given to the plan and the status.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What a reconcile observed in Kubernetes (and the realm's issuer), owned: every pass plans
/// from it, and a pass after a write plans from what was written.
#[derive(Default)]
pub struct Seen {
    /// The realm's issuer as browsers reach it.
    pub issuer: String,
    /// The output Secret, if it exists.
    pub secret: Option<Secret>,
    /// Other output Secrets this resource owns (left behind by a rename).
    pub previous_secrets: Vec<Secret>,
    /// The client secret from `spec.secret.source`, when there is one.
    pub source: Option<SecretValue>,
    /// The values ConfigMap, if it exists.
    pub config_map: Option<ConfigMap>,
    /// Other values ConfigMaps this resource owns.
    pub previous_config_maps: Vec<ConfigMap>,
    /// Now, in epoch seconds.
    pub now: i64,
    /// Whether the connection allows adoption.
    pub adoption_allowed: bool,
    /// The shortest time between two rotations (seconds).
    pub rotation_gap: i64,
}

/// Observes what a reconcile needs besides the client: the connection (within its
/// `maxClients`), the source secret, the issuer, the output Secret and values ConfigMap.
async fn observe(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    ctx: &Context,
) -> Result<(Arc<Session>, Seen), Error> {
    let (session, connection) = dereference::session(v, ctx).await?;
    if let crate::validate::ConnectionSource::Cluster(name) = &v.connection {
        let all = ctx.all_resources();
        connection::within_limit(
            name,
            connection.max_clients,
            obj,
            all.iter().filter_map(|g| g.0.as_ref().ok()),
        )?;
    }
    let source = dereference::source(v, ctx).await?;
    let issuer = dereference::issuer(&session, &connection, v).await?;
    let (secret, previous_secrets) = dereference::output_secrets(v, ctx).await?;
    let (config_map, previous_config_maps) = dereference::config_maps(v, ctx).await?;
    let seen = Seen {
        issuer,
        secret,
        previous_secrets,
        source,
        config_map,
        previous_config_maps,
        now: now(),
        adoption_allowed: connection.allow_adoption,
        rotation_gap: i64::try_from(ctx.settings.min_rotation_interval.as_secs())
            .unwrap_or(i64::MAX),
    };
    Ok((session, seen))
}

/// Validate, observe, then the loop.
async fn converge(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
) -> Result<(Vec<Change>, Option<std::time::Duration>), Error> {
    let v = validate(obj, &ctx.settings.installation)?;
    let (session, seen) = observe(obj, &v, ctx).await?;
    let (outputs, changes) = converge_client(&session, obj, &v, seen, Some(ctx)).await?;
    Ok((changes, outputs.requeue))
}

/// The loop at the heart of a reconcile: observe the client, plan, write, until a plan has
/// nothing left to observe again. A plan observes again after creating the client or giving it
/// a secret (what Keycloak built is read back), and after marking a rotation on the Secret (the
/// next pass plans from the Secret just written and the client as it is now).
///
/// Without `ctx` the Kubernetes writes are not made: the first pass that has them returns them
/// (the Keycloak side alone, for tests and offline use).
pub async fn converge_client(
    session: &Session,
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    mut seen: Seen,
    ctx: Option<&Context>,
) -> Result<(plan::Outputs, Vec<Change>), Error> {
    let mut client = dereference::client(session, v, known_uuid(obj)).await?;
    let mut changes = Vec::new();
    for _ in 0..MAX_PASSES {
        let observed = plan::Observed {
            issuer: &seen.issuer,
            known_uuid: known_uuid(obj),
            client: client.as_ref(),
            secret: seen.secret.as_ref(),
            previous_secrets: &seen.previous_secrets,
            source: seen.source.as_ref(),
            config_map: seen.config_map.as_ref(),
            previous_config_maps: &seen.previous_config_maps,
            now: seen.now,
            authorization_ignored: session.authorization_ignored(),
            adoption_allowed: seen.adoption_allowed,
            rotation_gap: seen.rotation_gap,
        };
        let planned = plan::plan(obj, v, observed)?;
        changes.extend(planned.changes);
        let written = apply::keycloak(session, v, &planned.keycloak).await?;
        let Some(outputs) = planned.outputs else {
            // Observe again: what Keycloak built from the writes.
            let Some(uuid) = written else { break };
            client = Some(dereference::client_by_id(session, v, &uuid).await?);
            continue;
        };
        let Some(ctx) = ctx else {
            return Ok((outputs, changes));
        };
        let (secret, config_map) = apply::outputs(obj, v, ctx, &outputs).await?;
        if !outputs.again {
            if let Some(checksum) = &outputs.checksum {
                changes.extend(apply::rollout(obj, v, ctx, checksum).await?);
            }
            return Ok((outputs, changes));
        }
        // Observe again, from what was just written (the watch may not show it yet).
        seen.secret = secret.or(seen.secret);
        seen.config_map = config_map.or(seen.config_map);
        seen.previous_secrets.clear();
        seen.previous_config_maps.clear();
        client = dereference::client(session, v, known_uuid(obj)).await?;
    }
    Err(Error::Keycloak(KeycloakError::Protocol(
        "the client did not settle".into(),
    )))
}
