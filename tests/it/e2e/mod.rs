//! End-to-end: a real cluster running the operator, and a real Keycloak.
//!
//! Ignored by a plain `cargo test` (reported as ignored, with the reason); `tests/kubernetes/cluster.sh
//! test VERSION` (on a real API server built here, in every CI run) and the e2e workflow on kind
//! run it with `--ignored` and set the environment, and then a missing variable fails it.
//! Environment:
//! - `KEYCLOAK_URL`: Keycloak as this test process reaches it (e.g. `http://localhost:8080`);
//! - `KEYCLOAK_URL_IN_CLUSTER`: Keycloak as the operator reaches it (default: `KEYCLOAK_URL`);
//! - `KEYCLOAK_ADMIN_USER` / `KEYCLOAK_ADMIN_PASSWORD`: master-realm admin (default admin/admin).
//!
//! The operator and its CRD must already be installed in the cluster (`cluster.sh test` does it;
//! docs/contributors/testing.md, "End-to-end tests").

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use omkc::crd::OpenMetadataKeycloakClient;
use serde_json::{Value, json};

use crate::support::real::{Admin, Endpoint};

mod connection;
mod namespace;
mod rollout;

struct Env {
    keycloak: String,
    keycloak_in_cluster: String,
    user: String,
    password: String,
}

fn env() -> Option<Env> {
    std::env::var_os("KUBECONFIG")?;
    let keycloak = std::env::var("KEYCLOAK_URL").ok()?;
    Some(Env {
        keycloak_in_cluster: std::env::var("KEYCLOAK_URL_IN_CLUSTER")
            .unwrap_or_else(|_| keycloak.clone()),
        keycloak: keycloak.trim_end_matches('/').to_string(),
        user: std::env::var("KEYCLOAK_ADMIN_USER").unwrap_or_else(|_| "admin".into()),
        password: std::env::var("KEYCLOAK_ADMIN_PASSWORD").unwrap_or_else(|_| "admin".into()),
    })
}

/// Keycloak's Admin API as the master-realm admin, as this process reaches it.
fn admin(e: &Env) -> Admin {
    Admin::new(&Endpoint {
        url: e.keycloak.clone(),
        version: "e2e".into(),
        user: e.user.clone(),
        password: e.password.clone(),
        https_url: None,
        ca_file: None,
    })
}

async fn keycloak_client(admin: &Admin, realm: &str, client_id: &str) -> Option<Value> {
    let list = admin
        .get(&format!("/{realm}/clients?clientId={client_id}"))
        .await;
    list.as_array()?.first().cloned()
}

/// The realm's admin events after `since` (epoch milliseconds; 0: all), oldest first.
async fn admin_events(admin: &Admin, realm: &str, since: i64) -> Vec<Value> {
    let time = |ev: &Value| ev["time"].as_i64().unwrap_or(0);
    let all = admin.get(&format!("/{realm}/admin-events?max=1000")).await;
    let mut events: Vec<Value> = all.as_array().into_iter().flatten().cloned().collect();
    events.retain(|ev| time(ev) > since);
    events.sort_by_key(time);
    events
}

/// The time of the realm's last admin event (epoch milliseconds; 0 when none).
async fn last_event(admin: &Admin, realm: &str) -> i64 {
    let events = admin_events(admin, realm, 0).await;
    events
        .last()
        .map_or(0, |ev| ev["time"].as_i64().unwrap_or(0))
}

async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// A scenario's start: the environment, Keycloak's admin and the cluster's client, and the
/// scenario's own `realm`, made afresh, with admin events on.
async fn begin(realm: &str) -> (Env, Admin, Client) {
    let e = env().expect(
        "e2e runs against a real cluster and Keycloak: set KUBECONFIG and KEYCLOAK_URL (docs/contributors/testing.md, End-to-end tests)",
    );
    omkc::tls::install_crypto_provider();
    let admin = admin(&e);
    let client = Client::try_default().await.expect("kube client");
    admin.fresh_realm(realm).await;
    (e, admin, client)
}

/// The status of the resource `name` once it is Ready (at most 120 s).
async fn ready(
    resources: &Api<OpenMetadataKeycloakClient>,
    name: &str,
) -> omkc::crd::OpenMetadataKeycloakClientStatus {
    wait_for("Ready=True", Duration::from_secs(120), || async {
        let status = resources.get(name).await.ok()?.status?;
        let ready = status.conditions.iter().find(|c| c.type_ == "Ready")?;
        (ready.status == "True").then_some(status)
    })
    .await
}

/// A team's namespace, `omkc-e2e-<run>`, with the Keycloak admin's credentials in the Secret
/// `keycloak-admin`, labelled as the operator asks.
async fn team_namespace(client: &Client, e: &Env, run: &str) -> String {
    let ns = format!("omkc-e2e-{run}");
    let post = PostParams::default();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    namespaces.create(&post, &namespace).await.unwrap();
    let credentials = json!({
        "metadata": {"name": "keycloak-admin", "labels": {"omkc.dev/keycloak-credentials": "true"}},
        "stringData": {"username": e.user, "password": e.password}
    });
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    (secrets.create(&post, &serde_json::from_value(credentials).unwrap()))
        .await
        .unwrap();
    ns
}

