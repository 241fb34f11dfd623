//! `run`: the operator itself. Checks the cluster, starts the probe and metrics server, waits
//! for the leader lease (when leader election is on), runs one controller loop per watched
//! scope, and stops gracefully on SIGTERM: in-flight reconciles finish (bounded), the lease is
//! released for a standby to take over at once.

use std::sync::Arc;

use kube::{Api, Client, api::ListParams};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use super::{LogFormat, RunArgs};
use crate::{
    context::{Context, Settings},
    controller,
    crd::OpenMetadataKeycloakClient,
    leader::{self, Election, LeaseSettings, Lost},
    telemetry::{self, Health},
};

fn init_logging(args: &RunArgs) -> Result<(), String> {
    // kube's client logs every failed request at ERROR, raw, before the operator reports the
    // same failure in its own words (with what it was doing): silent unless asked for by name.
    let mut directives = args.log_level.clone();
    if !directives.contains("kube_client") {
        directives.push_str(",kube_client::client::builder=off");
    }
    let filter = EnvFilter::try_new(&directives)
        .map_err(|e| format!("invalid --log-level {:?}: {e}", args.log_level))?;
    let registry = tracing_subscriber::registry().with(filter);
    match args.log_format {
        // Colours only for a person at a terminal, never in a pod's log.
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .init(),
    }
    Ok(())
}

