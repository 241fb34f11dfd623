//! Dereference step: every read the reconcile makes. What the watches already hold is read
//! from [`Context`]'s caches; the API server and Keycloak are asked only for the rest. Nothing
//! here writes.

use std::sync::Arc;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, StatefulSet},
        core::v1::{ConfigMap, Namespace, Secret},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::{
    Api,
    core::{ApiResource, DynamicObject, PartialObjectMeta},
};

use super::{
    Error,
    connection::{self, Connection},
    desired,
    plan::owned_by,
};
use crate::{
    cache::ObjectCache,
    context::Context,
    crd::{ClusterKeycloakConnection, WorkloadKind},
    keycloak::{ConnectionSpec, Credentials, KeycloakError, ObservedClient, SecretValue, Session},
    names::{CHECKSUM_ANNOTATION, ROTATED_FOR_ANNOTATION, SOURCE_LABEL},
    urls::realm_url,
    validate::{ConnectionSource, Validated},
};

/// The connection the resource may use (IO only when the watches have not seen its namespace or
/// its connection: a connection missing from the cache, during a re-list or right after a start,
/// is read before it is called gone, so that no resource is refused and no client orphaned for
/// a cache's sake).
pub async fn connection(v: &Validated, ctx: &Context) -> Result<Connection, Error> {
    let cluster = match &v.connection {
        ConnectionSource::Cluster(name) => match ctx.connections.get("", name) {
            Some(cached) => Some(cached),
            None => Api::<ClusterKeycloakConnection>::all(ctx.client.clone())
                .get_opt(name)
                .await
                .map_err(|e| Error::kube(format!("read ClusterKeycloakConnection {name:?}"), e))?
                .map(Arc::new),
        },
        ConnectionSource::Inline(_) => None,
    };
    let labels = match ctx.namespaces.get("", &v.namespace) {
        Some(ns) => ns.metadata.labels.clone().unwrap_or_default(),
        None if cluster.is_some() => {
            let namespaces: Api<PartialObjectMeta<Namespace>> = Api::all(ctx.client.clone());
            namespaces
                .get_metadata(&v.namespace)
                .await
                .map_err(|e| Error::kube(format!("read namespace {:?}", v.namespace), e))?
                .metadata
                .labels
                .unwrap_or_default()
        }
        None => Default::default(),
    };
    connection::resolve(
        v,
        connection::Environment {
            cluster: cluster.as_deref(),
            namespace_labels: &labels,
            operator_namespace: &ctx.settings.operator_namespace,
            allow_inline: ctx.settings.allow_inline_connections,
            allow_inline_adoption: ctx.settings.allow_inline_adoption,
        },
    )
}

/// A Secret that must carry an opt-in label, from the label-selected watch `cache`. One the watch
/// does not show is looked up by its metadata only, never its data, to say whether it is missing
/// (`missing`) or not allowed (`allowed` fails); read whole only when allowed (it just appeared).
async fn labelled_secret(
    ctx: &Context,
    cache: &ObjectCache<Secret>,
    (namespace, name): (&str, &str),
    missing: impl FnOnce() -> Error,
    allowed: impl Fn(&ObjectMeta) -> Result<(), Error>,
) -> Result<Secret, Error> {
    if let Some(secret) = cache.get(namespace, name) {
        allowed(&secret.metadata)?;
        return Ok(secret.as_ref().clone());
    }
    let action = || format!("read Secret {namespace}/{name}");
    let meta = Api::<PartialObjectMeta<Secret>>::namespaced(ctx.client.clone(), namespace)
        .get_metadata_opt(name)
        .await
        .map_err(|e| Error::kube(action(), e))?
        .ok_or_else(missing)?;
    allowed(&meta.metadata)?;
    Api::<Secret>::namespaced(ctx.client.clone(), namespace)
        .get(name)
        .await
        .map_err(|e| Error::kube(action(), e))
}

