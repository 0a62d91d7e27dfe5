//! Groups and their direct members.

use sqlx::{Row, any::AnyRow};

use super::{Store, StoreError};
use crate::model::address::EmailAddress;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: i64,
    pub name: String,
    /// The list address, lower-cased; `None` for a group without one.
    pub address: Option<String>,
    /// A deactivated group has no members and its address takes no mail.
    pub active: bool,
    /// Set for the groups the system keeps (see `groups::standard`).
    pub standard_key: Option<String>,
    /// The group's rule as JSON (see `groups::criteria`).
    pub criteria: Option<String>,
    /// List settings as JSON (see `model::list_settings`); `None`: the defaults.
    pub settings: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub group: Group,
    pub members: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    pub person_id: i64,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
}

fn group_of(row: &AnyRow) -> Result<Group, sqlx::Error> {
    Ok(Group {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        address: row.try_get("address")?,
        active: row.try_get::<i64, _>("active")? != 0,
        standard_key: row.try_get("standard_key")?,
        criteria: row.try_get("criteria")?,
        settings: row.try_get("settings")?,
    })
}

impl Store {
    pub async fn create_group(
        &self,
        name: &str,
        address: Option<&EmailAddress>,
        now: i64,
    ) -> Result<Group, StoreError> {
        self.create_group_in(name, address, None, now).await
    }

