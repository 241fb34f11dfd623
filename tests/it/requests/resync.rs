//! A resync of a converged resource asks the API server nothing: what it needs of Kubernetes
//! is in the watch caches once they have listed the namespace.

use super::*;

#[tokio::test]
async fn a_converged_resource_with_a_values_config_map_reads_nothing_at_a_resync() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, |o| {
        finalized(o);
        merge_spec(
            o,
            json!({"openmetadata": {"valuesConfigMap": {"name": "openmetadata-values"}}}),
        );
    });
    let (ctx, api) = setup(&obj, true).await;
    reconcile(guard(&obj), ctx.clone()).await.unwrap();
    let values = api
        .get("v1/configmaps", NS, "openmetadata-values")
        .expect("written");
    ctx.config_maps
        .insert(serde_json::from_value(values).unwrap());
    let secret = api.get("v1/secrets", NS, "oidc-secrets").unwrap();
    ctx.output_secrets
        .insert(serde_json::from_value(secret).unwrap());
    // As the watch shows it next: with the status written (the fake gives stored objects
    // uids of its own, so the rest is the resource's).
    let mut obj = obj;
    obj.status =
        serde_json::from_value(api.get(CRS, NS, "openmetadata").unwrap()["status"].take()).unwrap();

    let from = api.requests().len();
    reconcile(guard(&obj), ctx).await.unwrap();
    assert_eq!(calls(&api, from), Vec::<String>::new());
}
