//! The real controller loop (`run_scope`: watches, cache, reconciles, finalizer, Events)
//! against a stateful fake Kubernetes API server and the Keycloak emulator, both over HTTP.
//!
//! Besides the behaviour, this records every request the operator makes and derives the RBAC
//! attributes they need; `the_chart_grants_exactly_what_the_code_uses` compares them with the
//! rules of the rendered install manifest.

use std::{collections::BTreeSet, sync::Arc};

use crate::support::{
    apiserver::{Access, ApiServer},
    b64,
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator},
    eventually,
};
use omkc::{
    Context, Settings,
    controller::run_scope,
    telemetry::{self, Health},
};
use serde_json::{Value, json};

const NS: &str = "openmetadata";
const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";
const SECRETS: &str = "v1/secrets";
const CONFIG_MAPS: &str = "v1/configmaps";

fn resource(name: &str, emu: &Emulator, credentials: &str, secret: &str) -> Value {
    json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "keycloak": {"url": emu.base_url, "realm": "data-sec", "credentialsSecretRef": {"name": credentials}},
            "openmetadata": {"url": "https://openmetadata.example.com",
                             "valuesConfigMap": {"name": format!("{name}-values")}},
            "client": {"clientId": format!("om-{name}")},
            "secret": {"name": secret}
        }
    })
}

fn ready_reason(api: &ApiServer, name: &str) -> Option<(String, String)> {
    let obj = api.get(CRS, NS, name)?;
    let ready = obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?
        .clone();
    Some((
        ready["status"].as_str()?.to_string(),
        ready["reason"].as_str()?.to_string(),
    ))
}

fn events(api: &ApiServer, reason: &str) -> Vec<Value> {
    api.list("events.k8s.io/v1/events", NS)
        .into_iter()
        .filter(|e| e["reason"] == reason)
        .collect()
}

