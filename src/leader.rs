//! Leader election on a `coordination.k8s.io` Lease, so that several replicas can run with one
//! active: the leader reconciles, the others wait warm and ready, and one takes over within the
//! lease duration when the leader stops renewing.
//!
//! Built on `kube-lease-manager` (kept, on kube 5): it takes the lease with a server-side apply
//! that the API server refuses when another holder owns it (no two leaders even when both see it
//! free at once), renews it before it expires, takes over an expired one, and releases it on
//! request. This module only adapts it: which lease, who we are, and the hand-over on shutdown.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError, LeaseParams};
use tokio::{sync::watch, task::JoinHandle};
use tracing::{info, warn};

/// Which lease, and who competes for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// Name of the Lease.
    pub name: String,
    /// Its namespace (the operator's).
    pub namespace: String,
    /// This instance's identity (the pod name).
    pub identity: String,
    /// How long a lease holds without renewal; a standby takes over after it.
    pub duration: Duration,
    /// How long before expiry the holder renews.
    pub grace: Duration,
}

impl LeaseSettings {
    /// Checks the timings: whole seconds, `0 < grace < duration`.
    pub fn check(&self) -> Result<(), String> {
        let (d, g) = (self.duration.as_secs(), self.grace.as_secs());
        if g == 0 || d <= g {
            return Err(format!(
                "--lease-duration ({d}s) must be longer than --lease-renew-grace ({g}s), and both above 0s"
            ));
        }
        if self.identity.is_empty() {
            return Err("the leader election identity is empty: set POD_NAME".into());
        }
        Ok(())
    }
}

/// This instance's identity: `POD_NAME` (the chart sets it from the downward API), else the
/// host name, else a random one.
pub fn identity() -> String {
    ["POD_NAME", "HOSTNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| format!("omkc-{:08x}", fastrand::u32(..)))
}

/// A running election.
pub struct Election {
    state: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
    identity: String,
}

impl Election {
    /// Joins the election (creates the Lease when it does not exist yet).
    pub async fn join(client: Client, settings: &LeaseSettings) -> Result<Self, String> {
        settings.check()?;
        let params = LeaseParams::new(
            settings.identity.clone(),
            settings.duration.as_secs(),
            settings.grace.as_secs(),
        );
        let manager = LeaseManagerBuilder::new(client, &settings.name)
            .with_namespace(&settings.namespace)
            .with_parameters(params)
            .build()
            .await
            .map_err(|e| {
                format!(
                    "cannot use Lease {}/{} for leader election (RBAC needs get, create and patch on leases there): {e}",
                    settings.namespace, settings.name
                )
            })?;
        let (state, task) = manager.watch().await;
        info!(identity = %settings.identity, lease = %format!("{}/{}", settings.namespace, settings.name), "joined the leader election");
        Ok(Self {
            state,
            task,
            identity: settings.identity.clone(),
        })
    }

    /// Resolves once this instance holds the lease (`true`), or when the election ended
    /// (`false`: its task stopped, which only happens on errors it cannot retry).
    pub async fn acquired(&mut self) -> bool {
        self.state.wait_for(|leader| *leader).await.is_ok()
    }

    /// Resolves once this instance no longer holds the lease.
    pub async fn lost(&mut self) {
        let _ = self.state.wait_for(|leader| !*leader).await;
    }

    /// Leaves the election, releasing the lease if held, within `within`.
    pub async fn release(self, within: Duration) {
        let Self {
            state,
            task,
            identity,
        } = self;
        // Closing the channel makes the manager release the lease and return.
        drop(state);
        match tokio::time::timeout(within, task).await {
            Ok(Ok(Ok(_))) => info!(%identity, "released the lease"),
            Ok(Ok(Err(e))) => warn!(%identity, "releasing the lease: {e}"),
            Ok(Err(e)) => warn!(%identity, "the lease task: {e}"),
            Err(_) => warn!(%identity, "the lease was not released in time; it expires by itself"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_are_checked_before_the_crate_would_panic() {
        let ok = LeaseSettings {
            name: "l".into(),
            namespace: "n".into(),
            identity: "pod-a".into(),
            duration: Duration::from_secs(15),
            grace: Duration::from_secs(5),
        };
        assert!(ok.check().is_ok());
        for (d, g) in [(5, 5), (5, 0), (4, 5)] {
            let bad = LeaseSettings {
                duration: Duration::from_secs(d),
                grace: Duration::from_secs(g),
                ..ok.clone()
            };
            assert!(
                bad.check().unwrap_err().contains("--lease-duration"),
                "{d} {g}"
            );
        }
        let anonymous = LeaseSettings {
            identity: String::new(),
            ..ok
        };
        assert!(anonymous.check().unwrap_err().contains("POD_NAME"));
    }
}
