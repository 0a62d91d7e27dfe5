//! The statements that differ between SQLite and PostgreSQL.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Row locking for a queue claim. PostgreSQL instances skip rows another instance is claiming
    /// right now; SQLite serialises writers, so a single UPDATE is already atomic there.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }

    /// The rows a claim updates: those of its `batch` CTE. On PostgreSQL they are locked by the
    /// CTE (and rechecked there), and `= ANY(ARRAY(…))` makes the planner fetch them by primary
    /// key: `IN (SELECT …)` with the stale estimate of an empty due index became a nested loop
    /// over every due row, 0.4 s per claim of a 10,000-recipient post on a fresh database.
    pub(crate) fn claimed_rows(self, due: &str) -> String {
        match self {
            Backend::Sqlite => format!("id IN (SELECT id FROM batch) AND {due}"),
            Backend::Postgres => "id = ANY(ARRAY(SELECT id FROM batch))".to_string(),
        }
    }

    /// The texts of a JSON array bound as placeholder `param`, as a table with one column,
    /// `value`: a whole list of recipients in one parameter (a multi-row VALUES with thousands
    /// of placeholders costs SQLite quadratic time to bind).
    pub(crate) fn json_texts(self, param: &str) -> String {
        match self {
            Backend::Sqlite => format!("json_each({param})"),
            Backend::Postgres => {
                format!("json_array_elements_text(CAST({param} AS json)) AS j(value)")
            }
        }
    }

    /// A condition that `column` is one of the ids of a JSON array bound as placeholder `param`:
    /// one statement whatever the number of ids, so it is prepared once per connection (a list
    /// of placeholders is another statement for every length, and each new one costs a
    /// round trip to prepare). On PostgreSQL `= ANY(ARRAY(…))` fetches the rows by primary key.
    pub(crate) fn id_in_json(self, column: &str, param: &str) -> String {
        match self {
            Backend::Sqlite => format!("{column} IN (SELECT value FROM json_each({param}))"),
            Backend::Postgres => format!(
                "{column} = ANY(ARRAY(SELECT CAST(value AS bigint) \
                 FROM json_array_elements_text(CAST({param} AS json)) AS j(value)))"
            ),
        }
    }
}

/// `values` as one JSON array parameter, for [`Backend::json_texts`] and [`Backend::id_in_json`].
pub(crate) fn json_param<T: serde::Serialize>(values: &[T]) -> Result<String, super::StoreError> {
    serde_json::to_string(values)
        .map_err(|e| super::StoreError::Sql(sqlx::Error::Encode(Box::new(e))))
}
