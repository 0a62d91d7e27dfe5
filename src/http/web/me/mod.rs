//! The members' own pages (`/me`): every list the signed-in person gets now and **why** (in
//! plain words from the explain machinery), how they get each (every post, a daily or weekly
//! digest, no mail), a pause of all list mail, the lists they left (get them again) and could
//! join, their name and address (a new address is confirmed by a link mailed to it; the old one
//! is told), and their data. Only the person's own things: every handler works on the session's
//! person, never on an id from the request (a list id in a path is only ever a list *they* are
//! in, left, or may join).
//!
//! These pages are for any person, with or without an administrator account, so they do not go
//! through the admin API: they call the same operations ([`crate::digest`], the store, the
//! GDPR export) for the session's own person.

pub mod reasons;
pub mod texts;

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::Engine;
use serde::Deserialize;
use sha2::Digest;
use sqlx::Row;

use super::{
    WebState,
    extract::{WebForm, WebPath, WebQuery},
    frame::{self, ErrorPage, Layout, render},
    gate::{ClientIp, Viewer},
};
use crate::{
    digest::{self, Mode},
    model::{address::EmailAddress, list_settings::ListSettings},
    notices::system_post,
};
use texts::Me;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// How long an address-change link works.
const ADDRESS_LINK_HOURS: i64 = 24;
const ADDRESS_PURPOSE: &str = "address change";

struct ModeChoice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

struct ListRow {
    id: i64,
    name: String,
    address: String,
    reasons: Vec<String>,
    modes: Vec<ModeChoice>,
}

struct OtherList {
    id: i64,
    name: String,
    address: String,
}

#[derive(Template)]
#[template(path = "me/index.html")]
struct MePage {
    l: Layout,
    t: &'static Me,
    receiving: Vec<ListRow>,
    opted_out: Vec<OtherList>,
    all_opted_out: bool,
    joinable: Vec<OtherList>,
    paused: Option<String>,
    pause_min: String,
    pause_default: String,
    pause_max: String,
    name: String,
    email: String,
    /// The person's `receive_duplicates`: the list's copy also of posts addressed to them.
    duplicates: bool,
    /// Something wrong with what was typed: (form, message).
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "me/confirm.html")]
struct ConfirmPage {
    l: Layout,
    text: String,
    button: &'static str,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    l: Layout,
    message: String,
}

fn mode_label(t: &Me, m: Mode) -> &'static str {
    match m {
        Mode::Every => t.mode_every,
        Mode::Daily => t.mode_daily,
        Mode::Weekly => t.mode_weekly,
        Mode::None => t.mode_none,
    }
}

fn unavailable(state: &WebState, viewer: &Viewer, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "members' page failed");
    frame::error(state, viewer.lang, ErrorPage::Unavailable)
}

/// A list (a group with an address).
struct ListInfo {
    id: i64,
    name: String,
    address: String,
    active: bool,
    standard: bool,
    rule: bool,
    settings: Option<String>,
}

