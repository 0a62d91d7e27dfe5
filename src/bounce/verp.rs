//! VERP (variable envelope return path): the envelope sender of a copy names its list and its
//! recipient, `board-bounces+anna=example.org=5f0c1a9e2b@lists.example.org`, so a bounce tells
//! who bounced even when the report itself is unreadable. The last part is an HMAC of list and
//! recipient under the server's secret (kept in the database, shared by every instance): a
//! forged bounce naming a member does not carry a valid tag and is ignored.
//!
//! Lower-case hex because some MTAs fold the case of local parts. 40 bits of tag: guessing one
//! takes about 10^12 tries, each a mail to us.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::groups::{BOUNCES_SUFFIX, bounce_address};

/// Hex characters of the tag.
const TAG_LEN: usize = 10;

#[derive(Clone)]
pub struct Verp {
    key: Vec<u8>,
}

impl std::fmt::Debug for Verp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verp { key: <secret> }")
    }
}

/// What a VERP detail (the part after `+`) says, once its tag checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// The copy for this recipient (lower-cased) bounced.
    Recipient(String),
    /// The detail is not ours, or its tag does not match: a forgery or a mangled address.
    Forged,
}

impl Verp {
    pub fn new(key: Vec<u8>) -> Verp {
        Verp { key }
    }

    fn mac(&self, list: &str, recipient: &str) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"verp|");
        mac.update(list.to_ascii_lowercase().as_bytes());
        mac.update(b"|");
        mac.update(recipient.to_lowercase().as_bytes());
        mac
    }

    /// The first `TAG_LEN / 2` bytes of the MAC, in lower-case hex.
    fn tag(&self, list: &str, recipient: &str) -> String {
        let bytes = self.mac(list, recipient).finalize().into_bytes();
        bytes
            .iter()
            .take(TAG_LEN / 2)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The envelope sender for `list`'s copy to `recipient`. Falls back to the plain bounce
    /// address for an address VERP cannot carry (quoted local parts, `=`-free domains are fine).
    pub fn sender(&self, list: &str, recipient: &str) -> String {
        let plain = bounce_address(list);
        let Some((local, domain)) = recipient.rsplit_once('@') else {
            return plain;
        };
        let carries = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '@' | '\\' | '<' | '>'))
        };
        if !carries(local) || !carries(domain) || domain.contains('=') {
            return plain;
        }
        let Some((bounce_local, list_domain)) = plain.rsplit_once('@') else {
            return plain;
        };
        format!(
            "{bounce_local}+{}={}={}@{list_domain}",
            local.to_lowercase(),
            domain.to_ascii_lowercase(),
            self.tag(list, recipient)
        )
    }

    /// The VERP form of a copy's envelope sender `LIST-bounces@DOMAIN` for `recipient`; any
    /// other sender (the null sender, a notice's) is left as it is.
    pub fn sender_from(&self, envelope_from: &str, recipient: &str) -> String {
        match envelope_from.rsplit_once('@') {
            Some((local, domain)) if local.ends_with(BOUNCES_SUFFIX) => {
                let list_local = &local[..local.len() - BOUNCES_SUFFIX.len()];
                self.sender(&format!("{list_local}@{domain}"), recipient)
            }
            _ => envelope_from.to_string(),
        }
    }

    /// Reads the detail of a bounce address of `list` (`anna=example.org=TAG`).
    pub fn decode(&self, list: &str, detail: &str) -> Decoded {
        let Some((rest, tag)) = detail.rsplit_once('=') else {
            return Decoded::Forged;
        };
        let Some((local, domain)) = rest.rsplit_once('=') else {
            return Decoded::Forged;
        };
        if local.is_empty() || domain.is_empty() {
            return Decoded::Forged;
        }
        let recipient = format!("{local}@{domain}").to_lowercase();
        // The given tag as bytes, checked by the HMAC crate in constant time.
        let given: Option<Vec<u8>> = (tag.len() == TAG_LEN && tag.is_ascii())
            .then(|| {
                (0..TAG_LEN)
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&tag[i..i + 2], 16).ok())
                    .collect()
            })
            .flatten();
        let same =
            given.is_some_and(|g| self.mac(list, &recipient).verify_truncated_left(&g).is_ok());
        if same {
            Decoded::Recipient(recipient)
        } else {
            Decoded::Forged
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verp_sender_round_trips_and_resists_forgery() {
        let v = Verp::new(b"k".repeat(32));
        let s = v.sender("board@lists.test", "Anna+x@Example.org");
        let (local, domain) = s.rsplit_once('@').unwrap();
        assert_eq!(domain, "lists.test");
        let detail = local.strip_prefix("board-bounces+").unwrap();
        assert!(detail.starts_with("anna+x=example.org="), "{s}");
        assert_eq!(
            v.decode("board@lists.test", detail),
            Decoded::Recipient("anna+x@example.org".into())
        );
        assert_eq!(
            v.decode("board@lists.test", &detail.to_uppercase()),
            Decoded::Recipient("anna+x@example.org".into()),
            "case-folded by a remote MTA"
        );
        let other = detail.replace("anna+x", "bo");
        assert_eq!(v.decode("board@lists.test", &other), Decoded::Forged);
        assert_eq!(v.decode("other@lists.test", detail), Decoded::Forged);
        assert_eq!(v.decode("board@lists.test", "garbage"), Decoded::Forged);
        assert_eq!(
            Verp::new(b"x".repeat(32)).decode("board@lists.test", detail),
            Decoded::Forged
        );
    }

    #[test]
    fn addresses_verp_cannot_carry_get_the_plain_bounce_address() {
        let v = Verp::new(b"k".repeat(32));
        assert_eq!(
            v.sender("board@lists.test", "\"a b\"@example.org"),
            "board-bounces@lists.test"
        );
        assert_eq!(
            v.sender("board@lists.test", "nobody"),
            "board-bounces@lists.test"
        );
        assert_eq!(
            v.sender_from("board-bounces@lists.test", "a@b.org"),
            v.sender("board@lists.test", "a@b.org")
        );
        assert_eq!(v.sender_from("", "a@b.org"), "");
    }
}
