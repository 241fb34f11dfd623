//! The CEL rules of the CRDs, evaluated by a real CEL engine, and the schema's bounds.

use super::*;
use omkc::crd::ClusterKeycloakConnection;

use crate::{both_apiservers, support::apiservers::Cluster};

/// The CRD of `K`, as JSON.
fn crd_of<K: CustomResourceExt>() -> Value {
    serde_json::to_value(K::crd()).unwrap()
}

fn schema_of(crd: &Value) -> &Value {
    &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
}

fn as_json(obj: &OpenMetadataKeycloakClient) -> Value {
    serde_json::to_value(obj).unwrap()
}

pub(super) fn cel(
    new: &OpenMetadataKeycloakClient,
    old: Option<&OpenMetadataKeycloakClient>,
) -> Result<(), String> {
    let old = old.map(as_json);
    Validator::new()
        .validate(
            schema_of(&crd_of::<OpenMetadataKeycloakClient>()),
            &as_json(new),
            old.as_ref(),
        )
        .map_err(|e| e.to_string())
}

/// Whether the `K` object `new` is admitted (as created, or as an update of `old`): for the fake
/// API server, which judges neither schema nor rules itself, by the offline commands' schema
/// checker and then the CEL engine, or by a Kubernetes
/// release's own CEL validator where `OMKC_TEST_CEL_CHECKER` names one ([`release_checker`]); by
/// a real API server's own admission (schema, CEL rules, transition rules), asked with a dry
/// run, for `real_kubernetes` (the earlier version is stored for it, then deleted). A refusal is
/// the API server's message.
async fn admit_as<K: kube::Resource<DynamicType = ()> + CustomResourceExt>(
    cluster: &Cluster,
    new: &Value,
    old: Option<&Value>,
) -> Result<(), String> {
    let crd = crd_of::<K>();
    if cluster.fake_server().is_some() {
        return admitted_by_fake::<K>(new, old);
    }
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let next = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("admit-{}-{next}", cluster.namespace());
    let resource = kube::api::ApiResource::erase::<K>(&());
    let api: kube::Api<kube::api::DynamicObject> = if crd["spec"]["scope"] == "Namespaced" {
        kube::Api::namespaced_with(cluster.admin(), cluster.namespace(), &resource)
    } else {
        kube::Api::all_with(cluster.admin(), &resource)
    };
    // As a user writes it: no server-set metadata.
    let written = |v: &Value| {
        let mut v = v.clone();
        v["metadata"] = json!({"name": name});
        serde_json::from_value::<kube::api::DynamicObject>(v).unwrap()
    };
    let refused = |e: kube::Error| match e {
        kube::Error::Api(s) => s.message,
        e => panic!("{e}"),
    };
    let dry_run = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    let Some(old) = old else {
        let answer = api.create(&dry_run, &written(new)).await;
        return answer.map(drop).map_err(refused);
    };
    let stored = (api.create(&Default::default(), &written(old)).await)
        .expect("the earlier version admitted");
    let mut new = written(new);
    new.metadata.resource_version = stored.metadata.resource_version;
    let answer = api.replace(&name, &dry_run, &new).await;
    (api.delete(&name, &Default::default()).await).expect("the earlier version deleted");
    answer.map(drop).map_err(refused)
}

/// [`admit_as`] on the fake API server: the schema first, as the API server's validator does
/// (the fake's own admission, what `plan` refuses), then the CEL rules, to which a field whose
/// value is `null` is absent, as to the API server's (`has()` is false, its own rules are not
/// run; the in-process engine would run them on the `null`).
pub(super) fn admitted_by_fake<K: kube::Resource<DynamicType = ()> + CustomResourceExt>(
    new: &Value,
    old: Option<&Value>,
) -> Result<(), String> {
    let crd = crd_of::<K>();
    let mut new = new.clone();
    let kind = K::kind(&());
    if let Some(said) = crate::support::apiserver::invalid_custom(&mut new, old, &kind, "admit") {
        return Err(said);
    }
    if let Some(checker) = std::env::var_os("OMKC_TEST_CEL_CHECKER") {
        return release_checker(&checker, json!({"crd": crd, "new": new, "old": old}));
    }
    fn absent(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(absent);
            }
            Value::Array(items) => items.iter_mut().for_each(absent),
            _ => {}
        }
    }
    absent(&mut new);
    let old = old.cloned().map(|mut old| {
        absent(&mut old);
        old
    });
    let validated = Validator::new().validate(schema_of(&crd), &new, old.as_ref());
    validated.map_err(|e| e.to_string())
}

