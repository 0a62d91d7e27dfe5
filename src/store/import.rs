//! Bulk writes for the CSV import: one transaction per chunk of rows, names resolved to ids once.

use std::collections::HashMap;

use sqlx::{Any, AnyConnection, Row, Transaction};

use super::{Store, StoreError, people::Vocabulary};
use crate::model::address::EmailAddress;

/// One validated row, ready to write. `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct PersonRecord {
    pub email: Option<EmailAddress>,
    /// The member register's number for the person: the key when present (a changed address
    /// updates the person it belongs to).
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub membership_type: Option<Option<String>>,
    pub profile_type: Option<String>,
    pub teams: Option<Vec<String>>,
    pub services: Option<Vec<String>>,
    /// (field name, values): replaces that field's values.
    pub fields: Vec<(String, Vec<String>)>,
    /// Groups to be a direct member of (added, never removed).
    pub groups: Vec<String>,
    /// A membership period: added once; its end date updated when it changes.
    pub period: Option<(String, Option<String>)>,
}

/// Caches names → ids across chunks of one import.
#[derive(Default)]
pub struct ImportIds {
    vocab: HashMap<(u8, String), i64>,
    groups: HashMap<String, i64>,
    fields: HashMap<String, i64>,
    /// Groups this import created.
    pub created_groups: Vec<String>,
    /// People whose address changed (found by their member number).
    pub changed_addresses: usize,
}

/// How a row meets the people already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// No member number: by address, created when new.
    ByAddress,
    /// A new person with a member number.
    New,
    /// This stored person (found by member number or address; the number is set if missing).
    Existing(i64),
    /// The person with this member number, under a new address.
    NewAddress(i64),
}

impl Store {
    /// Writes `records` in one transaction. Answers the rows that could not be written, by
    /// their index in `records`, with why (an address that belongs to another member number).
    pub async fn import_chunk(
        &self,
        records: &[PersonRecord],
        ids: &mut ImportIds,
        now: i64,
    ) -> Result<Vec<(usize, String)>, StoreError> {
        let mut tx = self.pool().begin().await?;
        // Write first: a SQLite transaction that reads (a row's member number) and only then
        // writes fails at once when another connection wrote in between, instead of waiting.
        sqlx::query("UPDATE directory_version SET version = version + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let mut refused = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if let Err(why) = write_record(&mut tx, r, ids, now).await? {
                refused.push((i, why));
            }
        }
        tx.commit().await?;
        Ok(refused)
    }

    /// What importing `records` would refuse (as [`Store::import_chunk`] answers), and the
    /// groups it would create, without writing anything.
    pub async fn check_import_chunk(
        &self,
        records: &[PersonRecord],
        ids: &mut ImportIds,
    ) -> Result<Vec<(usize, String)>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut refused = Vec::new();
        for (i, r) in records.iter().enumerate() {
            match plan(&mut conn, r).await? {
                Err(why) => refused.push((i, why)),
                Ok(Plan::NewAddress(_)) => ids.changed_addresses += 1,
                Ok(_) => {}
            }
            for g in &r.groups {
                if ids.groups.contains_key(g) {
                    continue;
                }
                let found = sqlx::query("SELECT id FROM groups WHERE name = $1")
                    .bind(g)
                    .fetch_optional(&mut *conn)
                    .await?;
                let id = match found {
                    Some(row) => row.try_get(0)?,
                    None => {
                        ids.created_groups.push(g.clone());
                        0
                    }
                };
                ids.groups.insert(g.clone(), id);
            }
        }
        Ok(refused)
    }
}

/// A stored person's id and member number.
async fn person_by(
    conn: &mut AnyConnection,
    column: &str,
    value: &str,
) -> Result<Option<(i64, Option<String>)>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT id, external_id FROM people WHERE {column} = $1"
    ))
    .bind(value)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
        None => None,
    })
}

