//! A list's recipients (a page at a time, each with why they are there), its opt-outs, and
//! its bounce scores with re-enable.

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension,
    extract::State,
    http::{Method, StatusCode},
    response::Response,
};
use serde::Deserialize;
use serde_json::Value;

use super::{
    Done,
    group::{GroupDetail, Tabs, load},
    refused, see_other,
    texts::AdminTexts,
};
use crate::http::web::{
    WebState,
    client::with_query,
    extract::{WebPath, WebQuery},
    frame::{self, ErrorPage, Layout, render, when},
    gate::Viewer,
};

const PAGE: usize = 50;

#[derive(Debug, Clone, Deserialize)]
pub struct Recipient {
    pub person_id: i64,
    pub email: String,
    #[serde(default)]
    pub paths: Vec<String>,
    /// How they get the list (from the answer's `delivery_modes`; every post when not there).
    #[serde(default)]
    pub mode: String,
}

#[derive(Debug, Deserialize)]
struct DeliveryMode {
    person_id: i64,
    mode: String,
}

#[derive(Debug, Deserialize)]
struct Recipients {
    count: i64,
    #[serde(default)]
    matching: i64,
    recipients: Vec<Recipient>,
    /// The recipients on this page who take a digest or no mail.
    #[serde(default)]
    delivery_modes: Vec<DeliveryMode>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Explanation {
    pub member: bool,
    pub manager: bool,
    pub receives: bool,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub excluded_because: Vec<String>,
    #[serde(default)]
    pub inactive_terms: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Explained {
    explanation: Explanation,
}

#[derive(Debug, Default, Deserialize)]
pub struct RecipientQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    person: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin/recipients.html")]
struct RecipientsPage {
    l: Layout,
    t: &'static AdminTexts,
    tabs: Tabs,
    g: GroupDetail,
    count: i64,
    matching: i64,
    recipients: Vec<Recipient>,
    q: String,
    page: usize,
    pages: usize,
    prev: Option<String>,
    next: Option<String>,
    /// One person explained: (address, explanation).
    explained: Option<(String, Explanation)>,
}

/// GET /admin/groups/{id}/recipients: who a post goes to now, and why each is there.
pub async fn recipients(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebQuery(q): WebQuery<RecipientQuery>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let g = match load(&state, &viewer, &api, id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let path = with_query(
        &format!("/groups/{id}/recipients"),
        &[
            ("explain", "true"),
            ("q", q.q.trim()),
            ("limit", &PAGE.to_string()),
            ("offset", &((page - 1) * PAGE).to_string()),
        ],
    );
    let mut r = match api.get::<Recipients>(&path).await {
        Ok(r) => r,
        Err(f) => return refused(&state, &viewer, f),
    };
    for d in &r.delivery_modes {
        for x in r
            .recipients
            .iter_mut()
            .filter(|x| x.person_id == d.person_id)
        {
            x.mode = d.mode.clone();
        }
    }
    let explained = match q.person {
        Some(p) => {
            let path = format!("/groups/{id}/recipients?person_id={p}");
            match api.get::<Explained>(&path).await {
                Ok(e) => {
                    let email = r
                        .recipients
                        .iter()
                        .find(|x| x.person_id == p)
                        .map(|x| x.email.clone())
                        .unwrap_or_else(|| format!("#{p}"));
                    Some((email, e.explanation))
                }
                Err(f) => return refused(&state, &viewer, f),
            }
        }
        None => None,
    };
    let pages = (usize::try_from(r.matching).unwrap_or(0).div_ceil(PAGE)).max(1);
    let link = |p: usize| {
        with_query(
            &format!("/admin/groups/{id}/recipients"),
            &[("q", q.q.trim()), ("page", &p.to_string())],
        )
    };
    let title = format!("{} · {}", g.name, t.tab_recipients);
    render(
        StatusCode::OK,
        &RecipientsPage {
            l: Layout::new(&state, &viewer, title),
            t,
            tabs: Tabs::new(t, id, "/recipients"),
            g,
            count: r.count,
            matching: r.matching,
            recipients: r.recipients,
            q: q.q.trim().to_string(),
            page,
            pages,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
            explained,
        },
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct OptOut {
    pub email: String,
    pub channel: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PostOptOuts {
    pub message_id: Option<String>,
    pub received_at: i64,
    pub opt_outs: i64,
}

#[derive(Debug, Deserialize)]
struct OptOuts {
    opt_outs: Vec<OptOut>,
    per_post: Vec<PostOptOuts>,
}

#[derive(Template)]
#[template(path = "admin/opt_outs.html")]
struct OptOutsPage {
    l: Layout,
    t: &'static AdminTexts,
    tabs: Tabs,
    opt_outs: Vec<(OptOut, String)>,
    per_post: Vec<(PostOptOuts, String)>,
}

/// GET /admin/groups/{id}/opt-outs
pub async fn opt_outs(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let g = match load(&state, &viewer, &api, id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let o = match api.get::<OptOuts>(&format!("/groups/{id}/opt-outs")).await {
        Ok(o) => o,
        Err(f) => return refused(&state, &viewer, f),
    };
    render(
        StatusCode::OK,
        &OptOutsPage {
            l: Layout::new(&state, &viewer, format!("{} · {}", g.name, t.tab_opt_outs)),
            t,
            tabs: Tabs::new(t, id, "/opt-outs"),
            opt_outs: o
                .opt_outs
                .into_iter()
                .map(|x| {
                    let w = when(x.created_at);
                    (x, w)
                })
                .collect(),
            per_post: o
                .per_post
                .into_iter()
                .map(|x| {
                    let w = when(x.received_at);
                    (x, w)
                })
                .collect(),
        },
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct Bounce {
    pub person_id: i64,
    pub email: String,
    pub score: f64,
    pub bounces: i64,
    pub last_bounce_at: i64,
    pub last_status: Option<String>,
    pub last_diagnostic: Option<String>,
    pub disabled_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Bounces {
    bounces: Vec<Bounce>,
}

pub struct BounceLine {
    pub b: Bounce,
    pub last: String,
    pub disabled: Option<String>,
    pub score: String,
}

#[derive(Template)]
#[template(path = "admin/bounces.html")]
struct BouncesPage {
    l: Layout,
    t: &'static AdminTexts,
    tabs: Tabs,
    g: GroupDetail,
    lines: Vec<BounceLine>,
    manage: bool,
}

/// GET /admin/groups/{id}/bounces
pub async fn bounces(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebQuery(done): WebQuery<Done>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let g = match load(&state, &viewer, &api, id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let b = match api.get::<Bounces>(&format!("/groups/{id}/bounces")).await {
        Ok(b) => b,
        Err(f) => return refused(&state, &viewer, f),
    };
    let manage = super::may(
        &viewer,
        "post",
        "/groups/{id}/bounces/{person}/enable",
        Some(id),
    );
    render(
        StatusCode::OK,
        &BouncesPage {
            l: Layout::new(&state, &viewer, format!("{} · {}", g.name, t.tab_bounces))
                .with_notice(done.notice(t)),
            t,
            tabs: Tabs::new(t, id, "/bounces"),
            g,
            lines: b
                .bounces
                .into_iter()
                .map(|b| BounceLine {
                    last: when(b.last_bounce_at),
                    disabled: b.disabled_at.map(when),
                    score: format!("{:.1}", b.score),
                    b,
                })
                .collect(),
            manage,
        },
    )
}

/// POST /admin/groups/{id}/bounces/{person}/enable
pub async fn reenable(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, person)): WebPath<(i64, i64)>,
) -> Response {
    let Some(api) = state.api_as(&viewer) else {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    };
    match api
        .send::<Value>(
            Method::POST,
            &format!("/groups/{id}/bounces/{person}/enable"),
            None,
        )
        .await
    {
        Ok(_) => see_other(&format!("/admin/groups/{id}/bounces?done=enabled")),
        Err(f) => refused(&state, &viewer, f),
    }
}
