//! A list's settings (docs/list-settings.md): every setting with its help text, grouped (who may
//! post, moderation, how a list mail looks, leaving and joining), and a preview of the From,
//! Reply-To and Subject a member would see.

use std::{collections::HashMap, sync::Arc};

use askama::Template;
use axum::{
    Extension,
    extract::State,
    http::{Method, StatusCode},
    response::Response,
};
use serde_json::{Map, Value, json};

use super::{
    Done, Groups,
    group::{GroupDetail, Tabs, load},
    refused, see_other,
    texts::AdminTexts,
};
use crate::{
    http::web::{
        WebState,
        extract::{WebForm, WebPath, WebQuery},
        frame::{self, ErrorPage, Layout, render},
        gate::Viewer,
    },
    model::list_settings::{FromMode, ListSettings},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Select(&'static [&'static str]),
    Text,
    Number,
    Area,
    Check,
    /// One address a line.
    Lines,
    /// Group ids, chosen from the groups in scope.
    Groups,
}

const ACTIONS: &[&str] = &["hold", "accept", "reject", "discard"];

/// The settings in their sections: (section, [(setting, kind)]).
const SECTIONS: &[(usize, &[(&str, Kind)])] = &[
    (
        0,
        &[
            (
                "who_may_post",
                Kind::Select(&["members", "anyone", "managers"]),
            ),
            ("post_groups", Kind::Groups),
            ("allowed_senders", Kind::Lines),
            ("posts_per_hour", Kind::Number),
            ("max_message_size", Kind::Number),
            ("max_recipients", Kind::Number),
        ],
    ),
    (
        1,
        &[
            ("member_action", Kind::Select(ACTIONS)),
            ("nonmember_action", Kind::Select(ACTIONS)),
            (
                "dmarc_fail_action",
                Kind::Select(&["hold", "reject", "discard", "accept"]),
            ),
            ("hold_days", Kind::Number),
        ],
    ),
    (
        2,
        &[
            (
                "from_mode",
                Kind::Select(&["auto", "as_written", "via_group", "group"]),
            ),
            (
                "reply_to",
                Kind::Select(&["author", "list", "both", "fixed"]),
            ),
            ("reply_to_address", Kind::Text),
            ("to_mode", Kind::Select(&["as_written", "recipient"])),
            ("subject_prefix", Kind::Text),
            ("header_text", Kind::Area),
            ("footer_text", Kind::Area),
            ("language", Kind::Select(&["en", "de", "sv"])),
            ("archive_url", Kind::Text),
            ("help_url", Kind::Text),
            ("skip_addressed_members", Kind::Check),
            ("author_receives_own", Kind::Check),
        ],
    ),
    (
        3,
        &[
            ("unsubscribe_links", Kind::Check),
            ("unsubscribe_footer", Kind::Check),
            ("self_subscribe", Kind::Check),
        ],
    ),
];

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One setting as the form shows it.
pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    /// select, text, number, area, check, groups
    pub kind: &'static str,
    pub value: String,
    pub checked: bool,
    pub options: Vec<Opt>,
}

pub struct SectionView {
    pub title: &'static str,
    pub fields: Vec<FieldView>,
}

/// A header line of the preview: (label, value, whether the list changed it).
pub struct PreviewLine {
    pub label: &'static str,
    pub value: String,
    pub changed: bool,
}

pub struct Preview {
    pub case: &'static str,
    pub lines: Vec<PreviewLine>,
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    l: Layout,
    t: &'static AdminTexts,
    tabs: Tabs,
    g: GroupDetail,
    sections: Vec<SectionView>,
    previews: Vec<Preview>,
    edit: bool,
}

fn section_title(t: &'static AdminTexts, i: usize) -> &'static str {
    match i {
        0 => t.sec_posting,
        1 => t.sec_moderation,
        2 => t.sec_looks,
        _ => t.sec_leaving,
    }
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| shown(Some(x)))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
    }
}

