//! Per-recipient delivery state: claiming due batches under a lease, and recording outcomes.

use sqlx::Row;

use super::{Backend, Store, StoreError, dialect::json_param};

/// A recipient claimed for one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub post_id: i64,
    pub recipient: String,
    pub attempts: i64,
    /// When it was due (its `next_attempt_at` before the claim moved it to the lease's end).
    pub due: i64,
}

/// Where a batch ended in its post's claim order (due time, then id): the next claim of the same
/// post can start there ([`Store::claim_batch_after`]) instead of at the post's first entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimCursor {
    pub post_id: i64,
    pub due: i64,
    pub id: i64,
}

impl ClaimCursor {
    /// The end of `batch` (recipients of one post), if it has any.
    pub fn after(batch: &[Claimed]) -> Option<ClaimCursor> {
        batch
            .iter()
            .max_by_key(|c| (c.due, c.id))
            .map(|c| ClaimCursor {
                post_id: c.post_id,
                due: c.due,
                id: c.id,
            })
    }
}

/// What became of one recipient after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Delivered,
    /// Try again at `next_attempt_at` (epoch ms).
    Deferred {
        error: String,
        next_attempt_at: i64,
    },
    Failed {
        error: String,
    },
}

/// Counts of a post's recipients by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub queued: i64,
    pub deferred: i64,
    pub delivered: i64,
    pub failed: i64,
}

/// A recipient's state, for the queue listing and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Recipients queued at once from which PostgreSQL's statistics are refreshed
/// ([`Store::added_deliveries`]).
pub const STATISTICS_FROM: usize = 10_000;

/// Due and not leased. A claim moves `next_attempt_at` to the end of its lease, so leased rows
/// are outside the due range of the indexes; the lease test stays for leases taken otherwise.
const DUE: &str = "status IN ('queued', 'deferred') AND next_attempt_at <= $2
                   AND (lease_until IS NULL OR lease_until < $2)";

