//! Multi-tenant trust, through the real controller loop: shared ClusterKeycloakConnections and
//! who may use them, credentials that cannot be borrowed, owner markers unique per
//! installation, and deletion that never hangs nor silently orphans.

use std::{sync::Arc, time::Duration};

use omkc::{Context, Settings, controller::run_scope, telemetry::Health};
use serde_json::{Value, json};

use crate::support::{
    apiserver::ApiServer,
    b64,
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator},
    eventually,
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
    let ctx = Arc::new(Context::new(api.client(), settings));
    let run = tokio::spawn(run_scope(
        api.client(),
        None,
        ctx.clone(),
        4,
        Arc::new(Health::new(1)),
        0,
    ));
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

    async fn reason_becomes(&self, namespace: &str, name: &str, want: &str) {
        eventually(
            &self.api,
            &format!("{namespace}/{name} to report {want}"),
            || async {
                let obj = self.api.get(CRS, namespace, name)?;
                (obj["status"]["conditions"][0]["reason"] == want).then_some(())
            },
        )
        .await;
    }

    fn events(&self, namespace: &str, reason: &str) -> Vec<Value> {
        self.api
            .list("events.k8s.io/v1/events", namespace)
            .into_iter()
            .filter(|e| e["reason"] == reason)
            .collect()
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
    let b_ctx = Arc::new(Context::new(
        b_api.client(),
        Settings {
            installation: "cluster-b".into(),
            operator_namespace: OPERATOR_NS.into(),
            ..Settings::default()
        },
    ));
    let b_run = tokio::spawn(run_scope(
        b_api.client(),
        None,
        b_ctx,
        4,
        Arc::new(Health::new(1)),
        0,
    ));
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
    eventually(&b_api, "cluster-b's conflict", || async {
        let obj = b_api.get(CRS, "team-data", "catalog")?;
        let ready = &obj["status"]["conditions"][0];
        (ready["reason"] == "ClientConflict").then(|| ready["message"].to_string())
    })
    .await;
    assert_eq!(
        a.emu.client("data-sec", "catalog").unwrap()["rootUrl"],
        "https://catalog.example.com",
        "cluster-a's client is untouched"
    );
    b_run.abort();
}

#[tokio::test]
async fn deletion_uses_the_connections_credentials_when_the_namespace_goes() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.connection(ADMIN_PASSWORD);
    c.resource("team-data", "catalog", through_connection("data-sec"));
    c.reason_becomes("team-data", "catalog", "Reconciled").await;
    // A namespace deletion: its Secrets go at once, the resource waits for its finalizer.
    c.api.delete("v1/secrets", "team-data", "catalog-oidc");
    c.delete_and_wait("team-data", "catalog").await;
    assert!(
        c.emu.client("data-sec", "catalog").is_none(),
        "cleaned up in Keycloak"
    );
    // The Event may follow the release of the finalizer: wait for it, then count.
    eventually(&c.api, "the ClientDeleted Event", || async {
        (!c.events("team-data", "ClientDeleted").is_empty()).then_some(())
    })
    .await;
    assert_eq!(c.events("team-data", "ClientDeleted").len(), 1);
}

#[tokio::test]
async fn deletion_after_the_inline_credentials_went_uses_the_session_they_opened() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.inline_catalog().await;
    c.api.delete("v1/secrets", "team-data", "admin");
    c.delete_and_wait("team-data", "catalog").await;
    assert!(c.emu.client("data-sec", "catalog").is_none());
}

#[tokio::test]
async fn a_connection_deleted_before_cleanup_releases_the_resource_and_names_the_orphan() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.connection(ADMIN_PASSWORD);
    c.resource("team-data", "catalog", through_connection("data-sec"));
    c.reason_becomes("team-data", "catalog", "Reconciled").await;
    let uuid = c.api.get(CRS, "team-data", "catalog").unwrap()["status"]["clientUuid"].clone();
    c.api.delete(
        "omkc.dev/v1alpha1/clusterkeycloakconnections",
        "",
        "platform",
    );
    // Whether or not the watch has seen it go: a connection missing from the cache is read
    // before it is called gone.
    c.delete_and_wait("team-data", "catalog").await;
    let orphaned = c.events("team-data", "ClientOrphaned");
    assert_eq!(orphaned.len(), 1);
    let note = orphaned[0]["note"].as_str().unwrap();
    assert!(
        note.contains(uuid.as_str().unwrap()) && note.contains("\"catalog\""),
        "{note}"
    );
    assert!(
        c.emu.client("data-sec", "catalog").is_some(),
        "left behind, and said so"
    );
    assert!(
        c.ctx
            .metrics
            .render()
            .contains("omkc_orphaned_clients_total 1")
    );
}

