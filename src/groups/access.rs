//! What the authorization layer needs from the directory: a group's subtree (the group and every
//! group nested in it), a group's members now, and the groups a person manages now.

use std::collections::HashSet;

use chrono::NaiveDate;

use super::{directory::Directory, resolve::Resolution};

/// Group ids by index.
fn ids(dir: &Directory) -> &[i64] {
    &dir.group_ids
}

/// `group_id` and every group nested in it, transitively (empty if there is no such group).
pub fn subtree(dir: &Directory, group_id: i64) -> HashSet<i64> {
    let ids = ids(dir);
    let mut out = HashSet::new();
    let Some(&root) = dir.group_index.get(&group_id) else {
        return out;
    };
    let mut stack = vec![root];
    let mut seen = vec![false; dir.groups.len()];
    while let Some(g) = stack.pop() {
        if std::mem::replace(&mut seen[g], true) {
            continue;
        }
        out.insert(ids[g]);
        stack.extend(dir.groups[g].children.iter().map(|&(c, _)| c));
    }
    out
}

/// The ids of everyone who is a member of `group_id` today (through any path).
pub fn member_ids(dir: &Directory, group_id: i64, today: NaiveDate) -> HashSet<i64> {
    let Some(&g) = dir.group_index.get(&group_id) else {
        return HashSet::new();
    };
    Resolution::single(dir, today)
        .members(g)
        .ones()
        .map(|i| dir.people[i].id)
        .collect()
}

/// The groups `person_id` manages today.
pub fn managed_groups(dir: &Directory, person_id: i64, today: NaiveDate) -> Vec<i64> {
    let Some(&p) = dir.person_index.get(&person_id) else {
        return Vec::new();
    };
    let ids = ids(dir);
    let mut resolution = Resolution::new(dir, today);
    (0..dir.groups.len())
        .filter(|&g| dir.groups[g].active && resolution.managers(g).contains(p as usize))
        .map(|g| ids[g])
        .collect()
}

/// `group_id` and every group it is nested in, transitively: joining it makes one a member of all.
pub fn ancestors(dir: &Directory, group_id: i64) -> HashSet<i64> {
    let ids = ids(dir);
    let mut out = HashSet::new();
    let Some(&start) = dir.group_index.get(&group_id) else {
        return out;
    };
    let mut stack = vec![start];
    let mut seen = vec![false; dir.groups.len()];
    while let Some(g) = stack.pop() {
        if std::mem::replace(&mut seen[g], true) {
            continue;
        }
        out.insert(ids[g]);
        stack.extend(dir.parents[g].iter().copied());
    }
    out
}
