//! The steps of a reconcile, from the operator's own histograms: how many of each per resource
//! and how long they took (p50 and p90 estimated within Prometheus buckets, as
//! `histogram_quantile` does).

use std::collections::BTreeMap;

/// One histogram series: (upper bound, cumulative count) buckets, sum and count.
#[derive(Default, Debug)]
struct Series {
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

impl Series {
    fn quantile(&self, q: f64) -> f64 {
        let rank = q * self.count;
        let mut lower = (0.0, 0.0);
        for &(le, cumulative) in &self.buckets {
            if cumulative >= rank {
                if le.is_infinite() {
                    return lower.0;
                }
                let within = cumulative - lower.1;
                let fraction = if within > 0.0 {
                    (rank - lower.1) / within
                } else {
                    0.0
                };
                return lower.0 + (le - lower.0) * fraction;
            }
            lower = (le, cumulative);
        }
        lower.0
    }
}

/// The series of the histograms in an exposition, by name and labels (`le` left out).
fn histograms(text: &str) -> BTreeMap<(String, String), Series> {
    let mut out: BTreeMap<(String, String), Series> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = series
            .split_once('{')
            .map(|(n, l)| (n, l.trim_end_matches('}')))
            .unwrap_or((series, ""));
        let mut le = None;
        let labels: Vec<&str> = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .filter(|l| match l.strip_prefix("le=") {
                Some(v) => {
                    le = Some(v.trim_matches('"').to_string());
                    false
                }
                None => true,
            })
            .collect();
        let labels = labels.join(",");
        if let Some(base) = name.strip_suffix("_bucket") {
            let le = match le.as_deref() {
                Some("+Inf") => f64::INFINITY,
                Some(v) => v.parse().unwrap_or(f64::INFINITY),
                None => continue,
            };
            out.entry((base.into(), labels))
                .or_default()
                .buckets
                .push((le, value));
        } else if let Some(base) = name.strip_suffix("_sum") {
            out.entry((base.into(), labels)).or_default().sum = value;
        } else if let Some(base) = name.strip_suffix("_count") {
            out.entry((base.into(), labels)).or_default().count = value;
        }
    }
    out.retain(|_, s| !s.buckets.is_empty());
    out
}

/// The steps' table between two scrapes (`before` may be empty): per resource, mean, p50, p90.
pub fn table(before: &str, after: &str, resources: usize) -> String {
    let before = histograms(before);
    let mut rows = Vec::new();
    for ((name, labels), series) in histograms(after) {
        let step = match name.as_str() {
            "omkc_reconcile_queue_wait_seconds" => "queue wait".to_string(),
            "omkc_reconcile_duration_seconds" => "whole reconcile".to_string(),
            "omkc_kubernetes_request_duration_seconds" => format!("Kubernetes {labels}"),
            "omkc_keycloak_request_duration_seconds" => format!("Keycloak {labels}"),
            _ => continue,
        };
        // The difference between the scrapes: this phase's observations only.
        let series = match before.get(&(name.clone(), labels.clone())) {
            Some(b) => Series {
                buckets: series
                    .buckets
                    .iter()
                    .zip(&b.buckets)
                    .map(|(&(le, a), &(_, b))| (le, a - b))
                    .collect(),
                sum: series.sum - b.sum,
                count: series.count - b.count,
            },
            None => series,
        };
        if series.count < 1.0 {
            continue;
        }
        rows.push(format!(
            "  {step:<72} {:>6.2}/res  mean {:>7.1} ms  p50 {:>7.1} ms  p90 {:>7.1} ms",
            series.count / resources as f64,
            series.sum / series.count * 1000.0,
            series.quantile(0.5) * 1000.0,
            series.quantile(0.9) * 1000.0,
        ));
    }
    rows.join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn quantiles_interpolate_within_buckets() {
        let text = "x_seconds_bucket{le=\"0.01\"} 0\nx_seconds_bucket{le=\"0.02\"} 10\nx_seconds_bucket{le=\"+Inf\"} 10\nx_seconds_sum 0.15\nx_seconds_count 10\n";
        let h = super::histograms(text);
        let s = &h[&("x_seconds".to_string(), String::new())];
        assert!((s.quantile(0.5) - 0.015).abs() < 1e-9);
    }
}
