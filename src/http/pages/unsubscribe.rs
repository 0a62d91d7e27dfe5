//! `/u/{token}`: the page behind each copy's `List-Unsubscribe` link (RFC 8058).
//!
//! - `GET` shows "Leave *List*?" with two buttons (this list, or all list mail); it changes
//!   nothing, so link scanners and previews are harmless.
//! - `POST` with `List-Unsubscribe=One-Click` (what mail clients send) or from the page's button
//!   leaves at once and answers `200` with "You have left … Undo". `scope=all` leaves all list
//!   mail. No cookie, no login.
//! - `POST /u/{token}/undo` takes it back.
//!
//! `/leave/{token}` is the footer's page: the token names the list only (the footer is quoted
//! in replies, so it must not act for anyone). `GET` asks for an address, `POST` mails that
//! address its personal link if it receives the list, and says the same either way.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::Html,
};
use serde::Deserialize;

use super::{esc, page};
use crate::{
    clock::SharedClock,
    model::list_settings::ListSettings,
    store::Store,
    unsubscribe::{self, Links, Scope, Subscriber, texts},
};

#[derive(Clone)]
pub struct UnsubscribeState {
    pub posting: std::sync::Arc<crate::posting::Posting>,
    pub store: Store,
    pub clock: SharedClock,
    pub links: Links,
}

type PageResult = (StatusCode, Html<String>);

#[derive(Debug, Deserialize, Default)]
pub struct LeaveForm {
    /// `all`: every list; anything else or absent: this list.
    #[serde(default)]
    scope: Option<String>,
}

