//! Observe step: every read the reconcile makes, gathered into one owned value ([`Observed`])
//! besides the client. What the watches already hold is read
//! from [`Context`]'s caches; the API server and Keycloak are asked only for the rest. Nothing
//! here writes.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::{Api, core::PartialObjectMeta};

use super::{
    Error,
    connection::{self, Connection},
    desired,
    plan::{
        Observed,
        rollout::{Found, Marks, Workload},
    },
};
use crate::{
    context::Context,
    crd::{ClusterKeycloakConnection, OpenMetadataKeycloakClient, WorkloadKind, owner::owned_by},
    keycloak::{ConnectionSpec, KeycloakError, ObservedClient, Scope, Session},
    names::{CHECKSUM_ANNOTATION, RESTARTED_FOR_ANNOTATION, ROTATED_FOR_ANNOTATION},
    reason::Reason,
    urls::realm_url,
    validate::{ConnectionSource, Validated},
};

mod secrets;

pub use secrets::{MAX_SECRET_BYTES, credentials, credentials_from, source, source_value};

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

/// IO: the client, as Keycloak reports it, in one request: by the id the status recorded when
/// there is one (still that clientId), else by clientId (the list by `clientId` carries flags,
/// attributes, URIs, default scope names and the secret). When no client has the clientId but
/// the recorded one exists under another and still carries this resource's owner marker
/// (renamed in the console, which lets anyone change a Client ID), that one: the plan renames
/// it back. Never a client of someone else's, whatever id a status names.
pub async fn client(
    session: &Session,
    v: &Validated,
    known_uuid: Option<&str>,
) -> Result<Option<ObservedClient>, Error> {
    let recorded = match known_uuid.filter(|u| !u.is_empty()) {
        Some(uuid) => session.get_client(&v.realm, uuid).await?,
        None => None,
    };
    let found = match recorded {
        Some(client) if client.rep.client_id.as_deref() == Some(v.client_id.as_str()) => {
            Some(client)
        }
        recorded => {
            let ours = recorded
                .filter(|c| desired::ownership(&c.rep, v, known_uuid) == desired::Ownership::Ours);
            (session.find_client(&v.realm, &v.client_id).await?).or(ours)
        }
    };
    found.map(|c| manageable(c, v, known_uuid)).transpose()
}

/// A client of this resource that the account may only view is no basis for a plan: its secret
/// may be masked and no write would be allowed. Someone else's client goes to the plan, which
/// refuses it for what it is (Keycloak lets no one manage `realm-management`, for one).
fn manageable(
    client: ObservedClient,
    v: &Validated,
    known_uuid: Option<&str>,
) -> Result<ObservedClient, Error> {
    let ownership = desired::ownership(&client.rep, v, known_uuid);
    if let desired::Ownership::OtherResource(owner) = &ownership {
        tracing::info!(client = %v.client_id, realm = %v.realm, %owner, "the client belongs to another resource");
    }
    let ours = ownership == desired::Ownership::Ours;
    if client.may_manage || !ours {
        Ok(client)
    } else {
        Err(Error::from(KeycloakError::MayNotManage))
    }
}

/// IO: the realm's client scopes when the client of a live resource lacks a required one (the
/// plan adds them by id); nothing otherwise.
pub async fn realm_scopes(
    session: &Session,
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    client: Option<&ObservedClient>,
) -> Result<Vec<Scope>, Error> {
    let lacking = client.is_some_and(|c| !desired::missing_scopes(&c.rep).is_empty());
    if !lacking || obj.metadata.deletion_timestamp.is_some() {
        return Ok(Vec::new());
    }
    Ok(session.realm_scopes(&v.realm).await?)
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
            Error::from(KeycloakError::Protocol(
                "the client just written cannot be read back".into(),
            ))
        })
}

/// The output Secret and the resource's previous output Secrets, from the watch cache. Two
/// exceptions read the Secret from the API server: the watch has not listed the namespace (its
/// first list failed: the resources wait for it otherwise, and a missing Secret may exist), and a rotation asked for and not yet
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
        current = read_output_secret(v, ctx).await?;
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

