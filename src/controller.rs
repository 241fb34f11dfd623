//! The controller runtime: watches, the controller loop of each watched scope, retries,
//! periodic resyncs and shutdown. What one reconcile does is in [`crate::reconcile`].
//!
//! What triggers a reconcile, and what does not:
//! - a resource's generation (spec, deletion) or annotations change; its own status and
//!   finalizer writes do not;
//! - an output Secret changes, unless the change is this operator's own last write;
//! - a credentials Secret a resource names changes;
//! - the periodic resync, spread evenly over the resync period (never a burst), skipping
//!   resources that wait out a backoff: changes are never starved behind resyncs.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client, Resource, ResourceExt,
    core::{DeserializeGuard, PartialObjectMeta},
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        predicates, reflector,
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use tracing::{info, warn};

use crate::{
    context::Context,
    crd::OpenMetadataKeycloakClient,
    names::{MANAGED_BY_LABEL, OPERATOR_NAME},
    reason::Reason,
    reconcile::{self, Error, object_key},
    telemetry::{HEARTBEAT, Health},
};

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

/// Maps a Secret to the resources whose credentials it holds.
fn referencing(
    store: &Store<Guarded>,
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<Guarded>> {
    store
        .state()
        .iter()
        .filter(|guard| match &guard.0 {
            Ok(obj) => {
                obj.metadata.namespace.as_deref() == namespace
                    && obj.spec.keycloak.credentials_secret_ref.name == name
            }
            Err(_) => false,
        })
        .map(|guard| ObjectRef::from_obj(guard.as_ref()))
        .collect()
}

/// Maps an output Secret to the resource that owns it.
fn owner_of(secret: &Secret) -> Option<ObjectRef<Guarded>> {
    let namespace = secret.namespace()?;
    let owner = secret
        .owner_references()
        .iter()
        .find(|o| o.kind == "OpenMetadataKeycloakClient" && o.controller == Some(true))?;
    Some(ObjectRef::new_with(&owner.name, ()).within(&namespace))
}

/// Every resource once per `period`, one at a time at even intervals (deadlines, so a round
/// takes the period exactly), skipping malformed resources and those waiting out a backoff.
/// The first round starts one period in, after the watch has reconciled everything once.
fn spread_resyncs(
    store: Store<Guarded>,
    period: Duration,
    ctx: Arc<Context>,
) -> impl Stream<Item = ObjectRef<Guarded>> + Send {
    use tokio::time::{Instant, sleep_until};
    struct Round {
        queue: VecDeque<Arc<Guarded>>,
        next: Instant,
        gap: Duration,
    }
    let round = Round {
        queue: VecDeque::new(),
        next: Instant::now() + period,
        gap: period,
    };
    futures::stream::unfold(
        (store, ctx, round),
        move |(store, ctx, mut round)| async move {
            loop {
                if round.queue.is_empty() {
                    sleep_until(round.next).await;
                    round.queue = store.state().into_iter().collect();
                    if round.queue.is_empty() {
                        round.next += period;
                        continue;
                    }
                    round.gap = period / round.queue.len() as u32;
                }
                sleep_until(round.next).await;
                round.next += round.gap;
                let Some(guard) = round.queue.pop_front() else {
                    continue;
                };
                let Ok(obj) = &guard.0 else { continue };
                if obj.metadata.deletion_timestamp.is_some() || ctx.in_backoff(&object_key(obj)) {
                    continue;
                }
                let next = ObjectRef::from_obj(guard.as_ref());
                return Some((next, (store, ctx, round)));
            }
        },
    )
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
    fn api<K: Resource<Scope = kube::core::NamespaceResourceScope>>(
        client: &Client,
        namespace: &Option<String>,
    ) -> Api<K>
    where
        K::DynamicType: Default,
    {
        match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let resources: Api<Guarded> = api(&client, &namespace);
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

    // Output Secrets: only the ones this operator labelled, cached whole (they are its own).
    let scope = namespace.clone();
    let outputs = watcher(
        api::<Secret>(&client, &namespace),
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={OPERATOR_NAME}")),
    )
    .default_backoff()
    .map({
        let ctx = ctx.clone();
        move |event| {
            if let Ok(event) = &event {
                ctx.output_secrets.apply(scope.as_deref(), event);
            }
            // A deletion always counts; a change only when it is not the operator's own write.
            futures::stream::iter(match event {
                Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s)) => {
                    (!ctx.is_own_write(&s)).then_some(Ok(s))
                }
                Ok(watcher::Event::Delete(s)) => Some(Ok(s)),
                Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                Err(e) => Some(Err(e)),
            })
        }
    })
    .flatten();
    // Credentials Secrets: metadata only (no Secret data cached), mapped to resources naming
    // them; the resourceVersion tells the reconcile when to read them again.
    let scope = namespace.clone();
    let credentials = watcher(
        api::<PartialObjectMeta<Secret>>(&client, &namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .inspect({
        let ctx = ctx.clone();
        move |event| {
            if let Ok(event) = event {
                ctx.credentials_meta.apply(scope.as_deref(), event);
            }
        }
    })
    .touched_objects();

    let resyncs = spread_resyncs(store.clone(), ctx.settings.resync, ctx.clone());
    let run = Controller::for_stream(main, store.clone())
        .watches_stream(outputs, |secret| owner_of(&secret))
        .watches_stream(credentials, move |secret| {
            referencing(
                &store,
                secret.metadata.namespace.as_deref(),
                &secret.name_any(),
            )
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