    /// Creates a group, inside `parent` when given, in one transaction: either both or
    /// neither (a new group cannot close a cycle).
    pub async fn create_group_in(
        &self,
        name: &str,
        address: Option<&EmailAddress>,
        parent: Option<i64>,
        now: i64,
    ) -> Result<Group, StoreError> {
        let address = address.map(EmailAddress::key);
        if let Some(existing) = self.find_group(name).await? {
            return Err(StoreError::Conflict(format!(
                "a group named {:?} exists already (id {})",
                existing.name, existing.id
            )));
        }
        if let Some(a) = &address
            && let Some(existing) = self.group_by_address(a).await?
        {
            return Err(StoreError::Conflict(format!(
                "{a} is already the address of group {:?}",
                existing.name
            )));
        }
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO groups (name, address, created_at) VALUES ($1, $2, $3)
             RETURNING id, name, address, active, standard_key, criteria, settings",
        )
        .bind(name)
        .bind(address)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let group = group_of(&row)?;
        if let Some(parent) = parent {
            sqlx::query(
                "INSERT INTO subgroups (parent_id, child_id, as_manager) VALUES ($1, $2, 0)",
            )
            .bind(parent)
            .bind(group.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(group)
    }

    /// A group by its name or by its address.
    pub async fn find_group(&self, name_or_address: &str) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, address, active, standard_key, criteria, settings FROM groups WHERE name = $1 OR address = $2 ORDER BY id LIMIT 1",
        )
        .bind(name_or_address)
        .bind(name_or_address.trim().to_lowercase())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(group_of).transpose()?)
    }

    /// The group whose list address is `address_key` (lower-cased `local@domain`).
    pub async fn group_by_address(&self, address_key: &str) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query("SELECT id, name, address, active, standard_key, criteria, settings FROM groups WHERE address = $1")
            .bind(address_key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(group_of).transpose()?)
    }

    pub async fn group(&self, id: i64) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, address, active, standard_key, criteria, settings FROM groups WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(group_of).transpose()?)
    }

    /// Renames a group and/or sets (`Some(Some)`) or clears (`Some(None)`) its address.
    pub async fn update_group(
        &self,
        id: i64,
        name: Option<&str>,
        address: Option<Option<&EmailAddress>>,
    ) -> Result<(), StoreError> {
        if let Some(name) = name {
            if self
                .find_group(name)
                .await?
                .is_some_and(|g| g.id != id && g.name == name)
            {
                return Err(StoreError::Conflict(format!(
                    "a group named {name:?} exists already"
                )));
            }
            sqlx::query("UPDATE groups SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(id)
                .execute(self.pool())
                .await?;
        }
        if let Some(address) = address {
            let key = address.map(EmailAddress::key);
            if let Some(k) = &key
                && self.group_by_address(k).await?.is_some_and(|g| g.id != id)
            {
                return Err(StoreError::Conflict(format!(
                    "{k} is already the address of another group"
                )));
            }
            sqlx::query("UPDATE groups SET address = $1 WHERE id = $2")
                .bind(key)
                .bind(id)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// The direct subgroups of a group: (id, name, as_manager).
    pub async fn subgroups_of(&self, parent: i64) -> Result<Vec<(i64, String, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.id, g.name, s.as_manager FROM subgroups s JOIN groups g ON g.id = s.child_id
             WHERE s.parent_id = $1 ORDER BY g.name",
        )
        .bind(parent)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get::<i64, _>(2)? != 0)))
            .collect()
    }

    /// Every group with its number of direct memberships, by name. The counts come from one
    /// pass over `memberships` grouped by group, not a count per group. (Pages count from the
    /// in-memory directory instead: see [`Store::groups`].)
    pub async fn list_groups(&self) -> Result<Vec<GroupSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.id, g.name, g.address, g.active, g.standard_key, g.criteria, g.settings,
                    COALESCE(c.n, 0) AS members
             FROM groups g
             LEFT JOIN (SELECT group_id, COUNT(*) AS n FROM memberships GROUP BY group_id) c
                    ON c.group_id = g.id
             ORDER BY g.name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(GroupSummary {
                    group: group_of(row)?,
                    members: row.try_get("members")?,
                })
            })
            .collect()
    }

    /// Every group, by name, without counting anything.
    pub async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, address, active, standard_key, criteria, settings
             FROM groups ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(group_of)
            .collect::<Result<Vec<_>, sqlx::Error>>()?)
    }

    /// Adds a direct member without a term; adding someone twice is not an error.
    /// Returns whether it was new.
    pub async fn add_member(
        &self,
        group_id: i64,
        person_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.add_member_with_term(group_id, person_id, "member", None, None, now)
            .await
    }

    /// Adds a direct member with a role (`member` or `manager`) and an optional term
    /// (`YYYY-MM-DD`, both ends inclusive). One person may hold several terms in one group.
    pub async fn add_member_with_term(
        &self,
        group_id: i64,
        person_id: i64,
        role: &str,
        valid_from: Option<&str>,
        valid_until: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO memberships (group_id, person_id, role, valid_from, valid_until, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(group_id)
        .bind(person_id)
        .bind(role)
        .bind(valid_from)
        .bind(valid_until)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Copies the direct members of `source` whose term is current on `today` (`YYYY-MM-DD`),
    /// with their roles, into `target` with a new term: "the board for next year is this
    /// year's board". Past terms (last year's board) and terms not yet begun (a board already
    /// copied forward) are not copied. Returns how many were added.
    pub async fn copy_members(
        &self,
        source: i64,
        target: i64,
        today: &str,
        valid_from: Option<&str>,
        valid_until: Option<&str>,
        now: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO memberships (group_id, person_id, role, valid_from, valid_until, created_at)
             SELECT DISTINCT $1, person_id, role, $2, $3, $4 FROM memberships
             WHERE group_id = $5
               AND (valid_from IS NULL OR valid_from <= $6)
               AND (valid_until IS NULL OR valid_until >= $6)
             ON CONFLICT DO NOTHING",
        )
        .bind(target)
        .bind(valid_from)
        .bind(valid_until)
        .bind(now)
        .bind(source)
        .bind(today)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Makes `child` a subgroup of `parent` (as managers: its members also manage `parent`).
    /// Refused with [`StoreError::Conflict`] when it would close a cycle.
    pub async fn add_subgroup(
        &self,
        parent: i64,
        child: i64,
        as_manager: bool,
    ) -> Result<(), StoreError> {
        if parent == child {
            return Err(StoreError::Conflict("a group cannot contain itself".into()));
        }
        // Write first, then look for the cycle in the same transaction: on SQLite a transaction
        // that reads before it writes fails with "database is locked" when another writer
        // (the delivery queue) committed in between; one that writes first just waits.
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO subgroups (parent_id, child_id, as_manager) VALUES ($1, $2, $3)
             ON CONFLICT (parent_id, child_id) DO UPDATE SET as_manager = $3",
        )
        .bind(parent)
        .bind(child)
        .bind(as_manager as i64)
        .execute(&mut *tx)
        .await?;
        // With the new edge, the child reaches the parent only if it did before: a cycle.
        let cycle = sqlx::query(
            "WITH RECURSIVE below(id) AS (
                 SELECT $1 UNION SELECT s.child_id FROM subgroups s JOIN below b ON s.parent_id = b.id)
             SELECT 1 FROM below WHERE id = $2",
        )
        .bind(child)
        .bind(parent)
        .fetch_optional(&mut *tx)
        .await?;
        if cycle.is_some() {
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!(
                "group {child} already contains group {parent} (directly or through subgroups): \
                 adding it as a subgroup would make a cycle"
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_subgroup(&self, parent: i64, child: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM subgroups WHERE parent_id = $1 AND child_id = $2")
            .bind(parent)
            .bind(child)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets (or clears) a group's rule, as validated JSON (see `groups::criteria`).
    pub async fn set_criteria(
        &self,
        group_id: i64,
        criteria: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE groups SET criteria = $1 WHERE id = $2")
            .bind(criteria)
            .bind(group_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Stores a group's list settings (validated JSON).
    pub async fn set_settings(&self, group_id: i64, settings: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE groups SET settings = $1 WHERE id = $2")
            .bind(settings)
            .bind(group_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_group_active(&self, group_id: i64, active: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE groups SET active = $1 WHERE id = $2")
            .bind(active as i64)
            .bind(group_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes a group; standard groups are refused (deactivate them instead).
    pub async fn delete_group(&self, group_id: i64) -> Result<(), StoreError> {
        let standard: Option<Option<String>> =
            sqlx::query("SELECT standard_key FROM groups WHERE id = $1")
                .bind(group_id)
                .fetch_optional(self.pool())
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
        match standard {
            None => Err(StoreError::NotFound(format!(
                "group {group_id} does not exist"
            ))),
            Some(Some(_)) => Err(StoreError::Conflict(
                "a standard group cannot be deleted, only deactivated".into(),
            )),
            Some(None) => {
                sqlx::query("DELETE FROM groups WHERE id = $1")
                    .bind(group_id)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }
        }
    }

    /// Creates the standard group `key` named `name` if missing, or renames it to `name`.
    pub async fn upsert_standard_group(
        &self,
        key: &str,
        name: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let renamed =
            sqlx::query("UPDATE groups SET name = $1 WHERE standard_key = $2 AND name <> $1")
                .bind(name)
                .bind(key)
                .execute(self.pool())
                .await?;
        if renamed.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO groups (name, standard_key, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(name)
            .bind(key)
            .bind(now)
            .execute(self.pool())
            .await?;
        }
        Ok(())
    }

    /// Returns whether there was such a membership.
    pub async fn remove_member(&self, group_id: i64, person_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM memberships WHERE group_id = $1 AND person_id = $2")
            .bind(group_id)
            .bind(person_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn members(&self, group_id: i64) -> Result<Vec<Member>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.email, p.name, m.role, m.valid_from, m.valid_until
             FROM memberships m JOIN people p ON p.id = m.person_id
             WHERE m.group_id = $1 ORDER BY p.email_key, m.valid_from",
        )
        .bind(group_id)
        .fetch_all(self.pool())
        .await?;
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
            .collect()
    }
}
