//! Multi-tenant trust, through the real controller loop: shared ClusterKeycloakConnections and
//! who may use them, credentials that cannot be borrowed, owner markers unique per
//! installation, and deletion that never hangs nor silently orphans.

use std::{sync::Arc, time::Duration};

use omkc::{Context, Settings};
use serde_json::{Value, json};

use crate::support::{
    apiserver::ApiServer,
    b64, condition,
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator},
    eventually, has, lacks, operator, until,
};

const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";
const OPERATOR_NS: &str = "omkc-system";

struct Cluster {
    api: ApiServer,
    emu: Emulator,
    ctx: Arc<Context>,
    run: tokio::task::JoinHandle<()>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.run.abort();
    }
}

fn credentials(namespace: &str, name: &str, password: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"omkc.dev/keycloak-credentials": "true"}},
        "data": {"username": b64(ADMIN_USER), "password": b64(password)}
    })
}

async fn cluster(installation: &str, emu: Emulator) -> Cluster {
    cluster_with(installation, emu, |_| {}).await
}

async fn cluster_with(
    installation: &str,
    emu: Emulator,
    edit: impl FnOnce(&mut Settings),
) -> Cluster {
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    let mut settings = Settings {
        installation: installation.into(),
        operator_namespace: OPERATOR_NS.into(),
        ..Settings::default()
    };
    edit(&mut settings);
    let (ctx, run) = operator(&api, settings, 4);
    for (name, labels) in [
        ("team-data", json!({"team": "data"})),
        ("team-web", json!({"team": "web"})),
    ] {
        api.put(json!({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": name, "labels": labels}}));
    }
    Cluster { api, emu, ctx, run }
}

impl Cluster {
    fn connection(&self, password: &str) {
        self.api
            .put(credentials(OPERATOR_NS, "platform-admin", password));
        self.api.put(json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
            "metadata": {"name": "platform"},
            "spec": {
                "url": self.emu.base_url,
                "credentialsSecretRef": {"name": "platform-admin"},
                "namespaceSelector": {"matchLabels": {"team": "data"}},
                "allowedRealms": ["data-sec"]
            }
        }));
    }

    fn resource(&self, namespace: &str, name: &str, keycloak: Value) {
        self.api.put(json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "keycloak": keycloak,
                "openmetadata": {"url": format!("https://{name}.example.com")},
                "secret": {"name": format!("{name}-oidc")}
            }
        }));
    }

    async fn reason(&self, namespace: &str, name: &str) -> String {
        eventually(
            &self.api,
            &format!("a Ready condition on {namespace}/{name}"),
            || async {
                let obj = self.api.get(CRS, namespace, name)?;
                obj["status"]["conditions"][0]["reason"]
                    .as_str()
                    .map(str::to_string)
            },
        )
        .await
    }

    async fn reason_becomes(&self, namespace: &str, name: &str, want: &str) -> Value {
        condition(&self.api, CRS, namespace, name, want).await
    }

    /// The message of the resource's Ready condition.
    fn message(&self, namespace: &str, name: &str) -> String {
        let obj = self.api.get(CRS, namespace, name).unwrap();
        obj["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .into()
    }

    fn events(&self, namespace: &str, reason: &str) -> Vec<Value> {
        crate::support::events(&self.api, namespace, reason)
    }
}

impl Cluster {
    /// Deletes a resource and waits until its finalizer is released.
    async fn delete_and_wait(&self, namespace: &str, name: &str) {
        self.api.delete(CRS, namespace, name);
        eventually(&self.api, "the resource to go", || async {
            self.api.get(CRS, namespace, name).is_none().then_some(())
        })
        .await;
    }

    /// A resource with its own URL and the credentials Secret `admin`, reconciled.
    async fn inline_catalog(&self) {
        self.api
            .put(credentials("team-data", "admin", ADMIN_PASSWORD));
        let inline = json!({"url": self.emu.base_url, "realm": "data-sec",
                            "credentialsSecretRef": {"name": "admin"}});
        self.resource("team-data", "catalog", inline);
        self.reason_becomes("team-data", "catalog", "Reconciled")
            .await;
    }
}

fn through_connection(realm: &str) -> Value {
    json!({"connectionRef": {"name": "platform"}, "realm": realm})
}

