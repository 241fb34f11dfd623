//! The whole reconcile against a mock Kubernetes API server (controller-rs's ApiServerVerifier
//! pattern over `tower_test`) and the Keycloak emulator. Each scenario asserts method, path and
//! body of every Kubernetes request in order; a missing request shows as a timeout, an extra
//! one as a leftover request after the reconcile.

use std::{sync::Arc, time::Duration};

use crate::support::{
    admin_session, b64, decode,
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator},
};
use http::{Request, Response};
use kube::{Client, client::Body, core::DeserializeGuard, runtime::controller::Action};
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
        obj.spec.keycloak.url = keycloak_url.to_string();
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
        "metadata": {"name": "keycloak-admin", "namespace": NS},
        "data": {
            "username": b64(ADMIN_USER),
            "password": b64(ADMIN_PASSWORD),
        }
    })
}

fn context() -> (Arc<Context>, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, NS);
    (
        Arc::new(Context::new(client, Settings::default())),
        ApiServer(handle),
    )
}

fn guard(obj: &OpenMetadataKeycloakClient) -> Arc<DeserializeGuard<OpenMetadataKeycloakClient>> {
    Arc::new(DeserializeGuard(Ok(obj.clone())))
}

async fn expect_event(api: &mut ApiServer, type_: &str, reason: &str) -> String {
    let (_, body, send) = api.expect("POST", EVENTS_PATH).await;
    assert_eq!(body["type"], type_, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    assert_eq!(body["regarding"]["kind"], "OpenMetadataKeycloakClient");
    let note = body["note"].as_str().unwrap_or_default().to_string();
    respond(send, 201, body);
    note
}

/// Expects the status patch of a failed reconcile (Ready=False with `reason`, a message holding
/// `message_part`) and the Warning Event with the same reason; returns the Event's note.
async fn expect_not_ready(api: &mut ApiServer, reason: &str, message_part: &str) -> String {
    let (_, body, send) = api.expect("PATCH", &format!("{CR_PATH}/status")).await;
    let ready = &body["status"]["conditions"][0];
    assert_eq!(ready["status"], "False", "{ready}");
    assert_eq!(ready["reason"], reason, "{ready}");
    assert!(
        ready["message"].as_str().unwrap().contains(message_part),
        "{ready}"
    );
    respond(send, 200, with_status(&body));
    expect_event(api, "Warning", reason).await
}

#[tokio::test]
async fn a_new_resource_first_gets_the_finalizer_and_nothing_else() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url);

    let server = tokio::spawn(async move {
        let (_, body, send) = api.expect("PATCH", CR_PATH).await;
        assert_eq!(
            body,
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}
            ])
        );
        let mut patched = obj_json_with_finalizer();
        patched["metadata"]["finalizers"] = json!([FINALIZER]);
        respond(send, 200, patched);
        api.expect_nothing_more().await;
    });
    let action = reconcile(guard(&obj), ctx).await.unwrap();
    server.await.unwrap();
    assert_eq!(action, Action::await_change());
    assert!(
        emu.log().is_empty(),
        "Keycloak is not touched before the finalizer is in place"
    );
}

/// What the API server answers to a status patch: the object with the new status.
fn with_status(patch: &Value) -> Value {
    let mut obj = obj_json_with_finalizer();
    obj["status"] = patch["status"].clone();
    obj
}

fn obj_json_with_finalizer() -> Value {
    let obj = OpenMetadataKeycloakClient::test("http://unused").finalized();
    serde_json::to_value(&obj).unwrap()
}

#[tokio::test]
async fn a_finalized_resource_gets_its_client_secret_status_and_events() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url)
        .finalized()
        .with(|o| {
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
        let (_, _, send) = api.expect("GET", CREDS_PATH).await;
        respond(send, 200, credentials_secret());

        let (_, _, send) = api.expect("GET", OUT_PATH).await;
        not_found(send, "secrets \"oidc-secrets\"");

        let (query, body, send) = api.expect("PATCH", OUT_PATH).await;
        assert!(
            query.contains("fieldManager=openmetadata-keycloak-operator"),
            "{query}"
        );
        assert!(query.contains("force=true"), "{query}");
        assert_eq!(body["apiVersion"], "v1");
        assert_eq!(body["kind"], "Secret");
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
        respond(send, 200, body.clone());

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
        assert_eq!(
            om["publicKeys"][0],
            "https://openmetadata.example.com/api/v1/system/config/jwks"
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

        let note = expect_event(&mut api, "Normal", "Reconciled").await;
        assert!(
            note.starts_with("created client \"openmetadata\" in realm \"data-sec\""),
            "{note}"
        );
        assert!(
            note.ends_with("; created Secret \"oidc-secrets\""),
            "{note}"
        );
        api.expect_nothing_more().await;
        secret_value
    });
    let action = reconcile(guard(&obj), ctx).await.unwrap();
    let secret_value = server.await.unwrap();
    assert_eq!(
        Some(secret_value),
        emu.secret_of("data-sec", "openmetadata")
    );
    assert!(
        action != Action::await_change(),
        "a periodic resync is scheduled"
    );
}

