//! Where `check` signs in, and as whom: from flags, a credentials file or the environment, or
//! resolved from the cluster exactly as the operator would.

use std::collections::BTreeMap;

use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::Client;

use super::{
    check::line,
    offline::{CheckArgs, ExitCode, Failure, read},
};
use crate::{
    context::{Context, Settings},
    keycloak::Credentials,
    reconcile::{
        connection,
        observe::{self, credentials_from},
    },
    validate::{ConnectionSource, DEFAULT_ADMIN_REALM, Validated, base_url, ca_bundle},
};

/// Where and as whom to sign in.
pub(super) struct Target {
    pub url: String,
    pub admin_realm: String,
    pub ca_bundle: Option<String>,
    pub credentials: Credentials,
    /// Where the credentials came from, for the report.
    pub source: String,
    /// The cluster the connection was resolved in, to observe the Kubernetes side too.
    pub cluster: Option<Cluster>,
}

/// The cluster `check` reads, as the operator reads it.
pub(super) struct Cluster {
    /// A context with no watch: every read goes to the API server.
    pub ctx: Context,
    pub connection: connection::Connection,
}

/// Credentials from the flags' file or the environment, if given there.
pub(super) fn given_credentials(
    args: &CheckArgs,
) -> Result<Option<(Credentials, String)>, Failure> {
    if let Some(file) = &args.credentials {
        let text = read(file)?;
        let secret = credentials_file(&text);
        let name = file.display().to_string();
        return credentials_from(&name, &secret)
            .map(|c| Some((c, name)))
            .map_err(|e| Failure::new(ExitCode::Invalid, e.to_string()));
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let found = match (
        env("KEYCLOAK_USERNAME"),
        env("KEYCLOAK_PASSWORD"),
        env("KEYCLOAK_CLIENT_ID"),
        env("KEYCLOAK_CLIENT_SECRET"),
    ) {
        (Some(username), Some(password), _, _) => {
            Some(Credentials::Password { username, password })
        }
        (_, _, Some(client_id), Some(client_secret)) => Some(Credentials::ClientCredentials {
            client_id,
            client_secret,
        }),
        _ => None,
    };
    Ok(found.map(|c| (c, "the environment".to_string())))
}

/// A credentials file: a Secret manifest (`data` or `stringData`), or `key: value` / `key=value`
/// lines.
fn credentials_file(text: &str) -> Secret {
    if let Some(first) = crate::yaml::documents(text)
        .ok()
        .and_then(|d| d.into_iter().next())
        && let Ok(secret) = serde_json::from_value::<Secret>(first)
        && (secret.data.is_some() || secret.string_data.is_some())
    {
        return secret;
    }
    let pairs: BTreeMap<String, ByteString> = text
        .lines()
        .filter_map(|l| l.split_once('=').or_else(|| l.split_once(':')))
        .map(|(k, v)| {
            let v = v.trim().trim_matches('"');
            (k.trim().to_string(), ByteString(v.as_bytes().to_vec()))
        })
        .collect();
    Secret {
        data: Some(pairs),
        ..Default::default()
    }
}

/// What the resource (or its connection) says of where to sign in.
struct Defaults {
    url: Option<String>,
    admin_realm: Option<String>,
    ca_bundle: Option<String>,
}

/// The target: the flags win over `defaults`.
fn with_flags(
    args: &CheckArgs,
    defaults: Defaults,
    credentials: Credentials,
    source: String,
) -> Result<Target, Failure> {
    let invalid = |m: String| Failure::new(ExitCode::Invalid, m);
    let url = match (&args.url, defaults.url) {
        (Some(u), _) => base_url("--url", u).map_err(|e| invalid(e.to_string()))?,
        (None, Some(u)) => u,
        (None, None) => {
            return Err(invalid(
                "the resource names a ClusterKeycloakConnection: pass --url (or leave the credentials out to read the connection from the cluster)".into(),
            ));
        }
    };
    let ca_bundle = match &args.ca_bundle {
        Some(file) => {
            ca_bundle("--ca-bundle", Some(&read(file)?)).map_err(|e| invalid(e.to_string()))?
        }
        None => defaults.ca_bundle,
    };
    Ok(Target {
        url,
        admin_realm: args
            .admin_realm
            .clone()
            .or(defaults.admin_realm)
            .unwrap_or_else(|| DEFAULT_ADMIN_REALM.into()),
        ca_bundle,
        credentials,
        source,
        cluster: None,
    })
}

/// The target from flags and the resource alone, when the credentials are given.
pub(super) fn target_offline(
    args: &CheckArgs,
    v: &Validated,
    credentials: Credentials,
    source: String,
) -> Result<Target, Failure> {
    if let ConnectionSource::Inline(_) = &v.connection {
        // The operator's own refusal, when it does not take inline connections.
        connection::resolve(
            v,
            connection::Environment {
                cluster: None,
                namespace_labels: &BTreeMap::new(),
                operator_namespace: "",
                allow_inline: args.allow_inline_connections,
                allow_inline_adoption: false,
            },
        )
        .map_err(|e| Failure::of("", e))?;
    }
    let defaults = match &v.connection {
        ConnectionSource::Inline(c) => Defaults {
            url: Some(c.url.clone()),
            admin_realm: Some(c.admin_realm.clone()),
            ca_bundle: c.ca_bundle.clone(),
        },
        ConnectionSource::Cluster(_) => Defaults {
            url: None,
            admin_realm: None,
            ca_bundle: None,
        },
    };
    with_flags(args, defaults, credentials, source)
}

/// The target as the operator resolves it, through the same reads ([`observe`]; a context
/// with no watch reads from the API server): the connection, whether the namespace may use it,
/// the credentials Secret.
pub(super) async fn target_from_cluster(
    args: &CheckArgs,
    v: &Validated,
    client: &Client,
    out: &mut String,
) -> Result<Target, Failure> {
    // Resolved as `run` would: its operator namespace and its inline setting.
    let settings = Settings {
        operator_namespace: args
            .operator_namespace
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| client.default_namespace().to_string()),
        allow_inline_connections: args.allow_inline_connections,
        ..Settings::default()
    };
    let ctx = Context::new(client.clone(), settings);
    let resolved = observe::connection(v, &ctx)
        .await
        .map_err(|e| Failure::of("", e))?;
    // The binding holds for where the credentials really go, --url and --ca-bundle included,
    // and is checked before the data is read.
    let url = match &args.url {
        Some(u) => {
            base_url("--url", u).map_err(|e| Failure::new(ExitCode::Invalid, e.to_string()))?
        }
        None => resolved.url.clone(),
    };
    let sent = connection::Connection {
        url,
        inline: resolved.inline || args.ca_bundle.is_some(),
        ca_bundle: resolved
            .ca_bundle
            .clone()
            .or_else(|| args.ca_bundle.as_ref().map(|f| f.display().to_string())),
        ..resolved.clone()
    };
    // The status names only the connection; whoever runs `check` reads the Secret itself.
    let (ns, name) = &resolved.credentials;
    let credentials = observe::credentials(&sent, &ctx)
        .await
        .map_err(|e| Failure::of(&format!("Secret {ns}/{name}: "), e))?;
    line(
        out,
        "connection",
        true,
        &format!("{} (credentials from Secret {ns}/{name})", resolved.url),
    );
    let defaults = Defaults {
        url: Some(resolved.url.clone()),
        admin_realm: Some(resolved.admin_realm.clone()),
        ca_bundle: resolved.ca_bundle.clone(),
    };
    let source = format!("Secret {ns}/{name}");
    let target = with_flags(args, defaults, credentials, source)?;
    Ok(Target {
        cluster: Some(Cluster {
            ctx,
            connection: resolved,
        }),
        ..target
    })
}
