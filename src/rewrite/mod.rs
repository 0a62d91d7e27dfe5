//! Rewrite: the list copy of a post, built once at acceptance and stored beside the original.
//!
//! Input: the raw post, its parsed headers, the group with its settings, how it arrived. Output:
//! the bytes every recipient gets. Handlers, in order:
//! 1. [`headers::strip`] drops headers that belong to the hop or to another list (`Return-Path`,
//!    `List-*`, `Precedence`, read-receipt requests), and the ones [`display`] replaces;
//! 2. [`received::line`] records our hop (RFC 5321 §4.4);
//! 3. [`list_headers::lines`] adds `List-Id` (RFC 2919), `List-Post`/`-Help`/`-Owner`/`-Archive`
//!    (RFC 2369), `Precedence: list` and our loop marker;
//! 4. [`display`] sets From (DMARC-safe "Author via Group"), Reply-To and the Subject prefix;
//! 5. `Message-ID` and `Date` are added when the author's client left them out;
//! 6. [`footer::decorate`] adds the list's header and footer text without breaking MIME.
//!
//! The body is touched only by step 6, and only by appending or wrapping.

pub mod display;
pub mod footer;
pub(crate) mod headers;
mod list_headers;
mod personal;
mod received;

use mail_parser::Message;

pub use list_headers::list_id;
pub use personal::{PERSONAL_FIELDS, Personaliser, SHARED_FIELDS};
pub use received::Arrival;

use crate::{model::list_settings::ListSettings, store::groups::Group};

/// The header that marks a message as already distributed by a list: its value is the list
/// address. A post that arrives carrying our own marker is a loop ([`crate::policy`]).
pub const LOOP_HEADER: &str = "X-Loop";

/// The addresses of a list's archive (RFC 2369 `List-Archive`) and of this message in it
/// (RFC 5064 `Archived-At`), for lists that keep an archive here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLinks {
    pub list: String,
    pub message: String,
}

