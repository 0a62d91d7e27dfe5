//! Per-list settings: who may post, what happens to other posts, limits, and how a list mail
//! looks. Stored as JSON on the group; every field has a default, so `{}` is a valid list: a
//! discussion list where members post freely and non-members are held for moderation.
//! The equivalent GNU Mailman 3 setting is named on each field (see docs/list-settings.md).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WhoMayPost {
    /// Anyone at all (Mailman: default_nonmember_action = accept).
    Anyone,
    /// Members of the group, transitively (Mailman's default).
    #[default]
    Members,
    /// Only the group's managers: an announce list (Mailman: default_member_action = hold,
    /// owners/moderators post).
    Managers,
}

/// What happens to a post its sender may not send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Accept,
    /// Kept for a moderator to approve, reject or discard.
    Hold,
    /// Refused inside the SMTP dialogue (`550 5.7.1` with the reason): never a bounce.
    Reject,
    /// Taken and dropped silently.
    Discard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FromMode {
    /// The author's From: as written (Mailman: dmarc_mitigate_action = no_mitigation).
    AsWritten,
    /// `"Author via Group" <group address>`, the author in Reply-To/X-Original-From, only when
    /// the author's domain publishes DMARC p=quarantine or p=reject (Mailman: munge_from).
    #[default]
    Auto,
    /// Always `"Author via Group" <group address>` (Mailman: dmarc_mitigate_unconditionally).
    ViaGroup,
    /// The group itself: `"Group" <group address>` (Mailman: anonymous_list).
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReplyTo {
    /// Replies go to the author (one-way lists; Mailman: reply_goes_to_list = no_munging).
    #[default]
    Author,
    /// Replies go to the list (discussion; Mailman: point_to_list).
    List,
    /// Both the author and the list.
    Both,
    /// A fixed address, `reply_to_address` (Mailman: explicit_header).
    Fixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ToMode {
    /// To: as the author wrote it.
    #[default]
    AsWritten,
    /// To: the recipient's own address (personalised copies).
    Recipient,
}

/// Who may read a list's archive (the web pages, the mbox downloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ArchivePolicy {
    /// The people who receive the list now, through any path, and administrators in scope
    /// (Mailman: archive_policy = private).
    #[default]
    Members,
    /// Administrators whose scope holds the list only.
    Managers,
    /// Anyone, signed in or not; addresses are not shown in full (Mailman: public).
    Public,
    /// No archive: posts are not kept, no List-Archive/Archived-At (Mailman: never).
    None,
}

/// What erasing a person does to their archived posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveErasure {
    /// The posts stay; their name and address are replaced by "(erased)".
    #[default]
    Redact,
    /// The posts are removed from the archive.
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListSettings {
    pub who_may_post: WhoMayPost,
    /// Members of these groups (ids) may post too, e.g. the board to "All members"
    /// (Mailman 3.3.9+: a list in accept_these_nonmembers).
    pub post_groups: Vec<i64>,
    /// These addresses may post too (Mailman: accept_these_nonmembers).
    pub allowed_senders: Vec<String>,
    /// For a member who may not post (an announce list) (Mailman: default_member_action).
    pub member_action: Action,
    /// For anyone else (Mailman: default_nonmember_action).
    pub nonmember_action: Action,
    /// Largest post in bytes; bigger ones are held (Mailman: max_message_size). None: server limit.
    pub max_message_size: Option<u64>,
    /// A post addressed to more than this many addresses (To + Cc) is held (Mailman: max_num_recipients).
    pub max_recipients: Option<usize>,
    /// Posts per sender per hour; more get `451 4.7.1` (try later).
    pub posts_per_hour: Option<u32>,
    pub from_mode: FromMode,
    pub reply_to: ReplyTo,
    pub reply_to_address: Option<String>,
    pub to_mode: ToMode,
    /// e.g. "[Board] " (Mailman: subject_prefix); not repeated on replies.
    pub subject_prefix: Option<String>,
    /// Text above and below the post's text (Mailman: templates list:member:regular:header/footer).
    pub header_text: Option<String>,
    pub footer_text: Option<String>,
    /// Language of the texts the server writes: en, de, sv.
    pub language: String,
    /// List-Archive (Mailman: archive_policy + archiver URL).
    pub archive_url: Option<String>,
    /// List-Help.
    pub help_url: Option<String>,
    /// Members addressed directly in To/Cc of a post do not get a second copy from the list.
    pub skip_addressed_members: bool,
    /// The author receives their own post (Mailman: receive_own_postings).
    pub author_receives_own: bool,
    /// Held posts not decided within this many days expire (with a notice to the author).
    pub hold_days: u32,
    /// For a post that fails DMARC of an author domain publishing `p=reject` (a forged
    /// sender, or mail its own domain disowns): hold (default), reject, discard or accept
    /// (Mailman has no check; its dmarc_moderation_action acts on the policy alone).
    pub dmarc_fail_action: Action,
    /// Each copy carries its recipient's own one-click unsubscribe link (RFC 8058
    /// `List-Unsubscribe`/`-Post`), so each recipient gets a copy of their own. Off: one
    /// batched copy for many recipients, with no personal link (Mailman: personalize).
    pub unsubscribe_links: bool,
    /// With `unsubscribe_links`: the footer ends with "Leave this list: <link>", a page for the
    /// whole list where a member asks for a confirmation link by mail (a quoted footer cannot
    /// unsubscribe anyone).
    pub unsubscribe_footer: bool,
    /// Anyone may join by mail to `LIST-join@` (after confirming by a link mailed to them).
    /// Never for groups filled by a rule or standard groups (Mailman: subscription_policy
    /// confirm).
    pub self_subscribe: bool,
    /// Who may read the archive (docs/list-settings.md).
    pub archive: ArchivePolicy,
    /// Archived posts older than this many years are removed; None: kept for ever.
    pub archive_keep_years: Option<u32>,
    /// Erasing a person redacts (default) or removes their archived posts.
    pub archive_erasure: ArchiveErasure,
    /// The hour of the day (UTC, 0–23) when daily and weekly digests go out (Mailman has no
    /// hour: its digests go out when `mailman digests --send` runs, usually from cron).
    pub digest_hour: u8,
    /// The day weekly digests go out (Mailman: digest_volume_frequency = weekly).
    pub digest_weekday: Weekday,
    /// A digest goes out early once this many posts wait for it (Mailman: digest_size_threshold,
    /// which counts kilobytes). None: only at the hour.
    pub digest_max_posts: Option<u32>,
}

/// A day of the week, for `digest_weekday`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    #[default]
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// Days since Monday.
    pub fn from_monday(self) -> u32 {
        self as u32
    }
}

