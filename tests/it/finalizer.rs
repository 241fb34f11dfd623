//! The finalizer patches against a copy older than the object (a watch cache that has not seen
//! the last write yet, often the operator's own finalizer): the JSON patch's `test` fails with
//! 422, as on a real API server, and the operator reads the object and patches from what it
//! holds instead of reporting a refusal and waiting for the next resync. The object may go, or
//! change again, between that read and the second patch.

use std::sync::Arc;

use omkc::{Context, Settings, crd::OpenMetadataKeycloakClient, reconcile::finalizer};
use serde_json::{Value, json};

use crate::{
    both_apiservers,
    support::{apiserver::ApiServer, apiservers::Cluster},
};

const NS: &str = "openmetadata";
const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";
const OURS: &str = omkc::crd::FINALIZER;

fn resource(finalizers: Option<&[&str]>) -> Value {
    let mut obj = json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "om", "namespace": NS},
        "spec": {
            "keycloak": {"url": "http://keycloak.example", "realm": "data-sec",
                         "credentialsSecretRef": {"name": "kc"}},
            "openmetadata": {"url": "https://openmetadata.example.com"}
        }
    });
    if let Some(f) = finalizers {
        obj["metadata"]["finalizers"] = json!(f);
    }
    obj
}

/// `held` on the API server, and the copy a stale cache would hand a reconcile, with a context
/// whose client is the operator's.
async fn stale_copy_on(
    cluster: &Cluster,
    held: Option<&[&str]>,
    cached: Option<&[&str]>,
) -> (Arc<Context>, OpenMetadataKeycloakClient) {
    cluster.create(resource(held)).await;
    let mut copy: OpenMetadataKeycloakClient =
        serde_json::from_value(cluster.get("om").await.unwrap()).unwrap();
    copy.metadata.finalizers = cached.map(|f| f.iter().map(|s| s.to_string()).collect());
    let ctx = Arc::new(Context::new(cluster.operator(), Settings::default()));
    (ctx, copy)
}

/// The same on the fake API server, for what only it can do (fail, interleave, record).
pub(crate) async fn stale_copy(
    held: Option<&[&str]>,
    cached: Option<&[&str]>,
) -> (ApiServer, Arc<Context>, OpenMetadataKeycloakClient) {
    let cluster = Cluster::fake().await;
    let (ctx, copy) = stale_copy_on(&cluster, held, cached).await;
    (cluster.into_fake(), ctx, copy)
}

async fn finalizers_on(cluster: &Cluster) -> Value {
    cluster.get("om").await.unwrap()["metadata"]["finalizers"].clone()
}

fn finalizers(api: &ApiServer) -> Value {
    api.get(CRS, NS, "om").unwrap()["metadata"]["finalizers"].clone()
}

both_apiservers!(
    adding_from_a_copy_that_lacks_our_own_finalizer_is_done,
    |cluster| {
        let (ctx, copy) = stale_copy_on(cluster, Some(&[OURS]), None).await;
        finalizer::add(&copy, &ctx).await.expect("no refusal");
        assert_eq!(
            finalizers_on(cluster).await,
            json!([OURS]),
            "added once, not twice"
        );
    }
);

both_apiservers!(
    adding_from_a_copy_that_missed_another_finalizer_keeps_both,
    |cluster| {
        let (ctx, copy) = stale_copy_on(cluster, Some(&["other.example/guard"]), None).await;
        finalizer::add(&copy, &ctx).await.expect("no refusal");
        let both = json!(["other.example/guard", OURS]);
        assert_eq!(finalizers_on(cluster).await, both);
    }
);

both_apiservers!(
    removing_from_a_copy_with_a_stale_index_removes_only_ours,
    |cluster| {
        let held: &[&str] = &["other.example/guard", OURS];
        let (ctx, copy) = stale_copy_on(cluster, Some(held), Some(&[OURS])).await;
        finalizer::remove(&copy.metadata, &ctx)
            .await
            .expect("no refusal");
        assert_eq!(finalizers_on(cluster).await, json!(["other.example/guard"]));
    }
);

both_apiservers!(
    removing_when_someone_removed_ours_already_is_done,
    |cluster| {
        let held: &[&str] = &["other.example/guard"];
        let (ctx, copy) = stale_copy_on(cluster, Some(held), Some(&[OURS])).await;
        finalizer::remove(&copy.metadata, &ctx)
            .await
            .expect("no refusal");
        assert_eq!(finalizers_on(cluster).await, json!(["other.example/guard"]));
    }
);

