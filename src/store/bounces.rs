//! Inbound bounces waiting for the bounce processor, and bounce scores per person and list.

use sqlx::{Any, Row, Transaction, any::AnyRow};

use super::{Backend, Store, StoreError};
use crate::bounce::score::ScoreState;

/// A stored bounce the processor has not read yet.
#[derive(Debug, Clone)]
pub struct PendingBounce {
    pub id: i64,
    pub group_id: i64,
    /// The list address (lower-cased), `None` when the group no longer has one.
    pub list: Option<String>,
    pub envelope_from: String,
    /// The VERP detail of the address it came to.
    pub verp: Option<String>,
    pub raw: Vec<u8>,
}

/// What the processor decided for one person named in a bounce.
#[derive(Debug, Clone)]
pub struct ScoreChange {
    pub person_id: i64,
    pub state: ScoreState,
    /// Disable delivery now (adds the `bounce` opt-out).
    pub disable: bool,
}

/// A bounce score as the admin side shows it: why a person does or will stop getting a list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BounceScore {
    pub group_id: i64,
    pub person_id: i64,
    pub email: String,
    pub score: f64,
    pub bounces: i64,
    pub first_bounce_at: i64,
    pub last_bounce_at: i64,
    pub last_status: Option<String>,
    pub last_diagnostic: Option<String>,
    /// Set when delivery of this list to this person was disabled for bouncing.
    pub disabled_at: Option<i64>,
}

const STATE_COLUMNS: &str = "score_milli, bounces, first_bounce_at, last_bounce_at, \
    last_counted_day, last_status, last_diagnostic, disabled_at";

fn state_of(row: &AnyRow) -> Result<ScoreState, sqlx::Error> {
    Ok(ScoreState {
        score_milli: row.try_get("score_milli")?,
        bounces: row.try_get("bounces")?,
        first_bounce_at: row.try_get("first_bounce_at")?,
        last_bounce_at: row.try_get("last_bounce_at")?,
        last_counted_day: row.try_get("last_counted_day")?,
        last_status: row.try_get("last_status")?,
        last_diagnostic: row.try_get("last_diagnostic")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

impl Store {
    /// Up to `limit` bounces not processed yet, oldest first.
    pub async fn pending_bounces(&self, limit: usize) -> Result<Vec<PendingBounce>, StoreError> {
        let rows = sqlx::query(
            "SELECT b.id, b.group_id, g.address, b.envelope_from, b.verp, b.raw
             FROM inbound_bounces b JOIN groups g ON g.id = b.group_id
             WHERE b.processed_at IS NULL ORDER BY b.id LIMIT $1",
        )
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingBounce {
                    id: r.try_get("id")?,
                    group_id: r.try_get("group_id")?,
                    list: r.try_get("address")?,
                    envelope_from: r.try_get("envelope_from")?,
                    verp: r.try_get("verp")?,
                    raw: r.try_get("raw")?,
                })
            })
            .collect()
    }

    /// Marks bounce `id` processed with `outcome` and applies the score changes `decide` returns
    /// given each named person's current state — all in one transaction, and only if no other
    /// instance processed it first. `decide` gets `(person_id, current state)` pairs.
    pub async fn finish_bounce(
        &self,
        id: i64,
        group_id: i64,
        person_ids: &[i64],
        now: i64,
        decide: impl FnOnce(Vec<(i64, Option<ScoreState>)>) -> (String, Vec<ScoreChange>),
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let claimed = sqlx::query(
            "UPDATE inbound_bounces SET processed_at = $1 WHERE id = $2 AND processed_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        let current = current_states(&mut tx, self.backend(), group_id, person_ids).await?;
        let (outcome, changes) = decide(current);
        for change in &changes {
            write_score(&mut tx, group_id, change, now).await?;
        }
        sqlx::query("UPDATE inbound_bounces SET outcome = $1 WHERE id = $2")
            .bind(&outcome)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(outcome))
    }

    /// Applies the score changes `decide` returns given each person's current state, in one
    /// transaction: for refusals in the SMTP dialogue, which have no stored bounce to claim.
    /// `decide` gets `(person_id, current state)` pairs.
    pub async fn score_people(
        &self,
        group_id: i64,
        person_ids: &[i64],
        now: i64,
        decide: impl FnOnce(Vec<(i64, Option<ScoreState>)>) -> Vec<ScoreChange>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Sqlite {
            // Take the write lock first: a read transaction that later writes fails at once
            // (SQLITE_BUSY) if another writer committed in between.
            sqlx::query("UPDATE bounce_scores SET bounces = bounces WHERE group_id = $1 AND 0 = 1")
                .bind(group_id)
                .execute(&mut *tx)
                .await?;
        }
        let current = current_states(&mut tx, self.backend(), group_id, person_ids).await?;
        for change in &decide(current) {
            write_score(&mut tx, group_id, change, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Bounce scores of a group (`group_id`) or of a person, highest first.
    pub async fn bounce_scores(
        &self,
        group_id: Option<i64>,
        person_id: Option<i64>,
    ) -> Result<Vec<BounceScore>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT s.group_id, s.person_id, p.email, {STATE_COLUMNS}
             FROM bounce_scores s JOIN people p ON p.id = s.person_id
             WHERE ($1 IS NULL OR s.group_id = $1) AND ($2 IS NULL OR s.person_id = $2)
             ORDER BY s.score_milli DESC, p.email_key"
        ))
        .bind(group_id)
        .bind(person_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let s = state_of(r)?;
                Ok(BounceScore {
                    group_id: r.try_get("group_id")?,
                    person_id: r.try_get("person_id")?,
                    email: r.try_get("email")?,
                    score: s.score_milli as f64 / 1000.0,
                    bounces: s.bounces,
                    first_bounce_at: s.first_bounce_at,
                    last_bounce_at: s.last_bounce_at,
                    last_status: s.last_status,
                    last_diagnostic: s.last_diagnostic,
                    disabled_at: s.disabled_at,
                })
            })
            .collect()
    }

    /// Re-enables delivery of a list to a person disabled for bouncing: the score starts again
    /// from zero and the `bounce` opt-out goes. Returns whether there was anything to undo.
    pub async fn reenable_bounced(
        &self,
        group_id: i64,
        person_id: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let scores =
            sqlx::query("DELETE FROM bounce_scores WHERE group_id = $1 AND person_id = $2")
                .bind(group_id)
                .bind(person_id)
                .execute(&mut *tx)
                .await?;
        let opt_out = sqlx::query(
            "DELETE FROM opt_outs WHERE group_id = $1 AND person_id = $2 AND channel = 'bounce'",
        )
        .bind(group_id)
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(scores.rows_affected() + opt_out.rows_affected() > 0)
    }

    /// Whether this group sent `recipient` a copy since `since`: a bounce without VERP naming
    /// anyone else is not ours to count.
    pub async fn group_mailed(
        &self,
        group_id: i64,
        recipient: &str,
        since: i64,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS yes FROM deliveries d JOIN posts p ON p.id = d.post_id
             WHERE p.group_id = $1 AND LOWER(d.recipient) = $2 AND p.received_at >= $3 LIMIT 1",
        )
        .bind(group_id)
        .bind(recipient.to_lowercase())
        .bind(since)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// The id of the person with this address (any case).
    pub async fn person_id_by_email(&self, email: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT id FROM people WHERE email_key = $1")
            .bind(email.to_lowercase())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }
}

