//! The released binary itself, as the Deployment runs it: flags and environment, the checks at
//! start, the probe and metrics server the chart's probes call, and a graceful stop on SIGTERM.
//! The Kubernetes API is the fake apiserver of `tests/it/support/apiserver/`, reached through a
//! kubeconfig file.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::support::{
    apiserver::{ApiServer, write_kubeconfig},
    eventually, has, lacks,
};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_openmetadata-keycloak-operator");

/// Kills the child if a test fails half-way.
pub(crate) struct Running(pub(crate) Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An operator process started by [`spawn_listening`]: where it serves, and its stderr so far.
pub(crate) struct Listening {
    pub(crate) process: Running,
    /// `http://127.0.0.1:<port>`, the port the process chose.
    pub(crate) base: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// Starts `command` (`run`) on a port the process chooses itself, and waits until its start-up
/// log line says which: a port picked by the test and freed before the process binds it may be
/// taken meanwhile by any outgoing connection of the machine.
pub(crate) async fn spawn_listening(mut command: Command) -> Listening {
    let mut child = command
        .env("HTTP_ADDRESS", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = child.stderr.take().unwrap();
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn({
        let stderr = stderr.clone();
        move || {
            use std::io::BufRead;
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let address = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|l| l["fields"]["http_address"].as_str().map(str::to_string));
                if let Some(address) = address
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(address);
                }
                let mut all = stderr.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        }
    });
    let mut process = Running(Some(child));
    let address = tokio::time::timeout(Duration::from_secs(20), rx).await;
    let Ok(Ok(address)) = address else {
        let _ = process.0.as_mut().map(Child::kill);
        panic!(
            "the operator never said where it listens: {}",
            stderr.lock().unwrap()
        )
    };
    Listening {
        process,
        base: format!("http://{address}"),
        stderr,
        reader: Some(reader),
    }
}

impl Listening {
    /// Waits for the process to end; whether it ended cleanly, and its whole stderr.
    pub(crate) async fn ended(&mut self) -> (bool, String) {
        let mut child = self.process.0.take().unwrap();
        let reader = self.reader.take();
        let status = tokio::task::spawn_blocking(move || {
            let status = child.wait().unwrap();
            if let Some(reader) = reader {
                reader.join().unwrap();
            }
            status
        })
        .await
        .unwrap();
        (status.success(), self.stderr.lock().unwrap().clone())
    }
}

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("omkc-{name}-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    Some((response.status().as_u16(), response.text().await.ok()?))
}

/// Runs `command` to its end off the async runtime; returns its exit code and stderr.
async fn run_to_end(mut command: Command) -> (Option<i32>, String) {
    let output: Output = tokio::task::spawn_blocking(move || {
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
            .wait_with_output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_binary_serves_probes_and_metrics_and_stops_gracefully_on_sigterm() {
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    let dir = temp_dir("binary");
    let mut command = Command::new(BIN);
    command
        .arg("run")
        .env("KUBECONFIG", api.kubeconfig(&dir))
        .env("WATCH_NAMESPACES", "openmetadata,analytics")
        .env("OPERATOR_NAMESPACE", "omkc-system");
    let mut running = spawn_listening(command).await;
    let base = running.base.clone();

    let start = Instant::now();
    loop {
        if let Some((200, body)) = get(&format!("{base}/readyz")).await {
            assert_eq!(body, "ok\n");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the binary never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(&format!("{base}/livez")).await.unwrap().0, 200);
    // Alone, it takes the lease at once, then watches: readiness follows the caches again.
    eventually(&api, "the lease and the resource caches", || async {
        let (code, metrics) = get(&format!("{base}/metrics")).await?;
        let (ready, _) = get(&format!("{base}/readyz")).await?;
        (code == 200 && metrics.lines().any(|l| l == "omkc_leader 1") && ready == 200).then_some(())
    })
    .await;
    let lease = api
        .get(
            "coordination.k8s.io/v1/leases",
            "omkc-system",
            "openmetadata-keycloak-operator",
        )
        .expect("the Lease");
    assert!(lease["spec"]["holderIdentity"].is_string(), "{lease}");
    let (code, metrics) = get(&format!("{base}/metrics")).await.unwrap();
    assert_eq!(code, 200);
    assert!(metrics.contains("# TYPE omkc_reconcile_duration_seconds histogram"));
    // The client's own requests are timed, by verb and resource (the start-up's list of the
    // resources in each namespace, the Lease's writes); watches are not.
    for labels in [
        r#"{verb="list",resource="openmetadatakeycloakclients"}"#,
        r#"{verb="get",resource="namespaces"}"#,
    ] {
        assert!(
            metrics.contains(&format!(
                "omkc_kubernetes_request_duration_seconds_count{labels}"
            )),
            "{labels} in {metrics}"
        );
    }
    assert!(metrics.ends_with("# EOF\n"));
    // Two namespaces: two scoped watches of the resources; cluster-wide, only reads of the
    // connections and of namespace metadata (the installation id, the namespaces' labels).
    let requests = api.requests();
    for ns in ["openmetadata", "analytics"] {
        assert!(requests.iter().any(|r| r.path
            == format!("/apis/omkc.dev/v1alpha1/namespaces/{ns}/openmetadatakeycloakclients")
            && r.query.contains("watch=true")));
    }
    for r in &requests {
        let cluster_read = r.method == "GET"
            && (r.path == "/apis/omkc.dev/v1alpha1/clusterkeycloakconnections"
                || r.path.starts_with("/api/v1/namespaces") && !r.path.contains("/secrets"));
        let own_credentials = r.path == "/api/v1/namespaces/omkc-system/secrets"
            && r.query.contains("omkc.dev%2Fkeycloak-credentials%3Dtrue");
        let own_lease = r
            .path
            .starts_with("/apis/coordination.k8s.io/v1/namespaces/omkc-system/leases");
        assert!(
            r.path.contains("/namespaces/openmetadata/")
                || r.path.contains("/namespaces/analytics/")
                || cluster_read
                || own_credentials
                || own_lease,
            "{} {}",
            r.method,
            r.path
        );
    }
    // The connections' credentials live in the operator's namespace, watched too.
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/omkc-system/secrets"
                && r.query.contains("omkc.dev%2Fkeycloak-credentials%3Dtrue"))
    );

    let pid = running.process.0.as_ref().unwrap().id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (clean, stderr) = running.ended().await;
    assert!(clean, "exit not clean: {stderr}");
    has(&stderr, "shutdown signal received");
    // The lease is handed back for a standby to take over at once, not after it expires.
    let lease = api
        .get(
            "coordination.k8s.io/v1/leases",
            "omkc-system",
            "openmetadata-keycloak-operator",
        )
        .unwrap();
    assert!(
        lease["spec"]
            .get("holderIdentity")
            .is_none_or(Value::is_null),
        "{lease}"
    );
    has(&stderr, "released the lease");
    has(&stderr, "\"stopped\""); // JSON logs end with it
    assert!(
        get(&format!("{base}/livez")).await.is_none(),
        "the server stopped"
    );
}

#[tokio::test]
async fn without_the_crd_the_binary_says_so_and_exits_non_zero() {
    let api = ApiServer::start().await;
    api.remove_crd();
    let mut command = Command::new(BIN);
    command
        .arg("run")
        .env("KUBECONFIG", api.kubeconfig(&temp_dir("nocrd")))
        .env("HTTP_ADDRESS", "127.0.0.1:0");
    let (code, stderr) = run_to_end(command).await;
    assert_eq!(code, Some(1), "{stderr}");
    has(
        &stderr,
        "error: the CRDs are not installed: apply them with `kubectl apply --server-side -f crds/`",
    );
    // The hint is the install guide's own command.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/install.md")).unwrap();
    assert!(readme.contains("kubectl apply --server-side -f crds/"));
}

#[tokio::test]
async fn without_a_kubeconfig_the_binary_says_so_not_that_the_cluster_is_down() {
    let home = temp_dir("nokubeconfig");
    let mut command = Command::new(BIN);
    command
        .arg("run")
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", &home);
    let (code, stderr) = run_to_end(command).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: no Kubernetes configuration: set KUBECONFIG, create ~/.kube/config"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn bad_flags_and_environment_variables_are_usage_errors_that_name_them() {
    // [arguments, environment, what stderr must say]
    let cases = serde_json::json!([
        [["run", "--log-level", "info,=x=y"], {}, ["--log-level", "not a log filter"]],
        [["run"], {"LOG_LEVEL": "info,=x=y"}, ["LOG_LEVEL (--log-level)"]],
        [["run"], {"RESYNC_PERIOD": "5s"},
         ["RESYNC_PERIOD (--resync)", "\"5s\" is too short: at least 10s"]],
        [["run", "--resync", "5 m"], {}, ["--resync", "unknown unit \" m\""]]
    ]);
    type Case = (Vec<String>, BTreeMap<String, String>, Vec<String>);
    for (args, env, expected) in serde_json::from_value::<Vec<Case>>(cases).unwrap() {
        let mut command = Command::new(BIN);
        command.args(&args);
        command.envs(&env);
        let (code, stderr) = run_to_end(command).await;
        assert_eq!(code, Some(2), "{args:?} {env:?}: {stderr}");
        for e in &expected {
            has(&stderr, e);
        }
        assert!(
            !stderr.contains('\u{1b}'),
            "no colour when stderr is not a terminal: {stderr:?}"
        );
    }
}

#[tokio::test]
async fn without_a_cluster_the_binary_says_so_and_exits_non_zero() {
    // A server address where nothing listens: the port stays bound (not listening) for the
    // whole test, so no other process's server can take it and answer in between.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let nowhere = format!("http://{}", held.local_addr().unwrap());
    let mut command = Command::new(BIN);
    command.arg("run").env(
        "KUBECONFIG",
        write_kubeconfig(&nowhere, &temp_dir("nocluster")),
    );
    let (code, stderr) = run_to_end(command).await;
    assert_eq!(code, Some(1), "{stderr}");
    has(
        &stderr,
        &format!("error: cannot reach the Kubernetes API at {nowhere}"),
    );
    // The clean message alone: not preceded by the client library's raw ERROR line.
    lacks(&stderr, "ERROR");
    lacks(&stderr, "kube_client");
}

#[tokio::test]
async fn a_bad_http_address_is_refused_by_the_cli() {
    let mut command = Command::new(BIN);
    command.args(["run", "--http-address", "localhost"]);
    let (code, stderr) = run_to_end(command).await;
    assert_eq!(code, Some(2), "{stderr}");
    has(&stderr, "--http-address");
}
