//! The web pages: one sign-in by mail link ([`signin`]) shared by the administrators' interface
//! ([`admin`]), the archives and the members' own page; the account page ([`account`]).
//!
//! Server-rendered HTML from askama templates (`templates/`, checked at compile time, escaping
//! by default); usable without JavaScript (`static/app.js` only adds conveniences); one
//! stylesheet (`static/style.css`); nothing loaded from elsewhere. Every page is a row of
//! [`pages::all`]; [`gate`] runs before each (session, language, CSRF, access); the
//! administrators' pages are a front end over the admin API, which they call in-process as the
//! signed-in account ([`client`]) — one route table, one set of rules, one audit log.

pub mod account;
#[macro_use]
pub mod admin;
pub mod admin_ops;
pub mod archive;
pub mod client;
pub mod extract;
pub mod frame;
pub mod gate;
pub mod me;
pub mod pages;
pub mod signin;
pub mod texts;

use std::net::IpAddr;

use axum::{
    Router,
    extract::Request,
    handler::Handler,
    middleware,
    routing::{MethodFilter, get, on},
};

use crate::{http::api::ApiState, signin::Signin, tokens::Signer};

/// What the pages share.
#[derive(Clone)]
pub struct WebState {
    pub signin: Signin,
    pub api: ApiState,
    /// The admin API's router, for in-process calls.
    pub api_router: Router,
    /// The link key: CSRF tokens are MACs with it.
    pub signer: Signer,
    /// `http.public_url` is https: cookies are `Secure` and `__Host-`.
    pub secure: bool,
    /// `http.public_url`'s origin (`https://lists.example.org`).
    pub origin: String,
    pub site_name: String,
    pub trusted_proxies: Vec<IpAddr>,
    /// The stylesheet's and the script's addresses.
    pub assets: (String, String),
}

impl WebState {
    /// The API as the signed-in account of `viewer` (pages of [`pages::Audience::Admin`] only
    /// run with one).
    pub fn api_as(&self, viewer: &gate::Viewer) -> Option<client::Api> {
        viewer
            .caller
            .as_ref()
            .map(|c| client::Api::new(self.api_router.clone(), c.clone()))
    }
}

/// The origin (`scheme://host[:port]`) of a URL.
pub fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => url.trim_end_matches('/').to_string(),
    }
}

/// Registers page handlers against [`pages::all`], each behind [`gate::gate`].
struct Registry {
    router: Router<WebState>,
    state: WebState,
    registered: Vec<&'static pages::PageSpec>,
}

impl Registry {
    fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, WebState>,
        T: 'static,
    {
        let spec = pages::spec(method, path)
            .unwrap_or_else(|| panic!("{method} {path} has no row in web::pages::all()"));
        if let Some((api_method, api_path)) = spec.api {
            assert!(
                spec.api_spec().is_some(),
                "{method} {path} fronts {api_method} {api_path}, which is no API route"
            );
            // The gate checks the API rule on the page's `{id}`: it must be the same object.
            assert_eq!(
                api_path.contains("{id}"),
                path.contains("{id}"),
                "{method} {path} and {api_method} {api_path} must both name {{id}}, or neither"
            );
        }
        let filter = match method {
            "get" => MethodFilter::GET,
            "post" => MethodFilter::POST,
            other => panic!("pages are GET or POST, not {other}"),
        };
        let layer = middleware::from_fn_with_state((self.state.clone(), spec), gate::gate);
        self.router = self
            .router
            .route(path, on(filter, handler).route_layer(layer));
        self.registered.push(spec);
        self
    }

    fn finish(self) -> Router<WebState> {
        for spec in pages::all() {
            assert!(
                self.registered.contains(&spec),
                "{} {} is in web::pages::all() but has no handler",
                spec.method,
                spec.path
            );
        }
        self.router
    }
}

