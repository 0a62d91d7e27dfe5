//! What the administrators' group pages need beyond the basic group calls: a page of a group's
//! direct members (searched and counted in SQL, so 100,000 members load like 10), a change of one
//! membership's role or term, the subgroup edges for the tree, and the overview's counts per
//! group.

use std::collections::HashMap;

use sqlx::Row;

use super::{Store, StoreError, groups::Member};

/// Counts per group for the overview.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroupCounts {
    /// Posts waiting for moderation.
    pub held: i64,
    /// Recipients waiting for a retry.
    pub deferred: i64,
    /// Recipients given up on in the last `failed_since` window.
    pub failed: i64,
    /// People whose delivery of this list is disabled for bouncing.
    pub disabled: i64,
}

/// `%text%` for LIKE, with the wildcards of `text` escaped (`\`).
fn like_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Store {
    /// One page of a group's direct memberships (one row per term), ordered by address, with
    /// the number of rows matching; `q` searches address and name. The matches are counted in
    /// the same pass that finds the page (`COUNT(*) OVER ()`): a search of 100,000 members
    /// reads them once, not once to count and again for the page. (Without a search a page
    /// comes from the directory instead: see the API's `members`.)
    pub async fn members_page(
        &self,
        group_id: i64,
        q: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Member>, i64), StoreError> {
        let pattern = q.map(str::trim).filter(|q| !q.is_empty()).map(like_pattern);
        let filter = "m.group_id = $1 AND ($2 IS NULL OR p.email_key LIKE $2 ESCAPE '\\'
                      OR LOWER(COALESCE(p.name, '')) LIKE $2 ESCAPE '\\')";
        let rows = sqlx::query(&format!(
            "SELECT p.id, p.email, p.name, m.role, m.valid_from, m.valid_until,
                    COUNT(*) OVER () AS total
             FROM memberships m JOIN people p ON p.id = m.person_id
             WHERE {filter} ORDER BY p.email_key, m.valid_from LIMIT $3 OFFSET $4"
        ))
        .bind(group_id)
        .bind(pattern.as_deref())
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = match rows.first() {
            Some(row) => row.try_get("total")?,
            // A page past the end: no row carries the count.
            None => sqlx::query(&format!(
                "SELECT COUNT(*) AS n FROM memberships m JOIN people p ON p.id = m.person_id
                 WHERE {filter}"
            ))
            .bind(group_id)
            .bind(pattern.as_deref())
            .fetch_one(self.pool())
            .await?
            .try_get("n")?,
        };
        let members = rows
            .iter()
            .map(|row| {
                Ok(Member {
                    person_id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    name: row.try_get("name")?,
                    role: row.try_get("role")?,
                    valid_from: row.try_get("valid_from")?,
                    valid_until: row.try_get("valid_until")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok((members, total))
    }

    /// The direct memberships (every term) of the given people in a group, as
    /// [`Store::members_page`] shows them, in no particular order.
    pub async fn members_among(
        &self,
        group_id: i64,
        people: &[i64],
    ) -> Result<Vec<Member>, StoreError> {
        if people.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..people.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT p.id, p.email, p.name, m.role, m.valid_from, m.valid_until
             FROM memberships m JOIN people p ON p.id = m.person_id
             WHERE m.group_id = $1 AND m.person_id IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(group_id);
        for p in people {
            q = q.bind(*p);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(Member {
                    person_id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    name: row.try_get("name")?,
                    role: row.try_get("role")?,
                    valid_from: row.try_get("valid_from")?,
                    valid_until: row.try_get("valid_until")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The pauses of all list mail not over on `today` (`YYYY-MM-DD`): person id → the day
    /// mail comes again. One read of a small table (the people on holiday), for member tables
    /// that show each member's delivery.
    pub async fn pauses_after(&self, today: &str) -> Result<HashMap<i64, String>, StoreError> {
        let rows =
            sqlx::query("SELECT person_id, until_day FROM delivery_pauses WHERE until_day > $1")
                .bind(today)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("person_id")?, r.try_get("until_day")?)))
            .collect::<Result<HashMap<_, _>, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Changes the role and term of one membership: the term of `person_id` in `group_id` that
    /// starts on `term_from` (`None`: the term without a start). Returns whether there was one;
    /// a new start that another term of the person already has is a conflict.
    pub async fn update_membership(
        &self,
        group_id: i64,
        person_id: i64,
        term_from: Option<&str>,
        role: &str,
        valid_from: Option<&str>,
        valid_until: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        // Write first (SQLite: a transaction that reads first can fail to upgrade its lock).
        let done = sqlx::query(
            "UPDATE memberships SET role = $1, valid_until = $2
             WHERE group_id = $3 AND person_id = $4 AND COALESCE(valid_from, '') = $5",
        )
        .bind(role)
        .bind(valid_until)
        .bind(group_id)
        .bind(person_id)
        .bind(term_from.unwrap_or(""))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if valid_from != term_from {
            let taken = sqlx::query(
                "SELECT 1 FROM memberships
                 WHERE group_id = $1 AND person_id = $2 AND COALESCE(valid_from, '') = $3",
            )
            .bind(group_id)
            .bind(person_id)
            .bind(valid_from.unwrap_or(""))
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                tx.rollback().await?;
                return Err(StoreError::Conflict(format!(
                    "this person already has a term starting {} in this group; change that one instead",
                    valid_from.unwrap_or("without a start date")
                )));
            }
            sqlx::query(
                "UPDATE memberships SET valid_from = $1
                 WHERE group_id = $2 AND person_id = $3 AND COALESCE(valid_from, '') = $4",
            )
            .bind(valid_from)
            .bind(group_id)
            .bind(person_id)
            .bind(term_from.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Every subgroup edge: (parent, child, as managers).
    pub async fn subgroup_edges(&self) -> Result<Vec<(i64, i64, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT parent_id, child_id, as_manager FROM subgroups ORDER BY parent_id, child_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("parent_id")?,
                    r.try_get("child_id")?,
                    r.try_get::<i64, _>("as_manager")? != 0,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Per group: held posts, deferred recipients, recipients failed since `failed_since`
    /// (epoch ms), people disabled for bouncing. Groups with nothing are left out.
    pub async fn group_counts(
        &self,
        failed_since: i64,
    ) -> Result<HashMap<i64, GroupCounts>, StoreError> {
        let mut out: HashMap<i64, GroupCounts> = HashMap::new();
        let held = sqlx::query(
            "SELECT group_id, COUNT(*) AS n FROM held_posts WHERE status = 'held' GROUP BY group_id",
        )
        .fetch_all(self.pool())
        .await?;
        for r in held {
            out.entry(r.try_get("group_id")?).or_default().held = r.try_get("n")?;
        }
        let deliveries = sqlx::query(
            "SELECT p.group_id, d.status, COUNT(*) AS n
             FROM deliveries d JOIN posts p ON p.id = d.post_id
             WHERE p.group_id IS NOT NULL
               AND (d.status = 'deferred' OR (d.status = 'failed' AND d.updated_at >= $1))
             GROUP BY p.group_id, d.status",
        )
        .bind(failed_since)
        .fetch_all(self.pool())
        .await?;
        for r in deliveries {
            let c = out.entry(r.try_get("group_id")?).or_default();
            let n: i64 = r.try_get("n")?;
            match r.try_get::<String, _>("status")?.as_str() {
                "deferred" => c.deferred = n,
                _ => c.failed = n,
            }
        }
        let disabled = sqlx::query(
            "SELECT group_id, COUNT(*) AS n FROM opt_outs
             WHERE channel = 'bounce' AND group_id IS NOT NULL GROUP BY group_id",
        )
        .fetch_all(self.pool())
        .await?;
        for r in disabled {
            out.entry(r.try_get("group_id")?).or_default().disabled = r.try_get("n")?;
        }
        Ok(out)
    }
}
