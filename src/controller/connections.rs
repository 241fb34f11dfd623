//! The health of every ClusterKeycloakConnection, for the platform team: checked when its spec
//! changes and once per resync period, written to its status (Ready with a reason, when, the
//! Keycloak version seen, the realms it may serve, how many resources name it) and to
//! `omkc_connection_ready`. A wrong URL or password shows up on the connection itself, not only
//! on the tenants' resources.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        predicates, reflector, watcher,
    },
};
use serde_json::json;
use tracing::{debug, warn};

use crate::{
    context::Context,
    crd::{ClusterKeycloakConnection, ClusterKeycloakConnectionStatus},
    keycloak::{ConnectionSpec, Credentials, Session},
    reason::Reason,
    reconcile::{Error, connection, observe::credentials},
};

/// What one check found.
#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    /// Ready's reason: [`Reason::Connected`] or what is wrong.
    pub reason: Reason,
    pub message: String,
    /// Keycloak's version, when the account may see it.
    pub version: Option<String>,
    /// The realms the connection may serve.
    pub realms: Vec<String>,
}

/// The realms a connection may serve: its allowedRealms that the account sees (`"*"`: every
/// realm it sees but master and its own admin realm).
pub fn served(allowed: &[String], visible: &[String], admin_realm: &str) -> Vec<String> {
    let mut realms: Vec<String> = visible
        .iter()
        .filter(|realm| {
            allowed.iter().any(|a| {
                a == *realm || (a == "*" && connection::wildcard_covers(realm, admin_realm))
            })
        })
        .cloned()
        .collect();
    realms.sort();
    realms.dedup();
    realms
}

/// The status to write for `health` (pure): the transition time moves only when Ready flips.
pub fn status_of(
    old: Option<&ClusterKeycloakConnectionStatus>,
    generation: Option<i64>,
    health: &Health,
    resources: u32,
    now: Timestamp,
) -> ClusterKeycloakConnectionStatus {
    let ready = if health.reason == Reason::Connected {
        "True"
    } else {
        "False"
    };
    let last_transition_time = old
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .filter(|c| c.status == ready)
        .map_or(Time(now), |c| c.last_transition_time.clone());
    ClusterKeycloakConnectionStatus {
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: ready.into(),
            reason: health.reason.as_str().into(),
            message: health.message.clone(),
            observed_generation: generation,
            last_transition_time,
        }],
        observed_generation: generation,
        last_checked: Some(now.to_string()),
        keycloak_version: health.version.clone(),
        realms: health.realms.clone(),
        resources: Some(resources),
    }
}

fn who(credentials: &Credentials) -> String {
    match credentials {
        Credentials::Password { username, .. } => format!("as {username:?}"),
        Credentials::ClientCredentials { client_id, .. } => {
            format!("as client {client_id:?}")
        }
    }
}

/// Checks one connection: its spec, its credentials Secret, a sign-in, the realms it sees and
/// the version. Writes nothing in Keycloak.
pub async fn check(conn: &ClusterKeycloakConnection, ctx: &Context) -> Health {
    let failed = |e: Error| Health {
        reason: e.reason(),
        message: e.to_string(),
        version: None,
        realms: Vec::new(),
    };
    let resolved = match connection::of_cluster(conn, &ctx.settings.operator_namespace) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let creds = match credentials(&resolved, ctx).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let account = who(&creds);
    let spec = ConnectionSpec {
        key: resolved.key.clone(),
        credentials: creds,
        ca_bundle: resolved.ca_bundle.clone(),
    };
    let session: Arc<Session> = match ctx.keycloak.session(&spec) {
        Ok(s) => s,
        Err(e) => return failed(e.into()),
    };
    let visible = match session.visible_realms().await {
        Ok(v) => v,
        Err(e) => return failed(e.into()),
    };
    // The version is a nicety: an account that may not see it is no failure.
    let version = session.server_version().await.unwrap_or_default();
    let realms = served(&conn.spec.allowed_realms, &visible, &resolved.admin_realm);
    if realms.is_empty() {
        return Health {
            reason: Reason::RealmNotFound,
            message: format!(
                "signed in at {} {account}, but none of allowedRealms ({}) exists or is administered by this account",
                resolved.url,
                conn.spec.allowed_realms.join(", ")
            ),
            version,
            realms,
        };
    }
    let note = version.as_deref().and_then(crate::keycloak::untested);
    Health {
        reason: Reason::Connected,
        message: format!(
            "signed in at {} {account}; may serve realms {}{}",
            resolved.url,
            realms.join(", "),
            note.map(|n| format!("; {n}")).unwrap_or_default()
        ),
        version,
        realms,
    }
}

