//! Sign-in by mail link and web sessions: single-use links, the requests behind the rate limit,
//! and sessions. Only SHA-256 hashes of the secrets are stored (of the link token, the session
//! cookie and the requested address), so a copy of the database signs no one in.

use sqlx::{Row, any::AnyRow};

use super::{Store, StoreError};

/// A mailed link as it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigninLink {
    pub person_id: i64,
    pub email: String,
    pub next_path: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A session to start when a link is used.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub client: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Session {
    pub id: i64,
    pub person_id: i64,
    pub email: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

const SESSION: &str = "SELECT s.id, s.person_id, p.email, p.name, s.created_at, s.last_seen_at,
            s.expires_at, s.revoked_at, s.client, s.user_agent
     FROM web_sessions s JOIN people p ON p.id = s.person_id";

fn session_of(r: &AnyRow) -> Result<Session, sqlx::Error> {
    Ok(Session {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        client: r.try_get("client")?,
        user_agent: r.try_get("user_agent")?,
    })
}

/// Ends a person's sessions and spends their unused links, inside `tx`.
pub(super) async fn end_sign_ins(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person_id: i64,
    now: i64,
) -> Result<u64, StoreError> {
    let ended = sqlx::query(
        "UPDATE web_sessions SET revoked_at = $2 WHERE person_id = $1 AND revoked_at IS NULL",
    )
    .bind(person_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query("UPDATE signin_links SET used_at = $2 WHERE person_id = $1 AND used_at IS NULL")
        .bind(person_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(ended)
}

impl Store {
    /// Counts the requests for a link in the window, for this address and from this client,
    /// this one included; under both limits it is recorded and the answer is true, over either
    /// it is not (an over-limit request leaves nothing behind). The insert comes first so the
    /// transaction holds the write lock from its start (SQLite cannot upgrade a read).
    pub async fn take_signin_request(
        &self,
        address_hash: &str,
        client: &str,
        now: i64,
        since: i64,
        limits: (i64, i64),
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO signin_requests (at, address_hash, client) VALUES ($1, $2, $3)")
            .bind(now)
            .bind(address_hash)
            .bind(client)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM signin_requests WHERE address_hash = $1 AND at > $3) AS a,
                    (SELECT COUNT(*) FROM signin_requests WHERE client = $2 AND at > $3) AS c",
        )
        .bind(address_hash)
        .bind(client)
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        let (by_address, by_client): (i64, i64) = (row.try_get("a")?, row.try_get("c")?);
        if by_address > limits.0 || by_client > limits.1 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The person with this address who may sign in (not erased): id and stored address.
    pub async fn signin_person(
        &self,
        email_key: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row =
            sqlx::query("SELECT id, email FROM people WHERE email_key = $1 AND erased_at IS NULL")
                .bind(email_key)
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("email")?)))
            .transpose()
    }

    pub async fn create_signin_link(
        &self,
        token_hash: &str,
        person_id: i64,
        next_path: Option<&str>,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signin_links (token_hash, person_id, next_path, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(person_id)
        .bind(next_path)
        .bind(now)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn signin_link(&self, token_hash: &str) -> Result<Option<SigninLink>, StoreError> {
        let row = sqlx::query(
            "SELECT l.person_id, p.email, l.next_path, l.expires_at, l.used_at
             FROM signin_links l JOIN people p ON p.id = l.person_id
             WHERE l.token_hash = $1 AND p.erased_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(SigninLink {
                person_id: r.try_get("person_id")?,
                email: r.try_get("email")?,
                next_path: r.try_get("next_path")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
            })
        })
        .transpose()
    }

    /// Spends the link and starts a session, in one transaction: a link is used once, by
    /// whoever comes first. `None` when it is unknown, used or expired.
    pub async fn redeem_signin_link(
        &self,
        link_hash: &str,
        session: &NewSession<'_>,
    ) -> Result<Option<SigninLink>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let spent = sqlx::query(
            "UPDATE signin_links SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
               AND person_id IN (SELECT id FROM people WHERE erased_at IS NULL)
             RETURNING person_id, next_path, expires_at",
        )
        .bind(link_hash)
        .bind(session.now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(spent) = spent else {
            return Ok(None);
        };
        let person_id: i64 = spent.try_get("person_id")?;
        // The other links mailed in the meantime are spent too: one sign-in per request.
        sqlx::query(
            "UPDATE signin_links SET used_at = $2 WHERE person_id = $1 AND used_at IS NULL",
        )
        .bind(person_id)
        .bind(session.now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO web_sessions (token_hash, person_id, created_at, last_seen_at,
                                       expires_at, client, user_agent)
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(session.token_hash)
        .bind(person_id)
        .bind(session.now)
        .bind(session.expires_at)
        .bind(session.client)
        .bind(session.user_agent)
        .execute(&mut *tx)
        .await?;
        let email: String = sqlx::query("SELECT email FROM people WHERE id = $1")
            .bind(person_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("email")?;
        tx.commit().await?;
        Ok(Some(SigninLink {
            person_id,
            email,
            next_path: spent.try_get("next_path")?,
            expires_at: spent.try_get("expires_at")?,
            used_at: Some(session.now),
        }))
    }

    /// The session behind a cookie, whatever its state (the caller checks the times).
    pub async fn session_by_token(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(&format!(
            "{SESSION} WHERE s.token_hash = $1 AND p.erased_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(session_of).transpose()?)
    }

    pub async fn touch_session(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE web_sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A person's sessions that have not ended, newest first.
    pub async fn live_sessions(
        &self,
        person_id: i64,
        now: i64,
        idle_since: i64,
    ) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SESSION} WHERE s.person_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
               AND s.last_seen_at > $3 ORDER BY s.last_seen_at DESC, s.id DESC"
        ))
        .bind(person_id)
        .bind(now)
        .bind(idle_since)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(session_of).collect::<Result<_, _>>()?)
    }

    /// Every session of a person still stored (live or ended less than a day ago), for their
    /// data export.
    pub async fn sessions_of(&self, person_id: i64) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query(&format!("{SESSION} WHERE s.person_id = $1 ORDER BY s.id"))
            .bind(person_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(session_of).collect::<Result<_, _>>()?)
    }

    /// Ends one of a person's sessions; false when it was not theirs or already ended.
    pub async fn revoke_session(
        &self,
        person_id: i64,
        id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE web_sessions SET revoked_at = $3
             WHERE id = $1 AND person_id = $2 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(person_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every session of a person and spends their unused sign-in links (sign out
    /// everywhere, account deactivated, address changed). Returns the sessions ended.
    pub async fn revoke_sessions_of(&self, person_id: i64, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let ended = end_sign_ins(&mut tx, person_id, now).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Forgets what no longer matters: requests older than `requests_before`, links and
    /// sessions that ended before `ended_before`, sessions idle since before `idle_before`.
    pub async fn prune_signin(
        &self,
        requests_before: i64,
        ended_before: i64,
        idle_before: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM signin_requests WHERE at < $1")
            .bind(requests_before)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM signin_links WHERE expires_at < $1")
            .bind(ended_before)
            .execute(self.pool())
            .await?;
        // Mail of the server itself (sign-in links) is not kept once delivered or failed.
        let sent: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM posts WHERE kind = 'system' AND received_at < $1
               AND NOT EXISTS (SELECT 1 FROM deliveries d
                               WHERE d.post_id = posts.id AND d.status IN ('queued', 'deferred'))",
        )
        .bind(ended_before)
        .fetch_all(self.pool())
        .await?;
        let mut tx = self.pool().begin().await?;
        super::posts::delete_posts(&mut tx, self.backend(), &sent).await?;
        tx.commit().await?;
        sqlx::query(
            "DELETE FROM web_sessions WHERE expires_at < $1 OR revoked_at < $1 OR last_seen_at < $2",
        )
        .bind(ended_before)
        .bind(idle_before)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
