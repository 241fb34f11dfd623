//! The connections in the controller loop: a connection's health on its own status, and a
//! connection the watch has not shown yet.

use super::*;

/// Signed in, the realms it may serve, the version (its account is a server admin), the
/// resources naming it; then a wrong password, shown on the connection itself.
pub(super) async fn a_connection_reports_its_health(
    api: &ApiServer,
    emu: &Emulator,
    ctx: &Arc<Context>,
    http_base: &str,
) {
    // A connection's health, on its own status: signed in, the realms it may serve, the
    // version (its account is a server admin), the resources naming it.
    let (logs, _logging) = crate::support::Logs::capture();
    let checks = tokio::spawn(omkc::controller::connections::run(
        api.client(),
        ctx.clone(),
        std::future::pending(),
    ));
    api.put(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
        "metadata": {"name": "platform"},
        "spec": {"url": emu.base_url, "credentialsSecretRef": {"name": "keycloak-admin"},
                 "namespaceSelector": {}, "allowedRealms": ["data-sec", "payroll"]}
    }));
    let connection = condition(api, CONNECTIONS, "", "platform", "Connected").await;
    // Where, as whom (the account of the credentials Secret); payroll does not exist.
    let user = crate::support::emulator::ADMIN_USER;
    let message = format!(
        "signed in at {} as {user:?}; may serve realms data-sec",
        emu.base_url
    );
    let (major, minor, patch) = emu.version();
    let status = &connection["status"];
    shows!(status["conditions"][0], {"status": "True", "message": message});
    shows!(status, {"realms": ["data-sec"], "resources": 0,
                    "keycloakVersion": format!("{major}.{minor}.{patch}")});
    assert!(status["lastChecked"].is_string());
    // A Keycloak older than the oldest line tested is served, and said to be so.
    let old = Emulator::start_as((21, 1, 2), "").await;
    api.put(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
        "metadata": {"name": "legacy"},
        "spec": {"url": old.base_url, "credentialsSecretRef": {"name": "keycloak-admin"},
                 "namespaceSelector": {}, "allowedRealms": ["data-sec"]}
    }));
    let legacy = condition(api, CONNECTIONS, "", "legacy", "Connected").await;
    let message = format!(
        "signed in at {} as {user:?}; may serve realms data-sec; Keycloak 21.1.2 is older than 22.0, the oldest line this operator is tested with",
        old.base_url
    );
    shows!(legacy["status"], {"keycloakVersion": "21.1.2", "realms": ["data-sec"]});
    shows!(legacy["status"]["conditions"][0], {"status": "True", "message": message});
    api.delete(CONNECTIONS, "", "legacy");
    lacks(&logs.text(), "connection not ready");
    // A wrong password shows on the connection itself.
    api.edit(CONNECTIONS, "", "platform", |c| {
        c["spec"]["adminRealm"] = json!("data-sec")
    });
    condition(api, CONNECTIONS, "", "platform", "CredentialsRejected").await;
    assert!(
        (logs.text().lines()).any(|l| l.contains("WARN")
            && l.contains("connection not ready")
            && l.contains("reason=CredentialsRejected")),
        "{}",
        logs.text()
    );
    let metrics = reqwest::get(format!("{http_base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains(r#"omkc_connection_ready{connection="platform"} 0"#));
    checks.abort();
}

/// A connection the watch has not shown is read before it is called gone.
pub(super) async fn a_connection_the_watch_has_not_shown_is_read(api: &ApiServer, emu: &Emulator) {
    // A connection the watch has not shown is read before it is called gone.
    let mut orphan = resource(
        "via-connection",
        emu,
        "keycloak-admin",
        "via-connection-oidc",
    );
    orphan["spec"]["keycloak"] = json!({"connectionRef": {"name": "not-yet"}, "realm": "data-sec"});
    api.put(orphan);
    condition(api, CRS, NS, "via-connection", "ConnectionNotFound").await;
    assert!(
        api.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/clusterkeycloakconnections/not-yet")),
        "read from the API server"
    );
    api.delete(CRS, NS, "via-connection");
    eventually(api, "the resource released", || async {
        api.get(CRS, NS, "via-connection").is_none().then_some(())
    })
    .await;
}
