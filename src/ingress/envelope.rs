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

pub(super) fn mail_from(session: &mut Session, from: MailFrom<String>) -> Reply {
    if session.helo.is_none() {
        return reply::need_helo();
    }
    if session.tx.mail_from.is_some() {
        return reply::nested_mail();
    }
    if from.size as u64 > session.ctx.max_message_size {
        return reply::too_big(session.ctx.max_message_size);
    }
    let address = from.address.trim();
    if !address.is_empty() && EmailAddress::parse(address).is_err() {
        return reply::bad_sender();
    }
    session.tx.mail_from = Some(address.to_string());
    reply::sender_ok()
}

pub(super) async fn rcpt_to(session: &mut Session, to: RcptTo<String>) -> Reply {
    if session.tx.mail_from.is_none() {
        return reply::need_mail();
    }
    let address = match EmailAddress::parse(&to.address) {
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
        Ok(Some(Route::Post(group))) if !group.active => reply::list_inactive(&address.to_string()),
        Ok(Some(route)) => {
            session.tx.rcpts.push(Accepted { address, route });
            reply::recipient_ok()
        }
        Ok(None) => reply::no_such_list(&address.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "cannot look up a recipient");
            reply::store_failure()
        }
    }
}
