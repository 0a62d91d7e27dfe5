//! Direct delivery: each recipient domain's copies go straight to its MX hosts ([`mx`]).
//!
//! Per batch, recipients are grouped by domain; each domain gets one connection (its hosts tried
//! in preference order, every address of a host in turn) carrying all the batch's transactions
//! for it, at most `delivery.max_recipients_per_transaction` RCPTs each. A host that cannot be
//! reached, does not greet with 220 or fails EHLO/TLS is skipped for the next one; once a host
//! greets, its replies decide (a 4xx defers, a 5xx fails). STARTTLS is used whenever offered,
//! without checking the certificate (opportunistic, RFC 7435; a failed handshake is retried in
//! plain text on a new connection); MTA-STS (RFC 8461) and DANE
//! (RFC 7672) are not implemented yet. At most `delivery.direct_connections_per_domain`
//! connections are open to one domain at a time; `delivery.workers` bounds them all.

use std::{
    collections::{BTreeMap, HashMap},
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use mail_auth::MessageAuthenticator;
use mail_send::SmtpClient;
use smtp_proto::{EXT_START_TLS, EhloResponse};
use tokio::{
    net::TcpStream,
    sync::{OwnedSemaphorePermit, Semaphore},
    time::timeout,
};
use tokio_rustls::TlsConnector;

use super::{
    Copy, Progress, Waiting, mx,
    outcome::{RcptOutcome, from_error, from_reply},
    relay::{Client, buffered, greet},
    session::send_copies,
};
use crate::config::DeliveryConfig;

pub struct Direct {
    auth: Arc<MessageAuthenticator>,
    port: u16,
    helo: String,
    connect_timeout: Duration,
    command_timeout: Duration,
    max_recipients: usize,
    /// BDAT when offered (`delivery.chunking`).
    chunking: bool,
    per_domain: usize,
    /// Encrypts without authenticating (RFC 7435).
    tls: TlsConnector,
    domains: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Direct {
    pub fn new(
        config: &DeliveryConfig,
        helo: &str,
        auth: Arc<MessageAuthenticator>,
    ) -> Result<Direct, String> {
        Ok(Direct {
            auth,
            port: config.direct_port,
            helo: helo.to_string(),
            connect_timeout: config.connect_timeout,
            command_timeout: config.command_timeout,
            max_recipients: config.max_recipients_per_transaction.max(1),
            chunking: config.chunking,
            per_domain: config.direct_connections_per_domain.max(1),
            tls: mail_send::smtp::tls::build_tls_connector(true)?,
            domains: Mutex::new(HashMap::new()),
        })
    }

    pub fn describe(&self) -> String {
        format!("direct to MX hosts (port {})", self.port)
    }

    /// Sends every copy, domain by domain; one outcome per recipient of each copy, in order.
    pub async fn send(&self, copies: &[Copy], progress: &dyn Progress) -> Vec<Vec<RcptOutcome>> {
        let mut results: Vec<Vec<Option<RcptOutcome>>> = copies
            .iter()
            .map(|c| vec![None; c.recipients.len()])
            .collect();
        // domain → (copy index, recipient index)
        let mut by_domain: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
        for (ci, copy) in copies.iter().enumerate() {
            for (ri, r) in copy.recipients.iter().enumerate() {
                match r.rsplit_once('@') {
                    Some((_, d)) if !d.is_empty() => by_domain
                        .entry(d.trim_end_matches('.').to_ascii_lowercase())
                        .or_default()
                        .push((ci, ri)),
                    _ => {
                        results[ci][ri] = Some(RcptOutcome::Permanent(format!(
                            "550 5.1.3 {r:?} has no domain"
                        )))
                    }
                }
            }
        }
        for (domain, places) in by_domain {
            // The domain's transactions: per copy, its recipients there, in chunks.
            let mut jobs: Vec<(Copy, Vec<(usize, usize)>)> = Vec::new();
            let mut per_copy: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (ci, ri) in places {
                per_copy.entry(ci).or_default().push(ri);
            }
            for (ci, ris) in per_copy {
                for chunk in ris.chunks(self.max_recipients) {
                    let copy = &copies[ci];
                    jobs.push((
                        Copy {
                            envelope_from: copy.envelope_from.clone(),
                            recipients: chunk
                                .iter()
                                .map(|ri| copy.recipients[*ri].clone())
                                .collect(),
                            message: copy.message.clone(),
                        },
                        chunk.iter().map(|ri| (ci, *ri)).collect(),
                    ));
                }
            }
            let _permit = self.domain_permit(&domain).await;
            let outcomes = self.send_domain(&domain, &jobs, progress).await;
            for ((_, places), outcomes) in jobs.iter().zip(outcomes) {
                for ((ci, ri), o) in places.iter().zip(outcomes) {
                    results[*ci][*ri] = Some(o);
                }
            }
        }
        results
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|o| o.unwrap_or_else(|| RcptOutcome::Temporary("not attempted".into())))
                    .collect()
            })
            .collect()
    }

    async fn domain_permit(&self, domain: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            // A poisoned lock only means another task panicked while holding it; the map
            // itself is still sound, and the per-domain limit must not silently go away.
            let mut map = self.domains.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() > 10_000 {
                map.retain(|_, s| Arc::strong_count(s) > 1);
            }
            map.entry(domain.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_domain)))
                .clone()
        };
        semaphore.acquire_owned().await.ok()
    }

    /// All of one domain's transactions: hosts in order until one takes the connection.
    async fn send_domain(
        &self,
        domain: &str,
        jobs: &[(Copy, Vec<(usize, usize)>)],
        progress: &dyn Progress,
    ) -> Vec<Vec<RcptOutcome>> {
        let hosts = match mx::hosts(&self.auth, domain).await {
            Ok(hosts) => hosts,
            Err(outcome) => {
                return jobs
                    .iter()
                    .map(|(c, _)| vec![outcome.clone(); c.recipients.len()])
                    .collect();
            }
        };
        let mut results: Vec<Vec<RcptOutcome>> = Vec::with_capacity(jobs.len());
        let mut last_error =
            RcptOutcome::Temporary(format!("no MX host of {domain} could be reached"));
        'hosts: for host in &hosts {
            let label = |o: RcptOutcome| label(&host.name, o);
            for addr in &host.addrs {
                // The same address again while each connection delivers something: a host
                // that takes a few messages per connection, then answers 421.
                loop {
                    if results.len() == jobs.len() {
                        break 'hosts;
                    }
                    // A failed TLS handshake is retried in plain text, as MTAs do:
                    // opportunistic TLS must not make mail undeliverable.
                    let opened = match self.open(*addr, &host.name, true).await {
                        Err(TlsFailed(outcome)) => {
                            tracing::info!(domain, host = %host.name, %addr, error = ?outcome, "STARTTLS failed; trying without TLS");
                            self.open(*addr, &host.name, false).await
                        }
                        other => other,
                    };
                    let (mut client, ehlo) = match opened {
                        Ok(open) => open,
                        Err(TlsFailed(outcome) | Failed(outcome)) => {
                            tracing::debug!(domain, host = %host.name, %addr, error = ?outcome, "MX host skipped");
                            last_error = outcome;
                            break;
                        }
                    };
                    let pending: Vec<&Copy> =
                        jobs[results.len()..].iter().map(|(c, _)| c).collect();
                    let places = Places {
                        inner: progress,
                        jobs: &jobs[results.len()..],
                        host: &host.name,
                    };
                    let (done, usable) =
                        send_copies(&mut client, &ehlo, self.chunking, &pending, &places).await;
                    let delivered = done.iter().flatten().any(|o| *o == RcptOutcome::Delivered);
                    results.extend(done.into_iter().map(|o| o.into_iter().map(label).collect()));
                    if usable {
                        let _ = timeout(Duration::from_secs(5), client.cmd(b"QUIT\r\n")).await;
                    } else {
                        last_error = label(RcptOutcome::Temporary(
                            "the connection ended before every copy was sent".into(),
                        ));
                    }
                    if usable || !delivered {
                        break;
                    }
                }
            }
        }
        while results.len() < jobs.len() {
            let n = jobs[results.len()].0.recipients.len();
            results.push(vec![last_error.clone(); n]);
        }
        results
    }

    /// Connects to one address of an MX host, reads the greeting, says EHLO, and upgrades to
    /// TLS when the host offers STARTTLS (and `tls` is set).
    async fn open(
        &self,
        ip: IpAddr,
        host: &str,
        tls: bool,
    ) -> Result<(Client, EhloResponse<String>), OpenError> {
        let stage = format!("{host} [{ip}]");
        let tcp = timeout(
            self.connect_timeout,
            TcpStream::connect(SocketAddr::new(ip, self.port)),
        )
        .await
        .map_err(|_| {
            Failed(RcptOutcome::Temporary(format!(
                "{stage}: connection timed out"
            )))
        })?
        .map_err(|e| {
            Failed(RcptOutcome::Temporary(format!(
                "{stage}: cannot connect: {e}"
            )))
        })?;
        let _ = tcp.set_nodelay(true);
        let mut plain = SmtpClient {
            stream: tcp,
            timeout: self.command_timeout,
        };
        // A refusal at the greeting or EHLO is the host's, not the recipient's: try the next.
        let ehlo = greet(&mut plain, &self.helo).await.map_err(|e| {
            Failed(match from_error(&format!("{stage} greeting"), &e) {
                RcptOutcome::Permanent(m) => RcptOutcome::Temporary(m),
                o => o,
            })
        })?;
        if !tls || !ehlo.has_capability(EXT_START_TLS) {
            let client = buffered(plain.stream, self.command_timeout);
            return Ok((client, ehlo));
        }
        let reply = plain
            .cmd(b"STARTTLS\r\n")
            .await
            .map_err(|e| TlsFailed(from_error(&format!("{stage} STARTTLS"), &e)))?;
        if reply.code != 220 {
            return Err(TlsFailed(
                match from_reply(&format!("{stage} STARTTLS"), &reply) {
                    RcptOutcome::Permanent(m) => RcptOutcome::Temporary(m),
                    o => o,
                },
            ));
        }
        let name = rustls_pki_types::ServerName::try_from(host.to_string())
            .unwrap_or_else(|_| rustls_pki_types::ServerName::IpAddress(ip.into()));
        let tls = timeout(self.command_timeout, self.tls.connect(name, plain.stream))
            .await
            .map_err(|_| {
                TlsFailed(RcptOutcome::Temporary(format!(
                    "{stage} TLS: handshake timed out"
                )))
            })?
            .map_err(|e| TlsFailed(RcptOutcome::Temporary(format!("{stage} TLS: {e}"))))?;
        let mut client = buffered(tls, self.command_timeout);
        let ehlo = client
            .ehlo(&self.helo)
            .await
            .map_err(|e| TlsFailed(from_error(&format!("{stage} EHLO"), &e)))?;
        Ok((client, ehlo))
    }
}

