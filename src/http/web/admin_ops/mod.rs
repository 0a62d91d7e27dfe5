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
use serde::Deserialize;

use super::client::Api;

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

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GroupName {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Deserialize)]
struct GroupNames {
    groups: Vec<GroupName>,
}

/// The names of the groups the viewer can see, by id (for tables that name groups).
pub(crate) async fn group_names(api: &Api) -> HashMap<i64, String> {
    match api.get::<GroupNames>("/groups").await {
        Ok(g) => g.groups.into_iter().map(|g| (g.id, g.name)).collect(),
        Err(_) => HashMap::new(),
    }
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
