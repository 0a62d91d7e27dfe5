//! Moderation: the held posts in the viewer's lists (decide on one or many at once), and one
//! held post with a safe preview (`GET /api/v1/moderation/{id}`: text as text, HTML
//! sanitised, attachments listed).

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension,
    body::Bytes,
    extract::State,
    http::{Method, StatusCode},
    response::Response,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{field, fill, form_pairs, group_names, see_other, texts::OpsTexts};
use crate::{
    http::web::{
        WebState,
        admin::{may, refused},
        client::{Api, with_query},
        extract::{WebForm, WebPath, WebQuery},
        frame::{self, ErrorPage, Layout, render, when},
        gate::Viewer,
    },
    moderation::preview::Preview,
    store::held::HeldPost,
};

const DECIDE: &str = "/moderation/{id}/{action}";

#[derive(Debug, Deserialize)]
struct HeldList {
    held: Vec<HeldPost>,
}

#[derive(Debug, Deserialize)]
struct HeldOne {
    held: HeldPost,
    preview: Preview,
}

/// A held post as a row of the table.
pub struct HeldRow {
    pub id: i64,
    pub list: String,
    pub author: String,
    pub subject: String,
    pub reason: String,
    pub received: String,
    pub expires: String,
    pub may_decide: bool,
    /// The checkbox's label.
    pub label: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    n: Option<i64>,
    #[serde(default)]
    failed: Option<i64>,
    #[serde(default)]
    problem: Option<String>,
}

/// The line saying what the last decision did.
fn notice(t: &OpsTexts, d: &Done) -> Option<String> {
    let n = d.n.unwrap_or(0).to_string();
    let mut parts = Vec::new();
    match d.done.as_deref() {
        Some("approve") => parts.push(fill(t.done_approve, &[("n", &n)])),
        Some("reject") => parts.push(fill(t.done_reject, &[("n", &n)])),
        Some("discard") => parts.push(fill(t.done_discard, &[("n", &n)])),
        _ => {}
    }
    if let Some(f) = d.failed.filter(|f| *f > 0) {
        parts.push(fill(t.done_failed, &[("n", &f.to_string())]));
    }
    if d.problem.as_deref() == Some("none") {
        parts.push(t.none_selected.to_string());
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[derive(Template)]
#[template(path = "admin_ops/moderation.html")]
struct ListPage {
    l: Layout,
    t: &'static OpsTexts,
    rows: Vec<HeldRow>,
    any_decidable: bool,
}

/// GET /admin/moderation
pub async fn list(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebQuery(done): WebQuery<Done>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let held = match api.get::<HeldList>("/moderation").await {
        Ok(h) => h.held,
        Err(f) => return refused(&state, &viewer, f),
    };
    let names = if held.is_empty() {
        Default::default()
    } else {
        group_names(&state, &api).await
    };
    let rows: Vec<HeldRow> = held
        .into_iter()
        .map(|h| {
            let subject = h
                .subject
                .clone()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| t.no_subject.to_string());
            HeldRow {
                id: h.id,
                list: names
                    .get(&h.group_id)
                    .cloned()
                    .unwrap_or_else(|| h.group_id.to_string()),
                author: h.author,
                label: fill(t.select_post, &[("subject", &subject)]),
                subject,
                reason: h.reason,
                received: when(h.received_at),
                expires: when(h.expires_at),
                may_decide: may(&viewer, "post", DECIDE, Some(h.group_id)),
            }
        })
        .collect();
    let any_decidable = rows.iter().any(|r| r.may_decide);
    render(
        StatusCode::OK,
        &ListPage {
            l: Layout::new(&state, &viewer, t.moderation_title).with_notice(notice(t, &done)),
            t,
            rows,
            any_decidable,
        },
    )
}

/// One decision through the API; whether it was made.
async fn decide(api: &Api, id: i64, action: &str, reason: Option<&str>) -> bool {
    let body = match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => json!({ "reason": r }),
        None => json!({}),
    };
    api.send::<Value>(
        Method::POST,
        &format!("/moderation/{id}/{action}"),
        Some(body),
    )
    .await
    .is_ok()
}

