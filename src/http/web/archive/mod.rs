//! The archives' pages: the lists you may read → a list's months (and its search) → a month's
//! conversations → a conversation (quoted text folded) → a message, its attachments, and mbox
//! downloads of a month or a conversation (streamed).
//!
//! Every page and download asks [`crate::archive::access`] first; a list you may not read is
//! the same 404 page as one that does not exist, and someone not signed in is sent to sign in
//! for any archive that is not public (unknown lists too: no way to tell which exist).

pub mod texts;

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    WebState,
    extract::{WebPath, WebQuery},
    frame::{self, ErrorPage, Layout, render, when},
    gate::Viewer,
};
use crate::archive::{
    self,
    access::{Readable, Reader},
    store::{MboxOf, Query, Summary, ThreadRow},
    text::{self, Attachment, Block},
};
use texts::ArchiveTexts;

/// How deep a reply is drawn indented at most.
const MAX_DEPTH: usize = 8;

fn unavailable(state: &WebState, viewer: &Viewer, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "an archive page failed");
    frame::error(state, viewer.lang, ErrorPage::Unavailable)
}

/// The list, when the viewer may read its archive; otherwise the answer to give.
async fn open(state: &WebState, viewer: &Viewer, list: i64) -> Result<Readable, Response> {
    let reader = Reader {
        person_id: viewer.person_id(),
        caller: viewer.caller.as_deref(),
    };
    match archive::access::readable(&state.api.store, &state.api.resolver, reader, list).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) if viewer.session.is_none() => Err(Redirect::to(&super::client::with_query(
            "/signin",
            &[("next", &viewer.path)],
        ))
        .into_response()),
        Ok(None) => Err(frame::error(state, viewer.lang, ErrorPage::NotFound)),
        Err(e) => Err(unavailable(state, viewer, e)),
    }
}

/// A name and address as the page shows them.
fn who(t: &ArchiveTexts, s: &Summary, public: bool) -> String {
    if s.erased {
        return t.erased.to_string();
    }
    let address = if public {
        text::mask_address(&s.author_email)
    } else {
        s.author_email.clone()
    };
    match (s.author_name.is_empty(), address.is_empty()) {
        (false, false) => format!("{} <{address}>", s.author_name),
        (false, true) => s.author_name.clone(),
        (true, _) => address,
    }
}

fn subject_or(t: &ArchiveTexts, s: &str) -> String {
    if s.trim().is_empty() {
        t.no_subject.to_string()
    } else {
        s.to_string()
    }
}

pub struct ListRow {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub count: i64,
    pub last: String,
    pub public: bool,
}

#[derive(Template)]
#[template(path = "archive/lists.html")]
struct ListsPage {
    l: Layout,
    t: &'static ArchiveTexts,
    lists: Vec<ListRow>,
}

/// GET /archives: the lists whose archives the viewer may read.
pub async fn lists(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
) -> Response {
    let t = ArchiveTexts::get(viewer.lang);
    let reader = Reader {
        person_id: viewer.person_id(),
        caller: viewer.caller.as_deref(),
    };
    let readable = match archive::access::readable_lists(
        &state.api.store,
        &state.api.resolver,
        reader,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return unavailable(&state, &viewer, e),
    };
    let counts = match state.api.store.archive_counts().await {
        Ok(c) => c,
        Err(e) => return unavailable(&state, &viewer, e),
    };
    let lists = readable
        .into_iter()
        .map(|r| {
            let (count, last) = counts
                .iter()
                .find(|c| c.0 == r.group.id)
                .map(|c| (c.1, when(c.2)))
                .unwrap_or((0, String::new()));
            ListRow {
                id: r.group.id,
                name: r.group.name,
                address: match (&r.group.address, r.public) {
                    (Some(a), false) => a.clone(),
                    (Some(a), true) => text::mask_address(a),
                    (None, _) => String::new(),
                },
                count,
                last,
                public: r.public,
            }
        })
        .collect();
    render(
        StatusCode::OK,
        &ListsPage {
            l: Layout::new(&state, &viewer, t.lists_title),
            t,
            lists,
        },
    )
}

