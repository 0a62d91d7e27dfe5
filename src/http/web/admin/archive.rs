//! A list's archive for its administrators: who may read it, a link to it, and mbox imports —
//! upload a file (multipart, streamed on to the API; the form token in the query), follow the
//! import with a progress bar (the little script follows `…/progress`; without it the page
//! reloads itself), and see what came of it: added, already archived, every unreadable message
//! by position and why.

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension, Json,
    body::{Body, Bytes},
    extract::{Multipart, State, multipart::MultipartRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    group::{GroupDetail, Tabs, load},
    may, refused, see_other,
    texts::AdminTexts,
};
use crate::http::web::{
    WebState,
    client::{Api, with_query},
    extract::{WebPath, broken_form, unreadable_form},
    frame::{self, ErrorPage, Layout, render, when},
    gate::Viewer,
};

/// Unreadable messages shown on the page (the API answers up to a thousand).
const SHOWN_UNREADABLE: usize = 200;

#[derive(Debug, Clone, Deserialize)]
pub struct Upload {
    pub id: i64,
    pub by: String,
    pub file_name: String,
    pub created_at: i64,
    pub state: String,
    pub total_bytes: u64,
    pub read_bytes: u64,
    pub added: u64,
    pub duplicates: u64,
    /// The list: a count; one import: `[{position, why}]`.
    pub unreadable: Value,
    pub error: Option<String>,
}

