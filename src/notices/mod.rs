//! Mail the server writes itself, built in one place and queued by the caller through the normal
//! queue, so it is delivered, retried, DKIM-signed and logged like every list copy:
//!
//! - notices for a list ([`notice_post`]: moderation requests, rejections, expiry notices, leave
//!   and join confirmations), from the list's owner address, bounces to the list's;
//! - mail for a person that belongs to no list ([`system_post`]: a sign-in link), from
//!   `web.mail_from`.
//!
//! Plain UTF-8 text marked `Auto-Submitted: auto-generated` (RFC 3834), see [`Notice`].

mod mail;

pub use mail::Notice;

use crate::{
    groups,
    model::ids::new_queue_id,
    posting::Posting,
    store::{groups::Group, posts::NewPost},
};

/// A notice from the group's owner address to `to`, ready to queue.
pub fn notice_post(
    posting: &Posting,
    group: &Group,
    to: &[String],
    to_header: &str,
    subject: &str,
    body: &str,
) -> NewPost {
    let now = posting.clock.now_ms();
    let list = group.address.clone().unwrap_or_default();
    let queue_id = new_queue_id(now);
    let message_id = format!("{queue_id}@{}", posting.hostname);
    let bytes = Notice {
        from_name: &group.name,
        from_address: &groups::owner_address(&list),
        to: to_header,
        subject,
        body,
        message_id: &message_id,
        date: now / 1000,
    }
    .to_bytes();
    NewPost {
        queue_id,
        kind: "notice",
        personal: 0,
        author: None,
        group_id: Some(group.id),
        author_envelope: String::new(),
        envelope_from: groups::bounce_address(&list),
        message_id: Some(message_id),
        received_at: now,
        original: bytes.clone(),
        list_copy: bytes,
        recipients: to.to_vec(),
    }
}

/// Who writes mail for a person: the sender of sign-in links and the like.
#[derive(Debug, Clone)]
pub struct SystemSender {
    /// The display name (`web.site_name`).
    pub name: String,
    /// `web.mail_from`: From and envelope sender; its domain signs (DKIM).
    pub address: String,
    /// `server.hostname`, for Message-IDs.
    pub hostname: String,
}

/// Mail from the server to one person, not tied to any list (kind `system`), ready to queue.
pub fn system_post(
    sender: &SystemSender,
    now: i64,
    to: &str,
    subject: &str,
    body: &str,
) -> NewPost {
    let queue_id = new_queue_id(now);
    let message_id = format!("{queue_id}@{}", sender.hostname);
    let bytes = Notice {
        from_name: &sender.name,
        from_address: &sender.address,
        to,
        subject,
        body,
        message_id: &message_id,
        date: now / 1000,
    }
    .to_bytes();
    NewPost {
        queue_id,
        kind: "system",
        personal: 0,
        author: None,
        group_id: None,
        author_envelope: String::new(),
        envelope_from: sender.address.clone(),
        message_id: Some(message_id),
        received_at: now,
        original: bytes.clone(),
        list_copy: bytes,
        recipients: vec![to.to_string()],
    }
}
