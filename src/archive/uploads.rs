//! mbox files uploaded into a list's archive (the admin API's `POST /groups/{id}/archive/imports`
//! and the group's archive page): the file waits in a temporary file while it is imported in the
//! background; the table `archive_imports` says how far it got (bytes of the file read) and
//! what came of it, for every instance and after a restart. An import cut off by a restart is
//! shown as interrupted; importing the file again finishes it (messages already archived are
//! recognised by their Message-ID and not added twice).

use std::{
    io::{BufRead, Read},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use serde_json::{Value, json};
use sqlx::{Row, any::AnyRow};

use super::{mbox::Counts, store::Imported};
use crate::{
    clock::SharedClock,
    store::{Store, StoreError},
};

/// A running import whose progress has not moved for this long was cut off (ms).
pub const STALE_MS: i64 = 60_000;

/// How many imports of a list are listed.
pub const LISTED: i64 = 20;

/// Unreadable messages kept per import (the count is kept in full).
const KEPT_UNREADABLE: usize = 1000;

/// Whether messages may be imported into `group`'s archive: it is a list and keeps an archive.
/// Otherwise why not, for the person importing (the CLI and the API say the same).
pub fn importable(group: &crate::store::groups::Group) -> Result<(), String> {
    use crate::model::list_settings::{ArchivePolicy, ListSettings};
    if group.address.is_none() {
        return Err(format!(
            "{} has no address: only lists have archives",
            group.name
        ));
    }
    if ListSettings::from_stored(group.settings.as_deref()).archive == ArchivePolicy::None {
        return Err(format!(
            "{} keeps no archive (its setting archive is \"none\"); set it first",
            group.name
        ));
    }
    Ok(())
}

/// A file being read, counting the bytes taken from it (of a gzip file: the compressed bytes,
/// so progress is measured against the file's size).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An mbox file to read, plain or gzip-compressed (Mailman 2's `.txt.gz`), with the count of
/// the file's bytes read so far.
pub fn open(mut file: std::fs::File) -> std::io::Result<(Box<dyn BufRead + Send>, Arc<AtomicU64>)> {
    use std::io::Seek;
    file.rewind()?;
    let mut magic = [0u8; 2];
    let gzip = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    file.rewind()?;
    let count = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: file,
        count: count.clone(),
    };
    let reader: Box<dyn BufRead + Send> = if gzip {
        Box::new(std::io::BufReader::with_capacity(
            256 * 1024,
            flate2::read::MultiGzDecoder::new(counting),
        ))
    } else {
        Box::new(std::io::BufReader::with_capacity(256 * 1024, counting))
    };
    Ok((reader, count))
}

/// Whether a file is an mbox: its first line that is not blank begins with `From `. Otherwise
/// why not, in words for the person who chose the file.
pub fn check(file: std::fs::File) -> Result<(), &'static str> {
    let Ok((reader, _)) = open(file) else {
        return Err("the server could not read the uploaded file back");
    };
    for line in reader.take(64 * 1024).split(b'\n') {
        let Ok(line) = line else {
            return Err("the file is damaged (it could not be unpacked)");
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        return if line.starts_with(b"From ") {
            Ok(())
        } else {
            Err(
                "the file is not an mbox: an mbox begins with a line \"From …\" (Mailman 2's \
                 .txt or .txt.gz month files, HyperKitty's and Google Takeout's .mbox files do)",
            )
        };
    }
    Err("the file is empty")
}

/// One upload and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: i64,
    pub group_id: i64,
    pub actor: String,
    pub file_name: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// running, done or failed.
    pub state: String,
    pub total_bytes: i64,
    pub read_bytes: i64,
    pub added: i64,
    pub duplicates: i64,
    pub unreadable: Value,
    pub error: Option<String>,
}

