//! The queue: the contract between acceptance and delivery (Postfix's qmgr, in spirit).
//!
//! Acceptance ([`Queue::enqueue`]) writes a post with every recipient in one transaction, before
//! the SMTP `250`. The [`manager`] claims due recipients in batches under a lease, hands each batch
//! to the transport and records each recipient's outcome. States per recipient:
//!
//! ```text
//!   queued ──► (leased) ──► delivered
//!     ▲            │
//!     │            ├──► deferred ──(next_attempt_at)──► (leased) … ──► failed (5xx, or too old)
//!     └────────────┘ (lease expired: the process died mid-batch; the batch is sent again)
//! ```
//!
//! A crash loses nothing: an unrecorded recipient is sent again once its lease is free. Outcomes
//! are written copy by copy as the replies arrive ([`recorder`]), and a connection sends a
//! content only while at most four copies' outcomes are being written (a few copies ahead of
//! the disk), so the only duplicates are the copies in flight at the moment of the crash: five
//! personal copies per open connection (at most `5 × delivery.workers`), or one batched
//! transaction per connection (at most
//! `delivery.workers × delivery.max_recipients_per_transaction` recipients).

mod claims;
mod intake;
pub mod manager;
mod prepared;
mod recorder;
pub mod schedule;

use std::sync::{Arc, OnceLock};

use tokio::sync::{Notify, mpsc, oneshot};

use crate::store::{
    Store, StoreError,
    held::NewHeld,
    posts::{NewBounce, NewPost},
};

/// Group commit's gathering: waits for the first item, then takes the items already waiting
/// while the batch has fewer than `most_items` and weighs less than `most_weight` (each item
/// weighing `weight`). `None` once every sender is gone.
async fn gather<T>(
    queue: &mut mpsc::UnboundedReceiver<T>,
    most_items: usize,
    most_weight: usize,
    weight: impl Fn(&T) -> usize,
) -> Option<Vec<T>> {
    let first = queue.recv().await?;
    let mut total = weight(&first);
    let mut batch = vec![first];
    while batch.len() < most_items && total < most_weight {
        match queue.try_recv() {
            Ok(next) => {
                total += weight(&next);
                batch.push(next);
            }
            Err(_) => break,
        }
    }
    Some(batch)
}

/// The acceptance side of the queue: cheap to clone, shared by every SMTP session.
#[derive(Clone)]
pub struct Queue {
    store: Store,
    wake: Arc<Notify>,
    /// The group-commit writer ([`intake`]), started by the first message.
    intake: Arc<OnceLock<mpsc::UnboundedSender<intake::Accepted>>>,
}

impl Queue {
    pub fn new(store: Store) -> Queue {
        Queue {
            store,
            wake: Arc::new(Notify::new()),
            intake: Arc::new(OnceLock::new()),
        }
    }

    /// Stores posts, bounces and held posts durably (all or nothing; in one transaction with
    /// other sessions' messages, see [`intake`]), then wakes the delivery side. Returns the ids
    /// of the held posts.
    pub async fn enqueue(
        &self,
        posts: &[NewPost],
        bounces: &[NewBounce],
        held: &[NewHeld],
    ) -> Result<Vec<i64>, StoreError> {
        let writer = self
            .intake
            .get_or_init(|| intake::start(self.store.clone()));
        let (stored, result) = oneshot::channel();
        let accepted = intake::Accepted {
            posts: posts.to_vec(),
            bounces: bounces.to_vec(),
            held: held.to_vec(),
            stored,
        };
        let held_ids = match writer.send(accepted) {
            Ok(()) => result.await.unwrap_or_else(|_| {
                Err(StoreError::Conflict(
                    "the queue's writer stopped before storing the message".into(),
                ))
            })?,
            // The writer's runtime is gone (a test's, say): store it here.
            Err(mpsc::error::SendError(a)) => {
                self.store
                    .insert_accepted(&a.posts, &a.bounces, &a.held)
                    .await?
            }
        };
        if !posts.is_empty() {
            self.wake.notify_one();
        }
        Ok(held_ids)
    }

    /// Tells the delivery side new work is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}
