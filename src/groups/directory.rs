//! The directory in memory: every person's attributes as interned ids, every group with its
//! membership sources, built from one consistent read of the store ([`Directory::build`]) and
//! then kept current by patches ([`Directory::apply`]): the people, groups and links the store's
//! change log names, re-read and put in place. Resolution and explanation work on it without
//! touching the database (see [`super::Resolver`]).
//!
//! A deleted person or group keeps its index as an empty tombstone (indexes are bit positions);
//! `live` masks deleted people out of every set, and a rebuild compacts them.

use std::collections::HashMap;

use chrono::NaiveDate;
use fixedbitset::FixedBitSet;

use super::{
    criteria::{Criteria, Field, Op},
    standard::Standard,
};
use crate::store::directory::{DirectoryPatch, DirectoryRows, GroupRow, MembershipRow, PersonRow};

#[derive(Clone)]
pub(super) struct PersonRec {
    pub id: i64,
    pub email: String,
    /// Sorted ids of the attributes the person has ("status:active", "team:Youth", …).
    pub attributes: Vec<u32>,
    /// The most recent day the person joined.
    pub last_joined: Option<NaiveDate>,
    /// The day they left; `None` while a membership period is open, or if they never left.
    pub last_left: Option<NaiveDate>,
    pub no_list_mail: bool,
    pub receive_duplicates: bool,
}

#[derive(Clone)]
pub(super) struct DirectRec {
    pub person: u32,
    pub manager: bool,
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

impl DirectRec {
    pub fn in_term(&self, today: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= today) && self.until.is_none_or(|u| today <= u)
    }
}

#[derive(Clone)]
pub(super) struct GroupRec {
    pub name: String,
    pub active: bool,
    pub standard: Option<Standard>,
    pub criteria: Option<(Criteria, Compiled)>,
    pub direct: Vec<DirectRec>,
    /// (child group index, as managers)
    pub children: Vec<(usize, bool)>,
    /// People (indexes) who opted out of this group's mail.
    pub opted_out: Vec<u32>,
}

/// A rule with names turned into attribute ids.
#[derive(Debug, Clone)]
pub(super) enum Compiled {
    All(Vec<Compiled>),
    Any(Vec<Compiled>),
    /// Has any of `ids` (negated: has none of them). An empty `ids` matches no one.
    Has {
        ids: Vec<u32>,
        negate: bool,
    },
    Time {
        left: bool,
        months: u32,
        within: bool,
    },
}

/// One row of a members table: (person id, term start).
pub type TermKey = (i64, Option<NaiveDate>);

#[derive(Clone)]
pub struct Directory {
    /// The last change-log id applied.
    pub version: i64,
    pub(super) people: Vec<PersonRec>,
    pub(super) person_index: HashMap<i64, u32>,
    /// Lower-cased address → person.
    pub(super) email_index: HashMap<String, u32>,
    pub(super) groups: Vec<GroupRec>,
    pub(super) group_index: HashMap<i64, usize>,
    pub(super) attributes: HashMap<String, u32>,
    /// For each person, the groups they are a direct member of (any term): explain's index.
    pub(super) direct_groups: Vec<Vec<usize>>,
    /// For each group, the groups it is a subgroup of.
    pub(super) parents: Vec<Vec<usize>>,
    /// For each attribute, the people who have it (rules become bitset algebra).
    pub(super) postings: HashMap<u32, FixedBitSet>,
    /// People who opted out of all list mail.
    pub(super) no_mail: FixedBitSet,
    /// People not deleted (every index below `people.len()` but the tombstones).
    pub(super) live: FixedBitSet,
    pub(super) dead_people: usize,
    /// Group ids by index (0 for a deleted group).
    pub(super) group_ids: Vec<i64>,
    /// Names of types, teams and services (a change to them rebuilds the directory).
    names: super::standard::Names,
}

/// What a person carries besides their own row (ids and texts as stored).
#[derive(Default)]
struct Carried {
    teams: Vec<i64>,
    services: Vec<i64>,
    fields: Vec<(String, String)>,
    periods: Vec<(NaiveDate, Option<NaiveDate>)>,
}

