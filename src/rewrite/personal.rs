//! Personal copies: one list copy, many recipients, each with a few header fields of their own
//! (`To:` for `to_mode = "recipient"`). The list copy is split once — its header fields without
//! the personal ones, and its body — and each recipient's copy is their fields followed by the
//! shared bytes, so nothing is parsed again per recipient and the body is never copied twice
//! for signing (see [`crate::signing`], which hashes it once).

use mail_parser::MessageParser;

use super::headers;

/// Header fields that differ per recipient; the list copy's own ones are dropped.
const PERSONAL_FIELDS: &[&str] = &["To"];

pub struct Personaliser {
    /// The list copy without the personal fields: header fields, blank line, body.
    shared: Vec<u8>,
    /// Where the body starts in `shared` (after the blank line); `shared.len()` when none.
    body_offset: usize,
}

impl Personaliser {
    pub fn new(list_copy: &[u8]) -> Personaliser {
        let shared = match MessageParser::new().parse_headers(list_copy) {
            Some(parsed) => headers::strip(list_copy, &parsed, PERSONAL_FIELDS),
            None => list_copy.to_vec(),
        };
        let body_offset = body_offset(&shared);
        Personaliser {
            shared,
            body_offset,
        }
    }

    /// The header fields of `recipient`'s copy that differ from everyone else's.
    pub fn fields_for(&self, recipient: &str) -> String {
        format!("To: <{recipient}>\r\n")
    }

    /// The shared header fields (without the blank line that ends them).
    pub fn shared_fields(&self) -> &[u8] {
        let end = self.body_offset.saturating_sub(2).min(self.shared.len());
        &self.shared[..end]
    }

    /// The body (after the blank line), identical in every copy.
    pub fn body(&self) -> &[u8] {
        &self.shared[self.body_offset.min(self.shared.len())..]
    }

    /// `recipient`'s whole copy, with `prefix` (e.g. their DKIM-Signature fields) on top.
    pub fn copy_for(&self, prefix: &str, recipient: &str) -> Vec<u8> {
        let fields = self.fields_for(recipient);
        let mut out = Vec::with_capacity(prefix.len() + fields.len() + self.shared.len());
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(fields.as_bytes());
        out.extend_from_slice(&self.shared);
        out
    }
}

/// The offset just after the first empty line (CRLF CRLF), or the end when there is none.
fn body_offset(message: &[u8]) -> usize {
    if message.starts_with(b"\r\n") {
        return 2;
    }
    message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(message.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_personal_copy_has_the_recipients_address_in_to() {
        let copy =
            b"From: a@x.org\r\nTo: board@lists.test,\r\n other@x.org\r\nSubject: s\r\n\r\nbody\r\n";
        let p = Personaliser::new(copy);
        let out = String::from_utf8(p.copy_for("", "kim@x.org")).unwrap();
        assert_eq!(
            out,
            "To: <kim@x.org>\r\nFrom: a@x.org\r\nSubject: s\r\n\r\nbody\r\n"
        );
        assert_eq!(p.shared_fields(), b"From: a@x.org\r\nSubject: s\r\n");
        assert_eq!(p.body(), b"body\r\n");
    }

    #[test]
    fn a_message_without_a_body_still_splits() {
        let p = Personaliser::new(b"From: a@x.org\r\nSubject: s\r\n");
        assert_eq!(p.body(), b"");
        assert_eq!(p.shared_fields(), b"From: a@x.org\r\nSubject: s");
        assert!(
            p.copy_for("", "k@x.org")
                .starts_with(b"To: <k@x.org>\r\nFrom:")
        );
    }
}
