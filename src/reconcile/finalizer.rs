//! The finalizer that guards cleanup in Keycloak, added and removed with JSON patches that
//! test the current list first (so a concurrent edit makes the patch fail instead of losing
//! another controller's finalizer). Added in the same reconcile that creates the client: a
//! fresh resource costs one reconcile, not two.

use kube::{
    Api, ResourceExt,
    api::{ApiResource, DynamicObject, Patch, PatchParams},
    core::ObjectMeta,
};
use serde_json::{Value, json};

use super::Error;
use crate::{
    context::Context,
    crd::{FINALIZER, OpenMetadataKeycloakClient},
};

/// Whether the resource carries this operator's finalizer.
pub fn has(meta: &ObjectMeta) -> bool {
    meta.finalizers.iter().flatten().any(|f| f == FINALIZER)
}

/// The resources as dynamic objects: the answer parses whatever the spec holds.
fn api(meta: &ObjectMeta, ctx: &Context) -> Api<DynamicObject> {
    Api::namespaced_with(
        ctx.client.clone(),
        meta.namespace.as_deref().unwrap_or_default(),
        &ApiResource::erase::<OpenMetadataKeycloakClient>(&()),
    )
}

/// The JSON patch that adds the finalizer to a resource whose finalizers are `current`.
pub fn add_patch(current: Option<&Vec<String>>) -> Value {
    match current {
        None => json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}
        ]),
        Some(current) => json!([
            {"op": "test", "path": "/metadata/finalizers", "value": current},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER}
        ]),
    }
}

/// The JSON patch that removes the finalizer, if `current` holds it.
fn remove_patch(current: Option<&Vec<String>>) -> Option<Value> {
    let index = current?.iter().position(|f| f == FINALIZER)?;
    Some(json!([
        {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": FINALIZER},
        {"op": "remove", "path": format!("/metadata/finalizers/{index}")}
    ]))
}

async fn patch(api: &Api<DynamicObject>, name: &str, patch: Value) -> Result<(), kube::Error> {
    let patch: json_patch::Patch = serde_json::from_value(patch).expect("a valid JSON patch");
    api.patch::<()>(name, &PatchParams::default(), &Patch::Json(patch))
        .await
        .map(drop)
}

/// Whether the API server refused a patch because its `test` failed: the copy the patch was
/// made from is older than the object (a cache that has not seen the last write yet, often
/// this operator's own finalizer). Never the user's fault.
fn stale(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 422 || s.code == 409)
}

/// IO: adds the finalizer. When the copy at hand is stale, reads the resource and patches
/// from what it holds (nothing to do if the finalizer is there already).
pub async fn add(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<(), Error> {
    const ACTION: &str = "add the finalizer";
    let api = api(&obj.metadata, ctx);
    let name = obj.name_any();
    match patch(&api, &name, add_patch(obj.metadata.finalizers.as_ref())).await {
        Ok(()) => return Ok(()),
        Err(e) if stale(&e) => {}
        Err(e) => return Err(Error::kube(ACTION, e)),
    }
    let fresh = api
        .get(&name)
        .await
        .map_err(|e| Error::kube("read the resource", e))?;
    if has(&fresh.metadata) {
        return Ok(());
    }
    patch(&api, &name, add_patch(fresh.metadata.finalizers.as_ref()))
        .await
        .map_err(|e| Error::kube_retried(ACTION, e))
}

/// IO: removes the finalizer (nothing to do if it is gone already). Works from the metadata
/// alone: a resource whose spec no longer parses can still be deleted. When the copy at hand is
/// stale, reads the resource and patches from what it holds.
pub async fn remove(meta: &ObjectMeta, ctx: &Context) -> Result<(), Error> {
    const ACTION: &str = "remove the finalizer";
    let Some(first) = remove_patch(meta.finalizers.as_ref()) else {
        return Ok(());
    };
    let api = api(meta, ctx);
    let name = meta.name.as_deref().unwrap_or_default();
    match patch(&api, name, first).await {
        Ok(()) => return Ok(()),
        // Gone already: the object was deleted once every finalizer was released.
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(e) if stale(&e) => {}
        Err(e) => return Err(Error::kube(ACTION, e)),
    }
    let fresh = match api.get(name).await {
        Ok(fresh) => fresh,
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(e) => return Err(Error::kube("read the resource", e)),
    };
    let Some(second) = remove_patch(fresh.metadata.finalizers.as_ref()) else {
        return Ok(());
    };
    match patch(&api, name, second).await {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::kube_retried(ACTION, e)),
    }
}
