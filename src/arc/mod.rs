//! ARC sealing (RFC 8617): each list copy carries an ARC set (ARC-Authentication-Results,
//! ARC-Message-Signature, ARC-Seal) signed with the list domain's RSA key, so a receiver that
//! trusts us can see that the post passed authentication when it reached us, even though the
//! list changed it (subject prefix, footer, From: rewriting) and broke the author's signature.
//!
//! Kept apart from DKIM signing on purpose: the IETF DMARC working group is winding the ARC
//! experiment down and some operators have switched sealing off. One switch per key
//! (`[[dkim.keys]] arc`), on by default; only RSA keys seal (receivers verify rsa-sha256 only).
//!
//! The set is made once per post, when its list copy is built (acceptance, or a moderator's
//! approval), by checking the post again as it came. Its message signature covers the header
//! fields every recipient's copy shares — not `To:` or other personal fields — so the one set
//! holds for every personal copy.

use std::{collections::HashMap, sync::Arc};

use mail_auth::{
    AuthenticatedMessage,
    arc::ArcSealer,
    common::{crypto::DkimKey, headers::HeaderWriter},
    dkim::Done,
};

use crate::{
    config::DkimKeyConfig,
    rewrite::SHARED_FIELDS,
    signing::keys,
    verify::{Peer, Verifier},
};

/// The sealers of each domain that seals.
#[derive(Clone)]
pub struct ArcSealers {
    by_domain: Arc<HashMap<String, ArcSealer<DkimKey, Done>>>,
    verifier: Arc<Verifier>,
}

impl ArcSealers {
    /// One sealer per domain: its first RSA key with `arc = true`. An error names the file.
    pub fn load(keys: &[DkimKeyConfig], verifier: Arc<Verifier>) -> Result<ArcSealers, String> {
        let mut by_domain = HashMap::new();
        for k in keys.iter().filter(|k| k.arc) {
            let domain = k.domain.to_ascii_lowercase();
            if by_domain.contains_key(&domain) {
                continue;
            }
            let loaded = keys::load(&k.private_key)?;
            if loaded.kind != "rsa" {
                continue;
            }
            let sealer = ArcSealer::from_key(loaded.key)
                .domain(domain.clone())
                .selector(k.selector.clone())
                .headers(SHARED_FIELDS.iter().copied());
            by_domain.insert(domain, sealer);
        }
        for k in keys.iter().filter(|k| k.arc) {
            if !by_domain.contains_key(&k.domain.to_ascii_lowercase()) {
                tracing::warn!(
                    domain = %k.domain,
                    "no RSA key for ARC sealing (ARC is defined for rsa-sha256 only); copies are not sealed"
                );
            }
        }
        Ok(ArcSealers {
            by_domain: Arc::new(by_domain),
            verifier,
        })
    }

    /// `copy` (the list copy of `original`, as received from `peer`) with an ARC set on top,
    /// when `domain` seals; otherwise, or when sealing fails (logged), `copy` as it is.
    pub async fn seal(
        &self,
        domain: &str,
        original: &[u8],
        copy: Vec<u8>,
        peer: Peer<'_>,
    ) -> Vec<u8> {
        let Some(sealer) = self.by_domain.get(&domain.to_ascii_lowercase()) else {
            return copy;
        };
        let set = match self.arc_set(sealer, original, &copy, peer).await {
            Ok(set) => set,
            Err(why) => {
                tracing::warn!(domain, why, "copy not ARC-sealed");
                return copy;
            }
        };
        let mut out = set.into_bytes();
        out.extend_from_slice(&copy);
        out
    }

    async fn arc_set(
        &self,
        sealer: &ArcSealer<DkimKey, Done>,
        original: &[u8],
        copy: &[u8],
        peer: Peer<'_>,
    ) -> Result<String, String> {
        let received = AuthenticatedMessage::parse(original).ok_or("the post cannot be parsed")?;
        let outputs = self
            .verifier
            .outputs(&received, peer)
            .await
            .ok_or("the authentication checks timed out")?;
        if !outputs.arc.can_be_sealed() {
            return Err("the post's ARC chain already failed".into());
        }
        let results = self.verifier.results(&outputs, peer);
        let copy = AuthenticatedMessage::parse(copy).ok_or("the copy cannot be parsed")?;
        let set = sealer
            .seal(&copy, &results, &outputs.arc)
            .map_err(|e| e.to_string())?;
        Ok(set.to_header())
    }
}
