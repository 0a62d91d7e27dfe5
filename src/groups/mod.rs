//! Groups: which address is which group, and who receives a post sent to it.
//!
//! Input: a recipient address at one of our domains. Output: a [`Route`] (a group's post address
//! or its bounce address), and for a post, the de-duplicated recipient list frozen at acceptance.
//! Membership is flat for now (direct members); nesting and rules resolve here too once they exist.

use std::collections::HashSet;

use crate::{
    model::address::EmailAddress,
    store::{Store, StoreError, groups::Group},
};

/// The suffix of a list's bounce address: `board-bounces@example.org` for `board@example.org`.
pub const BOUNCES_SUFFIX: &str = "-bounces";

/// What an address at one of our domains leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A post to the group: distributed to its members.
    Post(Group),
    /// A bounce or delivery report for the group's outgoing copies: stored, never distributed.
    Bounce(Group),
}

impl Route {
    pub fn group(&self) -> &Group {
        match self {
            Route::Post(g) | Route::Bounce(g) => g,
        }
    }
}

/// Finds what `address` leads to; `None` when it is no group's address.
pub async fn route(store: &Store, address: &EmailAddress) -> Result<Option<Route>, StoreError> {
    if let Some(group) = store.group_by_address(&address.key()).await? {
        return Ok(Some(Route::Post(group)));
    }
    let local = address.local().to_lowercase();
    if let Some(list_local) = local.strip_suffix(BOUNCES_SUFFIX) {
        let list = format!("{list_local}@{}", address.domain());
        if let Some(group) = store.group_by_address(&list).await? {
            return Ok(Some(Route::Bounce(group)));
        }
    }
    Ok(None)
}

/// The bounce address of a list address.
pub fn bounce_address(list_address: &str) -> String {
    match list_address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}{BOUNCES_SUFFIX}@{domain}"),
        None => format!("{list_address}{BOUNCES_SUFFIX}"),
    }
}

/// Everyone a post to `group` goes to right now, each address once (compared case-insensitively).
pub async fn recipients(store: &Store, group: &Group) -> Result<Vec<String>, StoreError> {
    let members = store.members(group.id).await?;
    let mut seen = HashSet::with_capacity(members.len());
    Ok(members
        .into_iter()
        .filter(|m| seen.insert(m.email.to_lowercase()))
        .map(|m| m.email)
        .collect())
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