#[derive(Template)]
#[template(path = "archive/list.html")]
struct ListPage {
    l: Layout,
    t: &'static ArchiveTexts,
    id: i64,
    months: Vec<archive::store::Month>,
    q: SearchForm,
}

/// GET /archives/{list}: its months, and the search form.
pub async fn list(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let t = ArchiveTexts::get(viewer.lang);
    let r = match open(&state, &viewer, id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let months = match state.api.store.archive_months(id).await {
        Ok(m) => m,
        Err(e) => return unavailable(&state, &viewer, e),
    };
    render(
        StatusCode::OK,
        &ListPage {
            l: Layout::new(&state, &viewer, r.group.name.clone()),
            t,
            id,
            months,
            q: SearchForm::default(),
        },
    )
}

pub struct ThreadLine {
    pub id: i64,
    pub subject: String,
    pub author: String,
    pub date: String,
    pub count: i64,
    pub last: String,
}

fn thread_line(t: &ArchiveTexts, r: ThreadRow, public: bool) -> ThreadLine {
    ThreadLine {
        id: r.thread_id,
        subject: subject_or(t, &r.first.subject),
        author: who(t, &r.first, public),
        date: when(r.first.at),
        count: r.count,
        last: when(r.last_at),
    }
}

fn thread_lines(t: &ArchiveTexts, rows: Vec<ThreadRow>, public: bool) -> Vec<ThreadLine> {
    rows.into_iter()
        .map(|r| thread_line(t, r, public))
        .collect()
}

#[derive(Template)]
#[template(path = "archive/month.html")]
struct MonthPage {
    l: Layout,
    t: &'static ArchiveTexts,
    id: i64,
    month: String,
    threads: Vec<ThreadLine>,
}

/// GET /archives/{list}/month/{month}: the conversations with messages that month.
pub async fn month(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, month)): WebPath<(i64, String)>,
) -> Response {
    let t = ArchiveTexts::get(viewer.lang);
    if !archive::valid_month(&month) {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    }
    let r = match open(&state, &viewer, id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let rows = match state.api.store.archive_month(id, &month).await {
        Ok(rows) => rows,
        Err(e) => return unavailable(&state, &viewer, e),
    };
    render(
        StatusCode::OK,
        &MonthPage {
            l: Layout::new(&state, &viewer, format!("{} · {month}", r.group.name)),
            t,
            id,
            threads: thread_lines(t, rows, r.public),
            month,
        },
    )
}

pub struct BlockView {
    pub quote: bool,
    pub label: String,
    pub text: String,
}

pub struct MessageView {
    pub key: String,
    pub subject: String,
    pub author: String,
    pub date: String,
    /// Indentation in the conversation.
    pub depth: usize,
    pub blocks: Vec<BlockView>,
    /// Sanitised HTML (ammonia): shown as it is.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub thread_id: i64,
}

fn message_view(
    t: &ArchiveTexts,
    s: &Summary,
    raw: &[u8],
    public: bool,
    depth: usize,
) -> MessageView {
    let shown = mail_parser::MessageParser::new()
        .parse(raw)
        .map(|m| text::show(&m, public))
        .unwrap_or_default();
    MessageView {
        key: s.key.clone(),
        subject: subject_or(t, &s.subject),
        author: who(t, s, public),
        date: when(s.at),
        depth: depth.min(MAX_DEPTH),
        blocks: shown
            .blocks
            .into_iter()
            .map(|b| match b {
                Block::Text(text) => BlockView {
                    quote: false,
                    label: String::new(),
                    text,
                },
                Block::Quote(text, n) => BlockView {
                    quote: true,
                    label: t.quoted.replace("{n}", &n.to_string()),
                    text,
                },
            })
            .collect(),
        html: shown.html.filter(|h| !h.trim().is_empty()),
        attachments: shown.attachments,
        thread_id: s.thread_id,
    }
}

#[derive(Template)]
#[template(path = "archive/thread.html")]
struct ThreadPage {
    l: Layout,
    t: &'static ArchiveTexts,
    id: i64,
    thread_id: i64,
    month: String,
    messages: Vec<MessageView>,
}

/// GET /archives/{list}/thread/{thread}: the whole conversation, replies indented under what
/// they answer, quoted text folded.
pub async fn thread(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, thread_id)): WebPath<(i64, i64)>,
) -> Response {
    let t = ArchiveTexts::get(viewer.lang);
    let r = match open(&state, &viewer, id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let rows = match state.api.store.archive_thread(id, thread_id).await {
        Ok(rows) => rows,
        Err(e) => return unavailable(&state, &viewer, e),
    };
    let Some((first, _)) = rows.first() else {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    };
    let title = subject_or(t, &first.subject);
    let month = archive::month_of(first.at);
    // Depth of each message: its parent's depth + 1 (parents come first: they are older, or
    // the message came in after them).
    let mut depth: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let ordered = tree_order(rows.iter().map(|(s, _)| s).collect());
    let by_id: std::collections::HashMap<i64, &(Summary, Vec<u8>)> =
        rows.iter().map(|row| (row.0.id, row)).collect();
    let mut messages = Vec::with_capacity(rows.len());
    for mid in ordered {
        let Some((s, raw)) = by_id.get(&mid).copied() else {
            continue;
        };
        let d = s
            .parent_id
            .and_then(|p| depth.get(&p).copied())
            .map(|d| d + 1)
            .unwrap_or(0);
        depth.insert(s.id, d);
        messages.push(message_view(t, s, raw, r.public, d));
    }
    render(
        StatusCode::OK,
        &ThreadPage {
            l: Layout::new(&state, &viewer, title),
            t,
            id,
            thread_id,
            month,
            messages,
        },
    )
}

/// The messages of a thread depth-first: each followed by its replies, oldest first.
fn tree_order(messages: Vec<&Summary>) -> Vec<i64> {
    let ids: std::collections::HashSet<i64> = messages.iter().map(|m| m.id).collect();
    let mut children: std::collections::HashMap<i64, Vec<i64>> = Default::default();
    let mut roots = Vec::new();
    for m in &messages {
        match m.parent_id.filter(|p| ids.contains(p)) {
            Some(p) => children.entry(p).or_default().push(m.id),
            None => roots.push(m.id),
        }
    }
    let mut out = Vec::with_capacity(messages.len());
    let mut stack: Vec<i64> = roots.into_iter().rev().collect();
    let mut seen = std::collections::HashSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        out.push(id);
        if let Some(c) = children.get(&id) {
            stack.extend(c.iter().rev());
        }
    }
    out
}

