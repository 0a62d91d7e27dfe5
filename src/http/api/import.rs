//! CSV imports over the API (the web page's too): `POST /import` takes a file and checks it in
//! the background — every bad line and why, nothing written; `POST /import/{id}/run` imports the
//! checked file in the background; `GET /import/{id}` follows either (bytes read of the file)
//! and answers the summary. The files wait in this server's memory, for an hour at most and
//! only until they are imported; a restart forgets them (check the file again).

use std::{
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Extension, Json,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiPath, ApiQuery, ApiState, Caller};
use crate::{
    admin::{AdminError, import},
    http::error::ApiError,
};

/// The largest file taken (100,000 people with a dozen columns fit many times).
pub const MAX_CSV: usize = 64 * 1024 * 1024;
/// How long a file that was checked but not imported is kept.
const KEEP_MS: i64 = 60 * 60 * 1000;
/// How many finished imports are remembered for the list.
const KEEP_FINISHED: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Checking,
    Checked,
    Running,
    Done,
    Failed,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Checking => "checking",
            Phase::Checked => "checked",
            Phase::Running => "running",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
}

struct Job {
    id: i64,
    by: String,
    created_at: i64,
    /// The file, until it is imported.
    csv: Option<Arc<Vec<u8>>>,
    total_bytes: u64,
    read_bytes: Arc<AtomicU64>,
    phase: Phase,
    check: Option<Value>,
    result: Option<Value>,
    error: Option<String>,
}

impl Job {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "by": self.by,
            "created_at": self.created_at,
            "state": self.phase.as_str(),
            "total_bytes": self.total_bytes,
            "read_bytes": self.read_bytes.load(Ordering::Relaxed).min(self.total_bytes),
            "check": self.check,
            "result": self.result,
            "error": self.error,
        })
    }

    fn busy(&self) -> bool {
        matches!(self.phase, Phase::Checking | Phase::Running)
    }
}

static JOBS: LazyLock<Mutex<Vec<Job>>> = LazyLock::new(|| Mutex::new(Vec::new()));
/// Import ids start at a random point, so an id of a forgotten import (after a restart) is
/// unlikely to name a new one.
static NEXT_ID: LazyLock<AtomicI64> =
    LazyLock::new(|| AtomicI64::new(rand::random_range(1_000_000..1_000_000_000)));

fn jobs() -> std::sync::MutexGuard<'static, Vec<Job>> {
    // A panic while holding the lock leaves plain data behind: use it.
    JOBS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Forgets unrun files after [`KEEP_MS`] and all but the newest finished imports.
fn prune(list: &mut Vec<Job>, now: i64) {
    list.retain(|j| j.busy() || now - j.created_at < KEEP_MS || j.phase == Phase::Done);
    for j in list.iter_mut() {
        if j.phase == Phase::Checked && now - j.created_at >= KEEP_MS {
            j.csv = None;
        }
    }
    let finished = list.iter().filter(|j| !j.busy()).count();
    if finished > KEEP_FINISHED {
        let mut drop = finished - KEEP_FINISHED;
        list.retain(|j| {
            if drop > 0 && !j.busy() {
                drop -= 1;
                false
            } else {
                true
            }
        });
    }
}

fn with_job<T>(id: i64, f: impl FnOnce(&mut Job) -> T) -> Option<T> {
    jobs().iter_mut().find(|j| j.id == id).map(f)
}

/// The JSON of an import report.
pub fn report_json(r: &import::ImportReport) -> Value {
    json!({
        "rows": r.rows,
        "imported": r.imported,
        "skipped": r.skipped.iter().map(|(line, why)| json!({"line": line, "why": why})).collect::<Vec<_>>(),
        "created_groups": r.created_groups,
        "changed_addresses": r.changed_addresses,
    })
}

