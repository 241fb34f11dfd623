//! Restarts of the workloads named in `spec.secret.rollout`.

use super::*;
use crate::support::has;

/// The rule the chart adds with `rollout.enabled` (tests/deploy/test_chart.py checks the chart
/// renders exactly this).
fn rollout_rule() -> BTreeSet<Access> {
    let mut rule = BTreeSet::new();
    for resource in ["deployments", "statefulsets"] {
        for verb in ["get", "patch"] {
            rule.insert(Access {
                group: "apps".into(),
                resource: resource.into(),
                verb: verb.into(),
            });
        }
    }
    rule
}

/// OpenMetadata's Deployment, as its chart makes it (the pod template is what a restart patches).
fn openmetadata_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "openmetadata", "namespace": NS},
        "spec": {"template": {"metadata": {"labels": {"app": "openmetadata"}}}}
    })
}

fn deployment_patches(api: &ApiServer) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.contains("/deployments/"))
        .count()
}

fn deployment_reads(api: &ApiServer) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/deployments/"))
        .count()
}

fn keycloak_gets(emu: &Emulator) -> usize {
    emu.log().iter().filter(|e| e.method == "GET").count()
}

/// A resource naming OpenMetadata's Deployment, with the operator refused what `forbidden`
/// names: it becomes Ready with the client and the Secret in place, and warns that the workload
/// was not restarted, naming the chart setting that grants it.
async fn delivered_without_a_restart(forbidden: &str) -> (ApiServer, Emulator, Operator) {
    let (api, emu) = world().await;
    api.put(openmetadata_deployment());
    api.forbid(forbidden);
    let operator = start(&api, Duration::from_secs(300));
    api.put(resource(
        &emu,
        json!({"secret": {"rollout": [{"kind": "Deployment", "name": "openmetadata"}]}}),
    ));
    ready(&api).await;
    in_step(&api, &emu).await;
    let warned = events_seen(&api, "WorkloadRestartForbidden").await;
    let note = warned[0]["note"].as_str().unwrap();
    has(note, "rollout.enabled=true");
    (api, emu, operator)
}

#[tokio::test]
async fn without_the_rollout_permission_the_client_and_secret_are_still_delivered() {
    // The chart was installed without rollout.enabled: the role grants nothing on workloads.
    let (api, _emu, _operator) = delivered_without_a_restart(DEPLOYMENTS).await;
    // Said once per content of the Secret, not on every pass.
    annotate(&api, "touched", "1");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(events(&api, "WorkloadRestartForbidden").len(), 1);
}

#[tokio::test]
async fn a_workload_the_operator_may_read_but_not_patch_is_said_and_the_rest_delivered() {
    // A role edited by hand: get on Deployments, no patch.
    let (api, _emu, _operator) = delivered_without_a_restart(&format!("PATCH {DEPLOYMENTS}")).await;
    assert!(
        api.requests()
            .iter()
            .any(|r| r.method == "PATCH" && r.path.contains("/deployments/openmetadata")),
        "the patch was tried"
    );
}

#[tokio::test]
async fn a_workload_read_that_fails_is_a_failure_to_retry_not_a_missing_permission() {
    let (api, emu) = world().await;
    api.put(openmetadata_deployment());
    // The API server cannot answer reads of Deployments (an etcd timeout): no RBAC says no.
    api.fail_writes(&format!("GET {DEPLOYMENTS}"), true);
    let _operator = start(&api, Duration::from_secs(300));
    api.put(resource(
        &emu,
        json!({"secret": {"rollout": [{"kind": "Deployment", "name": "openmetadata"}]}}),
    ));
    in_step(&api, &emu).await;
    let failed = events_seen(&api, "KubernetesError").await;
    let note = failed[0]["note"].as_str().unwrap();
    has(note, "\"openmetadata\"");
    assert!(events(&api, "WorkloadRestartForbidden").is_empty());
}

