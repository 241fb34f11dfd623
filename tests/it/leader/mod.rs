//! High availability: two operator processes (the real binary) against one fake API server and
//! one Keycloak emulator. Only the lease holder writes; the standby is ready and silent; when the
//! leader dies the standby takes over within the lease duration; on SIGTERM the leader releases
//! the lease. Each process has its own kubeconfig user, so the API server knows who wrote what.

use crate::support::has;
use std::{
    collections::BTreeSet,
    process::Command,
    time::{Duration, Instant, SystemTime},
};

use serde_json::{Value, json};

use crate::{
    binary::{BIN, Listening, get, spawn_listening, temp_dir},
    support::{
        apiserver::{Access, ApiServer, write_kubeconfig_as},
        emulator::Emulator,
        eventually,
    },
};

const NS: &str = "openmetadata";
const OPERATOR_NS: &str = "omkc-system";
const LEASES: &str = "coordination.k8s.io/v1/leases";
const LEASE: &str = "openmetadata-keycloak-operator";
/// Short timings for the test: a standby takes over at most 3 s after the leader stops renewing.
const LEASE_DURATION: Duration = Duration::from_secs(3);

struct Instance(Listening);

async fn start(api: &ApiServer, name: &'static str) -> Instance {
    start_with(api, name, LEASE_DURATION, &[]).await
}

async fn start_with(
    api: &ApiServer,
    name: &'static str,
    lease: Duration,
    env: &[(&str, &str)],
) -> Instance {
    let dir = temp_dir(name);
    let mut command = Command::new(BIN);
    command
        .arg("run")
        .envs(env.iter().copied())
        .env("KUBECONFIG", write_kubeconfig_as(&api.url, &dir, name))
        .env("OPERATOR_NAMESPACE", OPERATOR_NS)
        .env("POD_NAME", name)
        .env("LEASE_DURATION", format!("{}s", lease.as_secs()))
        .env("LEASE_RENEW_GRACE", "1s");
    Instance(spawn_listening(command).await)
}

impl Instance {
    async fn leading(&self) -> Option<bool> {
        let (_, metrics) = get(&format!("{}/metrics", self.0.base)).await?;
        match metrics.lines().find(|l| l.starts_with("omkc_leader "))? {
            "omkc_leader 1" => Some(true),
            "omkc_leader 0" => Some(false),
            _ => None,
        }
    }

    async fn ready(&self) -> bool {
        get(&format!("{}/readyz", self.0.base))
            .await
            .is_some_and(|(code, _)| code == 200)
    }

    fn signal(&mut self, signal: &str) {
        let pid = self.0.process.0.as_ref().unwrap().id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits for the process to end; whether it ended cleanly, and its stderr.
    async fn ended(&mut self) -> (bool, String) {
        self.0.ended().await
    }
}

fn holder(api: &ApiServer) -> Option<String> {
    api.get(LEASES, OPERATOR_NS, LEASE)?["spec"]["holderIdentity"]
        .as_str()
        .map(str::to_string)
}

/// Writes by `user` other than to the Lease.
fn writes_by(api: &ApiServer, user: &str) -> Vec<String> {
    api.requests()
        .iter()
        .filter(|r| r.user == user && r.method != "GET" && !r.path.contains("/leases"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn resource(emu: &Emulator, url: &str) -> Value {
    json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "openmetadata", "namespace": NS},
        "spec": {
            "keycloak": {"url": emu.base_url, "realm": "data-sec",
                         "credentialsSecretRef": {"name": "keycloak-admin"}},
            "openmetadata": {"url": url},
            "client": {"clientId": "open-metadata"}
        }
    })
}

async fn ready_for(api: &ApiServer, url: &str) {
    eventually(api, &format!("Ready for {url}"), || async {
        let obj = api.get(
            "omkc.dev/v1alpha1/openmetadatakeycloakclients",
            NS,
            "openmetadata",
        )?;
        (obj["status"]["conditions"][0]["status"] == "True"
            && obj["status"]["openmetadata"]["serverUrl"] == url)
            .then_some(())
    })
    .await;
}

/// The Role rules of the kubectl manifest on leases (the chart's leader-election Role).
fn lease_rules_of_the_chart() -> BTreeSet<Access> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/openmetadata-keycloak-operator.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut granted = BTreeSet::new();
    for object in omkc::yaml::documents(&text).unwrap() {
        if object["kind"] != "Role" || object["metadata"]["namespace"] != OPERATOR_NS {
            continue;
        }
        for rule in object["rules"].as_array().unwrap() {
            if rule["apiGroups"] != json!(["coordination.k8s.io"]) {
                continue;
            }
            for verb in rule["verbs"].as_array().unwrap() {
                granted.insert(Access {
                    group: "coordination.k8s.io".into(),
                    resource: "leases".into(),
                    verb: verb.as_str().unwrap().into(),
                });
            }
        }
    }
    granted
}

