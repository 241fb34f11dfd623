//! The finalizer that guards cleanup in Keycloak, added and removed with JSON patches that
//! test the current list first (so a concurrent edit makes the patch fail instead of losing
//! another controller's finalizer). Added in the same reconcile that creates the client: a
//! fresh resource costs one reconcile, not two.

use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

use super::Error;
use crate::{
    context::Context,
    crd::{FINALIZER, OpenMetadataKeycloakClient},
};

/// Whether the resource carries this operator's finalizer.
pub fn has(obj: &OpenMetadataKeycloakClient) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

fn api(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Api<OpenMetadataKeycloakClient> {
    Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default())
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
    api(obj, ctx)
        .patch::<OpenMetadataKeycloakClient>(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Json(patch),
        )
        .await
        .map(drop)
        .map_err(|e| Error::kube("add the finalizer", e))
}

/// IO: removes the finalizer (nothing to do if it is gone already).
pub async fn remove(obj: &OpenMetadataKeycloakClient, ctx: &Context) -> Result<(), Error> {
    let Some(index) = obj.finalizers().iter().position(|f| f == FINALIZER) else {
        return Ok(());
    };
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": FINALIZER},
        {"op": "remove", "path": format!("/metadata/finalizers/{index}")}
    ]))
    .expect("a valid JSON patch");
    match api(obj, ctx)
        .patch::<OpenMetadataKeycloakClient>(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Json(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Gone already: the object was deleted once every finalizer was released.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::kube("remove the finalizer", e)),
    }
}
