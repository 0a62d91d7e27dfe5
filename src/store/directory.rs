//! Reading the whole directory (people, groups and every membership source) in one consistent
//! snapshot, and the version counter that tells when a snapshot is stale.

use sqlx::{Executor, Row};

use super::{Backend, Store, StoreError};

#[derive(Debug, Clone, Default)]
pub struct PersonRow {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
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

#[derive(Debug, Clone)]
pub struct MembershipRow {
    pub group_id: i64,
    pub person_id: i64,
    pub role: String,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
}

/// Everything the resolver needs, read in one transaction.
#[derive(Debug, Clone, Default)]
pub struct DirectoryRows {
    pub version: i64,
    pub people: Vec<PersonRow>,
    pub person_teams: Vec<(i64, i64)>,
    pub person_services: Vec<(i64, i64)>,
    /// (person, field name, value)
    pub field_values: Vec<(i64, String, String)>,
    /// (person, joined_on, left_on)
    pub periods: Vec<(i64, String, Option<String>)>,
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

async fn pairs<'c, E: Executor<'c, Database = sqlx::Any>>(
    e: E,
    sql: &str,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let rows = sqlx::query(sql).fetch_all(e).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
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
            version: sqlx::query("SELECT version FROM directory_version WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?,
            ..Default::default()
        };
        for r in sqlx::query(
            "SELECT id, email, name, status, membership_type_id, profile_type, no_list_mail, receive_duplicates FROM people ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            d.people.push(PersonRow {
                id: r.try_get(0)?,
                email: r.try_get(1)?,
                name: r.try_get(2)?,
                status: r.try_get(3)?,
                membership_type_id: r.try_get(4)?,
                profile_type: r.try_get(5)?,
                no_list_mail: r.try_get::<i64, _>(6)? != 0,
                receive_duplicates: r.try_get::<i64, _>(7)? != 0,
            });
        }
        d.person_teams = pairs(&mut *tx, "SELECT person_id, team_id FROM person_teams").await?;
        d.person_services = pairs(
            &mut *tx,
            "SELECT person_id, service_id FROM person_services",
        )
        .await?;
        for r in sqlx::query(
            "SELECT v.person_id, f.name, v.value FROM person_field_values v JOIN custom_fields f ON f.id = v.field_id",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            d.field_values.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        for r in sqlx::query(
            "SELECT person_id, joined_on, left_on FROM membership_periods ORDER BY joined_on",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            d.periods
                .push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        for r in sqlx::query(
            "SELECT id, name, address, standard_key, active, criteria FROM groups ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            d.groups.push(GroupRow {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                address: r.try_get(2)?,
                standard_key: r.try_get(3)?,
                active: r.try_get::<i64, _>(4)? != 0,
                criteria: r.try_get(5)?,
            });
        }
        for r in sqlx::query(
            "SELECT group_id, person_id, role, valid_from, valid_until FROM memberships",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            d.memberships.push(MembershipRow {
                group_id: r.try_get(0)?,
                person_id: r.try_get(1)?,
                role: r.try_get(2)?,
                valid_from: r.try_get(3)?,
                valid_until: r.try_get(4)?,
            });
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
