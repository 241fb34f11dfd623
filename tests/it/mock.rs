//! The whole reconcile against a mock Kubernetes API server (controller-rs's ApiServerVerifier
//! pattern over `tower_test`) and the Keycloak emulator. Each scenario asserts method, path and
//! body of every Kubernetes request in order; a missing request shows as a timeout, an extra
//! one as a leftover request after the reconcile.

use std::{sync::Arc, time::Duration};

use crate::support::{
    INSTALLATION, admin_session, b64, decode,
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator},
    keycloak_sync,
};
use http::{Request, Response};
use kube::{
    Client,
    client::Body,
    core::DeserializeGuard,
    runtime::{controller::Action, watcher},
};
use omkc::{
    Context, Settings,
    controller::error_policy,
    crd::{DeletionPolicy, FINALIZER, OpenMetadataKeycloakClient},
    reason::Reason,
    reconcile::reconcile,
};
use serde_json::{Value, json};
use tower_test::mock::{self, Handle, SendResponse};

const NS: &str = "openmetadata";
const CR_PATH: &str =
    "/apis/omkc.dev/v1alpha1/namespaces/openmetadata/openmetadatakeycloakclients/openmetadata";
const CREDS_PATH: &str = "/api/v1/namespaces/openmetadata/secrets/keycloak-admin";
const OUT_PATH: &str = "/api/v1/namespaces/openmetadata/secrets/oidc-secrets";
const EVENTS_PATH: &str = "/apis/events.k8s.io/v1/namespaces/openmetadata/events";

/// Builder-style fixtures for the resource.
trait Fixture: Sized {
    fn test(keycloak_url: &str) -> Self;
    fn finalized(self) -> Self;
    fn deleting(self) -> Self;
    fn with(self, edit: impl FnOnce(&mut Self)) -> Self;
}

impl Fixture for OpenMetadataKeycloakClient {
    fn test(keycloak_url: &str) -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/basic.yaml");
        let mut obj: Self = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        obj.spec.keycloak.url = Some(keycloak_url.to_string());
        obj
    }
    fn finalized(mut self) -> Self {
        self.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
        self
    }
    fn deleting(mut self) -> Self {
        self.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        self
    }
    fn with(mut self, edit: impl FnOnce(&mut Self)) -> Self {
        edit(&mut self);
        self
    }
}

struct ApiServer(Handle<Request<Body>, Response<Body>>);

impl ApiServer {
    /// Waits for the next request, asserts its method and path, returns query, body and responder.
    async fn expect(
        &mut self,
        method: &str,
        path: &str,
    ) -> (String, Value, SendResponse<Response<Body>>) {
        let (request, send) = tokio::time::timeout(Duration::from_secs(10), self.0.next_request())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {method} {path}"))
            .expect("the client was dropped");
        assert_eq!(
            request.method().as_str(),
            method,
            "method of request to {}",
            request.uri()
        );
        assert_eq!(request.uri().path(), path);
        let query = request.uri().query().unwrap_or_default().to_string();
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (query, body, send)
    }

    /// The next request, whatever it is.
    async fn next(&mut self) -> (Request<Body>, SendResponse<Response<Body>>) {
        tokio::time::timeout(Duration::from_secs(10), self.0.next_request())
            .await
            .expect("timed out waiting for a request")
            .expect("the client was dropped")
    }

    /// Asserts that no further request arrives.
    async fn expect_nothing_more(&mut self) {
        if let Ok(Some((request, _))) =
            tokio::time::timeout(Duration::from_millis(200), self.0.next_request()).await
        {
            panic!(
                "unexpected extra request {} {}",
                request.method(),
                request.uri()
            );
        }
    }
}

fn respond(send: SendResponse<Response<Body>>, status: u16, body: Value) {
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap(),
    );
}

fn not_found(send: SendResponse<Response<Body>>, what: &str) {
    respond(
        send,
        404,
        json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": format!("{what} not found"), "reason": "NotFound", "code": 404
        }),
    );
}

