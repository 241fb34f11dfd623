//! A ClusterKeycloakConnection and the resource's namespace that the watches have not shown
//! (right after a start, during a re-list) are read from the API server before anything is
//! refused for their sake.

use super::*;

#[tokio::test]
async fn a_connection_and_a_namespace_the_watches_have_not_shown_are_read() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, |o| {
        finalized(o);
        o.spec.keycloak.url = None;
        o.spec.keycloak.credentials_secret_ref = None;
        o.spec.keycloak.connection_ref = Some(omkc::crd::ConnectionReference {
            name: "platform".into(),
        });
    });
    let (ctx, api) = setup(&obj, false).await;
    api.put(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": NS, "labels": {"team": "data"}}
    }));
    api.put(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
        "metadata": {"name": "platform"},
        "spec": {
            "url": emu.base_url,
            "credentialsSecretRef": {"name": "platform-admin"},
            "namespaceSelector": {"matchLabels": {"team": "data"}},
            "allowedRealms": ["data-sec"]
        }
    }));
    let mut credentials = admin_credentials("omkc-system");
    credentials["metadata"]["name"] = json!("platform-admin");
    api.put(credentials);

    reconcile(guard(&obj), ctx).await.unwrap();
    let reads: Vec<String> = calls(&api, 0)
        .into_iter()
        .filter(|c| c.starts_with("GET"))
        .collect();
    assert!(
        reads.contains(&"GET /apis/omkc.dev/v1alpha1/clusterkeycloakconnections/platform".into()),
        "{reads:?}"
    );
    assert!(
        reads.contains(&format!("GET /api/v1/namespaces/{NS}")),
        "the namespace's labels decide: {reads:?}"
    );
    assert_eq!(
        api.get(CRS, NS, "openmetadata").unwrap()["status"]["conditions"][0]["status"],
        "True"
    );
    assert!(emu.client("data-sec", "openmetadata").is_some());
}
