//! Ingress: the SMTP server (and the same pipeline as LMTP, RFC 2033) that receives posts.
//!
//! Input: TCP connections. Output: posts stored in the queue, and a reply for every command.
//! Files follow the dialogue: [`session`] (the read loop and command dispatch), [`envelope`]
//! (MAIL FROM, RCPT TO), [`accept`] (end of data: policy, rewrite, store), [`reply`] (every reply
//! text), [`tls`] (STARTTLS). It is never an open relay: RCPT TO outside `server.domains` is `550 5.7.1`.

pub mod accept;
pub mod envelope;
pub mod reply;
pub mod session;
pub mod tls;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tokio_rustls::TlsAcceptor;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    clock::SharedClock, groups::Resolver, moderation::Moderation, posting::Posting, queue::Queue,
    store::Store,
};
use session::{Ended, Session};

/// What every session shares: settings (a snapshot taken at start) and handles.
pub struct Context {
    pub hostname: String,
    pub domains: Vec<String>,
    pub max_message_size: u64,
    pub max_recipients: usize,
    /// Each command line must arrive whole within this of the previous reply.
    pub idle_timeout: Duration,
    /// The whole message data of a transaction (DATA, or all BDAT chunks).
    pub data_timeout: Duration,
    /// The whole session.
    pub session_timeout: Duration,
    pub tls: Option<TlsAcceptor>,
    pub store: Store,
    pub resolver: Arc<Resolver>,
    /// DKIM/SPF/DMARC/ARC checks of arriving posts.
    pub verifier: Arc<crate::verify::Verifier>,
    pub posting: Arc<Posting>,
    /// Personal unsubscribe links (for `LIST-leave@` confirmations).
    pub links: crate::unsubscribe::Links,
    pub moderation: Arc<Moderation>,
    pub queue: Queue,
    pub clock: SharedClock,
    pub shutdown: CancellationToken,
}

/// Accepts connections on `listener` until shutdown. `sessions` caps SMTP and LMTP together;
/// `tracker` lets the caller wait for the sessions still running.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<Context>,
    lmtp: bool,
    sessions: Arc<Semaphore>,
    tracker: TaskTracker,
) {
    let shutdown = ctx.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match sessions.clone().try_acquire_owned() {
            Ok(permit) => {
                let ctx = ctx.clone();
                tracker.spawn(async move {
                    handle(ctx, stream, peer, lmtp).await;
                    drop(permit);
                });
            }
            Err(_) => {
                let host = ctx.hostname.clone();
                tracker.spawn(async move {
                    let mut stream = stream;
                    let mut out = Vec::new();
                    reply::too_many_sessions(&host).write(&mut out);
                    let _ = stream.write_all(&out).await;
                });
            }
        }
    }
}

async fn handle(ctx: Arc<Context>, mut stream: TcpStream, peer: SocketAddr, lmtp: bool) {
    let mut session = Session::new(ctx.clone(), peer, lmtp);
    let mut out = Vec::new();
    session.greeting().write(&mut out);
    if stream.write_all(&out).await.is_err() {
        return;
    }
    let ended = session.run(&mut stream).await;
    let Ok(Ended::StartTls) = ended else {
        if let Err(e) = ended {
            tracing::debug!(%peer, error = %e, "session ended with an I/O error");
        }
        return;
    };
    let Some(acceptor) = ctx.tls.clone() else {
        return;
    };
    match tokio::time::timeout(ctx.idle_timeout, acceptor.accept(stream)).await {
        Ok(Ok(mut tls)) => {
            session.restart_after_tls();
            if let Err(e) = session.run(&mut tls).await {
                tracing::debug!(%peer, error = %e, "TLS session ended with an I/O error");
            }
        }
        Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
    }
}
