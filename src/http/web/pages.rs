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
    admin("get", "/admin", "get", "/overview"),
    admin("get", "/admin/groups", "get", "/groups"),
    admin("post", "/admin/groups", "post", "/groups"),
    admin("get", "/admin/groups/{id}", "get", "/groups/{id}/members"),
    admin("post", "/admin/groups/{id}", "patch", "/groups/{id}"),
    admin(
        "post",
        "/admin/groups/{id}/activate",
        "post",
        "/groups/{id}/activate",
    ),
    admin(
        "post",
        "/admin/groups/{id}/deactivate",
        "post",
        "/groups/{id}/deactivate",
    ),
    admin(
        "post",
        "/admin/groups/{id}/members",
        "post",
        "/groups/{id}/members",
    ),
    admin(
        "post",
        "/admin/groups/{id}/members/{person}/change",
        "patch",
        "/groups/{id}/members/{person}",
    ),
    admin(
        "post",
        "/admin/groups/{id}/members/{person}/remove",
        "delete",
        "/groups/{id}/members/{person}",
    ),
    admin(
        "post",
        "/admin/groups/{id}/copy",
        "post",
        "/groups/{id}/members/copy",
    ),
    admin(
        "post",
        "/admin/groups/{id}/subgroups",
        "post",
        "/groups/{id}/subgroups",
    ),
    admin(
        "post",
        "/admin/groups/{id}/subgroups/{child}/remove",
        "delete",
        "/groups/{id}/subgroups/{child}",
    ),
    admin("get", "/admin/groups/{id}/rule", "get", "/groups/{id}"),
    admin(
        "post",
        "/admin/groups/{id}/rule",
        "put",
        "/groups/{id}/rule",
    ),
    admin(
        "post",
        "/admin/groups/{id}/rule/count",
        "post",
        "/groups/{id}/rule/dry-run",
    ),
    admin(
        "post",
        "/admin/groups/{id}/rule/remove",
        "delete",
        "/groups/{id}/rule",
    ),
    admin(
        "get",
        "/admin/groups/{id}/recipients",
        "get",
        "/groups/{id}/recipients",
    ),
    admin(
        "get",
        "/admin/groups/{id}/opt-outs",
        "get",
        "/groups/{id}/opt-outs",
    ),
    admin(
        "get",
        "/admin/groups/{id}/bounces",
        "get",
        "/groups/{id}/bounces",
    ),
    admin(
        "post",
        "/admin/groups/{id}/bounces/{person}/enable",
        "post",
        "/groups/{id}/bounces/{person}/enable",
    ),
    admin(
        "get",
        "/admin/groups/{id}/settings",
        "get",
        "/groups/{id}/settings",
    ),
    admin(
        "post",
        "/admin/groups/{id}/settings",
        "put",
        "/groups/{id}/settings",
    ),
    admin(
        "get",
        "/admin/groups/{id}/archive",
        "get",
        "/groups/{id}/archive/imports",
    ),
    admin(
        "post",
        "/admin/groups/{id}/archive",
        "post",
        "/groups/{id}/archive/imports",
    ),
    admin(
        "get",
        "/admin/groups/{id}/archive/imports/{import}",
        "get",
        "/groups/{id}/archive/imports/{import}",
    ),
    admin(
        "get",
        "/admin/groups/{id}/archive/imports/{import}/progress",
        "get",
        "/groups/{id}/archive/imports/{import}",
    ),
];

/// The administrators' pages: moderation, people, import, accounts and grants, audit, queue.
/// The bulk moderation form fronts the list (every post in it is decided by its own API call,
/// under that post's rule); the queue's form names its post in the body, as the API's path does.
const ADMIN_OPS: &[PageSpec] = &[
    admin("get", "/admin/moderation", "get", "/moderation"),
    admin("post", "/admin/moderation/decide", "get", "/moderation"),
    admin("get", "/admin/moderation/{id}", "get", "/moderation/{id}"),
    admin(
        "post",
        "/admin/moderation/{id}/decide",
        "post",
        "/moderation/{id}/{action}",
    ),
    admin("get", "/admin/people", "get", "/people"),
    admin("get", "/admin/people/{id}", "get", "/people/{id}"),
    admin(
        "get",
        "/admin/people/{id}/export",
        "get",
        "/people/{id}/export",
    ),
    admin(
        "get",
        "/admin/people/{id}/erase",
        "get",
        "/people/{id}/erase",
    ),
    admin(
        "post",
        "/admin/people/{id}/erase",
        "post",
        "/people/{id}/erase",
    ),
    admin("get", "/admin/import", "get", "/import"),
    admin("post", "/admin/import", "post", "/import"),
    admin("get", "/admin/import/{id}", "get", "/import/{id}"),
    admin("get", "/admin/import/{id}/progress", "get", "/import/{id}"),
    admin("post", "/admin/import/{id}/run", "post", "/import/{id}/run"),
    admin("get", "/admin/accounts", "get", "/accounts"),
    admin("post", "/admin/accounts", "post", "/accounts"),
    admin(
        "post",
        "/admin/accounts/{id}/deactivate",
        "post",
        "/accounts/{id}/deactivate",
    ),
    admin(
        "post",
        "/admin/accounts/{id}/reactivate",
        "post",
        "/accounts/{id}/reactivate",
    ),
    admin("post", "/admin/grants", "post", "/grants"),
    admin(
        "post",
        "/admin/grants/{id}/withdraw",
        "delete",
        "/grants/{id}",
    ),
    admin("get", "/admin/audit", "get", "/audit"),
    admin("get", "/admin/queue", "get", "/queue"),
    admin(
        "post",
        "/admin/queue/act",
        "post",
        "/queue/{queue_id}/{action}",
    ),
];

/// The archives. `Public`: the handlers decide per list (`archive::access`): a public archive
/// for anyone, otherwise the people who receive the list now and administrators in scope;
/// anything else is the 404 of an unknown list (and without a session, the sign-in).
const ARCHIVES: &[PageSpec] = &[
    page("get", "/archives", Public),
    page("get", "/archives/{list}", Public),
    page("get", "/archives/{list}/search", Public),
    page("get", "/archives/{list}/month/{month}", Public),
    page("get", "/archives/{list}/month/{month}/mbox", Public),
    page("get", "/archives/{list}/thread/{thread}", Public),
    page("get", "/archives/{list}/thread/{thread}/mbox", Public),
    page("get", "/archives/{list}/message/{key}", Public),
    page("get", "/archives/{list}/message/{key}/part/{n}", Public),
];

/// The members' own pages.
const MEMBERS: &[PageSpec] = &[
    page("get", "/me", Person),
    page("post", "/me/lists/{id}/mode", Person),
    page("post", "/me/lists/{id}/leave", Person),
    page("post", "/me/lists/{id}/again", Person),
    page("post", "/me/lists/{id}/join", Person),
    page("post", "/me/pause", Person),
    page("post", "/me/name", Person),
    page("post", "/me/duplicates", Person),
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
