//! Transactions on an open SMTP connection: the part of the client both transports share.
//!
//! [`send_copies`] sends copies one transaction each. When the server offers PIPELINING
//! (RFC 2920) the commands go in groups, one round trip per copy: MAIL FROM, every RCPT TO and
//! DATA in one write; after the `354`, the message content, its final dot and the *next* copy's
//! MAIL/RCPT/DATA in the next write (RFC 2920 §3.1: message content may start a group). Without
//! PIPELINING every command waits for its reply. Each RCPT reply is kept, so one refused
//! recipient fails alone while the rest of the copy is delivered.

use std::time::Duration;

use smtp_proto::{EXT_8BIT_MIME, EXT_PIPELINING, EXT_SMTP_UTF8, EhloResponse, Response};
use tokio::{io::AsyncWriteExt, time::timeout};

use super::{
    Copy, CopyBytes,
    outcome::{RcptOutcome, from_error, from_reply},
    relay::Client,
};

/// Sends `copies` in order over one connection. Returns the outcomes (one per recipient) of the
/// first copies, at least one, and whether the connection can carry more; when the connection
/// broke, the copies without outcomes were not sent and go on a new connection.
pub(super) async fn send_copies(
    client: &mut Client,
    ehlo: &EhloResponse<String>,
    copies: &[&Copy],
) -> (Vec<Vec<RcptOutcome>>, bool) {
    if ehlo.has_capability(EXT_PIPELINING) {
        return pipelined(client, ehlo, copies).await;
    }
    let mut results = Vec::with_capacity(copies.len());
    for copy in copies {
        let (outcomes, usable) = transaction(client, ehlo, copy).await;
        results.push(outcomes);
        if !usable {
            return (results, false);
        }
    }
    (results, true)
}

/// A copy whose DATA was answered `354`: its content goes out with the next group.
struct Sending {
    /// `None` for a recipient the server took, the refusal otherwise.
    outcomes: Vec<Option<RcptOutcome>>,
}

impl Sending {
    fn finish(self, reply: Option<&Response<String>>) -> Vec<RcptOutcome> {
        let accepted = match reply {
            Some(r) if r.code / 100 == 2 => RcptOutcome::Delivered,
            Some(r) => from_reply("DATA", r),
            None => RcptOutcome::Temporary("DATA: no reply".into()),
        };
        self.outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| accepted.clone()))
            .collect()
    }
}

async fn pipelined(
    client: &mut Client,
    ehlo: &EhloResponse<String>,
    copies: &[&Copy],
) -> (Vec<Vec<RcptOutcome>>, bool) {
    let mut results = Vec::with_capacity(copies.len());
    let mut out = Vec::new();
    let mut sending: Option<Sending> = None;
    // The last transaction ended without its content (MAIL taken, DATA refused): reset it.
    let mut reset = false;
    for (i, copy) in copies.iter().map(Some).chain([None]).enumerate() {
        out.clear();
        let mut expected = 0;
        if let Some(s) = &sending {
            if s.outcomes.iter().any(Option::is_none) {
                dot_stuff(&copies[i - 1].message, &mut out);
            }
            // Nobody was taken but the server still said 354: a lone dot ends it.
            out.extend_from_slice(b".\r\n");
            expected += 1;
        }
        if reset {
            out.extend_from_slice(b"RSET\r\n");
            expected += 1;
        }
        if let Some(copy) = copy {
            envelope(ehlo, copy, &mut out);
            out.extend_from_slice(b"DATA\r\n");
            expected += copy.recipients.len() + 2;
        }
        if expected == 0 {
            break;
        }
        let replies = match exchange(client, &out, expected).await {
            Ok(replies) => replies,
            Err(e) => {
                // The copy being sent is in doubt (it may still arrive: a retry can duplicate
                // it); the one just started never reached DATA and simply goes again.
                match sending.take() {
                    Some(s) => results.push(vec![from_error("DATA", &e); s.outcomes.len()]),
                    None => {
                        if let Some(copy) = copy
                            && results.is_empty()
                        {
                            results.push(vec![from_error("MAIL/RCPT", &e); copy.recipients.len()]);
                        }
                    }
                }
                return (results, false);
            }
        };
        let mut replies = replies.iter();
        if let Some(s) = sending.take() {
            results.push(s.finish(replies.next()));
        }
        if reset {
            replies.next();
            reset = false;
        }
        let Some(copy) = copy else { break };
        let mail = replies.next();
        let outcomes: Vec<Option<RcptOutcome>> = copy
            .recipients
            .iter()
            .map(|_| match replies.next() {
                Some(r) if r.code / 100 == 2 => None,
                Some(r) => Some(from_reply("RCPT TO", r)),
                None => Some(RcptOutcome::Temporary("RCPT TO: no reply".into())),
            })
            .collect();
        let data = replies.next();
        match (mail, data) {
            (Some(m), _) if m.code / 100 != 2 => {
                results.push(vec![from_reply("MAIL FROM", m); copy.recipients.len()]);
            }
            (Some(_), Some(d)) if d.code == 354 => sending = Some(Sending { outcomes }),
            (Some(_), Some(d)) => {
                reset = true;
                let refused = from_reply("DATA", d);
                results.push(
                    outcomes
                        .into_iter()
                        .map(|o| o.unwrap_or_else(|| refused.clone()))
                        .collect(),
                );
            }
            _ => {
                let outcome = RcptOutcome::Temporary("MAIL FROM: no reply".into());
                results.push(vec![outcome; copy.recipients.len()]);
                return (results, false);
            }
        }
    }
    (results, true)
}

