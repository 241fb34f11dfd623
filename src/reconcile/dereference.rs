//! Dereference step: every read the reconcile makes. What the watches already hold is read
//! from [`Context`]'s caches; the API server and Keycloak are asked only for the rest. Nothing
//! here writes.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::{Error, plan::owned_by};
use crate::{
    context::Context,
    keycloak::{
        ConnectionKey, ConnectionSpec, Credentials, KeycloakError, ObservedClient, Session,
    },
    validate::Validated,
};

/// The connection the spec names (the credentials are read separately).
pub fn connection_key(v: &Validated) -> ConnectionKey {
    ConnectionKey {
        base_url: v.keycloak_url.clone(),
        admin_realm: v.admin_realm.clone(),
        credentials_source: format!("{}/{}", v.namespace, v.credentials_secret),
    }
}

/// The admin credentials: from memory while the Secret's resourceVersion (as the watch saw
/// it) has not moved, else read (IO) from the API server.
pub async fn credentials(v: &Validated, ctx: &Context) -> Result<Credentials, Error> {
    let seen = ctx
        .credentials_meta
        .get(&v.namespace, &v.credentials_secret)
        .and_then(|m| m.metadata.resource_version.clone());
    if let Some(rv) = &seen
        && let Some(known) = ctx.known_credentials(&v.namespace, &v.credentials_secret, rv)
    {
        return Ok(known);
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &v.namespace);
    let secret = secrets
        .get_opt(&v.credentials_secret)
        .await
        .map_err(|e| Error::kube(format!("read Secret {:?}", v.credentials_secret), e))?
        .ok_or_else(|| Error::CredentialsNotFound(v.credentials_secret.clone()))?;
    let credentials = credentials_from(&v.credentials_secret, &secret)?;
    if let Some(rv) = secret.metadata.resource_version {
        ctx.remember_credentials(&v.namespace, &v.credentials_secret, rv, credentials.clone());
    }
    Ok(credentials)
}

/// The pooled Keycloak session for the spec's connection.
pub async fn session(v: &Validated, ctx: &Context) -> Result<Arc<Session>, Error> {
    let spec = ConnectionSpec {
        key: connection_key(v),
        credentials: credentials(v, ctx).await?,
        ca_bundle: v.ca_bundle.clone(),
    };
    Ok(ctx.keycloak.session(&spec)?)
}

/// Reads `username`/`password` or `clientId`/`clientSecret` from the credentials Secret.
pub fn credentials_from(name: &str, secret: &Secret) -> Result<Credentials, Error> {
    let get = |key: &str| -> Option<String> {
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone());
        let string_data = secret
            .string_data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|s| s.clone().into_bytes());
        data.or(string_data)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .filter(|s| !s.is_empty())
    };
    let invalid = |problem: &str| Error::CredentialsInvalid {
        name: name.to_string(),
        problem: problem.to_string(),
    };
    match (
        get("username"),
        get("password"),
        get("clientId"),
        get("clientSecret"),
    ) {
        (Some(username), Some(password), _, _) => Ok(Credentials::Password { username, password }),
        (_, _, Some(client_id), Some(client_secret)) => Ok(Credentials::ClientCredentials {
            client_id,
            client_secret,
        }),
        (Some(_), None, _, _) => Err(invalid("has `username` but no non-empty `password`")),
        (None, Some(_), _, _) => Err(invalid("has `password` but no non-empty `username`")),
        (_, _, Some(_), None) => Err(invalid("has `clientId` but no non-empty `clientSecret`")),
        _ => Err(invalid(
            "needs keys `username` and `password`, or `clientId` and `clientSecret`",
        )),
    }
}

/// IO: the client with the spec's clientId, as Keycloak reports it, in one request (the list
/// by `clientId` carries flags, attributes, URIs, default scope names and the secret).
pub async fn client(session: &Session, v: &Validated) -> Result<Option<ObservedClient>, Error> {
    Ok(session.find_client(&v.realm, &v.client_id).await?)
}

/// IO: a client just written, read back by its id: what Keycloak built from the requests.
pub async fn client_by_id(
    session: &Session,
    v: &Validated,
    uuid: &str,
) -> Result<ObservedClient, Error> {
    session
        .get_client(&v.realm, uuid)
        .await?
        .filter(|c| c.rep.client_id.as_deref() == Some(v.client_id.as_str()))
        .ok_or_else(|| {
            Error::Keycloak(KeycloakError::Protocol(
                "the client just written cannot be read back".into(),
            ))
        })
}

/// The output Secret and the resource's previous output Secrets, from the watch cache (no IO).
pub fn output_secrets(v: &Validated, ctx: &Context) -> (Option<Secret>, Vec<Secret>) {
    let current = ctx
        .output_secrets
        .get(&v.namespace, &v.secret.name)
        .map(|s| s.as_ref().clone());
    let previous = ctx
        .output_secrets
        .in_namespace(&v.namespace)
        .into_iter()
        .filter(|s| s.metadata.name.as_deref() != Some(v.secret.name.as_str()))
        .filter(|s| owned_by(s, &v.uid))
        .map(|s| s.as_ref().clone())
        .collect();
    (current, previous)
}
