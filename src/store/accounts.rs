//! Admin accounts, their API tokens (hashes only), role grants and the append-only audit log.

use sqlx::{Row, any::AnyRow};

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    pub id: i64,
    pub person_id: i64,
    pub email: String,
    pub name: Option<String>,
    pub active: bool,
    pub created_at: i64,
    pub deactivated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A role given to an account or to every member of a group, for the organisation
/// (`scope_group_id` None) or a subtree of groups.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Grant {
    pub id: i64,
    pub role: String,
    pub account_id: Option<i64>,
    pub group_id: Option<i64>,
    pub scope_group_id: Option<i64>,
    pub created_at: i64,
}

/// What an audit search asks for; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub person_id: Option<i64>,
    /// Exactly this actor.
    pub actor: Option<String>,
    /// At or after (epoch ms).
    pub since: Option<i64>,
    /// Before (epoch ms).
    pub until: Option<i64>,
    /// Entries older than this one (the next page).
    pub before_id: Option<i64>,
    pub limit: i64,
}

fn audit_of(r: &AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        account_id: r.try_get("account_id")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        object: r.try_get("object")?,
        person_id: r.try_get("person_id")?,
        request: json_col(r, "request")?,
        before: json_col(r, "before_json")?,
        after: json_col(r, "after_json")?,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub account_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub object: Option<String>,
    pub person_id: Option<i64>,
    pub request: Option<serde_json::Value>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

const ACCOUNT: &str =
    "SELECT a.id, a.person_id, p.email, p.name, a.active, a.created_at, a.deactivated_at
     FROM accounts a JOIN people p ON p.id = a.person_id";

fn account_of(r: &AnyRow) -> Result<Account, sqlx::Error> {
    Ok(Account {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        active: r.try_get::<i64, _>("active")? != 0,
        created_at: r.try_get("created_at")?,
        deactivated_at: r.try_get("deactivated_at")?,
    })
}

fn grant_of(r: &AnyRow) -> Result<Grant, sqlx::Error> {
    Ok(Grant {
        id: r.try_get("id")?,
        role: r.try_get("role")?,
        account_id: r.try_get("account_id")?,
        group_id: r.try_get("group_id")?,
        scope_group_id: r.try_get("scope_group_id")?,
        created_at: r.try_get("created_at")?,
    })
}

fn json_col(r: &AnyRow, col: &str) -> Result<Option<serde_json::Value>, sqlx::Error> {
    Ok(r.try_get::<Option<String>, _>(col)?
        .and_then(|s| serde_json::from_str(&s).ok()))
}

impl Store {
    /// Makes `person_id` an administrator account (without any role yet).
    pub async fn create_account(&self, person_id: i64, now: i64) -> Result<Account, StoreError> {
        if let Some(a) = self.account_of_person(person_id).await? {
            return Err(StoreError::Conflict(format!(
                "{} has an account already (id {})",
                a.email, a.id
            )));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO accounts (person_id, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(person_id)
        .bind(now)
        .fetch_one(self.pool())
        .await?
        .try_get(0)?;
        self.account(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no account with id {id}")))
    }

    pub async fn account(&self, id: i64) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!("{ACCOUNT} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(account_of).transpose()?)
    }

    pub async fn account_of_person(&self, person_id: i64) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!("{ACCOUNT} WHERE a.person_id = $1"))
            .bind(person_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(account_of).transpose()?)
    }

    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(&format!("{ACCOUNT} ORDER BY a.id"))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(account_of).collect::<Result<_, _>>()?)
    }

    pub async fn set_account_active(
        &self,
        id: i64,
        active: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET active = $1, deactivated_at = $2 WHERE id = $3")
            .bind(i64::from(active))
            .bind((!active).then_some(now))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn add_token(
        &self,
        account_id: i64,
        name: &str,
        hash: &str,
        now: i64,
    ) -> Result<TokenInfo, StoreError> {
        let id: i64 = sqlx::query(
            "INSERT INTO api_tokens (account_id, name, hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(account_id)
        .bind(name)
        .bind(hash)
        .bind(now)
        .fetch_one(self.pool())
        .await?
        .try_get(0)?;
        Ok(TokenInfo {
            id,
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        })
    }

    /// The account holding an unrevoked token with this hash (active or not), and the token id.
    /// Marks the token used (at most once an hour, to spare writes).
    pub async fn account_by_token(
        &self,
        hash: &str,
        now: i64,
    ) -> Result<Option<(Account, i64)>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, account_id, last_used_at FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let (token_id, account_id): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let last: Option<i64> = row.try_get(2)?;
        if last.is_none_or(|l| now - l > 3_600_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(token_id)
                .execute(self.pool())
                .await?;
        }
        Ok(self.account(account_id).await?.map(|a| (a, token_id)))
    }

    pub async fn tokens(&self, account_id: i64) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens
             WHERE account_id = $1 ORDER BY id",
        )
        .bind(account_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                    last_used_at: r.try_get(3)?,
                    revoked_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Revokes one of the account's own tokens; false when it has no such unrevoked token.
    pub async fn revoke_token(
        &self,
        account_id: i64,
        token_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1
             WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_id)
        .bind(account_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn add_grant(
        &self,
        role: &str,
        account_id: Option<i64>,
        group_id: Option<i64>,
        scope_group_id: Option<i64>,
        now: i64,
    ) -> Result<Grant, StoreError> {
        let row = sqlx::query(
            "INSERT INTO grants (role, account_id, group_id, scope_group_id, created_at)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING id, role, account_id, group_id, scope_group_id, created_at",
        )
        .bind(role)
        .bind(account_id)
        .bind(group_id)
        .bind(scope_group_id)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(grant_of(&row)?)
    }

    pub async fn grants(&self) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, role, account_id, group_id, scope_group_id, created_at FROM grants ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(grant_of).collect::<Result<_, _>>()?)
    }

    pub async fn delete_grant(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM grants WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Appends to the audit log (there is no way to change or remove an entry).
    pub async fn append_audit(&self, e: &AuditEntry) -> Result<i64, StoreError> {
        let text = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
        Ok(sqlx::query(
            "INSERT INTO audit_log (at, account_id, actor, action, object, person_id, request, before_json, after_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(e.at)
        .bind(e.account_id)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.object)
        .bind(e.person_id)
        .bind(text(&e.request))
        .bind(text(&e.before))
        .bind(text(&e.after))
        .fetch_one(self.pool())
        .await?
        .try_get(0)?)
    }

    /// Audit entries matching `f`, newest first.
    pub async fn audit_search(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, account_id, actor, action, object, person_id, request, before_json, after_json
             FROM audit_log WHERE ($1 IS NULL OR person_id = $1) AND ($2 IS NULL OR id < $2)
               AND ($3 IS NULL OR actor = $3) AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5)
             ORDER BY id DESC LIMIT $6",
        )
        .bind(f.person_id)
        .bind(f.before_id)
        .bind(&f.actor)
        .bind(f.since)
        .bind(f.until)
        .bind(f.limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(audit_of).collect()
    }

    /// Audit entries, newest first: all, or those about one person; before `before_id` if given.
    pub async fn audit_entries(
        &self,
        person_id: Option<i64>,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, account_id, actor, action, object, person_id, request, before_json, after_json
             FROM audit_log WHERE ($1 IS NULL OR person_id = $1) AND ($2 IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(person_id)
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    account_id: r.try_get("account_id")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    object: r.try_get("object")?,
                    person_id: r.try_get("person_id")?,
                    request: json_col(r, "request")?,
                    before: json_col(r, "before_json")?,
                    after: json_col(r, "after_json")?,
                })
            })
            .collect()
    }
}
