//! HTTP: `/healthz`, `/metrics` (Prometheus), and the admin API under `/api/v1` ([`api`]). Public pages (unsubscribe,
//! moderation) join here.

pub mod api;
pub mod error;
pub mod pages;

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
) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(store)
        .merge(
            Router::new()
                .route(
                    "/moderate/{token}",
                    get(pages::moderate::show).post(pages::moderate::act),
                )
                .route("/metrics", get(api::queue::metrics))
                .with_state(api.clone()),
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
        .merge(api::router(api))
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
