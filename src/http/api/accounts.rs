//! Accounts, tokens, grants, the audit log and the access report.

use std::sync::Arc;

use axum::{Extension, Json, extract::State, http::StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiPath, ApiQuery, ApiState, Caller};
use crate::{
    admin::{
        access::{Access, access_of, all_access, hash_token, new_token},
        accounts::{self as ops, GrantInput},
    },
    http::error::ApiError,
    model::address::EmailAddress,
    store::accounts::Account,
};

async fn account_json(state: &ApiState, a: &Account) -> Result<Value, ApiError> {
    let access = access_of(&state.store, &state.resolver, a).await?;
    Ok(with_permissions(a, &access))
}

fn with_permissions(a: &Account, access: &Access) -> Value {
    let mut v = json!(a);
    v["permissions"] = json!(access.permissions);
    v
}

fn own_account(caller: &Caller) -> Result<&Account, ApiError> {
    caller.account.as_ref().ok_or_else(|| {
        ApiError::conflict(
            "the break-glass token has no account; create one with `circlemail admin bootstrap` or POST /accounts",
        )
    })
}

pub async fn me(Extension(caller): Extension<Arc<Caller>>) -> Result<Json<Value>, ApiError> {
    // The caller's access was worked out for this very request.
    Ok(Json(match &caller.account {
        Some(a) => with_permissions(a, &caller.access),
        None => json!({ "actor": caller.actor, "permissions": caller.access.permissions }),
    }))
}

pub async fn tokens(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
) -> Result<Json<Value>, ApiError> {
    let a = own_account(&caller)?;
    Ok(Json(json!({ "tokens": state.store.tokens(a.id).await? })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    name: String,
}

pub async fn create_token(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiJson(input): ApiJson<TokenInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let a = own_account(&caller)?;
    let name = input.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name: 1 to 100 characters"));
    }
    let token = new_token();
    let info = state
        .store
        .add_token(a.id, name, &hash_token(&token), state.clock.now_ms())
        .await?;
    let mut v = json!(info);
    v["token"] = json!(token);
    v["note"] = json!("this is the only time the token is shown; keep it secret");
    Ok((StatusCode::CREATED, Json(v)))
}

pub async fn revoke_token(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let a = own_account(&caller)?;
    if state
        .store
        .revoke_token(a.id, id, state.clock.now_ms())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "you have no token with id {id}"
        )))
    }
}

pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let all = all_access(&state.store, &state.resolver).await?;
    let member_data_admins = all
        .iter()
        .filter(|(a, access)| {
            a.active
                && access
                    .permissions
                    .iter()
                    .any(|p| p.role.administers_member_data())
        })
        .count();
    let out: Vec<Value> = all
        .iter()
        .map(|(a, access)| with_permissions(a, access))
        .collect();
    Ok(Json(json!({
        "accounts": out,
        "cap": {
            "max_member_data_admins": state.max_member_data_admins,
            "member_data_admins": member_data_admins,
        },
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    email: String,
    name: Option<String>,
}

pub async fn create(
    State(state): State<ApiState>,
    ApiJson(input): ApiJson<AccountInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let email =
        EmailAddress::parse(&input.email).map_err(|e| ApiError::invalid(format!("email: {e}")))?;
    let now = state.clock.now_ms();
    let person = state
        .store
        .upsert_person(&email, input.name.as_deref(), now)
        .await?;
    let account = state.store.create_account(person.id, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(account_json(&state, &account).await?),
    ))
}

async fn find(state: &ApiState, id: i64) -> Result<Account, ApiError> {
    state
        .store
        .account(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no account with id {id}")))
}

pub async fn read(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let a = find(&state, id).await?;
    let mut v = account_json(&state, &a).await?;
    v["tokens"] = json!(state.store.tokens(id).await?);
    Ok(Json(v))
}

async fn set_active(state: &ApiState, id: i64, active: bool) -> Result<Json<Value>, ApiError> {
    let a = ops::set_active(
        &state.store,
        &state.resolver,
        state.max_member_data_admins,
        id,
        active,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Json(account_json(state, &a).await?))
}

pub async fn deactivate(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    set_active(&state, id, false).await
}

pub async fn reactivate(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    set_active(&state, id, true).await
}

pub async fn grants(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "grants": state.store.grants().await? })))
}

pub async fn create_grant(
    State(state): State<ApiState>,
    ApiJson(input): ApiJson<GrantInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let grant = ops::create_grant(
        &state.store,
        &state.resolver,
        state.max_member_data_admins,
        &input,
        state.clock.now_ms(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(grant))))
}

pub async fn delete_grant(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    ops::delete_grant(&state.store, &state.resolver, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    person_id: Option<i64>,
    /// Who acted (an address, or e.g. "moderation link"), exactly.
    actor: Option<String>,
    /// From this day (YYYY-MM-DD, UTC) on.
    from: Option<String>,
    /// Up to and including this day.
    to: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// The first millisecond of `day` (YYYY-MM-DD, UTC), or of the day after it.
fn day_ms(field: &str, day: &str, after: bool) -> Result<i64, ApiError> {
    let d = chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(format!("{field}: {day:?} is not a date (YYYY-MM-DD)")))?;
    let d = if after { d.succ_opt().unwrap_or(d) } else { d };
    Ok(d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0))
}

pub async fn audit(
    State(state): State<ApiState>,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit is 1 to 1000"));
    }
    fn nonempty(s: &Option<String>) -> Option<&str> {
        s.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let filter = crate::store::accounts::AuditFilter {
        person_id: p.person_id,
        actor: nonempty(&p.actor).map(str::to_string),
        since: nonempty(&p.from)
            .map(|d| day_ms("from", d, false))
            .transpose()?,
        until: nonempty(&p.to).map(|d| day_ms("to", d, true)).transpose()?,
        before_id: p.before,
        limit,
    };
    Ok(Json(json!({
        "entries": state.store.audit_search(&filter).await?
    })))
}

pub async fn access_report(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .person_detail(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no person with id {id}")))?;
    let accounts = ops::access_report(&state.store, &state.resolver, id).await?;
    Ok(Json(json!({
        "person_id": id,
        "accounts": accounts,
        "also": "anyone holding the break-glass token (http.api_token) of the server",
    })))
}
