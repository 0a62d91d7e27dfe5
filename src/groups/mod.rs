//! Groups: which address is which group, who is in a group, and why.
//!
//! Input: a recipient address at one of our domains, or a group. Output: a [`Route`] (a group's
//! post address or its bounce address); for a post, the de-duplicated recipients frozen at
//! acceptance ([`Resolver::recipients`]); for a person, every path that makes them a member
//! ([`Resolver::explain`]).
//!
//! A group's members come from direct members (with role and term), subgroups (transitively),
//! a rule over people's data ([`criteria`]), and for standard groups the system's own rule
//! ([`standard`]). Resolution runs on an in-memory [`directory::Directory`] built from one read of
//! the store and then patched in place from the store's change log (`directory_changes`, written
//! in the same transaction as every directory write): each use first asks whether the log moved
//! (one indexed query), and if so re-reads only the people, groups and links it names. So
//! resolving a large group costs bitset unions, not queries, and a read after a write costs the
//! write's rows, not the whole directory; other instances on the same PostgreSQL database see a
//! change at their next use.

pub mod access;
pub mod criteria;
pub mod directory;
mod explain;
mod resolve;
mod standard;

use std::sync::{Arc, RwLock};

use chrono::NaiveDate;

pub use explain::{Explanation, Membership};

use crate::{
    clock::SharedClock,
    model::address::EmailAddress,
    store::{Store, StoreError, groups::Group},
};
use directory::Directory;

/// The suffix of a list's bounce address: `board-bounces@example.org` for `board@example.org`.
pub const BOUNCES_SUFFIX: &str = "-bounces";
/// The suffix of the address that reaches a list's managers: `board-owner@example.org`.
pub const OWNER_SUFFIX: &str = "-owner";
/// The suffix of the address members write to to leave: `board-leave@example.org`.
pub const LEAVE_SUFFIX: &str = "-leave";
/// The suffix of the address people write to to join: `board-join@example.org`.
pub const JOIN_SUFFIX: &str = "-join";

/// What an address at one of our domains leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A post to the group: distributed to its members.
    Post(Group),
    /// A bounce or delivery report for the group's outgoing copies: stored, never distributed.
    /// With the VERP detail of the address (`anna=example.org=TAG` of `board-bounces+…@`).
    Bounce(Group, Option<String>),
    /// Mail for the group's managers (`LIST-owner@`), forwarded to them.
    Owner(Group),
    /// A request to leave (`LIST-leave@`): answered with a confirmation link to the sender.
    Leave(Group),
    /// A request to join (`LIST-join@`): a confirmation link, where the list allows it.
    Join(Group),
}

impl Route {
    pub fn group(&self) -> &Group {
        match self {
            Route::Post(g)
            | Route::Bounce(g, _)
            | Route::Owner(g)
            | Route::Leave(g)
            | Route::Join(g) => g,
        }
    }
}

/// Finds what `address` leads to; `None` when it is no group's address.
pub async fn route(store: &Store, address: &EmailAddress) -> Result<Option<Route>, StoreError> {
    if let Some(group) = store.group_by_address(&address.key()).await? {
        return Ok(Some(Route::Post(group)));
    }
    let local = address.local().to_lowercase();
    // A VERP bounce address: `LIST-bounces+DETAIL@DOMAIN`.
    if let Some((base, detail)) = local.split_once('+')
        && let Some(list_local) = base.strip_suffix(BOUNCES_SUFFIX)
    {
        let list = format!("{list_local}@{}", address.domain());
        if let Some(group) = store.group_by_address(&list).await? {
            return Ok(Some(Route::Bounce(group, Some(detail.to_string()))));
        }
    }
    for (suffix, make) in [
        (
            BOUNCES_SUFFIX,
            (|g| Route::Bounce(g, None)) as fn(Group) -> Route,
        ),
        (OWNER_SUFFIX, Route::Owner),
        (LEAVE_SUFFIX, Route::Leave),
        (JOIN_SUFFIX, Route::Join),
    ] {
        if let Some(list_local) = local.strip_suffix(suffix) {
            let list = format!("{list_local}@{}", address.domain());
            if let Some(group) = store.group_by_address(&list).await? {
                return Ok(Some(make(group)));
            }
        }
    }
    Ok(None)
}

