//! Execute step: the only writes, to Keycloak and to Kubernetes, each made as a plan says and
//! in its order (a plan's Keycloak writes come before its Kubernetes writes). Nothing here
//! decides, except what the API server's answer to a write means.

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
    finalizer, observe,
    plan::{self, Put, Rollout, Write, owned_by},
};
use crate::{
    context::{Context, Fingerprint},
    crd::{OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus, WorkloadKind},
    keycloak::{KeycloakError, Session},
    names::OPERATOR_NAME,
    reason::Reason,
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
                if body.authorization_services_enabled == Some(true) {
                    authorization_taken(session, v, uuid).await?;
                }
                written = Some(uuid.clone());
            }
            Write::AddScopes {
                uuid,
                names,
                from_optional,
            } => {
                add_scopes(session, v, uuid, names, from_optional).await?;
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
/// plans from them: the watch may not show them yet), and the workloads restarted.
#[derive(Default)]
pub struct Made {
    /// The output Secret, as written.
    pub secret: Option<Secret>,
    /// The values ConfigMap, as written.
    pub config_map: Option<ConfigMap>,
    /// The restarts of workloads.
    pub changes: Vec<Change>,
}

/// IO (Kubernetes): makes the plan's Kubernetes writes in order.
pub async fn kubernetes(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
    writes: &[Write],
) -> Result<Made, Error> {
    let mut made = Made::default();
    for write in writes {
        match write {
            Write::Secret(put) => {
                made.secret = Some(owned_write(obj, ctx, put, Error::SecretConflict).await?);
            }
            Write::ConfigMap(put) => {
                made.config_map = Some(owned_write(obj, ctx, put, Error::ConfigMapConflict).await?);
            }
            Write::DeleteSecret(name) => remove::<Secret>(obj, ctx, name).await?,
            Write::DeleteConfigMap(name) => remove::<ConfigMap>(obj, ctx, name).await?,
            Write::Status(status) => self::status(obj, ctx, status).await?,
            Write::Rollout {
                checksum,
                workloads,
            } => made
                .changes
                .extend(rollout(obj, ctx, workloads, checksum).await?),
            Write::RemoveFinalizer => finalizer::remove(&obj.metadata, ctx).await?,
            _ => {}
        }
    }
    Ok(made)
}

/// Checks that Keycloak kept `authorizationServicesEnabled: true`: with its `authorization`
/// feature disabled it ignores the field, and a PUT would follow on every resync. The session
/// remembers it, and the plan refuses the spec from then on.
async fn authorization_taken(session: &Session, v: &Validated, uuid: &str) -> Result<(), Error> {
    let read = session.get_client(&v.realm, uuid).await?;
    if read.is_some_and(|c| c.rep.authorization_services_enabled != Some(true)) {
        session.note_authorization_ignored();
        return Err(plan::authorization_unavailable());
    }
    Ok(())
}

/// Adds default client scopes by name, one by one (PUT bodies ignore scopes and POST bodies
/// would replace the realm's defaults). A scope the client has as an optional one is removed
/// from there first: Keycloak does not add a scope the client already has in either list.
async fn add_scopes(
    session: &Session,
    v: &Validated,
    uuid: &str,
    names: &[String],
    from_optional: &[String],
) -> Result<(), Error> {
    let realm_scopes = session.realm_scopes(&v.realm).await?;
    for name in names {
        let id = realm_scopes
            .iter()
            .find(|s| s.name == *name)
            .map(|s| s.id.as_str())
            .ok_or_else(|| KeycloakError::ScopeNotFound(name.clone()))?;
        if from_optional.contains(name) {
            session.remove_optional_scope(&v.realm, uuid, id).await?;
        }
        session.add_default_scope(&v.realm, uuid, id).await?;
    }
    Ok(())
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

/// IO (Kubernetes): restarts the named workloads whose pods have not seen this checksum yet
/// (see [`super::plan::rollout`]); reads a workload only when its checksum is not known.
async fn rollout(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
    workloads: &[(WorkloadKind, String)],
    checksum: &str,
) -> Result<Vec<Change>, Error> {
    let mut changes = Vec::new();
    let (namespace, me) = (obj.namespace().unwrap_or_default(), obj.name_any());
    for (kind, name) in workloads {
        let kind_name = format!("{kind:?}");
        // What this resource last saw on the workload (another resource naming it keeps its own).
        let slot = format!("{}/{kind_name}", me);
        if ctx.rolled(&namespace, &slot, name).as_deref() == Some(checksum) {
            continue;
        }
        let found = match observe::workload_checksum(ctx, &namespace, *kind, name).await {
            Err(Error::KubeRejected { status: 403, .. }) => {
                forbidden(obj, ctx, (&kind_name, name), &slot, checksum).await;
                continue;
            }
            found => found?,
        };
        let decision = plan::rollout(found.as_ref(), checksum, &me);
        if let Rollout::Claimed(other) = &decision {
            // Another resource restarts it: reported once per content of the Secret.
            let claimed = format!("claimed:{checksum}");
            if ctx.rolled(&namespace, &slot, name).as_deref() != Some(claimed.as_str()) {
                let note = format!(
                    "{kind_name} {name:?} named in spec.secret.rollout is restarted for another resource of the namespace ({other}); left alone (one workload follows one resource)"
                );
                ctx.events
                    .publish(obj, Reason::WorkloadClaimed, &note)
                    .await;
                ctx.remember_rolled(&namespace, &slot, name, &claimed);
            }
            continue;
        }
        if decision == Rollout::Missing {
            // Not there (yet): looked for again on every pass (it may appear, and must then be
            // seen before the next change), reported once per content of the Secret.
            let missing = format!("missing:{checksum}");
            if ctx.rolled(&namespace, &slot, name).as_deref() != Some(missing.as_str()) {
                let note =
                    format!("{kind_name} {name:?} named in spec.secret.rollout does not exist");
                ctx.events
                    .publish(obj, Reason::WorkloadNotFound, &note)
                    .await;
                ctx.remember_rolled(&namespace, &slot, name, &missing);
            }
            continue;
        }
        if let Some(patch) = plan::rollout_patch(&decision, checksum, &me) {
            let params = PatchParams::default();
            let action =
                || format!("restart {kind_name} {name:?} (the chart's rollout.enabled grants it)");
            let patched = observe::workload_api(ctx, &namespace, *kind)
                .patch(name, &params, &Patch::Merge(&patch))
                .await
                .map_err(|e| Error::kube(action(), e));
            match patched {
                Err(Error::KubeRejected { status: 403, .. }) => {
                    forbidden(obj, ctx, (&kind_name, name), &slot, checksum).await;
                    continue;
                }
                patched => patched?,
            };
        }
        if decision == Rollout::Roll {
            changes.push(Change::WorkloadRestarted {
                kind: kind_name.clone(),
                name: name.clone(),
            });
        }
        ctx.remember_rolled(&namespace, &slot, name, checksum);
    }
    Ok(changes)
}

/// The operator may not read or patch a workload (the chart's `rollout.enabled` is off): the
/// client and the Secret are delivered all the same, and a Warning says what enables restarts,
/// once per content of the Secret.
async fn forbidden(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
    (kind_name, name): (&str, &str),
    slot: &str,
    checksum: &str,
) {
    let marker = format!("forbidden:{checksum}");
    if ctx
        .rolled(&obj.namespace().unwrap_or_default(), slot, name)
        .as_deref()
        == Some(marker.as_str())
    {
        return;
    }
    let note = format!(
        "may not restart {kind_name} {name:?} named in spec.secret.rollout: the operator's role does not grant it (install the chart with rollout.enabled=true); the client and the Secret are up to date"
    );
    ctx.events
        .publish(obj, Reason::WorkloadRestartForbidden, &note)
        .await;
    ctx.remember_rolled(&obj.namespace().unwrap_or_default(), slot, name, &marker);
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
