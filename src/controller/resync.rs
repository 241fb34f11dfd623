//! Periodic resyncs, spread evenly over the resync period: never a burst that would make a new
//! or changed resource wait, and never one for a resource waiting out a backoff.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use futures::Stream;
use kube::runtime::reflector::{ObjectRef, Store};

use super::Guarded;
use crate::{context::Context, crd::object_key};

/// Every resource once per `period`, one at a time at even intervals (deadlines, so a round
/// takes the period exactly), skipping malformed resources and those waiting out a backoff.
/// The first round starts one period in, after the watch has reconciled everything once. Each
/// round of the scope that `sweeps` (one per operator: the sweep covers every scope) starts
/// with [`Context::forget_gone`]: what a deletion or a re-list did not let go of (a session
/// whose credentials Secret no resource names since it switched to another) goes within a
/// period.
pub(super) fn spread_resyncs(
    store: Store<Guarded>,
    period: Duration,
    ctx: Arc<Context>,
    sweeps: bool,
) -> impl Stream<Item = ObjectRef<Guarded>> + Send {
    use tokio::time::{Instant, sleep_until};
    struct Round {
        queue: VecDeque<Arc<Guarded>>,
        next: Instant,
        gap: Duration,
    }
    let round = Round {
        queue: VecDeque::new(),
        next: Instant::now() + period,
        gap: period,
    };
    futures::stream::unfold(
        (store, ctx, round),
        move |(store, ctx, mut round)| async move {
            loop {
                if round.queue.is_empty() {
                    sleep_until(round.next).await;
                    if sweeps {
                        ctx.forget_gone();
                    }
                    round.queue = store.state().into_iter().collect();
                    if round.queue.is_empty() {
                        round.next += period;
                        continue;
                    }
                    round.gap = period / round.queue.len() as u32;
                }
                sleep_until(round.next).await;
                round.next += round.gap;
                let Some(guard) = round.queue.pop_front() else {
                    continue;
                };
                let Ok(obj) = &guard.0 else { continue };
                if obj.metadata.deletion_timestamp.is_some() || ctx.in_backoff(&object_key(obj)) {
                    continue;
                }
                let next = ObjectRef::from_obj(guard.as_ref());
                return Some((next, (store, ctx, round)));
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeSet, sync::Arc, time::Duration};

    use futures::StreamExt;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::{
        core::DeserializeGuard,
        runtime::{reflector, watcher},
    };
    use tokio::time::Instant;

    use super::{Guarded, spread_resyncs};
    use crate::{
        context::{Context, offline_context as context},
        crd::OpenMetadataKeycloakClient,
    };

    const PERIOD: Duration = Duration::from_secs(40);

    fn resource(name: &str) -> Guarded {
        let mut obj: OpenMetadataKeycloakClient =
            serde_saphyr::from_str(include_str!("../../tests/fixtures/basic.yaml")).unwrap();
        obj.metadata.name = Some(name.into());
        obj.metadata.namespace = Some("team".into());
        DeserializeGuard(Ok(obj))
    }

    /// The first `n` resyncs: the resource's name and when, from the stream's creation.
    async fn resyncs(
        store: reflector::Store<Guarded>,
        ctx: Arc<Context>,
        n: usize,
    ) -> Vec<(String, Duration)> {
        resyncs_of(store, ctx, n, true).await
    }

    /// [`resyncs`] of a scope that `sweeps`, or not.
    async fn resyncs_of(
        store: reflector::Store<Guarded>,
        ctx: Arc<Context>,
        n: usize,
        sweeps: bool,
    ) -> Vec<(String, Duration)> {
        // As the controller does: the resources' cache is the context's too.
        ctx.add_resources(store.clone());
        let start = Instant::now();
        spread_resyncs(store, PERIOD, ctx, sweeps)
            .take(n)
            .map(|r| (r.name, start.elapsed()))
            .collect()
            .await
    }

    fn at(seconds: &[u64]) -> Vec<Duration> {
        seconds.iter().copied().map(Duration::from_secs).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn every_resource_once_a_period_evenly_spread_from_one_period_in() {
        let (store, mut writer) = reflector::store();
        for name in ["a", "b", "c", "d"] {
            writer.apply_watcher_event(&watcher::Event::Apply(resource(name)));
        }
        let seen = resyncs(store, context(), 8).await;
        let times: Vec<Duration> = seen.iter().map(|(_, t)| *t).collect();
        assert_eq!(times, at(&[40, 50, 60, 70, 80, 90, 100, 110]));
        for round in seen.chunks(4) {
            let names: BTreeSet<&str> = round.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, BTreeSet::from(["a", "b", "c", "d"]), "{seen:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_round_waits_a_whole_period_for_the_next() {
        let (store, mut writer) = reflector::store();
        // Resources appear after the first (empty) round: the next round is one period later.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(50)).await;
            for name in ["a", "b"] {
                writer.apply_watcher_event(&watcher::Event::Apply(resource(name)));
            }
            std::future::pending::<()>().await
        });
        let times: Vec<Duration> = resyncs(store, context(), 3)
            .await
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(times, at(&[80, 100, 120]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_resource_being_deleted_or_waiting_out_a_backoff_keeps_its_slot_unused() {
        let (store, mut writer) = reflector::store();
        let mut deleting = resource("deleting");
        if let Ok(obj) = &mut deleting.0 {
            obj.metadata.deletion_timestamp = Some(Time(Default::default()));
        }
        for guard in [resource("a"), deleting, resource("failing"), resource("b")] {
            writer.apply_watcher_event(&watcher::Event::Apply(guard));
        }
        let ctx = context();
        ctx.backoff("team/failing", None);
        let seen = resyncs(store, ctx, 3).await;
        let names: BTreeSet<&str> = seen[..2].iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["a", "b"]), "{seen:?}");
        // Each in one of the round's four slots, the skipped ones' left empty; then the next
        // round, on time.
        assert!(
            seen[..2]
                .iter()
                .all(|(_, t)| at(&[40, 50, 60, 70]).contains(t))
        );
        assert!(at(&[80, 90, 100, 110]).contains(&seen[2].1), "{seen:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_round_starts_by_closing_the_sessions_no_resource_names_in_one_scope_only() {
        for (sweeps, left) in [(true, 1), (false, 2)] {
            let (store, mut writer) = reflector::store();
            writer.apply_watcher_event(&watcher::Event::Apply(resource("a")));
            let ctx = context();
            for source in ["secret/team/keycloak-admin", "secret/team/switched-from"] {
                crate::context::open_session(&ctx, source);
            }
            let seen = resyncs_of(store, ctx.clone(), 1, sweeps).await;
            assert_eq!(seen[0].1, PERIOD);
            // The one `a` names is kept; a scope that does not sweep closes none.
            assert_eq!(ctx.keycloak.len(), left, "sweeps: {sweeps}");
        }
    }
}
