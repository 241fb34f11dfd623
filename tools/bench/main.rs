//! The benchmark: the real operator (this binary re-run as a child process, so its memory is
//! its own) against the in-process fake Kubernetes API server and the Keycloak emulator with a
//! latency injected per Keycloak request.
//!
//! ```sh
//! cargo run --release --example bench                       # 1000 resources, 10 namespaces, 10 ms, resync 30 s
//! cargo run --release --example bench -- --resources 300 --latency-ms 10 --resync 15s
//! cargo run --release --example bench -- --instant          # an API server that answers at once
//! cargo run --release --example bench -- --measure-apiserver  # the model's figures, on the real API server of KUBECONFIG
//! cargo run --release --example bench -- --real-apiserver     # the backlog itself on that real API server
//! ```
//!
//! The resources are a backlog: all exist before the operator starts. The fake API server costs
//! what a real one does (`tests/it/support/load.rs`: calibrated on a real kube-apiserver), unless
//! `--instant`. It prints the time until every resource is Ready from the operator's start (and
//! p50/p90 per resource), next to the time a plain client takes for the same writes on the same
//! model (the ratio is what the operator adds), the steps of a reconcile from the operator's
//! own histograms (queue wait, each Kubernetes and Keycloak request), reconciles and
//! Keycloak requests per resource while converging, Keycloak requests and Kubernetes writes per
//! resource during one converged resync period (by verb), token requests, the operator's
//! peak RSS, and what a restarted operator does with every resource converged. Every figure is counted by the fakes or read from the operator's own metrics and
//! `/proc`, never estimated.

#[path = "../../tests/it/support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod baseline;
mod child;
mod claims;
mod measure;
mod options;
mod real;
mod restart;
mod resync;
mod steps;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use child::{leading, operator, reconciled, rss_kib, stop};
use options::{Options, options};
use serde_json::json;
use support::{
    apiserver::ApiServer,
    b64,
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator},
    load::Load,
};

const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";

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
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    if args.get(1).map(String::as_str) == Some("--measure-apiserver") {
        omkc::tls::install_crypto_provider();
        return runtime.block_on(measure::measure());
    }
    let o = options();
    if o.real {
        omkc::tls::install_crypto_provider();
        return runtime.block_on(real::bench(o));
    }
    runtime.block_on(bench(o));
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

/// The first lines of a run's "converging" figures: when all were Ready (`per_resource`
/// sorted), reconciles and Keycloak requests (`calls`) per resource.
fn print_converging(
    all_ready: Duration,
    per_resource: &[Duration],
    reconciles: f64,
    calls: &[String],
) {
    let n = per_resource.len();
    println!("\nconverging");
    println!(
        "  all Ready after          {:.2} s from the operator's start",
        all_ready.as_secs_f64()
    );
    println!(
        "  per resource             first {:.2} s, p50 {:.2} s, p90 {:.2} s, max {:.2} s",
        per_resource[0].as_secs_f64(),
        percentile(per_resource, 0.5).as_secs_f64(),
        percentile(per_resource, 0.9).as_secs_f64(),
        per_resource.last().unwrap().as_secs_f64()
    );
    println!("  reconciles per resource  {:.2}", reconciles / n as f64);
    println!("  Keycloak requests/res.   {}", by_method(calls, n));
}

/// The Keycloak admin credentials of a backlog's namespace (the emulator's fixed test account),
/// labelled for the operator to read.
fn credentials(namespace: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "keycloak-admin", "namespace": namespace,
                     "labels": {"omkc.dev/keycloak-credentials": "true"}},
        "data": {"username": b64(ADMIN_USER), "password": b64(ADMIN_PASSWORD)}
    })
}

/// Resource `i` of a backlog: its own client id, OpenMetadata URL and Secret, on the realm
/// `data-sec` of the Keycloak at `keycloak` with the namespace's `keycloak-admin` credentials.
fn resource(i: usize, namespace: &str, name: &str, keycloak: &str) -> serde_json::Value {
    json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "keycloak": {"url": keycloak, "realm": "data-sec", "credentialsSecretRef": {"name": "keycloak-admin"}},
            "openmetadata": {"url": format!("https://om-{i}.example.com")},
            "client": {"clientId": name},
            "secret": {"name": format!("{name}-oidc")}
        }
    })
}

