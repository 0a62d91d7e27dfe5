//! Classifying what a remote server said into per-recipient outcomes.

use smtp_proto::Response;

/// What happened to one recipient in one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptOutcome {
    Delivered,
    /// Worth trying again later (4xx, timeouts, refused connections, our own relay set-up).
    Temporary(String),
    /// The remote server refused for good (5xx).
    Permanent(String),
    /// The remote server refused this recipient for good at RCPT (5xx): the address is scored
    /// like a hard bounce. `status`: the enhanced status code (`5.1.1`), when the reply had one.
    Refused {
        error: String,
        status: Option<String>,
    },
}

impl RcptOutcome {
    /// The permanent refusal of one recipient in reply to its RCPT: [`RcptOutcome::Refused`]
    /// for a 5xx that is about the recipient, else as [`from_reply`] says.
    pub fn from_rcpt_reply(reply: &Response<String>) -> RcptOutcome {
        match from_reply("RCPT TO", reply) {
            RcptOutcome::Permanent(error) => RcptOutcome::Refused {
                error,
                status: (reply.esc[0] == 5)
                    .then(|| format!("{}.{}.{}", reply.esc[0], reply.esc[1], reply.esc[2])),
            },
            other => other,
        }
    }
}

/// The outcome for a negative reply. Authentication problems (530, 534, 535, 538) are 5xx
/// but say nothing about the recipient: they are our relay credentials being wrong, which an
/// operator fixes, so they stay temporary instead of failing every recipient of every post.
pub fn from_reply(stage: &str, reply: &Response<String>) -> RcptOutcome {
    let text = format!(
        "{stage}: {} {}.{}.{} {}",
        reply.code,
        reply.esc[0],
        reply.esc[1],
        reply.esc[2],
        reply.message.trim()
    );
    match reply.code {
        // Not a refusal, but not what was asked for either: never count it as delivered.
        200..=399 => RcptOutcome::Temporary(format!("{text} (unexpected reply)")),
        530 | 534 | 535 | 538 => {
            RcptOutcome::Temporary(format!("{text} (check the relay credentials)"))
        }
        500..=599 => RcptOutcome::Permanent(text),
        _ => RcptOutcome::Temporary(text),
    }
}

/// The outcome for a failure that is not a reply (connection, TLS, timeout).
pub fn from_error(stage: &str, error: &mail_send::Error) -> RcptOutcome {
    match error {
        mail_send::Error::UnexpectedReply(reply)
        | mail_send::Error::AuthenticationFailed(reply) => from_reply(stage, reply),
        other => RcptOutcome::Temporary(format!("{stage}: {}", describe(other))),
    }
}

fn describe(error: &mail_send::Error) -> String {
    match error {
        mail_send::Error::Timeout => "timed out".into(),
        mail_send::Error::Io(e) => e.to_string(),
        mail_send::Error::Tls(e) => format!("TLS: {e}"),
        mail_send::Error::MissingStartTls => "the relay does not offer STARTTLS".into(),
        mail_send::Error::UnparseableReply => "connection closed or reply not understood".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16) -> Response<String> {
        Response::new(code, code as u8 / 100, 1, 1, "text".into())
    }

    #[test]
    fn a_5xx_to_rcpt_is_a_refusal_of_the_recipient_with_its_status() {
        let r = Response::new(550, 5, 1, 1, "No such user".to_string());
        assert_eq!(
            RcptOutcome::from_rcpt_reply(&r),
            RcptOutcome::Refused {
                error: "RCPT TO: 550 5.1.1 No such user".into(),
                status: Some("5.1.1".into())
            }
        );
        let r = Response::new(550, 0, 0, 0, "No".to_string());
        assert!(matches!(
            RcptOutcome::from_rcpt_reply(&r),
            RcptOutcome::Refused { status: None, .. }
        ));
        assert!(matches!(
            RcptOutcome::from_rcpt_reply(&reply(450)),
            RcptOutcome::Temporary(_)
        ));
        assert!(matches!(
            RcptOutcome::from_rcpt_reply(&reply(530)),
            RcptOutcome::Temporary(_)
        ));
    }

    #[test]
    fn only_5xx_replies_are_permanent_and_auth_errors_are_not() {
        assert!(matches!(
            from_reply("RCPT", &reply(550)),
            RcptOutcome::Permanent(_)
        ));
        assert!(matches!(
            from_reply("RCPT", &reply(451)),
            RcptOutcome::Temporary(_)
        ));
        assert!(matches!(
            from_reply("MAIL", &reply(535)),
            RcptOutcome::Temporary(_)
        ));
        // A positive reply where a refusal was expected (e.g. 250 to STARTTLS) delivers nothing.
        assert!(matches!(
            from_reply("STARTTLS", &reply(250)),
            RcptOutcome::Temporary(_)
        ));
    }
}