fn failure(e: AdminError) -> String {
    match e {
        AdminError::Invalid(m) | AdminError::Conflict(m) | AdminError::NotFound(m) => m,
        other => {
            tracing::error!(error = %other, "an import failed");
            "the server could not finish (see its log); nothing more was written".into()
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportInput {
    csv: String,
}

/// `POST /import`: the file as `text/csv` (or `{"csv": TEXT}`); checked in the background.
pub async fn check(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiQuery(q): ApiQuery<WaitQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_CSV).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the file is larger than {} MiB", MAX_CSV / 1024 / 1024),
        )
    })?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let csv: Vec<u8> = if json {
        serde_json::from_slice::<ImportInput>(&bytes)
            .map_err(|e| ApiError::invalid(format!("body: {e}")))?
            .csv
            .into_bytes()
    } else {
        bytes.to_vec()
    };
    if std::str::from_utf8(&csv).is_err() {
        return Err(ApiError::invalid(
            "the file is not UTF-8 text: save it from the spreadsheet as \"CSV UTF-8\"",
        ));
    }
    let now = state.clock.now_ms();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let read = Arc::new(AtomicU64::new(0));
    let csv = Arc::new(csv);
    {
        let mut list = jobs();
        prune(&mut list, now);
        list.push(Job {
            id,
            by: caller.actor.clone(),
            created_at: now,
            csv: Some(csv.clone()),
            total_bytes: csv.len() as u64,
            read_bytes: read.clone(),
            phase: Phase::Checking,
            check: None,
            result: None,
            error: None,
        });
    }
    let store = state.store.clone();
    tokio::spawn(async move {
        let counter = read.clone();
        let outcome = import::check_csv(&store, csv.as_slice(), move |n| {
            counter.store(n, Ordering::Relaxed)
        })
        .await;
        with_job(id, |j| match outcome {
            Ok(r) => {
                j.phase = Phase::Checked;
                j.check = Some(report_json(&r));
            }
            Err(e) => {
                j.phase = Phase::Failed;
                j.csv = None;
                j.error = Some(failure(e));
            }
        });
    });
    if q.wait.unwrap_or(false) {
        wait_for(id).await;
    }
    let job = with_job(id, |j| j.json()).unwrap_or(Value::Null);
    Ok((StatusCode::ACCEPTED, Json(job)))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// Answer only when the check or the import is over.
    wait: Option<bool>,
}

async fn wait_for(id: i64) {
    while with_job(id, |j| j.busy()).unwrap_or(false) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /import`: the imports this server remembers, newest first (without their files).
pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let mut list = jobs();
    prune(&mut list, state.clock.now_ms());
    let mut out: Vec<Value> = list
        .iter()
        .map(|j| {
            let mut v = j.json();
            // The list is a summary: the bad lines are on each import's own answer.
            if let Some(o) = v.as_object_mut() {
                for k in ["check", "result"] {
                    if let Some(r) = o.get_mut(k).and_then(Value::as_object_mut) {
                        let n = r.get("skipped").and_then(Value::as_array).map(Vec::len);
                        r.insert("skipped".into(), json!(n.unwrap_or(0)));
                    }
                }
            }
            v
        })
        .collect();
    out.reverse();
    Ok(Json(json!({ "imports": out })))
}

fn unknown(id: i64) -> ApiError {
    ApiError::not_found(format!(
        "no import {id} (a checked file is kept for an hour, and not across a restart)"
    ))
}

/// `GET /import/{id}`.
pub async fn read(ApiPath(id): ApiPath<i64>) -> Result<Json<Value>, ApiError> {
    with_job(id, |j| Json(j.json())).ok_or_else(|| unknown(id))
}

/// `POST /import/{id}/run`: imports the checked file in the background.
pub async fn run(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let started = with_job(id, |j| match (j.phase, j.csv.take()) {
        (Phase::Checked, Some(csv)) => {
            j.phase = Phase::Running;
            j.read_bytes.store(0, Ordering::Relaxed);
            Ok((csv, j.read_bytes.clone()))
        }
        (Phase::Checked, None) => Err(ApiError::conflict(
            "the checked file was forgotten (after an hour): check it again",
        )),
        (phase, csv) => {
            j.csv = csv;
            Err(ApiError::conflict(format!(
                "import {id} is {}; only a checked file can be imported, once",
                phase.as_str()
            )))
        }
    })
    .ok_or_else(|| unknown(id))??;
    let (csv, read) = started;
    let store = state.store.clone();
    let now = state.clock.now_ms();
    tokio::spawn(async move {
        let counter = read.clone();
        let outcome = import::import_csv(&store, csv.as_slice(), now, move |n| {
            counter.store(n, Ordering::Relaxed)
        })
        .await;
        with_job(id, |j| match outcome {
            Ok(r) => {
                j.phase = Phase::Done;
                j.result = Some(report_json(&r));
            }
            Err(e) => {
                j.phase = Phase::Failed;
                j.error = Some(failure(e));
            }
        });
    });
    if q.wait.unwrap_or(false) {
        wait_for(id).await;
    }
    let job = with_job(id, |j| j.json()).unwrap_or(Value::Null);
    Ok((StatusCode::ACCEPTED, Json(job)))
}
