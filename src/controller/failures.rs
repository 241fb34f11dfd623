//! What a failed reconcile leads to: when it is retried, and whether it is warned about or,
//! being what the deletion of its namespace does, only said.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, runtime::controller::Action};
use tracing::{debug, info, warn};

use super::Guarded;
use crate::{context::Context, crd::object_key, reason::Reason, reconcile::Error};

/// Whether the failure with `reason` of a resource in `namespace` is what the namespace's
/// deletion does: a failure on the Kubernetes side while the namespace cache shows the deletion
/// or, when it does not yet, a quorum read does. The namespace controller deletes the
/// credentials Secret before the resource, and that can come before the watch shows the
/// namespace deleting; the read keeps the choice between news and a warning from depending on
/// that order. A failure in Keycloak is never news: an outage fails every resource, no deletion
/// causes one, and a deleted resource's finalizer then holds its namespace until Keycloak is back.
pub(super) async fn namespace_deleted(ctx: &Context, namespace: &str, reason: Reason) -> bool {
    use Reason::*;
    if !matches!(
        reason,
        CredentialsNotFound | SecretSourceNotFound | KubernetesRejected | KubernetesError
    ) {
        return false;
    }
    if ctx.namespace_deleting(namespace) {
        return true;
    }
    match Api::<Namespace>::all(ctx.client.clone())
        .get_metadata_opt(namespace)
        .await
    {
        Ok(found) => found.is_some_and(|n| n.metadata.deletion_timestamp.is_some()),
        Err(e) => {
            debug!(%namespace, "namespace not read after a failure: {e}");
            false
        }
    }
}

/// Decides when to retry after an error: backoff (at least what the failing service asked
/// for) for transient errors; permanent ones wait for a change or the next resync.
pub fn error_policy(guard: Arc<Guarded>, error: &Error, ctx: Arc<Context>) -> Action {
    let Ok(obj) = &guard.0 else {
        return Action::await_change();
    };
    let key = object_key(obj);
    let reason = error.reason();
    let going = error.during_namespace_deletion();
    if error.is_transient() {
        let delay = ctx.backoff(&key, error.retry_after());
        if going {
            info!(resource = %key, %reason, retry_in = ?delay, "reconcile failed while the namespace is being deleted: {error}");
        } else {
            warn!(resource = %key, %reason, retry_in = ?delay, "reconcile failed: {error}");
        }
        Action::requeue(delay)
    } else {
        ctx.reset_backoff(&key);
        if going {
            info!(resource = %key, %reason, "reconcile failed while the namespace is being deleted: {error}");
        } else {
            warn!(resource = %key, %reason, "reconcile failed, waiting for a change: {error}");
        }
        Action::await_change()
    }
}
