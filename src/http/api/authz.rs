//! Before every handler: who is calling (a personal API token, the break-glass
//! `http.api_token`, or — for calls the web pages make in-process — the signed-in account the
//! page already worked out), whether their permissions allow this route on this object (out of
//! every scope: 404; visible but not allowed: 403), and after a successful change or export, the
//! audit entry with the object's state before and after.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{FromRequestParts, RawPathParams, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    ApiState,
    routes::{RouteSpec, Target},
};
use crate::{
    admin::access::{Access, Role, access_of, hash_token},
    http::error::ApiError,
    store::accounts::{Account, AuditEntry},
};

/// A caller worked out by a web page from its session, for the API calls the page makes
/// in-process (`http::web::client`). Only this crate can make one; requests from the network
/// never carry it, and the API trusts no other extension.
#[derive(Debug, Clone)]
pub struct InProcess(pub(crate) Arc<Caller>);

/// The caller of a request, for handlers (`Extension<Arc<Caller>>`).
#[derive(Debug, Clone)]
pub struct Caller {
    /// `None` for the break-glass token.
    pub account: Option<Account>,
    pub access: Access,
    /// Who acted, as the audit log names them.
    pub actor: String,
}

/// The most a request body may be when it is kept for the audit log.
const MAX_BODY: usize = 4 * 1024 * 1024;

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) async fn authenticate(
    state: &ApiState,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "send Authorization: Bearer <token>: a personal API token (see docs/api.md)",
            )
        })?;
    if let Some(token) = &state.token
        && constant_time_eq(given.as_bytes(), token.expose().as_bytes())
    {
        return Ok(Caller {
            account: None,
            access: Access::owner(),
            actor: "break-glass token (http.api_token)".into(),
        });
    }
    let now = state.clock.now_ms();
    let Some((account, _)) = state
        .store
        .account_by_token(&hash_token(given), now)
        .await?
    else {
        return Err(ApiError::unauthorized("unknown or revoked token"));
    };
    if !account.active {
        return Err(ApiError::unauthorized(format!(
            "the account of {} is deactivated",
            account.email
        )));
    }
    let access = access_of(&state.store, &state.resolver, &account).await?;
    Ok(Caller {
        actor: account.email.clone(),
        account: Some(account),
        access,
    })
}

fn forbidden(have: Option<Role>, need: Role, org_wide: bool) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "this needs the role {}{}; you hold {}",
            need.as_str(),
            if org_wide {
                " for the whole organisation"
            } else {
                ""
            },
            have.map(Role::as_str).unwrap_or("no role")
        ),
    )
}

/// Whether `access` may use `spec` on the object `id`, as far as that can be told without the
/// database: for a page deciding which links and buttons to show. `id` is a group or person
/// id as the route's target says; for routes on a held post, the id of **the post's group**
/// (without it: the caller's best role anywhere).
pub fn permits(access: &Access, spec: &RouteSpec, id: Option<i64>) -> bool {
    let need = spec.rule.role;
    let enough = |r: Option<Role>| r.is_some_and(|r| r >= need);
    match spec.rule.target {
        Target::Any => true,
        Target::Anywhere => enough(access.any_role()),
        Target::Held => match id {
            Some(g) => enough(access.org_role()) || enough(access.group_role(g)),
            None => enough(access.any_role()),
        },
        Target::Org => enough(access.org_role()),
        Target::ParentInBody => match id {
            Some(p) => enough(access.group_role(p)),
            None => enough(access.org_role()),
        },
        Target::GroupOrgWide => enough(access.org_role()),
        Target::Group => {
            enough(access.org_role()) || id.is_some_and(|g| enough(access.group_role(g)))
        }
        Target::Person => {
            enough(access.org_role()) || id.is_some_and(|p| enough(access.person_role(p)))
        }
    }
}

/// Decides whether `caller` may use `spec` on the object `id`.
pub async fn check(
    state: &ApiState,
    caller: &Caller,
    spec: &RouteSpec,
    id: Option<&str>,
) -> Result<(), ApiError> {
    let access = &caller.access;
    let need = spec.rule.role;
    let org = access.org_role();
    let what = match spec.rule.target {
        Target::Any | Target::ParentInBody => return Ok(()),
        Target::Anywhere => {
            return match access.any_role() {
                Some(r) if r >= need => Ok(()),
                r => Err(forbidden(r, need, false)),
            };
        }
        Target::Org => {
            return match org {
                Some(r) if r >= need => Ok(()),
                r => Err(forbidden(r, need, true)),
            };
        }
        Target::Group | Target::GroupOrgWide => "group",
        Target::Person => "person",
        Target::Held => "held post",
    };
    if org.is_some_and(|r| r >= need) {
        return Ok(()); // the handler answers for objects that do not exist
    }
    let raw = id.unwrap_or_default();
    let not_found = || ApiError::not_found(format!("no {what} with id {raw}"));
    let id: i64 = raw.parse().map_err(|_| not_found())?;
    let have = match spec.rule.target {
        Target::Person => access.person_role(id),
        Target::Held => match state.store.held_post(id).await? {
            Some(h) => access.group_role(h.group_id),
            None => None,
        },
        _ => access.group_role(id),
    };
    let org_wide = spec.rule.target == Target::GroupOrgWide;
    match have {
        Some(r) if r >= need && !org_wide => Ok(()),
        Some(r) if r >= Role::Auditor => Err(forbidden(Some(r), need, org_wide)),
        _ => Err(not_found()),
    }
}