/// Runs the operator until a shutdown signal; `Err` carries the message for stderr.
pub async fn run(args: RunArgs) -> Result<(), String> {
    init_logging(&args)?;
    crate::tls::install_crypto_provider();
    let metrics = Arc::new(crate::telemetry::Metrics::default());
    let (client, url) = connect(metrics.clone()).await?;
    let operator_namespace = given(&args.operator_namespace)
        .or_else(|| given(&std::fs::read_to_string(IN_CLUSTER_NAMESPACE).ok()))
        .unwrap_or_else(|| client.default_namespace().to_string());
    let scopes = scopes(&args.namespaces, &operator_namespace);
    for scope in &scopes {
        can_list(&client, &url, scope.namespace.as_deref()).await?;
    }
    let installation = match given(&args.installation_id) {
        Some(id) => id,
        None => installation_id(&client).await?,
    };
    let settings = settings(&args, installation, operator_namespace.clone());
    let ctx = Arc::new(Context::with_metrics(client.clone(), settings, metrics));
    let health = Arc::new(Health::new(scopes.len()));
    let listener = tokio::net::TcpListener::bind(args.http_address)
        .await
        .map_err(|e| format!("cannot listen on --http-address {}: {e}", args.http_address))?;
    // Where it really listens (port 0 lets the system choose).
    let http_address = listener
        .local_addr()
        .map_or_else(|_| args.http_address.to_string(), |a| a.to_string());
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(telemetry::serve(
        listener,
        health.clone(),
        ctx.metrics.clone(),
        async move {
            let _ = http_stopped.await;
        },
    ));
    // One stop for everything: the shutdown signal, or the loss of the lease.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    tokio::spawn({
        let (health, stop) = (health.clone(), stop.clone());
        async move {
            controller::shutdown_signal().await;
            // Not ready from the first signal on; the loops finish in-flight reconciles.
            health.mark_shutting_down();
            stop.send_replace(true);
        }
    });
    tracing::info!(
        namespaces = match scopes.iter().filter_map(|s| s.namespace.as_deref()).collect::<Vec<_>>() {
            watched if watched.is_empty() => "(all)".to_string(),
            watched => watched.join(","),
        },
        resync = ?args.resync,
        concurrency = args.concurrency,
        keycloak_concurrency = args.keycloak_concurrency,
        namespace_share = args.namespace_share,
        min_rotation_interval = ?args.min_rotation_interval,
        installation = %ctx.settings.installation,
        operator_namespace = %ctx.settings.operator_namespace,
        inline_connections = args.allow_inline_connections,
        inline_adoption = args.allow_inline_adoption,
        resource_selector = ctx.settings.resource_selector.as_deref().unwrap_or("(every resource)"),
        leader_election = args.leader_election,
        http_address = %http_address,
        "starting openmetadata-keycloak-operator {}",
        env!("CARGO_PKG_VERSION")
    );

    let mut election = None;
    if args.leader_election {
        let lease = LeaseSettings {
            name: args.lease_name.clone(),
            namespace: given(&args.lease_namespace).unwrap_or_else(|| operator_namespace.clone()),
            identity: leader::identity(),
            duration: args.lease_duration,
            grace: args.lease_renew_grace,
        };
        let mut joined = Election::join(client.clone(), &lease).await?;
        health.set_standby(true);
        ctx.metrics.set_leader(false);
        tracing::info!(identity = %lease.identity, "standing by until this instance holds the lease");
        tokio::select! {
            acquired = joined.acquired() => {
                if !acquired {
                    return Err("the leader election ended unexpectedly".into());
                }
            }
            () = until(stopped.clone()) => {
                joined.release(RELEASE_TIMEOUT).await;
                let _ = stop_http.send(());
                let _ = server.await;
                tracing::info!("stopped before leading");
                return Ok(());
            }
        }
        tracing::info!(identity = %lease.identity, "holding the lease: reconciling");
        health.set_standby(false);
        election = Some(joined);
    }
    ctx.metrics.set_leader(true);

    let runs = scopes.into_iter().map(|scope| {
        controller::run_scope_with(
            scope,
            client.clone(),
            ctx.clone(),
            args.concurrency,
            health.clone(),
            until(stopped.clone()),
        )
    });
    // The connections' health, for the platform team, by the same leader.
    let checks = controller::connections::run(client.clone(), ctx.clone(), until(stopped.clone()));
    let mut runs = Box::pin(futures::future::join(
        futures::future::join_all(runs),
        checks,
    ));
    let mut lost = None;
    tokio::select! {
        _ = &mut runs => {}
        () = async { until(stopped.clone()).await; tokio::time::sleep(SHUTDOWN_TIMEOUT).await } => {
            tracing::warn!("in-flight reconciles did not finish within {SHUTDOWN_TIMEOUT:?}; stopping anyway");
        }
        why = async {
            match election.as_mut() {
                Some(e) => e.lost().await,
                None => std::future::pending().await,
            }
        } => {
            // Another instance may lead from now on: not one more write. Leaving this select
            // drops the loops, and with them every reconcile in flight.
            tracing::error!(
                "{}: stopping at once",
                match why {
                    Lost::Taken => "lost the leader lease",
                    Lost::NotRenewed => "the leader lease may be lost: no renewal seen in time",
                }
            );
            lost = Some(why);
            ctx.metrics.set_leader(false);
            health.mark_shutting_down();
            stop.send_replace(true);
        }
    }
    drop(runs);
    if let Some(e) = election {
        e.release(RELEASE_TIMEOUT).await;
    }
    let _ = stop_http.send(());
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("HTTP server: {e}"),
        Err(e) => tracing::warn!("HTTP server task: {e}"),
    }
    if lost.is_some() {
        return Err(
            "lost the leader lease; exiting so that this instance restarts as a standby".into(),
        );
    }
    tracing::info!("stopped");
    Ok(())
}

/// Longest wait for in-flight reconciles after a stop (the chart's termination grace period is
/// 30 s: this leaves time to release the lease).
const SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// Longest wait for the lease's release.
const RELEASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Resolves once `stopped` turns true.
async fn until(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// The Kubernetes client: from KUBECONFIG, ~/.kube/config or the pod's service account. A
/// missing configuration is said as such, not as an unreachable cluster. Every request is timed
/// into `metrics`.
async fn connect(metrics: Arc<crate::telemetry::Metrics>) -> Result<(Client, String), String> {
    let config = kube::Config::infer().await.map_err(|e| {
        format!(
            "no Kubernetes configuration: set KUBECONFIG, create ~/.kube/config, or run in a pod with a service account ({e})"
        )
    })?;
    let url = config.cluster_url.to_string();
    let client = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| format!("the Kubernetes configuration for {url} is not usable: {e}"))?
        .with_layer(&crate::telemetry::Timed::layer(metrics))
        .build();
    Ok((client, url))
}

