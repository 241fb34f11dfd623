//! One reconcile at a time against the stateful fake API server and the Keycloak emulator:
//! every Kubernetes request it makes, in order, from the fake's log, and what the fake then
//! holds. The fake answers as a real API server would (409 on a create over an existing object,
//! 422 for a label it refuses, the object gone when its last finalizer goes), so nothing here is
//! a scripted reply.

use std::{sync::Arc, time::Duration};

use crate::shows;
use crate::support::{
    INSTALLATION, admin_credentials, admin_session,
    apiserver::{ApiServer, Request},
    b64, decode,
    emulator::Emulator,
    has, keycloak_sync, merge_spec, unmade_secret, unmade_status,
};
use kube::{
    core::DeserializeGuard,
    runtime::{controller::Action, watcher},
};
use omkc::{
    Context, Settings,
    controller::{error_policy, measured_reconcile},
    crd::{DeletionPolicy, FINALIZER, OpenMetadataKeycloakClient},
    reason::Reason,
    reconcile::reconcile,
};
use serde_json::{Value, json};

const NS: &str = "openmetadata";
const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";
const CR_PATH: &str =
    "/apis/omkc.dev/v1alpha1/namespaces/openmetadata/openmetadatakeycloakclients/openmetadata";
const STATUS_PATH: &str = "/apis/omkc.dev/v1alpha1/namespaces/openmetadata/openmetadatakeycloakclients/openmetadata/status";
const CREDS_PATH: &str = "/api/v1/namespaces/openmetadata/secrets/keycloak-admin";
const SECRETS_PATH: &str = "/api/v1/namespaces/openmetadata/secrets";
const OUT_PATH: &str = "/api/v1/namespaces/openmetadata/secrets/oidc-secrets";
const EVENTS_PATH: &str = "/apis/events.k8s.io/v1/namespaces/openmetadata/events";
const EVENTS: &str = "events.k8s.io/v1/events";

/// The resource of `tests/fixtures/basic.yaml` for a Keycloak at `url`, edited by `edit`.
fn resource(
    url: &str,
    edit: impl FnOnce(&mut OpenMetadataKeycloakClient),
) -> OpenMetadataKeycloakClient {
    let mut obj = crate::support::fixture("basic.yaml");
    obj.spec.keycloak.url = Some(url.to_string());
    edit(&mut obj);
    obj
}

fn finalized(o: &mut OpenMetadataKeycloakClient) {
    o.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
}

fn deleting(o: &mut OpenMetadataKeycloakClient) {
    finalized(o);
    o.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::now(),
    ));
}

/// The fake with the resource stored, and a context whose watches have listed the output
/// Secrets and ConfigMaps (none) and, when `credentials`, seen the labelled credentials Secret.
async fn setup(obj: &OpenMetadataKeycloakClient, credentials: bool) -> (Arc<Context>, ApiServer) {
    setup_with(obj, credentials, Settings::default()).await
}

/// [`setup`] with these settings (the installation id aside).
async fn setup_with(
    obj: &OpenMetadataKeycloakClient,
    credentials: bool,
    settings: Settings,
) -> (Arc<Context>, ApiServer) {
    let api = ApiServer::start().await;
    api.put(serde_json::to_value(obj).unwrap());
    let ctx = Context::new(
        api.client(),
        Settings {
            installation: INSTALLATION.into(),
            ..settings
        },
    );
    ctx.output_secrets.apply(None, &watcher::Event::Init);
    ctx.output_secrets.apply(None, &watcher::Event::InitDone);
    ctx.config_maps.apply(None, &watcher::Event::Init);
    ctx.config_maps.apply(None, &watcher::Event::InitDone);
    if credentials {
        let mut secret = admin_credentials(NS);
        secret["metadata"]["resourceVersion"] = json!("41");
        api.put(secret.clone());
        ctx.credentials
            .insert(serde_json::from_value(secret.clone()).unwrap());
        ctx.secret_data
            .insert(Arc::new(serde_json::from_value(secret).unwrap()));
    }
    (Arc::new(ctx), api)
}

fn guard(obj: &OpenMetadataKeycloakClient) -> Arc<DeserializeGuard<OpenMetadataKeycloakClient>> {
    Arc::new(DeserializeGuard(Ok(obj.clone())))
}

