//! What one reconcile refuses, and how it says so.

use super::*;
use crate::support::has;

#[tokio::test]
async fn credentials_the_watch_does_not_show_are_looked_up_by_metadata_and_refused_unlabelled() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, finalized);
    let (ctx, api) = setup(&obj, false).await;
    let mut unlabelled = admin_credentials(NS);
    unlabelled["metadata"]["labels"] = json!({});
    api.put(unlabelled);
    let err = reconcile(guard(&obj), ctx).await.unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(calls(&api, 0)[0], format!("GET {CREDS_PATH}"));
    assert!(
        call(&api, 0).metadata_only,
        "metadata only, never the data of an unlabelled Secret"
    );
    let note = assert_not_ready(
        &api,
        1,
        Reason::CredentialsNotAllowed,
        "lacks the label omkc.dev/keycloak-credentials=true",
    );
    has(&note, "openmetadata/keycloak-admin");
    assert!(emu.log().is_empty(), "nothing reached Keycloak");
}

#[tokio::test]
async fn a_secret_the_operator_does_not_own_is_left_alone() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, finalized);
    let (ctx, api) = setup(&obj, true).await;
    let hand_made = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "oidc-secrets", "namespace": NS},
        "data": {"openmetadata-oidc-client-secret": b64("hand-made")}
    });
    api.put(hand_made);
    let err = reconcile(guard(&obj), ctx.clone()).await.unwrap_err();
    assert_eq!(err.reason(), Reason::SecretConflict);
    // Not in the operator's (label-selected) cache, so a create, which the API server refuses;
    // then a read, and no write of the Secret: straight to status.
    assert_eq!(
        calls(&api, 0)[..2],
        [format!("POST {SECRETS_PATH}"), format!("GET {OUT_PATH}")]
    );
    assert_not_ready(&api, 2, Reason::SecretConflict, "not owned");
    let kept = api.get("v1/secrets", NS, "oidc-secrets").unwrap();
    assert_eq!(
        decode(&kept["data"]["openmetadata-oidc-client-secret"]),
        "hand-made"
    );
    // Permanent: no tight retry; the next try comes with a change or the next resync.
    assert_eq!(error_policy(guard(&obj), &err, ctx), Action::await_change());
}

/// A label the API server would refuse on the Secret is refused before anything is written:
/// no client in Keycloak waiting for a Secret that cannot be.
#[tokio::test]
async fn a_label_the_api_server_would_refuse_stops_the_reconcile_before_any_write() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, |o| {
        finalized(o);
        merge_spec(o, json!({"secret": {"labels": {"team": "a b"}}}));
    });
    let (ctx, api) = setup(&obj, true).await;
    let err = reconcile(guard(&obj), ctx.clone()).await.unwrap_err();
    assert_eq!(err.reason(), Reason::InvalidSpec);
    let note = assert_not_ready(&api, 0, Reason::InvalidSpec, "spec.secret.labels[team]");
    has(&note, "is not a valid label value");
    assert!(emu.log().is_empty(), "nothing reached Keycloak");
    assert!(api.get("v1/secrets", NS, "oidc-secrets").is_none());
    assert_eq!(error_policy(guard(&obj), &err, ctx), Action::await_change());
}

/// A write the API server refuses for a reason of its own (here RBAC) is a permanent,
/// clearly worded condition.
#[tokio::test]
async fn a_secret_write_the_api_server_refuses_is_a_permanent_clearly_worded_condition() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, finalized);
    let (ctx, api) = setup(&obj, true).await;
    api.forbid("POST v1/secrets");
    let err = reconcile(guard(&obj), ctx.clone()).await.unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(calls(&api, 0)[0], format!("POST {SECRETS_PATH}"));
    let note = assert_not_ready(&api, 1, Reason::KubernetesRejected, "");
    assert!(
        note.starts_with("Kubernetes refused to write Secret \"oidc-secrets\" (HTTP 403)"),
        "{note}"
    );
    assert!(api.get("v1/secrets", NS, "oidc-secrets").is_none());
    assert_eq!(error_policy(guard(&obj), &err, ctx), Action::await_change());
}

