//! `run`: the operator itself. Checks the cluster, starts the probe and metrics server and one
//! controller loop per watched scope, and stops gracefully on SIGTERM.

use std::sync::Arc;

use kube::{Api, Client, api::ListParams};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use super::{LogFormat, RunArgs};
use crate::{
    context::{Context, Settings},
    controller,
    crd::OpenMetadataKeycloakClient,
    telemetry::{self, Health},
};

fn init_logging(args: &RunArgs) -> Result<(), String> {
    let filter = EnvFilter::try_new(&args.log_level)
        .map_err(|e| format!("invalid --log-level {:?}: {e}", args.log_level))?;
    let registry = tracing_subscriber::registry().with(filter);
    match args.log_format {
        LogFormat::Text => registry
            .with(fmt::layer().with_writer(std::io::stderr))
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
    let client = Client::try_default().await.map_err(|e| {
        format!(
            "cannot reach a Kubernetes cluster (no usable kubeconfig or in-cluster config): {e}"
        )
    })?;
    let namespaces: Vec<String> = args
        .namespaces
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();

    let scopes = scopes(&namespaces);
    // Fail early and clearly when the CRD is missing or RBAC forbids reading the resources.
    for scope in &scopes {
        let api: Api<OpenMetadataKeycloakClient> = match scope {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        if let Err(e) = api.list_metadata(&ListParams::default().limit(1)).await {
            let hint = match &e {
                kube::Error::Api(s) if s.code == 404 => {
                    "the CRD is not installed: run `openmetadata-keycloak-operator crd | kubectl apply -f -`".to_string()
                }
                kube::Error::Api(s) if s.code == 403 => format!(
                    "RBAC forbids listing OpenMetadataKeycloakClients{}",
                    scope.as_deref().map(|n| format!(" in namespace {n}")).unwrap_or_default()
                ),
                _ => "the Kubernetes API is not usable".to_string(),
            };
            return Err(format!("{hint} ({e})"));
        }
    }

    let installation = match args.installation_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => installation_id(&client).await?,
    };
    let operator_namespace = args
        .operator_namespace
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| std::fs::read_to_string(IN_CLUSTER_NAMESPACE).ok())
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| client.default_namespace().to_string());
    let settings = Settings {
        resync: args.resync,
        keycloak_per_host: args.keycloak_concurrency.into(),
        installation,
        operator_namespace: operator_namespace.clone(),
        allow_inline_connections: args.allow_inline_connections,
        ..Settings::default()
    };
    // Connections keep their credentials in the operator's namespace: watched too, by the first
    // scope, when it is not among the watched namespaces.
    let extra_credentials = if namespaces.is_empty() || namespaces.contains(&operator_namespace) {
        Vec::new()
    } else {
        vec![operator_namespace.clone()]
    };
    let ctx = Arc::new(Context::new(client.clone(), settings));
    let health = Arc::new(Health::new(scopes.len()));
    let listener = tokio::net::TcpListener::bind(args.http_address)
        .await
        .map_err(|e| format!("cannot listen on --http-address {}: {e}", args.http_address))?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(telemetry::serve(
        listener,
        health.clone(),
        ctx.metrics.clone(),
        async move {
            let _ = http_stopped.await;
        },
    ));
    // Not ready from the first signal on; the loops finish in-flight reconciles meanwhile.
    tokio::spawn({
        let health = health.clone();
        async move {
            controller::shutdown_signal().await;
            health.mark_shutting_down();
        }
    });
    tracing::info!(
        namespaces = ?namespaces,
        resync = ?args.resync,
        concurrency = args.concurrency,
        keycloak_concurrency = args.keycloak_concurrency,
        installation = %ctx.settings.installation,
        operator_namespace = %ctx.settings.operator_namespace,
        inline_connections = args.allow_inline_connections,
        http_address = %args.http_address,
        "starting openmetadata-keycloak-operator {}",
        env!("CARGO_PKG_VERSION")
    );
    let runs = scopes.into_iter().enumerate().map(|(index, scope)| {
        let extra = if index == 0 {
            extra_credentials.clone()
        } else {
            Vec::new()
        };
        controller::run_scope_with(
            client.clone(),
            scope,
            extra,
            ctx.clone(),
            args.concurrency,
            health.clone(),
            index,
        )
    });
    futures::future::join_all(runs).await;
    let _ = stop_http.send(());
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("HTTP server: {e}"),
        Err(e) => tracing::warn!("HTTP server task: {e}"),
    }
    tracing::info!("stopped");
    Ok(())
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

fn scopes(namespaces: &[String]) -> Vec<Option<String>> {
    if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().cloned().map(Some).collect()
    }
}
