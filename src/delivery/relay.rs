//! The relay transport: every copy goes to one smarthost over SMTP (mail-send underneath).
//!
//! A connection is opened with greeting, EHLO, STARTTLS (per `delivery.relay_tls`) and AUTH when
//! configured, then carries for each copy of a batch one transaction ([`super::session`]:
//! pipelined when the relay offers PIPELINING, one round trip per copy). Personalised copies
//! (one per recipient) share the connection; after a connection-level failure the rest go on a
//! new one. Between batches the connection waits for the next batch, which checks it with RSET
//! first (a connection that fails that, or has waited longer than [`IDLE_LIMIT`], is closed and
//! a new one opened); after `delivery.relay_transactions_per_connection` transactions it is
//! closed with QUIT and the next batch opens a new one.

use std::{
    fmt,
    sync::Mutex,
    time::{Duration, Instant},
};

use mail_send::{Credentials, SmtpClient};
use smtp_proto::{EXT_START_TLS, EhloResponse};
use tokio::{
    io::{AsyncRead, AsyncWrite, BufStream},
    net::TcpStream,
    time::timeout,
};
use tokio_rustls::TlsConnector;

use super::{
    Copy, Offset, Progress,
    outcome::{RcptOutcome, from_error, from_reply},
    session::send_copies,
    wire::exchange,
};
use crate::config::{DeliveryConfig, RelayTls};

/// Where the relay is and how to speak TLS to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayTarget {
    pub host: String,
    pub port: u16,
    pub tls: RelayTls,
}

impl RelayTarget {
    /// Parses `smtp://host[:port]` (port 25 by default) or `smtps://host[:port]` (implicit TLS, 465).
    pub fn parse(url: &str, tls: RelayTls) -> Result<RelayTarget, String> {
        let parsed = url::Url::parse(url)
            .map_err(|e| format!("{url:?} is not a URL ({e}); write smtp://host:port"))?;
        let (default_port, tls) = match parsed.scheme() {
            "smtp" => (25, tls),
            "smtps" => (465, RelayTls::Tls),
            other => {
                return Err(format!(
                    "scheme {other:?} is not supported; write smtp://host:port or smtps://host:port"
                ));
            }
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(
                "put credentials in delivery.relay_username and delivery.relay_password, not in the URL"
                    .into(),
            );
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{url:?} names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(RelayTarget {
            host,
            port: parsed.port().unwrap_or(default_port),
            tls,
        })
    }
}

impl fmt::Display for RelayTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Any byte stream an SMTP client can run over (plain TCP or TLS, buffered).
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(super) type Client = SmtpClient<Box<dyn Io>>;

/// A client over `stream` (TCP, or TLS on top of it), buffered.
pub(super) fn buffered(stream: impl Io + 'static, timeout: Duration) -> Client {
    SmtpClient {
        stream: Box::new(BufStream::new(stream)),
        timeout,
    }
}

pub struct Relay {
    target: RelayTarget,
    helo: String,
    credentials: Option<Credentials<String>>,
    connect_timeout: Duration,
    command_timeout: Duration,
    /// Checks the certificate (unless `relay_allow_invalid_certs`): for `starttls` and `tls`.
    verified_tls: TlsConnector,
    /// Encrypts without authenticating (RFC 7435): for `opportunistic`.
    unverified_tls: TlsConnector,
    /// Transactions on one connection before it is closed (0: one connection per batch).
    transactions_per_connection: usize,
    /// BDAT when offered (`delivery.chunking`).
    chunking: bool,
    /// Connections waiting for the next batch.
    idle: Mutex<Vec<Idle>>,
}

/// An open connection between batches.
struct Idle {
    client: Client,
    ehlo: EhloResponse<String>,
    /// Transactions it carried so far.
    transactions: usize,
    since: Instant,
}

/// How long a connection may wait for the next batch; older ones are closed, not reused
/// (Postfix's `smtpd_timeout` is 300 s: a relay ends idle connections on its own).
pub const IDLE_LIMIT: Duration = Duration::from_secs(30);

impl Relay {
    pub fn new(config: &DeliveryConfig, helo: &str) -> Result<Relay, String> {
        let target = RelayTarget::parse(&config.relay, config.relay_tls)?;
        let credentials = match (&config.relay_username, &config.relay_password) {
            (Some(user), Some(password)) => Some(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            )),
            _ => None,
        };
        Ok(Relay {
            target,
            helo: helo.to_string(),
            credentials,
            connect_timeout: config.connect_timeout,
            command_timeout: config.command_timeout,
            verified_tls: mail_send::smtp::tls::build_tls_connector(
                config.relay_allow_invalid_certs,
            )?,
            unverified_tls: mail_send::smtp::tls::build_tls_connector(true)?,
            transactions_per_connection: config.relay_transactions_per_connection,
            chunking: config.chunking,
            idle: Mutex::new(Vec::new()),
        })
    }

