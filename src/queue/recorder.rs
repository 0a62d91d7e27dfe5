//! Writes delivery outcomes as they arrive, many workers' in one transaction (group commit).
//!
//! A worker hands over the outcomes of a copy the moment its reply is in; a few copies later it
//! waits until they are written (the transport runs at most four copies ahead of the disk, see
//! `delivery::Progress`). While one write runs, the outcomes
//! that arrive meanwhile gather and go in the next: one write per round of replies, not one per
//! copy.

use std::{future::Future, time::Duration};

use tokio::sync::{mpsc, oneshot};

use crate::{
    clock::SharedClock,
    store::{Store, deliveries::Recorded},
};

/// Most outcomes in one write.
const MOST_PER_WRITE: usize = 2_000;

struct Job {
    rows: Vec<(i64, Recorded)>,
    written: oneshot::Sender<()>,
}

/// The handle workers write through; the writing task runs while it is alive.
#[derive(Clone)]
pub(super) struct Recorder {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Recorder {
    /// Starts the writing task.
    pub(super) fn start(store: Store, clock: SharedClock) -> Recorder {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store, clock, queue));
        Recorder { jobs }
    }

    /// Hands over `rows` (delivery id, outcome) to be written, and their leases freed, at once
    /// (not when the result is first polled); the result ends once they are written, or once
    /// writing them was given up (their lease then expires and they are sent again).
    pub(super) fn submit(
        &self,
        rows: Vec<(i64, Recorded)>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let done = if rows.is_empty() {
            None
        } else {
            let (written, done) = oneshot::channel();
            self.jobs.send(Job { rows, written }).ok().map(|_| done)
        };
        async move {
            if let Some(done) = done {
                let _ = done.await;
            }
        }
    }
}

async fn write_loop(store: Store, clock: SharedClock, mut queue: mpsc::UnboundedReceiver<Job>) {
    while let Some(mut jobs) =
        super::gather(&mut queue, usize::MAX, MOST_PER_WRITE, |j| j.rows.len()).await
    {
        let rows: Vec<(i64, Recorded)> = jobs.iter_mut().flat_map(|j| j.rows.drain(..)).collect();
        write(&store, &clock, &rows).await;
        for job in jobs {
            let _ = job.written.send(());
        }
    }
}

/// Writes outcomes, retrying a failing database for a while: an unrecorded copy is sent again
/// after its lease expires.
async fn write(store: &Store, clock: &SharedClock, rows: &[(i64, Recorded)]) {
    let mut wait = Duration::from_millis(100);
    for attempt in 1..=8 {
        match store.record_outcomes(rows, clock.now_ms()).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(attempt, recipients = rows.len(), error = %e, "cannot record delivery outcomes; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
    tracing::error!(
        recipients = rows.len(),
        "gave up recording delivery outcomes; these recipients will be sent again after their lease"
    );
}
