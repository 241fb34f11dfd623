//! The fake API server's claims about a real one (`support/apiserver/`), each run against both:
//! server-side apply's ownership, removals and conflicts, which the operator's writes of its
//! Secrets and ConfigMaps rest on; a custom resource's status subresource and generation,
//! which its status and `observedGeneration` rest on; and its schema, which `plan` checks too.

use crate::support::has;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use omkc::crd::OpenMetadataKeycloakClient;
use serde_json::{Value, json};

use crate::both_apiservers;

/// A server-side apply of the ConfigMap `m`'s `data` by `manager`: its answer's `data`, or the
/// refusal's code and message.
async fn apply(
    maps: &Api<ConfigMap>,
    manager: &str,
    force: bool,
    data: Value,
) -> Result<Value, (u16, String)> {
    let body =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": data});
    let mut params = PatchParams::apply(manager);
    params.force = force;
    match maps.patch("m", &params, &Patch::Apply(&body)).await {
        Ok(map) => Ok(json!(map.data)),
        Err(kube::Error::Api(s)) => Err((s.code, s.message)),
        Err(e) => panic!("{e}"),
    }
}

/// An edit by another client (a merge patch: an Update, which takes over the fields it changes).
async fn edit(maps: &Api<ConfigMap>, data: Value) -> Value {
    let params = PatchParams {
        field_manager: Some("editor".into()),
        ..Default::default()
    };
    let patch = Patch::Merge(json!({"data": data}));
    json!(maps.patch("m", &params, &patch).await.unwrap().data)
}

both_apiservers!(
    /// What the operator's applies of its Secrets and ConfigMaps rest on.
    server_side_apply_owns_removes_and_conflicts,
    |cluster| {
        let maps: Api<ConfigMap> = Api::namespaced(cluster.admin(), cluster.namespace());
        let two = json!({"a": "1", "b": "2"});
        assert_eq!(apply(&maps, "owner", false, two.clone()).await, Ok(two));
        // A field the same manager applied before and omits now is removed.
        let one = json!({"a": "1"});
        assert_eq!(apply(&maps, "owner", false, one.clone()).await, Ok(one.clone()));
        // A field another client added stays.
        edit(&maps, json!({"c": "3"})).await;
        let kept = json!({"a": "1", "c": "3"});
        assert_eq!(apply(&maps, "owner", false, one.clone()).await, Ok(kept));
        // Another manager's different value is a conflict, named; forced, it wins the field.
        let other = json!({"a": "other"});
        let (code, message) = apply(&maps, "rival", false, other.clone()).await.unwrap_err();
        assert_eq!(code, 409, "{message}");
        has(&message, r#"Apply failed with 1 conflict: conflict with "owner": .data.a"#);
        let forced = apply(&maps, "rival", true, other.clone()).await.unwrap();
        assert_eq!(forced["a"], "other");
        let (code, message) = apply(&maps, "owner", false, one.clone()).await.unwrap_err();
        assert_eq!(code, 409, "{message}");
        has(&message, r#"conflict with "rival""#);
        // An edit takes the field over: the manager that applied it no longer removes it.
        edit(&maps, json!({"a": "edited"})).await;
        let without_a = apply(&maps, "rival", false, json!({"d": "4"})).await.unwrap();
        assert_eq!(without_a, json!({"a": "edited", "c": "3", "d": "4"}));
    }
);

both_apiservers!(
    /// What the operator's status and `observedGeneration` rest on.
    a_custom_resources_status_and_generation,
    |cluster| {
        let resource = json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": "om", "namespace": cluster.namespace()},
            "spec": {
                "keycloak": {"url": "http://keycloak.example", "realm": "data-sec",
                             "credentialsSecretRef": {"name": "kc"}},
                "openmetadata": {"url": "https://openmetadata.example.com"}
            }
        });
        let api: Api<OpenMetadataKeycloakClient> =
            Api::namespaced(cluster.admin(), cluster.namespace());
        let created = api
            .create(&PostParams::default(), &serde_json::from_value(resource).unwrap())
            .await
            .unwrap();
        let generation = |o: &OpenMetadataKeycloakClient| o.metadata.generation.unwrap();
        assert_eq!(generation(&created), 1);
        let params = PatchParams::default();
        let status = json!({"status": {"observedGeneration": 1, "clientId": "om"}});
        // Status through its subresource: stored, the generation unchanged.
        let patched = api
            .patch_status("om", &params, &Patch::Merge(&status))
            .await
            .unwrap();
        assert_eq!(generation(&patched), 1);
        assert_eq!(patched.status.as_ref().unwrap().client_id.as_deref(), Some("om"));
        // Status through the resource itself: ignored.
        let ignored = json!({"status": {"clientId": "other"}, "metadata": {"labels": {"x": "y"}}});
        let patched = api.patch("om", &params, &Patch::Merge(&ignored)).await.unwrap();
        assert_eq!(patched.status.as_ref().unwrap().client_id.as_deref(), Some("om"));
        assert_eq!(generation(&patched), 1, "metadata is not spec");
        // A spec change bumps the generation; so does marking the resource for deletion.
        let spec = json!({"spec": {"openmetadata": {"url": "https://om.example.com"}}});
        let patched = api.patch("om", &params, &Patch::Merge(&spec)).await.unwrap();
        assert_eq!(generation(&patched), 2);
        let held = json!({"metadata": {"finalizers": ["omkc.dev/test"]}});
        api.patch("om", &params, &Patch::Merge(&held)).await.unwrap();
        api.delete("om", &DeleteParams::default()).await.unwrap();
        let marked = api.get("om").await.unwrap();
        assert!(marked.metadata.deletion_timestamp.is_some());
        assert_eq!(generation(&marked), 3);
        cluster.set_finalizers("om", json!(null)).await;
        assert!(api.get_opt("om").await.unwrap().is_none());
    }
);