#[derive(Template)]
#[template(path = "archive/message.html")]
struct MessagePage {
    l: Layout,
    t: &'static ArchiveTexts,
    id: i64,
    m: MessageView,
}

/// GET /archives/{list}/message/{key}: one message (the address `Archived-At` names).
pub async fn message(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, key)): WebPath<(i64, String)>,
) -> Response {
    let t = ArchiveTexts::get(viewer.lang);
    let r = match open(&state, &viewer, id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let (s, raw) = match state.api.store.archive_message(id, &key).await {
        Ok(Some(m)) => m,
        Ok(None) => return frame::error(&state, viewer.lang, ErrorPage::NotFound),
        Err(e) => return unavailable(&state, &viewer, e),
    };
    let m = message_view(t, &s, &raw, r.public, 0);
    render(
        StatusCode::OK,
        &MessagePage {
            l: Layout::new(&state, &viewer, m.subject.clone()),
            t,
            id,
            m,
        },
    )
}

/// GET /archives/{list}/message/{key}/part/{n}: an attachment, always as a download of
/// unknown type (never shown in the browser, never sniffed).
pub async fn attachment(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, key, n)): WebPath<(i64, String, usize)>,
) -> Response {
    if let Err(page) = open(&state, &viewer, id).await {
        return page;
    }
    let raw = match state.api.store.archive_message(id, &key).await {
        Ok(Some((_, raw))) => raw,
        Ok(None) => return frame::error(&state, viewer.lang, ErrorPage::NotFound),
        Err(e) => return unavailable(&state, &viewer, e),
    };
    let Some((name, bytes)) = mail_parser::MessageParser::new()
        .parse(&raw)
        .and_then(|m| text::attachment_bytes(&m, n))
    else {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    };
    download(bytes.into(), "application/octet-stream", &name)
}

