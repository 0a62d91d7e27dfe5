//! End of DATA: check the message, decide per group (policy), then for each group distribute
//! (posting), hold (moderation queue), or refuse — storing everything in one transaction before
//! the `250`.
//!
//! SMTP has one reply per transaction: if the policy of any addressed list refuses the post, the
//! whole transaction is refused with the reason (nothing is stored, the sender's MTA tells the
//! sender: no backscatter from us). LMTP answers per recipient, so each list decides alone.

use mail_parser::MessageParser;

use super::{
    reply::{self, Reply},
    session::{Session, Transaction},
};
use crate::{
    groups::Route,
    model::list_settings::ListSettings,
    policy::{self, PostContext, Standing, Verdict},
    posting::{Origin, author_of, subject_of},
    store::{
        StoreError,
        held::NewHeld,
        posts::{NewBounce, NewPost},
    },
    unsubscribe::JoinRefusal,
    verify::{Checked, DmarcStatus, Peer},
};

/// What one distinct route of the transaction turned into.
enum Unit {
    Post(NewPost),
    Bounce(NewBounce),
    Held(NewHeld),
    /// Refused in the dialogue, with the reason.
    Refused(String),
    TryLater(String),
    /// A request to leave: the confirmation mail, when the sender is a member.
    Leave(Option<NewPost>),
    /// A request to join: the confirmation mail, or why joining by mail is not possible.
    Join(Result<NewPost, JoinRefusal>),
    /// Accepted and dropped: a loop, automatic mail (said), or a discard (not said).
    Dropped {
        reason: String,
        tell: bool,
    },
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
    if MessageParser::new()
        .parse_headers(&tx.body)
        .filter(|m| !m.headers().is_empty())
        .is_none()
    {
        return all(reply::no_header());
    }
    let envelope = tx.mail_from.clone().unwrap_or_default();

    // One unit per distinct route, in the order the recipients were given.
    let mut routes: Vec<&Route> = Vec::new();
    for rcpt in &tx.rcpts {
        if !routes.contains(&&rcpt.route) {
            routes.push(&rcpt.route);
        }
    }
    // Authentication checks once per transaction, on the post as it came; what we keep carries
    // our Authentication-Results (bounces are not posts: they are kept as they came).
    let (body, checked) = if routes.iter().all(|r| matches!(r, Route::Bounce(..))) {
        (tx.body, Checked::default())
    } else {
        let checked = session
            .ctx
            .verifier
            .check(
                &tx.body,
                Peer {
                    ip: session.peer.ip(),
                    helo: session.helo.as_deref().unwrap_or("unknown"),
                    mail_from: &envelope,
                },
            )
            .await;
        (checked.stamp(&tx.body, &session.ctx.hostname), checked)
    };
    let Some(parsed) = MessageParser::new().parse_headers(&body) else {
        return all(reply::no_header());
    };
    let mut units = Vec::with_capacity(routes.len());
    for route in &routes {
        match build_unit(session, route, &envelope, &body, &parsed, checked.dmarc).await {
            Ok(unit) => units.push(unit),
            Err(e) => {
                tracing::error!(error = %e, "cannot decide on a post");
                return all(reply::store_failure());
            }
        }
    }

