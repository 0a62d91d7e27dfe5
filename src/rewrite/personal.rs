//! Personal copies: one list copy, many recipients, each with a few header fields of their own
//! (`To:` for `to_mode = "recipient"`, their own `List-Unsubscribe` link). The list copy is split once — its header fields without
//! the personal ones, and its body — and each recipient's copy is their fields followed by the
//! shared bytes, so nothing is parsed again per recipient and the body is never copied twice
//! for signing (see [`crate::signing`], which hashes it once).

use std::sync::Arc;

use mail_parser::MessageParser;

use super::headers;
use crate::{model::message::CopyBytes, store::posts::Personal, unsubscribe::Links};

/// The header fields that may differ from one recipient's copy to the next.
pub const PERSONAL_FIELDS: &[&str] = &["To", "List-Unsubscribe", "List-Unsubscribe-Post"];

/// The header fields receivers care about that every copy of a post shares: what an ARC seal
/// (one per post) covers, and, with [`PERSONAL_FIELDS`], what each DKIM signature covers.
pub const SHARED_FIELDS: &[&str] = &[
    "From",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "Cc",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Post",
    "List-Help",
    "List-Owner",
    "List-Archive",
    "Archived-At",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "X-Original-From",
];

pub struct Personaliser {
    /// `To:` is the recipient's address.
    to: bool,
    /// Personal unsubscribe links for this group.
    unsubscribe: Option<(Links, i64, Option<String>)>,
    /// The list copy without the personal fields: header fields, blank line, body.
    shared: Arc<[u8]>,
    /// Where the body starts in `shared` (after the blank line); `shared.len()` when none.
    body_offset: usize,
}

impl Personaliser {
    /// `flags`: [`Personal`] bits; `links`, `group_id` and `list` (its address): for the
    /// unsubscribe links.
    pub fn new(
        list_copy: &[u8],
        flags: i64,
        links: Option<&Links>,
        group_id: i64,
        list: Option<&str>,
    ) -> Personaliser {
        let to = flags & Personal::TO != 0;
        let unsubscribe = links
            .filter(|_| flags & Personal::UNSUBSCRIBE != 0)
            .map(|l| (l.clone(), group_id, list.map(str::to_string)));
        let mut replaced = Vec::new();
        if to {
            replaced.push("To");
        }
        if unsubscribe.is_some() {
            replaced.extend(["List-Unsubscribe", "List-Unsubscribe-Post"]);
        }
        let shared: Arc<[u8]> = match MessageParser::new().parse_headers(list_copy) {
            Some(parsed) if !replaced.is_empty() => {
                headers::strip(list_copy, &parsed, &replaced).into()
            }
            _ => list_copy.into(),
        };
        let body_offset = body_offset(&shared);
        Personaliser {
            to,
            unsubscribe,
            shared,
            body_offset,
        }
    }

    /// The header fields of `recipient`'s copy that differ from everyone else's.
    pub fn fields_for(&self, recipient: &str) -> String {
        let mut fields = String::new();
        if self.to {
            fields.push_str(&format!("To: <{recipient}>\r\n"));
        }
        if let Some((links, group_id, list)) = &self.unsubscribe {
            fields.push_str(&links.fields(*group_id, recipient, list.as_deref()));
        }
        fields
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

    /// `recipient`'s whole copy, with `prefix` (e.g. their DKIM-Signature fields) on top; the
    /// shared bytes are not copied.
    pub fn copy_for(&self, prefix: &str, recipient: &str) -> CopyBytes {
        self.copy_with(prefix, &self.fields_for(recipient))
    }

    /// A copy with `fields` (made by [`Personaliser::fields_for`]) and `prefix` on top.
    pub fn copy_with(&self, prefix: &str, fields: &str) -> CopyBytes {
        let mut head = Vec::with_capacity(prefix.len() + fields.len());
        head.extend_from_slice(prefix.as_bytes());
        head.extend_from_slice(fields.as_bytes());
        CopyBytes::new(head, self.shared.clone())
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
        let p = Personaliser::new(copy, Personal::TO, None, 1, None);
        let out = String::from_utf8(p.copy_for("", "kim@x.org").to_vec()).unwrap();
        assert_eq!(
            out,
            "To: <kim@x.org>\r\nFrom: a@x.org\r\nSubject: s\r\n\r\nbody\r\n"
        );
        assert_eq!(p.shared_fields(), b"From: a@x.org\r\nSubject: s\r\n");
        assert_eq!(p.body(), b"body\r\n");
    }

    #[test]
    fn personal_copies_share_the_bytes_they_have_in_common() {
        let copy = b"From: a@x.org\r\nTo: board@lists.test\r\n\r\nlong body\r\n";
        let p = Personaliser::new(copy, Personal::TO, None, 1, None);
        let (a, b) = (p.copy_for("", "a@x.org"), p.copy_for("", "b@x.org"));
        assert_eq!(a.head, b"To: <a@x.org>\r\n");
        assert!(std::sync::Arc::ptr_eq(&a.shared, &b.shared));
    }

    #[test]
    fn a_message_without_a_body_still_splits() {
        let p = Personaliser::new(
            b"From: a@x.org\r\nSubject: s\r\n",
            Personal::TO,
            None,
            1,
            None,
        );
        assert_eq!(p.body(), b"");
        assert_eq!(p.shared_fields(), b"From: a@x.org\r\nSubject: s");
        assert!(
            p.copy_for("", "k@x.org")
                .to_vec()
                .starts_with(b"To: <k@x.org>\r\nFrom:")
        );
    }
}
