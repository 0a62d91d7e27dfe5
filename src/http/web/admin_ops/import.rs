//! Import: upload a CSV file (multipart; the form token in the query), see the check with every
//! bad line and why, import with a progress bar (the little script follows
//! `/admin/import/{id}/progress`; without it the page reloads itself), and the summary.

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension, Json,
    extract::{Multipart, State, multipart::MultipartRejection},
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fill, see_other, texts::OpsTexts};
use crate::http::web::{
    WebState,
    admin::{may, refused},
    extract::{WebPath, broken_form, unreadable_form},
    frame::{self, ErrorPage, Layout, render, when},
    gate::Viewer,
};

/// The largest upload taken (as the API's `MAX_CSV`).
pub const MAX_UPLOAD: usize = crate::http::api::MAX_CSV + 64 * 1024;

/// Bad lines shown on the page (the API answers them all).
const SHOWN_BAD: usize = 1000;

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Report {
    #[serde(default)]
    pub rows: u64,
    #[serde(default)]
    pub imported: u64,
    #[serde(default)]
    pub skipped: Value,
    #[serde(default)]
    pub created_groups: Vec<String>,
    #[serde(default)]
    pub changed_addresses: u64,
}

impl Report {
    fn bad_count(&self) -> usize {
        match &self.skipped {
            Value::Array(a) => a.len(),
            Value::Number(n) => n.as_u64().unwrap_or(0) as usize,
            _ => 0,
        }
    }

    fn bad_lines(&self) -> Vec<BadLine> {
        self.skipped
            .as_array()
            .map(|a| {
                a.iter()
                    .take(SHOWN_BAD)
                    .map(|b| BadLine {
                        line: b["line"].as_u64().unwrap_or(0),
                        why: b["why"].as_str().unwrap_or("").to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub struct BadLine {
    pub line: u64,
    pub why: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub id: i64,
    pub by: String,
    pub created_at: i64,
    pub state: String,
    pub total_bytes: u64,
    pub read_bytes: u64,
    pub check: Option<Report>,
    pub result: Option<Report>,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Jobs {
    imports: Vec<Job>,
}

pub struct JobRow {
    pub id: i64,
    pub when: String,
    pub by: String,
    pub state: String,
}

fn state_text(t: &OpsTexts, state: &str) -> String {
    match state {
        "checking" => t.state_checking,
        "checked" => t.state_checked,
        "running" => t.state_running,
        "done" => t.state_done,
        _ => t.state_failed,
    }
    .to_string()
}

#[derive(Template)]
#[template(path = "admin_ops/import.html")]
struct UploadPage {
    l: Layout,
    t: &'static OpsTexts,
    jobs: Vec<JobRow>,
    problem: Option<String>,
}

async fn upload_page(
    state: &WebState,
    viewer: &Viewer,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let jobs = match api.get::<Jobs>("/import").await {
        Ok(j) => j.imports,
        Err(f) => return refused(state, viewer, f),
    };
    let jobs = jobs
        .into_iter()
        .map(|j| JobRow {
            id: j.id,
            when: when(j.created_at),
            by: j.by,
            state: state_text(t, &j.state),
        })
        .collect();
    render(
        status,
        &UploadPage {
            l: Layout::new(state, viewer, t.import_title),
            t,
            jobs,
            problem,
        },
    )
}

/// GET /admin/import
pub async fn form(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
) -> Response {
    upload_page(&state, &viewer, None, StatusCode::OK).await
}

/// POST /admin/import (multipart: `file`): hands the file to the API's check.
pub async fn upload(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(e) => return unreadable_form(&state, viewer.lang, e),
    };
    let mut file: Option<Vec<u8>> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(f)) if f.name() == Some("file") => match f.bytes().await {
                Ok(b) => file = Some(b.to_vec()),
                Err(e) => return broken_form(&state, viewer.lang, e),
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return broken_form(&state, viewer.lang, e),
        }
    }
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return upload_page(
            &state,
            &viewer,
            Some(t.import_no_file.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let csv = String::from_utf8_lossy(&file).into_owned();
    match api
        .send::<Job>(Method::POST, "/import", Some(json!({ "csv": csv })))
        .await
    {
        Ok(job) => see_other(&format!("/admin/import/{}", job.id)),
        Err(f) if f.status == StatusCode::UNPROCESSABLE_ENTITY => {
            upload_page(&state, &viewer, Some(f.message), f.status).await
        }
        Err(f) => refused(&state, &viewer, f),
    }
}

#[derive(Template)]
#[template(path = "admin_ops/import_job.html")]
struct JobPage {
    l: Layout,
    t: &'static OpsTexts,
    job: Job,
    busy: bool,
    progress_label: String,
    check: Option<Report>,
    result: Option<Report>,
    bad: Vec<BadLine>,
    more_bad: Option<String>,
    bad_count: usize,
    run_label: String,
    may_run: bool,
}

/// GET /admin/import/{id}: the check, the progress, or the summary.
pub async fn show(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let job = match api.get::<Job>(&format!("/import/{id}")).await {
        Ok(j) => j,
        Err(f) => return refused(&state, &viewer, f),
    };
    let busy = job.state == "checking" || job.state == "running";
    let shown = job.result.clone().or_else(|| job.check.clone());
    let bad = shown.as_ref().map(Report::bad_lines).unwrap_or_default();
    let bad_count = shown.as_ref().map(Report::bad_count).unwrap_or(0);
    let more_bad = (bad_count > bad.len()).then(|| {
        fill(
            t.import_more_bad,
            &[("n", &(bad_count - bad.len()).to_string())],
        )
    });
    let title = match job.state.as_str() {
        "checking" => t.import_progress_checking,
        "running" => t.import_progress_running,
        "checked" => t.import_check_title,
        "done" => t.import_summary,
        _ => t.import_title,
    };
    let run_label = fill(
        t.import_run,
        &[(
            "n",
            &job.check
                .as_ref()
                .map(|c| c.imported)
                .unwrap_or(0)
                .to_string(),
        )],
    );
    render(
        StatusCode::OK,
        &JobPage {
            l: Layout::new(&state, &viewer, title),
            t,
            busy,
            progress_label: fill(
                t.import_progress_of,
                &[
                    ("done", &job.read_bytes.to_string()),
                    ("total", &job.total_bytes.to_string()),
                ],
            ),
            check: job.check.clone(),
            result: job.result.clone(),
            bad,
            more_bad,
            bad_count,
            run_label,
            may_run: job.state == "checked" && may(&viewer, "post", "/import/{id}/run", Some(id)),
            job,
        },
    )
}

/// GET /admin/import/{id}/progress: how far a check or an import is, as JSON (for the script).
pub async fn progress(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    match api.get::<Job>(&format!("/import/{id}")).await {
        Ok(j) => Json(json!({
            "state": j.state,
            "read_bytes": j.read_bytes,
            "total_bytes": j.total_bytes,
        }))
        .into_response(),
        // An unknown import, or one out of reach: the same error pages as every other page.
        Err(f) => refused(&state, &viewer, f),
    }
}

/// POST /admin/import/{id}/run
pub async fn run(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    match api
        .send::<Value>(Method::POST, &format!("/import/{id}/run"), None)
        .await
    {
        Ok(_) => see_other(&format!("/admin/import/{id}")),
        Err(f) => refused(&state, &viewer, f),
    }
}
