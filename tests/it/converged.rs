//! A converged resource is silent: reconciled again and again by the real controller loop, it
//! makes no write to Keycloak (no admin event) and none to Kubernetes, and records no Event; a
//! restarted operator reconciles it once.

use std::time::Duration;

use omkc::{Context, Settings};
use serde_json::json;

use crate::support::{
    Logs, apiserver::ApiServer, condition, emulator::Emulator, eventually, operator, until,
};

const NS: &str = "openmetadata";
const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";

fn is_write(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}

/// A resource, once Ready.
async fn ready_resource(api: &ApiServer, emu: &Emulator) {
    api.put(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "openmetadata", "namespace": NS},
        "spec": {
            "keycloak": {"url": emu.base_url, "realm": "data-sec", "credentialsSecretRef": {"name": "keycloak-admin"}},
            "openmetadata": {"url": "https://openmetadata.example.com"}
        }
    }));
    condition(api, CRS, NS, "openmetadata", "Reconciled").await;
}

async fn world() -> (ApiServer, Emulator) {
    crate::support::world(NS).await
}

#[tokio::test]
async fn a_converged_resource_makes_no_write_anywhere_across_many_resyncs() {
    let (api, emu) = world().await;
    let resync = Duration::from_millis(300);
    let settings = Settings {
        resync,
        ..Settings::default()
    };
    let (_, run) = operator(&api, settings, 4);
    ready_resource(&api, &emu).await;
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

/// `omkc_reconcile_duration_seconds_count`: the reconciles an operator has run.
fn reconciles(ctx: &Context) -> f64 {
    ctx.metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix("omkc_reconcile_duration_seconds_count "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_restarted_operator_reconciles_each_resource_once_after_every_watch_has_listed() {
    let (api, emu) = world().await;
    let settings = Settings {
        resync: Duration::from_secs(300),
        ..Settings::default()
    };
    let (_, first) = operator(&api, settings.clone(), 4);
    ready_resource(&api, &emu).await;
    first.abort();

    // The next operator's Secret lists answer late, as on a busy API server. Its resources wait
    // for them: the watches' first lists, the output Secret's and the credentials' included,
    // bring nothing a reconcile has not seen.
    api.delay_lists("v1/secrets", Duration::from_millis(500));
    let before = api.requests().len();
    let (ctx, second) = operator(&api, settings, 4);
    until(&api, "a reconcile", || reconciles(&ctx) >= 1.0).await;
    // The three Secret lists (outputs, sources, credentials) answered, and a moment to act on them.
    until(&api, "the Secret lists", || secret_lists(&api, before) >= 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reconciles(&ctx), 1.0, "{}", ctx.metrics.render());
    let reads: Vec<String> = api.requests()[before..]
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/secrets/oidc-secrets"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        reads,
        Vec::<String>::new(),
        "the output Secret came from the watch"
    );
    second.abort();
}

#[tokio::test]
async fn a_watch_the_operator_may_not_list_does_not_hold_the_resources_back() {
    let (api, emu) = world().await;
    // RBAC without the namespaces: that watch fails its first list, and keeps failing.
    api.forbid("v1/namespaces");
    let (logs, _logging) = Logs::capture();
    let (_, run) = operator(&api, Settings::default(), 4);
    // Its first failed list. kube's controller, told of it, would pause every trigger for 0.8 s
    // or more (its backoff, doubling with each error of any watch until a trigger gets through).
    eventually(&api, "a failed list of the namespaces", || async {
        (api.requests().iter())
            .any(|r| r.path == "/api/v1/namespaces" && !r.query.contains("watch="))
            .then_some(())
    })
    .await;
    let created = std::time::Instant::now();
    ready_resource(&api, &emu).await;
    // About 50 ms here when nothing holds it back.
    let took = created.elapsed();
    assert!(took < Duration::from_millis(500), "Ready after {took:?}");
    // Kept from the controller, the watch's failure is still told.
    let logs = logs.text();
    assert!(
        (logs.lines()).any(|l| l.contains("WARN")
            && l.contains("watch failed, retrying")
            && l.contains("kind=\"Namespace\"")
            && l.contains("403")),
        "{logs}"
    );
    run.abort();
}

/// The lists of Secrets (not their watches) since request `since`.
fn secret_lists(api: &ApiServer, since: usize) -> usize {
    (api.requests()[since..].iter())
        .filter(|r| r.method == "GET" && r.path == "/api/v1/secrets" && !r.query.contains("watch="))
        .count()
}

#[tokio::test]
async fn a_lost_watch_lists_again_and_brings_back_only_what_changed_meanwhile() {
    let (api, emu) = world().await;
    let settings = Settings {
        resync: Duration::from_secs(300),
        ..Settings::default()
    };
    let (ctx, run) = operator(&api, settings, 4);
    ready_resource(&api, &emu).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = reconciles(&ctx);

    // The Secrets' watch history is lost (an API server restart): the three Secret watches list
    // again, and find every Secret as it was.
    let before = api.requests().len();
    api.compact("v1/secrets");
    until(&api, "the Secrets listed again", || {
        secret_lists(&api, before) >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reconciles(&ctx), settled, "nothing changed, nothing to do");

    // Lost again, and the credentials Secret deleted before the watches are back: only the
    // list can tell, and the resource using it learns at once, not at its next resync.
    let before = api.requests().len();
    api.compact("v1/secrets");
    api.delete("v1/secrets", NS, "keycloak-admin");
    condition(&api, CRS, NS, "openmetadata", "CredentialsNotFound").await;
    assert!(secret_lists(&api, before) >= 1, "learnt from a list");
    run.abort();
}
