//! Apply step: the only writes, to Keycloak and to Kubernetes, each executing what
//! [`super::plan::plan`] decided.

use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::{
    Error,
    plan::{KeycloakAction, Outputs, SecretWrite, owned_by},
};
use crate::{
    context::Context,
    crd::{OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus},
    keycloak::{KeycloakError, Session},
    names::OPERATOR_NAME,
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
                written = Some(uuid.clone());
            }
            KeycloakAction::AddScopes { uuid, names } => {
                add_scopes(session, v, uuid, names).await?;
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

/// Adds default client scopes by name, one by one (PUT bodies ignore scopes and POST bodies
/// would replace the realm's defaults).
async fn add_scopes(
    session: &Session,
    v: &Validated,
    uuid: &str,
    names: &[String],
) -> Result<(), Error> {
    let realm_scopes = session.realm_scopes(&v.realm).await?;
    for name in names {
        let id = realm_scopes
            .iter()
            .find(|s| s.name == *name)
            .map(|s| s.id.as_str())
            .ok_or_else(|| KeycloakError::ScopeNotFound(name.clone()))?;
        session.add_default_scope(&v.realm, uuid, id).await?;
    }
    Ok(())
}

/// IO (Kubernetes): the Secret, the removals, then the status.
pub async fn outputs(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    ctx: &Context,
    outputs: Outputs,
) -> Result<(), Error> {
    if let Some(write) = outputs.secret {
        secret(v, ctx, write).await?;
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &v.namespace);
    for name in outputs.remove {
        match secrets.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(Error::kube(format!("delete previous Secret {name:?}"), e)),
        }
    }
    status(obj, ctx, outputs.status).await
}

/// Writes the output Secret: a create when it is new (refused by the API server if a Secret of
/// that name appeared meanwhile, then checked for ownership), server-side apply when it is ours.
async fn secret(v: &Validated, ctx: &Context, write: SecretWrite) -> Result<(), Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &v.namespace);
    let action = || format!("write Secret {:?}", v.secret.name);
    let wanted = match write {
        SecretWrite::Create(wanted) => {
            ctx.writing_secret(&wanted);
            match secrets.create(&PostParams::default(), &wanted).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    // It exists but the watch has not shown it: ours (not yet seen, or its
                    // label removed by hand), or someone else's.
                    let existing = secrets
                        .get(&v.secret.name)
                        .await
                        .map_err(|e| Error::kube(action(), e))?;
                    if !owned_by(&existing, &v.uid) {
                        return Err(Error::SecretConflict(v.secret.name.clone()));
                    }
                    wanted
                }
                Err(e) => return Err(Error::kube(action(), e)),
            }
        }
        SecretWrite::Apply(wanted) => wanted,
    };
    ctx.writing_secret(&wanted);
    // k8s-openapi serializes apiVersion and kind, which server-side apply needs (kube-rs#1086).
    secrets
        .patch(
            &v.secret.name,
            &PatchParams::apply(OPERATOR_NAME).force(),
            &Patch::Apply(&wanted),
        )
        .await
        .map_err(|e| Error::kube(action(), e))?;
    Ok(())
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
