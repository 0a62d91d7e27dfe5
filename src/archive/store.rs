//! The archive's tables: `archive_messages` (one row per message and list, its bytes, its
//! thread), `archive_refs` (the Message-IDs each refers to, so a reply that came first is
//! attached when its parent arrives) and the search index (SQLite `archive_fts`, PostgreSQL the
//! `search` tsvector column). Bound parameters only.

use sqlx::{Any, Row, Transaction, any::AnyRow};

use super::Entry;
use crate::{
    model::list_settings::{ArchiveErasure, ArchivePolicy, ListSettings},
    store::{Backend, Store, StoreError, posts::NewPost},
};

/// A reply found by subject only is attached to a message at most this old (ms): 90 days.
const SUBJECT_WINDOW: i64 = 90 * 24 * 3600 * 1000;

/// Threads per page of search results.
pub const SEARCH_PAGE: usize = 20;

/// The last page of search results that can be asked for (pages are counted from 0).
pub const SEARCH_MAX_PAGE: u32 = 500;

/// `threads` (an aggregate of `tid`, `n`, `last`, `hit` per thread) with the id of each
/// thread's first message (`fid`), the latest activity first. The first message is found per
/// thread through the (thread_id, at) index, so the cost follows the threads listed, not the
/// size of the list's archive (the `thread_id IN (…)` filter this replaces let SQLite walk the
/// whole list: 1.7 s for a month page at 100,000 messages). [`Store::with_first`] then reads
/// the first messages by id: joined in the same statement, PostgreSQL hashed the whole table.
fn threads_sql(threads: &str) -> String {
    format!(
        "SELECT t.tid, t.n, t.last, t.hit,
                (SELECT e.id FROM archive_messages e WHERE e.thread_id = t.tid
                 ORDER BY e.at, e.id LIMIT 1) AS fid
         FROM ({threads}) t ORDER BY t.last DESC, t.tid DESC"
    )
}

/// An archived message as the pages list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub id: i64,
    pub key: String,
    pub thread_id: i64,
    pub parent_id: Option<i64>,
    pub subject: String,
    pub author_name: String,
    pub author_email: String,
    pub at: i64,
    pub erased: bool,
}

const SUMMARY: &str =
    "id, key, thread_id, parent_id, subject, author_name, author_email, at, erased";

fn summary(r: &AnyRow) -> Result<Summary, sqlx::Error> {
    Ok(Summary {
        id: r.try_get("id")?,
        key: r.try_get("key")?,
        thread_id: r.try_get("thread_id")?,
        parent_id: r.try_get("parent_id")?,
        subject: r.try_get("subject")?,
        author_name: r.try_get("author_name")?,
        author_email: r.try_get("author_email")?,
        at: r.try_get("at")?,
        erased: r.try_get::<i64, _>("erased")? != 0,
    })
}

/// A thread as a month page or a search lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRow {
    pub thread_id: i64,
    /// Its first message.
    pub first: Summary,
    /// Messages in the thread (in the month, for a month page; matching, for a search).
    pub count: i64,
    pub last_at: i64,
}

/// A month of a list's archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Month {
    pub month: String,
    pub count: i64,
}

/// What a search looks for; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub words: String,
    pub author: String,
    pub subject: String,
    /// ms, inclusive.
    pub from: Option<i64>,
    /// ms, exclusive.
    pub until: Option<i64>,
}

/// Which lists keep an archive, as read in one transaction: each list's settings are read once
/// per transaction, not once per post (a group commit stores many posts to the same list).
#[derive(Default)]
pub(crate) struct Archiving(std::collections::HashMap<i64, bool>);

impl Archiving {
    async fn keeps(
        &mut self,
        tx: &mut Transaction<'_, Any>,
        group_id: i64,
    ) -> Result<bool, StoreError> {
        if let Some(&keeps) = self.0.get(&group_id) {
            return Ok(keeps);
        }
        let settings: Option<String> = sqlx::query("SELECT settings FROM groups WHERE id = $1")
            .bind(group_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get::<Option<String>, _>(0))
            .transpose()?
            .flatten();
        let keeps = ListSettings::from_stored(settings.as_deref()).archive != ArchivePolicy::None;
        self.0.insert(group_id, keeps);
        Ok(keeps)
    }
}

