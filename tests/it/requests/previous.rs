//! A Secret the resource made under its previous name is deleted, as its plan says: gone
//! already counts as deleted; a deletion the API server refuses fails the reconcile.

use super::*;

/// A converged resource whose watch still shows `oidc-secrets-old`, a Secret it made under a
/// previous name (returned, for the API server to hold or not).
async fn with_previous(
    emu: &Emulator,
) -> (Arc<Context>, ApiServer, OpenMetadataKeycloakClient, Value) {
    let (ctx, api) = setup(&resource(&emu.base_url, finalized), true).await;
    let obj = converged(emu, &ctx, &api).await;
    let mut old = api.get("v1/secrets", NS, "oidc-secrets").unwrap();
    old["metadata"]["name"] = json!("oidc-secrets-old");
    ctx.output_secrets
        .insert(serde_json::from_value(old.clone()).unwrap());
    (ctx, api, obj, old)
}

#[tokio::test]
async fn a_previous_secret_already_gone_counts_as_deleted() {
    let emu = Emulator::start().await;
    let (ctx, api, obj, _) = with_previous(&emu).await;
    reconcile(guard(&obj), ctx).await.unwrap();
    let calls = calls(&api, 0);
    assert_eq!(calls[0], format!("DELETE {SECRETS_PATH}/oidc-secrets-old"));
    assert!(
        !calls.contains(&format!("PATCH {STATUS_PATH}")),
        "no failure to report: {calls:?}"
    );
}

#[tokio::test]
async fn a_previous_secret_the_api_server_will_not_delete_fails_the_reconcile() {
    let emu = Emulator::start().await;
    let (ctx, api, obj, old) = with_previous(&emu).await;
    api.put(old);
    api.fail_writes("v1/secrets", true);
    let err = reconcile(guard(&obj), ctx).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("oidc-secrets-old"), "{err}");
    assert!(api.get("v1/secrets", NS, "oidc-secrets-old").is_some());
}

#[tokio::test]
async fn a_client_recreated_in_the_same_reconcile_still_removes_the_previous_secret_once() {
    let emu = Emulator::start().await;
    let (ctx, api, obj, old) = with_previous(&emu).await;
    api.put(old);
    // The client was deleted in Keycloak by hand: the first pass creates it and reads it
    // back, with nothing yet for Kubernetes; the second writes the Secret and removes the old.
    let session = admin_session(&emu);
    let uuid = obj.status.as_ref().unwrap().client_uuid.clone().unwrap();
    session.delete_client("data-sec", &uuid).await.unwrap();
    reconcile(guard(&obj), ctx).await.unwrap();
    let deletes: Vec<String> = calls(&api, 0)
        .into_iter()
        .filter(|c| c.starts_with("DELETE"))
        .collect();
    assert_eq!(deletes, [format!("DELETE {SECRETS_PATH}/oidc-secrets-old")]);
    assert!(api.get("v1/secrets", NS, "oidc-secrets-old").is_none());
    assert!(
        emu.client("data-sec", "openmetadata").is_some(),
        "made again"
    );
}
