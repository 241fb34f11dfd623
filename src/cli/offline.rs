//! `plan` and `check`: what a resource file makes, without a cluster (plan) and against the real
//! Keycloak without writing (check, in [`super::check`](mod@super::check)). Both validate exactly as the
//! controller does ([`crate::validate::validate`]).

use std::{io::Read, path::PathBuf};

use clap::Parser;
use serde_json::{Value, json};

use crate::{
    crd::{ClusterKeycloakConnection, ClusterKeycloakConnectionSpec, OpenMetadataKeycloakClient},
    reason::{Class, Reason},
    reconcile::{Error, desired},
    urls::realm_url,
    validate::{ConnectionSource, Validated, validate},
};

pub use super::check::check;

/// The uid of a resource file without one (a file does not know the uid its resource has).
pub const UNKNOWN_UID: &str = "00000000-0000-0000-0000-000000000000";

/// How `plan` and `check` end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything as expected (`check`: a reconcile would succeed).
    Ok = 0,
    /// The resource file, a flag or the credentials are invalid.
    Invalid = 1,
    /// Keycloak (or the cluster) cannot be reached, or refuses the sign-in.
    Unreachable = 3,
    /// The realm, the account's permissions, the connection or an existing client stand in the
    /// way of a reconcile.
    Blocked = 4,
}

impl ExitCode {
    /// The exit code of a failure with `reason`, in one place: what the operator would retry
    /// (and a sign-in refused, or something that is not Keycloak answering) is unreachable;
    /// an invalid spec or credentials file is invalid; every other refusal blocks.
    pub fn of(reason: Reason) -> Self {
        match reason {
            Reason::InvalidSpec | Reason::CredentialsInvalid => Self::Invalid,
            Reason::CredentialsRejected | Reason::KeycloakProtocolError => Self::Unreachable,
            r if r.class() == Class::Transient => Self::Unreachable,
            _ => Self::Blocked,
        }
    }
}

/// A failure: its exit code, the message for stderr, and what was reported on the way (for
/// stdout: `check`'s table up to the failing step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: ExitCode,
    /// What went wrong and what to do.
    pub message: String,
    /// The report so far, for stdout.
    pub report: String,
}

impl Failure {
    pub(super) fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            report: String::new(),
        }
    }

    /// A failure of the operator's own kind, during `step`, with the exit code of its reason.
    pub(super) fn of(step: &str, e: impl Into<Error>) -> Self {
        let e = e.into();
        Self::new(
            ExitCode::of(e.reason()),
            format!("{step}{e} ({})", e.reason()),
        )
    }

    /// The same failure, after `report` was printed.
    pub(super) fn after(self, report: &str) -> Self {
        Self {
            report: report.to_string(),
            ..self
        }
    }
}

/// Arguments of `plan`.
#[derive(Parser, Clone, Debug)]
pub struct PlanArgs {
    /// The resource file (YAML or JSON; the first OpenMetadataKeycloakClient in it); `-` reads
    /// standard input. Repeat it to add the ClusterKeycloakConnection the resource names: its
    /// URLs then fill the Helm values.
    #[arg(short = 'f', long = "filename", required = true)]
    pub file: Vec<PathBuf>,
    /// Namespace, when the resource names none.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// Installation id in the owner marker, as `run --installation-id` (shown as is).
    #[arg(long, default_value = "<installation>", value_parser = super::parse_installation_id)]
    pub installation_id: String,
}

/// Arguments of `check`.
#[derive(Parser, Clone, Debug)]
pub struct CheckArgs {
    /// The resource file (YAML or JSON); `-` reads standard input.
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
    /// Namespace, when the resource names none.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// Installation id in the owner marker (default: this cluster's, as `run` derives it; or
    /// `<installation>` without a cluster).
    #[arg(long, env = "INSTALLATION_ID", value_parser = super::parse_installation_id)]
    pub installation_id: Option<String>,
    /// Keycloak's base URL as this machine reaches it (default: the resource's keycloak.url, or
    /// its connection's url read from the cluster).
    #[arg(long)]
    pub url: Option<String>,
    /// Realm the credentials authenticate against (default: the resource's, or master).
    #[arg(long)]
    pub admin_realm: Option<String>,
    /// File with the admin credentials: a Secret manifest, or `key: value` / `key=value` lines,
    /// with `username` and `password`, or `clientId` and `clientSecret`. Without it, the
    /// environment (KEYCLOAK_USERNAME and KEYCLOAK_PASSWORD, or KEYCLOAK_CLIENT_ID and
    /// KEYCLOAK_CLIENT_SECRET), else the resource's credentials Secret read from the cluster.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// PEM file of CA certificates to trust for Keycloak (default: the resource's caBundle).
    #[arg(long)]
    pub ca_bundle: Option<PathBuf>,
    /// As `run --operator-namespace`: where a ClusterKeycloakConnection's credentials are by
    /// default (default: the kube context's namespace, as `run` outside a pod).
    #[arg(long, env = "OPERATOR_NAMESPACE")]
    pub operator_namespace: Option<String>,
    /// As `run --allow-inline-connections`: whether the operator accepts resources with their
    /// own keycloak.url and credentials (the chart's inlineConnections; false by default there).
    #[arg(long, env = "ALLOW_INLINE_CONNECTIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub allow_inline_connections: bool,
}

