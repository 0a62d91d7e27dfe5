//! Storage: one SQL schema on SQLite (the embedded default) and PostgreSQL (several instances).
//!
//! Both are reached through sqlx's `Any` driver with runtime-checked queries, `$N` placeholders and
//! portable SQL; the schema keeps to the types `Any` decodes on both (BIGINT/INTEGER, TEXT, BLOB/BYTEA;
//! times as epoch milliseconds). The few statements that differ per backend live in [`dialect`].
//! Every value from outside reaches SQL as a bound parameter, never by string formatting.

pub mod accounts;
pub mod bounces;
pub mod deliveries;
mod dialect;
pub mod directory;
pub mod gdpr;
pub mod groups;
pub mod held;
pub mod import;
pub mod optouts;
pub mod people;
pub mod posts;
pub mod queue;
pub mod signin;
pub mod web_admin;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
};

pub use dialect::Backend;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("schema migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
}

/// Sets each new SQLite connection up: WAL lets readers run beside the writer; `synchronous`
/// FULL makes a commit durable against power loss, which is what our `250` promises.
fn sqlite_pragmas(
    options: AnyPoolOptions,
    backend: Backend,
    synchronous: &'static str,
) -> AnyPoolOptions {
    options
        // A connection to a local SQLite file does not go stale: checking it before each use
        // (a round trip to its worker thread) only costs, on every outcome write and claim.
        .test_before_acquire(backend != Backend::Sqlite)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute(match synchronous {
                        "NORMAL" => "PRAGMA synchronous = NORMAL",
                        _ => "PRAGMA synchronous = FULL",
                    })
                    .await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                }
                Ok(())
            })
        })
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where delivery claims and outcomes are written: commits that need not wait for the disk
    /// flush. SQLite: one connection of its own with `synchronous = NORMAL` (in WAL mode its
    /// commits reach the disk with the next flushed commit or checkpoint; a killed process
    /// loses none). PostgreSQL: the pool, outcome transactions with `synchronous_commit = off`.
    /// Everything else, above all an accepted message before its `250`, waits for the flush.
    unflushed: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens (and for SQLite, creates) the database at `url`. Does not migrate: see [`Store::migrate`].
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url);
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = sqlite_pragmas(AnyPoolOptions::new(), backend, "FULL")
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let unflushed = match backend {
            // (An in-memory database exists once per connection: it keeps the one pool.)
            Backend::Sqlite if !url.contains(":memory:") => {
                sqlite_pragmas(AnyPoolOptions::new(), backend, "NORMAL")
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_lazy_with(options)
            }
            _ => pool.clone(),
        };
        Ok(Store {
            pool,
            unflushed,
            backend,
        })
    }

    /// Applies the migrations of this backend that are not applied yet.
    ///
    /// SQLite migrations run on one connection with foreign keys off, as SQLite's own procedure
    /// for changing a table asks (a rebuilt table is dropped and renamed: with foreign keys on,
    /// the drop would cascade into the tables that refer to it); the keys are checked after.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = self.pool.acquire().await?;
                let before = applied_migrations(&mut conn).await;
                conn.execute("PRAGMA foreign_keys = OFF").await?;
                let ran = SQLITE_MIGRATIONS.run(&mut *conn).await;
                let changed = applied_migrations(&mut conn).await != before;
                let broken = match changed {
                    true => sqlx::query("PRAGMA foreign_key_check")
                        .fetch_all(&mut *conn)
                        .await
                        .map(|rows| {
                            rows.iter()
                                .filter_map(|r| sqlx::Row::try_get::<String, _>(r, 0).ok())
                                .collect::<std::collections::BTreeSet<_>>()
                        }),
                    false => Ok(Default::default()),
                };
                conn.execute("PRAGMA foreign_keys = ON").await?;
                ran?;
                let broken = broken?;
                if !broken.is_empty() {
                    return Err(StoreError::Conflict(format!(
                        "after the migrations, rows of {} refer to rows that do not exist \
                         (PRAGMA foreign_key_check names them); repair the database before \
                         starting",
                        broken.into_iter().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that reads and then writes. On SQLite it takes the write lock at its start
    /// (`BEGIN IMMEDIATE`), waiting for it under `busy_timeout`; a plain `BEGIN` that reads
    /// first fails at once with "database is locked" when another connection wrote meanwhile.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// A trivial round trip, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.unflushed.close().await;
    }
}

/// How many migrations the database has applied (0 for a new one, which has no table yet).
async fn applied_migrations(conn: &mut sqlx::AnyConnection) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await
        .and_then(|r| sqlx::Row::try_get::<i64, _>(&r, "n"))
        .unwrap_or(0)
}

/// Creates the folder of a SQLite file and asks sqlx to create the file itself.
fn prepare_sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:"
        && let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
            path: parent.display().to_string(),
            source,
        })?;
    }
    let query = if query.split('&').any(|kv| kv.starts_with("mode=")) {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// `$k, $k+1, …` for an `IN (…)` list of `n` values starting at placeholder `start`.
pub(crate) fn list_of(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_from_the_start() {
        assert_eq!(list_of(3, 2), "$3, $4");
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = std::env::temp_dir().join("circlemail-url-test");
        let url = format!("sqlite://{}/x.db", dir.display());
        assert!(prepare_sqlite_url(&url).unwrap().ends_with("x.db?mode=rwc"));
        assert!(
            prepare_sqlite_url("sqlite::memory:")
                .unwrap()
                .contains(":memory:")
        );
    }
}
