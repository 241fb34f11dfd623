//! The reconcile loop: dereference → validate → build → apply, status, Events and cleanup.
//!
//! IO happens only in the `async` functions here and in [`crate::keycloak`]; decisions are the
//! pure functions of [`crate::validate`] and [`crate::desired`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::{
    api::core::v1::Secret,
    apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time},
    jiff::Timestamp,
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
    core::{DeserializeGuard, ObjectMeta, PartialObjectMeta},
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        events::{Event, EventType, Recorder, Reporter},
        finalizer::{self, finalizer},
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use serde_json::json;
use tracing::{info, warn};

use crate::{
    crd::{
        DeletionPolicy, FINALIZER, OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus,
    },
    desired::{self, MANAGED_BY_LABEL, OPERATOR_NAME, Ownership},
    keycloak::{ConnectionKey, ConnectionSpec, Credentials, KeycloakError, Pool, Session},
    telemetry::{HEARTBEAT, Health, Metrics},
    validate::{InvalidSpec, Validated, validate},
};

/// Everything a reconcile can fail with. Messages never contain secret values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is invalid.
    #[error("invalid spec: {0}")]
    InvalidSpec(#[from] InvalidSpec),
    /// The credentials Secret does not exist.
    #[error("credentials Secret {0:?} not found in the resource's namespace")]
    CredentialsNotFound(String),
    /// The credentials Secret lacks the expected keys.
    #[error("credentials Secret {name:?}: {problem}")]
    CredentialsInvalid {
        /// Secret name.
        name: String,
        /// What is wrong (names keys, never values).
        problem: String,
    },
    /// Keycloak refused or failed.
    #[error(transparent)]
    Keycloak(#[from] KeycloakError),
    /// A client with this clientId exists and this resource may not take it.
    #[error("{0}")]
    ClientConflict(String),
    /// A Secret with the output name exists and is not owned by this resource.
    #[error(
        "Secret {0:?} exists and is not owned by this resource; the operator will not overwrite it (delete it or choose spec.secret.name)"
    )]
    SecretConflict(String),
    /// The Kubernetes API failed.
    #[error("Kubernetes API error: {0}")]
    Kube(#[source] kube::Error),
    /// The finalizer machinery failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

impl Error {
    /// Whether waiting and retrying may succeed without a change by the user.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Keycloak(e) => e.is_transient(),
            Self::Kube(_) | Self::Finalizer(_) => true,
            _ => false,
        }
    }

    /// Bounded CamelCase reason for the Ready condition and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::CredentialsNotFound(_) => "CredentialsNotFound",
            Self::CredentialsInvalid { .. } => "CredentialsInvalid",
            Self::Keycloak(e) => e.reason(),
            Self::ClientConflict(_) => "ClientConflict",
            Self::SecretConflict(_) => "SecretConflict",
            Self::Kube(_) => "KubernetesError",
            Self::Finalizer(_) => "FinalizerError",
        }
    }
}

/// `Ready=False` reasons that need a change by the user before the operator can get further.
/// The Argo CD health check (`deploy/argocd/health.lua`) reports them as Degraded; a test keeps
/// its table equal to this list.
pub const PERMANENT_REASONS: &[&str] = &[
    "ClientConflict",
    "CredentialsInvalid",
    "CredentialsNotFound",
    "CredentialsRejected",
    "InvalidSpec",
    "KeycloakForbidden",
    "KeycloakRejected",
    "RealmNotFound",
    "ScopeNotFound",
    "SecretConflict",
];

/// `Ready=False` reasons the operator retries by itself with backoff (Progressing in Argo CD).
pub const TRANSIENT_REASONS: &[&str] = &[
    "FinalizerError",
    "KeycloakConflict",
    "KeycloakProtocolError",
    "KeycloakUnavailable",
    "KubernetesError",
];

