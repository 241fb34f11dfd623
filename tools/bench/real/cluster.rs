//! What a run makes on the real API server and takes away, and the plain writers' writes.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use omkc::crd::OpenMetadataKeycloakClient;
use serde_json::json;

use super::SETUP;

/// Namespaces with a credentials Secret each, and a resource per name (created `SETUP` at once);
/// returns the namespaces, each created here (an existing one fails the run: never taken over).
pub async fn backlog(client: &Client, names: &[(String, String)], keycloak: &str) -> Vec<String> {
    let mut namespaces: Vec<&String> = names.iter().map(|(ns, _)| ns).collect();
    namespaces.sort();
    namespaces.dedup();
    for ns in &namespaces {
        let namespace = json!({"metadata": {"name": ns}});
        Api::<Namespace>::all(client.clone())
            .create(
                &PostParams::default(),
                &serde_json::from_value(namespace).unwrap(),
            )
            .await
            .expect("a namespace of this run");
        Api::<Secret>::namespaced(client.clone(), ns)
            .create(
                &PostParams::default(),
                &serde_json::from_value(crate::credentials(ns)).unwrap(),
            )
            .await
            .expect("the credentials Secret");
    }
    futures::stream::iter(names.iter().enumerate())
        .for_each_concurrent(SETUP, |(i, (ns, name))| async move {
            let cr = crate::resource(i, ns, name, keycloak);
            Api::<OpenMetadataKeycloakClient>::namespaced(client.clone(), ns)
                .create(&PostParams::default(), &serde_json::from_value(cr).unwrap())
                .await
                .expect("a resource of the backlog");
        })
        .await;
    namespaces.into_iter().cloned().collect()
}

/// The writes of a fresh resource by `writers` plain writers (`baseline::writes`), through an
/// authenticated client: how long they took, and how many.
pub async fn writes_alone(
    client: &Client,
    names: &[(String, String)],
    writers: usize,
) -> (Duration, usize) {
    let started = Instant::now();
    let made: usize = futures::stream::iter(names)
        .map(|(ns, name)| async move {
            let writes = crate::baseline::writes(ns, name);
            let made = writes.len();
            for (method, path, content_type, body) in writes {
                let request = http::Request::builder()
                    .method(method.as_str())
                    .uri(path)
                    .header("content-type", content_type)
                    .body(body.to_string().into_bytes())
                    .unwrap();
                client.request_text(request).await.expect("a plain write");
            }
            made
        })
        .buffer_unordered(writers)
        .collect::<Vec<usize>>()
        .await
        .into_iter()
        .sum();
    (started.elapsed(), made)
}

/// Refuses a cluster that holds resources already: the operator would reconcile them too (and
/// those of an earlier run name its Keycloak, gone), so every count per resource would be off.
pub async fn refuse_others(client: &Client) {
    let others = Api::<OpenMetadataKeycloakClient>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("the resources of the cluster");
    let mut namespaces: Vec<String> = others
        .items
        .into_iter()
        .filter_map(|cr| cr.metadata.namespace)
        .collect();
    namespaces.sort();
    namespaces.dedup();
    if !namespaces.is_empty() {
        eprintln!(
            "--real-apiserver: the cluster already holds OpenMetadataKeycloakClients (in {}): the operator would reconcile them too; start a fresh cluster (tests/kubernetes/cluster.sh start)",
            namespaces.join(", ")
        );
        std::process::exit(2);
    }
}

/// Deletes what this run made, the namespaces `backlog` created and nothing else: finalizers off
/// (the operator is stopped), then the namespaces; and waits until they are gone, so that a run
/// after this one finds the cluster as this one did.
pub async fn clean_up(client: &Client, ours: &[String]) {
    for ns in ours {
        let api = Api::<OpenMetadataKeycloakClient>::namespaced(client.clone(), ns);
        let crs = api
            .list(&ListParams::default())
            .await
            .expect("the resources");
        let unfinalize = Patch::Merge(json!({"metadata": {"finalizers": null}}));
        futures::stream::iter(crs.items.into_iter().filter_map(|cr| cr.metadata.name))
            .for_each_concurrent(SETUP, |name| {
                let (api, unfinalize) = (&api, &unfinalize);
                async move {
                    let _ = api.patch(&name, &PatchParams::default(), unfinalize).await;
                }
            })
            .await;
        let _ = Api::<Namespace>::all(client.clone())
            .delete(ns, &DeleteParams::default())
            .await;
    }
    let started = Instant::now();
    let namespaces = Api::<Namespace>::all(client.clone());
    while namespaces
        .list(&ListParams::default())
        .await
        .expect("the namespaces")
        .items
        .iter()
        .any(|n| n.metadata.name.as_ref().is_some_and(|n| ours.contains(n)))
    {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "this run's namespaces are not gone after 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "\nthis run's namespaces deleted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