fn sections(
    t: &'static AdminTexts,
    settings: &Value,
    groups: &[(i64, String)],
) -> Vec<SectionView> {
    SECTIONS
        .iter()
        .map(|(i, fields)| SectionView {
            title: section_title(t, *i),
            fields: fields
                .iter()
                .map(|(name, kind)| {
                    let v = settings.get(*name);
                    let (label, help) = t.setting(name);
                    let (kind_name, options) = match kind {
                        Kind::Select(values) => (
                            "select",
                            values
                                .iter()
                                .map(|o| Opt {
                                    value: o.to_string(),
                                    label: t.option(o).to_string(),
                                    selected: v.and_then(Value::as_str) == Some(*o),
                                })
                                .collect(),
                        ),
                        Kind::Groups => {
                            let chosen: Vec<i64> = v
                                .and_then(Value::as_array)
                                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                                .unwrap_or_default();
                            (
                                "groups",
                                groups
                                    .iter()
                                    .map(|(id, n)| Opt {
                                        value: id.to_string(),
                                        label: n.clone(),
                                        selected: chosen.contains(id),
                                    })
                                    .collect(),
                            )
                        }
                        Kind::Text => ("text", Vec::new()),
                        Kind::Number => ("number", Vec::new()),
                        Kind::Area | Kind::Lines => ("area", Vec::new()),
                        Kind::Check => ("check", Vec::new()),
                    };
                    FieldView {
                        name,
                        label,
                        help,
                        kind: kind_name,
                        value: shown(v),
                        checked: v.and_then(Value::as_bool).unwrap_or(false),
                        options,
                    }
                })
                .collect(),
        })
        .collect()
}

