//! The archives: every distributed post kept as its list copy, once per list, threaded
//! (JWZ-style: Message-ID, In-Reply-To, References, then the subject for clients that drop
//! References) and searchable (SQLite FTS5 / PostgreSQL tsvector over the decoded text).
//!
//! - [`store`]: the tables, the insert at acceptance or approval (in the same transaction as the
//!   queued post), threading, months, threads, search, erasure, expiry, export;
//! - [`text`]: what a message says, for search and for the pages (decoding through mail-parser,
//!   format=flowed, quoted text, HTML sanitised with ammonia);
//! - [`mbox`]: mboxrd (RFC 4155) out, streamed, and in (`circlemail archive import`);
//! - [`uploads`]: mbox files administrators upload, imported in the background with progress.
//!
//! Who may read is decided in one place, [`access`]: the list's `archive` setting, the people
//! who receive the list now (the directory's resolution) and administrators per their scopes.

pub mod access;
pub mod mbox;
pub mod store;
pub mod text;
pub mod uploads;

use mail_parser::{HeaderValue, Message, MessageParser};

/// The archive of a list: `{base}/archives/{group}` (RFC 2369 `List-Archive`).
pub fn list_url(base: &str, group_id: i64) -> String {
    format!("{base}/archives/{group_id}")
}

/// A message's page: `{base}/archives/{group}/message/{key}` (RFC 5064 `Archived-At`).
pub fn message_url(base: &str, group_id: i64, key: &str) -> String {
    format!("{base}/archives/{group_id}/message/{key}")
}

/// What the archive keeps of a message besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Without `<>`.
    pub message_id: String,
    /// Message-IDs it refers to, the nearest ancestor first: In-Reply-To, then References from
    /// the last to the first.
    pub refs: Vec<String>,
    pub subject: String,
    pub norm_subject: String,
    /// The subject says it answers something (Re:, Sv:, Aw:, …).
    pub is_reply: bool,
    pub author_name: String,
    /// Lower-cased.
    pub author_email: String,
    /// The Date header, ms.
    pub date: Option<i64>,
    /// The decoded text of the body, for search.
    pub text: String,
}

/// The most text of one message that goes into the search index.
const MAX_INDEXED: usize = 256 * 1024;

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// Parses `raw` for the archive; `None` when it has no header section at all. A message without
/// a Message-ID gets one from the hash of its bytes (an import read twice gives the same one).
pub fn entry(raw: &[u8]) -> Option<Entry> {
    let message = MessageParser::new().parse(raw)?;
    if message.headers().is_empty() {
        return None;
    }
    Some(entry_of(&message, raw))
}

