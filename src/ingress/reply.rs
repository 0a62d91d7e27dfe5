//! Every reply the SMTP/LMTP server sends, in one place: code, enhanced status code (RFC 3463) and
//! a text a person can act on. Nothing else in `ingress` writes reply text.

use std::borrow::Cow;

use crate::unsubscribe::JoinRefusal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Enhanced status code; `None` only where RFC 2034 has none (greeting, HELO).
    pub status: Option<(u8, u16, u16)>,
    pub text: Cow<'static, str>,
}

fn r(code: u16, status: (u8, u16, u16), text: impl Into<Cow<'static, str>>) -> Reply {
    Reply {
        code,
        status: Some(status),
        text: text.into(),
    }
}

impl Reply {
    /// The reply line. Replies are US-ASCII (RFC 5321 4.2): anything else, and any CR or LF,
    /// becomes `?` (no text here is meant to contain them; this keeps a slip off the wire).
    pub fn write(&self, out: &mut Vec<u8>) {
        let text: String = self
            .text
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        let line = match self.status {
            Some((a, b, c)) => format!("{} {a}.{b}.{c} {text}\r\n", self.code),
            None => format!("{} {text}\r\n", self.code),
        };
        out.extend_from_slice(line.as_bytes());
    }

    pub fn is_positive(&self) -> bool {
        self.code < 400
    }
}

// Connection
pub fn greeting(host: &str, lmtp: bool) -> Reply {
    let proto = if lmtp { "LMTP" } else { "ESMTP" };
    Reply {
        code: 220,
        status: None,
        text: format!("{host} {proto} circlemail ready").into(),
    }
}
pub fn bye() -> Reply {
    r(221, (2, 0, 0), "Bye")
}
pub fn idle_timeout(host: &str) -> Reply {
    r(
        421,
        (4, 4, 2),
        format!("{host} Timeout waiting for a command, closing the connection"),
    )
}
pub fn data_timeout(host: &str) -> Reply {
    r(
        421,
        (4, 4, 2),
        format!("{host} Timeout: the message data took too long, closing the connection"),
    )
}
pub fn session_too_long(host: &str) -> Reply {
    r(
        421,
        (4, 4, 2),
        format!("{host} Session too long, closing the connection; please reconnect"),
    )
}
pub fn shutting_down(host: &str) -> Reply {
    r(
        421,
        (4, 3, 2),
        format!("{host} Shutting down; please try again later"),
    )
}
pub fn too_many_sessions(host: &str) -> Reply {
    r(
        421,
        (4, 3, 2),
        format!("{host} Too many connections; please try again later"),
    )
}
pub fn too_many_errors() -> Reply {
    r(421, (4, 7, 0), "Too many errors; closing the connection")
}

// Greeting commands
pub fn helo(host: &str) -> Reply {
    Reply {
        code: 250,
        status: None,
        text: host.to_string().into(),
    }
}
pub fn need_lhlo() -> Reply {
    r(500, (5, 5, 1), "This is an LMTP service: say LHLO")
}
pub fn lhlo_on_smtp() -> Reply {
    r(500, (5, 5, 1), "This is an SMTP service: LHLO is for LMTP")
}
pub fn need_helo() -> Reply {
    r(503, (5, 5, 1), "Say EHLO (or HELO) first")
}

