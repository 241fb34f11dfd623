//! Test doubles and fixtures shared by the integration tests.
#![allow(dead_code)]

pub mod apiserver;
pub mod apiservers;
pub mod emulator;
pub mod load;
pub mod openapi;
pub mod real;
pub mod target;
pub mod tls;

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use k8s_openapi::{api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::Time};
use omkc::{
    crd::OpenMetadataKeycloakClient,
    keycloak::{ConnectionKey, ConnectionSpec, Credentials, Pool, Session},
    reconcile::{
        change::Change,
        plan::{Put, Write},
    },
};

use apiserver::ApiServer;
use emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator};

/// The installation id the tests run the operator with.
pub const INSTALLATION: &str = "cluster-1";

/// The operator's controller loop with `settings` and `workers`, over every namespace.
pub fn operator(
    api: &ApiServer,
    settings: omkc::Settings,
    workers: u16,
) -> (Arc<omkc::Context>, tokio::task::JoinHandle<()>) {
    omkc::tls::install_crypto_provider();
    let ctx = Arc::new(omkc::Context::new(api.client(), settings));
    let health = Arc::new(omkc::telemetry::Health::new(1));
    let run = tokio::spawn(omkc::controller::run_scope(
        api.client(),
        None,
        ctx.clone(),
        workers,
        health,
        0,
    ));
    (ctx, run)
}

