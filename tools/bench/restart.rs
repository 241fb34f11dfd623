//! A restart of the operator with every resource converged (an upgrade, a rescheduled pod):
//! each resource reconciled once, with one Keycloak GET and no write anywhere.

use std::time::Instant;

use crate::{
    CRS, Options, by_method,
    child::{leading, operator, reconciled_then_quiet, stop},
    claims::Claims,
    support::{
        apiserver::{ApiServer, Request},
        emulator::Emulator,
    },
};

/// Starts a new operator over the converged resources, counts what it does until it is quiet,
/// and stops it.
pub async fn converged(
    o: &Options,
    api: &ApiServer,
    emu: &Emulator,
    dir: &std::path::Path,
    claims: &mut Claims,
) {
    // The resources, and the resync's newcomer.
    let n: usize = (0..o.namespaces)
        .map(|i| api.list(CRS, &format!("team-{i}")).len())
        .sum();
    let per = |count: f64| count / n as f64;
    let is_write = |r: &Request| r.method != "GET" && !r.path.contains("/leases");
    emu.clear_log();
    let writes_before = api.requests().iter().filter(|r| is_write(r)).count();
    let started = Instant::now();
    let (child, base) = operator(o, &api.kubeconfig(dir), &[]);
    let leading_since = leading(&base, started).await;
    let (reconciles, all_reconciled) =
        reconciled_then_quiet(&base, n, started, leading_since).await;
    let period = omkc::cli::parse_duration(&o.resync).unwrap();
    assert!(
        leading_since.elapsed() < period,
        "the restart's counts took longer than a resync period ({period:?}): pass a longer --resync"
    );
    let calls = emu.admin_calls();
    let writes = api.requests().iter().filter(|r| is_write(r)).count() - writes_before;
    println!("\na restart, every resource converged");
    println!(
        "  all reconciled after     {:.2} s from leading",
        all_reconciled.as_secs_f64()
    );
    println!(
        "  reconciles per resource  {:.2} ({n} resources)",
        per(reconciles)
    );
    println!("  Keycloak requests/res.   {}", by_method(&calls, n));
    println!("  Kubernetes writes/res.   {:.2}", per(writes as f64));
    println!("  token requests           {}", emu.token_requests());
    claims.count("restart: reconciles per resource", per(reconciles), 1.0);
    let gets = calls.iter().filter(|c| c.starts_with("GET ")).count();
    claims.count("restart: Keycloak GETs per resource", per(gets as f64), 1.0);
    claims.count("restart: Keycloak writes", (calls.len() - gets) as f64, 0.0);
    claims.count("restart: Kubernetes writes", writes as f64, 0.0);
    stop(child);
}