fn credentials_secret() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "keycloak-admin", "namespace": NS, "resourceVersion": "41",
                     "labels": {"omkc.dev/keycloak-credentials": "true"}},
        "data": {
            "username": b64(ADMIN_USER),
            "password": b64(ADMIN_PASSWORD),
        }
    })
}

/// A context whose watches have seen the labelled credentials Secret.
fn context() -> (Arc<Context>, ApiServer) {
    let (ctx, api) = bare_context();
    ctx.credentials
        .insert(serde_json::from_value(credentials_secret()).unwrap());
    // Read whole once before, at this resourceVersion.
    ctx.secret_data.insert(Arc::new(
        serde_json::from_value(credentials_secret()).unwrap(),
    ));
    (ctx, api)
}

/// A context whose watches have listed everything and found nothing.
fn bare_context() -> (Arc<Context>, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, NS);
    let settings = Settings {
        installation: INSTALLATION.into(),
        ..Settings::default()
    };
    let ctx = Context::new(client, settings);
    ctx.output_secrets.apply(None, &watcher::Event::Init);
    ctx.output_secrets.apply(None, &watcher::Event::InitDone);
    ctx.config_maps.apply(None, &watcher::Event::Init);
    ctx.config_maps.apply(None, &watcher::Event::InitDone);
    (Arc::new(ctx), ApiServer(handle))
}

fn guard(obj: &OpenMetadataKeycloakClient) -> Arc<DeserializeGuard<OpenMetadataKeycloakClient>> {
    Arc::new(DeserializeGuard(Ok(obj.clone())))
}

/// What the API server answers to a write of the resource: the object with the new status.
fn with_status(patch: &Value) -> Value {
    let mut obj = obj_json_with_finalizer();
    obj["status"] = patch["status"].clone();
    obj
}

fn obj_json_with_finalizer() -> Value {
    let obj = OpenMetadataKeycloakClient::test("http://unused").finalized();
    serde_json::to_value(&obj).unwrap()
}

/// Expects an Event of `type_` and `reason`; returns its note.
async fn expect_event(api: &mut ApiServer, type_: &str, reason: Reason) -> String {
    let (_, body, send) = api.expect("POST", EVENTS_PATH).await;
    assert_eq!(body["type"], type_, "{body}");
    assert_eq!(body["reason"], reason.as_str(), "{body}");
    assert_eq!(body["regarding"]["kind"], "OpenMetadataKeycloakClient");
    assert_eq!(
        body["reportingController"],
        "openmetadata-keycloak-operator"
    );
    let note = body["note"].as_str().unwrap_or_default().to_string();
    respond(send, 201, body);
    note
}

/// Expects the status patch of a failed reconcile (Ready=False with `reason`, a message holding
/// `message_part`) and the Warning Event with the same reason; returns the Event's note.
async fn expect_not_ready(api: &mut ApiServer, reason: Reason, message_part: &str) -> String {
    let (_, body, send) = api.expect("PATCH", &format!("{CR_PATH}/status")).await;
    let ready = &body["status"]["conditions"][0];
    assert_eq!(ready["status"], "False", "{ready}");
    assert_eq!(ready["reason"], reason.as_str(), "{ready}");
    assert!(
        ready["message"].as_str().unwrap().contains(message_part),
        "{ready}"
    );
    respond(send, 200, with_status(&body));
    expect_event(api, "Warning", reason).await
}