/// The admin credentials of a connection, from the watch of Secrets labelled as credentials.
pub async fn credentials(connection: &Connection, ctx: &Context) -> Result<Credentials, Error> {
    let (namespace, name) = &connection.credentials;
    let secret = labelled_secret(
        ctx,
        &ctx.credentials,
        (namespace, name),
        || Error::CredentialsNotFound(format!("{namespace}/{name}")),
        |meta| connection::credentials_allowed(meta, connection),
    )
    .await?;
    credentials_from(&format!("{namespace}/{name}"), &secret)
}

/// The pooled Keycloak session for the resource's connection.
pub async fn session(v: &Validated, ctx: &Context) -> Result<(Arc<Session>, Connection), Error> {
    let connection = connection(v, ctx).await?;
    let spec = ConnectionSpec {
        key: connection.key.clone(),
        credentials: credentials(&connection, ctx).await?,
        ca_bundle: connection.ca_bundle.clone(),
    };
    Ok((ctx.keycloak.session(&spec)?, connection))
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

/// IO: the client, as Keycloak reports it, in one request: by the id the status recorded when
/// there is one (still that clientId), else by clientId (the list by `clientId` carries flags,
/// attributes, URIs, default scope names and the secret).
pub async fn client(
    session: &Session,
    v: &Validated,
    known_uuid: Option<&str>,
) -> Result<Option<ObservedClient>, Error> {
    if let Some(uuid) = known_uuid.filter(|u| !u.is_empty())
        && let Some(client) = session.get_client(&v.realm, uuid).await?
        && client.rep.client_id.as_deref() == Some(v.client_id.as_str())
    {
        return manageable(client, v, known_uuid).map(Some);
    }
    session
        .find_client(&v.realm, &v.client_id)
        .await?
        .map(|c| manageable(c, v, known_uuid))
        .transpose()
}

/// A client of this resource that the account may only view is no basis for a plan: its secret
/// may be masked and no write would be allowed. Someone else's client goes to the plan, which
/// refuses it for what it is (Keycloak lets no one manage `realm-management`, for one).
fn manageable(
    client: ObservedClient,
    v: &Validated,
    known_uuid: Option<&str>,
) -> Result<ObservedClient, Error> {
    let ours = desired::ownership(&client.rep, v, known_uuid) == desired::Ownership::Ours;
    if client.may_manage || !ours {
        Ok(client)
    } else {
        Err(Error::Keycloak(KeycloakError::MayNotManage))
    }
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

/// The output Secret and the resource's previous output Secrets, from the watch cache. Two
/// exceptions read the Secret from the API server: the watch has not listed the namespace yet
/// (right after a start, a missing Secret may exist), and a rotation asked for and not yet
/// recorded (a watch event still on its way must not make a rotation run twice, or never).
pub async fn output_secrets(
    v: &Validated,
    ctx: &Context,
) -> Result<(Option<Secret>, Vec<Secret>), Error> {
    let listed = ctx.output_secrets.has_listed(&v.namespace);
    let mut current = ctx
        .output_secrets
        .get(&v.namespace, &v.secret.name)
        .map(|s| s.as_ref().clone());
    let recorded = current.as_ref().and_then(|s| {
        s.metadata
            .annotations
            .as_ref()?
            .get(ROTATED_FOR_ANNOTATION)
            .cloned()
    });
    if !listed || (v.rotate_token.is_some() && current.is_some() && recorded != v.rotate_token) {
        current = Api::<Secret>::namespaced(ctx.client.clone(), &v.namespace)
            .get_opt(&v.secret.name)
            .await
            .map_err(|e| Error::kube(format!("read Secret {:?}", v.secret.name), e))?;
    }
    let previous = ctx
        .output_secrets
        .in_namespace(&v.namespace)
        .into_iter()
        .filter(|s| s.metadata.name.as_deref() != Some(v.secret.name.as_str()))
        .filter(|s| owned_by(s.as_ref(), &v.uid))
        .map(|s| s.as_ref().clone())
        .collect();
    Ok((current, previous))
}

/// The values ConfigMap and the resource's other values ConfigMaps, from the watch cache (the
/// ConfigMap from the API server until the watch has listed the namespace).
pub async fn config_maps(
    v: &Validated,
    ctx: &Context,
) -> Result<(Option<ConfigMap>, Vec<ConfigMap>), Error> {
    let target = v.values.as_ref().map(|t| t.name.as_str());
    let mut current = target
        .and_then(|name| ctx.config_maps.get(&v.namespace, name))
        .map(|c| c.as_ref().clone());
    if let Some(name) = target
        && !ctx.config_maps.has_listed(&v.namespace)
    {
        current = Api::<ConfigMap>::namespaced(ctx.client.clone(), &v.namespace)
            .get_opt(name)
            .await
            .map_err(|e| Error::kube(format!("read ConfigMap {name:?}"), e))?;
    }
    let previous = ctx
        .config_maps
        .in_namespace(&v.namespace)
        .into_iter()
        .filter(|c| c.metadata.name.as_deref() != target)
        .filter(|c| owned_by(c.as_ref(), &v.uid))
        .map(|c| c.as_ref().clone())
        .collect();
    Ok((current, previous))
}

/// The client secret from `spec.secret.source`, from the watch of Secrets labelled as sources.
pub async fn source(v: &Validated, ctx: &Context) -> Result<Option<SecretValue>, Error> {
    let Some((name, key)) = &v.secret.source else {
        return Ok(None);
    };
    let secret =
        labelled_secret(
            ctx,
            &ctx.sources,
            (&v.namespace, name),
            || Error::SecretSourceNotFound(name.clone()),
            |meta| {
                let labelled = meta
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SOURCE_LABEL))
                    .is_some_and(|v| v == "true");
                labelled.then_some(()).ok_or_else(|| Error::SecretSourceInvalid {
                name: name.clone(),
                problem: format!(
                    "is not labelled {SOURCE_LABEL}=true; label it to let the operator read it"
                ),
            })
            },
        )
        .await?;
    source_value(name, key, &secret).map(Some)
}

