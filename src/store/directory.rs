//! Reading the whole directory (people, groups and every membership source) in one consistent
//! snapshot; and the change log (`directory_changes`, written by triggers in the same transaction
//! as every change) with the rows a change names, so an in-memory copy is patched in place.

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::{Executor, Row};

use super::{Backend, Store, StoreError};

#[derive(Debug, Clone, Default)]
pub struct PersonRow {
    pub id: i64,
    pub email: String,
    pub status: String,
    pub membership_type_id: Option<i64>,
    pub profile_type: String,
    pub no_list_mail: bool,
    pub receive_duplicates: bool,
}

#[derive(Debug, Clone, Default)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    pub standard_key: Option<String>,
    pub active: bool,
    pub criteria: Option<String>,
}

/// A membership as the resolver needs it: the role as "is a manager", the term as days (a
/// day that does not parse counts as no bound, as before). Compact on purpose: a directory of
/// 100,000 people reads 150,000 of these at once.
#[derive(Debug, Clone)]
pub struct MembershipRow {
    pub group_id: i64,
    pub person_id: i64,
    pub manager: bool,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

/// A stored day (`YYYY-MM-DD`).
pub fn day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Everything the resolver needs, read in one transaction.
#[derive(Debug, Clone, Default)]
pub struct DirectoryRows {
    /// The last change-log id the rows include.
    pub version: i64,
    pub people: Vec<PersonRow>,
    pub person_teams: Vec<(i64, i64)>,
    pub person_services: Vec<(i64, i64)>,
    /// (person, field name, value)
    pub field_values: Vec<(i64, String, String)>,
    /// (person, joined_on, left_on); a period whose start does not parse is left out.
    pub periods: Vec<(i64, NaiveDate, Option<NaiveDate>)>,
    pub groups: Vec<GroupRow>,
    pub memberships: Vec<MembershipRow>,
    /// (parent, child, as_manager)
    pub subgroups: Vec<(i64, i64, bool)>,
    /// (person, group; None = all list mail)
    pub opt_outs: Vec<(i64, Option<i64>)>,
    /// (id, name) of membership types, teams and services.
    pub membership_types: Vec<(i64, String)>,
    pub teams: Vec<(i64, String)>,
    pub services: Vec<(i64, String)>,
}

/// What changed after a cursor: the ids and pairs the log names, and their rows now (a person
/// or group named but absent from `rows` was deleted; likewise a pair without rows).
#[derive(Debug, Clone, Default)]
pub struct DirectoryPatch {
    /// The last change-log id included.
    pub version: i64,
    pub people: Vec<i64>,
    pub groups: Vec<i64>,
    /// (group, person)
    pub memberships: Vec<(i64, i64)>,
    /// (parent, child)
    pub subgroups: Vec<(i64, i64)>,
    /// (person, group)
    pub opt_outs: Vec<(i64, i64)>,
    /// People (with teams, services, field values, periods) and groups named above, and the
    /// membership, subgroup and opt-out rows of the pairs named above.
    pub rows: DirectoryRows,
}

fn membership(r: &sqlx::any::AnyRow) -> Result<MembershipRow, StoreError> {
    Ok(MembershipRow {
        group_id: r.try_get(0)?,
        person_id: r.try_get(1)?,
        manager: r.try_get::<&str, _>(2)? == "manager",
        valid_from: r.try_get::<Option<&str>, _>(3)?.and_then(day),
        valid_until: r.try_get::<Option<&str>, _>(4)?.and_then(day),
    })
}

/// People and what they carry (teams, services, field values, periods), streamed into `d`:
/// everyone, or (with `ids`, a JSON array bound as `$1` and read through `ids_table`) just those.
async fn read_people(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ids_table: &str,
    ids: Option<&str>,
    d: &mut DirectoryRows,
) -> Result<(), StoreError> {
    let only = |col: &str| match ids {
        Some(_) => format!(" WHERE {col} IN (SELECT CAST(value AS BIGINT) FROM {ids_table})"),
        None => String::new(),
    };
    fn bound<'q>(
        sql: &'q str,
        ids: Option<&str>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let q = sqlx::query(sql);
        match ids {
            Some(ids) => q.bind(ids.to_string()),
            None => q,
        }
    }
    let sql = format!(
        "SELECT id, email, status, membership_type_id, profile_type, no_list_mail, receive_duplicates FROM people{} ORDER BY id",
        only("id")
    );
    {
        let mut rows = bound(&sql, ids).fetch(&mut **tx);
        while let Some(r) = rows.try_next().await? {
            d.people.push(PersonRow {
                id: r.try_get(0)?,
                email: r.try_get(1)?,
                status: r.try_get(2)?,
                membership_type_id: r.try_get(3)?,
                profile_type: r.try_get(4)?,
                no_list_mail: r.try_get::<i64, _>(5)? != 0,
                receive_duplicates: r.try_get::<i64, _>(6)? != 0,
            });
        }
    }
    for (sql, out) in [
        (
            format!(
                "SELECT person_id, team_id FROM person_teams{}",
                only("person_id")
            ),
            &mut d.person_teams,
        ),
        (
            format!(
                "SELECT person_id, service_id FROM person_services{}",
                only("person_id")
            ),
            &mut d.person_services,
        ),
    ] {
        let mut rows = bound(&sql, ids).fetch(&mut **tx);
        while let Some(r) = rows.try_next().await? {
            out.push((r.try_get(0)?, r.try_get(1)?));
        }
    }
    {
        let sql = format!(
            "SELECT v.person_id, f.name, v.value FROM person_field_values v JOIN custom_fields f ON f.id = v.field_id{}",
            only("v.person_id")
        );
        let mut rows = bound(&sql, ids).fetch(&mut **tx);
        while let Some(r) = rows.try_next().await? {
            d.field_values
                .push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
    }
    {
        let sql = format!(
            "SELECT person_id, joined_on, left_on FROM membership_periods{} ORDER BY joined_on",
            only("person_id")
        );
        let mut rows = bound(&sql, ids).fetch(&mut **tx);
        while let Some(r) = rows.try_next().await? {
            if let Some(joined) = day(r.try_get(1)?) {
                let left = r.try_get::<Option<&str>, _>(2)?.and_then(day);
                d.periods.push((r.try_get(0)?, joined, left));
            }
        }
    }
    Ok(())
}

/// Groups into `d`: all, or (with `ids`) just those.
async fn read_groups(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ids_table: &str,
    ids: Option<&str>,
    d: &mut DirectoryRows,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT id, name, address, standard_key, active, criteria FROM groups{} ORDER BY id",
        match ids {
            Some(_) => format!(" WHERE id IN (SELECT CAST(value AS BIGINT) FROM {ids_table})"),
            None => String::new(),
        }
    );
    let mut q = sqlx::query(&sql);
    if let Some(ids) = ids {
        q = q.bind(ids.to_string());
    }
    let mut rows = q.fetch(&mut **tx);
    while let Some(r) = rows.try_next().await? {
        d.groups.push(GroupRow {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            address: r.try_get(2)?,
            standard_key: r.try_get(3)?,
            active: r.try_get::<i64, _>(4)? != 0,
            criteria: r.try_get(5)?,
        });
    }
    Ok(())
}