    pub fn target(&self) -> &RelayTarget {
        &self.target
    }

    /// Sends each copy in its own transaction over one connection (a new one after a
    /// connection-level failure); one outcome per recipient of each copy, in order.
    pub async fn send(&self, copies: &[Copy], progress: &dyn Progress) -> Vec<Vec<RcptOutcome>> {
        let copies: Vec<&Copy> = copies.iter().collect();
        let mut results = Vec::with_capacity(copies.len());
        while results.len() < copies.len() {
            let (mut client, ehlo, transactions) = match self.reuse().await {
                Some(open) => open,
                None => match self.open().await {
                    Ok((client, ehlo)) => (client, ehlo, 0),
                    Err(outcome) => {
                        // The relay cannot be reached: the rest of the batch waits for a retry.
                        for rest in &copies[results.len()..] {
                            results.push(vec![outcome.clone(); rest.recipients.len()]);
                        }
                        break;
                    }
                },
            };
            let offset = results.len();
            let progress = Offset {
                inner: progress,
                offset,
            };
            let (done, usable) = send_copies(
                &mut client,
                &ehlo,
                self.chunking,
                &copies[offset..],
                &progress,
            )
            .await;
            let transactions = transactions + done.len();
            results.extend(done);
            if usable {
                self.keep(client, ehlo, transactions).await;
            }
        }
        results
    }