#[tokio::test]
async fn a_secret_the_operator_does_not_own_is_left_alone() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url).finalized();

    let server = tokio::spawn(async move {
        let (_, _, send) = api.expect("GET", CREDS_PATH).await;
        respond(send, 200, credentials_secret());
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
        // No PATCH of the Secret: straight to status.
        expect_not_ready(&mut api, "SecretConflict", "not owned").await;
        api.expect_nothing_more().await;
    });
    let err = reconcile(guard(&obj), ctx.clone()).await.unwrap_err();
    server.await.unwrap();
    assert_eq!(err.reason(), Reason::SecretConflict);
    // Permanent: retried at the resync period, not in a tight loop.
    let delay = ctx.retry_after(err.is_transient(), "openmetadata/openmetadata");
    assert!(
        delay >= Duration::from_secs(270) && delay <= Duration::from_secs(330),
        "{delay:?}"
    );
    assert_ne!(error_policy(guard(&obj), &err, ctx), Action::await_change());
}

#[tokio::test]
async fn a_missing_credentials_secret_is_reported_without_calling_keycloak() {
    let emu = Emulator::start().await;
    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url).finalized();
    let server = tokio::spawn(async move {
        let (_, _, send) = api.expect("GET", CREDS_PATH).await;
        not_found(send, "secrets \"keycloak-admin\"");
        let note = expect_not_ready(&mut api, "CredentialsNotFound", "").await;
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
        expect_not_ready(&mut api, "InvalidSpec", "spec.keycloak.realm").await;
        api.expect_nothing_more().await;
    });
    reconcile(guard(&obj), ctx).await.unwrap_err();
    server.await.unwrap();
    assert!(emu.log().is_empty());
}

#[tokio::test]
async fn deletion_removes_the_owned_client_then_the_finalizer() {
    let emu = Emulator::start().await;
    // First converge Keycloak so the client exists and is owned.
    let v = omkc::validate::validate(&OpenMetadataKeycloakClient::test(&emu.base_url)).unwrap();
    let session = admin_session(&emu);
    omkc::reconcile::converge_keycloak(&session, &v)
        .await
        .unwrap();

    let (ctx, mut api) = context();
    let obj = OpenMetadataKeycloakClient::test(&emu.base_url)
        .finalized()
        .deleting();
    let server = tokio::spawn(async move {
        let (_, _, send) = api.expect("GET", CREDS_PATH).await;
        respond(send, 200, credentials_secret());
        let note = expect_event(&mut api, "Normal", "Deleted").await;
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
        expect_event(&mut api, "Normal", "Retained").await;
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
        let (_, _, send) = api.expect("GET", CREDS_PATH).await;
        respond(send, 200, credentials_secret());
        expect_not_ready(&mut api, "KeycloakUnavailable", "finalizer stays").await;
        api.expect_nothing_more().await; // no finalizer removal
    });
    let err = reconcile(guard(&obj), ctx.clone()).await.unwrap_err();
    server.await.unwrap();
    assert!(err.is_transient());
    // Transient errors back off exponentially.
    let key = "openmetadata/openmetadata";
    let first = ctx.retry_after(err.is_transient(), key);
    let second = ctx.retry_after(err.is_transient(), key);
    let third = ctx.retry_after(err.is_transient(), key);
    assert!(first <= Duration::from_millis(2400), "{first:?}");
    assert!(
        second >= Duration::from_millis(3200) && second <= Duration::from_millis(4800),
        "{second:?}"
    );
    assert!(third >= Duration::from_millis(6400), "{third:?}");
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
async fn a_converged_resource_patches_no_status_and_publishes_no_event() {
    let emu = Emulator::start().await;
    let base = OpenMetadataKeycloakClient::test(&emu.base_url).finalized();
    let v = omkc::validate::validate(&base).unwrap();
    let session = admin_session(&emu);
    let synced = omkc::reconcile::converge_keycloak(&session, &v)
        .await
        .unwrap();
    let status = omkc::reconcile::status::ready(&base, &v, &synced.client_uuid);
    let obj = base.with(|o| o.status = Some(status));
    let secret_value = synced.client_secret.clone();
    emu.clear_log();

    let (ctx, mut api) = context();
    let server = tokio::spawn(async move {
        let (_, _, send) = api.expect("GET", CREDS_PATH).await;
        respond(send, 200, credentials_secret());
        let (_, _, send) = api.expect("GET", OUT_PATH).await;
        respond(
            send,
            200,
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "oidc-secrets", "namespace": NS, "ownerReferences": [{
                    "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient", "name": "openmetadata",
                    "uid": "7d3c9a52-0000-4000-8000-000000000001", "controller": true
                }]},
                "data": {
                    "openmetadata-oidc-client-id": b64("openmetadata"),
                    "openmetadata-oidc-client-secret": b64(&secret_value),
                }
            }),
        );
        // Server-side apply is idempotent and still sent (it restores edited labels or keys)...
        let (_, body, send) = api.expect("PATCH", OUT_PATH).await;
        respond(send, 200, body);
        // ...but no status patch and no Event: nothing changed, nothing re-triggers.
        api.expect_nothing_more().await;
    });
    reconcile(guard(&obj), ctx).await.unwrap();
    server.await.unwrap();
    assert!(emu.admin_calls().iter().all(|c| c.starts_with("GET ")));
}
