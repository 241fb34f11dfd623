//! Fair sharing of one scope's workers between namespaces, so that one tenant cannot starve the
//! others: a namespace whose resources are slow (a Keycloak URL that answers late, a backlog of
//! hundreds) may hold at most `total - share` workers while others wait, and always gets
//! `share`. A reconcile that is not admitted is put back for a moment without holding a worker.
//!
//! Work-conserving: alone, a namespace uses all but `share` workers; the `share` kept free is
//! what lets another namespace's change start at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::sync::Locked;

/// How long a reconcile that was not admitted waits at least before it asks again.
const DEFERRED_FOR: Duration = Duration::from_millis(500);

/// How long a reconcile that was not admitted waits: [`DEFERRED_FOR`] and up to as much again
/// (`jitter` in 0..1), so that the deferred ones do not all come back at once.
pub(super) fn deferral(jitter: f64) -> Duration {
    DEFERRED_FOR.mul_f64(1.0 + jitter.clamp(0.0, 1.0))
}

/// The workers of one scope, by namespace.
#[derive(Debug)]
pub(super) struct Fair {
    total: usize,
    share: usize,
    busy: Mutex<Busy>,
}

#[derive(Debug, Default)]
struct Busy {
    all: usize,
    by_namespace: HashMap<String, usize>,
}

/// One admitted reconcile; its worker is given back when dropped.
#[derive(Debug)]
pub(super) struct Slot {
    fair: Arc<Fair>,
    namespace: String,
}

impl Fair {
    /// `total` workers, of which each namespace is always granted `share` (at least 1).
    pub(super) fn new(total: usize, share: usize) -> Arc<Self> {
        Arc::new(Self {
            total,
            share: share.clamp(1, total.max(1)),
            busy: Mutex::default(),
        })
    }

    /// Admits a reconcile in `namespace`: always while it has fewer than `share` in flight;
    /// beyond that, only while `share` workers stay free for the other namespaces.
    pub(super) fn admit(self: &Arc<Self>, namespace: &str) -> Option<Slot> {
        let mut busy = self.busy.locked();
        let mine = busy.by_namespace.get(namespace).copied().unwrap_or(0);
        if mine >= self.share && busy.all + self.share >= self.total {
            return None;
        }
        busy.all += 1;
        *busy.by_namespace.entry(namespace.to_string()).or_default() += 1;
        Some(Slot {
            fair: self.clone(),
            namespace: namespace.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut busy = self.fair.busy.locked();
        busy.all -= 1;
        if let Some(n) = busy.by_namespace.get_mut(&self.namespace) {
            *n -= 1;
            if *n == 0 {
                busy.by_namespace.remove(&self.namespace);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_namespace_never_takes_the_workers_kept_for_the_others() {
        let fair = Fair::new(16, 4);
        let slow: Vec<Slot> = std::iter::from_fn(|| fair.admit("slow")).collect();
        assert_eq!(slow.len(), 12, "alone it uses all but the share");
        // Every other namespace still starts at once, up to its share.
        let other: Vec<Slot> = std::iter::from_fn(|| fair.admit("other"))
            .take(10)
            .collect();
        assert_eq!(other.len(), 4);
        drop(other);
        assert!(
            fair.admit("slow").is_none(),
            "still above its share with 12"
        );
        let third = fair.admit("third");
        assert!(third.is_some());
        drop(slow);
        drop(third);
        let busy = fair.busy.lock().unwrap();
        assert_eq!(
            (busy.all, busy.by_namespace.len()),
            (0, 0),
            "every worker given back"
        );
    }

    #[test]
    fn a_deferred_reconcile_asks_again_after_half_a_second_to_a_second() {
        assert_eq!(deferral(0.0), Duration::from_millis(500));
        assert_eq!(deferral(0.5), Duration::from_millis(750));
        assert_eq!(deferral(1.0), Duration::from_secs(1));
    }

    #[test]
    fn a_share_as_large_as_the_pool_leaves_sharing_off() {
        let fair = Fair::new(4, 16);
        let all: Vec<Slot> = std::iter::from_fn(|| fair.admit("one")).take(8).collect();
        // As many as the controller's own concurrency: the share takes nothing away.
        assert_eq!(all.len(), 4);
    }
}
