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

pub mod archive;
pub mod group;
pub mod lists;
pub mod rule;
pub mod settings;

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
pub struct SubRef {
    pub id: i64,
    #[serde(default)]
    pub as_manager: bool,
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
    #[serde(default)]
    pub subgroups: Vec<SubRef>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Groups {
    pub groups: Vec<GroupSummary>,
}

/// A line of the groups tree: a group at a depth (a group in two parents shows under each).
pub struct TreeRow {
    pub depth: usize,
    pub g: GroupSummary,
    /// "as managers" edge from its parent.
    pub as_manager: bool,
}

impl TreeRow {
    /// The indentation class (deeper than 8 is drawn at 8).
    pub fn indent(&self) -> usize {
        self.depth.min(8)
    }
}

/// The groups as a tree: roots are groups no visible group contains; children in name order.
pub fn tree(groups: &[GroupSummary]) -> Vec<TreeRow> {
    use std::collections::{HashMap, HashSet};
    let by_id: HashMap<i64, &GroupSummary> = groups.iter().map(|g| (g.id, g)).collect();
    let children: HashSet<i64> = groups
        .iter()
        .flat_map(|g| g.subgroups.iter().map(|s| s.id))
        .collect();
    let mut roots: Vec<&GroupSummary> = groups
        .iter()
        .filter(|g| !children.contains(&g.id))
        .collect();
    roots.sort_by_key(|g| (g.standard, g.name.to_lowercase()));
    let mut out = Vec::with_capacity(groups.len());
    fn walk(
        g: &GroupSummary,
        depth: usize,
        as_manager: bool,
        by_id: &HashMap<i64, &GroupSummary>,
        path: &mut Vec<i64>,
        out: &mut Vec<TreeRow>,
    ) {
        if path.contains(&g.id) || depth > 64 {
            return;
        }
        out.push(TreeRow {
            depth,
            g: g.clone(),
            as_manager,
        });
        path.push(g.id);
        let mut kids: Vec<(&GroupSummary, bool)> = g
            .subgroups
            .iter()
            .filter_map(|s| by_id.get(&s.id).map(|c| (*c, s.as_manager)))
            .collect();
        kids.sort_by_key(|(c, _)| c.name.to_lowercase());
        for (c, m) in kids {
            walk(c, depth + 1, m, by_id, path, out);
        }
        path.pop();
    }
    let mut path = Vec::new();
    for r in roots {
        walk(r, 0, false, &by_id, &mut path, &mut out);
    }
    out
}

/// A redirect to one of our own fixed pages, after a POST (303).
pub(crate) fn see_other(path: &str) -> Response {
    axum::response::IntoResponse::into_response(axum::response::Redirect::to(path))
}

/// Whatever was done, as the `?done=` of the page shown next.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    pub done: Option<String>,
}

impl Done {
    pub fn notice(&self, t: &AdminTexts) -> Option<String> {
        let text = match self.done.as_deref()? {
            "created" => t.done_created,
            "saved" => t.done_saved,
            "activated" => t.done_activated,
            "deactivated" => t.done_deactivated,
            "added" => t.done_added,
            "changed" => t.done_changed,
            "removed" => t.done_removed,
            "copied" => t.done_copied,
            "subgroup" => t.done_subgroup,
            "rule" => t.done_rule,
            "enabled" => t.done_enabled,
            _ => return None,
        };
        Some(text.to_string())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ListLine {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    pub active: bool,
    pub recipients: i64,
    pub held: i64,
    pub deferred: i64,
    pub failed: i64,
    pub disabled: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Totals {
    pub held: i64,
    pub deferred: i64,
    pub failed: i64,
    pub disabled: i64,
}

#[derive(Debug, Deserialize)]
struct Overview {
    lists: Vec<ListLine>,
    totals: Totals,
}

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    l: Layout,
    t: &'static AdminTexts,
    lists: Vec<ListLine>,
    totals: Totals,
    moderation: bool,
    queue: bool,
}

/// GET /admin: the viewer's lists with their recipients, and what waits for them.
pub async fn overview(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let o = match api.get::<Overview>("/overview").await {
        Ok(o) => o,
        Err(f) => return refused(&state, &viewer, f),
    };
    render(
        StatusCode::OK,
        &OverviewPage {
            l: Layout::new(&state, &viewer, t.overview_title),
            t,
            lists: o.lists,
            totals: o.totals,
            moderation: super::pages::spec("get", "/admin/moderation").is_some(),
            queue: super::pages::spec("get", "/admin/queue").is_some()
                && may(&viewer, "get", "/queue", None),
        },
    )
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    l: Layout,
    t: &'static AdminTexts,
    rows: Vec<TreeRow>,
    /// Groups the viewer may create a group inside: (id, name).
    parents: Vec<(i64, String)>,
    /// May create a top-level group.
    top: bool,
}

/// GET /admin/groups: the groups in the viewer's scopes as a tree, and a form for a new one.
pub async fn groups(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    super::extract::WebQuery(done): super::extract::WebQuery<Done>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let groups = match api.get::<Groups>("/groups").await {
        Ok(g) => g.groups,
        Err(f) => return refused(&state, &viewer, f),
    };
    let mut parents: Vec<(i64, String)> = groups
        .iter()
        .filter(|g| !g.standard && may(&viewer, "post", "/groups", Some(g.id)))
        .map(|g| (g.id, g.name.clone()))
        .collect();
    parents.sort_by_key(|(_, n)| n.to_lowercase());
    let top = may(&viewer, "post", "/groups", None);
    render(
        StatusCode::OK,
        &GroupsPage {
            l: Layout::new(&state, &viewer, t.groups_title).with_notice(done.notice(t)),
            t,
            rows: tree(&groups),
            parents,
            top,
        },
    )
}