/// The score states of `person_ids` for a group, locked for the transaction on PostgreSQL.
async fn current_states(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    group_id: i64,
    person_ids: &[i64],
) -> Result<Vec<(i64, Option<ScoreState>)>, StoreError> {
    let lock = match backend {
        Backend::Postgres => "FOR UPDATE",
        Backend::Sqlite => "",
    };
    let mut current = Vec::with_capacity(person_ids.len());
    for person in person_ids {
        let row = sqlx::query(&format!(
            "SELECT {STATE_COLUMNS} FROM bounce_scores WHERE group_id = $1 AND person_id = $2 {lock}"
        ))
        .bind(group_id)
        .bind(*person)
        .fetch_optional(&mut **tx)
        .await?;
        current.push((*person, row.as_ref().map(state_of).transpose()?));
    }
    Ok(current)
}

async fn write_score(
    tx: &mut Transaction<'_, Any>,
    group_id: i64,
    change: &ScoreChange,
    now: i64,
) -> Result<(), StoreError> {
    let s = &change.state;
    sqlx::query(&format!(
        "INSERT INTO bounce_scores (group_id, person_id, {STATE_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (group_id, person_id) DO UPDATE SET score_milli = $3, bounces = $4,
             first_bounce_at = $5, last_bounce_at = $6, last_counted_day = $7, last_status = $8,
             last_diagnostic = $9, disabled_at = $10"
    ))
    .bind(group_id)
    .bind(change.person_id)
    .bind(s.score_milli)
    .bind(s.bounces)
    .bind(s.first_bounce_at)
    .bind(s.last_bounce_at)
    .bind(s.last_counted_day)
    .bind(&s.last_status)
    .bind(&s.last_diagnostic)
    .bind(s.disabled_at)
    .execute(&mut **tx)
    .await?;
    if change.disable {
        sqlx::query(
            "INSERT INTO opt_outs (person_id, group_id, channel, created_at)
             VALUES ($1, $2, 'bounce', $3) ON CONFLICT DO NOTHING",
        )
        .bind(change.person_id)
        .bind(group_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
