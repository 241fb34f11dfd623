//! Leader election on a `coordination.k8s.io` Lease, so that several replicas can run with one
//! active: the leader reconciles, the others wait warm and ready, and one takes over within the
//! lease duration when the leader stops renewing.
//!
//! Built on `kube-lease-manager` (kept, on kube 5): it takes the lease with a server-side apply
//! that the API server refuses when another holder owns it (no two leaders even when both see it
//! free at once), renews it before it expires, takes over an expired one, and releases it on
//! request. This module adds what the crate leaves out:
//! - fencing: the crate says nothing while it cannot reach the API server, so the leader also
//!   keeps a local deadline (its last renewal seen plus the lease duration, less a margin) and
//!   stops when it passes;
//! - prompt take-over: a standby that sees the lease released takes it at once instead of
//!   sleeping until the old expiry.

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::{
    Api, Client,
    runtime::{WatchStreamExt, watcher, watcher::Event},
};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError, LeaseParams};
use tokio::{sync::watch, task::JoinHandle};
use tracing::{info, warn};

/// Which lease, and who competes for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
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

/// What the Lease watch last showed: who holds it and when they renewed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Seen {
    holder: Option<String>,
    renewed: Option<SystemTime>,
}

impl Seen {
    fn of(lease: Option<&Lease>) -> Self {
        let spec = lease.and_then(|l| l.spec.as_ref());
        Self {
            holder: spec
                .and_then(|s| s.holder_identity.clone())
                .filter(|h| !h.is_empty()),
            renewed: spec.and_then(|s| s.renew_time.as_ref()).map(|t| {
                SystemTime::UNIX_EPOCH
                    + Duration::from_micros(u64::try_from(t.0.as_microsecond()).unwrap_or(0))
            }),
        }
    }
}

/// [`Election::deadline`] of `identity`, which took the lease at `acquired_at`, after the watch
/// `seen`: its last renewal of ours (another holder's never counts) or the take-over, whichever
/// is later (else `now`), plus the lease `(duration, margin)`'s duration less the margin.
fn deadline_from(
    seen: &Seen,
    identity: &str,
    acquired_at: Option<SystemTime>,
    (duration, margin): (Duration, Duration),
    now: SystemTime,
) -> SystemTime {
    let renewed = match &seen.holder {
        Some(h) if h == identity => seen.renewed,
        _ => None,
    };
    renewed.max(acquired_at).unwrap_or(now) + duration - margin
}

/// Why this instance stopped leading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lost {
    /// The lease crate saw another holder.
    Taken,
    /// No renewal of ours seen in time: another instance may lead from the lease's expiry on.
    NotRenewed,
}

/// A running election.
pub struct Election {
    state: watch::Receiver<bool>,
    seen: watch::Receiver<Seen>,
    task: JoinHandle<()>,
    watch: JoinHandle<()>,
    identity: String,
    duration: Duration,
    margin: Duration,
    /// When this instance saw itself take the lease (its renewals extend from there).
    acquired_at: Option<SystemTime>,
}

