//! What a tenant can make the operator spend: tokens, reads of large Secrets, slow Keycloaks, a connection's limit.

use super::*;
use crate::support::has;

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
    assert!(c.ctx.secret_data.is_empty());
    assert_eq!(c.ctx.secret_data.len(), 0, "nothing read yet");
    c.resource("team-data", "good", inline("kc-admin"));
    c.resource("team-data", "greedy", inline("oversized"));
    c.reason_becomes("team-data", "good", "Reconciled").await;
    assert_eq!(c.reason("team-data", "greedy").await, "CredentialsInvalid");
    let message = c.message("team-data", "greedy");
    has(&message, "more than the 65536");

    // The watch knows every labelled Secret by its metadata; only the one in use is held whole.
    until(&c.api, "the watch to list the ballast", || {
        c.ctx.credentials.in_namespace("team-data").len() == 22
    })
    .await;
    assert_eq!(c.ctx.secret_data.len(), 1, "only kc-admin is held whole");
    assert!(!c.ctx.secret_data.is_empty());
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
    let obj = c
        .reason_becomes("team-data", "slow", "ReconcileTimedOut")
        .await;
    let message = obj["status"]["conditions"][0]["message"].as_str().unwrap();
    has(message, "longer than 1s");
    // Keycloak answers promptly again: the retry (backoff, not the next resync) converges.
    c.emu.set_latency(Duration::ZERO);
    c.reason_becomes("team-data", "slow", "Reconciled").await;
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
    has(&note, "allows 1 clients");
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
    until(&c.api, "a reconcile after the spec change", || {
        !c.emu.admin_calls().is_empty()
    })
    .await;
}

/// Churn leaves nothing behind: what the operator remembers of a resource (its Secret's last
/// write, its workloads' checksums, its backoff) and of a credentials Secret (held whole, and
/// in the Keycloak session opened with it, once no resource uses it) goes with them.
#[tokio::test]
async fn resources_and_secrets_that_are_gone_leave_nothing_in_the_operators_memory() {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.api
        .put(credentials("team-data", "kc-admin", ADMIN_PASSWORD));
    c.api.put(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "openmetadata", "namespace": "team-data"},
        "spec": {"template": {"metadata": {"labels": {"app": "openmetadata"}}}}
    }));
    let names = ["om-0", "om-1", "om-2"];
    for name in names {
        c.api.put(json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": name, "namespace": "team-data"},
            "spec": {
                "keycloak": {"url": c.emu.base_url, "realm": "data-sec",
                             "credentialsSecretRef": {"name": "kc-admin"}},
                "openmetadata": {"url": format!("https://{name}.example.com")},
                "secret": {"name": format!("{name}-oidc"),
                           "rollout": [{"kind": "Deployment", "name": "openmetadata"}]}
            }
        }));
    }
    for name in names {
        c.reason_becomes("team-data", name, "Reconciled").await;
    }
    // Three Secrets written, three workload checksums (remembered once the restarts that
    // follow the status are made), the credentials Secret, the Keycloak session opened with it.
    until(&c.api, "the operator to remember 8 things", || {
        c.ctx.remembered() == 8
    })
    .await;
    // As a namespace's deletion goes: the credentials Secret first, then the resources, one
    // by one. Each cleanup still has the session (the last one opened with the Secret).
    c.api.delete("v1/secrets", "team-data", "kc-admin");
    for name in names {
        c.delete_and_wait("team-data", name).await;
        assert!(
            c.emu.client("data-sec", name).is_none(),
            "{name}'s client deleted"
        );
        // As the garbage collector would.
        c.api
            .delete("v1/secrets", "team-data", &format!("{name}-oidc"));
    }
    until(&c.api, "the operator to let go of everything", || {
        c.ctx.remembered() == 0
    })
    .await;
}

