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
//!
//! At start-up the resources are listed last, once every other watch has listed (or failed
//! to): each resource is reconciled once, from complete caches.

pub mod connections;
mod failures;
mod fair;
mod resync;
mod watches;

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{
    Api, Client, Resource, ResourceExt,
    core::DeserializeGuard,
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        predicates,
        reflector::{self, ObjectRef},
        watcher,
    },
};
use tracing::{info, warn};

use crate::{
    context::Context,
    crd::{OpenMetadataKeycloakClient, object_key},
    reason::Reason,
    reconcile::{self, Error},
    telemetry::{HEARTBEAT, Health},
};
pub use failures::error_policy;
use failures::namespace_deleted;
use resync::spread_resyncs;

type Guarded = DeserializeGuard<OpenMetadataKeycloakClient>;

/// [`reconcile::reconcile`] in its own span (namespace and name on every line it logs), timed
/// and counted in the metrics, with the resource's Ready state recorded for `omkc_resources`.
pub async fn measured_reconcile(guard: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, Error> {
    use tracing::Instrument;
    let meta = guard.meta();
    let namespace = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.as_deref().unwrap_or_default();
    let (key, deleting) = (
        object_key(guard.as_ref()),
        meta.deletion_timestamp.is_some(),
    );
    if let Some(waited) = ctx.dequeued(&key) {
        ctx.metrics.queue_wait(waited);
    }
    let span = tracing::info_span!("reconcile", %namespace, %name);
    let started = std::time::Instant::now();
    let result = match reconcile::reconcile(guard, ctx.clone())
        .instrument(span)
        .await
    {
        Err(e) if namespace_deleted(&ctx, &namespace, e.reason()).await => {
            Err(e.in_namespace_deletion())
        }
        result => result,
    };
    let (outcome, reason) = match &result {
        Ok(_) => ("success", Reason::Reconciled),
        Err(e) => ("error", e.reason()),
    };
    ctx.metrics
        .observe(outcome, reason.as_str(), started.elapsed());
    // A resource cleaned up is let go of (its count, its workloads' checksums) even while
    // another finalizer keeps it; the watch's Delete does the same, and closes its session, for
    // one whose finalizer was removed by hand too.
    if deleting && result.is_ok() {
        ctx.forget_resource(&key);
    } else if !deleting {
        ctx.metrics
            .resource_state(&key, result.is_ok(), reason.as_str());
    }
    result
}

/// [`measured_reconcile`] once the namespace's fair share of workers admits it; otherwise the
/// resource is put back in line (woken by the first worker it may take, else asking again after
/// a deferral) and the worker goes to another namespace's work.
async fn fair_reconcile(
    fair: Arc<fair::Fair>,
    guard: Arc<Guarded>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let meta = guard.meta();
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let name = meta.name.as_deref().unwrap_or_default();
    let Some(_slot) = fair.admit(namespace, name) else {
        ctx.metrics.deferred();
        return Ok(Action::requeue(fair::deferral(fastrand::f64())));
    };
    measured_reconcile(guard, ctx).await
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
        Scope {
            namespace,
            extra_credentials: Vec::new(),
            index,
        },
        client,
        ctx,
        concurrency,
        health,
        shutdown_signal(),
    )
    .await
}

/// One watched scope of [`run_scope_with`].
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    /// The namespace, or `None` for all.
    pub namespace: Option<String>,
    /// Namespaces whose credentials Secrets this scope watches too (the operator's own, where
    /// connections keep theirs, when it is not among the watched namespaces).
    pub extra_credentials: Vec<String>,
    /// Its slot in [`Health`].
    pub index: usize,
}