/// Builds the list copy of `raw` for `group`. `munge_from`: From: is rewritten to the list.
/// `leave_url`: a "leave this list" line for the footer (a page for the whole list, never a
/// personal link: footers get quoted in replies).
#[allow(clippy::too_many_arguments)]
pub fn list_copy(
    raw: &[u8],
    parsed: &Message<'_>,
    group: &Group,
    settings: &ListSettings,
    munge_from: bool,
    arrival: &Arrival<'_>,
    leave_url: Option<&str>,
    archive: Option<&ArchiveLinks>,
) -> Vec<u8> {
    let list = group.address.as_deref().unwrap_or("");
    let shown = display::display(parsed, settings, &group.name, list, munge_from);
    let mut remove: Vec<&str> = headers::HOP_AND_LIST_HEADERS.to_vec();
    if shown.from.is_some() {
        remove.push("From");
    }
    if shown.reply_to.is_some() {
        remove.push("Reply-To");
    }
    if shown.subject.is_some() {
        remove.push("Subject");
    }
    let kept = headers::strip(raw, parsed, &remove);
    let mut out = Vec::with_capacity(kept.len() + 1024);
    out.extend_from_slice(received::line(arrival).as_bytes());
    out.extend_from_slice(list_headers::lines(group, settings, archive).as_bytes());
    for (name, value) in [
        ("From", &shown.from),
        ("X-Original-From", &shown.original_from),
        ("Reply-To", &shown.reply_to),
        ("Subject", &shown.subject),
    ] {
        if let Some(v) = value {
            out.extend_from_slice(format!("{name}: {v}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(missing_headers(parsed, arrival).as_bytes());
    out.extend_from_slice(&kept);
    let footer = match (settings.footer_text.as_deref(), leave_url) {
        (Some(text), Some(url)) => Some(format!("{text}\n{}", leave_line(settings, url))),
        (None, Some(url)) => Some(leave_line(settings, url)),
        (text, None) => text.map(str::to_string),
    };
    footer::decorate(out, settings.header_text.as_deref(), footer.as_deref())
}

fn leave_line(settings: &ListSettings, url: &str) -> String {
    let t = crate::unsubscribe::texts::for_language(&settings.language);
    format!("{}: {url}", t.footer_leave)
}

/// `raw` with only our Received: line added (mail forwarded to a list's managers).
pub fn trace_copy(raw: &[u8], arrival: &Arrival<'_>) -> Vec<u8> {
    let mut out = received::line(arrival).into_bytes();
    out.extend_from_slice(raw);
    out
}

/// `Message-ID` and `Date` for a post that lacks them, built from the queue id and arrival time.
fn missing_headers(parsed: &Message<'_>, arrival: &Arrival<'_>) -> String {
    let mut out = String::new();
    if parsed.message_id().is_none() {
        out.push_str(&format!(
            "Message-ID: <{}@{}>\r\n",
            arrival.queue_id, arrival.hostname
        ));
    }
    if parsed.date().is_none() {
        let date = mail_parser::DateTime::from_timestamp(arrival.date).to_rfc822();
        out.push_str(&format!("Date: {date}\r\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &[u8] = b"Return-Path: <x@y.org>\r\nFrom: Anna <anna@example.net>\r\nList-Id: <old.other.org>\r\nList-Unsubscribe:\r\n <mailto:x@other.org>\r\nSubject: Minutes\r\n\r\nThe body.\r\n.dot line\r\n";

    fn copy() -> Vec<u8> {
        let parsed = mail_parser::MessageParser::new().parse(POST).unwrap();
        let group = Group {
            id: 3,
            name: "Board".into(),
            address: Some("board@lists.example.org".into()),
            active: true,
            standard_key: None,
            criteria: None,
            settings: None,
        };
        let arrival = Arrival {
            helo: "client.example.net",
            peer: "192.0.2.7".parse().unwrap(),
            protocol: "ESMTP",
            hostname: "mx.example.org",
            queue_id: "ABC",
            recipient: "board@lists.example.org",
            date: 0,
        };
        list_copy(
            POST,
            &parsed,
            &group,
            &ListSettings::default(),
            false,
            &arrival,
            None,
            None,
        )
    }

    #[test]
    fn the_list_copy_has_our_list_headers_and_none_of_the_old_ones() {
        let out = String::from_utf8(copy()).unwrap();
        assert!(
            out.starts_with("Received: from client.example.net ([192.0.2.7])"),
            "{out}"
        );
        assert!(
            out.contains("List-Id: \"Board\" <board.lists.example.org>\r\n"),
            "{out}"
        );
        assert!(out.contains("List-Post: <mailto:board@lists.example.org>\r\n"));
        assert!(out.contains("List-Owner: <mailto:board-owner@lists.example.org>\r\n"));
        assert!(out.contains("Precedence: list\r\nX-Loop: board@lists.example.org\r\n"));
        assert!(
            !out.contains("old.other.org") && !out.contains("mailto:x@other.org"),
            "{out}"
        );
        assert!(!out.contains("Return-Path"));
        assert!(
            out.contains("From: Anna <anna@example.net>\r\nSubject: Minutes\r\n\r\n"),
            "{out}"
        );
    }

    #[test]
    fn a_missing_message_id_and_date_are_added() {
        let out = String::from_utf8(copy()).unwrap();
        assert!(
            out.contains("Message-ID: <ABC@mx.example.org>\r\n"),
            "{out}"
        );
        assert!(
            out.contains("Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"),
            "{out}"
        );
    }

    #[test]
    fn the_body_is_kept_byte_for_byte() {
        let out = copy();
        assert!(out.ends_with(b"\r\n\r\nThe body.\r\n.dot line\r\n"));
        let parsed = mail_parser::MessageParser::new().parse(&out).unwrap();
        assert_eq!(parsed.subject(), Some("Minutes"));
    }
}
