//! GDPR over the API: export, erase, retention rules, clean-up.

use axum::{Json, extract::State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiPath, ApiState};
use crate::{admin::gdpr, http::error::ApiError};

pub async fn export(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(gdpr::export(&state.store, id).await?))
}

pub async fn erase(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        gdpr::erase(&state.store, id, state.clock.now_ms()).await?,
    ))
}

/// `GET /people/{id}/erase`: what erasing would do, changing nothing.
pub async fn erase_preview(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        gdpr::erase_preview(&state.store, id, state.clock.now_ms()).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionInput {
    years: Option<i64>,
}

pub async fn set_retention(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RetentionInput>,
) -> Result<Json<Value>, ApiError> {
    if input.years.is_some_and(|y| !(1..=100).contains(&y)) {
        return Err(ApiError::invalid(
            "years: 1 to 100, or null for no retention rule",
        ));
    }
    if !state.store.set_retention(id, input.years).await? {
        return Err(ApiError::not_found(format!("no group with id {id}")));
    }
    Ok(Json(
        json!({ "group_id": id, "retention_years": input.years }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupInput {
    resigned_years: u32,
    #[serde(default = "yes")]
    dry_run: bool,
}

fn yes() -> bool {
    true
}

pub async fn cleanup(
    State(state): State<ApiState>,
    ApiJson(input): ApiJson<CleanupInput>,
) -> Result<Json<Value>, ApiError> {
    if input.resigned_years > 200 {
        return Err(ApiError::invalid("resigned_years: at most 200"));
    }
    Ok(Json(
        gdpr::cleanup(
            &state.store,
            input.resigned_years,
            input.dry_run,
            state.clock.now_ms(),
        )
        .await?,
    ))
}
