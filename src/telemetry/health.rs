//! Liveness and readiness of the controller loops.
//!
//! - `/livez`: 200 while every controller loop is running and being polled (each loop beats
//!   every [`HEARTBEAT`] from inside its own task, so a loop that ended, panicked or stopped
//!   being polled goes stale), 503 otherwise. Kubernetes restarts the pod on failure.
//! - `/readyz`: 200 once the loops are live and every watched scope's resource cache has
//!   finished its initial list, 503 before and from the shutdown signal on. A standby of the
//!   leader election (no loops running) is ready: it is healthy and can take over.

use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// How often a running controller loop reports that it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A loop whose last beat is older than this is considered stuck.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// Liveness and readiness of the controller loops, one slot per watched scope.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    scopes: Vec<ScopeHealth>,
    shutting_down: AtomicBool,
    standby: AtomicBool,
}

#[derive(Debug, Default)]
struct ScopeHealth {
    /// Milliseconds since `started` of the last beat; 0 = never beat.
    last_beat_ms: AtomicU64,
    synced: AtomicBool,
    ended: AtomicBool,
}

impl Health {
    /// Health for `scopes` controller loops (one per watched namespace, or one for all).
    pub fn new(scopes: usize) -> Self {
        Self {
            started: Instant::now(),
            scopes: (0..scopes).map(|_| ScopeHealth::default()).collect(),
            shutting_down: AtomicBool::new(false),
            standby: AtomicBool::new(false),
        }
    }

    fn elapsed_ms(&self, now: Instant) -> u64 {
        // +1 so that a beat at the very start is distinguishable from "never".
        now.saturating_duration_since(self.started).as_millis() as u64 + 1
    }

    /// Loop `scope` is alive (called from inside the loop's task).
    pub fn beat(&self, scope: usize) {
        self.beat_at(scope, Instant::now());
    }

    fn beat_at(&self, scope: usize, now: Instant) {
        if let Some(s) = self.scopes.get(scope) {
            s.last_beat_ms
                .store(self.elapsed_ms(now), Ordering::Relaxed);
        }
    }

    /// The resource cache of loop `scope` finished its initial list.
    pub fn mark_synced(&self, scope: usize) {
        if let Some(s) = self.scopes.get(scope) {
            s.synced.store(true, Ordering::Relaxed);
        }
    }

    /// Loop `scope` returned.
    pub fn mark_ended(&self, scope: usize) {
        if let Some(s) = self.scopes.get(scope) {
            s.ended.store(true, Ordering::Relaxed);
        }
    }

    /// A shutdown signal arrived: the pod stops being ready while in-flight work finishes.
    pub fn mark_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// This instance waits for the leader lease (`true`), or leads (`false`).
    pub fn set_standby(&self, standby: bool) {
        self.standby.store(standby, Ordering::Relaxed);
    }

    /// Whether this instance waits for the leader lease.
    pub fn is_standby(&self) -> bool {
        self.standby.load(Ordering::Relaxed)
    }

    /// `Ok` while every loop runs and has beaten recently.
    pub fn live(&self) -> Result<(), String> {
        self.live_at(Instant::now())
    }

    fn live_at(&self, now: Instant) -> Result<(), String> {
        let now_ms = self.elapsed_ms(now);
        for (i, s) in self.scopes.iter().enumerate() {
            if s.ended.load(Ordering::Relaxed) {
                return Err(format!("controller loop {i} has stopped"));
            }
            let last = s.last_beat_ms.load(Ordering::Relaxed);
            // Before the first beat the loop is starting; the probe's initial delay covers it.
            if last != 0 && now_ms.saturating_sub(last) > STALE_AFTER.as_millis() as u64 {
                return Err(format!(
                    "controller loop {i} has not run for {}s",
                    (now_ms - last) / 1000
                ));
            }
        }
        Ok(())
    }

    /// `Ok` once live and every scope's cache is synced, and no shutdown is under way.
    pub fn ready(&self) -> Result<(), String> {
        self.ready_at(Instant::now())
    }

    fn ready_at(&self, now: Instant) -> Result<(), String> {
        self.live_at(now)?;
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err("shutting down".into());
        }
        if self.is_standby() {
            return Ok(());
        }
        let waiting = self
            .scopes
            .iter()
            .filter(|s| !s.synced.load(Ordering::Relaxed))
            .count();
        if waiting > 0 {
            return Err(format!(
                "{waiting} of {} resource caches not synced yet",
                self.scopes.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_follows_the_heartbeat_and_the_end_of_a_loop() {
        let h = Health::new(2);
        let t0 = h.started;
        assert!(h.live_at(t0).is_ok(), "starting loops count as live");
        h.beat_at(0, t0);
        h.beat_at(1, t0);
        assert!(h.live_at(t0 + STALE_AFTER).is_ok());
        let late = t0 + STALE_AFTER + Duration::from_secs(2);
        assert!(h.live_at(late).unwrap_err().contains("has not run for 62s"));
        h.beat_at(0, late);
        h.beat_at(1, late);
        assert!(h.live_at(late).is_ok());
        h.mark_ended(1);
        assert_eq!(
            h.live_at(late).unwrap_err(),
            "controller loop 1 has stopped"
        );
    }

    #[test]
    fn a_beat_is_taken_now() {
        let h = Health::new(1);
        h.beat(0);
        let stale = Instant::now() + STALE_AFTER + Duration::from_secs(2);
        assert!(h.live_at(stale).is_err(), "a beat was recorded");
        assert!(h.live().is_ok());
    }

    #[test]
    fn readiness_waits_for_every_cache_and_drops_on_shutdown() {
        let h = Health::new(2);
        let t0 = h.started;
        assert_eq!(
            h.ready_at(t0).unwrap_err(),
            "2 of 2 resource caches not synced yet"
        );
        h.mark_synced(0);
        assert!(h.ready_at(t0).unwrap_err().starts_with("1 of 2"));
        h.mark_synced(1);
        assert!(h.ready_at(t0).is_ok());
        h.mark_shutting_down();
        assert_eq!(h.ready_at(t0).unwrap_err(), "shutting down");
        assert!(h.live_at(t0).is_ok(), "shutting down is still live");
    }

    #[test]
    fn a_standby_is_ready_without_loops_until_it_shuts_down() {
        let h = Health::new(1);
        let t0 = h.started;
        h.set_standby(true);
        assert!(h.ready_at(t0).is_ok());
        h.set_standby(false);
        assert!(
            h.ready_at(t0).is_err(),
            "leading: the cache must sync first"
        );
        h.set_standby(true);
        h.mark_shutting_down();
        assert!(h.ready_at(t0).is_err());
    }
}
