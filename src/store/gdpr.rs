//! What GDPR operations need from storage: retention rules, a person's memberships and posts,
//! erasure in one transaction, and removing retained facts once their time is over.

use sqlx::Row;

use super::{Store, StoreError};

/// A direct membership with its group's retention rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MembershipFact {
    #[serde(skip)]
    pub row_id: i64,
    pub group_id: i64,
    pub group: String,
    pub role: String,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub retention_years: Option<i64>,
    /// Set once the person was erased and this membership kept (epoch ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<i64>,
}

/// A membership to keep after erasure: its term as it ends, and until when (epoch ms).
#[derive(Debug, Clone)]
pub struct Kept {
    pub row_id: i64,
    pub valid_until: String,
    pub retain_until: i64,
}

/// What an erasure removed, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    pub memberships: u64,
    pub membership_periods: u64,
    pub teams: u64,
    pub services: u64,
    pub custom_field_values: u64,
    pub opt_outs: u64,
    pub held_posts: u64,
    /// Web sessions and sign-in links (with the addresses and browsers they were used from).
    pub web_sessions: u64,
    /// Whether the person's row itself is gone (nothing was protected).
    pub person: bool,
}

impl Store {
    pub async fn retention_years(&self, group_id: i64) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT retention_years FROM groups WHERE id = $1")
            .bind(group_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }

    pub async fn set_retention(
        &self,
        group_id: i64,
        years: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE groups SET retention_years = $1 WHERE id = $2")
            .bind(years)
            .bind(group_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A person's direct memberships, every term, with each group's retention rule.
    pub async fn membership_facts(
        &self,
        person_id: i64,
    ) -> Result<Vec<MembershipFact>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, m.group_id, g.name, m.role, m.valid_from, m.valid_until, g.retention_years, m.retain_until
             FROM memberships m JOIN groups g ON g.id = m.group_id
             WHERE m.person_id = $1 ORDER BY g.name, m.valid_from",
        )
        .bind(person_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MembershipFact {
                    row_id: r.try_get(0)?,
                    group_id: r.try_get(1)?,
                    group: r.try_get(2)?,
                    role: r.try_get(3)?,
                    valid_from: r.try_get(4)?,
                    valid_until: r.try_get(5)?,
                    retention_years: r.try_get(6)?,
                    retain_until: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Posts the person sent to lists (from the delivery store: metadata, not the message).
    pub async fn posts_by(&self, email_key: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, group_id, message_id, received_at, size, kind FROM posts
             WHERE author = $1 OR LOWER(author_envelope) = $1 ORDER BY id",
        )
        .bind(email_key)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(serde_json::json!({
                    "id": r.try_get::<i64, _>(0)?, "group_id": r.try_get::<i64, _>(1)?,
                    "message_id": r.try_get::<Option<String>, _>(2)?,
                    "received_at": r.try_get::<i64, _>(3)?, "size": r.try_get::<i64, _>(4)?,
                    "kind": r.try_get::<String, _>(5)?,
                }))
            })
            .collect()
    }

