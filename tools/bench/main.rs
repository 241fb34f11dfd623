//! The benchmark: the real operator (this binary re-run as a child process, so its memory is
//! its own) against the in-process fake Kubernetes API server and the Keycloak emulator with a
//! latency injected per Keycloak request.
//!
//! ```sh
//! cargo run --release --example bench                       # 1000 resources, 10 namespaces, 10 ms
//! cargo run --release --example bench -- --resources 300 --latency-ms 10 --resync 15s
//! ```
//!
//! It prints the time until every resource is Ready (and p50/p90 per resource), reconciles and
//! Keycloak requests per resource while converging, Keycloak requests and Kubernetes writes per
//! resource during one converged resync period (by verb), token requests, and the operator's
//! peak RSS. Every figure is counted by the fakes or read from the operator's own metrics and
//! `/proc`, never estimated.

#[path = "../../tests/it/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;
use support::{
    apiserver::ApiServer,
    b64,
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator},
};

const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";

struct Options {
    resources: usize,
    namespaces: usize,
    latency: Duration,
    resync: String,
    extra: Vec<String>,
}

fn options() -> Options {
    let mut o = Options {
        resources: 1000,
        namespaces: 10,
        latency: Duration::from_millis(10),
        resync: "10s".into(),
        extra: vec![],
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--resources" => o.resources = value().parse().expect("a number"),
            "--namespaces" => o.namespaces = value().parse().expect("a number"),
            "--latency-ms" => o.latency = Duration::from_millis(value().parse().expect("ms")),
            "--resync" => o.resync = value(),
            // Passed to `run` as they are, e.g. --concurrency 8.
            other => o.extra.push(other.to_string()),
        }
    }
    o
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--operator") {
        // The child: exactly what `openmetadata-keycloak-operator run` runs.
        let cli = <omkc::cli::Cli as clap::Parser>::parse_from(
            std::iter::once("openmetadata-keycloak-operator".to_string())
                .chain(args[2..].iter().cloned()),
        );
        let omkc::cli::Command::Run(run) = cli.command else {
            panic!("the child runs `run`")
        };
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        if let Err(e) = runtime.block_on(omkc::cli::run(run)) {
            eprintln!("operator: {e}");
            std::process::exit(1);
        }
        return;
    }
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(bench(options()));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn peak_rss_kib(child: &Child) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn by_method(calls: &[String], n: usize) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in calls {
        *counts
            .entry(c.split(' ').next().unwrap_or("?"))
            .or_default() += 1;
    }
    let total = calls.len() as f64 / n as f64;
    let parts: Vec<String> = counts
        .iter()
        .map(|(m, c)| format!("{m} {:.2}", *c as f64 / n as f64))
        .collect();
    format!("{total:.2} ({})", parts.join(", "))
}

async fn metric(base: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn bench(o: Options) {
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    let emu = Emulator::start().await;
    emu.set_latency(o.latency);
    let namespace = |i: usize| format!("team-{}", i % o.namespaces);
    for n in 0..o.namespaces {
        api.put(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "keycloak-admin", "namespace": namespace(n),
                         "labels": {"omkc.dev/keycloak-credentials": "true"}},
            "data": {"username": b64(ADMIN_USER), "password": b64(ADMIN_PASSWORD)}
        }));
    }
    let dir = std::env::temp_dir().join(format!("omkc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--operator", "run", "--resync", &o.resync])
        .args(&o.extra)
        .env("KUBECONFIG", api.kubeconfig(&dir))
        .env("HTTP_ADDRESS", format!("127.0.0.1:{port}"))
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status() == 200
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the operator never became ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "{} resources in {} namespaces, Keycloak latency {:?} per request, resync {}, operator args {:?}",
        o.resources, o.namespaces, o.latency, o.resync, o.extra
    );

    // Converge: every resource applied at once, as `kubectl apply -f dir/` would.
    let t0 = Instant::now();
    let mut created = Vec::with_capacity(o.resources);
    for i in 0..o.resources {
        api.put(json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": format!("om-{i}"), "namespace": namespace(i)},
            "spec": {
                "keycloak": {"url": emu.base_url, "realm": "data-sec", "credentialsSecretRef": {"name": "keycloak-admin"}},
                "openmetadata": {"url": format!("https://om-{i}.example.com")},
                "client": {"clientId": format!("om-{i}")},
                "secret": {"name": format!("om-{i}-oidc")}
            }
        }));
        created.push(Instant::now());
    }
    let mut ready_after: Vec<Option<Duration>> = vec![None; o.resources];
    while ready_after.iter().any(Option::is_none) {
        for (i, slot) in ready_after
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| s.is_none())
        {
            let obj = api.get(CRS, &namespace(i), &format!("om-{i}")).unwrap();
            if obj["status"]["conditions"][0]["status"] == "True" {
                *slot = Some(created[i].elapsed());
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "not all Ready after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all_ready = t0.elapsed();
    let mut per_resource: Vec<Duration> = ready_after.into_iter().flatten().collect();
    per_resource.sort();
    // Let the last Events and writes land before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let n = o.resources;
    let converging = emu.admin_calls();
    let tokens_converging = emu.token_requests();
    // The leader election's Lease writes are counted apart (a few per lease period, not per
    // resource).
    let is_write =
        |r: &support::apiserver::Request| r.method != "GET" && !r.path.contains("/leases");
    let k8s_writes: usize = api.requests().iter().filter(|r| is_write(r)).count();
    let reconciles = metric(&base, "omkc_reconciliations_total").await;
    println!("\nconverging");
    println!(
        "  all Ready after          {:.2} s",
        all_ready.as_secs_f64()
    );
    println!(
        "  per resource             p50 {:.2} s, p90 {:.2} s, max {:.2} s",
        percentile(&per_resource, 0.5).as_secs_f64(),
        percentile(&per_resource, 0.9).as_secs_f64(),
        per_resource.last().unwrap().as_secs_f64()
    );
    println!("  reconciles per resource  {:.2}", reconciles / n as f64);
    println!("  Keycloak requests/res.   {}", by_method(&converging, n));
    println!(
        "  Kubernetes writes/res.   {:.2} (incl. Events)",
        k8s_writes as f64 / n as f64
    );
    println!("  token requests           {tokens_converging}");

    // One converged resync period: every resource is resynced once. The first round of
    // resyncs starts one period after the operator started; measure exactly one round.
    let period = omkc::cli::parse_duration(&o.resync).unwrap();
    let first_round = started + period + Duration::from_millis(200);
    tokio::time::sleep_until(first_round.max(Instant::now()).into()).await;
    emu.clear_log();
    let writes_before = api.requests().iter().filter(|r| is_write(r)).count();
    let lease_writes_before = api
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && r.path.contains("/leases"))
        .count();
    let reconciles_before = metric(&base, "omkc_reconciliations_total").await;
    // Half-way, a new resource arrives: it must not wait behind the resyncs.
    tokio::time::sleep(period / 2).await;
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
    tokio::time::sleep_until((first_round + period).into()).await;
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
    // Less the newcomer's one reconcile.
    let reconciles = metric(&base, "omkc_reconciliations_total").await - reconciles_before - 1.0;
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
    println!(
        "\noperator peak RSS          {:.1} MiB",
        peak_rss_kib(&child) as f64 / 1024.0
    );

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
