//! Accepted posts and inbound bounces: written in the one transaction that precedes our `250`.

use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::archive::store::Archiving;

/// A post for one group, with its recipients frozen at acceptance.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub queue_id: String,
    /// `post` (a list post), `notice` (mail the server wrote for a list) or `system` (mail the
    /// server wrote for a person, such as a sign-in link).
    pub kind: &'static str,
    /// The From: address, lower-cased (for the per-sender rate limit).
    pub author: Option<String>,
    /// What each recipient's own copy carries ([`Personal`] flags); 0: one copy for all.
    pub personal: i64,
    /// The list the post or notice is for; `None` for mail of the server itself (kind
    /// `system`: a sign-in link), which belongs to no group.
    pub group_id: Option<i64>,
    pub author_envelope: String,
    pub envelope_from: String,
    pub message_id: Option<String>,
    pub received_at: i64,
    pub original: Vec<u8>,
    pub list_copy: Vec<u8>,
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NewBounce {
    pub group_id: i64,
    /// The VERP detail of the address it came to (see `bounce::verp`).
    pub verp: Option<String>,
    pub envelope_from: String,
    pub received_at: i64,
    pub raw: Vec<u8>,
}

/// What is personal in each recipient's copy: bit flags, stored in `posts.personal_to`.
pub struct Personal;

impl Personal {
    /// To: is the recipient's own address (`to_mode = "recipient"`).
    pub const TO: i64 = 1;
    /// List-Unsubscribe carries the recipient's own one-click link (`unsubscribe_links`).
    pub const UNSUBSCRIBE: i64 = 2;
}

/// What delivery needs of a post.
#[derive(Debug, Clone)]
pub struct StoredPost {
    pub id: i64,
    /// 0 for mail of the server itself (no group).
    pub group_id: i64,
    /// [`Personal`] flags.
    pub personal: i64,
    pub queue_id: String,
    pub envelope_from: String,
    pub received_at: i64,
    pub list_copy: Vec<u8>,
    /// The address of the post's group.
    pub list_address: Option<String>,
}

impl Store {
    /// Stores posts (with every recipient), bounces and held posts atomically: all of it, or
    /// none of it. Returns the ids of the held posts.
    pub async fn insert_accepted(
        &self,
        posts: &[NewPost],
        bounces: &[NewBounce],
        held: &[super::held::NewHeld],
    ) -> Result<Vec<i64>, StoreError> {
        let mut ids = self.insert_accepted_many(&[(posts, bounces, held)]).await?;
        Ok(ids.pop().unwrap_or_default())
    }

    /// Several messages' [`Store::insert_accepted`] in one transaction (group commit: one disk
    /// flush for all): all of them, or none. Returns each one's held post ids, in order.
    pub async fn insert_accepted_many(
        &self,
        accepted: &[(&[NewPost], &[NewBounce], &[super::held::NewHeld])],
    ) -> Result<Vec<Vec<i64>>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut archiving = Archiving::default();
        let mut all_held = Vec::with_capacity(accepted.len());
        for (posts, bounces, held) in accepted {
            let mut held_ids = Vec::with_capacity(held.len());
            for h in held.iter() {
                held_ids.push(super::held::insert_held(&mut tx, h).await?);
            }
            for post in posts.iter() {
                insert_post_in(&mut tx, self.backend, post, &mut archiving).await?;
            }
            for bounce in bounces.iter() {
                sqlx::query(
                    "INSERT INTO inbound_bounces (group_id, envelope_from, received_at, raw, verp)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(bounce.group_id)
                .bind(&bounce.envelope_from)
                .bind(bounce.received_at)
                .bind(&bounce.raw)
                .bind(&bounce.verp)
                .execute(&mut *tx)
                .await?;
            }
            all_held.push(held_ids);
        }
        tx.commit().await?;
        let recipients = accepted
            .iter()
            .flat_map(|(posts, _, _)| posts.iter())
            .map(|post| post.recipients.len())
            .sum();
        self.added_deliveries(recipients).await;
        Ok(all_held)
    }