both_apiservers!(
    /// What `plan` and the CRD's bounds rest on: the schema judges every write of a custom
    /// resource, its status too, and drops what it does not know.
    a_custom_resource_is_held_to_its_schema,
    |cluster| {
        let resource = kube::api::ApiResource::erase::<OpenMetadataKeycloakClient>(&());
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(cluster.admin(), cluster.namespace(), &resource);
        let refusal = |answer: Result<kube::api::DynamicObject, kube::Error>| match answer {
            Err(kube::Error::Api(s)) => (s.code, s.message),
            other => panic!("admitted: {other:?}"),
        };
        let mut resource = json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": "om"},
            "spec": {
                "keycloak": {"url": "http://keycloak.example", "realm": "data-sec",
                             "credentialsSecretRef": {"name": "kc"}},
                "openmetadata": {"url": "https://openmetadata.example.com"},
                "secret": {"labels": {"team": "x".repeat(64)}}
            }
        });
        let post = PostParams::default();
        let as_object = |r: &Value| serde_json::from_value(r.clone()).unwrap();
        let (code, said) = refusal(api.create(&post, &as_object(&resource)).await);
        assert_eq!(code, 422);
        has(&said, "spec.secret.labels.team");
        // Created with a field it does not know, and a null where the schema allows none (a
        // YAML key left empty): both kept out, not refused.
        resource["spec"]["secret"] = json!({"labels": {"team": "data"}, "lables": {"typo": "x"}});
        resource["spec"]["openmetadata"]["extraRedirectUris"] = json!(null);
        let created = api.create(&post, &as_object(&resource)).await.unwrap();
        assert_eq!(created.data["spec"]["secret"], json!({"labels": {"team": "data"}}));
        let openmetadata = json!({"url": "https://openmetadata.example.com"});
        assert_eq!(created.data["spec"]["openmetadata"], openmetadata);
        let params = PatchParams::default();
        let keep = Patch::Merge(json!({"spec": {"deletionPolicy": "Keep"}}));
        let (code, said) = refusal(api.patch("om", &params, &keep).await);
        assert_eq!(code, 422);
        has(&said, "spec.deletionPolicy");
        let wrong = json!({"status": {"observedGeneration": "one"}});
        let (code, said) = refusal(api.patch_status("om", &params, &Patch::Merge(wrong)).await);
        assert_eq!(code, 422);
        has(&said, "observedGeneration"); // 1.30 leaves out "status."; 1.37 says it
        // A whole number written as one (`1.0`) is the integer.
        let status = json!({"status": {"observedGeneration": 1.0, "unknown": true}});
        let patched = api.patch_status("om", &params, &Patch::Merge(status)).await;
        assert_eq!(patched.unwrap().data["status"], json!({"observedGeneration": 1}));
    }
);

both_apiservers!(
    /// What the operator's own checks of a Secret's labels and annotations stand in for.
    an_objects_labels_and_annotation_keys_are_kubernetes_names,
    |cluster| {
        let maps: Api<ConfigMap> = Api::namespaced(cluster.admin(), cluster.namespace());
        let create = |metadata: Value| {
            let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata});
            let map: ConfigMap = serde_json::from_value(map).unwrap();
            let maps = maps.clone();
            async move { maps.create(&PostParams::default(), &map).await }
        };
        let refused = |answer: Result<ConfigMap, kube::Error>| match answer {
            Err(kube::Error::Api(s)) if s.code == 422 => s.message,
            other => panic!("not refused: {other:?}"),
        };
        let said = refused(create(json!({"name": "v", "labels": {"team": "a b"}})).await);
        has(&said, "metadata.labels: Invalid value: \"a b\"");
        let said = refused(create(json!({"name": "k", "annotations": {"a b": "x"}})).await);
        has(&said, "metadata.annotations: Invalid value: \"a b\"");
        let fine = json!({"name": "ok", "labels": {"example.com/team": "", "app": "open_metadata.1"},
                          "annotations": {"a.b/c_d": " any text "}});
        create(fine).await.unwrap();
    }
);
