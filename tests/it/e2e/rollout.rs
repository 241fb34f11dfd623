//! End-to-end: a resource names a Deployment to restart, on an install with the default values,
//! whose role grants nothing on workloads. The resource is still Ready with its client and
//! Secret, the Deployment is untouched, and a Warning says which chart value to set.

use crate::support::has;
use k8s_openapi::api::{apps::v1::Deployment, events::v1::Event};

use super::*;

#[tokio::test]
#[ignore = "needs a real cluster and Keycloak: set KUBECONFIG and KEYCLOAK_URL, then cargo test --test it -- --ignored e2e (docs/contributors/testing.md, End-to-end tests)"]
async fn end_to_end_a_rollout_the_role_does_not_grant() {
    let realm = "omkc-e2e-rollout";
    let (e, _admin, client) = begin(realm).await;
    let ns = team_namespace(&client, &e, &format!("{:08x}", fastrand::u32(..))).await;
    let post = PostParams::default();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let deployment = json!({
        "metadata": {"name": "openmetadata"},
        "spec": {
            "selector": {"matchLabels": {"app": "openmetadata"}},
            "template": {
                "metadata": {"labels": {"app": "openmetadata"}},
                "spec": {"containers": [{"name": "openmetadata", "image": "openmetadata/server"}]}
            }
        }
    });
    let deployment = serde_json::from_value(deployment).unwrap();
    let before = deployments.create(&post, &deployment).await.unwrap();
    let resources: Api<OpenMetadataKeycloakClient> = Api::namespaced(client.clone(), &ns);
    let rollout = json!({"rollout": [{"kind": "Deployment", "name": "openmetadata"}]});
    let resource = inline_resource(&e, realm, "secret", rollout);
    resources.create(&post, &resource).await.unwrap();
    ready(&resources, "openmetadata").await;
    assert!(secrets.get_opt("oidc-secrets").await.unwrap().is_some());

    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let warning = wait_for("the Warning", Duration::from_secs(60), || async {
        let list = events.list(&Default::default()).await.ok()?;
        let reason = Some("WorkloadRestartForbidden");
        list.items
            .into_iter()
            .find(|e| e.reason.as_deref() == reason)
    })
    .await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    let note = warning.note.unwrap_or_default();
    has(&note, "rollout.enabled=true");
    let after = deployments.get("openmetadata").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "the Deployment untouched"
    );

    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
}