fn action_of(s: &str) -> Option<&'static str> {
    ["approve", "reject", "discard"]
        .into_iter()
        .find(|a| *a == s)
}

/// POST /admin/moderation/decide: `id` (repeated) with `action`, or one row's `only=ID:ACTION`.
pub async fn decide_many(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    body: Bytes,
) -> Response {
    let api = api_or_404!(state, viewer);
    if !may(&viewer, "post", DECIDE, None) {
        // Moderates nothing anywhere (an auditor): refused before any post is looked at.
        return frame::error(
            &state,
            viewer.lang,
            ErrorPage::Forbidden(OpsTexts::get(viewer.lang).not_a_moderator.to_string()),
        );
    }
    let form = form_pairs(&body);
    let (ids, action): (Vec<i64>, Option<&'static str>) =
        match field(&form, "only").and_then(|o| o.split_once(':')) {
            Some((id, action)) => (id.parse().ok().into_iter().collect(), action_of(action)),
            None => (
                form.iter()
                    .filter(|(k, _)| k == "id")
                    .filter_map(|(_, v)| v.parse().ok())
                    .collect(),
                field(&form, "action").and_then(action_of),
            ),
        };
    let Some(action) = action else {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    };
    if ids.is_empty() {
        return see_other("/admin/moderation?problem=none");
    }
    let reason = field(&form, "reason");
    let (mut ok, mut failed) = (0, 0);
    for id in ids.iter().take(500) {
        if decide(&api, *id, action, reason).await {
            ok += 1;
        } else {
            failed += 1;
        }
    }
    see_other(&with_query(
        "/admin/moderation",
        &[
            ("done", action),
            ("n", &ok.to_string()),
            ("failed", &failed.to_string()),
        ],
    ))
}

#[derive(Template)]
#[template(path = "admin_ops/held.html")]
struct HeldPage {
    l: Layout,
    t: &'static OpsTexts,
    id: i64,
    list: String,
    held: HeldPost,
    p: Preview,
    subject: String,
    received: String,
    expires: String,
    waiting: bool,
    decided: String,
    may_decide: bool,
    attachments: Vec<AttachmentRow>,
}

pub struct AttachmentRow {
    pub name: String,
    pub kind: String,
    pub size: String,
}

/// GET /admin/moderation/{id}
pub async fn show(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let one = match api.get::<HeldOne>(&format!("/moderation/{id}")).await {
        Ok(h) => h,
        Err(f) => return refused(&state, &viewer, f),
    };
    let names = group_names(&state, &api).await;
    let held = one.held;
    let subject = held
        .subject
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| t.no_subject.to_string());
    let attachments = one
        .preview
        .attachments
        .iter()
        .map(|a| AttachmentRow {
            name: if a.name.is_empty() {
                t.attachment_unnamed.to_string()
            } else {
                a.name.clone()
            },
            kind: a.content_type.clone(),
            size: format!("{} {}", a.size, t.bytes),
        })
        .collect();
    render(
        StatusCode::OK,
        &HeldPage {
            l: Layout::new(&state, &viewer, subject.clone()),
            t,
            id,
            list: names
                .get(&held.group_id)
                .cloned()
                .unwrap_or_else(|| held.group_id.to_string()),
            subject,
            received: when(held.received_at),
            expires: when(held.expires_at),
            waiting: held.status == "held",
            decided: fill(t.already_decided, &[("status", &held.status)]),
            may_decide: may(&viewer, "post", DECIDE, Some(held.group_id)),
            held,
            p: one.preview,
            attachments,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    action: String,
    #[serde(default)]
    reason: Option<String>,
}

/// POST /admin/moderation/{id}/decide
pub async fn decide_one(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebForm(form): WebForm<DecisionForm>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let Some(action) = action_of(&form.action) else {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    };
    let body = match form
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(r) => json!({ "reason": r }),
        None => json!({}),
    };
    match api
        .send::<Value>(
            Method::POST,
            &format!("/moderation/{id}/{action}"),
            Some(body),
        )
        .await
    {
        Ok(_) => see_other(&with_query(
            "/admin/moderation",
            &[("done", action), ("n", "1")],
        )),
        Err(f) => refused(&state, &viewer, f),
    }
}
