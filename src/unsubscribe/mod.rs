//! Leaving a list from the mail itself (RFC 2369 `List-Unsubscribe`, RFC 8058 one-click).
//!
//! Each recipient's copy carries `List-Unsubscribe: <https://…/u/TOKEN>` and
//! `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. TOKEN names the group and the
//! recipient's address and is signed with the server's link key (HMAC-SHA256, [`crate::tokens`]):
//! it cannot be guessed or altered, works for one person and one group only, survives restarts
//! and does not expire (a mail may be read months later). It appears in the header fields only,
//! never in the body: a quoted footer in a reply-all must not let a colleague unsubscribe its
//! owner.
//!
//! `POST /u/TOKEN` opts the person out of that group's mail at once (no cookie, no login, no
//! second step); `GET` only shows a page with the buttons, so link scanners change nothing
//! ([`crate::http::pages::unsubscribe`]). Leaving a group stops mail sent to that group only:
//! a person who also belongs to a subgroup still gets the subgroup's own mail. The page offers
//! "all list mail" as a second choice.

pub mod texts;

use base64::Engine;

use crate::{
    model::address::EmailAddress,
    store::{Store, StoreError},
    tokens::{Claim, Signer, TokenError},
};

pub const PURPOSE: &str = "unsubscribe";
/// The footer's page for the whole list (no person in it).
pub const LEAVE_PAGE: &str = "leave-page";
/// A link that makes its address a member (mailed after `LIST-join@`); it expires.
pub const JOIN: &str = "join";
/// How long a join link works.
pub const JOIN_VALID_MS: i64 = 7 * 86_400_000;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Makes and reads the personal links.
#[derive(Clone)]
pub struct Links {
    signer: Signer,
    /// `http.public_url`, without a trailing slash.
    base: String,
    /// Until when (ms) links of the old, readable form (the address in base64) still work.
    readable_until: i64,
}

/// What a token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub group_id: i64,
    pub address: String,
    /// How the link reached the person, recorded with the opt-out: `link` (the copy's
    /// List-Unsubscribe), `mailto` (a confirmation after mail to `LIST-leave@`), `footer` (a
    /// confirmation asked for on the footer's page).
    pub channel: String,
}

const CHANNELS: &[&str] = &["link", "mailto", "footer"];
/// The label of the key that hides addresses in links (derived from the link key).
const ADDRESS_KEY: &str = "unsubscribe address";

fn cipher(key: &[u8; 32]) -> Option<aws_lc_rs::aead::LessSafeKey> {
    use aws_lc_rs::aead::{AES_256_GCM_SIV, LessSafeKey, UnboundKey};
    UnboundKey::new(&AES_256_GCM_SIV, key)
        .ok()
        .map(LessSafeKey::new)
}

/// The address, encrypted and authenticated for `group_id`. GCM-SIV keeps a fixed nonce safe
/// (it only shows that two links name the same address, never which).
fn seal_address(key: &[u8; 32], group_id: i64, address: &str) -> String {
    use aws_lc_rs::aead::{Aad, Nonce};
    let mut data = address.as_bytes().to_vec();
    let sealed = cipher(key).is_some_and(|c| {
        c.seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(group_id.to_be_bytes()),
            &mut data,
        )
        .is_ok()
    });
    if !sealed {
        // Unreachable with a 32-byte key; an empty token only fails to open.
        data.clear();
    }
    B64.encode(data)
}

