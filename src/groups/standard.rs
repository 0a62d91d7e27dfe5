//! Standard groups, kept by the system: all active people, all resigned people, one per
//! membership type, team and add-on service, and "Everyone not otherwise grouped". They follow
//! the data (renaming a membership type renames its group) and cannot be deleted, only deactivated.

use std::collections::HashMap;

use crate::store::{Store, StoreError, directory::DirectoryRows};

/// How a standard group finds its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Standard {
    /// People having this attribute (`status:active`, `team:Youth`, …).
    Attribute(String),
    /// People in no other group.
    Default,
}

impl Standard {
    /// Parses a stored key. Vocabulary keys hold ids; their names come from `names`.
    pub(super) fn from_key_with(key: &str, names: &Names) -> Option<Standard> {
        match key {
            "active" => Some(Standard::Attribute("status:active".into())),
            "resigned" => Some(Standard::Attribute("status:resigned".into())),
            "default" => Some(Standard::Default),
            _ => {
                let (kind, id) = key.split_once(':')?;
                let id: i64 = id.parse().ok()?;
                let (field, list) = match kind {
                    "type" => ("membership_type", &names.types),
                    "team" => ("team", &names.teams),
                    "service" => ("service", &names.services),
                    _ => return None,
                };
                list.get(&id)
                    .map(|n| Standard::Attribute(format!("{field}:{n}")))
            }
        }
    }
}

#[derive(Default, Clone)]
pub(super) struct Names {
    pub types: HashMap<i64, String>,
    pub teams: HashMap<i64, String>,
    pub services: HashMap<i64, String>,
}

impl Names {
    pub(super) fn of(rows: &DirectoryRows) -> Names {
        let map = |l: &[(i64, String)]| l.iter().cloned().collect();
        Names {
            types: map(&rows.membership_types),
            teams: map(&rows.teams),
            services: map(&rows.services),
        }
    }
}

/// Every standard group the data calls for: (key, name).
pub(super) fn expected(rows: &DirectoryRows) -> Vec<(String, String)> {
    let mut out = vec![
        ("active".to_string(), "All active people".to_string()),
        ("resigned".to_string(), "All resigned people".to_string()),
        (
            "default".to_string(),
            "Everyone not otherwise grouped".to_string(),
        ),
    ];
    out.extend(
        rows.membership_types
            .iter()
            .map(|(id, n)| (format!("type:{id}"), format!("Membership type: {n}"))),
    );
    out.extend(
        rows.teams
            .iter()
            .map(|(id, n)| (format!("team:{id}"), format!("Team: {n}"))),
    );
    out.extend(
        rows.services
            .iter()
            .map(|(id, n)| (format!("service:{id}"), format!("Service: {n}"))),
    );
    out
}

/// True when a standard group is missing or carries an old name.
pub(super) fn out_of_date(rows: &DirectoryRows) -> bool {
    let existing: HashMap<&str, &str> = rows
        .groups
        .iter()
        .filter_map(|g| g.standard_key.as_deref().map(|k| (k, g.name.as_str())))
        .collect();
    expected(rows)
        .iter()
        .any(|(k, n)| existing.get(k.as_str()) != Some(&n.as_str()))
}

/// Creates missing standard groups and renames those whose type, team or service was renamed.
pub(super) async fn sync(store: &Store, rows: &DirectoryRows, now: i64) -> Result<(), StoreError> {
    for (key, name) in expected(rows) {
        store.upsert_standard_group(&key, &name, now).await?;
    }
    Ok(())
}
