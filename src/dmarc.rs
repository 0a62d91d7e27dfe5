//! The DMARC policy an author's domain publishes, for `from_mode = "auto"`: From: is rewritten
//! to the list only when the domain asks receivers to quarantine or reject mail that fails DMARC
//! (a list copy always fails it: we changed the message, and we are not the author's domain).
//!
//! Looked up with mail-auth through hickory (the name servers in `[dns]`, or the system's), from
//! the domain up to its parent domains (`mail.example.org`, then `example.org`), cached for an
//! hour. When DNS fails, From: is rewritten: needlessly rewriting is harmless, failing to rewrite
//! for a p=reject domain loses the post at Gmail and Yahoo.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mail_auth::{
    DnsError, Error, MessageAuthenticator,
    common::cache::NoCache,
    dmarc::{Dmarc, Policy},
    hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts},
};

const CACHE_FOR: Duration = Duration::from_secs(3600);

pub struct DmarcPolicies {
    auth: Arc<MessageAuthenticator>,
    cache: Mutex<HashMap<String, (bool, Instant)>>,
}

/// A resolver over `nameservers` (UDP and TCP), or the system's when the list is empty, with the
/// default time-out and attempts of `[dns]`.
pub fn authenticator(nameservers: &[SocketAddr]) -> Result<MessageAuthenticator, String> {
    let d = crate::config::DnsConfig::default();
    authenticator_with(nameservers, d.timeout, d.attempts)
}

/// A resolver over `nameservers` (or the system's) where one attempt of a query takes at most
/// `timeout` and a query is tried `attempts` times: a lost UDP packet costs a resend (hickory
/// sends again every 333 ms within an attempt), not the system's 5 s. Answers are cached by
/// hickory within their TTL.
pub fn authenticator_with(
    nameservers: &[SocketAddr],
    timeout: Duration,
    attempts: usize,
) -> Result<MessageAuthenticator, String> {
    if nameservers.is_empty() {
        let (config, mut opts) = mail_auth::hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("cannot read the system DNS configuration: {e}"))?;
        opts.timeout = timeout;
        opts.attempts = attempts.max(1);
        return MessageAuthenticator::new(config, opts).map_err(|e| e.to_string());
    }
    let servers = nameservers
        .iter()
        .map(|s| {
            let mut ns = NameServerConfig::udp_and_tcp(s.ip());
            for c in &mut ns.connections {
                c.port = s.port();
            }
            ns
        })
        .collect();
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = attempts.max(1);
    MessageAuthenticator::new(ResolverConfig::from_parts(None, vec![], servers), opts)
        .map_err(|e| e.to_string())
}

impl DmarcPolicies {
    pub fn new(auth: Arc<MessageAuthenticator>) -> Self {
        DmarcPolicies {
            auth,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// True when `domain` (or the nearest parent with a record) publishes p=quarantine or p=reject.
    pub async fn strict(&self, domain: &str) -> bool {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if let Some((strict, at)) = self.cache.lock().ok().and_then(|c| c.get(&domain).copied())
            && at.elapsed() < CACHE_FOR
        {
            return strict;
        }
        let strict = self.lookup(&domain).await;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(domain, (strict, Instant::now()));
        }
        strict
    }

    async fn lookup(&self, domain: &str) -> bool {
        let labels: Vec<&str> = domain.split('.').collect();
        for start in 0..labels.len().saturating_sub(1) {
            let candidate = labels[start..].join(".");
            let record = self
                .auth
                .txt_lookup::<Dmarc>(
                    format!("_dmarc.{candidate}."),
                    None::<&NoCache<Box<str>, mail_auth::Txt>>,
                )
                .await;
            match record {
                Ok(d) => {
                    let policy = if start == 0 {
                        &d.p
                    } else {
                        if d.sp == Policy::Unspecified {
                            &d.p
                        } else {
                            &d.sp
                        }
                    };
                    return matches!(policy, Policy::Quarantine | Policy::Reject);
                }
                Err(Error::Dns(DnsError::Resolver(e))) => {
                    tracing::warn!(domain, error = %e, "DMARC lookup failed; rewriting From: to be safe");
                    return true;
                }
                // No record here (or not a DMARC one): look at the parent domain.
                Err(_) => continue,
            }
        }
        false
    }
}