impl Election {
    /// Joins the election (creates the Lease when it does not exist yet).
    pub async fn join(client: Client, settings: &LeaseSettings) -> Result<Self, String> {
        settings.check()?;
        let manager = manager(client.clone(), settings).await.map_err(|e| {
            format!(
                "cannot use Lease {}/{} for leader election (RBAC needs get, list, watch, create and patch on leases there): {e}",
                settings.namespace, settings.name
            )
        })?;
        // Every renewal and release as it happens, from one watch on this one Lease.
        let (seen_tx, seen) = watch::channel(Seen::default());
        let leases: Api<Lease> = Api::namespaced(client.clone(), &settings.namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={}", settings.name));
        let watch = tokio::spawn(async move {
            let mut events = std::pin::pin!(watcher(leases, config).default_backoff());
            while let Some(event) = events.next().await {
                match event {
                    Ok(Event::Apply(l) | Event::InitApply(l)) => {
                        seen_tx.send_replace(Seen::of(Some(&l)));
                    }
                    Ok(Event::Delete(_)) => {
                        seen_tx.send_replace(Seen::of(None));
                    }
                    Ok(_) => {}
                    Err(e) => warn!("watching the lease: {e}"),
                }
            }
        });
        let (state_tx, state) = watch::channel(false);
        let task = tokio::spawn(drive(
            manager,
            client,
            settings.clone(),
            state_tx,
            seen.clone(),
        ));
        info!(identity = %settings.identity, lease = %format!("{}/{}", settings.namespace, settings.name), "joined the leader election");
        Ok(Self {
            state,
            seen,
            task,
            watch,
            identity: settings.identity.clone(),
            duration: settings.duration,
            margin: settings.grace / 2,
            acquired_at: None,
        })
    }

    /// Resolves once this instance holds the lease (`true`), or when the election ended
    /// (`false`: its task stopped).
    pub async fn acquired(&mut self) -> bool {
        let held = self.state.wait_for(|leader| *leader).await.is_ok();
        self.acquired_at = Some(SystemTime::now());
        held
    }

    /// The local deadline: the last renewal of ours seen (or the take-over) plus the lease
    /// duration, less a margin for the time a request takes and clocks drift. Past it, another
    /// instance may hold the lease even if no one said so yet.
    fn deadline(&self) -> SystemTime {
        let lease = (self.duration, self.margin);
        deadline_from(
            &self.seen.borrow(),
            &self.identity,
            self.acquired_at,
            lease,
            SystemTime::now(),
        )
    }

    /// Resolves once this instance may no longer hold the lease: another holder is seen, or
    /// the local deadline passed without a renewal of ours (the API server unreachable: the
    /// lease crate would say nothing until it could read the Lease again).
    pub async fn lost(&mut self) -> Lost {
        loop {
            if !*self.state.borrow() {
                return Lost::Taken;
            }
            let Ok(wait) = self.deadline().duration_since(SystemTime::now()) else {
                return Lost::NotRenewed;
            };
            tokio::select! {
                changed = self.state.changed() => if changed.is_err() { return Lost::Taken },
                _ = self.seen.changed() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Leaves the election, releasing the lease if held, within `within`.
    pub async fn release(self, within: Duration) {
        let Self {
            state,
            task,
            watch,
            identity,
            ..
        } = self;
        // Closing the channel makes the driver release the lease and return.
        drop(state);
        match tokio::time::timeout(within, task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(%identity, "the lease task: {e}"),
            Err(_) => warn!(%identity, "the lease was not released in time; it expires by itself"),
        }
        watch.abort();
    }
}

async fn manager(
    client: Client,
    settings: &LeaseSettings,
) -> Result<LeaseManager, LeaseManagerError> {
    let params = LeaseParams::new(
        settings.identity.clone(),
        settings.duration.as_secs(),
        settings.grace.as_secs(),
    );
    LeaseManagerBuilder::new(client, &settings.name)
        .with_namespace(&settings.namespace)
        .with_parameters(params)
        .build()
        .await
}

/// Runs the lease crate's steps (take, renew, take over an expired lease) and says each change
/// of leadership. A standby that sees the lease released starts over with a fresh manager: the
/// crate's own would sleep until the released lease's old expiry (up to a lease duration).
async fn drive(
    mut manager: LeaseManager,
    client: Client,
    settings: LeaseSettings,
    state: watch::Sender<bool>,
    mut seen: watch::Receiver<Seen>,
) {
    seen.mark_unchanged();
    loop {
        let leading = *state.borrow();
        tokio::select! {
            biased;
            () = state.closed() => {
                match manager.release().await {
                    Ok(()) => info!(identity = %settings.identity, "released the lease"),
                    Err(e) => match access_removed(&e) {
                        // An uninstall: the release's RBAC, account or namespace went first.
                        Some(code) => info!(identity = %settings.identity, "the lease is left to expire: releasing it was refused (HTTP {code}), as when an uninstall has removed this instance's access"),
                        None => warn!(identity = %settings.identity, "releasing the lease: {e}"),
                    },
                }
                return;
            }
            changed = manager.changed() => match changed {
                Ok(leader) => {
                    state.send_replace(leader);
                }
                Err(e) => {
                    warn!(identity = %settings.identity, "leader election: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            released = seen.changed(), if !leading => {
                if released.is_err() {
                    return;
                }
                if seen.borrow_and_update().holder.is_none() {
                    match self::manager(client.clone(), &settings).await {
                        Ok(fresh) => manager = fresh,
                        Err(e) => warn!(identity = %settings.identity, "leader election: {e}"),
                    }
                }
            }
        }
    }
}

/// The status of a refusal that says this instance's access is gone (its token revoked with its
/// ServiceAccount: 401; its Role: 403; the Lease or its namespace: 404), as at the end of an
/// uninstall, when Helm deletes the RBAC while the pod is still stopping.
fn access_removed(e: &LeaseManagerError) -> Option<u16> {
    match e {
        LeaseManagerError::KubeError(kube::Error::Api(s)) if matches!(s.code, 401 | 403 | 404) => {
            Some(s.code)
        }
        LeaseManagerError::NonexistentLease(_) => Some(404),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
