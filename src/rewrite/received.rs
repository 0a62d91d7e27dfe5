//! Our `Received:` trace line (RFC 5321 §4.4, protocol names from RFC 3848).

use std::net::IpAddr;

/// How and when a post reached us.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    /// The name the client gave in EHLO/HELO/LHLO, as sent (sanitised here).
    pub helo: &'a str,
    pub peer: IpAddr,
    /// `ESMTP`, `ESMTPS`, `SMTP` or `LMTP`.
    pub protocol: &'a str,
    pub hostname: &'a str,
    pub queue_id: &'a str,
    pub recipient: &'a str,
    /// Seconds since the Unix epoch.
    pub date: i64,
}

pub(super) fn line(a: &Arrival<'_>) -> String {
    let date = mail_parser::DateTime::from_timestamp(a.date).to_rfc822();
    format!(
        "Received: from {} ([{}])\r\n\tby {} (circlemail) with {} id {}\r\n\tfor <{}>; {}\r\n",
        printable(a.helo),
        a.peer,
        a.hostname,
        a.protocol,
        a.queue_id,
        printable(a.recipient),
        date
    )
}

/// Only visible ASCII, at most 100 characters: the client chose this text, and it must not be
/// able to end our header line or start another.
fn printable(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(100)
        .collect();
    if clean.is_empty() {
        "unknown".into()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hostile_helo_cannot_inject_a_header() {
        assert_eq!(super::printable("evil\r\nBcc: x@y"), "evilBcc:x@y");
    }
}