/// `Content-Disposition: attachment` with an ASCII name and the UTF-8 one (RFC 6266).
fn download(body: Body, content_type: &'static str, name: &str) -> Response {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// What an mbox download holds (owned: the stream outlives the request).
enum Download {
    Month(String),
    Thread(i64),
}

/// An mbox of a month or a thread, read and sent 50 messages at a time (after the last one
/// sent, by time and id), so a download holds one piece in memory however large the month.
fn mbox(state: &WebState, group_id: i64, of: Download, public: bool, name: &str) -> Response {
    let store = state.api.store.clone();
    let start = Some((i64::MIN, i64::MIN));
    let stream =
        futures_util::stream::unfold((store, of, start), move |(store, of, after)| async move {
            let after = after?;
            let which = match &of {
                Download::Month(month) => MboxOf::Month(month),
                Download::Thread(thread) => MboxOf::Thread(*thread),
            };
            match store.archive_mbox_piece(group_id, which, after, 50).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let mut out = Vec::new();
                    let mut last = after;
                    for (id, sender, at, raw) in rows {
                        last = (at, id);
                        if public {
                            let masked = text::mask_addresses(&String::from_utf8_lossy(&raw));
                            archive::mbox::write_message(
                                &mut out,
                                &text::mask_address(&sender),
                                at,
                                masked.as_bytes(),
                            );
                        } else {
                            archive::mbox::write_message(&mut out, &sender, at, &raw);
                        }
                    }
                    Some((
                        Ok::<Bytes, std::io::Error>(Bytes::from(out)),
                        (store, of, Some(last)),
                    ))
                }
                Err(e) => {
                    tracing::error!(error = %e, "an mbox download stopped");
                    Some((
                        Err(std::io::Error::other("the archive could not be read")),
                        (store, of, None),
                    ))
                }
            }
        });
    download(Body::from_stream(stream), "application/mbox", name)
}

fn file_name(r: &Readable, what: &str) -> String {
    let local = r
        .group
        .address
        .as_deref()
        .and_then(|a| a.split('@').next())
        .unwrap_or("archive");
    format!("{local}-{what}.mbox")
}

/// GET /archives/{list}/month/{month}/mbox
pub async fn month_mbox(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, month)): WebPath<(i64, String)>,
) -> Response {
    if !archive::valid_month(&month) {
        return frame::error(&state, viewer.lang, ErrorPage::NotFound);
    }
    let r = match open(&state, &viewer, id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let name = file_name(&r, &month);
    mbox(&state, id, Download::Month(month), r.public, &name)
}

/// GET /archives/{list}/thread/{thread}/mbox
pub async fn thread_mbox(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath((id, thread_id)): WebPath<(i64, i64)>,
) -> Response {
    let r = match open(&state, &viewer, id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    // A thread of another list, or none: the same 404 as an unknown list.
    match state
        .api
        .store
        .archive_mbox_piece(id, MboxOf::Thread(thread_id), (i64::MIN, i64::MIN), 1)
        .await
    {
        Ok(rows) if rows.is_empty() => frame::error(&state, viewer.lang, ErrorPage::NotFound),
        Ok(_) => mbox(
            &state,
            id,
            Download::Thread(thread_id),
            r.public,
            &file_name(&r, &format!("thread-{thread_id}")),
        ),
        Err(e) => unavailable(&state, &viewer, e),
    }
}

/// The search form's fields, as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SearchForm {
    pub q: String,
    pub author: String,
    pub subject: String,
    pub from: String,
    pub until: String,
    /// The page of results, from 1.
    pub page: Option<u32>,
}

impl SearchForm {
    /// This search's address at `page` (from 1).
    fn page_url(&self, id: i64, page: u32) -> String {
        super::client::with_query(
            &format!("/archives/{id}/search"),
            &[
                ("q", &self.q),
                ("author", &self.author),
                ("subject", &self.subject),
                ("from", &self.from),
                ("until", &self.until),
                ("page", &page.to_string()),
            ],
        )
    }
}

/// A conversation found: its line, and a piece of its latest matching message around the
/// first search word in it (three plain strings: the template escapes them, so nothing of a
/// mail's HTML reaches the page).
pub struct Hit {
    pub line: ThreadLine,
    pub key: String,
    pub before: String,
    pub word: String,
    pub after: String,
}

fn day_ms(s: &str) -> Result<Option<i64>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| ())
        .map(|d| {
            d.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_millis())
        })
}

