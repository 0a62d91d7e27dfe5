//! The queue as operators see it: posts still being delivered, deferred recipients with their
//! last error and next attempt, retry-now and cancel, and the figures behind `/metrics`.

use sqlx::Row;

use super::{Store, StoreError};

/// A post with recipients still to deliver.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InFlight {
    pub queue_id: String,
    /// `None` for mail of the server itself (a sign-in link).
    pub group_id: Option<i64>,
    pub received_at: i64,
    pub queued: i64,
    pub deferred: i64,
    /// Recipients claimed by an instance right now (being sent).
    pub sending: i64,
    pub delivered: i64,
    pub failed: i64,
    /// The earliest next attempt among its waiting recipients.
    pub next_attempt_at: Option<i64>,
}

/// A recipient waiting for a retry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deferred {
    pub queue_id: String,
    pub recipient: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: i64,
}

/// Queue-wide figures for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFigures {
    pub queued: i64,
    pub deferred: i64,
    pub delivered: i64,
    pub failed: i64,
    /// When the oldest post with a waiting recipient arrived.
    pub oldest_waiting_at: Option<i64>,
    pub bounces_received: i64,
    pub bounces_scored: i64,
    pub bounces_ignored: i64,
    pub disabled_by_bounces: i64,
}

const WAITING: &str = "status IN ('queued', 'deferred')";

impl Store {
    /// Posts with recipients still waiting, oldest first.
    pub async fn in_flight(&self, now: i64, limit: usize) -> Result<Vec<InFlight>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT p.queue_id, p.group_id, p.received_at,
                    SUM(CASE WHEN d.status = 'queued' THEN 1 ELSE 0 END) AS queued,
                    SUM(CASE WHEN d.status = 'deferred' THEN 1 ELSE 0 END) AS deferred,
                    SUM(CASE WHEN d.{WAITING} AND d.lease_until >= $1 THEN 1 ELSE 0 END) AS sending,
                    SUM(CASE WHEN d.status = 'delivered' THEN 1 ELSE 0 END) AS delivered,
                    SUM(CASE WHEN d.status = 'failed' THEN 1 ELSE 0 END) AS failed,
                    MIN(CASE WHEN d.{WAITING} THEN d.next_attempt_at END) AS next_attempt_at
             FROM posts p JOIN deliveries d ON d.post_id = p.id
             WHERE p.id IN (SELECT post_id FROM deliveries WHERE {WAITING})
             GROUP BY p.id, p.queue_id, p.group_id, p.received_at
             ORDER BY p.received_at, p.id LIMIT $2"
        ))
        .bind(now)
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InFlight {
                    queue_id: r.try_get("queue_id")?,
                    group_id: r.try_get("group_id")?,
                    received_at: r.try_get("received_at")?,
                    queued: r.try_get("queued")?,
                    deferred: r.try_get("deferred")?,
                    sending: r.try_get("sending")?,
                    delivered: r.try_get("delivered")?,
                    failed: r.try_get("failed")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                })
            })
            .collect()
    }

    /// Deferred recipients, the next due first.
    pub async fn deferred(&self, limit: usize) -> Result<Vec<Deferred>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.queue_id, d.recipient, d.attempts, d.last_error, d.next_attempt_at
             FROM deliveries d JOIN posts p ON p.id = d.post_id
             WHERE d.status = 'deferred' ORDER BY d.next_attempt_at, d.id LIMIT $1",
        )
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Deferred {
                    queue_id: r.try_get("queue_id")?,
                    recipient: r.try_get("recipient")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                })
            })
            .collect()
    }

    /// Makes the waiting recipients of a post (or just `recipient`) due now. Returns how many.
    pub async fn retry_now(
        &self,
        queue_id: &str,
        recipient: Option<&str>,
        now: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE deliveries SET next_attempt_at = $1
             WHERE {WAITING} AND (lease_until IS NULL OR lease_until < $1)
               AND post_id IN (SELECT id FROM posts WHERE queue_id = $2)
               AND ($3 IS NULL OR LOWER(recipient) = LOWER($3))"
        ))
        .bind(now)
        .bind(queue_id)
        .bind(recipient)
        .execute(self.pool())
        .await?;
        self.queue_exists(queue_id).await?;
        Ok(done.rows_affected())
    }

    /// Gives up on the waiting recipients of a post (or just `recipient`): they are marked failed
    /// with the reason "cancelled". A batch being sent at this moment still records its outcome.
    pub async fn cancel(
        &self,
        queue_id: &str,
        recipient: Option<&str>,
        now: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE deliveries SET status = 'failed', last_error = 'cancelled by an administrator',
                    updated_at = $1
             WHERE {WAITING} AND post_id IN (SELECT id FROM posts WHERE queue_id = $2)
               AND ($3 IS NULL OR LOWER(recipient) = LOWER($3))"
        ))
        .bind(now)
        .bind(queue_id)
        .bind(recipient)
        .execute(self.pool())
        .await?;
        self.queue_exists(queue_id).await?;
        Ok(done.rows_affected())
    }

    async fn queue_exists(&self, queue_id: &str) -> Result<(), StoreError> {
        let row = sqlx::query("SELECT id FROM posts WHERE queue_id = $1")
            .bind(queue_id)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!(
                "no post with queue id {queue_id:?}"
            ))),
        }
    }

    pub async fn queue_figures(&self) -> Result<QueueFigures, StoreError> {
        let counts = self.delivery_counts(None).await?;
        let oldest = sqlx::query(&format!(
            "SELECT MIN(p.received_at) AS oldest FROM posts p
             WHERE p.id IN (SELECT post_id FROM deliveries WHERE {WAITING})"
        ))
        .fetch_one(self.pool())
        .await?;
        let bounces = sqlx::query(
            "SELECT COUNT(*) AS received,
                    SUM(CASE WHEN outcome LIKE 'scored%' THEN 1 ELSE 0 END) AS scored,
                    SUM(CASE WHEN outcome LIKE 'ignored%' THEN 1 ELSE 0 END) AS ignored
             FROM inbound_bounces",
        )
        .fetch_one(self.pool())
        .await?;
        let disabled = sqlx::query("SELECT COUNT(*) AS n FROM opt_outs WHERE channel = 'bounce'")
            .fetch_one(self.pool())
            .await?;
        Ok(QueueFigures {
            queued: counts.queued,
            deferred: counts.deferred,
            delivered: counts.delivered,
            failed: counts.failed,
            oldest_waiting_at: oldest.try_get("oldest")?,
            bounces_received: bounces.try_get("received")?,
            bounces_scored: bounces.try_get::<Option<i64>, _>("scored")?.unwrap_or(0),
            bounces_ignored: bounces.try_get::<Option<i64>, _>("ignored")?.unwrap_or(0),
            disabled_by_bounces: disabled.try_get("n")?,
        })
    }
}
