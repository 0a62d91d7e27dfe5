//! Reading bounces: RFC 3464 delivery status notifications (`multipart/report;
//! report-type=delivery-status`, parsed with mail-parser), and the common forms that are not:
//! Exim's `X-Failed-Recipients:` header and "The following address(es) failed:" text, qmail's
//! `<user@example.org>:` paragraphs, and Postfix/Sendmail texts quoting an SMTP reply.
//!
//! A delivery report is a bounce whatever `Auto-Submitted` says: Postfix writes
//! `auto-replied` on every bounce to the sender (only its postmaster copies say
//! `auto-generated`), and Exim does too. Only mail that is no delivery report can be an
//! auto-reply (RFC 3834 `Auto-Submitted` other than `no`, vacation notices); those never count.

use mail_parser::{HeaderName, MessageParser, MimeHeaders};

/// How bad one recipient's failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Still being retried by the remote side (`Action: delayed`): not a bounce yet.
    Delayed,
    /// Failed for now (a 4.x.x status in a failure report): counts less.
    Soft,
    /// Failed for good (5.x.x).
    Hard,
}

/// One recipient a report speaks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The address, lower-cased, when the report names one.
    pub recipient: Option<String>,
    pub severity: Severity,
    /// `5.1.1`, when given.
    pub status: Option<String>,
    /// The remote server's words (`Diagnostic-Code:` or the quoted reply), shortened.
    pub diagnostic: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A bounce: the recipients it names (may be empty when it names none we can read).
    Bounce(Vec<Failure>),
    /// An auto-reply (vacation, out-of-office): never a bounce.
    AutoReply,
    /// Nothing that looks like a bounce.
    Unrecognised,
}

const DIAGNOSTIC_MAX: usize = 300;

pub fn parse(raw: &[u8]) -> Report {
    let Some(message) = MessageParser::new().parse(raw) else {
        return Report::Unrecognised;
    };
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    for part in message.parts.iter() {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
        if ct.ctype().eq_ignore_ascii_case("message")
            && (sub == "delivery-status" || sub == "global-delivery-status")
        {
            let failures = delivery_status(&String::from_utf8_lossy(part.contents()));
            return Report::Bounce(failures);
        }
    }
    // Not RFC 3464: the common texts.
    let text: String = message
        .text_bodies()
        .filter_map(|p| p.text_contents())
        .collect::<Vec<_>>()
        .join("\n");
    let code = smtp_code(&text);
    let severity = match code.as_deref() {
        Some(c) if c.starts_with('4') => Severity::Soft,
        _ => Severity::Hard,
    };
    let diagnostic = code_line(&text);
    let mut recipients: Vec<String> = header("X-Failed-Recipients")
        .map(|v| {
            v.split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| a.contains('@'))
                .collect()
        })
        .unwrap_or_default();
    if recipients.is_empty() {
        recipients = text_recipients(&text);
    }
    let looks_like_bounce = !recipients.is_empty()
        || message
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.address())
            .is_some_and(|a| {
                let a = a.to_ascii_lowercase();
                a.starts_with("mailer-daemon@") || a.starts_with("postmaster@")
            });
    if !looks_like_bounce {
        return if is_auto_reply(&message) {
            Report::AutoReply
        } else {
            Report::Unrecognised
        };
    }
    Report::Bounce(
        recipients
            .into_iter()
            .map(|r| Failure {
                recipient: Some(r),
                severity,
                status: None,
                diagnostic: diagnostic.clone(),
            })
            .collect(),
    )
}