/// The value under `key` of a source Secret: present, UTF-8, not empty (a final newline, as
/// `--from-file` leaves it, is not part of it).
pub fn source_value(name: &str, key: &str, secret: &Secret) -> Result<SecretValue, Error> {
    let invalid = |problem: String| Error::SecretSourceInvalid {
        name: name.to_string(),
        problem,
    };
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .ok_or_else(|| invalid(format!("has no key {key:?}")))?;
    let value =
        String::from_utf8(bytes).map_err(|_| invalid(format!("key {key:?} is not UTF-8 text")))?;
    let value = value.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(invalid(format!("key {key:?} is empty")));
    }
    Ok(SecretValue::new(value))
}

/// The realm's issuer as browsers reach it: under the configured public URL, or as Keycloak
/// announces it in the realm's discovery document.
pub async fn issuer(
    session: &Session,
    connection: &Connection,
    v: &Validated,
) -> Result<String, Error> {
    match &connection.public_url {
        Some(public) => Ok(realm_url(public, &v.realm)),
        None => Ok(session.issuer(&v.realm).await?),
    }
}

/// The API of a kind of workload in a namespace, untyped: reads and writes of a workload
/// touch only its metadata and pod template annotations, the same for every kind.
pub fn workload_api(ctx: &Context, namespace: &str, kind: WorkloadKind) -> Api<DynamicObject> {
    let resource = match kind {
        WorkloadKind::Deployment => ApiResource::erase::<Deployment>(&()),
        WorkloadKind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
    };
    Api::namespaced_with(ctx.client.clone(), namespace, &resource)
}

/// IO: the checksum annotation on a workload's metadata; `None` when the workload does not
/// exist, `Some(None)` when it has no checksum yet.
pub async fn workload_checksum(
    ctx: &Context,
    namespace: &str,
    kind: WorkloadKind,
    name: &str,
) -> Result<Option<Option<String>>, Error> {
    let found = workload_api(ctx, namespace, kind)
        .get_metadata_opt(name)
        .await
        .map_err(|e| Error::kube(format!("read {kind:?} {name:?}"), e))?;
    Ok(found.map(|o| {
        o.metadata
            .annotations
            .and_then(|a| a.get(CHECKSUM_ANNOTATION).cloned())
    }))
}