/// A Kubernetes release's CEL validator, the one its API server runs on a custom resource
/// (`tests/kubernetes/crd-admission`'s `admit --cel`, which `check.sh` builds per release and
/// runs these scenarios with): `Err` with its refusal, or a panic if it could not answer.
fn release_checker(checker: &std::ffi::OsStr, request: Value) -> Result<(), String> {
    use std::{io::Write, process::Stdio};
    let mut child = (std::process::Command::new(checker).arg("--cel"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("OMKC_TEST_CEL_CHECKER {checker:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    (stdin.write_all(request.to_string().as_bytes())).expect("the request written to the checker");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) if !said.is_empty() => Err(said),
        _ => panic!(
            "{checker:?} --cel could not answer ({}): {said}",
            out.status
        ),
    }
}

/// [`admit_as`] for a resource.
pub(super) async fn admit(
    cluster: &Cluster,
    new: &OpenMetadataKeycloakClient,
    old: Option<&OpenMetadataKeycloakClient>,
) -> Result<(), String> {
    let old = old.map(as_json);
    admit_as::<OpenMetadataKeycloakClient>(cluster, &as_json(new), old.as_ref()).await
}

/// Panics unless `answer` is a refusal that says `what`.
#[track_caller]
fn refused(answer: Result<(), String>, what: &str) {
    match answer {
        Err(said) => assert!(said.contains(what), "refused, but without {what:?}: {said}"),
        Ok(()) => panic!("admitted; wanted a refusal saying {what:?}"),
    }
}

/// A resource that uses a ClusterKeycloakConnection.
fn through_connection() -> OpenMetadataKeycloakClient {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak = serde_json::from_value(json!({
        "connectionRef": {"name": "platform"}, "realm": "data-sec"
    }))
    .unwrap();
    obj
}

both_apiservers!(
    cel_wants_either_a_connection_or_a_url_with_credentials,
    |cluster| {
        admit(cluster, &through_connection(), None).await.unwrap();
        let mut both = through_connection();
        both.spec.keycloak.url = Some("https://kc.example.com".into());
        refused(
            admit(cluster, &both, None).await,
            "set either keycloak.connectionRef",
        );
        let mut neither = fixture("basic.yaml");
        neither.spec.keycloak.url = None;
        refused(
            admit(cluster, &neither, None).await,
            "set either keycloak.connectionRef",
        );
        let mut url_alone = fixture("basic.yaml");
        url_alone.spec.keycloak.credentials_secret_ref = None;
        refused(
            admit(cluster, &url_alone, None).await,
            "needs keycloak.credentialsSecretRef",
        );
        let mut mixed = through_connection();
        mixed.spec.keycloak.ca_bundle = Some("x".into());
        refused(
            admit(cluster, &mixed, None).await,
            "the connection holds the URL",
        );
    }
);

both_apiservers!(cel_makes_the_keycloak_of_a_resource_immutable, |cluster| {
    let old = fixture("basic.yaml");
    let mut moved = old.clone();
    moved.spec.keycloak.url = Some("https://elsewhere.example.com".into());
    refused(admit(cluster, &moved, Some(&old)).await, "are immutable");
    refused(
        admit(cluster, &through_connection(), Some(&old)).await,
        "are immutable",
    );
    let mut other = through_connection();
    other.spec.keycloak.connection_ref.as_mut().unwrap().name = "other".into();
    refused(
        admit(cluster, &other, Some(&through_connection())).await,
        "are immutable",
    );
    let mut rotated = old.clone();
    rotated
        .spec
        .keycloak
        .credentials_secret_ref
        .as_mut()
        .unwrap()
        .name = "new-admin".into();
    admit(cluster, &rotated, Some(&old))
        .await
        .expect("new credentials for the same Keycloak are fine");
});

both_apiservers!(cel_makes_a_connections_url_immutable, |cluster| {
    let connection = |url: &str| {
        json!({"apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
               "metadata": {"name": "platform"},
               "spec": {"url": url, "credentialsSecretRef": {"name": "admin"},
                        "namespaceSelector": {}, "allowedRealms": ["*"]}})
    };
    let old = connection("https://kc.example.com");
    admit_as::<ClusterKeycloakConnection>(cluster, &old, None)
        .await
        .unwrap();
    let moved = connection("https://evil.example.com");
    let admit = |new, old| admit_as::<ClusterKeycloakConnection>(cluster, new, old);
    refused(admit(&moved, Some(&old)).await, "url is immutable");
    refused(
        admit(&connection("ftp://x"), None).await,
        "absolute http(s) URL",
    );
});

// The operator refuses these selectors too (`ConnectionInvalid`), for a connection stored before
// the rule; admission refuses them first, as Kubernetes does for its own label selectors.
both_apiservers!(cel_refuses_a_selector_kubernetes_would_refuse, |cluster| {
    let with = |expression: Value| {
        json!({"apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
               "metadata": {"name": "platform"},
               "spec": {"url": "https://kc.example.com", "credentialsSecretRef": {"name": "admin"},
                        "namespaceSelector": {"matchLabels": {"team": "data"},
                                              "matchExpressions": [expression]},
                        "allowedRealms": ["*"]}})
    };
    let admit =
        |new| async move { admit_as::<ClusterKeycloakConnection>(cluster, &new, None).await };
    for fine in [
        json!({"key": "tier", "operator": "In", "values": ["prod"]}),
        json!({"key": "tier", "operator": "NotIn", "values": ["dev", "test"]}),
        json!({"key": "tier", "operator": "Exists"}),
        json!({"key": "tier", "operator": "DoesNotExist", "values": []}),
    ] {
        admit(with(fine.clone()))
            .await
            .unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
    for bad in [
        json!({"key": "tier", "operator": "Like"}),
        json!({"key": "tier", "operator": "in", "values": ["prod"]}),
        json!({"key": "tier", "operator": "In"}),
        json!({"key": "tier", "operator": "NotIn", "values": []}),
        json!({"key": "tier", "operator": "Exists", "values": ["prod"]}),
    ] {
        refused(
            admit(with(bad)).await,
            "namespaceSelector.matchExpressions: the operator is",
        );
    }
});

both_apiservers!(cel_accepts_the_fixtures, |cluster| {
    admit(cluster, &fixture("basic.yaml"), None).await.unwrap();
    admit(cluster, &fixture("full.yaml"), None).await.unwrap();
    admit(cluster, &fixture("full.yaml"), Some(&fixture("full.yaml")))
        .await
        .unwrap();
});

both_apiservers!(cel_rejects_the_master_realm, |cluster| {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak.realm = "master".into();
    refused(admit(cluster, &obj, None).await, "must not be master");
});

both_apiservers!(cel_rejects_urls_that_are_not_http, |cluster| {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak.url = Some("keycloak.example.com".into());
    refused(admit(cluster, &obj, None).await, "keycloak.url");
    let mut obj = fixture("basic.yaml");
    obj.spec.openmetadata.url = "ftp://om.example.com".into();
    refused(admit(cluster, &obj, None).await, "openmetadata.url");
});

both_apiservers!(cel_makes_realm_and_client_id_immutable, |cluster| {
    let old = fixture("full.yaml");
    let mut moved = old.clone();
    moved.spec.keycloak.realm = "other".into();
    refused(
        admit(cluster, &moved, Some(&old)).await,
        "realm is immutable",
    );

    let mut renamed = old.clone();
    renamed.spec.client.as_mut().unwrap().client_id = Some("another".into());
    refused(
        admit(cluster, &renamed, Some(&old)).await,
        "clientId is immutable",
    );

    let mut dropped = old.clone();
    dropped.spec.client.as_mut().unwrap().client_id = None;
    refused(
        admit(cluster, &dropped, Some(&old)).await,
        "clientId is immutable",
    );

    let mut harmless = old.clone();
    harmless.spec.client.as_mut().unwrap().name = Some("New name".into());
    admit(cluster, &harmless, Some(&old)).await.unwrap();
});

// The schema's bounds, at and past each kind of bound: `plan`'s checker on the fake API server
// and the API server's own validator on a real one must refuse the same values, by path.
both_apiservers!(
    the_schemas_bounds_are_judged_as_the_api_server_does,
    |cluster| {
        let admit_with = |fields: Value| {
            let mut obj = as_json(&fixture("basic.yaml"));
            json_patch::merge(&mut obj["spec"], &fields);
            async move { admit_as::<OpenMetadataKeycloakClient>(cluster, &obj, None).await }
        };
        let labels = |n: usize, value: &str| {
            let labels: serde_json::Map<_, _> =
                (0..n).map(|i| (format!("l{i}"), json!(value))).collect();
            json!({"secret": {"labels": labels}})
        };
        let uris = |n: usize| {
            let uris: Vec<String> = (0..n)
                .map(|i| format!("https://om{i}.example.com/cb"))
                .collect();
            json!({"openmetadata": {"extraRedirectUris": uris}})
        };
        admit_with(labels(32, &"x".repeat(63))).await.unwrap();
        admit_with(uris(32)).await.unwrap();
        // Characters, not bytes (the API server says "bytes" but counts code points).
        admit_with(labels(1, &"é".repeat(63))).await.unwrap();
        admit_with(json!({"deletionPolicy": "Retain"}))
            .await
            .unwrap();
        refused(
            admit_with(labels(1, &"x".repeat(64))).await,
            "spec.secret.labels.l0",
        );
        refused(admit_with(labels(33, "x")).await, "spec.secret.labels");
        refused(
            admit_with(uris(33)).await,
            "spec.openmetadata.extraRedirectUris",
        );
        refused(
            admit_with(json!({"deletionPolicy": "Keep"})).await,
            "spec.deletionPolicy",
        );
        let empty = json!({"keycloak": {"credentialsSecretRef": {"name": ""}}});
        refused(
            admit_with(empty).await,
            "spec.keycloak.credentialsSecretRef.name",
        );
    }
);