/// The attribute keys of a person's own row: status, profile type, membership type.
fn base_keys(p: &PersonRow, type_name: impl Fn(i64) -> Option<String>) -> Vec<String> {
    let mut keys = vec![
        format!("status:{}", p.status),
        format!("profile_type:{}", p.profile_type),
    ];
    if let Some(t) = p.membership_type_id.and_then(type_name) {
        keys.push(format!("membership_type:{t}"));
    }
    keys
}

/// The last day a person joined, and the last day they left (none while a period is open).
fn last_dates(
    periods: &[(NaiveDate, Option<NaiveDate>)],
) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let joined = periods.iter().map(|(j, _)| *j).max();
    let open = periods.iter().any(|(_, l)| l.is_none());
    let left = if open {
        None
    } else {
        periods.iter().filter_map(|(_, l)| *l).max()
    };
    (joined, left)
}

fn parse_criteria(json: Option<&str>) -> Option<Criteria> {
    json.and_then(|c| serde_json::from_str(c).ok())
        .and_then(|v| Criteria::parse(&v).ok())
}

fn direct_rec(m: &MembershipRow, person: u32) -> DirectRec {
    DirectRec {
        person,
        manager: m.manager,
        from: m.valid_from,
        until: m.valid_until,
    }
}

impl Directory {
    /// The directory from `rows`, each part of them dropped once it is taken in: the rows of
    /// 100,000 people weigh more than the directory made of them, and both at once were the
    /// peak of a fresh server's memory.
    pub fn build(rows: DirectoryRows) -> Directory {
        let vocabulary = super::standard::Names::of(&rows);
        let DirectoryRows {
            version,
            people: person_rows,
            person_teams,
            person_services,
            field_values,
            periods: period_rows,
            groups: group_rows,
            memberships,
            subgroups,
            opt_outs,
            ..
        } = rows;
        let mut attributes: HashMap<String, u32> = HashMap::new();
        let mut intern = |key: String| -> u32 {
            let next = attributes.len() as u32;
            *attributes.entry(key).or_insert(next)
        };
        let (types, teams, services) = (&vocabulary.types, &vocabulary.teams, &vocabulary.services);

        let mut people = Vec::with_capacity(person_rows.len());
        let mut person_index = HashMap::with_capacity(person_rows.len());
        for p in person_rows {
            let attrs = base_keys(&p, |t| types.get(&t).cloned())
                .into_iter()
                .map(&mut intern)
                .collect();
            person_index.insert(p.id, people.len() as u32);
            people.push(PersonRec {
                id: p.id,
                email: p.email,
                attributes: attrs,
                last_joined: None,
                last_left: None,
                no_list_mail: p.no_list_mail,
                receive_duplicates: p.receive_duplicates,
            });
        }
        let mut add_attr = |person: i64, key: String, people: &mut Vec<PersonRec>| {
            if let Some(&i) = person_index.get(&person) {
                let id = intern(key);
                people[i as usize].attributes.push(id);
            }
        };
        for (p, t) in person_teams {
            if let Some(n) = teams.get(&t) {
                add_attr(p, format!("team:{n}"), &mut people);
            }
        }
        for (p, s) in person_services {
            if let Some(n) = services.get(&s) {
                add_attr(p, format!("service:{n}"), &mut people);
            }
        }
        for (p, field, value) in field_values {
            add_attr(p, format!("field:{field}={value}"), &mut people);
        }
        for person in &mut people {
            person.attributes.sort_unstable();
            person.attributes.dedup();
        }
        let mut periods: Vec<Vec<(NaiveDate, Option<NaiveDate>)>> = vec![Vec::new(); people.len()];
        for (p, joined, left) in period_rows {
            if let Some(&i) = person_index.get(&p) {
                periods[i as usize].push((joined, left));
            }
        }
        for (person, periods) in people.iter_mut().zip(&periods) {
            (person.last_joined, person.last_left) = last_dates(periods);
        }
        drop(periods);

        let group_ids: Vec<i64> = group_rows.iter().map(|g| g.id).collect();
        let group_index: HashMap<i64, usize> = group_ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i))
            .collect();
        let mut groups: Vec<GroupRec> = group_rows
            .into_iter()
            .map(|g| GroupRec {
                standard: g
                    .standard_key
                    .as_deref()
                    .and_then(|k| Standard::from_key_with(k, &vocabulary)),
                criteria: parse_criteria(g.criteria.as_deref()).map(|c| {
                    let compiled = compile(&c, &attributes);
                    (c, compiled)
                }),
                name: g.name,
                active: g.active,
                direct: Vec::new(),
                children: Vec::new(),
                opted_out: Vec::new(),
            })
            .collect();
        for m in memberships {
            if let (Some(&g), Some(&p)) =
                (group_index.get(&m.group_id), person_index.get(&m.person_id))
            {
                groups[g].direct.push(direct_rec(&m, p));
            }
        }
        for (parent, child, as_manager) in subgroups {
            if let (Some(&p), Some(&c)) = (group_index.get(&parent), group_index.get(&child)) {
                groups[p].children.push((c, as_manager));
            }
        }
        for (person, group) in opt_outs {
            if let (Some(g), Some(&p)) = (
                group.and_then(|g| group_index.get(&g)),
                person_index.get(&person),
            ) {
                groups[*g].opted_out.push(p);
            }
        }
        let mut direct_groups = vec![Vec::new(); people.len()];
        let mut parents = vec![Vec::new(); groups.len()];
        for (g, group) in groups.iter().enumerate() {
            for d in &group.direct {
                direct_groups[d.person as usize].push(g);
            }
            for &(child, _) in &group.children {
                parents[child].push(g);
            }
        }
        for list in &mut direct_groups {
            list.dedup();
        }
        let n = people.len();
        let mut postings: HashMap<u32, FixedBitSet> = HashMap::new();
        let mut no_mail = FixedBitSet::with_capacity(n);
        for (i, p) in people.iter().enumerate() {
            for a in &p.attributes {
                postings
                    .entry(*a)
                    .or_insert_with(|| FixedBitSet::with_capacity(n))
                    .insert(i);
            }
            no_mail.set(i, p.no_list_mail);
        }
        let email_index = people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.email.to_lowercase(), i as u32))
            .collect();
        let mut live = FixedBitSet::with_capacity(n);
        live.insert_range(..);
        Directory {
            version,
            people,
            person_index,
            email_index,
            group_ids,
            groups,
            group_index,
            attributes,
            direct_groups,
            parents,
            postings,
            no_mail,
            live,
            dead_people: 0,
            names: vocabulary,
        }
    }

    /// People in the directory (deleted ones not counted).
    pub fn person_count(&self) -> usize {
        self.people.len() - self.dead_people
    }

    /// How many direct memberships (terms) group `group_id` has, as the store's `memberships`
    /// rows: what the groups list shows next to each group, counted here rather than by the
    /// database (a count per group over 100,000 memberships was most of the groups page).
    pub fn direct_count(&self, group_id: i64) -> Option<usize> {
        self.group_index
            .get(&group_id)
            .map(|&g| self.groups[g].direct.len())
    }

    /// One page of a group's direct memberships (one row per term) in the order of the
    /// members table, by address (case-insensitive) and then term start (none first): the
    /// `(person id, term start)` of rows `offset..offset + limit`, and how many rows there are.
    /// Found by selection, not by sorting them all, so page 1,000 of 100,000 members costs
    /// what page 1 does (a database sorting 100,000 joined rows for a deep OFFSET was the
    /// slowest admin page). `None`: no such group.
    pub fn direct_page(
        &self,
        group_id: i64,
        offset: usize,
        limit: usize,
    ) -> Option<(Vec<TermKey>, usize)> {
        let &g = self.group_index.get(&group_id)?;
        let direct = &self.groups[g].direct;
        let total = direct.len();
        let end = offset.saturating_add(limit).min(total);
        if offset >= end {
            return Some((Vec::new(), total));
        }
        let email = |d: &DirectRec| self.people[d.person as usize].email.as_bytes();
        let order = |a: &&DirectRec, b: &&DirectRec| {
            let (x, y) = (email(a), email(b));
            x.iter()
                .map(u8::to_ascii_lowercase)
                .cmp(y.iter().map(u8::to_ascii_lowercase))
                .then_with(|| x.cmp(y))
                .then_with(|| a.from.cmp(&b.from))
        };
        let mut rows: Vec<&DirectRec> = direct.iter().collect();
        if offset > 0 {
            rows.select_nth_unstable_by(offset, order);
        }
        let page = &mut rows[offset..];
        let n = end - offset;
        if n < page.len() {
            page.select_nth_unstable_by(n - 1, order);
        }
        let page = &mut page[..n];
        page.sort_unstable_by(order);
        Some((
            page.iter()
                .map(|d| (self.people[d.person as usize].id, d.from))
                .collect(),
            total,
        ))
    }

    /// Every group's id and name (for pages that only name groups: no database read).
    pub fn group_names(&self) -> impl Iterator<Item = (i64, &str)> {
        self.group_index
            .iter()
            .map(|(&id, &g)| (id, self.groups[g].name.as_str()))
    }

    /// True when deleted people hold a quarter of the indexes: a rebuild would compact them.
    pub fn wants_compaction(&self) -> bool {
        self.dead_people > 1000 && self.dead_people * 4 > self.people.len()
    }

    /// Puts a patch in place: every person and group it names is replaced by its rows now (or
    /// removed), and so is every membership, subgroup link and opt-out it names. The result is
    /// what [`Directory::build`] makes of the store at the patch's version.
    pub fn apply(&mut self, patch: DirectoryPatch) {
        let DirectoryPatch {
            version,
            people,
            groups,
            memberships,
            subgroups,
            opt_outs,
            rows,
        } = patch;
        let attributes_before = self.attributes.len();
        let mut group_rows: HashMap<i64, GroupRow> =
            rows.groups.into_iter().map(|g| (g.id, g)).collect();
        for id in groups {
            match group_rows.remove(&id) {
                Some(row) => self.upsert_group(row),
                None => self.remove_group(id),
            }
        }
        let mut carried: HashMap<i64, Carried> = HashMap::new();
        for (p, t) in rows.person_teams {
            carried.entry(p).or_default().teams.push(t);
        }
        for (p, s) in rows.person_services {
            carried.entry(p).or_default().services.push(s);
        }
        for (p, f, v) in rows.field_values {
            carried.entry(p).or_default().fields.push((f, v));
        }
        for (p, j, l) in rows.periods {
            carried.entry(p).or_default().periods.push((j, l));
        }
        let mut person_rows: HashMap<i64, PersonRow> =
            rows.people.into_iter().map(|p| (p.id, p)).collect();
        for id in people {
            match person_rows.remove(&id) {
                Some(row) => {
                    let c = carried.remove(&id).unwrap_or_default();
                    self.upsert_person(row, c);
                }
                None => self.remove_person(id),
            }
        }
        let mut terms: HashMap<(i64, i64), Vec<MembershipRow>> = HashMap::new();
        for m in rows.memberships {
            terms.entry((m.group_id, m.person_id)).or_default().push(m);
        }
        for pair in memberships {
            self.set_membership(pair, terms.remove(&pair).unwrap_or_default());
        }
        let links: HashMap<(i64, i64), bool> = rows
            .subgroups
            .into_iter()
            .map(|(p, c, m)| ((p, c), m))
            .collect();
        for pair in subgroups {
            self.set_subgroup(pair, links.get(&pair).copied());
        }
        let outs: std::collections::HashSet<(i64, i64)> = rows
            .opt_outs
            .into_iter()
            .filter_map(|(p, g)| Some((p, g?)))
            .collect();
        for pair in opt_outs {
            self.set_opt_out(pair, outs.contains(&pair));
        }
        if self.attributes.len() != attributes_before {
            // A rule naming a value nobody had compiled to nothing; it may match someone now.
            for g in &mut self.groups {
                if let Some((c, compiled)) = &mut g.criteria {
                    *compiled = compile(c, &self.attributes);
                }
            }
        }
        self.version = version;
    }

    /// Everything the directory says, by ids and names rather than indexes, one line per
    /// person, group and (group, person) explanation: two directories of the same store agree
    /// line by line however they were made (tests compare a patched one with a rebuilt one).
    pub fn describe(&self, today: NaiveDate) -> Vec<String> {
        let mut names: Vec<&str> = vec![""; self.attributes.len()];
        for (k, &i) in &self.attributes {
            names[i as usize] = k;
        }
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let mut out = Vec::new();
        let people: Vec<usize> = {
            let mut v: Vec<usize> = self.person_index.values().map(|&i| i as usize).collect();
            v.sort_by_key(|&i| self.people[i].id);
            v
        };
        for &i in &people {
            let p = &self.people[i];
            let attrs = sorted(
                p.attributes
                    .iter()
                    .map(|&a| names[a as usize].to_string())
                    .collect(),
            );
            let posted = sorted(
                self.postings
                    .iter()
                    .filter(|(_, set)| set.contains(i))
                    .map(|(&a, _)| names[a as usize].to_string())
                    .collect(),
            );
            let direct = sorted(
                self.direct_groups[i]
                    .iter()
                    .map(|&g| self.group_ids[g].to_string())
                    .collect(),
            );
            out.push(format!(
                "person {} {} attrs={attrs:?} postings={posted:?} joined={:?} left={:?} no_mail={}/{} dup={} live={} in={direct:?} by_email={:?}",
                p.id,
                p.email,
                p.last_joined,
                p.last_left,
                p.no_list_mail,
                self.no_mail.contains(i),
                p.receive_duplicates,
                self.live.contains(i),
                self.email_index.get(&p.email.to_lowercase()).map(|&x| self.people[x as usize].id),
            ));
        }
        out.push(format!(
            "emails {} people {} groups {}",
            self.email_index.len(),
            self.person_index.len(),
            self.group_index.len()
        ));
        let mut groups: Vec<(i64, usize)> =
            self.group_index.iter().map(|(&id, &g)| (id, g)).collect();
        groups.sort();
        let pid = |p: u32| self.people[p as usize].id;
        for &(id, g) in &groups {
            let rec = &self.groups[g];
            let direct = sorted(
                rec.direct
                    .iter()
                    .map(|d| format!("{}:{}:{:?}:{:?}", pid(d.person), d.manager, d.from, d.until))
                    .collect(),
            );
            let children = sorted(
                rec.children
                    .iter()
                    .map(|&(c, m)| format!("{}:{m}", self.group_ids[c]))
                    .collect(),
            );
            let parents = sorted(
                self.parents[g]
                    .iter()
                    .map(|&x| self.group_ids[x].to_string())
                    .collect(),
            );
            let opted = sorted(rec.opted_out.iter().map(|&p| pid(p).to_string()).collect());
            let mut r = super::resolve::Resolution::new(self, today);
            let recipients: Vec<i64> = r.recipients(g).ones().map(|i| self.people[i].id).collect();
            let managers: Vec<i64> = r.managers(g).ones().map(|i| self.people[i].id).collect();
            let rule = rec.criteria.as_ref().map(|(c, compiled)| {
                let mut set = compiled.eval(self, today);
                set.intersect_with(&self.live);
                let by_set: Vec<i64> = set.ones().map(|i| self.people[i].id).collect();
                let by_person: Vec<i64> = people
                    .iter()
                    .filter(|&&i| compiled.matches(&self.people[i], today))
                    .map(|&i| self.people[i].id)
                    .collect();
                format!("{} {by_set:?} {by_person:?}", c.describe())
            });
            out.push(format!(
                "group {id} {} active={} standard={:?} rule={rule:?} direct={direct:?} children={children:?} parents={parents:?} opted_out={opted:?} recipients={recipients:?} managers={managers:?}",
                rec.name, rec.active, rec.standard
            ));
            for &p in &people {
                let e = super::explain::explain(self, g, p as u32, today);
                if e == super::Explanation::default() {
                    continue;
                }
                out.push(format!(
                    "explain {id} {} member={} manager={} receives={} paths={:?} excluded={:?} inactive={:?}",
                    self.people[p].id,
                    e.member,
                    e.manager,
                    e.receives,
                    sorted(e.paths),
                    sorted(e.excluded_because),
                    sorted(e.inactive_terms)
                ));
            }
        }
        out
    }

    fn intern(&mut self, key: String) -> u32 {
        let next = self.attributes.len() as u32;
        *self.attributes.entry(key).or_insert(next)
    }

    fn upsert_group(&mut self, row: GroupRow) {
        let standard = row
            .standard_key
            .as_deref()
            .and_then(|k| Standard::from_key_with(k, &self.names));
        let criteria = parse_criteria(row.criteria.as_deref()).map(|c| {
            let compiled = compile(&c, &self.attributes);
            (c, compiled)
        });
        match self.group_index.get(&row.id) {
            Some(&g) => {
                let rec = &mut self.groups[g];
                rec.name = row.name;
                rec.active = row.active;
                rec.standard = standard;
                rec.criteria = criteria;
            }
            None => {
                self.group_index.insert(row.id, self.groups.len());
                self.group_ids.push(row.id);
                self.parents.push(Vec::new());
                self.groups.push(GroupRec {
                    name: row.name,
                    active: row.active,
                    standard,
                    criteria,
                    direct: Vec::new(),
                    children: Vec::new(),
                    opted_out: Vec::new(),
                });
            }
        }
    }

    fn remove_group(&mut self, id: i64) {
        let Some(g) = self.group_index.remove(&id) else {
            return;
        };
        let old = std::mem::replace(
            &mut self.groups[g],
            GroupRec {
                name: String::new(),
                active: false,
                standard: None,
                criteria: None,
                direct: Vec::new(),
                children: Vec::new(),
                opted_out: Vec::new(),
            },
        );
        for d in &old.direct {
            self.direct_groups[d.person as usize].retain(|&x| x != g);
        }
        for &(child, _) in &old.children {
            self.parents[child].retain(|&x| x != g);
        }
        for parent in std::mem::take(&mut self.parents[g]) {
            self.groups[parent].children.retain(|&(c, _)| c != g);
        }
        self.group_ids[g] = 0;
    }

    fn upsert_person(&mut self, row: PersonRow, carried: Carried) {
        let types = &self.names.types;
        let mut keys = base_keys(&row, |t| types.get(&t).cloned());
        for t in &carried.teams {
            if let Some(n) = self.names.teams.get(t) {
                keys.push(format!("team:{n}"));
            }
        }
        for s in &carried.services {
            if let Some(n) = self.names.services.get(s) {
                keys.push(format!("service:{n}"));
            }
        }
        for (f, v) in &carried.fields {
            keys.push(format!("field:{f}={v}"));
        }
        let mut attrs: Vec<u32> = keys.into_iter().map(|k| self.intern(k)).collect();
        attrs.sort_unstable();
        attrs.dedup();
        let (last_joined, last_left) = last_dates(&carried.periods);
        let i = match self.person_index.get(&row.id) {
            Some(&i) => {
                let i = i as usize;
                for a in std::mem::take(&mut self.people[i].attributes) {
                    if let Some(set) = self.postings.get_mut(&a)
                        && i < set.len()
                    {
                        set.set(i, false);
                    }
                }
                let old = self.people[i].email.to_lowercase();
                if self.email_index.get(&old) == Some(&(i as u32)) {
                    self.email_index.remove(&old);
                }
                i
            }
            None => {
                let i = self.people.len();
                self.person_index.insert(row.id, i as u32);
                self.people.push(PersonRec {
                    id: row.id,
                    email: String::new(),
                    attributes: Vec::new(),
                    last_joined: None,
                    last_left: None,
                    no_list_mail: false,
                    receive_duplicates: false,
                });
                self.direct_groups.push(Vec::new());
                self.live.grow(i + 1);
                self.live.insert(i);
                i
            }
        };
        for &a in &attrs {
            let set = self.postings.entry(a).or_default();
            if set.len() <= i {
                set.grow(self.people.len());
            }
            set.insert(i);
        }
        self.no_mail.grow(self.people.len());
        self.no_mail.set(i, row.no_list_mail);
        self.email_index.insert(row.email.to_lowercase(), i as u32);
        let p = &mut self.people[i];
        p.email = row.email;
        p.attributes = attrs;
        p.last_joined = last_joined;
        p.last_left = last_left;
        p.no_list_mail = row.no_list_mail;
        p.receive_duplicates = row.receive_duplicates;
    }

    fn remove_person(&mut self, id: i64) {
        let Some(i) = self.person_index.remove(&id) else {
            return;
        };
        let iu = i as usize;
        for a in std::mem::take(&mut self.people[iu].attributes) {
            if let Some(set) = self.postings.get_mut(&a)
                && iu < set.len()
            {
                set.set(iu, false);
            }
        }
        let email = std::mem::take(&mut self.people[iu].email).to_lowercase();
        if self.email_index.get(&email) == Some(&i) {
            self.email_index.remove(&email);
        }
        for g in std::mem::take(&mut self.direct_groups[iu]) {
            self.groups[g].direct.retain(|d| d.person != i);
        }
        for g in &mut self.groups {
            g.opted_out.retain(|&p| p != i);
        }
        let p = &mut self.people[iu];
        p.last_joined = None;
        p.last_left = None;
        p.no_list_mail = false;
        self.no_mail.set(iu, false);
        self.live.set(iu, false);
        self.dead_people += 1;
    }

    fn set_membership(&mut self, (group, person): (i64, i64), rows: Vec<MembershipRow>) {
        let (Some(&g), Some(&p)) = (self.group_index.get(&group), self.person_index.get(&person))
        else {
            return;
        };
        let direct = &mut self.groups[g].direct;
        direct.retain(|d| d.person != p);
        let any = !rows.is_empty();
        direct.extend(rows.iter().map(|m| direct_rec(m, p)));
        let list = &mut self.direct_groups[p as usize];
        list.retain(|&x| x != g);
        if any {
            list.push(g);
        }
    }

    fn set_subgroup(&mut self, (parent, child): (i64, i64), as_manager: Option<bool>) {
        let (Some(&p), Some(&c)) = (self.group_index.get(&parent), self.group_index.get(&child))
        else {
            return;
        };
        self.groups[p].children.retain(|&(x, _)| x != c);
        self.parents[c].retain(|&x| x != p);
        if let Some(m) = as_manager {
            self.groups[p].children.push((c, m));
            self.parents[c].push(p);
        }
    }

    fn set_opt_out(&mut self, (person, group): (i64, i64), present: bool) {
        let (Some(&g), Some(&p)) = (self.group_index.get(&group), self.person_index.get(&person))
        else {
            return;
        };
        let list = &mut self.groups[g].opted_out;
        list.retain(|&x| x != p);
        if present {
            list.push(p);
        }
    }

    pub(super) fn attribute(&self, key: &str) -> Option<u32> {
        self.attributes.get(key).copied()
    }

    /// Compiles a rule against this directory (for a dry run of a rule not yet saved).
    pub(super) fn compile(&self, c: &Criteria) -> Compiled {
        compile(c, &self.attributes)
    }
}

