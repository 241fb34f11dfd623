//! The controller runtime: watches, the controller loop of each watched scope, retries,
//! periodic resyncs and shutdown. What one reconcile does is in [`crate::reconcile`].
//!
//! What triggers a reconcile, and what does not:
//! - a resource's generation (spec, deletion) or annotations change; its own status and
//!   finalizer writes do not;
//! - an output Secret or values ConfigMap changes, unless the change is this operator's own
//!   last write; a source Secret (`spec.secret.source`) changes;
//! - a credentials Secret a resource uses changes (directly, or through its connection); its
//!   ClusterKeycloakConnection changes; its namespace's labels change;
//! - the periodic resync, spread evenly over the resync period (never a burst), skipping
//!   resources that wait out a backoff: changes are never starved behind resyncs.

mod resync;
mod watches;

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{
    Api, Client, ResourceExt,
    core::DeserializeGuard,
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        predicates, reflector, watcher,
    },
};
use tracing::{info, warn};

use crate::{
    context::Context,
    crd::OpenMetadataKeycloakClient,
    reason::Reason,
    reconcile::{self, Error, object_key},
    telemetry::{HEARTBEAT, Health},
};
use resync::spread_resyncs;

type Guarded = DeserializeGuard<OpenMetadataKeycloakClient>;

/// [`reconcile::reconcile`], timed and counted in the metrics.
pub async fn measured_reconcile(guard: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = reconcile::reconcile(guard, ctx.clone()).await;
    let (outcome, reason) = match &result {
        Ok(_) => ("success", Reason::Reconciled),
        Err(e) => ("error", e.reason()),
    };
    ctx.metrics
        .observe(outcome, reason.as_str(), started.elapsed());
    result
}

/// Decides when to retry after an error: backoff (at least what the failing service asked
/// for) for transient errors; permanent ones wait for a change or the next resync.
pub fn error_policy(guard: Arc<Guarded>, error: &Error, ctx: Arc<Context>) -> Action {
    let Ok(obj) = &guard.0 else {
        return Action::await_change();
    };
    let key = object_key(obj);
    let reason = error.reason();
    if error.is_transient() {
        let delay = ctx.backoff(&key, error.retry_after());
        warn!(resource = %key, %reason, retry_in = ?delay, "reconcile failed: {error}");
        Action::requeue(delay)
    } else {
        ctx.reset_backoff(&key);
        warn!(resource = %key, %reason, "reconcile failed, waiting for a change: {error}");
        Action::await_change()
    }
}

/// What re-triggers a resource: its generation (spec, deletion) and annotations. Status and
/// finalizer writes, its own included, do not.
fn relevant(guard: &Guarded) -> Option<u64> {
    use kube::runtime::Predicate;
    predicates::generation
        .combine(predicates::annotations)
        .hash_property(guard)
}

/// Runs the controller for one scope (a namespace, or all namespaces when `None`) until a
/// shutdown signal. Reports to `health` as scope number `index`: a heartbeat from inside the
/// loop's task, and readiness once the resource cache is synced.
pub async fn run_scope(
    client: Client,
    namespace: Option<String>,
    ctx: Arc<Context>,
    concurrency: u16,
    health: Arc<Health>,
    index: usize,
) {
    run_scope_with(
        client,
        namespace,
        Vec::new(),
        ctx,
        concurrency,
        health,
        index,
    )
    .await
}

/// [`run_scope`], also watching credentials Secrets in `extra_credentials` (the operator's own
/// namespace, where connections keep theirs, when it is not among the watched namespaces).
pub async fn run_scope_with(
    client: Client,
    namespace: Option<String>,
    extra_credentials: Vec<String>,
    ctx: Arc<Context>,
    concurrency: u16,
    health: Arc<Health>,
    index: usize,
) {
    let credential_scopes: Vec<Option<String>> = std::iter::once(namespace.clone())
        .chain(extra_credentials.into_iter().map(Some))
        .collect();
    let resources: Api<Guarded> = watches::api(&client, &namespace);
    let (store, writer) = reflector::store();
    let main = watcher(resources, watcher::Config::default().any_semantic())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(relevant, Default::default());
    let synced = {
        let store = store.clone();
        let health = health.clone();
        let namespace = namespace.clone();
        async move {
            if store.wait_until_ready().await.is_ok() {
                info!(namespace = ?namespace, "resource cache synced");
                health.mark_synced(index);
            }
            futures::future::pending::<()>().await
        }
    };

    let outputs =
        watches::outputs::<Secret>(&client, &namespace, |c| &c.output_secrets, ctx.clone());
    let values =
        watches::outputs::<ConfigMap>(&client, &namespace, |c| &c.config_maps, ctx.clone());
    let sources = watches::sources(&client, &namespace, ctx.clone());
    let credentials = watches::credentials(&client, &credential_scopes, ctx.clone());
    let connections = watches::connections(&client, ctx.clone());
    let namespaces = watches::namespaces(&client, &namespace, ctx.clone());

    let resyncs = spread_resyncs(store.clone(), ctx.settings.resync, ctx.clone());
    let run = Controller::for_stream(main, store.clone())
        .watches_stream(outputs, |secret| watches::owner_of(&secret))
        .watches_stream(values, |config_map| watches::owner_of(&config_map))
        .watches_stream(sources, {
            let store = store.clone();
            move |secret| watches::using_source(&store, &secret)
        })
        .watches_stream(credentials, {
            let (store, ctx) = (store.clone(), ctx.clone());
            move |secret| watches::using_credentials(&store, &ctx, &secret)
        })
        .watches_stream(connections, {
            let store = store.clone();
            move |connection| watches::using_connection(&store, &connection.name_any())
        })
        .watches_stream(namespaces, {
            let store = store.clone();
            move |ns| watches::in_namespace_with_connection(&store, &ns.name_any())
        })
        .reconcile_on(resyncs)
        .with_config(controller::Config::default().concurrency(concurrency))
        .graceful_shutdown_on(shutdown_signal())
        .run(measured_reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(resource = %obj, "reconciled"),
                Err(controller::Error::ReconcilerFailed(err, obj)) => {
                    tracing::debug!(resource = %obj, reason = %err.reason(), "reconcile failed")
                }
                Err(e) => warn!("controller: {e}"),
            }
        });
    // The heartbeat shares the loop's task: if the loop stops being polled, so does the beat.
    let mut run = std::pin::pin!(run);
    let mut synced = std::pin::pin!(synced);
    let mut beat = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            () = &mut run => break,
            () = &mut synced => {}
            _ = beat.tick() => health.beat(index),
        }
    }
    health.mark_ended(index);
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = futures::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    info!("shutdown signal received, finishing in-flight reconciles");
}