/// Settings of the controller.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Period of the drift-correcting resync of every resource; also the retry period of
    /// permanent errors.
    pub resync: Duration,
    /// First delay after a transient error (doubles per consecutive failure).
    pub backoff_base: Duration,
    /// Longest delay after transient errors.
    pub backoff_max: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(300),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// Shared state of all reconciles.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Event recorder.
    pub recorder: Recorder,
    /// Keycloak sessions.
    pub keycloak: Pool,
    /// Settings.
    pub settings: Settings,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Consecutive transient failures per resource (`namespace/name`), for backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    /// A context for `client`.
    pub fn new(client: Client, settings: Settings) -> Self {
        let reporter = Reporter {
            controller: OPERATOR_NAME.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            keycloak: Pool::default(),
            settings,
            metrics: Arc::default(),
            failures: Mutex::default(),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delay before retrying a resource after a transient error: exponential with ±20% jitter.
    fn next_backoff(&self, key: &str) -> Duration {
        let attempt = {
            let mut failures = self.failures();
            let n = failures.entry(key.to_string()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        backoff_delay(&self.settings, attempt, fastrand::f64())
    }

    /// When to retry `key` after `error`: exponential backoff for transient errors, the resync
    /// period for permanent ones (they need a change, which the watches deliver sooner).
    pub fn retry_after(&self, error: &Error, key: &str) -> Duration {
        if error.is_transient() {
            self.next_backoff(key)
        } else {
            self.reset_backoff(key);
            resync_delay(&self.settings)
        }
    }

    fn reset_backoff(&self, key: &str) {
        self.failures().remove(key);
    }
}

/// Delay for the `attempt`-th consecutive failure; `jitter` in [0, 1) spreads it by ±20%.
pub fn backoff_delay(settings: &Settings, attempt: u32, jitter: f64) -> Duration {
    let exp = settings
        .backoff_base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)));
    let capped = exp.min(settings.backoff_max);
    capped.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// Resync delay with ±10% jitter, so resources do not all wake at once.
fn resync_delay(settings: &Settings) -> Duration {
    settings.resync.mul_f64(0.9 + 0.2 * fastrand::f64())
}

fn object_key(obj: &OpenMetadataKeycloakClient) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Entry point of a reconcile: malformed objects are reported and skipped, others go through
/// the finalizer (apply or cleanup).
pub async fn reconcile(
    guard: Arc<DeserializeGuard<OpenMetadataKeycloakClient>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let obj = match &guard.0 {
        Ok(obj) => Arc::new(obj.clone()),
        Err(invalid) => {
            warn!(name = ?invalid.metadata.name, namespace = ?invalid.metadata.namespace, "malformed OpenMetadataKeycloakClient: {}", invalid.error);
            publish_for_meta(&ctx, &invalid.metadata, "MalformedResource", &invalid.error).await;
            return Ok(Action::await_change());
        }
    };
    let namespace = obj.namespace().unwrap_or_default();
    let api: Api<OpenMetadataKeycloakClient> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            finalizer::Event::Apply(obj) => apply(&obj, &ctx).await,
            finalizer::Event::Cleanup(obj) => cleanup(&obj, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(inner) | finalizer::Error::CleanupFailed(inner) => inner,
        finalizer::Error::AddFinalizer(k) | finalizer::Error::RemoveFinalizer(k) => Error::Kube(k),
        other => Error::Finalizer(other.to_string()),
    })
}

/// [`reconcile`], timed and counted in [`Context::metrics`].
pub async fn measured_reconcile(
    guard: Arc<DeserializeGuard<OpenMetadataKeycloakClient>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = reconcile(guard, ctx.clone()).await;
    let (outcome, reason) = match &result {
        Ok(_) => ("success", "Reconciled"),
        Err(e) => ("error", e.reason()),
    };
    ctx.metrics.observe(outcome, reason, started.elapsed());
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
    let delay = ctx.retry_after(error, &key);
    if error.is_transient() {
        warn!(resource = %key, reason = error.reason(), retry_in = ?delay, "reconcile failed: {error}");
    } else {
        warn!(resource = %key, reason = error.reason(), "reconcile failed, waiting for a change: {error}");
    }
    Action::requeue(delay)
}