/// Reads a file, or standard input for `-`.
pub(super) fn read(file: &PathBuf) -> Result<String, Failure> {
    let invalid = |e: std::io::Error| {
        Failure::new(
            ExitCode::Invalid,
            format!("cannot read {}: {e}", file.display()),
        )
    };
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(invalid)?;
        return Ok(text);
    }
    std::fs::read_to_string(file).map_err(invalid)
}

/// Document `i` (0-based) decoded as a `K`, as strictly as the API server decodes it: unknown
/// fields, wrong types, missing fields, values past the schema's bounds and a name that is no
/// Kubernetes name are errors, by path.
fn strictly<K>(mut value: Value, i: usize) -> Result<K, Failure>
where
    K: kube::CustomResourceExt + serde::de::DeserializeOwned,
{
    let invalid = |m: String| Failure::new(ExitCode::Invalid, m);
    let crd = K::crd();
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| serde_json::to_value(&s.open_api_v3_schema).ok())
        .unwrap_or_default();
    super::strict::normalize(&mut value, &schema);
    let mut problems = super::strict::problems(&value, None, &schema);
    // The one check of metadata the API server makes of every object that can fail here.
    if let Some(Err(e)) = (value["metadata"]["name"].as_str())
        .map(|name| crate::validate::check_dns_subdomain("metadata.name", name))
    {
        problems.insert(0, e.to_string());
    }
    if !problems.is_empty() {
        return Err(invalid(format!(
            "document {}: {}",
            i + 1,
            problems.join("; ")
        )));
    }
    serde_json::from_value(value).map_err(|e| invalid(format!("document {}: {e}", i + 1)))
}

/// The first OpenMetadataKeycloakClient of a YAML or JSON stream, with what the API server
/// would give it: a namespace and a uid.
pub fn load(text: &str, namespace: &str) -> Result<OpenMetadataKeycloakClient, Failure> {
    let invalid = |m: String| Failure::new(ExitCode::Invalid, m);
    for (i, value) in crate::yaml::documents(text)
        .map_err(invalid)?
        .into_iter()
        .enumerate()
    {
        if value["kind"] != "OpenMetadataKeycloakClient" {
            continue;
        }
        if value["apiVersion"] != "omkc.dev/v1alpha1" {
            return Err(invalid(format!(
                "document {}: apiVersion must be omkc.dev/v1alpha1, not {}",
                i + 1,
                value["apiVersion"]
            )));
        }
        let mut obj: OpenMetadataKeycloakClient = strictly(value, i)?;
        obj.metadata
            .namespace
            .get_or_insert_with(|| namespace.to_string());
        obj.metadata.uid.get_or_insert_with(|| UNKNOWN_UID.into());
        return Ok(obj);
    }
    Err(invalid("no OpenMetadataKeycloakClient in the input".into()))
}

/// Validates as the controller does.
pub(super) fn validated(
    obj: &OpenMetadataKeycloakClient,
    installation: &str,
) -> Result<Validated, Failure> {
    validate(obj, installation)
        .map_err(|e| Failure::new(ExitCode::Invalid, format!("invalid resource: {e}")))
}

/// The issuer as far as the files tell (no discovery offline).
fn offline_issuer(v: &Validated, connection: Option<&ClusterKeycloakConnectionSpec>) -> String {
    match (&v.connection, connection) {
        (ConnectionSource::Inline(c), _) => {
            realm_url(c.public_url.as_deref().unwrap_or(&c.url), &v.realm)
        }
        (ConnectionSource::Cluster(_), Some(c)) => realm_url(
            c.public_url
                .as_deref()
                .unwrap_or(&c.url)
                .trim_end_matches('/'),
            &v.realm,
        ),
        (ConnectionSource::Cluster(name), None) => {
            format!(
                "<public URL of ClusterKeycloakConnection {name}>/realms/{}",
                v.realm
            )
        }
    }
}

