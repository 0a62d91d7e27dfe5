//! `/account`: where the signed-in person is signed in (sign out there, or everywhere), their
//! roles, and — for administrators — their API tokens (made here, shown once, revoked here;
//! through the API's `/me/tokens`, so it is the same operation with the same audit entry).

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension,
    extract::State,
    http::{Method, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    WebState,
    extract::{WebForm, WebPath, WebQuery},
    frame::{self, ErrorPage, Layout, render, when},
    gate::{Viewer, cookie_names, set_cookie},
    texts::Common,
};
use crate::admin::access::Scope;

struct SessionRow {
    id: i64,
    this: bool,
    started: String,
    seen: String,
    from: String,
    agent: String,
}

struct TokenRow {
    id: i64,
    name: String,
    made: String,
    used: String,
}

struct RoleRow {
    role: &'static str,
    scope: String,
    via: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    l: Layout,
    sessions: Vec<SessionRow>,
    admin: bool,
    roles: Vec<RoleRow>,
    tokens: Vec<TokenRow>,
    /// A token just made: what to say about it, and the secret, shown this once.
    new_token: Option<(String, String)>,
}

#[derive(Debug, Deserialize)]
struct Token {
    id: i64,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Tokens {
    tokens: Vec<Token>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    ok: String,
}

async fn page(
    state: &WebState,
    viewer: &Viewer,
    notice: Option<String>,
    new_token: Option<(String, String)>,
) -> Response {
    let c = Common::get(viewer.lang);
    let Some(me) = &viewer.session else {
        return frame::error(state, viewer.lang, ErrorPage::SignedOut);
    };
    let sessions = match state.signin.sessions(me.person_id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot list sessions");
            return frame::error(state, viewer.lang, ErrorPage::Unavailable);
        }
    };
    let sessions = sessions
        .iter()
        .map(|s| SessionRow {
            id: s.id,
            this: s.id == me.id,
            started: when(s.created_at),
            seen: when(s.last_seen_at),
            from: s.client.clone().unwrap_or_default(),
            agent: s.user_agent.clone().unwrap_or_default(),
        })
        .collect();
    let mut roles = Vec::new();
    let mut tokens = Vec::new();
    if let Some(caller) = &viewer.caller {
        roles = caller
            .access
            .permissions
            .iter()
            .map(|p| RoleRow {
                role: p.role.as_str(),
                scope: match &p.scope {
                    Scope::Organisation => c.role_scope_org.to_string(),
                    Scope::Groups { root, .. } => format!("group {root}"),
                },
                via: p.via.clone(),
            })
            .collect();
        if let Some(api) = state.api_as(viewer) {
            match api.get::<Tokens>("/me/tokens").await {
                Ok(t) => {
                    tokens = t
                        .tokens
                        .into_iter()
                        .filter(|t| t.revoked_at.is_none())
                        .map(|t| TokenRow {
                            id: t.id,
                            name: t.name,
                            made: when(t.created_at),
                            used: t.last_used_at.map(when).unwrap_or(c.token_never.into()),
                        })
                        .collect()
                }
                Err(f) => {
                    return frame::error(
                        state,
                        viewer.lang,
                        ErrorPage::from_api(f.status, f.message),
                    );
                }
            }
        }
    }
    let status = if new_token.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    render(
        status,
        &AccountPage {
            l: Layout::new(state, viewer, c.account_title).with_notice(notice),
            sessions,
            admin: viewer.caller.is_some(),
            roles,
            tokens,
            new_token,
        },
    )
}

/// GET /account.
pub async fn show(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebQuery(done): WebQuery<Done>,
) -> Response {
    let c = Common::get(viewer.lang);
    let notice = match done.ok.as_str() {
        "session-ended" => Some(c.session_ended.to_string()),
        "token-revoked" => Some(c.token_revoked.to_string()),
        _ => None,
    };
    page(&state, &viewer, notice, None).await
}

fn signed_out(state: &WebState) -> Response {
    let names = cookie_names(state.secure);
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state.secure, names.session, "", Some(0)),
    );
    response
}

/// POST /account/sessions/{id}/end: signs out one of one's own sessions.
pub async fn end_session(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let Some(me) = &viewer.session else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    match state.signin.sign_out(me.person_id, id).await {
        Ok(_) if id == me.id => signed_out(&state),
        Ok(true) => Redirect::to("/account?ok=session-ended").into_response(),
        Ok(false) => frame::error(&state, viewer.lang, ErrorPage::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "cannot end a session");
            frame::error(&state, viewer.lang, ErrorPage::Unavailable)
        }
    }
}

/// POST /account/sessions/end-all: signs out everywhere, this browser included.
pub async fn end_all(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
) -> Response {
    let Some(me) = &viewer.session else {
        return frame::error(&state, viewer.lang, ErrorPage::SignedOut);
    };
    match state
        .signin
        .sign_out_everywhere(me.person_id, &me.email)
        .await
    {
        Ok(_) => signed_out(&state),
        Err(e) => {
            tracing::error!(error = %e, "cannot end sessions");
            frame::error(&state, viewer.lang, ErrorPage::Unavailable)
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
struct NewToken {
    name: String,
    token: String,
}

/// POST /account/tokens: makes a token and shows it, once.
pub async fn create_token(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebForm(form): WebForm<TokenForm>,
) -> Response {
    let Some(api) = state.api_as(&viewer) else {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    };
    match api
        .send::<NewToken>(
            Method::POST,
            "/me/tokens",
            Some(json!({ "name": form.name })),
        )
        .await
    {
        Ok(t) => {
            let said = Common::get(viewer.lang)
                .token_new
                .replace("{name}", &t.name);
            page(&state, &viewer, None, Some((said, t.token))).await
        }
        Err(f) if f.status == StatusCode::UNPROCESSABLE_ENTITY => {
            page(&state, &viewer, Some(f.message), None).await
        }
        Err(f) => frame::error(
            &state,
            viewer.lang,
            ErrorPage::from_api(f.status, f.message),
        ),
    }
}

/// POST /account/tokens/{id}/revoke.
pub async fn revoke_token(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let Some(api) = state.api_as(&viewer) else {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    };
    match api
        .send::<serde_json::Value>(Method::DELETE, &format!("/me/tokens/{id}"), None)
        .await
    {
        Ok(_) => Redirect::to("/account?ok=token-revoked").into_response(),
        Err(f) => frame::error(
            &state,
            viewer.lang,
            ErrorPage::from_api(f.status, f.message),
        ),
    }
}
