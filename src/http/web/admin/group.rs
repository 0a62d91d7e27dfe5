//! A group's page: its name and address, (de)activation, its direct members with role and term
//! (a page at a time, searched by the API, so 100,000 members load like 10), adding, changing
//! and removing members, copying them to the next term, and subgroups.

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension,
    extract::State,
    http::{Method, StatusCode},
    response::Response,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Done, GroupSummary, Groups, refused, see_other, texts::AdminTexts};
use crate::http::web::{
    WebState,
    client::with_query,
    extract::{WebForm, WebPath, WebQuery},
    frame::{self, ErrorPage, Layout, render},
    gate::Viewer,
};

/// Members shown per page.
pub const PAGE: i64 = 50;

#[derive(Debug, Clone, Deserialize)]
pub struct SubgroupRef {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub as_manager: bool,
}

/// `GET /groups/{id}` as the pages read it.
#[derive(Debug, Clone, Deserialize)]
pub struct GroupDetail {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    pub active: bool,
    #[serde(default)]
    pub standard: bool,
    pub rule: Option<Value>,
    pub rule_text: Option<String>,
    #[serde(default)]
    pub subgroups: Vec<SubgroupRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub person_id: i64,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    /// How the member gets this list: every, daily, weekly, none.
    #[serde(default)]
    pub delivery: String,
    /// The day their paused list mail comes again.
    #[serde(default)]
    pub paused_until: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Members {
    members: Vec<Member>,
    total: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PersonHit {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct People {
    people: Vec<PersonHit>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    find: String,
    #[serde(default)]
    done: Option<String>,
    /// `subgroup`: list the groups that may be added as subgroups (reads every group).
    #[serde(default)]
    add: String,
}

/// The group as every sub-page needs it; `Err` is the page to show instead.
pub async fn load(
    state: &WebState,
    viewer: &Viewer,
    api: &crate::http::web::client::Api,
    id: i64,
) -> Result<GroupDetail, Response> {
    api.get::<GroupDetail>(&format!("/groups/{id}"))
        .await
        .map_err(|f| refused(state, viewer, f))
}

/// The links between a group's pages.
pub struct Tabs {
    pub id: i64,
    pub current: &'static str,
    pub items: Vec<(&'static str, &'static str)>,
}

impl Tabs {
    pub fn new(t: &'static AdminTexts, id: i64, current: &'static str) -> Tabs {
        Tabs {
            id,
            current,
            items: vec![
                ("", t.tab_members),
                ("/rule", t.tab_rule),
                ("/recipients", t.tab_recipients),
                ("/settings", t.tab_settings),
                ("/opt-outs", t.tab_opt_outs),
                ("/bounces", t.tab_bounces),
                ("/archive", t.tab_archive),
            ],
        }
    }
}

#[derive(Template)]
#[template(path = "admin/group.html")]
struct GroupPage {
    l: Layout,
    t: &'static AdminTexts,
    tabs: Tabs,
    g: GroupDetail,
    members: Vec<Member>,
    total: i64,
    q: String,
    page: i64,
    pages: i64,
    prev: Option<String>,
    next: Option<String>,
    find: String,
    found: Vec<PersonHit>,
    /// Groups that may be added as subgroups: (id, name).
    candidates: Vec<(i64, String)>,
    may_nest: bool,
    manage: bool,
    edit: bool,
    next_from: String,
    next_until: String,
}

/// GET /admin/groups/{id}
pub async fn show(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebQuery(q): WebQuery<ShowQuery>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let g = match load(&state, &viewer, &api, id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let offset = ((page - 1) * PAGE).to_string();
    let path = with_query(
        &format!("/groups/{id}/members"),
        &[
            ("q", q.q.trim()),
            ("limit", &PAGE.to_string()),
            ("offset", &offset),
        ],
    );
    let m = match api.get::<Members>(&path).await {
        Ok(m) => m,
        Err(f) => return refused(&state, &viewer, f),
    };
    let pages = ((m.total + PAGE - 1) / PAGE).max(1);
    let link = |p: i64| {
        with_query(
            &format!("/admin/groups/{id}"),
            &[("q", q.q.trim()), ("page", &p.to_string())],
        )
    };
    let manage = super::may(&viewer, "post", "/groups/{id}/members", Some(id));
    let edit = super::may(&viewer, "patch", "/groups/{id}", Some(id));
    let found = if manage && !q.find.trim().is_empty() {
        let path = with_query("/people", &[("q", q.find.trim()), ("limit", "10")]);
        match api.get::<People>(&path).await {
            Ok(p) => p.people,
            Err(f) => return refused(&state, &viewer, f),
        }
    } else {
        Vec::new()
    };
    let may_nest = super::may(&viewer, "post", "/groups/{id}/subgroups", Some(id));
    let candidates = if may_nest && q.add == "subgroup" {
        match api.get::<Groups>("/groups").await {
            Ok(all) => subgroup_candidates(&viewer, &g, all.groups),
            Err(f) => return refused(&state, &viewer, f),
        }
    } else {
        Vec::new()
    };
    let year = chrono::DateTime::from_timestamp_millis(state.api.clock.now_ms())
        .map(|d| chrono::Datelike::year(&d.date_naive()))
        .unwrap_or(2026);
    let title = g.name.clone();
    render(
        StatusCode::OK,
        &GroupPage {
            l: Layout::new(&state, &viewer, title).with_notice(
                Done {
                    done: q.done.clone(),
                }
                .notice(t),
            ),
            t,
            tabs: Tabs::new(t, id, ""),
            g,
            members: m.members,
            total: m.total,
            q: q.q.trim().to_string(),
            page,
            pages,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
            find: q.find.trim().to_string(),
            found,
            candidates,
            may_nest,
            manage,
            edit,
            next_from: format!("{}-01-01", year + 1),
            next_until: format!("{}-12-31", year + 1),
        },
    )
}

/// Groups the viewer manages that are not this one, not already in it, and not standard.
fn subgroup_candidates(
    viewer: &Viewer,
    g: &GroupDetail,
    all: Vec<GroupSummary>,
) -> Vec<(i64, String)> {
    let mut c: Vec<(i64, String)> = all
        .into_iter()
        .filter(|x| x.id != g.id && !g.subgroups.iter().any(|s| s.id == x.id))
        .filter(|x| super::may(viewer, "post", "/groups/{id}/subgroups", Some(x.id)))
        .map(|x| (x.id, x.name))
        .collect();
    c.sort_by_key(|(_, n)| n.to_lowercase());
    c
}

fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Calls the API for a change; on success the redirect to `to`, else the refusal's page.
async fn change(
    state: &WebState,
    viewer: &Viewer,
    method: Method,
    path: &str,
    body: Option<Value>,
    to: &str,
) -> Response {
    let Some(api) = state.api_as(viewer) else {
        return frame::error(state, viewer.lang, ErrorPage::NotFound);
    };
    match api.send::<Value>(method, path, body).await {
        Ok(_) => see_other(to),
        Err(f) => refused(state, viewer, f),
    }
}

#[derive(Debug, Deserialize)]
pub struct NewGroup {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
}

/// POST /admin/groups: a new group, inside a parent or at the top.
pub async fn create(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebForm(f): WebForm<NewGroup>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let mut body = Map::new();
    body.insert("name".into(), json!(text(&f.name).unwrap_or("")));
    if let Some(a) = text(&f.address) {
        body.insert("address".into(), json!(a));
    }
    if let Some(p) = text(&f.parent_id) {
        match p.parse::<i64>() {
            Ok(p) => {
                body.insert("parent_id".into(), json!(p));
            }
            Err(_) => return frame::error(&state, viewer.lang, ErrorPage::NotFound),
        }
    }
    match api
        .send::<GroupSummaryId>(Method::POST, "/groups", Some(Value::Object(body)))
        .await
    {
        Ok(g) => see_other(&format!("/admin/groups/{}?done=created", g.id)),
        Err(f) => refused(&state, &viewer, f),
    }
}

#[derive(Debug, Deserialize)]
struct GroupSummaryId {
    id: i64,
}

#[derive(Debug, Deserialize)]
pub struct GroupEdit {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

/// POST /admin/groups/{id}: rename, set or clear the address.
pub async fn update(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebForm(f): WebForm<GroupEdit>,
) -> Response {
    let mut body = Map::new();
    if let Some(n) = &f.name {
        body.insert("name".into(), json!(n.trim()));
    }
    if f.address.is_some() {
        body.insert("address".into(), json!(text(&f.address)));
    }
    change(
        &state,
        &viewer,
        Method::PATCH,
        &format!("/groups/{id}"),
        Some(Value::Object(body)),
        &format!("/admin/groups/{id}?done=saved"),
    )
    .await
}

/// POST /admin/groups/{id}/activate
pub async fn activate(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    change(
        &state,
        &viewer,
        Method::POST,
        &format!("/groups/{id}/activate"),
        None,
        &format!("/admin/groups/{id}?done=activated"),
    )
    .await
}

/// POST /admin/groups/{id}/deactivate
pub async fn deactivate(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    change(
        &state,
        &viewer,
        Method::POST,
        &format!("/groups/{id}/deactivate"),
        None,
        &format!("/admin/groups/{id}?done=deactivated"),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    person_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    valid_from: Option<String>,
    #[serde(default)]
    valid_until: Option<String>,
    /// For a change: the term's start as it was.
    #[serde(default)]
    term_from: Option<String>,
}

/// POST /admin/groups/{id}/members: someone found by search (person_id) or a new address.
pub async fn add_member(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebForm(f): WebForm<MemberForm>,
) -> Response {
    let mut body = Map::new();
    match (text(&f.person_id), text(&f.email)) {
        (Some(p), _) => match p.parse::<i64>() {
            Ok(p) => {
                body.insert("person_id".into(), json!(p));
            }
            Err(_) => return frame::error(&state, viewer.lang, ErrorPage::NotFound),
        },
        (None, e) => {
            body.insert("email".into(), json!(e.unwrap_or("")));
            if let Some(n) = text(&f.name) {
                body.insert("name".into(), json!(n));
            }
        }
    }
    body.insert("role".into(), json!(text(&f.role).unwrap_or("member")));
    if let Some(d) = text(&f.valid_from) {
        body.insert("valid_from".into(), json!(d));
    }
    if let Some(d) = text(&f.valid_until) {
        body.insert("valid_until".into(), json!(d));
    }
    change(
        &state,
        &viewer,
        Method::POST,
        &format!("/groups/{id}/members"),
        Some(Value::Object(body)),
        &format!("/admin/groups/{id}?done=added"),
    )
    .await
}

/// POST /admin/groups/{id}/members/{person}/change: role or term of one membership.
pub async fn change_member(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, person)): WebPath<(i64, i64)>,
    WebForm(f): WebForm<MemberForm>,
) -> Response {
    let body = json!({
        "term_from": text(&f.term_from),
        "role": text(&f.role).unwrap_or("member"),
        "valid_from": text(&f.valid_from),
        "valid_until": text(&f.valid_until),
    });
    change(
        &state,
        &viewer,
        Method::PATCH,
        &format!("/groups/{id}/members/{person}"),
        Some(body),
        &format!("/admin/groups/{id}?done=changed"),
    )
    .await
}

/// POST /admin/groups/{id}/members/{person}/remove: every term of a direct member.
pub async fn remove_member(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, person)): WebPath<(i64, i64)>,
) -> Response {
    change(
        &state,
        &viewer,
        Method::DELETE,
        &format!("/groups/{id}/members/{person}"),
        None,
        &format!("/admin/groups/{id}?done=removed"),
    )
    .await
}

/// POST /admin/groups/{id}/copy: this group's members again, with the next term.
pub async fn copy_term(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebForm(f): WebForm<MemberForm>,
) -> Response {
    let body = json!({
        "from_group": id,
        "valid_from": text(&f.valid_from),
        "valid_until": text(&f.valid_until),
    });
    change(
        &state,
        &viewer,
        Method::POST,
        &format!("/groups/{id}/members/copy"),
        Some(body),
        &format!("/admin/groups/{id}?done=copied"),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct SubgroupForm {
    #[serde(default)]
    group_id: Option<String>,
    #[serde(default)]
    as_manager: Option<String>,
}

/// POST /admin/groups/{id}/subgroups (a cycle: the API's sentence).
pub async fn add_subgroup(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebForm(f): WebForm<SubgroupForm>,
) -> Response {
    let Some(child) = text(&f.group_id).and_then(|g| g.parse::<i64>().ok()) else {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    };
    let body = json!({ "group_id": child, "as_manager": f.as_manager.is_some() });
    change(
        &state,
        &viewer,
        Method::POST,
        &format!("/groups/{id}/subgroups"),
        Some(body),
        &format!("/admin/groups/{id}?done=subgroup"),
    )
    .await
}

/// POST /admin/groups/{id}/subgroups/{child}/remove
pub async fn remove_subgroup(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, child)): WebPath<(i64, i64)>,
) -> Response {
    change(
        &state,
        &viewer,
        Method::DELETE,
        &format!("/groups/{id}/subgroups/{child}"),
        None,
        &format!("/admin/groups/{id}?done=removed"),
    )
    .await
}