async fn names<'c, E: Executor<'c, Database = sqlx::Any>>(
    e: E,
    table: &str,
) -> Result<Vec<(i64, String)>, StoreError> {
    let rows = sqlx::query(&format!("SELECT id, name FROM {table} ORDER BY id"))
        .fetch_all(e)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

impl Store {
    pub async fn directory_version(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT version FROM directory_version WHERE id = 1")
                .fetch_one(self.pool())
                .await?
                .try_get(0)?,
        )
    }

    /// Whether the change log moved past `cursor` (the last change a copy includes): one
    /// statement, so the newest id and the pruning mark come from one snapshot.
    pub async fn directory_changed_since(&self, cursor: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "SELECT COALESCE((SELECT MAX(id) FROM directory_changes), 0), pruned_through \
             FROM directory_log WHERE id = 1",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(r.try_get::<i64, _>(0)? > cursor || r.try_get::<i64, _>(1)? > cursor)
    }

    /// The changes after `cursor` with the current rows of everything they name, read in one
    /// snapshot. `None` when a rebuild is due instead: the log was pruned past `cursor`, the
    /// vocabulary changed (names of types, teams, services or fields), or more than `limit`
    /// changes are waiting (a bulk import: one full read is cheaper).
    pub async fn directory_patch(
        &self,
        cursor: i64,
        limit: usize,
    ) -> Result<Option<DirectoryPatch>, StoreError> {
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let pruned: i64 = sqlx::query("SELECT pruned_through FROM directory_log WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if pruned > cursor {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT id, kind, a, b FROM directory_changes WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(cursor)
        .bind(limit as i64 + 1)
        .fetch_all(&mut *tx)
        .await?;
        if rows.len() > limit {
            return Ok(None);
        }
        let mut patch = DirectoryPatch {
            version: cursor,
            ..Default::default()
        };
        let (mut people, mut groups) = (Vec::new(), Vec::new());
        let (mut memberships, mut subgroups, mut opt_outs) = (Vec::new(), Vec::new(), Vec::new());
        for r in &rows {
            patch.version = patch.version.max(r.try_get(0)?);
            let kind: String = r.try_get(1)?;
            let (a, b): (Option<i64>, Option<i64>) = (r.try_get(2)?, r.try_get(3)?);
            match (kind.as_str(), a, b) {
                ("person", Some(a), _) => people.push(a),
                ("group", Some(a), _) => groups.push(a),
                ("membership", Some(a), Some(b)) => memberships.push((a, b)),
                ("subgroup", Some(a), Some(b)) => subgroups.push((a, b)),
                ("opt_out", Some(a), Some(b)) => opt_outs.push((a, b)),
                // An opt-out of all list mail is the person's `no_list_mail`.
                ("opt_out", Some(_), None) => {}
                _ => return Ok(None),
            }
        }
        for list in [&mut people, &mut groups] {
            list.sort_unstable();
            list.dedup();
        }
        for list in [&mut memberships, &mut subgroups, &mut opt_outs] {
            list.sort_unstable();
            list.dedup();
        }
        if !people.is_empty() {
            let ids = serde_json::to_string(&people).unwrap_or_default();
            read_people(
                &mut tx,
                &self.backend().json_texts("$1"),
                Some(&ids),
                &mut patch.rows,
            )
            .await?;
        }
        if !groups.is_empty() {
            let ids = serde_json::to_string(&groups).unwrap_or_default();
            read_groups(
                &mut tx,
                &self.backend().json_texts("$1"),
                Some(&ids),
                &mut patch.rows,
            )
            .await?;
        }
        for &(g, p) in &memberships {
            for r in sqlx::query(
                "SELECT group_id, person_id, role, valid_from, valid_until FROM memberships \
                 WHERE group_id = $1 AND person_id = $2",
            )
            .bind(g)
            .bind(p)
            .fetch_all(&mut *tx)
            .await?
            {
                patch.rows.memberships.push(membership(&r)?);
            }
        }
        for &(parent, child) in &subgroups {
            if let Some(r) = sqlx::query(
                "SELECT as_manager FROM subgroups WHERE parent_id = $1 AND child_id = $2",
            )
            .bind(parent)
            .bind(child)
            .fetch_optional(&mut *tx)
            .await?
            {
                patch
                    .rows
                    .subgroups
                    .push((parent, child, r.try_get::<i64, _>(0)? != 0));
            }
        }
        for &(person, group) in &opt_outs {
            if sqlx::query("SELECT 1 FROM opt_outs WHERE person_id = $1 AND group_id = $2")
                .bind(person)
                .bind(group)
                .fetch_optional(&mut *tx)
                .await?
                .is_some()
            {
                patch.rows.opt_outs.push((person, Some(group)));
            }
        }
        tx.commit().await?;
        patch.people = people;
        patch.groups = groups;
        patch.memberships = memberships;
        patch.subgroups = subgroups;
        patch.opt_outs = opt_outs;
        Ok(Some(patch))
    }

    /// Deletes change-log rows older than `max_age_secs` (by the database's clock) and records
    /// how far the log was pruned, so a copy older than that rebuilds instead of missing them.
    pub async fn prune_directory_changes(&self, max_age_secs: i64) -> Result<u64, StoreError> {
        let now = match self.backend() {
            Backend::Sqlite => "CAST(strftime('%s', 'now') AS INTEGER)",
            Backend::Postgres => "EXTRACT(EPOCH FROM now())::BIGINT",
        };
        let mut tx = self.pool().begin().await?;
        // `MAX(id + 0)`, not `MAX(id)`: PostgreSQL answers a plain MAX(id) by walking the
        // primary key backwards until a row passes the filter, which is every row when none is
        // old enough (2M changes after a big import: 1.4–5.8 s, measured); this way it reads
        // just the old rows through `directory_changes_created` (20–50 ms).
        let upto: Option<i64> = sqlx::query(&format!(
            "SELECT MAX(id + 0) FROM directory_changes WHERE created_at < {now} - $1"
        ))
        .bind(max_age_secs)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let Some(upto) = upto else {
            return Ok(0);
        };
        let deleted = sqlx::query("DELETE FROM directory_changes WHERE id <= $1")
            .bind(upto)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE directory_log SET pruned_through = $1 WHERE id = 1 AND pruned_through < $1",
        )
        .bind(upto)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Just what standard groups depend on: the vocabulary and the groups (no people).
    pub async fn standard_groups_and_vocabulary(&self) -> Result<DirectoryRows, StoreError> {
        let mut d = DirectoryRows::default();
        for r in
            sqlx::query("SELECT id, name, standard_key FROM groups WHERE standard_key IS NOT NULL")
                .fetch_all(self.pool())
                .await?
        {
            d.groups.push(GroupRow {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                standard_key: r.try_get(2)?,
                active: true,
                ..Default::default()
            });
        }
        d.membership_types = names(self.pool(), "membership_types").await?;
        d.teams = names(self.pool(), "teams").await?;
        d.services = names(self.pool(), "services").await?;
        Ok(d)
    }

    pub async fn load_directory(&self) -> Result<DirectoryRows, StoreError> {
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let mut d = DirectoryRows {
            version: sqlx::query(
                "SELECT COALESCE((SELECT MAX(id) FROM directory_changes), 0), pruned_through \
                 FROM directory_log WHERE id = 1",
            )
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| Ok(r.try_get::<i64, _>(0)?.max(r.try_get::<i64, _>(1)?)))?,
            ..Default::default()
        };
        // Rows are streamed, not collected first: 100,000 driver rows held at once cost several
        // times what the directory itself does.
        read_people(&mut tx, "", None, &mut d).await?;
        read_groups(&mut tx, "", None, &mut d).await?;
        {
            let mut rows = sqlx::query(
                "SELECT group_id, person_id, role, valid_from, valid_until FROM memberships",
            )
            .fetch(&mut *tx);
            while let Some(r) = rows.try_next().await? {
                d.memberships.push(membership(&r)?);
            }
        }
        for r in sqlx::query("SELECT parent_id, child_id, as_manager FROM subgroups")
            .fetch_all(&mut *tx)
            .await?
        {
            d.subgroups
                .push((r.try_get(0)?, r.try_get(1)?, r.try_get::<i64, _>(2)? != 0));
        }
        for r in sqlx::query("SELECT person_id, group_id FROM opt_outs")
            .fetch_all(&mut *tx)
            .await?
        {
            d.opt_outs.push((r.try_get(0)?, r.try_get(1)?));
        }
        d.membership_types = names(&mut *tx, "membership_types").await?;
        d.teams = names(&mut *tx, "teams").await?;
        d.services = names(&mut *tx, "services").await?;
        tx.commit().await?;
        Ok(d)
    }
}
