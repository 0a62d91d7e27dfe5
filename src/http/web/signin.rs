//! Sign-in pages: ask for a link (`/signin`), open it (`GET /signin/{token}`: a button, never a
//! sign-in: mail scanners follow links), press the button (`POST`: the session starts), sign out;
//! the home page; the language switch.

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    WebState,
    extract::{WebForm, WebPath, WebQuery},
    frame::{self, Layout, render},
    gate::{ClientIp, Viewer, cookie_names, set_cookie},
    own_page,
    texts::{Common, Lang},
};
use crate::{
    model::address::EmailAddress,
    signin::{LinkState, Requested},
};

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage {
    l: Layout,
    next: String,
    address: String,
    /// A sentence above the form (why it is shown again).
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    l: Layout,
    message: String,
}

#[derive(Template)]
#[template(path = "signin_confirm.html")]
struct ConfirmPage {
    l: Layout,
}

/// A link on the home page.
struct Door {
    href: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    doors: Vec<Door>,
}

#[derive(Debug, Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct SigninForm {
    #[serde(default)]
    address: String,
    #[serde(default)]
    next: String,
}

fn signin_page(
    state: &WebState,
    viewer: &Viewer,
    next: &str,
    address: &str,
    message: Option<String>,
) -> SigninPage {
    SigninPage {
        l: Layout::new(state, viewer, Common::get(viewer.lang).signin_title),
        next: if own_page(next) {
            next.into()
        } else {
            String::new()
        },
        address: address.into(),
        message,
    }
}

/// GET /: the sign-in form, or where a signed-in person can go.
pub async fn home(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
) -> Response {
    let Some(session) = &viewer.session else {
        return render(StatusCode::OK, &signin_page(&state, &viewer, "", "", None));
    };
    let l = Layout::new(&state, &viewer, state.site_name.clone());
    let c = l.c;
    let mut doors = Vec::new();
    if viewer.caller.is_some() {
        doors.push(Door {
            href: "/admin",
            label: c.home_admin,
        });
    }
    doors.push(Door {
        href: "/archives",
        label: super::archive::texts::ArchiveTexts::get(viewer.lang).door,
    });
    doors.push(Door {
        href: "/me",
        label: super::me::texts::Me::get(viewer.lang).door,
    });
    doors.push(Door {
        href: "/account",
        label: c.account,
    });
    let l = l.with_notice(Some(c.welcome.replace("{email}", &session.email)));
    render(StatusCode::OK, &HomePage { l, doors })
}

/// GET /signin: the form.
pub async fn form(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebQuery(q): WebQuery<NextQuery>,
) -> Response {
    render(
        StatusCode::OK,
        &signin_page(&state, &viewer, &q.next, "", None),
    )
}

/// POST /signin: mail a link if the address is known; the same answer either way.
pub async fn request(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    Extension(client): Extension<ClientIp>,
    WebForm(form): WebForm<SigninForm>,
) -> Response {
    let c = Common::get(viewer.lang);
    let typed = form.address.trim();
    let Ok(address) = EmailAddress::parse(typed) else {
        let message = c.signin_invalid_address.replace("{email}", typed);
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &signin_page(&state, &viewer, &form.next, typed, Some(message)),
        );
    };
    let next = own_page(&form.next).then_some(form.next.as_str());
    match state
        .signin
        .request(&address, &client.key, next, viewer.lang.code())
        .await
    {
        Ok(Requested::Accepted) => {
            let minutes = (state.signin.settings().link_lifetime.as_secs() / 60)
                .max(1)
                .to_string();
            let message = c
                .signin_sent
                .replace("{email}", &address.to_string())
                .replace("{minutes}", &minutes);
            render(
                StatusCode::OK,
                &MessagePage {
                    l: Layout::new(&state, &viewer, c.signin_sent_title),
                    message,
                },
            )
        }
        Ok(Requested::Limited) => render(
            StatusCode::TOO_MANY_REQUESTS,
            &signin_page(
                &state,
                &viewer,
                &form.next,
                typed,
                Some(c.signin_limited.into()),
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot take a sign-in request");
            frame::error(&state, viewer.lang, frame::ErrorPage::Unavailable)
        }
    }
}