impl Store {
    /// Leases up to `limit` due recipients of one post (the post due longest) to `owner` until
    /// `lease_until`. Returns nothing when no recipient is due.
    ///
    /// Costs O(batch), not O(post): the post is the first entry of `deliveries_due`, and its
    /// batch the first `limit` entries of `deliveries_post_due` (post, due time, id) — leased,
    /// delivered and failed recipients are not in that range (migration 0012). On PostgreSQL
    /// that holds once a vacuum has run: until then the index keeps an entry for every row
    /// version a claim or an outcome replaced, and this claim steps over all of them. Claims
    /// that follow one another in a post use [`Store::claim_batch_after`].
    pub async fn claim_batch(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let lock = self.backend().skip_locked();
        let post = format!(
            "post_id = (SELECT post_id FROM deliveries WHERE {DUE}
                        ORDER BY next_attempt_at, post_id LIMIT 1 {lock})"
        );
        self.claim(&post, owner, now, lease_until, limit, None)
            .await
    }

    /// Like [`Store::claim_batch`], in the post of `after` and past it in claim order: the
    /// next batch of a post being sent, found without stepping over the recipients claimed
    /// before it, whatever a vacuum has or has not removed yet. Recipients the cursor has
    /// passed and that are due again (a lease that expired, an earlier retry) are not seen
    /// here; [`Store::claim_batch`] finds them.
    pub async fn claim_batch_after(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: usize,
        after: ClaimCursor,
    ) -> Result<Vec<Claimed>, StoreError> {
        let post = "post_id = $5 AND (next_attempt_at, id) > ($6, $7)";
        self.claim(post, owner, now, lease_until, limit, Some(after))
            .await
    }

    async fn claim(
        &self,
        post: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: usize,
        after: Option<ClaimCursor>,
    ) -> Result<Vec<Claimed>, StoreError> {
        let lock = self.backend().skip_locked();
        let claimed = self.backend().claimed_rows(DUE);
        // The batch is picked in a MATERIALIZED CTE: PostgreSQL may otherwise re-run a LIMITed
        // subquery inside `IN (…)` and lease more rows than asked for. The rows are updated
        // by id (not joined to the batch: with the LIMIT unknown, a generic plan expects
        // thousands of rows and merge-joins the whole table), and each one's due time comes
        // back through a subquery.
        let sql = format!(
            "WITH batch AS MATERIALIZED (
                 SELECT id, next_attempt_at AS due FROM deliveries
                 WHERE {DUE} AND {post}
                 ORDER BY post_id, next_attempt_at, id LIMIT $4 {lock})
             UPDATE deliveries SET lease_owner = $1, lease_until = $3, next_attempt_at = $3
             WHERE {claimed}
             RETURNING id, post_id, recipient, attempts,
                       (SELECT due FROM batch WHERE batch.id = deliveries.id) AS due"
        );
        let mut query = sqlx::query(&sql)
            .bind(owner)
            .bind(now)
            .bind(lease_until)
            .bind(limit as i64);
        if let Some(after) = after {
            query = query.bind(after.post_id).bind(after.due).bind(after.id);
        }
        // On the connection of the outcomes (`Store::unflushed`). On SQLite that commit does
        // not wait for the disk flush — a claim is only a lease, and one lost to a power
        // failure makes its recipients due again, as a lost outcome does — and claims and
        // outcome writes take turns on one connection instead of colliding on the write lock
        // (the loser sleeps in SQLite's busy handler, a millisecond at least). On PostgreSQL
        // it is the pool, and the claim commits as any statement does.
        let rows = query.fetch_all(&self.unflushed).await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(Claimed {
                    id: row.try_get("id")?,
                    post_id: row.try_get("post_id")?,
                    recipient: row.try_get("recipient")?,
                    attempts: row.try_get("attempts")?,
                    due: row.try_get("due")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// PostgreSQL: reclaims the row versions that claims and outcomes leave behind in
    /// `deliveries` (`VACUUM`, skipped while another one runs). Every claim and every outcome
    /// writes a new version of its rows and new entries in the due indexes; until a vacuum
    /// removes the old ones, each claim walks over all the recipients claimed before it —
    /// a million-recipient post delivered at half the rate of a 100,000 one. SQLite removes
    /// them at once: nothing to do.
    pub async fn tidy_deliveries(&self) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            sqlx::query("VACUUM (SKIP_LOCKED) deliveries")
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// PostgreSQL, after `added` recipients were queued in one go: a big post (at least
    /// [`STATISTICS_FROM`] recipients) refreshes the planner's statistics of `deliveries`
    /// (`ANALYZE`, about 0.1 s at a million rows) before it is claimed from. Without them the
    /// planner takes the table for nearly empty and claims a batch by sorting the post's whole
    /// due range (0.5 s a claim at a million recipients: 300 recipients/s) instead of reading
    /// it in index order; autovacuum would refresh them only a minute or more later, if it
    /// runs at all. A failure is logged, not returned: the post is stored.
    pub(super) async fn added_deliveries(&self, added: usize) {
        if self.backend() != Backend::Postgres || added < STATISTICS_FROM {
            return;
        }
        if let Err(e) = sqlx::query("ANALYZE deliveries").execute(self.pool()).await {
            tracing::warn!(error = %e, "cannot refresh the statistics of the delivery table (claims from a big post may be slow until autovacuum does)");
        }
    }

    /// Extends the leases `owner` still holds on `ids` (a batch still being sent) to
    /// `lease_until`. Recipients already recorded hold no lease and are left alone.
    pub async fn renew_leases(
        &self,
        owner: &str,
        ids: &[i64],
        lease_until: i64,
    ) -> Result<u64, StoreError> {
        let sql = format!(
            "UPDATE deliveries SET lease_until = $1, next_attempt_at = $1
             WHERE lease_owner = $2 AND status IN ('queued', 'deferred') AND {}",
            self.backend().id_in_json("id", "$3")
        );
        let renewed = sqlx::query(&sql)
            .bind(lease_until)
            .bind(owner)
            .bind(json_param(ids)?)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(renewed)
    }

    /// Frees every lease. Only for a single instance at start-up (SQLite): any lease in the table
    /// then belongs to a process that is gone.
    pub async fn release_all_leases(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL,
                    next_attempt_at = CASE WHEN status IN ('queued', 'deferred')
                        AND next_attempt_at > $1 THEN $1 ELSE next_attempt_at END
             WHERE lease_owner IS NOT NULL",
        )
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Frees the leases `owner` still holds (its graceful shutdown).
    pub async fn release_leases_of(&self, owner: &str, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL,
                    next_attempt_at = CASE WHEN status IN ('queued', 'deferred')
                        AND next_attempt_at > $2 THEN $2 ELSE next_attempt_at END
             WHERE lease_owner = $1",
        )
        .bind(owner)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Records the outcome of an attempt for each recipient, in one transaction, and frees their
    /// leases. Delivered recipients are written in bulk: they are the common case.
    pub async fn record_outcomes(
        &self,
        outcomes: &[(i64, Recorded)],
        now: i64,
    ) -> Result<(), StoreError> {
        // Outcomes are committed without waiting for the disk flush (see `Store::unflushed`):
        // a killed circlemail loses none of them, and what a power failure could lose is only
        // copies sent again, never mail.
        let delivered: Vec<i64> = outcomes
            .iter()
            .filter(|(_, o)| *o == Recorded::Delivered)
            .map(|(id, _)| *id)
            .collect();
        // One statement for any number of ids: prepared once per connection.
        let sql = format!(
            "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_error = NULL,
                    updated_at = $1, lease_owner = NULL, lease_until = NULL
             WHERE {}",
            self.backend.id_in_json("id", "$2")
        );
        let ids = json_param(&delivered)?;
        if self.backend == Backend::Sqlite && delivered.len() == outcomes.len() {
            // Only deliveries (the usual write): one statement is its own transaction, without
            // the round trips of BEGIN and COMMIT to the connection's thread.
            sqlx::query(&sql)
                .bind(now)
                .bind(ids)
                .execute(&self.unflushed)
                .await?;
            return Ok(());
        }
        let mut tx = self.unflushed.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        if !delivered.is_empty() {
            sqlx::query(&sql)
                .bind(now)
                .bind(ids)
                .execute(&mut *tx)
                .await?;
        }
        for (id, outcome) in outcomes {
            let (status, error, next) = match outcome {
                Recorded::Delivered => continue,
                Recorded::Deferred {
                    error,
                    next_attempt_at,
                } => ("deferred", error, *next_attempt_at),
                Recorded::Failed { error } => ("failed", error, now),
            };
            sqlx::query(
                "UPDATE deliveries SET status = $1, attempts = attempts + 1, last_error = $2,
                        next_attempt_at = $3, updated_at = $4, lease_owner = NULL, lease_until = NULL
                 WHERE id = $5",
            )
            .bind(status)
            .bind(error)
            .bind(next)
            .bind(now)
            .bind(*id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// When the next recipient falls due, if any is waiting (a leased one at the end of its
    /// lease). The first entry of `deliveries_due`.
    pub async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT next_attempt_at AS due FROM deliveries WHERE status IN ('queued', 'deferred')
             ORDER BY next_attempt_at LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get::<i64, _>("due")).transpose()?)
    }

    pub async fn delivery_counts(
        &self,
        post_id: Option<i64>,
    ) -> Result<DeliveryCounts, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM deliveries WHERE ($1 IS NULL OR post_id = $1)
             GROUP BY status",
        )
        .bind(post_id)
        .fetch_all(self.pool())
        .await?;
        let mut counts = DeliveryCounts::default();
        for row in rows {
            let n: i64 = row.try_get("n")?;
            match row.try_get::<String, _>("status")?.as_str() {
                "queued" => counts.queued = n,
                "deferred" => counts.deferred = n,
                "delivered" => counts.delivered = n,
                "failed" => counts.failed = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Every recipient of a post with its state, ordered by address.
    pub async fn deliveries_of(&self, queue_id: &str) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.recipient, d.status, d.attempts, d.last_error
             FROM deliveries d JOIN posts p ON p.id = d.post_id
             WHERE p.queue_id = $1 ORDER BY d.recipient",
        )
        .bind(queue_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeliveryRow {
                    recipient: row.try_get("recipient")?,
                    status: row.try_get("status")?,
                    attempts: row.try_get("attempts")?,
                    last_error: row.try_get("last_error")?,
                })
            })
            .collect()
    }
}