#[tokio::test]
async fn a_new_resource_gets_finalizer_client_secret_status_and_events_in_one_reconcile() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url).with(|o| {
        o.metadata.labels = Some(
            [(
                "app.kubernetes.io/instance".to_string(),
                "argocd-app".to_string(),
            )]
            .into(),
        );
        o.spec.secret = Some(omkc::crd::OutputSecretSpec {
            labels: [("team".to_string(), "data".to_string())].into(),
            ..Default::default()
        });
    });

    let server = tokio::spawn(async move {
        // The finalizer first: nothing reaches Keycloak before cleanup is guaranteed.
        let (_, body, send) = api.expect("PATCH", CR_PATH).await;
        assert_eq!(
            body,
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}
            ])
        );
        respond(send, 200, obj_json_with_finalizer());

        // The Secret does not exist: it is created (a create never overwrites anything).
        let (_, body, send) = api
            .expect("POST", "/api/v1/namespaces/openmetadata/secrets")
            .await;
        assert_eq!(body["metadata"]["name"], "oidc-secrets");
        assert_eq!(body["type"], "Opaque");
        let owner = &body["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "OpenMetadataKeycloakClient");
        assert_eq!(owner["apiVersion"], "omkc.dev/v1alpha1");
        assert_eq!(owner["name"], "openmetadata");
        assert_eq!(owner["uid"], "7d3c9a52-0000-4000-8000-000000000001");
        assert_eq!(owner["controller"], true);
        let labels = body["metadata"]["labels"].as_object().unwrap();
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            "openmetadata-keycloak-operator"
        );
        assert_eq!(labels["team"], "data");
        assert!(
            !labels.contains_key("app.kubernetes.io/instance"),
            "the CR's Argo CD label is not copied"
        );
        let data = body["data"].as_object().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(decode(&data["openmetadata-oidc-client-id"]), "openmetadata");
        let secret_value = decode(&data["openmetadata-oidc-client-secret"]);
        let mut created = body.clone();
        created["metadata"]["resourceVersion"] = json!("77");
        respond(send, 201, created.clone());

        let (_, body, send) = api.expect("PATCH", &format!("{CR_PATH}/status")).await;
        let status = &body["status"];
        assert_eq!(status["observedGeneration"], 1);
        assert_eq!(status["conditions"][0]["type"], "Ready");
        assert_eq!(status["conditions"][0]["status"], "True");
        assert_eq!(status["conditions"][0]["reason"], "Reconciled");
        assert_eq!(status["clientId"], "openmetadata");
        assert_eq!(status["secretName"], "oidc-secrets");
        assert!(status["clientUuid"].as_str().is_some_and(|u| !u.is_empty()));
        let om = &status["openmetadata"];
        assert_eq!(
            om["callbackUrl"],
            "https://openmetadata.example.com/callback"
        );
        assert!(
            om["discoveryUri"]
                .as_str()
                .unwrap()
                .ends_with("/realms/data-sec/.well-known/openid-configuration")
        );
        assert!(
            !body.to_string().contains(&secret_value),
            "the secret never reaches status"
        );
        respond(send, 200, with_status(&body));

        // One Event for the reconcile, named by its first change, saying all of them.
        let note = expect_event(&mut api, "Normal", Reason::ClientCreated).await;
        assert_eq!(
            note,
            "created client \"openmetadata\" in realm \"data-sec\"; created Secret \"oidc-secrets\""
        );
        api.expect_nothing_more().await;
        (secret_value, created)
    });
    let action = reconcile(guard(&obj), ctx.clone()).await.unwrap();
    let (secret_value, created) = server.await.unwrap();
    assert_eq!(
        Some(secret_value),
        emu.secret_of("data-sec", "openmetadata")
    );
    assert_eq!(
        action,
        Action::await_change(),
        "the next resync comes from the spread resyncs"
    );
    // Keycloak: lookup, create, read back; one token.
    let calls = emu.admin_calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(emu.token_requests(), 1);
    let mut seen: k8s_openapi::api::core::v1::Secret = serde_json::from_value(created).unwrap();
    assert!(
        ctx.is_own_write(&seen),
        "the watch event of its own write will not trigger a reconcile"
    );
    seen.data.as_mut().unwrap().clear();
    assert!(!ctx.is_own_write(&seen), "an edit by someone else does");
}

