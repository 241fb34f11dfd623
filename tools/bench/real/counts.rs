//! The counts of a real run: the operator's writes from the API server's audit log and from its
//! own metrics, and what a restart over the converged backlog does.

use std::{collections::BTreeMap, path::Path, time::Instant};

use super::OPERATOR;
use crate::{
    Options, by_method,
    child::{leading, operator, reconciled_then_quiet, stop},
    claims::Claims,
    metrics_text,
    support::emulator::Emulator,
};

/// The operator's writes in the audit log from byte `from` on, as "verb resource[/subresource]"
/// (the Lease's renewals aside).
fn audited_writes(log: &Path, from: u64) -> Vec<String> {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[(from as usize).min(text.len())..]).into_owned();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|e| e["user"]["username"] == OPERATOR)
        .filter(|e| {
            matches!(
                e["verb"].as_str(),
                Some("create" | "update" | "patch" | "delete" | "deletecollection")
            )
        })
        .filter(|e| e["objectRef"]["resource"] != "leases")
        .map(|e| {
            let object = &e["objectRef"];
            let resource = object["resource"].as_str().unwrap_or("?");
            match object["subresource"].as_str() {
                Some(sub) => format!("{} {resource}/{sub}", e["verb"].as_str().unwrap()),
                None => format!("{} {resource}", e["verb"].as_str().unwrap()),
            }
        })
        .collect()
}

/// "3.00 (create events 1.00, …)": per resource, by kind of write.
fn per_kind(writes: &[String], n: usize) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for w in writes {
        *counts.entry(w).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(w, c)| format!("{w} {:.2}", *c as f64 / n as f64))
        .collect();
    let total = format!("{:.2}", writes.len() as f64 / n as f64);
    if parts.is_empty() {
        return total;
    }
    format!("{total} ({})", parts.join(", "))
}