fn open_address(key: &[u8; 32], group_id: i64, sealed: &str) -> Option<String> {
    use aws_lc_rs::aead::{Aad, Nonce};
    let mut data = B64.decode(sealed).ok()?;
    let plain = cipher(key)?
        .open_in_place(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(group_id.to_be_bytes()),
            &mut data,
        )
        .ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

impl Links {
    pub fn new(signer: Signer, public_url: &str) -> Links {
        Links {
            signer,
            base: public_url.trim_end_matches('/').to_string(),
            readable_until: 0,
        }
    }

    /// Also accepts links of the old, readable form until `until` (ms): they were made before
    /// links became opaque, and work on for `http.link_key_grace` after the upgrade.
    pub fn accepting_readable_until(mut self, until: i64) -> Links {
        self.readable_until = until;
        self
    }

    /// `GROUP.~SEALED[.CHANNEL].SIGNATURE`; the channel is left out for `link`. SEALED is the
    /// address encrypted (AES-256-GCM-SIV under a key derived from the link key, bound to the
    /// group), so a link in a proxy or scanner log names nobody; the HMAC signature over all of
    /// it stays as before.
    pub fn token(&self, group_id: i64, address: &str, channel: &str) -> String {
        let sealed = seal_address(
            &self.signer.derived(ADDRESS_KEY)[0],
            group_id,
            &address.to_ascii_lowercase(),
        );
        let payload = match channel {
            "link" => format!("{group_id}.~{sealed}"),
            other => format!("{group_id}.~{sealed}.{other}"),
        };
        self.signer.seal(PURPOSE, &payload)
    }

    pub fn open(&self, token: &str, now: i64) -> Result<Subscriber, TokenError> {
        let payload = self.signer.open(PURPOSE, token)?;
        let mut parts = payload.split('.');
        let (Some(group), Some(address)) = (parts.next(), parts.next()) else {
            return Err(TokenError::Invalid);
        };
        let channel = parts.next().unwrap_or("link");
        if parts.next().is_some() || !CHANNELS.contains(&channel) {
            return Err(TokenError::Invalid);
        }
        let group_id: i64 = group.parse().map_err(|_| TokenError::Invalid)?;
        let address = match address.strip_prefix('~') {
            Some(sealed) => self
                .signer
                .derived(ADDRESS_KEY)
                .iter()
                .find_map(|key| open_address(key, group_id, sealed))
                .ok_or(TokenError::Invalid)?,
            None if now < self.readable_until => {
                let raw = B64.decode(address).map_err(|_| TokenError::Invalid)?;
                String::from_utf8(raw).map_err(|_| TokenError::Invalid)?
            }
            None => return Err(TokenError::Expired),
        };
        Ok(Subscriber {
            group_id,
            address,
            channel: channel.to_string(),
        })
    }

    /// The footer's "leave this list" page: the same for every recipient.
    /// `http.public_url`, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn leave_page_url(&self, group_id: i64) -> String {
        let token = self.signer.seal(LEAVE_PAGE, &group_id.to_string());
        format!("{}/leave/{token}", self.base)
    }

    /// The group of a leave-page token.
    pub fn open_leave_page(&self, token: &str) -> Result<i64, TokenError> {
        self.signer
            .open(LEAVE_PAGE, token)?
            .parse()
            .map_err(|_| TokenError::Invalid)
    }

    /// A join link for `address` to `group_id`, valid until `expires` (ms).
    pub fn join_url(&self, group_id: i64, address: &str, expires: i64) -> String {
        let claim = Claim {
            id: group_id,
            action: B64.encode(address.to_ascii_lowercase()),
            expires,
        };
        format!("{}/join/{}", self.base, self.signer.sign(JOIN, &claim))
    }

    /// Group and address of a join link that has not expired.
    pub fn open_join(&self, token: &str, now: i64) -> Result<(i64, String), TokenError> {
        let claim = self.signer.verify(JOIN, token, now)?;
        let address = B64.decode(claim.action).map_err(|_| TokenError::Invalid)?;
        let address = String::from_utf8(address).map_err(|_| TokenError::Invalid)?;
        Ok((claim.id, address))
    }

    pub fn url(&self, group_id: i64, address: &str, channel: &str) -> String {
        format!("{}/u/{}", self.base, self.token(group_id, address, channel))
    }

    /// The header fields of `address`'s copy of a post to `group_id` (whose address is `list`):
    /// the one-click link, and mail to `LIST-leave@`, which answers with a confirmation link.
    pub fn fields(&self, group_id: i64, address: &str, list: Option<&str>) -> String {
        let mailto = list
            .map(|l| {
                format!(
                    ",\r\n <mailto:{}?subject=leave>",
                    crate::groups::leave_address(l)
                )
            })
            .unwrap_or_default();
        format!(
            "List-Unsubscribe: <{}>{mailto}\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            self.url(group_id, address, "link")
        )
    }
}

