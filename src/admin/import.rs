//! `circlemail import people.csv`: people with attributes and group names, from a spreadsheet.
//!
//! The first row names the columns (any order, case-insensitive): `email` (required), `name`,
//! `status` (active, resigned), `membership_type`, `profile_type` (person, organisation,
//! public_body), `teams`, `services`, `groups` (lists separated by `;`), `joined`, `left`
//! (YYYY-MM-DD: one membership period), `external_id` (the member register's number for the
//! person), and `field:NAME` for a custom field (`;` between the values of a multiple-choice
//! field). With `external_id` the member number is the key: a row whose number is known but
//! whose address is new changes that person's address instead of adding a second person (an
//! address that belongs to another member number is a bad row). A column that is present sets that attribute (an empty
//! `teams` cell clears the teams); a column that is absent leaves it as it is. Groups are only
//! added, never removed; unknown groups are created. Importing the same file twice changes
//! nothing. A bad row is reported with its line number and skipped; the others are imported.

use std::{collections::HashMap, io::Read};

use super::{AdminError, check_date, people::one_of};
use crate::{
    model::address::EmailAddress,
    store::{
        Store,
        import::{ImportIds, PersonRecord},
    },
};

/// Rows written per database transaction.
const CHUNK: usize = 500;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: usize,
    pub imported: usize,
    /// (line number in the file, what is wrong)
    pub skipped: Vec<(u64, String)>,
    pub created_groups: Vec<String>,
    /// People found by their member number whose address changed.
    pub changed_addresses: usize,
}

const KNOWN: &[&str] = &[
    "email",
    "name",
    "status",
    "membership_type",
    "profile_type",
    "teams",
    "services",
    "groups",
    "joined",
    "left",
    "external_id",
];

/// Imports people from CSV. `progress` is called with the bytes read so far.
pub async fn import_csv(
    store: &Store,
    input: impl Read,
    now: i64,
    progress: impl FnMut(u64),
) -> Result<ImportReport, AdminError> {
    run(store, input, now, false, progress).await
}

/// Checks a CSV file as [`import_csv`] would import it, writing nothing: every bad line and
/// why, how many rows would be imported, the groups that would be created.
pub async fn check_csv(
    store: &Store,
    input: impl Read,
    progress: impl FnMut(u64),
) -> Result<ImportReport, AdminError> {
    run(store, input, 0, true, progress).await
}

/// Writes (or with `dry_run` checks) a chunk, recording what it refused.
async fn flush(
    store: &Store,
    chunk: &mut Vec<(u64, PersonRecord)>,
    ids: &mut ImportIds,
    now: i64,
    dry_run: bool,
    report: &mut ImportReport,
) -> Result<(), AdminError> {
    let records: Vec<PersonRecord> = chunk.iter().map(|(_, r)| r.clone()).collect();
    let refused = if dry_run {
        store.check_import_chunk(&records, ids).await?
    } else {
        store.import_chunk(&records, ids, now).await?
    };
    report.imported += records.len() - refused.len();
    for (i, why) in refused {
        report.skipped.push((chunk[i].0, why));
    }
    chunk.clear();
    Ok(())
}

async fn run(
    store: &Store,
    input: impl Read,
    now: i64,
    dry_run: bool,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, AdminError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| AdminError::invalid(format!("line 1: cannot read the header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let columns = Columns::new(&headers)?;
    let fields: HashMap<String, (String, Vec<String>)> = store
        .custom_fields()
        .await?
        .into_iter()
        .map(|(name, kind, options)| (name.clone(), (kind, options)))
        .collect();
    for f in columns.fields.iter().map(|(_, name)| name) {
        if !fields.contains_key(f) {
            return Err(AdminError::invalid(format!(
                "column field:{f}: no custom field named {f:?}; create it first (POST /api/v1/fields)"
            )));
        }
    }

    let mut report = ImportReport::default();
    let mut ids = ImportIds::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut numbers: HashMap<String, u64> = HashMap::new();
    let mut row = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                report.rows += 1;
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                report
                    .skipped
                    .push((line, format!("cannot read the row: {e}")));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(AdminError::invalid(format!("cannot read the file: {e}")));
                }
                continue;
            }
        }
        report.rows += 1;
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        match columns.record(&row, &fields) {
            Ok(record) => {
                let key = record
                    .email
                    .as_ref()
                    .map(EmailAddress::key)
                    .unwrap_or_default();
                if let Some(first) = seen.get(&key) {
                    report
                        .skipped
                        .push((line, format!("{key} already appears on line {first}")));
                    continue;
                }
                if let Some(n) = &record.external_id {
                    if let Some(first) = numbers.get(n) {
                        report.skipped.push((
                            line,
                            format!("external_id {n} already appears on line {first}"),
                        ));
                        continue;
                    }
                    numbers.insert(n.clone(), line);
                }
                seen.insert(key, line);
                chunk.push((line, record));
            }
            Err(e) => {
                report.skipped.push((line, e));
                continue;
            }
        }
        if chunk.len() == CHUNK {
            flush(store, &mut chunk, &mut ids, now, dry_run, &mut report).await?;
            progress(reader.position().byte());
        }
    }
    if !chunk.is_empty() {
        flush(store, &mut chunk, &mut ids, now, dry_run, &mut report).await?;
    }
    progress(reader.position().byte());
    report.skipped.sort_by_key(|(line, _)| *line);
    report.created_groups = ids.created_groups;
    report.changed_addresses = ids.changed_addresses;
    Ok(report)
}

