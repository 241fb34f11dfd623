//! One converged resync period, measured: every resource resynced once, and a newcomer that
//! must not wait behind the resyncs.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{
    CRS, Options, by_method,
    claims::Claims,
    metric, metrics_text, steps,
    support::{
        self,
        apiserver::{ApiServer, Request},
        emulator::Emulator,
    },
};

/// Waits for the first round of resyncs after convergence, measures it, and prints the counts.
pub async fn one_period(
    o: &Options,
    api: &ApiServer,
    emu: &Emulator,
    base: &str,
    leading_since: Instant,
    claims: &mut Claims,
) {
    let n = o.resources;
    let namespace = |i: usize| format!("team-{}", i % o.namespaces);
    // The leader election's Lease writes are counted apart.
    let is_write = |r: &Request| r.method != "GET" && !r.path.contains("/leases");
    // One converged resync period: every resource is resynced once. A round starts every
    // period from the moment the operator leads and resyncs one resource every `period / n`
    // (`src/controller/resync.rs`). The counts are taken in the quiet before a round; the
    // round's first resync is then seen as the operator starts it, and the window is the
    // period from half a gap before it: that round's n resyncs and none of the next, however
    // late the controllers started after the leader gauge went up. (Its end must fall in the
    // quiet half gap before the next round, reading the operator's metrics included.)
    let period = omkc::cli::parse_duration(&o.resync).unwrap();
    let gap = period / n as u32;
    let mut round = leading_since + period;
    while round < Instant::now() + Duration::from_millis(300) {
        round += period;
    }
    tokio::time::sleep_until((round - Duration::from_millis(200)).into()).await;
    emu.clear_log();
    let writes_before = api.requests().iter().filter(|r| is_write(r)).count();
    let lease_writes_before = api
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && r.path.contains("/leases"))
        .count();
    // Reconciles counted as they start (a queue wait is observed once a reconcile), not as
    // they end: the last of a round may end after the window.
    const STARTED: &str = "omkc_reconcile_queue_wait_seconds_count";
    let reconciles_before = metric(base, STARTED).await;
    let metrics_before = metrics_text(base).await;
    // The round's first resync, seen in the same count as the window's end is read from (a
    // read of the operator's metrics, every 2 ms, timed when asked: rendering the metrics of
    // many resources takes the operator milliseconds).
    let window = loop {
        let asked = Instant::now();
        if metric(base, STARTED).await > reconciles_before {
            break asked - gap / 2;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep_until((window + period / 2).into()).await;
    // Half-way, a new resource arrives: it must not wait behind the resyncs.
    let newcomer = Instant::now();
    api.put(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "newcomer", "namespace": namespace(0)},
        "spec": {
            "keycloak": {"url": emu.base_url, "realm": "data-sec", "credentialsSecretRef": {"name": "keycloak-admin"}},
            "openmetadata": {"url": "https://newcomer.example.com"},
            "client": {"clientId": "newcomer"},
            "secret": {"name": "newcomer-oidc"}
        }
    }));
    let (newcomer_ready, newcomer_uuid) = loop {
        let obj = api.get(CRS, &namespace(0), "newcomer").unwrap();
        if obj["status"]["conditions"][0]["status"] == "True" {
            let uuid = obj["status"]["clientUuid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            break (newcomer.elapsed(), uuid);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep_until((window + period).into()).await;
    // Less the newcomer's one reconcile.
    let reconciles = metric(base, STARTED).await - reconciles_before - 1.0;
    // The emulator logs a request once it has answered it: the round's last ones come in
    // within its latency (the next round's first, later still).
    tokio::time::sleep(o.latency).await;
    // The newcomer's own requests are not the resync's.
    let resync: Vec<String> = emu
        .log()
        .iter()
        .filter(|e| e.path.starts_with("/admin/"))
        .filter(|e| {
            !e.query.contains("clientId=newcomer")
                && !e.path.contains(&newcomer_uuid)
                && !e.body.as_ref().is_some_and(|b| b["clientId"] == "newcomer")
        })
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    let mentions_newcomer = |r: &support::apiserver::Request| {
        r.path.contains("newcomer")
            || r.body
                .as_ref()
                .is_some_and(|b| b.to_string().contains("newcomer"))
    };
    let writes: Vec<String> = api
        .requests()
        .iter()
        .filter(|r| is_write(r))
        .skip(writes_before)
        .filter(|r| !mentions_newcomer(r))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let per = |count: f64| count / n as f64;
    claims.count("resync: reconciles per resource", per(reconciles), 1.0);
    claims.count(
        "resync: Keycloak requests per resource",
        per(resync.len() as f64),
        1.0,
    );
    let gets = resync.iter().filter(|c| c.starts_with("GET ")).count();
    claims.count("resync: Keycloak GETs per resource", per(gets as f64), 1.0);
    claims.count("resync: Kubernetes writes", writes.len() as f64, 0.0);
    // The newcomer's create is the only one.
    claims.count(
        "resync: Keycloak writes",
        emu.admin_events().len() as f64,
        1.0,
    );
    println!("\none converged resync period ({})", o.resync);
    println!("  reconciles per resource  {:.2}", reconciles / n as f64);
    println!("  Keycloak requests/res.   {}", by_method(&resync, n));
    println!(
        "  Keycloak writes          {} (the newcomer's create only)",
        emu.admin_events().len()
    );
    println!(
        "  Kubernetes writes/res.   {} ({} writes, Events included)",
        writes.len() as f64 / n as f64,
        writes.len()
    );
    println!("  token requests           {}", emu.token_requests());
    let lease_writes = api
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && r.path.contains("/leases"))
        .count()
        - lease_writes_before;
    println!(
        "  Lease renewals           {lease_writes} (leader election, per period, not per resource)"
    );
    println!(
        "  a new resource created half-way was Ready after {:.0} ms",
        newcomer_ready.as_secs_f64() * 1000.0
    );
    println!("  steps (count per resource, latency):");
    println!(
        "{}",
        steps::table(&metrics_before, &metrics_text(base).await, n)
    );
}
