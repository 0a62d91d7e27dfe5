//! Opt-outs: a person stops receiving one group's mail (or all list mail) while staying a member.

use super::{Store, StoreError};

impl Store {
    /// Records an opt-out of `group_id` (`None`: all list mail). Returns whether it was new.
    pub async fn opt_out(
        &self,
        person_id: i64,
        group_id: Option<i64>,
        channel: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO opt_outs (person_id, group_id, channel, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(person_id)
        .bind(group_id)
        .bind(channel)
        .bind(now)
        .execute(self.pool())
        .await?;
        if group_id.is_none() {
            sqlx::query("UPDATE people SET no_list_mail = 1 WHERE id = $1")
                .bind(person_id)
                .execute(self.pool())
                .await?;
        }
        Ok(done.rows_affected() == 1)
    }

    /// Undoes an opt-out. Returns whether there was one.
    pub async fn undo_opt_out(
        &self,
        person_id: i64,
        group_id: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM opt_outs WHERE person_id = $1 AND COALESCE(group_id, 0) = $2")
                .bind(person_id)
                .bind(group_id.unwrap_or(0))
                .execute(self.pool())
                .await?;
        if group_id.is_none() {
            sqlx::query("UPDATE people SET no_list_mail = 0 WHERE id = $1")
                .bind(person_id)
                .execute(self.pool())
                .await?;
        }
        Ok(done.rows_affected() == 1)
    }
}

/// An opt-out as the admin side shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OptOut {
    pub person_id: i64,
    pub email: String,
    /// `None`: all list mail.
    pub group_id: Option<i64>,
    pub channel: String,
    pub created_at: i64,
}

/// A post with the opt-outs of its group that followed it (before the group's next post).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PostOptOuts {
    pub queue_id: String,
    pub message_id: Option<String>,
    pub received_at: i64,
    pub opt_outs: i64,
}

impl Store {
    /// The group's latest `limit` posts, newest first, each with the number of opt-outs of the
    /// group made after it and before the next post: who left after which mail.
    pub async fn opt_outs_per_post(
        &self,
        group_id: i64,
        limit: i64,
    ) -> Result<Vec<PostOptOuts>, StoreError> {
        use sqlx::Row;
        let rows = sqlx::query(
            "SELECT p.queue_id, p.message_id, p.received_at,
                    (SELECT COUNT(*) FROM opt_outs o
                      WHERE o.group_id = p.group_id AND o.created_at >= p.received_at
                        AND o.created_at < COALESCE(
                            (SELECT MIN(n.received_at) FROM posts n
                              WHERE n.group_id = p.group_id AND n.kind = 'post'
                                AND n.received_at > p.received_at),
                            9223372036854775807)) AS opt_outs
             FROM posts p WHERE p.group_id = $1 AND p.kind = 'post'
             ORDER BY p.received_at DESC, p.id DESC LIMIT $2",
        )
        .bind(group_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PostOptOuts {
                    queue_id: r.try_get(0)?,
                    message_id: r.try_get(1)?,
                    received_at: r.try_get(2)?,
                    opt_outs: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Opt-outs of one person, or of one group (`group_id`), newest first.
    pub async fn opt_outs(
        &self,
        person_id: Option<i64>,
        group_id: Option<i64>,
    ) -> Result<Vec<OptOut>, StoreError> {
        use sqlx::Row;
        let rows = sqlx::query(
            "SELECT o.person_id, p.email, o.group_id, o.channel, o.created_at
             FROM opt_outs o JOIN people p ON p.id = o.person_id
             WHERE ($1 IS NULL OR o.person_id = $1) AND ($2 IS NULL OR o.group_id = $2)
             ORDER BY o.created_at DESC, o.id DESC",
        )
        .bind(person_id)
        .bind(group_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OptOut {
                    person_id: r.try_get(0)?,
                    email: r.try_get(1)?,
                    group_id: r.try_get(2)?,
                    channel: r.try_get(3)?,
                    created_at: r.try_get(4)?,
                })
            })
            .collect()
    }
}
