//! Explain: every path by which one person is in a group, and anything that keeps them from
//! receiving its mail ("All leaders ← Circle leaders ← direct member since 2026-01-01").
//!
//! Works upward from the person, so it costs what the person's own memberships cost, not what
//! the whole group costs: the groups that hold the person directly, by rule or as a standard
//! group are the seeds; their ancestors are the only groups a path can pass through.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::Serialize;

use super::{
    directory::{DirectRec, Directory},
    standard::Standard,
};

/// At most this many paths are listed (nesting can multiply them).
const MAX_PATHS: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// In the group by at least one path.
    pub member: bool,
    pub manager: bool,
    /// Member, and not opted out: a post to the group reaches them.
    pub receives: bool,
    pub paths: Vec<String>,
    /// Why a member does not receive the group's mail.
    pub excluded_because: Vec<String>,
    /// Memberships that would count but are outside their term today.
    pub inactive_terms: Vec<String>,
}

pub(super) fn explain(dir: &Directory, g: usize, person: u32, today: NaiveDate) -> Explanation {
    let p = &dir.people[person as usize];
    // Seeds: groups holding the person by themselves (direct in term, rule, standard attribute).
    let mut holds: Vec<Vec<String>> = vec![Vec::new(); dir.groups.len()];
    let mut inactive_terms = Vec::new();
    for &sg in &dir.direct_groups[person as usize] {
        for d in dir.groups[sg].direct.iter().filter(|d| d.person == person) {
            if d.in_term(today) {
                holds[sg].push(direct_text(d));
            } else {
                inactive_terms.push(format!("{}: {}", dir.groups[sg].name, direct_text(d)));
            }
        }
    }
    for (sg, group) in dir.groups.iter().enumerate() {
        if let Some((criteria, rule)) = &group.criteria
            && rule.matches(p, today)
        {
            holds[sg].push(format!("rule: {}", criteria.describe()));
        }
        if let Some(Standard::Attribute(key)) = &group.standard
            && dir
                .attribute(key)
                .is_some_and(|id| p.attributes.binary_search(&id).is_ok())
        {
            holds[sg].push(format!("standard group: {}", key.replace(':', " ")));
        }
    }
    // Ancestors of the seeds: the only groups a path goes through.
    let mut relevant: HashSet<usize> = HashSet::new();
    let mut stack: Vec<usize> = (0..holds.len()).filter(|&i| !holds[i].is_empty()).collect();
    while let Some(x) = stack.pop() {
        if relevant.insert(x) {
            stack.extend(dir.parents[x].iter().copied());
        }
    }
    if matches!(dir.groups[g].standard, Some(Standard::Default))
        && !relevant
            .iter()
            .any(|&x| x != g && dir.groups[x].standard.is_none() && dir.groups[x].active)
    {
        holds[g].push("in no other group".into());
        relevant.insert(g);
    }

    let mut out = Explanation {
        inactive_terms,
        ..Default::default()
    };
    let mut trail = Vec::new();
    walk(
        dir,
        g,
        &holds,
        &relevant,
        &mut trail,
        &mut out.paths,
        false,
        &mut out.manager,
    );
    out.member = !out.paths.is_empty();
    if out.member {
        if dir.groups[g].opted_out.contains(&person) {
            out.excluded_because
                .push(format!("opted out of {}", dir.groups[g].name));
        }
        if p.no_list_mail {
            out.excluded_because
                .push("opted out of all list mail".into());
        }
    }
    if !dir.groups[g].active {
        out.excluded_because
            .push(format!("{} is deactivated", dir.groups[g].name));
    }
    out.receives = out.member && out.excluded_because.is_empty();
    out
}

