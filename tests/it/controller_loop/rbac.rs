//! What the loop needs of RBAC and of the API server's selectors: the chart grants exactly what the code uses.

use super::*;

/// The rules of the rendered install manifest's ClusterRole, one [`Access`] per verb.
fn granted_by_the_chart() -> BTreeSet<Access> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/openmetadata-keycloak-operator.yaml"
    );
    let text = std::fs::read_to_string(path).expect("the kubectl manifest");
    let mut granted = BTreeSet::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let object: Value = serde::Deserialize::deserialize(doc).unwrap();
        if object["kind"] != "ClusterRole" {
            continue;
        }
        for rule in object["rules"].as_array().unwrap() {
            for group in rule["apiGroups"].as_array().unwrap() {
                for resource in rule["resources"].as_array().unwrap() {
                    for verb in rule["verbs"].as_array().unwrap() {
                        granted.insert(Access {
                            group: group.as_str().unwrap().into(),
                            resource: resource.as_str().unwrap().into(),
                            verb: verb.as_str().unwrap().into(),
                        });
                    }
                }
            }
        }
    }
    granted
}

/// What a finalizer patch against a copy the cache had not updated yet needs besides: it reads
/// the resource again (tests/it/finalizer.rs). A real API server refused that read until the
/// chart granted `get` (finalizer's `real_kubernetes` tests).
async fn a_stale_finalizer_patch() -> BTreeSet<Access> {
    let (api, ctx, copy) = crate::finalizer::stale_copy(Some(&["other.example/guard"]), None).await;
    omkc::reconcile::finalizer::add(&copy, &ctx).await.unwrap();
    api.accesses()
}

/// Least privilege, both ways: every request the operator made during a full lifecycle and a
/// stale finalizer patch is granted, and nothing is granted that no request needed. (The chart's
/// namespaced mode renders the same rules into Roles; tests/deploy/test_chart.py checks that.)
#[tokio::test]
async fn the_chart_grants_exactly_what_the_code_uses() {
    let mut used = lifecycle(None).await;
    used.extend(a_stale_finalizer_patch().await);
    let granted = granted_by_the_chart();
    let missing: Vec<_> = used.difference(&granted).collect();
    let unused: Vec<_> = granted.difference(&used).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "the chart's RBAC is out of line with the code:\n  used but not granted: {missing:?}\n  granted but never used: {unused:?}"
    );
}

/// The fake API server tells a label-selected watch what a real one does: an object that stops
/// matching is DELETED for it, one that starts matching is ADDED (the watch cache's behaviour
/// the operator relies on to drop a Secret whose opt-in label was removed).
#[tokio::test]
async fn the_fake_apiserver_shows_objects_leaving_and_joining_a_selector() {
    use futures::{StreamExt, TryStreamExt};
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, WatchEvent, WatchParams};
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    let secret = |labels: Value| {
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "s", "namespace": NS, "labels": labels}})
    };
    api.put(secret(json!({"pick": "me"})));
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    let mut events = secrets
        .watch(&WatchParams::default().labels("pick=me"), "0")
        .await
        .unwrap()
        .boxed();
    let mut next = async || match within(events.try_next()).await.unwrap().unwrap() {
        WatchEvent::Added(_) => "ADDED",
        WatchEvent::Modified(_) => "MODIFIED",
        WatchEvent::Deleted(_) => "DELETED",
        _ => "OTHER",
    };
    assert_eq!(next().await, "ADDED");
    api.edit("v1/secrets", NS, "s", |s| {
        s["metadata"]["labels"] = json!({})
    });
    assert_eq!(next().await, "DELETED", "it left the selector");
    api.edit("v1/secrets", NS, "s", |s| {
        s["metadata"]["labels"] = json!({"pick": "me"})
    });
    assert_eq!(next().await, "ADDED", "it joined again");
}

/// The fake API server ends a finalized object as a real one does (the registry's
/// `deleteWithoutFinalizers`): the update that drops the last finalizer of an object marked for
/// deletion is a deletion, seen by watches as one DELETED at a new resourceVersion. (It once
/// sent a MODIFIED and a DELETED at one resourceVersion, and its watches dropped the second: the
/// operator's cache kept every deleted resource.)
#[tokio::test]
async fn the_fake_apiserver_ends_a_finalized_object_with_one_deletion() {
    use futures::{StreamExt, TryStreamExt};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, Patch, PatchParams, WatchEvent, WatchParams};
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    api.put(json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "namespace": NS, "finalizers": ["omkc.dev/test"]}}));
    let maps: Api<ConfigMap> = Api::namespaced(api.client(), NS);
    api.delete("v1/configmaps", NS, "c");
    let marked = maps
        .get("c")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = (maps.watch(&WatchParams::default(), &marked).await.unwrap()).boxed();
    let release = json!({"metadata": {"finalizers": null}});
    let params = PatchParams::default();
    maps.patch("c", &params, &Patch::Merge(&release))
        .await
        .unwrap();
    let WatchEvent::Deleted(gone) = within(events.try_next()).await.unwrap().unwrap() else {
        panic!("a DELETED first")
    };
    let deleted = gone.metadata.resource_version.unwrap();
    assert!(deleted.parse::<u64>().unwrap() > marked.parse().unwrap());
    assert_eq!(
        gone.metadata.finalizers,
        Some(vec!["omkc.dev/test".into()]),
        "as it was stored"
    );
    assert!(maps.get_opt("c").await.unwrap().is_none());
}

/// A watch's next event, or a failure after 10 s: a fake that sends none fails rather than hangs.
async fn within<T>(next: impl Future<Output = T>) -> T {
    let limit = std::time::Duration::from_secs(10);
    (tokio::time::timeout(limit, next).await).expect("a watch event within 10 s")
}