/// The confirmation mail with `address`'s personal link, when `address` receives the group
/// (`None` otherwise: strangers are never written to).
pub async fn confirmation(
    posting: &crate::posting::Posting,
    links: &Links,
    group: &crate::store::groups::Group,
    address: &str,
    channel: &str,
) -> Result<Option<crate::store::posts::NewPost>, StoreError> {
    let address = address.trim().to_lowercase();
    if !posting
        .resolver
        .standing(group.id, &address, &[])
        .await?
        .member
    {
        return Ok(None);
    }
    let settings =
        crate::model::list_settings::ListSettings::from_stored(group.settings.as_deref());
    let t = texts::for_language(&settings.language);
    let link = links.url(group.id, &address, channel);
    Ok(Some(crate::notices::notice_post(
        posting,
        group,
        std::slice::from_ref(&address),
        &address,
        &t.confirm_subject.replace("{list}", &group.name),
        &t.confirm_body
            .replace("{list}", &group.name)
            .replace("{link}", &link),
    )))
}

/// Why nobody joins a group by request (the SMTP reply to `LIST-join@` says it, see
/// `ingress::reply::join_refused`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinRefusal {
    /// The request mail names nobody to send the link to.
    NoSender,
    /// The group is filled from the organisation's records (a rule or a standard group).
    ByRule { group: String, owner: String },
    /// The list's `self_subscribe` is off.
    ManagersOnly { group: String, owner: String },
}

/// Whether `group` takes members by request: checked when the link is asked for and again when
/// it is used (the list may have changed its mind in between).
pub fn join_refusal(group: &crate::store::groups::Group) -> Option<JoinRefusal> {
    let owner = crate::groups::owner_address(group.address.as_deref().unwrap_or(""));
    let name = group.name.clone();
    if group.standard_key.is_some() || group.criteria.is_some() {
        return Some(JoinRefusal::ByRule { group: name, owner });
    }
    let settings =
        crate::model::list_settings::ListSettings::from_stored(group.settings.as_deref());
    (!settings.self_subscribe).then_some(JoinRefusal::ManagersOnly { group: name, owner })
}

/// The mail with a join link for `address`, or why the group takes no members by mail.
pub fn join_confirmation(
    posting: &crate::posting::Posting,
    links: &Links,
    group: &crate::store::groups::Group,
    address: &str,
) -> Result<crate::store::posts::NewPost, JoinRefusal> {
    if let Some(refusal) = join_refusal(group) {
        return Err(refusal);
    }
    let settings =
        crate::model::list_settings::ListSettings::from_stored(group.settings.as_deref());
    let t = texts::for_language(&settings.language);
    let expires = posting.clock.now_ms() + JOIN_VALID_MS;
    let address = address.trim().to_lowercase();
    let link = links.join_url(group.id, &address, expires);
    Ok(crate::notices::notice_post(
        posting,
        group,
        std::slice::from_ref(&address),
        &address,
        &t.join_subject.replace("{list}", &group.name),
        &t.join_body
            .replace("{list}", &group.name)
            .replace("{link}", &link),
    ))
}

/// Makes `address` a member of `group_id` (and lifts an opt-out of it).
pub async fn join(store: &Store, group_id: i64, address: &str, now: i64) -> Result<(), StoreError> {
    let address = EmailAddress::parse(address)
        .map_err(|e| StoreError::Conflict(format!("not an address: {e}")))?;
    let person = store.upsert_person(&address, None, now).await?;
    store.add_member(group_id, person.id, now).await?;
    store.undo_opt_out(person.id, Some(group_id)).await?;
    tracing::info!(group_id, "joined by link");
    Ok(())
}

/// Which mail a person leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Mail sent to this group.
    Group,
    /// All list mail from this organisation.
    All,
}

impl Scope {
    fn group(self, group_id: i64) -> Option<i64> {
        match self {
            Scope::Group => Some(group_id),
            Scope::All => None,
        }
    }
}

