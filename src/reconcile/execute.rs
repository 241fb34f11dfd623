//! Execute step: the only writes, to Keycloak and to Kubernetes, each made as a plan says and
//! in its order (a plan's Keycloak writes come before its Kubernetes writes). Nothing here
//! decides, except what the answer to a write means.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::json;

use super::{
    Error,
    change::Change,
    finalizer,
    plan::{
        Put, Write, owned_by,
        rollout::{self, Step, Workload},
    },
};
use crate::{
    context::{Context, Fingerprint},
    crd::{OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus, object_key},
    keycloak::Session,
    names::OPERATOR_NAME,
    validate::Validated,
};

/// IO (Keycloak): makes the plan's Keycloak writes in order; returns the id of the client they
/// wrote to (to be read back), if any.
pub async fn keycloak(
    session: &Session,
    v: &Validated,
    writes: &[Write],
) -> Result<Option<String>, Error> {
    let mut written = None;
    for write in writes {
        match write {
            Write::CreateClient(body) => {
                written = Some(session.create_client(&v.realm, body).await?);
            }
            Write::UpdateClient { uuid, body } => {
                session.update_client(&v.realm, uuid, body).await?;
                written = Some(uuid.clone());
            }
            Write::AddScopes {
                uuid,
                scopes,
                from_optional,
            } => {
                // One by one: PUT bodies ignore scopes and POST bodies would replace the
                // realm's defaults. Keycloak adds no scope the client has in either list.
                for scope in scopes {
                    if from_optional.contains(&scope.id) {
                        session
                            .remove_optional_scope(&v.realm, uuid, &scope.id)
                            .await?;
                    }
                    session.add_default_scope(&v.realm, uuid, &scope.id).await?;
                }
                written = Some(uuid.clone());
            }
            Write::RegenerateSecret { uuid } => {
                // The new value is read back with the client, like everything Keycloak holds.
                session.regenerate_secret(&v.realm, uuid).await?;
                written = Some(uuid.clone());
            }
            Write::DeleteClient { uuid } => {
                // Gone already counts as deleted.
                session.delete_client(&v.realm, uuid).await?;
            }
            _ => {}
        }
    }
    Ok(written)
}

/// What the Kubernetes writes made: the Secret and ConfigMap as written (a following pass
/// plans from them: the watch may not show them yet).
#[derive(Default)]
pub struct Made {
    pub secret: Option<Secret>,
    pub config_map: Option<ConfigMap>,
}

/// IO (Kubernetes): makes the plan's Kubernetes writes in order, except the restart of
/// workloads (a round of its own, [`restarts`]).
pub async fn kubernetes(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
    writes: &[Write],
) -> Result<Made, Error> {
    let mut made = Made::default();
    for write in writes {
        match write {
            Write::Secret(put) => {
                made.secret = Some(owned_write(obj, ctx, put, Error::secret_conflict).await?);
            }
            Write::ConfigMap(put) => {
                made.config_map =
                    Some(owned_write(obj, ctx, put, Error::config_map_conflict).await?);
            }
            Write::DeleteSecret(name) => remove::<Secret>(obj, ctx, name).await?,
            Write::DeleteConfigMap(name) => remove::<ConfigMap>(obj, ctx, name).await?,
            Write::Status(status) => self::status(obj, ctx, status).await?,
            Write::RemoveFinalizer => finalizer::remove(&obj.metadata, ctx).await?,
            _ => {}
        }
    }
    Ok(made)
}

/// Deletes a previous output object of the resource (already gone is fine).
async fn remove<K>(obj: &OpenMetadataKeycloakClient, ctx: &Context, name: &str) -> Result<(), Error>
where
    K: Fingerprint + Clone + DeserializeOwned + std::fmt::Debug,
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::kube(
            format!("delete previous {} {name:?}", K::KIND),
            e,
        )),
    }
}

/// Writes an object the resource owns: a create when it is new (refused by the API server if
/// one of that name appeared meanwhile, then checked for ownership, `conflict` if not ours),
/// server-side apply when it is ours.
async fn owned_write<K>(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
    write: &Put<K>,
    conflict: fn(String) -> Error,
) -> Result<K, Error>
where
    K: Fingerprint + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let uid = obj.uid().unwrap_or_default();
    let (wanted, create) = match write {
        Put::Create(w) => (w, true),
        Put::Apply(w) => (w, false),
    };
    let name = wanted.meta().name.clone().unwrap_or_default();
    let action = || format!("write {} {name:?}", K::KIND);
    ctx.writing(wanted);
    if create {
        match api.create(&PostParams::default(), wanted).await {
            Ok(made) => return Ok(made),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // It exists but the watch has not shown it: ours (not yet seen, or its label
                // removed by hand), or someone else's. Its owner is in the metadata: someone
                // else's data is never read.
                let existing = api
                    .get_metadata(&name)
                    .await
                    .map_err(|e| Error::kube(action(), e))?;
                if !owned_by(&existing, &uid) {
                    return Err(conflict(name));
                }
            }
            Err(e) => return Err(Error::kube(action(), e)),
        }
    }
    // k8s-openapi serializes apiVersion and kind, which server-side apply needs (kube-rs#1086).
    api.patch(
        &name,
        &PatchParams::apply(OPERATOR_NAME).force(),
        &Patch::Apply(wanted),
    )
    .await
    .map_err(|e| Error::kube(action(), e))
}

/// IO (Kubernetes): patches the workloads as planned (`steps`, one per workload), and
/// remembers what each carries; returns the changes, a workload the operator may not patch
/// (the chart's `rollout.enabled` is off) said as such.
pub async fn restarts(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
    checksum: &str,
    planned: Vec<(Workload, Step)>,
) -> Result<Vec<Change>, Error> {
    let namespace = obj.namespace().unwrap_or_default();
    // What each workload carries (and each Warning) is remembered only once every patch went
    // through: a failed patch fails the reconcile, and its unreported Warnings must be said by
    // the next one (a workload patched meanwhile is read again then, and found at its checksum).
    let mut done = Vec::new();
    for (workload, mut step) in planned {
        let (kind, name) = (workload.kind, workload.name.as_str());
        if let Some(patch) = &step.patch {
            let patched = ctx
                .workload_api(&namespace, kind)
                .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .map_err(|e| {
                    let action = format!(
                        "restart {kind:?} {name:?} (the chart's rollout.enabled grants it)"
                    );
                    Error::kube(action, e)
                });
            match patched {
                Err(e) if e.refused_with(403) => {
                    step = rollout::forbidden(&workload, checksum);
                }
                patched => drop(patched?),
            }
        }
        done.push((workload, step));
    }
    let mut changes = Vec::new();
    for (workload, step) in done {
        if let Some(marker) = &step.remember {
            ctx.remember_rolled(&object_key(obj), workload.kind, &workload.name, marker);
        }
        changes.extend(step.change);
    }
    Ok(changes)
}

/// IO (Kubernetes): patches the status subresource.
pub async fn status(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
    status: &OpenMetadataKeycloakClientStatus,
) -> Result<(), Error> {
    let api: Api<OpenMetadataKeycloakClient> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .map_err(|e| Error::kube("write the status", e))?;
    Ok(())
}