#[tokio::test]
async fn one_leader_writes_and_a_standby_takes_over_when_it_stops() {
    omkc::tls::install_crypto_provider();
    let (api, emu) = crate::support::world(NS).await;

    let mut a = start(&api, "op-a").await;
    eventually(&api, "op-a to lead", || async {
        (a.leading().await == Some(true) && a.ready().await).then_some(())
    })
    .await;
    let mut b = start(&api, "op-b").await;
    for _ in 0..100 {
        if b.leading().await == Some(false) && b.ready().await {
            break;
        }
        if let Some(status) = b.0.process.0.as_mut().unwrap().try_wait().unwrap() {
            let (_, stderr) = b.ended().await;
            panic!("op-b exited {status}: {stderr}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eventually(&api, "op-b to stand by, ready", || async {
        (b.leading().await == Some(false) && b.ready().await).then_some(())
    })
    .await;
    assert_eq!(holder(&api).as_deref(), Some("op-a"));

    // Only the leader reconciles and writes.
    api.put(resource(&emu, "https://one.example.com"));
    ready_for(&api, "https://one.example.com").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!writes_by(&api, "op-a").is_empty());
    assert_eq!(
        writes_by(&api, "op-b"),
        Vec::<String>::new(),
        "the standby writes nothing"
    );

    // The leader dies without a word: the standby takes over once the lease expires.
    a.signal("-KILL");
    let _ = a.ended().await;
    let died = Instant::now();
    eventually(&api, "op-b to take over", || async {
        (b.leading().await == Some(true)).then_some(())
    })
    .await;
    let took = died.elapsed();
    assert!(
        took <= LEASE_DURATION + Duration::from_secs(3),
        "took over after {took:?}"
    );
    assert_eq!(holder(&api).as_deref(), Some("op-b"));
    api.edit(
        "omkc.dev/v1alpha1/openmetadatakeycloakclients",
        NS,
        "openmetadata",
        |o| o["spec"]["openmetadata"]["url"] = json!("https://two.example.com"),
    );
    ready_for(&api, "https://two.example.com").await;
    assert!(!writes_by(&api, "op-b").is_empty(), "the new leader writes");

    // A new standby; the leader stops on SIGTERM and hands the lease back.
    let mut c = start(&api, "op-c").await;
    eventually(&api, "op-c to stand by", || async {
        (c.leading().await == Some(false)).then_some(())
    })
    .await;
    b.signal("-TERM");
    let (clean, stderr) = b.ended().await;
    assert!(clean, "{stderr}");
    has(&stderr, "released the lease");
    eventually(&api, "op-c to take over", || async {
        (c.leading().await == Some(true)).then_some(())
    })
    .await;
    assert_eq!(holder(&api).as_deref(), Some("op-c"));
    assert_eq!(
        writes_by(&api, "op-c"),
        Vec::<String>::new(),
        "nothing to do: converged"
    );
    c.signal("-TERM");
    assert!(c.ended().await.0);

    // The chart's leader-election Role grants exactly what the election used.
    let used: BTreeSet<Access> = api
        .accesses()
        .into_iter()
        .filter(|a| a.group == "coordination.k8s.io")
        .collect();
    assert_eq!(used, lease_rules_of_the_chart());
}

