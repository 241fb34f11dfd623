//! Which resources a watched object brings back (the mappers of `watches.rs`), and when the
//! resources themselves are listed (`first_lists`).

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{
    core::{DeserializeGuard, PartialObjectMetaExt},
    runtime::reflector,
};
use serde_json::json;

use super::*;

/// A store of resources, each `(namespace, name, spec.keycloak and spec.secret edits)`.
fn store(resources: &[(&str, &str, serde_json::Value)]) -> Store<Guarded> {
    let (store, mut writer) = reflector::store();
    for (namespace, name, spec) in resources {
        let mut obj: serde_json::Value =
            serde_saphyr::from_str(include_str!("../../../tests/fixtures/basic.yaml")).unwrap();
        obj["metadata"] = json!({"name": name, "namespace": namespace});
        json_patch::merge(&mut obj["spec"], spec);
        let obj = serde_json::from_value(obj).unwrap();
        writer.apply_watcher_event(&watcher::Event::Apply(DeserializeGuard(Ok(obj))));
    }
    store
}

fn names(refs: Vec<ObjectRef<Guarded>>) -> BTreeSet<String> {
    refs.into_iter()
        .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn a_source_secret_brings_back_the_resources_of_its_namespace_that_name_it() {
    let source = |name: &str| json!({"secret": {"source": {"name": name, "key": "secret"}}});
    let store = store(&[
        ("a", "uses-it", source("shared")),
        ("a", "uses-another", source("other")),
        ("a", "generates-its-own", json!({})),
        ("b", "same-name-elsewhere", source("shared")),
    ]);
    let secret = |namespace: &str, name: &str| {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        }
        .into_request_partial::<Secret>()
    };
    assert_eq!(
        names(using_source(&store, &secret("a", "shared"))),
        set(&["a/uses-it"])
    );
    assert_eq!(
        names(using_source(&store, &secret("c", "shared"))),
        set(&[])
    );
}

// A runtime for the context's client, which is never called.
#[tokio::test]
async fn a_credentials_secret_brings_back_the_resources_it_signs_in_for() {
    let via = |name: &str| json!({"keycloak": {"connectionRef": {"name": name}}});
    let store = store(&[
        ("a", "direct", json!({})),
        (
            "a",
            "other-credentials",
            json!({"keycloak": {"credentialsSecretRef": {"name": "other"}}}),
        ),
        ("b", "direct-b", json!({})),
        ("a", "via-platform", via("platform")),
        ("b", "via-platform-b", via("platform")),
        ("a", "via-staging", via("staging")),
    ]);
    let ctx = crate::context::offline_context();
    // platform's Secret is in the operator's namespace; staging names one in `a`.
    for (name, secret_ref) in [
        ("platform", json!({"name": "keycloak-admin"})),
        (
            "staging",
            json!({"name": "keycloak-admin", "namespace": "a"}),
        ),
    ] {
        ctx.connections.insert(
            serde_json::from_value(json!({
                "apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
                "metadata": {"name": name},
                "spec": {"url": "https://keycloak.example", "credentialsSecretRef": secret_ref,
                         "namespaceSelector": {}, "allowedRealms": ["data-sec"]}
            }))
            .unwrap(),
        );
    }
    let secret = |namespace: &str| {
        ObjectMeta {
            name: Some("keycloak-admin".into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        }
        .into_request_partial::<Secret>()
    };
    let using = |namespace| names(using_credentials(&store, &ctx, &secret(namespace)));
    assert_eq!(using("a"), set(&["a/direct", "a/via-staging"]));
    assert_eq!(using("b"), set(&["b/direct-b"]));
    let operator = set(&["a/via-platform", "b/via-platform-b"]);
    assert_eq!(using(&ctx.settings.operator_namespace), operator);
}

#[test]
fn a_connection_brings_back_the_resources_that_use_it() {
    let via = |name: &str| json!({"keycloak": {"connectionRef": {"name": name}}});
    let store = store(&[
        ("a", "platform-a", via("platform")),
        ("b", "platform-b", via("platform")),
        ("a", "staging", via("staging")),
        ("a", "direct", json!({})),
    ]);
    let platform = set(&["a/platform-a", "b/platform-b"]);
    assert_eq!(names(using_connection(&store, "platform")), platform);
    let in_a = set(&["a/platform-a", "a/staging"]);
    assert_eq!(names(in_namespace_with_connection(&store, "a")), in_a);
}

#[test]
fn the_resources_wait_for_every_watch_to_list_or_fail_once() {
    use futures::FutureExt;
    let (listing, listed) = first_lists();
    let mut listed = std::pin::pin!(listed);
    let (mut outputs, mut namespaces) = (listing.another(), listing.another());
    let mut credentials_b = outputs.another();
    drop(listing);
    let mut waiting = || listed.as_mut().now_or_never().is_none();
    let listing = |l: &mut Listing, event: Result<Event<Secret>, watcher::Error>| l.event(&event);

    listing(&mut outputs, Ok(Event::Init));
    listing(&mut outputs, Ok(Event::InitApply(Secret::default())));
    assert!(waiting(), "a list under way");
    listing(&mut outputs, Ok(Event::InitDone));
    listing(&mut namespaces, Err(watcher::Error::NoResourceVersion));
    assert!(
        waiting(),
        "one more watch of credentials, in another namespace"
    );
    listing(&mut credentials_b, Ok(Event::Apply(Secret::default())));
    assert!(waiting(), "a watch event is not a list's end");
    listing(&mut credentials_b, Ok(Event::InitDone));
    assert!(!waiting(), "every watch has listed, or failed to");
}

/// A real kube-apiserver's (1.34) answer to a watch from before its cache was rebuilt (seen
/// right after a CRD was applied) is said, not warned about; other watch failures warn.
#[test]
fn an_expired_watch_is_told_from_a_failed_one() {
    let status = |code: u16, reason: &str| {
        let status = json!({"status": "Failure", "code": code, "reason": reason,
            "message": "too old resource version: 255 (256)"});
        serde_json::from_value::<kube::core::Status>(status).unwrap()
    };
    let during = watcher::Error::WatchError(Box::new(status(410, "Expired")));
    assert!(expired(&during));
    let at_start = watcher::Error::WatchStartFailed(kube::Error::Api(status(410, "Gone").into()));
    assert!(expired(&at_start));
    let forbidden = watcher::Error::WatchError(Box::new(status(403, "Forbidden")));
    assert!(!expired(&forbidden));
    let refused =
        watcher::Error::WatchStartFailed(kube::Error::Api(status(403, "Forbidden").into()));
    assert!(!expired(&refused));
    assert!(!expired(&watcher::Error::NoResourceVersion));
}