/// A resource, Keycloak and the caches as they are once everything converged.
async fn converged(emu: &Emulator, ctx: &Context) -> OpenMetadataKeycloakClient {
    let base = OpenMetadataKeycloakClient::test(&emu.base_url).finalized();
    let (outputs, _) = keycloak_sync(&admin_session(emu), &base).await.unwrap();
    let Some(omkc::reconcile::plan::SecretWrite::Create(mut secret)) = outputs.secret else {
        panic!("a create")
    };
    secret.metadata.resource_version = Some("77".into());
    ctx.output_secrets.insert(secret);
    base.with(|o| o.status = outputs.status)
}

#[tokio::test]
async fn a_converged_resource_makes_no_kubernetes_request_and_one_keycloak_request() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = converged(&emu, &ctx).await;
    emu.clear_log();
    for _ in 0..5 {
        let server = tokio::spawn(async move {
            api.expect_nothing_more().await;
            api
        });
        reconcile(guard(&obj), ctx.clone()).await.unwrap();
        api = server.await.unwrap();
    }
    let calls = emu.admin_calls();
    let by_id = format!(
        "GET /admin/realms/data-sec/clients/{}",
        obj.status.as_ref().unwrap().client_uuid.as_ref().unwrap()
    );
    assert_eq!(
        calls,
        vec![by_id; 5],
        "one request per reconcile, by the recorded id"
    );
    assert_eq!(emu.admin_events(), []);
    assert_eq!(emu.token_requests(), 1, "one token for all of them");
}

#[tokio::test]
async fn credentials_the_watch_does_not_show_are_looked_up_by_metadata_and_refused_unlabelled() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = bare_context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url).finalized();
    let server = tokio::spawn(async move {
        let (request, send) = api.next().await;
        assert_eq!(request.uri().path(), CREDS_PATH);
        let accept = request.headers()["accept"].to_str().unwrap().to_string();
        assert!(
            accept.contains("as=PartialObjectMetadata"),
            "metadata only, never the data of an unlabelled Secret: {accept}"
        );
        respond(
            send,
            200,
            json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                   "metadata": {"name": "keycloak-admin", "namespace": NS}}),
        );
        let note = expect_not_ready(
            &mut api,
            Reason::CredentialsNotAllowed,
            "lacks the label omkc.dev/keycloak-credentials=true",
        )
        .await;
        assert!(note.contains("openmetadata/keycloak-admin"), "{note}");
        api.expect_nothing_more().await;
    });
    let err = reconcile(guard(&obj), ctx).await.unwrap_err();
    server.await.unwrap();
    assert!(!err.is_transient());
    assert!(emu.log().is_empty(), "nothing reached Keycloak");
}

#[tokio::test]
async fn a_secret_the_operator_does_not_own_is_left_alone() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url).finalized();

    let server = tokio::spawn(async move {
        // Not in the operator's (label-selected) cache, so a create, which the API server refuses.
        let (_, _, send) = api
            .expect("POST", "/api/v1/namespaces/openmetadata/secrets")
            .await;
        respond(
            send,
            409,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "message": "secrets \"oidc-secrets\" already exists", "reason": "AlreadyExists", "code": 409}),
        );
        let (_, _, send) = api.expect("GET", OUT_PATH).await;
        respond(
            send,
            200,
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "oidc-secrets", "namespace": NS},
                "data": {"openmetadata-oidc-client-secret": b64("hand-made")}
            }),
        );
        // No write of the Secret: straight to status.
        expect_not_ready(&mut api, Reason::SecretConflict, "not owned").await;
        api.expect_nothing_more().await;
    });
    let err = reconcile(guard(&obj), ctx.clone()).await.unwrap_err();
    server.await.unwrap();
    assert_eq!(err.reason(), Reason::SecretConflict);
    // Permanent: no tight retry; the next try comes with a change or the next resync.
    assert_eq!(error_policy(guard(&obj), &err, ctx), Action::await_change());
}