#[allow(clippy::too_many_arguments)]
fn walk(
    dir: &Directory,
    g: usize,
    holds: &[Vec<String>],
    relevant: &HashSet<usize>,
    trail: &mut Vec<usize>,
    paths: &mut Vec<String>,
    via_manager_edge: bool,
    manager: &mut bool,
) {
    if paths.len() >= MAX_PATHS
        || !relevant.contains(&g)
        || trail.contains(&g)
        || !dir.groups[g].active
    {
        return;
    }
    trail.push(g);
    let prefix: Vec<&str> = trail.iter().map(|&i| dir.groups[i].name.as_str()).collect();
    for reason in &holds[g] {
        if trail.len() == 1 && reason.starts_with("direct member (manager)") {
            *manager = true;
        }
        paths.push(format!("{} ← {reason}", prefix.join(" ← ")));
    }
    if via_manager_edge && !holds[g].is_empty() {
        *manager = true;
    }
    for &(child, as_manager) in &dir.groups[g].children {
        let manager_edge = via_manager_edge || (trail.len() == 1 && as_manager);
        walk(
            dir,
            child,
            holds,
            relevant,
            trail,
            paths,
            manager_edge,
            manager,
        );
    }
    trail.pop();
}

fn direct_text(d: &DirectRec) -> String {
    let role = if d.manager {
        "direct member (manager)"
    } else {
        "direct member"
    };
    match (d.from, d.until) {
        (None, None) => role.to_string(),
        (Some(f), None) => format!("{role} since {f}"),
        (None, Some(u)) => format!("{role} until {u}"),
        (Some(f), Some(u)) => format!("{role} from {f} until {u}"),
    }
}

/// One group a person is in today, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub group_id: i64,
    pub group: String,
    /// A direct member (in term) of this very group.
    pub direct: bool,
    pub manager: bool,
    /// Not opted out of its mail (nor of all list mail).
    pub receives: bool,
    /// Every path, as [`Explanation::paths`].
    pub paths: Vec<String>,
}

/// Every active group `person` is in today, by name, each with its paths. Works upward from the
/// person as [`explain`] does: only the groups holding them and those groups' ancestors are
/// looked at.
pub(super) fn memberships(dir: &Directory, person: u32, today: NaiveDate) -> Vec<Membership> {
    let p = &dir.people[person as usize];
    let mut holds: Vec<Vec<String>> = vec![Vec::new(); dir.groups.len()];
    for &sg in &dir.direct_groups[person as usize] {
        for d in dir.groups[sg].direct.iter().filter(|d| d.person == person) {
            if d.in_term(today) {
                holds[sg].push(direct_text(d));
            }
        }
    }
    for (sg, group) in dir.groups.iter().enumerate() {
        if let Some((criteria, rule)) = &group.criteria
            && rule.matches(p, today)
        {
            holds[sg].push(format!("rule: {}", criteria.describe()));
        }
        if let Some(Standard::Attribute(key)) = &group.standard
            && dir
                .attribute(key)
                .is_some_and(|id| p.attributes.binary_search(&id).is_ok())
        {
            holds[sg].push(format!("standard group: {}", key.replace(':', " ")));
        }
    }
    let mut relevant: HashSet<usize> = HashSet::new();
    let mut stack: Vec<usize> = (0..holds.len()).filter(|&i| !holds[i].is_empty()).collect();
    while let Some(x) = stack.pop() {
        if relevant.insert(x) {
            stack.extend(dir.parents[x].iter().copied());
        }
    }
    let ids: std::collections::HashMap<usize, i64> =
        dir.group_index.iter().map(|(id, &i)| (i, *id)).collect();
    let mut out = Vec::new();
    for &g in &relevant {
        let mut m = Membership::default();
        let mut trail = Vec::new();
        walk(
            dir,
            g,
            &holds,
            &relevant,
            &mut trail,
            &mut m.paths,
            false,
            &mut m.manager,
        );
        if m.paths.is_empty() {
            continue;
        }
        m.group_id = ids.get(&g).copied().unwrap_or_default();
        m.group = dir.groups[g].name.clone();
        m.direct = holds[g].iter().any(|h| h.starts_with("direct member"));
        m.receives = !p.no_list_mail && !dir.groups[g].opted_out.contains(&person);
        out.push(m);
    }
    out.sort_by(|a, b| a.group.cmp(&b.group));
    out
}