/// A resource that switches to another credentials Secret leaves the session opened with the
/// first one (the credentials in it) for at most a resync period: each round lets go of it.
#[tokio::test]
async fn a_session_no_resource_names_any_more_goes_within_a_resync_period() {
    let emu = Emulator::start().await;
    let c = cluster_with("cluster-a", emu, |s| s.resync = Duration::from_secs(1)).await;
    c.inline_catalog().await;
    c.api
        .put(credentials("team-data", "admin-2", ADMIN_PASSWORD));
    c.api.edit(CRS, "team-data", "catalog", |o| {
        o["spec"]["keycloak"]["credentialsSecretRef"]["name"] = json!("admin-2")
    });
    let session = |name: &str| {
        c.ctx.keycloak.last_session(&omkc::keycloak::ConnectionKey {
            base_url: c.emu.base_url.clone(),
            admin_realm: "master".into(),
            credentials_source: omkc::keycloak::ConnectionKey::secret_source("team-data", name),
        })
    };
    until(&c.api, "only the session opened with admin-2", || {
        session("admin").is_none() && session("admin-2").is_some()
    })
    .await;
    assert_eq!(c.ctx.keycloak.len(), 1);
    assert_eq!(c.reason("team-data", "catalog").await, "Reconciled");
}

/// `omkc_resources` with one resource Ready.
const COUNTED: &str = r#"omkc_resources{ready="True",reason="Reconciled"} 1"#;

/// A cluster with one inline resource, Ready and counted so: it is counted once its reconcile
/// has returned, just after its status is written.
async fn counted_catalog() -> Cluster {
    let c = cluster("cluster-a", Emulator::start().await).await;
    c.inline_catalog().await;
    eventually(&c.api, "the resource counted Ready", || async {
        c.ctx.metrics.render().contains(COUNTED).then_some(())
    })
    .await;
    c
}

/// A resource deleted while the resources' watch was lost (its history compacted, as after an
/// API server restart) is seen gone only by the list that follows: that list lets go of it.
#[tokio::test]
async fn a_resource_gone_while_the_watch_was_lost_is_let_go_of_by_the_list_that_follows() {
    let c = counted_catalog().await;
    assert_eq!(c.ctx.keycloak.len(), 1);
    // Its finalizer taken off by hand and the resource deleted, neither seen by a watch.
    c.api.compact(CRS);
    c.api.edit(CRS, "team-data", "catalog", |o| {
        o["metadata"]["finalizers"] = json!(null)
    });
    c.api.delete(CRS, "team-data", "catalog");
    until(&c.api, "its state and session let go of", || {
        c.ctx.keycloak.is_empty() && !c.ctx.metrics.render().contains(COUNTED)
    })
    .await;
}

/// A resource cleaned up (its client deleted, the operator's finalizer released) that another
/// finalizer still keeps is no longer counted as Ready, nor its workloads' checksums kept.
#[tokio::test]
async fn a_resource_cleaned_up_but_kept_by_another_finalizer_is_no_longer_counted() {
    let c = counted_catalog().await;
    c.api.put(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "openmetadata", "namespace": "team-data"},
        "spec": {"template": {"metadata": {"labels": {"app": "openmetadata"}}}}
    }));
    c.api.edit(CRS, "team-data", "catalog", |o| {
        o["spec"]["secret"]["rollout"] = json!([{"kind": "Deployment", "name": "openmetadata"}])
    });
    let rolled = || {
        let deployment = omkc::crd::WorkloadKind::Deployment;
        c.ctx
            .rolled("team-data/catalog", deployment, "openmetadata")
    };
    eventually(&c.api, "the Deployment's checksum remembered", || async {
        rolled().map(drop)
    })
    .await;
    c.api.edit(CRS, "team-data", "catalog", |o| {
        o["metadata"]["finalizers"] = json!(["omkc.dev/cleanup", "example.com/hold"])
    });
    c.api.delete(CRS, "team-data", "catalog");
    eventually(
        &c.api,
        "its cleanup done, its count and checksum gone",
        || async {
            let gone = c.emu.client("data-sec", "catalog").is_none();
            (gone && !c.ctx.metrics.render().contains(COUNTED) && rolled().is_none()).then_some(())
        },
    )
    .await;
    let kept = c.api.get(CRS, "team-data", "catalog").unwrap();
    assert_eq!(kept["metadata"]["finalizers"], json!(["example.com/hold"]));
}
