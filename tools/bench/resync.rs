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

/// Sleeps until 200 ms before the next round of resyncs that starts 300 ms from now or later: a
/// round starts every `period` from the moment the operator leads (`src/controller/resync.rs`).
pub async fn before_next_round(period: Duration, leading_since: Instant) {
    let mut round = leading_since + period;
    while round < Instant::now() + Duration::from_millis(300) {
        round += period;
    }
    tokio::time::sleep_until((round - Duration::from_millis(200)).into()).await;
}

/// The start of a round's window: half a `gap` between resyncs before its first resync, the
/// instant the emulator answered the round's first Keycloak request less its `latency`.
pub async fn window_start(emu: &Emulator, latency: Duration, gap: Duration) -> Instant {
    loop {
        if let Some(first) = emu.log().iter().find(|e| e.path.starts_with("/admin/")) {
            return first.at - latency - gap / 2;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The Admin API requests of `log` whose resync started before `end`.
pub fn in_round(
    log: &[support::emulator::Exchange],
    end: Instant,
    latency: Duration,
) -> impl Iterator<Item = &support::emulator::Exchange> {
    log.iter()
        .filter(move |e| e.path.starts_with("/admin/") && e.at - latency < end)
}

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
    // window is then the period from half a gap before the round's first resync, so that it
    // holds that round's n resyncs and none of the next, however late the controllers started
    // after the leader gauge went up. Every instant is the one a resync starts at: a Keycloak
    // request's is when the emulator answered it less its latency, never when the benchmark
    // got round to reading a count (a read of the operator's metrics takes milliseconds).
    let period = omkc::cli::parse_duration(&o.resync).unwrap();
    let gap = period / n as u32;
    before_next_round(period, leading_since).await;
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
    let window = window_start(emu, o.latency, gap).await;
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
    // The reconciles started in the window: read at its end, half-way between the round's last
    // resync and the next round's first (a read takes a millisecond or two).
    tokio::time::sleep_until((window + period).into()).await;
    let read_at = Instant::now();
    // Less the newcomer's one reconcile.
    let reconciles = metric(base, STARTED).await - reconciles_before - 1.0;
    let read_in = read_at.elapsed();
    // The emulator logs a request once it has answered it: the round's last ones come in
    // within its latency (the next round's first, later still).
    tokio::time::sleep(o.latency + gap).await;
    // The newcomer's own requests are not the resync's.
    let log = emu.log();
    let exchanges: Vec<_> = in_round(&log, window + period, o.latency)
        .filter(|e| {
            !e.query.contains("clientId=newcomer")
                && !e.path.contains(&newcomer_uuid)
                && !e.body.as_ref().is_some_and(|b| b["clientId"] == "newcomer")
        })
        .collect();
    let resync: Vec<String> = exchanges
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    if resync.len() != n || reconciles != n as f64 {
        // What a differing count needs to be understood: when the round's last requests and
        // the next round's first were answered, when the count was read, which resources the
        // window saw twice (ms into the window).
        let ms = |t: Instant| {
            t.saturating_duration_since(window).as_millis() as i128
                - window.saturating_duration_since(t).as_millis() as i128
        };
        let mut times: Vec<i128> = (log.iter())
            .filter(|e| e.path.starts_with("/admin/"))
            .map(|e| ms(e.at))
            .collect();
        times.sort();
        let end = times.partition_point(|t| *t < (period + o.latency).as_millis() as i128);
        let (last, next) = (&times[end.saturating_sub(3)..end], &times[end..]);
        let next = &next[..next.len().min(3)];
        println!("  answered around the end (ms): {last:?} | {next:?}");
        println!("  the count read at {} ms, in {read_in:?}", ms(read_at));
        let mut seen: std::collections::BTreeMap<&str, Vec<i128>> = Default::default();
        for e in &exchanges {
            seen.entry(e.path.as_str()).or_default().push(ms(e.at));
        }
        seen.retain(|_, at| at.len() > 1);
        println!("  requests of one resource more than once: {seen:?}");
    }
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
