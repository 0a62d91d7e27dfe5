//! Stores accepted messages for many SMTP sessions in one transaction (group commit).
//!
//! Every session's `250` waits for its message to be on disk, and on disk means a flush: one per
//! transaction. While one transaction is being written, the messages accepted meanwhile gather
//! and go in the next, so concurrent sessions share a flush instead of queueing for one each
//! (SQLite takes one writer at a time anyway). A session's reply still comes only after the
//! transaction holding its message has committed. If a shared transaction fails, each message
//! in it is tried again on its own, so one bad message cannot fail the others.

use tokio::sync::{mpsc, oneshot};

use crate::store::{
    Store, StoreError,
    held::NewHeld,
    posts::{NewBounce, NewPost},
};

/// Most messages in one transaction.
const MOST_MESSAGES: usize = 256;
/// Recipients at which a transaction takes no more messages (a post to a large list is big
/// enough on its own).
const MOST_RECIPIENTS: usize = 20_000;

/// One accepted message's rows, and who waits for them to be stored.
pub(super) struct Accepted {
    pub posts: Vec<NewPost>,
    pub bounces: Vec<NewBounce>,
    pub held: Vec<NewHeld>,
    pub stored: oneshot::Sender<Result<Vec<i64>, StoreError>>,
}

impl Accepted {
    fn recipients(&self) -> usize {
        self.posts.iter().map(|p| p.recipients.len()).sum::<usize>() + 1
    }
}

/// Starts the writing task; it ends when every sender is gone.
pub(super) fn start(store: Store) -> mpsc::UnboundedSender<Accepted> {
    let (sender, queue) = mpsc::unbounded_channel();
    tokio::spawn(write_loop(store, queue));
    sender
}

async fn write_loop(store: Store, mut queue: mpsc::UnboundedReceiver<Accepted>) {
    while let Some(batch) = super::gather(
        &mut queue,
        MOST_MESSAGES,
        MOST_RECIPIENTS,
        Accepted::recipients,
    )
    .await
    {
        write(&store, batch).await;
    }
}

async fn write(store: &Store, batch: Vec<Accepted>) {
    if batch.len() > 1 {
        let rows: Vec<(&[NewPost], &[NewBounce], &[NewHeld])> = batch
            .iter()
            .map(|a| (a.posts.as_slice(), a.bounces.as_slice(), a.held.as_slice()))
            .collect();
        match store.insert_accepted_many(&rows).await {
            Ok(held) => {
                for (accepted, ids) in batch.into_iter().zip(held) {
                    let _ = accepted.stored.send(Ok(ids));
                }
                return;
            }
            Err(e) => {
                tracing::warn!(messages = batch.len(), error = %e, "cannot store accepted messages together; storing each on its own");
            }
        }
    }
    for accepted in batch {
        let result = store
            .insert_accepted(&accepted.posts, &accepted.bounces, &accepted.held)
            .await;
        let _ = accepted.stored.send(result);
    }
}
