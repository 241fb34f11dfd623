//! Prometheus metrics in the OpenMetrics text format. Labels are bounded: results and reasons,
//! never names, messages or secret values.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Metric, Registry, Unit},
};

use crate::sync::Locked;

/// Labels of a reconcile outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `success` or `error`.
    pub result: &'static str,
    /// `Reconciled` on success, else the bounded failure reason: the Ready condition's reason.
    pub reason: &'static str,
}

/// Labels of one request to Keycloak: the route *template*, never a concrete path.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route template, e.g. `/admin/realms/{realm}/clients/{id}`.
    pub route: &'static str,
    pub method: &'static str,
    /// `2xx`, `3xx`, `4xx`, `5xx`, or `error` when no response came.
    pub status: &'static str,
}

/// Labels of a latency observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: &'static str,
    pub method: &'static str,
}

/// Labels of one request to the Kubernetes API.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KubernetesLabels {
    /// `get`, `list`, `create`, `patch`, `update`, `delete`.
    pub verb: &'static str,
    /// The resource (and subresource) from a fixed list, or `other`.
    pub resource: &'static str,
}

/// Labels of a token request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// `success`, `rejected` (credentials refused) or `error`.
    pub result: &'static str,
}

/// Labels of the connections gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    /// The ClusterKeycloakConnection's name (chosen by the platform team; few).
    pub connection: String,
}

/// Labels of the resources gauge: the Ready condition's status and reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReadyLabels {
    pub ready: &'static str,
    pub reason: &'static str,
}

/// The operator's metrics.
pub struct Metrics {
    resources: Family<ReadyLabels, Gauge>,
    /// The Ready state of each resource this instance reconciled (`namespace/name`), from which
    /// `resources` is computed when scraped: names never become labels.
    ready: Mutex<HashMap<String, (bool, &'static str)>>,
    leader: Gauge,
    registry: Mutex<Registry>,
    reconciliations: Family<ResultLabels, Counter>,
    duration: Histogram,
    keycloak_requests: Family<RequestLabels, Counter>,
    keycloak_latency: Family<RouteLabels, Histogram>,
    kubernetes_latency: Family<KubernetesLabels, Histogram>,
    queue_wait: Histogram,
    token_requests: Family<TokenLabels, Counter>,
    orphaned: Counter,
    deferred: Counter,
    connections: Family<ConnectionLabels, Gauge>,
}

/// The class of an HTTP status, as a bounded label value.
pub fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "error",
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        fn add<M: Metric + Clone>(r: &mut Registry, name: &str, help: &str, metric: M) -> M {
            r.register(name, help, metric.clone());
            metric
        }
        fn seconds<M: Metric + Clone>(r: &mut Registry, name: &str, help: &str, metric: M) -> M {
            r.register_with_unit(name, help, Unit::Seconds, metric.clone());
            metric
        }
        // 1 ms .. ~8 s.
        fn latency() -> Histogram {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        }
        let mut r = Registry::with_prefix("omkc");
        Self {
            reconciliations: add(
                &mut r,
                "reconciliations",
                "Reconciles of OpenMetadataKeycloakClient resources by result and reason",
                Family::default(),
            ),
            // 5 ms .. ~20 s: a converged reconcile is a few Keycloak reads, a first one a dozen calls.
            duration: seconds(
                &mut r,
                "reconcile_duration",
                "Duration of one reconcile",
                Histogram::new(exponential_buckets(0.005, 2.0, 13)),
            ),
            keycloak_requests: add(
                &mut r,
                "keycloak_requests",
                "Requests to Keycloak by route template, method and status class",
                Family::default(),
            ),
            keycloak_latency: seconds(
                &mut r,
                "keycloak_request_duration",
                "Latency of requests to Keycloak by route template and method",
                Family::new_with_constructor(latency),
            ),
            kubernetes_latency: seconds(
                &mut r,
                "kubernetes_request_duration",
                "Latency of requests to the Kubernetes API by verb and resource (watches excluded)",
                Family::new_with_constructor(latency),
            ),
            // 1 ms .. ~2 min: a backlog of thousands waits minutes for a worker.
            queue_wait: seconds(
                &mut r,
                "reconcile_queue_wait",
                "Time from a change seen by a watch to the start of its reconcile (waiting for a worker)",
                Histogram::new(exponential_buckets(0.001, 2.0, 18)),
            ),
            token_requests: add(
                &mut r,
                "keycloak_token_requests",
                "Admin token requests by result (success, rejected, error)",
                Family::default(),
            ),
            orphaned: add(
                &mut r,
                "orphaned_clients",
                "Keycloak clients left behind because cleanup was impossible (connection gone, credentials refused)",
                Counter::default(),
            ),
            resources: add(
                &mut r,
                "resources",
                "OpenMetadataKeycloakClients by Ready status and reason, as of their last reconcile by this instance",
                Family::default(),
            ),
            ready: Mutex::default(),
            connections: add(
                &mut r,
                "connection_ready",
                "Whether each ClusterKeycloakConnection passed its last check (signed in, a realm to serve)",
                Family::default(),
            ),
            deferred: add(
                &mut r,
                "reconciles_deferred",
                "Reconciles put back because their namespace held more than its fair share of workers while others waited",
                Counter::default(),
            ),
            leader: add(
                &mut r,
                "leader",
                "Whether this instance reconciles: holds the leader lease, or runs without leader election",
                Gauge::default(),
            ),
            registry: Mutex::new(r),
        }
    }
}

