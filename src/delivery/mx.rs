//! Where a recipient domain's mail goes (RFC 5321 §5.1): its MX hosts in preference order (equal
//! preferences shuffled), each host's IPv4 and IPv6 addresses; with no MX record, the domain's
//! own addresses (the implicit MX). A null MX (RFC 7505: one record, exchange ".") means the
//! domain takes no mail: a permanent failure, like a domain that does not exist (NXDOMAIN).
//! Every other DNS failure (SERVFAIL, timeout) is temporary.
//!
//! Lookups go through hickory-resolver (wrapped by mail-auth) with the name servers of `[dns]`.

use std::net::IpAddr;

use mail_auth::{
    DnsError, Error, MessageAuthenticator, common::cache::NoCache,
    hickory_resolver::proto::op::ResponseCode,
};
use rand::seq::SliceRandom;

use super::RcptOutcome;

/// One host to try, with its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    pub name: String,
    pub addrs: Vec<IpAddr>,
}

/// The hosts for `domain`, best first; `Err` is the outcome for all its recipients.
pub async fn hosts(auth: &MessageAuthenticator, domain: &str) -> Result<Vec<MxHost>, RcptOutcome> {
    let fqdn = format!("{}.", domain.trim_end_matches('.'));
    let names: Vec<String> = match auth.mx_lookup(fqdn.as_str(), None::<&NoCache<_, _>>).await {
        Ok(set) => {
            let records = &set.rrset;
            let null = |e: &str| e == "." || e.is_empty();
            if records
                .iter()
                .all(|mx| mx.exchanges.iter().all(|e| null(e)))
                && !records.is_empty()
            {
                return Err(RcptOutcome::Permanent(format!(
                    "556 5.1.10 {domain} accepts no mail (null MX, RFC 7505)"
                )));
            }
            let mut names = Vec::new();
            for mx in records.iter() {
                let mut same: Vec<String> = mx
                    .exchanges
                    .iter()
                    .filter(|e| !null(e))
                    .map(|e| e.trim_end_matches('.').to_string())
                    .collect();
                same.shuffle(&mut rand::rng());
                names.extend(same);
            }
            if names.is_empty() {
                vec![domain.to_string()]
            } else {
                names
            }
        }
        Err(Error::Dns(DnsError::RecordNotFound(ResponseCode::NXDomain))) => {
            return Err(RcptOutcome::Permanent(format!(
                "550 5.1.2 {domain} does not exist (DNS: NXDOMAIN)"
            )));
        }
        // The domain exists without MX: the implicit MX is the domain itself.
        Err(Error::Dns(DnsError::RecordNotFound(_))) => vec![domain.to_string()],
        Err(e) => {
            return Err(RcptOutcome::Temporary(format!(
                "DNS MX lookup for {domain} failed: {e}"
            )));
        }
    };
    let implicit = names.len() == 1 && names[0] == domain;
    let mut hosts = Vec::with_capacity(names.len());
    let mut temporary = None;
    for name in names {
        match addresses(auth, &name).await {
            Ok(addrs) if !addrs.is_empty() => hosts.push(MxHost { name, addrs }),
            Ok(_) => {}
            Err(e) => temporary = Some(e),
        }
    }
    if hosts.is_empty() {
        return Err(match temporary {
            Some(e) => RcptOutcome::Temporary(e),
            None if implicit => RcptOutcome::Permanent(format!(
                "550 5.1.2 {domain} has no MX and no address record"
            )),
            None => RcptOutcome::Temporary(format!("no MX host of {domain} has an address")),
        });
    }
    Ok(hosts)
}

/// A and AAAA addresses of `host`; `Err` only for a temporary DNS failure.
async fn addresses(auth: &MessageAuthenticator, host: &str) -> Result<Vec<IpAddr>, String> {
    let fqdn = format!("{}.", host.trim_end_matches('.'));
    let mut addrs = Vec::new();
    let mut failure = None;
    match auth
        .ipv4_lookup(fqdn.as_str(), None::<&NoCache<_, _>>)
        .await
    {
        Ok(set) => addrs.extend(set.rrset.iter().map(|a| IpAddr::V4(*a))),
        Err(Error::Dns(DnsError::RecordNotFound(_))) => {}
        Err(e) => failure = Some(format!("DNS A lookup for {host} failed: {e}")),
    }
    match auth
        .ipv6_lookup(fqdn.as_str(), None::<&NoCache<_, _>>)
        .await
    {
        Ok(set) => addrs.extend(set.rrset.iter().map(|a| IpAddr::V6(*a))),
        Err(Error::Dns(DnsError::RecordNotFound(_))) => {}
        Err(e) => failure = failure.or(Some(format!("DNS AAAA lookup for {host} failed: {e}"))),
    }
    match (addrs.is_empty(), failure) {
        (true, Some(e)) => Err(e),
        _ => Ok(addrs),
    }
}
