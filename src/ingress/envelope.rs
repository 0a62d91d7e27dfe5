//! MAIL FROM and RCPT TO: who sends, and which of our lists receive.

use smtp_proto::{MailFrom, RcptTo};

use super::{
    reply::{self, Reply},
    session::Session,
};
use crate::{
    groups::{self, Route},
    model::address::EmailAddress,
};

/// A recipient we said `250` to.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub address: EmailAddress,
    pub route: Route,
}

/// `line` is the raw command line: smtp-proto decodes the path lossily (invalid UTF-8 would
/// become U+FFFD) and saturates a huge SIZE into a small number, so both are read from it.
pub(super) fn mail_from(session: &mut Session, from: MailFrom<String>, line: &[u8]) -> Reply {
    if session.helo.is_none() {
        return reply::need_helo();
    }
    if session.tx.mail_from.is_some() {
        return reply::nested_mail();
    }
    if std::str::from_utf8(line).is_err() {
        return reply::sender_not_utf8();
    }
    let declared = declared_size(line).unwrap_or(from.size as u64);
    if declared > session.ctx.max_message_size {
        return reply::too_big(session.ctx.max_message_size);
    }
    let address = quoted(from.address.trim());
    if !address.is_empty() && EmailAddress::parse(&address).is_err() {
        return reply::bad_sender();
    }
    session.tx.mail_from = Some(address);
    session.tx.smtputf8 = from.flags & smtp_proto::MAIL_SMTPUTF8 != 0;
    reply::sender_ok()
}

pub(super) async fn rcpt_to(session: &mut Session, to: RcptTo<String>, line: &[u8]) -> Reply {
    if session.tx.mail_from.is_none() {
        return reply::need_mail();
    }
    if std::str::from_utf8(line).is_err() {
        return reply::recipient_not_utf8();
    }
    let address = match EmailAddress::parse(&quoted(&to.address)) {
        Ok(a) => a,
        Err(e) => return reply::bad_recipient(&e.to_string()),
    };
    if !session
        .ctx
        .domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(address.domain()))
    {
        return reply::relaying_denied(address.domain());
    }
    if session.tx.rcpts.len() >= session.ctx.max_recipients {
        return reply::too_many_recipients(session.ctx.max_recipients);
    }
    match groups::route(&session.ctx.store, &address).await {
        Ok(Some(Route::Post(group))) if !group.active => {
            reply::list_inactive(&reply::shown(&address.to_string()))
        }
        Ok(Some(route)) => {
            session.tx.rcpts.push(Accepted { address, route });
            reply::recipient_ok()
        }
        Ok(None) => reply::no_such_list(&reply::shown(&address.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "cannot look up a recipient");
            reply::store_failure()
        }
    }
}

/// The SIZE= value of a raw MAIL line, `u64::MAX` when it does not fit (RFC 1870: the client
/// declares more than any limit); `None` without one.
fn declared_size(line: &[u8]) -> Option<u64> {
    let upper = line.to_ascii_uppercase();
    let at = upper.windows(6).position(|w| w == b" SIZE=")?;
    let digits: Vec<u8> = line[at + 6..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    if digits.is_empty() {
        return None;
    }
    Some(
        std::str::from_utf8(&digits)
            .ok()
            .and_then(|d| d.parse::<u64>().ok())
            .unwrap_or(u64::MAX),
    )
}

/// smtp-proto hands over `"anna smith"@example.org` with the quotes taken off; quote the
/// local part again when it needs it (RFC 5321 4.1.2 Quoted-string), so it parses as written.
fn quoted(path: &str) -> String {
    let Some((local, domain)) = path.rsplit_once('@') else {
        return path.to_string();
    };
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
    let dot_atom = !local.is_empty()
        && local
            .split('.')
            .all(|a| !a.is_empty() && a.chars().all(atext));
    if dot_atom {
        return path.to_string();
    }
    let mut out = String::with_capacity(path.len() + 4);
    out.push('"');
    for c in local.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out.push('@');
    out.push_str(domain);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_too_big_for_any_number_is_the_largest() {
        assert_eq!(
            declared_size(b"MAIL FROM:<a@b.org> SIZE=1000\r\n"),
            Some(1000)
        );
        assert_eq!(
            declared_size(b"MAIL FROM:<a@b.org> size=99999999999999999999999\r\n"),
            Some(u64::MAX)
        );
        assert_eq!(declared_size(b"MAIL FROM:<a@b.org>\r\n"), None);
    }

    #[test]
    fn local_parts_that_need_quotes_get_them_back() {
        assert_eq!(quoted("anna@example.org"), "anna@example.org");
        assert_eq!(quoted("anna.berg@example.org"), "anna.berg@example.org");
        assert_eq!(
            quoted("anna smith@example.org"),
            "\"anna smith\"@example.org"
        );
        assert_eq!(quoted("a\"b@example.org"), "\"a\\\"b\"@example.org");
        assert_eq!(quoted(""), "");
    }
}
