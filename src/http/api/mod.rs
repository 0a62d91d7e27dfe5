//! The admin API under `/api/v1`: people, groups, members, subgroups, rules, standard groups,
//! opt-outs and recipients (with explain). JSON in and out; errors as [`ApiError`]. Every request
//! needs `Authorization: Bearer <http.api_token>`; without a configured token the API is closed.
//! The OpenAPI document is served at `/api/v1/openapi.json` ([`openapi`]).

mod groups;
mod moderation;
pub mod openapi;
mod people;
pub(crate) mod queue;

use std::sync::Arc;

use axum::{
    Router,
    extract::{FromRequest, FromRequestParts, Request, State},
    http::header,
    middleware::{self, Next},
    response::Response,
    routing::{get, post, put},
};

use super::error::ApiError;
use crate::{clock::SharedClock, config::Secret, groups::Resolver, store::Store};

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub resolver: Arc<Resolver>,
    pub moderation: Arc<crate::moderation::Moderation>,
    pub clock: SharedClock,
    pub token: Option<Secret>,
    /// `server.domains`: a list address must be at one of them.
    pub domains: Vec<String>,
    /// Wakes the delivery loop (queue retry-now).
    pub queue_wake: Arc<tokio::sync::Notify>,
}

/// `Json<T>` whose rejections are [`ApiError`]s.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/people", get(people::search).post(people::create))
        .route(
            "/people/{id}",
            get(people::read)
                .patch(people::update)
                .delete(people::delete),
        )
        .route(
            "/people/{id}/opt-outs",
            get(people::opt_outs).post(people::opt_out),
        )
        .route(
            "/people/{id}/opt-outs/{group}",
            axum::routing::delete(people::undo_opt_out),
        )
        .route("/fields", get(people::fields).post(people::create_field))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/standard", get(groups::standard))
        .route(
            "/groups/{id}",
            get(groups::read)
                .patch(groups::update)
                .delete(groups::delete),
        )
        .route("/groups/{id}/activate", post(groups::activate))
        .route("/groups/{id}/deactivate", post(groups::deactivate))
        .route(
            "/groups/{id}/members",
            get(groups::members).post(groups::add_member),
        )
        .route("/groups/{id}/members/copy", post(groups::copy_members))
        .route(
            "/groups/{id}/members/{person}",
            axum::routing::delete(groups::remove_member),
        )
        .route("/groups/{id}/subgroups", post(groups::add_subgroup))
        .route(
            "/groups/{id}/subgroups/{child}",
            axum::routing::delete(groups::remove_subgroup),
        )
        .route(
            "/groups/{id}/rule",
            put(groups::set_rule).delete(groups::clear_rule),
        )
        .route("/groups/{id}/rule/dry-run", post(groups::dry_run))
        .route("/groups/{id}/recipients", get(groups::recipients))
        .route("/groups/{id}/opt-outs", get(groups::opt_outs))
        .route(
            "/groups/{id}/settings",
            get(moderation::settings).put(moderation::set_settings),
        )
        .route("/groups/{id}/bounces", get(queue::group_bounces))
        .route(
            "/groups/{id}/bounces/{person}/enable",
            post(queue::reenable),
        )
        .route("/people/{id}/bounces", get(queue::person_bounces))
        .route("/queue", get(queue::list))
        .route("/queue/{queue_id}/{action}", post(queue::act))
        .route("/moderation", get(moderation::list))
        .route("/moderation/{id}/{action}", post(moderation::decide))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .route("/openapi.json", get(openapi::document))
        .with_state(state);
    Router::new().nest("/api/v1", api)
}

/// Checks the bearer token (in constant time) before any handler runs.
async fn authenticate(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(token) = &state.token else {
        return Err(ApiError::unauthorized(
            "the admin API is closed: set http.api_token (or CIRCLEMAIL_HTTP_API_TOKEN) on the server",
        ));
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), token.expose().as_bytes()) {
        return Err(ApiError::unauthorized(
            "send Authorization: Bearer <http.api_token>",
        ));
    }
    Ok(next.run(request).await)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
