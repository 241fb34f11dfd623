//! Deletion across tenants: the connection's credentials, a session kept, a connection gone, a label withdrawn.

use super::*;

#[tokio::test]
async fn deletion_uses_the_connections_credentials_when_the_namespace_goes() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.connection(ADMIN_PASSWORD);
    c.resource("team-data", "catalog", through_connection("data-sec"));
    c.reason_becomes("team-data", "catalog", "Reconciled").await;
    // A namespace deletion: its Secrets go at once, the resource waits for its finalizer.
    c.api.delete("v1/secrets", "team-data", "catalog-oidc");
    c.delete_and_wait("team-data", "catalog").await;
    assert!(
        c.emu.client("data-sec", "catalog").is_none(),
        "cleaned up in Keycloak"
    );
    // The Event may follow the release of the finalizer: wait for it, then count.
    until(&c.api, "the ClientDeleted Event", || {
        !c.events("team-data", "ClientDeleted").is_empty()
    })
    .await;
    assert_eq!(c.events("team-data", "ClientDeleted").len(), 1);
}

#[tokio::test]
async fn deletion_after_the_inline_credentials_went_uses_the_session_they_opened() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.inline_catalog().await;
    c.api.delete("v1/secrets", "team-data", "admin");
    c.delete_and_wait("team-data", "catalog").await;
    assert!(c.emu.client("data-sec", "catalog").is_none());
}

#[tokio::test]
async fn a_connection_deleted_before_cleanup_releases_the_resource_and_names_the_orphan() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.connection(ADMIN_PASSWORD);
    c.resource("team-data", "catalog", through_connection("data-sec"));
    c.reason_becomes("team-data", "catalog", "Reconciled").await;
    let uuid = c.api.get(CRS, "team-data", "catalog").unwrap()["status"]["clientUuid"].clone();
    c.api.delete(
        "omkc.dev/v1alpha1/clusterkeycloakconnections",
        "",
        "platform",
    );
    // Whether or not the watch has seen it go: a connection missing from the cache is read
    // before it is called gone.
    c.delete_and_wait("team-data", "catalog").await;
    let orphaned = c.events("team-data", "ClientOrphaned");
    assert_eq!(orphaned.len(), 1);
    let note = orphaned[0]["note"].as_str().unwrap();
    has(note, uuid.as_str().unwrap());
    has(note, "\"catalog\"");
    assert!(
        c.emu.client("data-sec", "catalog").is_some(),
        "left behind, and said so"
    );
    assert!(
        c.ctx
            .metrics
            .render()
            .contains("omkc_orphaned_clients_total 1")
    );
}

#[tokio::test]
async fn deletion_never_uses_credentials_whose_label_was_withdrawn() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.inline_catalog().await;
    // Whoever may write Secrets there withdraws the opt-in: the Secret may no longer be used,
    // not even through the session it opened.
    c.api.edit("v1/secrets", "team-data", "admin", |s| {
        s["metadata"]["labels"] = json!({})
    });
    // The withdrawal takes effect once the label-selected watch has seen it.
    eventually(&c.api, "the watch to drop the Secret", || async {
        c.ctx
            .credentials
            .get("team-data", "admin")
            .is_none()
            .then_some(())
    })
    .await;
    c.delete_and_wait("team-data", "catalog").await;
    assert!(
        c.emu.client("data-sec", "catalog").is_some(),
        "left in Keycloak: the credentials were withdrawn"
    );
    until(&c.api, "the ClientOrphaned Warning", || {
        !c.events("team-data", "ClientOrphaned").is_empty()
    })
    .await;
}
