//! People: search (name, address, member number), a person's page (attributes, the groups they
//! are in and how, opt-outs, who can see them), the export as a download, and erasure with what
//! a retention rule keeps, and until when, shown before anything is removed.

use std::{collections::BTreeMap, sync::Arc};

use askama::Template;
use axum::{
    Extension,
    extract::State,
    http::{Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::Value;

use super::{fill, group_names, see_other, texts::OpsTexts};
use crate::http::web::{
    WebState,
    admin::{may, refused},
    client::with_query,
    extract::{WebPath, WebQuery},
    frame::{self, ErrorPage, Layout, render, when},
    gate::Viewer,
};

/// People per page.
const PAGE: i64 = 50;

#[derive(Debug, Clone, Deserialize)]
pub struct PersonRow {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    pub status: String,
    pub membership_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PeopleList {
    people: Vec<PersonRow>,
}

#[derive(Debug, Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_ops/people.html")]
struct SearchPage {
    l: Layout,
    t: &'static OpsTexts,
    q: String,
    people: Vec<PersonRow>,
    page_label: String,
    previous: Option<String>,
    next: Option<String>,
}

/// GET /admin/people?q=&page=
pub async fn search(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebQuery(query): WebQuery<SearchQuery>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let q = query.q.unwrap_or_default().trim().to_string();
    let page = query.page.unwrap_or(1).clamp(1, 100_000);
    let offset = ((page - 1) * PAGE).to_string();
    let limit = (PAGE + 1).to_string();
    let path = with_query(
        "/people",
        &[("q", &q), ("limit", &limit), ("offset", &offset)],
    );
    let mut people = match api.get::<PeopleList>(&path).await {
        Ok(p) => p.people,
        Err(f) => return refused(&state, &viewer, f),
    };
    let more = people.len() as i64 > PAGE;
    people.truncate(PAGE as usize);
    let link = |p: i64| with_query("/admin/people", &[("q", &q), ("page", &p.to_string())]);
    let notice = (query.done.as_deref() == Some("erased")).then(|| t.erased.to_string());
    render(
        StatusCode::OK,
        &SearchPage {
            l: Layout::new(&state, &viewer, t.people_title).with_notice(notice),
            t,
            page_label: fill(t.page_n, &[("n", &page.to_string())]),
            previous: (page > 1).then(|| link(page - 1)),
            next: more.then(|| link(page + 1)),
            q,
            people,
        },
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct Period {
    pub joined: String,
    pub left: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PersonView {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    pub status: String,
    pub membership_type: Option<String>,
    pub profile_type: String,
    pub teams: Vec<String>,
    pub services: Vec<String>,
    pub fields: BTreeMap<String, Vec<String>>,
    pub periods: Vec<Period>,
    pub no_list_mail: bool,
    pub receive_duplicates: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MembershipRow {
    pub group_id: i64,
    pub group: String,
    pub direct: bool,
    pub manager: bool,
    pub receives: bool,
    pub paths: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Memberships {
    groups: Vec<MembershipRow>,
}

#[derive(Debug, Deserialize)]
struct OptOut {
    group_id: Option<i64>,
    channel: String,
    created_at: i64,
}

#[derive(Debug, Deserialize)]
struct OptOuts {
    opt_outs: Vec<OptOut>,
}

#[derive(Debug, Deserialize)]
struct Through {
    role: String,
    scope: Value,
    via: String,
}

#[derive(Debug, Deserialize)]
struct AccessAccount {
    email: String,
    name: Option<String>,
    through: Vec<Through>,
}

#[derive(Debug, Deserialize)]
struct AccessReport {
    accounts: Vec<AccessAccount>,
}

pub struct OptOutRow {
    pub what: String,
    pub channel: String,
    pub since: String,
}

pub struct AccessRow {
    pub who: String,
    pub role: String,
    pub scope: String,
    pub via: String,
}

#[derive(Template)]
#[template(path = "admin_ops/person.html")]
struct PersonPage {
    l: Layout,
    t: &'static OpsTexts,
    p: PersonView,
    periods: Vec<String>,
    groups: Vec<MembershipRow>,
    opt_outs: Vec<OptOutRow>,
    access: Vec<AccessRow>,
    may_export: bool,
    may_erase: bool,
    may_audit: bool,
}

/// A permission's scope in words.
fn scope_text(
    t: &OpsTexts,
    scope: &Value,
    names: &std::collections::HashMap<i64, String>,
) -> String {
    match scope.get("group_id").and_then(Value::as_i64) {
        Some(g) => fill(
            t.group_subtree,
            &[(
                "group",
                names.get(&g).map(String::as_str).unwrap_or(&g.to_string()),
            )],
        ),
        None => t.whole_org.to_string(),
    }
}

/// GET /admin/people/{id}
pub async fn show(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let p = match api.get::<PersonView>(&format!("/people/{id}")).await {
        Ok(p) => p,
        Err(f) => return refused(&state, &viewer, f),
    };
    let paths = [
        format!("/people/{id}/memberships"),
        format!("/people/{id}/opt-outs"),
        format!("/people/{id}/access"),
    ];
    let (groups, opt_outs, access) = tokio::join!(
        api.get::<Memberships>(&paths[0]),
        api.get::<OptOuts>(&paths[1]),
        api.get::<AccessReport>(&paths[2]),
    );
    let groups = match groups {
        Ok(g) => g.groups,
        Err(f) => return refused(&state, &viewer, f),
    };
    let opt_outs = match opt_outs {
        Ok(o) => o.opt_outs,
        Err(f) => return refused(&state, &viewer, f),
    };
    let access = match access {
        Ok(a) => a.accounts,
        Err(f) => return refused(&state, &viewer, f),
    };
    let needs_names = !opt_outs.is_empty()
        || access
            .iter()
            .any(|a| a.through.iter().any(|p| p.scope.is_object()));
    let names = if needs_names {
        group_names(&state, &api).await
    } else {
        Default::default()
    };
    let opt_outs = opt_outs
        .into_iter()
        .map(|o| OptOutRow {
            what: match o.group_id {
                None => t.opt_out_all.to_string(),
                Some(g) => names
                    .get(&g)
                    .cloned()
                    .unwrap_or_else(|| fill(t.opt_out_group, &[("id", &g.to_string())])),
            },
            channel: o.channel,
            since: when(o.created_at),
        })
        .collect();
    let access = access
        .iter()
        .flat_map(|a| {
            let who = match &a.name {
                Some(n) => format!("{n} <{}>", a.email),
                None => a.email.clone(),
            };
            let names = &names;
            a.through.iter().map(move |p| AccessRow {
                who: who.clone(),
                role: p.role.clone(),
                scope: scope_text(t, &p.scope, names),
                via: p.via.clone(),
            })
        })
        .collect();
    let periods = p
        .periods
        .iter()
        .map(|x| match &x.left {
            Some(left) => fill(t.period_closed, &[("joined", &x.joined), ("left", left)]),
            None => fill(t.period_open, &[("joined", &x.joined)]),
        })
        .collect();
    let title = p.name.clone().unwrap_or_else(|| p.email.clone());
    render(
        StatusCode::OK,
        &PersonPage {
            l: Layout::new(&state, &viewer, title),
            t,
            periods,
            groups,
            opt_outs,
            access,
            may_export: may(&viewer, "get", "/people/{id}/export", Some(id)),
            may_erase: may(&viewer, "post", "/people/{id}/erase", Some(id)),
            may_audit: may(&viewer, "get", "/audit", None),
            p,
        },
    )
}

/// GET /admin/people/{id}/export: everything stored, as a JSON download (in the audit log).
pub async fn export(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    match api.get::<Value>(&format!("/people/{id}/export")).await {
        Ok(v) => {
            let body = serde_json::to_string_pretty(&v).unwrap_or_default();
            (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/json; charset=utf-8".to_string(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"person-{id}.json\""),
                    ),
                ],
                body,
            )
                .into_response()
        }
        Err(f) => refused(&state, &viewer, f),
    }
}

#[derive(Debug, Deserialize)]
struct KeptFact {
    group: String,
    role: String,
    valid_from: Option<String>,
    valid_until: Option<String>,
    kept_until: String,
}

#[derive(Debug, Deserialize)]
struct ErasePreview {
    refused: Option<String>,
    kept: Vec<KeptFact>,
    removes: BTreeMap<String, i64>,
    not_erased: BTreeMap<String, i64>,
}

pub struct KeptRow {
    pub group: String,
    pub role: String,
    pub term: String,
    pub until: String,
}

#[derive(Template)]
#[template(path = "admin_ops/erase.html")]
struct ErasePage {
    l: Layout,
    t: &'static OpsTexts,
    id: i64,
    refused: Option<String>,
    kept: Vec<KeptRow>,
    removes: Vec<String>,
    posts: String,
    audit: String,
}

/// GET /admin/people/{id}/erase: what erasing would do; the button that does it.
pub async fn erase_form(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let paths = [format!("/people/{id}"), format!("/people/{id}/erase")];
    let (person, preview) = tokio::join!(
        api.get::<PersonView>(&paths[0]),
        api.get::<ErasePreview>(&paths[1]),
    );
    let person = match person {
        Ok(p) => p,
        Err(f) => return refused(&state, &viewer, f),
    };
    let preview = match preview {
        Ok(p) => p,
        Err(f) => return refused(&state, &viewer, f),
    };
    let label = |k: &str| match k {
        "memberships" => t.count_memberships,
        "membership_periods" => t.count_periods,
        "teams" => t.count_teams,
        "services" => t.count_services,
        "custom_fields" => t.count_fields,
        "opt_outs" => t.count_opt_outs,
        "held_posts" => t.count_held,
        "web_sessions" => t.count_sessions,
        _ => "",
    };
    let removes = preview
        .removes
        .iter()
        .filter(|(k, n)| **n > 0 && !label(k).is_empty())
        .map(|(k, n)| format!("{n} {}", label(k)))
        .collect();
    let kept = preview
        .kept
        .into_iter()
        .map(|k| KeptRow {
            term: format!(
                "{} – {}",
                k.valid_from.unwrap_or_default(),
                k.valid_until.unwrap_or_default()
            ),
            group: k.group,
            role: k.role,
            until: k.kept_until,
        })
        .collect();
    let who = match &person.name {
        Some(n) => format!("{n} <{}>", person.email),
        None => person.email.clone(),
    };
    let count = |k: &str| preview.not_erased.get(k).copied().unwrap_or(0).to_string();
    render(
        StatusCode::OK,
        &ErasePage {
            l: Layout::new(&state, &viewer, fill(t.erase_title, &[("who", &who)])),
            t,
            id,
            refused: preview.refused,
            kept,
            removes,
            posts: fill(t.erase_posts, &[("n", &count("posts_sent"))]),
            audit: fill(t.erase_audit, &[("n", &count("audit_entries"))]),
        },
    )
}

/// POST /admin/people/{id}/erase
pub async fn erase(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    match api
        .send::<Value>(Method::POST, &format!("/people/{id}/erase"), None)
        .await
    {
        Ok(_) => see_other("/admin/people?done=erased"),
        Err(f) => refused(&state, &viewer, f),
    }
}