/// The requests since `from`, as `METHOD path`.
fn calls(api: &ApiServer, from: usize) -> Vec<String> {
    api.requests()[from..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn call(api: &ApiServer, index: usize) -> Request {
    api.requests()[index].clone()
}

/// The Ready condition of the status patch in request `index`.
fn ready_in(api: &ApiServer, index: usize) -> Value {
    call(api, index).body.unwrap()["status"]["conditions"][0].clone()
}

/// The Event created by request `index`, as the fake holds it: it keeps only what a real API
/// server accepts (`support/apiserver/validation.rs`).
fn stored_event(api: &ApiServer, index: usize) -> Value {
    let sent = call(api, index).body.unwrap();
    let name = sent["metadata"]["name"].as_str().unwrap();
    api.get(EVENTS, NS, name)
        .unwrap_or_else(|| panic!("the API server refused the Event {sent}"))
}

/// Type, reason and note of the Event created by request `index`.
fn event_in(api: &ApiServer, index: usize) -> (String, String, String) {
    let body = stored_event(api, index);
    shows!(body, {"regarding": {"kind": "OpenMetadataKeycloakClient"},
                  "reportingController": "openmetadata-keycloak-operator"});
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        text(&body["type"]),
        text(&body["reason"]),
        text(&body["note"]),
    )
}

/// A failed reconcile's two requests: Ready=False with `reason` and a message holding
/// `message_part`, then the Warning with that reason; returns the Event's note.
fn assert_not_ready(api: &ApiServer, from: usize, reason: Reason, message_part: &str) -> String {
    assert_eq!(
        calls(api, from),
        [
            format!("PATCH {STATUS_PATH}"),
            format!("POST {EVENTS_PATH}")
        ]
    );
    let ready = ready_in(api, from);
    assert_eq!(ready["status"], "False", "{ready}");
    assert_eq!(ready["reason"], reason.as_str(), "{ready}");
    has(ready["message"].as_str().unwrap(), message_part);
    let (type_, event_reason, note) = event_in(api, from + 1);
    assert_eq!(
        (type_.as_str(), event_reason.as_str()),
        ("Warning", reason.as_str())
    );
    note
}

#[tokio::test]
async fn a_new_resource_gets_finalizer_client_secret_status_and_one_event_in_one_reconcile() {
    let emu = Emulator::start().await;
    let obj = resource(&emu.base_url, |o| {
        o.metadata.labels =
            Some([("app.kubernetes.io/instance".into(), "argocd-app".into())].into());
        merge_spec(o, json!({"secret": {"labels": {"team": "data"}}}));
    });
    let (ctx, api) = setup(&obj, true).await;
    let action = reconcile(guard(&obj), ctx.clone()).await.unwrap();
    assert_eq!(
        action,
        Action::await_change(),
        "resyncs come from the spread"
    );
    // The finalizer first: nothing reaches Keycloak before cleanup is guaranteed. The Secret
    // does not exist: a create, which never overwrites anything.
    assert_eq!(
        calls(&api, 0),
        [
            format!("PATCH {CR_PATH}"),
            format!("POST {SECRETS_PATH}"),
            format!("PATCH {STATUS_PATH}"),
            format!("POST {EVENTS_PATH}"),
        ]
    );
    assert_eq!(
        call(&api, 0).body.unwrap(),
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}
        ])
    );
    let stored = api.get(CRS, NS, "openmetadata").unwrap();
    assert_eq!(stored["metadata"]["finalizers"], json!([FINALIZER]));

    let secret = api.get("v1/secrets", NS, "oidc-secrets").expect("created");
    let uid = obj.metadata.uid.clone().unwrap();
    shows!(secret, {"type": "Opaque", "metadata": {
        "ownerReferences": [{"apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
                             "name": "openmetadata", "uid": uid, "controller": true, "blockOwnerDeletion": true}],
        // The resource's Argo CD label is not copied.
        "labels": {"app.kubernetes.io/managed-by": "openmetadata-keycloak-operator", "team": "data",
                   "app.kubernetes.io/instance": null}
    }});
    let data = secret["data"].as_object().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(decode(&data["openmetadata-oidc-client-id"]), "openmetadata");
    let secret_value = decode(&data["openmetadata-oidc-client-secret"]);
    assert_eq!(
        Some(secret_value.clone()),
        emu.secret_of("data-sec", "openmetadata")
    );

    let status = &api.get(CRS, NS, "openmetadata").unwrap()["status"];
    shows!(status, {"observedGeneration": 1, "clientId": "openmetadata", "secretName": "oidc-secrets",
                          "openmetadata": {"callbackUrl": "https://openmetadata.example.com/callback"}});
    let ready = &status["conditions"][0];
    shows!(ready, {"type": "Ready", "status": "True", "reason": "Reconciled"});
    assert!(status["clientUuid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(
        status["openmetadata"]["discoveryUri"]
            .as_str()
            .unwrap()
            .ends_with("/realms/data-sec/.well-known/openid-configuration")
    );
    assert!(
        !status.to_string().contains(&secret_value),
        "the secret never reaches status"
    );

    // One Event for the reconcile, named by its first change, saying all of them.
    assert_eq!(
        event_in(&api, 3),
        (
            "Normal".into(),
            "ClientCreated".into(),
            "created client \"openmetadata\" in realm \"data-sec\"; created Secret \"oidc-secrets\"".into()
        )
    );
    // Keycloak: lookup, create, read back; one token.
    assert_eq!(emu.admin_calls().len(), 3, "{:?}", emu.admin_calls());
    assert_eq!(emu.token_requests(), 1);
    let mut seen: k8s_openapi::api::core::v1::Secret = serde_json::from_value(secret).unwrap();
    assert!(
        ctx.is_own_write(&seen),
        "the watch event of its own write triggers nothing"
    );
    seen.data.as_mut().unwrap().clear();
    assert!(!ctx.is_own_write(&seen), "an edit by someone else does");
}

