//! The writes alone: what the API server allows, without the operator. A plain client makes, for
//! every resource, the writes the operator makes for a fresh one (the finalizer patch, the
//! Secret's create, the status patch, one Event), from as many writers as the operator has
//! workers, against a fresh fake API server under the same load model.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support::{apiserver::ApiServer, load::Load};

/// The writes of one fresh resource, as (method, path, content type, body).
pub fn writes(namespace: &str, name: &str) -> [(reqwest::Method, String, &'static str, Value); 4] {
    let cr = format!(
        "/apis/omkc.dev/v1alpha1/namespaces/{namespace}/openmetadatakeycloakclients/{name}"
    );
    [
        (
            reqwest::Method::PATCH,
            cr.clone(),
            "application/json-patch+json",
            json!([{"op": "add", "path": "/metadata/finalizers", "value": ["omkc.dev/cleanup"]}]),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/namespaces/{namespace}/secrets"),
            "application/json",
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": format!("{name}-oidc"), "namespace": namespace},
                   "data": {"openmetadata-oidc-client-id": "b20=", "openmetadata-oidc-client-secret": "eA=="}}),
        ),
        (
            reqwest::Method::PATCH,
            format!("{cr}/status"),
            "application/merge-patch+json",
            // Whole, as the schema wants it: the fake API server refuses what a real one refuses.
            json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled",
                   "message": "ready", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}),
        ),
        (
            reqwest::Method::POST,
            format!("/apis/events.k8s.io/v1/namespaces/{namespace}/events"),
            "application/json",
            // As valid as the operator's: the fake API server refuses what a real one refuses.
            json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                   "metadata": {"name": format!("{name}.created"), "namespace": namespace},
                   "eventTime": "2026-12-04T00:00:00.000000Z",
                   "reportingController": "openmetadata-keycloak-operator",
                   "reportingInstance": "bench",
                   "regarding": {"apiVersion": "omkc.dev/v1alpha1",
                                 "kind": "OpenMetadataKeycloakClient",
                                 "name": name, "namespace": namespace},
                   "reason": "Created", "action": "Reconcile", "type": "Normal", "note": "created"}),
        ),
    ]
}

/// How long `writers` plain writers take to make every resource's writes, and how many writes
/// that was. `resources` are (namespace, name), created (uncounted) before the clock starts.
/// `watches` (paths with their queries, as the operator's run opened them) are open meanwhile:
/// every watcher of a write costs the server its delivery, with or without an operator.
pub async fn writes_alone(
    load: Option<Load>,
    resources: &[(String, String)],
    writers: usize,
    watches: &[String],
) -> (Duration, usize) {
    let api = ApiServer::start().await;
    for (namespace, name) in resources {
        api.put(json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {}
        }));
    }
    if let Some(load) = load {
        api.model(load);
    }
    let http = reqwest::Client::new();
    // From the last version on, as a watcher that has listed everything.
    let now = resources.last().map_or(0, |(namespace, name)| {
        api.get(super::CRS, namespace, name).unwrap()["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    });
    let watchers: Vec<_> = watches
        .iter()
        .map(|watch| {
            let url = format!("{}{watch}&resourceVersion={now}", api.url);
            let http = http.clone();
            tokio::spawn(async move {
                if let Ok(mut response) = http.get(url).send().await {
                    while let Ok(Some(_)) = response.chunk().await {}
                }
            })
        })
        .collect();
    // Let the watches open before the clock starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let queue = std::sync::Mutex::new(resources.iter());
    let started = Instant::now();
    let work = (0..writers).map(|_| async {
        let mut made = 0;
        loop {
            let next = queue.lock().unwrap().next();
            let Some((namespace, name)) = next else {
                return made;
            };
            for (method, path, content_type, body) in writes(namespace, name) {
                let response = http
                    .request(method, format!("{}{path}", api.url))
                    .header("content-type", content_type)
                    .body(body.to_string())
                    .send()
                    .await
                    .expect("the fake answers");
                assert!(
                    response.status().is_success(),
                    "{path}: {}",
                    response.status()
                );
                made += 1;
            }
        }
    });
    let made: usize = futures::future::join_all(work).await.into_iter().sum();
    let took = started.elapsed();
    for watcher in watchers {
        watcher.abort();
    }
    (took, made)
}