async fn lists(state: &WebState) -> Result<Vec<ListInfo>, crate::store::StoreError> {
    let rows = sqlx::query(
        "SELECT id, name, address, active, standard_key, criteria, settings FROM groups
          WHERE address IS NOT NULL ORDER BY name",
    )
    .fetch_all(state.api.store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ListInfo {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                address: r.try_get("address")?,
                active: r.try_get::<i64, _>("active")? != 0,
                standard: r.try_get::<Option<String>, _>("standard_key")?.is_some(),
                rule: r.try_get::<Option<String>, _>("criteria")?.is_some(),
                settings: r.try_get("settings")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Where a person stands with every list.
struct Standing {
    receiving: Vec<(ListInfo, crate::groups::Explanation)>,
    opted_out: Vec<ListInfo>,
    joinable: Vec<ListInfo>,
}

async fn standing(state: &WebState, person: i64) -> Result<Standing, crate::store::StoreError> {
    let dir = state.api.resolver.directory().await?;
    let today = state.api.resolver.today();
    let opted: std::collections::HashSet<i64> = state
        .api
        .store
        .opt_outs(Some(person), None)
        .await?
        .iter()
        .filter_map(|o| o.group_id)
        .collect();
    let mut out = Standing {
        receiving: Vec::new(),
        opted_out: Vec::new(),
        joinable: Vec::new(),
    };
    for list in lists(state).await? {
        if !list.active {
            continue;
        }
        let Some(e) = crate::groups::explain_in(&dir, list.id, person, today) else {
            continue;
        };
        if e.member && opted.contains(&list.id) {
            out.opted_out.push(list);
        } else if e.member {
            out.receiving.push((list, e));
        } else if !list.standard
            && !list.rule
            && ListSettings::from_stored(list.settings.as_deref()).self_subscribe
        {
            out.joinable.push(list);
        }
    }
    Ok(out)
}

async fn me_page(
    state: &WebState,
    viewer: &Viewer,
    notice: Option<String>,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let t = Me::get(viewer.lang);
    let Some(session) = &viewer.session else {
        return frame::error(state, viewer.lang, ErrorPage::SignedOut);
    };
    let person = session.person_id;
    let store = &state.api.store;
    let now = state.api.clock.now_ms();
    let today = digest::day_of(now);
    let detail = match store.person_detail(person).await {
        Ok(Some(d)) => d,
        Ok(None) => return frame::error(state, viewer.lang, ErrorPage::SignedOut),
        Err(e) => return unavailable(state, viewer, e),
    };
    let (standing, modes, pause) = match tokio::try_join!(
        standing(state, person),
        digest::modes_of(store, person),
        digest::pause_of(store, person)
    ) {
        Ok(x) => x,
        Err(e) => return unavailable(state, viewer, e),
    };
    let mode_of = |g: i64| {
        modes
            .iter()
            .find(|m| m.group_id == g)
            .map(|m| m.mode)
            .unwrap_or_default()
    };
    let receiving = standing
        .receiving
        .into_iter()
        .map(|(list, e)| {
            let current = mode_of(list.id);
            ListRow {
                reasons: reasons::plain(t, &e, viewer.lang),
                modes: Mode::ALL
                    .into_iter()
                    .map(|m| ModeChoice {
                        value: m.as_str(),
                        label: mode_label(t, m),
                        selected: m == current,
                    })
                    .collect(),
                id: list.id,
                name: list.name,
                address: list.address,
            }
        })
        .collect();
    let other = |l: ListInfo| OtherList {
        id: l.id,
        name: l.name,
        address: l.address,
    };
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let paused = pause
        .filter(|p| p.until > today)
        .map(|p| t.paused.replace("{day}", &reasons::day_text(p.until)));
    let page = MePage {
        l: Layout::new(state, viewer, t.title).with_notice(notice),
        t,
        receiving,
        opted_out: standing.opted_out.into_iter().map(other).collect(),
        all_opted_out: detail.no_list_mail,
        joinable: standing.joinable.into_iter().map(other).collect(),
        paused,
        pause_min: day(today + chrono::Days::new(1)),
        pause_default: day(today + chrono::Days::new(7)),
        pause_max: day(today + chrono::Days::new(digest::MAX_PAUSE_DAYS as u64)),
        name: detail.name.unwrap_or_default(),
        email: detail.email,
        duplicates: detail.receive_duplicates,
        problem,
    };
    render(status, &page)
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    ok: String,
    #[serde(default)]
    list: String,
}

/// GET /me.
pub async fn show(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebQuery(done): WebQuery<Done>,
) -> Response {
    let t = Me::get(viewer.lang);
    // The notice names only a list the person is shown anyway (it is looked up, not echoed).
    let list_name = match done.list.parse::<i64>() {
        Ok(id) => state
            .api
            .store
            .group(id)
            .await
            .ok()
            .flatten()
            .map(|g| g.name)
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    let notice = match done.ok.as_str() {
        "left" => Some(t.left.replace("{list}", &list_name)),
        "again" => Some(t.again_done.replace("{list}", &list_name)),
        "joined" => Some(t.joined.replace("{list}", &list_name)),
        "paused" => None, // the page says it
        "resumed" => Some(t.pause_ended.to_string()),
        "name" => Some(t.name_saved.to_string()),
        "duplicates-on" => Some(t.duplicates_on.to_string()),
        "duplicates-off" => Some(t.duplicates_off.to_string()),
        m => Mode::ALL
            .into_iter()
            .find(|x| format!("mode-{}", x.as_str()) == m)
            .map(|x| {
                t.mode_saved
                    .replace("{list}", &list_name)
                    .replace("{mode}", mode_label(t, x))
            }),
    };
    me_page(&state, &viewer, notice, None, StatusCode::OK).await
}

fn me_person(viewer: &Viewer) -> Option<i64> {
    viewer.person_id()
}

/// A list of the person's, by the path's id: one they get, left, or (for `join`) may join.
async fn own_list(
    state: &WebState,
    person: i64,
    id: &str,
) -> Result<Option<(ListInfo, bool, bool)>, crate::store::StoreError> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let s = standing(state, person).await?;
    if let Some((l, _)) = s.receiving.into_iter().find(|(l, _)| l.id == id) {
        return Ok(Some((l, true, false)));
    }
    if let Some(l) = s.opted_out.into_iter().find(|l| l.id == id) {
        return Ok(Some((l, false, false)));
    }
    Ok(s.joinable
        .into_iter()
        .find(|l| l.id == id)
        .map(|l| (l, false, true)))
}

fn not_list(state: &WebState, viewer: &Viewer) -> Response {
    frame::error(state, viewer.lang, ErrorPage::NotFound)
}

#[derive(Debug, Deserialize, Default)]
pub struct ModeForm {
    #[serde(default)]
    mode: String,
}

/// POST /me/lists/{id}/mode.
pub async fn set_mode(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<String>,
    WebForm(form): WebForm<ModeForm>,
) -> Response {
    let Some(person) = me_person(&viewer) else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    let Some(mode) = Mode::parse(&form.mode) else {
        return frame::error(
            &state,
            viewer.lang,
            ErrorPage::Refused(StatusCode::UNPROCESSABLE_ENTITY, "mode".into()),
        );
    };
    match own_list(&state, person, &id).await {
        Ok(Some((list, true, _))) => {
            let now = state.api.clock.now_ms();
            if let Err(e) = digest::set_mode(&state.api.store, person, list.id, mode, now).await {
                return unavailable(&state, &viewer, e);
            }
            tracing::info!(
                person,
                group = list.id,
                mode = mode.as_str(),
                "delivery mode set by the member"
            );
            Redirect::to(&format!("/me?ok=mode-{}&list={}", mode.as_str(), list.id)).into_response()
        }
        Ok(_) => not_list(&state, &viewer),
        Err(e) => unavailable(&state, &viewer, e),
    }
}

/// POST /me/lists/{id}/leave: stop getting a list (an opt-out; "get it again" undoes it).
pub async fn leave(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<String>,
) -> Response {
    let Some(person) = me_person(&viewer) else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    match own_list(&state, person, &id).await {
        Ok(Some((list, true, _))) => {
            let now = state.api.clock.now_ms();
            if let Err(e) = state
                .api
                .store
                .opt_out(person, Some(list.id), "link", now)
                .await
            {
                return unavailable(&state, &viewer, e);
            }
            Redirect::to(&format!("/me?ok=left&list={}", list.id)).into_response()
        }
        Ok(_) => not_list(&state, &viewer),
        Err(e) => unavailable(&state, &viewer, e),
    }
}

/// POST /me/lists/{id}/again: undo an opt-out (`all`: of all list mail).
pub async fn again(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<String>,
) -> Response {
    let Some(person) = me_person(&viewer) else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    if id == "all" {
        return match state.api.store.undo_opt_out(person, None).await {
            Ok(_) => Redirect::to("/me?ok=resumed").into_response(),
            Err(e) => unavailable(&state, &viewer, e),
        };
    }
    match own_list(&state, person, &id).await {
        Ok(Some((list, false, false))) => {
            if let Err(e) = state.api.store.undo_opt_out(person, Some(list.id)).await {
                return unavailable(&state, &viewer, e);
            }
            Redirect::to(&format!("/me?ok=again&list={}", list.id)).into_response()
        }
        Ok(_) => not_list(&state, &viewer),
        Err(e) => unavailable(&state, &viewer, e),
    }
}

/// POST /me/lists/{id}/join: join a list that takes members by request (`self_subscribe`).
pub async fn join(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<String>,
) -> Response {
    let Some(session) = &viewer.session else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    match own_list(&state, session.person_id, &id).await {
        Ok(Some((list, false, true))) => {
            let now = state.api.clock.now_ms();
            // Checked again as the mail join does: the list may have changed its mind.
            match state.api.store.group(list.id).await {
                Ok(Some(g)) if crate::unsubscribe::join_refusal(&g).is_none() => {}
                Ok(_) => {
                    let t = Me::get(viewer.lang);
                    return frame::error(
                        &state,
                        viewer.lang,
                        ErrorPage::Refused(StatusCode::FORBIDDEN, t.no_join.into()),
                    );
                }
                Err(e) => return unavailable(&state, &viewer, e),
            }
            let store = &state.api.store;
            let done = async {
                store.add_member(list.id, session.person_id, now).await?;
                store.undo_opt_out(session.person_id, Some(list.id)).await
            }
            .await;
            if let Err(e) = done {
                return unavailable(&state, &viewer, e);
            }
            Redirect::to(&format!("/me?ok=joined&list={}", list.id)).into_response()
        }
        Ok(_) => not_list(&state, &viewer),
        Err(e) => unavailable(&state, &viewer, e),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct PauseForm {
    #[serde(default)]
    until: String,
    #[serde(default)]
    resume: String,
}

/// POST /me/pause: pause all list mail until a day, or (`resume`) end the pause.
pub async fn pause(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebForm(form): WebForm<PauseForm>,
) -> Response {
    let Some(person) = me_person(&viewer) else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    let now = state.api.clock.now_ms();
    let until = if form.resume.is_empty() {
        match digest::parse_pause(&form.until, digest::day_of(now)) {
            Ok(d) => Some(d),
            Err(_) => {
                let t = Me::get(viewer.lang);
                return me_page(
                    &state,
                    &viewer,
                    None,
                    Some(t.bad_date.into()),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        }
    } else {
        None
    };
    if let Err(e) = digest::set_pause(&state.api.store, person, until, now).await {
        return unavailable(&state, &viewer, e);
    }
    Redirect::to(if until.is_some() {
        "/me?ok=paused"
    } else {
        "/me?ok=resumed"
    })
    .into_response()
}

#[derive(Debug, Deserialize, Default)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

/// POST /me/name.
pub async fn set_name(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebForm(form): WebForm<NameForm>,
) -> Response {
    let Some(person) = me_person(&viewer) else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    let name = form.name.trim();
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        let t = Me::get(viewer.lang);
        return me_page(
            &state,
            &viewer,
            None,
            Some(t.name_too_long.into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let name = (!name.is_empty()).then_some(name);
    let now = state.api.clock.now_ms();
    match state
        .api
        .store
        .update_person(person, None, Some(name), now)
        .await
    {
        Ok(()) => Redirect::to("/me?ok=name").into_response(),
        Err(e) => unavailable(&state, &viewer, e),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DuplicatesForm {
    /// The checkbox: present ("on") when ticked, absent otherwise.
    #[serde(default)]
    duplicates: Option<String>,
}

/// POST /me/duplicates: whether the list's copy comes also of posts addressed to the person
/// directly (the person setting `receive_duplicates`, which lists with
/// `skip_addressed_members` honour).
pub async fn set_duplicates(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebForm(form): WebForm<DuplicatesForm>,
) -> Response {
    let Some(person) = me_person(&viewer) else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    let on = form.duplicates.is_some();
    match state.api.store.set_receive_duplicates(person, on).await {
        Ok(()) if on => Redirect::to("/me?ok=duplicates-on").into_response(),
        Ok(()) => Redirect::to("/me?ok=duplicates-off").into_response(),
        Err(e) => unavailable(&state, &viewer, e),
    }
}

fn key_hash(email: &str) -> String {
    let digest = sha2::Sha256::digest(email.to_lowercase().as_bytes());
    B64.encode(&digest[..12])
}

/// The token in an address-change link: the person, until when, which address it replaces
/// (hashed: the link names only the new address) and the new address.
fn address_token(state: &WebState, person: i64, old: &str, new: &str, expires: i64) -> String {
    let payload = format!(
        "{person}.{expires}.{}.{}",
        key_hash(old),
        B64.encode(new.as_bytes())
    );
    state.signer.seal(ADDRESS_PURPOSE, &payload)
}

/// (person, old address hash, new address) of a valid, unexpired token.
fn open_address_token(state: &WebState, token: &str, now: i64) -> Option<(i64, String, String)> {
    let payload = state.signer.open(ADDRESS_PURPOSE, token).ok()?;
    let mut parts = payload.splitn(4, '.');
    let person: i64 = parts.next()?.parse().ok()?;
    let expires: i64 = parts.next()?.parse().ok()?;
    let old = parts.next()?.to_string();
    let new = String::from_utf8(B64.decode(parts.next()?).ok()?).ok()?;
    (expires >= now).then_some((person, old, new))
}

#[derive(Debug, Deserialize, Default)]
pub struct AddressForm {
    #[serde(default)]
    email: String,
}

async fn queue_mail(
    state: &WebState,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), crate::store::StoreError> {
    let post = system_post(
        state.signin.sender(),
        state.api.clock.now_ms(),
        to,
        subject,
        body,
    );
    state.api.store.insert_accepted(&[post], &[], &[]).await?;
    state.api.queue_wake.notify_one();
    Ok(())
}

/// POST /me/address: mails a confirmation link to the new address.
pub async fn change_address(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebForm(form): WebForm<AddressForm>,
) -> Response {
    let t = Me::get(viewer.lang);
    let Some(session) = &viewer.session else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    let typed = form.email.trim();
    let problem = |text: String| async {
        me_page(
            &state,
            &viewer,
            None,
            Some(text),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await
    };
    let Ok(new) = EmailAddress::parse(typed) else {
        return problem(t.address_invalid.replace("{email}", typed)).await;
    };
    let store = &state.api.store;
    let current = match store.person_detail(session.person_id).await {
        Ok(Some(d)) => d.email,
        Ok(None) => return frame::error(&state, viewer.lang, ErrorPage::SignedOut),
        Err(e) => return unavailable(&state, &viewer, e),
    };
    if new.key() == current.to_lowercase() {
        return problem(t.address_same.into()).await;
    }
    match store.account_of_person(session.person_id).await {
        Ok(Some(_)) => return problem(t.address_admin.into()).await,
        Ok(None) => {}
        Err(e) => return unavailable(&state, &viewer, e),
    }
    match store.find_person(&new).await {
        Ok(Some(_)) => return problem(t.address_taken.into()).await,
        Ok(None) => {}
        Err(e) => return unavailable(&state, &viewer, e),
    }
    let now = state.api.clock.now_ms();
    let expires = now + ADDRESS_LINK_HOURS * 3_600_000;
    let token = address_token(
        &state,
        session.person_id,
        &current,
        &new.to_string(),
        expires,
    );
    let link = format!("{}/me/address/{token}", state.origin);
    let hours = ADDRESS_LINK_HOURS.to_string();
    let fill = |s: &str| {
        s.replace("{site}", &state.site_name)
            .replace("{old}", &current)
            .replace("{email}", &new.to_string())
            .replace("{hours}", &hours)
            .replace("{link}", &link)
    };
    if let Err(e) = queue_mail(
        &state,
        &new.to_string(),
        &fill(t.address_mail_subject),
        &fill(t.address_mail_body),
    )
    .await
    {
        return unavailable(&state, &viewer, e);
    }
    tracing::info!(person = session.person_id, "address change link mailed");
    render(
        StatusCode::OK,
        &MessagePage {
            l: Layout::new(&state, &viewer, t.address_sent_title),
            message: fill(t.address_sent),
        },
    )
}

fn bad_address_link(state: &WebState, viewer: &Viewer) -> Response {
    let t = Me::get(viewer.lang);
    render(
        StatusCode::GONE,
        &MessagePage {
            l: Layout::new(state, viewer, t.address_change),
            message: t.address_link_bad.into(),
        },
    )
}

/// The link's person and new address, if it still applies (the address it replaces is still
/// the person's).
async fn address_link(
    state: &WebState,
    token: &str,
) -> Result<Option<(i64, String, String)>, crate::store::StoreError> {
    let now = state.api.clock.now_ms();
    let Some((person, old_hash, new)) = open_address_token(state, token, now) else {
        return Ok(None);
    };
    let Some(detail) = state.api.store.person_detail(person).await? else {
        return Ok(None);
    };
    Ok((key_hash(&detail.email) == old_hash).then_some((person, detail.email, new)))
}

/// GET /me/address/{token}: a button (mail scanners follow links; only the POST changes).
pub async fn confirm_address(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(token): WebPath<String>,
) -> Response {
    let t = Me::get(viewer.lang);
    match address_link(&state, &token).await {
        Ok(Some((_, _, new))) => render(
            StatusCode::OK,
            &ConfirmPage {
                l: Layout::new(
                    &state,
                    &viewer,
                    t.address_confirm_title.replace("{email}", &new),
                ),
                text: t.address_confirm_title.replace("{email}", &new),
                button: t.address_confirm_button,
            },
        ),
        Ok(None) => bad_address_link(&state, &viewer),
        Err(e) => unavailable(&state, &viewer, e),
    }
}

/// POST /me/address/{token}: the address changes; the old one is told; sessions end.
pub async fn confirmed_address(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(token): WebPath<String>,
) -> Response {
    let t = Me::get(viewer.lang);
    let (person, old, new) = match address_link(&state, &token).await {
        Ok(Some(x)) => x,
        Ok(None) => return bad_address_link(&state, &viewer),
        Err(e) => return unavailable(&state, &viewer, e),
    };
    let Ok(address) = EmailAddress::parse(&new) else {
        return bad_address_link(&state, &viewer);
    };
    let store = &state.api.store;
    match store.account_of_person(person).await {
        Ok(None) => {}
        Ok(Some(_)) => return bad_address_link(&state, &viewer),
        Err(e) => return unavailable(&state, &viewer, e),
    }
    let now = state.api.clock.now_ms();
    match store.update_person(person, Some(&address), None, now).await {
        Ok(()) => {}
        Err(crate::store::StoreError::Conflict(_)) => {
            return render(
                StatusCode::CONFLICT,
                &MessagePage {
                    l: Layout::new(&state, &viewer, t.address_change),
                    message: t.address_taken.into(),
                },
            );
        }
        Err(e) => return unavailable(&state, &viewer, e),
    }
    let fill = |s: &str| {
        s.replace("{site}", &state.site_name)
            .replace("{old}", &old)
            .replace("{email}", &new)
    };
    if let Err(e) = queue_mail(
        &state,
        &old,
        &fill(t.address_old_subject),
        &fill(t.address_old_body),
    )
    .await
    {
        // The change is made; the notice is the only thing missing.
        tracing::error!(error = %e, "cannot tell the old address of a change");
    }
    tracing::info!(person, "address changed by the member");
    render(
        StatusCode::OK,
        &MessagePage {
            l: Layout::new(&state, &viewer, t.address_changed_title),
            message: fill(t.address_changed),
        },
    )
}

/// GET /me/export: everything stored about the person, as a JSON download.
pub async fn export(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
) -> Response {
    let Some(person) = me_person(&viewer) else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    let mut data = match crate::admin::gdpr::export(&state.api.store, person).await {
        Ok(d) => d,
        Err(e) => return unavailable(&state, &viewer, format!("{e:?}")),
    };
    if let (Some(obj), Ok(modes), Ok(pause)) = (
        data.as_object_mut(),
        digest::modes_of(&state.api.store, person).await,
        digest::pause_of(&state.api.store, person).await,
    ) {
        obj.insert(
            "delivery".into(),
            serde_json::json!({ "modes": modes, "pause": pause }),
        );
    }
    let body = serde_json::to_vec_pretty(&data).unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"my-data.json\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The address an unsubscribe link is for (its token), if it is valid.
fn link_address(state: &WebState, token: &str) -> Option<EmailAddress> {
    let links = crate::unsubscribe::Links::new(state.signer.clone(), &state.origin);
    let who = links.open(token, state.api.clock.now_ms()).ok()?;
    EmailAddress::parse(&who.address).ok()
}

/// GET /me/manage/{token}: from an unsubscribe page, a button that mails a sign-in link to the
/// link's address.
pub async fn manage(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(token): WebPath<String>,
) -> Response {
    let t = Me::get(viewer.lang);
    if link_address(&state, &token).is_none() {
        return render(
            StatusCode::NOT_FOUND,
            &MessagePage {
                l: Layout::new(&state, &viewer, t.manage_title),
                message: t.manage_bad.into(),
            },
        );
    }
    render(
        StatusCode::OK,
        &ConfirmPage {
            l: Layout::new(&state, &viewer, t.manage_title),
            text: t.manage_intro.into(),
            button: t.manage_button,
        },
    )
}

/// POST /me/manage/{token}: mails the sign-in link (through the sign-in's limits).
pub async fn manage_mail(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    Extension(client): Extension<ClientIp>,
    WebPath(token): WebPath<String>,
) -> Response {
    let t = Me::get(viewer.lang);
    let Some(address) = link_address(&state, &token) else {
        return render(
            StatusCode::NOT_FOUND,
            &MessagePage {
                l: Layout::new(&state, &viewer, t.manage_title),
                message: t.manage_bad.into(),
            },
        );
    };
    match state
        .signin
        .request(&address, &client.key, Some("/me"), viewer.lang.code())
        .await
    {
        Ok(crate::signin::Requested::Accepted) => render(
            StatusCode::OK,
            &MessagePage {
                l: Layout::new(&state, &viewer, t.manage_title),
                message: t.manage_sent.into(),
            },
        ),
        Ok(crate::signin::Requested::Limited) => frame::error(
            &state,
            viewer.lang,
            ErrorPage::Refused(
                StatusCode::TOO_MANY_REQUESTS,
                super::texts::Common::get(viewer.lang).signin_limited.into(),
            ),
        ),
        Err(e) => unavailable(&state, &viewer, e),
    }
}
