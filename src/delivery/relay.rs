//! The relay transport: every copy goes to one smarthost over SMTP (mail-send underneath).
//!
//! One connection per batch: greeting, EHLO, STARTTLS (per `delivery.relay_tls`), AUTH when
//! configured, then for each copy of the batch one transaction: MAIL FROM and every RCPT TO
//! pipelined when the relay offers PIPELINING, so a transaction costs one round trip instead of
//! one per recipient, then DATA. Each RCPT reply is kept, so one refused recipient fails alone
//! while the rest of the batch is delivered. Personalised copies (one per recipient) share the
//! connection; after a connection-level failure the next copy opens a new one.

use std::{fmt, time::Duration};

use mail_send::{Credentials, SmtpClient};
use smtp_proto::{
    EXT_8BIT_MIME, EXT_PIPELINING, EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse, Response,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, BufStream},
    net::TcpStream,
    time::timeout,
};
use tokio_rustls::TlsConnector;

use super::{
    Copy,
    outcome::{RcptOutcome, from_error, from_reply},
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
}

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
        })
    }

    pub fn target(&self) -> &RelayTarget {
        &self.target
    }

    /// Sends each copy in its own transaction over one connection (a new one after a
    /// connection-level failure); one outcome per recipient of each copy, in order.
    pub async fn send(&self, copies: &[Copy]) -> Vec<Vec<RcptOutcome>> {
        let mut results = Vec::with_capacity(copies.len());
        let mut open: Option<(Client, EhloResponse<String>)> = None;
        for (i, copy) in copies.iter().enumerate() {
            let (client, ehlo) = match open.take() {
                Some(o) => o,
                None => match self.open().await {
                    Ok(o) => o,
                    Err(outcome) => {
                        // The relay cannot be reached: the rest of the batch waits for a retry.
                        for rest in &copies[i..] {
                            results.push(vec![outcome.clone(); rest.recipients.len()]);
                        }
                        return results;
                    }
                },
            };
            let mut client = client;
            let (outcomes, usable) = transaction(
                &mut client,
                &ehlo,
                &copy.envelope_from,
                &copy.recipients,
                &copy.message,
            )
            .await;
            results.push(outcomes);
            if usable {
                open = Some((client, ehlo));
            }
        }
        if let Some((mut client, _)) = open {
            let _ = timeout(Duration::from_secs(5), client.cmd(b"QUIT\r\n")).await;
        }
        results
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
            let mut client: Client = SmtpClient {
                stream: Box::new(BufStream::new(tls)),
                timeout: self.command_timeout,
            };
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
                    let mut client: Client = SmtpClient {
                        stream: Box::new(BufStream::new(tls)),
                        timeout: self.command_timeout,
                    };
                    let ehlo = client
                        .ehlo(&self.helo)
                        .await
                        .map_err(|e| fail("EHLO", &e))?;
                    (client, ehlo)
                }
                _ => {
                    let client: Client = SmtpClient {
                        stream: Box::new(BufStream::new(plain.stream)),
                        timeout: self.command_timeout,
                    };
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

/// MAIL, RCPT…, DATA on an open connection. The flag says whether the connection can carry
/// another transaction (false after an I/O error, a timeout or a reply out of step).
pub(super) async fn transaction(
    client: &mut Client,
    ehlo: &EhloResponse<String>,
    from: &str,
    recipients: &[String],
    message: &[u8],
) -> (Vec<RcptOutcome>, bool) {
    let mut params = String::new();
    if ehlo.has_capability(EXT_8BIT_MIME) && !message.is_ascii() {
        params.push_str(" BODY=8BITMIME");
    }
    if ehlo.has_capability(EXT_SMTP_UTF8)
        && (!from.is_ascii() || recipients.iter().any(|r| !r.is_ascii()))
    {
        params.push_str(" SMTPUTF8");
    }
    let mut commands = Vec::with_capacity(recipients.len() + 1);
    commands.push(format!("MAIL FROM:<{from}>{params}\r\n"));
    commands.extend(recipients.iter().map(|r| format!("RCPT TO:<{r}>\r\n")));

    let replies = if ehlo.has_capability(EXT_PIPELINING) {
        client.cmds(&commands).await
    } else {
        one_by_one(client, &commands).await
    };
    let replies = match replies {
        Ok(replies) => replies,
        Err(e) => return (vec![from_error("MAIL/RCPT", &e); recipients.len()], false),
    };
    let Some(mail_reply) = replies.first() else {
        let outcome = RcptOutcome::Temporary("MAIL FROM: no reply".into());
        return (vec![outcome; recipients.len()], false);
    };
    if mail_reply.code / 100 != 2 {
        let usable = client.cmd(b"RSET\r\n").await.is_ok();
        return (
            vec![from_reply("MAIL FROM", mail_reply); recipients.len()],
            usable,
        );
    }

    let mut outcomes: Vec<Option<RcptOutcome>> = recipients
        .iter()
        .enumerate()
        .map(|(i, _)| match replies.get(i + 1) {
            Some(r) if r.code / 100 == 2 => None,
            Some(r) => Some(from_reply("RCPT TO", r)),
            None => Some(RcptOutcome::Temporary("RCPT TO: no reply".into())),
        })
        .collect();
    let mut usable = true;
    if outcomes.iter().all(Option::is_some) {
        usable = client.cmd(b"RSET\r\n").await.is_ok();
    } else {
        // mail-send always writes CRLF.CRLF after the data; a message that already ends in CRLF
        // would otherwise gain an empty line (and break a c=simple DKIM body hash).
        let message = message.strip_suffix(b"\r\n").unwrap_or(message);
        let data_outcome = match client.data(message).await {
            Ok(()) => RcptOutcome::Delivered,
            Err(e) => {
                // A refused message leaves the connection in step; anything else does not.
                usable = matches!(e, mail_send::Error::UnexpectedReply(_));
                from_error("DATA", &e)
            }
        };
        for o in outcomes.iter_mut().filter(|o| o.is_none()) {
            *o = Some(data_outcome.clone());
        }
    }
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.unwrap_or(RcptOutcome::Delivered))
        .collect();
    (outcomes, usable)
}

/// Without PIPELINING: one command, one reply; stops after a refused MAIL FROM.
async fn one_by_one(
    client: &mut Client,
    commands: &[String],
) -> Result<Vec<Response<String>>, mail_send::Error> {
    let mut replies = Vec::with_capacity(commands.len());
    for command in commands {
        let reply = client.cmd(command.as_bytes()).await?;
        let stop = replies.is_empty() && reply.code / 100 != 2;
        replies.push(reply);
        if stop {
            break;
        }
    }
    Ok(replies)
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