// Envelope
pub fn sender_ok() -> Reply {
    r(250, (2, 1, 0), "Sender OK")
}
pub fn recipient_ok() -> Reply {
    r(250, (2, 1, 5), "Recipient OK")
}
pub fn need_mail() -> Reply {
    r(503, (5, 5, 1), "Give the sender first (MAIL FROM)")
}
pub fn nested_mail() -> Reply {
    r(
        503,
        (5, 5, 1),
        "Sender already given; send RSET to start over",
    )
}
pub fn need_rcpt() -> Reply {
    r(503, (5, 5, 1), "No valid recipient given (RCPT TO)")
}
pub fn bad_sender() -> Reply {
    r(
        501,
        (5, 1, 7),
        "The sender address is not valid; write MAIL FROM:<name@example.org>",
    )
}
pub fn bad_recipient(why: &str) -> Reply {
    r(
        501,
        (5, 1, 3),
        format!("The recipient address is not valid: {why}"),
    )
}
pub fn relaying_denied(domain: &str) -> Reply {
    let domain = if domain.is_ascii() {
        domain
    } else {
        "that domain"
    };
    r(
        550,
        (5, 7, 1),
        format!("Relaying denied: {domain} is not a domain served here"),
    )
}
/// How a reply names an address: `<addr>` when it is ASCII; an internationalised address
/// (RFC 6531) is not echoed, since replies stay US-ASCII whatever the client said.
pub fn shown(address: &str) -> String {
    if address.is_ascii() {
        format!("<{address}>")
    } else {
        "The recipient".into()
    }
}
pub fn no_such_list(shown: &str) -> Reply {
    r(550, (5, 1, 1), format!("{shown}: no such list here"))
}
pub fn list_inactive(shown: &str) -> Reply {
    r(
        550,
        (5, 2, 1),
        format!("{shown}: this list is deactivated and takes no mail"),
    )
}
pub fn sender_not_utf8() -> Reply {
    r(
        501,
        (5, 6, 7),
        "The sender address is not valid UTF-8 (RFC 6531)",
    )
}
pub fn recipient_not_utf8() -> Reply {
    r(
        501,
        (5, 6, 7),
        "The recipient address is not valid UTF-8 (RFC 6531)",
    )
}
/// True for [`too_many_recipients`]: the client's cue to send the rest later, not an error.
pub fn is_too_many_recipients(reply: &Reply) -> bool {
    reply.code == 452 && reply.status == Some((4, 5, 3))
}
pub fn too_many_recipients(max: usize) -> Reply {
    r(
        452,
        (4, 5, 3),
        format!(
            "Too many recipients (at most {max} per message); send the rest in another transaction"
        ),
    )
}

// Message content
pub fn start_data() -> Reply {
    Reply {
        code: 354,
        status: None,
        text: "End data with <CR><LF>.<CR><LF>".into(),
    }
}
pub fn chunk_received(n: usize) -> Reply {
    r(250, (2, 0, 0), format!("{n} octets received"))
}
pub fn queued(ids: &[String]) -> Reply {
    r(250, (2, 0, 0), format!("Queued as {}", ids.join(" ")))
}
pub fn accepted() -> Reply {
    r(250, (2, 0, 0), "Accepted")
}
/// Mail to `LIST-join@` that cannot lead to membership, with the reason.
pub fn join_refused(why: &JoinRefusal) -> Reply {
    let reason = match why {
        JoinRefusal::NoSender => "the message has no From: address".to_string(),
        JoinRefusal::ByRule { group, owner } => format!(
            "{group} is filled from the organisation's records (a rule), not by request; write to {owner}"
        ),
        JoinRefusal::ManagersOnly { group, owner } => {
            format!("{group} takes new members from its managers only; write to {owner}")
        }
    };
    r(550, (5, 7, 1), format!("Cannot join: {reason}"))
}
/// Mail to `LIST-join@` taken: the link goes to the From: address.
pub fn join_requested() -> Reply {
    r(
        250,
        (2, 0, 0),
        "Request received: a confirmation link is on its way to the sender",
    )
}
/// Mail to `LIST-leave@`: the same answer whether or not the sender is a member.
pub fn leave_requested() -> Reply {
    r(
        250,
        (2, 0, 0),
        "Request received: if the sender receives this list, a confirmation link is on its way",
    )
}
pub fn held(reason: &str) -> Reply {
    r(250, (2, 0, 0), format!("Held for moderation: {reason}"))
}
pub fn post_refused(reason: &str) -> Reply {
    r(550, (5, 7, 1), format!("Post refused: {reason}"))
}
pub fn post_later(reason: &str) -> Reply {
    r(451, (4, 7, 1), format!("Try again later: {reason}"))
}
pub fn accepted_not_distributed(reason: &str) -> Reply {
    r(
        250,
        (2, 0, 0),
        format!("Accepted but not distributed: {reason}"),
    )
}
pub fn too_big(max: u64) -> Reply {
    r(
        552,
        (5, 3, 4),
        format!("Message too big: the limit is {max} bytes"),
    )
}
pub fn bare_line_ending() -> Reply {
    r(
        554,
        (5, 6, 0),
        "Message refused: it contains a bare CR or LF; every line must end with CRLF (RFC 5321 2.3.8)",
    )
}
pub fn no_header() -> Reply {
    r(
        554,
        (5, 6, 0),
        "Message refused: it has no header section (From:, Subject:, ...)",
    )
}
pub fn data_after_bdat() -> Reply {
    r(
        503,
        (5, 5, 1),
        "DATA cannot follow BDAT in one transaction; send RSET",
    )
}
pub fn store_failure() -> Reply {
    r(
        451,
        (4, 3, 0),
        "Temporary local problem storing the message; please try again later",
    )
}

