//! A fresh database per test: a SQLite file in a temp folder, or a new PostgreSQL database when
//! CIRCLEMAIL_TEST_POSTGRES names a server (dropped again by [`TestDb::drop_database`]).

use std::io::Write;

use sqlx::{Connection, Executor, PgConnection};

pub const PG_ENV: &str = "CIRCLEMAIL_TEST_POSTGRES";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

/// The PostgreSQL server URL, or a loud note on stderr (not captured by the test runner) that
/// the PostgreSQL variant of `test` was skipped.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PostgreSQL variant of {test}: set {PG_ENV}=postgres://postgres@127.0.0.1/test to run it"
            );
            None
        }
    }
}

impl TestDb {
    pub async fn new(backend: Backend, admin_url: Option<&str>) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}/circlemail.db", dir.path().display()),
                dir,
                pg: None,
            },
            Backend::Postgres => {
                let admin = admin_url.expect("postgres url").to_string();
                let name = format!("circlemail_test_{:016x}", rand::random::<u64>());
                let mut conn = PgConnection::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create database");
                let mut url = url::Url::parse(&admin).expect("postgres url");
                url.set_path(&name);
                TestDb {
                    url: url.to_string(),
                    dir,
                    pg: Some((admin, name)),
                }
            }
        }
    }

    pub async fn drop_database(&self) {
        if let Some((admin, name)) = &self.pg
            && let Ok(mut conn) = PgConnection::connect(admin).await
        {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
        }
    }
}

/// Runs `body` on SQLite, and on PostgreSQL when a server is configured.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db =
                    $crate::support::db::TestDb::new($crate::support::db::Backend::Sqlite, None)
                        .await;
                ($body)(&db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(url) = $crate::support::db::postgres_url(concat!(module_path!())) else {
                    return;
                };
                let db = $crate::support::db::TestDb::new(
                    $crate::support::db::Backend::Postgres,
                    Some(&url),
                )
                .await;
                ($body)(&db).await;
                db.drop_database().await;
            }
        }
    };
}
