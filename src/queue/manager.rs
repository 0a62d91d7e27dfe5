//! The delivery loop: claim a due batch, send it on a worker, record what happened; repeat.

use std::{sync::Arc, time::Duration};

use tokio::sync::{Notify, Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    Queue,
    prepared::{Content, Prepared, PreparedPosts},
    schedule::RetrySchedule,
};
use crate::{
    bounce::verp::Verp,
    clock::SharedClock,
    config::VerpMode,
    delivery::{Copy, Transport},
    signing::Signers,
    store::{
        Backend, Store,
        deliveries::{Claimed, Recorded},
    },
    unsubscribe::Links,
};

/// What the manager needs from `[delivery]`.
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    pub workers: usize,
    pub batch_size: usize,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub schedule: RetrySchedule,
    /// When copies get a VERP envelope sender, and the key that tags it.
    pub verp: VerpMode,
    pub verp_key: Verp,
}

pub struct QueueManager {
    store: Store,
    clock: SharedClock,
    transport: Arc<Transport>,
    signers: Signers,
    settings: ManagerSettings,
    wake: Arc<Notify>,
    /// This process's name on the leases it takes.
    owner: String,
    /// Personal unsubscribe links in copies (unset: copies carry none).
    links: Option<Links>,
    /// The posts being sent, made ready once for all their batches.
    prepared: PreparedPosts,
}

impl QueueManager {
    pub fn new(
        queue: &Queue,
        store: Store,
        clock: SharedClock,
        transport: Transport,
        signers: Signers,
        settings: ManagerSettings,
    ) -> QueueManager {
        let owner = format!(
            "{}-{}-{:08x}",
            hostname(),
            std::process::id(),
            rand::random::<u32>()
        );
        let prepared = PreparedPosts::new(settings.workers);
        QueueManager {
            store,
            clock,
            transport: Arc::new(transport),
            signers,
            settings,
            wake: queue.wake_handle(),
            owner,
            links: None,
            prepared,
        }
    }

    /// Copies of lists with `unsubscribe_links` carry each recipient's own link.
    pub fn with_links(mut self, links: Links) -> QueueManager {
        self.links = Some(links);
        self
    }