fn compile(c: &Criteria, attributes: &HashMap<String, u32>) -> Compiled {
    match c {
        Criteria::All { all } => {
            Compiled::All(all.iter().map(|c| compile(c, attributes)).collect())
        }
        Criteria::Any { any } => {
            Compiled::Any(any.iter().map(|c| compile(c, attributes)).collect())
        }
        Criteria::Condition(cond) => match cond.parsed_field() {
            Ok(Field::Attribute(field)) => {
                let checkbox_false = cond.values() == ["false"] && field.starts_with("field:");
                let values: Vec<&str> = if checkbox_false {
                    vec!["true"]
                } else {
                    cond.values()
                };
                let ids = values
                    .iter()
                    .filter_map(|v| {
                        let key = if field.starts_with("field:") {
                            format!("{field}={v}")
                        } else {
                            format!("{field}:{v}")
                        };
                        attributes.get(&key).copied()
                    })
                    .collect();
                let negate = matches!(cond.op, Op::NotEquals | Op::NotIn) != checkbox_false;
                Compiled::Has { ids, negate }
            }
            Ok(field) => Compiled::Time {
                left: field == Field::Left,
                months: cond.months(),
                within: cond.op == Op::WithinLastMonths,
            },
            Err(_) => Compiled::Has {
                ids: vec![],
                negate: false,
            },
        },
    }
}

