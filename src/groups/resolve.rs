//! Resolution: who is in a group right now, as a set of people (a bitset over the directory).
//!
//! members(G) = direct members in their term ∪ members(each subgroup) ∪ people matching G's rule
//!              ∪ (for a standard group) people with its attribute
//! recipients(G) = members(G) − people who opted out of G − people who opted out of all list mail
//! A deactivated group has no members. Each group is computed once per resolution (memoised), so
//! diamond-shaped nesting costs nothing extra and a person reached twice is still one bit.

use std::collections::HashMap;

use chrono::NaiveDate;
use fixedbitset::FixedBitSet;

use super::{directory::Directory, standard::Standard};

pub(super) struct Resolution<'d> {
    dir: &'d Directory,
    today: NaiveDate,
    memo: HashMap<usize, FixedBitSet>,
    /// Groups being computed: a cycle (refused by the store, but defended here) adds nothing.
    visiting: Vec<usize>,
}

impl<'d> Resolution<'d> {
    pub(super) fn new(dir: &'d Directory, today: NaiveDate) -> Self {
        Resolution {
            dir,
            today,
            memo: HashMap::new(),
            visiting: Vec::new(),
        }
    }

    fn empty(&self) -> FixedBitSet {
        FixedBitSet::with_capacity(self.dir.people.len())
    }

    /// The members of group `g`, computed once per resolution.
    pub(super) fn members(&mut self, g: usize) -> FixedBitSet {
        self.ensure(g);
        self.memo.get(&g).cloned().unwrap_or_else(|| self.empty())
    }

    /// Computes `g` into the memo (children first), without copying any child's set.
    fn ensure(&mut self, g: usize) {
        if self.memo.contains_key(&g) || self.visiting.contains(&g) {
            return;
        }
        self.visiting.push(g);
        let set = self.compute(g);
        self.visiting.pop();
        self.memo.insert(g, set);
    }

    /// ORs the memoised set of `g` into `into`.
    fn union_into(&mut self, g: usize, into: &mut FixedBitSet) {
        self.ensure(g);
        if let Some(set) = self.memo.get(&g) {
            into.union_with(set);
        }
    }

    fn compute(&mut self, g: usize) -> FixedBitSet {
        let dir = self.dir;
        let group = &dir.groups[g];
        let mut set = self.empty();
        if !group.active {
            return set;
        }
        for d in group.direct.iter().filter(|d| d.in_term(self.today)) {
            set.insert(d.person as usize);
        }
        for &(child, _) in &group.children {
            self.union_into(child, &mut set);
        }
        if let Some((_, rule)) = &group.criteria {
            set.union_with(&rule.eval(dir, self.today));
        }
        match &group.standard {
            Some(Standard::Attribute(key)) => {
                if let Some(p) = dir.attribute(key).and_then(|id| dir.postings.get(&id)) {
                    set.union_with(p);
                }
            }
            Some(Standard::Default) => {
                let mut grouped = self.empty();
                for other in 0..dir.groups.len() {
                    if other != g && dir.groups[other].standard.is_none() {
                        self.union_into(other, &mut grouped);
                    }
                }
                grouped.toggle_range(..);
                set.union_with(&grouped);
            }
            None => {}
        }
        if dir.dead_people > 0 {
            set.intersect_with(&dir.live);
        }
        set
    }

    /// Members who receive the group's mail.
    pub(super) fn recipients(&mut self, g: usize) -> FixedBitSet {
        let mut set = self.members(g);
        for &p in &self.dir.groups[g].opted_out {
            set.set(p as usize, false);
        }
        set.difference_with(&self.dir.no_mail);
        set
    }

    /// Managers: direct managers in their term, and members of subgroups added as managers.
    pub(super) fn managers(&mut self, g: usize) -> FixedBitSet {
        let dir = self.dir;
        let mut set = self.empty();
        for d in dir.groups[g]
            .direct
            .iter()
            .filter(|d| d.manager && d.in_term(self.today))
        {
            set.insert(d.person as usize);
        }
        for &(child, as_manager) in &dir.groups[g].children {
            if as_manager {
                let s = self.members(child);
                set.union_with(&s);
            }
        }
        set
    }
}