/// What one successful convergence did.
#[derive(Debug, Default)]
struct Outcome {
    client_uuid: String,
    changes: Vec<String>,
}

async fn apply(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<Action, Error> {
    let previous = obj.status.clone().unwrap_or_default();
    let result = match validate(obj) {
        Err(e) => Err(Error::InvalidSpec(e)),
        Ok(v) => converge(obj, &v, ctx).await.map(|outcome| {
            (
                ready_status(obj, &v, &outcome.client_uuid, &previous),
                outcome,
            )
        }),
    };
    let status = match &result {
        Ok((ready, _)) => ready.clone(),
        Err(err) => failed_status(obj, &previous, err.reason(), &err.to_string()),
    };
    patch_status(obj, ctx, &previous, status).await?;
    match result {
        Ok((_, outcome)) => {
            ctx.reset_backoff(&object_key(obj));
            if !outcome.changes.is_empty() {
                // One Event per reconcile that changed something (the recorder folds Events
                // with equal reasons into a series, so separate ones would be lost).
                let summary = outcome.changes.join("; ");
                info!(resource = %object_key(obj), "{summary}");
                publish(ctx, obj, EventType::Normal, "Reconciled", &summary).await;
            }
            Ok(Action::requeue(resync_delay(&ctx.settings)))
        }
        Err(err) => {
            publish(ctx, obj, EventType::Warning, err.reason(), &err.to_string()).await;
            Err(err)
        }
    }
}

/// Dereference and apply: brings Keycloak and the output Secret in line with the spec.
async fn converge(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    ctx: &Context,
) -> Result<Outcome, Error> {
    let session = session_for(v, ctx).await?;
    let synced = sync_keycloak(&session, v).await?;
    let mut changes = synced.changes;
    // IO: write the output Secret.
    if let Some(change) = apply_output_secret(obj, v, ctx, &synced.client_secret).await? {
        changes.push(change);
    }
    Ok(Outcome {
        client_uuid: synced.client_uuid,
        changes,
    })
}

/// What [`sync_keycloak`] found and did. `Debug` hides the secret.
pub struct KeycloakSync {
    /// Keycloak's internal id of the client.
    pub client_uuid: String,
    /// The client's secret.
    pub client_secret: String,
    /// Human-readable changes made in Keycloak (empty when it was already in sync).
    pub changes: Vec<String>,
}

impl std::fmt::Debug for KeycloakSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeycloakSync")
            .field("client_uuid", &self.client_uuid)
            .field("client_secret", &"<redacted>")
            .field("changes", &self.changes)
            .finish()
    }
}