#[tokio::test]
async fn a_label_the_api_server_refuses_is_a_permanent_clearly_worded_condition() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url).finalized();
    let server = tokio::spawn(async move {
        let (_, _, send) = api
            .expect("POST", "/api/v1/namespaces/openmetadata/secrets")
            .await;
        respond(
            send,
            422,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "code": 422,
                   "message": "Secret \"oidc-secrets\" is invalid: metadata.labels: Invalid value: \"a b\": a valid label must be an empty string or consist of alphanumeric characters"}),
        );
        let note = expect_not_ready(
            &mut api,
            Reason::KubernetesRejected,
            "metadata.labels: Invalid value",
        )
        .await;
        assert!(
            note.starts_with("Kubernetes refused to write Secret \"oidc-secrets\" (HTTP 422)"),
            "{note}"
        );
        api.expect_nothing_more().await;
    });
    let err = reconcile(guard(&obj), ctx.clone()).await.unwrap_err();
    server.await.unwrap();
    assert!(!err.is_transient());
    assert_eq!(error_policy(guard(&obj), &err, ctx), Action::await_change());
}

#[tokio::test]
async fn a_missing_credentials_secret_is_reported_without_calling_keycloak() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = bare_context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url).finalized();
    let server = tokio::spawn(async move {
        let (_, _, send) = api.expect("GET", CREDS_PATH).await;
        not_found(send, "secrets \"keycloak-admin\"");
        let note = expect_not_ready(&mut api, Reason::CredentialsNotFound, "").await;
        assert!(note.contains("keycloak-admin"), "{note}");
        api.expect_nothing_more().await;
    });
    let err = reconcile(guard(&obj), ctx).await.unwrap_err();
    server.await.unwrap();
    assert!(!err.is_transient());
    assert!(emu.log().is_empty());
}

#[tokio::test]
async fn an_invalid_spec_gets_a_condition_and_an_event() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url)
        .finalized()
        .with(|o| o.spec.keycloak.realm = "master".into());
    let server = tokio::spawn(async move {
        expect_not_ready(&mut api, Reason::InvalidSpec, "spec.keycloak.realm").await;
        api.expect_nothing_more().await;
    });
    reconcile(guard(&obj), ctx).await.unwrap_err();
    server.await.unwrap();
    assert!(emu.log().is_empty());
}

#[tokio::test]
async fn deletion_removes_the_owned_client_then_the_finalizer() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = converged(&emu, &ctx).await.deleting();
    let server = tokio::spawn(async move {
        let note = expect_event(&mut api, "Normal", Reason::ClientDeleted).await;
        assert!(note.starts_with("deleted client"), "{note}");
        let (_, body, send) = api.expect("PATCH", CR_PATH).await;
        assert_eq!(
            body[0],
            json!({"op": "test", "path": "/metadata/finalizers/0", "value": FINALIZER})
        );
        assert_eq!(
            body[1],
            json!({"op": "remove", "path": "/metadata/finalizers/0"})
        );
        respond(send, 200, obj_json_with_finalizer());
        api.expect_nothing_more().await;
    });
    let action = reconcile(guard(&obj), ctx).await.unwrap();
    server.await.unwrap();
    assert_eq!(action, Action::await_change());
    assert!(emu.client("data-sec", "openmetadata").is_none());
}

#[tokio::test]
async fn deletion_with_retain_keeps_the_client_and_releases_the_finalizer() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url)
        .finalized()
        .deleting()
        .with(|o| o.spec.deletion_policy = Some(DeletionPolicy::Retain));
    let server = tokio::spawn(async move {
        expect_event(&mut api, "Normal", Reason::ClientRetained).await;
        let (_, _, send) = api.expect("PATCH", CR_PATH).await;
        respond(send, 200, obj_json_with_finalizer());
        api.expect_nothing_more().await;
    });
    reconcile(guard(&obj), ctx).await.unwrap();
    server.await.unwrap();
    assert!(emu.log().is_empty());
}

