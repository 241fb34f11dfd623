//! `check`: a resource against the real Keycloak, writing nothing. Every step is reported on
//! its own line; the first that fails ends the check with its exit code
//! ([`super::offline::ExitCode`]).

use std::{fmt::Write as _, sync::Arc};

use kube::Client;

use super::{
    offline::{CheckArgs, ExitCode, Failure, load, read, validated},
    target::{given_credentials, target_from_cluster, target_offline},
};
use crate::{
    keycloak::{ConnectionKey, ConnectionSpec, Credentials, KeycloakError, Pool, Session},
    reconcile::{
        change::Change,
        plan::{self, Observed, Write},
    },
    telemetry::Metrics,
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
    let issuer = session.realm_url(&v.realm);
    let planned = plan::plan(
        &obj,
        &v,
        Observed {
            issuer: &issuer,
            client: client.as_ref(),
            ..Default::default()
        },
    );
    let would = match planned {
        Ok(p) if !p.writes.iter().any(Write::is_keycloak) => {
            Ok("in sync: a reconcile would change nothing in Keycloak".to_string())
        }
        Ok(p) => Ok(format!(
            "a reconcile would {}",
            p.writes
                .iter()
                .filter_map(|w| describe(w, &p.changes))
                .collect::<Vec<_>>()
                .join(", then ")
        )),
        Err(e) => Err(Failure::of("", e)),
    };
    step(&mut out, "client", would)?;
    out += "Nothing was written. The Kubernetes side (the Secret) is not checked.\n";
    Ok(out)
}

/// A Keycloak write in words (`None` for a Kubernetes write: not checked).
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
        Write::AddScopes { names, .. } => {
            format!("add the default client scopes {}", names.join(", "))
        }
        Write::RegenerateSecret { .. } => "generate a client secret".into(),
        Write::DeleteClient { .. } => "delete the client".into(),
        _ => return None,
    })
}
