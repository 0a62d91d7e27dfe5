//! Postfix's socketmap lookups (`socketmap_table(5)`), so that a Postfix in front of circlemail
//! refuses mail for addresses that are no list in the SMTP dialogue (5xx at RCPT), instead of
//! accepting it and bouncing it later (backscatter), with no map files to regenerate: every
//! lookup asks the store, so a list created or renamed is known at once.
//!
//! Protocol: one request per netstring, `NAME KEY`; one reply per request, `OK DATA`,
//! `NOTFOUND `, `TEMP REASON` or `PERM REASON`. Maps (for main.cf, see docs/postfix.md):
//!
//! | map | key | answer |
//! |---|---|---|
//! | `domains` (`relay_domains`) | a domain | `OK DOMAIN` for a domain in `server.domains` |
//! | `recipients` (`relay_recipient_maps`) | `local@domain` | `OK ROUTE` for every address ingress takes: a list, its `-bounces` (and `-bounces+VERP`), `-owner`, `-leave`, `-join` addresses; `NOTFOUND` for the rest and for a deactivated list |
//! | `transport` (`transport_maps`) | an address or domain | `OK lmtp:inet:HOST:PORT` (our LMTP listener, or `socketmap.transport`) for our domains and their addresses |
//!
//! The routing is `groups::route`, the same function SMTP and LMTP ingress call at RCPT.

pub mod netstring;

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    groups::{self, Route},
    model::address::EmailAddress,
    store::Store,
};

/// The longest request taken (`NAME KEY`; an address is at most 254 bytes).
pub const MAX_REQUEST: usize = 1024;
/// Connections served at once; Postfix keeps one per process that looks up.
const MAX_CONNECTIONS: usize = 100;
/// A connection with no request for this long is closed (Postfix reconnects when it needs to).
const IDLE: Duration = Duration::from_secs(300);

/// What a lookup answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ok(String),
    NotFound,
    /// Try again later (the store did not answer).
    Temp(String),
    /// The request itself is wrong (an unknown map).
    Perm(String),
}

impl Answer {
    /// The reply text, before netstring framing.
    pub fn wire(&self) -> String {
        match self {
            Answer::Ok(data) => format!("OK {data}"),
            Answer::NotFound => "NOTFOUND ".into(),
            Answer::Temp(why) => format!("TEMP {why}"),
            Answer::Perm(why) => format!("PERM {why}"),
        }
    }
}

/// The maps, over the store.
pub struct Maps {
    pub store: Store,
    /// `server.domains`, lower-cased.
    pub domains: Vec<String>,
    /// The `transport` answer: `lmtp:inet:127.0.0.1:2424`.
    pub transport: String,
}

impl Maps {
    pub async fn lookup(&self, name: &str, key: &str) -> Answer {
        match name {
            "domains" => match self.ours(key) {
                true => Answer::Ok(key.to_ascii_lowercase()),
                false => Answer::NotFound,
            },
            "recipients" => self.recipient(key).await,
            "transport" => {
                let domain = key.rsplit_once('@').map_or(key, |(_, d)| d);
                match self.ours(domain) {
                    true => Answer::Ok(self.transport.clone()),
                    false => Answer::NotFound,
                }
            }
            other => Answer::Perm(format!(
                "no map called {:?}; maps: domains, recipients, transport",
                other.chars().take(40).collect::<String>()
            )),
        }
    }

    fn ours(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    async fn recipient(&self, key: &str) -> Answer {
        // Postfix also asks for `@domain` and a bare local part: never a list address.
        let Ok(address) = EmailAddress::parse(key) else {
            return Answer::NotFound;
        };
        if !self.ours(address.domain()) {
            return Answer::NotFound;
        }
        match groups::route(&self.store, &address).await {
            Ok(Some(Route::Post(group))) if !group.active => Answer::NotFound,
            Ok(Some(route)) => Answer::Ok(kind(&route).into()),
            Ok(None) => Answer::NotFound,
            Err(e) => {
                tracing::error!(error = %e, "socketmap: cannot look up a recipient");
                Answer::Temp("cannot reach the database".into())
            }
        }
    }
}

/// The word a `recipients` lookup answers with (Postfix only needs "found").
fn kind(route: &Route) -> &'static str {
    match route {
        Route::Post(_) => "list",
        Route::Bounce(..) => "bounces",
        Route::Owner(_) => "owner",
        Route::Leave(_) => "leave",
        Route::Join(_) => "join",
    }
}

/// Accepts lookup connections on `listener` until shutdown.
pub async fn serve(
    listener: TcpListener,
    maps: Arc<Maps>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "socketmap: cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "socketmap: too many connections; closing this one");
            continue;
        };
        let maps = maps.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            if let Err(e) = connection(stream, &maps, &shutdown).await {
                tracing::debug!(%peer, error = %e, "socketmap connection ended");
            }
            drop(permit);
        });
    }
}

async fn connection(
    mut stream: TcpStream,
    maps: &Maps,
    shutdown: &CancellationToken,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    loop {
        // Answer every whole request already read.
        let mut out = Vec::new();
        loop {
            match netstring::decode(&buf, MAX_REQUEST) {
                Ok(Some((request, used))) => {
                    let answer = answer(maps, request).await;
                    netstring::encode(answer.wire().as_bytes(), &mut out);
                    buf.drain(..used);
                }
                Ok(None) => break,
                Err(e) => {
                    // The framing is lost: say why and close, as Postfix's own servers do.
                    netstring::encode(format!("PERM {e}").as_bytes(), &mut out);
                    stream.write_all(&out).await?;
                    return Ok(());
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
        }
        let n = tokio::select! {
            r = tokio::time::timeout(IDLE, stream.read(&mut chunk)) => match r {
                Ok(r) => r?,
                Err(_) => return Ok(()),
            },
            _ = shutdown.cancelled() => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn answer(maps: &Maps, request: &[u8]) -> Answer {
    let Ok(text) = std::str::from_utf8(request) else {
        return Answer::NotFound;
    };
    let Some((name, key)) = text.split_once(' ') else {
        return Answer::Perm("expected \"NAME KEY\"".into());
    };
    let answer = maps.lookup(name, key).await;
    tracing::debug!(map = name, key, answer = %answer.wire(), "socketmap lookup");
    answer
}

/// The `transport` answer for a Postfix in front: our first LMTP listener, or else our first
/// SMTP listener (`smtp:[HOST]:PORT`).
pub fn default_transport(
    lmtp: Option<std::net::SocketAddr>,
    smtp: Option<std::net::SocketAddr>,
) -> String {
    match (lmtp, smtp) {
        (Some(a), _) => format!("lmtp:inet:{}:{}", bracket(a.ip()), a.port()),
        (None, Some(a)) => format!("smtp:[{}]:{}", a.ip(), a.port()),
        (None, None) => "lmtp:inet:127.0.0.1:2424".into(),
    }
}

fn bracket(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    }
}
