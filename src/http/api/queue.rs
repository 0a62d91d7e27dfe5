//! The delivery queue and bounce scores over the API.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiPath, ApiQuery, ApiState};
use crate::http::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Most posts and most deferred recipients listed (default 100, at most 1000).
    limit: Option<usize>,
}

/// Posts being delivered and deferred recipients with their last error and next attempt.
pub async fn list(
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let now = state.clock.now_ms();
    Ok(Json(json!({
        "in_flight": state.store.in_flight(now, limit).await?,
        "deferred": state.store.deferred(limit).await?,
    })))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Only this recipient of the post; all its waiting recipients when left out.
    recipient: Option<String>,
}

/// `retry` (due now) or `cancel` (failed, "cancelled by an administrator").
pub async fn act(
    State(state): State<ApiState>,
    ApiPath((queue_id, action)): ApiPath<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let t: Target = super::optional_json(&body)?;
    let now = state.clock.now_ms();
    let recipient = t.recipient.as_deref();
    let affected = match action.as_str() {
        "retry" => state.store.retry_now(&queue_id, recipient, now).await?,
        "cancel" => state.store.cancel(&queue_id, recipient, now).await?,
        other => {
            return Err(ApiError::not_found(format!(
                "no action {other:?}; use retry or cancel"
            )));
        }
    };
    if action == "retry" && affected > 0 {
        state.queue_wake.notify_one();
    }
    Ok(Json(
        json!({ "queue_id": queue_id, "action": action, "recipients": affected }),
    ))
}

/// Bounce scores of a group: who bounced, how often, the last report, and who is disabled.
pub async fn group_bounces(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .group(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no group with id {id}")))?;
    Ok(Json(
        json!({ "bounces": state.store.bounce_scores(Some(id), None).await? }),
    ))
}

/// Re-enables a person disabled for bouncing (score back to zero).
pub async fn reenable(
    State(state): State<ApiState>,
    ApiPath((id, person)): ApiPath<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    // Nothing to re-enable (no bounce record, or no such person): 404, as docs/api.md says.
    if !state.store.reenable_bounced(id, person).await? {
        return Err(ApiError::not_found(format!(
            "person {person} has no bounce record for group {id}"
        )));
    }
    Ok(Json(
        json!({ "group_id": id, "person_id": person, "enabled": true, "changed": true }),
    ))
}

/// `GET /metrics`: Prometheus text format, for an account (or the break-glass token) that is an
/// auditor or more of the whole organisation (`Authorization: Bearer`, as Prometheus's
/// `authorization` setting sends it). Not public: the counts move when mail is sent, and a
/// sign-in mail goes only to known addresses.
pub async fn metrics(
    State(state): State<ApiState>,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let caller = super::authz::authenticate(&state, &headers).await?;
    let role = caller.access.org_role();
    if role.is_none_or(|r| r < crate::admin::access::Role::Auditor) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "/metrics needs the role auditor for the whole organisation; you hold {}",
                role.map(|r| r.as_str()).unwrap_or("no role")
            ),
        ));
    }
    let figures = state.store.queue_figures().await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&figures, state.clock.now_ms()),
    ))
}