    /// Runs until `shutdown`; then lets batches in flight finish (the caller bounds the wait).
    pub async fn run(self, shutdown: CancellationToken) {
        if self.store.backend() == Backend::Sqlite {
            // SQLite is single-instance: a lease left in the table is from a process that died.
            match self.store.release_all_leases().await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(recipients = n, "resuming batches interrupted by a crash"),
                Err(e) => tracing::error!(error = %e, "cannot release old leases"),
            }
        }
        tracing::info!(transport = %self.transport.describe(), owner = %self.owner, "delivery started");
        let workers = Arc::new(Semaphore::new(self.settings.workers));
        let tracker = TaskTracker::new();
        let this = Arc::new(self);
        loop {
            let permit = tokio::select! {
                p = workers.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = shutdown.cancelled() => break,
            };
            let now = this.clock.now_ms();
            let lease_until = now + this.settings.lease.as_millis() as i64;
            match this
                .store
                .claim_batch(&this.owner, now, lease_until, this.settings.batch_size)
                .await
            {
                Ok(batch) if !batch.is_empty() => {
                    let this = this.clone();
                    tracker.spawn(async move {
                        this.deliver(batch).await;
                        drop(permit);
                    });
                }
                Ok(_) => {
                    drop(permit);
                    let wait = this.idle_wait(now).await;
                    tokio::select! {
                        _ = this.wake.notified() => {}
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.cancelled() => break,
                    }
                }
                Err(e) => {
                    drop(permit);
                    tracing::error!(error = %e, "cannot claim deliveries; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(this.settings.poll_interval) => {}
                        _ = shutdown.cancelled() => break,
                    }
                }
            }
        }
        tracker.close();
        tracker.wait().await;
        if let Err(e) = this.store.release_leases_of(&this.owner).await {
            tracing::warn!(error = %e, "cannot release leases at shutdown; they expire on their own");
        }
        tracing::info!("delivery stopped");
    }

    /// How long to sleep when nothing is due: until the next retry, at most `poll_interval`.
    async fn idle_wait(&self, now: i64) -> Duration {
        let poll = self.settings.poll_interval;
        match self.store.next_due_at().await {
            Ok(Some(due)) if due > now => poll.min(Duration::from_millis((due - now) as u64)),
            Ok(Some(_)) => Duration::from_millis(20).min(poll),
            _ => poll,
        }
    }

    /// Sends one batch (recipients of one post) and records every recipient's outcome.
    async fn deliver(&self, batch: Vec<Claimed>) {
        let Some(post_id) = batch.first().map(|c| c.post_id) else {
            return;
        };
        let prepared = match self.prepared(post_id).await {
            Ok(prepared) => prepared,
            Err(e) => {
                tracing::error!(post_id, error = %e, "cannot load or prepare the post; its lease will expire and it will be retried");
                return;
            }
        };
        let post = &prepared.post;
        let recipients: Vec<String> = batch.iter().map(|c| c.recipient.clone()).collect();
        let verp = self.settings.verp;
        let sender = |r: &str| match verp {
            VerpMode::Never => post.envelope_from.clone(),
            _ => self.settings.verp_key.sender_from(&post.envelope_from, r),
        };
        let copies: Vec<Copy> = match &prepared.content {
            Content::Personal(personal) => self
                .signers
                .sign_personal_async(personal.clone(), recipients.clone())
                .await
                .into_iter()
                .zip(&recipients)
                .map(|(message, r)| Copy {
                    envelope_from: sender(r),
                    recipients: vec![r.clone()],
                    message,
                })
                .collect(),
            // VERP: one transaction per recipient, the same signed bytes in each.
            Content::Shared(message) if verp == VerpMode::Always => recipients
                .iter()
                .map(|r| Copy {
                    envelope_from: sender(r),
                    recipients: vec![r.clone()],
                    message: message.clone(),
                })
                .collect(),
            Content::Shared(message) => vec![Copy {
                envelope_from: post.envelope_from.clone(),
                recipients,
                message: message.clone(),
            }],
        };
        let outcomes = self.transport.send(&copies).await.into_iter().flatten();
        let now = self.clock.now_ms();
        let recorded: Vec<(i64, Recorded)> = batch
            .iter()
            .zip(outcomes)
            .map(|(c, o)| {
                (
                    c.id,
                    self.settings
                        .schedule
                        .record(o, c.attempts, post.received_at, now),
                )
            })
            .collect();
        let count = |f: fn(&Recorded) -> bool| recorded.iter().filter(|(_, r)| f(r)).count();
        let delivered = count(|r| matches!(r, Recorded::Delivered));
        let deferred = count(|r| matches!(r, Recorded::Deferred { .. }));
        let failed = count(|r| matches!(r, Recorded::Failed { .. }));
        let first_error = recorded.iter().find_map(|(_, r)| match r {
            Recorded::Deferred { error, .. } | Recorded::Failed { error } => Some(error.as_str()),
            Recorded::Delivered => None,
        });
        tracing::info!(
            queue_id = %post.queue_id,
            recipients = recorded.len(),
            delivered,
            deferred,
            failed,
            error = first_error.unwrap_or(""),
            "delivery batch"
        );
        crate::metrics::record_batch(delivered, deferred, failed, copies.len());
        self.record(&post.queue_id, &recorded, now).await;
    }

    /// The post of a batch, loaded and made ready once for all its batches.
    async fn prepared(&self, post_id: i64) -> Result<Arc<Prepared>, String> {
        if let Some(prepared) = self.prepared.get(post_id) {
            return Ok(prepared);
        }
        let post = self
            .store
            .load_post(post_id)
            .await
            .map_err(|e| e.to_string())?;
        let prepared = Arc::new(Prepared::make(post, &self.signers, self.links.as_ref()).await?);
        self.prepared.keep(post_id, prepared.clone());
        Ok(prepared)
    }

    /// Writes outcomes, retrying a failing database for a while: an unrecorded batch is sent
    /// again after its lease expires, which is a duplicate for every one of its recipients.
    async fn record(&self, queue_id: &str, recorded: &[(i64, Recorded)], now: i64) {
        let mut wait = Duration::from_millis(100);
        for attempt in 1..=8 {
            match self.store.record_outcomes(recorded, now).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(queue_id, attempt, error = %e, "cannot record delivery outcomes; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
        tracing::error!(
            queue_id,
            "gave up recording delivery outcomes; the batch will be sent again after its lease"
        );
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "circlemail".into())
}
