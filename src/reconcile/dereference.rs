//! Dereference step: every read the reconcile makes, from Kubernetes and from Keycloak.
//! Nothing here writes.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use keycloak::types::ClientRepresentation;
use kube::Api;

use super::Error;
use crate::{
    context::Context,
    keycloak::{ConnectionKey, ConnectionSpec, Credentials, Session},
    validate::Validated,
};

/// IO: reads the admin credentials and returns the pooled Keycloak session for them.
pub async fn session(v: &Validated, ctx: &Context) -> Result<Arc<Session>, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &v.namespace);
    let secret = secrets
        .get_opt(&v.credentials_secret)
        .await
        .map_err(Error::Kube)?
        .ok_or_else(|| Error::CredentialsNotFound(v.credentials_secret.clone()))?;
    let credentials = credentials_from(&v.credentials_secret, &secret)?;
    let spec = ConnectionSpec {
        key: ConnectionKey {
            base_url: v.keycloak_url.clone(),
            admin_realm: v.admin_realm.clone(),
            credentials_source: format!("{}/{}", v.namespace, v.credentials_secret),
        },
        credentials,
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

/// IO: the client with the spec's clientId, as Keycloak reports it (without its secret).
pub async fn client(
    session: &Session,
    v: &Validated,
) -> Result<Option<ClientRepresentation>, Error> {
    Ok(session.find_client(&v.realm, &v.client_id).await?)
}

/// IO: the default scopes of a client.
pub async fn default_scopes(
    session: &Session,
    v: &Validated,
    uuid: &str,
) -> Result<Vec<String>, Error> {
    Ok(session.default_scopes(&v.realm, uuid).await?)
}

/// IO: the secret of a client.
pub async fn client_secret(session: &Session, v: &Validated, uuid: &str) -> Result<String, Error> {
    Ok(session.client_secret(&v.realm, uuid).await?)
}

/// IO: the output Secret as it is now.
pub async fn output_secret(v: &Validated, ctx: &Context) -> Result<Option<Secret>, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &v.namespace);
    secrets.get_opt(&v.secret.name).await.map_err(Error::Kube)
}