/// Drives one resource through its life and returns the RBAC attributes the operator used.
async fn lifecycle(namespace: Option<&str>) -> BTreeSet<Access> {
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    let emu = Emulator::start().await;
    api.put(crate::support::admin_credentials(NS));

    // What `run` does first: the installation id from the kube-system namespace's UID.
    let installation = omkc::cli::installation_id(&api.client()).await.unwrap();
    let settings = Settings {
        installation,
        operator_namespace: NS.into(),
        ..Settings::default()
    };
    let ctx = Arc::new(Context::new(api.client(), settings));
    let health = Arc::new(Health::new(1));
    // The probe and metrics server, as `run` starts it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_base = format!("http://{}", listener.local_addr().unwrap());
    let _http = tokio::spawn(telemetry::serve(
        listener,
        health.clone(),
        ctx.metrics.clone(),
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    let probe = |path: &'static str| {
        let (http, url) = (http.clone(), format!("{http_base}{path}"));
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(
        probe("/readyz").await,
        (503, "1 of 1 resource caches not synced yet\n".to_string())
    );
    assert_eq!(probe("/livez").await.0, 200);
    let loop_task = tokio::spawn(run_scope(
        api.client(),
        namespace.map(str::to_string),
        ctx.clone(),
        2,
        health.clone(),
        0,
    ));

    eventually(&api, "readiness (cache synced)", || async {
        health.ready().ok()
    })
    .await;
    assert_eq!(probe("/readyz").await, (200, "ok\n".to_string()));

    // Create: client in Keycloak, Secret, status, finalizer, Event. With managedFields, as a
    // real API server returns every object.
    let mut created = resource("openmetadata", &emu, "keycloak-admin", "oidc-secrets");
    created["metadata"]["managedFields"] = json!([{"manager": "kubectl", "operation": "Apply", "apiVersion": "omkc.dev/v1alpha1",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]);
    api.put(created);
    eventually(&api, "Ready=True", || async {
        (ready_reason(&api, "openmetadata")? == ("True".into(), "Reconciled".into())).then_some(())
    })
    .await;
    // The watch's cache keeps it without them (never read, often half an object).
    let cached = ctx.all_resources();
    let cached = cached
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .find(|o| o.metadata.name.as_deref() == Some("openmetadata"))
        .expect("cached");
    assert_eq!(cached.metadata.managed_fields, None);
    let cr = api.get(CRS, NS, "openmetadata").unwrap();
    assert_eq!(cr["metadata"]["finalizers"], json!(["omkc.dev/cleanup"]));
    let secret = api.get(SECRETS, NS, "oidc-secrets").expect("output Secret");
    assert_eq!(
        secret["data"]["openmetadata-oidc-client-secret"],
        json!(b64(&emu.secret_of("data-sec", "om-openmetadata").unwrap()))
    );
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["uid"],
        cr["metadata"]["uid"]
    );
    // One Event for the reconcile follows the status patch: named by its first change, saying
    // every change.
    let created = eventually(&api, "the ClientCreated Event", || async {
        events(&api, "ClientCreated").first().cloned()
    })
    .await;
    let note = created["note"].as_str().unwrap();
    assert!(note.contains("created Secret \"oidc-secrets\""), "{note}");
    assert!(
        events(&api, "SecretWritten").is_empty(),
        "not a second Event"
    );
    // One reconcile for the new resource: its finalizer, status and Secret writes did not
    // trigger another.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, metrics) = probe("/metrics").await;
    assert!(
        metrics.contains(r#"omkc_reconciliations_total{result="success",reason="Reconciled"} 1"#),
        "{metrics}"
    );

    // A connection's health, on its own status: signed in, the realms it may serve, the
    // version (its account is a server admin), the resources naming it.
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
    let status = eventually(&api, "the connection's status", || async {
        let c = api.get(
            "omkc.dev/v1alpha1/clusterkeycloakconnections",
            "",
            "platform",
        )?;
        (c["status"]["conditions"][0]["reason"] == "Connected").then(|| c["status"].clone())
    })
    .await;
    assert_eq!(status["conditions"][0]["status"], "True");
    assert_eq!(
        status["realms"],
        json!(["data-sec"]),
        "payroll does not exist"
    );
    assert_eq!(status["resources"], 0);
    let (major, minor) = emu.version();
    assert_eq!(status["keycloakVersion"], format!("{major}.{minor}.0"));
    assert!(status["lastChecked"].is_string());
    // A wrong password shows on the connection itself.
    api.edit(
        "omkc.dev/v1alpha1/clusterkeycloakconnections",
        "",
        "platform",
        |c| c["spec"]["adminRealm"] = json!("data-sec"),
    );
    eventually(&api, "the connection not ready", || async {
        let c = api.get(
            "omkc.dev/v1alpha1/clusterkeycloakconnections",
            "",
            "platform",
        )?;
        (c["status"]["conditions"][0]["reason"] == "CredentialsRejected").then_some(())
    })
    .await;
    assert!(
        probe("/metrics")
            .await
            .1
            .contains(r#"omkc_connection_ready{connection="platform"} 0"#)
    );
    checks.abort();

    // A connection the watch has not shown is read before it is called gone.
    let mut orphan = resource(
        "via-connection",
        &emu,
        "keycloak-admin",
        "via-connection-oidc",
    );
    orphan["spec"]["keycloak"] = json!({"connectionRef": {"name": "not-yet"}, "realm": "data-sec"});
    api.put(orphan);
    eventually(&api, "ConnectionNotFound", || async {
        (ready_reason(&api, "via-connection")?.1 == "ConnectionNotFound").then_some(())
    })
    .await;
    assert!(
        api.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/clusterkeycloakconnections/not-yet")),
        "read from the API server"
    );
    api.delete(CRS, NS, "via-connection");
    eventually(&api, "the resource released", || async {
        api.get(CRS, NS, "via-connection").is_none().then_some(())
    })
    .await;

    // The values ConfigMap: written, owned, restored when edited by hand.
    let values = api
        .get(CONFIG_MAPS, NS, "openmetadata-values")
        .expect("values ConfigMap");
    assert_eq!(
        values["metadata"]["ownerReferences"][0]["uid"],
        cr["metadata"]["uid"]
    );
    let written = values["data"]["values.yaml"].clone();
    assert!(written.as_str().unwrap().contains("oidcType: Keycloak"));
    api.edit(CONFIG_MAPS, NS, "openmetadata-values", |c| {
        c["data"]["values.yaml"] = json!("edited: by hand")
    });
    eventually(&api, "the edited ConfigMap to be restored", || async {
        let c = api.get(CONFIG_MAPS, NS, "openmetadata-values")?;
        (c["data"]["values.yaml"] == written).then_some(())
    })
    .await;

    // A Secret deleted by hand comes back (the owned-Secret watch).
    api.delete(SECRETS, NS, "oidc-secrets");
    eventually(&api, "the output Secret to be restored", || async {
        api.get(SECRETS, NS, "oidc-secrets")
    })
    .await;

    // A Secret edited by hand is put back (server-side apply of the operator's fields).
    api.edit(SECRETS, NS, "oidc-secrets", |s| {
        s["data"]["openmetadata-oidc-client-secret"] = json!(b64("tampered"))
    });
    let expected = json!(b64(&emu.secret_of("data-sec", "om-openmetadata").unwrap()));
    eventually(&api, "the edited Secret to be restored", || async {
        let s = api.get(SECRETS, NS, "oidc-secrets")?;
        (s["data"]["openmetadata-oidc-client-secret"] == expected).then_some(())
    })
    .await;

    // Renaming the output Secret and the values ConfigMap writes the new ones and deletes the
    // old ones.
    api.edit(CRS, NS, "openmetadata", |o| {
        o["spec"]["secret"]["name"] = json!("oidc-secrets-v2");
        o["spec"]["openmetadata"]["valuesConfigMap"]["name"] = json!("values-v2");
    });
    eventually(&api, "the renamed Secret and ConfigMap", || async {
        (api.get(SECRETS, NS, "oidc-secrets-v2").is_some()
            && api.get(SECRETS, NS, "oidc-secrets").is_none()
            && api.get(CONFIG_MAPS, NS, "values-v2").is_some()
            && api.get(CONFIG_MAPS, NS, "openmetadata-values").is_none())
        .then_some(())
    })
    .await;

    // A ConfigMap of the values' name that is not the resource's own is never overwritten.
    api.put(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "taken-values", "namespace": NS},
        "data": {"values.yaml": "mine: true"}
    }));
    api.put(resource("taken", &emu, "keycloak-admin", "taken-secrets"));
    eventually(&api, "ConfigMapConflict", || async {
        (ready_reason(&api, "taken")? == ("False".into(), "ConfigMapConflict".into())).then_some(())
    })
    .await;
    assert_eq!(
        api.get(CONFIG_MAPS, NS, "taken-values").unwrap()["data"]["values.yaml"],
        "mine: true"
    );

    // Missing credentials: Ready=False and a Warning; a second failure patches the Event series.
    api.put(resource("broken", &emu, "does-not-exist", "broken-secrets"));
    eventually(&api, "CredentialsNotFound", || async {
        (ready_reason(&api, "broken")? == ("False".into(), "CredentialsNotFound".into()))
            .then_some(())
    })
    .await;
    api.edit(CRS, NS, "broken", |o| {
        o["metadata"]["annotations"] = json!({"touched": "1"})
    });
    eventually(&api, "the Warning to repeat as a series", || async {
        events(&api, "CredentialsNotFound")
            .iter()
            .any(|e| e["series"]["count"].as_i64() >= Some(2))
            .then_some(())
    })
    .await;
    // The credentials appear: the credentials watch brings the resource back without a resync.
    api.put(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "does-not-exist", "namespace": NS,
                     "labels": {"omkc.dev/keycloak-credentials": "true"}},
        "data": {"username": b64(ADMIN_USER), "password": b64(ADMIN_PASSWORD)}
    }));
    eventually(&api, "the broken resource to recover", || async {
        (ready_reason(&api, "broken")?.0 == "True").then_some(())
    })
    .await;

    // Delete: cleanup removes the client, then the finalizer; the object goes.
    api.delete(CRS, NS, "openmetadata");
    eventually(&api, "the resource to be gone", || async {
        api.get(CRS, NS, "openmetadata").is_none().then_some(())
    })
    .await;
    assert!(emu.client("data-sec", "om-openmetadata").is_none());
    assert_eq!(probe("/livez").await.0, 200);
    let (code, metrics) = probe("/metrics").await;
    assert_eq!(code, 200);
    // After a whole lifecycle, failures included: every label value from a bounded set.
    crate::observability::assert_bounded(&metrics);
    // Every reconcile a watch event started waited for a worker, and was timed doing so.
    let waits: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("omkc_reconcile_queue_wait_seconds_count "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(waits >= 3.0, "{metrics}");
    assert!(
        metrics.contains(r#"omkc_resources{ready="False",reason="ConfigMapConflict"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"omkc_reconciliations_total{result="error",reason="CredentialsNotFound"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"omkc_reconciliations_total{result="success",reason="Reconciled"}"#)
    );

    loop_task.abort();
    let accesses = api.accesses();
    for r in api.requests() {
        // The operator never writes spec (Argo CD would see it as drift): writes to the
        // resource itself only touch metadata.finalizers.
        if r.method == "PATCH" && r.path.contains("/openmetadatakeycloakclients/") {
            let body = r.body.clone().unwrap_or_default();
            if r.path.ends_with("/status") {
                assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
                assert!(body["status"].is_object(), "{body}");
            } else {
                let ops = body.as_array().expect("finalizer JSON patch");
                assert!(
                    ops.iter().all(|op| op["path"]
                        .as_str()
                        .unwrap()
                        .starts_with("/metadata/finalizers")),
                    "{body}"
                );
            }
        }
        if let Some(ns) = namespace {
            // Namespaced objects only in its namespace; cluster-scoped reads only of the
            // connections, its own namespace's labels and kube-system's UID; the connections'
            // status.
            let connection_status = r.method == "PATCH"
                && r.path
                    .starts_with("/apis/omkc.dev/v1alpha1/clusterkeycloakconnections/")
                && r.path.ends_with("/status");
            let cluster_read = connection_status
                || r.method == "GET"
                    && (r.path == "/apis/omkc.dev/v1alpha1/clusterkeycloakconnections"
                        || r.path
                            .starts_with("/apis/omkc.dev/v1alpha1/clusterkeycloakconnections/")
                        || r.path == "/api/v1/namespaces/kube-system"
                        || (r.path == "/api/v1/namespaces"
                            && r.query.contains(&format!("metadata.name%3D{ns}"))));
            assert!(
                r.path.contains(&format!("/namespaces/{ns}/")) || cluster_read,
                "a namespaced operator left its namespace: {} {}?{}",
                r.method,
                r.path,
                r.query
            );
        }
    }
    accesses
}

#[tokio::test]
async fn the_loop_reconciles_watches_and_cleans_up_in_all_namespaces() {
    let accesses = lifecycle(None).await;
    // Every kind of request happened: the caches (resources, connections and one read of a
    // connection they did not show, namespaces, the Secret and ConfigMap watches), the
    // installation id, the finalizer, the status, the Secret and ConfigMap writes and deletes,
    // the Events, and the connections' status.
    assert_eq!(accesses.len(), 25, "{accesses:#?}");
}

#[tokio::test]
async fn the_loop_stays_in_its_namespace_when_scoped() {
    let accesses = lifecycle(Some(NS)).await;
    assert_eq!(accesses, lifecycle(None).await);
}

/// The rules of the rendered install manifest's ClusterRole, one [`Access`] per verb.
fn granted_by_the_chart() -> BTreeSet<Access> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/openmetadata-keycloak-operator.yaml"
    );
    let text = std::fs::read_to_string(path).expect("the kubectl manifest");
    let mut granted = BTreeSet::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let object: Value = serde::Deserialize::deserialize(doc).unwrap();
        if object["kind"] != "ClusterRole" {
            continue;
        }
        for rule in object["rules"].as_array().unwrap() {
            for group in rule["apiGroups"].as_array().unwrap() {
                for resource in rule["resources"].as_array().unwrap() {
                    for verb in rule["verbs"].as_array().unwrap() {
                        granted.insert(Access {
                            group: group.as_str().unwrap().into(),
                            resource: resource.as_str().unwrap().into(),
                            verb: verb.as_str().unwrap().into(),
                        });
                    }
                }
            }
        }
    }
    granted
}