    /// Marks held post `id` approved and queues `post`, in one transaction; false (and nothing
    /// queued) when the post was no longer held.
    pub async fn approve_held(
        &self,
        id: i64,
        post: &NewPost,
        by: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE held_posts SET status = 'approved', decided_by = $1, decided_at = $2 WHERE id = $3 AND status = 'held'",
        )
        .bind(by)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_post(&mut tx, self.backend, post).await?;
        tx.commit().await?;
        self.added_deliveries(post.recipients.len()).await;
        Ok(true)
    }

    pub async fn load_post(&self, post_id: i64) -> Result<StoredPost, StoreError> {
        let row = sqlx::query(
            "SELECT p.id, COALESCE(p.group_id, 0) AS group_id, p.queue_id, p.envelope_from, p.received_at, p.list_copy,
                    p.personal_to, g.address
             FROM posts p LEFT JOIN groups g ON g.id = p.group_id WHERE p.id = $1",
        )
        .bind(post_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("post {post_id} does not exist")))?;
        Ok(StoredPost {
            id: row.try_get("id")?,
            group_id: row.try_get("group_id")?,
            personal: row.try_get("personal_to")?,
            queue_id: row.try_get("queue_id")?,
            envelope_from: row.try_get("envelope_from")?,
            received_at: row.try_get("received_at")?,
            list_copy: row.try_get("list_copy")?,
            list_address: row.try_get("address")?,
        })
    }

    /// The number of inbound bounces stored for a group.
    pub async fn count_bounces(&self, group_id: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM inbound_bounces WHERE group_id = $1")
                .bind(group_id)
                .fetch_one(self.pool())
                .await?
                .try_get("n")?,
        )
    }
}

pub(crate) async fn insert_post(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    post: &NewPost,
) -> Result<(), StoreError> {
    insert_post_in(tx, backend, post, &mut Archiving::default()).await
}

/// [`insert_post`] for one of several posts stored in one transaction: `archiving` remembers
/// which lists keep an archive, read once per list and transaction.
async fn insert_post_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    post: &NewPost,
    archiving: &mut Archiving,
) -> Result<(), StoreError> {
    let post_id: i64 = sqlx::query(
        "INSERT INTO posts (queue_id, group_id, author_envelope, envelope_from, message_id,
                                received_at, size, original, list_copy, kind, author, personal_to)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(&post.queue_id)
    .bind(post.group_id)
    .bind(&post.author_envelope)
    .bind(&post.envelope_from)
    .bind(&post.message_id)
    .bind(post.received_at)
    .bind(post.original.len() as i64)
    .bind(&post.original)
    .bind(&post.list_copy)
    .bind(post.kind)
    .bind(&post.author)
    .bind(post.personal)
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    // All recipients in one statement, as one JSON array (10,000 members: one parameter).
    let recipients = super::dialect::json_param(&post.recipients)?;
    let sql = format!(
        "INSERT INTO deliveries (post_id, recipient, next_attempt_at, updated_at)
         SELECT $1, value, $2, $2 FROM {}",
        backend.json_texts("$3")
    );
    sqlx::query(&sql)
        .bind(post_id)
        .bind(post.received_at)
        .bind(recipients)
        .execute(&mut **tx)
        .await?;
    // A list post goes into its list's archive in the same transaction: archived exactly when
    // it is queued (at acceptance, or when a moderator approves it).
    crate::archive::store::archive_post(tx, backend, post, archiving).await?;
    Ok(())
}

/// Deletes the posts `ids` and their recipients. The recipients go first and by hand: on
/// PostgreSQL `deliveries` has no foreign key to `posts` (migration 0021), so nothing would
/// cascade there.
pub(super) async fn delete_posts(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    ids: &[i64],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids = super::dialect::json_param(ids)?;
    for (table, column) in [("deliveries", "post_id"), ("posts", "id")] {
        let sql = format!(
            "DELETE FROM {table} WHERE {}",
            backend.id_in_json(column, "$1")
        );
        sqlx::query(&sql).bind(&ids).execute(&mut *conn).await?;
    }
    Ok(())
}