impl Upload {
    /// `running`, `done`, `failed`, or `interrupted` (running, but cut off).
    pub fn state_at(&self, now: i64) -> &str {
        if self.state == "running" && now - self.updated_at > STALE_MS {
            "interrupted"
        } else {
            &self.state
        }
    }

    /// The API's answer; `full` includes the unreadable messages, otherwise only their count.
    pub fn json(&self, now: i64, full: bool) -> Value {
        let unreadable = self.unreadable.as_array().map(Vec::len).unwrap_or(0);
        json!({
            "id": self.id,
            "group_id": self.group_id,
            "by": self.actor,
            "file_name": self.file_name,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "state": self.state_at(now),
            "total_bytes": self.total_bytes,
            "read_bytes": self.read_bytes.min(self.total_bytes),
            "added": self.added,
            "duplicates": self.duplicates,
            "unreadable": if full { self.unreadable.clone() } else { json!(unreadable) },
            "error": self.error,
        })
    }
}

const COLUMNS: &str = "id, group_id, actor, file_name, created_at, updated_at, state, total_bytes,
     read_bytes, added, duplicates, unreadable, error";

fn upload(r: &AnyRow) -> Result<Upload, sqlx::Error> {
    let unreadable: String = r.try_get("unreadable")?;
    Ok(Upload {
        id: r.try_get("id")?,
        group_id: r.try_get("group_id")?,
        actor: r.try_get("actor")?,
        file_name: r.try_get("file_name")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        state: r.try_get("state")?,
        total_bytes: r.try_get("total_bytes")?,
        read_bytes: r.try_get("read_bytes")?,
        added: r.try_get("added")?,
        duplicates: r.try_get("duplicates")?,
        unreadable: serde_json::from_str(&unreadable).unwrap_or(Value::Null),
        error: r.try_get("error")?,
    })
}

fn unreadable_json(out: &Imported) -> String {
    Value::Array(
        out.unreadable
            .iter()
            .take(KEPT_UNREADABLE)
            .map(|(position, why)| json!({"position": position, "why": why}))
            .collect(),
    )
    .to_string()
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Records an upload about to be imported; its id.
    pub async fn archive_upload_start(
        &self,
        group_id: i64,
        actor: &str,
        file_name: &str,
        total_bytes: u64,
        now: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO archive_imports
               (group_id, actor, file_name, created_at, updated_at, state, total_bytes)
             VALUES ($1, $2, $3, $4, $4, 'running', $5) RETURNING id",
        )
        .bind(group_id)
        .bind(actor)
        .bind(file_name)
        .bind(now)
        .bind(as_i64(total_bytes))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Records how far an import got.
    pub async fn archive_upload_progress(
        &self,
        id: i64,
        read_bytes: u64,
        counts: Counts,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE archive_imports SET read_bytes = $2, added = $3, duplicates = $4,
               updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(as_i64(read_bytes))
        .bind(as_i64(counts.added))
        .bind(as_i64(counts.duplicates))
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records what came of an import: it is done.
    pub async fn archive_upload_done(
        &self,
        id: i64,
        read_bytes: u64,
        out: &Imported,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE archive_imports SET read_bytes = $2, added = $3, duplicates = $4,
               unreadable = $5, state = 'done', updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(as_i64(read_bytes))
        .bind(as_i64(out.added))
        .bind(as_i64(out.duplicates))
        .bind(unreadable_json(out))
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that an import ended early, keeping how far it got.
    pub async fn archive_upload_failed(
        &self,
        id: i64,
        error: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE archive_imports SET state = 'failed', error = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One upload into a list's archive.
    pub async fn archive_upload(
        &self,
        group_id: i64,
        id: i64,
    ) -> Result<Option<Upload>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM archive_imports WHERE id = $1 AND group_id = $2"
        ))
        .bind(id)
        .bind(group_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(upload).transpose()?)
    }

    /// The latest uploads into a list's archive, the newest first.
    pub async fn archive_uploads(&self, group_id: i64) -> Result<Vec<Upload>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM archive_imports WHERE group_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(group_id)
        .bind(LISTED)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(upload).collect::<Result<_, _>>()?)
    }
}

