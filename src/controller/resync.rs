//! Periodic resyncs, spread evenly over the resync period: never a burst that would make a new
//! or changed resource wait, and never one for a resource waiting out a backoff.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use futures::Stream;
use kube::runtime::reflector::{ObjectRef, Store};

use super::Guarded;
use crate::{context::Context, reconcile::object_key};

/// Every resource once per `period`, one at a time at even intervals (deadlines, so a round
/// takes the period exactly), skipping malformed resources and those waiting out a backoff.
/// The first round starts one period in, after the watch has reconciled everything once.
pub(super) fn spread_resyncs(
    store: Store<Guarded>,
    period: Duration,
    ctx: Arc<Context>,
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