/// The page for a link that cannot be used, offering a new one.
fn spent(state: &WebState, viewer: &Viewer, why: &str) -> Response {
    render(
        StatusCode::GONE,
        &signin_page(state, viewer, "", "", Some(why.to_string())),
    )
}

fn link_problem(state: &WebState, viewer: &Viewer, link: LinkState) -> Response {
    let c = Common::get(viewer.lang);
    match link {
        LinkState::Used => spent(state, viewer, c.signin_used),
        LinkState::Expired => spent(state, viewer, c.signin_expired),
        _ => render(
            StatusCode::NOT_FOUND,
            &signin_page(state, viewer, "", "", Some(c.signin_unknown.into())),
        ),
    }
}

/// GET /signin/{token}: a button; changes nothing.
pub async fn confirm(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(token): WebPath<String>,
) -> Response {
    match state.signin.peek(&token).await {
        Ok(LinkState::Valid(link)) => {
            let c = Common::get(viewer.lang);
            let l = Layout::new(
                &state,
                &viewer,
                c.signin_confirm_title.replace("{email}", &link.email),
            );
            render(StatusCode::OK, &ConfirmPage { l })
        }
        Ok(other) => link_problem(&state, &viewer, other),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a sign-in link");
            frame::error(&state, viewer.lang, frame::ErrorPage::Unavailable)
        }
    }
}

/// POST /signin/{token}: spends the link, starts the session, goes on.
pub async fn redeem(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    Extension(client): Extension<ClientIp>,
    WebPath(token): WebPath<String>,
    headers: HeaderMap,
) -> Response {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let started = match state
        .signin
        .redeem(&token, Some(&client.shown), agent)
        .await
    {
        Ok(Some(s)) => s,
        Ok(None) => {
            return match state.signin.peek(&token).await {
                Ok(link) => link_problem(&state, &viewer, link),
                Err(_) => frame::error(&state, viewer.lang, frame::ErrorPage::Unavailable),
            };
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot start a session");
            return frame::error(&state, viewer.lang, frame::ErrorPage::Unavailable);
        }
    };
    // A session this browser had before ends: one person per browser.
    if let Some(old) = &viewer.session
        && let Err(e) = state.signin.sign_out(old.person_id, old.id).await
    {
        tracing::warn!(error = %e, "cannot end the session replaced by a sign-in");
    }
    let to = started
        .next_path
        .filter(|p| own_page(p))
        .unwrap_or_else(|| "/".into());
    let names = cookie_names(state.secure);
    let mut response = Redirect::to(&to).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state.secure, names.session, &started.cookie, None),
    );
    response
}

/// POST /signout: ends this browser's session.
pub async fn sign_out(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
) -> Response {
    if let Some(s) = &viewer.session
        && let Err(e) = state.signin.sign_out(s.person_id, s.id).await
    {
        tracing::error!(error = %e, "cannot end a session");
        return frame::error(&state, viewer.lang, frame::ErrorPage::Unavailable);
    }
    let names = cookie_names(state.secure);
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state.secure, names.session, "", Some(0)),
    );
    response
}

#[derive(Debug, Deserialize, Default)]
pub struct LanguageForm {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    back: String,
}

/// POST /language: remembers the language (a cookie), back to the page.
pub async fn language(
    State(state): State<WebState>,
    WebForm(form): WebForm<LanguageForm>,
) -> Response {
    let lang = Lang::parse(&form.lang).unwrap_or_default();
    let back = if own_page(&form.back) {
        form.back.as_str()
    } else {
        "/"
    };
    let names = cookie_names(state.secure);
    let mut response = Redirect::to(back).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state.secure, names.lang, lang.code(), Some(365 * 86_400)),
    );
    response
}
