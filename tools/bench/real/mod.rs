//! `--real-apiserver`: the backlog on the real kube-apiserver of `KUBECONFIG` instead of the
//! modelled fake, so that what the README says of a real API server is measured with this
//! build, not with the build the model was fitted on.
//!
//! ```sh
//! eval "$(tests/kubernetes/cluster.sh start | sed 's/^/export /')"   # etcd, kube-apiserver, the manifest
//! cargo run --release --example bench -- --real-apiserver
//! ```
//!
//! The operator runs as `cluster.sh` and the chart run it: as its own ServiceAccount
//! (`OMKC_TEST_OPERATOR_KUBECONFIG`, the manifest's RBAC), leader election on, in `omkc-system`.
//! Keycloak is the emulator at `--latency-ms`, as in the modelled run. The resources (a backlog in
//! namespaces of this run's own) are created by the administrator before the operator starts;
//! readiness is followed with one watch. Reconciles and the steps come from the operator's metrics,
//! Keycloak requests from the emulator, and the Kubernetes writes from the API server's own audit
//! log (the `audit.log` beside `KUBECONFIG`, which `cluster.sh` writes), with the operator's
//! request metrics beside them. Then one converged resync period and a restart over the converged
//! backlog, counted the same way; then the same writes by as many plain writers, with no watch
//! open, on resources of their own. At the end the namespaces this run created are deleted, and
//! nothing else (finalizers taken off first: the operator is stopped by then).

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use kube::{
    Api, Client,
    runtime::{WatchStreamExt, watcher},
};
use omkc::crd::OpenMetadataKeycloakClient;

use crate::{
    Options,
    child::{leading, operator, reconciled, rss_kib, stop},
    claims::Claims,
    metrics_text, print_converging,
    support::emulator::Emulator,
};

mod cluster;
mod counts;
mod resync;

use cluster::{backlog, clean_up, refuse_others, writes_alone};
use counts::{kubernetes_writes, metered_writes, restart};

/// The ServiceAccount the manifest gives the operator (the audit log's user).
pub const OPERATOR: &str = "system:serviceaccount:omkc-system:openmetadata-keycloak-operator";

/// Requests made at once while setting up and tearing down (not measured).
pub const SETUP: usize = 32;

fn env_path(name: &str) -> PathBuf {
    std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| {
        eprintln!(
            "--real-apiserver needs {name}: eval \"$(tests/kubernetes/cluster.sh start | sed 's/^/export /')\""
        );
        std::process::exit(2)
    })
}

fn is_ready(cr: &OpenMetadataKeycloakClient) -> bool {
    cr.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// When each resource (namespace, name) was first seen Ready, from the operator's start.
type ReadyAfter = Arc<Mutex<HashMap<(String, String), Duration>>>;

/// Follows the readiness of `ours` with one watch, once it has listed (any other resource of
/// the cluster is not counted); `started` is set when the clock starts.
async fn follow(
    client: &Client,
    ours: HashSet<(String, String)>,
    started: Arc<Mutex<Option<Instant>>>,
) -> (tokio::task::JoinHandle<()>, ReadyAfter) {
    let ready = Arc::new(Mutex::new(HashMap::new()));
    let (listed, listed_rx) = tokio::sync::oneshot::channel();
    let api = Api::<OpenMetadataKeycloakClient>::all(client.clone());
    let task = tokio::spawn({
        let ready = ready.clone();
        async move {
            let mut listed = Some(listed);
            // An error (a watch the server ended, a timeout) is retried after a backoff, as
            // the operator's own watches are.
            let events = watcher(api, watcher::Config::default()).default_backoff();
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                let cr = match event {
                    Err(e) => {
                        eprintln!("the follower's watch: {e}");
                        continue;
                    }
                    Ok(watcher::Event::InitDone) => {
                        listed.take().map(|l| l.send(()));
                        continue;
                    }
                    Ok(watcher::Event::Apply(cr) | watcher::Event::InitApply(cr)) => cr,
                    Ok(_) => continue,
                };
                let key = (cr.metadata.namespace.clone(), cr.metadata.name.clone());
                let key = (key.0.unwrap_or_default(), key.1.unwrap_or_default());
                let at = *started.lock().unwrap();
                if let (Some(at), true) = (at, is_ready(&cr) && ours.contains(&key)) {
                    ready.lock().unwrap().entry(key).or_insert(at.elapsed());
                }
            }
        }
    });
    listed_rx.await.expect("the follower's first list");
    (task, ready)
}

