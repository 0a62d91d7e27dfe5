//! Inbound authentication: what an arriving post proves about its sender.
//!
//! Input: the raw post, the connecting IP and HELO, the envelope sender. Output: a [`Checked`]:
//! our own `Authentication-Results` field (RFC 8601) with the DKIM, SPF, DMARC and ARC results
//! from mail-auth, and the DMARC verdict the posting policy acts on (a group can hold or refuse
//! posts that fail DMARC of a domain publishing `p=reject`: a forged "board member").
//!
//! Any `Authentication-Results` field that claims our host name and arrived with the post is
//! forged (only we write those) and is removed ([`forged`]). DNS failures give `temperror`
//! results, never a refusal: the post goes on and the policy does not treat it as failed.
//!
//! DKIM, ARC and SPF run at once, with the author domain's DMARC record fetched beside them, so
//! a post waits for its slowest lookup, not their sum; each session's lookups are its own (a
//! stalled one holds up no other session). Parsed records (DKIM keys, SPF and DMARC records,
//! addresses) are cached within their TTL ([`cache`]), besides hickory's cache of the answers.

mod cache;
mod forged;

use std::{net::IpAddr, sync::Arc, time::Duration};

use mail_auth::{
    ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimOutput, DmarcOutput, DmarcResult,
    MessageAuthenticator, Parameters, SpfOutput,
    common::headers::HeaderWriter,
    dmarc::verify::DmarcParameters,
    dmarc::{Dmarc, Policy},
    spf::verify::SpfParameters,
};

pub use forged::strip_forged;

/// What DMARC says about a post's author domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DmarcStatus {
    /// Aligned DKIM or SPF passed.
    Pass,
    /// Neither passed aligned; `policy` is what the author's domain asks receivers to do.
    Fail { policy: DomainPolicy },
    /// No DMARC record, or no check was made (checks off, no From:).
    #[default]
    None,
    /// DNS trouble: no verdict.
    TempError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainPolicy {
    None,
    Quarantine,
    Reject,
}

/// The result of checking one post.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// `Authentication-Results: …\r\n`, or empty when checks are off.
    pub header: String,
    pub dmarc: DmarcStatus,
}

impl Checked {
    /// `raw` as we keep it: our `Authentication-Results` on top, forged ones claiming
    /// `hostname` removed.
    pub fn stamp(&self, raw: &[u8], hostname: &str) -> Vec<u8> {
        let kept = strip_forged(raw, hostname);
        let mut out = Vec::with_capacity(self.header.len() + kept.len());
        out.extend_from_slice(self.header.as_bytes());
        out.extend_from_slice(&kept);
        out
    }
}

/// How a post reached us, as the checks need it.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    pub ip: IpAddr,
    pub helo: &'a str,
    pub mail_from: &'a str,
}

/// Every result mail-auth gives for one message.
pub struct Outputs<'x> {
    pub dkim: Vec<DkimOutput<'x>>,
    pub spf: SpfOutput,
    pub dmarc: DmarcOutput,
    pub arc: ArcOutput<'x>,
    /// The From: domain (for `header.from`).
    pub from_domain: String,
}

pub struct Verifier {
    auth: Arc<MessageAuthenticator>,
    hostname: String,
    enabled: bool,
    timeout: Duration,
    caches: cache::Caches,
}

impl Verifier {
    pub fn new(
        auth: Arc<MessageAuthenticator>,
        hostname: &str,
        enabled: bool,
        timeout: Duration,
    ) -> Self {
        Verifier {
            auth,
            hostname: hostname.to_string(),
            enabled,
            timeout,
            caches: cache::Caches::default(),
        }
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Checks `raw` (as received, before any change of ours).
    pub async fn check(&self, raw: &[u8], peer: Peer<'_>) -> Checked {
        if !self.enabled {
            return Checked::default();
        }
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return Checked::default();
        };
        let Some(outputs) = self.outputs(&message, peer).await else {
            tracing::warn!(timeout = ?self.timeout, "authentication checks timed out");
            let header = format!(
                "Authentication-Results: {};\r\n\tdkim=temperror; spf=temperror; dmarc=temperror\r\n",
                self.hostname
            );
            return Checked {
                header,
                dmarc: DmarcStatus::TempError,
            };
        };
        Checked {
            header: self.results(&outputs, peer).to_header(),
            dmarc: status(&outputs.dmarc),
        }
    }

