//! A safe preview of a held post for a moderator: its text shown as text, its HTML sanitised
//! (`ammonia`: no script, no style, no images or other remote content, links kept with
//! `rel="noopener noreferrer nofollow"`), and its attachments listed by name, type and size —
//! never opened.

use std::collections::HashSet;

use mail_parser::{MessageParser, MimeHeaders};
use serde::{Deserialize, Serialize};

/// The most text (or HTML) shown of one post.
const MAX_SHOWN: usize = 200 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub from: Option<String>,
    pub to: Option<String>,
    pub date: Option<String>,
    pub subject: Option<String>,
    /// The first plain-text body, as text.
    pub text: Option<String>,
    /// The first HTML body, sanitised: safe to put into a page as it is.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The text or HTML was cut at [`MAX_SHOWN`] bytes.
    pub truncated: bool,
}

fn cut(s: &str, truncated: &mut bool) -> String {
    if s.len() <= MAX_SHOWN {
        return s.to_string();
    }
    *truncated = true;
    let mut end = MAX_SHOWN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// HTML from a post made safe to show: only harmless formatting and links survive.
pub fn sanitise(html: &str) -> String {
    let schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    ammonia::Builder::default()
        .rm_tags(["img", "area", "map"])
        .url_schemes(schemes)
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

/// The preview of a raw message; a message that cannot be read gives an empty preview.
pub fn preview(raw: &[u8]) -> Preview {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Preview::default();
    };
    let mut p = Preview {
        from: msg
            .from()
            .and_then(|a| a.first())
            .map(|a| match (a.name(), a.address()) {
                (Some(n), Some(e)) => format!("{n} <{e}>"),
                (None, Some(e)) => e.to_string(),
                (Some(n), None) => n.to_string(),
                (None, None) => String::new(),
            }),
        to: msg
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_string),
        date: msg.date().map(|d| d.to_rfc3339()),
        subject: msg.subject().map(str::to_string),
        ..Default::default()
    };
    let mut truncated = false;
    p.text = msg
        .text_bodies()
        .find(|part| !part.is_text_html())
        .and_then(|part| part.text_contents())
        .map(|t| cut(t, &mut truncated));
    p.html = msg
        .html_bodies()
        .find(|part| part.is_text_html())
        .and_then(|part| part.text_contents())
        .map(|h| sanitise(&cut(h, &mut truncated)));
    p.truncated = truncated;
    p.attachments = msg
        .attachments()
        .map(|a| Attachment {
            name: a.attachment_name().unwrap_or("").to_string(),
            content_type: a
                .content_type()
                .map(|c| match c.subtype() {
                    Some(s) => format!("{}/{s}", c.ctype()),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into()),
            size: a.len(),
        })
        .collect();
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_loses_scripts_and_remote_content_and_text_stays_text() {
        let raw = concat!(
            "From: Guest <guest@y.org>\r\nTo: board@lists.test\r\nSubject: Hi\r\n",
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n",
            "--b\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n",
            "--a\r\nContent-Type: text/plain\r\n\r\n<script>alert(1)</script> plain\r\n",
            "--a\r\nContent-Type: text/html\r\n\r\n<p onclick=\"x()\">Hello <img src=\"https://tracker.example/p.gif\">",
            "<a href=\"https://ok.example/\">link</a><a href=\"javascript:alert(1)\">bad</a>",
            "<script>alert(2)</script><style>p{}</style></p>\r\n--a--\r\n",
            "--b\r\nContent-Type: application/pdf; name=\"minutes.pdf\"\r\n",
            "Content-Disposition: attachment; filename=\"minutes.pdf\"\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
        );
        let p = preview(raw.as_bytes());
        assert_eq!(p.subject.as_deref(), Some("Hi"));
        assert_eq!(p.from.as_deref(), Some("Guest <guest@y.org>"));
        assert!(
            p.text
                .as_deref()
                .unwrap()
                .contains("<script>alert(1)</script> plain")
        );
        let html = p.html.unwrap();
        assert!(!html.contains("script"), "{html}");
        assert!(!html.contains("img"), "{html}");
        assert!(!html.contains("tracker"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(!html.contains("javascript"), "{html}");
        assert!(html.contains("href=\"https://ok.example/\""), "{html}");
        assert!(html.contains("noopener"), "{html}");
        assert_eq!(
            p.attachments,
            vec![Attachment {
                name: "minutes.pdf".into(),
                content_type: "application/pdf".into(),
                size: 5,
            }]
        );
    }
}
