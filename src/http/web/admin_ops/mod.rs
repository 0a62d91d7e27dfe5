//! The administrators' operations pages: moderation ([`moderation`]), people ([`people`]),
//! import ([`import`]), accounts and grants ([`accounts`]), the audit log and the delivery queue
//! ([`log`]). Like every administrators' page, each is a row of `web::pages::all()` naming the
//! API route whose rule it shares, reads and changes data only through the API in-process
//! (`api_or_404!`), and shows a button only where [`super::admin::may`] says the same rule
//! allows it. Changes are POSTs with the form token, answered by a 303 to a fixed page of ours
//! that says what was done.

pub mod accounts;
pub mod import;
pub mod log;
pub mod moderation;
pub mod people;
pub mod texts;

use std::collections::HashMap;

use axum::response::{IntoResponse, Redirect, Response};

use super::{WebState, client::Api};
use crate::http::api::{authz, routes};

/// The fields of a URL-encoded form, in order, repeated names kept (checkboxes).
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` in a form.
pub(crate) fn field<'f>(pairs: &'f [(String, String)], name: &str) -> Option<&'f str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A 303 to one of our own pages (a fixed path with our own query).
pub(crate) fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// The names of the groups the viewer can see, by id (for tables that name groups): the
/// groups `GET /groups` would list for the same account (its access rule, then the caller's
/// visible groups), named from the in-memory directory. The whole groups list (every group's
/// address, rule and member count, 2,000 groups) only to name two of them cost more than the
/// page around it.
pub(crate) async fn group_names(state: &WebState, api: &Api) -> HashMap<i64, String> {
    let access = &api.caller().access;
    if !routes::spec("get", "/groups").is_some_and(|spec| authz::permits(access, spec, None)) {
        return HashMap::new();
    }
    let dir = match state.api.resolver.directory().await {
        Ok(dir) => dir,
        Err(e) => {
            tracing::warn!(error = %e, "reading the directory for group names failed");
            return HashMap::new();
        }
    };
    let visible = access.visible_groups();
    dir.group_names()
        .filter(|(id, _)| visible.as_ref().is_none_or(|v| v.contains(id)))
        .map(|(id, name)| (id, name.to_string()))
        .collect()
}

/// `{n}` and friends filled in.
pub(crate) fn fill(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (k, v) in pairs {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// Whether a queue id or similar can be put into a path as it is.
pub(crate) fn path_safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}