/// The progress of one domain's transactions (`jobs`), told to `inner` under the places of
/// their recipients in the batch's copies, labelled with the host as in the result.
struct Places<'a> {
    inner: &'a dyn Progress,
    jobs: &'a [(Copy, Vec<(usize, usize)>)],
    host: &'a str,
}

impl Progress for Places<'_> {
    fn done(&self, outcomes: Vec<(usize, usize, RcptOutcome)>) -> Waiting<'_> {
        let placed = outcomes
            .into_iter()
            .filter_map(|(job, r, o)| {
                let (ci, ri) = *self.jobs.get(job)?.1.get(r)?;
                Some((ci, ri, label(self.host, o)))
            })
            .collect();
        self.inner.done(placed)
    }
}

/// An outcome with the MX host that gave it.
fn label(host: &str, o: RcptOutcome) -> RcptOutcome {
    match o {
        RcptOutcome::Temporary(e) => RcptOutcome::Temporary(format!("{host}: {e}")),
        RcptOutcome::Permanent(e) => RcptOutcome::Permanent(format!("{host}: {e}")),
        RcptOutcome::Refused { error, status } => RcptOutcome::Refused {
            error: format!("{host}: {error}"),
            status,
        },
        RcptOutcome::Delivered => RcptOutcome::Delivered,
    }
}

/// Why a connection could not be used; the TLS kind is worth one more try in plain text.
enum OpenError {
    Failed(RcptOutcome),
    TlsFailed(RcptOutcome),
}
use OpenError::{Failed, TlsFailed};
