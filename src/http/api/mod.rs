//! The admin API under `/api/v1`: people, groups, members, subgroups, rules, standard groups,
//! opt-outs and recipients (with explain); accounts, grants, the audit log and GDPR operations.
//! JSON in and out; errors as [`ApiError`]. Every request needs `Authorization: Bearer <token>`:
//! a personal API token, or the break-glass `http.api_token`; what it may do is decided per route
//! by [`routes::ROUTES`] and [`authz`]. The OpenAPI document is served at
//! `/api/v1/openapi.json` ([`openapi`]).

mod accounts;
mod archive;
pub mod authz;
pub(crate) mod delivery;
mod gdpr;
mod groups;
mod import;
mod moderation;
pub mod openapi;
mod overview;
mod people;
pub(crate) mod queue;
pub mod routes;

use std::sync::Arc;

use axum::{
    Router,
    extract::{FromRequest, FromRequestParts},
    handler::Handler,
    middleware,
    routing::{MethodFilter, get, on},
};

use super::error::ApiError;
pub use authz::Caller;
pub use import::MAX_CSV;

use crate::{clock::SharedClock, config::Secret, groups::Resolver, store::Store};

/// The largest request body taken (larger: `413`).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub resolver: Arc<Resolver>,
    pub moderation: Arc<crate::moderation::Moderation>,
    pub clock: SharedClock,
    /// The break-glass token (`http.api_token`): acts as an owner of the whole organisation.
    pub token: Option<Secret>,
    /// `accounts.max_member_data_admins` (0: no cap).
    pub max_member_data_admins: usize,
    /// `server.domains`: a list address must be at one of them.
    pub domains: Vec<String>,
    /// Wakes the delivery loop (queue retry-now).
    pub queue_wake: Arc<tokio::sync::Notify>,
    /// `http.max_mbox_upload`: the largest mbox file an archive import takes.
    pub max_mbox_upload: u64,
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

/// A JSON body that may be left out: empty or blank gives `T::default()`.
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("body: {e}")))
}

/// Registers handlers against [`routes::ROUTES`], each behind [`authz::authorize`].
struct Registry {
    router: Router<ApiState>,
    state: ApiState,
    registered: Vec<&'static routes::RouteSpec>,
}

impl Registry {
    fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, ApiState>,
        T: 'static,
    {
        let spec = routes::spec(method, path)
            .unwrap_or_else(|| panic!("{method} {path} has no row in routes::ROUTES"));
        let filter = match method {
            "get" => MethodFilter::GET,
            "post" => MethodFilter::POST,
            "put" => MethodFilter::PUT,
            "patch" => MethodFilter::PATCH,
            "delete" => MethodFilter::DELETE,
            other => panic!("unsupported method {other}"),
        };
        let layer = middleware::from_fn_with_state((self.state.clone(), spec), authz::authorize);
        self.router = self
            .router
            .route(path, on(filter, handler).route_layer(layer));
        self.registered.push(spec);
        self
    }

    fn finish(self) -> Router<ApiState> {
        for spec in routes::ROUTES {
            assert!(
                self.registered.contains(&spec),
                "{} {} is in routes::ROUTES but has no handler",
                spec.method,
                spec.path
            );
        }
        self.router
    }
}

