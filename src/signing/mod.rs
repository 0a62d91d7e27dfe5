//! Signing: the last step before a copy leaves. Every copy is DKIM-signed (RFC 6376; Ed25519 per
//! RFC 8463) with the keys configured for its list's domain: one key, or two (RSA and Ed25519:
//! dual signing). Relaxed/relaxed canonicalisation; the headers receivers care about are signed,
//! and `From` is signed once more than it occurs (oversigned) so no second From can be added.
//! Signing is CPU work: it runs on the blocking pool, never on the reactor.
//!
//! Personal copies (one per recipient) are signed with the body hashed once per post
//! ([`personal`]): each recipient then costs one private-key operation per key.

pub mod keys;
mod personal;

use std::{collections::HashMap, sync::Arc};

use mail_auth::{
    common::{crypto::DkimKey, headers::HeaderWriter},
    dkim::{DkimSigner, Done},
};

use crate::{
    config::DkimKeyConfig,
    model::message::CopyBytes,
    rewrite::{PERSONAL_FIELDS, Personaliser, SHARED_FIELDS},
};

/// Headers signed on every copy: From (twice, so a second From cannot be added), the fields
/// every copy shares and each recipient's own. Absent ones are signed as absent (they cannot be
/// added later).
fn signed_headers() -> impl Iterator<Item = &'static str> {
    std::iter::once("From")
        .chain(SHARED_FIELDS.iter().copied())
        .chain(PERSONAL_FIELDS.iter().copied())
}

/// One post's personal copies, ready for signing: the split copy and, per key of its
/// domain, what every copy's signature shares (body hash, shared header fields).
pub struct PreparedPost {
    pub copy: Personaliser,
    domain: String,
    shared: Vec<personal::SharedPart>,
}

/// The signers of each domain.
#[derive(Clone, Default)]
pub struct Signers {
    by_domain: Arc<HashMap<String, Vec<DkimSigner<DkimKey, Done>>>>,
}

impl Signers {
    /// Loads every configured key; a missing or unreadable key is an error naming the file.
    pub fn load(keys: &[DkimKeyConfig]) -> Result<Signers, String> {
        let mut by_domain: HashMap<String, Vec<DkimSigner<DkimKey, Done>>> = HashMap::new();
        for k in keys {
            let loaded = keys::load(&k.private_key)?;
            let signer = DkimSigner::from_key(loaded.key)
                .domain(k.domain.to_ascii_lowercase())
                .selector(k.selector.clone())
                .headers(signed_headers());
            by_domain
                .entry(k.domain.to_ascii_lowercase())
                .or_default()
                .push(signer);
        }
        Ok(Signers {
            by_domain: Arc::new(by_domain),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }

    /// `message` with a DKIM-Signature for each key of `domain` prepended (unchanged when the
    /// domain has no key). A signing error is logged and the copy goes out unsigned.
    pub fn sign(&self, domain: &str, message: &[u8]) -> Vec<u8> {
        let headers = self.signatures(domain, message);
        let mut out = Vec::with_capacity(headers.len() + message.len());
        out.extend_from_slice(headers.as_bytes());
        out.extend_from_slice(message);
        out
    }

    /// The DKIM-Signature fields of `message`, one per key of `domain` (none without a key).
    pub fn signatures(&self, domain: &str, message: &[u8]) -> String {
        let mut headers = String::new();
        for signer in self
            .by_domain
            .get(&domain.to_ascii_lowercase())
            .into_iter()
            .flatten()
        {
            match signer.sign(message) {
                Ok(sig) => headers.push_str(&sig.to_header()),
                Err(e) => {
                    tracing::error!(domain, error = %e, "DKIM signing failed; sending unsigned")
                }
            }
        }
        headers
    }

    /// A post's personal copies made ready for signing with the keys of `domain`: the body is
    /// hashed and the shared header fields canonicalised here, once per key and post, for every
    /// batch of the post.
    pub fn prepare(&self, domain: &str, copy: Personaliser) -> PreparedPost {
        let domain = domain.to_ascii_lowercase();
        let shared = self
            .by_domain
            .get(&domain)
            .into_iter()
            .flatten()
            .map(|s| personal::shared_part(s, copy.shared_fields(), copy.body()))
            .collect();
        PreparedPost {
            copy,
            domain,
            shared,
        }
    }

    /// Each recipient's personal copy, signed with every key of the post's domain.
    pub fn sign_personal(&self, post: &PreparedPost, recipients: &[String]) -> Vec<CopyBytes> {
        let domain = post.domain.as_str();
        let signers: Vec<personal::PostSigner<'_>> = self
            .by_domain
            .get(domain)
            .into_iter()
            .flatten()
            .zip(&post.shared)
            .map(|(s, shared)| personal::PostSigner::new(s, shared))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let copy = &post.copy;
        recipients
            .iter()
            .map(|r| {
                let fields = copy.fields_for(r);
                let mut headers = String::new();
                for signer in &signers {
                    match signer.sign(fields.as_bytes(), now) {
                        Ok(sig) => headers.push_str(&sig),
                        Err(e) => {
                            tracing::error!(domain, error = %e, "DKIM signing failed; sending unsigned")
                        }
                    }
                }
                copy.copy_with(&headers, &fields)
            })
            .collect()
    }

    /// [`Signers::sign_personal`] on the blocking pool.
    pub async fn sign_personal_async(
        &self,
        post: Arc<PreparedPost>,
        recipients: Vec<String>,
    ) -> Vec<CopyBytes> {
        let this = self.clone();
        let fallback = (post.clone(), recipients.clone());
        tokio::task::spawn_blocking(move || this.sign_personal(&post, &recipients))
            .await
            .unwrap_or_else(|e| {
                let (post, recipients) = fallback;
                tracing::error!(domain = %post.domain, error = %e, "DKIM signing failed; sending unsigned");
                recipients
                    .iter()
                    .map(|r| post.copy.copy_with("", &post.copy.fields_for(r)))
                    .collect()
            })
    }

    /// Signs on the blocking pool (for the async delivery path): the signatures in front of
    /// the shared `message`.
    pub async fn sign_async(&self, domain: String, message: Arc<[u8]>) -> CopyBytes {
        if !self.by_domain.contains_key(&domain.to_ascii_lowercase()) {
            return CopyBytes::whole(message);
        }
        let this = self.clone();
        let shared = message.clone();
        let head = tokio::task::spawn_blocking(move || this.signatures(&domain, &message))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "DKIM signing failed; sending unsigned");
                String::new()
            });
        CopyBytes::new(head.into_bytes(), shared)
    }
}