impl LeaveForm {
    fn scope(&self) -> Scope {
        match self.scope.as_deref() {
            Some("all") => Scope::All,
            _ => Scope::Group,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct AskForm {
    #[serde(default)]
    address: String,
}

/// The list behind a footer token, and its texts; or the error page.
async fn open_list(
    state: &UnsubscribeState,
    token: &str,
) -> Result<(crate::store::groups::Group, &'static texts::Texts), PageResult> {
    let en = texts::for_language("en");
    let invalid = || notice(StatusCode::BAD_REQUEST, en.invalid);
    let group_id = state.links.open_leave_page(token).map_err(|_| invalid())?;
    match state.store.group(group_id).await {
        Ok(Some(g)) => {
            let settings = ListSettings::from_stored(g.settings.as_deref());
            Ok((g, texts::for_language(&settings.language)))
        }
        Ok(None) => Err(invalid()),
        Err(e) => Err(unavailable(&e.to_string())),
    }
}

/// GET /leave/{token}: asks for the address. Changes nothing.
pub async fn ask(State(state): State<UnsubscribeState>, Path(token): Path<String>) -> PageResult {
    let (group, t) = match open_list(&state, &token).await {
        Ok(o) => o,
        Err(p) => return p,
    };
    let body = format!(
        "<p>{}</p><form method=\"post\"><p><label>{}<br>\
         <input type=\"email\" name=\"address\" required autocomplete=\"email\"></label></p>\
         <button type=\"submit\" class=\"primary\">{}</button></form>\
         <p><a href=\"/signin?next=%2Fme\" id=\"manage\">{}</a></p>",
        fill(t.ask_intro, &group.name),
        fill(t.ask_label, &group.name),
        fill(t.ask_button, &group.name),
        esc(t.manage),
    );
    (
        StatusCode::OK,
        Html(page(&t.leave_title.replace("{list}", &group.name), &body)),
    )
}

/// POST /leave/{token}: mails the address its personal link when it receives the list.
pub async fn asked(
    State(state): State<UnsubscribeState>,
    Path(token): Path<String>,
    form: Result<Form<AskForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let (group, t) = match open_list(&state, &token).await {
        Ok(o) => o,
        Err(p) => return p,
    };
    let address = form.map(|f| f.0.address).unwrap_or_default();
    let address = address.trim();
    if crate::model::address::EmailAddress::parse(address).is_err() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(page(
                &t.leave_title.replace("{list}", &group.name),
                &format!("<p>{}</p>", esc(t.ask_label)),
            )),
        );
    }
    let sent =
        match unsubscribe::confirmation(&state.posting, &state.links, &group, address, "footer")
            .await
        {
            Ok(Some(notice)) => match state.posting.queue.enqueue(&[notice], &[], &[]).await {
                Ok(_) => true,
                // The link could not be stored for sending: say so, not "sent".
                Err(e) => return unavailable(&e.to_string()),
            },
            Ok(None) => false,
            Err(e) => return unavailable(&e.to_string()),
        };
    tracing::info!(group = %group.name, sent, "leave link requested on the footer page");
    let text = t
        .asked
        .replace("{list}", &group.name)
        .replace("{address}", address);
    (
        StatusCode::OK,
        Html(page(
            &t.leave_title.replace("{list}", &group.name),
            &format!("<p>{}</p>", esc(&text)),
        )),
    )
}

/// The group and address of a join link; or the error page.
async fn open_join(
    state: &UnsubscribeState,
    token: &str,
) -> Result<(crate::store::groups::Group, String, &'static texts::Texts), PageResult> {
    let en = texts::for_language("en");
    let (group_id, address) = match state.links.open_join(token, state.clock.now_ms()) {
        Ok(o) => o,
        Err(crate::tokens::TokenError::Expired) => {
            return Err(notice(StatusCode::GONE, en.expired));
        }
        Err(_) => {
            return Err(notice(StatusCode::BAD_REQUEST, en.invalid));
        }
    };
    match state.store.group(group_id).await {
        Ok(Some(g)) => {
            let settings = ListSettings::from_stored(g.settings.as_deref());
            let t = texts::for_language(&settings.language);
            // The link was sent when the list took members by request; it may not any more.
            if unsubscribe::join_refusal(&g).is_some() {
                let text = t.join_closed.replace("{list}", &g.name);
                return Err((
                    StatusCode::FORBIDDEN,
                    Html(page(&g.name, &format!("<p>{}</p>", esc(&text)))),
                ));
            }
            Ok((g, address, t))
        }
        Ok(None) => Err(notice(StatusCode::NOT_FOUND, en.invalid)),
        Err(e) => Err(unavailable(&e.to_string())),
    }
}

/// GET /join/{token}: the question and a button. Changes nothing.
pub async fn join_page(
    State(state): State<UnsubscribeState>,
    Path(token): Path<String>,
) -> PageResult {
    let (group, address, t) = match open_join(&state, &token).await {
        Ok(o) => o,
        Err(p) => return p,
    };
    let body = format!(
        "<p>{}</p><form method=\"post\"><button type=\"submit\" id=\"join\">{}</button></form>",
        esc(&address),
        fill(t.join_button, &group.name)
    );
    (
        StatusCode::OK,
        Html(page(&t.join_title.replace("{list}", &group.name), &body)),
    )
}

/// POST /join/{token}: makes the address a member.
pub async fn join(State(state): State<UnsubscribeState>, Path(token): Path<String>) -> PageResult {
    let (group, address, t) = match open_join(&state, &token).await {
        Ok(o) => o,
        Err(p) => return p,
    };
    match unsubscribe::join(&state.store, group.id, &address, state.clock.now_ms()).await {
        Ok(()) => (
            StatusCode::OK,
            Html(page(
                &t.joined_title.replace("{list}", &group.name),
                &format!("<p>{}</p>", esc(&address)),
            )),
        ),
        Err(e) => unavailable(&e.to_string()),
    }
}

/// The subscriber, the list's name and its texts; or the error page.
async fn open(
    state: &UnsubscribeState,
    token: &str,
) -> Result<(Subscriber, String, &'static texts::Texts), PageResult> {
    let en = texts::for_language("en");
    let Ok(who) = state.links.open(token, state.clock.now_ms()) else {
        return Err(notice(StatusCode::BAD_REQUEST, en.invalid));
    };
    let group = match state.store.group(who.group_id).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            return Err(notice(StatusCode::NOT_FOUND, en.unknown));
        }
        Err(e) => return Err(unavailable(&e.to_string())),
    };
    let settings = ListSettings::from_stored(group.settings.as_deref());
    Ok((who, group.name, texts::for_language(&settings.language)))
}

/// A page with one sentence (errors before the list is known: in English).
fn notice(status: StatusCode, text: &str) -> PageResult {
    (
        status,
        Html(page("circlemail", &format!("<p>{}</p>", esc(text)))),
    )
}