/// The output Secret from the API server: whole when this resource owns it, its metadata only
/// when it is someone else's (enough to refuse it; their data is never read).
async fn read_output_secret(v: &Validated, ctx: &Context) -> Result<Option<Secret>, Error> {
    let action = |e| Error::kube(format!("read Secret {:?}", v.secret.name), e);
    let meta = Api::<PartialObjectMeta<Secret>>::namespaced(ctx.client.clone(), &v.namespace)
        .get_metadata_opt(&v.secret.name)
        .await
        .map_err(action)?;
    match meta {
        Some(m) if owned_by(&m, &v.uid) => {
            Api::<Secret>::namespaced(ctx.client.clone(), &v.namespace)
                .get_opt(&v.secret.name)
                .await
                .map_err(action)
        }
        Some(m) => Ok(Some(Secret {
            metadata: m.metadata,
            ..Default::default()
        })),
        None => Ok(None),
    }
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

/// Now, in epoch seconds: the clock is read here, with the rest of what a pass observes.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Observes what a reconcile needs besides the client: the connection (within its
/// `maxClients`), then [`around_client`].
pub async fn resource(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    ctx: &Context,
) -> Result<(Arc<Session>, Observed), Error> {
    let (session, connection) = session(v, ctx).await?;
    if let crate::validate::ConnectionSource::Cluster(name) = &v.connection {
        let all = ctx.all_resources();
        connection::within_limit(
            name,
            connection.max_clients,
            obj,
            all.iter().filter_map(|g| g.0.as_ref().ok()),
        )?;
    }
    let observed = around_client(&session, &connection, v, ctx).await?;
    Ok((session, observed))
}

/// What a plan needs besides the client (the reconcile's and `check`'s alike): the source
/// secret, the issuer, the output Secret and values ConfigMap, the clock.
pub async fn around_client(
    session: &Session,
    connection: &Connection,
    v: &Validated,
    ctx: &Context,
) -> Result<Observed, Error> {
    let source = source(v, ctx).await?;
    let issuer = issuer(session, connection, v).await?;
    let (secret, previous_secrets) = output_secrets(v, ctx).await?;
    let (config_map, previous_config_maps) = config_maps(v, ctx).await?;
    Ok(Observed {
        issuer,
        secret,
        previous_secrets,
        source,
        config_map,
        previous_config_maps,
        now: now(),
        authorization_ignored: session.authorization_ignored(),
        realm_scopes: Vec::new(),
        sent: Vec::new(),
        adoption_allowed: connection.allow_adoption,
        rotation_gap: i64::try_from(ctx.settings.min_rotation_interval.as_secs())
            .unwrap_or(i64::MAX),
    })
}

/// The session of a deleted resource: as for a reconcile, or, when its credentials Secret is
/// gone, the session opened with it while it existed (a namespace being deleted takes an inline
/// credentials Secret with it). Only for a Secret that is gone: credentials withdrawn (the
/// label removed, refused by Keycloak) are never used.
pub async fn deletion_session(v: &Validated, ctx: &Context) -> Result<Arc<Session>, Error> {
    match session(v, ctx).await {
        Ok((session, _)) => Ok(session),
        Err(e) if e.reason() == Reason::CredentialsNotFound => match connection(v, ctx).await {
            Ok(connection) => ctx.keycloak.last_session(&connection.key).ok_or(e),
            Err(_) => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// The workloads named in `spec.secret.rollout` of `resource` (its `namespace/name`), as a
/// restart at `checksum` needs them: one the operator remembers carrying this checksum is not
/// read.
pub async fn workloads(
    ctx: &Context,
    resource: &str,
    v: &Validated,
    checksum: &str,
) -> Result<Vec<Workload>, Error> {
    let mut seen = Vec::new();
    for (kind, name) in &v.secret.rollout {
        let remembered = ctx.rolled(resource, *kind, name);
        let found = if remembered.as_deref() == Some(checksum) {
            Found::AsRemembered
        } else {
            match workload_checksum(ctx, &v.namespace, *kind, name).await {
                Err(e) if e.refused_with(403) => Found::Forbidden,
                read => Found::Read(read?),
            }
        };
        seen.push(Workload {
            kind: *kind,
            name: name.clone(),
            remembered,
            found,
        });
    }
    Ok(seen)
}

/// IO: the checksum annotation on a workload's metadata; `None` when the workload does not
/// exist, `Some(None)` when it has no checksum yet.
async fn workload_checksum(
    ctx: &Context,
    namespace: &str,
    kind: WorkloadKind,
    name: &str,
) -> Result<Option<Marks>, Error> {
    let found = ctx
        .workload_api(namespace, kind)
        .get_metadata_opt(name)
        .await
        .map_err(|e| Error::kube(format!("read {kind:?} {name:?}"), e))?;
    Ok(found.map(|o| {
        let annotations = o.metadata.annotations.unwrap_or_default();
        Marks {
            checksum: annotations.get(CHECKSUM_ANNOTATION).cloned(),
            restarted_for: annotations.get(RESTARTED_FOR_ANNOTATION).cloned(),
        }
    }))
}