/// The bounce address of a list address.
pub fn bounce_address(list_address: &str) -> String {
    suffixed(list_address, BOUNCES_SUFFIX)
}

/// `board-owner@example.org` for `board@example.org`: who answers for the list.
pub fn owner_address(list_address: &str) -> String {
    suffixed(list_address, OWNER_SUFFIX)
}

/// `board-leave@example.org` for `board@example.org`.
pub fn leave_address(list_address: &str) -> String {
    suffixed(list_address, LEAVE_SUFFIX)
}

fn suffixed(list_address: &str, suffix: &str) -> String {
    match list_address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}{suffix}@{domain}"),
        // Not an address (a group without one): nothing to derive.
        None => list_address.to_string(),
    }
}

/// At most this many change-log rows are applied as a patch; more (a bulk import) rebuild.
const MAX_PATCH: usize = 20_000;
/// Change-log rows older than this are deleted (an instance idle for longer rebuilds).
const CHANGE_LOG_KEEP_SECS: i64 = 3600;
/// How often an instance prunes the change log.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// Resolves groups against an in-memory copy of the directory, kept current with the store.
pub struct Resolver {
    store: Store,
    clock: SharedClock,
    current: RwLock<Option<Arc<Directory>>>,
    /// One update at a time: callers arriving during one wait for it and share it.
    update: tokio::sync::Mutex<()>,
    last_prune: std::sync::Mutex<Option<std::time::Instant>>,
    patches: std::sync::atomic::AtomicU64,
    rebuilds: std::sync::atomic::AtomicU64,
}

impl Resolver {
    pub fn new(store: Store, clock: SharedClock) -> Resolver {
        Resolver {
            store,
            clock,
            current: RwLock::new(None),
            update: tokio::sync::Mutex::new(()),
            last_prune: std::sync::Mutex::new(None),
            patches: Default::default(),
            rebuilds: Default::default(),
        }
    }

    pub fn today(&self) -> NaiveDate {
        chrono::DateTime::from_timestamp_millis(self.clock.now_ms())
            .map(|t| t.date_naive())
            .unwrap_or_default()
    }

    /// The current directory: the cached one if the store's change log has not moved since,
    /// else the cached one patched with the changes (or, after a bulk change, a new one).
    /// Standard groups missing from the store (a new team, a renamed type) are created first.
    pub async fn directory(&self) -> Result<Arc<Directory>, StoreError> {
        if let Some(dir) = self.cached()
            && !self.store.directory_changed_since(dir.version).await?
        {
            return Ok(dir);
        }
        let _updating = self.update.lock().await;
        // Someone may have brought it up to date while we waited.
        let current = self.cached();
        if let Some(dir) = &current
            && !self.store.directory_changed_since(dir.version).await?
        {
            return Ok(dir.clone());
        }
        let dir = match current {
            Some(dir) if !dir.wants_compaction() => self.patched(dir).await?,
            _ => None,
        };
        let dir = match dir {
            Some(dir) => {
                self.patches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                dir
            }
            None => {
                self.rebuilds
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.rebuilt().await?
            }
        };
        if let Ok(mut current) = self.current.write() {
            *current = Some(dir.clone());
        }
        self.prune_now_and_then();
        Ok(dir)
    }

