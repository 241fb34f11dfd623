//! What the loop needs of RBAC and of the API server's selectors: the chart grants exactly what the code uses.

use super::*;
use crate::both_apiservers;

/// The rules of the rendered install manifest's ClusterRole, one [`Access`] per verb.
fn granted_by_the_chart() -> BTreeSet<Access> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/openmetadata-keycloak-operator.yaml"
    );
    let text = std::fs::read_to_string(path).expect("the kubectl manifest");
    let mut granted = BTreeSet::new();
    for object in omkc::yaml::documents(&text).unwrap() {
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

both_apiservers!(
    /// A label-selected watch sees an object that stops matching as DELETED, one that starts
    /// matching as ADDED (the watch cache's behaviour the operator relies on to drop a Secret whose
    /// opt-in label was removed): the fake as a real API server.
    a_selected_watch_sees_objects_leave_and_join, |cluster| {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
    let secrets: Api<Secret> = Api::namespaced(cluster.admin(), cluster.namespace());
    let secret = json!({"metadata": {"name": "s", "labels": {"pick": "me"}}});
    let secret = serde_json::from_value(secret).unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let mut events = secrets
        .watch(&WatchParams::default().labels("pick=me"), "0")
        .await
        .unwrap()
        .boxed();
    let mut next = async || match change(&mut events).await {
        WatchEvent::Added(_) => "ADDED",
        WatchEvent::Modified(_) => "MODIFIED",
        WatchEvent::Deleted(_) => "DELETED",
        _ => "OTHER",
    };
    let label = async |value: Value| {
        let patch = Patch::Merge(json!({"metadata": {"labels": {"pick": value}}}));
        secrets
            .patch("s", &PatchParams::default(), &patch)
            .await
            .unwrap();
    };
    assert_eq!(next().await, "ADDED");
    label(Value::Null).await;
    assert_eq!(next().await, "DELETED", "it left the selector");
    label(json!("me")).await;
    assert_eq!(next().await, "ADDED", "it joined again");
});

both_apiservers!(
    /// An object marked for deletion ends as on a real API server (the registry's
    /// `deleteWithoutFinalizers`): the update that drops its last finalizer is a deletion, seen by
    /// watches as one DELETED at a new resourceVersion. (The fake once sent a MODIFIED and a DELETED
    /// at one resourceVersion, and its watches dropped the second: the operator's cache kept every
    /// deleted resource.)
    a_finalized_object_ends_with_one_deletion, |cluster| {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
    let maps: Api<ConfigMap> = Api::namespaced(cluster.admin(), cluster.namespace());
    let map = json!({"metadata": {"name": "c", "finalizers": ["omkc.dev/test"]}});
    let map = serde_json::from_value(map).unwrap();
    maps.create(&PostParams::default(), &map).await.unwrap();
    maps.delete("c", &DeleteParams::default()).await.unwrap();
    let marked = maps
        .get("c")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    // Only this object's events: a real cluster publishes its CA (kube-root-ca.crt) into every
    // namespace meanwhile.
    let only_c = WatchParams::default().fields("metadata.name=c");
    let mut events = (maps.watch(&only_c, &marked).await.unwrap()).boxed();
    let release = json!({"metadata": {"finalizers": null}});
    let params = PatchParams::default();
    maps.patch("c", &params, &Patch::Merge(&release))
        .await
        .unwrap();
    let WatchEvent::Deleted(gone) = change(&mut events).await else {
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
});

/// A watch's next event that is not a bookmark (a real API server sends those, as kube asks for
/// them; the fake sends none).
async fn change<K>(
    events: &mut (impl futures::Stream<Item = Result<kube::api::WatchEvent<K>, kube::Error>> + Unpin),
) -> kube::api::WatchEvent<K> {
    use futures::TryStreamExt;
    loop {
        match within(events.try_next()).await.unwrap().unwrap() {
            kube::api::WatchEvent::Bookmark(_) => continue,
            event => return event,
        }
    }
}

/// A watch's next event, or a failure after 10 s: a fake that sends none fails rather than hangs.
async fn within<T>(next: impl Future<Output = T>) -> T {
    let limit = std::time::Duration::from_secs(10);
    (tokio::time::timeout(limit, next).await).expect("a watch event within 10 s")
}
