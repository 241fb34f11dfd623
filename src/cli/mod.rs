//! The command line: `run` the controller, or print the `crd`.

mod run;

use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

pub use run::{installation_id, run};

/// Kubernetes operator that gives OpenMetadata single sign-on through Keycloak.
#[derive(Parser)]
#[command(name = "openmetadata-keycloak-operator", version, about)]
pub struct Cli {
    #[command(subcommand)]
    /// The subcommand.
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the controller against the current kube context or the in-cluster config.
    Run(RunArgs),
    /// Print the CustomResourceDefinitions (YAML) to standard output, or write one file each.
    Crd {
        /// Write `<name>.yaml` files into this directory instead of printing.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Parser)]
pub struct RunArgs {
    /// Namespaces to watch, comma separated; empty watches all namespaces.
    #[arg(
        long,
        env = "WATCH_NAMESPACES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub namespaces: Vec<String>,
    /// Period in which every resource is resynced once, spread evenly (corrects drift made in
    /// Keycloak by hand; e.g. 300s, 5m).
    #[arg(long, env = "RESYNC_PERIOD", default_value = "5m", value_parser = parse_duration)]
    pub resync: Duration,
    /// Resources reconciled at the same time (per watched scope).
    #[arg(long, env = "CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Requests in flight to any one Keycloak host, across all resources and connections.
    #[arg(long, env = "KEYCLOAK_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub keycloak_concurrency: u16,
    /// This installation's id, part of the owner marker on every Keycloak client it makes, so
    /// clusters sharing a realm never take each other's clients (default: the UID of the
    /// kube-system namespace).
    #[arg(long, env = "INSTALLATION_ID")]
    pub installation_id: Option<String>,
    /// The operator's own namespace, where a ClusterKeycloakConnection's credentials are by
    /// default (default: the pod's namespace, or the kube context's).
    #[arg(long, env = "OPERATOR_NAMESPACE")]
    pub operator_namespace: Option<String>,
    /// Accept resources that bring their own keycloak.url and credentials Secret (false: only
    /// ClusterKeycloakConnections, for clusters shared by several teams).
    #[arg(long, env = "ALLOW_INLINE_CONNECTIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub allow_inline_connections: bool,
    /// Log filter (tracing's EnvFilter syntax, e.g. `info` or `omkc=debug,info`).
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Address of the HTTP server for /livez, /readyz and /metrics.
    #[arg(long, env = "HTTP_ADDRESS", default_value = "0.0.0.0:8080")]
    pub http_address: std::net::SocketAddr,
}

/// How log lines are written.
#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Parses a resync period: `300`, `300s`, `5m`, `1h`; at least 10s.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    crate::duration::parse_at_least(raw, Duration::from_secs(10))
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
        assert!(parse_duration("5w").unwrap_err().contains("unit"));
        assert!(parse_duration("m").unwrap_err().contains("number"));
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