#[tokio::test]
async fn a_workload_named_by_two_resources_follows_the_first_only() {
    let (api, emu) = world().await;
    api.put(openmetadata_deployment());
    let _operator = start(&api, Duration::from_secs(300));
    let rollout = json!({"secret": {"rollout": [{"kind": "Deployment", "name": "openmetadata"}]}});
    api.put(resource(&emu, rollout.clone()));
    ready(&api).await;
    eventually(
        &api,
        "the Deployment to follow the first resource",
        || async {
            let d = api.get(DEPLOYMENTS, NS, "openmetadata")?;
            (d["metadata"]["annotations"]["omkc.dev/restarted-for"] == "openmetadata").then_some(())
        },
    )
    .await;

    // A second resource of the namespace names the same Deployment, with a Secret of its own.
    let mut second = resource(&emu, rollout);
    second["metadata"]["name"] = json!("analytics");
    second["spec"]["client"]["clientId"] = json!("analytics");
    second["spec"]["secret"]["name"] = json!("analytics-oidc");
    api.put(second);
    let claimed = events_seen(&api, "WorkloadClaimed").await;
    assert!(
        claimed[0]["note"]
            .as_str()
            .unwrap()
            .contains("another resource"),
        "{}",
        claimed[0]["note"]
    );
    let patches = deployment_patches(&api);
    // Its secret changes: the Deployment stays (it follows the first resource), and the
    // Warning is not repeated.
    api.edit(CRS, NS, "analytics", |o| {
        o["metadata"]["annotations"]["omkc.dev/rotate"] = json!("t1")
    });
    eventually(&api, "the second resource's rotation", || async {
        let s = api.get(SECRETS, NS, "analytics-oidc")?;
        (s["metadata"]["annotations"]["omkc.dev/rotated-for"] == "t1").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        deployment_patches(&api),
        patches,
        "never restarted for the second"
    );
    assert_eq!(events(&api, "WorkloadClaimed").len(), 1);
    let d = api.get(DEPLOYMENTS, NS, "openmetadata").unwrap();
    assert_eq!(d["spec"]["template"]["metadata"].get("annotations"), None);

    // The first resource's secret changes: the pods roll, for it.
    annotate(&api, "omkc.dev/rotate", "t1");
    eventually(&api, "the roll", || async {
        let d = api.get(DEPLOYMENTS, NS, "openmetadata")?;
        d["spec"]["template"]["metadata"]["annotations"]["omkc.dev/secret-checksum"]
            .as_str()
            .map(str::to_string)
    })
    .await;

    // Each resource remembers the Deployment for itself: a pass of the second reads it (it is
    // claimed) and says nothing again; a pass of the first then does not read it at all.
    let reads_before = deployment_reads(&api);
    api.edit(CRS, NS, "analytics", |o| {
        o["metadata"]["annotations"]["touched"] = json!("1")
    });
    until(&api, "the second resource's pass", || {
        deployment_reads(&api) > reads_before
    })
    .await;
    let (reads, keycloak_reads) = (deployment_reads(&api), keycloak_gets(&emu));
    annotate(&api, "touched", "1");
    until(&api, "the first resource's pass", || {
        keycloak_gets(&emu) > keycloak_reads
    })
    .await;
    quiet(&api, &emu).await;
    assert_eq!(
        deployment_reads(&api),
        reads,
        "the first resource remembers its own"
    );
    assert_eq!(events(&api, "WorkloadClaimed").len(), 1);
}

#[tokio::test]
async fn workloads_roll_when_the_secret_changes_and_never_otherwise() {
    let (api, emu) = world().await;
    api.put(openmetadata_deployment());
    let operator = start(&api, Duration::from_secs(300));
    api.put(resource(
        &emu,
        json!({"secret": {"rollout": [
            {"kind": "Deployment", "name": "openmetadata"},
            {"kind": "StatefulSet", "name": "not-installed-yet"}
        ]}}),
    ));
    ready(&api).await;
    in_step(&api, &emu).await;

    // First sight: the checksum is remembered on the Deployment itself; its pods stay.
    let seen = eventually(&api, "the baseline checksum", || async {
        let d = api.get(DEPLOYMENTS, NS, "openmetadata")?;
        d["metadata"]["annotations"]["omkc.dev/secret-checksum"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    let d = api.get(DEPLOYMENTS, NS, "openmetadata").unwrap();
    assert_eq!(
        d["spec"]["template"]["metadata"].get("annotations"),
        None,
        "naming a running workload does not restart it"
    );
    assert!(!seen.contains(&emu.secret_of("data-sec", CLIENT_ID).unwrap()));
    until(&api, "one WorkloadNotFound", || {
        events(&api, "WorkloadNotFound").len() == 1
    })
    .await;

    // Nothing changed: no write to the Deployment, and the missing one is not reported
    // again; not even after a restart of the operator (which reads the Deployment once).
    let patches = deployment_patches(&api);
    annotate(&api, "touched", "1");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let missing = events(&api, "WorkloadNotFound");
    assert_eq!(missing.len(), 1);
    assert_eq!(
        missing[0]["series"],
        Value::Null,
        "reported once per content"
    );
    drop(operator);
    let _operator = start(&api, Duration::from_secs(300));
    annotate(&api, "touched", "2");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(deployment_patches(&api), patches);

    // The secret changes: the pod template gets the new checksum, so the pods roll.
    annotate(&api, "omkc.dev/rotate", "t1");
    let rolled = eventually(&api, "the roll", || async {
        let d = api.get(DEPLOYMENTS, NS, "openmetadata")?;
        d["spec"]["template"]["metadata"]["annotations"]["omkc.dev/secret-checksum"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert_ne!(rolled, seen);
    let d = api.get(DEPLOYMENTS, NS, "openmetadata").unwrap();
    assert_eq!(
        d["metadata"]["annotations"]["omkc.dev/secret-checksum"],
        rolled.as_str()
    );
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"]["app"], "openmetadata",
        "a merge patch: the template keeps everything else"
    );
    // The restart is in the reconcile's one Event, after the rotation that caused it.
    eventually(&api, "the restart said in the rotation's Event", || async {
        events(&api, "SecretRotated")
            .iter()
            .any(|e| {
                e["note"]
                    .as_str()
                    .is_some_and(|n| n.contains("restarted Deployment"))
            })
            .then_some(())
    })
    .await;

    // What the operator did to workloads is exactly what the chart's opt-in rule grants.
    let used: BTreeSet<Access> = api
        .accesses()
        .into_iter()
        .filter(|a| a.group == "apps")
        .collect();
    assert!(used.is_subset(&rollout_rule()), "{used:?}");
    assert!(used.iter().any(|a| a.verb == "patch"));
}

#[tokio::test]
async fn a_warning_of_a_restart_round_that_failed_is_said_by_the_next_one() {
    let (api, emu) = world().await;
    api.put(openmetadata_deployment());
    // The first workload does not exist (a Warning); patching the second fails for a while.
    api.fail_writes(DEPLOYMENTS, true);
    let _operator = start(&api, Duration::from_secs(300));
    api.put(resource(
        &emu,
        json!({"secret": {"rollout": [
            {"kind": "Deployment", "name": "not-there"},
            {"kind": "Deployment", "name": "openmetadata"}
        ]}}),
    ));
    condition(&api, CRS, NS, "openmetadata", "KubernetesError").await;
    assert!(
        events(&api, "WorkloadNotFound").is_empty(),
        "not reported by the reconcile that failed"
    );
    // The API server recovers; a change brings the next reconcile (failures back off long
    // here): it says it, once.
    api.fail_writes(DEPLOYMENTS, false);
    annotate(&api, "retry", "1");
    let said = events_seen(&api, "WorkloadNotFound").await;
    has(said[0]["note"].as_str().unwrap(), "\"not-there\"");
    ready(&api).await;
    annotate(&api, "touched", "1");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(events(&api, "WorkloadNotFound").len(), 1);
}
