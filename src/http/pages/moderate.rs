//! `/moderate/{token}`: the page behind the approve / reject / discard links in a moderation mail.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::Html,
};
use serde::Deserialize;

use super::{esc, page};
use crate::{
    admin::AdminError,
    http::api::ApiState,
    moderation::{Decision, PURPOSE},
    tokens::TokenError,
};

type PageResult = (StatusCode, Html<String>);

fn error_page(status: StatusCode, text: &str) -> PageResult {
    (
        status,
        Html(page("Moderation", &format!("<p>{}</p>", esc(text)))),
    )
}

/// Checks the token: the claim's decision and held-post id.
fn claim(state: &ApiState, token: &str) -> Result<(i64, Decision), PageResult> {
    let now = state.clock.now_ms();
    match state.moderation.signer.verify(PURPOSE, token, now) {
        Ok(c) => match Decision::parse(&c.action) {
            Some(d) => Ok((c.id, d)),
            None => Err(error_page(
                StatusCode::BAD_REQUEST,
                "This link is not valid.",
            )),
        },
        Err(TokenError::Expired) => Err(error_page(
            StatusCode::GONE,
            "This link has expired: the post is no longer waiting for a decision.",
        )),
        Err(TokenError::Invalid) => Err(error_page(
            StatusCode::BAD_REQUEST,
            "This link is not valid (it may have been cut off or changed). Open the link from the mail again.",
        )),
    }
}

/// GET: shows the post and a button. Changes nothing.
pub async fn show(State(state): State<ApiState>, Path(token): Path<String>) -> PageResult {
    let (id, decision) = match claim(&state, &token) {
        Ok(c) => c,
        Err(page) => return page,
    };
    let held = match state.store.held_post(id).await {
        Ok(Some(h)) => h,
        _ => return error_page(StatusCode::NOT_FOUND, "This post no longer exists."),
    };
    if held.status != "held" {
        return error_page(
            StatusCode::CONFLICT,
            &format!("This post was already {}.", held.status),
        );
    }
    let (title, button, reason) = match decision {
        Decision::Approve => ("Approve this post?", "Approve and send to the list", ""),
        Decision::Reject => (
            "Reject this post?",
            "Reject",
            "<p><label>Reason, mailed to the author:<br><textarea name=\"reason\" rows=\"3\"></textarea></label></p>",
        ),
        Decision::Discard => (
            "Discard this post?",
            "Discard without telling the author",
            "",
        ),
    };
    let body = format!(
        "<dl><dt>From</dt><dd>{}</dd><dt>Subject</dt><dd>{}</dd><dt>Held because</dt><dd>{}</dd></dl>\
         <form method=\"post\">{reason}<button type=\"submit\">{button}</button></form>",
        esc(&held.author),
        esc(held.subject.as_deref().unwrap_or("")),
        esc(&held.reason),
    );
    (StatusCode::OK, Html(page(title, &body)))
}

#[derive(Debug, Deserialize, Default)]
pub struct DecisionForm {
    #[serde(default)]
    reason: Option<String>,
}

/// POST: acts, once.
pub async fn act(
    State(state): State<ApiState>,
    Path(token): Path<String>,
    form: Result<Form<DecisionForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let (id, decision) = match claim(&state, &token) {
        Ok(c) => c,
        Err(page) => return page,
    };
    let reason = form
        .ok()
        .and_then(|f| f.0.reason)
        .filter(|r| !r.trim().is_empty());
    match state
        .moderation
        .decide(id, decision, "moderation link", reason.as_deref())
        .await
    {
        Ok(h) => (
            StatusCode::OK,
            Html(page(
                "Done",
                &format!(
                    "<p>The post “{}” was {}.</p>",
                    esc(h.subject.as_deref().unwrap_or("")),
                    esc(&h.status)
                ),
            )),
        ),
        Err(AdminError::Conflict(m)) => error_page(StatusCode::CONFLICT, &m),
        Err(AdminError::NotFound(m)) => error_page(StatusCode::NOT_FOUND, &m),
        Err(e) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Something went wrong: {e}"),
        ),
    }
}
