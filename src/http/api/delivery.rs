//! `/people/{id}/delivery`: how a person gets each list (every post, daily or weekly digest,
//! no mail) and a pause of all list mail until a day (see [`crate::digest`]).

use std::sync::Arc;

use axum::{Extension, Json, extract::State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiPath, ApiState, Caller};
use crate::{
    admin::access::Role,
    digest::{self, Mode},
    http::error::ApiError,
};

async fn person_exists(state: &ApiState, id: i64) -> Result<(), ApiError> {
    state
        .store
        .person_detail(id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found(format!("no person with id {id}")))
}

/// The person's modes on the lists the caller may see, and their pause.
pub async fn view(state: &ApiState, caller: Option<&Caller>, id: i64) -> Result<Value, ApiError> {
    let today = digest::day_of(state.clock.now_ms());
    let mut lists = Vec::new();
    for m in digest::modes_of(&state.store, id).await? {
        if caller.is_some_and(|c| {
            c.access
                .group_role(m.group_id)
                .is_none_or(|r| r < Role::Auditor)
        }) {
            continue;
        }
        let Some(g) = state.store.group(m.group_id).await? else {
            continue;
        };
        lists.push(json!({
            "group_id": g.id,
            "name": g.name,
            "address": g.address,
            "mode": m.mode,
            "since": m.since,
        }));
    }
    let pause = digest::pause_of(&state.store, id)
        .await?
        .filter(|p| p.until > today)
        .map(|p| json!({ "until": p.until.format("%Y-%m-%d").to_string(), "set_at": p.set_at }));
    Ok(json!({
        "person_id": id,
        "default_mode": Mode::Every,
        "lists": lists,
        "paused_until": pause,
    }))
}

pub async fn read(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    person_exists(&state, id).await?;
    Ok(Json(view(&state, Some(&caller), id).await?))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeliveryInput {
    /// The list whose mode changes (with `mode`).
    group_id: Option<i64>,
    /// every | daily | weekly | none.
    mode: Option<String>,
    /// "YYYY-MM-DD": all list mail paused until that day; null: the pause ends now.
    #[serde(default, deserialize_with = "crate::admin::double_option")]
    pause_until: Option<Option<String>>,
}

pub async fn update(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<DeliveryInput>,
) -> Result<Json<Value>, ApiError> {
    person_exists(&state, id).await?;
    let now = state.clock.now_ms();
    match (input.group_id, input.mode.as_deref()) {
        (Some(g), Some(mode)) => {
            let mode = Mode::parse(mode).ok_or_else(|| {
                ApiError::invalid(format!(
                    "mode: {mode:?} is not one of every, daily, weekly, none"
                ))
            })?;
            let visible = caller
                .access
                .group_role(g)
                .is_some_and(|r| r >= Role::Auditor);
            state
                .store
                .group(g)
                .await?
                .filter(|g| visible && g.address.is_some())
                .ok_or_else(|| ApiError::not_found(format!("no list with id {g}")))?;
            digest::set_mode(&state.store, id, g, mode, now).await?;
        }
        (None, None) => {}
        _ => {
            return Err(ApiError::invalid(
                "group_id and mode: give both to change a list's mode",
            ));
        }
    }
    if let Some(pause) = input.pause_until {
        let until = pause
            .as_deref()
            .map(|d| digest::parse_pause(d, digest::day_of(now)))
            .transpose()
            .map_err(ApiError::invalid)?;
        digest::set_pause(&state.store, id, until, now).await?;
    }
    Ok(Json(view(&state, Some(&caller), id).await?))
}