impl Upload {
    fn unreadable_count(&self) -> usize {
        match &self.unreadable {
            Value::Array(a) => a.len(),
            Value::Number(n) => n.as_u64().unwrap_or(0) as usize,
            _ => 0,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Uploads {
    imports: Vec<Upload>,
}

pub struct UploadRow {
    pub id: i64,
    pub when: String,
    pub by: String,
    pub file_name: String,
    pub state: &'static str,
    pub added: u64,
    pub duplicates: u64,
    pub unreadable: usize,
}

pub struct Unreadable {
    pub position: u64,
    pub why: String,
}

fn state_text(t: &AdminTexts, state: &str) -> &'static str {
    match state {
        "running" => t.archive_state_running,
        "done" => t.archive_state_done,
        "interrupted" => t.archive_state_interrupted,
        _ => t.archive_state_failed,
    }
}

#[derive(Template)]
#[template(path = "admin/archive.html")]
struct ArchivePage {
    l: Layout,
    t: &'static AdminTexts,
    tabs: Tabs,
    g: GroupDetail,
    readable_by: Option<&'static str>,
    uploads: Vec<UploadRow>,
    may_import: bool,
    max_mib: u64,
    problem: Option<String>,
}

/// GET /admin/groups/{id}/archive
pub async fn show(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    draw(&state, &viewer, id, None, StatusCode::OK).await
}

async fn draw(
    state: &WebState,
    viewer: &Viewer,
    id: i64,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let g = match load(state, viewer, &api, id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let uploads = match api
        .get::<Uploads>(&format!("/groups/{id}/archive/imports"))
        .await
    {
        Ok(u) => u.imports,
        Err(f) => return refused(state, viewer, f),
    };
    // Who may read, where the account may read the settings (a moderator and up).
    let readable_by = match may(viewer, "get", "/groups/{id}/settings", Some(id)) {
        true => api
            .get::<Value>(&format!("/groups/{id}/settings"))
            .await
            .ok()
            .and_then(|s| s.get("archive").and_then(Value::as_str).map(str::to_string))
            .map(|policy| match policy.as_str() {
                "members" => t.archive_readers_members,
                "managers" => t.archive_readers_managers,
                "public" => t.archive_readers_public,
                _ => t.archive_readers_none,
            }),
        false => None,
    };
    let uploads = uploads
        .iter()
        .map(|u| UploadRow {
            id: u.id,
            when: when(u.created_at),
            by: u.by.clone(),
            file_name: u.file_name.clone(),
            state: state_text(t, &u.state),
            added: u.added,
            duplicates: u.duplicates,
            unreadable: u.unreadable_count(),
        })
        .collect();
    let title = format!("{} · {}", g.name, t.tab_archive);
    render(
        status,
        &ArchivePage {
            l: Layout::new(state, viewer, title),
            t,
            tabs: Tabs::new(t, id, "/archive"),
            may_import: g.address.is_some()
                && may(viewer, "post", "/groups/{id}/archive/imports", Some(id)),
            g,
            readable_by,
            uploads,
            max_mib: state.api.max_mbox_upload / 1024 / 1024,
            problem,
        },
    )
}

/// POST /admin/groups/{id}/archive (multipart: `file`): streams the file to the API's import.
pub async fn upload(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(e) => return unreadable_form(&state, viewer.lang, e),
    };
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                // A file input left empty sends a field without a file name.
                let name = field.file_name().unwrap_or("").to_string();
                if name.is_empty() {
                    break;
                }
                return send(&state, &viewer, &api, id, &name, field).await;
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return broken_form(&state, viewer.lang, e),
        }
    }
    draw(
        &state,
        &viewer,
        id,
        Some(t.archive_no_file.to_string()),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// Hands the file to the API as it arrives (never held whole in memory here).
async fn send(
    state: &WebState,
    viewer: &Viewer,
    api: &Api,
    id: i64,
    name: &str,
    mut field: axum::extract::multipart::Field<'_>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let feed = async move {
        loop {
            let next = match field.chunk().await {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => break,
                Err(e) => Err(std::io::Error::other(e.body_text())),
            };
            let failed = next.is_err();
            // The API stopped reading (it refused the file): nothing more to hand over.
            if tx.send(next).await.is_err() || failed {
                break;
            }
        }
    };
    let path = with_query(&format!("/groups/{id}/archive/imports"), &[("name", name)]);
    let (answer, ()) = tokio::join!(api.upload::<Upload>(&path, "application/mbox", body), feed);
    match answer {
        Ok(u) => see_other(&format!("/admin/groups/{id}/archive/imports/{}", u.id)),
        Err(f)
            if f.status == StatusCode::UNPROCESSABLE_ENTITY
                || f.status == StatusCode::PAYLOAD_TOO_LARGE
                || f.status == StatusCode::BAD_REQUEST =>
        {
            draw(state, viewer, id, Some(f.message), f.status).await
        }
        Err(f) => refused(state, viewer, f),
    }
}

#[derive(Template)]
#[template(path = "admin/archive_import.html")]
struct ImportPage {
    l: Layout,
    t: &'static AdminTexts,
    tabs: Tabs,
    g: GroupDetail,
    u: Upload,
    state: &'static str,
    busy: bool,
    interrupted: bool,
    progress_label: String,
    unreadable: Vec<Unreadable>,
    unreadable_count: usize,
    more_unreadable: Option<String>,
}

/// GET /admin/groups/{id}/archive/imports/{import}: the progress, or what came of it.
pub async fn import(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, import)): WebPath<(i64, i64)>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let g = match load(&state, &viewer, &api, id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let u = match api
        .get::<Upload>(&format!("/groups/{id}/archive/imports/{import}"))
        .await
    {
        Ok(u) => u,
        Err(f) => return refused(&state, &viewer, f),
    };
    let unreadable_count = u.unreadable_count();
    let unreadable: Vec<Unreadable> = u
        .unreadable
        .as_array()
        .map(|a| {
            a.iter()
                .take(SHOWN_UNREADABLE)
                .map(|x| Unreadable {
                    position: x["position"].as_u64().unwrap_or(0),
                    why: x["why"].as_str().unwrap_or("").to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let more_unreadable = (unreadable_count > unreadable.len()).then(|| {
        t.archive_more_unreadable
            .replace("{n}", &(unreadable_count - unreadable.len()).to_string())
    });
    let title = format!("{} · {}", g.name, u.file_name);
    render(
        StatusCode::OK,
        &ImportPage {
            l: Layout::new(&state, &viewer, title),
            t,
            tabs: Tabs::new(t, id, "/archive"),
            g,
            state: state_text(t, &u.state),
            busy: u.state == "running",
            interrupted: u.state == "interrupted",
            progress_label: t
                .archive_progress
                .replace("{done}", &u.read_bytes.to_string())
                .replace("{total}", &u.total_bytes.to_string()),
            unreadable,
            unreadable_count,
            more_unreadable,
            u,
        },
    )
}

/// GET /admin/groups/{id}/archive/imports/{import}/progress: how far it is, as JSON (for the
/// script).
pub async fn progress(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, import)): WebPath<(i64, i64)>,
) -> Response {
    let api = api_or_404!(state, viewer);
    match api
        .get::<Upload>(&format!("/groups/{id}/archive/imports/{import}"))
        .await
    {
        Ok(u) => Json(json!({
            "state": u.state,
            "read_bytes": u.read_bytes,
            "total_bytes": u.total_bytes,
        }))
        .into_response(),
        Err(f) => refused(&state, &viewer, f),
    }
}