/// Least privilege, both ways: every request the operator made during a full lifecycle is
/// granted, and nothing is granted that no request needed. (The chart's namespaced mode renders
/// the same rules into Roles; tests/deploy/test_chart.py checks that.)
#[tokio::test]
async fn the_chart_grants_exactly_what_the_code_uses() {
    let used = lifecycle(None).await;
    let granted = granted_by_the_chart();
    let missing: Vec<_> = used.difference(&granted).collect();
    let unused: Vec<_> = granted.difference(&used).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "the chart's RBAC is out of line with the code:\n  used but not granted: {missing:?}\n  granted but never used: {unused:?}"
    );
}

/// The fake API server tells a label-selected watch what a real one does: an object that stops
/// matching is DELETED for it, one that starts matching is ADDED (the watch cache's behaviour
/// the operator relies on to drop a Secret whose opt-in label was removed).
#[tokio::test]
async fn the_fake_apiserver_shows_objects_leaving_and_joining_a_selector() {
    use futures::{StreamExt, TryStreamExt};
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, WatchEvent, WatchParams};
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    let secret = |labels: Value| {
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "s", "namespace": NS, "labels": labels}})
    };
    api.put(secret(json!({"pick": "me"})));
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    let mut events = secrets
        .watch(&WatchParams::default().labels("pick=me"), "0")
        .await
        .unwrap()
        .boxed();
    let mut next = async || match events.try_next().await.unwrap().unwrap() {
        WatchEvent::Added(_) => "ADDED",
        WatchEvent::Modified(_) => "MODIFIED",
        WatchEvent::Deleted(_) => "DELETED",
        _ => "OTHER",
    };
    assert_eq!(next().await, "ADDED");
    api.edit("v1/secrets", NS, "s", |s| {
        s["metadata"]["labels"] = json!({})
    });
    assert_eq!(next().await, "DELETED", "it left the selector");
    api.edit("v1/secrets", NS, "s", |s| {
        s["metadata"]["labels"] = json!({"pick": "me"})
    });
    assert_eq!(next().await, "ADDED", "it joined again");
}