/// The Keycloak half of a reconcile: find the client by exact clientId; create it, or update the
/// managed fields that drifted (only if this resource owns it); ensure the default scopes; read
/// the secret. Writes nothing when Keycloak already matches.
pub async fn sync_keycloak(session: &Session, v: &Validated) -> Result<KeycloakSync, Error> {
    let mut changes = Vec::new();
    let wanted = desired::desired_client(v);

    let client_uuid = match session.find_client(&v.realm, &v.client_id).await? {
        None => {
            let uuid = session.create_client(&v.realm, &wanted).await?;
            changes.push(format!(
                "created client {:?} in realm {:?}",
                v.client_id, v.realm
            ));
            uuid
        }
        Some(existing) => {
            let uuid = existing
                .id
                .clone()
                .ok_or_else(|| KeycloakError::Protocol("client listed without an id".into()))?;
            match desired::ownership(&existing, v) {
                Ownership::Ours => {}
                Ownership::Unowned if v.adopt_existing => {
                    changes.push(format!("adopted existing client {:?}", v.client_id));
                }
                Ownership::Unowned => {
                    return Err(Error::ClientConflict(format!(
                        "client {:?} already exists in realm {:?} and was not created by an OpenMetadataKeycloakClient; nothing was changed (set spec.client.adoptExisting: true to take it over)",
                        v.client_id, v.realm
                    )));
                }
                Ownership::OtherResource(owner) => {
                    return Err(Error::ClientConflict(format!(
                        "client {:?} in realm {:?} belongs to OpenMetadataKeycloakClient {owner}; nothing was changed",
                        v.client_id, v.realm
                    )));
                }
            }
            let drift = desired::client_drift(&existing, &wanted);
            if !drift.is_empty() {
                session.update_client(&v.realm, &uuid, &wanted).await?;
                changes.push(format!(
                    "updated client {:?}: {}",
                    v.client_id,
                    drift.join(", ")
                ));
            }
            uuid
        }
    };

    // Default scopes one by one: PUT bodies ignore them, POST bodies replace the realm's.
    let added = session
        .ensure_default_scopes(&v.realm, &client_uuid, &desired::REQUIRED_SCOPES)
        .await?;
    if !added.is_empty() {
        changes.push(format!("added default client scopes: {}", added.join(", ")));
    }

    let client_secret = session.client_secret(&v.realm, &client_uuid).await?;
    Ok(KeycloakSync {
        client_uuid,
        client_secret,
        changes,
    })
}

/// Reads the admin credentials and returns the pooled Keycloak session for them.
pub async fn session_for(v: &Validated, ctx: &Context) -> Result<Arc<Session>, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &v.namespace);
    let secret = secrets
        .get_opt(&v.credentials_secret)
        .await
        .map_err(Error::Kube)?
        .ok_or_else(|| Error::CredentialsNotFound(v.credentials_secret.clone()))?;
    let credentials = credentials_from(&v.credentials_secret, &secret)?;
    let spec = ConnectionSpec {
        key: ConnectionKey {
            base_url: v.keycloak_url.clone(),
            admin_realm: v.admin_realm.clone(),
            credentials_source: format!("{}/{}", v.namespace, v.credentials_secret),
        },
        credentials,
        ca_bundle: v.ca_bundle.clone(),
    };
    Ok(ctx.keycloak.session(&spec)?)
}

/// Reads `username`/`password` or `clientId`/`clientSecret` from the credentials Secret.
pub fn credentials_from(name: &str, secret: &Secret) -> Result<Credentials, Error> {
    let get = |key: &str| -> Option<String> {
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone());
        let string_data = secret
            .string_data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|s| s.clone().into_bytes());
        data.or(string_data)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .filter(|s| !s.is_empty())
    };
    let invalid = |problem: &str| Error::CredentialsInvalid {
        name: name.to_string(),
        problem: problem.to_string(),
    };
    match (
        get("username"),
        get("password"),
        get("clientId"),
        get("clientSecret"),
    ) {
        (Some(username), Some(password), _, _) => Ok(Credentials::Password { username, password }),
        (_, _, Some(client_id), Some(client_secret)) => Ok(Credentials::ClientCredentials {
            client_id,
            client_secret,
        }),
        (Some(_), None, _, _) => Err(invalid("has `username` but no non-empty `password`")),
        (None, Some(_), _, _) => Err(invalid("has `password` but no non-empty `username`")),
        (_, _, Some(_), None) => Err(invalid("has `clientId` but no non-empty `clientSecret`")),
        _ => Err(invalid(
            "needs keys `username` and `password`, or `clientId` and `clientSecret`",
        )),
    }
}

fn owner_reference(obj: &OpenMetadataKeycloakClient) -> OwnerReference {
    obj.controller_owner_ref(&())
        .expect("a resource read from the API server has a uid")
}

fn owned_by(secret: &Secret, obj: &OpenMetadataKeycloakClient) -> bool {
    let uid = obj.metadata.uid.as_deref();
    secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| Some(o.uid.as_str()) == uid && o.kind == "OpenMetadataKeycloakClient")
}