    /// Erases a person in one transaction: every fact but the `kept` memberships goes; with
    /// kept memberships the person row stays with the name only (address replaced, no mail),
    /// without, it goes too.
    pub async fn erase_person(
        &self,
        person_id: i64,
        email_key: &str,
        kept: &[Kept],
        now: i64,
    ) -> Result<Removed, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut removed = Removed::default();
        let keep_ids: Vec<i64> = kept.iter().map(|k| k.row_id).collect();
        for k in kept {
            sqlx::query("UPDATE memberships SET valid_until = $1, retain_until = $2 WHERE id = $3")
                .bind(&k.valid_until)
                .bind(k.retain_until)
                .bind(k.row_id)
                .execute(&mut *tx)
                .await?;
        }
        let keep_list = if keep_ids.is_empty() {
            String::new()
        } else {
            format!(" AND id NOT IN ({})", super::list_of(2, keep_ids.len()))
        };
        let sql = format!("DELETE FROM memberships WHERE person_id = $1{keep_list}");
        let mut delete = sqlx::query(&sql).bind(person_id);
        for id in &keep_ids {
            delete = delete.bind(*id);
        }
        removed.memberships = delete.execute(&mut *tx).await?.rows_affected();
        for (table, count) in [
            ("membership_periods", &mut removed.membership_periods),
            ("person_teams", &mut removed.teams),
            ("person_services", &mut removed.services),
            ("person_field_values", &mut removed.custom_field_values),
            ("opt_outs", &mut removed.opt_outs),
            ("web_sessions", &mut removed.web_sessions),
        ] {
            *count = sqlx::query(&format!("DELETE FROM {table} WHERE person_id = $1"))
                .bind(person_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        sqlx::query("DELETE FROM signin_links WHERE person_id = $1")
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        // How they got lists (digests, a pause): kept only while the person is.
        for table in ["delivery_modes", "delivery_pauses"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE person_id = $1"))
                .bind(person_id)
                .execute(&mut *tx)
                .await?;
        }
        // Sign-in mail to them (their address, a link) goes with them.
        let mail_to_them: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM posts WHERE kind = 'system'
               AND id IN (SELECT post_id FROM deliveries WHERE LOWER(recipient) = $1)",
        )
        .bind(email_key)
        .fetch_all(&mut *tx)
        .await?;
        super::posts::delete_posts(&mut tx, self.backend(), &mail_to_them).await?;
        removed.held_posts = sqlx::query("DELETE FROM held_posts WHERE LOWER(author) = $1")
            .bind(email_key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if kept.is_empty() {
            sqlx::query("DELETE FROM people WHERE id = $1")
                .bind(person_id)
                .execute(&mut *tx)
                .await?;
            removed.person = true;
        } else {
            let placeholder = format!("erased-{person_id}@erased.invalid");
            let until = kept.iter().map(|k| k.retain_until).max();
            sqlx::query(
                "UPDATE people SET email = $1, email_key = $1, external_id = NULL, status = 'resigned', membership_type_id = NULL,
                        profile_type = 'person', no_list_mail = 1, receive_duplicates = 0,
                        erased_at = $2, retain_until = $3
                 WHERE id = $4",
            )
            .bind(&placeholder)
            .bind(now)
            .bind(until)
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Removes retained memberships whose time is over, and erased people with nothing left.
    /// Returns (memberships removed, people removed).
    pub async fn expire_retained(&self, now: i64) -> Result<(u64, u64), StoreError> {
        // Most runs find nothing: look first, so they take no write lock.
        let due: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM memberships WHERE retain_until IS NOT NULL AND retain_until <= $1)
                  + (SELECT COUNT(*) FROM people p WHERE p.erased_at IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id AND m.retain_until > $1)
                       AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.person_id = p.id))",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await?
        .try_get(0)?;
        if due == 0 {
            return Ok((0, 0));
        }
        let mut tx = self.pool().begin().await?;
        let memberships = sqlx::query(
            "DELETE FROM memberships WHERE retain_until IS NOT NULL AND retain_until <= $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let people = sqlx::query(
            "DELETE FROM people WHERE erased_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = people.id)
               AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.person_id = people.id)",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok((memberships, people))
    }

    /// People who resigned and whose last membership period ended before `left_before`
    /// (YYYY-MM-DD), not erased yet: (id, email, name, last left).
    pub async fn resigned_before(
        &self,
        left_before: &str,
    ) -> Result<Vec<(i64, String, Option<String>, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.email, p.name, MAX(mp.left_on) AS last_left
             FROM people p JOIN membership_periods mp ON mp.person_id = p.id
             WHERE p.status = 'resigned' AND p.erased_at IS NULL
             GROUP BY p.id, p.email, p.name
             HAVING SUM(CASE WHEN mp.left_on IS NULL THEN 1 ELSE 0 END) = 0 AND MAX(mp.left_on) < $1
             ORDER BY p.id",
        )
        .bind(left_before)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }

    /// Whether the person was erased (only retained facts left).
    pub async fn erased_at(&self, person_id: i64) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT erased_at FROM people WHERE id = $1")
            .bind(person_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }
}
