//! Rules ("automatic members"): criteria over a person's data, stored as JSON on the group.
//!
//! ```json
//! {"any": [
//!   {"field": "status", "op": "equals", "value": "active"},
//!   {"field": "left",   "op": "within_last_months", "value": 4}
//! ]}
//! ```
//! is "an active member, or one who left within the last 4 months". A rule is a condition or an
//! `all` (and) / `any` (or) list of rules. Fields: `status` (active, resigned), `membership_type`,
//! `team`, `service`, `profile_type` (person, organisation, public_body), `field:NAME` (a custom
//! field), with `equals`, `not_equals`, `in`, `not_in`; and `joined` / `left` (membership
//! periods) with `within_last_months` and `more_than_months_ago`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Criteria {
    All { all: Vec<Criteria> },
    Any { any: Vec<Criteria> },
    Condition(Condition),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    In,
    NotIn,
    WithinLastMonths,
    MoreThanMonthsAgo,
}

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// An attribute the person has or not: the key prefix in the directory's interner.
    Attribute(String),
    Joined,
    Left,
}

const ATTRIBUTE_FIELDS: &[&str] = &[
    "status",
    "membership_type",
    "team",
    "service",
    "profile_type",
];
const MAX_DEPTH: usize = 16;

impl Criteria {
    /// Parses and checks a rule; the error says where and what is wrong (HTTP 422).
    pub fn parse(value: &Value) -> Result<Criteria, String> {
        let c = Self::from_value(value, "rule", 0)?;
        Ok(c)
    }

    fn from_value(value: &Value, at: &str, depth: usize) -> Result<Criteria, String> {
        if depth > MAX_DEPTH {
            return Err(format!("{at}: rules nest deeper than {MAX_DEPTH} levels"));
        }
        let Some(obj) = value.as_object() else {
            return Err(format!(
                "{at}: expected an object with \"all\", \"any\" or \"field\""
            ));
        };
        for (key, list) in [("all", obj.get("all")), ("any", obj.get("any"))] {
            if let Some(list) = list {
                if obj.len() != 1 {
                    return Err(format!("{at}: \"{key}\" stands alone in its object"));
                }
                let Some(items) = list.as_array().filter(|a| !a.is_empty()) else {
                    return Err(format!("{at}.{key}: expected a non-empty list of rules"));
                };
                let parsed = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Self::from_value(v, &format!("{at}.{key}[{i}]"), depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(if key == "all" {
                    Criteria::All { all: parsed }
                } else {
                    Criteria::Any { any: parsed }
                });
            }
        }
        let condition: Condition = serde_json::from_value(value.clone()).map_err(|e| {
            format!("{at}: {e} (a condition is {{\"field\": …, \"op\": …, \"value\": …}})")
        })?;
        condition.check(at)?;
        Ok(Criteria::Condition(condition))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A sentence for people: "status equals active or left within the last 4 months".
    pub fn describe(&self) -> String {
        match self {
            Criteria::All { all } => join(all, " and "),
            Criteria::Any { any } => join(any, " or "),
            Criteria::Condition(c) => c.describe(),
        }
    }
}

fn join(items: &[Criteria], sep: &str) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|c| match c {
            Criteria::Condition(_) => c.describe(),
            _ => format!("({})", c.describe()),
        })
        .collect();
    parts.join(sep)
}

impl Condition {
    pub fn parsed_field(&self) -> Result<Field, String> {
        match self.field.as_str() {
            "joined" => Ok(Field::Joined),
            "left" => Ok(Field::Left),
            f if ATTRIBUTE_FIELDS.contains(&f) => Ok(Field::Attribute(f.to_string())),
            f if f.strip_prefix("field:").is_some_and(|n| !n.is_empty()) => {
                Ok(Field::Attribute(f.to_string()))
            }
            f => Err(format!(
                "unknown field {f:?}; use one of {}, field:NAME, joined, left",
                ATTRIBUTE_FIELDS.join(", ")
            )),
        }
    }

    fn check(&self, at: &str) -> Result<(), String> {
        let field = self.parsed_field().map_err(|e| format!("{at}: {e}"))?;
        let time_op = matches!(self.op, Op::WithinLastMonths | Op::MoreThanMonthsAgo);
        match (&field, time_op) {
            (Field::Joined | Field::Left, false) => {
                return Err(format!(
                    "{at}: {} takes within_last_months or more_than_months_ago",
                    self.field
                ));
            }
            (Field::Attribute(_), true) => {
                return Err(format!("{at}: {:?} is only for joined and left", self.op));
            }
            _ => {}
        }
        match self.op {
            Op::Equals | Op::NotEquals if !self.value.is_string() => {
                Err(format!("{at}.value: expected a text value"))
            }
            Op::In | Op::NotIn
                if !self
                    .value
                    .as_array()
                    .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)) =>
            {
                Err(format!(
                    "{at}.value: expected a non-empty list of text values"
                ))
            }
            Op::WithinLastMonths | Op::MoreThanMonthsAgo
                if !self.value.as_u64().is_some_and(|n| (1..=1200).contains(&n)) =>
            {
                Err(format!(
                    "{at}.value: expected a number of months from 1 to 1200"
                ))
            }
            _ => Ok(()),
        }
    }

    /// The values compared against (one for equals, several for in).
    pub fn values(&self) -> Vec<&str> {
        match &self.value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        }
    }

    pub fn months(&self) -> u32 {
        self.value.as_u64().unwrap_or(0) as u32
    }

    fn describe(&self) -> String {
        let op = match self.op {
            Op::Equals => "equals",
            Op::NotEquals => "is not",
            Op::In => "is one of",
            Op::NotIn => "is none of",
            Op::WithinLastMonths => "within the last",
            Op::MoreThanMonthsAgo => "more than",
        };
        match self.op {
            Op::WithinLastMonths => format!("{} {op} {} months", self.field, self.months()),
            Op::MoreThanMonthsAgo => format!("{} {op} {} months ago", self.field, self.months()),
            _ => format!("{} {op} {}", self.field, self.values().join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nested_rule_parses_and_reads_as_a_sentence() {
        let rule = json!({"any": [
            {"field": "status", "op": "equals", "value": "active"},
            {"all": [{"field": "left", "op": "within_last_months", "value": 4},
                     {"field": "team", "op": "in", "value": ["Youth", "Board"]}]}
        ]});
        let c = Criteria::parse(&rule).unwrap();
        assert_eq!(
            c.describe(),
            "status equals active or (left within the last 4 months and team is one of Youth, Board)"
        );
        assert_eq!(
            Criteria::parse(&serde_json::from_str(&c.to_json()).unwrap()).unwrap(),
            c
        );
    }

    #[test]
    fn invalid_rules_say_where_and_what() {
        let cases = [
            (
                json!({"field": "shoe_size", "op": "equals", "value": "42"}),
                "unknown field",
            ),
            (
                json!({"field": "team", "op": "in", "value": "Youth"}),
                "rule.value: expected a non-empty list",
            ),
            (
                json!({"field": "left", "op": "equals", "value": "x"}),
                "left takes within_last_months",
            ),
            (json!({"all": []}), "rule.all: expected a non-empty list"),
            (
                json!({"any": [{"field": "status", "op": "sounds_like", "value": "x"}]}),
                "rule.any[0]:",
            ),
            (json!(["status"]), "expected an object"),
        ];
        for (rule, expected) in cases {
            let err = Criteria::parse(&rule).unwrap_err();
            assert!(err.contains(expected), "{rule}: {err}");
        }
    }
}
