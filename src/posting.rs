//! Posting: from a post that may be distributed to the queued list copy — rewrite, resolve the
//! recipients (frozen now), build the queue row. Shared by SMTP acceptance and by a moderator's
//! approval, so an approved post goes out exactly like one accepted directly.

use std::{net::IpAddr, sync::Arc};

use mail_parser::{HeaderValue, Message, MessageParser};

use crate::{
    arc::ArcSealers,
    clock::SharedClock,
    dmarc::DmarcPolicies,
    groups::{self, Resolver},
    model::ids::new_queue_id,
    model::list_settings::{ArchivePolicy, FromMode, ListSettings},
    queue::Queue,
    rewrite::{self, Arrival},
    store::{
        Store, StoreError,
        groups::Group,
        posts::{NewPost, Personal},
    },
    unsubscribe::Links,
    verify::Peer,
};

/// How a post reached us (for the Received: line).
#[derive(Debug, Clone)]
pub struct Origin {
    pub helo: String,
    pub peer: IpAddr,
    pub protocol: &'static str,
}

pub struct Posting {
    pub store: Store,
    /// ARC sealing of list copies (domains without a sealing key are left alone).
    pub arc: Option<ArcSealers>,
    /// Links in mail: the footer's "leave this list" page, confirmation links.
    pub links: Option<Links>,
    /// DMARC policies of authors' domains, for `from_mode = "auto"`.
    pub dmarc: Arc<DmarcPolicies>,
    pub resolver: Arc<Resolver>,
    pub queue: Queue,
    pub clock: SharedClock,
    pub hostname: String,
}

/// The first From: address, lower-cased.
pub fn author_of(message: &Message<'_>) -> Option<String> {
    let from = message.from()?;
    from.first()?
        .address()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
}

/// The Subject, for summaries.
pub fn subject_of(message: &Message<'_>) -> Option<String> {
    match message.header(mail_parser::HeaderName::Subject) {
        Some(HeaderValue::Text(t)) => Some(t.to_string()),
        _ => None,
    }
}

impl Posting {
    fn arrival<'a>(
        &'a self,
        origin: &'a Origin,
        queue_id: &'a str,
        recipient: &'a str,
        now: i64,
    ) -> Arrival<'a> {
        Arrival {
            helo: &origin.helo,
            peer: origin.peer,
            protocol: origin.protocol,
            hostname: &self.hostname,
            queue_id,
            recipient,
            date: now / 1000,
        }
    }

    /// Mail to `LIST-owner@`: forwarded as it is (with our Received: line) to the managers.
    pub async fn owner_post(
        &self,
        group: &Group,
        raw: &[u8],
        envelope_from: &str,
        origin: &Origin,
    ) -> Result<NewPost, StoreError> {
        let now = self.clock.now_ms();
        let address = group.address.clone().unwrap_or_default();
        let owner = crate::groups::owner_address(&address);
        let queue_id = new_queue_id(now);
        let arrival = self.arrival(origin, &queue_id, &owner, now);
        let parsed = MessageParser::new().parse_headers(raw);
        let list_copy = rewrite::trace_copy(raw, &arrival);
        Ok(NewPost {
            queue_id,
            kind: "owner",
            personal: 0,
            author: parsed.as_ref().and_then(author_of),
            group_id: Some(group.id),
            author_envelope: envelope_from.to_string(),
            envelope_from: groups::bounce_address(&address),
            message_id: parsed
                .as_ref()
                .and_then(|p| p.message_id().map(str::to_string)),
            received_at: now,
            original: raw.to_vec(),
            list_copy,
            recipients: self.resolver.managers(group.id).await?,
        })
    }

    /// The list copy of `raw` for `group`, with its recipients as of now.
    pub async fn list_post(
        &self,
        group: &Group,
        raw: &[u8],
        envelope_from: &str,
        origin: &Origin,
    ) -> Result<NewPost, StoreError> {
        let parsed = MessageParser::new()
            .parse_headers(raw)
            .ok_or_else(|| StoreError::Conflict("the post has no header section".into()))?;
        let now = self.clock.now_ms();
        let address = group.address.clone().unwrap_or_default();
        let queue_id = new_queue_id(now);
        let arrival = self.arrival(origin, &queue_id, &address, now);
        let settings = ListSettings::from_stored(group.settings.as_deref());
        let author = author_of(&parsed);
        let munge_from = match settings.from_mode {
            FromMode::AsWritten | FromMode::Group => false,
            FromMode::ViaGroup => true,
            FromMode::Auto => match author.as_deref().and_then(|a| a.rsplit_once('@')) {
                Some((_, domain)) => self.dmarc.strict(domain).await,
                None => false,
            },
        };
        let leave_url = match &self.links {
            Some(links) if settings.unsubscribe_links && settings.unsubscribe_footer => {
                Some(links.leave_page_url(group.id))
            }
            _ => None,
        };
        let archive = match &self.links {
            Some(links) if settings.archive != ArchivePolicy::None => Some(rewrite::ArchiveLinks {
                list: crate::archive::list_url(links.base(), group.id),
                message: crate::archive::message_url(links.base(), group.id, &queue_id),
            }),
            _ => None,
        };
        let mut list_copy = rewrite::list_copy(
            raw,
            &parsed,
            group,
            &settings,
            munge_from,
            &arrival,
            leave_url.as_deref(),
            archive.as_ref(),
        );
        if let (Some(arc), Some((_, domain))) = (&self.arc, address.rsplit_once('@')) {
            let peer = Peer {
                ip: origin.peer,
                helo: &origin.helo,
                mail_from: envelope_from,
            };
            list_copy = arc.seal(domain, raw, list_copy, peer).await;
        }
        let recipients = self
            .resolver
            .recipients_for_post(group.id, &skipped(&parsed, &settings, author.as_deref()))
            .await?;
        // Digest, no-mail and paused members get no copy of their own (see `digest`).
        let recipients = crate::digest::individual(&self.store, group.id, now, recipients).await?;
        Ok(NewPost {
            queue_id,
            kind: "post",
            personal: personal_flags(&settings),
            author,
            group_id: Some(group.id),
            author_envelope: envelope_from.to_string(),
            envelope_from: groups::bounce_address(&address),
            message_id: parsed.message_id().map(str::to_string),
            received_at: now,
            original: raw.to_vec(),
            list_copy,
            recipients,
        })
    }
}

/// What each recipient's copy of a list post carries of its own.
fn personal_flags(settings: &ListSettings) -> i64 {
    let mut flags = 0;
    if settings.to_mode == crate::model::list_settings::ToMode::Recipient {
        flags |= Personal::TO;
    }
    if settings.unsubscribe_links {
        flags |= Personal::UNSUBSCRIBE;
    }
    flags
}

/// Members a post must not be sent to: those it already reaches directly (addressed in To/Cc:
/// a reply-all on a board), and the author when they do not want their own posts.
fn skipped(
    message: &Message<'_>,
    settings: &ListSettings,
    author: Option<&str>,
) -> std::collections::HashSet<String> {
    let mut skip = std::collections::HashSet::new();
    if settings.skip_addressed_members {
        for list in [message.to(), message.cc()].into_iter().flatten() {
            skip.extend(
                list.iter()
                    .filter_map(|a| a.address())
                    .map(|a| a.trim().to_lowercase()),
            );
        }
    }
    if let Some(a) = author.filter(|_| !settings.author_receives_own) {
        skip.insert(a.to_string());
    }
    skip
}
