//! The fake API server's claims about a real one (`support/apiserver/`), each run against both:
//! server-side apply's ownership, removals and conflicts, which the operator's writes of its
//! Secrets and ConfigMaps rest on; a custom resource's status subresource and generation,
//! which its status and `observedGeneration` rest on; and its schema, which `plan` checks too
//! (bounds, pruning and its warnings, ratcheting).

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

/// A custom resource schema with a bounded field (`spec.s`), a list of bounded items (`spec.a`)
/// and a free field (`spec.t`).
fn bounded(max: u32) -> Value {
    let text = json!({"type": "string", "maxLength": max});
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "s": text, "a": {"type": "array", "items": text}, "t": {"type": "string"}}}}})
}

/// Polls `probe` until it answers, for at most 60 s: a real API server takes a CRD up, or its
/// new schema, a moment after it answers the write.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    probe: impl FnMut() -> F,
) -> T {
    let answer = crate::support::poll(std::time::Duration::from_secs(60), probe).await;
    answer.unwrap_or_else(|| panic!("{what}: not within 60 s"))
}

both_apiservers!(
    /// The ratcheting the fake claims (as from 1.30): an object stored under an older schema can
    /// still be updated where it is sound, but not where it changed, even to another fault. On a
    /// real API server, with a CRD of the scenario's own whose bound tightens once the object is
    /// stored; on the fake, by the checker its admission runs.
    an_update_is_judged_only_where_it_changed_something,
    |cluster| {
        let (loose, tight) = (bounded(20), bounded(10));
        let spec = |s: usize, c: char, t: &str, last: &str| {
            let long = c.to_string().repeat(s);
            json!({"s": long, "a": [long, last], "t": t})
        };
        let stored = spec(12, 'x', "a", "b");
        let updates = [
            spec(12, 'x', "b", "b"),
            spec(12, 'y', "a", "b"),
            spec(11, 'x', "a", "b"),
            spec(12, 'x', "a", "c"),
        ];
        let admitted: Vec<bool> = match cluster.fake_server() {
            Some(_) => {
                let old = json!({"spec": stored});
                let problems = |s: &Value| {
                    omkc::cli::strict::problems(&json!({"spec": s}), Some(&old), &tight)
                };
                updates.iter().map(|s| problems(s).is_empty()).collect()
            }
            None => {
                use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition as Crd;
                use kube::ResourceExt;
                let group = format!("r{:08x}.omkc.test", fastrand::u32(..));
                let crd = json!({
                    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                    "metadata": {"name": format!("ratchets.{group}")},
                    "spec": {"group": group, "scope": "Namespaced",
                             "names": {"plural": "ratchets", "kind": "Ratchet"},
                             "versions": [{"name": "v1", "served": true, "storage": true,
                                           "schema": {"openAPIV3Schema": loose}}]}});
                let crds: Api<Crd> = Api::all(cluster.admin());
                let post = PostParams::default();
                let dry = PostParams { dry_run: true, ..Default::default() };
                let crd: Crd = serde_json::from_value(crd).unwrap();
                let name = crds.create(&post, &crd).await.unwrap().name_any();
                let resource = kube::api::ApiResource {
                    group: group.clone(),
                    version: "v1".into(),
                    api_version: format!("{group}/v1"),
                    kind: "Ratchet".into(),
                    plural: "ratchets".into(),
                };
                let api: Api<kube::api::DynamicObject> =
                    Api::namespaced_with(cluster.admin(), cluster.namespace(), &resource);
                let object = |name: &str, spec: &Value, rv: Option<&str>| {
                    let o = json!({"apiVersion": format!("{group}/v1"), "kind": "Ratchet",
                                   "metadata": {"name": name, "resourceVersion": rv}, "spec": spec});
                    serde_json::from_value::<kube::api::DynamicObject>(o).unwrap()
                };
                let create = |name: &str, params: &PostParams| {
                    let (api, o, params) = (api.clone(), object(name, &stored, None), params.clone());
                    async move { api.create(&params, &o).await }
                };
                // Served a moment after it is made; the object is stored while it is sound.
                let old = until("the CRD served", || async { create("r", &post).await.ok() }).await;
                let mut current = crds.get(&name).await.unwrap();
                current.spec.versions[0].schema =
                    Some(serde_json::from_value(json!({"openAPIV3Schema": tight})).unwrap());
                crds.replace(&name, &post, &current).await.unwrap();
                until("the tighter schema in force", || async {
                    let refused = create("probe", &dry).await;
                    matches!(refused, Err(kube::Error::Api(e)) if e.code == 422).then_some(())
                })
                .await;
                let rv = old.metadata.resource_version.clone();
                let mut verdicts = Vec::new();
                for s in &updates {
                    let update = object("r", s, rv.as_deref());
                    verdicts.push(match api.replace("r", &dry, &update).await {
                        Ok(_) => true,
                        Err(kube::Error::Api(e)) if e.code == 422 => false,
                        Err(e) => panic!("{e}"),
                    });
                }
                crds.delete(&name, &Default::default()).await.unwrap();
                verdicts
            }
        };
        // t changed alone; s (and a[0]) to the same fault; s shorter, but still too long; the
        // list changed after its unchanged faulty item (a list is compared whole).
        assert_eq!(admitted, [true, false, false, false]);
    }
);

both_apiservers!(
    /// A field the schema does not know is dropped with a warning, on a create and on a patch.
    a_pruned_field_is_said_in_a_warning,
    |cluster| {
        let path = format!(
            "/apis/omkc.dev/v1alpha1/namespaces/{}/openmetadatakeycloakclients",
            cluster.namespace()
        );
        let resource = json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": "warned"},
            "spec": {"keycloak": {"url": "http://keycloak.example", "realm": "data-sec",
                                  "credentialsSecretRef": {"name": "kc"}},
                     "openmetadata": {"url": "https://openmetadata.example.com"},
                     "secret": {"lables": {"team": "data"}}}});
        let warnings = |method: &str, uri: String, content: &str, body: &Value| {
            let request = http::Request::builder()
                .method(method)
                .uri(uri)
                .header("content-type", content)
                .body(kube::client::Body::from(serde_json::to_vec(body).unwrap()))
                .unwrap();
            let client = cluster.admin();
            async move {
                let response = client.send(request).await.unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                let said = response.headers().get_all("warning").iter();
                said.map(|w| w.to_str().unwrap().to_string()).collect::<Vec<_>>()
            }
        };
        let said = warnings("POST", path.clone(), "application/json", &resource).await;
        assert_eq!(said, [r#"299 - "unknown field \"spec.secret.lables\"""#]);
        let patch = json!({"spec": {"deletionPolicy": "Retain", "typo": 1}});
        let patched = format!("{path}/warned");
        let said = warnings("PATCH", patched, "application/merge-patch+json", &patch).await;
        assert_eq!(said, [r#"299 - "unknown field \"spec.typo\"""#]);
    }
);