/// A resource, Keycloak and the caches as they are once everything converged.
async fn converged(emu: &Emulator, ctx: &Context, api: &ApiServer) -> OpenMetadataKeycloakClient {
    let base = resource(&emu.base_url, finalized);
    let converged = keycloak_sync(&admin_session(emu), &base).await.unwrap();
    let Some(omkc::reconcile::plan::Put::Create(secret)) = unmade_secret(&converged) else {
        panic!("a create")
    };
    api.put(serde_json::to_value(secret).unwrap());
    let stored = api.get("v1/secrets", NS, "oidc-secrets").unwrap();
    ctx.output_secrets
        .insert(serde_json::from_value(stored).unwrap());
    let obj = resource(&emu.base_url, |o| {
        finalized(o);
        o.status = unmade_status(&converged).cloned();
    });
    api.put(serde_json::to_value(&obj).unwrap());
    obj
}

#[tokio::test]
async fn a_converged_resource_makes_no_kubernetes_request_and_one_keycloak_request() {
    let emu = Emulator::start().await;
    let (ctx, api) = setup(&resource(&emu.base_url, finalized), true).await;
    let obj = converged(&emu, &ctx, &api).await;
    emu.clear_log();
    for _ in 0..5 {
        reconcile(guard(&obj), ctx.clone()).await.unwrap();
    }
    assert_eq!(calls(&api, 0), Vec::<String>::new());
    let by_id = format!(
        "GET /admin/realms/data-sec/clients/{}",
        obj.status.as_ref().unwrap().client_uuid.as_ref().unwrap()
    );
    assert_eq!(
        emu.admin_calls(),
        vec![by_id; 5],
        "one request per reconcile, by the recorded id"
    );
    assert_eq!(emu.admin_events(), []);
    assert_eq!(emu.token_requests(), 1, "one token for all of them");
    let discovery = emu
        .log()
        .iter()
        .filter(|e| e.path.ends_with("/.well-known/openid-configuration"))
        .count();
    assert_eq!(discovery, 1, "the realm's issuer is read once an hour");
}

#[tokio::test]
async fn a_repeated_warning_becomes_a_series_and_a_new_message_a_new_event() {
    let master = resource("http://kc.example", |o| {
        finalized(o);
        o.spec.keycloak.realm = "master".into();
    });
    let (ctx, api) = setup(&master, true).await;
    reconcile(guard(&master), ctx.clone()).await.unwrap_err();
    assert_not_ready(&api, 0, Reason::InvalidSpec, "spec.keycloak.realm");
    let name = call(&api, 1).body.unwrap()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();

    // The same failure again: the status is already there; the Event becomes a series.
    let stored = api.get(CRS, NS, "openmetadata").unwrap();
    let mut seen = master.clone();
    seen.status = serde_json::from_value(stored["status"].clone()).unwrap();
    reconcile(guard(&seen), ctx.clone()).await.unwrap_err();
    assert_eq!(calls(&api, 2), [format!("PATCH {EVENTS_PATH}/{name}")]);
    assert_eq!(api.get(EVENTS, NS, &name).unwrap()["series"]["count"], 2);

    // Another message under the same reason is a new Event, never a stale note.
    let mut other = seen;
    other.spec.keycloak.url = Some("ftp://kc.example".into());
    reconcile(guard(&other), ctx).await.unwrap_err();
    let note = assert_not_ready(&api, 3, Reason::InvalidSpec, "spec.keycloak.url");
    has(&note, "spec.keycloak.url");
}

mod connections;

mod deletion;

mod events;

mod metrics;

mod namespace_deletion;

mod previous;

mod refusals;

mod resync;

mod rotation;