#[tokio::test]
async fn a_hundred_resources_with_rejected_credentials_cost_one_token_request() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.connection("wrong-password");
    for i in 0..100 {
        c.resource(
            "team-data",
            &format!("om-{i}"),
            through_connection("data-sec"),
        );
    }
    for i in 0..100 {
        c.reason_becomes("team-data", &format!("om-{i}"), "CredentialsRejected")
            .await;
    }
    assert_eq!(
        c.emu.token_requests(),
        1,
        "one attempt per backoff window, not one per resource"
    );
    assert!(c.emu.admin_calls().is_empty());
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
    let message = |name: &str| {
        c.api.get(CRS, "team-data", name).unwrap()["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        message("hand").contains("spec.allowAdoption"),
        "{}",
        message("hand")
    );
    assert!(
        message("builtin").contains("built-in"),
        "{}",
        message("builtin")
    );
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

/// Changes the resource so that it is reconciled again.
fn annotate_touch(c: &Cluster, name: &str) {
    c.api.edit(CRS, "team-data", name, |o| {
        o["metadata"]["annotations"]["touched"] = json!("1")
    });
}

#[tokio::test]
async fn large_labelled_secrets_of_a_tenant_cost_their_metadata_only() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    // A tenant labels twenty 1 MiB Secrets as credentials (nothing uses them), and names one
    // more, 100 KiB large, as its credentials.
    let big = "x".repeat(1024 * 1024);
    for i in 0..20 {
        let mut s = credentials("team-data", &format!("ballast-{i}"), ADMIN_PASSWORD);
        s["data"]["padding"] = json!(b64(&big));
        c.api.put(s);
    }
    let mut oversized = credentials("team-data", "oversized", ADMIN_PASSWORD);
    oversized["data"]["padding"] = json!(b64(&"y".repeat(100 * 1024)));
    c.api.put(oversized);
    c.api
        .put(credentials("team-data", "kc-admin", ADMIN_PASSWORD));
    let inline = |secret: &str| {
        json!({"url": c.emu.base_url, "realm": "data-sec",
               "credentialsSecretRef": {"name": secret}})
    };
    c.resource("team-data", "good", inline("kc-admin"));
    c.resource("team-data", "greedy", inline("oversized"));
    c.reason_becomes("team-data", "good", "Reconciled").await;
    assert_eq!(c.reason("team-data", "greedy").await, "CredentialsInvalid");
    let message =
        c.api.get(CRS, "team-data", "greedy").unwrap()["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .to_string();
    assert!(message.contains("more than the 65536"), "{message}");

    // The watch knows every labelled Secret by its metadata; only the one in use is held whole.
    eventually(&c.api, "the watch to list the ballast", || async {
        (c.ctx.credentials.in_namespace("team-data").len() == 22).then_some(())
    })
    .await;
    assert_eq!(c.ctx.secret_data.len(), 1, "only kc-admin is held whole");
    let listed_whole = c
        .api
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path.ends_with("/secrets/ballast-0"));
    assert!(!listed_whole, "an unused Secret is never read");
}

