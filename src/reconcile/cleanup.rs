//! Cleanup when a resource is deleted: the same steps as a reconcile (validate, dereference,
//! plan, apply), for the client in Keycloak. Never blocks on an invalid spec or vanished
//! credentials (that would wedge namespace deletion); keeps the finalizer while Keycloak is
//! unreachable.

use super::{Error, apply, dereference, plan, status};
use crate::{
    context::Context,
    crd::{DeletionPolicy, OpenMetadataKeycloakClient},
    events::EventType,
    keycloak::Session,
    reason::Reason,
    validate::{Validated, validate},
};

/// Runs the cleanup of a resource being deleted. `Ok` releases the finalizer.
pub async fn cleanup(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<(), Error> {
    let v = match validate(obj) {
        Ok(v) => v,
        Err(e) => {
            let note = format!("invalid spec, nothing to clean up in Keycloak: {e}");
            return skipped(ctx, obj, &note).await;
        }
    };
    if v.deletion_policy == Some(DeletionPolicy::Retain) {
        let note = plan::Deletion::Retain.describe(&v);
        let events = &ctx.events;
        events
            .publish(obj, EventType::Normal, Reason::ClientRetained, &note)
            .await;
        return Ok(());
    }
    let session = match dereference::session(&v, ctx).await {
        Ok(s) => s,
        Err(e @ (Error::CredentialsNotFound(_) | Error::CredentialsInvalid { .. })) => {
            // A namespace being deleted takes the credentials Secret with it: the session
            // opened with them while they existed still works.
            match ctx.keycloak.last_session(&dereference::connection_key(&v)) {
                Some(session) => session,
                None => {
                    let note =
                        format!("cannot sign in to Keycloak, the client may remain there: {e}");
                    return skipped(ctx, obj, &note).await;
                }
            }
        }
        Err(e) => return Err(e),
    };
    match delete_owned_client(&session, &v).await {
        Ok(outcome) => {
            let reason = match outcome {
                plan::Deletion::Retain => Reason::ClientRetained,
                _ => Reason::ClientDeleted,
            };
            let note = outcome.describe(&v);
            ctx.events
                .publish(obj, EventType::Normal, reason, &note)
                .await;
            Ok(())
        }
        Err(err) if err.is_transient() => {
            let message = format!("deleting: {err}; the finalizer stays until Keycloak answers");
            let failed = status::failed(obj, err.reason(), &message);
            apply::status(obj, ctx, status::to_write(obj, failed)).await?;
            let note = format!("deleting: {err}");
            ctx.events
                .publish(obj, EventType::Warning, err.reason(), &note)
                .await;
            Err(err)
        }
        Err(err) => {
            let note = format!("the Keycloak client may remain: {err}");
            skipped(ctx, obj, &note).await
        }
    }
}

async fn skipped(ctx: &Context, obj: &OpenMetadataKeycloakClient, note: &str) -> Result<(), Error> {
    ctx.events
        .publish(obj, EventType::Warning, Reason::CleanupSkipped, note)
        .await;
    Ok(())
}

/// Deletes the client named by the spec if this resource owns it and its policy says so; gone
/// counts as deleted. Returns what was decided.
pub async fn delete_owned_client(
    session: &Session,
    v: &Validated,
) -> Result<plan::Deletion, Error> {
    let found = dereference::client(session, v).await?;
    let decision = plan::deletion(v, found.as_ref().map(|c| &c.rep))?;
    if let plan::Deletion::Delete { uuid } = &decision {
        session.delete_client(&v.realm, uuid).await?;
    }
    Ok(decision)
}
