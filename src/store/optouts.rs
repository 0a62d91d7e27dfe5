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
