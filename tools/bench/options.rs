//! The benchmark's command line (see `main.rs` for examples).

use std::time::Duration;

pub struct Options {
    pub resources: usize,
    pub concurrency: usize,
    pub instant: bool,
    pub real: bool,
    pub baseline: bool,
    pub check: bool,
    pub namespaces: usize,
    pub latency: Duration,
    pub resync: String,
    pub extra: Vec<String>,
}

pub fn options() -> Options {
    let mut o = Options {
        resources: 1000,
        concurrency: 16,
        instant: false,
        real: false,
        baseline: true,
        check: false,
        namespaces: 10,
        latency: Duration::from_millis(10),
        // Longer than 1000 resources take to converge, so that no resync falls in the
        // convergence's counts (pass a longer one for more resources).
        resync: "30s".into(),
        extra: vec![],
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--resources" => o.resources = value().parse().expect("a number"),
            "--namespaces" => o.namespaces = value().parse().expect("a number"),
            "--latency-ms" => o.latency = Duration::from_millis(value().parse().expect("ms")),
            "--resync" => o.resync = value(),
            // The operator's workers (`run --concurrency`), and the plain writers of the
            // baseline.
            "--concurrency" => o.concurrency = value().parse().expect("a number"),
            // An API server that answers at once: the operator's own cost, for quick runs.
            "--instant" => o.instant = true,
            // The real API server of KUBECONFIG instead of the fake (`real.rs`).
            "--real-apiserver" => o.real = true,
            // Skips the plain writers' runs (long at 10,000 resources).
            "--no-baseline" => o.baseline = false,
            // Fails the run when a count differs from the docs' claim (CI runs it small).
            "--check" => o.check = true,
            // Passed to `run` as they are, e.g. --concurrency 8.
            other => o.extra.push(other.to_string()),
        }
    }
    o
}