both_apiservers!(removing_from_an_object_gone_already_is_done, |cluster| {
    let (ctx, copy) = stale_copy_on(cluster, Some(&[OURS]), Some(&[OURS])).await;
    cluster.delete("om").await;
    cluster.set_finalizers("om", json!([])).await;
    assert!(cluster.get("om").await.is_none(), "gone");
    finalizer::remove(&copy.metadata, &ctx)
        .await
        .expect("gone counts as released");
    if let Some(api) = cluster.fake_server() {
        let methods: Vec<String> = api.requests().iter().map(|r| r.method.clone()).collect();
        assert_eq!(methods, ["PATCH"], "one patch, nothing read");
    }
});

#[tokio::test]
async fn a_failure_that_is_not_a_stale_copy_is_reported_without_a_read_or_a_retry() {
    for removing in [false, true] {
        let held: &[&str] = if removing { &[OURS] } else { &[] };
        let (api, ctx, copy) = stale_copy(Some(held), Some(held)).await;
        api.fail_writes(CRS, true);
        let failed = if removing {
            finalizer::remove(&copy.metadata, &ctx).await
        } else {
            finalizer::add(&copy, &ctx).await
        };
        let err = failed.expect_err("the API server failed");
        assert!(err.is_transient(), "{err}");
        let methods: Vec<String> = api.requests().iter().map(|r| r.method.clone()).collect();
        assert_eq!(methods, ["PATCH"], "removing: {removing}");
    }
}

/// A deleted resource held by another finalizer and ours, and a copy whose index of ours is
/// stale: the first removal's `test` fails, and the operator reads the object again.
async fn deleted_with_a_stale_index() -> (ApiServer, Arc<Context>, OpenMetadataKeycloakClient) {
    let (api, ctx, copy) = stale_copy(Some(&["other.example/guard", OURS]), Some(&[OURS])).await;
    api.delete(CRS, NS, "om");
    (api, ctx, copy)
}

/// Another client releases every finalizer: the deleted object goes.
fn released(o: &mut Value) {
    o["metadata"]["finalizers"] = json!([]);
}

fn methods(api: &ApiServer) -> Vec<String> {
    api.requests().iter().map(|r| r.method.clone()).collect()
}

#[tokio::test]
async fn removing_when_the_object_goes_before_the_read_again_is_done() {
    let (api, ctx, copy) = deleted_with_a_stale_index().await;
    api.edit_before(&format!("GET {CRS}"), 1, (CRS, NS, "om"), released);
    finalizer::remove(&copy.metadata, &ctx)
        .await
        .expect("gone counts as released");
    assert_eq!(methods(&api), ["PATCH", "GET"]);
    assert!(api.get(CRS, NS, "om").is_none());
}

#[tokio::test]
async fn removing_when_the_object_goes_before_the_second_patch_is_done() {
    let (api, ctx, copy) = deleted_with_a_stale_index().await;
    api.edit_before(&format!("PATCH {CRS}"), 2, (CRS, NS, "om"), released);
    finalizer::remove(&copy.metadata, &ctx)
        .await
        .expect("gone counts as released");
    assert_eq!(methods(&api), ["PATCH", "GET", "PATCH"]);
    assert!(api.get(CRS, NS, "om").is_none());
}

#[tokio::test]
async fn a_read_again_or_a_second_patch_that_fails_is_reported() {
    // The read is refused (a role without `get`).
    let (api, ctx, copy) = deleted_with_a_stale_index().await;
    api.forbid(&format!("GET {CRS}"));
    let err = finalizer::remove(&copy.metadata, &ctx).await.unwrap_err();
    assert!(err.to_string().contains("read the resource"), "{err}");
    assert_eq!(methods(&api), ["PATCH", "GET"]);
    // The list changes again between the read and the second patch: that patch's `test` fails
    // too, and the removal is left to the retry, with our finalizer in place.
    let (api, ctx, copy) = deleted_with_a_stale_index().await;
    api.edit_before(&format!("PATCH {CRS}"), 2, (CRS, NS, "om"), |o| {
        o["metadata"]["finalizers"] = json!([OURS, "other.example/guard"])
    });
    let err = finalizer::remove(&copy.metadata, &ctx).await.unwrap_err();
    assert!(err.to_string().contains("remove the finalizer"), "{err}");
    assert_eq!(methods(&api), ["PATCH", "GET", "PATCH"]);
    assert_eq!(finalizers(&api), json!([OURS, "other.example/guard"]));
}
