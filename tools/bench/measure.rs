//! `--measure-apiserver`: what a write and a read cost a real API server (the one `KUBECONFIG`
//! names), measured as the load model's figures were (`tests/it/support/load.rs`), so that the
//! model can be checked against a real server and not only against the figures it was fitted to.
//!
//! ```sh
//! eval "$(tests/kubernetes/cluster.sh start | sed 's/^/export /')"
//! cargo run --release --example bench -- --measure-apiserver
//! ```
//!
//! 1000 ConfigMaps, each created then patched four times (5000 writes), by 64 and by 16 writers
//! at once; then 5000 GETs of them by 64 and by 16 readers. With 64 at once the server's
//! processor is saturated: the time per request is what one costs it (`service`). With 16, each
//! request also waits for what does not load the processor: `latency` = 16 × time / requests −
//! `service`. Each run has a namespace of its own, deleted afterwards.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

use crate::support::load::{Cost, Load};

const OBJECTS: usize = 1000;
const WRITES_EACH: usize = 5;

/// `OBJECTS` tasks, `at_once` of them at a time; returns the time all took.
async fn timed<F, Fut>(at_once: usize, task: F) -> Duration
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    futures::stream::iter((0..OBJECTS).map(task))
        .buffer_unordered(at_once)
        .collect::<Vec<()>>()
        .await;
    started.elapsed()
}

async fn writes(maps: &Api<ConfigMap>, at_once: usize) -> Duration {
    timed(at_once, |i| async move {
        let name = format!("m-{i}");
        let map = json!({"metadata": {"name": name}, "data": {"n": "0"}});
        let map = serde_json::from_value(map).unwrap();
        maps.create(&PostParams::default(), &map).await.unwrap();
        for n in 1..WRITES_EACH {
            let patch = Patch::Merge(json!({"data": {"n": n.to_string()}}));
            maps.patch(&name, &PatchParams::default(), &patch)
                .await
                .unwrap();
        }
    })
    .await
}

async fn reads(maps: &Api<ConfigMap>, at_once: usize) -> Duration {
    timed(at_once, |i| async move {
        for _ in 0..WRITES_EACH {
            maps.get(&format!("m-{i}")).await.unwrap();
        }
    })
    .await
}

/// A cost from the times `requests` took with 64 and with 16 at once.
fn cost(at_64: Duration, at_16: Duration, requests: usize) -> Cost {
    let service = at_64 / requests as u32;
    let waited = at_16 * 16 / requests as u32;
    Cost {
        service,
        latency: waited.saturating_sub(service),
    }
}

fn line(what: &str, measured: Cost, modelled: Cost) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "  {what:<6} service {:>6.2} ms, latency {:>6.2} ms   (model: {:.2} ms, {:.2} ms)",
        ms(measured.service),
        ms(measured.latency),
        ms(modelled.service),
        ms(modelled.latency)
    )
}

pub async fn measure() {
    let (client, version) = crate::real_apiserver().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut times = vec![];
    for at_once in [64, 16] {
        let ns = format!("omkc-measure-{:08x}", fastrand::u32(..));
        let object = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        namespaces
            .create(&PostParams::default(), &object)
            .await
            .unwrap();
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        let wrote = writes(&maps, at_once).await;
        let read = reads(&maps, at_once).await;
        println!(
            "{at_once} at once: {} writes in {:.2} s, {} reads in {:.2} s",
            OBJECTS * WRITES_EACH,
            wrote.as_secs_f64(),
            OBJECTS * WRITES_EACH,
            read.as_secs_f64()
        );
        times.push((wrote, read));
        namespaces
            .delete(&ns, &DeleteParams::default())
            .await
            .unwrap();
    }
    let requests = OBJECTS * WRITES_EACH;
    let model = Load::KUBE_APISERVER_1_28;
    println!(
        "kube-apiserver {}.{} ({}), by this process:",
        version.major, version.minor, version.git_version
    );
    let write = cost(times[0].0, times[1].0, requests);
    let read = cost(times[0].1, times[1].1, requests);
    println!("{}", line("write", write, model.write));
    println!("{}", line("read", read, model.read));
}
