//! How each person gets each list, and digests.
//!
//! - **Delivery modes** ([`Mode`]), per person per list: every post (the default, no row), a
//!   daily or weekly digest, or no mail (the person stays a member: posting rights, archive
//!   access). And a **pause** of all list mail until a day, after which mail comes again by
//!   itself. Applied where a post's recipients are frozen ([`individual`], called by
//!   `posting`): a person on a digest, on no mail or paused gets no copy of their own.
//! - **Digests** ([`run`]): at a list's `digest_hour` (and `digest_weekday` for weekly ones), or
//!   early when `digest_max_posts` posts are waiting, each digest member gets one mail with the
//!   posts of the period ([`build`]), queued like any post (VERP, retries, DKIM, bounces).
//!   Exactly once: the period's end moves forward in the same transaction that queues its
//!   digests (compare-and-set on `digest_state`), so a crash queues all of them or none, and of
//!   two instances only one sends a period.

pub mod build;
pub mod run;

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::store::{Store, StoreError};

/// How a person gets a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each post as it comes (Mailman: regular delivery).
    #[default]
    Every,
    /// One digest a day (Mailman: digest delivery, digest_volume_frequency daily).
    Daily,
    /// One digest a week.
    Weekly,
    /// No mail; still a member (Mailman: delivery disabled by the user).
    None,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Every, Mode::Daily, Mode::Weekly, Mode::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Every => "every",
            Mode::Daily => "daily",
            Mode::Weekly => "weekly",
            Mode::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// A digest mode.
    pub fn is_digest(self) -> bool {
        matches!(self, Mode::Daily | Mode::Weekly)
    }
}

/// A person's mode on one list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListMode {
    pub group_id: i64,
    pub mode: Mode,
    /// When it was set (ms since the epoch).
    pub since: i64,
}

/// A pause of all list mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pause {
    /// The first day (UTC) mail comes again.
    #[serde(serialize_with = "day_text")]
    pub until: NaiveDate,
    pub set_at: i64,
}

fn day_text<S: serde::Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&d.format("%Y-%m-%d"))
}

/// The start of a day (UTC) in ms.
pub fn day_start_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0)
}

/// The day (UTC) of a time in ms.
pub fn day_of(ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// The modes a person has set (lists not named: every post).
pub async fn modes_of(store: &Store, person_id: i64) -> Result<Vec<ListMode>, StoreError> {
    let rows = sqlx::query(
        "SELECT group_id, mode, since FROM delivery_modes WHERE person_id = $1 ORDER BY group_id",
    )
    .bind(person_id)
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mode: String = r.try_get("mode")?;
        out.push(ListMode {
            group_id: r.try_get("group_id")?,
            mode: Mode::parse(&mode).unwrap_or_default(),
            since: r.try_get("since")?,
        });
    }
    Ok(out)
}

/// Sets a person's mode on a list (`Every` removes the row). Returns whether it changed.
pub async fn set_mode(
    store: &Store,
    person_id: i64,
    group_id: i64,
    mode: Mode,
    now: i64,
) -> Result<bool, StoreError> {
    let done = if mode == Mode::Every {
        sqlx::query("DELETE FROM delivery_modes WHERE person_id = $1 AND group_id = $2")
            .bind(person_id)
            .bind(group_id)
            .execute(store.pool())
            .await?
    } else {
        sqlx::query(
            "INSERT INTO delivery_modes (person_id, group_id, mode, since) VALUES ($1, $2, $3, $4)
             ON CONFLICT (person_id, group_id) DO UPDATE SET mode = excluded.mode, since = excluded.since
             WHERE delivery_modes.mode <> excluded.mode",
        )
        .bind(person_id)
        .bind(group_id)
        .bind(mode.as_str())
        .bind(now)
        .execute(store.pool())
        .await?
    };
    Ok(done.rows_affected() > 0)
}

/// A person's pause, if one is set (it may be over: compare with today).
pub async fn pause_of(store: &Store, person_id: i64) -> Result<Option<Pause>, StoreError> {
    let row = sqlx::query("SELECT until_day, set_at FROM delivery_pauses WHERE person_id = $1")
        .bind(person_id)
        .fetch_optional(store.pool())
        .await?;
    let Some(r) = row else { return Ok(None) };
    let day: String = r.try_get("until_day")?;
    Ok(NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .ok()
        .map(|until| Pause {
            until,
            set_at: r.try_get("set_at").unwrap_or(0),
        }))
}

