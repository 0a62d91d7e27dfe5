//! Environment overrides: `CIRCLEMAIL_<SECTION>_<KEY>` sets `key` in `[section]`.
//!
//! The section is one of the top-level tables (`SERVER`, `SMTP`, `LMTP`, `SOCKETMAP`, `HTTP`,
//! `DATABASE`, `DELIVERY`, `DNS`, `BOUNCES`, `LOG`, `ACCOUNTS`, `GDPR`, `WEB`); the rest of the
//! name, lower-cased, is the key, so `CIRCLEMAIL_DATABASE_URL`
//! sets `database.url` and `CIRCLEMAIL_DELIVERY_RELAY_PASSWORD` sets `delivery.relay_password`.
//! Section names hold no underscore, which keeps the rule unambiguous. A variable naming no
//! section (`CIRCLEMAIL_DELIVRY_WORKERS`) is an error naming it, like an unknown key; the only
//! `CIRCLEMAIL_*` variables that are not configuration are `CIRCLEMAIL_CONFIG` (the config file's
//! path) and the test suite's `CIRCLEMAIL_TEST_*`.
//!
//! Values are typed by the key they replace: numbers and booleans as written, lists as
//! comma-separated items (or a TOML array), everything else as a plain string.

use super::{Config, ConfigError, ConfigProblem};

const PREFIX: &str = "CIRCLEMAIL_";
/// `CIRCLEMAIL_*` variables that are not configuration keys.
const NOT_CONFIG: &[&str] = &["CONFIG"];
const TEST_PREFIX: &str = "TEST_";

pub(super) fn apply_overrides(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let defaults = match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    let mut problems = Vec::new();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if NOT_CONFIG.contains(&rest) || rest.starts_with(TEST_PREFIX) {
            continue;
        }
        let sections = || {
            defaults
                .keys()
                .map(|k| k.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((section, key)) = rest.split_once('_') else {
            problems.push(ConfigProblem::new(
                name.clone(),
                format!(
                    "names no section and key; write CIRCLEMAIL_SECTION_KEY (sections: {})",
                    sections()
                ),
            ));
            continue;
        };
        let section = section.to_ascii_lowercase();
        let key = key.to_ascii_lowercase();
        let Some(default_section) = defaults.get(&section).and_then(|v| v.as_table()) else {
            problems.push(ConfigProblem::new(
                name.clone(),
                format!(
                    "there is no section {:?} (sections: {})",
                    section.to_ascii_uppercase(),
                    sections()
                ),
            ));
            continue;
        };
        let value = typed_value(default_section.get(&key), &raw);
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry.as_table_mut() {
            Some(t) => {
                t.insert(key, value);
            }
            None => problems.push(ConfigProblem::new(
                section,
                format!("is not a table, so {name} cannot set a key in it"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError(problems))
    }
}

/// Types `raw` like `like` (the default value of the key), falling back to a string.
fn typed_value(like: Option<&toml::Value>, raw: &str) -> toml::Value {
    let string = || toml::Value::String(raw.to_string());
    match like {
        Some(toml::Value::Array(_)) if !raw.trim_start().starts_with('[') => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        Some(toml::Value::String(_)) | None => string(),
        Some(_) => format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(string),
    }
}
