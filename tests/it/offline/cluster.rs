//! `check` with a cluster: the connection resolved there, and the Kubernetes side planned too
//! (the output Secret, a source Secret, a rotation the operator would defer, adoption).

use serde_json::json;

use super::{file, run};
use crate::binary::temp_dir;
use crate::support::{
    INSTALLATION, admin_session,
    apiserver::ApiServer,
    b64,
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator},
    keycloak_sync,
};

/// A cluster where `openmetadata` may use the ClusterKeycloakConnection `platform` (for
/// `data-sec`), with its credentials; the file of a resource naming it, and the resource.
pub(super) fn cluster_with_a_connection(
    api: &ApiServer,
    emu: &Emulator,
) -> (String, serde_json::Value) {
    api.put(json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "openmetadata", "labels": {"team": "data"}}}));
    api.put(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "platform-admin", "namespace": "default",
                     "labels": {"omkc.dev/keycloak-credentials": "true"}},
        "data": {"username": b64(ADMIN_USER), "password": b64(ADMIN_PASSWORD)}
    }));
    api.put(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
        "metadata": {"name": "platform"},
        "spec": {"url": emu.base_url, "credentialsSecretRef": {"name": "platform-admin"},
                 "namespaceSelector": {"matchLabels": {"team": "data"}},
                 "allowedRealms": ["data-sec"]}
    }));
    let resource = json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "openmetadata", "namespace": "openmetadata"},
        "spec": {"keycloak": {"connectionRef": {"name": "platform"}, "realm": "data-sec"},
                 "openmetadata": {"url": "https://openmetadata.example.com"}}
    });
    (
        file("planned.yaml", &serde_json::to_string(&resource).unwrap()),
        resource,
    )
}

#[tokio::test]
async fn check_with_a_cluster_plans_the_kubernetes_side_too() {
    omkc::tls::install_crypto_provider();
    let emu = Emulator::start().await;
    let api = ApiServer::start().await;
    let kubeconfig = api
        .kubeconfig(&temp_dir("check-kubernetes"))
        .display()
        .to_string();
    let (path, resource) = cluster_with_a_connection(&api, &emu);
    let check_file = async |file: &str| {
        let args = ["check", "-f", file, "--installation-id", INSTALLATION];
        run(&args, &[("KUBECONFIG", &kubeconfig)]).await
    };
    let check = async || check_file(&path).await;
    // The resource's file, edited.
    let planned = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut planned: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut planned);
        file(name, &planned.to_string())
    };

    let out = check().await;
    out.says(0, &["a reconcile would create client \"openmetadata\", then read the client back and write the Secret"]);
    assert!(
        out.stdout.ends_with("Nothing was written.\n"),
        "{}",
        out.stdout
    );

    // The resource in the cluster made its client (with its uid, which the file does not
    // have); someone else's Secret has the output's name: the reconcile would refuse it.
    api.put(resource);
    let live = api
        .get(
            "omkc.dev/v1alpha1/openmetadatakeycloakclients",
            "openmetadata",
            "openmetadata",
        )
        .unwrap();
    let mut obj: omkc::crd::OpenMetadataKeycloakClient = serde_json::from_value(live).unwrap();
    assert!(obj.metadata.uid.is_some(), "the API server gave it one");
    obj.spec.keycloak.url = Some(emu.base_url.clone());
    obj.spec.keycloak.connection_ref = None;
    obj.spec.keycloak.credentials_secret_ref = Some(omkc::crd::SecretReference {
        name: "unused".into(),
    });
    keycloak_sync(&admin_session(&emu), &obj).await.unwrap();
    api.put(json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "oidc-secrets", "namespace": "openmetadata"},
                   "data": {"note": b64("made by hand")}}));
    check().await.says(4, &["SecretConflict"]);

    // Gone: the reconcile would write it, and nothing in Keycloak.
    api.delete("v1/secrets", "openmetadata", "oidc-secrets");
    check().await.says(
        0,
        &["client       ok   a reconcile would create Secret \"oidc-secrets\"\n"],
    );

    // The resource's own Secret, and a rotation asked for within the operator's shortest
    // interval (5 minutes) of the client's secret: the reconcile would wait, and says so.
    let uid = obj.metadata.uid.clone().unwrap();
    api.put(json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "oidc-secrets", "namespace": "openmetadata",
                                "ownerReferences": [{"apiVersion": "omkc.dev/v1alpha1",
                                    "kind": "OpenMetadataKeycloakClient", "name": "openmetadata",
                                    "uid": uid, "controller": true}]},
                   "data": {"openmetadata-oidc-client-id": b64("openmetadata")}}));
    let rotated = planned("rotated.yaml", &|r| {
        r["metadata"]["annotations"] = json!({"omkc.dev/rotate": "2026-12-04"});
    });
    check_file(&rotated).await.says(
        0,
        &["update Secret \"oidc-secrets\"", "; the rotation of client \"openmetadata\" for omkc.dev/rotate \"2026-12-04\" waits until"],
    );

    // A client secret of the team's own (`secret.source`): the client would take it.
    api.put(json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "own", "namespace": "openmetadata",
                                "labels": {"omkc.dev/client-secret-source": "true"}},
                   "data": {"secret": b64("a-secret-of-our-own-choosing")}}));
    let sourced = planned("sourced.yaml", &|r| {
        r["spec"]["secret"] = json!({"source": {"name": "own", "key": "secret"}});
    });
    check_file(&sourced).await.says(
        0,
        &["update the client (secret), then update Secret \"oidc-secrets\""],
    );
    // Drift: the client's URLs, read back after; the Secret holds the same id and secret.
    let moved = planned("moved.yaml", &|r| {
        r["spec"]["openmetadata"]["url"] = json!("https://om.example.org");
    });
    check_file(&moved).await.says(
        0,
        &["update the client (rootUrl, redirectUris, webOrigins, attributes), then read the client back (then the Secret, where it differs)"],
    );
    // A client made by hand, taken over where the connection allows it.
    emu.seed_client(
        "data-sec",
        json!({"clientId": "by-hand", "publicClient": false}),
    );
    let mut connection = api
        .get(
            "omkc.dev/v1alpha1/clusterkeycloakconnections",
            "",
            "platform",
        )
        .unwrap();
    connection["spec"]["allowAdoption"] = json!(true);
    api.put(connection);
    let adopting = planned("adopting.yaml", &|r| {
        r["metadata"]["name"] = json!("adopting");
        r["spec"]["client"] = json!({"clientId": "by-hand", "adoptExisting": true});
        r["spec"]["secret"] = json!({"name": "by-hand-oidc"});
    });
    check_file(&adopting)
        .await
        .says(0, &["update the client (owner marker (adopt)"]);
    assert!(
        api.requests().iter().all(|r| r.method == "GET"),
        "check only reads"
    );
}
