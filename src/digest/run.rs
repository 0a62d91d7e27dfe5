//! Sending digests: which periods are due, who gets which posts, and queueing them exactly once.
//!
//! A list's digest period ends at its `digest_hour` (UTC; weekly: on `digest_weekday`), or
//! early when `digest_max_posts` posts wait. `digest_state.last_cutoff` is where the previous
//! period ended; a run takes the posts in `(last_cutoff, cutoff]` and, **in one transaction**,
//! moves `last_cutoff` to `cutoff` only if it still is what the run read (compare-and-set) and
//! queues the digests. A crash before the commit queues nothing and the next run does it all; a
//! second instance loses the compare-and-set and sends nothing. The queue then delivers as for
//! any post (a killed delivery resends at most the batch in flight, see docs/architecture.md).
//!
//! Who gets what: the people who receive the list now (opt-outs, terms, deactivation as for any
//! post) whose mode on it is this digest and whose pause is over. A member's digest starts at
//! the latest of the period's start, when they chose the digest (posts before it came one by
//! one), and the end of their pause (posts during it are not sent): members with the same start
//! share one queued digest (one body, their own unsubscribe links), so a list of 10,000 digest
//! members is usually one post with 10,000 recipients.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use chrono::{Datelike, NaiveDate};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

use super::{
    Mode,
    build::{DigestHead, DigestPost, digest_bytes},
    day_of, day_start_ms,
};
use crate::{
    clock::SharedClock,
    groups::{self, Resolver},
    model::{ids::new_queue_id, list_settings::ListSettings},
    queue::Queue,
    store::{
        Store, StoreError,
        posts::{NewPost, Personal},
    },
};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// A period ends this long before it is sent: a post accepted just before the end (its time
/// taken at the end of DATA) is committed by then, so no post falls between two digests.
pub const GRACE_MS: i64 = 60_000;

/// What one run of a list sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub group_id: i64,
    pub mode: Mode,
    /// The period: `(start, cutoff]`.
    pub start: i64,
    pub cutoff: i64,
    pub posts: usize,
    /// Queued digests (one per distinct start) and their recipients in all.
    pub digests: usize,
    pub recipients: usize,
    /// The size of the digests' bytes, in all.
    pub bytes: usize,
    pub queue_ids: Vec<String>,
}

/// The digest sender.
#[derive(Clone)]
pub struct Digests {
    pub store: Store,
    pub resolver: Arc<Resolver>,
    pub clock: SharedClock,
    pub queue: Queue,
    /// `server.hostname`, for Message-IDs.
    pub hostname: String,
    /// How often to look for due periods.
    pub poll: Duration,
}

fn period(mode: Mode) -> i64 {
    if mode == Mode::Weekly { 7 * DAY } else { DAY }
}

/// The latest regular end of a period at or before `at`.
pub fn scheduled_cutoff(mode: Mode, settings: &ListSettings, at: i64) -> i64 {
    let hour = i64::from(settings.digest_hour.min(23)) * HOUR;
    let today = day_of(at);
    let mut day: NaiveDate = today;
    for _ in 0..8 {
        let t = day_start_ms(day) + hour;
        let weekday_ok = mode != Mode::Weekly
            || day.weekday().num_days_from_monday() == settings.digest_weekday.from_monday();
        if weekday_ok && t <= at {
            return t;
        }
        day = day.pred_opt().unwrap_or(day);
    }
    at - period(mode)
}

