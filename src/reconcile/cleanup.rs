//! Cleanup when a resource is deleted: the same steps as a reconcile (validate, dereference,
//! plan, apply), for the client in Keycloak. Never blocks on an invalid spec or vanished
//! credentials (that would wedge namespace deletion); keeps the finalizer while Keycloak is
//! unreachable.

use kube::runtime::{controller::Action, events::EventType};

use super::{Error, apply, dereference, plan, status};
use crate::{
    context::Context,
    crd::{DeletionPolicy, OpenMetadataKeycloakClient},
    events::publish,
    keycloak::Session,
    reason::Reason,
    validate::{Validated, validate},
};

/// Runs the cleanup of a resource being deleted. `Ok` releases the finalizer.
pub async fn cleanup(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<Action, Error> {
    if obj.spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Retain {
        let note = "deletionPolicy is Retain: the Keycloak client stays";
        publish(ctx, obj, EventType::Normal, Reason::Retained, note).await;
        return Ok(Action::await_change());
    }
    let v = match validate(obj) {
        Ok(v) => v,
        Err(e) => {
            let note = format!("invalid spec, nothing to clean up in Keycloak: {e}");
            skipped(ctx, obj, &note).await;
            return Ok(Action::await_change());
        }
    };
    let session = match dereference::session(&v, ctx).await {
        Ok(s) => s,
        Err(e @ (Error::CredentialsNotFound(_) | Error::CredentialsInvalid { .. })) => {
            let note = format!("cannot sign in to Keycloak, the client may remain there: {e}");
            skipped(ctx, obj, &note).await;
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e),
    };
    match delete_owned_client(&session, &v).await {
        Ok(outcome) => {
            let note = outcome.describe(&v);
            publish(ctx, obj, EventType::Normal, Reason::Deleted, &note).await;
            Ok(Action::await_change())
        }
        Err(err) if err.is_transient() => {
            let message = format!("deleting: {err}; the finalizer stays until Keycloak answers");
            let failed = status::failed(obj, err.reason(), &message);
            apply::status(obj, ctx, status::to_write(obj, failed)).await?;
            let note = format!("deleting: {err}");
            publish(ctx, obj, EventType::Warning, err.reason(), &note).await;
            Err(err)
        }
        Err(err) => {
            let note = format!("the Keycloak client may remain: {err}");
            skipped(ctx, obj, &note).await;
            Ok(Action::await_change())
        }
    }
}

async fn skipped(ctx: &Context, obj: &OpenMetadataKeycloakClient, note: &str) {
    publish(ctx, obj, EventType::Warning, Reason::CleanupSkipped, note).await;
}

/// Deletes the client named by the spec if this resource owns it; gone counts as deleted.
/// Returns what was decided.
pub async fn delete_owned_client(
    session: &Session,
    v: &Validated,
) -> Result<plan::Deletion, Error> {
    let found = dereference::client(session, v).await?;
    let decision = plan::deletion(v, found.as_ref())?;
    if let plan::Deletion::Delete { uuid } = &decision {
        session.delete_client(&v.realm, uuid).await?;
    }
    Ok(decision)
}
