//! The list's header and footer text, added without breaking the message: appended to a plain
//! text body when that is safe (text/plain, no transfer encoding, a charset that can carry the
//! text — a US-ASCII body takes a UTF-8 footer and is labelled `charset=utf-8`, since ASCII is
//! UTF-8); otherwise the whole original entity becomes one part of a new multipart/mixed, between
//! a text part for the header and one for the footer — so attachments, their signatures and any
//! S/MIME or PGP structure stay byte-for-byte as the author sent them.

use mail_parser::{MessageParser, MimeHeaders};

/// `message` with `header` above and `footer` below the author's text.
pub fn decorate(message: Vec<u8>, header: Option<&str>, footer: Option<&str>) -> Vec<u8> {
    if header.is_none() && footer.is_none() {
        return message;
    }
    let split = find(&message, b"\r\n\r\n").map(|i| i + 2);
    let (head, body) = match split {
        Some(i) => (&message[..i], &message[i + 2..]),
        None => (&message[..], &b""[..]),
    };
    // A header-only post may end without CRLF (BDAT lets it): end its last field first, so
    // nothing added below can join the header section.
    let mut head = head.to_vec();
    if !head.is_empty() && !head.ends_with(b"\r\n") {
        head.extend_from_slice(b"\r\n");
    }
    let head = &head[..];
    if let Some(relabel) = appendable(&message, body, header, footer) {
        let mut out = match relabel {
            true => utf8_labelled(head),
            false => head.to_vec(),
        };
        out.extend_from_slice(b"\r\n");
        if let Some(h) = header {
            out.extend_from_slice(crlf(h).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(body);
        if !body.is_empty() && !body.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        if let Some(f) = footer {
            out.extend_from_slice(b"-- \r\n");
            out.extend_from_slice(crlf(f).as_bytes());
        }
        return out;
    }
    wrap(head, body, header, footer)
}

fn crlf(text: &str) -> String {
    let mut t = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if !t.ends_with("\r\n") {
        t.push_str("\r\n");
    }
    t
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `Some(relabel)` when the texts can be appended to the body as it is; `relabel`: the body is
/// US-ASCII and a text is not, so the body must say `charset=utf-8` (and 8bit) afterwards.
fn appendable(
    message: &[u8],
    body: &[u8],
    header: Option<&str>,
    footer: Option<&str>,
) -> Option<bool> {
    let parsed = MessageParser::new().parse_headers(message)?;
    let ascii = header.is_none_or(str::is_ascii) && footer.is_none_or(str::is_ascii);
    let (plain, charset) = match parsed.content_type() {
        None => (true, None),
        Some(ct) => (
            ct.ctype().eq_ignore_ascii_case("text")
                && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain")),
            ct.attribute("charset").map(str::to_ascii_lowercase),
        ),
    };
    let encoding_ok = parsed
        .content_transfer_encoding()
        .is_none_or(|e| ["7bit", "8bit"].contains(&e.trim().to_ascii_lowercase().as_str()));
    if !plain || !encoding_ok {
        return None;
    }
    match charset.as_deref() {
        _ if ascii => Some(false),
        Some("utf-8") | Some("utf8") => Some(false),
        None | Some("us-ascii") if body.is_ascii() => Some(true),
        _ => None,
    }
}

/// `head` with its Content-Type saying `text/plain; charset=utf-8` (other parameters kept),
/// `Content-Transfer-Encoding: 8bit` and `MIME-Version: 1.0`.
fn utf8_labelled(head: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + 100);
    let mut params = String::new();
    let mut has_mime_version = false;
    for f in fields(head) {
        let name_is = |n: &[u8]| f.len() > n.len() && f[..n.len()].eq_ignore_ascii_case(n);
        if name_is(b"content-type:") {
            let value = String::from_utf8_lossy(&f[13..]);
            for p in value.split(';').skip(1) {
                let p = p.trim();
                if !p.is_empty() && !p.to_ascii_lowercase().starts_with("charset") {
                    params.push_str("; ");
                    params.push_str(p);
                }
            }
            continue;
        }
        if name_is(b"content-transfer-encoding:") {
            continue;
        }
        has_mime_version |= name_is(b"mime-version:");
        out.extend_from_slice(f);
    }
    if !has_mime_version {
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    }
    out.extend_from_slice(
        format!("Content-Type: text/plain; charset=utf-8{params}\r\n").as_bytes(),
    );
    out.extend_from_slice(b"Content-Transfer-Encoding: 8bit\r\n");
    out
}

/// The header fields of `head` (each with its continuation lines), as raw byte slices.
fn fields(head: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < head.len() {
        if head[i] == b'\r' && head[i + 1] == b'\n' {
            let next = head.get(i + 2).copied();
            if !matches!(next, Some(b' ') | Some(b'\t')) {
                out.push(&head[start..i + 2]);
                start = i + 2;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    if start < head.len() {
        out.push(&head[start..]);
    }
    out
}

fn is_content_field(field: &[u8]) -> bool {
    field.len() >= 8 && field[..8].eq_ignore_ascii_case(b"content-")
}

fn wrap(head: &[u8], body: &[u8], header: Option<&str>, footer: Option<&str>) -> Vec<u8> {
    let boundary = format!("=_circlemail_{:016x}", rand::random::<u64>());
    let all = fields(head);
    let mut out = Vec::with_capacity(head.len() + body.len() + 512);
    let mut has_mime_version = false;
    for f in all.iter().filter(|f| !is_content_field(f)) {
        has_mime_version |= f.len() >= 13 && f[..13].eq_ignore_ascii_case(b"mime-version:");
        out.extend_from_slice(f);
    }
    if !has_mime_version {
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    }
    out.extend_from_slice(
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n").as_bytes(),
    );
    let text_part = |out: &mut Vec<u8>, text: &str| {
        out.extend_from_slice(format!("--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nContent-Disposition: inline\r\n\r\n").as_bytes());
        out.extend_from_slice(crlf(text).as_bytes());
    };
    if let Some(h) = header {
        text_part(&mut out, h);
    }
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    let content: Vec<&&[u8]> = all.iter().filter(|f| is_content_field(f)).collect();
    if content.is_empty() {
        out.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n");
    }
    for f in content {
        out.extend_from_slice(f);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    if !body.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    if let Some(f) = footer {
        text_part(&mut out, f);
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    #[test]
    fn a_plain_text_post_gets_the_footer_appended() {
        let msg = b"From: a@x.org\r\nSubject: s\r\n\r\nHello.\r\n".to_vec();
        let out = String::from_utf8(decorate(msg, None, Some("Leave: https://x/u"))).unwrap();
        assert!(
            out.ends_with("\r\n\r\nHello.\r\n-- \r\nLeave: https://x/u\r\n"),
            "{out:?}"
        );
    }

    #[test]
    fn a_multipart_post_is_wrapped_and_its_parts_stay_intact() {
        let original = "From: a@x.org\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attachment.\r\n--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n";
        let out = decorate(
            original.as_bytes().to_vec(),
            Some("Kopf"),
            Some("Fuß: abmelden"),
        );
        let parsed = MessageParser::new().parse(&out).unwrap();
        assert_eq!(parsed.attachment_count(), 1);
        assert_eq!(parsed.attachment(0).unwrap().contents(), b"%PDF-1.4\n");
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--"), "inner entity byte for byte");
        assert!(text.contains("Fuß: abmelden"));
        assert_eq!(text.matches("MIME-Version").count(), 1);
    }

    #[test]
    fn an_ascii_post_takes_a_utf8_footer_inline_and_says_utf8() {
        let msg = b"From: a@x.org\r\nSubject: s\r\n\r\nHello.\r\n".to_vec();
        let out = decorate(msg, None, Some("L\u{e4}mna listan: https://x/u"));
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(!text.contains("multipart"), "{text}");
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{text}"
        );
        assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
        let parsed = MessageParser::new().parse(&out).unwrap();
        assert_eq!(
            parsed.body_text(0).unwrap(),
            "Hello.\r\n-- \r\nL\u{e4}mna listan: https://x/u\r\n"
        );
        // Declared US-ASCII with flowed text: relabelled, format=flowed kept.
        let flowed = b"From: a@x.org\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii; format=flowed\r\nContent-Transfer-Encoding: 7bit\r\n\r\nHi\r\n".to_vec();
        let text = String::from_utf8(decorate(flowed, None, Some("F\u{fc}\u{df}"))).unwrap();
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n"),
            "{text}"
        );
        assert_eq!(text.matches("MIME-Version").count(), 1);
    }

    #[test]
    fn a_header_only_post_without_final_crlf_keeps_the_footer_out_of_its_header() {
        for msg in [
            &b"From: a@x.org\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000"[..],
            &b"From: a@x.org\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"[..],
            &b"From: a@x.org\r\nContent-Type: text/html\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000"[..],
        ] {
            let out = decorate(msg.to_vec(), None, Some("Leave: https://x/u"));
            let text = String::from_utf8(out.clone()).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").expect("a blank line");
            assert!(
                format!("{head}\r\n").contains("Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"),
                "{text:?}"
            );
            assert!(!head.contains("Leave"), "{text:?}");
            assert!(body.contains("Leave: https://x/u"), "{text:?}");
        }
    }

    #[test]
    fn base64_or_foreign_charset_text_is_wrapped_not_appended() {
        let b64 = b"From: a@x.org\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVq\r\n".to_vec();
        let out = MessageParser::new()
            .parse(&decorate(b64, None, Some("footer")))
            .map(|m| m.text_body_count())
            .unwrap();
        assert_eq!(out, 2);
        let latin = b"From: a@x.org\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nHej\r\n"
            .to_vec();
        let text = String::from_utf8_lossy(&decorate(latin, None, Some("Fuß"))).into_owned();
        assert!(text.contains("multipart/mixed"));
    }
}
