//! End-to-end: a team deletes its whole namespace, with the resource and the credentials Secret
//! it names in it. The namespace controller deletes both in its own order; the operator still
//! removes the client (with the session it opened with those credentials), and the namespace
//! goes, never held by the finalizer.

use super::*;

#[tokio::test]
#[ignore = "needs a real cluster and Keycloak: set KUBECONFIG and KEYCLOAK_URL, then cargo test --test it -- --ignored e2e (docs/contributors/testing.md, End-to-end tests)"]
async fn end_to_end_a_namespace_deleted_whole() {
    let realm = "omkc-e2e-namespace";
    let (e, admin, client) = begin(realm).await;
    let run = format!("{:08x}", fastrand::u32(..));
    let ns = team_namespace(&client, &e, &run).await;
    let post = PostParams::default();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let resources: Api<OpenMetadataKeycloakClient> = Api::namespaced(client.clone(), &ns);
    let client_id = format!("om-{run}");
    let resource = inline_resource(&e, realm, "client", json!({"clientId": client_id}));
    resources.create(&post, &resource).await.unwrap();
    ready(&resources, "openmetadata").await;
    assert!(keycloak_client(&admin, realm, &client_id).await.is_some());

    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the namespace to go", Duration::from_secs(120), || async {
        namespaces.get_opt(&ns).await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(
        keycloak_client(&admin, realm, &client_id).await.is_none(),
        "the client went with the namespace"
    );
}