    /// A connection left by an earlier batch, checked with RSET; `None` when there is none
    /// fit for use.
    async fn reuse(&self) -> Option<(Client, EhloResponse<String>, usize)> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            if idle.since.elapsed() > IDLE_LIMIT {
                continue;
            }
            let mut client = idle.client;
            let (replies, error) = exchange(&mut client, b"RSET\r\n", 1).await;
            match replies.first() {
                Some(reply) if error.is_none() && reply.code / 100 == 2 => {
                    return Some((client, idle.ehlo, idle.transactions));
                }
                _ => {
                    tracing::debug!(relay = %self.target, "a kept relay connection failed RSET; opening a new one")
                }
            }
        }
    }

    /// Keeps a usable connection for the next batch, or ends it with QUIT once it carried
    /// `transactions_per_connection` transactions.
    async fn keep(&self, mut client: Client, ehlo: EhloResponse<String>, transactions: usize) {
        if transactions < self.transactions_per_connection {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < 64 {
                idle.push(Idle {
                    client,
                    ehlo,
                    transactions,
                    since: Instant::now(),
                });
                return;
            }
        }
        let _ = timeout(Duration::from_secs(5), client.cmd(b"QUIT\r\n")).await;
    }

    /// Connects, reads the greeting, says EHLO, secures and authenticates as configured.
    async fn open(&self) -> Result<(Client, EhloResponse<String>), RcptOutcome> {
        let stage = format!("relay {}", self.target);
        let fail = |what: &str, e: &mail_send::Error| from_error(&format!("{stage} {what}"), e);
        let tcp = timeout(
            self.connect_timeout,
            TcpStream::connect((self.target.host.as_str(), self.target.port)),
        )
        .await
        .map_err(|_| RcptOutcome::Temporary(format!("{stage}: connection timed out")))?
        .map_err(|e| RcptOutcome::Temporary(format!("{stage}: cannot connect: {e}")))?;
        let _ = tcp.set_nodelay(true);

        let (mut client, ehlo) = if self.target.tls == RelayTls::Tls {
            let tls = self.handshake(&self.verified_tls, tcp).await?;
            let mut client = buffered(tls, self.command_timeout);
            let ehlo = greet(&mut client, &self.helo)
                .await
                .map_err(|e| fail("greeting", &e))?;
            (client, ehlo)
        } else {
            let mut plain = SmtpClient {
                stream: tcp,
                timeout: self.command_timeout,
            };
            let ehlo = greet(&mut plain, &self.helo)
                .await
                .map_err(|e| fail("greeting", &e))?;
            let offers_tls = ehlo.has_capability(EXT_START_TLS);
            match (self.target.tls, offers_tls) {
                (RelayTls::Starttls, false) => {
                    return Err(RcptOutcome::Temporary(format!(
                        "{stage}: does not offer STARTTLS, which delivery.relay_tls = \"starttls\" requires"
                    )));
                }
                (RelayTls::Starttls, true) | (RelayTls::Opportunistic, true) => {
                    let reply = plain
                        .cmd(b"STARTTLS\r\n")
                        .await
                        .map_err(|e| fail("STARTTLS", &e))?;
                    if reply.code != 220 {
                        return Err(from_reply(&format!("{stage} STARTTLS"), &reply));
                    }
                    let connector = if self.target.tls == RelayTls::Starttls {
                        &self.verified_tls
                    } else {
                        &self.unverified_tls
                    };
                    let tls = self.handshake(connector, plain.stream).await?;
                    let mut client = buffered(tls, self.command_timeout);
                    let ehlo = client
                        .ehlo(&self.helo)
                        .await
                        .map_err(|e| fail("EHLO", &e))?;
                    (client, ehlo)
                }
                _ => {
                    let client = buffered(plain.stream, self.command_timeout);
                    (client, ehlo)
                }
            }
        };
        if let Some(credentials) = &self.credentials {
            client
                .authenticate(credentials, &ehlo)
                .await
                .map_err(|e| fail("AUTH", &e))?;
        }
        Ok((client, ehlo))
    }

    async fn handshake(
        &self,
        connector: &TlsConnector,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, RcptOutcome> {
        let stage = format!("relay {} TLS", self.target);
        let name =
            rustls_pki_types::ServerName::try_from(self.target.host.clone()).map_err(|_| {
                RcptOutcome::Temporary(format!("{stage}: {:?} is no TLS name", self.target.host))
            })?;
        timeout(self.command_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| RcptOutcome::Temporary(format!("{stage}: handshake timed out")))?
            .map_err(|e| {
                RcptOutcome::Temporary(format!(
                    "{stage}: {e} (for a self-signed relay set delivery.relay_allow_invalid_certs)"
                ))
            })
    }
}

/// Reads the 220 greeting and says EHLO.
pub(super) async fn greet<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    helo: &str,
) -> Result<EhloResponse<String>, mail_send::Error> {
    let greeting = timeout(client.timeout, client.read())
        .await
        .map_err(|_| mail_send::Error::Timeout)??;
    if greeting.code != 220 {
        return Err(mail_send::Error::UnexpectedReply(greeting));
    }
    client.ehlo(helo).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_parse_with_default_ports() {
        let t = RelayTarget::parse("smtp://mail.example.org", RelayTls::Opportunistic).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("mail.example.org", 25));
        let t = RelayTarget::parse("smtps://[::1]", RelayTls::None).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("::1", 465, RelayTls::Tls)
        );
        assert!(RelayTarget::parse("http://x", RelayTls::None).is_err());
        assert!(RelayTarget::parse("smtp://u:p@x:25", RelayTls::None).is_err());
    }
}
