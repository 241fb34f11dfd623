//! `check`: a resource against the real Keycloak, writing nothing. Every step is reported on
//! its own line; the first that fails ends the check with its exit code
//! ([`super::offline::ExitCode`]).

use std::{fmt::Write as _, sync::Arc};

use kube::{Api, Client, ResourceExt};

use super::{
    offline::{CheckArgs, ExitCode, Failure, UNKNOWN_UID, load, read, validated},
    target::{Cluster, given_credentials, target_from_cluster, target_offline},
};
use crate::{
    crd::OpenMetadataKeycloakClient,
    keycloak::{
        ConnectionKey, ConnectionSpec, Credentials, KeycloakError, ObservedClient, Pool, Session,
    },
    names::{OWNER_ATTRIBUTE, OWNER_UID_ATTRIBUTE},
    reconcile::{
        Error,
        change::Change,
        observe,
        plan::{self, Observed, Put, Then, Write},
    },
    telemetry::Metrics,
    validate::Validated,
};

pub(super) fn line(out: &mut String, step: &str, ok: bool, text: &str) {
    let _ = writeln!(
        out,
        "{step:<12} {:<4} {text}",
        if ok { "ok" } else { "FAIL" }
    );
}

fn who(credentials: &Credentials) -> String {
    match credentials {
        Credentials::Password { username, .. } => format!("password grant as {username:?}"),
        Credentials::ClientCredentials { client_id, .. } => {
            format!("client credentials of {client_id:?}")
        }
    }
}

/// Turns a Keycloak failure of a step into the check's failure.
fn keycloak_failure(step: &str, e: &KeycloakError) -> Failure {
    Failure::of(&format!("{step}: "), e.clone())
}

