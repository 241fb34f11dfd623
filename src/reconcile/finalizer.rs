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

/// The JSON patch that adds the finalizer.
pub fn add_patch(obj: &OpenMetadataKeycloakClient) -> Value {
    match &obj.metadata.finalizers {
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

/// IO: adds the finalizer.
pub async fn add(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<(), Error> {
    let patch: json_patch::Patch =
        serde_json::from_value(add_patch(obj)).expect("a valid JSON patch");
    api(&obj.metadata, ctx)
        .patch::<()>(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Json(patch),
        )
        .await
        .map(drop)
        .map_err(|e| Error::kube("add the finalizer", e))
}

/// IO: removes the finalizer (nothing to do if it is gone already). Works from the metadata
/// alone: a resource whose spec no longer parses can still be deleted.
pub async fn remove(meta: &ObjectMeta, ctx: &Context) -> Result<(), Error> {
    let Some(index) = meta
        .finalizers
        .iter()
        .flatten()
        .position(|f| f == FINALIZER)
    else {
        return Ok(());
    };
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": FINALIZER},
        {"op": "remove", "path": format!("/metadata/finalizers/{index}")}
    ]))
    .expect("a valid JSON patch");
    let name = meta.name.as_deref().unwrap_or_default();
    match api(meta, ctx)
        .patch::<()>(name, &PatchParams::default(), &Patch::Json(patch))
        .await
    {
        Ok(_) => Ok(()),
        // Gone already: the object was deleted once every finalizer was released.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::kube("remove the finalizer", e)),
    }
}
