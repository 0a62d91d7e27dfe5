//! People: create, read, update, delete, search; custom fields; opt-outs.

use std::sync::Arc;

use axum::{Extension, Json, extract::State, http::StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiPath, ApiQuery, ApiState, Caller};
use crate::{
    admin::people::{PersonInput, apply, one_of, parse_email, validate},
    http::error::ApiError,
    store::people::{PeopleQuery, PersonDetail},
};

async fn detail(state: &ApiState, id: i64) -> Result<PersonDetail, ApiError> {
    state
        .store
        .person_detail(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no person with id {id}")))
}

pub async fn create(
    State(state): State<ApiState>,
    ApiJson(input): ApiJson<PersonInput>,
) -> Result<(StatusCode, Json<PersonDetail>), ApiError> {
    let email = parse_email(
        input
            .email
            .as_deref()
            .ok_or_else(|| ApiError::invalid("email: required"))?,
    )?;
    validate(&state.store, &input).await?;
    if state.store.find_person(&email).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "{email} exists already; update it with PATCH /api/v1/people/ID"
        )));
    }
    let name = input.name.clone().flatten();
    let person = state
        .store
        .upsert_person(&email, name.as_deref(), state.clock.now_ms())
        .await?;
    apply(
        &state.store,
        person.id,
        &PersonInput {
            email: None,
            name: None,
            ..input
        },
        state.clock.now_ms(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(detail(&state, person.id).await?)))
}

pub async fn read(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PersonDetail>, ApiError> {
    Ok(Json(detail(&state, id).await?))
}

pub async fn update(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<PersonInput>,
) -> Result<Json<PersonDetail>, ApiError> {
    let current = detail(&state, id).await?;
    validate(&state.store, &input).await?;
    if input
        .email
        .as_deref()
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case(&current.email))
    {
        crate::admin::people::check_address_change(&state.store, id, &caller.access).await?;
    }
    apply(&state.store, id, &input, state.clock.now_ms()).await?;
    Ok(Json(detail(&state, id).await?))
}

pub async fn delete(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if let Some(a) = state.store.account_of_person(id).await? {
        return Err(ApiError::conflict(format!(
            "person {id} holds admin account {}; deactivate the account instead (its history stays)",
            a.id
        )));
    }
    if let Some(why) =
        crate::admin::gdpr::delete_blocked_by_retention(&state.store, id, state.clock.now_ms())
            .await?
    {
        return Err(ApiError::conflict(why));
    }
    if state.store.delete_person(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no person with id {id}")))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    q: Option<String>,
    status: Option<String>,
    membership_type: Option<String>,
    team: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn search(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) || p.offset.is_some_and(|o| o < 0) {
        return Err(ApiError::invalid(
            "limit is 1 to 1000 and offset at least 0",
        ));
    }
    let offset = p.offset.unwrap_or(0);
    let visible = caller.access.visible_people();
    let mut query = PeopleQuery {
        text: p.q,
        status: p.status,
        membership_type: p.membership_type,
        team: p.team,
        limit,
        offset,
    };
    if visible.is_some() {
        // Scoped: filter everyone matching, then page (an association's size, not a city's).
        query.limit = i64::MAX;
        query.offset = 0;
    }
    let mut people = state.store.search_people(&query).await?;
    if let Some(visible) = visible {
        people = people
            .into_iter()
            .filter(|p| visible.contains(&p.id))
            .skip(usize::try_from(offset).unwrap_or(0))
            .take(usize::try_from(limit).unwrap_or(0))
            .collect();
    }
    Ok(Json(json!({ "people": people })))
}

/// `GET /people/{id}/memberships`: the groups in the caller's scopes the person is in today.
pub async fn memberships(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    detail(&state, id).await?;
    let visible = caller.access.visible_groups();
    let groups: Vec<_> = state
        .resolver
        .memberships(id)
        .await?
        .into_iter()
        .filter(|m| visible.as_ref().is_none_or(|v| v.contains(&m.group_id)))
        .collect();
    Ok(Json(json!({ "person_id": id, "groups": groups })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldInput {
    name: String,
    kind: String,
    #[serde(default)]
    options: Vec<String>,
}

pub async fn fields(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let fields: Vec<Value> = state
        .store
        .custom_fields()
        .await?
        .into_iter()
        .map(|(name, kind, options)| json!({ "name": name, "kind": kind, "options": options }))
        .collect();
    Ok(Json(json!({ "fields": fields })))
}

pub async fn create_field(
    State(state): State<ApiState>,
    ApiJson(f): ApiJson<FieldInput>,
) -> Result<StatusCode, ApiError> {
    one_of("kind", &f.kind, &["single", "multiple", "checkbox"])?;
    if f.name.trim().is_empty() || f.name.contains('=') {
        return Err(ApiError::invalid("name: required, without '='"));
    }
    if f.kind != "checkbox" && f.options.is_empty() {
        return Err(ApiError::invalid(
            "options: a single or multiple choice field needs its options",
        ));
    }
    if state
        .store
        .custom_fields()
        .await?
        .iter()
        .any(|(n, _, _)| *n == f.name)
    {
        return Err(ApiError::conflict(format!(
            "a field named {:?} exists already",
            f.name
        )));
    }
    let options: Vec<&str> = f.options.iter().map(String::as_str).collect();
    state
        .store
        .create_custom_field(&f.name, &f.kind, &options)
        .await?;
    Ok(StatusCode::CREATED)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutInput {
    /// The group to stop receiving; `null` or absent: all list mail.
    group_id: Option<i64>,
    channel: Option<String>,
}

pub async fn opt_outs(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    detail(&state, id).await?;
    Ok(Json(
        json!({ "opt_outs": state.store.opt_outs(Some(id), None).await? }),
    ))
}

pub async fn opt_out(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<OptOutInput>,
) -> Result<StatusCode, ApiError> {
    detail(&state, id).await?;
    if let Some(g) = input.group_id {
        let visible = caller
            .access
            .group_role(g)
            .is_some_and(|r| r >= crate::admin::access::Role::Auditor);
        state
            .store
            .group(g)
            .await?
            .filter(|_| visible)
            .ok_or_else(|| ApiError::not_found(format!("no group with id {g}")))?;
    }
    let channel = input.channel.unwrap_or_else(|| "admin".into());
    one_of("channel", &channel, &["admin", "link", "mailto"])?;
    let new = state
        .store
        .opt_out(id, input.group_id, &channel, state.clock.now_ms())
        .await?;
    Ok(if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

/// `DELETE /people/{id}/opt-outs/{group}`: `group` is a group id, or `all`.
pub async fn undo_opt_out(
    State(state): State<ApiState>,
    ApiPath((id, group)): ApiPath<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    let group_id =
        match group.as_str() {
            "all" => None,
            g => Some(g.parse::<i64>().map_err(|_| {
                ApiError::invalid(format!("{g:?} is neither a group id nor \"all\""))
            })?),
        };
    if state.store.undo_opt_out(id, group_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such opt-out"))
    }
}
