//! The one table of web pages: for each, who may open it — and for the administrators' pages,
//! **the API route whose access rule it shares** (`http::api::routes::ROUTES`). A page is a
//! front end over that route: it is checked by the same rule before it runs (out of every scope:
//! the same 404 page as an unknown address) and it reads and changes data by calling the API
//! in-process ([`super::client`]), so the rules, the validation and the audit log are the API's.
//! The router registers handlers against this table (a handler without a row, or a row without
//! a handler, stops the server at start-up) and the authorization tests walk it.

/// Who a page is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone, signed in or not (sign-in itself).
    Public,
    /// Anyone signed in (their own things only).
    Person,
    /// A signed-in person with an active administrator account, allowed by the page's API rule.
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpec {
    /// `get` or `post`.
    pub method: &'static str,
    pub path: &'static str,
    pub audience: Audience,
    /// For [`Audience::Admin`]: the API route (method, path under `/api/v1`) whose access rule
    /// decides who may use the page. `{id}` in both paths is the same object.
    pub api: Option<(&'static str, &'static str)>,
}

impl PageSpec {
    /// The API route this page fronts.
    pub fn api_spec(&self) -> Option<&'static crate::http::api::routes::RouteSpec> {
        let (method, path) = self.api?;
        crate::http::api::routes::spec(method, path)
    }
}

use Audience::*;

const fn page(method: &'static str, path: &'static str, audience: Audience) -> PageSpec {
    PageSpec {
        method,
        path,
        audience,
        api: None,
    }
}

const fn admin(
    method: &'static str,
    path: &'static str,
    api_method: &'static str,
    api_path: &'static str,
) -> PageSpec {
    PageSpec {
        method,
        path,
        audience: Admin,
        api: Some((api_method, api_path)),
    }
}

/// Sign-in, sign-out, language, the account page.
const SIGNIN: &[PageSpec] = &[
    page("get", "/", Public),
    page("get", "/signin", Public),
    page("post", "/signin", Public),
    page("get", "/signin/{token}", Public),
    page("post", "/signin/{token}", Public),
    page("post", "/signout", Public),
    page("post", "/language", Public),
    page("get", "/account", Person),
    page("post", "/account/sessions/{id}/end", Person),
    page("post", "/account/sessions/end-all", Person),
    admin("post", "/account/tokens", "post", "/me/tokens"),
    admin(
        "post",
        "/account/tokens/{id}/revoke",
        "delete",
        "/me/tokens/{id}",
    ),
];

/// The administrators' pages: overview, groups, a group, rules, recipients, list settings.
const ADMIN: &[PageSpec] = &[
    admin("get", "/admin", "get", "/me"),
    admin("get", "/admin/groups", "get", "/groups"),
];

/// The administrators' pages: moderation, people, import, accounts and grants, audit, queue.
const ADMIN_OPS: &[PageSpec] = &[];

/// The archives.
const ARCHIVES: &[PageSpec] = &[];

/// The members' own pages.
const MEMBERS: &[PageSpec] = &[
    page("get", "/me", Person),
    page("post", "/me/lists/{id}/mode", Person),
    page("post", "/me/lists/{id}/leave", Person),
    page("post", "/me/lists/{id}/again", Person),
    page("post", "/me/lists/{id}/join", Person),
    page("post", "/me/pause", Person),
    page("post", "/me/name", Person),
    page("post", "/me/address", Person),
    page("get", "/me/address/{token}", Public),
    page("post", "/me/address/{token}", Public),
    page("get", "/me/export", Person),
    page("get", "/me/manage/{token}", Public),
    page("post", "/me/manage/{token}", Public),
];

/// Every page, one table in sections (each area keeps its rows together).
pub const SECTIONS: &[&[PageSpec]] = &[SIGNIN, ADMIN, ADMIN_OPS, ARCHIVES, MEMBERS];

/// Every row of the table.
pub fn all() -> impl Iterator<Item = &'static PageSpec> {
    SECTIONS.iter().flat_map(|s| s.iter())
}

/// The row for a page, if any.
pub fn spec(method: &str, path: &str) -> Option<&'static PageSpec> {
    all().find(|s| s.method.eq_ignore_ascii_case(method) && s.path == path)
}
