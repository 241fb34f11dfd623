//! Observability that answers questions: every metric the chart's dashboard and alerts use is
//! one the operator exports (with those labels), docs/operators/observability.md documents every metric, and label
//! values stay in bounded sets (reasons, route templates, results; never names or messages).

use std::collections::{BTreeMap, BTreeSet};

use omkc::{reason::Reason, telemetry::Metrics};

const CHART: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/helm/openmetadata-keycloak-operator/files"
);

/// A sample line's name and labels (`key="value"` pairs; values may hold `{`, `}` and `,`).
fn sample(line: &str) -> (&str, Vec<(String, String)>) {
    let Some((name, rest)) = line.split_once('{') else {
        return (line.split(' ').next().unwrap_or_default(), Vec::new());
    };
    let mut labels = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() || key.starts_with('}') {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "{line}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '"' => break,
                c => value.push(c),
            }
        }
        labels.push((key.trim_start_matches(',').to_string(), value));
        if chars.peek() == Some(&'}') {
            break;
        }
    }
    (name, labels)
}

/// The metric families the operator exports, with their label names, from the exposition of
/// a `Metrics` that saw one of everything.
fn families() -> BTreeMap<String, BTreeSet<String>> {
    let m = Metrics::default();
    m.observe("success", "Reconciled", std::time::Duration::from_millis(3));
    m.keycloak_request(
        "/admin/realms/{realm}/clients",
        "GET",
        Some(200),
        std::time::Duration::from_millis(3),
    );
    m.kubernetes_request("patch", "secrets", std::time::Duration::from_millis(3));
    m.queue_wait(std::time::Duration::from_millis(3));
    m.token_request("success");
    m.orphaned_client();
    m.resource_state("ns/name", true, "Reconciled");
    m.set_leader(true);
    m.connection_ready("platform", true);
    let text = m.render();
    let mut families: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            families.entry(name.to_string()).or_default();
        }
    }
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, labels) = sample(l);
        let family = family_of(name, &families).unwrap_or_else(|| panic!("{name}"));
        for (key, _) in labels {
            if key != "le" {
                families.get_mut(&family).unwrap().insert(key);
            }
        }
    }
    families
}

/// The family of a sample or query name (`_total`, `_bucket`, `_sum`, `_count` stripped).
fn family_of(name: &str, families: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    if families.contains_key(name) {
        return Some(name.to_string());
    }
    ["_total", "_bucket", "_sum", "_count", "_created"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|base| families.contains_key(*base))
        .map(str::to_string)
}

/// `omkc_*` names in a text, each with the label names of the `{...}` right after it.
fn references(text: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("omkc_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = tail[..end].to_string();
        let mut labels = Vec::new();
        if let Some(inner) = tail[end..].strip_prefix('{') {
            let close = inner.find('}').unwrap();
            for matcher in inner[..close].split(',').filter(|m| !m.trim().is_empty()) {
                let key: String = matcher
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                labels.push(key);
            }
        }
        found.push((name, labels));
        rest = &tail[end..];
    }
    found
}

/// Labels Prometheus adds to every series of a scraped pod.
const TARGET_LABELS: [&str; 4] = ["job", "namespace", "pod", "instance"];

#[test]
fn the_dashboard_and_the_alerts_use_only_metrics_and_labels_that_exist() {
    let families = families();
    let mut used = BTreeSet::new();
    for file in ["grafana-dashboard.json", "alerts.yaml"] {
        let text = std::fs::read_to_string(format!("{CHART}/{file}")).unwrap();
        let refs = references(&text);
        assert!(!refs.is_empty(), "{file}");
        for (name, labels) in refs {
            let family = family_of(&name, &families).unwrap_or_else(|| {
                panic!("{file} uses {name}, which the operator does not export")
            });
            for label in labels {
                assert!(
                    families[&family].contains(&label) || TARGET_LABELS.contains(&label.as_str()),
                    "{file}: {name} has no label {label}"
                );
            }
            used.insert(family);
        }
    }
    // Every family is shown or alerted on somewhere.
    let all: BTreeSet<String> = families.keys().cloned().collect();
    assert_eq!(used, all);
}

#[test]
fn the_readme_documents_every_metric_and_no_other() {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/operators/observability.md"
    ))
    .unwrap();
    let section = readme
        .split("## Metrics reference")
        .nth(1)
        .expect("a Metrics reference section")
        .split("\n## ")
        .next()
        .unwrap();
    let documented: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `omkc_"))
        .map(|l| format!("omkc_{}", l.split('`').next().unwrap()))
        .collect();
    let families = families();
    let exported: BTreeSet<String> = families
        .keys()
        .map(|f| {
            // Counters are documented by their sample name.
            let counter = [
                "omkc_reconciliations",
                "omkc_keycloak_requests",
                "omkc_keycloak_token_requests",
                "omkc_orphaned_clients",
                "omkc_reconciles_deferred",
            ];
            if counter.contains(&f.as_str()) {
                format!("{f}_total")
            } else {
                f.clone()
            }
        })
        .collect();
    assert_eq!(documented, exported);
}

/// The route templates the Keycloak client can label a request with: the string literals of
/// `src/keycloak/*.rs` (its folders hold unit tests) that are routes.
fn route_templates() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/keycloak");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for literal in text.split('"').skip(1).step_by(2) {
            if (literal.starts_with("/admin/realms/{realm}")
                || literal.starts_with("/realms/{realm}")
                || ["/admin/realms", "/admin/serverinfo"].contains(&literal))
                && !literal.contains(' ')
            {
                routes.insert(literal.to_string());
            }
        }
    }
    routes
}

/// Label values of an exposition stay in bounded sets; panics naming the first that does not.
pub fn assert_bounded(text: &str) {
    let reasons: BTreeSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    let routes = route_templates();
    assert!(routes.len() >= 7, "{routes:?}");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        for (key, value) in sample(line).1 {
            let value = value.as_str();
            let bounded = match key.as_str() {
                "result" => ["success", "error", "rejected"].contains(&value),
                "reason" => reasons.contains(value),
                "method" => ["GET", "POST", "PUT", "DELETE"].contains(&value),
                "status" => ["2xx", "3xx", "4xx", "5xx", "error"].contains(&value),
                "ready" => ["True", "False"].contains(&value),
                "verb" => [
                    "get", "list", "create", "patch", "update", "delete", "other",
                ]
                .contains(&value),
                // Resource kinds from the client layer's fixed list: never a name.
                "resource" => {
                    value.chars().all(|c| c.is_ascii_lowercase() || c == '/') && value.len() <= 40
                }
                // Connection names: the platform team's, a handful.
                "connection" => !value.is_empty() && value.len() <= 253,
                "le" => true,
                // Route templates: placeholders, never a concrete realm, id or client.
                "route" => routes.contains(value),
                _ => false,
            };
            assert!(bounded, "unbounded label {key}={value:?} in {line}");
        }
    }
}

#[test]
fn label_bounds_catch_a_name_or_a_message() {
    let m = Metrics::default();
    m.keycloak_request(
        "/admin/realms/{realm}/clients/{id}",
        "PUT",
        None,
        std::time::Duration::from_millis(1),
    );
    m.resource_state("team/a", false, "ClientConflict");
    assert_bounded(&m.render());
    let leaked = std::panic::catch_unwind(|| {
        assert_bounded(
            "omkc_keycloak_requests_total{route=\"/admin/realms/data-sec/clients\",method=\"GET\",status=\"2xx\"} 1",
        )
    });
    assert!(leaked.is_err(), "a concrete realm in a route is caught");
}