/// When the lease was last renewed, as written in it.
fn renewed(api: &ApiServer) -> Option<SystemTime> {
    let lease = api.get(LEASES, OPERATOR_NS, LEASE)?;
    let at = lease["spec"]["renewTime"].as_str()?;
    let at: k8s_openapi::jiff::Timestamp = at.parse().ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_micros(at.as_microsecond().try_into().ok()?))
}

fn drift_all(emu: &Emulator, clients: &[String]) {
    for client in clients {
        emu.edit_client("data-sec", client, |c| {
            c.root_url = Some("https://drifted.example.com".into());
        });
    }
}

#[tokio::test]
async fn a_leader_cut_off_from_the_api_server_writes_nothing_once_its_lease_may_have_expired() {
    omkc::tls::install_crypto_provider();
    let (api, emu) = crate::support::world(NS).await;
    let mut a = start_with(&api, "op-a", LEASE_DURATION, &[("RESYNC_PERIOD", "10s")]).await;
    eventually(&api, "op-a to lead", || async {
        (a.leading().await == Some(true)).then_some(())
    })
    .await;
    let clients: Vec<String> = (0..4).map(|i| format!("open-metadata-{i}")).collect();
    for (i, client) in clients.iter().enumerate() {
        let mut object = resource(&emu, "https://one.example.com");
        object["metadata"]["name"] = json!(format!("openmetadata-{i}"));
        object["spec"]["client"]["clientId"] = json!(client);
        object["spec"]["secret"] = json!({"name": format!("oidc-secrets-{i}")});
        api.put(object);
    }
    eventually(&api, "every client created", || async {
        clients
            .iter()
            .all(|c| emu.client("data-sec", c).is_some())
            .then_some(())
    })
    .await;
    // While it leads, drift made by hand is corrected at the next resync (a write).
    drift_all(&emu, &clients);
    let corrected = Instant::now();
    while clients
        .iter()
        .any(|c| emu.client("data-sec", c).unwrap()["rootUrl"] == "https://drifted.example.com")
    {
        assert!(
            corrected.elapsed() < Duration::from_secs(30),
            "drift never corrected: {:?}",
            emu.admin_calls()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Cut off from the API server, it cannot renew; the lease crate would say nothing.
    api.partition("op-a");
    let last = renewed(&api).expect("a renewal");
    let expiry = last + LEASE_DURATION;
    let mut writes_at_expiry = None;
    let mut exited = None;
    // Keep making drift for a resync period and a half past the expiry (each of the four
    // resources comes up at least once: resyncs are spread 2.5 s apart).
    while SystemTime::now() < expiry + Duration::from_secs(15) {
        drift_all(&emu, &clients);
        if writes_at_expiry.is_none() && SystemTime::now() >= expiry {
            writes_at_expiry = Some(emu.admin_events().len());
        }
        if exited.is_none()
            && let Some(status) = a.0.process.0.as_mut().unwrap().try_wait().unwrap()
        {
            exited = Some((status, SystemTime::now()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        emu.admin_events().len(),
        writes_at_expiry.unwrap(),
        "a write to Keycloak after the lease could have passed to another instance"
    );
    let (status, at) = exited.expect("the leader stops");
    assert!(!status.success());
    assert!(
        at < expiry + Duration::from_secs(10),
        "stopped {:?} after the expiry",
        at.duration_since(expiry)
    );
    let (_, stderr) = a.ended().await;
    has(
        &stderr,
        "the leader lease may be lost: no renewal seen in time",
    );
}

mod released;