impl Digests {
    /// Every `poll`: sends the digests that are due.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.run_due().await {
                Ok(sent) => {
                    for s in sent {
                        tracing::info!(
                            group = s.group_id,
                            mode = s.mode.as_str(),
                            posts = s.posts,
                            recipients = s.recipients,
                            "digest queued"
                        );
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot send digests"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Sends every digest due now; returns what was queued.
    pub async fn run_due(&self) -> Result<Vec<Sent>, StoreError> {
        let now = self.clock.now_ms();
        let rows = sqlx::query(
            "SELECT DISTINCT group_id, mode FROM delivery_modes WHERE mode IN ('daily', 'weekly')
             ORDER BY group_id, mode",
        )
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let group_id: i64 = r.try_get("group_id")?;
            let mode: String = r.try_get("mode")?;
            let Some(mode) = Mode::parse(&mode) else {
                continue;
            };
            if let Some(sent) = self.run_list(group_id, mode, now).await? {
                out.push(sent);
            }
        }
        Ok(out)
    }

    /// Sends the digest of one list and mode if its period is over.
    pub async fn run_list(
        &self,
        group_id: i64,
        mode: Mode,
        now: i64,
    ) -> Result<Option<Sent>, StoreError> {
        let Some(group) = self.store.group(group_id).await? else {
            return Ok(None);
        };
        let Some(address) = group.address.clone().filter(|_| group.active) else {
            return Ok(None);
        };
        let settings = ListSettings::from_stored(group.settings.as_deref());
        let at = now - GRACE_MS;
        let scheduled = scheduled_cutoff(mode, &settings, at);
        let last: Option<i64> =
            sqlx::query("SELECT last_cutoff FROM digest_state WHERE group_id = $1 AND mode = $2")
                .bind(group_id)
                .bind(mode.as_str())
                .fetch_optional(self.store.pool())
                .await?
                .map(|r| r.try_get("last_cutoff"))
                .transpose()?;
        let start = last.unwrap_or(scheduled - period(mode));
        let cutoff = if scheduled > start {
            scheduled
        } else if let Some(max) = settings.digest_max_posts {
            let waiting: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM posts WHERE group_id = $1 AND kind = 'post'
                   AND received_at > $2 AND received_at <= $3",
            )
            .bind(group_id)
            .bind(start)
            .bind(at)
            .fetch_one(self.store.pool())
            .await?
            .try_get("n")?;
            if waiting >= i64::from(max) {
                at
            } else {
                return Ok(None);
            }
        } else {
            return Ok(None);
        };

        let posts = self.posts(group_id, start, cutoff).await?;
        let queued = if posts.is_empty() {
            Vec::new()
        } else {
            self.digests_for(
                group_id,
                &group.name,
                &address,
                &settings,
                mode,
                start,
                cutoff,
                now,
                &posts,
            )
            .await?
        };

        let mut tx = self.store.pool().begin().await?;
        let claimed = match last {
            Some(old) => sqlx::query(
                "UPDATE digest_state SET last_cutoff = $1
                  WHERE group_id = $2 AND mode = $3 AND last_cutoff = $4",
            )
            .bind(cutoff)
            .bind(group_id)
            .bind(mode.as_str())
            .bind(old)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            None => sqlx::query(
                "INSERT INTO digest_state (group_id, mode, last_cutoff) VALUES ($1, $2, $3)
                 ON CONFLICT (group_id, mode) DO NOTHING",
            )
            .bind(group_id)
            .bind(mode.as_str())
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        if claimed != 1 {
            // Another instance sent this period.
            tx.rollback().await?;
            return Ok(None);
        }
        for post in &queued {
            crate::store::posts::insert_post(&mut tx, self.store.backend(), post).await?;
        }
        tx.commit().await?;
        if !queued.is_empty() {
            self.queue.wake();
        }
        Ok(Some(Sent {
            group_id,
            mode,
            start,
            cutoff,
            posts: posts.len(),
            digests: queued.len(),
            recipients: queued.iter().map(|p| p.recipients.len()).sum(),
            bytes: queued.iter().map(|p| p.list_copy.len()).sum(),
            queue_ids: queued.iter().map(|p| p.queue_id.clone()).collect(),
        }))
    }

    async fn posts(
        &self,
        group_id: i64,
        start: i64,
        cutoff: i64,
    ) -> Result<Vec<DigestPost>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, received_at, list_copy FROM posts WHERE group_id = $1 AND kind = 'post'
               AND received_at > $2 AND received_at <= $3 ORDER BY received_at, id",
        )
        .bind(group_id)
        .bind(start)
        .bind(cutoff)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DigestPost {
                    id: r.try_get("id")?,
                    received_at: r.try_get("received_at")?,
                    list_copy: r.try_get("list_copy")?,
                })
            })
            .collect()
    }

    /// The digests of a period, one per distinct start, with their recipients.
    #[allow(clippy::too_many_arguments)]
    async fn digests_for(
        &self,
        group_id: i64,
        name: &str,
        address: &str,
        settings: &ListSettings,
        mode: Mode,
        start: i64,
        cutoff: i64,
        now: i64,
        posts: &[DigestPost],
    ) -> Result<Vec<NewPost>, StoreError> {
        let modes = super::modes_on(&self.store, group_id).await?;
        let pauses: std::collections::HashMap<i64, i64> = sqlx::query(
            "SELECT x.person_id, x.until_ms FROM delivery_pauses x
               JOIN delivery_modes d ON d.person_id = x.person_id AND d.group_id = $1
              WHERE x.until_ms > $2",
        )
        .bind(group_id)
        .bind(start)
        .fetch_all(self.store.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("person_id")?, r.try_get("until_ms")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        let mut by_start: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (person, email) in self.resolver.recipient_people(group_id).await? {
            let Some(&(m, since)) = modes.get(&person) else {
                continue;
            };
            if m != mode {
                continue;
            }
            let paused = pauses.get(&person).copied().unwrap_or(0);
            if paused > now {
                continue;
            }
            by_start
                .entry(start.max(since).max(paused))
                .or_default()
                .push(email);
        }
        let flags = if settings.unsubscribe_links {
            Personal::UNSUBSCRIBE
        } else {
            0
        };
        let day = day_of(cutoff);
        let mut out = Vec::new();
        for (from, recipients) in by_start {
            let included: Vec<&DigestPost> =
                posts.iter().filter(|p| p.received_at > from).collect();
            if included.is_empty() {
                continue;
            }
            let queue_id = new_queue_id(now);
            let message_id = format!("digest-{queue_id}@{}", self.hostname);
            let bytes = digest_bytes(
                &DigestHead {
                    list_name: name,
                    list_address: address,
                    day,
                    message_id: &message_id,
                    date: now / 1000,
                    language: &settings.language,
                },
                &included,
            );
            out.push(NewPost {
                queue_id,
                kind: "digest",
                personal: flags,
                author: None,
                group_id: Some(group_id),
                author_envelope: String::new(),
                envelope_from: groups::bounce_address(address),
                message_id: Some(message_id.clone()),
                received_at: now,
                original: Vec::new(),
                list_copy: bytes,
                recipients,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::list_settings::Weekday;

    fn ms(y: i32, m: u32, d: u32, h: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn periods_end_at_the_digest_hour_and_weekday() {
        let s = ListSettings {
            digest_hour: 7,
            digest_weekday: Weekday::Monday,
            ..Default::default()
        };
        // Monday 30 Nov 2026, 10:00: today's 07:00; at 06:00: yesterday's.
        assert_eq!(
            scheduled_cutoff(Mode::Daily, &s, ms(2026, 11, 30, 10)),
            ms(2026, 11, 30, 7)
        );
        assert_eq!(
            scheduled_cutoff(Mode::Daily, &s, ms(2026, 11, 30, 6)),
            ms(2026, 11, 29, 7)
        );
        assert_eq!(
            scheduled_cutoff(Mode::Weekly, &s, ms(2026, 12, 3, 6)),
            ms(2026, 11, 30, 7)
        );
        assert_eq!(
            scheduled_cutoff(Mode::Weekly, &s, ms(2026, 11, 30, 6)),
            ms(2026, 11, 23, 7)
        );
    }
}
