//! People: one row per e-mail address.

use sqlx::Row;

use super::{Store, StoreError};
use crate::model::address::EmailAddress;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
}

impl Store {
    /// Finds the person with this address, or creates them. A given name replaces the stored one.
    pub async fn upsert_person(
        &self,
        email: &EmailAddress,
        name: Option<&str>,
        now: i64,
    ) -> Result<Person, StoreError> {
        let row = sqlx::query(
            "INSERT INTO people (email, email_key, name, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (email_key) DO UPDATE SET name = COALESCE($3, people.name)
             RETURNING id, email, name",
        )
        .bind(email.to_string())
        .bind(email.key())
        .bind(name)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(Person {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
        })
    }

    pub async fn find_person(&self, email: &EmailAddress) -> Result<Option<Person>, StoreError> {
        let row = sqlx::query("SELECT id, email, name FROM people WHERE email_key = $1")
            .bind(email.key())
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(Person {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                name: row.try_get("name")?,
            })
        })
        .transpose()
    }
}

/// The vocabularies a person's attributes draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    MembershipType,
    Team,
    Service,
}

impl Vocabulary {
    fn table(self) -> &'static str {
        match self {
            Vocabulary::MembershipType => "membership_types",
            Vocabulary::Team => "teams",
            Vocabulary::Service => "services",
        }
    }
}

impl Store {
    /// The id of a membership type, team or service, created if new.
    pub async fn vocabulary_id(
        &self,
        vocabulary: Vocabulary,
        name: &str,
    ) -> Result<i64, StoreError> {
        let table = vocabulary.table();
        sqlx::query(&format!(
            "INSERT INTO {table} (name) VALUES ($1) ON CONFLICT (name) DO NOTHING"
        ))
        .bind(name)
        .execute(self.pool())
        .await?;
        Ok(
            sqlx::query(&format!("SELECT id FROM {table} WHERE name = $1"))
                .bind(name)
                .fetch_one(self.pool())
                .await?
                .try_get(0)?,
        )
    }

    /// Renames a membership type, team or service (its standard group follows at the next sync).
    pub async fn rename_vocabulary(
        &self,
        vocabulary: Vocabulary,
        old: &str,
        new: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE {} SET name = $1 WHERE name = $2",
            vocabulary.table()
        ))
        .bind(new)
        .bind(old)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("{old:?} does not exist")));
        }
        Ok(())
    }

    /// Sets status (`active` / `resigned`), membership type and profile type.
    pub async fn set_person_profile(
        &self,
        person_id: i64,
        status: &str,
        membership_type: Option<&str>,
        profile_type: &str,
    ) -> Result<(), StoreError> {
        let type_id = match membership_type {
            Some(t) => Some(self.vocabulary_id(Vocabulary::MembershipType, t).await?),
            None => None,
        };
        sqlx::query("UPDATE people SET status = $1, membership_type_id = $2, profile_type = $3 WHERE id = $4")
            .bind(status)
            .bind(type_id)
            .bind(profile_type)
            .bind(person_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Replaces a person's teams or add-on services with `names`.
    pub async fn set_person_vocabulary(
        &self,
        person_id: i64,
        vocabulary: Vocabulary,
        names: &[&str],
    ) -> Result<(), StoreError> {
        let (table, column) = match vocabulary {
            Vocabulary::Team => ("person_teams", "team_id"),
            Vocabulary::Service => ("person_services", "service_id"),
            Vocabulary::MembershipType => {
                return Err(StoreError::Conflict(
                    "a person has one membership type: use set_person_profile".into(),
                ));
            }
        };
        let mut ids = Vec::with_capacity(names.len());
        for n in names {
            ids.push(self.vocabulary_id(vocabulary, n).await?);
        }
        let mut tx = self.pool().begin().await?;
        sqlx::query(&format!("DELETE FROM {table} WHERE person_id = $1"))
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        for id in ids {
            sqlx::query(&format!(
                "INSERT INTO {table} (person_id, {column}) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            ))
            .bind(person_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Defines a custom field: `single`, `multiple` or `checkbox`, with its allowed options.
    pub async fn create_custom_field(
        &self,
        name: &str,
        kind: &str,
        options: &[&str],
    ) -> Result<(), StoreError> {
        let options = serde_json::to_string(options).unwrap_or_else(|_| "[]".into());
        sqlx::query("INSERT INTO custom_fields (name, kind, options) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(kind)
            .bind(options)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Replaces a person's values of a custom field.
    pub async fn set_custom_field(
        &self,
        person_id: i64,
        field: &str,
        values: &[&str],
    ) -> Result<(), StoreError> {
        let field_id: i64 = sqlx::query("SELECT id FROM custom_fields WHERE name = $1")
            .bind(field)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no custom field named {field:?}")))?
            .try_get(0)?;
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM person_field_values WHERE person_id = $1 AND field_id = $2")
            .bind(person_id)
            .bind(field_id)
            .execute(&mut *tx)
            .await?;
        for v in values {
            sqlx::query("INSERT INTO person_field_values (person_id, field_id, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(person_id)
                .bind(field_id)
                .bind(*v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a membership period (history: a new row, never an overwrite of an old one).
    pub async fn add_membership_period(
        &self,
        person_id: i64,
        joined_on: &str,
        left_on: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO membership_periods (person_id, joined_on, left_on) VALUES ($1, $2, $3)",
        )
        .bind(person_id)
        .bind(joined_on)
        .bind(left_on)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