/// Writes the output Secret with server-side apply, unless a Secret of that name exists that
/// this resource does not own. Also removes a previous output Secret after a rename.
async fn apply_output_secret(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    ctx: &Context,
    client_secret: &str,
) -> Result<Option<String>, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &v.namespace);
    let existing = secrets.get_opt(&v.secret.name).await.map_err(Error::Kube)?;
    if let Some(existing) = &existing
        && !owned_by(existing, obj)
    {
        return Err(Error::SecretConflict(v.secret.name.clone()));
    }
    let wanted = desired::output_secret(v, owner_reference(obj), client_secret);
    let changed = existing.as_ref().map(|s| &s.data) != Some(&wanted.data);
    // k8s-openapi serializes apiVersion and kind, which server-side apply needs (kube-rs#1086).
    secrets
        .patch(
            &v.secret.name,
            &PatchParams::apply(OPERATOR_NAME).force(),
            &Patch::Apply(&wanted),
        )
        .await
        .map_err(Error::Kube)?;

    // A renamed output: the old Secret is ours to remove (only if we own it).
    let previous = obj.status.as_ref().and_then(|s| s.secret_name.clone());
    if let Some(old) = previous.filter(|old| *old != v.secret.name)
        && let Some(old_secret) = secrets.get_opt(&old).await.map_err(Error::Kube)?
        && owned_by(&old_secret, obj)
    {
        secrets
            .delete(&old, &DeleteParams::default())
            .await
            .map_err(Error::Kube)?;
    }

    Ok(match (existing.is_some(), changed) {
        (false, _) => Some(format!("created Secret {:?}", v.secret.name)),
        (true, true) => Some(format!("updated Secret {:?}", v.secret.name)),
        (true, false) => None,
    })
}