    /// How often the directory was patched and how often it was built whole.
    pub fn update_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.patches.load(Relaxed), self.rebuilds.load(Relaxed))
    }

    fn cached(&self) -> Option<Arc<Directory>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// `dir` with the changes since its version put in place; `None` when a rebuild is due.
    async fn patched(&self, dir: Arc<Directory>) -> Result<Option<Arc<Directory>>, StoreError> {
        let Some(patch) = self.store.directory_patch(dir.version, MAX_PATCH).await? else {
            return Ok(None);
        };
        if patch.rows.groups.iter().any(|g| g.standard_key.is_some()) {
            // A standard group changed (renamed, deactivated): keep the standard set whole.
            self.sync_standard_groups().await?;
        }
        // Patched in place unless a reader still holds this copy (then on a copy of it).
        drop(self.current.write().ok().and_then(|mut c| c.take()));
        let mut dir = dir;
        let dir = tokio::task::spawn_blocking(move || {
            Arc::make_mut(&mut dir).apply(patch);
            dir
        })
        .await
        .map_err(|e| StoreError::Conflict(format!("patching the directory failed: {e}")))?;
        Ok(Some(dir))
    }

    async fn sync_standard_groups(&self) -> Result<(), StoreError> {
        let groups = self.store.standard_groups_and_vocabulary().await?;
        if standard::out_of_date(&groups) {
            standard::sync(&self.store, &groups, self.clock.now_ms()).await?;
        }
        Ok(())
    }

    async fn rebuilt(&self) -> Result<Arc<Directory>, StoreError> {
        self.sync_standard_groups().await?;
        // The old copy goes first: two copies of a large directory at once are the peak.
        drop(self.current.write().ok().and_then(|mut c| c.take()));
        let rows = self.store.load_directory().await?;
        Ok(Arc::new(
            tokio::task::spawn_blocking(move || Directory::build(rows))
                .await
                .map_err(|e| StoreError::Conflict(format!("building the directory failed: {e}")))?,
        ))
    }

    /// Deletes old change-log rows every few minutes (any instance may; they agree), in the
    /// background: the read that triggers it (a post being resolved, an admin request) does
    /// not wait for a delete of possibly millions of rows after a big import.
    fn prune_now_and_then(&self) {
        let due = match self.last_prune.lock() {
            Ok(mut last) => {
                let due = last.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
                if due {
                    *last = Some(std::time::Instant::now());
                }
                due
            }
            Err(_) => false,
        };
        if !due {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.prune_directory_changes(CHANGE_LOG_KEEP_SECS).await {
                tracing::warn!(error = %e, "pruning the directory change log failed; trying again later");
            }
        });
    }

    /// The recipient set of a group now, with the directory it indexes into.
    async fn recipient_set(
        &self,
        group_id: i64,
    ) -> Result<Option<(Arc<Directory>, fixedbitset::FixedBitSet)>, StoreError> {
        let dir = self.directory().await?;
        let Some(&g) = dir.group_index.get(&group_id) else {
            return Ok(None);
        };
        let set = resolve::Resolution::single(&dir, self.today()).recipients(g);
        Ok(Some((dir, set)))
    }

    /// The addresses a post to `group_id` goes to right now, each once.
    pub async fn recipients(&self, group_id: i64) -> Result<Vec<String>, StoreError> {
        self.recipients_for_post(group_id, &Default::default())
            .await
    }

    /// Recipients of a post: everyone in the group now, minus `skip` (lower-cased addresses of
    /// members the post already reaches directly, and the author if they do not want their own
    /// posts) — except people who asked for duplicates.
    pub async fn recipients_for_post(
        &self,
        group_id: i64,
        skip: &std::collections::HashSet<String>,
    ) -> Result<Vec<String>, StoreError> {
        let Some((dir, set)) = self.recipient_set(group_id).await? else {
            return Ok(Vec::new());
        };
        Ok(set
            .ones()
            .map(|i| &dir.people[i])
            .filter(|p| p.receive_duplicates || !skip.contains(&p.email.to_lowercase()))
            .map(|p| p.email.clone())
            .collect())
    }

    /// The people a post to `group_id` goes to right now: (person id, address).
    pub async fn recipient_people(&self, group_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let Some((dir, set)) = self.recipient_set(group_id).await? else {
            return Ok(Vec::new());
        };
        Ok(set
            .ones()
            .map(|i| (dir.people[i].id, dir.people[i].email.clone()))
            .collect())
    }

    /// How many people a post to each of `group_ids` goes to right now (one directory, one
    /// resolution for all).
    pub async fn recipient_counts(&self, group_ids: &[i64]) -> Result<Vec<usize>, StoreError> {
        let dir = self.directory().await?;
        let mut resolution = resolve::Resolution::new(&dir, self.today());
        Ok(group_ids
            .iter()
            .map(|id| match dir.group_index.get(id) {
                Some(&g) => resolution.recipients(g).count_ones(..),
                None => 0,
            })
            .collect())
    }

    /// Every path by which `person_id` is in `group_id`, and what keeps them from its mail.
    pub async fn explain(&self, group_id: i64, person_id: i64) -> Result<Explanation, StoreError> {
        let dir = self.directory().await?;
        let (Some(&g), Some(&p)) = (
            dir.group_index.get(&group_id),
            dir.person_index.get(&person_id),
        ) else {
            return Err(StoreError::NotFound(format!(
                "no group {group_id} or person {person_id}"
            )));
        };
        Ok(explain::explain(&dir, g, p, self.today()))
    }

    /// Every group `person_id` is in today, with how (none for an unknown person).
    pub async fn memberships(&self, person_id: i64) -> Result<Vec<Membership>, StoreError> {
        let dir = self.directory().await?;
        let Some(&p) = dir.person_index.get(&person_id) else {
            return Ok(Vec::new());
        };
        Ok(explain::memberships(&dir, p, self.today()))
    }

    /// Where `address` stands with a group: member, manager, member of one of `post_groups`.
    /// Opt-outs do not matter here: someone who stopped receiving a list may still post to it.
    pub async fn standing(
        &self,
        group_id: i64,
        address: &str,
        post_groups: &[i64],
    ) -> Result<crate::policy::Standing, StoreError> {
        let dir = self.directory().await?;
        let today = self.today();
        let Some(&p) = dir.email_index.get(&address.to_lowercase()) else {
            return Ok(crate::policy::Standing::default());
        };
        let in_group = |g: i64| {
            dir.group_index
                .get(&g)
                .map(|&gi| explain::explain(&dir, gi, p, today))
        };
        let own = in_group(group_id).unwrap_or_default();
        Ok(crate::policy::Standing {
            member: own.member,
            manager: own.manager,
            in_post_groups: post_groups
                .iter()
                .any(|&g| in_group(g).is_some_and(|e| e.member)),
        })
    }

    /// How many people a rule would select now (a dry run before saving it).
    pub async fn count_matching(&self, rule: &criteria::Criteria) -> Result<usize, StoreError> {
        let dir = self.directory().await?;
        let mut set = dir.compile(rule).eval(&dir, self.today());
        set.intersect_with(&dir.live);
        Ok(set.count_ones(..))
    }

    /// The addresses of a group's managers.
    pub async fn managers(&self, group_id: i64) -> Result<Vec<String>, StoreError> {
        let dir = self.directory().await?;
        let Some(&g) = dir.group_index.get(&group_id) else {
            return Ok(Vec::new());
        };
        let set = resolve::Resolution::new(&dir, self.today()).managers(g);
        Ok(set.ones().map(|i| dir.people[i].email.clone()).collect())
    }
}

/// Recipients of a group in a directory on a given day (also used by benchmarks).
pub fn recipients_in(dir: &Directory, group_id: i64, today: NaiveDate) -> Vec<String> {
    let Some(&g) = dir.group_index.get(&group_id) else {
        return Vec::new();
    };
    let set = resolve::Resolution::single(dir, today).recipients(g);
    set.ones().map(|i| dir.people[i].email.clone()).collect()
}

/// Explain on a given directory and day (also used by benchmarks).
pub fn explain_in(
    dir: &Directory,
    group_id: i64,
    person_id: i64,
    today: NaiveDate,
) -> Option<Explanation> {
    let (&g, &p) = (
        dir.group_index.get(&group_id)?,
        dir.person_index.get(&person_id)?,
    );
    Some(explain::explain(dir, g, p, today))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bounce_address_adds_the_suffix_to_the_local_part() {
        assert_eq!(
            super::bounce_address("board@example.org"),
            "board-bounces@example.org"
        );
    }
}