/// Archives a queued list post (kind `post`) in the transaction that queues it, unless its
/// list keeps no archive. The key is the queue id, which the copy's `Archived-At` names.
pub(crate) async fn archive_post(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    post: &NewPost,
    archiving: &mut Archiving,
) -> Result<(), StoreError> {
    let Some(group_id) = post.group_id.filter(|_| post.kind == "post") else {
        return Ok(());
    };
    if !archiving.keeps(tx, group_id).await? {
        return Ok(());
    }
    let Some(entry) = super::entry(&post.list_copy) else {
        return Ok(());
    };
    insert(
        tx,
        backend,
        group_id,
        &post.queue_id,
        &entry,
        &post.list_copy,
        post.received_at,
        false,
    )
    .await?;
    Ok(())
}

/// Inserts one message and threads it; `None` when the list has a message with its
/// Message-ID already (nothing changes).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    group_id: i64,
    key: &str,
    entry: &Entry,
    raw: &[u8],
    at: i64,
    imported: bool,
) -> Result<Option<i64>, StoreError> {
    // A message the list has already is found by the insert itself (ON CONFLICT … DO NOTHING:
    // no row comes back), one statement fewer per post in the transaction that queues it.
    // The nearest ancestor archived: In-Reply-To, then References from the last.
    let mut parent: Option<(i64, i64)> = None;
    for r in &entry.refs {
        if let Some(row) = sqlx::query(
            "SELECT id, thread_id FROM archive_messages WHERE group_id = $1 AND message_id = $2",
        )
        .bind(group_id)
        .bind(r)
        .fetch_optional(&mut **tx)
        .await?
        {
            parent = Some((row.try_get(0)?, row.try_get(1)?));
            break;
        }
    }
    // A client that dropped References: a reply by subject joins the latest message with the
    // same subject within the window.
    if parent.is_none()
        && (entry.is_reply || !entry.refs.is_empty())
        && !entry.norm_subject.is_empty()
        && let Some(row) = sqlx::query(
            "SELECT id, thread_id FROM archive_messages
             WHERE group_id = $1 AND norm_subject = $2 AND at <= $3 AND at >= $4
             ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(group_id)
        .bind(&entry.norm_subject)
        .bind(at)
        .bind(at - SUBJECT_WINDOW)
        .fetch_optional(&mut **tx)
        .await?
    {
        parent = Some((row.try_get(0)?, row.try_get(1)?));
    }
    let author_text = format!("{} {}", entry.author_name, entry.author_email);
    // On PostgreSQL a message that starts a thread takes its id first, so the row is written
    // once with its thread: updating it afterwards wrote a second row version and indexed all
    // its words again.
    let own_id: Option<i64> = match (backend, parent) {
        (Backend::Postgres, None) => Some(
            sqlx::query("SELECT nextval(pg_get_serial_sequence('archive_messages', 'id')) AS id")
                .fetch_one(&mut **tx)
                .await?
                .try_get("id")?,
        ),
        _ => None,
    };
    let sql = match backend {
        Backend::Sqlite => {
            "INSERT INTO archive_messages (group_id, key, message_id, thread_id, parent_id, subject,
                norm_subject, author_name, author_email, at, month, size, raw, imported)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (group_id, message_id) DO NOTHING RETURNING id"
        }
        Backend::Postgres => {
            "INSERT INTO archive_messages (group_id, key, message_id, thread_id, parent_id, subject,
                norm_subject, author_name, author_email, at, month, size, raw, imported, search, id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                     setweight(to_tsvector('simple', $6), 'A') || setweight(to_tsvector('simple', $15), 'B')
                     || to_tsvector('simple', $16),
                     COALESCE($17, nextval(pg_get_serial_sequence('archive_messages', 'id'))))
             ON CONFLICT (group_id, message_id) DO NOTHING RETURNING id"
        }
    };
    let mut q = sqlx::query(sql)
        .bind(group_id)
        .bind(key)
        .bind(&entry.message_id)
        .bind(parent.map(|p| p.1).or(own_id).unwrap_or(0))
        .bind(parent.map(|p| p.0))
        .bind(&entry.subject)
        .bind(&entry.norm_subject)
        .bind(&entry.author_name)
        .bind(&entry.author_email)
        .bind(at)
        .bind(super::month_of(at))
        .bind(raw.len() as i64)
        .bind(raw)
        .bind(imported as i64);
    if backend == Backend::Postgres {
        q = q.bind(&author_text).bind(pg_text(&entry.text)).bind(own_id);
    }
    let Some(row) = q.fetch_optional(&mut **tx).await? else {
        return Ok(None);
    };
    let id: i64 = row.try_get("id")?;
    let thread_id = match (parent, own_id) {
        (Some((_, t)), _) => t,
        (None, Some(own)) => own,
        (None, None) => {
            sqlx::query("UPDATE archive_messages SET thread_id = $1 WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            id
        }
    };
    if backend == Backend::Sqlite {
        sqlx::query(
            "INSERT INTO archive_fts (rowid, subject, author, body) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(&entry.subject)
        .bind(&author_text)
        .bind(&entry.text)
        .execute(&mut **tx)
        .await?;
    }
    for r in &entry.refs {
        sqlx::query("INSERT INTO archive_refs (group_id, ref, message) VALUES ($1, $2, $3)")
            .bind(group_id)
            .bind(r)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    // Replies that arrived before this message (imports out of order, a delayed post) and
    // found no parent: they answer this one; their threads join this thread.
    let orphans = sqlx::query(
        "SELECT m.id, m.thread_id FROM archive_refs r JOIN archive_messages m ON m.id = r.message
         WHERE r.group_id = $1 AND r.ref = $2 AND m.parent_id IS NULL AND m.id <> $3",
    )
    .bind(group_id)
    .bind(&entry.message_id)
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    for o in orphans {
        let (oid, othread): (i64, i64) = (o.try_get(0)?, o.try_get(1)?);
        sqlx::query("UPDATE archive_messages SET parent_id = $1 WHERE id = $2")
            .bind(id)
            .bind(oid)
            .execute(&mut **tx)
            .await?;
        if othread != thread_id {
            sqlx::query(
                "UPDATE archive_messages SET thread_id = $1 WHERE group_id = $2 AND thread_id = $3",
            )
            .bind(thread_id)
            .bind(group_id)
            .bind(othread)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(Some(id))
}

/// PostgreSQL's tsvector holds at most 1 MB; words longer than its limit are dropped anyway.
fn pg_text(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| w.len() < 200)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The words of a search as an FTS5 query: each word quoted (every word must occur).
fn fts5_query(words: &str) -> String {
    words
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .take(20)
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `%text%` for LIKE, with the wildcards in the text escaped (ESCAPE '\').
fn like(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// What an mbox download holds.
#[derive(Debug, Clone, Copy)]
pub enum MboxOf<'a> {
    Month(&'a str),
    Thread(i64),
}

/// An imported message as the archive reads it, or why it cannot be archived.
pub fn import_entry(raw: &[u8]) -> Result<Entry, &'static str> {
    let entry = super::entry(raw).ok_or("no header section")?;
    if entry.author_email.is_empty() && entry.subject.is_empty() && entry.date.is_none() {
        return Err("no From, Subject or Date");
    }
    Ok(entry)
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    pub added: u64,
    /// Already in the archive (same Message-ID).
    pub duplicates: u64,
    /// Positions (1-based) of messages that could not be read, with why.
    pub unreadable: Vec<(u64, String)>,
}

impl Store {
    /// Archives one message from an import (its own transaction).
    pub async fn archive_import(
        &self,
        group_id: i64,
        raw: &[u8],
        fallback_at: i64,
    ) -> Result<Option<i64>, ImportError> {
        let entry = import_entry(raw).map_err(ImportError::Unreadable)?;
        let at = entry.date.unwrap_or(fallback_at);
        let key = format!(
            "imp-{}",
            super::hash_hex(format!("{group_id} {}", entry.message_id).as_bytes(), 24)
        );
        let mut tx = self.begin_write().await?;
        let id = insert(
            &mut tx,
            self.backend(),
            group_id,
            &key,
            &entry,
            raw,
            at,
            true,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(id)
    }

    /// Archives many messages (already read) in one transaction: (message, bytes, time).
    /// Returns how many were new.
    pub async fn archive_import_batch(
        &self,
        group_id: i64,
        items: &[(Entry, Vec<u8>, i64)],
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut added = 0;
        for (entry, raw, at) in items {
            let key = format!(
                "imp-{}",
                super::hash_hex(format!("{group_id} {}", entry.message_id).as_bytes(), 24)
            );
            if insert(
                &mut tx,
                self.backend(),
                group_id,
                &key,
                entry,
                raw,
                *at,
                true,
            )
            .await?
            .is_some()
            {
                added += 1;
            }
        }
        tx.commit().await?;
        Ok(added)
    }

    /// The months of a list's archive, the newest first, with their number of messages.
    pub async fn archive_months(&self, group_id: i64) -> Result<Vec<Month>, StoreError> {
        let rows = sqlx::query(
            "SELECT month, COUNT(*) AS n FROM archive_messages WHERE group_id = $1
             GROUP BY month ORDER BY month DESC",
        )
        .bind(group_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Month {
                    month: r.try_get("month")?,
                    count: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// The number of messages of each list (for the list of archives).
    pub async fn archive_counts(&self) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT group_id, COUNT(*) AS n, MAX(at) AS last FROM archive_messages GROUP BY group_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// The threads with messages in `month`, the latest activity first.
    pub async fn archive_month(
        &self,
        group_id: i64,
        month: &str,
    ) -> Result<Vec<ThreadRow>, StoreError> {
        let rows = sqlx::query(&threads_sql(
            "SELECT thread_id AS tid, COUNT(*) AS n, MAX(at) AS last, MAX(id) AS hit
             FROM archive_messages WHERE group_id = $1 AND month = $2 GROUP BY thread_id",
        ))
        .bind(group_id)
        .bind(month)
        .fetch_all(self.pool())
        .await?;
        Ok(self
            .with_first(&rows)
            .await?
            .into_iter()
            .map(|(t, _)| t)
            .collect())
    }

    /// Rows of [`threads_sql`] with their first messages (read by id, 500 at a time): each
    /// thread and the id of its latest message counted. A thread whose first message went
    /// meanwhile is left out.
    async fn with_first(&self, rows: &[AnyRow]) -> Result<Vec<(ThreadRow, i64)>, StoreError> {
        let mut fids = Vec::with_capacity(rows.len());
        for r in rows {
            fids.push(r.try_get::<Option<i64>, _>("fid")?.unwrap_or(0));
        }
        let mut firsts = std::collections::HashMap::new();
        for chunk in fids.chunks(500) {
            let sql = format!(
                "SELECT {SUMMARY} FROM archive_messages WHERE id IN ({})",
                crate::store::list_of(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(self.pool()).await? {
                let s = summary(&r)?;
                firsts.insert(s.id, s);
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for (r, fid) in rows.iter().zip(fids) {
            if let Some(first) = firsts.remove(&fid) {
                out.push((
                    ThreadRow {
                        thread_id: r.try_get("tid")?,
                        first,
                        count: r.try_get("n")?,
                        last_at: r.try_get("last")?,
                    },
                    r.try_get("hit")?,
                ));
            }
        }
        Ok(out)
    }

    /// The messages of a thread, oldest first (at most 2,000).
    pub async fn archive_thread(
        &self,
        group_id: i64,
        thread_id: i64,
    ) -> Result<Vec<(Summary, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SUMMARY}, raw FROM archive_messages WHERE thread_id = $1 AND group_id = $2
             ORDER BY at, id LIMIT 2000"
        ))
        .bind(thread_id)
        .bind(group_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((summary(r)?, r.try_get("raw")?)))
            .collect()
    }

    /// One message by its key.
    pub async fn archive_message(
        &self,
        group_id: i64,
        key: &str,
    ) -> Result<Option<(Summary, Vec<u8>)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SUMMARY}, raw FROM archive_messages WHERE key = $1 AND group_id = $2"
        ))
        .bind(key)
        .bind(group_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((summary(&r)?, r.try_get("raw")?)))
            .transpose()
    }

    /// Ids of the messages of a month or a thread, in order (for an mbox, read in pieces).
    pub async fn archive_ids(
        &self,
        group_id: i64,
        month: Option<&str>,
        thread: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        let rows = match (month, thread) {
            (Some(m), _) => {
                sqlx::query("SELECT id FROM archive_messages WHERE group_id = $1 AND month = $2 ORDER BY at, id")
                    .bind(group_id)
                    .bind(m)
                    .fetch_all(self.pool())
                    .await?
            }
            (None, Some(t)) => {
                sqlx::query("SELECT id FROM archive_messages WHERE group_id = $1 AND thread_id = $2 ORDER BY at, id")
                    .bind(group_id)
                    .bind(t)
                    .fetch_all(self.pool())
                    .await?
            }
            (None, None) => {
                sqlx::query("SELECT id FROM archive_messages WHERE group_id = $1 ORDER BY at, id")
                    .bind(group_id)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Messages by id: (author address, time, bytes), in the order of `ids`.
    pub async fn archive_raw(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(String, i64, Vec<u8>)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, author_email, at, raw FROM archive_messages WHERE id IN ({})",
            crate::store::list_of(1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        let mut by_id = std::collections::HashMap::new();
        for r in q.fetch_all(self.pool()).await? {
            by_id.insert(
                r.try_get::<i64, _>(0)?,
                (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?),
            );
        }
        Ok(ids.iter().filter_map(|i| by_id.remove(i)).collect())
    }

    /// Messages by id: id → (key, bytes) (a search's snippets).
    pub async fn archive_keyed_raw(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, (String, Vec<u8>)>, StoreError> {
        let mut out = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT id, key, raw FROM archive_messages WHERE id IN ({})",
            crate::store::list_of(1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        for r in q.fetch_all(self.pool()).await? {
            out.insert(r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?));
        }
        Ok(out)
    }

    /// The first page of threads with messages that match `q` (see [`Store::archive_search_page`]).
    pub async fn archive_search(
        &self,
        group_id: i64,
        q: &Query,
    ) -> Result<Vec<ThreadRow>, StoreError> {
        let (rows, _) = self.archive_search_page(group_id, q, 0).await?;
        Ok(rows.into_iter().map(|(t, _)| t).collect())
    }

    /// Page `page` (from 0) of the threads with messages that match `q`, the latest match
    /// first, [`SEARCH_PAGE`] threads a page: each with the id of its latest matching message
    /// (for a snippet), and whether a next page has more.
    ///
    /// The matching messages are found by the full-text index (SQLite: the FTS5 rowids are
    /// message ids; PostgreSQL: the GIN index) and filtered and grouped from the
    /// `archive_messages_filter` index, never reading the stored bytes.
    pub async fn archive_search_page(
        &self,
        group_id: i64,
        q: &Query,
        page: u32,
    ) -> Result<(Vec<(ThreadRow, i64)>, bool), StoreError> {
        let mut sql = String::from(
            "SELECT thread_id AS tid, COUNT(*) AS n, MAX(at) AS last, MAX(id) AS hit
             FROM archive_messages WHERE group_id = $1",
        );
        let mut binds: Vec<Bind> = vec![Bind::I(group_id)];
        let words = q.words.trim();
        if !words.is_empty() {
            match self.backend() {
                Backend::Sqlite => {
                    let fts = fts5_query(words);
                    if fts.is_empty() {
                        return Ok((Vec::new(), false));
                    }
                    binds.push(Bind::S(fts));
                    sql.push_str(&format!(
                        " AND id IN (SELECT rowid FROM archive_fts WHERE archive_fts MATCH ${})",
                        binds.len()
                    ));
                }
                Backend::Postgres => {
                    binds.push(Bind::S(words.to_string()));
                    sql.push_str(&format!(
                        " AND search @@ plainto_tsquery('simple', ${})",
                        binds.len()
                    ));
                }
            }
        }
        if !q.author.trim().is_empty() {
            binds.push(Bind::S(like(q.author.trim())));
            let n = binds.len();
            sql.push_str(&format!(
                " AND (LOWER(author_name) LIKE ${n} ESCAPE '\\' OR author_email LIKE ${n} ESCAPE '\\')"
            ));
        }
        if !q.subject.trim().is_empty() {
            binds.push(Bind::S(like(q.subject.trim())));
            sql.push_str(&format!(
                " AND LOWER(subject) LIKE ${} ESCAPE '\\'",
                binds.len()
            ));
        }
        if let Some(from) = q.from {
            binds.push(Bind::I(from));
            sql.push_str(&format!(" AND at >= ${}", binds.len()));
        }
        if let Some(until) = q.until {
            binds.push(Bind::I(until));
            sql.push_str(&format!(" AND at < ${}", binds.len()));
        }
        let page = page.min(SEARCH_MAX_PAGE) as usize;
        // One more than a page: whether there is a next one.
        sql.push_str(&format!(
            " GROUP BY thread_id ORDER BY MAX(at) DESC, thread_id DESC LIMIT {} OFFSET {}",
            SEARCH_PAGE + 1,
            page * SEARCH_PAGE
        ));
        let sql = threads_sql(&sql);
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = match b {
                Bind::I(i) => query.bind(*i),
                Bind::S(s) => query.bind(s.clone()),
            };
        }
        let mut rows = query.fetch_all(self.pool()).await?;
        let more = rows.len() > SEARCH_PAGE;
        rows.truncate(SEARCH_PAGE);
        let rows = self.with_first(&rows).await?;
        Ok((rows, more))
    }

    /// Up to `limit` messages of a month or a thread after `after` (time, id), in order: (id,
    /// author address, time, bytes). An mbox download reads the messages in such pieces, so
    /// its memory does not grow with the month.
    pub async fn archive_mbox_piece(
        &self,
        group_id: i64,
        of: MboxOf<'_>,
        after: (i64, i64),
        limit: i64,
    ) -> Result<Vec<(i64, String, i64, Vec<u8>)>, StoreError> {
        let sql = match of {
            MboxOf::Month(_) => {
                "SELECT id, author_email, at, raw FROM archive_messages
                 WHERE group_id = $1 AND month = $2 AND at >= $3 AND (at > $3 OR id > $4)
                 ORDER BY at, id LIMIT $5"
            }
            MboxOf::Thread(_) => {
                "SELECT id, author_email, at, raw FROM archive_messages
                 WHERE group_id = $1 AND thread_id = $2 AND at >= $3 AND (at > $3 OR id > $4)
                 ORDER BY at, id LIMIT $5"
            }
        };
        let q = sqlx::query(sql).bind(group_id);
        let q = match of {
            MboxOf::Month(m) => q.bind(m.to_string()),
            MboxOf::Thread(t) => q.bind(t),
        };
        let rows = q
            .bind(after.0)
            .bind(after.1)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }

    /// A person's archived posts (for their export): list, key, date, subject, Message-ID.
    pub async fn archived_posts_by(
        &self,
        email_key: &str,
    ) -> Result<Vec<(i64, Summary, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT group_id, {SUMMARY}, raw FROM archive_messages WHERE author_email = $1 ORDER BY at, id"
        ))
        .bind(email_key)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("group_id")?, summary(r)?, r.try_get("raw")?)))
            .collect()
    }

    /// Erases a person from the archives, per list as its `archive_erasure` says: their posts
    /// removed, or their name and address replaced by "(erased)" (in the shown fields and in
    /// the stored bytes). Returns (redacted, removed).
    pub async fn archive_erase(
        &self,
        email_key: &str,
        name: Option<&str>,
    ) -> Result<(u64, u64), StoreError> {
        if email_key.is_empty() {
            return Ok((0, 0));
        }
        let rows = sqlx::query(
            "SELECT a.id, a.raw, a.subject, g.settings, a.author_name FROM archive_messages a
             JOIN groups g ON g.id = a.group_id WHERE a.author_email = $1",
        )
        .bind(email_key)
        .fetch_all(self.pool())
        .await?;
        let (mut redacted, mut removed) = (0, 0);
        let mut tx = self.pool().begin().await?;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let raw: Vec<u8> = r.try_get(1)?;
            let subject: String = r.try_get(2)?;
            let settings: Option<String> = r.try_get(3)?;
            let shown_name: String = r.try_get(4)?;
            if self.backend() == Backend::Sqlite {
                sqlx::query("DELETE FROM archive_fts WHERE rowid = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            match ListSettings::from_stored(settings.as_deref()).archive_erasure {
                ArchiveErasure::Remove => {
                    remove_message(&mut tx, id).await?;
                    removed += 1;
                }
                ArchiveErasure::Redact => {
                    let mut raw = redact(&raw, email_key, name);
                    if Some(shown_name.as_str()) != name {
                        raw = redact(&raw, email_key, Some(&shown_name));
                    }
                    let text = super::entry(&raw).map(|e| e.text).unwrap_or_default();
                    sqlx::query(
                        "UPDATE archive_messages SET author_name = '(erased)', author_email = '',
                                erased = 1, raw = $1, size = $2 WHERE id = $3",
                    )
                    .bind(&raw)
                    .bind(raw.len() as i64)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    match self.backend() {
                        Backend::Sqlite => {
                            sqlx::query(
                                "INSERT INTO archive_fts (rowid, subject, author, body) VALUES ($1, $2, '(erased)', $3)",
                            )
                            .bind(id)
                            .bind(&subject)
                            .bind(&text)
                            .execute(&mut *tx)
                            .await?;
                        }
                        Backend::Postgres => {
                            sqlx::query(
                                "UPDATE archive_messages SET search = setweight(to_tsvector('simple', $1), 'A')
                                     || to_tsvector('simple', $2) WHERE id = $3",
                            )
                            .bind(&subject)
                            .bind(pg_text(&text))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    redacted += 1;
                }
            }
        }
        tx.commit().await?;
        Ok((redacted, removed))
    }

    /// Removes archived posts older than their list's `archive_keep_years`. Returns how many.
    pub async fn archive_expire(&self, now: i64) -> Result<u64, StoreError> {
        let groups = sqlx::query("SELECT id, settings FROM groups WHERE settings IS NOT NULL")
            .fetch_all(self.pool())
            .await?;
        let mut removed = 0;
        for g in groups {
            let id: i64 = g.try_get(0)?;
            let settings: Option<String> = g.try_get(1)?;
            let Some(years) = ListSettings::from_stored(settings.as_deref()).archive_keep_years
            else {
                continue;
            };
            let before = now
                - i64::from(years) * 365 * 24 * 3600 * 1000
                - i64::from(years / 4) * 24 * 3600 * 1000;
            let ids: Vec<i64> =
                sqlx::query("SELECT id FROM archive_messages WHERE group_id = $1 AND at < $2")
                    .bind(id)
                    .bind(before)
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?;
            for chunk in ids.chunks(500) {
                let mut tx = self.pool().begin().await?;
                for id in chunk {
                    if self.backend() == Backend::Sqlite {
                        sqlx::query("DELETE FROM archive_fts WHERE rowid = $1")
                            .bind(*id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    remove_message(&mut tx, *id).await?;
                    removed += 1;
                }
                tx.commit().await?;
            }
        }
        Ok(removed)
    }
}

/// Removes a message; its replies answer its parent instead (the thread stays one).
async fn remove_message(tx: &mut Transaction<'_, Any>, id: i64) -> Result<(), StoreError> {
    let parent: Option<i64> = sqlx::query("SELECT parent_id FROM archive_messages WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?
        .flatten();
    sqlx::query("UPDATE archive_messages SET parent_id = $1 WHERE parent_id = $2")
        .bind(parent)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM archive_refs WHERE message = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM archive_messages WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The bytes with every occurrence of the address (any case) and of the name (if it has at
/// least 3 characters) replaced by "(erased)".
pub fn redact(raw: &[u8], email_key: &str, name: Option<&str>) -> Vec<u8> {
    let mut out = replace_ci(raw, email_key.as_bytes(), b"(erased)");
    if let Some(n) = name.map(str::trim).filter(|n| n.chars().count() >= 3) {
        out = replace_ci(&out, n.as_bytes(), b"(erased)");
    }
    out
}

fn replace_ci(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack.len() - i >= needle.len()
            && haystack[i..i + needle.len()].eq_ignore_ascii_case(needle)
        {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

enum Bind {
    I(i64),
    S(String),
}

/// Why a message of an import was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Unreadable(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_quoted_for_fts5() {
        assert_eq!(
            fts5_query("möte  \"x OR y"),
            "\"möte\" \"\"\"x\" \"OR\" \"y\""
        );
        assert_eq!(fts5_query("* ( )"), "");
    }

    #[test]
    fn redaction_replaces_address_and_name_in_any_case() {
        let out = redact(
            b"From: Anna Berg <Anna@Example.org>\r\n\r\nanna@example.org",
            "anna@example.org",
            Some("Anna Berg"),
        );
        assert_eq!(out, b"From: (erased) <(erased)>\r\n\r\n(erased)".to_vec());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like("50%_A"), "%50\\%\\_a%");
    }
}
