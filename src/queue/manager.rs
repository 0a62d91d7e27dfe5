//! The delivery loop: claim a due batch, send it on a worker, record what happened; repeat.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{Notify, Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    Queue,
    claims::Claimer,
    prepared::{Content, Prepared, PreparedPosts},
    recorder::Recorder,
    schedule::RetrySchedule,
};
use crate::{
    bounce::{Refusal, score::Scoring, verp::Verp},
    clock::SharedClock,
    config::VerpMode,
    delivery::{Copy, Progress, RcptOutcome, Transport, Waiting},
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
    /// Bounce scoring, for recipients refused with 5xx at RCPT.
    pub scoring: Scoring,
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
    /// Writes outcomes as they arrive (started by [`QueueManager::run`]).
    recorder: Option<Recorder>,
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
            recorder: None,
        }
    }

    /// Copies of lists with `unsubscribe_links` carry each recipient's own link.
    pub fn with_links(mut self, links: Links) -> QueueManager {
        self.links = Some(links);
        self
    }

    /// Runs until `shutdown`; then lets batches in flight finish (the caller bounds the wait).
    pub async fn run(mut self, shutdown: CancellationToken) {
        self.recorder = Some(Recorder::start(self.store.clone(), self.clock.clone()));
        if self.store.backend() == Backend::Sqlite {
            // SQLite is single-instance: a lease left in the table is from a process that died.
            match self.store.release_all_leases(self.clock.now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(recipients = n, "resuming batches interrupted by a crash"),
                Err(e) => tracing::error!(error = %e, "cannot release old leases"),
            }
        }
        tracing::info!(transport = %self.transport.describe(), owner = %self.owner, "delivery started");
        let workers = Arc::new(Semaphore::new(self.settings.workers));
        let tracker = TaskTracker::new();
        let this = Arc::new(self);
        let mut claims = Claimer::default();
        loop {
            let permit = tokio::select! {
                p = workers.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = shutdown.cancelled() => break,
            };
            let now = this.clock.now_ms();
            let lease_until = now + this.settings.lease.as_millis() as i64;
            match claims
                .next(
                    &this.store,
                    &this.owner,
                    now,
                    lease_until,
                    this.settings.batch_size,
                )
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
        if let Err(e) = this
            .store
            .release_leases_of(&this.owner, this.clock.now_ms())
            .await
        {
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
        // Each copy's outcome is written as soon as its reply is in (see `Reporter`); what the
        // transport never attempted is written here.
        let mut offsets = Vec::with_capacity(copies.len());
        let mut at = 0;
        for copy in &copies {
            offsets.push(at);
            at += copy.recipients.len();
        }
        let reporter = Reporter {
            manager: self,
            batch: &batch,
            offsets,
            received_at: post.received_at,
            reported: Mutex::new(vec![false; batch.len()]),
        };
        let outcomes: Vec<RcptOutcome> = tokio::select! {
            outcomes = self.transport.send(&copies, &reporter) => outcomes,
            never = self.renew_leases(&batch) => match never {},
        }
        .into_iter()
        .flatten()
        .collect();
        let reported = reporter
            .reported
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        let now = self.clock.now_ms();
        let refusals: Vec<Refusal> = batch
            .iter()
            .zip(&outcomes)
            .filter_map(|(c, o)| match o {
                RcptOutcome::Refused { error, status } => Some(Refusal {
                    recipient: c.recipient.clone(),
                    status: status.clone(),
                    diagnostic: error.clone(),
                }),
                _ => None,
            })
            .collect();
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
        let unreported: Vec<(i64, Recorded)> = recorded
            .iter()
            .zip(&reported)
            .filter(|(_, done)| !**done)
            .map(|(r, _)| r.clone())
            .collect();
        self.write(unreported).await;
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
        if !refusals.is_empty() && post.group_id != 0 {
            let scoring = self.settings.scoring;
            if let Err(e) =
                crate::bounce::score_refusals(&self.store, scoring, post.group_id, &refusals, now)
                    .await
            {
                tracing::error!(queue_id = %post.queue_id, error = %e, "cannot score the refusals at RCPT");
            }
        }
    }

    /// Keeps the batch's lease while it is being sent (a slow relay, or a fan-out of many
    /// personal copies): a third of `delivery.lease` before it would run out, it is extended by
    /// another lease. Runs until dropped.
    async fn renew_leases(&self, batch: &[Claimed]) -> std::convert::Infallible {
        let lease = self.settings.lease;
        let ids: Vec<i64> = batch.iter().map(|c| c.id).collect();
        loop {
            tokio::time::sleep(lease / 3).await;
            let until = self.clock.now_ms() + lease.as_millis() as i64;
            if let Err(e) = self.store.renew_leases(&self.owner, &ids, until).await {
                tracing::warn!(error = %e, "cannot extend the lease of a batch being sent");
            }
        }
    }

    /// Writes outcomes through the recorder (or at once, before [`QueueManager::run`]).
    async fn write(&self, rows: Vec<(i64, Recorded)>) {
        self.submit(rows).await
    }

    /// Hands outcomes to the recorder now; the future ends when they are written. Before
    /// [`QueueManager::run`] (no recorder) they are written when it is awaited.
    fn submit(&self, rows: Vec<(i64, Recorded)>) -> Waiting<'_> {
        match &self.recorder {
            Some(recorder) => Box::pin(recorder.submit(rows)),
            None => Box::pin(async move {
                if rows.is_empty() {
                    return;
                }
                if let Err(e) = self.store.record_outcomes(&rows, self.clock.now_ms()).await {
                    tracing::error!(error = %e, "cannot record delivery outcomes; they are sent again after their lease");
                }
            }),
        }
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
}

/// Hears a batch's outcomes copy by copy from the transport and writes each at once.
struct Reporter<'a> {
    manager: &'a QueueManager,
    batch: &'a [Claimed],
    /// Per copy, the place of its first recipient in `batch`.
    offsets: Vec<usize>,
    received_at: i64,
    /// Per recipient of `batch`: written already.
    reported: Mutex<Vec<bool>>,
}

impl Progress for Reporter<'_> {
    fn done(&self, outcomes: Vec<(usize, usize, RcptOutcome)>) -> Waiting<'_> {
        let now = self.manager.clock.now_ms();
        let mut rows = Vec::with_capacity(outcomes.len());
        {
            let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
            for (copy, r, outcome) in outcomes {
                let Some(place) = self.offsets.get(copy).map(|o| o + r) else {
                    continue;
                };
                let (Some(claimed), Some(done)) = (self.batch.get(place), reported.get_mut(place))
                else {
                    continue;
                };
                *done = true;
                let recorded = self.manager.settings.schedule.record(
                    outcome,
                    claimed.attempts,
                    self.received_at,
                    now,
                );
                rows.push((claimed.id, recorded));
            }
        }
        self.manager.submit(rows)
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "circlemail".into())
}
