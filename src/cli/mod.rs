//! The command line: `run` the controller, print the `crd`, and the offline `plan` and `check`.

mod check;
mod offline;
mod run;
pub mod strict;
mod target;

use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

pub use offline::{CheckArgs, ExitCode, Failure, PlanArgs, check, load, plan, plan_text};
pub use run::{installation_id, run};

/// Kubernetes operator that gives OpenMetadata single sign-on through Keycloak.
#[derive(Parser)]
#[command(name = "openmetadata-keycloak-operator", version, about)]
pub struct Cli {
    #[command(subcommand)]
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
    /// Show, with no cluster and no Keycloak, what a resource file makes: the Keycloak client,
    /// the Secret's shape (values redacted) and the OpenMetadata Helm values. Exit 1 when the
    /// resource is invalid.
    Plan(offline::PlanArgs),
    /// Check a resource against the real Keycloak, writing nothing: sign in, find the realm,
    /// verify the account may manage clients and read client scopes, and say what a reconcile
    /// would do. Exit codes: 0 ready, 1 invalid input, 3 Keycloak unreachable or the sign-in
    /// refused, 4 the realm, permissions or an existing client stand in the way.
    Check(offline::CheckArgs),
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
    /// Workers (of --concurrency) each namespace is always granted: one namespace with slow or
    /// many resources holds at most the rest while others wait, so it cannot starve them.
    #[arg(long, env = "NAMESPACE_SHARE", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub namespace_share: u16,
    /// The shortest time between two rotations of one client's secret: a new omkc.dev/rotate
    /// value that arrives sooner waits, with a RotationDeferred Event (0 for none).
    #[arg(long, env = "MIN_ROTATION_INTERVAL", default_value = "5m", value_parser = crate::duration::parse)]
    pub min_rotation_interval: Duration,
    /// Requests in flight to any one Keycloak host, across all resources and connections.
    #[arg(long, env = "KEYCLOAK_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub keycloak_concurrency: u16,
    /// This installation's id, part of the owner marker on every Keycloak client it makes, so
    /// clusters sharing a realm never take each other's clients (default: the UID of the
    /// kube-system namespace).
    #[arg(long, env = "INSTALLATION_ID", value_parser = parse_installation_id)]
    pub installation_id: Option<String>,
    /// The operator's own namespace, where a ClusterKeycloakConnection's credentials are by
    /// default (default: the pod's namespace, or the kube context's).
    #[arg(long, env = "OPERATOR_NAMESPACE")]
    pub operator_namespace: Option<String>,
    /// Accept resources that bring their own keycloak.url and credentials Secret (false: only
    /// ClusterKeycloakConnections, for clusters shared by several teams).
    #[arg(long, env = "ALLOW_INLINE_CONNECTIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub allow_inline_connections: bool,
    /// Let resources with their own keycloak.url take over an existing client no resource owns
    /// (spec.client.adoptExisting). A ClusterKeycloakConnection allows it with allowAdoption.
    #[arg(long, env = "ALLOW_INLINE_ADOPTION", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_inline_adoption: bool,
    /// Log filter (tracing's EnvFilter syntax, e.g. `info` or `omkc=debug,info`).
    #[arg(long, env = "LOG_LEVEL", default_value = "info", value_parser = parse_log_level)]
    pub log_level: String,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Address of the HTTP server for /livez, /readyz and /metrics.
    #[arg(long, env = "HTTP_ADDRESS", default_value = "0.0.0.0:8080")]
    pub http_address: std::net::SocketAddr,
    /// Take part in leader election on a Lease: only the holder reconciles (run several
    /// replicas for availability). false: this instance always reconciles.
    #[arg(long, env = "LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Name of the Lease (in --lease-namespace). Sharded releases each need their own.
    #[arg(
        long,
        env = "LEASE_NAME",
        default_value = "openmetadata-keycloak-operator"
    )]
    pub lease_name: String,
    /// Namespace of the Lease (default: the operator's namespace).
    #[arg(long, env = "LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// How long the lease holds without renewal: a standby takes over at most this long after
    /// the leader stops (e.g. 15s).
    #[arg(long, env = "LEASE_DURATION", default_value = "15s", value_parser = parse_lease_time)]
    pub lease_duration: Duration,
    /// How long before the lease expires the leader renews it (shorter than --lease-duration).
    #[arg(long, env = "LEASE_RENEW_GRACE", default_value = "5s", value_parser = parse_lease_time)]
    pub lease_renew_grace: Duration,
    /// Only reconcile resources with these labels (a label selector such as `omkc.dev/shard=a`):
    /// several releases, each with its own selector and lease, share a very large cluster.
    #[arg(long, env = "RESOURCE_SELECTOR")]
    pub resource_selector: Option<String>,
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

