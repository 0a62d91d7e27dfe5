//! The audit log (filtered by person, actor and dates; a page at a time, newest first) and the
//! delivery queue (posts being delivered, deferred recipients with their last error; retry now
//! and cancel).

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension,
    extract::State,
    http::{Method, StatusCode},
    response::Response,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fill, group_names, path_safe, see_other, texts::OpsTexts};
use crate::http::web::{
    WebState,
    admin::{may, refused},
    client::with_query,
    extract::{WebForm, WebQuery},
    frame::{self, ErrorPage, Layout, render, when},
    gate::Viewer,
};

/// Entries per page.
const PAGE: usize = 50;

#[derive(Debug, Deserialize)]
struct Entry {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    object: Option<String>,
    person_id: Option<i64>,
    request: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Entries {
    entries: Vec<Entry>,
}

pub struct EntryRow {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub person_id: Option<i64>,
    pub request: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    person: Option<String>,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    before: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin_ops/audit.html")]
struct AuditPage {
    l: Layout,
    t: &'static OpsTexts,
    person: String,
    actor: String,
    from: String,
    to: String,
    entries: Vec<EntryRow>,
    problem: Option<String>,
    older: Option<String>,
    newest: Option<String>,
    filtered: bool,
}

#[derive(Debug, Deserialize)]
struct Found {
    people: Vec<FoundPerson>,
}

#[derive(Debug, Deserialize)]
struct FoundPerson {
    id: i64,
    email: String,
    #[serde(default)]
    external_id: Option<String>,
}

/// GET /admin/audit?person=&actor=&from=&to=&before=
pub async fn audit(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebQuery(q): WebQuery<AuditQuery>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let trimmed = |s: &Option<String>| s.as_deref().unwrap_or("").trim().to_string();
    let (person, actor, from, to) = (
        trimmed(&q.person),
        trimmed(&q.actor),
        trimmed(&q.from),
        trimmed(&q.to),
    );
    // A person by id, address or member number (in the viewer's scopes).
    let person_id = if person.is_empty() {
        Some(None)
    } else if let Ok(id) = person.parse::<i64>() {
        Some(Some(id))
    } else {
        let path = with_query("/people", &[("q", &person), ("limit", "20")]);
        match api.get::<Found>(&path).await {
            Ok(f) => f
                .people
                .into_iter()
                .find(|p| {
                    p.email.eq_ignore_ascii_case(&person)
                        || p.external_id.as_deref() == Some(person.as_str())
                })
                .map(|p| Some(p.id)),
            Err(f) => return refused(&state, &viewer, f),
        }
    };
    let mut problem = None;
    let mut entries = Vec::new();
    let mut more = false;
    match person_id {
        None => problem = Some(t.unknown_person.to_string()),
        Some(pid) => {
            let pid = pid.map(|p| p.to_string()).unwrap_or_default();
            let before = q.before.map(|b| b.to_string()).unwrap_or_default();
            let limit = (PAGE + 1).to_string();
            let path = with_query(
                "/audit",
                &[
                    ("person_id", &pid),
                    ("actor", &actor),
                    ("from", &from),
                    ("to", &to),
                    ("before", &before),
                    ("limit", &limit),
                ],
            );
            match api.get::<Entries>(&path).await {
                Ok(e) => {
                    entries = e.entries;
                    more = entries.len() > PAGE;
                    entries.truncate(PAGE);
                }
                Err(f) if f.status == StatusCode::UNPROCESSABLE_ENTITY => problem = Some(f.message),
                Err(f) => return refused(&state, &viewer, f),
            }
        }
    }
    let page = |before: Option<i64>| {
        let before = before.map(|b| b.to_string()).unwrap_or_default();
        with_query(
            "/admin/audit",
            &[
                ("person", &person),
                ("actor", &actor),
                ("from", &from),
                ("to", &to),
                ("before", &before),
            ],
        )
    };
    let older = more.then(|| page(entries.last().map(|e| e.id)));
    let newest = q.before.is_some().then(|| page(None));
    let rows = entries
        .into_iter()
        .map(|e| EntryRow {
            when: when(e.at),
            actor: e.actor,
            action: e.action,
            object: e.object.unwrap_or_default(),
            person_id: e.person_id,
            request: e
                .request
                .map(|r| {
                    let s = r.to_string();
                    if s.chars().count() > 300 {
                        format!("{}…", s.chars().take(300).collect::<String>())
                    } else {
                        s
                    }
                })
                .unwrap_or_default(),
        })
        .collect();
    render(
        StatusCode::OK,
        &AuditPage {
            l: Layout::new(&state, &viewer, t.audit_title),
            t,
            filtered: !(person.is_empty() && actor.is_empty() && from.is_empty() && to.is_empty()),
            person,
            actor,
            from,
            to,
            entries: rows,
            problem,
            older,
            newest,
        },
    )
}

#[derive(Debug, Deserialize)]
struct InFlight {
    queue_id: String,
    group_id: Option<i64>,
    received_at: i64,
    queued: i64,
    deferred: i64,
    sending: i64,
    delivered: i64,
    failed: i64,
    next_attempt_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Deferred {
    queue_id: String,
    recipient: String,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: i64,
}

#[derive(Debug, Deserialize)]
struct Queue {
    in_flight: Vec<InFlight>,
    deferred: Vec<Deferred>,
}

pub struct FlightRow {
    pub queue_id: String,
    pub list: String,
    pub received: String,
    pub queued: i64,
    pub deferred: i64,
    pub sending: i64,
    pub delivered: i64,
    pub failed: i64,
    pub next: String,
    pub waiting: bool,
}

pub struct DeferredRow {
    pub queue_id: String,
    pub recipient: String,
    pub attempts: i64,
    pub error: String,
    pub next: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct QueueDone {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    n: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin_ops/queue.html")]
struct QueuePage {
    l: Layout,
    t: &'static OpsTexts,
    flights: Vec<FlightRow>,
    deferred: Vec<DeferredRow>,
    may_act: bool,
}

/// GET /admin/queue
pub async fn queue(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebQuery(done): WebQuery<QueueDone>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let q = match api.get::<Queue>("/queue?limit=200").await {
        Ok(q) => q,
        Err(f) => return refused(&state, &viewer, f),
    };
    let names = if q.in_flight.iter().any(|f| f.group_id.is_some()) {
        group_names(&state, &api).await
    } else {
        Default::default()
    };
    let flights = q
        .in_flight
        .into_iter()
        .map(|f| FlightRow {
            list: match f.group_id {
                Some(g) => names.get(&g).cloned().unwrap_or_else(|| g.to_string()),
                None => t.server_mail.to_string(),
            },
            received: when(f.received_at),
            waiting: f.queued + f.deferred > 0,
            queued: f.queued,
            deferred: f.deferred,
            sending: f.sending,
            delivered: f.delivered,
            failed: f.failed,
            next: f.next_attempt_at.map(when).unwrap_or_default(),
            queue_id: f.queue_id,
        })
        .collect();
    let deferred = q
        .deferred
        .into_iter()
        .map(|d| DeferredRow {
            queue_id: d.queue_id,
            recipient: d.recipient,
            attempts: d.attempts,
            error: d.last_error.unwrap_or_default(),
            next: when(d.next_attempt_at),
        })
        .collect();
    let n = done.n.unwrap_or(0).to_string();
    let notice = match done.done.as_deref() {
        Some("retry") => Some(fill(t.done_retry, &[("n", &n)])),
        Some("cancel") => Some(fill(t.done_cancel, &[("n", &n)])),
        _ => None,
    };
    render(
        StatusCode::OK,
        &QueuePage {
            l: Layout::new(&state, &viewer, t.queue_title).with_notice(notice),
            t,
            flights,
            deferred,
            may_act: may(&viewer, "post", "/queue/{queue_id}/{action}", None),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct QueueAction {
    queue_id: String,
    action: String,
    #[serde(default)]
    recipient: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Acted {
    recipients: i64,
}

/// POST /admin/queue/act: `retry` or `cancel` a post's waiting recipients (or one `recipient`).
pub async fn act(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebForm(form): WebForm<QueueAction>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let action = match form.action.as_str() {
        "retry" => "retry",
        "cancel" => "cancel",
        _ => return frame::error(&state, viewer.lang, ErrorPage::NotFound),
    };
    if !path_safe(&form.queue_id) {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    }
    let body = match form
        .recipient
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(r) => json!({ "recipient": r }),
        None => json!({}),
    };
    match api
        .send::<Acted>(
            Method::POST,
            &format!("/queue/{}/{action}", form.queue_id),
            Some(body),
        )
        .await
    {
        Ok(a) => see_other(&with_query(
            "/admin/queue",
            &[("done", action), ("n", &a.recipients.to_string())],
        )),
        Err(f) => refused(&state, &viewer, f),
    }
}