#[tokio::test]
async fn a_connection_serves_allowed_namespaces_and_realms_and_refuses_the_rest_before_keycloak() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.connection(ADMIN_PASSWORD);
    c.resource("team-data", "allowed", through_connection("data-sec"));
    c.reason_becomes("team-data", "allowed", "Reconciled").await;
    assert!(c.emu.client("data-sec", "allowed").is_some());
    // The values published for OpenMetadata, from the connection.
    let obj = c.api.get(CRS, "team-data", "allowed").unwrap();
    assert_eq!(
        obj["status"]["openmetadata"]["authority"],
        format!("{}/realms/data-sec", c.emu.base_url)
    );

    c.emu.clear_log();
    c.resource("team-web", "elsewhere", through_connection("data-sec"));
    c.resource("team-data", "wrong-realm", through_connection("payroll"));
    c.resource(
        "team-data",
        "nowhere",
        json!({"connectionRef": {"name": "nope"}, "realm": "data-sec"}),
    );
    assert_eq!(
        c.reason("team-web", "elsewhere").await,
        "ConnectionNotAllowed"
    );
    assert_eq!(
        c.reason("team-data", "wrong-realm").await,
        "RealmNotAllowed"
    );
    assert_eq!(c.reason("team-data", "nowhere").await, "ConnectionNotFound");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        c.emu.log().len(),
        0,
        "no request reached Keycloak: {:?}",
        c.emu.admin_calls()
    );

    // The platform team allows the namespace: the labels' change brings the resource back.
    c.api.edit("v1/namespaces", "", "team-web", |ns| {
        ns["metadata"]["labels"]["team"] = json!("data")
    });
    c.reason_becomes("team-web", "elsewhere", "Reconciled")
        .await;
}

#[tokio::test]
async fn an_unlabelled_secret_is_never_used_as_credentials() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.api.put(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db-password", "namespace": "team-data"},
        "data": {"username": b64(ADMIN_USER), "password": b64(ADMIN_PASSWORD)}
    }));
    let inline = json!({"url": c.emu.base_url, "realm": "data-sec",
                        "credentialsSecretRef": {"name": "db-password"}});
    c.resource("team-data", "borrower", inline);
    assert_eq!(
        c.reason("team-data", "borrower").await,
        "CredentialsNotAllowed"
    );
    assert_eq!(c.emu.log().len(), 0, "the Secret's content went nowhere");
    // Labelled by someone allowed to write Secrets: now it is credentials.
    c.api.edit("v1/secrets", "team-data", "db-password", |s| {
        s["metadata"]["labels"] = json!({"omkc.dev/keycloak-credentials": "true"})
    });
    c.reason_becomes("team-data", "borrower", "Reconciled")
        .await;
}

#[tokio::test]
async fn a_connections_unusable_credentials_are_named_to_the_platform_team_only() {
    let (logs, _logging) = crate::support::Logs::capture();
    let c = cluster("cluster-a", Emulator::start().await).await;
    let half = |namespace: &str, name: &str| {
        let mut s = credentials(namespace, name, ADMIN_PASSWORD);
        s["data"].as_object_mut().unwrap().remove("password");
        s
    };
    // A tenant's own Secret: its status names it, and the operator's log does not repeat it.
    c.api.put(half("team-data", "own-admin"));
    let inline = json!({"url": c.emu.base_url, "realm": "data-sec",
                        "credentialsSecretRef": {"name": "own-admin"}});
    c.resource("team-data", "inline", inline);
    let message = async |name: &str| {
        assert_eq!(c.reason("team-data", name).await, "CredentialsInvalid");
        c.message("team-data", name)
    };
    assert!(message("inline").await.contains("team-data/own-admin"));
    lacks(&logs.text(), "connection credentials");
    // The platform team's: the tenant reads the connection's name only, the log the Secret's.
    c.connection(ADMIN_PASSWORD);
    c.api.put(half(OPERATOR_NS, "platform-admin"));
    c.resource("team-data", "shared", through_connection("data-sec"));
    let said = message("shared").await;
    has(&said, "of ClusterKeycloakConnection \"platform\"");
    lacks(&said, "platform-admin");
    let logged = logs.text();
    has(&logged, "connection credentials");
    has(&logged, "omkc-system/platform-admin");
}

