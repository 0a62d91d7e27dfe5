//! The moderation queue: posts held for a moderator, durably, until decided or expired.

use sqlx::Row;

use super::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct NewHeld {
    pub group_id: i64,
    pub author: String,
    pub envelope_from: String,
    pub subject: Option<String>,
    pub reason: String,
    pub raw: Vec<u8>,
    pub helo: String,
    pub peer: String,
    pub received_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeldPost {
    pub id: i64,
    pub group_id: i64,
    pub author: String,
    pub envelope_from: String,
    pub subject: Option<String>,
    pub reason: String,
    pub received_at: i64,
    pub expires_at: i64,
    pub status: String,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
}

const COLUMNS: &str = "id, group_id, author, envelope_from, subject, reason, received_at, expires_at, status, decided_by, decision_note";

fn held_of(r: &sqlx::any::AnyRow) -> Result<HeldPost, sqlx::Error> {
    Ok(HeldPost {
        id: r.try_get("id")?,
        group_id: r.try_get("group_id")?,
        author: r.try_get("author")?,
        envelope_from: r.try_get("envelope_from")?,
        subject: r.try_get("subject")?,
        reason: r.try_get("reason")?,
        received_at: r.try_get("received_at")?,
        expires_at: r.try_get("expires_at")?,
        status: r.try_get("status")?,
        decided_by: r.try_get("decided_by")?,
        decision_note: r.try_get("decision_note")?,
    })
}

/// Inserts a held post inside the acceptance transaction.
pub(super) async fn insert_held(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    h: &NewHeld,
) -> Result<i64, StoreError> {
    Ok(sqlx::query(
            "INSERT INTO held_posts (group_id, author, envelope_from, subject, reason, raw, helo, peer, received_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(h.group_id)
        .bind(&h.author)
        .bind(&h.envelope_from)
        .bind(&h.subject)
        .bind(&h.reason)
        .bind(&h.raw)
        .bind(&h.helo)
        .bind(&h.peer)
        .bind(h.received_at)
        .bind(h.expires_at)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?)
}

impl Store {
    pub async fn held_post(&self, id: i64) -> Result<Option<HeldPost>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM held_posts WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(held_of).transpose()?)
    }

    /// The raw post with how it arrived: (raw, helo, peer).
    pub async fn held_raw(&self, id: i64) -> Result<(Vec<u8>, String, String), StoreError> {
        let r = sqlx::query("SELECT raw, helo, peer FROM held_posts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no held post {id}")))?;
        Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
    }

    /// Posts waiting for a decision (in the given groups, or all when `groups` is None).
    pub async fn held_posts(&self, status: &str) -> Result<Vec<HeldPost>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM held_posts WHERE status = $1 ORDER BY received_at, id"
        ))
        .bind(status)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(held_of).collect::<Result<_, _>>()?)
    }

    /// Every held post by `email_key` (a lower-cased author address), whatever became of it.
    pub async fn held_by(&self, email_key: &str) -> Result<Vec<HeldPost>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM held_posts WHERE LOWER(author) = $1 ORDER BY received_at, id"
        ))
        .bind(email_key)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(held_of).collect::<Result<_, _>>()?)
    }

    /// Records a decision if the post is still held; false when someone decided first (links
    /// are one-time: the second click finds nothing to do).
    pub async fn decide_held(
        &self,
        id: i64,
        status: &str,
        by: &str,
        note: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE held_posts SET status = $1, decided_by = $2, decision_note = $3, decided_at = $4
             WHERE id = $5 AND status = 'held'",
        )
        .bind(status)
        .bind(by)
        .bind(note)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Held posts past their expiry.
    pub async fn expired_held(&self, now: i64) -> Result<Vec<HeldPost>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM held_posts WHERE status = 'held' AND expires_at < $1"
        ))
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(held_of).collect::<Result<_, _>>()?)
    }

    /// List posts from `author` (From: address, lower-cased) to a group since `since`.
    pub async fn count_posts_since(
        &self,
        group_id: i64,
        author: &str,
        since: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM posts WHERE group_id = $1 AND author = $2 AND received_at >= $3 AND kind = 'post'",
        )
        .bind(group_id)
        .bind(author)
        .bind(since)
        .fetch_one(self.pool())
        .await?
        .try_get(0)?)
    }

    /// Replaces the secret `name` with a new one; the old one is kept as retired (now).
    pub async fn rotate_secret(&self, name: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE server_secrets SET name = $1, created_at = $2 WHERE name = $3")
            .bind(format!("{name}.retired.{now}"))
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let fresh: [u8; 32] = rand::random();
        sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(fresh.to_vec())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Secrets retired from `name` since `since` (newest first).
    pub async fn retired_secrets(
        &self,
        name: &str,
        since: i64,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows = sqlx::query(
            "SELECT value FROM server_secrets WHERE name LIKE $1 AND created_at >= $2 ORDER BY created_at DESC",
        )
        .bind(format!("{name}.retired.%"))
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// When the named secret was made (made now if it does not exist yet): a marker of when
    /// something first happened, e.g. since when links are opaque.
    pub async fn secret_made_at(&self, name: &str, now: i64) -> Result<i64, StoreError> {
        self.secret(name, now).await?;
        Ok(
            sqlx::query("SELECT created_at FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(self.pool())
                .await?
                .try_get(0)?,
        )
    }

    /// A named secret, made (random, 32 bytes) on first use and shared by every instance.
    pub async fn secret(&self, name: &str, now: i64) -> Result<Vec<u8>, StoreError> {
        let fresh: [u8; 32] = rand::random();
        sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(fresh.to_vec())
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(
            sqlx::query("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(self.pool())
                .await?
                .try_get(0)?,
        )
    }
}
