//! Fair sharing of one scope's workers between namespaces, so that one tenant cannot starve the
//! others: a namespace whose resources are slow (a Keycloak URL that answers late, a backlog of
//! hundreds) may hold at most `total - share` workers while others wait, and always gets
//! `share`. A reconcile that is not admitted is put back for a moment without holding a worker.
//!
//! Work-conserving: alone, a namespace uses all but `share` workers; the `share` kept free is
//! what lets another namespace's change start at once. A reconcile put back is woken as soon as
//! a worker is given back that it may take (oldest first), and otherwise asks again after
//! [`deferral`].

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::sync::Locked;

/// A resource: its namespace and name.
pub(super) type Key = (String, String);

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
    wake: UnboundedSender<Key>,
}

#[derive(Debug, Default)]
struct Busy {
    all: usize,
    by_namespace: HashMap<String, usize>,
    /// The resources put back, oldest first, each once. A resource admitted otherwise (its own
    /// retry, an event) leaves it.
    line: VecDeque<Key>,
}

impl Busy {
    fn admits(&self, namespace: &str, share: usize, total: usize) -> bool {
        let mine = self.by_namespace.get(namespace).copied().unwrap_or(0);
        mine < share || self.all + share < total
    }

    /// The oldest resource put back that may now take a worker, taken out of line.
    fn next_admitted(&mut self, share: usize, total: usize) -> Option<Key> {
        let at = (self.line.iter()).position(|key| self.admits(&key.0, share, total))?;
        self.line.remove(at)
    }
}

/// One admitted reconcile; its worker is given back when dropped.
#[derive(Debug)]
pub(super) struct Slot {
    fair: Arc<Fair>,
    namespace: String,
}

impl Fair {
    /// `total` workers, of which each namespace is always granted `share` (at least 1); and the
    /// resources put back, each as soon as a worker it may take is given back.
    pub(super) fn new(total: usize, share: usize) -> (Arc<Self>, UnboundedReceiver<Key>) {
        let (wake, woken) = unbounded_channel();
        let fair = Arc::new(Self {
            total,
            share: share.clamp(1, total.max(1)),
            busy: Mutex::default(),
            wake,
        });
        (fair, woken)
    }

    /// Admits a reconcile of `name` in `namespace`: always while the namespace has fewer than
    /// `share` in flight; beyond that, only while `share` workers stay free for the others.
    /// One not admitted is put back in line.
    pub(super) fn admit(self: &Arc<Self>, namespace: &str, name: &str) -> Option<Slot> {
        let mut busy = self.busy.locked();
        let key = (namespace.to_string(), name.to_string());
        if !busy.admits(namespace, self.share, self.total) {
            if !busy.line.contains(&key) {
                busy.line.push_back(key);
            }
            return None;
        }
        // Scanning the line costs little: it holds only the resources put back.
        busy.line.retain(|waiting| *waiting != key);
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
        if let Some(key) = busy.next_admitted(self.fair.share, self.fair.total) {
            // The controller's end of the channel goes only with the controller.
            let _ = self.fair.wake.send(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_namespace_never_takes_the_workers_kept_for_the_others() {
        let (fair, _woken) = Fair::new(16, 4);
        let slow: Vec<Slot> = std::iter::from_fn(|| fair.admit("slow", "s")).collect();
        assert_eq!(slow.len(), 12, "alone it uses all but the share");
        // Every other namespace still starts at once, up to its share.
        let other: Vec<Slot> = std::iter::from_fn(|| fair.admit("other", "o"))
            .take(10)
            .collect();
        assert_eq!(other.len(), 4);
        drop(other);
        assert!(
            fair.admit("slow", "s").is_none(),
            "still above its share with 12"
        );
        let third = fair.admit("third", "t");
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
    fn a_reconcile_put_back_is_woken_by_the_first_worker_it_may_take() {
        let (fair, mut woken) = Fair::new(4, 1);
        let key = |ns: &str, name: &str| (ns.to_string(), name.to_string());
        let mut a: Vec<Slot> = ["a1", "a2", "a3"]
            .iter()
            .filter_map(|n| fair.admit("a", n))
            .collect();
        assert_eq!(a.len(), 3, "all but the share");
        assert!(fair.admit("a", "a4").is_none());
        assert!(fair.admit("a", "a5").is_none());
        assert!(fair.admit("a", "a4").is_none(), "put back once");
        let b1 = fair.admit("b", "b1").expect("b's share");
        assert!(fair.admit("b", "b2").is_none());
        assert!(woken.try_recv().is_err(), "no worker given back yet");

        // b1's worker back: a, at all but the share, may not take it; b2, next in line, may.
        drop(b1);
        assert_eq!(woken.try_recv().ok(), Some(key("b", "b2")));
        assert!(woken.try_recv().is_err(), "one worker, one wake");
        let b2 = fair.admit("b", "b2").expect("woken, admitted");
        drop(b2);
        assert!(
            woken.try_recv().is_err(),
            "the worker kept for the others is not a's"
        );
        // One of a's own back: a4, the oldest of a's in line.
        drop(a.pop());
        assert_eq!(woken.try_recv().ok(), Some(key("a", "a4")));
        // a5, admitted by its own retry meanwhile, leaves the line.
        let a5 = fair.admit("a", "a5").expect("a worker free for a");
        drop(a.pop());
        assert!(woken.try_recv().is_err(), "no one left in line");
        drop(a5);
    }

    #[test]
    fn the_line_does_not_grow_with_resources_admitted_by_their_own_retry() {
        let (fair, _woken) = Fair::new(2, 1);
        for i in 0..100 {
            let r = format!("r{i}");
            let a1 = fair.admit("a", "a1").expect("a worker");
            assert!(fair.admit("a", "x").is_none() && fair.admit("a", &r).is_none());
            drop(a1); // wakes x
            let own = fair.admit("a", &r).expect("its own retry, first");
            assert!(
                fair.admit("a", "x").is_none(),
                "woken too late: back in line"
            );
            drop(own); // wakes x again
            drop(fair.admit("a", "x").expect("woken"));
        }
        let line = fair.busy.lock().unwrap().line.clone();
        assert_eq!(line, [], "nobody is in line");
    }

    #[test]
    fn a_deferred_reconcile_asks_again_after_half_a_second_to_a_second() {
        assert_eq!(deferral(0.0), Duration::from_millis(500));
        assert_eq!(deferral(0.5), Duration::from_millis(750));
        assert_eq!(deferral(1.0), Duration::from_secs(1));
    }

    #[test]
    fn a_share_as_large_as_the_pool_leaves_sharing_off() {
        let (fair, _woken) = Fair::new(4, 16);
        let all: Vec<Slot> = std::iter::from_fn(|| fair.admit("one", "x"))
            .take(8)
            .collect();
        // As many as the controller's own concurrency: the share takes nothing away.
        assert_eq!(all.len(), 4);
    }
}