#[tokio::test]
async fn two_installations_sharing_a_realm_never_take_each_others_clients() {
    let emu = Emulator::start().await;
    let a = cluster("cluster-a", emu).await;
    a.connection(ADMIN_PASSWORD);
    a.resource("team-data", "catalog", through_connection("data-sec"));
    a.reason_becomes("team-data", "catalog", "Reconciled").await;
    let owner =
        a.emu.client("data-sec", "catalog").unwrap()["attributes"]["omkc.dev/owner"].clone();
    assert_eq!(owner, "cluster-a/team-data/catalog");

    // Another cluster, same namespace and name, same Keycloak realm, adoption even allowed.
    let b_api = ApiServer::start().await;
    let b = Settings {
        installation: "cluster-b".into(),
        operator_namespace: OPERATOR_NS.into(),
        ..Settings::default()
    };
    let (_, b_run) = operator(&b_api, b, 4);
    b_api.put(credentials("team-data", "admin", ADMIN_PASSWORD));
    b_api.put(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "catalog", "namespace": "team-data"},
        "spec": {
            "keycloak": {"url": a.emu.base_url, "realm": "data-sec", "credentialsSecretRef": {"name": "admin"}},
            "openmetadata": {"url": "https://other.example.com"},
            "client": {"adoptExisting": true}
        }
    }));
    condition(&b_api, CRS, "team-data", "catalog", "ClientConflict").await;
    assert_eq!(
        a.emu.client("data-sec", "catalog").unwrap()["rootUrl"],
        "https://catalog.example.com",
        "cluster-a's client is untouched"
    );
    b_run.abort();
}

#[tokio::test]
async fn adoption_through_a_connection_waits_for_the_platform_teams_consent() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.connection(ADMIN_PASSWORD);
    // A client made by hand, and Keycloak's own admin-cli: a tenant asks to adopt both.
    let by_hand = c.emu.seed_client(
        "data-sec",
        json!({"clientId": "catalog", "publicClient": false, "secret": "made-by-hand-secret"}),
    );
    for (name, client_id) in [("hand", "catalog"), ("builtin", "admin-cli")] {
        let keycloak = through_connection("data-sec");
        let client = json!({"clientId": client_id, "adoptExisting": true});
        c.api.put(json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": name, "namespace": "team-data"},
            "spec": {
                "keycloak": keycloak, "client": client,
                "openmetadata": {"url": format!("https://{name}.example.com")},
                "secret": {"name": format!("{name}-oidc")}
            }
        }));
    }
    assert_eq!(c.reason("team-data", "hand").await, "ClientConflict");
    assert_eq!(c.reason("team-data", "builtin").await, "ClientConflict");
    let message = |name| c.message("team-data", name);
    has(&message("hand"), "spec.allowAdoption");
    has(&message("builtin"), "built-in");
    assert!(c.api.get("v1/secrets", "team-data", "hand-oidc").is_none());
    let writes: Vec<_> = c
        .emu
        .log()
        .into_iter()
        .filter(|e| e.method != "GET" && e.path.starts_with("/admin/"))
        .collect();
    assert!(writes.is_empty(), "nothing written to Keycloak: {writes:?}");

    // The platform team consents on the connection: the hand-made client is adopted, admin-cli
    // never is.
    c.api.edit(
        "omkc.dev/v1alpha1/clusterkeycloakconnections",
        "",
        "platform",
        |k| k["spec"]["allowAdoption"] = json!(true),
    );
    c.reason_becomes("team-data", "hand", "Reconciled").await;
    let adopted = c.emu.model("data-sec", "catalog").unwrap();
    assert_eq!(adopted.id, by_hand);
    assert_eq!(adopted.attributes["omkc.dev/adopted"], "true");
    annotate_touch(&c, "builtin");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.reason("team-data", "builtin").await, "ClientConflict");
    let admin_cli = c.emu.model("data-sec", "admin-cli").unwrap();
    assert!(!admin_cli.attributes.contains_key("omkc.dev/owner"));
}

mod deletion;

/// Changes the resource so that it is reconciled again.
fn annotate_touch(c: &Cluster, name: &str) {
    c.api.edit(CRS, "team-data", name, |o| {
        o["metadata"]["annotations"]["touched"] = json!("1")
    });
}

mod cost;
mod tls;