pub async fn bench(o: Options) {
    let admin_kubeconfig = env_path("KUBECONFIG");
    let operator_kubeconfig = env_path("OMKC_TEST_OPERATOR_KUBECONFIG");
    let audit_log = admin_kubeconfig.with_file_name("audit.log");
    let (client, version) = crate::real_apiserver().await;
    refuse_others(&client).await;
    let prefix = format!("bench-{}-", std::process::id());
    let names: Vec<(String, String)> = (0..o.resources)
        .map(|i| (format!("{prefix}{}", i % o.namespaces), format!("om-{i}")))
        .collect();
    let emu = Emulator::start().await;
    emu.set_latency(o.latency);
    let mut ours = backlog(&client, &names, &emu.base_url).await;
    let started = Arc::new(Mutex::new(None));
    let (follower, ready) = follow(&client, names.iter().cloned().collect(), started.clone()).await;

    let audit_from = std::fs::metadata(&audit_log).map_or(0, |m| m.len());
    let clock = Instant::now();
    *started.lock().unwrap() = Some(clock);
    let (child, base) = operator(
        &o,
        &operator_kubeconfig,
        &[("OPERATOR_NAMESPACE", "omkc-system")],
    );
    let leading_since = leading(&base, clock).await;
    println!(
        "{} resources in {} namespaces (a backlog), Keycloak latency {:?} per request, API server: a real kube-apiserver {} (KUBECONFIG), concurrency {}, operator args {:?}",
        o.resources, o.namespaces, o.latency, version.git_version, o.concurrency, o.extra
    );
    while ready.lock().unwrap().len() < o.resources {
        assert!(
            clock.elapsed() < Duration::from_secs(1200),
            "not all Ready after 20 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_ready = clock.elapsed();
    let mut per_resource: Vec<Duration> = ready.lock().unwrap().values().copied().collect();
    per_resource.sort();
    // Count once every reconcile has ended: its last write and Event are then in the audit
    // log (the audit filter writes a request's line as the handler chain returns, before the
    // server ends the response; the log backend's default mode blocks until it is written).
    let n = o.resources;
    let reconciles = reconciled(&base, n, clock).await;
    follower.abort();
    let keycloak = emu.admin_calls();
    let metrics = metrics_text(&base).await;
    let metered = metered_writes(&metrics);
    let (k8s_writes, said) = kubernetes_writes(&audit_log, audit_from, metered, o.resources);
    print_converging(all_ready, &per_resource, reconciles, &keycloak);
    println!("  Kubernetes writes/res.   {said}");
    println!("  token requests           {}", emu.token_requests());
    println!("  steps (count per resource, latency):");
    println!("{}", crate::steps::table("", &metrics, n));
    println!(
        "  operator peak RSS        {:.1} MiB",
        rss_kib(&child, "VmHWM:") as f64 / 1024.0
    );
    let mut claims = Claims::default();
    let per = |count: usize| count as f64 / n as f64;
    claims.count(
        "converging: reconciles per resource",
        reconciles / n as f64,
        1.0,
    );
    let gets = keycloak.iter().filter(|c| c.starts_with("GET ")).count();
    claims.count("converging: Keycloak GETs per resource", per(gets), 2.0);
    let writes = keycloak.len() - gets;
    claims.count("converging: Keycloak writes per resource", per(writes), 1.0);
    claims.count(
        "converging: Kubernetes writes per resource",
        k8s_writes / n as f64,
        4.0,
    );
    resync::one_period(&o, &emu, &base, leading_since, &audit_log, &mut claims).await;
    stop(child);
    restart(&o, &operator_kubeconfig, &emu, &audit_log, &mut claims).await;

    if o.baseline {
        let plain: Vec<(String, String)> = names
            .iter()
            .map(|(ns, name)| (format!("{ns}-plain"), name.clone()))
            .collect();
        // Resources of their own, never reconciled: the operator is stopped.
        ours.extend(backlog(&client, &plain, &emu.base_url).await);
        let (alone, made) = writes_alone(&client, &plain, o.concurrency).await;
        println!("\nthe same writes alone (no watch open)");
        println!(
            "  took                     {:.2} s ({made} writes by {} plain writers)",
            alone.as_secs_f64(),
            o.concurrency
        );
        println!(
            "  operator / writes alone  {:.2}",
            all_ready.as_secs_f64() / alone.as_secs_f64()
        );
    }
    clean_up(&client, &ours).await;
    claims.finish(o.check);
}