/// How `r` meets the stored people, or why it cannot be imported.
async fn plan(
    conn: &mut AnyConnection,
    r: &PersonRecord,
) -> Result<Result<Plan, String>, StoreError> {
    let (Some(email), Some(number)) = (&r.email, &r.external_id) else {
        return Ok(Ok(Plan::ByAddress));
    };
    let by_number = person_by(conn, "external_id", number).await?;
    let by_address = person_by(conn, "email_key", &email.key()).await?;
    Ok(match (by_number, by_address) {
        (Some((n, _)), Some((a, other))) if n != a => Err(match other {
            Some(o) => format!("{email} belongs to member number {o}"),
            None => format!("{email} belongs to another person (without a member number)"),
        }),
        (Some((n, _)), Some(_)) => Ok(Plan::Existing(n)),
        (Some((n, _)), None) => {
            let account = sqlx::query("SELECT 1 FROM accounts WHERE person_id = $1")
                .bind(n)
                .fetch_optional(&mut *conn)
                .await?;
            if account.is_some() {
                Err(format!(
                    "member number {number} has an administrator account: its address changes \
                     on the person's page (by an owner), not by import"
                ))
            } else {
                Ok(Plan::NewAddress(n))
            }
        }
        (None, Some((_, Some(other)))) => Err(format!("{email} belongs to member number {other}")),
        (None, Some((a, None))) => Ok(Plan::Existing(a)),
        (None, None) => Ok(Plan::New),
    })
}