impl Metrics {
    /// Records one reconcile.
    pub fn observe(&self, result: &'static str, reason: &'static str, took: Duration) {
        self.reconciliations
            .get_or_create(&ResultLabels { result, reason })
            .inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// Records one request to Keycloak (`status` is `None` when no response came).
    pub fn keycloak_request(
        &self,
        route: &'static str,
        method: &'static str,
        status: Option<u16>,
        took: Duration,
    ) {
        self.keycloak_requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status: status_class(status),
            })
            .inc();
        self.keycloak_latency
            .get_or_create(&RouteLabels { route, method })
            .observe(took.as_secs_f64());
    }

    /// Records one request to the Kubernetes API.
    pub fn kubernetes_request(&self, verb: &'static str, resource: &'static str, took: Duration) {
        self.kubernetes_latency
            .get_or_create(&KubernetesLabels { verb, resource })
            .observe(took.as_secs_f64());
    }

    /// Records how long a change waited for a worker.
    pub fn queue_wait(&self, waited: Duration) {
        self.queue_wait.observe(waited.as_secs_f64());
    }

    /// Records one token request.
    pub fn token_request(&self, result: &'static str) {
        self.token_requests
            .get_or_create(&TokenLabels { result })
            .inc();
    }

    /// Counts a client left behind in Keycloak.
    pub fn orphaned_client(&self) {
        self.orphaned.inc();
    }

    /// Records the outcome of a connection's check.
    pub fn connection_ready(&self, connection: &str, ready: bool) {
        self.connections
            .get_or_create(&ConnectionLabels {
                connection: connection.to_string(),
            })
            .set(i64::from(ready));
    }

    /// Counts a reconcile put back for fairness between namespaces.
    pub fn deferred(&self) {
        self.deferred.inc();
    }

    /// Records a resource's Ready state after a reconcile.
    pub fn resource_state(&self, key: &str, ready: bool, reason: &'static str) {
        self.ready.locked().insert(key.to_string(), (ready, reason));
    }

    /// Forgets a deleted resource.
    pub fn forget_resource(&self, key: &str) {
        self.ready.locked().remove(key);
    }

    /// Forgets every resource `exists` no longer says exists (one deleted without a reconcile
    /// of its deletion: its finalizer removed by hand).
    pub fn forget_resources_but(&self, exists: impl Fn(&str) -> bool) {
        self.ready.locked().retain(|key, _| exists(key));
    }

    /// Whether this instance leads (1) or stands by (0).
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        self.resources.clear();
        for (ready, reason) in self.ready.locked().values() {
            self.resources
                .get_or_create(&ReadyLabels {
                    ready: if *ready { "True" } else { "False" },
                    reason,
                })
                .inc();
        }
        let mut out = String::new();
        let registry = self.registry.locked();
        encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_count_reconciles_by_result_and_reason() {
        let m = Metrics::default();
        m.observe("success", "Reconciled", Duration::from_millis(12));
        m.observe("error", "KeycloakUnavailable", Duration::from_millis(3));
        m.observe("error", "KeycloakUnavailable", Duration::from_secs(30));
        let text = m.render();
        assert!(
            text.contains(r#"omkc_reconciliations_total{result="success",reason="Reconciled"} 1"#),
            "{text}"
        );
        assert!(text.contains(
            r#"omkc_reconciliations_total{result="error",reason="KeycloakUnavailable"} 2"#
        ));
        assert!(text.contains("omkc_reconcile_duration_seconds_count 3"));
        assert!(text.contains(r#"omkc_reconcile_duration_seconds_bucket{le="0.005"} 1"#));
        assert!(text.contains(r#"omkc_reconcile_duration_seconds_bucket{le="+Inf"} 3"#));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn resources_are_counted_by_ready_state_without_their_names() {
        let m = Metrics::default();
        m.resource_state("team-a/om", true, "Reconciled");
        m.resource_state("team-b/om", true, "Reconciled");
        m.resource_state("team-c/om", false, "CredentialsNotFound");
        m.resource_state("team-c/om", false, "ClientConflict");
        m.set_leader(true);
        let text = m.render();
        assert!(
            text.contains(r#"omkc_resources{ready="True",reason="Reconciled"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"omkc_resources{ready="False",reason="ClientConflict"} 1"#));
        assert!(
            !text.contains("CredentialsNotFound"),
            "a state, not a history"
        );
        assert!(!text.contains("team-"), "names never become labels");
        assert!(text.lines().any(|l| l == "omkc_leader 1"));
        m.forget_resource("team-c/om");
        assert!(!m.render().contains("ClientConflict"));
    }

    #[test]
    fn statuses_are_labelled_by_class_and_the_metrics_debug_as_a_name() {
        let classes =
            [Some(204), Some(302), Some(404), Some(503), Some(600), None].map(status_class);
        assert_eq!(classes, ["2xx", "3xx", "4xx", "5xx", "error", "error"]);
        assert_eq!(format!("{:?}", Metrics::default()), "Metrics { .. }");
    }
}