#[tokio::test]
async fn deletion_keeps_the_finalizer_while_keycloak_is_down() {
    let emu = Emulator::start().await;
    let url = emu.base_url.clone();
    emu.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&url)
        .finalized()
        .deleting();
    let server = tokio::spawn(async move {
        expect_not_ready(&mut api, Reason::KeycloakUnavailable, "finalizer stays").await;
        api.expect_nothing_more().await; // no finalizer removal
    });
    let err = reconcile(guard(&obj), ctx.clone()).await.unwrap_err();
    server.await.unwrap();
    assert!(err.is_transient());
    // Transient errors back off exponentially, and the resource is skipped by resyncs meanwhile.
    let key = "openmetadata/openmetadata";
    let first = ctx.backoff(key, None);
    let second = ctx.backoff(key, None);
    let third = ctx.backoff(key, None);
    assert!(first <= Duration::from_millis(2400), "{first:?}");
    assert!(
        second >= Duration::from_millis(3200) && second <= Duration::from_millis(4800),
        "{second:?}"
    );
    assert!(third >= Duration::from_millis(6400), "{third:?}");
    assert!(ctx.in_backoff(key));
    assert_eq!(
        ctx.backoff(key, Some(Duration::from_secs(120))),
        Duration::from_secs(120),
        "at least what the service asked for (Retry-After)"
    );
}

#[tokio::test]
async fn a_malformed_resource_is_reported_and_skipped() {
    let (ctx, mut api) = context();
    let raw = json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "broken", "namespace": NS, "uid": "u-1"},
        "spec": {"keycloak": {"url": 42}}
    });
    let guard: DeserializeGuard<OpenMetadataKeycloakClient> = serde_json::from_value(raw).unwrap();
    assert!(guard.0.is_err());
    let server = tokio::spawn(async move {
        let (_, body, send) = api.expect("POST", EVENTS_PATH).await;
        assert_eq!(body["reason"], "MalformedResource");
        assert_eq!(body["regarding"]["name"], "broken");
        respond(send, 201, body.clone());
        api.expect_nothing_more().await;
    });
    let action = reconcile(Arc::new(guard), ctx).await.unwrap();
    server.await.unwrap();
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn a_repeated_warning_becomes_a_series_and_a_new_message_a_new_event() {
    let (ctx, mut api) = context();
    let master = OpenMetadataKeycloakClient::test("http://kc.example")
        .finalized()
        .with(|o| o.spec.keycloak.realm = "master".into());
    let server = tokio::spawn(async move {
        let (_, body, send) = api.expect("PATCH", &format!("{CR_PATH}/status")).await;
        let status = body["status"].clone();
        respond(send, 200, with_status(&body));
        let (_, event, send) = api.expect("POST", EVENTS_PATH).await;
        let name = event["metadata"]["name"].as_str().unwrap().to_string();
        respond(send, 201, event);
        (api, status, name)
    });
    reconcile(guard(&master), ctx.clone()).await.unwrap_err();
    let (mut api, status, name) = server.await.unwrap();

    // The same failure again: the status is already there; the Event becomes a series.
    let seen = master
        .clone()
        .with(|o| o.status = Some(serde_json::from_value(status).unwrap()));
    let server = tokio::spawn(async move {
        let (_, body, send) = api.expect("PATCH", &format!("{EVENTS_PATH}/{name}")).await;
        assert_eq!(body["series"]["count"], 2, "{body}");
        respond(send, 200, body);
        api.expect_nothing_more().await;
        api
    });
    reconcile(guard(&seen), ctx.clone()).await.unwrap_err();
    let mut api = server.await.unwrap();

    // Another message under the same reason is a new Event, never a stale note.
    let other = seen.with(|o| o.spec.keycloak.url = Some("ftp://kc.example".into()));
    let server = tokio::spawn(async move {
        let (_, body, send) = api.expect("PATCH", &format!("{CR_PATH}/status")).await;
        respond(send, 200, with_status(&body));
        let note = expect_event(&mut api, "Warning", Reason::InvalidSpec).await;
        assert!(note.contains("spec.keycloak.url"), "{note}");
        api.expect_nothing_more().await;
    });
    reconcile(guard(&other), ctx).await.unwrap_err();
    server.await.unwrap();
}
