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

    pub async fn set_receive_duplicates(&self, person_id: i64, on: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE people SET receive_duplicates = $1 WHERE id = $2")
            .bind(on as i64)
            .bind(person_id)
            .execute(self.pool())
            .await?;
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

/// Everything stored about a person's membership data.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PersonDetail {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    /// The member register's number for the person (`external_id` in an import).
    pub external_id: Option<String>,
    pub status: String,
    pub membership_type: Option<String>,
    pub profile_type: String,
    pub teams: Vec<String>,
    pub services: Vec<String>,
    pub fields: std::collections::BTreeMap<String, Vec<String>>,
    pub periods: Vec<Period>,
    pub no_list_mail: bool,
    pub receive_duplicates: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Period {
    pub joined: String,
    pub left: Option<String>,
}

/// Filters for a people search; every one is optional.
#[derive(Debug, Clone, Default)]
pub struct PeopleQuery {
    /// Part of the address or name, case-insensitive.
    pub text: Option<String>,
    pub status: Option<String>,
    pub membership_type: Option<String>,
    pub team: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonSummary {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub status: String,
    pub membership_type: Option<String>,
}

impl Store {
    pub async fn person_detail(&self, id: i64) -> Result<Option<PersonDetail>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT p.id, p.email, p.name, p.status, t.name AS type_name, p.profile_type, p.no_list_mail,
                    p.receive_duplicates, p.external_id
             FROM people p LEFT JOIN membership_types t ON t.id = p.membership_type_id WHERE p.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let list = |sql: &'static str| async move {
            let rows = sqlx::query(sql).bind(id).fetch_all(self.pool()).await?;
            rows.iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<Vec<_>, _>>()
        };
        let mut detail = PersonDetail {
            id,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            external_id: row.try_get("external_id")?,
            status: row.try_get("status")?,
            membership_type: row.try_get("type_name")?,
            profile_type: row.try_get("profile_type")?,
            no_list_mail: row.try_get::<i64, _>("no_list_mail")? != 0,
            receive_duplicates: row.try_get::<i64, _>("receive_duplicates")? != 0,
            teams: list("SELECT t.name FROM person_teams pt JOIN teams t ON t.id = pt.team_id WHERE pt.person_id = $1 ORDER BY t.name").await?,
            services: list("SELECT s.name FROM person_services ps JOIN services s ON s.id = ps.service_id WHERE ps.person_id = $1 ORDER BY s.name").await?,
            ..Default::default()
        };
        for r in sqlx::query(
            "SELECT f.name, v.value FROM person_field_values v JOIN custom_fields f ON f.id = v.field_id
             WHERE v.person_id = $1 ORDER BY f.name, v.value",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        {
            detail.fields.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
        }
        for r in sqlx::query("SELECT joined_on, left_on FROM membership_periods WHERE person_id = $1 ORDER BY joined_on")
            .bind(id)
            .fetch_all(self.pool())
            .await?
        {
            detail.periods.push(Period { joined: r.try_get(0)?, left: r.try_get(1)? });
        }
        Ok(Some(detail))
    }

    pub async fn search_people(&self, q: &PeopleQuery) -> Result<Vec<PersonSummary>, StoreError> {
        let text = q
            .text
            .as_ref()
            .map(|t| format!("%{}%", t.to_lowercase().replace(['%', '_'], "")));
        let rows = sqlx::query(
            "SELECT p.id, p.email, p.name, p.external_id, p.status, t.name AS type_name
             FROM people p LEFT JOIN membership_types t ON t.id = p.membership_type_id
             WHERE ($1 IS NULL OR p.email_key LIKE $1 OR LOWER(COALESCE(p.name, '')) LIKE $1
                    OR p.external_id = $7)
               AND ($2 IS NULL OR p.status = $2)
               AND ($3 IS NULL OR t.name = $3)
               AND ($4 IS NULL OR EXISTS (SELECT 1 FROM person_teams pt JOIN teams tm ON tm.id = pt.team_id
                                          WHERE pt.person_id = p.id AND tm.name = $4))
             ORDER BY p.email_key LIMIT $5 OFFSET $6",
        )
        .bind(text)
        .bind(&q.status)
        .bind(&q.membership_type)
        .bind(&q.team)
        .bind(q.limit)
        .bind(q.offset)
        .bind(q.text.as_deref().map(str::trim))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PersonSummary {
                    id: r.try_get("id")?,
                    email: r.try_get("email")?,
                    name: r.try_get("name")?,
                    external_id: r.try_get("external_id")?,
                    status: r.try_get("status")?,
                    membership_type: r.try_get("type_name")?,
                })
            })
            .collect()
    }

    /// Changes a person's address and/or name (`Some(None)` clears the name). The address is
    /// what signs a person in: a new one ends their web sessions and unused sign-in links.
    pub async fn update_person(
        &self,
        id: i64,
        email: Option<&EmailAddress>,
        name: Option<Option<&str>>,
        now: i64,
    ) -> Result<(), StoreError> {
        if let Some(email) = email {
            match self.find_person(email).await? {
                Some(p) if p.id != id => {
                    return Err(StoreError::Conflict(format!(
                        "{email} belongs to another person"
                    )));
                }
                Some(p) if p.email == email.to_string() => {} // unchanged
                _ => {
                    let mut tx = self.pool().begin().await?;
                    sqlx::query("UPDATE people SET email = $1, email_key = $2 WHERE id = $3")
                        .bind(email.to_string())
                        .bind(email.key())
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    super::signin::end_sign_ins(&mut tx, id, now).await?;
                    tx.commit().await?;
                }
            }
        }
        if let Some(name) = name {
            sqlx::query("UPDATE people SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(id)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Deletes a person with their memberships and opt-outs. Returns whether they existed.
    pub async fn delete_person(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM people WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The defined custom fields: (name, kind, options).
    pub async fn custom_fields(&self) -> Result<Vec<(String, String, Vec<String>)>, StoreError> {
        let rows = sqlx::query("SELECT name, kind, options FROM custom_fields ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let options: String = r.try_get(2)?;
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    serde_json::from_str(&options).unwrap_or_default(),
                ))
            })
            .collect()
    }
}