async fn write_record(
    tx: &mut Transaction<'_, Any>,
    r: &PersonRecord,
    ids: &mut ImportIds,
    now: i64,
) -> Result<Result<(), String>, StoreError> {
    let Some(email) = &r.email else {
        return Ok(Ok(()));
    };
    let plan = match plan(tx, r).await? {
        Ok(p) => p,
        Err(why) => return Ok(Err(why)),
    };
    let id: i64 = match plan {
        Plan::ByAddress => sqlx::query(
            "INSERT INTO people (email, email_key, name, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (email_key) DO UPDATE SET name = COALESCE($3, people.name) RETURNING id",
        )
        .bind(email.to_string())
        .bind(email.key())
        .bind(&r.name)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?,
        Plan::New => sqlx::query(
            "INSERT INTO people (email, email_key, name, external_id, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(email.to_string())
        .bind(email.key())
        .bind(&r.name)
        .bind(&r.external_id)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?,
        Plan::Existing(id) => {
            sqlx::query(
                "UPDATE people SET name = COALESCE($1, name), external_id = COALESCE(external_id, $2)
                 WHERE id = $3 AND (($1 IS NOT NULL AND name IS DISTINCT FROM $1)
                                    OR ($2 IS NOT NULL AND external_id IS NULL))",
            )
            .bind(&r.name)
            .bind(&r.external_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
            id
        }
        Plan::NewAddress(id) => {
            sqlx::query(
                "UPDATE people SET email = $1, email_key = $2, name = COALESCE($3, name) WHERE id = $4",
            )
            .bind(email.to_string())
            .bind(email.key())
            .bind(&r.name)
            .bind(id)
            .execute(&mut **tx)
            .await?;
            // The address is what signs a person in: the old one's sessions and links end.
            super::signin::end_sign_ins(tx, id, now).await?;
            ids.changed_addresses += 1;
            id
        }
    };
    if let Some(status) = &r.status {
        sqlx::query("UPDATE people SET status = $1 WHERE id = $2 AND status <> $1")
            .bind(status)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(profile) = &r.profile_type {
        sqlx::query("UPDATE people SET profile_type = $1 WHERE id = $2 AND profile_type <> $1")
            .bind(profile)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(kind) = &r.membership_type {
        let type_id = match kind {
            Some(k) => Some(vocab_id(tx, ids, Vocabulary::MembershipType, k).await?),
            None => None,
        };
        sqlx::query("UPDATE people SET membership_type_id = $1 WHERE id = $2 AND membership_type_id IS DISTINCT FROM $1")
            .bind(type_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    for (list, vocabulary, table, column) in [
        (&r.teams, Vocabulary::Team, "person_teams", "team_id"),
        (
            &r.services,
            Vocabulary::Service,
            "person_services",
            "service_id",
        ),
    ] {
        let Some(names) = list else { continue };
        let mut wanted = Vec::with_capacity(names.len());
        for n in names {
            wanted.push(vocab_id(tx, ids, vocabulary, n).await?);
        }
        let have: Vec<i64> = sqlx::query(&format!(
            "SELECT {column} FROM {table} WHERE person_id = $1"
        ))
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
        for gone in have.iter().filter(|h| !wanted.contains(h)) {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE person_id = $1 AND {column} = $2"
            ))
            .bind(id)
            .bind(gone)
            .execute(&mut **tx)
            .await?;
        }
        for new in wanted.iter().filter(|w| !have.contains(w)) {
            sqlx::query(&format!(
                "INSERT INTO {table} (person_id, {column}) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            ))
            .bind(id)
            .bind(new)
            .execute(&mut **tx)
            .await?;
        }
    }
    for (field, values) in &r.fields {
        let field_id = field_id(tx, ids, field).await?;
        let have: Vec<String> = sqlx::query(
            "SELECT value FROM person_field_values WHERE person_id = $1 AND field_id = $2",
        )
        .bind(id)
        .bind(field_id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
        let mut have_sorted = have.clone();
        have_sorted.sort();
        let mut want_sorted = values.clone();
        want_sorted.sort();
        if have_sorted != want_sorted {
            sqlx::query("DELETE FROM person_field_values WHERE person_id = $1 AND field_id = $2")
                .bind(id)
                .bind(field_id)
                .execute(&mut **tx)
                .await?;
            for v in values {
                sqlx::query("INSERT INTO person_field_values (person_id, field_id, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(id)
                    .bind(field_id)
                    .bind(v)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    if let Some((joined, left)) = &r.period {
        let existing = sqlx::query(
            "SELECT left_on FROM membership_periods WHERE person_id = $1 AND joined_on = $2",
        )
        .bind(id)
        .bind(joined)
        .fetch_optional(&mut **tx)
        .await?;
        match existing {
            None => {
                sqlx::query("INSERT INTO membership_periods (person_id, joined_on, left_on) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(joined)
                    .bind(left)
                    .execute(&mut **tx)
                    .await?;
            }
            Some(row) if row.try_get::<Option<String>, _>(0)? != *left => {
                sqlx::query("UPDATE membership_periods SET left_on = $1 WHERE person_id = $2 AND joined_on = $3")
                    .bind(left)
                    .bind(id)
                    .bind(joined)
                    .execute(&mut **tx)
                    .await?;
            }
            Some(_) => {}
        }
    }
    for g in &r.groups {
        let group_id = group_id(tx, ids, g, now).await?;
        sqlx::query(
            "INSERT INTO memberships (group_id, person_id, role, created_at)
             SELECT $1, $2, 'member', $3 WHERE NOT EXISTS
               (SELECT 1 FROM memberships WHERE group_id = $1 AND person_id = $2)",
        )
        .bind(group_id)
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Ok(()))
}

async fn vocab_id(
    tx: &mut Transaction<'_, Any>,
    ids: &mut ImportIds,
    v: Vocabulary,
    name: &str,
) -> Result<i64, StoreError> {
    let (tag, table) = match v {
        Vocabulary::MembershipType => (0, "membership_types"),
        Vocabulary::Team => (1, "teams"),
        Vocabulary::Service => (2, "services"),
    };
    if let Some(id) = ids.vocab.get(&(tag, name.to_string())) {
        return Ok(*id);
    }
    sqlx::query(&format!(
        "INSERT INTO {table} (name) VALUES ($1) ON CONFLICT (name) DO NOTHING"
    ))
    .bind(name)
    .execute(&mut **tx)
    .await?;
    let id: i64 = sqlx::query(&format!("SELECT id FROM {table} WHERE name = $1"))
        .bind(name)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    ids.vocab.insert((tag, name.to_string()), id);
    Ok(id)
}

async fn field_id(
    tx: &mut Transaction<'_, Any>,
    ids: &mut ImportIds,
    name: &str,
) -> Result<i64, StoreError> {
    if let Some(id) = ids.fields.get(name) {
        return Ok(*id);
    }
    let id: i64 = sqlx::query("SELECT id FROM custom_fields WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no custom field named {name:?}")))?
        .try_get(0)?;
    ids.fields.insert(name.to_string(), id);
    Ok(id)
}

async fn group_id(
    tx: &mut Transaction<'_, Any>,
    ids: &mut ImportIds,
    name: &str,
    now: i64,
) -> Result<i64, StoreError> {
    if let Some(id) = ids.groups.get(name) {
        return Ok(*id);
    }
    let found = sqlx::query("SELECT id FROM groups WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    let id: i64 = match found {
        Some(row) => row.try_get(0)?,
        None => {
            ids.created_groups.push(name.to_string());
            sqlx::query("INSERT INTO groups (name, created_at) VALUES ($1, $2) RETURNING id")
                .bind(name)
                .bind(now)
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?
        }
    };
    ids.groups.insert(name.to_string(), id);
    Ok(id)
}