/// The state of the object a route acts on, for the audit log.
async fn snapshot(state: &ApiState, spec: &RouteSpec, id: Option<i64>) -> Option<Value> {
    let id = id?;
    let store = &state.store;
    let value = if spec.path.starts_with("/groups/{id}") {
        let g = store.group(id).await.ok()??;
        json!({
            "id": g.id, "name": g.name, "address": g.address, "active": g.active,
            "rule": g.criteria.and_then(|c| serde_json::from_str::<Value>(&c).ok()),
            "settings": g.settings.and_then(|c| serde_json::from_str::<Value>(&c).ok()),
            "retention_years": store.retention_years(id).await.ok().flatten(),
        })
    } else if spec.path.starts_with("/people/{id}") {
        serde_json::to_value(store.person_detail(id).await.ok()??).ok()?
    } else if spec.path.starts_with("/moderation/{id}") {
        serde_json::to_value(store.held_post(id).await.ok()??).ok()?
    } else if spec.path.starts_with("/accounts/{id}") {
        serde_json::to_value(store.account(id).await.ok()??).ok()?
    } else {
        return None;
    };
    Some(value)
}

/// Drops secrets from a response kept in the audit log.
fn redact(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("token");
    }
    v
}

/// The route layer: authenticate, authorize, run, audit.
pub async fn authorize(
    State((state, spec)): State<(ApiState, &'static RouteSpec)>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    // A call made in-process by a web page carries the caller it worked out from the session;
    // requests from the network cannot carry extensions.
    let caller = match parts.extensions.get::<InProcess>() {
        Some(c) => c.0.clone(),
        None => Arc::new(authenticate(&state, &parts.headers).await?),
    };
    let params = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let id = param("id");
    check(&state, &caller, spec, id.as_deref()).await?;
    parts.extensions.insert(caller.clone());
    if !spec.audited() {
        return Ok(next.run(Request::from_parts(parts, body)).await);
    }

    let id_num = id.as_deref().and_then(|i| i.parse::<i64>().ok());
    let before = match spec.snapshots() {
        true => snapshot(&state, spec, id_num).await,
        false => None,
    };
    let (request_json, body) = if spec.keeps_request() {
        let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the request body is larger than 4 MiB",
            )
        })?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        (json, Body::from(bytes))
    } else {
        (None, body)
    };
    let response = next.run(Request::from_parts(parts, body)).await;
    if !response.status().is_success() {
        return Ok(response);
    }
    let (rparts, rbody) = response.into_parts();
    let Ok(rbytes) = axum::body::to_bytes(rbody, usize::MAX).await else {
        return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    };
    let export = spec.path.ends_with("/export");
    let response_json: Option<Value> = serde_json::from_slice(&rbytes).ok().map(redact);
    let after = match spec.snapshots() {
        true => snapshot(&state, spec, id_num)
            .await
            .or(response_json.clone()),
        false => None,
    };
    let person_id = if spec.path.starts_with("/people/{id}") {
        id_num
    } else {
        param("person")
            .and_then(|p| p.parse().ok())
            .or_else(|| request_json.as_ref()?.get("person_id")?.as_i64())
            .or_else(|| {
                (spec.path == "/people")
                    .then(|| response_json.as_ref()?.get("id")?.as_i64())
                    .flatten()
            })
    };
    let object = match (spec.path.split('/').nth(1), &id) {
        (Some(kind), Some(id)) => Some(format!("{kind}/{id}")),
        (Some(kind), None) => response_json
            .as_ref()
            .and_then(|r| r.get("id"))
            .map(|i| format!("{kind}/{i}")),
        _ => None,
    };
    let entry = AuditEntry {
        at: state.clock.now_ms(),
        account_id: caller.account.as_ref().map(|a| a.id),
        actor: caller.actor.clone(),
        action: if export {
            "export".into()
        } else {
            format!("{} {}", spec.method.to_uppercase(), spec.path)
        },
        object,
        person_id,
        request: request_json.map(redact),
        before,
        after,
        ..Default::default()
    };
    if let Err(e) = state.store.append_audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, "cannot write the audit log");
    }
    Ok(Response::from_parts(rparts, Body::from(rbytes)))
}
