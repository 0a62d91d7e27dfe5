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
