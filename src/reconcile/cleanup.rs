//! Cleanup when a resource is deleted: the same steps as a reconcile (validate, dereference,
//! plan, apply), for the client in Keycloak.
//!
//! Deletion never hangs on something that cannot come back: when cleanup is impossible for a
//! permanent reason (connection deleted, credentials refused or gone, an invalid spec), the
//! finalizer is released with a `ClientOrphaned` Warning that names the client left behind, and
//! the orphan is counted in the metrics. Transient failures keep the finalizer and retry.

use kube::core::ObjectMeta;

use super::{Error, apply, dereference, known_uuid, plan, status};
use crate::{
    context::Context,
    crd::{DeletionPolicy, OpenMetadataKeycloakClient},
    keycloak::Session,
    reason::Reason,
    validate::{ConnectionSource, Validated, validate},
};

/// Runs the cleanup of a resource being deleted. `Ok` releases the finalizer.
pub async fn cleanup(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<(), Error> {
    let v = match validate(obj, &ctx.settings.installation) {
        Ok(v) => v,
        Err(e) => return orphaned(obj, None, &format!("invalid spec: {e}"), ctx).await,
    };
    if v.deletion_policy == Some(DeletionPolicy::Retain) {
        let note = plan::Deletion::Retain.describe(&v);
        ctx.events.publish(obj, Reason::ClientRetained, &note).await;
        return Ok(());
    }
    let session = match dereference::session(&v, ctx).await {
        Ok((session, _)) => session,
        Err(e) if e.is_transient() => return Err(e),
        Err(e) => {
            // A namespace being deleted takes an inline credentials Secret with it: the session
            // opened with it while it existed still works. Only for a Secret that is gone:
            // credentials withdrawn (the label removed, refused by Keycloak) are never used.
            let gone = e.reason() == Reason::CredentialsNotFound;
            let last = match dereference::connection(&v, ctx).await {
                Ok(connection) if gone => ctx.keycloak.last_session(&connection.key),
                _ => None,
            };
            match last {
                Some(session) => session,
                None => return orphaned(obj, Some(&v), &e.to_string(), ctx).await,
            }
        }
    };
    match delete_owned_client(&session, &v, known_uuid(obj)).await {
        Ok(outcome) => {
            let reason = match outcome {
                plan::Deletion::Retain => Reason::ClientRetained,
                _ => Reason::ClientDeleted,
            };
            let note = outcome.describe(&v);
            ctx.events.publish(obj, reason, &note).await;
            Ok(())
        }
        Err(err) if err.is_transient() => {
            let message = format!("deleting: {err}; the finalizer stays until Keycloak answers");
            let failed = status::failed(obj, err.reason(), &message, super::now());
            apply::status(obj, ctx, status::to_write(obj, failed)).await?;
            let note = format!("deleting: {err}");
            ctx.events.publish(obj, err.reason(), &note).await;
            Err(err)
        }
        Err(err) => orphaned(obj, Some(&v), &err.to_string(), ctx).await,
    }
}

/// Releases the resource, naming what may be left in Keycloak. Nothing is reported when the
/// resource never had a client (its status recorded none).
async fn orphaned(
    obj: &OpenMetadataKeycloakClient,
    v: Option<&Validated>,
    why: &str,
    ctx: &Context,
) -> Result<(), Error> {
    let Some(uuid) = known_uuid(obj) else {
        return Ok(());
    };
    let client_id = obj
        .status
        .as_ref()
        .and_then(|s| s.client_id.clone())
        .unwrap_or_default();
    let place = match v.map(|v| (&v.connection, &v.realm)) {
        Some((ConnectionSource::Cluster(name), realm)) => {
            format!(" in realm {realm:?} through ClusterKeycloakConnection {name:?}")
        }
        Some((ConnectionSource::Inline(inline), realm)) => {
            format!(" in realm {realm:?} of {}", inline.url)
        }
        None => String::new(),
    };
    let note = format!(
        "client {client_id:?} (id {uuid}){place} is left in Keycloak: cleanup is impossible ({why}); delete it there by hand"
    );
    ctx.metrics.orphaned_client();
    ctx.events.publish(obj, Reason::ClientOrphaned, &note).await;
    Ok(())
}

/// Reports the client of a resource that no longer parses (it cannot be looked up).
pub async fn orphaned_unreadable(meta: &ObjectMeta, error: &str, ctx: &Context) {
    ctx.metrics.orphaned_client();
    let note = format!(
        "the resource does not parse ({error}); the Keycloak client it may have made is left in Keycloak"
    );
    ctx.events
        .publish_for_meta(meta, Reason::ClientOrphaned, &note)
        .await;
}

/// Deletes the client named by the spec if this resource owns it and its policy says so; gone
/// counts as deleted. Returns what was decided.
pub async fn delete_owned_client(
    session: &Session,
    v: &Validated,
    known_uuid: Option<&str>,
) -> Result<plan::Deletion, Error> {
    let found = dereference::client(session, v, known_uuid).await?;
    let decision = plan::deletion(v, found.as_ref().map(|c| &c.rep), known_uuid)?;
    if let plan::Deletion::Delete { uuid } = &decision {
        session.delete_client(&v.realm, uuid).await?;
    }
    Ok(decision)
}
