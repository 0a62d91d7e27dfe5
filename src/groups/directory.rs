//! The directory in memory: every person's attributes as interned ids, every group with its
//! membership sources, built from one consistent read of the store ([`Directory::build`]).
//! Resolution and explanation work on it without touching the database; a snapshot is replaced
//! when the store's directory version moves (see [`super::Resolver`]).

use std::collections::HashMap;

use chrono::NaiveDate;
use fixedbitset::FixedBitSet;

use super::{
    criteria::{Criteria, Field, Op},
    standard::Standard,
};
use crate::store::directory::DirectoryRows;

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

pub struct Directory {
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
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

impl Directory {
    pub fn build(rows: DirectoryRows) -> Directory {
        let mut attributes: HashMap<String, u32> = HashMap::new();
        let mut intern = |key: String| -> u32 {
            let next = attributes.len() as u32;
            *attributes.entry(key).or_insert(next)
        };
        let names = |list: &[(i64, String)]| list.iter().cloned().collect::<HashMap<i64, String>>();
        let (types, teams, services) = (
            names(&rows.membership_types),
            names(&rows.teams),
            names(&rows.services),
        );

        let mut people = Vec::with_capacity(rows.people.len());
        let mut person_index = HashMap::with_capacity(rows.people.len());
        for p in &rows.people {
            let mut attrs = vec![
                intern(format!("status:{}", p.status)),
                intern(format!("profile_type:{}", p.profile_type)),
            ];
            if let Some(t) = p.membership_type_id.and_then(|t| types.get(&t)) {
                attrs.push(intern(format!("membership_type:{t}")));
            }
            person_index.insert(p.id, people.len() as u32);
            people.push(PersonRec {
                id: p.id,
                email: p.email.clone(),
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
        for (p, t) in &rows.person_teams {
            if let Some(n) = teams.get(t) {
                add_attr(*p, format!("team:{n}"), &mut people);
            }
        }
        for (p, s) in &rows.person_services {
            if let Some(n) = services.get(s) {
                add_attr(*p, format!("service:{n}"), &mut people);
            }
        }
        for (p, field, value) in &rows.field_values {
            add_attr(*p, format!("field:{field}={value}"), &mut people);
        }
        for person in &mut people {
            person.attributes.sort_unstable();
            person.attributes.dedup();
        }
        let mut periods: Vec<Vec<(NaiveDate, Option<NaiveDate>)>> = vec![Vec::new(); people.len()];
        for (p, joined, left) in &rows.periods {
            if let (Some(&i), Some(j)) = (person_index.get(p), date(joined)) {
                periods[i as usize].push((j, left.as_deref().and_then(date)));
            }
        }
        for (person, periods) in people.iter_mut().zip(&periods) {
            person.last_joined = periods.iter().map(|(j, _)| *j).max();
            let open = periods.iter().any(|(_, l)| l.is_none());
            person.last_left = if open {
                None
            } else {
                periods.iter().filter_map(|(_, l)| *l).max()
            };
        }

        let vocabulary = super::standard::Names::of(&rows);
        let group_index: HashMap<i64, usize> = rows
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id, i))
            .collect();
        let mut groups: Vec<GroupRec> = rows
            .groups
            .iter()
            .map(|g| GroupRec {
                name: g.name.clone(),
                active: g.active,
                standard: g
                    .standard_key
                    .as_deref()
                    .and_then(|k| Standard::from_key_with(k, &vocabulary)),
                criteria: g
                    .criteria
                    .as_deref()
                    .and_then(|c| serde_json::from_str(c).ok())
                    .and_then(|v| Criteria::parse(&v).ok())
                    .map(|c| {
                        let compiled = compile(&c, &attributes);
                        (c, compiled)
                    }),
                direct: Vec::new(),
                children: Vec::new(),
                opted_out: Vec::new(),
            })
            .collect();
        for m in &rows.memberships {
            if let (Some(&g), Some(&p)) =
                (group_index.get(&m.group_id), person_index.get(&m.person_id))
            {
                groups[g].direct.push(DirectRec {
                    person: p,
                    manager: m.role == "manager",
                    from: m.valid_from.as_deref().and_then(date),
                    until: m.valid_until.as_deref().and_then(date),
                });
            }
        }
        for (parent, child, as_manager) in &rows.subgroups {
            if let (Some(&p), Some(&c)) = (group_index.get(parent), group_index.get(child)) {
                groups[p].children.push((c, *as_manager));
            }
        }
        for (person, group) in &rows.opt_outs {
            if let (Some(g), Some(&p)) = (
                group.and_then(|g| group_index.get(&g)),
                person_index.get(person),
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
        Directory {
            version: rows.version,
            people,
            person_index,
            email_index,
            groups,
            group_index,
            attributes,
            direct_groups,
            parents,
            postings,
            no_mail,
        }
    }

    pub fn person_count(&self) -> usize {
        self.people.len()
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
            let left = (i % 3 == 0).then(|| format!("2026-{:02}-10", 1 + i % 12));
            rows.periods
                .push((i, format!("20{:02}-01-01", 10 + i % 15), left));
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