#[tokio::test]
async fn a_missing_credentials_secret_is_reported_without_calling_keycloak() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, finalized);
    let (ctx, api) = setup(&obj, false).await;
    let err = reconcile(guard(&obj), ctx).await.unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(calls(&api, 0)[0], format!("GET {CREDS_PATH}"));
    let note = assert_not_ready(&api, 1, Reason::CredentialsNotFound, "");
    has(&note, "keycloak-admin");
    assert!(emu.log().is_empty());
}

#[tokio::test]
async fn an_invalid_spec_gets_a_condition_and_an_event() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, |o| {
        finalized(o);
        o.spec.keycloak.realm = "master".into();
    });
    let (ctx, api) = setup(&obj, true).await;
    reconcile(guard(&obj), ctx).await.unwrap_err();
    assert_not_ready(&api, 0, Reason::InvalidSpec, "spec.keycloak.realm");
    assert!(emu.log().is_empty());
}

#[tokio::test]
async fn a_malformed_resource_is_reported_and_skipped() {
    let raw = json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "broken", "namespace": NS, "uid": "u-1", "resourceVersion": "7"},
        "spec": {"keycloak": {"url": 42}}
    });
    let (ctx, api) = setup(&resource("http://unused", |_| {}), true).await;
    api.put(raw.clone());
    let guard: DeserializeGuard<OpenMetadataKeycloakClient> = serde_json::from_value(raw).unwrap();
    assert!(guard.0.is_err());
    let action = reconcile(Arc::new(guard), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    assert_eq!(calls(&api, 0), [format!("POST {EVENTS_PATH}")]);
    let body = stored_event(&api, 0);
    // The reference is built from the metadata alone, yet names the kind like any other Event.
    let regarding = json!({"apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
                           "name": "broken", "namespace": NS, "uid": "u-1", "resourceVersion": "7"});
    shows!(body, {"reason": "MalformedResource", "type": "Warning"});
    assert_eq!(body["regarding"], regarding);
}

/// A resource that no longer parses (written under another schema) and carries the finalizer.
fn malformed_and_finalized() -> Value {
    json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "openmetadata", "namespace": NS, "uid": "u-1", "resourceVersion": "7",
                     "finalizers": [FINALIZER]},
        "spec": {"keycloak": {"url": 42}}
    })
}

async fn reconcile_raw(ctx: Arc<Context>, raw: Value) -> Action {
    let guard: DeserializeGuard<OpenMetadataKeycloakClient> = serde_json::from_value(raw).unwrap();
    assert!(guard.0.is_err());
    reconcile(Arc::new(guard), ctx).await.unwrap()
}

#[tokio::test]
async fn a_malformed_resource_that_is_not_deleted_keeps_its_finalizer() {
    let (ctx, api) = setup(&resource("http://unused", |_| {}), true).await;
    let raw = malformed_and_finalized();
    api.put(raw.clone());
    assert_eq!(reconcile_raw(ctx, raw).await, Action::await_change());
    // Said, and nothing released: its client may still be in use.
    assert_eq!(calls(&api, 0), [format!("POST {EVENTS_PATH}")]);
    assert_eq!(stored_event(&api, 0)["reason"], "MalformedResource");
    let stored = api.get(CRS, NS, "openmetadata").unwrap();
    assert_eq!(stored["metadata"]["finalizers"], json!([FINALIZER]));
}