/// Writes one group of commands and reads its `expected` replies, within the command timeout.
async fn exchange(
    client: &mut Client,
    group: &[u8],
    expected: usize,
) -> Result<Vec<Response<String>>, mail_send::Error> {
    let limit: Duration = client.timeout;
    timeout(limit, async {
        client.stream.write_all(group).await?;
        client.stream.flush().await?;
        client.read_many(expected).await
    })
    .await
    .map_err(|_| mail_send::Error::Timeout)?
}

/// `MAIL FROM` (with BODY=8BITMIME / SMTPUTF8 when needed and offered) and one `RCPT TO` per
/// recipient, appended to `out`.
fn envelope(ehlo: &EhloResponse<String>, copy: &Copy, out: &mut Vec<u8>) {
    out.extend_from_slice(b"MAIL FROM:<");
    out.extend_from_slice(copy.envelope_from.as_bytes());
    out.push(b'>');
    if ehlo.has_capability(EXT_8BIT_MIME) && !copy.message.is_ascii() {
        out.extend_from_slice(b" BODY=8BITMIME");
    }
    if ehlo.has_capability(EXT_SMTP_UTF8)
        && (!copy.envelope_from.is_ascii() || copy.recipients.iter().any(|r| !r.is_ascii()))
    {
        out.extend_from_slice(b" SMTPUTF8");
    }
    out.extend_from_slice(b"\r\n");
    for r in &copy.recipients {
        out.extend_from_slice(b"RCPT TO:<");
        out.extend_from_slice(r.as_bytes());
        out.extend_from_slice(b">\r\n");
    }
}

