//! The moderation queue over the API, and list settings.

use std::sync::Arc;

use axum::{Extension, Json, extract::State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiPath, ApiState, Caller};
use crate::{http::error::ApiError, model::list_settings::ListSettings, moderation::Decision};

pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
) -> Result<Json<Value>, ApiError> {
    let visible = caller.access.visible_groups();
    let held: Vec<_> = state
        .store
        .held_posts("held")
        .await?
        .into_iter()
        .filter(|h| visible.as_ref().is_none_or(|v| v.contains(&h.group_id)))
        .collect();
    Ok(Json(json!({ "held": held })))
}

/// `GET /moderation/{id}`: the held post with a safe preview of its content.
pub async fn read(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let held = state
        .store
        .held_post(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no held post with id {id}")))?;
    // A decided post may have lost its raw copy: its preview is then empty.
    let raw = state
        .store
        .held_raw(id)
        .await
        .map(|(raw, _, _)| raw)
        .unwrap_or_default();
    let preview = tokio::task::spawn_blocking(move || crate::moderation::preview::preview(&raw))
        .await
        .unwrap_or_default();
    Ok(Json(json!({ "held": held, "preview": preview })))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// With reject: mailed to the author.
    reason: Option<String>,
}

pub async fn decide(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath((id, action)): ApiPath<(i64, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let decision = Decision::parse(&action).ok_or_else(|| {
        ApiError::not_found(format!(
            "no action {action:?}; use approve, reject or discard"
        ))
    })?;
    let input: DecisionInput = super::optional_json(&body)?;
    let reason = input.reason;
    let held = state
        .moderation
        .decide(id, decision, &caller.actor, reason.as_deref())
        .await?;
    Ok(Json(json!({ "held": held })))
}

pub async fn settings(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ListSettings>, ApiError> {
    let group = state
        .store
        .group(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no group with id {id}")))?;
    Ok(Json(ListSettings::from_stored(group.settings.as_deref())))
}

/// Replaces the settings: fields left out take their defaults.
pub async fn set_settings(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(value): ApiJson<Value>,
) -> Result<Json<ListSettings>, ApiError> {
    state
        .store
        .group(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no group with id {id}")))?;
    let settings = ListSettings::from_json(value).map_err(ApiError::invalid)?;
    let visible = |g: i64| {
        caller
            .access
            .group_role(g)
            .is_some_and(|r| r >= crate::admin::access::Role::Auditor)
    };
    for g in &settings.post_groups {
        let found = state.store.group(*g).await?.filter(|_| visible(*g));
        found.ok_or_else(|| {
            ApiError::invalid(format!("settings.post_groups: no group with id {g}"))
        })?;
    }
    state
        .store
        .set_settings(id, &serde_json::to_string(&settings).unwrap_or_default())
        .await?;
    Ok(Json(settings))
}
