//! The operator under test, as a child process: started, seen leading, measured, stopped.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{Options, metric};

/// The address the child really listens on, from its start-up line (it binds port 0 itself,
/// so no other process can take the port between a pick and a bind). Every line of the child's
/// stderr is passed on to ours.
fn listening_address(child: &mut Child) -> String {
    let pipe = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(at) = line.split("http_address=").nth(1) {
                let _ = tx.send(at.split_whitespace().next().unwrap_or_default().to_string());
            }
            eprintln!("{line}");
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the operator never said where it listens")
}

/// The operator, started as a child process against the API server of `kubeconfig` (with `env`
/// besides), and the base URL of its HTTP server.
pub fn operator(o: &Options, kubeconfig: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--operator", "run", "--resync", &o.resync])
        .args(["--concurrency", &o.concurrency.to_string()])
        .args(&o.extra)
        .env("KUBECONFIG", kubeconfig)
        .envs(env.iter().copied())
        .env("HTTP_ADDRESS", "127.0.0.1:0")
        // BENCH_LOG_LEVEL: the operator's LOG_LEVEL, e.g. `debug` to see why it reconciles.
        .env(
            "LOG_LEVEL",
            std::env::var("BENCH_LOG_LEVEL").unwrap_or("warn,omkc::cli::run=info".into()),
        )
        .env("LOG_FORMAT", "text")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://{}", listening_address(&mut child));
    (child, base)
}

/// The moment the operator leads (it starts its controllers then; the resyncs' rounds are
/// timed from it): read from its `omkc_leader` gauge, every 2 ms.
pub async fn leading(base: &str, started: Instant) -> Instant {
    loop {
        if metric(base, "omkc_leader").await == 1.0 {
            return Instant::now();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the operator never led"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Stops the operator as Kubernetes does (SIGTERM), and waits for it.
pub fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// A memory figure of the child from `/proc` (`VmHWM:` the peak, `VmRSS:` now), in KiB.
pub fn rss_kib(child: &Child, field: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until the operator at `base` has reconciled `n` times (a reconcile ends after its
/// writes and its Event), polled every 20 ms; returns the count. `started` bounds the wait
/// (10 minutes).
pub async fn reconciled(base: &str, n: usize, started: Instant) -> f64 {
    loop {
        let reconciles = metric(base, RECONCILES).await;
        if reconciles >= n as f64 {
            return reconciles;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{reconciles} reconciles of {n} resources after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const RECONCILES: &str = "omkc_reconciliations_total";

/// Waits until the operator at `base` has reconciled `n` resources, then until a second passes
/// with no reconcile more (another would come from a watch); returns its count of reconciles
/// and when the `n`th was done, from `since`. `started` bounds the wait (10 minutes).
pub async fn reconciled_then_quiet(
    base: &str,
    n: usize,
    started: Instant,
    since: Instant,
) -> (f64, Duration) {
    let mut reconciles = reconciled(base, n, started).await;
    let all_reconciled = since.elapsed();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = metric(base, RECONCILES).await;
        if now == reconciles {
            return (reconciles, all_reconciled);
        }
        reconciles = now;
    }
}