/// Where each known column is.
struct Columns {
    index: HashMap<&'static str, usize>,
    /// (column index, custom field name)
    fields: Vec<(usize, String)>,
}

impl Columns {
    fn new(headers: &[String]) -> Result<Columns, AdminError> {
        let mut index = HashMap::new();
        let mut fields = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            let lower = h.to_lowercase();
            if let Some(name) = h
                .strip_prefix("field:")
                .or_else(|| h.strip_prefix("Field:"))
            {
                fields.push((i, name.trim().to_string()));
            } else if let Some(k) = KNOWN.iter().find(|k| **k == lower) {
                if index.insert(*k, i).is_some() {
                    return Err(AdminError::invalid(format!(
                        "line 1: column {h:?} appears twice"
                    )));
                }
            } else {
                return Err(AdminError::invalid(format!(
                    "line 1: unknown column {h:?}; known columns: {}, field:NAME",
                    KNOWN.join(", ")
                )));
            }
        }
        if !index.contains_key("email") {
            return Err(AdminError::invalid(
                "line 1: an \"email\" column is required",
            ));
        }
        Ok(Columns { index, fields })
    }

    fn cell<'r>(&self, row: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        self.index.get(name).map(|&i| row.get(i).unwrap_or(""))
    }

    fn record(
        &self,
        row: &csv::StringRecord,
        fields: &HashMap<String, (String, Vec<String>)>,
    ) -> Result<PersonRecord, String> {
        let list = |s: &str| -> Vec<String> {
            s.split(';')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect()
        };
        let nonempty = |s: Option<&str>| s.filter(|v| !v.is_empty()).map(String::from);
        let email = self.cell(row, "email").unwrap_or("");
        if email.is_empty() {
            return Err("email is empty".into());
        }
        let email = EmailAddress::parse(email).map_err(|e| format!("email: {e}"))?;
        let status = nonempty(self.cell(row, "status")).map(|s| s.to_lowercase());
        if let Some(s) = &status {
            one_of("status", s, &["active", "resigned"]).map_err(|e| e.to_string())?;
        }
        let profile_type = nonempty(self.cell(row, "profile_type")).map(|s| s.to_lowercase());
        if let Some(p) = &profile_type {
            one_of(
                "profile_type",
                p,
                &["person", "organisation", "public_body"],
            )
            .map_err(|e| e.to_string())?;
        }
        let joined = nonempty(self.cell(row, "joined"));
        let left = nonempty(self.cell(row, "left"));
        check_date("joined", joined.as_deref()).map_err(|e| e.to_string())?;
        check_date("left", left.as_deref()).map_err(|e| e.to_string())?;
        let period = match (joined, left) {
            (Some(j), l) => {
                if l.as_deref().is_some_and(|l| l < j.as_str()) {
                    return Err("left is before joined".into());
                }
                Some((j, l))
            }
            (None, Some(_)) => return Err("left needs a joined date".into()),
            (None, None) => None,
        };
        let mut field_values = Vec::new();
        for (i, name) in &self.fields {
            let values = list(row.get(*i).unwrap_or(""));
            let (kind, options) = &fields[name];
            let allowed: Vec<&str> = if kind == "checkbox" {
                vec!["true", "false"]
            } else {
                options.iter().map(String::as_str).collect()
            };
            if kind != "multiple" && values.len() > 1 {
                return Err(format!("field:{name}: a {kind} field holds one value"));
            }
            for v in &values {
                one_of(&format!("field:{name}"), v, &allowed).map_err(|e| e.to_string())?;
            }
            field_values.push((name.clone(), values));
        }
        let external_id = nonempty(self.cell(row, "external_id"));
        if external_id
            .as_ref()
            .is_some_and(|n| n.chars().count() > 100)
        {
            return Err("external_id: at most 100 characters".into());
        }
        Ok(PersonRecord {
            email: Some(email),
            external_id,
            name: nonempty(self.cell(row, "name")),
            status,
            membership_type: self.cell(row, "membership_type").map(|t| nonempty(Some(t))),
            profile_type,
            teams: self.cell(row, "teams").map(list),
            services: self.cell(row, "services").map(list),
            fields: field_values,
            groups: self.cell(row, "groups").map(list).unwrap_or_default(),
            period,
        })
    }
}