/// A client for the real API server of `KUBECONFIG`, and its version.
async fn real_apiserver() -> (kube::Client, k8s_openapi::apimachinery::pkg::version::Info) {
    let client = kube::Client::try_default()
        .await
        .expect("a real API server: set KUBECONFIG (tests/kubernetes/cluster.sh start)");
    let version = client
        .apiserver_version()
        .await
        .expect("the API server's version");
    (client, version)
}

async fn metrics_text(base: &str) -> String {
    // One client, its connection kept: a read is then a request, not a handshake too.
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(reqwest::Client::new);
    client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn metric(base: &str, name: &str) -> f64 {
    let text = metrics_text(base).await;
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn bench(o: Options) {
    omkc::tls::install_crypto_provider();
    let namespace = |i: usize| format!("team-{}", i % o.namespaces);
    let load = (!o.instant).then_some(Load::KUBE_APISERVER_1_28);
    let names: Vec<(String, String)> = (0..o.resources)
        .map(|i| (namespace(i), format!("om-{i}")))
        .collect();

    let api = ApiServer::start().await;
    let emu = Emulator::start().await;
    emu.set_latency(o.latency);
    for n in 0..o.namespaces {
        api.put(credentials(&namespace(n)));
    }
    // A backlog: every resource exists before the operator starts (an upgrade, a restart, a
    // `kubectl apply -f dir/` while it was down), as in issue 20's measurement.
    for (i, (namespace, name)) in names.iter().enumerate() {
        api.put(resource(i, namespace, name, &emu.base_url));
    }
    if let Some(load) = load {
        api.model(load);
    }
    // Readiness followed with one watch, as in the measurement on a real API server: one more
    // watcher of every write to the resources (the Ready test below reads the fake's memory).
    let from = names.last().map_or(0, |(namespace, name)| {
        api.get(CRS, namespace, name).unwrap()["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    });
    let follower = tokio::spawn({
        let url = format!(
            "{}/apis/omkc.dev/v1alpha1/openmetadatakeycloakclients?watch=true&resourceVersion={from}",
            api.url
        );
        async move {
            if let Ok(mut response) = reqwest::get(url).await {
                while let Ok(Some(_)) = response.chunk().await {}
            }
        }
    });
    let dir = std::env::temp_dir().join(format!("omkc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let (child, base) = operator(&o, &api.kubeconfig(&dir), &[]);
    let leading_since = leading(&base, started).await;
    println!(
        "{} resources in {} namespaces (a backlog), Keycloak latency {:?} per request, API server {}, concurrency {}, resync {}, operator args {:?}",
        o.resources,
        o.namespaces,
        o.latency,
        if o.instant {
            "instant"
        } else {
            "modelled on kube-apiserver 1.28 (tests/it/support/load.rs)"
        },
        o.concurrency,
        o.resync,
        o.extra
    );
    let mut ready_after: Vec<Option<Duration>> = vec![None; o.resources];
    while ready_after.iter().any(Option::is_none) {
        for (i, slot) in ready_after
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| s.is_none())
        {
            let obj = api.get(CRS, &namespace(i), &format!("om-{i}")).unwrap();
            if obj["status"]["conditions"][0]["status"] == "True" {
                *slot = Some(started.elapsed());
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(1200),
            "not all Ready after 20 minutes"
        );
        // Read from the fake's memory, not over HTTP: the poll costs the modelled server nothing.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_ready = started.elapsed();
    let mut per_resource: Vec<Duration> = ready_after.into_iter().flatten().collect();
    per_resource.sort();
    // Count once every reconcile has ended: its last write and Event are then in.
    let n = o.resources;
    let reconciles = reconciled(&base, n, started).await;
    let converging = emu.admin_calls();
    let tokens_converging = emu.token_requests();
    // The leader election's Lease writes are counted apart (a few per lease period, not per
    // resource).
    let is_write =
        |r: &support::apiserver::Request| r.method != "GET" && !r.path.contains("/leases");
    let k8s_writes: usize = api.requests().iter().filter(|r| is_write(r)).count();
    print_converging(all_ready, &per_resource, reconciles, &converging);
    let mut claims = claims::Claims::default();
    let per = |count: f64| count / n as f64;
    // Converging: one reconcile a resource. (Until the resources waited for the other watches'
    // first lists, a resource that converged before the credentials list came back was
    // reconciled once more: CI saw 1.025 at 40 resources.)
    claims.count("converging: reconciles per resource", per(reconciles), 1.0);
    let gets = converging.iter().filter(|c| c.starts_with("GET ")).count();
    claims.count(
        "converging: Keycloak GETs per resource",
        per(gets as f64),
        2.0,
    );
    let posts = converging.iter().filter(|c| c.starts_with("POST ")).count();
    claims.count(
        "converging: Keycloak writes per resource",
        per(posts as f64),
        1.0,
    );
    let others = converging.iter().filter(|c| !c.starts_with("GET ")).count() - posts;
    claims.count(
        "converging: Keycloak writes but the creates",
        others as f64,
        0.0,
    );
    claims.count(
        "converging: Kubernetes writes per resource",
        per(k8s_writes as f64),
        4.0,
    );
    println!(
        "  Kubernetes writes/res.   {:.2} (incl. Events)",
        k8s_writes as f64 / n as f64
    );
    println!("  token requests           {tokens_converging}");
    let converged_metrics = metrics_text(&base).await;
    println!("  steps (count per resource, latency):");
    println!("{}", steps::table("", &converged_metrics, n));
    println!(
        "  operator RSS now         {:.1} MiB (peak so far {:.1} MiB)",
        rss_kib(&child, "VmRSS:") as f64 / 1024.0,
        rss_kib(&child, "VmHWM:") as f64 / 1024.0
    );

    resync::one_period(&o, &api, &emu, &base, leading_since, &mut claims).await;
    println!(
        "\noperator peak RSS          {:.1} MiB ({:.1} MiB now)",
        rss_kib(&child, "VmHWM:") as f64 / 1024.0,
        rss_kib(&child, "VmRSS:") as f64 / 1024.0
    );

    follower.abort();
    // The operator's watches, to open them again for the writes alone.
    let mut watches: Vec<String> = api
        .requests()
        .iter()
        .filter(|r| r.query.contains("watch=true") && r.method == "GET")
        .map(|r| {
            let query: Vec<&str> = r
                .query
                .split('&')
                .filter(|p| !p.starts_with("resourceVersion=") && !p.starts_with("timeoutSeconds="))
                .collect();
            format!("{}?{}", r.path, query.join("&"))
        })
        .collect();
    watches.sort();
    watches.dedup();
    stop(child);
    restart::converged(&o, &api, &emu, &dir, &mut claims).await;

    // What the API server allows: the same writes by a plain client with as many writers as
    // the operator has workers, with the watches of the operator's run open (its own and the
    // follower's, from the fake's log), and with no watch at all.
    if !o.baseline {
        let _ = std::fs::remove_dir_all(&dir);
        claims.finish(o.check);
        return;
    }
    let (alone, alone_writes) = baseline::writes_alone(load, &names, o.concurrency, &watches).await;
    let (bare, _) = baseline::writes_alone(load, &names, o.concurrency, &[]).await;
    println!(
        "\nthe same writes alone ({} watches open: the operator's and the follower)",
        watches.len()
    );
    println!(
        "  took                     {:.2} s ({} writes by {} plain writers; {:.2} s with no watch open)",
        alone.as_secs_f64(),
        alone_writes,
        o.concurrency,
        bare.as_secs_f64()
    );
    println!(
        "  operator / writes alone  {:.2} (target: at most 1.5 against the modelled API server; {:.2} against no watch)",
        all_ready.as_secs_f64() / alone.as_secs_f64(),
        all_ready.as_secs_f64() / bare.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    claims.finish(o.check);
}
