//! What every page shares: the frame ([`Layout`]: site name, navigation, who is signed in, the
//! language switch, the form token), rendering, the error pages, the static files, and the
//! security headers every HTTP answer carries.

use askama::Template;
use axum::{
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{
    WebState,
    gate::Viewer,
    pages::{self, Audience},
    texts::{Common, Lang},
};
use crate::http::api::authz;

/// The Content-Security-Policy of every answer: nothing from elsewhere, no inline script or
/// style, no framing, forms only to us.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub const STYLE: &str = include_str!("../../../static/style.css");
pub const SCRIPT: &str = include_str!("../../../static/app.js");

/// A short content hash, so a new version of a static file gets a new address.
fn version(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The addresses of the stylesheet and the script (worked out once).
pub fn asset_paths() -> &'static (String, String) {
    static PATHS: std::sync::LazyLock<(String, String)> = std::sync::LazyLock::new(|| {
        (
            format!("/static/style.css?v={}", version(STYLE)),
            format!("/static/app.js?v={}", version(SCRIPT)),
        )
    });
    &PATHS
}

/// The security headers, on every answer of the HTTP listener (pages, API, static files);
/// with an https `public_url` (`secure`), HSTS too.
pub async fn security_headers(
    axum::extract::State(secure): axum::extract::State<bool>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if secure {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

/// A link in the navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// A choice in the language switch.
#[derive(Debug, Clone)]
pub struct LangChoice {
    pub code: &'static str,
    pub name: &'static str,
    pub current: bool,
}

/// The frame of a page.
pub struct Layout {
    pub site: String,
    pub title: String,
    pub lang: &'static str,
    pub csrf: String,
    pub c: &'static Common,
    /// The signed-in person's address.
    pub who: Option<String>,
    pub nav: Vec<NavItem>,
    pub langs: Vec<LangChoice>,
    /// A line saying what the last action did.
    pub notice: Option<String>,
    pub path: String,
    pub css: String,
    pub js: String,
}

impl Layout {
    pub fn new(state: &WebState, viewer: &Viewer, title: impl Into<String>) -> Layout {
        let c = Common::get(viewer.lang);
        let mut l = Layout::bare(state, viewer.lang, title);
        l.csrf = viewer.csrf.clone();
        l.who = viewer.session.as_ref().map(|s| s.email.clone());
        l.path = viewer.path.clone();
        if let Some(caller) = &viewer.caller {
            l.nav = admin_nav(c, &caller.access, &viewer.path);
        }
        l
    }

    /// A frame without a viewer (error pages before anyone is known).
    pub fn bare(state: &WebState, lang: Lang, title: impl Into<String>) -> Layout {
        let (css, js) = (state.assets.0.clone(), state.assets.1.clone());
        Layout {
            site: state.site_name.clone(),
            title: title.into(),
            lang: lang.code(),
            csrf: String::new(),
            c: Common::get(lang),
            who: None,
            nav: Vec::new(),
            langs: Lang::ALL
                .into_iter()
                .map(|l| LangChoice {
                    code: l.code(),
                    name: l.name(),
                    current: l == lang,
                })
                .collect(),
            notice: None,
            path: "/".into(),
            css,
            js,
        }
    }

    pub fn with_notice(mut self, notice: Option<String>) -> Layout {
        self.notice = notice;
        self
    }
}

/// The administrators' navigation: the pages that exist and that `access` may open.
fn admin_nav(
    c: &'static Common,
    access: &crate::admin::access::Access,
    current: &str,
) -> Vec<NavItem> {
    let items: [(&'static str, &'static str); 8] = [
        ("/admin", c.nav_overview),
        ("/admin/groups", c.nav_groups),
        ("/admin/moderation", c.nav_moderation),
        ("/admin/people", c.nav_people),
        ("/admin/import", c.nav_import),
        ("/admin/accounts", c.nav_accounts),
        ("/admin/audit", c.nav_audit),
        ("/admin/queue", c.nav_queue),
    ];
    items
        .into_iter()
        .filter(|(href, _)| {
            pages::spec("get", href).is_some_and(|p| {
                p.audience == Audience::Admin
                    && p.api_spec()
                        .is_some_and(|api| authz::permits(access, api, None))
            })
        })
        .map(|(href, label)| NavItem {
            href,
            label,
            current: current == href || (href != "/admin" && current.starts_with(href)),
        })
        .collect()
}

/// The page `t` as an answer with `status`.
pub fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be drawn");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be drawn",
            )
                .into_response()
        }
    }
}

/// Why a page cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorPage {
    /// Unknown, or outside the viewer's scopes: the same page either way.
    NotFound,
    Forbidden(String),
    /// A POST without our form token, or from another site.
    Csrf,
    /// A POST after the session ended.
    SignedOut,
    /// Signed in, but the address has no active administrator account.
    NoAccount(String),
    Unavailable,
    /// Another refusal, with the API's words.
    Refused(StatusCode, String),
}

impl ErrorPage {
    pub fn from_api(status: StatusCode, message: String) -> ErrorPage {
        match status {
            StatusCode::NOT_FOUND => ErrorPage::NotFound,
            StatusCode::FORBIDDEN => ErrorPage::Forbidden(message),
            s if s.is_server_error() => ErrorPage::Unavailable,
            s => ErrorPage::Refused(s, message),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    l: Layout,
    message: String,
}

/// The page for `page`, in `lang`.
pub fn error(state: &WebState, lang: Lang, page: ErrorPage) -> Response {
    let c = Common::get(lang);
    let (status, title, message) = match page {
        ErrorPage::NotFound => (StatusCode::NOT_FOUND, c.not_found_title, c.not_found.into()),
        ErrorPage::Forbidden(m) => (StatusCode::FORBIDDEN, c.forbidden_title, m),
        ErrorPage::Csrf => (StatusCode::FORBIDDEN, c.refused_title, c.csrf.into()),
        ErrorPage::SignedOut => (
            StatusCode::FORBIDDEN,
            c.refused_title,
            c.signed_out_post.into(),
        ),
        ErrorPage::NoAccount(email) => (
            StatusCode::FORBIDDEN,
            c.no_account_title,
            c.no_account.replace("{email}", &email),
        ),
        ErrorPage::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            c.unavailable_title,
            c.unavailable.into(),
        ),
        ErrorPage::Refused(s, m) => (s, c.refused_title, m),
    };
    render(
        status,
        &ErrorTemplate {
            l: Layout::bare(state, lang, title),
            message,
        },
    )
}

/// Dates and times as the pages show them (UTC).
pub fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