/// The message as DATA content (RFC 5321 §4.5.2): a dot starting a line is doubled, and the
/// content ends with CRLF so that the final `.\r\n` stands on a line of its own.
fn dot_stuff(message: &CopyBytes, out: &mut Vec<u8>) {
    out.reserve(message.len() + 16);
    let (mut line_start, mut after_cr) = (true, false);
    for part in message.parts() {
        let mut from = 0;
        for (i, &b) in part.iter().enumerate() {
            if line_start && b == b'.' {
                out.extend_from_slice(&part[from..i]);
                out.push(b'.');
                from = i;
            }
            line_start = b == b'\n' && after_cr;
            after_cr = b == b'\r';
        }
        out.extend_from_slice(&part[from..]);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
}

/// One transaction without pipelining: MAIL, then each RCPT, then DATA, each waiting for its
/// reply. The flag says whether the connection can carry another transaction (false after an
/// I/O error, a timeout or a reply out of step).
async fn transaction(
    client: &mut Client,
    ehlo: &EhloResponse<String>,
    copy: &Copy,
) -> (Vec<RcptOutcome>, bool) {
    let recipients = &copy.recipients;
    let mut commands = Vec::new();
    envelope(ehlo, copy, &mut commands);
    let mut replies = Vec::with_capacity(recipients.len() + 1);
    for command in commands.split_inclusive(|&b| b == b'\n') {
        match client.cmd(command).await {
            Ok(reply) => {
                let stop = replies.is_empty() && reply.code / 100 != 2;
                replies.push(reply);
                if stop {
                    break;
                }
            }
            Err(e) => return (vec![from_error("MAIL/RCPT", &e); recipients.len()], false),
        }
    }
    let Some(mail_reply) = replies.first() else {
        let outcome = RcptOutcome::Temporary("MAIL FROM: no reply".into());
        return (vec![outcome; recipients.len()], false);
    };
    if mail_reply.code / 100 != 2 {
        let usable = client.cmd(b"RSET\r\n").await.is_ok();
        return (
            vec![from_reply("MAIL FROM", mail_reply); recipients.len()],
            usable,
        );
    }
    let mut outcomes: Vec<Option<RcptOutcome>> = recipients
        .iter()
        .enumerate()
        .map(|(i, _)| match replies.get(i + 1) {
            Some(r) if r.code / 100 == 2 => None,
            Some(r) => Some(from_reply("RCPT TO", r)),
            None => Some(RcptOutcome::Temporary("RCPT TO: no reply".into())),
        })
        .collect();
    let mut usable = true;
    if outcomes.iter().all(Option::is_some) {
        usable = client.cmd(b"RSET\r\n").await.is_ok();
    } else {
        let data_outcome = match data(client, &copy.message).await {
            Ok(reply) if reply.code / 100 == 2 => RcptOutcome::Delivered,
            // A refused message leaves the connection in step.
            Ok(reply) => from_reply("DATA", &reply),
            Err(e) => {
                usable = false;
                from_error("DATA", &e)
            }
        };
        for o in outcomes.iter_mut().filter(|o| o.is_none()) {
            *o = Some(data_outcome.clone());
        }
    }
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.unwrap_or(RcptOutcome::Delivered))
        .collect();
    (outcomes, usable)
}

/// DATA, then (after `354`) the content and its final dot; the reply to either that is not
/// `354` or the end of data.
async fn data(
    client: &mut Client,
    message: &CopyBytes,
) -> Result<Response<String>, mail_send::Error> {
    let go_ahead = client.cmd(b"DATA\r\n").await?;
    if go_ahead.code != 354 {
        return Ok(go_ahead);
    }
    let mut content = Vec::new();
    dot_stuff(message, &mut content);
    content.extend_from_slice(b".\r\n");
    let mut replies = exchange(client, &content, 1).await?;
    replies.pop().ok_or(mail_send::Error::UnparseableReply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed(message: &str) -> String {
        let mut out = Vec::new();
        dot_stuff(&CopyBytes::whole(message.as_bytes()), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn line_starts_are_found_across_the_parts() {
        let mut out = Vec::new();
        let head = b"To: <k@x.org>\r".to_vec();
        dot_stuff(
            &CopyBytes::new(head, b"\n.x\r\n".as_slice().into()),
            &mut out,
        );
        assert_eq!(out, b"To: <k@x.org>\r\n..x\r\n");
        out.clear();
        dot_stuff(
            &CopyBytes::new(b"A: b\r\n".to_vec(), b".x".as_slice().into()),
            &mut out,
        );
        assert_eq!(out, b"A: b\r\n..x\r\n");
    }

    #[test]
    fn dots_at_line_starts_are_doubled() {
        assert_eq!(stuffed("a\r\n.b\r\n"), "a\r\n..b\r\n");
        assert_eq!(stuffed(".x\r\n.\r\n"), "..x\r\n..\r\n");
        assert_eq!(stuffed("a.b\r\n x.\r\n"), "a.b\r\n x.\r\n");
        // Only after CRLF: a bare LF does not end a line on the wire.
        assert_eq!(stuffed("a\n.b\r\n"), "a\n.b\r\n");
    }

    #[test]
    fn content_ends_with_crlf() {
        assert_eq!(stuffed("no newline"), "no newline\r\n");
        assert_eq!(stuffed("ends\r\n"), "ends\r\n");
        assert_eq!(stuffed(""), "\r\n");
    }
}
