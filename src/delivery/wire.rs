//! The bytes of an SMTP client session: commands, DATA content, and reading replies without
//! losing any.

use smtp_proto::{
    EXT_8BIT_MIME, EXT_SMTP_UTF8, EhloResponse, Response, response::parser::ResponseReceiver,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    time::timeout,
};

use super::{Copy, CopyBytes, relay::Client};

/// Writes `group` (one or more commands, maybe DATA content) and reads up to `expected`
/// replies, within the command timeout. Returns every reply read, also when reading stopped
/// early: the error comes with them, so a `250` for one copy's content is not lost because the
/// server then answered the next MAIL FROM with `421` and hung up.
pub(super) async fn exchange(
    client: &mut Client,
    group: &[u8],
    expected: usize,
) -> (Vec<Response<String>>, Option<mail_send::Error>) {
    let mut replies = Vec::with_capacity(expected);
    let limit = client.timeout;
    let done = timeout(limit, async {
        client.stream.write_all(group).await?;
        client.stream.flush().await?;
        let mut parser = ResponseReceiver::default();
        let mut buf = vec![0u8; 4096];
        while replies.len() < expected {
            let n = client.stream.read(&mut buf).await?;
            if n == 0 {
                return Err(mail_send::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                )));
            }
            let mut bytes = buf[..n].iter();
            while replies.len() < expected {
                match parser.parse(&mut bytes) {
                    Ok(reply) => {
                        replies.push(reply);
                        parser.reset();
                    }
                    Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                    Err(_) => return Err(mail_send::Error::UnparseableReply),
                }
            }
        }
        Ok(())
    })
    .await;
    let error = match done {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(mail_send::Error::Timeout),
    };
    (replies, error)
}

/// `MAIL FROM` (with BODY=8BITMIME / SMTPUTF8 when needed and offered) and one `RCPT TO` per
/// recipient, appended to `out`. Addresses come from the directory and our own VERP senders,
/// validated on the way in; none holds CR or LF.
pub(super) fn envelope(ehlo: &EhloResponse<String>, copy: &Copy, out: &mut Vec<u8>) {
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

/// The message as DATA content and its final dot (RFC 5321 §4.5.2), appended to `out`: a dot
/// starting a line is doubled, and the content ends with CRLF so that the dot stands on a line
/// of its own. A line starts after CRLF, and also after a bare CR or LF (ingress refuses those,
/// but a receiver that took one for a line end must never see a dot line end the data early).
pub(super) fn content(message: &CopyBytes, out: &mut Vec<u8>) {
    out.reserve(message.len() + 32);
    let start = out.len();
    let mut line_start = true;
    for part in message.parts() {
        let mut from = 0;
        for (i, &b) in part.iter().enumerate() {
            if line_start && b == b'.' {
                out.extend_from_slice(&part[from..i]);
                out.push(b'.');
                from = i;
            }
            line_start = b == b'\n' || b == b'\r';
        }
        out.extend_from_slice(&part[from..]);
    }
    if !out[start..].ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed(message: &str) -> String {
        let mut out = Vec::new();
        content(&CopyBytes::whole(message.as_bytes()), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn dots_at_line_starts_are_doubled() {
        assert_eq!(stuffed("a\r\n.b\r\n"), "a\r\n..b\r\n.\r\n");
        assert_eq!(stuffed(".x\r\n.\r\n"), "..x\r\n..\r\n.\r\n");
        assert_eq!(stuffed("a.b\r\n x.\r\n"), "a.b\r\n x.\r\n.\r\n");
        // After a bare LF or CR too: no receiver may read "\n.\r\n" as the end of the data.
        assert_eq!(stuffed("a\n.\r\nb"), "a\n..\r\nb\r\n.\r\n");
        assert_eq!(stuffed("a\r.b"), "a\r..b\r\n.\r\n");
    }

    #[test]
    fn content_ends_with_crlf_and_the_dot() {
        assert_eq!(stuffed("no newline"), "no newline\r\n.\r\n");
        assert_eq!(stuffed(""), "\r\n.\r\n");
        let mut out = b"RSET\r\n".to_vec();
        content(&CopyBytes::whole(b"x".as_slice()), &mut out);
        assert_eq!(out, b"RSET\r\nx\r\n.\r\n");
        assert_eq!(stuffed("ends\r\n"), "ends\r\n.\r\n");
    }

    #[test]
    fn line_starts_are_found_across_the_parts() {
        let mut out = Vec::new();
        let head = b"To: <k@x.org>\r".to_vec();
        content(
            &CopyBytes::new(head, b"\n.x\r\n".as_slice().into()),
            &mut out,
        );
        assert_eq!(out, b"To: <k@x.org>\r\n..x\r\n.\r\n");
        out.clear();
        content(
            &CopyBytes::new(b"A: b\r\n".to_vec(), b".x".as_slice().into()),
            &mut out,
        );
        assert_eq!(out, b"A: b\r\n..x\r\n.\r\n");
    }
}
