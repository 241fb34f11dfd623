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
pub mod dereference;
pub mod desired;
mod error;
pub mod plan;
pub mod status;

use std::sync::Arc;

use kube::{
    Api, Resource, ResourceExt,
    core::DeserializeGuard,
    runtime::{
        controller::Action,
        events::EventType,
        finalizer::{self, finalizer},
    },
};
use tracing::{info, warn};

pub use error::{Error, keycloak_reason};

use crate::{
    context::Context,
    crd::{FINALIZER, OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus},
    events::{publish, publish_for_meta},
    keycloak::Session,
    reason::Reason,
    validate::{Validated, validate},
};
use change::Change;

/// `namespace/name` of a resource: the key of its backoff and of its log lines.
pub fn object_key(obj: &OpenMetadataKeycloakClient) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Entry point of a reconcile: a malformed object is reported and skipped; the others go
/// through the finalizer, to [`converge_and_report`] or to [`cleanup::cleanup`].
pub async fn reconcile(
    guard: Arc<DeserializeGuard<OpenMetadataKeycloakClient>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let obj = match &guard.0 {
        Ok(obj) => Arc::new(obj.clone()),
        Err(invalid) => {
            warn!(name = ?invalid.metadata.name, namespace = ?invalid.metadata.namespace, "malformed OpenMetadataKeycloakClient: {}", invalid.error);
            publish_for_meta(
                &ctx,
                &invalid.metadata,
                Reason::MalformedResource,
                &invalid.error,
            )
            .await;
            return Ok(Action::await_change());
        }
    };
    let namespace = obj.namespace().unwrap_or_default();
    let api: Api<OpenMetadataKeycloakClient> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            finalizer::Event::Apply(obj) => converge_and_report(&obj, &ctx).await,
            finalizer::Event::Cleanup(obj) => cleanup::cleanup(&obj, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(inner) | finalizer::Error::CleanupFailed(inner) => inner,
        finalizer::Error::AddFinalizer(k) | finalizer::Error::RemoveFinalizer(k) => Error::Kube(k),
        other => Error::Finalizer(other.to_string()),
    })
}

/// What a successful convergence did and the status it leads to.
#[derive(Debug)]
struct Converged {
    changes: Vec<Change>,
    status: Option<OpenMetadataKeycloakClientStatus>,
}

/// Converges, then reports: status (only when it changed), then one Event.
async fn converge_and_report(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
) -> Result<Action, Error> {
    let result = converge(obj, ctx).await;
    let status = match &result {
        Ok(done) => done.status.clone(),
        Err(err) => status::to_write(obj, status::failed(obj, err.reason(), &err.to_string())),
    };
    apply::status(obj, ctx, status).await?;
    match result {
        Ok(done) => {
            ctx.reset_backoff(&object_key(obj));
            if !done.changes.is_empty() {
                // One Event per reconcile that changed something (the recorder folds Events
                // with equal reasons into a series, so separate ones would be lost).
                let summary = change::summary(&done.changes);
                info!(resource = %object_key(obj), "{summary}");
                publish(ctx, obj, EventType::Normal, Reason::Reconciled, &summary).await;
            }
            Ok(Action::requeue(ctx.resync_delay()))
        }
        Err(err) => {
            publish(ctx, obj, EventType::Warning, err.reason(), &err.to_string()).await;
            Err(err)
        }
    }
}

/// The pipeline: validate, dereference, plan, apply, for Keycloak and then the Secret.
async fn converge(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<Converged, Error> {
    let v = validate(obj)?;
    let session = dereference::session(&v, ctx).await?;
    let keycloak = converge_keycloak(&session, &v).await?;
    let observed = dereference::output_secret(&v, ctx).await?;
    let owner = obj
        .controller_owner_ref(&())
        .expect("a resource read from the API server has a uid");
    let planned = plan::secret(obj, &v, owner, &keycloak.client_secret, observed.as_ref())?;
    let mut changes = keycloak.changes;
    changes.extend(apply::secret(obj, &v, ctx, planned).await?);
    Ok(Converged {
        changes,
        status: plan::ready_status(obj, &v, &keycloak.client_uuid),
    })
}

/// What the Keycloak half of a reconcile found and did. `Debug` hides the secret.
pub struct KeycloakConverged {
    /// Keycloak's internal id of the client.
    pub client_uuid: String,
    /// The client's secret.
    pub client_secret: String,
    /// Changes made in Keycloak (empty when it was already in sync).
    pub changes: Vec<Change>,
}

impl std::fmt::Debug for KeycloakConverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeycloakConverged")
            .field("client_uuid", &self.client_uuid)
            .field("client_secret", &"<redacted>")
            .field("changes", &self.changes)
            .finish()
    }
}

/// The Keycloak half: find the client by exact clientId; create it, or update the managed
/// fields that drifted (only if this resource may); add missing default scopes; read the
/// secret. Writes nothing when Keycloak already matches.
pub async fn converge_keycloak(
    session: &Session,
    v: &Validated,
) -> Result<KeycloakConverged, Error> {
    let found = dereference::client(session, v).await?;
    let planned = plan::client(v, found.as_ref())?;
    let client_uuid = apply::client(session, v, &planned.action).await?;
    let mut changes = planned.changes;

    let scopes = dereference::default_scopes(session, v, &client_uuid).await?;
    let missing = plan::scopes_to_add(&scopes);
    apply::add_scopes(session, v, &client_uuid, &missing).await?;
    if !missing.is_empty() {
        changes.push(Change::ScopesAdded { scopes: missing });
    }

    let client_secret = dereference::client_secret(session, v, &client_uuid).await?;
    Ok(KeycloakConverged {
        client_uuid,
        client_secret,
        changes,
    })
}