    if session.lmtp {
        let mut per_route = Vec::with_capacity(units.len());
        for unit in units {
            per_route.push(store(session, vec![unit]).await);
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
        vec![store(session, units).await]
    }
}

async fn build_unit(
    session: &Session,
    route: &Route,
    envelope: &str,
    body: &[u8],
    parsed: &mail_parser::Message<'_>,
    dmarc: DmarcStatus,
) -> Result<Unit, StoreError> {
    let ctx = &session.ctx;
    let group = route.group();
    let now = ctx.clock.now_ms();
    if let Route::Bounce(_, verp) = route {
        return Ok(Unit::Bounce(NewBounce {
            group_id: group.id,
            verp: verp.clone(),
            envelope_from: envelope.to_string(),
            received_at: now,
            raw: body.to_vec(),
        }));
    }
    let origin = Origin {
        helo: session.helo.clone().unwrap_or_else(|| "unknown".into()),
        peer: session.peer.ip(),
        protocol: session.protocol(),
    };
    if let Route::Leave(_) = route {
        return leave_request(session, group, envelope, parsed).await;
    }
    if let Route::Join(_) = route {
        if policy::automatic(parsed, envelope).is_some() {
            return Ok(Unit::Dropped {
                reason: "automatic mail to the join address is not answered".into(),
                tell: true,
            });
        }
        let Some(author) = author_of(parsed) else {
            return Ok(Unit::Join(Err(JoinRefusal::NoSender)));
        };
        return Ok(Unit::Join(crate::unsubscribe::join_confirmation(
            &ctx.posting,
            &ctx.links,
            group,
            &author,
        )));
    }
    if let Route::Owner(_) = route {
        if let Some(why) = policy::automatic(parsed, envelope) {
            return Ok(Unit::Dropped {
                reason: format!("automatic mail ({why}) to the managers is not forwarded"),
                tell: true,
            });
        }
        return Ok(Unit::Post(
            ctx.posting
                .owner_post(group, body, envelope, &origin)
                .await?,
        ));
    }
    let settings = ListSettings::from_stored(group.settings.as_deref());
    let author = author_of(parsed);
    let recent = match (settings.posts_per_hour, &author) {
        (Some(_), Some(a)) => {
            ctx.store
                .count_posts_since(group.id, a, now - 3_600_000)
                .await?
        }
        _ => 0,
    };
    let standing = match &author {
        Some(a) => {
            ctx.resolver
                .standing(group.id, a, &settings.post_groups)
                .await?
        }
        None => Standing::default(),
    };
    let verdict = policy::evaluate(&PostContext {
        message: parsed,
        group,
        settings: &settings,
        author: author.as_deref(),
        envelope_from: envelope,
        size: body.len(),
        standing,
        recent_posts: recent,
        dmarc,
    });
    let who = author.as_deref().unwrap_or(envelope);
    Ok(match verdict {
        Verdict::Accept => Unit::Post(
            ctx.posting
                .list_post(group, body, envelope, &origin)
                .await?,
        ),
        Verdict::Hold(reason) => {
            tracing::info!(group = %group.name, from = who, reason = %reason, "post held for moderation");
            Unit::Held(NewHeld {
                group_id: group.id,
                author: author.clone().unwrap_or_else(|| envelope.to_string()),
                envelope_from: envelope.to_string(),
                subject: subject_of(parsed),
                reason,
                raw: body.to_vec(),
                helo: origin.helo,
                peer: origin.peer.to_string(),
                received_at: now,
                expires_at: now + settings.hold_days as i64 * 86_400_000,
            })
        }
        Verdict::Reject(reason) => {
            tracing::info!(group = %group.name, from = who, reason = %reason, "post refused");
            Unit::Refused(reason)
        }
        Verdict::TryLater(reason) => Unit::TryLater(reason),
        Verdict::Discard(reason) => {
            tracing::info!(group = %group.name, from = who, reason = %reason, "post discarded");
            Unit::Dropped {
                reason,
                tell: false,
            }
        }
        Verdict::Drop(reason) => {
            tracing::warn!(group = %group.name, from = who, reason = %reason, "post dropped");
            Unit::Dropped { reason, tell: true }
        }
    })
}

/// `LIST-leave@`: a confirmation link to the From: address, if it receives the list. Nobody
/// else is written to (no backscatter to strangers), and the reply is the same either way.
async fn leave_request(
    session: &Session,
    group: &crate::store::groups::Group,
    envelope: &str,
    parsed: &mail_parser::Message<'_>,
) -> Result<Unit, StoreError> {
    let ctx = &session.ctx;
    if policy::automatic(parsed, envelope).is_some() {
        return Ok(Unit::Dropped {
            reason: "automatic mail to the leave address is not answered".into(),
            tell: true,
        });
    }
    let Some(author) = author_of(parsed) else {
        return Ok(Unit::Leave(None));
    };
    let notice =
        crate::unsubscribe::confirmation(&ctx.posting, &ctx.links, group, &author, "mailto")
            .await?;
    tracing::info!(group = %group.name, answered = notice.is_some(), "leave request");
    Ok(Unit::Leave(notice))
}

/// Stores the units in one transaction and says how it went.
async fn store(session: &Session, units: Vec<Unit>) -> Reply {
    let mut refused = Vec::new();
    let mut later = Vec::new();
    let (mut posts, mut bounces, mut held) = (Vec::new(), Vec::new(), Vec::new());
    let mut dropped = None;
    let mut leave = false;
    let mut join = false;
    for unit in units {
        match unit {
            Unit::Join(Ok(notice)) => {
                join = true;
                posts.push(notice);
            }
            Unit::Join(Err(why)) => return reply::join_refused(&why),
            Unit::Leave(notice) => {
                leave = true;
                posts.extend(notice);
            }
            Unit::Post(p) => posts.push(p),
            Unit::Bounce(b) => bounces.push(b),
            Unit::Held(h) => held.push(h),
            Unit::Refused(r) => refused.push(r),
            Unit::TryLater(r) => later.push(r),
            Unit::Dropped { reason, tell } => dropped = Some((reason, tell)),
        }
    }
    if !refused.is_empty() {
        return reply::post_refused(&refused.join("; "));
    }
    if !later.is_empty() {
        return reply::post_later(&later.join("; "));
    }
    let held_ids = match session.ctx.queue.enqueue(&posts, &bounces, &held).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::error!(error = %e, peer = %session.peer, "cannot store an incoming message");
            return reply::store_failure();
        }
    };
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
    for id in &held_ids {
        session.ctx.moderation.notify_held(*id).await;
    }
    let ids: Vec<String> = posts
        .iter()
        .filter(|p| p.kind != "notice")
        .map(|p| p.queue_id.clone())
        .collect();
    if join && ids.is_empty() {
        return reply::join_requested();
    }
    if leave && ids.is_empty() {
        return reply::leave_requested();
    }
    if !ids.is_empty() {
        return reply::queued(&ids);
    }
    if let Some(h) = held.first() {
        return reply::held(&h.reason);
    }
    if !bounces.is_empty() {
        return reply::queued(&["bounce".to_string()]);
    }
    match dropped {
        Some((reason, true)) => reply::accepted_not_distributed(&reason),
        _ => reply::accepted(),
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
