//! What every reconcile shares: the Kubernetes client, the Event recorder, the Keycloak
//! sessions, the settings, the metrics and the per-resource backoff.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use kube::{
    Client,
    runtime::events::{Recorder, Reporter},
};

use crate::{keycloak::Pool, names::OPERATOR_NAME, telemetry::Metrics};

/// Settings of the controller.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Period of the drift-correcting resync of every resource; also the retry period of
    /// permanent errors.
    pub resync: Duration,
    /// First delay after a transient error (doubles per consecutive failure).
    pub backoff_base: Duration,
    /// Longest delay after transient errors.
    pub backoff_max: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(300),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// Shared state of all reconciles.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Event recorder.
    pub recorder: Recorder,
    /// Keycloak sessions.
    pub keycloak: Pool,
    /// Settings.
    pub settings: Settings,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Consecutive transient failures per resource (`namespace/name`), for backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    /// A context for `client`.
    pub fn new(client: Client, settings: Settings) -> Self {
        let reporter = Reporter {
            controller: OPERATOR_NAME.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            keycloak: Pool::default(),
            settings,
            metrics: Arc::default(),
            failures: Mutex::default(),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When to retry `key` after a failure: exponential backoff with jitter for transient
    /// failures, the resync period for permanent ones (they need a change, which the watches
    /// deliver sooner).
    pub fn retry_after(&self, transient: bool, key: &str) -> Duration {
        if !transient {
            self.reset_backoff(key);
            return self.resync_delay();
        }
        let attempt = {
            let mut failures = self.failures();
            let n = failures.entry(key.to_string()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        backoff_delay(&self.settings, attempt, fastrand::f64())
    }

    /// Forgets the failures of `key` after a success.
    pub fn reset_backoff(&self, key: &str) {
        self.failures().remove(key);
    }

    /// Resync delay with ±10% jitter, so resources do not all wake at once.
    pub fn resync_delay(&self) -> Duration {
        self.settings.resync.mul_f64(0.9 + 0.2 * fastrand::f64())
    }
}

/// Delay for the `attempt`-th consecutive failure; `jitter` in [0, 1) spreads it by ±20%.
pub fn backoff_delay(settings: &Settings, attempt: u32, jitter: f64) -> Duration {
    let exp = settings
        .backoff_base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)));
    let capped = exp.min(settings.backoff_max);
    capped.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_with_bounded_jitter() {
        let s = Settings::default();
        assert_eq!(backoff_delay(&s, 1, 0.5), Duration::from_secs(2));
        assert_eq!(backoff_delay(&s, 2, 0.5), Duration::from_secs(4));
        assert_eq!(backoff_delay(&s, 3, 0.5), Duration::from_secs(8));
        assert_eq!(backoff_delay(&s, 30, 0.5), Duration::from_secs(300));
        assert_eq!(backoff_delay(&s, 1, 0.0), Duration::from_secs_f64(1.6));
        assert_eq!(backoff_delay(&s, 1, 1.0), Duration::from_secs_f64(2.4));
    }
}