fn unavailable(error: &str) -> PageResult {
    tracing::error!(error, "unsubscribe page: database error");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(page(
            "circlemail",
            "<p>The service is busy. Please try again in a minute.</p>",
        )),
    )
}

fn fill(text: &str, list: &str) -> String {
    esc(&text.replace("{list}", list))
}

/// "Manage all my lists": a page that mails the person of `token` a sign-in link to `/me`.
fn manage_link(t: &texts::Texts, token: &str) -> String {
    format!(
        "<p><a href=\"/me/manage/{}\" id=\"manage\">{}</a></p>",
        esc(token),
        esc(t.manage)
    )
}

fn left_page(t: &texts::Texts, list: &str, scope: Scope, token: &str) -> String {
    let title = match scope {
        Scope::Group => t.left_title,
        Scope::All => t.left_all_title,
    };
    let scope_field = match scope {
        Scope::Group => "",
        Scope::All => "<input type=\"hidden\" name=\"scope\" value=\"all\">",
    };
    page(
        &title.replace("{list}", list),
        &format!(
            "<p>{}</p><form method=\"post\" action=\"undo\">{scope_field}<button type=\"submit\" class=\"secondary\">{}</button></form>{}",
            fill(t.left_intro, list),
            fill(t.undo_button, list),
            manage_link(t, token)
        ),
    )
}

/// GET: the question and the buttons (or "you have left" with Undo). Changes nothing.
pub async fn show(State(state): State<UnsubscribeState>, Path(token): Path<String>) -> PageResult {
    let (who, list, t) = match open(&state, &token).await {
        Ok(o) => o,
        Err(p) => return p,
    };
    match unsubscribe::has_left(&state.store, &who).await {
        Ok(true) => {
            return (
                StatusCode::OK,
                Html(left_page(t, &list, Scope::Group, &token)),
            );
        }
        Ok(false) => {}
        Err(e) => return unavailable(&e.to_string()),
    }
    let body = format!(
        "<p>{}</p>\
         <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
         <button type=\"submit\" id=\"leave\" class=\"primary\">{}</button></form>\
         <p>{}</p><form method=\"post\"><input type=\"hidden\" name=\"scope\" value=\"all\">\
         <button type=\"submit\" id=\"leave-all\" class=\"danger\">{}</button></form>{}",
        fill(t.leave_intro, &list),
        fill(t.leave_button, &list),
        fill(t.all_intro, &list),
        fill(t.all_button, &list),
        manage_link(t, &token),
    );
    (
        StatusCode::OK,
        Html(page(&t.leave_title.replace("{list}", &list), &body)),
    )
}

/// POST: leaves at once (RFC 8058 one-click, or the page's buttons).
pub async fn leave(
    State(state): State<UnsubscribeState>,
    Path(token): Path<String>,
    form: Result<Form<LeaveForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let scope = form.map(|f| f.0.scope()).unwrap_or(Scope::Group);
    let (who, list, t) = match open(&state, &token).await {
        Ok(o) => o,
        Err(p) => return p,
    };
    match unsubscribe::leave(&state.store, &who, scope, state.clock.now_ms()).await {
        Ok(Some(_)) => (StatusCode::OK, Html(left_page(t, &list, scope, &token))),
        Ok(None) => (
            StatusCode::OK,
            Html(page(&list, &format!("<p>{}</p>", esc(t.unknown)))),
        ),
        Err(e) => unavailable(&e.to_string()),
    }
}

/// POST /undo: takes the opt-out back.
pub async fn undo(
    State(state): State<UnsubscribeState>,
    Path(token): Path<String>,
    form: Result<Form<LeaveForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let scope = form.map(|f| f.0.scope()).unwrap_or(Scope::Group);
    let (who, list, t) = match open(&state, &token).await {
        Ok(o) => o,
        Err(p) => return p,
    };
    match unsubscribe::undo(&state.store, &who, scope).await {
        Ok(_) => (
            StatusCode::OK,
            Html(page(
                t.back_title,
                &format!("<p>{}</p>", fill(t.back_intro, &list)),
            )),
        ),
        Err(e) => unavailable(&e.to_string()),
    }
}