/// Header values as a reader sees them (encoded words decoded).
fn readable(name: &str, value: &str) -> String {
    let raw = format!("{name}: {value}\r\n\r\n");
    let Some(m) = mail_parser::MessageParser::default().parse(raw.as_bytes()) else {
        return value.to_string();
    };
    if name == "Subject" {
        return m.subject().unwrap_or(value).to_string();
    }
    let list = if name == "From" {
        m.from()
    } else {
        m.reply_to()
    };
    list.map(|l| {
        l.iter()
            .map(|a| match (a.name(), a.address()) {
                (Some(n), Some(x)) => format!("{n} <{x}>"),
                (None, Some(x)) => format!("<{x}>"),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    })
    .filter(|s| !s.is_empty())
    .unwrap_or_else(|| value.to_string())
}

/// What a member would see of a reply by Ana to the list, under `settings`.
fn previews(t: &'static AdminTexts, settings: &Value, g: &GroupDetail) -> Vec<Preview> {
    let Ok(s) = ListSettings::from_json(settings.clone()) else {
        return Vec::new();
    };
    let list = g
        .address
        .clone()
        .unwrap_or_else(|| "list@example.org".into());
    let from = "Ana Andersson <ana@example.org>";
    let subject = "Re: Meeting on Tuesday";
    let raw = format!("From: {from}\r\nSubject: {subject}\r\nTo: {list}\r\n\r\nHello\r\n");
    let Some(message) = mail_parser::MessageParser::default().parse(raw.as_bytes()) else {
        return Vec::new();
    };
    let cases: Vec<(&'static str, bool)> = match s.from_mode {
        FromMode::Auto => vec![(t.preview_plain, false), (t.preview_dmarc, true)],
        FromMode::ViaGroup => vec![(t.preview_any, true)],
        FromMode::AsWritten | FromMode::Group => vec![(t.preview_any, false)],
    };
    cases
        .into_iter()
        .map(|(case, munge)| {
            let d = crate::rewrite::display::display(&message, &s, &g.name, &list, munge);
            let line = |label, v: Option<String>, name: &str, original: &str| match v {
                Some(v) => PreviewLine {
                    label,
                    value: readable(name, &v),
                    changed: true,
                },
                None => PreviewLine {
                    label,
                    value: original.to_string(),
                    changed: false,
                },
            };
            Preview {
                case,
                lines: vec![
                    line(t.h_from, d.from, "From", from),
                    line(t.h_reply_to, d.reply_to, "Reply-To", t.preview_none),
                    line(t.h_subject, d.subject, "Subject", subject),
                ],
            }
        })
        .collect()
}

async fn draw(state: &WebState, viewer: &Viewer, id: i64, notice: Option<String>) -> Response {
    let api = api_or_404!(state, viewer);
    let t = AdminTexts::get(viewer.lang);
    let g = match load(state, viewer, &api, id).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let settings = match api.get::<Value>(&format!("/groups/{id}/settings")).await {
        Ok(s) => s,
        Err(f) => return refused(state, viewer, f),
    };
    let mut groups: Vec<(i64, String)> = match api.get::<Groups>("/groups").await {
        Ok(all) => all.groups.into_iter().map(|g| (g.id, g.name)).collect(),
        Err(f) => return refused(state, viewer, f),
    };
    groups.sort_by_key(|(_, n)| n.to_lowercase());
    // A group named in post_groups but outside the viewer's scopes stays chosen, unnamed.
    if let Some(chosen) = settings.get("post_groups").and_then(Value::as_array) {
        for id in chosen.iter().filter_map(Value::as_i64) {
            if !groups.iter().any(|(g, _)| *g == id) {
                groups.push((id, format!("#{id}")));
            }
        }
    }
    let edit = super::may(viewer, "put", "/groups/{id}/settings", Some(id));
    let title = format!("{} · {}", g.name, t.tab_settings);
    render(
        StatusCode::OK,
        &SettingsPage {
            l: Layout::new(state, viewer, title).with_notice(notice),
            t,
            tabs: Tabs::new(t, id, "/settings"),
            sections: sections(t, &settings, &groups),
            previews: previews(t, &settings, &g),
            g,
            edit,
        },
    )
}

/// GET /admin/groups/{id}/settings
pub async fn show(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebQuery(done): WebQuery<Done>,
) -> Response {
    let t = AdminTexts::get(viewer.lang);
    draw(&state, &viewer, id, done.notice(t)).await
}

/// The settings a submitted form says (every setting: the API replaces them as a whole).
fn settings_of(form: &[(String, String)]) -> Result<Value, String> {
    let mut by: HashMap<&str, Vec<&str>> = HashMap::new();
    for (k, v) in form {
        by.entry(k.as_str()).or_default().push(v.as_str());
    }
    let one = |k: &str| {
        by.get(k)
            .and_then(|v| v.first())
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let mut out = Map::new();
    for (_, fields) in SECTIONS {
        for (name, kind) in fields.iter() {
            let value = match kind {
                Kind::Select(_) => match one(name) {
                    Some(v) => json!(v),
                    None => continue,
                },
                Kind::Text | Kind::Area => json!(one(name)),
                Kind::Number => match one(name) {
                    Some(v) => match v.parse::<u64>() {
                        Ok(n) => json!(n),
                        Err(_) => return Err(format!("{name}: {v:?} is not a whole number")),
                    },
                    None if *name == "hold_days" => continue,
                    None => Value::Null,
                },
                Kind::Check => json!(one(name).is_some()),
                Kind::Lines => json!(
                    one(name)
                        .unwrap_or("")
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                ),
                Kind::Groups => {
                    let mut ids = Vec::new();
                    for v in by.get(name).into_iter().flatten() {
                        match v.trim().parse::<i64>() {
                            Ok(n) => ids.push(n),
                            Err(_) => return Err(format!("{name}: {v:?} is not a group")),
                        }
                    }
                    json!(ids)
                }
            };
            out.insert(name.to_string(), value);
        }
    }
    Ok(Value::Object(out))
}

/// POST /admin/groups/{id}/settings
pub async fn save(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebForm(form): WebForm<Vec<(String, String)>>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let body = match settings_of(&form) {
        Ok(b) => b,
        Err(e) => {
            return frame::error(
                &state,
                viewer.lang,
                ErrorPage::Refused(StatusCode::UNPROCESSABLE_ENTITY, e),
            );
        }
    };
    match api
        .send::<Value>(Method::PUT, &format!("/groups/{id}/settings"), Some(body))
        .await
    {
        Ok(_) => see_other(&format!("/admin/groups/{id}/settings?done=saved")),
        Err(f) => refused(&state, &viewer, f),
    }
}
