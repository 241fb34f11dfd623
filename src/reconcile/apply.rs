//! Apply step: the only writes, to Keycloak and to Kubernetes, each executing what a
//! [`super::plan`] function decided.

use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
};
use serde_json::json;

use super::{
    Error,
    change::Change,
    plan::{self, ClientAction, SecretPlan},
};
use crate::{
    context::Context,
    crd::{OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus},
    keycloak::{KeycloakError, Session},
    names::OPERATOR_NAME,
    validate::Validated,
};

/// IO (Keycloak): executes the client action; returns the client's internal id.
pub async fn client(
    session: &Session,
    v: &Validated,
    action: &ClientAction,
) -> Result<String, Error> {
    Ok(match action {
        ClientAction::Create(body) => session.create_client(&v.realm, body).await?,
        ClientAction::Update { uuid, body, .. } => {
            session.update_client(&v.realm, uuid, body).await?;
            uuid.clone()
        }
        ClientAction::Keep { uuid } => uuid.clone(),
    })
}

/// IO (Keycloak): adds default client scopes by name, one by one (PUT bodies ignore scopes and
/// POST bodies would replace the realm's defaults).
pub async fn add_scopes(
    session: &Session,
    v: &Validated,
    uuid: &str,
    names: &[String],
) -> Result<(), Error> {
    if names.is_empty() {
        return Ok(());
    }
    let realm_scopes = session.realm_scopes(&v.realm).await?;
    for name in names {
        let id = realm_scopes
            .iter()
            .find(|s| s.name.as_deref() == Some(name.as_str()))
            .and_then(|s| s.id.as_deref())
            .ok_or_else(|| KeycloakError::ScopeNotFound(name.clone()))?;
        session.add_default_scope(&v.realm, uuid, id).await?;
    }
    Ok(())
}

/// IO (Kubernetes): writes the output Secret with server-side apply and removes a previous
/// output Secret this resource owns (after a rename). Returns the changes made.
pub async fn secret(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    ctx: &Context,
    planned: SecretPlan,
) -> Result<Vec<Change>, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &v.namespace);
    // k8s-openapi serializes apiVersion and kind, which server-side apply needs (kube-rs#1086).
    secrets
        .patch(
            &v.secret.name,
            &PatchParams::apply(OPERATOR_NAME).force(),
            &Patch::Apply(&planned.apply),
        )
        .await
        .map_err(Error::Kube)?;
    let mut changes: Vec<Change> = planned.change.into_iter().collect();
    if let Some(old) = planned.remove_previous
        && let Some(old_secret) = secrets.get_opt(&old).await.map_err(Error::Kube)?
        && plan::owned_by(&old_secret, obj)
    {
        secrets
            .delete(&old, &DeleteParams::default())
            .await
            .map_err(Error::Kube)?;
        changes.push(Change::SecretRemoved { name: old });
    }
    Ok(changes)
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
    .map_err(Error::Kube)?;
    Ok(())
}
