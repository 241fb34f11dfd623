//! One reconcile of a deleted resource: the client, then the finalizer; Retain; Keycloak down
//! or failing the deletion.

use super::*;

/// A converged resource that a user has just deleted, as the API server and the watch show it.
async fn converged_then_deleted(
    emu: &Emulator,
) -> (Arc<Context>, ApiServer, OpenMetadataKeycloakClient) {
    let (ctx, api) = setup(&resource(&emu.base_url, finalized), true).await;
    let mut obj = converged(emu, &ctx, &api).await;
    deleting(&mut obj);
    api.edit(CRS, NS, "openmetadata", |o| {
        o["metadata"]["deletionTimestamp"] = json!("2026-12-03T00:00:00Z")
    });
    (ctx, api, obj)
}

#[tokio::test]
async fn deletion_removes_the_owned_client_then_the_finalizer() {
    let emu = Emulator::start().await;
    let (ctx, api, obj) = converged_then_deleted(&emu).await;
    let action = reconcile(guard(&obj), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    // The writes, then what they did is reported (as in every reconcile).
    assert_eq!(
        calls(&api, 0),
        [format!("PATCH {CR_PATH}"), format!("POST {EVENTS_PATH}")]
    );
    let (_, reason, note) = event_in(&api, 1);
    assert_eq!(reason, "ClientDeleted");
    assert!(note.starts_with("deleted client"), "{note}");
    assert_eq!(
        call(&api, 0).body.unwrap(),
        json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": FINALIZER},
            {"op": "remove", "path": "/metadata/finalizers/0"}
        ])
    );
    assert!(
        api.get(CRS, NS, "openmetadata").is_none(),
        "its last finalizer gone, it goes"
    );
    assert!(emu.client("data-sec", "openmetadata").is_none());
}

#[tokio::test]
async fn deletion_with_retain_keeps_the_client_and_releases_the_finalizer() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, |o| {
        deleting(o);
        o.spec.deletion_policy = Some(DeletionPolicy::Retain);
    });
    let (ctx, api) = setup(&obj, true).await;
    reconcile(guard(&obj), ctx).await.unwrap();
    assert_eq!(
        calls(&api, 0),
        [format!("PATCH {CR_PATH}"), format!("POST {EVENTS_PATH}")]
    );
    assert_eq!(event_in(&api, 1).1, "ClientRetained");
    assert!(api.get(CRS, NS, "openmetadata").is_none());
    assert!(emu.log().is_empty());
}

#[tokio::test]
async fn deletion_keeps_the_finalizer_while_keycloak_is_down() {
    let emu = Emulator::start().await;
    let url = emu.base_url.clone();
    emu.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let obj = resource(&url, deleting);
    let (ctx, api) = setup(&obj, true).await;
    let err = reconcile(guard(&obj), ctx.clone()).await.unwrap_err();
    assert!(err.is_transient());
    // No finalizer removal: the status and the Warning only.
    assert_not_ready(&api, 0, Reason::KeycloakUnavailable, "finalizer stays");
    let stored = api.get(CRS, NS, "openmetadata").unwrap();
    assert_eq!(stored["metadata"]["finalizers"], json!([FINALIZER]));
    // Transient errors back off exponentially, and the resource is skipped by resyncs meanwhile.
    let key = "openmetadata/openmetadata";
    let first = ctx.backoff(key, None);
    let second = ctx.backoff(key, None);
    let third = ctx.backoff(key, None);
    assert!(first <= Duration::from_millis(2400), "{first:?}");
    assert!(
        second >= Duration::from_millis(3200) && second <= Duration::from_millis(4800),
        "{second:?}"
    );
    assert!(third >= Duration::from_millis(6400), "{third:?}");
    assert!(ctx.in_backoff(key));
    assert_eq!(
        ctx.backoff(key, Some(Duration::from_secs(120))),
        Duration::from_secs(120),
        "at least what the service asked for (Retry-After)"
    );
}

#[tokio::test]
async fn a_client_keycloak_fails_to_delete_keeps_the_finalizer() {
    let emu = Emulator::start().await;
    let (ctx, api, obj) = converged_then_deleted(&emu).await;
    emu.inject(Some("DELETE"), "/clients/", 500, "{}");
    let err = reconcile(guard(&obj), ctx).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    let stored = api.get(CRS, NS, "openmetadata").unwrap();
    assert_eq!(stored["metadata"]["finalizers"], json!([FINALIZER]));
    assert!(
        emu.client("data-sec", "openmetadata").is_some(),
        "tried again later"
    );
}