pub fn router(state: WebState) -> Router {
    let pages = Registry {
        router: Router::new(),
        state: state.clone(),
        registered: Vec::new(),
    }
    .add("get", "/", signin::home)
    .add("get", "/signin", signin::form)
    .add("post", "/signin", signin::request)
    .add("get", "/signin/{token}", signin::confirm)
    .add("post", "/signin/{token}", signin::redeem)
    .add("post", "/signout", signin::sign_out)
    .add("post", "/language", signin::language)
    .add("get", "/account", account::show)
    .add("post", "/account/sessions/{id}/end", account::end_session)
    .add("post", "/account/sessions/end-all", account::end_all)
    .add("post", "/account/tokens", account::create_token)
    .add("post", "/account/tokens/{id}/revoke", account::revoke_token)
    .add("get", "/admin", admin::overview)
    .add("get", "/admin/groups", admin::groups)
    .add("post", "/admin/groups", admin::group::create)
    .add("get", "/admin/groups/{id}", admin::group::show)
    .add("post", "/admin/groups/{id}", admin::group::update)
    .add(
        "post",
        "/admin/groups/{id}/activate",
        admin::group::activate,
    )
    .add(
        "post",
        "/admin/groups/{id}/deactivate",
        admin::group::deactivate,
    )
    .add(
        "post",
        "/admin/groups/{id}/members",
        admin::group::add_member,
    )
    .add(
        "post",
        "/admin/groups/{id}/members/{person}/change",
        admin::group::change_member,
    )
    .add(
        "post",
        "/admin/groups/{id}/members/{person}/remove",
        admin::group::remove_member,
    )
    .add("post", "/admin/groups/{id}/copy", admin::group::copy_term)
    .add(
        "post",
        "/admin/groups/{id}/subgroups",
        admin::group::add_subgroup,
    )
    .add(
        "post",
        "/admin/groups/{id}/subgroups/{child}/remove",
        admin::group::remove_subgroup,
    )
    .add("get", "/admin/groups/{id}/rule", admin::rule::show)
    .add("post", "/admin/groups/{id}/rule", admin::rule::save)
    .add("post", "/admin/groups/{id}/rule/count", admin::rule::count)
    .add(
        "post",
        "/admin/groups/{id}/rule/remove",
        admin::rule::remove,
    )
    .add(
        "get",
        "/admin/groups/{id}/recipients",
        admin::lists::recipients,
    )
    .add("get", "/admin/groups/{id}/opt-outs", admin::lists::opt_outs)
    .add("get", "/admin/groups/{id}/bounces", admin::lists::bounces)
    .add(
        "post",
        "/admin/groups/{id}/bounces/{person}/enable",
        admin::lists::reenable,
    )
    .add("get", "/admin/groups/{id}/settings", admin::settings::show)
    .add("post", "/admin/groups/{id}/settings", admin::settings::save)
    .add("get", "/admin/groups/{id}/archive", admin::archive::show)
    // An mbox upload is streamed on to the API, which enforces `http.max_mbox_upload`.
    .add(
        "post",
        "/admin/groups/{id}/archive",
        admin::archive::upload.layer(axum::extract::DefaultBodyLimit::disable()),
    )
    .add(
        "get",
        "/admin/groups/{id}/archive/imports/{import}",
        admin::archive::import,
    )
    .add(
        "get",
        "/admin/groups/{id}/archive/imports/{import}/progress",
        admin::archive::progress,
    );
    // Each area adds its pages (its rows of `pages`) here.
    let pages = admin_ops_pages(pages);
    let pages = archive_pages(pages);
    let pages = member_pages(pages);
    let pages = pages.finish();
    pages
        .route("/static/style.css", get(frame::style))
        .route("/static/app.js", get(frame::script))
        .with_state(state)
}

/// The administrators' pages for moderation, people, import, accounts, audit and the queue.
fn admin_ops_pages(pages: Registry) -> Registry {
    use admin_ops::{accounts, import, log, moderation, people};
    // A CSV upload is larger than a form: its own body limit.
    let upload = import::upload.layer(axum::extract::DefaultBodyLimit::max(import::MAX_UPLOAD));
    pages
        .add("get", "/admin/moderation", moderation::list)
        .add("post", "/admin/moderation/decide", moderation::decide_many)
        .add("get", "/admin/moderation/{id}", moderation::show)
        .add(
            "post",
            "/admin/moderation/{id}/decide",
            moderation::decide_one,
        )
        .add("get", "/admin/people", people::search)
        .add("get", "/admin/people/{id}", people::show)
        .add("get", "/admin/people/{id}/export", people::export)
        .add("get", "/admin/people/{id}/erase", people::erase_form)
        .add("post", "/admin/people/{id}/erase", people::erase)
        .add("get", "/admin/import", import::form)
        .add("post", "/admin/import", upload)
        .add("get", "/admin/import/{id}", import::show)
        .add("get", "/admin/import/{id}/progress", import::progress)
        .add("post", "/admin/import/{id}/run", import::run)
        .add("get", "/admin/accounts", accounts::list)
        .add("post", "/admin/accounts", accounts::create)
        .add(
            "post",
            "/admin/accounts/{id}/deactivate",
            accounts::deactivate,
        )
        .add(
            "post",
            "/admin/accounts/{id}/reactivate",
            accounts::reactivate,
        )
        .add("post", "/admin/grants", accounts::grant)
        .add("post", "/admin/grants/{id}/withdraw", accounts::withdraw)
        .add("get", "/admin/audit", log::audit)
        .add("get", "/admin/queue", log::queue)
        .add("post", "/admin/queue/act", log::act)
}