/// Imports an uploaded file (recorded as `id`) into the list's archive, recording its progress
/// after every transaction; the file is removed when it is over.
pub async fn run(
    store: Store,
    clock: SharedClock,
    id: i64,
    group_id: i64,
    file: tempfile::NamedTempFile,
) {
    let opened = file.reopen().and_then(open);
    let (reader, read) = match opened {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, import = id, "the uploaded mbox cannot be read back");
            let _ = store
                .archive_upload_failed(
                    id,
                    "the server could not read the uploaded file back",
                    clock.now_ms(),
                )
                .await;
            return;
        }
    };
    let outcome = super::mbox::import(&store, group_id, reader, clock.now_ms(), |_, counts| {
        let (store, read, now) = (store.clone(), read.load(Ordering::Relaxed), clock.now_ms());
        async move {
            if let Err(e) = store.archive_upload_progress(id, read, counts, now).await {
                tracing::warn!(error = %e, import = id, "recording an import's progress");
            }
        }
    })
    .await;
    let total = file.as_file().metadata().map(|m| m.len()).unwrap_or(0);
    let now = clock.now_ms();
    let recorded = match &outcome {
        Ok(out) => {
            tracing::info!(
                import = id,
                group = group_id,
                added = out.added,
                duplicates = out.duplicates,
                unreadable = out.unreadable.len(),
                "mbox imported into the archive"
            );
            store.archive_upload_done(id, total, out, now).await
        }
        Err(e) => {
            tracing::error!(error = %e, import = id, "an mbox import failed");
            store
                .archive_upload_failed(
                    id,
                    "the server could not finish (see its log); the messages archived so far \
                     stay, and importing the file again adds the rest",
                    now,
                )
                .await
        }
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, import = id, "recording the end of an import");
    }
    drop(file);
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, Write};

    use super::*;

    fn file_with(bytes: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.rewind().unwrap();
        f
    }

    #[test]
    fn an_import_that_stopped_moving_is_interrupted() {
        let u = Upload {
            id: 1,
            group_id: 2,
            actor: "a@x".into(),
            file_name: "f.mbox".into(),
            created_at: 0,
            updated_at: 1_000,
            state: "running".into(),
            total_bytes: 10,
            read_bytes: 4,
            added: 1,
            duplicates: 0,
            unreadable: json!([]),
            error: None,
        };
        assert_eq!(u.state_at(1_000 + STALE_MS), "running");
        assert_eq!(u.state_at(1_001 + STALE_MS), "interrupted");
        let done = Upload {
            state: "done".into(),
            ..u
        };
        assert_eq!(done.state_at(i64::MAX), "done");
    }

    #[test]
    fn plain_and_gzip_files_read_the_same_and_progress_counts_the_file() {
        let mbox = b"\n\nFrom a@x Mon Jan  1 00:00:00 2024\nSubject: s\n\nbody\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(mbox).unwrap();
        let gz = gz.finish().unwrap();
        for bytes in [&mbox[..], &gz[..]] {
            assert_eq!(check(file_with(bytes)), Ok(()));
            let (mut reader, count) = open(file_with(bytes)).unwrap();
            let mut text = Vec::new();
            reader.read_to_end(&mut text).unwrap();
            assert_eq!(text, mbox);
            assert_eq!(count.load(Ordering::Relaxed), bytes.len() as u64);
        }
        let why = check(file_with(b"email,name\na@x,A\n")).unwrap_err();
        assert!(why.contains("not an mbox"), "{why}");
        assert_eq!(check(file_with(b"\n \n")), Err("the file is empty"));
        assert!(
            check(file_with(&gz[..gz.len() / 2])).is_err(),
            "a cut gzip file"
        );
    }
}