/// What the test's thread logs while the guard lives (a `#[tokio::test]` runtime runs every
/// task on that thread).
#[derive(Clone, Default)]
pub struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone());
        (logs, tracing::subscriber::set_default(subscriber.finish()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A resource from `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> OpenMetadataKeycloakClient {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Base64 of a string, as Secret data carries it.
pub fn b64(s: &str) -> String {
    serde_json::to_value(k8s_openapi::ByteString(s.as_bytes().to_vec()))
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// The string inside base64 Secret data.
pub fn decode(v: &serde_json::Value) -> String {
    let bytes: k8s_openapi::ByteString = serde_json::from_value(v.clone()).unwrap();
    String::from_utf8(bytes.0).unwrap()
}

/// A Keycloak session to the emulator with `credentials`, from a pool of its own.
pub fn session_with(emu: &Emulator, credentials: Credentials) -> Arc<Session> {
    session_at(&emu.base_url, credentials)
}

/// A Keycloak session to `base_url` (admin realm `master`), from a pool of its own.
pub fn session_at(base_url: &str, credentials: Credentials) -> Arc<Session> {
    session_trusting(base_url, credentials, None)
}

/// [`session_at`], trusting the authorities of `ca_bundle` (PEM) besides the system's.
pub fn session_trusting(
    base_url: &str,
    credentials: Credentials,
    ca_bundle: Option<String>,
) -> Arc<Session> {
    session_of(base_url, credentials, ca_bundle, Arc::default())
}

pub(crate) fn session_of(
    base_url: &str,
    credentials: Credentials,
    ca_bundle: Option<String>,
    metrics: Arc<omkc::telemetry::Metrics>,
) -> Arc<Session> {
    Pool::new(8, metrics)
        .session(&ConnectionSpec {
            key: ConnectionKey {
                base_url: base_url.to_string(),
                admin_realm: "master".into(),
                credentials_source: "openmetadata/keycloak-admin".into(),
            },
            credentials,
            ca_bundle,
        })
        .unwrap()
}

/// The emulator admin's credentials Secret `keycloak-admin` in `namespace`, labelled as such.
pub fn admin_credentials(namespace: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "keycloak-admin", "namespace": namespace,
                     "labels": {"omkc.dev/keycloak-credentials": "true"}},
        "data": {"username": b64(emulator::ADMIN_USER), "password": b64(emulator::ADMIN_PASSWORD)}
    })
}

/// The emulator admin's credentials.
pub fn emulator_admin() -> Credentials {
    Credentials::Password {
        username: ADMIN_USER.into(),
        password: ADMIN_PASSWORD.into(),
    }
}

/// A Keycloak session as the emulator's admin.
pub fn admin_session(emu: &Emulator) -> Arc<Session> {
    session_with(emu, emulator_admin())
}

/// The fake API server holding the Keycloak admin credentials Secret in `namespace`, and the
/// Keycloak emulator they sign in to.
pub async fn world(namespace: &str) -> (ApiServer, Emulator) {
    let api = ApiServer::start().await;
    let emu = Emulator::start().await;
    api.put(admin_credentials(namespace));
    (api, emu)
}

/// Polls `probe` every 50 ms until it yields a value, for at most `limit`.
pub async fn poll<T, F, Fut>(limit: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `probe` until it yields a value; after 20 s, prints the requests the fake API server
/// saw and fails with `what`.
pub async fn eventually<T, F, Fut>(api: &ApiServer, what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let found = poll(Duration::from_secs(20), probe).await;
    found.unwrap_or_else(|| {
        for r in api.requests() {
            eprintln!("{} {}?{} -> {:?}", r.method, r.path, r.query, r.access);
        }
        panic!("timed out waiting for {what}");
    })
}

/// [`eventually`] for a condition that needs no await.
pub async fn until(api: &ApiServer, what: &str, mut holds: impl FnMut() -> bool) {
    eventually(api, what, || std::future::ready(holds().then_some(()))).await
}

/// Merges these fields into the resource's spec, as a JSON merge patch would.
pub fn merge_spec(obj: &mut OpenMetadataKeycloakClient, fields: serde_json::Value) {
    let mut value = serde_json::to_value(&*obj).unwrap();
    json_patch::merge(&mut value["spec"], &fields);
    *obj = serde_json::from_value(value).unwrap();
}

/// Asserts that `text` holds `part`, showing both when it does not.
#[track_caller]
pub fn has(text: &str, part: &str) {
    assert!(text.contains(part), "{part:?} not in:\n{text}");
}

/// Asserts that `text` does not hold `part`, showing both when it does.
#[track_caller]
pub fn lacks(text: &str, part: &str) {
    assert!(!text.contains(part), "{part:?} in:\n{text}");
}

/// Asserts that `actual` (a JSON value) shows every field of the JSON after it with its value:
/// objects field by field, all the way down (`actual`'s other fields are not looked at; `null`:
/// the field is absent), anything else whole. Names each field that differs.
#[macro_export]
macro_rules! shows {
    ($actual:expr, $($expected:tt)+) => {
        $crate::support::shows(&$actual, &serde_json::json!($($expected)+))
    };
}

#[track_caller]
pub fn shows(actual: &serde_json::Value, expected: &serde_json::Value) {
    use serde_json::Value;
    fn differences(a: &Value, e: &Value, at: &str, out: &mut Vec<String>) {
        let Some(fields) = e.as_object() else {
            if a != e {
                out.push(format!("{at}: {a}, not {e}"));
            }
            return;
        };
        for (k, e) in fields {
            let at = format!("{at}.{k}");
            match (a.get(k), e) {
                (None, Value::Null) => {}
                (Some(a), Value::Null) => out.push(format!("{at}: {a}, not absent")),
                (a, e) => differences(a.unwrap_or(&Value::Null), e, &at, out),
            }
        }
    }
    let mut out = Vec::new();
    differences(actual, expected, "", &mut out);
    assert!(out.is_empty(), "{}", out.join("\n"));
}

/// Waits until the object's first condition (its Ready) gives `reason`; returns the object as it
/// was then.
pub async fn condition(
    api: &ApiServer,
    collection: &str,
    namespace: &str,
    name: &str,
    reason: &str,
) -> serde_json::Value {
    let what = format!("{namespace}/{name} to report {reason}");
    eventually(api, &what, || async {
        let obj = api.get(collection, namespace, name)?;
        (obj["status"]["conditions"][0]["reason"] == reason).then_some(obj)
    })
    .await
}

/// The Events of `namespace` with `reason`.
pub fn events(api: &ApiServer, namespace: &str, reason: &str) -> Vec<serde_json::Value> {
    let mut events = api.list("events.k8s.io/v1/events", namespace);
    events.retain(|e| e["reason"] == reason);
    events
}

/// The Keycloak half of a reconcile for `obj` (validated with [`INSTALLATION`]), with no output
/// Secret in place and no client id recorded in status.
pub async fn keycloak_sync(
    session: &Session,
    obj: &omkc::crd::OpenMetadataKeycloakClient,
) -> Result<omkc::reconcile::Converged, omkc::Error> {
    let v = omkc::validate::validate(obj, INSTALLATION)?;
    // As through a connection that allows adoption (what adoption may take is the plan's).
    let observed = omkc::reconcile::plan::Observed {
        issuer: session.realm_url(&v.realm),
        adoption_allowed: true,
        ..Default::default()
    };
    omkc::reconcile::converge_client(session, obj, &v, observed, None).await
}

/// The output Secret a converge without a context left to write.
pub fn unmade_secret(c: &omkc::reconcile::Converged) -> Option<&Put<Secret>> {
    c.unmade.iter().find_map(|w| match w {
        Write::Secret(put) => Some(put),
        _ => None,
    })
}

/// The status a converge without a context left to write.
pub fn unmade_status(
    c: &omkc::reconcile::Converged,
) -> Option<&omkc::crd::OpenMetadataKeycloakClientStatus> {
    c.unmade.iter().find_map(|w| match w {
        Write::Status(status) => Some(status),
        _ => None,
    })
}

/// Deletes the client of `obj` as the reconcile of its deletion would (no client id recorded
/// in status): what it did, and the finalizer left to release.
pub async fn keycloak_delete(
    session: &Session,
    obj: &omkc::crd::OpenMetadataKeycloakClient,
) -> Result<Change, omkc::Error> {
    let v = omkc::validate::validate(obj, INSTALLATION)?;
    let mut deleted = obj.clone();
    deleted.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
    let c =
        omkc::reconcile::converge_client(session, &deleted, &v, Default::default(), None).await?;
    assert_eq!(
        c.unmade,
        [Write::RemoveFinalizer],
        "the finalizer goes last"
    );
    let [change] = c.changes.as_slice() else {
        panic!("one change: {:?}", c.changes)
    };
    Ok(change.clone())
}

/// A password grant of `admin-cli` in `master` at `base_url`: Keycloak's JSON answer.
pub async fn password_grant(
    http: &reqwest::Client,
    base_url: &str,
    username: &str,
    password: &str,
) -> serde_json::Value {
    http.post(format!(
        "{base_url}/realms/master/protocol/openid-connect/token"
    ))
    .form(&[
        ("grant_type", "password"),
        ("client_id", "admin-cli"),
        ("username", username),
        ("password", password),
    ])
    .send()
    .await
    .expect("token request")
    .json()
    .await
    .expect("token answer")
}
