//! The rule editor: conditions in rows (all / any of them), or the rule as JSON for the nested
//! ones; "Count" asks the API how many people the rule would match without saving it (a plain
//! form POST, so it works without JavaScript; `static/app.js` asks the same on every change and
//! shows the count as it changes).

use std::{collections::HashMap, sync::Arc};

use askama::Template;
use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Done,
    group::{GroupDetail, Tabs, load},
    refused, see_other,
    texts::AdminTexts,
};
use crate::http::web::{
    WebState,
    extract::{WebForm, WebPath, WebQuery},
    frame::{self, ErrorPage, Layout, render},
    gate::Viewer,
};

/// Rows the editor offers at most.
const MAX_ROWS: usize = 8;

pub const FIELDS: &[&str] = &[
    "status",
    "membership_type",
    "team",
    "service",
    "profile_type",
    "joined",
    "left",
];
pub const OPS: &[&str] = &[
    "equals",
    "not_equals",
    "in",
    "not_in",
    "within_last_months",
    "more_than_months_ago",
];

/// One condition as the form shows it.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub field: String,
    pub op: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
struct Fields {
    fields: Vec<FieldName>,
}

#[derive(Debug, Deserialize)]
struct FieldName {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Count {
    matches: i64,
    rule_text: String,
}

#[derive(Template)]
#[template(path = "admin/rule.html")]
struct RulePage {
    l: Layout,
    t: &'static AdminTexts,
    tabs: Tabs,
    g: GroupDetail,
    combine: String,
    rows: Vec<Row>,
    json: String,
    /// The rule is too nested for rows: only the JSON editor.
    nested: bool,
    fields: Vec<(String, String)>,
    ops: Vec<(&'static str, &'static str)>,
    /// "N people match", and the rule in words.
    count: Option<(String, String)>,
    problem: Option<String>,
    edit: bool,
    /// May ask for a count (a dry run needs a group manager of the whole organisation).
    count_ok: bool,
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn row_of(v: &Value) -> Option<Row> {
    let o = v.as_object()?;
    Some(Row {
        field: o.get("field")?.as_str()?.to_string(),
        op: o.get("op")?.as_str()?.to_string(),
        value: value_text(o.get("value")?),
    })
}

/// A stored rule as rows, when it is one condition or one level of all/any.
fn rows_of(rule: &Value) -> Option<(String, Vec<Row>)> {
    if let Some(r) = row_of(rule) {
        return Some(("all".into(), vec![r]));
    }
    let o = rule.as_object()?;
    let (combine, list) = o.iter().next()?;
    if o.len() != 1 || !["all", "any"].contains(&combine.as_str()) {
        return None;
    }
    let rows: Option<Vec<Row>> = list.as_array()?.iter().map(row_of).collect();
    Some((combine.clone(), rows?))
}

/// The rule the rows of a form make (`None`: no row filled in).
fn rule_of(form: &HashMap<String, String>) -> Result<Option<Value>, String> {
    if let Some(j) = form.get("json").map(|j| j.trim()).filter(|j| !j.is_empty()) {
        return serde_json::from_str::<Value>(j)
            .map(Some)
            .map_err(|e| format!("JSON: {e}"));
    }
    let mut conditions = Vec::new();
    for i in 0..MAX_ROWS {
        let get = |k: &str| {
            form.get(&format!("{k}{i}"))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let (field, op, value) = (get("field"), get("op"), get("value"));
        if field.is_empty() || value.is_empty() {
            continue;
        }
        let value = match op.as_str() {
            "in" | "not_in" => json!(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .collect::<Vec<_>>()
            ),
            "within_last_months" | "more_than_months_ago" => match value.parse::<u64>() {
                Ok(n) => json!(n),
                Err(_) => json!(value),
            },
            _ => json!(value),
        };
        conditions.push(json!({ "field": field, "op": op, "value": value }));
    }
    let combine = match form.get("combine").map(String::as_str) {
        Some("any") => "any",
        _ => "all",
    };
    Ok(match conditions.len() {
        0 => None,
        1 => conditions.pop(),
        _ => Some(json!({ combine: conditions })),
    })
}

fn form_rows(form: &HashMap<String, String>) -> Vec<Row> {
    (0..MAX_ROWS)
        .map(|i| {
            let get = |k: &str| form.get(&format!("{k}{i}")).cloned().unwrap_or_default();
            Row {
                field: get("field"),
                op: get("op"),
                value: get("value"),
            }
        })
        .filter(|r| !r.field.is_empty() && !r.value.trim().is_empty())
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn page(
    state: &WebState,
    viewer: &Viewer,
    id: i64,
    form: Option<&HashMap<String, String>>,
    count: Option<(String, String)>,
    problem: Option<String>,
    notice: Option<String>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let g = match load(state, viewer, &api, id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let custom = api
        .get::<Fields>("/fields")
        .await
        .map(|f| f.fields)
        .unwrap_or_default();
    let mut fields: Vec<(String, String)> = FIELDS
        .iter()
        .map(|f| (f.to_string(), field_label(t, f).to_string()))
        .collect();
    fields.extend(
        custom
            .into_iter()
            .map(|f| (format!("field:{}", f.name), f.name)),
    );
    let stored = g.rule.clone();
    let (combine, mut rows, json, nested) = match form {
        Some(f) => (
            f.get("combine").cloned().unwrap_or_else(|| "all".into()),
            form_rows(f),
            f.get("json").cloned().unwrap_or_else(|| {
                rule_of(f)
                    .ok()
                    .flatten()
                    .map(|r| serde_json::to_string_pretty(&r).unwrap_or_default())
                    .unwrap_or_default()
            }),
            false,
        ),
        None => {
            let json = stored
                .as_ref()
                .map(|r| serde_json::to_string_pretty(r).unwrap_or_default())
                .unwrap_or_default();
            match stored.as_ref().map(rows_of) {
                None => ("all".into(), Vec::new(), json, false),
                Some(Some((c, r))) => (c, r, json, false),
                Some(None) => ("all".into(), Vec::new(), json, true),
            }
        }
    };
    let want = (rows.len() + 2).clamp(3, MAX_ROWS);
    rows.resize(want.max(rows.len()), Row::default());
    let title = format!("{} · {}", g.name, t.tab_rule);
    let edit = super::may(viewer, "put", "/groups/{id}/rule", Some(id)) && !g.standard;
    render(
        StatusCode::OK,
        &RulePage {
            l: Layout::new(state, viewer, title).with_notice(notice),
            t,
            tabs: Tabs::new(t, id, "/rule"),
            g,
            combine,
            rows,
            json,
            nested,
            fields,
            ops: OPS.iter().map(|o| (*o, op_label(t, o))).collect(),
            count,
            problem,
            edit,
            count_ok: super::may(viewer, "post", "/groups/{id}/rule/dry-run", Some(id)),
        },
    )
}

pub fn field_label(t: &AdminTexts, f: &str) -> &'static str {
    match f {
        "status" => t.f_status,
        "membership_type" => t.f_membership_type,
        "team" => t.f_team,
        "service" => t.f_service,
        "profile_type" => t.f_profile_type,
        "joined" => t.f_joined,
        _ => t.f_left,
    }
}

pub fn op_label(t: &AdminTexts, o: &str) -> &'static str {
    match o {
        "equals" => t.op_equals,
        "not_equals" => t.op_not_equals,
        "in" => t.op_in,
        "not_in" => t.op_not_in,
        "within_last_months" => t.op_within,
        _ => t.op_more_than,
    }
}

/// GET /admin/groups/{id}/rule
pub async fn show(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebQuery(done): WebQuery<Done>,
) -> Response {
    let t = AdminTexts::get(viewer.lang);
    page(&state, &viewer, id, None, None, None, done.notice(t)).await
}

/// POST /admin/groups/{id}/rule/count: how many the rule in the form would match. A browser
/// gets the editor with the count; the page's script (`Accept: application/json`) just the count.
pub async fn count(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    headers: HeaderMap,
    WebForm(form): WebForm<HashMap<String, String>>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let result = match rule_of(&form) {
        Err(e) => Err(e),
        Ok(None) => Err(t.rule_empty.to_string()),
        Ok(Some(rule)) => api
            .send::<Count>(
                Method::POST,
                &format!("/groups/{id}/rule/dry-run"),
                Some(json!({ "rule": rule })),
            )
            .await
            .map_err(|f| {
                if f.status == StatusCode::NOT_FOUND || f.status.is_server_error() {
                    String::new()
                } else {
                    f.message
                }
            }),
    };
    if wants_json {
        let body = match &result {
            Ok(c) => json!({
                "matches": c.matches,
                "text": t.matches.replace("{n}", &c.matches.to_string()),
                "rule_text": c.rule_text,
            }),
            Err(e) => json!({ "error": e }),
        };
        return (StatusCode::OK, Json(body)).into_response();
    }
    match result {
        Ok(c) => {
            page(
                &state,
                &viewer,
                id,
                Some(&form),
                Some((
                    t.matches.replace("{n}", &c.matches.to_string()),
                    c.rule_text,
                )),
                None,
                None,
            )
            .await
        }
        Err(e) if e.is_empty() => frame::error(&state, viewer.lang, ErrorPage::NotFound),
        Err(e) => page(&state, &viewer, id, Some(&form), None, Some(e), None).await,
    }
}

/// POST /admin/groups/{id}/rule: saves the rule in the form.
pub async fn save(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebForm(form): WebForm<HashMap<String, String>>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let rule = match rule_of(&form) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return page(
                &state,
                &viewer,
                id,
                Some(&form),
                None,
                Some(t.rule_empty.into()),
                None,
            )
            .await;
        }
        Err(e) => return page(&state, &viewer, id, Some(&form), None, Some(e), None).await,
    };
    match api
        .send::<Value>(
            Method::PUT,
            &format!("/groups/{id}/rule"),
            Some(json!({ "rule": rule })),
        )
        .await
    {
        Ok(_) => see_other(&format!("/admin/groups/{id}/rule?done=rule")),
        Err(f) if f.status == StatusCode::UNPROCESSABLE_ENTITY => {
            page(
                &state,
                &viewer,
                id,
                Some(&form),
                None,
                Some(f.message),
                None,
            )
            .await
        }
        Err(f) => refused(&state, &viewer, f),
    }
}

/// POST /admin/groups/{id}/rule/remove
pub async fn remove(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    match api
        .send::<Value>(Method::DELETE, &format!("/groups/{id}/rule"), None)
        .await
    {
        Ok(_) => see_other(&format!("/admin/groups/{id}/rule?done=removed")),
        Err(f) => refused(&state, &viewer, f),
    }
}
