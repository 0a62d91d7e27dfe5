//! Posting policy: what happens to a post before anyone receives it.
//!
//! Input: the parsed headers of a post and the group it is for. Output: a [`Verdict`]. This stage
//! never writes to the store and never sends mail; a refusal is answered inside the SMTP dialogue.
//! For now it knows one rule: a post that already went through this list is a loop.

use mail_parser::{HeaderName, Message};

use crate::{rewrite::LOOP_HEADER, store::groups::Group};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Distribute to the group.
    Accept,
    /// Take it (so the sender does not retry) but distribute it to no one, for this reason.
    Drop(String),
}

pub fn evaluate(message: &Message<'_>, group: &Group) -> Verdict {
    if carries_loop_marker(message, group) {
        return Verdict::Drop(format!(
            "mail loop: the post already carries the {LOOP_HEADER} marker of {}",
            group.address.as_deref().unwrap_or(&group.name)
        ));
    }
    Verdict::Accept
}

fn carries_loop_marker(message: &Message<'_>, group: &Group) -> bool {
    let Some(address) = group.address.as_deref() else {
        return false;
    };
    message.headers().iter().any(|h| {
        matches!(&h.name, HeaderName::Other(n) if n.eq_ignore_ascii_case(LOOP_HEADER))
            && h.value
                .as_text()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case(address))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> Group {
        Group {
            id: 1,
            name: "Board".into(),
            address: Some("board@example.org".into()),
            active: true,
            standard_key: None,
            criteria: None,
        }
    }

    fn verdict(raw: &str) -> Verdict {
        let msg = mail_parser::MessageParser::new()
            .parse(raw.as_bytes())
            .unwrap();
        evaluate(&msg, &board())
    }

    #[test]
    fn a_post_with_our_own_marker_is_dropped() {
        let v =
            verdict("From: a@x.org\r\nX-Loop: Board@Example.org\r\nSubject: hi\r\n\r\nbody\r\n");
        assert!(matches!(v, Verdict::Drop(_)));
    }

    #[test]
    fn another_lists_marker_is_fine() {
        let v =
            verdict("From: a@x.org\r\nX-Loop: other@example.org\r\nSubject: hi\r\n\r\nbody\r\n");
        assert_eq!(v, Verdict::Accept);
    }
}