// Other commands
pub fn ok() -> Reply {
    r(250, (2, 0, 0), "OK")
}
pub fn reset() -> Reply {
    r(250, (2, 0, 0), "Reset")
}
pub fn help() -> Reply {
    r(
        214,
        (2, 0, 0),
        "circlemail accepts mail for its lists; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT STARTTLS",
    )
}
pub fn vrfy() -> Reply {
    r(
        252,
        (2, 5, 0),
        "Cannot verify addresses; send the message and the server will say",
    )
}
pub fn expn() -> Reply {
    r(
        502,
        (5, 5, 1),
        "EXPN is not available: list membership is not disclosed",
    )
}
pub fn auth_unavailable() -> Reply {
    r(
        503,
        (5, 5, 1),
        "AUTH is not available: this server accepts mail only for its own lists",
    )
}
pub fn not_implemented() -> Reply {
    r(502, (5, 5, 1), "Command not implemented")
}
pub fn starttls_ready() -> Reply {
    r(220, (2, 0, 0), "Ready to start TLS")
}
pub fn starttls_unavailable() -> Reply {
    r(502, (5, 5, 1), "STARTTLS is not available here")
}
pub fn already_tls() -> Reply {
    r(503, (5, 5, 1), "TLS is already active")
}

// Syntax
pub fn unknown_command() -> Reply {
    r(500, (5, 5, 1), "Command not recognised")
}
pub fn syntax(expected: &str) -> Reply {
    r(
        501,
        (5, 5, 4),
        format!("Syntax error, expected: {expected}"),
    )
}
pub fn invalid_parameter(param: &str) -> Reply {
    r(
        501,
        (5, 5, 4),
        format!("Invalid value for parameter {param}"),
    )
}
pub fn unsupported_parameter(param: &str) -> Reply {
    r(
        555,
        (5, 5, 4),
        format!("Parameter {param} is not supported"),
    )
}
pub fn line_too_long() -> Reply {
    r(500, (5, 5, 6), "Command line too long")
}

/// The reply for a command the parser could not read.
pub fn for_parse_error(e: &smtp_proto::Error) -> Reply {
    use smtp_proto::Error as E;
    match e {
        E::UnknownCommand | E::NeedsMoreData { .. } | E::InvalidResponse { .. } => {
            unknown_command()
        }
        E::InvalidSenderAddress => bad_sender(),
        E::InvalidRecipientAddress => bad_recipient("write RCPT TO:<list@example.org>"),
        E::SyntaxError { syntax: s } => syntax(s),
        E::InvalidParameter { param } => invalid_parameter(param),
        E::UnsupportedParameter { param } => unsupported_parameter(param),
        E::ResponseTooLong => line_too_long(),
    }
}

/// The EHLO/LHLO reply: our name, then the extensions we support.
pub fn ehlo(host: &str, client: &str, max_size: u64, starttls: bool, out: &mut Vec<u8>) {
    let mut lines = vec![format!("{host} Hello {client}")];
    lines.extend(
        [
            "PIPELINING",
            "8BITMIME",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",
            "CHUNKING",
        ]
        .map(String::from),
    );
    lines.push(format!("SIZE {max_size}"));
    if starttls {
        lines.push("STARTTLS".into());
    }
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        let sep = if i == last { ' ' } else { '-' };
        out.extend_from_slice(format!("250{sep}{line}\r\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_us_ascii_even_when_given_utf8() {
        let mut out = Vec::new();
        for reply in [
            no_header(),
            bare_line_ending(),
            no_such_list(&shown("björn@lists.test")),
            relaying_denied("föreningen.se"),
            post_refused("Fuß\r\nInjected: yes"),
        ] {
            reply.write(&mut out);
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.is_ascii(), "{text}");
        assert_eq!(text.matches("\r\n").count(), 5, "one line each: {text}");
        assert!(!text.contains("björn"));
    }
}
