//! Prometheus metrics in the OpenMetrics text format. Labels are bounded: results and reasons,
//! never names, messages or secret values.

use std::{sync::Mutex, time::Duration};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

/// Labels of a reconcile outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `success` or `error`.
    pub result: &'static str,
    /// `Reconciled` on success, else the bounded failure reason: the Ready condition's reason.
    pub reason: &'static str,
}

/// The operator's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    reconciliations: Family<ResultLabels, Counter>,
    duration: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("omkc");
        let reconciliations = Family::<ResultLabels, Counter>::default();
        // 5 ms .. ~20 s: a converged reconcile is a few Keycloak reads, a first one a dozen calls.
        let duration = Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
            0.005, 2.0, 13,
        ));
        registry.register(
            "reconciliations",
            "Reconciles of OpenMetadataKeycloakClient resources by result and reason",
            reconciliations.clone(),
        );
        registry.register_with_unit(
            "reconcile_duration",
            "Duration of one reconcile",
            prometheus_client::registry::Unit::Seconds,
            duration.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            reconciliations,
            duration,
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

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
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
}
