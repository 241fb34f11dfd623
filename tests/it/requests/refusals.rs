//! What one reconcile refuses, and how it says so.

use super::*;

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
    assert!(note.contains("openmetadata/keycloak-admin"), "{note}");
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

#[tokio::test]
async fn a_label_the_api_server_refuses_is_a_permanent_clearly_worded_condition() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, |o| {
        finalized(o);
        o.spec.secret = Some(omkc::crd::OutputSecretSpec {
            labels: [("team".to_string(), "a b".to_string())].into(),
            ..Default::default()
        });
    });
    let (ctx, api) = setup(&obj, true).await;
    let err = reconcile(guard(&obj), ctx.clone()).await.unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(calls(&api, 0)[0], format!("POST {SECRETS_PATH}"));
    let note = assert_not_ready(
        &api,
        1,
        Reason::KubernetesRejected,
        "metadata.labels: Invalid value",
    );
    assert!(
        note.starts_with("Kubernetes refused to write Secret \"oidc-secrets\" (HTTP 422)"),
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
    assert!(note.contains("keycloak-admin"), "{note}");
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
    assert_eq!(body["reason"], "MalformedResource");
    assert_eq!(body["type"], "Warning");
    // The reference is built from the metadata alone, yet names the kind like any other Event.
    assert_eq!(
        body["regarding"],
        json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "name": "broken", "namespace": NS, "uid": "u-1", "resourceVersion": "7"
        })
    );
}