/// Deletes the Keycloak client when the policy says so and this resource owns it. Never blocks
/// on an invalid spec or vanished credentials (that would wedge namespace deletion); keeps the
/// finalizer while Keycloak is unreachable.
async fn cleanup(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<Action, Error> {
    let policy = obj.spec.deletion_policy.unwrap_or_default();
    if policy == DeletionPolicy::Retain {
        publish(
            ctx,
            obj,
            EventType::Normal,
            "Retained",
            "deletionPolicy is Retain: the Keycloak client stays",
        )
        .await;
        return Ok(Action::await_change());
    }
    let v = match validate(obj) {
        Ok(v) => v,
        Err(e) => {
            publish(
                ctx,
                obj,
                EventType::Warning,
                "CleanupSkipped",
                &format!("invalid spec, nothing to clean up in Keycloak: {e}"),
            )
            .await;
            return Ok(Action::await_change());
        }
    };
    let session = match session_for(&v, ctx).await {
        Ok(s) => s,
        Err(e @ (Error::CredentialsNotFound(_) | Error::CredentialsInvalid { .. })) => {
            publish(
                ctx,
                obj,
                EventType::Warning,
                "CleanupSkipped",
                &format!("cannot sign in to Keycloak, the client may remain there: {e}"),
            )
            .await;
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e),
    };
    let result = delete_owned_client(&session, &v).await;
    match result {
        Ok(message) => {
            publish(ctx, obj, EventType::Normal, "Deleted", &message).await;
            Ok(Action::await_change())
        }
        Err(err) if err.is_transient() => {
            let previous = obj.status.clone().unwrap_or_default();
            let status = failed_status(
                obj,
                &previous,
                err.reason(),
                &format!("deleting: {err}; the finalizer stays until Keycloak answers"),
            );
            patch_status(obj, ctx, &previous, status).await?;
            publish(
                ctx,
                obj,
                EventType::Warning,
                err.reason(),
                &format!("deleting: {err}"),
            )
            .await;
            Err(err)
        }
        Err(err) => {
            publish(
                ctx,
                obj,
                EventType::Warning,
                "CleanupSkipped",
                &format!("the Keycloak client may remain: {err}"),
            )
            .await;
            Ok(Action::await_change())
        }
    }
}

/// Deletes the client named by the spec if this resource owns it; gone counts as deleted.
pub async fn delete_owned_client(session: &Session, v: &Validated) -> Result<String, Error> {
    let Some(existing) = session.find_client(&v.realm, &v.client_id).await? else {
        return Ok(format!(
            "client {:?} was already gone from Keycloak",
            v.client_id
        ));
    };
    match desired::ownership(&existing, v) {
        Ownership::Ours => {
            let uuid = existing
                .id
                .ok_or_else(|| KeycloakError::Protocol("client listed without an id".into()))?;
            session.delete_client(&v.realm, &uuid).await?;
            Ok(format!(
                "deleted client {:?} from realm {:?}",
                v.client_id, v.realm
            ))
        }
        _ => Ok(format!(
            "client {:?} is not owned by this resource: left in Keycloak",
            v.client_id
        )),
    }
}

fn condition(
    obj: &OpenMetadataKeycloakClient,
    previous: &OpenMetadataKeycloakClientStatus,
    ready: bool,
    reason: &str,
    message: &str,
) -> Condition {
    let status = if ready { "True" } else { "False" };
    let old = previous.conditions.iter().find(|c| c.type_ == "Ready");
    // Keep the transition time unless the status flips: status stays deterministic.
    let last_transition_time = match old {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(Timestamp::now()),
    };
    Condition {
        type_: "Ready".into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: obj.metadata.generation,
        last_transition_time,
    }
}

/// Status after a successful convergence.
pub fn ready_status(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    client_uuid: &str,
    previous: &OpenMetadataKeycloakClientStatus,
) -> OpenMetadataKeycloakClientStatus {
    OpenMetadataKeycloakClientStatus {
        observed_generation: obj.metadata.generation,
        conditions: vec![condition(
            obj,
            previous,
            true,
            "Reconciled",
            &format!(
                "client {:?} is in sync in realm {:?}; credentials are in Secret {:?}",
                v.client_id, v.realm, v.secret.name
            ),
        )],
        client_id: Some(v.client_id.clone()),
        client_uuid: Some(client_uuid.to_string()),
        secret_name: Some(v.secret.name.clone()),
        openmetadata: Some(desired::openmetadata_values(v)),
    }
}

/// Status after a failure: what was known stays, Ready turns False with the reason.
pub fn failed_status(
    obj: &OpenMetadataKeycloakClient,
    previous: &OpenMetadataKeycloakClientStatus,
    reason: &str,
    message: &str,
) -> OpenMetadataKeycloakClientStatus {
    OpenMetadataKeycloakClientStatus {
        observed_generation: obj.metadata.generation,
        conditions: vec![condition(obj, previous, false, reason, message)],
        ..previous.clone()
    }
}

async fn patch_status(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
    previous: &OpenMetadataKeycloakClientStatus,
    status: OpenMetadataKeycloakClientStatus,
) -> Result<(), Error> {
    if obj.status.is_some() && *previous == status {
        return Ok(());
    }
    let api: Api<OpenMetadataKeycloakClient> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .map_err(Error::Kube)?;
    Ok(())
}

async fn publish(
    ctx: &Context,
    obj: &OpenMetadataKeycloakClient,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    publish_to(ctx, &obj.object_ref(&()), type_, reason, note).await;
}

/// Publishes for an object known only by its metadata (one that failed to deserialize).
async fn publish_for_meta(ctx: &Context, meta: &ObjectMeta, reason: &str, note: &str) {
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(OpenMetadataKeycloakClient::api_version(&()).into()),
        kind: Some(OpenMetadataKeycloakClient::kind(&()).into()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..Default::default()
    };
    publish_to(ctx, &reference, EventType::Warning, reason, note).await;
}

/// Events are best effort: a failure to publish is logged, never fails the reconcile.
async fn publish_to(
    ctx: &Context,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(truncate(note, 1000)),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, reference).await {
        warn!("could not publish event {reason}: {e}");
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
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
                    tracing::debug!(resource = %obj, reason = err.reason(), "reconcile failed")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_with_bounded_jitter() {
        let s = Settings::default();
        assert_eq!(backoff_delay(&s, 1, 0.5), Duration::from_secs(2));
        assert_eq!(backoff_delay(&s, 2, 0.5), Duration::from_secs(4));
        assert_eq!(backoff_delay(&s, 3, 0.5), Duration::from_secs(8));
        assert_eq!(backoff_delay(&s, 30, 0.5), Duration::from_secs(300));
        assert_eq!(backoff_delay(&s, 1, 0.0), Duration::from_secs_f64(1.6));
        assert_eq!(backoff_delay(&s, 1, 1.0), Duration::from_secs_f64(2.4));
    }

    /// One error of every kind. The match below stops compiling when a variant is added, as a
    /// reminder to add it here (and so to the reason lists).
    fn one_of_each() -> Vec<Error> {
        fn _every_variant_is_sampled(e: &Error, k: &KeycloakError) {
            match e {
                Error::InvalidSpec(_)
                | Error::CredentialsNotFound(_)
                | Error::CredentialsInvalid { .. }
                | Error::Keycloak(_)
                | Error::ClientConflict(_)
                | Error::SecretConflict(_)
                | Error::Kube(_)
                | Error::Finalizer(_) => {}
            }
            match k {
                KeycloakError::Unreachable(_)
                | KeycloakError::Server { .. }
                | KeycloakError::Conflict(_)
                | KeycloakError::CredentialsRejected { .. }
                | KeycloakError::Forbidden { .. }
                | KeycloakError::RealmNotFound(_)
                | KeycloakError::ScopeNotFound(_)
                | KeycloakError::Rejected { .. }
                | KeycloakError::InvalidCaBundle(_)
                | KeycloakError::Protocol(_) => {}
            }
        }
        let m = || "m".to_string();
        let keycloak = vec![
            KeycloakError::Unreachable(m()),
            KeycloakError::Server {
                status: 503,
                message: m(),
            },
            KeycloakError::Conflict(m()),
            KeycloakError::CredentialsRejected {
                status: 401,
                message: m(),
            },
            KeycloakError::Forbidden {
                status: 403,
                message: m(),
            },
            KeycloakError::RealmNotFound(m()),
            KeycloakError::ScopeNotFound(m()),
            KeycloakError::Rejected {
                status: 400,
                message: m(),
            },
            KeycloakError::InvalidCaBundle(m()),
            KeycloakError::Protocol(m()),
        ];
        let mut all: Vec<Error> = keycloak.into_iter().map(Error::Keycloak).collect();
        all.extend([
            Error::InvalidSpec(InvalidSpec {
                field: m(),
                message: m(),
            }),
            Error::CredentialsNotFound(m()),
            Error::CredentialsInvalid {
                name: m(),
                problem: m(),
            },
            Error::ClientConflict(m()),
            Error::SecretConflict(m()),
            Error::Kube(kube::Error::LinesCodecMaxLineLengthExceeded),
            Error::Finalizer(m()),
        ]);
        all
    }

    #[test]
    fn every_failure_reason_is_listed_as_permanent_or_transient_by_its_retry_class() {
        let mut permanent = std::collections::BTreeSet::new();
        let mut transient = std::collections::BTreeSet::new();
        for e in one_of_each() {
            if e.is_transient() {
                transient.insert(e.reason());
            } else {
                permanent.insert(e.reason());
            }
        }
        assert!(
            permanent.is_disjoint(&transient),
            "{permanent:?} / {transient:?}"
        );
        assert_eq!(permanent.into_iter().collect::<Vec<_>>(), PERMANENT_REASONS);
        assert_eq!(transient.into_iter().collect::<Vec<_>>(), TRANSIENT_REASONS);
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("short", 10), "short");
    }
}