/// A time condition: the person's last join (or leave) date is within the last `months` months
/// (`within`), or further back than that (not `within`). Someone with an open period has not left.
fn in_window(p: &PersonRec, left: bool, months: u32, within: bool, today: NaiveDate) -> bool {
    let cutoff = today
        .checked_sub_months(chrono::Months::new(months))
        .unwrap_or(NaiveDate::MIN);
    match if left { p.last_left } else { p.last_joined } {
        Some(d) if within => d >= cutoff && d <= today,
        Some(d) => d < cutoff,
        None => false,
    }
}

impl Compiled {
    /// Everyone the rule selects, as a set: unions and intersections of attribute postings.
    pub(super) fn eval(&self, dir: &Directory, today: NaiveDate) -> FixedBitSet {
        let n = dir.people.len();
        match self {
            Compiled::All(all) => {
                let mut set = FixedBitSet::with_capacity(n);
                set.insert_range(..);
                for c in all {
                    set.intersect_with(&c.eval(dir, today));
                }
                set
            }
            Compiled::Any(any) => {
                let mut set = FixedBitSet::with_capacity(n);
                for c in any {
                    set.union_with(&c.eval(dir, today));
                }
                set
            }
            Compiled::Has { ids, negate } => {
                let mut set = FixedBitSet::with_capacity(n);
                for id in ids {
                    if let Some(p) = dir.postings.get(id) {
                        set.union_with(p);
                    }
                }
                if *negate {
                    set.toggle_range(..);
                }
                set
            }
            Compiled::Time {
                left,
                months,
                within,
            } => {
                let mut set = FixedBitSet::with_capacity(n);
                for (i, p) in dir.people.iter().enumerate() {
                    if in_window(p, *left, *months, *within, today) {
                        set.insert(i);
                    }
                }
                set
            }
        }
    }

