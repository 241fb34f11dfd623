//! The context's backoff, queue waits and what it lets go of.

use super::*;

#[test]
fn backoff_doubles_and_caps_with_bounded_jitter() {
    let s = Settings::default();
    assert_eq!(backoff_delay(&s, 1, 0.5), Duration::from_secs(2));
    assert_eq!(backoff_delay(&s, 2, 0.5), Duration::from_secs(4));
    assert_eq!(backoff_delay(&s, 3, 0.5), Duration::from_secs(8));
    assert_eq!(backoff_delay(&s, 30, 0.5), Duration::from_secs(300));
    assert_eq!(backoff_delay(&s, 1, 0.0), Duration::from_secs_f64(1.6));
    assert_eq!(backoff_delay(&s, 1, 1.0), Duration::from_secs_f64(2.4));
}

// A runtime for the context's client, which is never called.
#[tokio::test]
async fn a_queue_wait_is_seen_once_and_only_when_it_was_queued() {
    let ctx = offline_context();
    assert_eq!(
        ctx.dequeued("ns/a"),
        None,
        "a retry or a deferral was not queued"
    );
    ctx.queued("ns/a".into());
    std::thread::sleep(Duration::from_millis(2));
    ctx.queued("ns/a".into());
    let waited = ctx.dequeued("ns/a").expect("queued");
    assert!(
        waited >= Duration::from_millis(2),
        "from the first event: {waited:?}"
    );
    assert_eq!(ctx.dequeued("ns/a"), None, "seen once");
}

// A runtime for the context's client, which is never called.
#[tokio::test]
async fn a_connections_session_goes_with_the_connection_once_the_connections_are_listed() {
    use kube::runtime::{reflector, watcher::Event};
    let ctx = offline_context();
    let (store, mut writer) = reflector::store();
    let mut naming_gone: OpenMetadataKeycloakClient =
        serde_saphyr::from_str(include_str!("../../tests/fixtures/basic.yaml")).unwrap();
    naming_gone.spec.keycloak.connection_ref = Some(crate::crd::ConnectionReference {
        name: "gone".into(),
    });
    writer.apply_watcher_event(&Event::Apply(DeserializeGuard(Ok(naming_gone))));
    ctx.add_resources(store);
    let sources = [
        "connection/platform",
        "connection/gone",
        "secret/team/admin",
    ];
    let keys: Vec<_> = sources.iter().map(|s| open_session(&ctx, s)).collect();
    ctx.forget_gone();
    assert_eq!(ctx.keycloak.len(), 1, "not listed yet: kept while named");
    assert!(ctx.keycloak.last_session(&keys[1]).is_some());
    open_session(&ctx, sources[0]);
    hold_whole(&ctx, &[("omkc-system", "admin"), ("omkc-system", "other")]);
    let platform = serde_json::json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
        "metadata": {"name": "platform"},
        "spec": {"url": "http://127.0.0.1:1", "credentialsSecretRef": {"name": "admin"},
                 "namespaceSelector": {}, "allowedRealms": []}
    });
    let platform = serde_json::from_value(platform).unwrap();
    for event in [Event::Init, Event::InitApply(platform), Event::InitDone] {
        ctx.connections.apply(None, &event);
    }
    ctx.forget_gone();
    assert_eq!(ctx.keycloak.len(), 1, "platform exists; gone does not");
    assert!(ctx.keycloak.last_session(&keys[0]).is_some());
    assert_eq!(ctx.secret_data.len(), 1, "platform's credentials are kept");
    assert!(ctx.secret_data.get("omkc-system", "admin", "1").is_some());
}

/// Holds these Secrets (namespace, name) whole, at resourceVersion 1.
fn hold_whole(ctx: &Context, secrets: &[(&str, &str)]) {
    for (namespace, name) in secrets {
        let mut secret = Secret::default();
        secret.metadata.namespace = Some(namespace.to_string());
        secret.metadata.name = Some(name.to_string());
        secret.metadata.resource_version = Some("1".into());
        ctx.secret_data.insert(Arc::new(secret));
    }
}

#[tokio::test]
async fn what_is_remembered_of_a_resource_goes_once_the_watch_no_longer_shows_it() {
    use kube::runtime::{reflector, watcher};
    let ctx = offline_context();
    let (store, mut writer) = reflector::store();
    let mut kept: serde_json::Value =
        serde_saphyr::from_str(include_str!("../../tests/fixtures/basic.yaml")).unwrap();
    kept["spec"]["secret"] = serde_json::json!({"source": {"name": "byo", "key": "secret"}});
    let kept = serde_json::from_value(kept).unwrap();
    writer.apply_watcher_event(&watcher::Event::Apply(DeserializeGuard(Ok(kept))));
    ctx.add_resources(store);
    for name in ["openmetadata", "gone"] {
        let ready = if name == "gone" { "Gone" } else { "Reconciled" };
        ctx.metrics
            .resource_state(&format!("openmetadata/{name}"), true, ready);
        ctx.queued(format!("openmetadata/{name}"));
        ctx.backoff(&format!("openmetadata/{name}"), None);
        let resource = format!("openmetadata/{name}");
        ctx.remember_rolled(&resource, WorkloadKind::Deployment, "om", "sum");
    }
    // Its credentials and source, and a Secret it named before it switched to them.
    let named = [("openmetadata", "keycloak-admin"), ("openmetadata", "byo")];
    hold_whole(&ctx, &[named[0], named[1], ("openmetadata", "old")]);
    assert_eq!(ctx.remembered(), 9);
    ctx.forget_gone();
    assert_eq!(
        ctx.remembered(),
        5,
        "only openmetadata/openmetadata's are kept"
    );
    assert!(
        ctx.secret_data
            .get("openmetadata", "keycloak-admin", "1")
            .is_some()
    );
    assert!(ctx.in_backoff("openmetadata/openmetadata") && !ctx.in_backoff("openmetadata/gone"));
    let metrics = ctx.metrics.render();
    assert!(metrics.contains(r#"reason="Reconciled"} 1"#) && !metrics.contains("Gone"));
}

#[tokio::test]
async fn a_deletion_forgets_that_resource_and_nothing_of_another() {
    let ctx = offline_context();
    let mut deleted: OpenMetadataKeycloakClient =
        serde_saphyr::from_str(include_str!("../../tests/fixtures/basic.yaml")).unwrap();
    deleted.metadata.name = Some("deleted".into());
    for name in ["deleted", "other"] {
        let key = format!("openmetadata/{name}");
        ctx.metrics.resource_state(&key, true, "Reconciled");
        ctx.queued(key.clone());
        ctx.backoff(&key, None);
        ctx.remember_rolled(&key, WorkloadKind::Deployment, "om", "sum");
    }
    ctx.forget_deleted(&deleted);
    assert_eq!(ctx.remembered(), 3, "other's wait, backoff and checksum");
    let kept = ctx.rolled("openmetadata/other", WorkloadKind::Deployment, "om");
    assert_eq!(kept.as_deref(), Some("sum"));
    assert!(ctx.in_backoff("openmetadata/other") && !ctx.in_backoff("openmetadata/deleted"));
    assert!(ctx.metrics.render().contains(r#"reason="Reconciled"} 1"#));
}
