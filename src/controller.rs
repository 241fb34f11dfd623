//! The controller runtime: watches, the controller loop of each watched scope, retries and
//! shutdown. What one reconcile does is in [`crate::reconcile`].

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client, ResourceExt,
    core::{DeserializeGuard, PartialObjectMeta},
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use tracing::{info, warn};

use crate::{
    context::Context,
    crd::OpenMetadataKeycloakClient,
    names::{MANAGED_BY_LABEL, OPERATOR_NAME},
    reconcile::{self, Error, object_key},
    telemetry::{HEARTBEAT, Health},
};

/// [`reconcile::reconcile`], timed and counted in the metrics.
pub async fn measured_reconcile(
    guard: Arc<DeserializeGuard<OpenMetadataKeycloakClient>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = reconcile::reconcile(guard, ctx.clone()).await;
    let (outcome, reason) = match &result {
        Ok(_) => ("success", crate::reason::Reason::Reconciled),
        Err(e) => ("error", e.reason()),
    };
    ctx.metrics
        .observe(outcome, reason.as_str(), started.elapsed());
    result
}

/// Decides when to retry after an error: backoff for transient errors, the resync period for
/// permanent ones (which need a change; the watches bring it sooner).
pub fn error_policy(
    guard: Arc<DeserializeGuard<OpenMetadataKeycloakClient>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    let Ok(obj) = &guard.0 else {
        return Action::await_change();
    };
    let key = object_key(obj);
    let delay = ctx.retry_after(error.is_transient(), &key);
    let reason = error.reason();
    if error.is_transient() {
        warn!(resource = %key, %reason, retry_in = ?delay, "reconcile failed: {error}");
    } else {
        warn!(resource = %key, %reason, "reconcile failed, waiting for a change: {error}");
    }
    Action::requeue(delay)
}

/// Maps a Secret to the resources whose credentials it holds.
fn referencing(
    store: &Store<DeserializeGuard<OpenMetadataKeycloakClient>>,
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<DeserializeGuard<OpenMetadataKeycloakClient>>> {
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
    let (resources, secrets): (
        Api<DeserializeGuard<OpenMetadataKeycloakClient>>,
        Api<PartialObjectMeta<Secret>>,
    ) = match &namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let controller = Controller::new(resources, watcher::Config::default().any_semantic());
    let store = controller.store();
    let synced = {
        let store = store.clone();
        let health = health.clone();
        async move {
            if store.wait_until_ready().await.is_ok() {
                info!(namespace = ?namespace, "resource cache synced");
                health.mark_synced(index);
            }
            futures::future::pending::<()>().await
        }
    };

    // Output Secrets: metadata only, and only the ones this operator labelled.
    let owned = watcher(
        secrets.clone(),
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={OPERATOR_NAME}")),
    )
    .default_backoff()
    .touched_objects();
    // Credentials Secrets: a metadata stream (nothing cached) mapped to resources naming them.
    let credentials = watcher(secrets, watcher::Config::default())
        .default_backoff()
        .touched_objects();

    let run = controller
        .owns_stream(owned)
        .watches_stream(credentials, move |secret| {
            referencing(
                &store,
                secret.metadata.namespace.as_deref(),
                &secret.name_any(),
            )
        })
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