/// Records the opt-out (channel `link`). `Ok(None)`: the address is no longer a person here.
pub async fn leave(
    store: &Store,
    who: &Subscriber,
    scope: Scope,
    now: i64,
) -> Result<Option<bool>, StoreError> {
    let Some(person) = person(store, &who.address).await? else {
        return Ok(None);
    };
    let new = store
        .opt_out(person, scope.group(who.group_id), &who.channel, now)
        .await?;
    tracing::info!(group_id = who.group_id, ?scope, new, channel = %who.channel, "opt-out");
    Ok(Some(new))
}

/// Undoes an opt-out made with the link.
pub async fn undo(store: &Store, who: &Subscriber, scope: Scope) -> Result<bool, StoreError> {
    let Some(person) = person(store, &who.address).await? else {
        return Ok(false);
    };
    store.undo_opt_out(person, scope.group(who.group_id)).await
}

/// Whether the person has opted out of this group (or of all list mail).
pub async fn has_left(store: &Store, who: &Subscriber) -> Result<bool, StoreError> {
    let Some(person) = person(store, &who.address).await? else {
        return Ok(true);
    };
    let outs = store.opt_outs(Some(person), None).await?;
    Ok(outs
        .iter()
        .any(|o| o.group_id.is_none() || o.group_id == Some(who.group_id)))
}

async fn person(store: &Store, address: &str) -> Result<Option<i64>, StoreError> {
    let Ok(address) = EmailAddress::parse(address) else {
        return Ok(None);
    };
    Ok(store.find_person(&address).await?.map(|p| p.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_links_of_before_work_for_the_grace_period_and_opaque_ones_after_a_rotation() {
        let signer = Signer::new(vec![9; 32]);
        // A link as the previous version made it: the address in base64.
        let old = signer.seal(PURPOSE, &format!("7.{}", B64.encode("kim@x.org")));
        let links = Links::new(signer.clone(), "https://l.example").accepting_readable_until(1000);
        assert_eq!(links.open(&old, 999).unwrap().address, "kim@x.org");
        assert_eq!(links.open(&old, 1000), Err(TokenError::Expired));
        let opaque = links.token(7, "kim@x.org", "link");
        let rotated = Links::new(
            Signer::new(vec![1; 32]).with_previous(vec![vec![9; 32]]),
            "x",
        );
        assert_eq!(rotated.open(&opaque, 5000).unwrap().address, "kim@x.org");
    }

    #[test]
    fn a_token_names_one_group_and_one_address_and_resists_changes() {
        let links = Links::new(Signer::new(vec![9; 32]), "https://lists.example.org/");
        let t = links.token(7, "Kim@X.org", "link");
        assert_eq!(
            links.open(&t, 0),
            Ok(Subscriber {
                group_id: 7,
                address: "kim@x.org".into(),
                channel: "link".into(),
            })
        );
        let by_mail = links.token(7, "kim@x.org", "mailto");
        assert_eq!(links.open(&by_mail, 0).unwrap().channel, "mailto");
        // Another person's address or another group under the same signature: refused.
        let other = links.token(7, "bo@x.org", "link");
        let (payload, _) = t.rsplit_once('.').unwrap();
        let (_, other_sig) = other.rsplit_once('.').unwrap();
        assert_eq!(
            links.open(&format!("{payload}.{other_sig}"), 0),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            links.open(&t.replacen("7.", "8.", 1), 0),
            Err(TokenError::Invalid)
        );
        assert!(
            links
                .url(7, "kim@x.org", "link")
                .starts_with("https://lists.example.org/u/7.")
        );
        // Opaque: neither the address nor its base64 is in the link.
        let url = links.url(7, "kim@x.org", "link");
        assert!(
            !url.contains("kim") && !url.contains(&B64.encode("kim@x.org")),
            "{url}"
        );
        let fields = links.fields(7, "kim@x.org", Some("board@lists.example.org"));
        assert!(
            fields.ends_with(",\r\n <mailto:board-leave@lists.example.org?subject=leave>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
            "{fields}"
        );
    }
}
