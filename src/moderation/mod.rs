//! Moderation: posts the policy holds wait here, durably, for a manager or moderator.
//!
//! When a post is held the group's managers get a mail with signed links (approve / reject /
//! discard). A link opens a confirmation page (GET changes nothing, so link scanners cannot act);
//! the button on it POSTs the decision. Links are HMAC-signed, expire with the held post, and are
//! one-time: a post is decided once, by whoever comes first (links or `/api/v1/moderation`).
//! Approving sends the post through the normal fan-out; rejecting mails the author the reason;
//! held posts expire after `hold_days` with a notice to the author.

pub mod preview;
pub mod texts;

use std::{net::IpAddr, sync::Arc};

use crate::{
    admin::AdminError,
    groups,
    model::list_settings::ListSettings,
    posting::{Origin, Posting},
    store::{StoreError, groups::Group, held::HeldPost},
    tokens::{Claim, Signer},
};

/// The token purpose for moderation links.
pub const PURPOSE: &str = "moderate";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
    Discard,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            "discard" => Some(Decision::Discard),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Discard => "discard",
        }
    }
    fn status(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
            Decision::Discard => "discarded",
        }
    }
}

pub struct Moderation {
    pub posting: Arc<Posting>,
    pub signer: Signer,
    pub public_url: String,
}

impl Moderation {
    pub fn link(&self, id: i64, decision: Decision, expires: i64) -> String {
        let token = self.signer.sign(
            PURPOSE,
            &Claim {
                id,
                action: decision.as_str().into(),
                expires,
            },
        );
        format!("{}/moderate/{token}", self.public_url.trim_end_matches('/'))
    }

    /// Mails the group's managers about held post `id`. Never fails the caller: the post is
    /// safely held whatever happens here, and visible in `/api/v1/moderation`.
    pub async fn notify_held(&self, id: i64) {
        if let Err(e) = self.try_notify_held(id).await {
            tracing::error!(held_id = id, error = %e, "cannot notify the moderators; the post stays held");
        }
    }

    async fn try_notify_held(&self, id: i64) -> Result<(), StoreError> {
        let store = &self.posting.store;
        let held = store
            .held_post(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("held post {id}")))?;
        let group = self.group(held.group_id).await?;
        let managers = self.posting.resolver.managers(group.id).await?;
        if managers.is_empty() {
            tracing::warn!(held_id = id, group = %group.name, "post held, but the group has no managers to ask; decide through the API");
            return Ok(());
        }
        let settings = ListSettings::from_stored(group.settings.as_deref());
        let t = texts::texts(&settings.language);
        let link = |d| self.link(id, d, held.expires_at);
        let body = format!(
            "{}\n\n{}: {}\nFrom: {}\nSubject: {}\n{}: {}\n\n{}:\n{}\n\n{}:\n{}\n\n{}:\n{}\n",
            t.held_intro,
            "List",
            group.name,
            held.author,
            held.subject.as_deref().unwrap_or(""),
            t.reason,
            held.reason,
            t.approve,
            link(Decision::Approve),
            t.reject,
            link(Decision::Reject),
            t.discard,
            link(Decision::Discard),
        );
        let subject = format!(
            "[{}] {}: {}",
            group.name,
            t.held_subject,
            held.subject.as_deref().unwrap_or("")
        );
        self.send_notice(
            &group,
            &managers,
            &groups::owner_address(group.address.as_deref().unwrap_or("")),
            &subject,
            &body,
        )
        .await
    }

    async fn group(&self, id: i64) -> Result<Group, StoreError> {
        self.posting
            .store
            .group(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group {id}")))
    }

    /// Queues a notice from the group's owner address to `to`.
    async fn send_notice(
        &self,
        group: &Group,
        to: &[String],
        to_header: &str,
        subject: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        let post = crate::notices::notice_post(&self.posting, group, to, to_header, subject, body);
        self.posting.queue.enqueue(&[post], &[], &[]).await?;
        Ok(())
    }

    /// Decides on a held post, once. `by` names who decided (for the record).
    pub async fn decide(
        &self,
        id: i64,
        decision: Decision,
        by: &str,
        note: Option<&str>,
    ) -> Result<HeldPost, AdminError> {
        let store = &self.posting.store;
        let held = store
            .held_post(id)
            .await?
            .ok_or_else(|| AdminError::not_found(format!("no held post {id}")))?;
        if held.status != "held" {
            return Err(AdminError::Conflict(format!(
                "this post was already {} ({})",
                held.status,
                held.decided_by.as_deref().unwrap_or("system")
            )));
        }
        let group = self.group(held.group_id).await?;
        let now = self.posting.clock.now_ms();
        let decided = match decision {
            Decision::Approve => {
                let (raw, helo, peer) = store.held_raw(id).await?;
                let origin = Origin {
                    helo,
                    peer: peer.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
                    protocol: "ESMTP",
                };
                let post = self
                    .posting
                    .list_post(&group, &raw, &held.envelope_from, &origin)
                    .await?;
                let ok = store.approve_held(id, &post, by, now).await?;
                if ok {
                    self.posting.queue.wake();
                    tracing::info!(held_id = id, queue_id = %post.queue_id, by, "held post approved");
                }
                ok
            }
            other => store.decide_held(id, other.status(), by, note, now).await?,
        };
        if !decided {
            return Err(AdminError::Conflict(
                "this post was decided by someone else just now".into(),
            ));
        }
        if decision == Decision::Reject {
            let reason = note.unwrap_or("-");
            if let Err(e) = self
                .tell_author(&group, &held, Outcome::Rejected(reason))
                .await
            {
                tracing::error!(held_id = id, error = %e, "cannot tell the author about the rejection");
            }
        }
        Ok(store.held_post(id).await?.unwrap_or(held))
    }

    /// Expires held posts past their time, telling each author. Returns how many expired.
    pub async fn expire_due(&self) -> Result<usize, StoreError> {
        let store = &self.posting.store;
        let now = self.posting.clock.now_ms();
        let mut n = 0;
        for held in store.expired_held(now).await? {
            if !store
                .decide_held(held.id, "expired", "system", None, now)
                .await?
            {
                continue;
            }
            n += 1;
            let group = self.group(held.group_id).await?;
            self.tell_author(&group, &held, Outcome::Expired).await?;
            tracing::info!(held_id = held.id, group = %group.name, "held post expired");
        }
        Ok(n)
    }

    /// Tells the author of a held post (its From: address, never the envelope sender) what
    /// became of it, in the list's language.
    async fn tell_author(
        &self,
        group: &Group,
        held: &HeldPost,
        outcome: Outcome<'_>,
    ) -> Result<(), StoreError> {
        let t = texts::texts(&ListSettings::from_stored(group.settings.as_deref()).language);
        let (subject, intro) = match outcome {
            Outcome::Rejected(_) => (t.rejected_subject, t.rejected_intro),
            Outcome::Expired => (t.expired_subject, t.expired_intro),
        };
        let mut body = format!(
            "{intro}\n\nList: {}\nSubject: {}\n",
            group.name,
            held.subject.as_deref().unwrap_or("")
        );
        if let Outcome::Rejected(reason) = outcome {
            body.push_str(&format!("{}: {reason}\n", t.reason));
        }
        self.send_notice(
            group,
            std::slice::from_ref(&held.author),
            &held.author,
            subject,
            &body,
        )
        .await
    }
}

/// What a notice to an author reports.
enum Outcome<'a> {
    Rejected(&'a str),
    Expired,
}