impl Default for ListSettings {
    fn default() -> Self {
        ListSettings {
            who_may_post: WhoMayPost::Members,
            post_groups: Vec::new(),
            allowed_senders: Vec::new(),
            member_action: Action::Hold,
            nonmember_action: Action::Hold,
            max_message_size: None,
            max_recipients: None,
            posts_per_hour: None,
            from_mode: FromMode::Auto,
            reply_to: ReplyTo::Author,
            reply_to_address: None,
            to_mode: ToMode::AsWritten,
            subject_prefix: None,
            header_text: None,
            footer_text: None,
            language: "en".into(),
            archive_url: None,
            help_url: None,
            skip_addressed_members: true,
            author_receives_own: true,
            hold_days: 14,
            dmarc_fail_action: Action::Hold,
            unsubscribe_links: true,
            unsubscribe_footer: true,
            self_subscribe: false,
            archive: ArchivePolicy::Members,
            archive_keep_years: None,
            archive_erasure: ArchiveErasure::Redact,
            digest_hour: 7,
            digest_weekday: Weekday::Monday,
            digest_max_posts: None,
        }
    }
}

pub const LANGUAGES: &[&str] = &["en", "de", "sv"];

impl ListSettings {
    /// Parses stored or submitted JSON and checks the values together; the error names the field.
    pub fn from_json(value: serde_json::Value) -> Result<ListSettings, String> {
        let s: ListSettings = serde_path_to_error::deserialize(value)
            .map_err(|e| format!("settings.{}: {}", e.path(), e.inner()))?;
        s.check()?;
        Ok(s)
    }

    /// Settings as stored; unreadable JSON falls back to the defaults (and is logged).
    pub fn from_stored(text: Option<&str>) -> ListSettings {
        match text.map(serde_json::from_str::<serde_json::Value>) {
            None => ListSettings::default(),
            Some(Ok(v)) => ListSettings::from_json(v).unwrap_or_else(|e| {
                tracing::error!(error = %e, "stored list settings are invalid; using defaults");
                ListSettings::default()
            }),
            Some(Err(e)) => {
                tracing::error!(error = %e, "stored list settings are not JSON; using defaults");
                ListSettings::default()
            }
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.reply_to == ReplyTo::Fixed && self.reply_to_address.is_none() {
            return Err("settings.reply_to_address: required when reply_to is \"fixed\"".into());
        }
        for a in self.reply_to_address.iter().chain(&self.allowed_senders) {
            crate::model::address::EmailAddress::parse(a).map_err(|e| format!("settings: {e}"))?;
        }
        if !LANGUAGES.contains(&self.language.as_str()) {
            return Err(format!(
                "settings.language: {:?} is not one of {}",
                self.language,
                LANGUAGES.join(", ")
            ));
        }
        if self.hold_days == 0 || self.hold_days > 365 {
            return Err("settings.hold_days: 1 to 365".into());
        }
        if self.archive_keep_years == Some(0) || self.archive_keep_years.is_some_and(|y| y > 1000) {
            return Err(
                "settings.archive_keep_years: 1 to 1000 (leave it out to keep for ever)".into(),
            );
        }
        if self.digest_hour > 23 {
            return Err("settings.digest_hour: 0 to 23 (UTC)".into());
        }
        if self.digest_max_posts == Some(0) {
            return Err("settings.digest_max_posts: at least 1 (leave it out for no limit)".into());
        }
        if self.posts_per_hour == Some(0) || self.max_recipients == Some(0) {
            return Err("settings: limits must be at least 1 (leave them out for no limit)".into());
        }
        for text in [&self.subject_prefix, &self.header_text, &self.footer_text]
            .into_iter()
            .flatten()
        {
            if text.contains('\r') || text.len() > 4000 {
                return Err("settings: texts have no CR and at most 4000 characters".into());
            }
        }
        if self
            .subject_prefix
            .as_deref()
            .is_some_and(|p| p.contains('\n'))
        {
            return Err("settings.subject_prefix: one line".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_settings_are_the_defaults_and_errors_name_the_field() {
        assert_eq!(
            ListSettings::from_json(json!({})).unwrap(),
            ListSettings::default()
        );
        let e = ListSettings::from_json(json!({"who_may_post": "everybody"})).unwrap_err();
        assert!(e.starts_with("settings.who_may_post:"), "{e}");
        let e = ListSettings::from_json(json!({"reply_to": "fixed"})).unwrap_err();
        assert!(e.contains("reply_to_address"), "{e}");
        let e = ListSettings::from_json(json!({"subject_prefx": "[B]"})).unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }
}
