//! Apply step: the only writes, to Keycloak and to Kubernetes, each executing what
//! [`super::plan::plan`] decided.

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
    dereference,
    plan::{self, KeycloakAction, Outputs, Rollout, Write, owned_by},
};
use crate::{
    context::{Context, Fingerprint},
    crd::{OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus},
    keycloak::{KeycloakError, Session},
    names::OPERATOR_NAME,
    reason::Reason,
    validate::Validated,
};

/// IO (Keycloak): executes the actions in order; returns the id of the client they wrote to.
pub async fn keycloak(
    session: &Session,
    v: &Validated,
    actions: &[KeycloakAction],
) -> Result<Option<String>, Error> {
    let mut written = None;
    for action in actions {
        match action {
            KeycloakAction::Create(body) => {
                written = Some(session.create_client(&v.realm, body).await?);
            }
            KeycloakAction::Update { uuid, body } => {
                session.update_client(&v.realm, uuid, body).await?;
                if body.authorization_services_enabled == Some(true) {
                    authorization_taken(session, v, uuid).await?;
                }
                written = Some(uuid.clone());
            }
            KeycloakAction::AddScopes {
                uuid,
                names,
                from_optional,
            } => {
                add_scopes(session, v, uuid, names, from_optional).await?;
                written = Some(uuid.clone());
            }
            KeycloakAction::RegenerateSecret { uuid } => {
                // The new value is read back with the client, like everything Keycloak holds.
                session.regenerate_secret(&v.realm, uuid).await?;
                written = Some(uuid.clone());
            }
        }
    }
    Ok(written)
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

/// IO (Kubernetes): the Secret, the ConfigMap, the removals, then the status. Returns the
/// Secret and ConfigMap as written (a following pass plans from them: the watch may not show
/// them yet).
pub async fn outputs(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    ctx: &Context,
    outputs: &Outputs,
) -> Result<(Option<Secret>, Option<ConfigMap>), Error> {
    let mut written = (None, None);
    if let Some(write) = &outputs.secret {
        written.0 = Some(owned_write(v, ctx, write, Error::SecretConflict).await?);
    }
    if let Some(write) = &outputs.config_map {
        written.1 = Some(owned_write(v, ctx, write, Error::ConfigMapConflict).await?);
    }
    remove::<Secret>(v, ctx, &outputs.remove).await?;
    remove::<ConfigMap>(v, ctx, &outputs.remove_config_maps).await?;
    status(obj, ctx, outputs.status.clone()).await?;
    Ok(written)
}

/// Deletes previous output objects of the resource (already gone is fine).
async fn remove<K>(v: &Validated, ctx: &Context, names: &[String]) -> Result<(), Error>
where
    K: Fingerprint + Clone + DeserializeOwned + std::fmt::Debug,
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &v.namespace);
    for name in names {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(Error::kube(
                    format!("delete previous {} {name:?}", K::KIND),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// Writes an object the resource owns: a create when it is new (refused by the API server if
/// one of that name appeared meanwhile, then checked for ownership, `conflict` if not ours),
/// server-side apply when it is ours.
async fn owned_write<K>(
    v: &Validated,
    ctx: &Context,
    write: &Write<K>,
    conflict: fn(String) -> Error,
) -> Result<K, Error>
where
    K: Fingerprint + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &v.namespace);
    let (wanted, create) = match write {
        Write::Create(w) => (w, true),
        Write::Apply(w) => (w, false),
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
                if !owned_by(&existing, &v.uid) {
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
pub async fn rollout(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    ctx: &Context,
    checksum: &str,
) -> Result<Vec<Change>, Error> {
    let mut changes = Vec::new();
    for (kind, name) in &v.secret.rollout {
        let kind_name = format!("{kind:?}");
        // What this resource last saw on the workload (another resource naming it keeps its own).
        let slot = format!("{}/{kind_name}", v.name);
        if ctx.rolled(&v.namespace, &slot, name).as_deref() == Some(checksum) {
            continue;
        }
        let found = match dereference::workload_checksum(ctx, &v.namespace, *kind, name).await {
            Err(Error::KubeRejected { status: 403, .. }) => {
                forbidden(obj, v, ctx, (&kind_name, name), &slot, checksum).await;
                continue;
            }
            found => found?,
        };
        let decision = plan::rollout(found.as_ref(), checksum, &v.name);
        if let Rollout::Claimed(other) = &decision {
            // Another resource restarts it: reported once per content of the Secret.
            let claimed = format!("claimed:{checksum}");
            if ctx.rolled(&v.namespace, &slot, name).as_deref() != Some(claimed.as_str()) {
                let note = format!(
                    "{kind_name} {name:?} named in spec.secret.rollout is restarted for another resource of the namespace ({other}); left alone (one workload follows one resource)"
                );
                ctx.events
                    .publish(obj, Reason::WorkloadClaimed, &note)
                    .await;
                ctx.remember_rolled(&v.namespace, &slot, name, &claimed);
            }
            continue;
        }
        if decision == Rollout::Missing {
            // Not there (yet): looked for again on every pass (it may appear, and must then be
            // seen before the next change), reported once per content of the Secret.
            let missing = format!("missing:{checksum}");
            if ctx.rolled(&v.namespace, &slot, name).as_deref() != Some(missing.as_str()) {
                let note =
                    format!("{kind_name} {name:?} named in spec.secret.rollout does not exist");
                ctx.events
                    .publish(obj, Reason::WorkloadNotFound, &note)
                    .await;
                ctx.remember_rolled(&v.namespace, &slot, name, &missing);
            }
            continue;
        }
        if let Some(patch) = plan::rollout_patch(&decision, checksum, &v.name) {
            let params = PatchParams::default();
            let action =
                || format!("restart {kind_name} {name:?} (the chart's rollout.enabled grants it)");
            let patched = dereference::workload_api(ctx, &v.namespace, *kind)
                .patch(name, &params, &Patch::Merge(&patch))
                .await
                .map_err(|e| Error::kube(action(), e));
            match patched {
                Err(Error::KubeRejected { status: 403, .. }) => {
                    forbidden(obj, v, ctx, (&kind_name, name), &slot, checksum).await;
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
        ctx.remember_rolled(&v.namespace, &slot, name, checksum);
    }
    Ok(changes)
}

/// The operator may not read or patch a workload (the chart's `rollout.enabled` is off): the
/// client and the Secret are delivered all the same, and a Warning says what enables restarts,
/// once per content of the Secret.
async fn forbidden(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    ctx: &Context,
    (kind_name, name): (&str, &str),
    slot: &str,
    checksum: &str,
) {
    let marker = format!("forbidden:{checksum}");
    if ctx.rolled(&v.namespace, slot, name).as_deref() == Some(marker.as_str()) {
        return;
    }
    let note = format!(
        "may not restart {kind_name} {name:?} named in spec.secret.rollout: the operator's role does not grant it (install the chart with rollout.enabled=true); the client and the Secret are up to date"
    );
    ctx.events
        .publish(obj, Reason::WorkloadRestartForbidden, &note)
        .await;
    ctx.remember_rolled(&v.namespace, slot, name, &marker);
}

/// IO (Kubernetes): patches the status subresource, if there is a status to write.
pub async fn status(
    obj: &OpenMetadataKeycloakClient,
    ctx: &Context,
    status: Option<OpenMetadataKeycloakClientStatus>,
) -> Result<(), Error> {
    let Some(status) = status else {
        return Ok(());
    };
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