/// Pauses all of a person's list mail until `until` (the first day it comes again); `None`
/// ends a pause now.
pub async fn set_pause(
    store: &Store,
    person_id: i64,
    until: Option<NaiveDate>,
    now: i64,
) -> Result<(), StoreError> {
    match until {
        None => {
            sqlx::query("DELETE FROM delivery_pauses WHERE person_id = $1")
                .bind(person_id)
                .execute(store.pool())
                .await?;
        }
        Some(day) => {
            sqlx::query(
                "INSERT INTO delivery_pauses (person_id, until_day, until_ms, set_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (person_id) DO UPDATE SET until_day = excluded.until_day,
                     until_ms = excluded.until_ms, set_at = excluded.set_at",
            )
            .bind(person_id)
            .bind(day.format("%Y-%m-%d").to_string())
            .bind(day_start_ms(day))
            .bind(now)
            .execute(store.pool())
            .await?;
        }
    }
    Ok(())
}

/// The members of a list with a mode other than every post: person id → (mode, since).
pub async fn modes_on(
    store: &Store,
    group_id: i64,
) -> Result<std::collections::HashMap<i64, (Mode, i64)>, StoreError> {
    let rows = sqlx::query("SELECT person_id, mode, since FROM delivery_modes WHERE group_id = $1")
        .bind(group_id)
        .fetch_all(store.pool())
        .await?;
    let mut out = std::collections::HashMap::with_capacity(rows.len());
    for r in rows {
        let mode: String = r.try_get("mode")?;
        out.insert(
            r.try_get("person_id")?,
            (Mode::parse(&mode).unwrap_or_default(), r.try_get("since")?),
        );
    }
    Ok(out)
}

/// The lower-cased addresses that get no copy of their own of a post to `group_id` at `now`:
/// people on a digest or on no mail for this list, and people whose pause is not over.
pub async fn held_back(
    store: &Store,
    group_id: i64,
    now: i64,
) -> Result<HashSet<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT p.email_key FROM delivery_modes d JOIN people p ON p.id = d.person_id
          WHERE d.group_id = $1
         UNION
         SELECT p.email_key FROM delivery_pauses x JOIN people p ON p.id = x.person_id
          WHERE x.until_ms > $2",
    )
    .bind(group_id)
    .bind(now)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            r.try_get::<String, _>("email_key")
                .map_err(StoreError::from)
        })
        .collect()
}

/// The fan-out hook: of a post's `recipients` (frozen at acceptance), those who get a copy of
/// their own — not the ones [`held_back`].
pub async fn individual(
    store: &Store,
    group_id: i64,
    now: i64,
    recipients: Vec<String>,
) -> Result<Vec<String>, StoreError> {
    let held = held_back(store, group_id, now).await?;
    if held.is_empty() {
        return Ok(recipients);
    }
    Ok(recipients
        .into_iter()
        .filter(|r| !held.contains(&r.to_lowercase()))
        .collect())
}

/// The longest pause: a year.
pub const MAX_PAUSE_DAYS: i64 = 366;

/// A pause's end as typed ("YYYY-MM-DD"): after `today`, within a year.
pub fn parse_pause(text: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("pause_until: {text:?} is not a date; write YYYY-MM-DD"))?;
    if day <= today {
        return Err(format!(
            "pause_until: {day} is not after today ({today}); mail comes again from that day"
        ));
    }
    if (day - today).num_days() > MAX_PAUSE_DAYS {
        return Err("pause_until: at most a year ahead".into());
    }
    Ok(day)
}

/// Sets every direct member of `group_id` to `mode` (not `Every`) at once (imports, benches).
pub async fn set_mode_for_members(
    store: &Store,
    group_id: i64,
    mode: Mode,
    now: i64,
) -> Result<u64, StoreError> {
    if mode == Mode::Every {
        let done = sqlx::query("DELETE FROM delivery_modes WHERE group_id = $1")
            .bind(group_id)
            .execute(store.pool())
            .await?;
        return Ok(done.rows_affected());
    }
    let done = sqlx::query(
        "INSERT INTO delivery_modes (person_id, group_id, mode, since)
         SELECT DISTINCT person_id, group_id, $2, $3 FROM memberships WHERE group_id = $1
         ON CONFLICT (person_id, group_id) DO UPDATE SET mode = excluded.mode, since = excluded.since",
    )
    .bind(group_id)
    .bind(mode.as_str())
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected())
}