async fn check_and_report(
    conn: Arc<ClusterKeycloakConnection>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let name = conn.name_any();
    let health = check(&conn, &ctx).await;
    let resources = ctx
        .all_resources()
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .filter(|o| connection::names_connection(o, &name))
        .count();
    let status = status_of(
        conn.status.as_ref(),
        conn.metadata.generation,
        &health,
        u32::try_from(resources).unwrap_or(u32::MAX),
        Timestamp::now(),
    );
    ctx.metrics
        .connection_ready(&name, health.reason == Reason::Connected);
    if health.reason != Reason::Connected {
        warn!(connection = %name, reason = %health.reason, "connection not ready: {}", health.message);
    }
    Api::<ClusterKeycloakConnection>::all(ctx.client.clone())
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .map_err(|e| {
            Error::kube(
                format!("write the status of ClusterKeycloakConnection {name:?}"),
                e,
            )
        })?;
    Ok(Action::requeue(ctx.settings.resync))
}

/// Checks every connection on a change of its spec and once per resync period, until `stop`.
pub async fn run(
    client: Client,
    ctx: Arc<Context>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<ClusterKeycloakConnection> = Api::all(client);
    let (store, writer) = reflector::store();
    // Its own status writes do not come back as checks: only the spec's generation does.
    let changes = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .filter(super::watches::without_errors(
            ClusterKeycloakConnection::kind(&()).into(),
            None,
        ))
        .predicate_filter(predicates::generation, Default::default());
    Controller::for_stream(changes, store)
        .graceful_shutdown_on(stop)
        .run(
            check_and_report,
            |_, error: &Error, ctx: Arc<Context>| {
                warn!("checking a connection: {error}");
                Action::requeue(
                    ctx.settings
                        .backoff_base
                        .max(std::time::Duration::from_secs(10)),
                )
            },
            ctx,
        )
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => debug!(connection = %obj.name, "connection checked"),
                Err(controller::Error::ReconcilerFailed(..)) => {}
                // A recheck of a connection deleted meanwhile (seen on a real API server).
                Err(controller::Error::ObjectNotFound(obj)) => {
                    debug!(connection = %obj, "gone before its check")
                }
                Err(e) => warn!("connections controller: {e}"),
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_connection_serves_the_allowed_realms_its_account_sees() {
        let visible = names(&["master", "data-sec", "payroll", "ops"]);
        assert_eq!(
            served(&names(&["data-sec", "missing"]), &visible, "master"),
            names(&["data-sec"])
        );
        // "*": everything seen but master and the connection's own admin realm.
        assert_eq!(
            served(&names(&["*"]), &visible, "ops"),
            names(&["data-sec", "payroll"])
        );
        assert!(served(&names(&["missing"]), &visible, "master").is_empty());
    }

    #[test]
    fn the_status_moves_its_transition_time_only_when_ready_flips() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let t1 = Timestamp::from_second(2_000).unwrap();
        let ok = Health {
            reason: Reason::Connected,
            message: "signed in".into(),
            version: Some("26.7.3".into()),
            realms: names(&["data-sec"]),
        };
        let first = status_of(None, Some(3), &ok, 2, t0);
        assert_eq!(first.conditions[0].status, "True");
        assert_eq!(first.conditions[0].reason, "Connected");
        assert_eq!(first.resources, Some(2));
        assert_eq!(first.observed_generation, Some(3));
        let again = status_of(Some(&first), Some(3), &ok, 2, t1);
        assert_eq!(
            again.conditions[0].last_transition_time,
            first.conditions[0].last_transition_time
        );
        assert_eq!(again.last_checked, Some(t1.to_string()));
        let down = Health {
            reason: Reason::CredentialsRejected,
            message: "refused".into(),
            version: None,
            realms: Vec::new(),
        };
        let flipped = status_of(Some(&again), Some(3), &down, 2, t1);
        assert_eq!(flipped.conditions[0].status, "False");
        assert_eq!(flipped.conditions[0].last_transition_time, Time(t1));
        assert!(flipped.realms.is_empty() && flipped.keycloak_version.is_none());
    }
}
