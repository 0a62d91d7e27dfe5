//! The administrators' pages. Each is a row of `web::pages::all()` naming the API route whose
//! access rule it shares; each reads and changes data only through [`super::client::Api`] (the
//! admin API in-process, as the signed-in account), and shows a button only where the same
//! rule ([`crate::http::api::authz::permits`]) would let the account use it.

pub mod texts;

use std::sync::Arc;

use askama::Template;
use axum::{Extension, extract::State, http::StatusCode, response::Response};
use serde::Deserialize;

use super::{
    WebState,
    frame::{self, ErrorPage, Layout, render},
    gate::Viewer,
};
use crate::http::api::{authz, routes};
use texts::AdminTexts;

/// The API as the viewer: every admin page has one (the gate checked), so `None` is the 404.
macro_rules! api_or_404 {
    ($state:expr, $viewer:expr) => {
        match $state.api_as(&$viewer) {
            Some(api) => api,
            None => return frame::error(&$state, $viewer.lang, ErrorPage::NotFound),
        }
    };
}

/// Whether the viewer may use the API route `method path` on object `id` (shows a button).
pub fn may(viewer: &Viewer, method: &str, path: &str, id: Option<i64>) -> bool {
    match (&viewer.caller, routes::spec(method, path)) {
        (Some(c), Some(spec)) => authz::permits(&c.access, spec, id),
        _ => false,
    }
}

/// The page for an API refusal.
pub(crate) fn refused(state: &WebState, viewer: &Viewer, f: super::client::ApiFailure) -> Response {
    frame::error(state, viewer.lang, ErrorPage::from_api(f.status, f.message))
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupSummary {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    pub active: bool,
    #[serde(default)]
    pub standard: bool,
    #[serde(default)]
    pub direct_members: i64,
    pub rule_text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Groups {
    groups: Vec<GroupSummary>,
}

#[derive(Debug, Deserialize)]
struct Held {
    held: Vec<serde_json::Value>,
}

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    l: Layout,
    t: &'static AdminTexts,
    lists: Vec<GroupSummary>,
    held: usize,
}

/// GET /admin: the viewer's lists, and what waits for them.
pub async fn overview(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let groups = match api.get::<Groups>("/groups").await {
        Ok(g) => g.groups,
        Err(f) => return refused(&state, &viewer, f),
    };
    let held = match api.get::<Held>("/moderation").await {
        Ok(h) => h.held.len(),
        Err(f) => return refused(&state, &viewer, f),
    };
    let lists = groups.into_iter().filter(|g| g.address.is_some()).collect();
    render(
        StatusCode::OK,
        &OverviewPage {
            l: Layout::new(&state, &viewer, t.overview_title),
            t,
            lists,
            held,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    l: Layout,
    t: &'static AdminTexts,
    groups: Vec<GroupSummary>,
}

/// GET /admin/groups: the groups in the viewer's scopes.
pub async fn groups(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let groups = match api.get::<Groups>("/groups").await {
        Ok(g) => g.groups,
        Err(f) => return refused(&state, &viewer, f),
    };
    render(
        StatusCode::OK,
        &GroupsPage {
            l: Layout::new(&state, &viewer, t.groups_title),
            t,
            groups,
        },
    )
}