/// [`run_scope`] for `scope`, until `stop` resolves: then no new reconcile starts, and the
/// in-flight ones finish.
pub async fn run_scope_with(
    scope: Scope,
    client: Client,
    ctx: Arc<Context>,
    concurrency: u16,
    health: Arc<Health>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let Scope {
        namespace,
        extra_credentials,
        index,
    } = scope;
    let credential_scopes: Vec<Option<String>> = std::iter::once(namespace.clone())
        .chain(extra_credentials.into_iter().map(Some))
        .collect();
    let resources: Api<Guarded> = watches::api(&client, &namespace);
    let (store, writer) = reflector::store();
    ctx.add_resources(store.clone());
    // Sharding: with a label selector, this instance sees only its slice of the resources.
    let config = match &ctx.settings.resource_selector {
        Some(selector) => watcher::Config::default().labels(selector),
        None => watcher::Config::default(),
    };
    // Every other watch lists first: each of the six below holds one of `listing`.
    let (listing, listed) = watches::first_lists();
    let first_lists_done = futures::stream::once(listed).filter_map(|()| async { None });
    let main = first_lists_done
        .chain(watcher(resources, config.any_semantic()))
        .default_backoff()
        // Never read by a reconcile; a real API server's are often half an object.
        .modify(|guard| match &mut guard.0 {
            Ok(obj) => obj.metadata.managed_fields = None,
            Err(invalid) => invalid.metadata.managed_fields = None,
        })
        .reflect(writer)
        // The store has let go of a deleted resource (or of every one a re-list no longer
        // finds): so does the rest of the context.
        .inspect({
            let ctx = ctx.clone();
            move |event| match event {
                Ok(watcher::Event::Delete(DeserializeGuard(Ok(obj)))) => ctx.forget_deleted(obj),
                Ok(watcher::Event::Delete(_) | watcher::Event::InitDone) => ctx.forget_gone(),
                _ => {}
            }
        })
        .applied_objects()
        .filter(watches::without_errors(
            <OpenMetadataKeycloakClient as kube::Resource>::kind(&()).into(),
            ctx.settings.resource_selector.clone(),
        ))
        .predicate_filter(relevant, Default::default())
        .inspect({
            let ctx = ctx.clone();
            move |guard| {
                if let Ok(guard) = guard {
                    ctx.queued(object_key(guard));
                }
            }
        });
    let synced = {
        let store = store.clone();
        let health = health.clone();
        let namespace = namespace.clone();
        async move {
            if store.wait_until_ready().await.is_ok() {
                let scope = namespace.as_deref().unwrap_or("(all namespaces)");
                info!(namespace = scope, "resource cache synced");
                health.mark_synced(index);
            }
            futures::future::pending::<()>().await
        }
    };

    let next = || (ctx.clone(), listing.another());
    let outputs = watches::outputs::<Secret>(&client, &namespace, |c| &c.output_secrets, next());
    let values = watches::outputs::<ConfigMap>(&client, &namespace, |c| &c.config_maps, next());
    let sources = watches::sources(&client, &namespace, next());
    let connections = watches::connections(&client, next());
    let namespaces = watches::namespaces(&client, &namespace, next());
    let credentials = watches::credentials(&client, &credential_scopes, next());
    drop(listing);

    // One scope sweeps what no resource names any more: the sweep covers them all.
    let sweeps = index == 0;
    let resyncs =
        spread_resyncs(store.clone(), ctx.settings.resync, ctx.clone(), sweeps).inspect({
            let ctx = ctx.clone();
            move |r| {
                ctx.queued(format!(
                    "{}/{}",
                    r.namespace.as_deref().unwrap_or_default(),
                    r.name
                ))
            }
        });
    let (fair, woken) = fair::Fair::new(usize::from(concurrency), ctx.settings.namespace_share);
    // A reconcile put back for its namespace's share, woken by the first worker it may take.
    let woken = futures::stream::unfold(woken, |mut woken| async move {
        let (namespace, name) = woken.recv().await?;
        Some((ObjectRef::new_with(&name, ()).within(&namespace), woken))
    });
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
        .reconcile_on(woken)
        .with_config(controller::Config::default().concurrency(concurrency))
        .graceful_shutdown_on(stop)
        .run(
            move |guard, ctx| fair_reconcile(fair.clone(), guard, ctx),
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(resource = %obj, "reconciled"),
                Err(controller::Error::ReconcilerFailed(err, obj)) => {
                    tracing::debug!(resource = %obj, reason = %err.reason(), "reconcile failed")
                }
                // A resync, a retry or a fair-share wake of a resource deleted meanwhile.
                Err(controller::Error::ObjectNotFound(obj)) => {
                    tracing::debug!(resource = %obj, "gone before its reconcile")
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
