//! HTTP: `/healthz`, `/metrics` (Prometheus), the admin API under `/api/v1` ([`api`]), the pages
//! reached from links in mail ([`pages`]: unsubscribe, moderation) and the web pages behind one
//! sign-in ([`web`]). Every answer carries the same security headers
//! ([`web::frame::security_headers`]: a strict Content-Security-Policy, no framing, nosniff).

pub mod api;
pub mod error;
pub mod pages;
pub mod web;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde_json::json;

use crate::store::Store;

pub fn router(
    store: Store,
    api: api::ApiState,
    unsubscribe: pages::unsubscribe::UnsubscribeState,
    web: web::WebState,
) -> Router {
    let secure = web.secure;
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(store)
        .merge(
            Router::new()
                .route("/metrics", get(api::queue::metrics))
                .with_state(api.clone()),
        )
        .merge(
            Router::new()
                .route(
                    "/moderate/{token}",
                    get(pages::moderate::show).post(pages::moderate::act),
                )
                .with_state(web.clone()),
        )
        .merge(
            Router::new()
                .route(
                    "/u/{token}",
                    get(pages::unsubscribe::show).post(pages::unsubscribe::leave),
                )
                .route("/u/{token}/undo", post(pages::unsubscribe::undo))
                .route(
                    "/join/{token}",
                    get(pages::unsubscribe::join_page).post(pages::unsubscribe::join),
                )
                .route(
                    "/leave/{token}",
                    get(pages::unsubscribe::ask).post(pages::unsubscribe::asked),
                )
                .with_state(unsubscribe),
        )
        .merge(web.api_router.clone())
        .merge(web::router(web.clone()))
        .merge(Router::new().fallback(web::not_found).with_state(web))
        .layer(axum::middleware::from_fn_with_state(
            secure,
            web::frame::security_headers,
        ))
}

/// The pages' state: the sign-in, the admin API (its state and its router, for in-process
/// calls), the link key for form tokens.
pub fn web_state(
    config: &crate::config::Config,
    signin: crate::signin::Signin,
    api: api::ApiState,
    signer: crate::tokens::Signer,
) -> web::WebState {
    web::WebState {
        signin,
        api_router: api::router(api.clone()),
        api,
        signer,
        secure: config.http.public_url.starts_with("https://"),
        origin: web::origin_of(&config.http.public_url),
        site_name: config.web.site_name.clone(),
        trusted_proxies: config.http.trusted_proxies.clone(),
        assets: web::frame::asset_paths().clone(),
    }
}

/// `200 {"status":"ok"}` when the database answers, `503` with the reason when it does not.
async fn healthz(State(store): State<Store>) -> (StatusCode, Json<serde_json::Value>) {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "reason": "database unreachable" })),
            )
        }
    }
}