pub fn entry_of(message: &Message<'_>, raw: &[u8]) -> Entry {
    let message_id = message
        .message_id()
        .map(clean_id)
        .filter(|m| !m.is_empty() && m.len() <= 500)
        .unwrap_or_else(|| format!("{}@archive.invalid", hash_hex(raw, 32)));
    let mut refs: Vec<String> = ids(message.in_reply_to())
        .iter()
        .map(|s| clean_id(s))
        .collect();
    let mut references: Vec<String> = ids(message.references())
        .iter()
        .map(|s| clean_id(s))
        .collect();
    references.reverse();
    refs.extend(references);
    let mut seen = std::collections::HashSet::new();
    refs.retain(|r| !r.is_empty() && r.len() <= 500 && *r != message_id && seen.insert(r.clone()));
    refs.truncate(100);
    let subject = message.subject().unwrap_or("").trim().to_string();
    let (norm_subject, is_reply) = normalise_subject(&subject);
    let (author_name, author_email) = author(message);
    let mut text = text::search_text(message);
    if text.len() > MAX_INDEXED {
        let mut cut = MAX_INDEXED;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Entry {
        message_id,
        refs,
        subject,
        norm_subject,
        is_reply,
        author_name,
        author_email,
        date: message.date().map(|d| d.to_timestamp() * 1000),
        text,
    }
}

/// The author: X-Original-From when the list rewrote From (DMARC), else From.
fn author(message: &Message<'_>) -> (String, String) {
    if let Some(raw) = message.header_raw("X-Original-From") {
        let parsed = MessageParser::new()
            .parse_headers(format!("From: {}\r\n\r\n", raw.trim()).as_bytes())
            .and_then(|m| {
                m.from().and_then(|a| a.first()).map(|a| {
                    (
                        a.name().unwrap_or("").to_string(),
                        a.address().unwrap_or("").to_string(),
                    )
                })
            });
        if let Some((name, email)) = parsed.filter(|(_, e)| !e.is_empty()) {
            return (name.trim().to_string(), email.trim().to_lowercase());
        }
    }
    match message.from().and_then(|a| a.first()) {
        Some(a) => (
            a.name().unwrap_or("").trim().to_string(),
            a.address().unwrap_or("").trim().to_lowercase(),
        ),
        None => (String::new(), String::new()),
    }
}

/// A subject without its reply and forward markers (in the languages we serve) and bracketed
/// list prefixes, lower-cased with single spaces: the key for threading by subject. Also says
/// whether a reply marker was there.
pub fn normalise_subject(subject: &str) -> (String, bool) {
    const MARKERS: &[&str] = &[
        "re", "sv", "aw", "vs", "antw", "fwd", "fw", "vb", "wg", "tr",
    ];
    let mut s = subject.trim();
    let mut reply = false;
    loop {
        let before = s;
        if let Some(rest) = s.strip_prefix('[')
            && let Some(end) = rest.find(']')
        {
            s = rest[end + 1..].trim_start();
        }
        if let Some(colon) = s.find(':') {
            let head = s[..colon].trim();
            // "Re", "RE[2]", "Re^2"
            let word: String = head
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect::<String>()
                .to_ascii_lowercase();
            let tail = &head[word.len()..];
            if MARKERS.contains(&word.as_str())
                && tail
                    .chars()
                    .all(|c| c.is_ascii_digit() || "[]^ ".contains(c))
            {
                if !word.starts_with('f') && word != "vb" && word != "wg" && word != "tr" {
                    reply = true;
                }
                s = s[colon + 1..].trim_start();
            }
        }
        if s == before {
            break;
        }
    }
    let norm = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (norm, reply)
}

/// The first `n` hex digits of the SHA-256 of `bytes`.
pub fn hash_hex(bytes: &[u8], n: usize) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .chars()
        .take(n)
        .collect()
}

/// `YYYY-MM` of a time in ms (UTC).
pub fn month_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_else(|| "1970-01".into())
}

/// Whether `s` is a month as the pages name them (`2026-03`).
pub fn valid_month(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
        && matches!(
            &s[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_lose_their_reply_markers_and_prefixes() {
        assert_eq!(normalise_subject("Budget"), ("budget".into(), false));
        assert_eq!(normalise_subject("Re: Budget"), ("budget".into(), true));
        assert_eq!(
            normalise_subject("SV: Re: [Board]  Budget  2026"),
            ("budget 2026".into(), true)
        );
        assert_eq!(normalise_subject("RE[2]: Budget"), ("budget".into(), true));
        assert_eq!(normalise_subject("Fwd: Budget"), ("budget".into(), false));
        assert_eq!(
            normalise_subject("Agenda: spring"),
            ("agenda: spring".into(), false)
        );
    }

    #[test]
    fn references_are_read_nearest_first() {
        let raw = b"From: Anna <Anna@Example.org>\r\nMessage-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\nReferences: <a@x> <b@x>\r\nSubject: Re: Plan\r\n\r\nHello\r\n";
        let e = entry(raw).unwrap();
        assert_eq!(e.message_id, "c@x");
        assert_eq!(e.refs, vec!["b@x".to_string(), "a@x".to_string()]);
        assert_eq!(e.author_email, "anna@example.org");
        assert!(e.is_reply);
        assert_eq!(e.norm_subject, "plan");
    }

    #[test]
    fn months_are_checked() {
        assert!(valid_month("2026-03"));
        assert!(!valid_month("2026-13"));
        assert!(!valid_month("2026-3"));
        assert!(!valid_month("../etc"));
        assert_eq!(month_of(0), "1970-01");
    }
}
