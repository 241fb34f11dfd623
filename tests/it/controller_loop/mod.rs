//! The real controller loop (`run_scope`: watches, cache, reconciles, finalizer, Events)
//! against a stateful fake Kubernetes API server and the Keycloak emulator, both over HTTP.
//!
//! Besides the behaviour, this records every request the operator makes and derives the RBAC
//! attributes they need; `the_chart_grants_exactly_what_the_code_uses` compares them with the
//! rules of the rendered install manifest.

use std::{collections::BTreeSet, sync::Arc};

use crate::shows;
use crate::support::{
    apiserver::{Access, ApiServer},
    b64, condition,
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator},
    events, eventually, has, lacks,
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
const CONNECTIONS: &str = "omkc.dev/v1alpha1/clusterkeycloakconnections";

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

/// Drives one resource through its life and returns the RBAC attributes the operator used.
async fn lifecycle(namespace: Option<&str>) -> BTreeSet<Access> {
    omkc::tls::install_crypto_provider();
    let (api, emu) = crate::support::world(NS).await;

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
    condition(&api, CRS, NS, "openmetadata", "Reconciled").await;
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
    let held = b64(&emu.secret_of("data-sec", "om-openmetadata").unwrap());
    shows!(secret, {"data": {"openmetadata-oidc-client-secret": held}});
    shows!(secret["metadata"]["ownerReferences"][0], {"uid": cr["metadata"]["uid"]});
    // One Event for the reconcile follows the status patch: named by its first change, saying
    // every change.
    let created = eventually(&api, "the ClientCreated Event", || async {
        events(&api, NS, "ClientCreated").first().cloned()
    })
    .await;
    let note = created["note"].as_str().unwrap();
    has(note, "created Secret \"oidc-secrets\"");
    assert!(
        events(&api, NS, "SecretWritten").is_empty(),
        "not a second Event"
    );
    // One reconcile for the new resource: its finalizer, status and Secret writes did not
    // trigger another.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, metrics) = probe("/metrics").await;
    has(
        &metrics,
        r#"omkc_reconciliations_total{result="success",reason="Reconciled"} 1"#,
    );

    connections::a_connection_reports_its_health(&api, &emu, &ctx, &http_base).await;
    connections::a_connection_the_watch_has_not_shown_is_read(&api, &emu).await;

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
    condition(&api, CRS, NS, "taken", "ConfigMapConflict").await;
    assert_eq!(
        api.get(CONFIG_MAPS, NS, "taken-values").unwrap()["data"]["values.yaml"],
        "mine: true"
    );

    // Missing credentials: Ready=False and a Warning; a second failure patches the Event series.
    api.put(resource("broken", &emu, "does-not-exist", "broken-secrets"));
    condition(&api, CRS, NS, "broken", "CredentialsNotFound").await;
    api.edit(CRS, NS, "broken", |o| {
        o["metadata"]["annotations"] = json!({"touched": "1"})
    });
    eventually(&api, "the Warning to repeat as a series", || async {
        events(&api, NS, "CredentialsNotFound")
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
    condition(&api, CRS, NS, "broken", "Reconciled").await;

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
    has(
        &metrics,
        r#"omkc_resources{ready="False",reason="ConfigMapConflict"} 1"#,
    );
    // The Ready ones are counted; the deleted one is forgotten.
    let ready = api
        .list(CRS, NS)
        .iter()
        .filter(|o| o["status"]["conditions"][0]["status"] == "True")
        .count();
    let line = format!(r#"omkc_resources{{ready="True",reason="Reconciled"}} {ready}"#);
    assert!(ready > 0 && metrics.contains(&line), "{line}\n{metrics}");
    has(
        &metrics,
        r#"omkc_reconciliations_total{result="error",reason="CredentialsNotFound"}"#,
    );
    has(
        &metrics,
        r#"omkc_reconciliations_total{result="success",reason="Reconciled"}"#,
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
            // connections, its own namespace (its labels; whether it is being deleted, after a
            // failure) and kube-system's UID; the connections' status.
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
                        || r.path == format!("/api/v1/namespaces/{ns}")
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

mod connections;

mod rbac;