pub fn router(state: ApiState) -> Router {
    let api = Registry {
        router: Router::new(),
        state: state.clone(),
        registered: Vec::new(),
    }
    .add("get", "/people", people::search)
    .add("post", "/people", people::create)
    .add("get", "/people/{id}", people::read)
    .add("patch", "/people/{id}", people::update)
    .add("delete", "/people/{id}", people::delete)
    .add("get", "/people/{id}/opt-outs", people::opt_outs)
    .add("post", "/people/{id}/opt-outs", people::opt_out)
    .add(
        "delete",
        "/people/{id}/opt-outs/{group}",
        people::undo_opt_out,
    )
    .add("get", "/people/{id}/delivery", delivery::read)
    .add("put", "/people/{id}/delivery", delivery::update)
    .add("get", "/people/{id}/access", accounts::access_report)
    .add("get", "/people/{id}/export", gdpr::export)
    .add("post", "/people/{id}/erase", gdpr::erase)
    .add("get", "/people/{id}/erase", gdpr::erase_preview)
    .add("get", "/people/{id}/memberships", people::memberships)
    .add("get", "/fields", people::fields)
    .add("post", "/fields", people::create_field)
    .add("get", "/groups", groups::list)
    .add("post", "/groups", groups::create)
    .add("get", "/groups/standard", groups::standard)
    .add("get", "/groups/{id}", groups::read)
    .add("patch", "/groups/{id}", groups::update)
    .add("delete", "/groups/{id}", groups::delete)
    .add("post", "/groups/{id}/activate", groups::activate)
    .add("post", "/groups/{id}/deactivate", groups::deactivate)
    .add("get", "/groups/{id}/members", groups::members)
    .add("post", "/groups/{id}/members", groups::add_member)
    .add("post", "/groups/{id}/members/copy", groups::copy_members)
    .add(
        "delete",
        "/groups/{id}/members/{person}",
        groups::remove_member,
    )
    .add(
        "patch",
        "/groups/{id}/members/{person}",
        groups::update_member,
    )
    .add("post", "/groups/{id}/subgroups", groups::add_subgroup)
    .add(
        "delete",
        "/groups/{id}/subgroups/{child}",
        groups::remove_subgroup,
    )
    .add("put", "/groups/{id}/rule", groups::set_rule)
    .add("delete", "/groups/{id}/rule", groups::clear_rule)
    .add("post", "/groups/{id}/rule/dry-run", groups::dry_run)
    .add("put", "/groups/{id}/retention", gdpr::set_retention)
    .add("get", "/groups/{id}/recipients", groups::recipients)
    .add("get", "/groups/{id}/opt-outs", groups::opt_outs)
    .add("get", "/groups/{id}/settings", moderation::settings)
    .add("put", "/groups/{id}/settings", moderation::set_settings)
    .add("get", "/groups/{id}/bounces", queue::group_bounces)
    .add(
        "post",
        "/groups/{id}/bounces/{person}/enable",
        queue::reenable,
    )
    .add("get", "/queue", queue::list)
    .add("post", "/queue/{queue_id}/{action}", queue::act)
    .add("get", "/moderation", moderation::list)
    .add("get", "/moderation/{id}", moderation::read)
    .add("post", "/moderation/{id}/{action}", moderation::decide)
    .add("get", "/overview", overview::overview)
    .add("get", "/me", accounts::me)
    .add("get", "/me/tokens", accounts::tokens)
    .add("post", "/me/tokens", accounts::create_token)
    .add("delete", "/me/tokens/{id}", accounts::revoke_token)
    .add("get", "/accounts", accounts::list)
    .add("post", "/accounts", accounts::create)
    .add("get", "/accounts/{id}", accounts::read)
    .add("post", "/accounts/{id}/deactivate", accounts::deactivate)
    .add("post", "/accounts/{id}/reactivate", accounts::reactivate)
    .add("get", "/grants", accounts::grants)
    .add("post", "/grants", accounts::create_grant)
    .add("delete", "/grants/{id}", accounts::delete_grant)
    .add("get", "/audit", accounts::audit)
    .add("post", "/gdpr/cleanup", gdpr::cleanup)
    .add("get", "/import", import::list)
    .add("post", "/import", import::check)
    .add("get", "/import/{id}", import::read)
    .add("post", "/import/{id}/run", import::run)
    .add("get", "/groups/{id}/archive/imports", archive::list)
    .add("post", "/groups/{id}/archive/imports", archive::upload)
    .add(
        "get",
        "/groups/{id}/archive/imports/{import}",
        archive::read,
    )
    .finish()
    .route("/openapi.json", get(openapi::document))
    .with_state(state)
    // Every error the API gives is the JSON form, whoever made it (a handler, an extractor,
    // the router's 404/405, the body limit).
    .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
    .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
    .layer(middleware::map_response(super::error::json_errors));
    Router::new().nest("/api/v1", api)
}