/// RFC 3834 `Auto-Submitted` with any value but `no`, or the older vacation markers.
fn is_auto_reply(message: &mail_parser::Message<'_>) -> bool {
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let keyword = |v: String| {
        v.split(|c: char| c == ';' || c == '(' || c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_string()
    };
    header("Auto-Submitted")
        .map(keyword)
        .is_some_and(|k| !k.is_empty() && k != "no")
        || message
            .header(HeaderName::Other("X-Autoreply".into()))
            .is_some()
        || message
            .header(HeaderName::Other("X-Autorespond".into()))
            .is_some()
        || header("Precedence").is_some_and(|v| v == "auto_reply")
}

/// The per-recipient blocks of a `message/delivery-status` body.
fn delivery_status(body: &str) -> Vec<Failure> {
    let body = body.replace("\r\n", "\n");
    let mut failures = Vec::new();
    // Blocks are separated by blank lines; the first is per-message.
    for block in body.split("\n\n").skip(1) {
        let fields = unfold(block);
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let address = |v: &str| {
            let v = v.split_once(';').map(|(_, a)| a).unwrap_or(v);
            let a = v.trim().trim_matches(['<', '>']).to_lowercase();
            a.contains('@').then_some(a)
        };
        let recipient = get("Final-Recipient")
            .and_then(address)
            .or_else(|| get("Original-Recipient").and_then(address));
        let action = get("Action").unwrap_or("").trim().to_ascii_lowercase();
        let status = get("Status")
            .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
            .filter(|s| !s.is_empty());
        if recipient.is_none() && status.is_none() && action.is_empty() {
            continue;
        }
        let severity = match (action.as_str(), status.as_deref()) {
            ("delayed", _) => Severity::Delayed,
            ("delivered" | "relayed" | "expanded", _) => continue,
            (_, Some(s)) if s.starts_with('4') => Severity::Soft,
            _ => Severity::Hard,
        };
        let diagnostic = get("Diagnostic-Code").map(|d| {
            let d = d.split_once(';').map(|(_, t)| t).unwrap_or(d);
            shorten(d.trim())
        });
        failures.push(Failure {
            recipient,
            severity,
            status,
            diagnostic,
        });
    }
    failures
}

/// `Name: value` fields of a block, continuation lines joined.
fn unfold(block: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            fields.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    fields
}

/// Addresses named in qmail (`<a@b>:`) or Exim ("following address(es) failed:") texts.
fn text_recipients(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut exim_block = false;
    for line in text.lines() {
        let t = line.trim();
        if t.to_ascii_lowercase()
            .contains("following address(es) failed")
            || t.to_ascii_lowercase()
                .contains("following recipients failed")
        {
            exim_block = true;
            continue;
        }
        if let Some(a) = t.strip_prefix('<').and_then(|r| r.strip_suffix(">:"))
            && a.contains('@')
            && !a.contains(' ')
        {
            found.push(a.to_lowercase());
            continue;
        }
        if exim_block {
            if t.is_empty() && !found.is_empty() {
                exim_block = false;
            } else if !line.starts_with("    ")
                && t.contains('@')
                && !t.contains(' ')
                && !t.is_empty()
            {
                found.push(t.trim_matches(['<', '>', ':']).to_lowercase());
            }
        }
    }
    found.dedup();
    found
}

/// The first SMTP reply code quoted in a text (`550 5.1.1 …`, `said: 452 …`).
fn smtp_code(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '.')
        .find(|w| {
            w.len() == 3 && w.starts_with(['4', '5']) && w.chars().all(|c| c.is_ascii_digit())
        })
        .map(str::to_string)
}