/// `check`: the report on stdout, or the failure (with the report so far in its message).
pub async fn check(args: &CheckArgs) -> Result<String, Failure> {
    crate::tls::install_crypto_provider();
    let obj = load(&read(&args.file)?, &args.namespace)?;
    let mut out = String::new();
    let given = given_credentials(args)?;
    let kube_client = match &given {
        Some(_) => None,
        None => Some(Client::try_default().await.map_err(|e| {
            Failure::new(
                ExitCode::Invalid,
                format!("no credentials: pass --credentials, set KEYCLOAK_USERNAME and KEYCLOAK_PASSWORD (or KEYCLOAK_CLIENT_ID and KEYCLOAK_CLIENT_SECRET), or give a kubeconfig to read them from the cluster ({e})"),
            )
        })?),
    };
    let installation = match (&args.installation_id, &kube_client) {
        (Some(id), _) => id.clone(),
        (None, Some(client)) => super::installation_id(client)
            .await
            .unwrap_or_else(|_| "<installation>".into()),
        (None, None) => "<installation>".into(),
    };
    let v = validated(&obj, &installation)?;
    line(
        &mut out,
        "resource",
        true,
        &format!(
            "{}/{}: client {:?} in realm {:?}",
            v.namespace, v.name, v.client_id, v.realm
        ),
    );
    let fail = |out: &String, f: Failure| f.after(out);
    let target = match (given, &kube_client) {
        (Some((credentials, source)), _) => target_offline(args, &v, credentials, source),
        (None, Some(client)) => target_from_cluster(args, &v, client, &mut out).await,
        (None, None) => unreachable!("a kube client exists when no credentials were given"),
    }
    .map_err(|f| fail(&out, f))?;

    let pool = Pool::new(4, Arc::new(Metrics::default()));
    let spec = ConnectionSpec {
        key: ConnectionKey {
            base_url: target.url.clone(),
            admin_realm: target.admin_realm.clone(),
            credentials_source: target.source.clone(),
        },
        credentials: target.credentials.clone(),
        ca_bundle: target.ca_bundle.clone(),
    };
    let session: Arc<Session> = pool
        .session(&spec)
        .map_err(|e| fail(&out, keycloak_failure("keycloak", &e)))?;
    let step = |out: &mut String, name: &str, result: Result<String, Failure>| match result {
        Ok(text) => {
            line(out, name, true, &text);
            Ok(())
        }
        Err(f) => {
            line(out, name, false, &f.message);
            Err(f.after(out))
        }
    };
    let signed_in = session
        .sign_in()
        .await
        .map(|()| {
            format!(
                "{} at {} (admin realm {}), credentials from {}",
                who(&target.credentials),
                target.url,
                target.admin_realm,
                target.source
            )
        })
        .map_err(|e| keycloak_failure("sign-in", &e));
    step(&mut out, "sign-in", signed_in)?;
    // Said, never a failure: the operator serves any version it can sign in to.
    match session.server_version().await {
        Ok(Some(version)) => match crate::keycloak::untested(&version) {
            Some(note) => {
                let _ = writeln!(out, "{:<12} WARN {note}", "version");
            }
            None => line(&mut out, "version", true, &format!("Keycloak {version}")),
        },
        Ok(None) => line(
            &mut out,
            "version",
            true,
            "hidden from this account (a realm's admin)",
        ),
        Err(e) => line(&mut out, "version", true, &format!("unknown: {e}")),
    }
    let found = session.find_client(&v.realm, &v.client_id).await;
    let realm = match &found {
        Ok(_) => Ok(format!(
            "{:?} exists; the account may list its clients",
            v.realm
        )),
        Err(e) => Err(keycloak_failure("realm", e)),
    };
    step(&mut out, "realm", realm)?;
    let scopes = session
        .realm_scopes(&v.realm)
        .await
        .map_err(|e| keycloak_failure("client scopes", &e))
        .and_then(|s| {
            let missing: Vec<&str> = crate::reconcile::desired::REQUIRED_SCOPES
                .iter()
                .copied()
                .filter(|name| !s.iter().any(|x| x.name == *name))
                .collect();
            if missing.is_empty() {
                Ok("readable; email and profile exist".to_string())
            } else {
                Err(Failure::new(
                    ExitCode::Blocked,
                    format!("the realm lacks the client scopes {}", missing.join(", ")),
                ))
            }
        });
    step(&mut out, "scopes", scopes)?;
    let manage = match session.may_manage_clients(&v.realm).await {
        Ok(true) => Ok("may create, update and delete clients (manage-clients)".to_string()),
        Ok(false) => Err(Failure::new(
            ExitCode::Blocked,
            "the account may view but not manage clients: grant manage-clients",
        )),
        Err(e) => Err(keycloak_failure("permissions", &e)),
    };
    step(&mut out, "permissions", manage)?;
    let client = found.unwrap_or_default();
    let cluster = target.cluster.as_ref();
    let would = would(obj, &installation, &session, client.as_ref(), cluster).await;
    step(&mut out, "client", would)?;
    out += if cluster.is_some() {
        "Nothing was written.\n"
    } else {
        "Nothing was written. The Kubernetes side (the Secret) is checked only with a cluster.\n"
    };
    Ok(out)
}

/// The resource as a reconcile would see it: the file's spec, with the uid and status of the
/// resource in the cluster when there is one. A file without a uid takes the one the client's
/// owner marker records for this resource (else every client it made would look like an
/// earlier resource's).
async fn as_reconciled(
    mut obj: OpenMetadataKeycloakClient,
    installation: &str,
    client: Option<&ObservedClient>,
    cluster: Option<&Cluster>,
) -> Result<(OpenMetadataKeycloakClient, Validated), Failure> {
    if let Some(cluster) = cluster {
        let api = Api::<OpenMetadataKeycloakClient>::namespaced(
            cluster.ctx.client.clone(),
            &obj.namespace().unwrap_or_default(),
        );
        let live = api
            .get_opt(&obj.name_any())
            .await
            .map_err(|e| Failure::of("", Error::kube("read the resource", e)))?;
        if let Some(live) = live {
            obj.metadata.uid = live.metadata.uid;
            obj.status = live.status;
        }
    }
    let v = validated(&obj, installation)?;
    let attribute = |name: &str| {
        client
            .and_then(|c| c.rep.attributes.as_ref())
            .and_then(|a| a.get(name))
            .cloned()
    };
    if obj.metadata.uid.as_deref() == Some(UNKNOWN_UID)
        && attribute(OWNER_ATTRIBUTE).as_deref() == Some(v.owner.as_str())
        && let Some(uid) = attribute(OWNER_UID_ATTRIBUTE)
    {
        obj.metadata.uid = Some(uid);
        let v = validated(&obj, installation)?;
        return Ok((obj, v));
    }
    Ok((obj, v))
}

