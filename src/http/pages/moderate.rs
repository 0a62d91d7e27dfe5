//! `/moderate/{token}`: the page behind the approve / reject / discard links in a moderation mail,
//! in the frame and stylesheet of the web pages, with the same safe preview of the post as the
//! moderation page. GET shows the post and one button and changes nothing (link scanners); the
//! button POSTs the decision, once. The signed link is the authority: no sign-in needed.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Deserialize;

use crate::{
    admin::AdminError,
    http::web::{
        WebState,
        admin_ops::{fill, texts::OpsTexts},
        frame::{Layout, render, when},
        gate,
    },
    moderation::{
        Decision, PURPOSE,
        preview::{Preview, preview},
    },
    store::held::HeldPost,
    tokens::TokenError,
};

#[derive(Template)]
#[template(path = "admin_ops/moderate_link.html")]
struct LinkPage {
    l: Layout,
    t: &'static OpsTexts,
    message: Option<String>,
    held: Option<HeldPost>,
    p: Preview,
    received: String,
    button: &'static str,
    danger: bool,
    reject: bool,
}

fn message_page(state: &WebState, headers: &HeaderMap, status: StatusCode, text: &str) -> Response {
    let lang = gate::language(state, headers);
    let t = OpsTexts::get(lang);
    render(
        status,
        &LinkPage {
            l: Layout::bare(state, lang, t.moderation_title),
            t,
            message: Some(text.to_string()),
            held: None,
            p: Preview::default(),
            received: String::new(),
            button: "",
            danger: false,
            reject: false,
        },
    )
}

/// Checks the token: the claim's decision and held-post id (or the page that says why not).
#[allow(clippy::result_large_err)]
fn claim(state: &WebState, headers: &HeaderMap, token: &str) -> Result<(i64, Decision), Response> {
    let t = OpsTexts::get(gate::language(state, headers));
    let now = state.api.clock.now_ms();
    match state.api.moderation.signer.verify(PURPOSE, token, now) {
        Ok(c) => match Decision::parse(&c.action) {
            Some(d) => Ok((c.id, d)),
            None => Err(message_page(
                state,
                headers,
                StatusCode::BAD_REQUEST,
                t.link_invalid,
            )),
        },
        Err(TokenError::Expired) => Err(message_page(
            state,
            headers,
            StatusCode::GONE,
            t.link_expired,
        )),
        Err(TokenError::Invalid) => Err(message_page(
            state,
            headers,
            StatusCode::BAD_REQUEST,
            t.link_invalid,
        )),
    }
}

/// GET: shows the post and a button. Changes nothing.
pub async fn show(
    State(state): State<WebState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let lang = gate::language(&state, &headers);
    let t = OpsTexts::get(lang);
    let (id, decision) = match claim(&state, &headers, &token) {
        Ok(c) => c,
        Err(page) => return page,
    };
    let held = match state.api.store.held_post(id).await {
        Ok(Some(h)) => h,
        _ => return message_page(&state, &headers, StatusCode::NOT_FOUND, t.link_gone),
    };
    if held.status != "held" {
        return message_page(
            &state,
            &headers,
            StatusCode::CONFLICT,
            &fill(t.already_decided, &[("status", &held.status)]),
        );
    }
    let raw = state
        .api
        .store
        .held_raw(id)
        .await
        .map(|(raw, _, _)| raw)
        .unwrap_or_default();
    let p = tokio::task::spawn_blocking(move || preview(&raw))
        .await
        .unwrap_or_default();
    let (title, button) = match decision {
        Decision::Approve => (t.link_approve_title, t.link_approve_button),
        Decision::Reject => (t.link_reject_title, t.link_reject_button),
        Decision::Discard => (t.link_discard_title, t.link_discard_button),
    };
    render(
        StatusCode::OK,
        &LinkPage {
            l: Layout::bare(&state, lang, title),
            t,
            message: None,
            received: when(held.received_at),
            held: Some(held),
            p,
            button,
            danger: decision == Decision::Discard,
            reject: decision == Decision::Reject,
        },
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct DecisionForm {
    #[serde(default)]
    reason: Option<String>,
}

/// POST: acts, once.
pub async fn act(
    State(state): State<WebState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: Result<Form<DecisionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let t = OpsTexts::get(gate::language(&state, &headers));
    let (id, decision) = match claim(&state, &headers, &token) {
        Ok(c) => c,
        Err(page) => return page,
    };
    let reason = form
        .ok()
        .and_then(|f| f.0.reason)
        .filter(|r| !r.trim().is_empty());
    match state
        .api
        .moderation
        .decide(id, decision, "moderation link", reason.as_deref())
        .await
    {
        Ok(h) => {
            let lang = gate::language(&state, &headers);
            let subject = h.subject.as_deref().unwrap_or("");
            render(
                StatusCode::OK,
                &LinkPage {
                    l: Layout::bare(&state, lang, t.link_done_title),
                    t,
                    message: Some(fill(
                        t.link_done,
                        &[("subject", subject), ("status", &h.status)],
                    )),
                    held: None,
                    p: Preview::default(),
                    received: String::new(),
                    button: "",
                    danger: false,
                    reject: false,
                },
            )
        }
        Err(AdminError::Conflict(m)) => message_page(&state, &headers, StatusCode::CONFLICT, &m),
        Err(AdminError::NotFound(_)) => {
            message_page(&state, &headers, StatusCode::NOT_FOUND, t.link_gone)
        }
        Err(e) => {
            tracing::error!(held_id = id, error = %e, "a moderation link could not decide");
            message_page(
                &state,
                &headers,
                StatusCode::INTERNAL_SERVER_ERROR,
                t.link_trouble,
            )
        }
    }
}