/// The operator's own count of its Kubernetes writes, from its request metrics (Leases aside).
pub fn metered_writes(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("omkc_kubernetes_request_duration_seconds_count{"))
        .filter(|l| !l.contains(r#"resource="leases""#))
        .filter(|l| {
            ["create", "patch", "update", "delete"]
                .iter()
                .any(|v| l.contains(&format!(r#"verb="{v}""#)))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        // From +0.0: an empty `sum` of floats is -0.0, printed "-0.00".
        .fold(0.0, |total, count| total + count)
}

/// A new operator over the converged backlog (an upgrade, a rescheduled pod): until every
/// resource is reconciled and a second passes without another, counted as the converging was.
pub async fn restart(
    o: &Options,
    kubeconfig: &Path,
    emu: &Emulator,
    audit_log: &Path,
    claims: &mut Claims,
) {
    let n = o.resources;
    emu.clear_log();
    let audit_from = std::fs::metadata(audit_log).map_or(0, |m| m.len());
    let clock = Instant::now();
    let (child, base) = operator(o, kubeconfig, &[("OPERATOR_NAMESPACE", "omkc-system")]);
    let leading_since = leading(&base, clock).await;
    let (reconciles, all_reconciled) = reconciled_then_quiet(&base, n, clock, leading_since).await;
    let calls = emu.admin_calls();
    let metered = metered_writes(&metrics_text(&base).await);
    let (writes, said) = kubernetes_writes(audit_log, audit_from, metered, n);
    println!("\na restart, every resource converged");
    println!(
        "  all reconciled after     {:.2} s from leading",
        all_reconciled.as_secs_f64()
    );
    println!("  reconciles per resource  {:.2}", reconciles / n as f64);
    println!("  Keycloak requests/res.   {}", by_method(&calls, n));
    println!("  Kubernetes writes/res.   {said}");
    let gets = calls.iter().filter(|c| c.starts_with("GET ")).count();
    claims.count(
        "restart: reconciles per resource",
        reconciles / n as f64,
        1.0,
    );
    claims.count(
        "restart: Keycloak GETs per resource",
        gets as f64 / n as f64,
        1.0,
    );
    claims.count("restart: Keycloak writes", (calls.len() - gets) as f64, 0.0);
    claims.count("restart: Kubernetes writes", writes, 0.0);
    stop(child);
}

/// The operator's Kubernetes writes since byte `from` of the audit log, and how they were
/// counted (per resource, by kind): from the API server's audit log when there is one, else
/// the operator's own count of the same span (`metered`, from [`metered_writes`]).
pub fn kubernetes_writes(audit_log: &Path, from: u64, metered: f64, n: usize) -> (f64, String) {
    if !audit_log.exists() {
        let said = format!(
            "{:.2} (the operator's metrics: no audit.log beside KUBECONFIG)",
            metered / n as f64
        );
        return (metered, said);
    }
    let audited = audited_writes(audit_log, from);
    let said = format!(
        "{} (the API server's audit log; the operator's metrics say {:.2})",
        per_kind(&audited, n),
        metered / n as f64
    );
    (audited.len() as f64, said)
}

#[cfg(test)]
mod tests {
    use super::{OPERATOR, audited_writes, kubernetes_writes, metered_writes, per_kind};

    #[test]
    fn the_audit_log_counts_the_operators_writes_from_an_offset_leases_aside() {
        let event = |user: &str, verb: &str, resource: &str, sub: Option<&str>| {
            let mut object =
                serde_json::json!({"resource": resource, "namespace": "t", "name": "x"});
            if let Some(sub) = sub {
                object["subresource"] = sub.into();
            }
            serde_json::json!({"kind": "Event", "stage": "ResponseComplete", "verb": verb,
                               "user": {"username": user}, "objectRef": object})
            .to_string()
        };
        let before = event(OPERATOR, "create", "secrets", None);
        let log = [
            event(
                OPERATOR,
                "patch",
                "openmetadatakeycloakclients",
                Some("status"),
            ),
            event(OPERATOR, "get", "secrets", None),
            event(OPERATOR, "update", "leases", None),
            event("kubernetes-admin", "create", "namespaces", None),
            event(OPERATOR, "create", "events", None),
            event(OPERATOR, "create", "events", None),
        ];
        let path = std::env::temp_dir().join(format!("omkc-audit-{}.log", std::process::id()));
        std::fs::write(&path, format!("{before}\n{}\n", log.join("\n"))).unwrap();
        let writes = audited_writes(&path, before.len() as u64 + 1);
        assert_eq!(
            writes,
            [
                "patch openmetadatakeycloakclients/status",
                "create events",
                "create events"
            ]
        );
        assert_eq!(
            per_kind(&writes, 2),
            "1.50 (create events 1.00, patch openmetadatakeycloakclients/status 0.50)"
        );
        assert_eq!(
            audited_writes(&path, 0).len(),
            4,
            "from the start, the create too"
        );
        let metrics = [
            r#"omkc_kubernetes_request_duration_seconds_count{verb="create",resource="secrets"} 4"#,
            r#"omkc_kubernetes_request_duration_seconds_count{verb="patch",resource="leases"} 9"#,
            r#"omkc_kubernetes_request_duration_seconds_count{verb="get",resource="secrets"} 5"#,
            r#"omkc_kubernetes_request_duration_seconds_sum{verb="create",resource="events"} 0.5"#,
            r#"omkc_kubernetes_request_duration_seconds_count{verb="create",resource="events"} 1"#,
        ]
        .join("\n");
        let metered = metered_writes(&metrics);
        let (count, said) = kubernetes_writes(&path, before.len() as u64 + 1, metered, 2);
        assert_eq!(count, 3.0, "the audit log's 3, not the metrics' 5: {said}");
        assert!(said.ends_with("the operator's metrics say 2.50)"), "{said}");
        assert_eq!(per_kind(&[], 2), "0.00");
        assert_eq!(
            kubernetes_writes(&path, 1 << 20, metered_writes(""), 2).1,
            "0.00 (the API server's audit log; the operator's metrics say 0.00)"
        );
        std::fs::remove_file(&path).unwrap();
        let (count, said) = kubernetes_writes(&path, 0, metered, 2);
        assert_eq!(
            count, 5.0,
            "no log: the metrics' writes, Leases and reads aside"
        );
        assert!(said.contains("no audit.log"), "{said}");
    }
}
