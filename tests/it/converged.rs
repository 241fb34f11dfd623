//! A converged resource is silent: reconciled again and again by the real controller loop, it
//! makes no write to Keycloak (no admin event) and none to Kubernetes, and records no Event.

use std::{sync::Arc, time::Duration};

use omkc::{Context, Settings, controller::run_scope, telemetry::Health};
use serde_json::json;

use crate::support::{apiserver::ApiServer, emulator::Emulator, eventually};

const NS: &str = "openmetadata";
const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";

fn is_write(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}

#[tokio::test]
async fn a_converged_resource_makes_no_write_anywhere_across_many_resyncs() {
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    let emu = Emulator::start().await;
    api.put(crate::support::admin_credentials(NS));
    let resync = Duration::from_millis(300);
    let settings = Settings {
        resync,
        ..Settings::default()
    };
    let ctx = Arc::new(Context::new(api.client(), settings));
    let health = Arc::new(Health::new(1));
    let run = tokio::spawn(run_scope(api.client(), None, ctx, 4, health, 0));
    api.put(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "openmetadata", "namespace": NS},
        "spec": {
            "keycloak": {"url": emu.base_url, "realm": "data-sec", "credentialsSecretRef": {"name": "keycloak-admin"}},
            "openmetadata": {"url": "https://openmetadata.example.com"}
        }
    }));
    eventually(&api, "Ready=True", || async {
        let obj = api.get(CRS, NS, "openmetadata")?;
        (obj["status"]["conditions"][0]["status"] == "True").then_some(())
    })
    .await;
    // Let the first reconciles settle, then watch many resync periods go by.
    tokio::time::sleep(resync * 3).await;
    let writes_before = api
        .requests()
        .iter()
        .filter(|r| is_write(&r.method))
        .count();
    let events_before = api.list("events.k8s.io/v1/events", NS).len();
    emu.clear_log();

    tokio::time::sleep(resync * 10).await;

    let reads = emu.admin_calls();
    assert!(
        reads.len() >= 5,
        "the resource was reconciled again: {reads:?}"
    );
    assert_eq!(emu.admin_events(), [], "no write reached Keycloak");
    assert!(reads.iter().all(|c| c.starts_with("GET ")), "{reads:?}");
    let writes: Vec<String> = api
        .requests()
        .iter()
        .filter(|r| is_write(&r.method))
        .skip(writes_before)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(writes, Vec::<String>::new(), "no write reached Kubernetes");
    assert_eq!(
        api.list("events.k8s.io/v1/events", NS).len(),
        events_before,
        "no Event was recorded"
    );
    run.abort();
}
