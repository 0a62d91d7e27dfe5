//! How the delivery loop takes its batches: one claim after another through a post, each
//! starting where the one before it ended, with a full look at the queue now and then.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use crate::store::{
    Store, StoreError,
    deliveries::{ClaimCursor, Claimed},
};

/// How long a claimer follows its cursor before it looks at the whole queue again: recipients
/// behind the cursor that became due (an expired lease, a retry due early) and other posts wait
/// at most this long, and a full claim's cost (on PostgreSQL, O(recipients claimed since the
/// last vacuum)) is paid at most this often.
const RECHECK: Duration = Duration::from_secs(1);

/// Recipients claimed between two vacuums of the delivery table (PostgreSQL; see
/// [`Store::tidy_deliveries`]), one at a time: a 100,000-member post gets a few.
const TIDY_EVERY: usize = 25_000;

/// One delivery loop's claims.
#[derive(Default)]
pub(super) struct Claimer {
    /// Where the last batch ended, while the post has more.
    cursor: Option<ClaimCursor>,
    /// When the last full claim ran.
    full_at: Option<Instant>,
    tidy: Tidy,
}

impl Claimer {
    /// The next batch: up to `limit` due recipients of one post, leased to `owner` until
    /// `lease_until`; empty when nothing is due.
    pub(super) async fn next(
        &mut self,
        store: &Store,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let fresh = self.full_at.is_some_and(|at| at.elapsed() < RECHECK);
        let mut batch = match self.cursor.take().filter(|_| fresh) {
            Some(after) => {
                store
                    .claim_batch_after(owner, now, lease_until, limit, after)
                    .await?
            }
            None => Vec::new(),
        };
        if batch.is_empty() {
            self.full_at = Some(Instant::now());
            batch = store.claim_batch(owner, now, lease_until, limit).await?;
        }
        self.cursor = ClaimCursor::after(&batch);
        self.tidy.claimed(store, batch.len());
        Ok(batch)
    }
}

/// Starts [`Store::tidy_deliveries`] every [`TIDY_EVERY`] claimed recipients, one at a time
/// (the store knows which backend needs it).
#[derive(Default)]
struct Tidy {
    claimed: usize,
    running: Arc<AtomicBool>,
}

impl Tidy {
    fn claimed(&mut self, store: &Store, n: usize) {
        self.claimed += n;
        if self.claimed < TIDY_EVERY {
            return;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.claimed = 0;
        let (store, running) = (store.clone(), self.running.clone());
        tokio::spawn(async move {
            let start = Instant::now();
            match store.tidy_deliveries().await {
                Ok(()) => tracing::debug!(
                    ms = start.elapsed().as_millis() as u64,
                    "delivery table vacuumed"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot vacuum the delivery table (it only grows slower to claim from)")
                }
            }
            running.store(false, Ordering::Release);
        });
    }
}
