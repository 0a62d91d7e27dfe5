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
//! the store and rebuilt when the store's directory version moves, so resolving a large group
//! costs bitset unions, not queries.

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

/// Resolves groups against an in-memory copy of the directory, kept current with the store.
pub struct Resolver {
    store: Store,
    clock: SharedClock,
    current: RwLock<Option<Arc<Directory>>>,
    /// One rebuild at a time: callers arriving during a rebuild wait for it and share it.
    rebuild: tokio::sync::Mutex<()>,
}

impl Resolver {
    pub fn new(store: Store, clock: SharedClock) -> Resolver {
        Resolver {
            store,
            clock,
            current: RwLock::new(None),
            rebuild: tokio::sync::Mutex::new(()),
        }
    }

    pub fn today(&self) -> NaiveDate {
        chrono::DateTime::from_timestamp_millis(self.clock.now_ms())
            .map(|t| t.date_naive())
            .unwrap_or_default()
    }

    /// The current directory: the cached one if the store has not changed since, else a new one.
    /// Standard groups missing from the store (a new team, a renamed type) are created first.
    pub async fn directory(&self) -> Result<Arc<Directory>, StoreError> {
        let version = self.store.directory_version().await?;
        if let Some(dir) = self.cached(version) {
            return Ok(dir);
        }
        let _rebuilding = self.rebuild.lock().await;
        // Someone may have rebuilt while we waited.
        let version = self.store.directory_version().await?;
        if let Some(dir) = self.cached(version) {
            return Ok(dir);
        }
        let groups = self.store.standard_groups_and_vocabulary().await?;
        if standard::out_of_date(&groups) {
            standard::sync(&self.store, &groups, self.clock.now_ms()).await?;
        }
        let rows = self.store.load_directory().await?;
        let dir = Arc::new(
            tokio::task::spawn_blocking(move || Directory::build(rows))
                .await
                .map_err(|e| StoreError::Conflict(format!("building the directory failed: {e}")))?,
        );
        if let Ok(mut current) = self.current.write() {
            *current = Some(dir.clone());
        }
        Ok(dir)
    }

    fn cached(&self, version: i64) -> Option<Arc<Directory>> {
        self.current
            .read()
            .ok()
            .and_then(|c| c.clone())
            .filter(|d| d.version == version)
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
        let set = resolve::Resolution::new(&dir, self.today()).recipients(g);
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
        Ok(dir.compile(rule).eval(&dir, self.today()).count_ones(..))
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
    let set = resolve::Resolution::new(dir, today).recipients(g);
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
