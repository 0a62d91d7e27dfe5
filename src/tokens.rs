//! Signed tokens for links in mail (moderation, unsubscribe): the server's secret signs
//! `purpose|payload` with HMAC-SHA256, so a link cannot be guessed or altered, and survives
//! restarts (the key lives in the database, shared by every instance). Moderation tokens carry
//! `id.action.expiry`; unsubscribe tokens carry a group and an address and do not expire.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// 256 random bits, URL-safe, after `prefix` (which makes a leaked secret recognisable: `cm_`
/// for API tokens, `cs_` for sign-in links). Stored only as its hash
/// (`admin::access::hash_token`).
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    format!("{prefix}{}", B64.encode(bytes))
}

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
    /// Retired keys still accepted (after a rotation, for a grace period); never used to sign.
    previous: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub id: i64,
    pub action: String,
    pub expires: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this link is not valid (it may have been cut off or changed)")]
    Invalid,
    #[error("this link has expired")]
    Expired,
}

impl Signer {
    pub fn new(key: Vec<u8>) -> Signer {
        Signer {
            key,
            previous: Vec::new(),
        }
    }

    /// Also accepts tokens signed with `previous` keys (retired by a rotation).
    pub fn with_previous(mut self, previous: Vec<Vec<u8>>) -> Signer {
        self.previous = previous;
        self
    }

    /// A 32-byte key for `label` derived from each key (the current one first), for data that
    /// must be hidden in a link and still be read after a rotation.
    pub fn derived(&self, label: &str) -> Vec<[u8; 32]> {
        std::iter::once(&self.key)
            .chain(&self.previous)
            .map(|k| {
                Self::mac_with(k, "derive", label)
                    .finalize()
                    .into_bytes()
                    .into()
            })
            .collect()
    }

    fn keyed(&self, purpose: &str, payload: &str) -> Hmac<Sha256> {
        Self::mac_with(&self.key, purpose, payload)
    }

    fn mac_with(key: &[u8], purpose: &str, payload: &str) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"|");
        mac.update(payload.as_bytes());
        mac
    }

    /// `PAYLOAD.SIGNATURE` (URL-safe as long as the payload is).
    pub fn seal(&self, purpose: &str, payload: &str) -> String {
        let sig = B64.encode(self.keyed(purpose, payload).finalize().into_bytes());
        format!("{payload}.{sig}")
    }

    /// The MAC alone of `payload` for `purpose` (a CSRF token: the payload is known to both
    /// sides and never travels).
    pub fn mac(&self, purpose: &str, payload: &str) -> String {
        B64.encode(self.keyed(purpose, payload).finalize().into_bytes())
    }

    /// Whether `mac` is [`Signer::mac`] of `payload` with the current or a retired key.
    pub fn verify_mac(&self, purpose: &str, payload: &str, mac: &str) -> bool {
        let Ok(sig) = B64.decode(mac) else {
            return false;
        };
        std::iter::once(&self.key).chain(&self.previous).any(|key| {
            Self::mac_with(key, purpose, payload)
                .verify_slice(&sig)
                .is_ok()
        })
    }

    /// The payload of a token made by [`Signer::seal`] for `purpose`.
    pub fn open<'t>(&self, purpose: &str, token: &'t str) -> Result<&'t str, TokenError> {
        let (payload, sig) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let sig = B64.decode(sig).map_err(|_| TokenError::Invalid)?;
        let valid = std::iter::once(&self.key).chain(&self.previous).any(|key| {
            Self::mac_with(key, purpose, payload)
                .verify_slice(&sig)
                .is_ok()
        });
        if !valid {
            return Err(TokenError::Invalid);
        }
        Ok(payload)
    }

    /// `ID.ACTION.EXPIRY.SIGNATURE` (URL-safe).
    pub fn sign(&self, purpose: &str, claim: &Claim) -> String {
        self.seal(
            purpose,
            &format!("{}.{}.{}", claim.id, claim.action, claim.expires),
        )
    }

    pub fn verify(&self, purpose: &str, token: &str, now_ms: i64) -> Result<Claim, TokenError> {
        let payload = self.open(purpose, token)?;
        let mut parts = payload.splitn(3, '.');
        let (Some(id), Some(action), Some(expires)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let claim = Claim {
            id: id.parse().map_err(|_| TokenError::Invalid)?,
            action: action.to_string(),
            expires: expires.parse().map_err(|_| TokenError::Invalid)?,
        };
        if claim.expires < now_ms {
            return Err(TokenError::Expired);
        }
        Ok(claim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_resist_tampering_and_expire() {
        let s = Signer::new(b"k".repeat(32));
        let c = Claim {
            id: 7,
            action: "approve".into(),
            expires: 1000,
        };
        let t = s.sign("moderate", &c);
        assert_eq!(s.verify("moderate", &t, 999), Ok(c));
        assert_eq!(s.verify("moderate", &t, 1001), Err(TokenError::Expired));
        assert_eq!(
            s.verify("unsubscribe", &t, 0),
            Err(TokenError::Invalid),
            "bound to its purpose"
        );
        let forged = t.replacen("approve", "discard", 1);
        assert_eq!(s.verify("moderate", &forged, 0), Err(TokenError::Invalid));
        assert_eq!(
            Signer::new(b"x".repeat(32)).verify("moderate", &t, 0),
            Err(TokenError::Invalid)
        );
        assert_eq!(s.verify("moderate", "garbage", 0), Err(TokenError::Invalid));
    }

    #[test]
    fn after_a_rotation_old_tokens_work_while_their_key_is_kept() {
        let old = Signer::new(b"o".repeat(32));
        let token = old.seal("unsubscribe", "7.a2lt");
        let rotated = Signer::new(b"n".repeat(32)).with_previous(vec![b"o".repeat(32)]);
        assert_eq!(rotated.open("unsubscribe", &token), Ok("7.a2lt"));
        assert_ne!(
            rotated.seal("unsubscribe", "7.a2lt"),
            token,
            "new tokens use the new key"
        );
        let later = Signer::new(b"n".repeat(32));
        assert_eq!(later.open("unsubscribe", &token), Err(TokenError::Invalid));
    }
}