#[tokio::test]
async fn a_reconcile_that_a_slow_keycloak_drags_out_is_cut_short_and_retried() {
    let emu = Emulator::start().await;
    // Each answer takes 700 ms: a fresh resource needs several, more than the 1 s bound.
    emu.set_latency(Duration::from_millis(700));
    let c = cluster_with("cluster-a", emu, |s| {
        s.reconcile_timeout = Duration::from_secs(1);
        s.backoff_base = Duration::from_millis(200);
    })
    .await;
    c.api
        .put(credentials("team-data", "kc-admin", ADMIN_PASSWORD));
    c.resource(
        "team-data",
        "slow",
        json!({"url": c.emu.base_url, "realm": "data-sec",
               "credentialsSecretRef": {"name": "kc-admin"}}),
    );
    c.reason_becomes("team-data", "slow", "ReconcileTimedOut")
        .await;
    let obj = c.api.get(CRS, "team-data", "slow").unwrap();
    let message = obj["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("longer than 1s"), "{message}");
    // Keycloak answers promptly again: the retry (backoff, not the next resync) converges.
    c.emu.set_latency(Duration::ZERO);
    c.reason_becomes("team-data", "slow", "Reconciled").await;
}

#[tokio::test]
async fn deletion_never_uses_credentials_whose_label_was_withdrawn() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.inline_catalog().await;
    // Whoever may write Secrets there withdraws the opt-in: the Secret may no longer be used,
    // not even through the session it opened.
    c.api.edit("v1/secrets", "team-data", "admin", |s| {
        s["metadata"]["labels"] = json!({})
    });
    // The withdrawal takes effect once the label-selected watch has seen it.
    eventually(&c.api, "the watch to drop the Secret", || async {
        c.ctx
            .credentials
            .get("team-data", "admin")
            .is_none()
            .then_some(())
    })
    .await;
    c.delete_and_wait("team-data", "catalog").await;
    assert!(
        c.emu.client("data-sec", "catalog").is_some(),
        "left in Keycloak: the credentials were withdrawn"
    );
    eventually(&c.api, "the ClientOrphaned Warning", || async {
        (!c.events("team-data", "ClientOrphaned").is_empty()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_foreign_secret_in_the_way_is_judged_by_its_metadata_only() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.api
        .put(credentials("team-data", "kc-admin", ADMIN_PASSWORD));
    // Someone else's Secret holds the output's name (no owner, no label of the operator).
    c.api.put(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "catalog-oidc", "namespace": "team-data"},
        "data": {"theirs": b64("not for the operator to read")}
    }));
    c.resource(
        "team-data",
        "catalog",
        json!({"url": c.emu.base_url, "realm": "data-sec",
               "credentialsSecretRef": {"name": "kc-admin"}}),
    );
    assert_eq!(c.reason("team-data", "catalog").await, "SecretConflict");
    let reads: Vec<_> = c
        .api
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/secrets/catalog-oidc"))
        .collect();
    assert!(!reads.is_empty(), "the owner was checked");
    assert!(
        reads.iter().all(|r| r.metadata_only),
        "never its data: {reads:?}"
    );
}

#[tokio::test]
async fn a_connection_serves_at_most_its_max_clients() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.connection(ADMIN_PASSWORD);
    c.api.edit(
        "omkc.dev/v1alpha1/clusterkeycloakconnections",
        "",
        "platform",
        |o| o["spec"]["maxClients"] = json!(1),
    );
    c.resource("team-data", "a-first", through_connection("data-sec"));
    c.reason_becomes("team-data", "a-first", "Reconciled").await;
    c.resource("team-data", "b-second", through_connection("data-sec"));
    assert_eq!(
        c.reason("team-data", "b-second").await,
        "ConnectionClientLimit"
    );
    assert!(
        c.emu.client("data-sec", "b-second").is_none(),
        "nothing reached Keycloak for it"
    );
    let note = c.events("team-data", "ConnectionClientLimit")[0]["note"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.contains("allows 1 clients"), "{note}");
    assert!(!note.contains("a-first"), "names no other resource: {note}");
    // The first one goes: the second gets its client (at its next reconcile).
    c.delete_and_wait("team-data", "a-first").await;
    annotate_touch(&c, "b-second");
    c.reason_becomes("team-data", "b-second", "Reconciled")
        .await;
}

#[tokio::test]
async fn a_connections_status_write_does_not_reconcile_the_resources_using_it() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.connection(ADMIN_PASSWORD);
    c.resource("team-data", "catalog", through_connection("data-sec"));
    c.reason_becomes("team-data", "catalog", "Reconciled").await;
    let conns = "omkc.dev/v1alpha1/clusterkeycloakconnections";
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.emu.clear_log();
    // What the connection checks write at every resync: status only, same generation.
    c.api.edit(conns, "", "platform", |o| {
        o["status"] = json!({"lastChecked": "2026-12-03T00:00:00Z", "resources": 1})
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        c.emu.admin_calls(),
        Vec::<String>::new(),
        "no reconcile for a status write"
    );
    // A change of its spec does reach them.
    c.api.edit(conns, "", "platform", |o| {
        o["spec"]["allowedRealms"] = json!(["data-sec", "payroll"])
    });
    eventually(&c.api, "a reconcile after the spec change", || async {
        (!c.emu.admin_calls().is_empty()).then_some(())
    })
    .await;
}
