//! End-to-end through a `ClusterKeycloakConnection`: the platform's credentials in the operator's
//! namespace, a namespace selector, a values ConfigMap, a renamed Secret, and the garbage
//! collector removing what a deleted resource owned.

use k8s_openapi::api::core::v1::ConfigMap;
use omkc::crd::ClusterKeycloakConnection;

use super::*;

/// Where the operator is installed (the chart's and the manifest's namespace by default).
fn operator_namespace() -> String {
    std::env::var("E2E_OPERATOR_NAMESPACE").unwrap_or_else(|_| "omkc-system".into())
}

fn created<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// The Ready condition's status of a stored connection (`None` until there is one).
fn connection_ready(object: &Value) -> Option<String> {
    let conditions = object["status"]["conditions"].as_array()?;
    let ready = conditions.iter().find(|c| c["type"] == "Ready")?;
    ready["status"].as_str().map(str::to_string)
}

#[tokio::test]
#[ignore = "needs a real cluster and Keycloak: set KUBECONFIG and KEYCLOAK_URL, then cargo test --test it -- --ignored e2e (docs/contributors/testing.md, End-to-end tests)"]
async fn end_to_end_through_a_connection() {
    let realm = "omkc-e2e-connection";
    let (e, admin, client) = begin(realm).await;
    let run = format!("{:08x}", fastrand::u32(..));
    let (ns, connection) = (format!("omkc-e2e-{run}"), format!("e2e-{run}"));
    let operator_ns = operator_namespace();
    let post = PostParams::default();

    // The platform team's part: credentials where only the operator reads them, a connection
    // that serves the namespaces labelled for this run, in this realm only.
    let platform_secrets: Api<Secret> = Api::namespaced(client.clone(), &operator_ns);
    let credentials = format!("keycloak-{run}");
    let secret = json!({
        "metadata": {"name": credentials, "labels": {"omkc.dev/keycloak-credentials": "true"}},
        "stringData": {"username": e.user, "password": e.password}
    });
    platform_secrets
        .create(&post, &created(secret))
        .await
        .unwrap();
    let connections: Api<ClusterKeycloakConnection> = Api::all(client.clone());
    let spec = json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
        "metadata": {"name": connection},
        "spec": {
            "url": e.keycloak_in_cluster,
            "credentialsSecretRef": {"name": credentials},
            "namespaceSelector": {"matchLabels": {"omkc.dev/e2e": run}},
            "allowedRealms": [realm]
        }
    });
    connections.create(&post, &created(spec)).await.unwrap();
    let stored = |api: Api<ClusterKeycloakConnection>, name: String| async move {
        serde_json::to_value(api.get(&name).await.ok()?).ok()
    };
    let status = wait_for("the connection Ready", Duration::from_secs(60), || {
        let (api, name) = (connections.clone(), connection.clone());
        async move {
            let object = stored(api, name).await?;
            (connection_ready(&object).as_deref() == Some("True")).then(|| object["status"].clone())
        }
    })
    .await;
    assert_eq!(status["realms"], json!([realm]), "{status}");

    // The team's part: a namespace the connection serves, a resource naming it.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = json!({"metadata": {"name": ns, "labels": {"omkc.dev/e2e": run}}});
    namespaces.create(&post, &created(namespace)).await.unwrap();
    let resources: Api<OpenMetadataKeycloakClient> = Api::namespaced(client.clone(), &ns);
    let client_id = format!("om-{run}");
    let resource = json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "openmetadata"},
        "spec": {
            "keycloak": {"connectionRef": {"name": connection}, "realm": realm},
            "openmetadata": {
                "url": "https://openmetadata.e2e.example",
                "valuesConfigMap": {"name": "openmetadata-values"}
            },
            "client": {"clientId": client_id},
            "secret": {"name": "oidc-first"}
        }
    });
    resources.create(&post, &created(resource)).await.unwrap();
    ready(&resources, "openmetadata").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let first = secrets.get("oidc-first").await.expect("the Secret");
    let kc = keycloak_client(&admin, realm, &client_id)
        .await
        .expect("the client in Keycloak");
    let data = first.data.clone().unwrap();
    assert_eq!(
        kc["secret"].as_str().unwrap().as_bytes(),
        data["openmetadata-oidc-client-secret"].0.as_slice()
    );
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let values = maps.get("openmetadata-values").await.expect("the values");
    let yaml = &values.data.unwrap()["values.yaml"];
    assert!(
        yaml.contains(&client_id) && yaml.contains("oidc-first"),
        "{yaml}"
    );
    let counted = wait_for(
        "the connection counting it",
        Duration::from_secs(60),
        || {
            let (api, name) = (connections.clone(), connection.clone());
            async move {
                let object = stored(api, name).await?;
                (object["status"]["resources"] == 1).then_some(())
            }
        },
    );
    counted.await;

    // A renamed Secret: the new one is written, the old one (the operator's own) deleted.
    let rename = Patch::Merge(json!({"spec": {"secret": {"name": "oidc-second"}}}));
    (resources.patch("openmetadata", &PatchParams::default(), &rename))
        .await
        .unwrap();
    wait_for("the rename", Duration::from_secs(60), || async {
        let second = secrets.get_opt("oidc-second").await.ok()??;
        let first_gone = secrets.get_opt("oidc-first").await.ok()?.is_none();
        (first_gone && second.data? == data).then_some(())
    })
    .await;

    // Deleting the resource deletes the client; the garbage collector the Secret and values it
    // owned (their owner references are the resource's, as a real API server takes them).
    (resources.delete("openmetadata", &DeleteParams::default()))
        .await
        .unwrap();
    wait_for(
        "the owned objects to go",
        Duration::from_secs(120),
        || async {
            let resource_gone = resources.get_opt("openmetadata").await.ok()?.is_none();
            let secret_gone = secrets.get_opt("oidc-second").await.ok()?.is_none();
            let values_gone = maps.get_opt("openmetadata-values").await.ok()?.is_none();
            (resource_gone && secret_gone && values_gone).then_some(())
        },
    )
    .await;
    assert!(
        keycloak_client(&admin, realm, &client_id).await.is_none(),
        "client removed from Keycloak"
    );

    let gone = DeleteParams::default();
    namespaces.delete(&ns, &gone).await.unwrap();
    connections.delete(&connection, &gone).await.unwrap();
    platform_secrets.delete(&credentials, &gone).await.unwrap();
}