    pub(super) fn matches(&self, p: &PersonRec, today: NaiveDate) -> bool {
        match self {
            Compiled::All(all) => all.iter().all(|c| c.matches(p, today)),
            Compiled::Any(any) => any.iter().any(|c| c.matches(p, today)),
            Compiled::Has { ids, negate } => {
                ids.iter().any(|id| p.attributes.binary_search(id).is_ok()) != *negate
            }
            Compiled::Time {
                left,
                months,
                within,
            } => in_window(p, *left, *months, *within, today),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::directory::{DirectoryRows, PersonRow};
    use serde_json::json;

    /// The set evaluation (resolution) and the per-person evaluation (explain) must agree.
    #[test]
    fn rule_sets_and_per_person_matches_agree() {
        let mut rows = DirectoryRows {
            membership_types: vec![(1, "Gold".into()), (2, "Silver".into())],
            teams: vec![(1, "Youth".into()), (2, "Board".into())],
            ..Default::default()
        };
        for i in 0..60i64 {
            rows.people.push(PersonRow {
                id: i,
                email: format!("p{i}@x.org"),
                status: if i % 3 == 0 {
                    "resigned".into()
                } else {
                    "active".into()
                },
                membership_type_id: (i % 4 != 0).then_some(1 + i % 2),
                profile_type: "person".into(),
                ..Default::default()
            });
            if i % 5 < 2 {
                rows.person_teams.push((i, 1 + i % 2));
            }
            let day = |s: String| crate::store::directory::day(&s).unwrap();
            let left = (i % 3 == 0).then(|| day(format!("2026-{:02}-10", 1 + i % 12)));
            rows.periods
                .push((i, day(format!("20{:02}-01-01", 10 + i % 15)), left));
        }
        let dir = Directory::build(rows);
        let today = NaiveDate::from_ymd_opt(2026, 6, 15).unwrap();
        let rules = [
            json!({"field": "status", "op": "equals", "value": "active"}),
            json!({"field": "membership_type", "op": "not_in", "value": ["Gold"]}),
            json!({"field": "team", "op": "not_equals", "value": "Youth"}),
            json!({"any": [{"field": "status", "op": "equals", "value": "active"},
                           {"field": "left", "op": "within_last_months", "value": 4}]}),
            json!({"all": [{"field": "joined", "op": "more_than_months_ago", "value": 60},
                           {"field": "team", "op": "in", "value": ["Board", "Nobody"]}]}),
            json!({"field": "membership_type", "op": "equals", "value": "Platinum"}),
        ];
        for rule in rules {
            let compiled = dir.compile(&Criteria::parse(&rule).unwrap());
            let by_set: Vec<usize> = compiled.eval(&dir, today).ones().collect();
            let by_person: Vec<usize> = (0..dir.people.len())
                .filter(|&i| compiled.matches(&dir.people[i], today))
                .collect();
            assert_eq!(by_set, by_person, "{rule}");
        }
    }
}