/// The ClusterKeycloakConnection called `name` among the documents, decoded as strictly as the
/// API server would, and checked as the operator checks it.
fn connection_in(text: &str, name: &str) -> Result<Option<ClusterKeycloakConnectionSpec>, Failure> {
    let invalid = |m: String| Failure::new(ExitCode::Invalid, m);
    for (i, value) in crate::yaml::documents(text)
        .map_err(invalid)?
        .into_iter()
        .enumerate()
    {
        if value["kind"] != "ClusterKeycloakConnection" || value["metadata"]["name"] != name {
            continue;
        }
        let connection: ClusterKeycloakConnection = strictly(value, i)?;
        // Where its credentials are is not checked here: any namespace will do.
        crate::reconcile::connection::of_cluster(&connection, "default")
            .map_err(|e| invalid(format!("document {}: {e}", i + 1)))?;
        return Ok(Some(connection.spec));
    }
    Ok(None)
}

/// `value` as YAML, its maps' keys in order (the client's attributes are a hash map), so that a
/// file plans to the same text every time.
fn yaml(value: &impl serde::Serialize) -> String {
    let sorted = serde_json::to_value(value).unwrap_or_default();
    serde_saphyr::to_string(&sorted).unwrap_or_default()
}

/// The text `plan` prints: three YAML documents with comments.
pub fn plan_text(args: &PlanArgs, text: &str) -> Result<String, Failure> {
    let obj = load(text, &args.namespace)?;
    let v = validated(&obj, &args.installation_id)?;
    let connection = match &v.connection {
        ConnectionSource::Cluster(name) => connection_in(text, name)?,
        ConnectionSource::Inline(_) => None,
    };
    let keycloak = match (&v.connection, &connection) {
        (ConnectionSource::Inline(c), _) => format!("{} (admin realm {})", c.url, c.admin_realm),
        (ConnectionSource::Cluster(name), Some(c)) => {
            format!("{} (ClusterKeycloakConnection {name:?})", c.url)
        }
        (ConnectionSource::Cluster(name), None) => format!("ClusterKeycloakConnection {name:?}"),
    };
    let client = desired::desired_client(&v);
    let secret_value = match &v.secret.source {
        Some((name, key)) => format!("<from Secret {name:?}, key {key:?}>"),
        None => "<generated by Keycloak>".to_string(),
    };
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": v.secret.name,
            "namespace": v.namespace,
            "labels": desired::secret_labels(&v),
            "ownerReferences": [desired::owner_reference(&v)],
        },
        "type": "Opaque",
        "stringData": {
            v.secret.client_id_key.clone(): v.client_id,
            v.secret.client_secret_key.clone(): secret_value,
        },
    });
    let mut secret = secret;
    if !v.secret.annotations.is_empty() {
        secret["metadata"]["annotations"] = json!(v.secret.annotations);
    }
    let source_is_output = v
        .secret
        .source
        .as_ref()
        .is_some_and(|(name, _)| *name == v.secret.name);
    let mut out = format!(
        "# OpenMetadataKeycloakClient {}/{} is valid.\n# Keycloak: {keycloak}, realm {:?}.\n---\n",
        v.namespace, v.name, v.realm
    );
    out += &format!(
        "# The client in Keycloak (created, or its fields corrected to these); then the default\n# client scopes {} are added when missing.\n",
        desired::REQUIRED_SCOPES.join(" and ")
    );
    out += &yaml(&client);
    out += "---\n";
    if source_is_output {
        out += "# The Secret: spec.secret.source is the output Secret itself, so the operator only reads it.\n";
    } else {
        out += "# The Secret the operator writes (secret value redacted).\n";
    }
    out += &yaml(&secret);
    out += "---\n";
    out += &desired::helm_values_yaml(&v, &offline_issuer(&v, connection.as_ref()));
    Ok(out)
}

/// `plan`: prints what the resource makes.
pub fn plan(args: &PlanArgs) -> Result<String, Failure> {
    let texts: Vec<String> = args.file.iter().map(read).collect::<Result<_, _>>()?;
    plan_text(args, &texts.join("\n---\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_reason_has_its_exit_code_from_its_class() {
        for reason in Reason::ALL.iter().copied() {
            let code = ExitCode::of(reason);
            match reason.class() {
                Class::Transient => assert_eq!(code, ExitCode::Unreachable, "{reason}"),
                Class::Permanent => assert_ne!(code, ExitCode::Ok, "{reason}"),
                _ => {}
            }
        }
        assert_eq!(ExitCode::of(Reason::InvalidSpec), ExitCode::Invalid);
        assert_eq!(
            ExitCode::of(Reason::CredentialsRejected),
            ExitCode::Unreachable
        );
        assert_eq!(ExitCode::of(Reason::RealmNotFound), ExitCode::Blocked);
        assert_eq!(ExitCode::of(Reason::ClientConflict), ExitCode::Blocked);
    }
}
