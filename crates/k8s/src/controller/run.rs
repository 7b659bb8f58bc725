//! The work queue: records come in from the index's watches (a change to the record, its Job or
//! its pods) and from the one timer each record may carry. Each record is reconciled by one
//! worker at a time, at most [`CONCURRENCY`] at once, with exponential backoff after errors.
//! Only the leader works; a process that loses the lease stops at once.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Context, Next, reconcile, release_legacy_pods};
use crate::record::JobTermination;

/// Records reconciled at once.
pub const CONCURRENCY: usize = 32;
/// The first retry after an error; it doubles per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How soon a record is looked at again when a write found the cache behind.
const SOON: Duration = Duration::from_millis(500);

/// Namespace and name of a record.
type Key = (String, String);

fn key(r: ObjectRef<JobTermination>) -> Key {
    (r.namespace.unwrap_or_default(), r.name)
}

/// The backoff after `failures` consecutive failures.
fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    MIN_BACKOFF.saturating_mul(1 << exp).min(MAX_BACKOFF)
}

/// Which records to reconcile now, which later, and which are being reconciled.
#[derive(Default, Debug)]
struct Queue {
    ready: VecDeque<Key>,
    queued: HashSet<Key>,
    running: HashSet<Key>,
    /// Changed while being reconciled: reconciled again right after.
    dirty: HashSet<Key>,
    timers: BTreeSet<(Instant, Key)>,
    due: HashMap<Key, Instant>,
    failures: HashMap<Key, u32>,
}

impl Queue {
    fn push(&mut self, key: Key) {
        if self.running.contains(&key) {
            self.dirty.insert(key);
        } else if self.queued.insert(key.clone()) {
            self.ready.push_back(key);
        }
    }

