//! Workers are shared fairly between namespaces: a tenant whose resources point at a Keycloak
//! that answers late (or never) holds at most its share of the workers, and another tenant's new
//! resource is reconciled at once, not after the slow tenant's requests time out.

use std::time::{Duration, Instant};

use omkc::{Context, Settings};
use serde_json::json;

use crate::support::{
    admin_credentials, apiserver::ApiServer, emulator::Emulator, eventually, operator, until,
};

const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";

fn resource(namespace: &str, name: &str, emu: &Emulator) -> serde_json::Value {
    json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "keycloak": {"url": emu.base_url, "realm": "data-sec",
                         "credentialsSecretRef": {"name": "keycloak-admin"}},
            "openmetadata": {"url": format!("https://{name}.example.com")},
            "client": {"clientId": name},
            "secret": {"name": format!("{name}-oidc")}
        }
    })
}

#[tokio::test]
async fn a_slow_tenant_cannot_starve_another() {
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    // Team slow's Keycloak answers after a minute; team fast's at once.
    let slow = Emulator::start().await;
    slow.set_latency(Duration::from_secs(60));
    let fast = Emulator::start().await;
    let settings = Settings {
        operator_namespace: "omkc-system".into(),
        namespace_share: 1,
        ..Settings::default()
    };
    let (ctx, run) = operator(&api, settings, 4);
    for namespace in ["team-slow", "team-fast"] {
        api.put(admin_credentials(namespace));
    }
    for i in 0..8 {
        api.put(resource("team-slow", &format!("slow-{i}"), &slow));
    }
    // Team slow holds every worker it may (3 of 4, all waiting on its Keycloak), and more of
    // its resources are put back rather than given the last one.
    until(&api, "team slow's reconciles to be held back", || {
        deferred(&ctx) > 0
    })
    .await;
    let started = Instant::now();
    api.put(resource("team-fast", "fast", &fast));
    eventually(&api, "team fast's resource Ready", || async {
        let obj = api.get(CRS, "team-fast", "fast")?;
        (obj["status"]["conditions"][0]["status"] == "True").then_some(())
    })
    .await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "Ready after {took:?}");
    let slow_ready = api
        .list(CRS, "team-slow")
        .iter()
        .filter(|o| o["status"]["conditions"][0]["status"] == "True")
        .count();
    assert_eq!(slow_ready, 0, "team slow's Keycloak has not answered yet");
    run.abort();
}

fn deferred(ctx: &Context) -> u64 {
    ctx.metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix("omkc_reconciles_deferred_total "))
        .map_or(0, |n| n.parse().unwrap())
}