#[tokio::test]
async fn a_malformed_resource_being_deleted_is_released_and_its_client_said_left() {
    let (ctx, api) = setup(&resource("http://unused", |_| {}), true).await;
    let mut raw = malformed_and_finalized();
    api.put(raw.clone());
    api.edit(CRS, NS, "openmetadata", |o| {
        o["metadata"]["deletionTimestamp"] = json!("2026-12-03T00:00:00Z")
    });
    raw["metadata"]["deletionTimestamp"] = json!("2026-12-03T00:00:00Z");
    assert_eq!(reconcile_raw(ctx, raw).await, Action::await_change());
    assert_eq!(
        calls(&api, 0),
        [format!("POST {EVENTS_PATH}"), format!("PATCH {CR_PATH}")]
    );
    let event = stored_event(&api, 0);
    assert_eq!(event["reason"], "ClientOrphaned");
    assert_eq!(event["type"], "Warning");
    let note = event["note"].as_str().unwrap();
    assert!(
        note.contains("does not parse") && note.contains("left in Keycloak"),
        "{note}"
    );
    assert!(
        api.get(CRS, NS, "openmetadata").is_none(),
        "released, it goes"
    );
}

#[tokio::test]
async fn a_deleted_resource_without_our_finalizer_is_left_alone() {
    // Ours went already; another controller's finalizer holds the object.
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, |o| {
        deleting(o);
        o.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    });
    let (ctx, api) = setup(&obj, true).await;
    let action = reconcile(guard(&obj), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    assert_eq!(calls(&api, 0), Vec::<String>::new());
    assert!(
        emu.log().is_empty(),
        "Keycloak is not asked: {:?}",
        emu.log()
    );
}

#[tokio::test]
async fn each_resource_backs_off_on_its_own_failures() {
    let named = |name: &str| resource("http://unused", |o| o.metadata.name = Some(name.into()));
    let (a, b) = (named("a"), named("b"));
    let (ctx, _api) = setup(&a, false).await;
    let down = omkc::reconcile::Error::new(Reason::KeycloakUnavailable, "connection refused");
    assert_ne!(
        error_policy(guard(&a), &down, ctx.clone()),
        Action::await_change()
    );
    // The backoff (and the resync it skips meanwhile) is A's, keyed `namespace/name`.
    assert!(ctx.in_backoff("openmetadata/a"));
    assert!(!ctx.in_backoff("openmetadata/b"));
    // A permanent failure of B forgets B's failures only.
    let refused = omkc::reconcile::Error::new(Reason::SecretConflict, "not owned");
    assert!(error_policy(guard(&b), &down, ctx.clone()) != Action::await_change());
    assert_eq!(
        error_policy(guard(&b), &refused, ctx.clone()),
        Action::await_change()
    );
    assert!(!ctx.in_backoff("openmetadata/b"));
    assert!(ctx.in_backoff("openmetadata/a"));
}

#[tokio::test]
async fn a_secret_of_another_resource_is_read_by_its_metadata_only() {
    // Another resource of the namespace writes the Secret this one names; a rotation asked for
    // here makes the operator read the Secret from the API server rather than the watch.
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, |o| {
        finalized(o);
        o.metadata.annotations = Some([("omkc.dev/rotate".to_string(), "t1".to_string())].into());
    });
    let (ctx, api) = setup(&obj, true).await;
    let theirs = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "oidc-secrets", "namespace": NS,
                     "labels": {"app.kubernetes.io/managed-by": "openmetadata-keycloak-operator"},
                     "ownerReferences": [{"apiVersion": "omkc.dev/v1alpha1",
                         "kind": "OpenMetadataKeycloakClient", "name": "analytics",
                         "uid": "uid-of-analytics", "controller": true}]},
        "data": {"openmetadata-oidc-client-secret": b64("theirs")}
    });
    api.put(theirs.clone());
    ctx.output_secrets
        .insert(serde_json::from_value(theirs).unwrap());
    let err = reconcile(guard(&obj), ctx).await.unwrap_err();
    assert_eq!(err.reason(), Reason::SecretConflict);
    let reads: Vec<bool> = api
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == OUT_PATH)
        .map(|r| r.metadata_only)
        .collect();
    assert_eq!(reads, [true], "their data is never read");
}
