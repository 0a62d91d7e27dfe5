//! Posting policy: what happens to a post before anyone receives it.
//!
//! Input: a [`PostContext`] (the parsed post, the group's settings, who the sender is to the
//! group). Output: a [`Verdict`]. Pure: this stage reads nothing and writes nothing, so every rule
//! is tested without a server. A refusal is answered inside the SMTP dialogue — never a bounce.
//!
//! **Who the sender is.** The author is the first address in `From:`: the one every recipient
//! sees and replies to, and the one list members know each other by. The envelope sender is often
//! a provider's bounce address (and empty for bounces), so it only serves to recognise automatic
//! mail. Both can be forged; DMARC checks (see the DKIM work) are what catch forgery.
//!
//! The chain, in order (first match decides):
//! 1. our own loop marker → drop (logged);
//! 2. automatic mail (null sender, `Auto-Submitted`, `Precedence: bulk/junk/list`, delivery
//!    reports) → drop: never distributed, never answered;
//! 3. fails DMARC of an author domain publishing `p=reject` → `dmarc_fail_action` (hold);
//! 4. over `posts_per_hour` for this sender → try later (`451 4.7.1`);
//! 5. a sender who may not post → `member_action` or `nonmember_action`;
//! 6. over `max_message_size` or `max_recipients` → hold.

use mail_parser::{HeaderName, HeaderValue, Message, MimeHeaders};

use crate::{
    model::list_settings::{Action, ListSettings, WhoMayPost},
    rewrite::LOOP_HEADER,
    store::groups::Group,
    verify::{DmarcStatus, DomainPolicy},
};

/// Where the sender stands with the group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    pub member: bool,
    pub manager: bool,
    /// Member of one of the settings' `post_groups`.
    pub in_post_groups: bool,
}

pub struct PostContext<'a> {
    pub message: &'a Message<'a>,
    pub group: &'a Group,
    pub settings: &'a ListSettings,
    /// The From: address, lower-cased; `None` when the post has no readable From:.
    pub author: Option<&'a str>,
    pub envelope_from: &'a str,
    pub size: usize,
    pub standing: Standing,
    /// Posts from this author to this group within the last hour.
    pub recent_posts: i64,
    /// What DMARC says of the author's domain ([`crate::verify`]).
    pub dmarc: DmarcStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Distribute to the group.
    Accept,
    /// Keep for a moderator, for this reason.
    Hold(String),
    /// Refuse in the SMTP dialogue (`550 5.7.1`), with a reason the sender can act on.
    Reject(String),
    /// Take it and tell no one (the sender believes it was posted).
    Discard(String),
    /// Refuse for now (`451 4.7.1`).
    TryLater(String),
    /// Take it but distribute it to no one: a loop or automatic mail.
    Drop(String),
}

pub fn evaluate(ctx: &PostContext<'_>) -> Verdict {
    let name = &ctx.group.name;
    if carries_loop_marker(ctx.message, ctx.group) {
        return Verdict::Drop(format!("mail loop: the post already went through {name}"));
    }
    if let Some(why) = automatic(ctx.message, ctx.envelope_from) {
        return Verdict::Drop(format!("automatic mail ({why}) is not distributed"));
    }
    if ctx.dmarc
        == (DmarcStatus::Fail {
            policy: DomainPolicy::Reject,
        })
    {
        let domain = ctx
            .author
            .and_then(|a| a.rsplit_once('@'))
            .map_or("the author's domain", |(_, d)| d);
        let why = format!(
            "the post fails DMARC of {domain}, which asks receivers to reject such mail: it may be forged"
        );
        return act(ctx.settings.dmarc_fail_action, why);
    }
    if let Some(limit) = ctx.settings.posts_per_hour
        && ctx.recent_posts >= limit as i64
    {
        return Verdict::TryLater(format!(
            "{name} takes at most {limit} posts per hour from one sender"
        ));
    }
    if !may_post(ctx) {
        let (action, why) = if ctx.standing.member {
            (
                ctx.settings.member_action,
                format!("only the managers of {name} post to it"),
            )
        } else {
            (
                ctx.settings.nonmember_action,
                format!("{name} takes posts from its members only"),
            )
        };
        return act(action, why);
    }
    if let Some(max) = ctx.settings.max_message_size
        && ctx.size as u64 > max
    {
        return Verdict::Hold(format!("the post is larger than {max} bytes"));
    }
    if let Some(max) = ctx.settings.max_recipients {
        let addressed = count_addressed(ctx.message);
        if addressed > max {
            return Verdict::Hold(format!(
                "the post is addressed to {addressed} addresses (at most {max} without moderation)"
            ));
        }
    }
    Verdict::Accept
}

fn act(action: Action, why: String) -> Verdict {
    match action {
        Action::Accept => Verdict::Accept,
        Action::Hold => Verdict::Hold(why),
        Action::Reject => Verdict::Reject(why),
        Action::Discard => Verdict::Discard(why),
    }
}

fn may_post(ctx: &PostContext<'_>) -> bool {
    let s = ctx.settings;
    let by_role = match s.who_may_post {
        WhoMayPost::Anyone => true,
        WhoMayPost::Members => ctx.standing.member || ctx.standing.manager,
        WhoMayPost::Managers => ctx.standing.manager,
    };
    by_role
        || ctx.standing.in_post_groups
        || ctx
            .author
            .is_some_and(|a| s.allowed_senders.iter().any(|x| x.eq_ignore_ascii_case(a)))
}

fn carries_loop_marker(message: &Message<'_>, group: &Group) -> bool {
    let Some(address) = group.address.as_deref() else {
        return false;
    };
    message.headers().iter().any(|h| {
        matches!(&h.name, HeaderName::Other(n) if n.eq_ignore_ascii_case(LOOP_HEADER))
            && h.value
                .as_text()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case(address))
    })
}

/// Why a message is automatic mail (RFC 3834, RFC 3464), if it is.
pub fn automatic(message: &Message<'_>, envelope_from: &str) -> Option<&'static str> {
    if envelope_from.is_empty() {
        return Some("null sender");
    }
    let text = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    if text("Auto-Submitted").is_some_and(|v| !v.starts_with("no")) {
        return Some("Auto-Submitted");
    }
    if text("Precedence").is_some_and(|v| ["bulk", "junk", "list"].contains(&v.as_str())) {
        return Some("Precedence");
    }
    if message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return Some("delivery report");
    }
    None
}

fn count_addressed(message: &Message<'_>) -> usize {
    [HeaderName::To, HeaderName::Cc]
        .into_iter()
        .map(|h| match message.header(h) {
            Some(HeaderValue::Address(a)) => a.iter().count(),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests;
