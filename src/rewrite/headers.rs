//! Removing header fields from a raw message without touching anything else.

use mail_parser::Message;

/// Headers a list copy must not inherit: the hop's `Return-Path` and another list's `List-*`.
pub(super) const HOP_AND_LIST_HEADERS: &[&str] = &[
    "Return-Path",
    // Requests for read receipts and error reports from every member (Mailman strips these too).
    "Errors-To",
    "Return-Receipt-To",
    "Disposition-Notification-To",
    "X-Confirm-Reading-To",
    "List-Id",
    "List-Post",
    "List-Help",
    "List-Subscribe",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Owner",
    "List-Archive",
    "Archived-At",
    "Precedence",
];

/// `raw` without the top-level header fields named in `names` (case-insensitive), each removed
/// with its folded continuation lines. Everything else, the body included, is copied unchanged.
pub(super) fn strip(raw: &[u8], parsed: &Message<'_>, names: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut from = 0usize;
    for header in parsed.headers() {
        let name = header.name.as_str();
        if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            let start = (header.offset_field as usize).min(raw.len());
            let end = (header.offset_end as usize).min(raw.len());
            if start >= from {
                out.extend_from_slice(&raw[from..start]);
                from = end;
            }
        }
    }
    out.extend_from_slice(&raw[from..]);
    out
}

/// The length of the first header field of `text`: up to and including the line break that is
/// not followed by a continuation line (space or tab); all of `text` when there is none.
pub(crate) fn field_len(text: &[u8]) -> usize {
    let mut from = 0;
    while let Some(i) = text[from..].iter().position(|&b| b == b'\n') {
        let end = from + i + 1;
        match text.get(end) {
            Some(b' ' | b'\t') => from = end,
            _ => return end,
        }
    }
    text.len()
}

/// Header text as RFC 2047 encoded words when it is not plain ASCII: words of at most 75
/// characters, folded onto continuation lines.
pub(crate) fn encode_words(text: &str) -> String {
    use base64::Engine;
    if text.chars().all(|c| (' '..='~').contains(&c)) {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// A display name as an RFC 5322 phrase: a quoted string, or an RFC 2047 encoded word when it
/// holds anything but printable ASCII.
pub(crate) fn phrase(name: &str) -> String {
    use base64::Engine;
    if name.chars().all(|c| (' '..='~').contains(&c)) {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
        format!("=?utf-8?b?{encoded}?=")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_names_are_quoted_and_others_encoded() {
        assert_eq!(phrase("Board \"2026\""), "\"Board \\\"2026\\\"\"");
        assert_eq!(
            phrase("Styrelsen för Öst"),
            "=?utf-8?b?U3R5cmVsc2VuIGbDtnIgw5ZzdA==?="
        );
    }
}