/// Parses a lease timing: at least 1s.
pub fn parse_lease_time(raw: &str) -> Result<Duration, String> {
    crate::duration::parse_at_least(raw, Duration::from_secs(1))
}

/// Parses an installation id: the first part of every owner marker
/// (`installation/namespace/name`), so it holds no '/'.
pub fn parse_installation_id(raw: &str) -> Result<String, String> {
    if raw.contains('/') {
        return Err("must contain no '/': it is the first part of every owner marker (installation/namespace/name)".into());
    }
    Ok(raw.trim().to_string())
}

/// Checks a log filter now, so that a bad one is a usage error like any other bad flag.
pub fn parse_log_level(raw: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(raw)
        .map(|_| raw.to_string())
        .map_err(|e| format!("not a log filter ({e}); write e.g. info, or omkc=debug,info"))
}

/// Names the environment variable in a usage error about a value that came from it (clap
/// names only the flag): `invalid value '5s' for RESYNC_PERIOD (--resync)`.
pub fn with_environment(error: clap::Error, args: &[String]) -> String {
    naming_environment(&error, args, |name| std::env::var_os(name).is_some())
}

/// [`with_environment`], with `set` saying which environment variables are set.
fn naming_environment(error: &clap::Error, args: &[String], set: impl Fn(&str) -> bool) -> String {
    use clap::{CommandFactory, error::ContextKind};
    let text = error.render().to_string();
    let Some(clap::error::ContextValue::String(invalid)) = error.get(ContextKind::InvalidArg)
    else {
        return text;
    };
    let long = invalid
        .trim_start_matches("--")
        .split([' ', '='])
        .next()
        .unwrap_or_default()
        .to_string();
    let given_as_flag = args
        .iter()
        .any(|a| a == &format!("--{long}") || a.starts_with(&format!("--{long}=")));
    let command = Cli::command();
    let env = command
        .get_subcommands()
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long.as_str()))
        .and_then(|a| a.get_env())
        .and_then(|e| e.to_str())
        .map(str::to_string);
    match env {
        Some(name) if !given_as_flag && set(&name) => {
            text.replace(&format!("'{invalid}'"), &format!("{name} (--{long})"))
        }
        _ => text,
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
        assert!(parse_duration("5w").unwrap_err().contains("unit"));
        assert!(parse_duration("m").unwrap_err().contains("number"));
        assert!(parse_duration("2s").unwrap_err().contains("too short"));
        assert_eq!(parse_lease_time("1s"), Ok(Duration::from_secs(1)));
        assert!(parse_lease_time("0s").unwrap_err().contains("at least 1s"));
    }

    #[test]
    fn a_bad_value_from_the_environment_is_named_by_its_variable_and_a_flag_by_itself() {
        let refused = |args: &[&str]| {
            let Err(error) = Cli::try_parse_from(["omkc"].iter().chain(args)) else {
                panic!("5s accepted as a resync period")
            };
            error
        };
        let given = |args: &[&str]| args.iter().map(ToString::to_string).collect::<Vec<_>>();
        let from_env = refused(&["run", "--resync", "5s"]);
        // As if RESYNC_PERIOD=5s had been read: the variable is named, with its flag.
        let said = naming_environment(&from_env, &given(&["run"]), |n| n == "RESYNC_PERIOD");
        assert!(said.contains("for RESYNC_PERIOD (--resync)"), "{said}");
        assert!(
            said.contains("invalid value '5s' for RESYNC_PERIOD"),
            "{said}"
        );
        // Given as a flag, in either spelling, or not set at all: clap's own words.
        for (args, set) in [
            (&["run", "--resync", "5s"][..], true),
            (&["run", "--resync=5s"], true),
            (&["run"], false),
        ] {
            let error = refused(&["run", "--resync=5s"]);
            let said = naming_environment(&error, &given(args), |_| set);
            assert_eq!(said, error.render().to_string(), "{args:?}");
            assert!(!said.contains("RESYNC_PERIOD"), "{said}");
        }
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
        let bad_level = Cli::try_parse_from(["omkc", "run", "--log-level", "info,=x=y"]);
        assert!(bad_level.is_err(), "a bad log filter is a usage error");
        assert!(Cli::try_parse_from(["omkc", "crd"]).is_ok());
        for command in [&["run"][..], &["plan", "-f-"], &["check", "-f-"]] {
            let id = ["--installation-id", "a/b"];
            let slash = Cli::try_parse_from(["omkc"].iter().chain(command).chain(&id));
            let Err(error) = slash else {
                panic!("{command:?}: an installation id with '/' accepted")
            };
            let error = error.to_string();
            assert!(error.contains("no '/'"), "{command:?}: {error}");
        }
    }
}