/// The archives' pages.
fn archive_pages(pages: Registry) -> Registry {
    pages
        .add("get", "/archives", archive::lists)
        .add("get", "/archives/{list}", archive::list)
        .add("get", "/archives/{list}/search", archive::search)
        .add("get", "/archives/{list}/month/{month}", archive::month)
        .add(
            "get",
            "/archives/{list}/month/{month}/mbox",
            archive::month_mbox,
        )
        .add("get", "/archives/{list}/thread/{thread}", archive::thread)
        .add(
            "get",
            "/archives/{list}/thread/{thread}/mbox",
            archive::thread_mbox,
        )
        .add("get", "/archives/{list}/message/{key}", archive::message)
        .add(
            "get",
            "/archives/{list}/message/{key}/part/{n}",
            archive::attachment,
        )
}

/// The members' own pages.
fn member_pages(pages: Registry) -> Registry {
    pages
        .add("get", "/me", me::show)
        .add("post", "/me/lists/{id}/mode", me::set_mode)
        .add("post", "/me/lists/{id}/leave", me::leave)
        .add("post", "/me/lists/{id}/again", me::again)
        .add("post", "/me/lists/{id}/join", me::join)
        .add("post", "/me/pause", me::pause)
        .add("post", "/me/name", me::set_name)
        .add("post", "/me/duplicates", me::set_duplicates)
        .add("post", "/me/address", me::change_address)
        .add("get", "/me/address/{token}", me::confirm_address)
        .add("post", "/me/address/{token}", me::confirmed_address)
        .add("get", "/me/export", me::export)
        .add("get", "/me/manage/{token}", me::manage)
        .add("post", "/me/manage/{token}", me::manage_mail)
}

/// The answer to an address that is no page: the same page as a page outside one's scopes.
pub async fn not_found(
    axum::extract::State(state): axum::extract::State<WebState>,
    request: Request,
) -> axum::response::Response {
    let lang = gate::language(&state, request.headers());
    frame::error(&state, lang, frame::ErrorPage::NotFound)
}

/// Whether `path` is the address of one of our GET pages for signed-in people, or the home page
/// (for "sign in, then go back there" and the language switch: we only ever send people to our
/// own pages, and never to a sign-in page — a chain of two sign-in links could swap a session).
pub fn own_page(path: &str) -> bool {
    if path.len() > 300 || !path.starts_with('/') || path.starts_with("//") {
        return false;
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    if query.chars().any(|c| c.is_control() || c == '\\') {
        return false;
    }
    let segments: Vec<&str> = path.split('/').collect();
    pages::all().any(|p| {
        p.method == "get"
            && (p.audience != pages::Audience::Public
                || p.path == "/"
                || p.path.starts_with("/archives"))
            && {
                let pattern: Vec<&str> = p.path.split('/').collect();
                pattern.len() == segments.len()
                    && pattern.iter().zip(&segments).all(|(want, have)| {
                        if want.starts_with('{') {
                            !have.is_empty()
                                && have
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || "-_.~%".contains(c))
                        } else {
                            want == have
                        }
                    })
            }
    })
}

#[cfg(test)]
mod tests {
    use super::own_page;

    #[test]
    fn only_our_own_pages_are_places_to_go_back_to() {
        assert!(own_page("/"));
        assert!(own_page("/admin"));
        assert!(own_page("/admin/groups?q=board"));
        assert!(own_page("/account"));
        assert!(!own_page("//evil.example/admin"));
        assert!(!own_page("https://evil.example/"));
        assert!(!own_page("/\\evil.example"));
        assert!(!own_page("/nowhere"));
        assert!(!own_page("/signout")); // a POST only
        assert!(!own_page("admin"));
        assert!(!own_page("/signin"));
        assert!(!own_page("/signin/cs_someone_elses_link"));
        assert!(own_page("/archives/3/thread/17"));
    }
}