/// The resource `openmetadata` with an inline connection: the Keycloak of `e`, `realm`, the
/// credentials of [`team_namespace`], and the spec's `field` set to `value`.
fn inline_resource(e: &Env, realm: &str, field: &str, value: Value) -> OpenMetadataKeycloakClient {
    let mut resource = json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "openmetadata"},
        "spec": {
            "keycloak": {"url": e.keycloak_in_cluster, "realm": realm,
                         "credentialsSecretRef": {"name": "keycloak-admin"}},
            "openmetadata": {"url": "https://openmetadata.e2e.example"}
        }
    });
    resource["spec"][field] = value;
    serde_json::from_value(resource).unwrap()
}

#[tokio::test]
#[ignore = "needs a real cluster and Keycloak: set KUBECONFIG and KEYCLOAK_URL, then cargo test --test it -- --ignored e2e (docs/contributors/testing.md, End-to-end tests)"]
async fn end_to_end_on_a_real_cluster_and_keycloak() {
    let realm = "omkc-e2e";
    let (e, admin, client) = begin(realm).await;
    let ns = team_namespace(&client, &e, &format!("{:08x}", fastrand::u32(..))).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);

    let resources: Api<OpenMetadataKeycloakClient> = Api::namespaced(client.clone(), &ns);
    let cr = inline_resource(&e, realm, "client", json!({"clientId": format!("om-{ns}")}));
    resources.create(&PostParams::default(), &cr).await.unwrap();

    let ready = ready(&resources, "openmetadata").await;
    assert_eq!(ready.secret_name.as_deref(), Some("oidc-secrets"));

    // Converged means silent: with admin events on, two resync periods (the workflow runs
    // the operator with RESYNC_PERIOD=30s) record no CREATE or UPDATE of anything. Real
    // Keycloak tells on any needless write, whatever field would cause it.
    let converged_at = last_event(&admin, realm).await;
    tokio::time::sleep(Duration::from_secs(
        std::env::var("E2E_RESYNC_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30)
            * 2
            + 5,
    ))
    .await;
    let writes: Vec<Value> = admin_events(&admin, realm, converged_at)
        .await
        .into_iter()
        .filter(|ev| matches!(ev["operationType"].as_str(), Some("CREATE" | "UPDATE")))
        .collect();
    assert!(writes.is_empty(), "writes while converged: {writes:#?}");

    let secret = secrets.get("oidc-secrets").await.unwrap();
    let data = secret.data.unwrap();
    let client_id = format!("om-{ns}");
    assert_eq!(data["openmetadata-oidc-client-id"].0, client_id.as_bytes());
    let kc = keycloak_client(&admin, realm, &client_id)
        .await
        .expect("client exists in Keycloak");
    assert_eq!(
        kc["redirectUris"],
        json!(["https://openmetadata.e2e.example/callback"])
    );
    assert_eq!(
        kc["secret"].as_str().unwrap().as_bytes(),
        data["openmetadata-oidc-client-secret"].0.as_slice()
    );

    // Rotation on demand: one regeneration (one ACTION on client-secret in Keycloak's admin
    // events), and the Secret holds the new secret with the token recorded.
    let before_rotation = last_event(&admin, realm).await;
    resources
        .patch(
            "openmetadata",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"omkc.dev/rotate": "e2e-1"}}})),
        )
        .await
        .unwrap();
    let rotated = wait_for("the rotation", Duration::from_secs(60), || async {
        let s = secrets.get("oidc-secrets").await.ok()?;
        let done = s
            .metadata
            .annotations
            .as_ref()?
            .get("omkc.dev/rotated-for")?
            == "e2e-1";
        let value = s.data?.get("openmetadata-oidc-client-secret")?.0.clone();
        (done && value != data["openmetadata-oidc-client-secret"].0).then_some(value)
    })
    .await;
    let kc = keycloak_client(&admin, realm, &client_id).await.unwrap();
    assert_eq!(
        kc["secret"].as_str().unwrap().as_bytes(),
        rotated.as_slice()
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let regenerations = admin_events(&admin, realm, before_rotation)
        .await
        .into_iter()
        .filter(|ev| {
            ev["operationType"] == "ACTION"
                && ev["resourcePath"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("/client-secret"))
        })
        .count();
    assert_eq!(regenerations, 1, "exactly one regeneration per token");

    // A deleted Secret comes back.
    secrets
        .delete("oidc-secrets", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(
        "the Secret to be restored",
        Duration::from_secs(60),
        || async { secrets.get_opt("oidc-secrets").await.ok().flatten() },
    )
    .await;

    // Deleting the resource deletes the client.
    resources
        .delete("openmetadata", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the resource to go", Duration::from_secs(60), || async {
        resources
            .get_opt("openmetadata")
            .await
            .ok()
            .and_then(|o| o.is_none().then_some(()))
    })
    .await;
    assert!(
        keycloak_client(&admin, realm, &client_id).await.is_none(),
        "client removed from Keycloak"
    );
    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
}