    /// DKIM, SPF (MAIL FROM, or HELO for the null sender), DMARC and ARC of `message`; `None`
    /// when they take longer than the configured timeout.
    pub async fn outputs<'x>(
        &'x self,
        message: &'x AuthenticatedMessage<'x>,
        peer: Peer<'_>,
    ) -> Option<Outputs<'x>> {
        let c = &self.caches;
        let with_caches = |p| c.parameters(Parameters::new(p));
        tokio::time::timeout(self.timeout, async {
            let sender = if peer.mail_from.is_empty() {
                format!("postmaster@{}", peer.helo)
            } else {
                peer.mail_from.to_string()
            };
            let author = message
                .from
                .first()
                .and_then(|f| f.rsplit_once('@'))
                .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
                .unwrap_or_default();
            // DMARC needs the DKIM and SPF results; its own record is fetched meanwhile (into
            // the cache DMARC then reads), for the author domain and its organisational guess.
            let dmarc_records = async {
                let mut names = vec![author.clone()];
                let labels: Vec<&str> = author.split('.').collect();
                if labels.len() > 2 {
                    names.push(labels[labels.len() - 2..].join("."));
                }
                let lookups = names.iter().filter(|n| !n.is_empty()).map(|n| {
                    self.auth
                        .txt_lookup::<Dmarc>(format!("_dmarc.{n}."), Some(&c.txt))
                });
                futures_util::future::join_all(lookups).await
            };
            let (dkim, arc, spf, _) = tokio::join!(
                self.auth.verify_dkim(with_caches(message)),
                self.auth.verify_arc(with_caches(message)),
                self.auth.verify_spf(c.parameters(Parameters::new(
                    SpfParameters::verify_mail_from(peer.ip, peer.helo, &self.hostname, &sender,)
                ))),
                dmarc_records,
            );
            let mail_from_domain = sender.rsplit_once('@').map_or("", |(_, d)| d).to_string();
            let dmarc = self
                .auth
                .verify_dmarc(c.parameters(Parameters::new(DmarcParameters::new(
                    message,
                    &dkim,
                    &mail_from_domain,
                    &spf,
                ))))
                .await;
            let from_domain = message
                .from
                .first()
                .and_then(|f| f.rsplit_once('@'))
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            Outputs {
                dkim,
                spf,
                dmarc,
                arc,
                from_domain,
            }
        })
        .await
        .ok()
    }

    /// Our Authentication-Results for `outputs`.
    pub fn results<'a>(&'a self, o: &Outputs<'_>, peer: Peer<'_>) -> AuthenticationResults<'a> {
        AuthenticationResults::new(&self.hostname)
            .with_dkim_results(&o.dkim, &o.from_domain)
            .with_spf_mailfrom_result(&o.spf, peer.ip, peer.mail_from, peer.helo)
            .with_dmarc_result(&o.dmarc)
            .with_arc_result(&o.arc, peer.ip)
    }
}

/// The DMARC verdict the policy acts on.
fn status(dmarc: &DmarcOutput) -> DmarcStatus {
    let (dkim, spf) = (dmarc.dkim_result(), dmarc.spf_result());
    if *dkim == DmarcResult::Pass || *spf == DmarcResult::Pass {
        return DmarcStatus::Pass;
    }
    if matches!(dkim, DmarcResult::TempError(_)) || matches!(spf, DmarcResult::TempError(_)) {
        return DmarcStatus::TempError;
    }
    if dmarc.dmarc_record().is_none() {
        return DmarcStatus::None;
    }
    let policy = match dmarc.policy() {
        Policy::Reject => DomainPolicy::Reject,
        Policy::Quarantine => DomainPolicy::Quarantine,
        Policy::None | Policy::Unspecified => DomainPolicy::None,
    };
    DmarcStatus::Fail { policy }
}