/// Fails early and clearly when the resources cannot be listed: the cluster unreachable, the
/// credentials refused, the CRD not installed (asked of the API's discovery, not guessed from a
/// 404), or RBAC.
async fn can_list(client: &Client, url: &str, namespace: Option<&str>) -> Result<(), String> {
    let api: Api<OpenMetadataKeycloakClient> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let Err(e) = api.list_metadata(&ListParams::default().limit(1)).await else {
        return Ok(());
    };
    // Asked of the API's discovery, not guessed from a 404.
    let installed = match &e {
        kube::Error::Api(s) if s.code == 404 => Some(
            client
                .list_api_group_resources("omkc.dev/v1alpha1")
                .await
                .is_ok_and(|list| {
                    (list.resources.iter()).any(|r| r.name == "openmetadatakeycloakclients")
                }),
        ),
        _ => None,
    };
    Err(cannot_list(&e, installed, url, namespace))
}

/// Why the resources cannot be listed, in words (`installed`: whether discovery shows the CRD,
/// asked after a 404).
fn cannot_list(
    e: &kube::Error,
    installed: Option<bool>,
    url: &str,
    namespace: Option<&str>,
) -> String {
    let within = namespace
        .map(|n| format!(" in namespace {n}"))
        .unwrap_or_default();
    match e {
        _ if installed == Some(false) => "the CRDs are not installed: apply them with `kubectl apply --server-side -f crds/` from this repository (the Helm chart and deploy/kubernetes/openmetadata-keycloak-operator.yaml include them)".to_string(),
        kube::Error::Api(s) if s.code == 401 => {
            format!("the Kubernetes API refused the credentials of the configuration ({e})")
        }
        kube::Error::Api(s) if s.code == 403 => {
            format!("RBAC forbids listing OpenMetadataKeycloakClients{within} ({e})")
        }
        kube::Error::Api(s) => format!(
            "the Kubernetes API answered {} listing OpenMetadataKeycloakClients{within} ({e})",
            s.code
        ),
        _ => format!("cannot reach the Kubernetes API at {url} ({e})"),
    }
}

/// Where a pod finds its namespace.
const IN_CLUSTER_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The UID of the kube-system namespace: unique per cluster, stable for its life.
pub async fn installation_id(client: &Client) -> Result<String, String> {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .get_metadata("kube-system")
        .await
        .ok()
        .and_then(|ns| ns.metadata.uid)
        .ok_or_else(|| {
            "cannot read the UID of namespace kube-system to derive this installation's id: grant get on namespaces, or set --installation-id (INSTALLATION_ID)".to_string()
        })
}

/// A flag's value, trimmed; a blank one counts as not given.
fn given(value: &Option<String>) -> Option<String> {
    let value = value.as_deref().map(str::trim)?;
    (!value.is_empty()).then(|| value.to_string())
}

/// The controller's settings, from the flags, the installation id and the operator's namespace.
fn settings(args: &RunArgs, installation: String, operator_namespace: String) -> Settings {
    Settings {
        resync: args.resync,
        keycloak_per_host: args.keycloak_concurrency.into(),
        namespace_share: args.namespace_share.into(),
        min_rotation_interval: args.min_rotation_interval,
        installation,
        operator_namespace,
        allow_inline_connections: args.allow_inline_connections,
        allow_inline_adoption: args.allow_inline_adoption,
        resource_selector: given(&args.resource_selector),
        ..Settings::default()
    }
}

/// One scope per watched namespace, or one for all. Connections keep their credentials in the
/// operator's namespace: the first scope watches those too when it is not among the watched.
fn scopes(namespaces: &[String], operator_namespace: &str) -> Vec<controller::Scope> {
    let namespaces: Vec<String> = (namespaces.iter())
        .filter_map(|n| given(&Some(n.clone())))
        .collect();
    let extra = if namespaces.is_empty() || namespaces.iter().any(|n| n == operator_namespace) {
        Vec::new()
    } else {
        vec![operator_namespace.to_string()]
    };
    let watched = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.into_iter().map(Some).collect()
    };
    (watched.into_iter().enumerate())
        .map(|(index, namespace)| controller::Scope {
            namespace,
            extra_credentials: if index == 0 {
                extra.clone()
            } else {
                Vec::new()
            },
            index,
        })
        .collect()
}

#[cfg(test)]
mod tests;
