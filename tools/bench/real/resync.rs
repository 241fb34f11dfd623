//! One converged resync period on the real API server: every resource resynced once, with one
//! Keycloak GET and no Kubernetes write, by the API server's audit log.

use std::{path::Path, time::Instant};

use super::counts::{kubernetes_writes, metered_writes};
use crate::{
    Options, by_method,
    claims::Claims,
    metric, metrics_text,
    resync::{before_next_round, in_round, window_start},
    support::emulator::Emulator,
};

/// Waits for the next round of resyncs of the converged backlog, counts it (the window as the
/// modelled run's, `crate::resync`), and prints the counts.
pub async fn one_period(
    o: &Options,
    emu: &Emulator,
    base: &str,
    leading_since: Instant,
    audit_log: &Path,
    claims: &mut Claims,
) {
    let n = o.resources;
    let period = omkc::cli::parse_duration(&o.resync).unwrap();
    let gap = period / n as u32;
    before_next_round(period, leading_since).await;
    emu.clear_log();
    let audit_from = std::fs::metadata(audit_log).map_or(0, |m| m.len());
    let metered_before = metered_writes(&metrics_text(base).await);
    // Reconciles counted as they start: the round's last may end after the window.
    const STARTED: &str = "omkc_reconcile_queue_wait_seconds_count";
    let started_before = metric(base, STARTED).await;
    let window = window_start(emu, o.latency, gap).await;
    tokio::time::sleep_until((window + period).into()).await;
    let reconciles = metric(base, STARTED).await - started_before;
    // The round's last requests are answered within the latency.
    tokio::time::sleep(o.latency + gap).await;
    let log = emu.log();
    let calls: Vec<String> = in_round(&log, window + period, o.latency)
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    let metered = metered_writes(&metrics_text(base).await) - metered_before;
    let (writes, said) = kubernetes_writes(audit_log, audit_from, metered, n);
    println!("\none converged resync period ({})", o.resync);
    println!("  reconciles per resource  {:.2}", reconciles / n as f64);
    println!("  Keycloak requests/res.   {}", by_method(&calls, n));
    println!("  Kubernetes writes/res.   {said}");
    let per = |count: f64| count / n as f64;
    claims.count("resync: reconciles per resource", per(reconciles), 1.0);
    let gets = calls.iter().filter(|c| c.starts_with("GET ")).count();
    claims.count("resync: Keycloak GETs per resource", per(gets as f64), 1.0);
    claims.count("resync: Keycloak writes", (calls.len() - gets) as f64, 0.0);
    claims.count("resync: Kubernetes writes", writes, 0.0);
}