/// What a reconcile would write, in words: planned from what it would observe (the Kubernetes
/// side only with a cluster).
async fn would(
    obj: OpenMetadataKeycloakClient,
    installation: &str,
    session: &Session,
    client: Option<&ObservedClient>,
    cluster: Option<&Cluster>,
) -> Result<String, Failure> {
    let (obj, v) = as_reconciled(obj, installation, client, cluster).await?;
    let observed = match cluster {
        Some(Cluster { ctx, connection }) => observe::around_client(session, connection, &v, ctx)
            .await
            .map_err(|e| Failure::of("", e))?,
        // Only Keycloak's side is planned: no issuer (it goes to the Secret's side), the clock
        // for a scheduled rotation.
        None => Observed {
            now: observe::now(),
            ..Observed::default()
        },
    };
    let p = plan::plan(&obj, &v, &observed, client).map_err(|e| Failure::of("", e))?;
    let mut steps: Vec<String> = p
        .writes
        .iter()
        .filter(|w| cluster.is_some() || w.is_keycloak())
        .filter_map(|w| describe(w, &p.changes))
        .collect();
    if p.then == Then::ObserveAgain && cluster.is_some() {
        // After an update of the client's fields, the Secret may be in line already.
        let made = p.writes.iter().any(|w| {
            matches!(
                w,
                Write::CreateClient(_) | Write::RegenerateSecret { .. } | Write::Secret(_)
            )
        });
        steps.push(if made {
            "read the client back and write the Secret".into()
        } else {
            "read the client back (then the Secret, where it differs)".into()
        });
    }
    let said = if steps.is_empty() {
        let side = match cluster {
            Some(_) => "Keycloak or Kubernetes",
            None => "Keycloak",
        };
        format!("in sync: a reconcile would change nothing in {side}")
    } else {
        format!("a reconcile would {}", steps.join(", then "))
    };
    // What the plan defers rather than writes (a rotation asked for too soon).
    Ok(p.changes
        .iter()
        .filter(|c| matches!(c, Change::RotationDeferred { .. }))
        .fold(said, |said, c| format!("{said}; {c}")))
}

/// A write in words (`None` for the status and the restarts: they follow the rest).
fn describe(write: &Write, changes: &[Change]) -> Option<String> {
    Some(match write {
        Write::CreateClient(c) => format!(
            "create client {:?}",
            c.client_id.as_deref().unwrap_or_default()
        ),
        Write::UpdateClient { .. } => {
            let fields: Vec<String> = changes
                .iter()
                .filter_map(|c| match c {
                    Change::ClientUpdated { fields, .. } => {
                        Some(fields.iter().map(ToString::to_string).collect::<Vec<_>>())
                    }
                    Change::ClientAdopted { .. } => Some(vec!["owner marker (adopt)".into()]),
                    Change::SecretSetFromSource { .. } => Some(vec!["secret".into()]),
                    _ => None,
                })
                .flatten()
                .collect();
            format!("update the client ({})", fields.join(", "))
        }
        Write::AddScopes { scopes, .. } => {
            let names: Vec<&str> = scopes.iter().map(|s| s.name.as_str()).collect();
            format!("add the default client scopes {}", names.join(", "))
        }
        Write::RegenerateSecret { .. } => "generate a client secret".into(),
        Write::DeleteClient { .. } => "delete the client".into(),
        Write::Secret(Put::Create(s)) => format!("create Secret {:?}", s.name_any()),
        Write::Secret(Put::Apply(s)) => format!("update Secret {:?}", s.name_any()),
        Write::ConfigMap(Put::Create(c) | Put::Apply(c)) => {
            format!("write ConfigMap {:?}", c.name_any())
        }
        Write::DeleteSecret(name) => format!("delete previous Secret {name:?}"),
        Write::DeleteConfigMap(name) => format!("delete previous ConfigMap {name:?}"),
        Write::Status(_) | Write::Rollout { .. } | Write::RemoveFinalizer => return None,
    })
}
