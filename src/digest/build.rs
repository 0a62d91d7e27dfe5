//! The bytes of a digest (RFC 2046 §5.1.5): a `multipart/mixed` mail whose first part is a
//! plain-text table of contents and whose second is a `multipart/digest` with each post as a
//! `message/rfc822` part, exactly as the list distributed it (its list copy; the fields each
//! recipient's copy adds — `To`, `List-Unsubscribe`, DKIM — are not part of it).
//!
//! From and Reply-To are the list; the queue adds each member's own `List-Unsubscribe` fields
//! (the digest is queued with [`crate::store::posts::Personal::UNSUBSCRIBE`]) and signs each copy.

use chrono::NaiveDate;
use mail_builder::mime::{BodyPart, MimePart};
use mail_parser::MessageParser;

use crate::rewrite::{LOOP_HEADER, headers::phrase, list_id};

/// A post in a digest.
#[derive(Debug, Clone)]
pub struct DigestPost {
    pub id: i64,
    pub received_at: i64,
    /// The list copy as distributed.
    pub list_copy: Vec<u8>,
}

/// What a digest mail says about itself.
pub struct DigestHead<'a> {
    pub list_name: &'a str,
    pub list_address: &'a str,
    /// The day the digest is for (its subject's date).
    pub day: NaiveDate,
    pub message_id: &'a str,
    /// Seconds since the epoch.
    pub date: i64,
    /// The list's `language` (en, de, sv).
    pub language: &'a str,
}

fn encoded(text: &str) -> String {
    use base64::Engine;
    if text.chars().all(|c| (' '..='~').contains(&c)) {
        text.to_string()
    } else {
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
        )
    }
}

/// "Board digest, 30 Nov 2026 (5 messages)".
pub fn subject(list_name: &str, day: NaiveDate, n: usize, language: &str) -> String {
    let date = day.format("%-d %b %Y");
    match language {
        "sv" => format!(
            "{list_name}, sammandrag {date} ({n} {})",
            if n == 1 { "meddelande" } else { "meddelanden" }
        ),
        "de" => format!(
            "{list_name}, Zusammenfassung {date} ({n} {})",
            if n == 1 { "Nachricht" } else { "Nachrichten" }
        ),
        _ => format!(
            "{list_name} digest, {date} ({n} {})",
            if n == 1 { "message" } else { "messages" }
        ),
    }
}

/// One line of the table of contents: "3. Subject — Author, 30 Nov 10:02".
fn toc_line(i: usize, post: &DigestPost) -> String {
    let parsed = MessageParser::new().parse_headers(&post.list_copy);
    let (subject, author) = match &parsed {
        Some(m) => (
            m.subject().unwrap_or("(no subject)").to_string(),
            m.from()
                .and_then(|f| f.first())
                .map(|a| {
                    a.name()
                        .map(str::to_string)
                        .or_else(|| a.address().map(str::to_string))
                        .unwrap_or_default()
                })
                .unwrap_or_default(),
        ),
        None => ("(no subject)".to_string(), String::new()),
    };
    let when = chrono::DateTime::from_timestamp_millis(post.received_at)
        .map(|t| t.format("%-d %b %H:%M UTC").to_string())
        .unwrap_or_default();
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    format!(
        "{i:>3}. {}\r\n     {}, {when}\r\n",
        clean(&subject),
        clean(&author)
    )
}

/// The table of contents.
pub fn contents(head: &DigestHead<'_>, posts: &[&DigestPost]) -> String {
    let intro = match head.language {
        "sv" => "Innehåll",
        "de" => "Inhalt",
        _ => "Contents",
    };
    let mut out = format!(
        "{} — {}\r\n\r\n{intro}:\r\n\r\n",
        head.list_name,
        subject(head.list_name, head.day, posts.len(), head.language)
    );
    for (i, p) in posts.iter().enumerate() {
        out.push_str(&toc_line(i + 1, p));
    }
    out
}

/// The whole digest mail.
pub fn digest_bytes(head: &DigestHead<'_>, posts: &[&DigestPost]) -> Vec<u8> {
    let date = mail_parser::DateTime::from_timestamp(head.date).to_rfc822();
    let subject = subject(head.list_name, head.day, posts.len(), head.language);
    let owner = crate::groups::owner_address(head.list_address);
    let mut out = format!(
        "From: {name} <{addr}>\r\nTo: {name} <{addr}>\r\nReply-To: {name} <{addr}>\r\n\
         Subject: {}\r\nDate: {date}\r\nMessage-ID: <{}>\r\n\
         List-Id: {name} <{}>\r\nList-Post: <mailto:{addr}>\r\nList-Owner: <mailto:{owner}>\r\n\
         Precedence: list\r\n{LOOP_HEADER}: {addr}\r\nMIME-Version: 1.0\r\n",
        encoded(&subject),
        head.message_id,
        list_id(head.list_address),
        name = phrase(head.list_name),
        addr = head.list_address,
    )
    .into_bytes();
    let parts: Vec<MimePart<'_>> = posts
        .iter()
        .map(|p| {
            let eight_bit = p.list_copy.iter().any(|b| *b >= 0x80);
            MimePart::new(
                "message/rfc822",
                BodyPart::Binary(p.list_copy.as_slice().into()),
            )
            .transfer_encoding(if eight_bit { "8bit" } else { "7bit" })
        })
        .collect();
    let body = MimePart::new(
        "multipart/mixed",
        vec![
            MimePart::new("text/plain", contents(head, posts)),
            MimePart::new("multipart/digest", parts),
        ],
    );
    // Writing to a Vec cannot fail.
    let _ = body.write_part(&mut out);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_has_contents_then_each_post_as_a_message_part() {
        let posts = [
            DigestPost {
                id: 1,
                received_at: 1_796_000_000_000,
                list_copy: b"From: Anna <anna@example.org>\r\nSubject: First\r\nMessage-ID: <a@x>\r\n\r\nHello\r\n".to_vec(),
            },
            DigestPost {
                id: 2,
                received_at: 1_796_000_100_000,
                list_copy: "From: Bo <bo@example.org>\r\nSubject: Andra\r\n\r\nHej då\r\n".as_bytes().to_vec(),
            },
        ];
        let refs: Vec<&DigestPost> = posts.iter().collect();
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let head = DigestHead {
            list_name: "Board",
            list_address: "board@lists.test",
            day,
            message_id: "d1@host",
            date: 1_796_000_200,
            language: "en",
        };
        let bytes = digest_bytes(&head, &refs);
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("Subject: Board digest, 30 Nov 2026 (2 messages)\r\n"),
            "{text}"
        );
        let m = MessageParser::new().parse(&bytes).unwrap();
        assert!(m.parts.len() > 4);
        let nested: Vec<_> = m
            .parts
            .iter()
            .filter_map(|p| p.message())
            .map(|m| m.subject().unwrap_or_default().to_string())
            .collect();
        assert_eq!(nested, ["First", "Andra"]);
        assert!(text.contains("Content-Type: multipart/digest"));
        assert!(text.contains("  1. First\r\n"));
    }
}
