//! mbox imports into a list's archive over the API (the group's archive page uses them too):
//! `POST /groups/{id}/archive/imports` takes the file as the request body (plain or gzip),
//! streamed to a temporary file, and imports it in the background; `GET …/imports/{import}`
//! follows it (bytes of the file read) and answers what came of it. The messages enter the
//! archive under the list's own `archive` setting: an import never makes them readable by
//! anyone who could not read the list's posts.

use std::sync::Arc;

use axum::{
    Extension, Json,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::{ApiPath, ApiQuery, ApiState, Caller};
use crate::{archive::uploads, http::error::ApiError};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name, as its owner knows it (shown in the list of imports).
    name: Option<String>,
    /// Answer only when the import is over.
    wait: Option<bool>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "keeping an uploaded mbox");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server could not keep the file (see its log); nothing was imported",
    )
}

/// The list, if it keeps an archive; otherwise why the import cannot be.
async fn archive_of(state: &ApiState, id: i64) -> Result<(), ApiError> {
    let group = state
        .store
        .group(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no group {id}")))?;
    uploads::importable(&group).map_err(ApiError::invalid)
}

/// `POST /groups/{id}/archive/imports`: the mbox as the body.
pub async fn upload(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    archive_of(&state, id).await?;
    let max = state.max_mbox_upload;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the file is larger than {} MiB (http.max_mbox_upload): import it on the server \
                 with `circlemail archive import`",
                max / 1024 / 1024
            ),
        )
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > max)
    {
        return Err(too_large());
    }
    let file = tempfile::Builder::new()
        .prefix("circlemail-mbox-")
        .tempfile()
        .map_err(internal)?;
    let mut out = tokio::fs::File::from_std(file.as_file().try_clone().map_err(internal)?);
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the upload broke off: {e}"),
            )
        })?;
        size += chunk.len() as u64;
        if size > max {
            return Err(too_large());
        }
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    drop(out);
    let checked = file.reopen().map_err(internal)?;
    tokio::task::spawn_blocking(move || uploads::check(checked))
        .await
        .map_err(internal)?
        .map_err(ApiError::invalid)?;
    let name: String = q
        .name
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let name = if name.trim().is_empty() {
        "upload.mbox".to_string()
    } else {
        name.trim().to_string()
    };
    let now = state.clock.now_ms();
    let import = state
        .store
        .archive_upload_start(id, &caller.actor, &name, size, now)
        .await?;
    let task = tokio::spawn(uploads::run(
        state.store.clone(),
        state.clock.clone(),
        import,
        id,
        file,
    ));
    if q.wait.unwrap_or(false) {
        task.await.map_err(internal)?;
    }
    let job = state
        .store
        .archive_upload(id, import)
        .await?
        .map(|u| u.json(state.clock.now_ms(), true))
        .unwrap_or(Value::Null);
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// `GET /groups/{id}/archive/imports`: the latest imports into the list's archive.
pub async fn list(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now_ms();
    let imports: Vec<Value> = state
        .store
        .archive_uploads(id)
        .await?
        .iter()
        .map(|u| u.json(now, false))
        .collect();
    Ok(Json(json!({ "imports": imports })))
}

/// `GET /groups/{id}/archive/imports/{import}`: how far it is, and what came of it.
pub async fn read(
    State(state): State<ApiState>,
    ApiPath((id, import)): ApiPath<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let upload = state
        .store
        .archive_upload(id, import)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no import {import} into group {id}")))?;
    Ok(Json(upload.json(state.clock.now_ms(), true)))
}