    fn schedule(&mut self, key: Key, at: Option<Instant>) {
        if let Some(old) = self.due.remove(&key) {
            self.timers.remove(&(old, key.clone()));
        }
        if let Some(at) = at {
            self.due.insert(key.clone(), at);
            self.timers.insert((at, key));
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    fn fire(&mut self, now: Instant) {
        while let Some((at, key)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            self.due.remove(&key);
            self.push(key);
        }
    }

    fn pop(&mut self) -> Option<Key> {
        let key = self.ready.pop_front()?;
        self.queued.remove(&key);
        self.running.insert(key.clone());
        Some(key)
    }

    /// Records the outcome of a reconcile: the record's timer, its backoff, and a change that
    /// arrived meanwhile.
    fn finish(&mut self, key: Key, outcome: Result<Next, ()>, now: Instant) {
        self.running.remove(&key);
        let at = match outcome {
            Ok(next) => {
                self.failures.remove(&key);
                match next {
                    Next::Done => None,
                    Next::Soon => Some(now + SOON),
                    Next::At(t) => Some(now + (t - Utc::now()).to_std().unwrap_or_default()),
                }
            }
            Err(()) => {
                let failures = self.failures.entry(key.clone()).or_default();
                *failures += 1;
                Some(now + backoff(*failures))
            }
        };
        self.schedule(key.clone(), at);
        if self.dirty.remove(&key) {
            self.push(key);
        }
    }

    /// Forgets everything but the records being reconciled (whose workers are aborted).
    fn clear(&mut self) {
        *self = Queue::default();
    }
}

/// Runs the controller until `shutdown` turns true: while `leader` is true it reconciles the
/// records that `triggers` names (and every record once, on becoming leader).
pub async fn run(
    ctx: Arc<Context>,
    mut triggers: mpsc::UnboundedReceiver<ObjectRef<JobTermination>>,
    mut leader: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::select! {
        _ = ctx.index.wait_synced() => {}
        _ = shutdown.wait_for(|stop| *stop) => return,
    }
    let mut queue = Queue::default();
    let mut workers: JoinSet<(Key, Result<Next, ()>)> = JoinSet::new();
    let mut leading = false;
    let mut released = false;
    loop {
        let lead = *leader.borrow_and_update();
        if lead != leading {
            leading = lead;
            workers.abort_all();
            queue.clear();
            if leading {
                tracing::info!("leading: reconciling every record");
                for r in ctx.index.record_refs() {
                    queue.push(key(r));
                }
                if !released {
                    released = true;
                    let ctx = ctx.clone();
                    tokio::spawn(async move { release_legacy_pods(&ctx).await });
                }
            } else {
                tracing::info!("no longer leading: the controller stops");
            }
        }
        while leading && workers.len() < CONCURRENCY {
            let Some(key) = queue.pop() else { break };
            let ctx = ctx.clone();
            workers.spawn(async move {
                let outcome = reconcile(&ctx, &key.0, &key.1).await.map_err(|error| {
                    let stage = error.stage();
                    ctx.metrics.controller.failed(stage);
                    let error: &dyn std::error::Error = &error;
                    tracing::warn!(
                        namespace = key.0,
                        record = key.1,
                        stage = stage.as_str(),
                        error,
                        "reconcile failed"
                    );
                });
                (key, outcome)
            });
        }
        let timer = queue.next_timer();
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            changed = leader.changed() => {
                if changed.is_err() {
                    // The election is over (shutdown): stop acting.
                    break;
                }
            }
            Some(r) = triggers.recv() => {
                if leading {
                    queue.push(key(r));
                }
            }
            Some(joined) = workers.join_next(), if !workers.is_empty() => {
                if let Ok((key, outcome)) = joined {
                    queue.finish(key, outcome, Instant::now());
                }
            }
            _ = tokio::time::sleep_until(timer.unwrap_or_else(Instant::now)), if timer.is_some() => {
                queue.fire(Instant::now());
            }
        }
    }
    workers.abort_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(name: &str) -> Key {
        ("ns".into(), name.into())
    }

    #[test]
    fn a_record_is_queued_once_and_reconciled_by_one_worker_at_a_time() {
        let mut q = Queue::default();
        q.push(k("a"));
        q.push(k("a"));
        q.push(k("b"));
        assert_eq!(q.pop(), Some(k("a")));
        // Changed while running: not handed out twice, but again once it finishes.
        q.push(k("a"));
        assert_eq!(q.pop(), Some(k("b")));
        assert_eq!(q.pop(), None);
        q.finish(k("a"), Ok(Next::Done), Instant::now());
        assert_eq!(q.pop(), Some(k("a")));
    }

    #[test]
    fn errors_back_off_exponentially_and_success_resets() {
        assert_eq!(backoff(1), MIN_BACKOFF);
        assert_eq!(backoff(2), MIN_BACKOFF * 2);
        assert_eq!(backoff(4), MIN_BACKOFF * 8);
        assert_eq!(backoff(40), MAX_BACKOFF);
        let mut q = Queue::default();
        let now = Instant::now();
        for failures in 1..=3 {
            q.push(k("a"));
            q.pop();
            q.finish(k("a"), Err(()), now);
            assert_eq!(q.next_timer(), Some(now + backoff(failures)));
        }
        q.push(k("a"));
        q.pop();
        q.finish(k("a"), Ok(Next::Done), now);
        assert_eq!(q.next_timer(), None, "done: no timer");
        assert!(q.failures.is_empty());
    }

    #[test]
    fn timers_fire_in_order_and_a_new_one_replaces_the_old() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.schedule(k("a"), Some(now + Duration::from_secs(5)));
        q.schedule(k("b"), Some(now + Duration::from_secs(1)));
        q.schedule(k("a"), Some(now + Duration::from_secs(2)));
        assert_eq!(q.timers.len(), 2);
        q.fire(now + Duration::from_secs(1));
        assert_eq!(q.pop(), Some(k("b")));
        assert_eq!(q.pop(), None);
        q.fire(now + Duration::from_secs(3));
        assert_eq!(q.pop(), Some(k("a")));
        assert_eq!(q.next_timer(), None);
    }
}
