//! Command line: `run` the controller, or print the `crd`.

use std::{process::ExitCode, sync::Arc, time::Duration};

use clap::{Parser, Subcommand, ValueEnum};
use kube::{Api, Client, api::ListParams};
use omkc::{
    Context, Settings, controller,
    crd::OpenMetadataKeycloakClient,
    telemetry::{self, Health},
};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Kubernetes operator that gives OpenMetadata single sign-on through Keycloak.
#[derive(Parser)]
#[command(name = "openmetadata-keycloak-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller against the current kube context or the in-cluster config.
    Run(RunArgs),
    /// Print the CustomResourceDefinition (YAML) to standard output.
    Crd,
}

#[derive(Parser)]
struct RunArgs {
    /// Namespaces to watch, comma separated; empty watches all namespaces.
    #[arg(
        long,
        env = "WATCH_NAMESPACES",
        value_delimiter = ',',
        default_value = ""
    )]
    namespaces: Vec<String>,
    /// Period of the full resync that corrects drift made in Keycloak by hand (e.g. 300s, 5m).
    #[arg(long, env = "RESYNC_PERIOD", default_value = "5m", value_parser = parse_duration)]
    resync: Duration,
    /// Resources reconciled at the same time (per watched scope).
    #[arg(long, env = "CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Log filter (tracing's EnvFilter syntax, e.g. `info` or `omkc=debug,info`).
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Address of the HTTP server for /livez, /readyz and /metrics.
    #[arg(long, env = "HTTP_ADDRESS", default_value = "0.0.0.0:8080")]
    http_address: std::net::SocketAddr,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Parses `300`, `300s`, `5m` or `1h`.
fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (digits, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 300s, 5m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{raw:?}: unit must be s, m or h")),
    };
    if secs < 10 {
        return Err(format!("{raw:?} is too short: at least 10s"));
    }
    Ok(Duration::from_secs(secs))
}

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

async fn run(args: RunArgs) -> Result<(), String> {
    init_logging(&args)?;
    omkc::tls::install_crypto_provider();
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

    let settings = Settings {
        resync: args.resync,
        ..Settings::default()
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
        http_address = %args.http_address,
        "starting openmetadata-keycloak-operator {}",
        env!("CARGO_PKG_VERSION")
    );
    let runs = scopes.into_iter().enumerate().map(|(index, scope)| {
        controller::run_scope(
            client.clone(),
            scope,
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

fn scopes(namespaces: &[String]) -> Vec<Option<String>> {
    if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().cloned().map(Some).collect()
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd => {
            print!("{}", omkc::crd_yaml());
            Ok(())
        }
        Command::Run(args) => run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_or_hours_and_refuse_nonsense() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5d").unwrap_err().contains("unit"));
        assert!(parse_duration("m").unwrap_err().contains("not a duration"));
        assert!(parse_duration("2s").unwrap_err().contains("too short"));
    }

    #[test]
    fn the_cli_parses_run_flags_and_rejects_zero_concurrency() {
        let cli = Cli::try_parse_from([
            "omkc",
            "run",
            "--namespaces",
            "a,b",
            "--resync",
            "2m",
            "--log-format",
            "json",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("run expected")
        };
        assert_eq!(args.namespaces, ["a", "b"]);
        assert_eq!(args.resync, Duration::from_secs(120));
        assert!(Cli::try_parse_from(["omkc", "run", "--concurrency", "0"]).is_err());
        assert!(Cli::try_parse_from(["omkc", "crd"]).is_ok());
    }
}