fn code_line(text: &str) -> Option<String> {
    let code = smtp_code(text)?;
    text.lines()
        .find(|l| l.contains(&code))
        .map(|l| shorten(l.trim()))
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(DIAGNOSTIC_MAX).collect();
    if s.chars().count() > DIAGNOSTIC_MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTFIX_DSN: &str = "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n\
To: board-bounces@lists.test\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Auto-Submitted: auto-generated\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\
\r\n\
--B\r\n\
Content-Type: text/plain\r\n\
\r\n\
I'm sorry to have to inform you that your message could not be delivered.\r\n\
--B\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.org\r\n\
Arrival-Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
\r\n\
Final-Recipient: rfc822; Anna@example.org\r\n\
Original-Recipient: rfc822;anna@example.org\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <anna@example.org>: Recipient address\r\n\
\x20   rejected: User unknown\r\n\
\r\n\
Final-Recipient: rfc822; bo@example.org\r\n\
Action: delayed\r\n\
Status: 4.4.1\r\n\
\r\n\
--B\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: x@lists.test\r\n\
Subject: hi\r\n\
\r\n\
hi\r\n\
--B--\r\n";

    #[test]
    fn an_rfc3464_report_names_each_recipient_with_its_status() {
        let Report::Bounce(f) = parse(POSTFIX_DSN.as_bytes()) else {
            panic!("not a bounce");
        };
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].recipient.as_deref(), Some("anna@example.org"));
        assert_eq!(f[0].severity, Severity::Hard);
        assert_eq!(f[0].status.as_deref(), Some("5.1.1"));
        assert!(
            f[0].diagnostic
                .as_deref()
                .unwrap()
                .contains("550 5.1.1 <anna@example.org>: Recipient address rejected: User unknown")
        );
        assert_eq!(f[1].severity, Severity::Delayed);
    }

    #[test]
    fn exim_and_qmail_texts_are_read() {
        let exim = "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\r\n\
X-Failed-Recipients: cay@example.com\r\n\
Subject: Mail delivery failed: returning message to sender\r\n\
\r\n\
This message was created automatically by mail delivery software.\r\n\
\r\n\
A message that you sent could not be delivered to one or more of its\r\n\
recipients. This is a permanent error. The following address(es) failed:\r\n\
\r\n\
  cay@example.com\r\n\
    host mx.example.com [192.0.2.1]\r\n\
    SMTP error from remote mail server after RCPT TO:<cay@example.com>:\r\n\
    550 5.1.1 User unknown\r\n";
        let Report::Bounce(f) = parse(exim.as_bytes()) else {
            panic!("exim");
        };
        assert_eq!(f[0].recipient.as_deref(), Some("cay@example.com"));
        assert_eq!(f[0].severity, Severity::Hard);

        let qmail = "From: MAILER-DAEMON@mx.example.net\r\n\
Subject: failure notice\r\n\
\r\n\
Hi. This is the qmail-send program at mx.example.net.\r\n\
I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\
\r\n\
<dee@example.net>:\r\n\
192.0.2.2 does not like recipient.\r\n\
Remote host said: 452 4.2.2 Mailbox full\r\n";
        let Report::Bounce(f) = parse(qmail.as_bytes()) else {
            panic!("qmail");
        };
        assert_eq!(f[0].recipient.as_deref(), Some("dee@example.net"));
        assert_eq!(f[0].severity, Severity::Soft);
    }

    /// Each sample of `tests/fixtures/bounces/` (see its README) and the address it names.
    const CORPUS: &[(&str, &[u8], &str, &str)] = &[
        (
            "Postfix 3.7, to the sender (auto-replied)",
            include_bytes!("../../tests/fixtures/bounces/postfix-3.7-sender.eml"),
            "anna@example.org",
            "5.1.1",
        ),
        (
            "Postfix 3.7, postmaster copy (auto-generated)",
            include_bytes!("../../tests/fixtures/bounces/postfix-3.7-postmaster-copy.eml"),
            "bo@example.net",
            "5.1.1",
        ),
        (
            "Exim 4.96",
            include_bytes!("../../tests/fixtures/bounces/exim-4.96.eml"),
            "cay@example.com",
            "5.0.0",
        ),
        (
            "Sendmail 8",
            include_bytes!("../../tests/fixtures/bounces/sendmail-8.eml"),
            "dee@example.net",
            "5.1.1",
        ),
        (
            "qmail",
            include_bytes!("../../tests/fixtures/bounces/qmail-1.03.eml"),
            "eva@example.org",
            "",
        ),
        (
            "Microsoft 365",
            include_bytes!("../../tests/fixtures/bounces/office365.eml"),
            "finn@example.com",
            "5.1.351",
        ),
        (
            "Gmail",
            include_bytes!("../../tests/fixtures/bounces/gmail.eml"),
            "gus@example.org",
            "",
        ),
    ];

    #[test]
    fn bounces_of_real_mtas_name_their_recipient_whatever_auto_submitted_says() {
        for (mta, raw, recipient, status) in CORPUS {
            let Report::Bounce(f) = parse(raw) else {
                panic!("{mta}: not read as a bounce: {:?}", parse(raw));
            };
            let hard: Vec<_> = f.iter().filter(|f| f.severity == Severity::Hard).collect();
            assert_eq!(hard.len(), 1, "{mta}: {f:?}");
            assert_eq!(hard[0].recipient.as_deref(), Some(*recipient), "{mta}");
            if !status.is_empty() {
                assert_eq!(hard[0].status.as_deref(), Some(*status), "{mta}");
            }
        }
    }

    #[test]
    fn a_sieve_vacation_reply_is_an_auto_reply() {
        let raw = include_bytes!("../../tests/fixtures/bounces/vacation-sieve.eml");
        assert_eq!(parse(raw), Report::AutoReply);
        let generated = "From: hal@example.org\r\nAuto-Submitted: auto-generated\r\nSubject: Automatic reply: Minutes\r\n\r\nOut of office.\r\n";
        assert_eq!(parse(generated.as_bytes()), Report::AutoReply);
        let person = "From: hal@example.org\r\nAuto-Submitted: no\r\nSubject: Re: Minutes\r\n\r\nThanks.\r\n";
        assert_eq!(parse(person.as_bytes()), Report::Unrecognised);
    }

    #[test]
    fn auto_replies_and_ordinary_mail_are_not_bounces() {
        let vacation = "From: anna@example.org\r\nAuto-Submitted: auto-replied\r\nSubject: Away\r\n\r\nI am away.\r\n";
        assert_eq!(parse(vacation.as_bytes()), Report::AutoReply);
        let plain = "From: anna@example.org\r\nSubject: hello\r\n\r\nJust chatting.\r\n";
        assert_eq!(parse(plain.as_bytes()), Report::Unrecognised);
        assert_eq!(parse(b""), Report::Unrecognised);
    }
}
