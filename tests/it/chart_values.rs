//! The chart's `values.schema.json` accepts what the operator accepts: a value `helm install`
//! lets through never makes the pod crash-loop on a flag error, and a value the operator
//! refuses is refused at install time. Checked on samples, against the binary's own parsers.

use clap::Parser;
use omkc::cli::Cli;
use serde_json::Value;

fn schema() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/helm/openmetadata-keycloak-operator/values.schema.json"
        ))
        .unwrap(),
    )
    .unwrap()
}

fn property<'a>(schema: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .fold(schema, |node, key| &node["properties"][key])
}

/// Whether the schema accepts `raw` at `path` (string patterns and enums, integer bounds).
fn schema_accepts(schema: &Value, path: &str, raw: &str) -> bool {
    let p = property(schema, path);
    match p["type"].as_str() {
        Some("integer") => raw.parse::<i64>().is_ok_and(|n| {
            p["minimum"].as_i64().is_none_or(|m| n >= m)
                && p["maximum"].as_i64().is_none_or(|m| n <= m)
        }),
        Some("string") => {
            let pattern_ok = p["pattern"]
                .as_str()
                .is_none_or(|re| regex::Regex::new(re).unwrap().is_match(raw));
            let enum_ok = p["enum"]
                .as_array()
                .is_none_or(|values| values.iter().any(|v| v == raw));
            pattern_ok && enum_ok
        }
        other => panic!("{path}: type {other:?}"),
    }
}

fn binary_accepts(flag: &str, raw: &str) -> bool {
    Cli::try_parse_from(["openmetadata-keycloak-operator", "run", flag, raw]).is_ok()
}

#[test]
fn the_schema_accepts_exactly_the_durations_and_numbers_the_operator_accepts() {
    let schema = schema();
    // The value's path: the flag it becomes, and samples.
    let cases = serde_json::json!({
        "operator.resync": ["--resync", ["5m", "300", "300s", "10s", "10", "9s", "5s", "0m", "1h",
                                         "2d", "0010s", "5 m", "5w", "m", "", "1.5m", "-5m"]],
        "operator.concurrency": ["--concurrency", ["0", "1", "16", "256", "257", "-1", "x"]],
        "operator.keycloakConcurrency": ["--keycloak-concurrency", ["0", "1", "8", "256", "257"]],
        "operator.logFormat": ["--log-format", ["json", "text", "JSON", "yaml", ""]],
        "leaderElection.leaseDuration": ["--lease-duration",
                                         ["15s", "1s", "0s", "1m", "15", "0", "1.5s", "s"]],
        "installationId": ["--installation-id", ["cluster-1", "", "a/b", "/", "9f1c-uid"]],
        "leaderElection.renewGrace": ["--lease-renew-grace", ["5s", "1s", "0s", "2m", "x"]]
    });
    for (path, case) in cases.as_object().unwrap() {
        let (flag, samples) = (case[0].as_str().unwrap(), case[1].as_array().unwrap());
        for raw in samples.iter().map(|raw| raw.as_str().unwrap()) {
            assert_eq!(
                schema_accepts(&schema, path, raw),
                binary_accepts(flag, raw),
                "{path} = {raw:?}: the schema and {flag} disagree"
            );
        }
    }
}

#[test]
fn every_log_filter_the_schema_accepts_the_operator_accepts() {
    let schema = schema();
    let accepted = [
        "info",
        "debug",
        "off",
        "omkc=debug,info",
        "omkc::reconcile=trace,kube=warn,info",
    ];
    let refused = ["", "info,=x=y", "loud", "omkc=loud", "info;debug", "info,"];
    for raw in accepted {
        assert!(schema_accepts(&schema, "operator.logLevel", raw), "{raw:?}");
        assert!(binary_accepts("--log-level", raw), "{raw:?}");
    }
    for raw in refused {
        assert!(
            !schema_accepts(&schema, "operator.logLevel", raw),
            "{raw:?}"
        );
    }
    // Whatever the schema lets through, the binary takes (the schema is the stricter: levels
    // in lowercase, which keeps its pattern short enough to read in Helm's error).
    assert!(binary_accepts("--log-level", "WARN"));
    assert!(!schema_accepts(&schema, "operator.logLevel", "WARN"));
    for raw in ["info", "error", "a=trace", "a::b=off,warn"] {
        if schema_accepts(&schema, "operator.logLevel", raw) {
            assert!(binary_accepts("--log-level", raw), "{raw:?}");
        }
    }
}