#[derive(Template)]
#[template(path = "archive/search.html")]
struct SearchPage {
    l: Layout,
    t: &'static ArchiveTexts,
    id: i64,
    q: SearchForm,
    searched: bool,
    error: Option<&'static str>,
    hits: Vec<Hit>,
    page: u32,
    previous: Option<String>,
    next: Option<String>,
}

/// GET /archives/{list}/search?q=&author=&subject=&from=&until=&page=: conversations with
/// matching messages, [`archive::store::SEARCH_PAGE`] a page, each with a snippet of its latest match.
pub async fn search(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
    WebQuery(form): WebQuery<SearchForm>,
) -> Response {
    let t = ArchiveTexts::get(viewer.lang);
    let r = match open(&state, &viewer, id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let title = t.search_title.replace("{list}", &r.group.name);
    let dates = day_ms(&form.from).and_then(|f| day_ms(&form.until).map(|u| (f, u)));
    let searched = [
        &form.q,
        &form.author,
        &form.subject,
        &form.from,
        &form.until,
    ]
    .iter()
    .any(|f| !f.trim().is_empty());
    let page = form
        .page
        .unwrap_or(1)
        .clamp(1, archive::store::SEARCH_MAX_PAGE + 1);
    let mut more = false;
    let (hits, error) = match dates {
        Err(()) => (Vec::new(), Some(t.bad_date)),
        Ok(_) if !searched => (Vec::new(), None),
        Ok((from, until)) => {
            let query = Query {
                words: form.q.chars().take(500).collect(),
                author: form.author.chars().take(200).collect(),
                subject: form.subject.chars().take(200).collect(),
                from,
                until: until.map(|u| u + 24 * 3600 * 1000),
            };
            let store = &state.api.store;
            let (rows, has_more) = match store.archive_search_page(id, &query, page - 1).await {
                Ok(found) => found,
                Err(e) => return unavailable(&state, &viewer, e),
            };
            more = has_more;
            let hit_ids: Vec<i64> = rows.iter().map(|(_, hit)| *hit).collect();
            let mut texts = match store.archive_keyed_raw(&hit_ids).await {
                Ok(texts) => texts,
                Err(e) => return unavailable(&state, &viewer, e),
            };
            let mut hits = Vec::with_capacity(rows.len());
            for (row, hit) in rows {
                // Removed since the search (erasure, expiry): the thread's first message.
                let (key, raw) = texts
                    .remove(&hit)
                    .unwrap_or_else(|| (row.first.key.clone(), Vec::new()));
                let message = mail_parser::MessageParser::new().parse(&raw);
                let body = message.as_ref().map(text::search_text).unwrap_or_default();
                let body = if r.public {
                    text::mask_addresses(&body)
                } else {
                    body
                };
                let (before, word, after) = text::snippet(&body, &query.words);
                hits.push(Hit {
                    line: thread_line(t, row, r.public),
                    key,
                    before,
                    word,
                    after,
                });
            }
            (hits, None)
        }
    };
    render(
        StatusCode::OK,
        &SearchPage {
            l: Layout::new(&state, &viewer, title),
            t,
            id,
            searched,
            error,
            hits,
            page,
            previous: (page > 1).then(|| form.page_url(id, page - 1)),
            next: more.then(|| form.page_url(id, page + 1)),
            q: form,
        },
    )
}
