//! End of DATA: check the message, decide per group (policy), build the list copy (rewrite),
//! freeze the recipients (groups) and store everything (queue) — then, and only then, `250`.
//!
//! SMTP gets one reply for the transaction: every group's post is stored in one database
//! transaction, or none is. LMTP gets one reply per recipient (RFC 2033), each group stored alone.

use mail_parser::MessageParser;

use super::{
    reply::{self, Reply},
    session::{Session, Transaction},
};
use crate::{
    groups::{self, Route},
    model::ids::new_queue_id,
    policy::{self, Verdict},
    rewrite::{self, Arrival},
    store::posts::{NewBounce, NewPost},
};

/// What one distinct route of the transaction turned into.
enum Unit {
    Post(NewPost),
    Bounce(NewBounce),
    Dropped(String),
}

pub(super) async fn accept(session: &Session, tx: Transaction) -> Vec<Reply> {
    let rcpt_count = tx.rcpts.len();
    let all = |r: Reply| -> Vec<Reply> {
        if session.lmtp {
            vec![r; rcpt_count]
        } else {
            vec![r]
        }
    };
    if tx.too_big {
        return all(reply::too_big(session.ctx.max_message_size));
    }
    if has_bare_line_ending(&tx.body) {
        tracing::warn!(peer = %session.peer, "refused a message with a bare CR or LF");
        return all(reply::bare_line_ending());
    }
    let body = tx.body;
    let Some(parsed) = MessageParser::new()
        .parse_headers(&body)
        .filter(|m| !m.headers().is_empty())
    else {
        return all(reply::no_header());
    };

    // One unit per distinct route, in the order the recipients were given.
    let mut routes: Vec<&Route> = Vec::new();
    for rcpt in &tx.rcpts {
        if !routes.contains(&&rcpt.route) {
            routes.push(&rcpt.route);
        }
    }
    let author = tx.mail_from.unwrap_or_default();
    let now = session.ctx.clock.now_ms();
    let mut units = Vec::with_capacity(routes.len());
    for route in &routes {
        match build_unit(session, route, &author, &body, &parsed, now).await {
            Ok(unit) => units.push(unit),
            Err(e) => {
                tracing::error!(error = %e, "cannot resolve recipients");
                return all(reply::store_failure());
            }
        }
    }

    if session.lmtp {
        let mut per_route = Vec::with_capacity(units.len());
        for unit in &units {
            per_route.push(store(session, std::slice::from_ref(unit)).await);
        }
        tx.rcpts
            .iter()
            .map(|rcpt| {
                let i = routes.iter().position(|r| *r == &rcpt.route).unwrap_or(0);
                per_route
                    .get(i)
                    .cloned()
                    .unwrap_or_else(reply::store_failure)
            })
            .collect()
    } else {
        vec![store(session, &units).await]
    }
}

async fn build_unit(
    session: &Session,
    route: &Route,
    author: &str,
    body: &[u8],
    parsed: &mail_parser::Message<'_>,
    now: i64,
) -> Result<Unit, crate::store::StoreError> {
    let group = route.group();
    if let Route::Bounce(_) = route {
        return Ok(Unit::Bounce(NewBounce {
            group_id: group.id,
            envelope_from: author.to_string(),
            received_at: now,
            raw: body.to_vec(),
        }));
    }
    if let Verdict::Drop(reason) = policy::evaluate(parsed, group) {
        tracing::warn!(group = %group.name, from = author, reason = %reason, "post dropped");
        return Ok(Unit::Dropped(reason));
    }
    let address = group.address.clone().unwrap_or_default();
    let queue_id = new_queue_id(now);
    let arrival = Arrival {
        helo: session.helo.as_deref().unwrap_or("unknown"),
        peer: session.peer.ip(),
        protocol: session.protocol(),
        hostname: &session.ctx.hostname,
        queue_id: &queue_id,
        recipient: &address,
        date: now / 1000,
    };
    let list_copy = rewrite::list_copy(body, parsed, group, &arrival);
    let recipients = session.ctx.resolver.recipients(group.id).await?;
    Ok(Unit::Post(NewPost {
        queue_id,
        group_id: group.id,
        author_envelope: author.to_string(),
        envelope_from: groups::bounce_address(&address),
        message_id: parsed.message_id().map(str::to_string),
        received_at: now,
        original: body.to_vec(),
        list_copy,
        recipients,
    }))
}

/// Stores the units in one transaction and says how it went.
async fn store(session: &Session, units: &[Unit]) -> Reply {
    let mut posts = Vec::new();
    let mut bounces = Vec::new();
    let mut dropped = None;
    for unit in units {
        match unit {
            Unit::Post(p) => posts.push(p.clone()),
            Unit::Bounce(b) => bounces.push(b.clone()),
            Unit::Dropped(reason) => dropped = Some(reason.as_str()),
        }
    }
    if let Err(e) = session.ctx.queue.enqueue(&posts, &bounces).await {
        tracing::error!(error = %e, peer = %session.peer, "cannot store an incoming message");
        return reply::store_failure();
    }
    for post in &posts {
        tracing::info!(
            queue_id = %post.queue_id,
            group_id = post.group_id,
            from = %post.author_envelope,
            size = post.original.len(),
            recipients = post.recipients.len(),
            message_id = post.message_id.as_deref().unwrap_or(""),
            "accepted"
        );
    }
    for bounce in &bounces {
        tracing::info!(group_id = bounce.group_id, from = %bounce.envelope_from, "bounce stored");
    }
    let mut ids: Vec<String> = posts.iter().map(|p| p.queue_id.clone()).collect();
    if ids.is_empty() && !bounces.is_empty() {
        ids.push("bounce".into());
    }
    match (ids.is_empty(), dropped) {
        (true, Some(reason)) => reply::accepted_not_distributed(reason),
        _ => reply::queued(&ids),
    }
}

/// True when a CR is not followed by LF, or an LF is not preceded by CR. Such bytes are where
/// SMTP smuggling hides a second message (`\n.\n`); we refuse the message rather than guess.
fn has_bare_line_ending(data: &[u8]) -> bool {
    let mut prev = 0u8;
    for (i, &b) in data.iter().enumerate() {
        match b {
            b'\n' if prev != b'\r' => return true,
            b'\r' if data.get(i + 1) != Some(&b'\n') => return true,
            _ => {}
        }
        prev = b;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_bare_line_ending;

    #[test]
    fn bare_line_endings_are_found() {
        assert!(!has_bare_line_ending(b"a\r\nb\r\n"));
        assert!(has_bare_line_ending(b"a\r\n\n.\nb\r\n"));
        assert!(has_bare_line_ending(b"a\rb\r\n"));
        assert!(has_bare_line_ending(b"a\r\n.\r"));
    }
}
