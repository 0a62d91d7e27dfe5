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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub group: Group,
    pub members: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub email: String,
    pub name: Option<String>,
    pub role: String,
}

fn group_of(row: &AnyRow) -> Result<Group, sqlx::Error> {
    Ok(Group {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        address: row.try_get("address")?,
    })
}

impl Store {
    pub async fn create_group(
        &self,
        name: &str,
        address: Option<&EmailAddress>,
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
        let row = sqlx::query(
            "INSERT INTO groups (name, address, created_at) VALUES ($1, $2, $3)
             RETURNING id, name, address",
        )
        .bind(name)
        .bind(address)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(group_of(&row)?)
    }

    /// A group by its name or by its address.
    pub async fn find_group(&self, name_or_address: &str) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, address FROM groups WHERE name = $1 OR address = $2 ORDER BY id LIMIT 1",
        )
        .bind(name_or_address)
        .bind(name_or_address.trim().to_lowercase())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(group_of).transpose()?)
    }

    /// The group whose list address is `address_key` (lower-cased `local@domain`).
    pub async fn group_by_address(&self, address_key: &str) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query("SELECT id, name, address FROM groups WHERE address = $1")
            .bind(address_key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(group_of).transpose()?)
    }

    pub async fn list_groups(&self) -> Result<Vec<GroupSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.id, g.name, g.address,
                    (SELECT COUNT(*) FROM memberships m WHERE m.group_id = g.id) AS members
             FROM groups g ORDER BY g.name",
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

    /// Adds a direct member; adding someone twice is not an error. Returns whether it was new.
    pub async fn add_member(
        &self,
        group_id: i64,
        person_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO memberships (group_id, person_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (group_id, person_id) DO NOTHING",
        )
        .bind(group_id)
        .bind(person_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
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
            "SELECT p.email, p.name, m.role FROM memberships m JOIN people p ON p.id = m.person_id
             WHERE m.group_id = $1 ORDER BY p.email_key",
        )
        .bind(group_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Member {
                    email: row.try_get("email")?,
                    name: row.try_get("name")?,
                    role: row.try_get("role")?,
                })
            })
            .collect()
    }
}
