//! `GET /overview`: what the web overview shows, for the groups in the caller's scopes.

use std::sync::Arc;

use axum::{Extension, Json, extract::State};
use serde_json::{Value, json};

use super::{ApiState, Caller};
use crate::http::error::ApiError;

/// Failed deliveries are counted over this window.
const FAILED_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

pub async fn overview(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
) -> Result<Json<Value>, ApiError> {
    let visible = caller.access.visible_groups();
    let seen = |id: i64| visible.as_ref().is_none_or(|v| v.contains(&id));
    let counts = state
        .store
        .group_counts(state.clock.now_ms() - FAILED_WINDOW_MS)
        .await?;
    let groups = state.store.groups().await?;
    let mut lists = Vec::new();
    let mut totals = crate::store::web_admin::GroupCounts::default();
    let mine: Vec<_> = groups.iter().filter(|g| seen(g.id)).collect();
    let list_ids: Vec<i64> = mine
        .iter()
        .filter(|g| g.address.is_some())
        .map(|g| g.id)
        .collect();
    let recipient_counts = state.resolver.recipient_counts(&list_ids).await?;
    let mut recipient_counts = recipient_counts.into_iter();
    for g in mine {
        let c = counts.get(&g.id).cloned().unwrap_or_default();
        totals.held += c.held;
        totals.deferred += c.deferred;
        totals.failed += c.failed;
        totals.disabled += c.disabled;
        if g.address.is_none() {
            continue;
        }
        let recipients = recipient_counts.next().unwrap_or(0);
        lists.push(json!({
            "id": g.id, "name": g.name, "address": g.address, "active": g.active,
            "recipients": recipients, "held": c.held, "deferred": c.deferred,
            "failed": c.failed, "disabled": c.disabled,
        }));
    }
    Ok(Json(json!({ "lists": lists, "totals": totals })))
}
