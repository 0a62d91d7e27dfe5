//! The running server: listeners bound, stages wired, one shutdown for all.
//!
//! [`App::build`] does everything that can fail at start-up (database, migrations, TLS files,
//! relay settings, binding ports) so `serve` fails fast with a clear message; [`App::run_until`]
//! serves until the given future completes, then drains: listeners stop, SMTP transactions in
//! progress finish, delivery batches in flight are recorded, all within `server.shutdown_grace`.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use mail_auth::MessageAuthenticator;
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    arc::ArcSealers,
    clock::{SharedClock, SystemClock},
    config::{Config, TransportKind},
    delivery::{Direct, Relay, Transport},
    dmarc::DmarcPolicies,
    http,
    ingress::{self, Context},
    moderation::Moderation,
    notices::SystemSender,
    posting::Posting,
    queue::{
        Queue,
        manager::{ManagerSettings, QueueManager},
        schedule::RetrySchedule,
    },
    signin::{self, Signin},
    signing::Signers,
    store::{Store, StoreError},
    tokens::Signer,
    unsubscribe::Links,
    verify::Verifier,
};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
}

pub struct App {
    config: Config,
    store: Store,
    clock: SharedClock,
    smtp: Vec<TcpListener>,
    lmtp: Vec<TcpListener>,
    socketmap: Vec<TcpListener>,
    http: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    transport: Transport,
    dmarc: Arc<DmarcPolicies>,
    verifier: Arc<Verifier>,
    arc: ArcSealers,
    signers: Signers,
    /// Signs links in mail (made on first start, kept in the database).
    link_signer: Signer,
    /// Tags VERP addresses (likewise).
    verp_key: Vec<u8>,
    /// Until when unsubscribe links of the old readable form work.
    readable_links_until: i64,
}

/// What signs links in mail: the current key, and keys retired by `circlemail secret rotate`
/// within `http.link_key_grace` (their links keep working).
pub async fn link_signer(
    store: &Store,
    config: &Config,
    now: i64,
) -> Result<Signer, crate::store::StoreError> {
    let key = store.secret("links", now).await?;
    let since = now - config.http.link_key_grace.as_millis() as i64;
    let previous = store.retired_secrets("links", since).await?;
    Ok(Signer::new(key).with_previous(previous))
}

/// What checks and seals mail with mail-auth: DMARC policies of authors' domains (From:
/// rewriting), inbound checks, ARC sealers; they share the DNS resolver `authenticator`.
pub fn authentication(
    config: &Config,
    authenticator: Arc<MessageAuthenticator>,
) -> Result<(Arc<DmarcPolicies>, Arc<Verifier>, ArcSealers), String> {
    let dmarc = Arc::new(DmarcPolicies::new(authenticator.clone()));
    let verifier = Arc::new(Verifier::new(
        authenticator,
        &config.server.hostname,
        config.smtp.authentication_checks,
        config.smtp.authentication_timeout,
    ));
    let arc = ArcSealers::load(&config.dkim.keys, verifier.clone())?;
    Ok((dmarc, verifier, arc))
}

/// The DNS resolver (mail-auth over hickory, with the `[dns]` name servers) that every lookup
/// uses: authentication checks, DMARC policies, MX hosts.
pub fn resolver(config: &Config) -> Result<Arc<MessageAuthenticator>, String> {
    crate::dmarc::authenticator_with(
        &config.dns.nameservers,
        config.dns.timeout,
        config.dns.attempts,
    )
    .map(Arc::new)
    .map_err(|e| format!("dns.nameservers: {e}"))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, AppError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Bind { addr, source })
}

impl App {
    pub async fn build(config: Config) -> Result<App, AppError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: SharedClock) -> Result<App, AppError> {
        let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
        let tls = match (&config.smtp.tls_certificate, &config.smtp.tls_key) {
            (Some(cert), Some(key)) => {
                Some(ingress::tls::acceptor(cert, key).map_err(AppError::Setup)?)
            }
            _ => None,
        };
        let resolver = resolver(&config).map_err(AppError::Setup)?;
        let transport = match config.delivery.transport {
            TransportKind::Relay => Transport::Relay(
                Relay::new(&config.delivery, &config.server.hostname)
                    .map_err(|e| AppError::Setup(format!("delivery.relay: {e}")))?,
            ),
            TransportKind::Direct => Transport::Direct(Box::new(
                Direct::new(&config.delivery, &config.server.hostname, resolver.clone())
                    .map_err(|e| AppError::Setup(format!("delivery.transport: {e}")))?,
            )),
        };
        let store = Store::connect(
            config.database.url.expose(),
            config.database.max_connections,
        )
        .await?;
        store.migrate().await?;
        let link_signer = link_signer(&store, &config, clock.now_ms()).await?;
        // Unsubscribe links name nobody since this version; the readable ones mailed before
        // keep working for link_key_grace after the first start of it.
        let opaque_since = store
            .secret_made_at("links.opaque-since", clock.now_ms())
            .await?;
        let readable_links_until =
            opaque_since.saturating_add(config.http.link_key_grace.as_millis() as i64);
        let verp_key = store.secret("verp", clock.now_ms()).await?;
        let signers = Signers::load(&config.dkim.keys).map_err(AppError::Setup)?;
        let (dmarc, verifier, arc) = authentication(&config, resolver).map_err(AppError::Setup)?;
        let mut smtp = Vec::new();
        for addr in &config.smtp.listen {
            smtp.push(bind(*addr).await?);
        }
        let mut lmtp = Vec::new();
        for addr in &config.lmtp.listen {
            lmtp.push(bind(*addr).await?);
        }
        let mut socketmap = Vec::new();
        for addr in &config.socketmap.listen {
            socketmap.push(bind(*addr).await?);
        }
        let http = bind(config.http.listen).await?;
        Ok(App {
            config,
            store,
            clock,
            smtp,
            lmtp,
            socketmap,
            http,
            tls,
            transport,
            dmarc,
            verifier,
            arc,
            signers,
            link_signer,
            verp_key,
            readable_links_until,
        })
    }

    /// The bound SMTP addresses (the real ports when the config said port 0).
    pub fn smtp_addrs(&self) -> Vec<SocketAddr> {
        self.smtp
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    pub fn lmtp_addrs(&self) -> Vec<SocketAddr> {
        self.lmtp
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The bound socketmap addresses (Postfix lookups).
    pub fn socketmap_addrs(&self) -> Vec<SocketAddr> {
        self.socketmap
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.local_addr().ok()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `shutdown` completes, then drains within `server.shutdown_grace`.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), AppError> {
        let App {
            config,
            store,
            clock,
            smtp,
            lmtp,
            socketmap,
            http,
            tls,
            transport,
            dmarc,
            verifier,
            arc,
            signers,
            link_signer,
            verp_key,
            readable_links_until,
        } = self;
        let lookup_transport = config.socketmap.transport.clone().unwrap_or_else(|| {
            crate::socketmap::default_transport(
                lmtp.first().and_then(|l| l.local_addr().ok()),
                smtp.first().and_then(|l| l.local_addr().ok()),
            )
        });
        let token = CancellationToken::new();
        let queue = Queue::new(store.clone());
        let resolver = Arc::new(crate::groups::Resolver::new(store.clone(), clock.clone()));
        let resolver_for_digests = resolver.clone();
        let domains: Vec<String> = config
            .server
            .domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        let links = Links::new(link_signer.clone(), &config.http.public_url)
            .accepting_readable_until(readable_links_until);
        let posting = Arc::new(Posting {
            store: store.clone(),
            links: Some(links.clone()),
            arc: Some(arc),
            dmarc,
            resolver: resolver.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            hostname: config.server.hostname.clone(),
        });
        let unsubscribe = http::pages::unsubscribe::UnsubscribeState {
            posting: posting.clone(),
            store: store.clone(),
            clock: clock.clone(),
            links: links.clone(),
        };
        let moderation = Arc::new(Moderation {
            posting: posting.clone(),
            signer: link_signer.clone(),
            public_url: config.http.public_url.clone(),
        });
        let api = http::api::ApiState {
            store: store.clone(),
            resolver: resolver.clone(),
            moderation: moderation.clone(),
            clock: clock.clone(),
            token: config.http.api_token.clone(),
            max_member_data_admins: config.accounts.max_member_data_admins,
            domains: domains.clone(),
            queue_wake: queue.wake_handle(),
            max_mbox_upload: config.http.max_mbox_upload,
        };
        let ctx = Arc::new(Context {
            hostname: config.server.hostname.clone(),
            domains,
            max_message_size: config.smtp.max_message_size,
            max_recipients: config.smtp.max_recipients,
            idle_timeout: config.smtp.idle_timeout,
            data_timeout: config.smtp.data_timeout,
            session_timeout: config.smtp.session_timeout,
            tls,
            store: store.clone(),
            resolver,
            verifier,
            posting,
            links: links.clone(),
            moderation: moderation.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            shutdown: token.clone(),
        });
        let sessions = Arc::new(Semaphore::new(config.smtp.max_sessions));
        let session_tracker = TaskTracker::new();
        let tasks = TaskTracker::new();
        for (listener, lmtp) in smtp
            .into_iter()
            .map(|l| (l, false))
            .chain(lmtp.into_iter().map(|l| (l, true)))
        {
            tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                protocol = if lmtp { "LMTP" } else { "SMTP" }, "listening");
            tasks.spawn(ingress::serve(
                listener,
                ctx.clone(),
                lmtp,
                sessions.clone(),
                session_tracker.clone(),
            ));
        }
        let maps = Arc::new(crate::socketmap::Maps {
            store: store.clone(),
            domains: ctx.domains.clone(),
            transport: lookup_transport,
        });
        for listener in socketmap {
            tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                transport = %maps.transport, "socketmap listening");
            tasks.spawn(crate::socketmap::serve(
                listener,
                maps.clone(),
                token.clone(),
                session_tracker.clone(),
            ));
        }
        let verp = crate::bounce::verp::Verp::new(verp_key);
        let manager = QueueManager::new(
            &queue,
            store.clone(),
            clock.clone(),
            transport,
            signers,
            manager_settings(&config, verp.clone()),
        )
        .with_links(links);
        tasks.spawn(manager.run(token.clone()));
        tasks.spawn(expire_held_posts(moderation, token.clone()));
        tasks.spawn(expire_retained_facts(
            store.clone(),
            clock.clone(),
            config.gdpr.expiry_interval,
            token.clone(),
        ));
        let bounces = crate::bounce::BounceProcessor {
            store: store.clone(),
            clock: clock.clone(),
            verp,
            scoring: crate::bounce::score::Scoring::from_config(&config.bounces),
            poll_interval: config.delivery.poll_interval.max(Duration::from_millis(10)),
        };
        tasks.spawn(bounces.run(token.clone()));
        let digests = crate::digest::run::Digests {
            store: store.clone(),
            resolver: resolver_for_digests,
            clock: clock.clone(),
            queue: queue.clone(),
            hostname: config.server.hostname.clone(),
            poll: (config.delivery.poll_interval * 20)
                .clamp(Duration::from_millis(200), Duration::from_secs(60)),
        };
        tasks.spawn(digests.run(token.clone()));
        let signin = signin(&config, &store, &queue, &clock);
        tasks.spawn(prune_signin(signin.clone(), token.clone()));
        let web = http::web_state(&config, signin, api.clone(), link_signer);
        let http_token = token.clone();
        tracing::info!(addr = %http.local_addr().map(|a| a.to_string()).unwrap_or_default(), "HTTP listening");
        tasks.spawn(async move {
            let router = http::router(store.clone(), api, unsubscribe, web);
            let served = axum::serve(
                http,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { http_token.cancelled().await })
            .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });

        shutdown.await;
        tracing::info!(grace = %humantime::format_duration(config.server.shutdown_grace), "shutting down");
        token.cancel();
        tasks.close();
        session_tracker.close();
        let drained = tokio::time::timeout(config.server.shutdown_grace, async {
            tasks.wait().await;
            session_tracker.wait().await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "shutdown grace period over; leaving work in progress to the next start"
            );
        }
        ctx.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The sign-in by mail link (`[web]`), mailing through `queue`.
pub fn signin(config: &Config, store: &Store, queue: &Queue, clock: &SharedClock) -> Signin {
    if plain_http_in_the_open(&config.http.public_url) {
        tracing::warn!(
            public_url = %config.http.public_url,
            "http.public_url is plain http: sign-in links and session cookies cross the network \
             readable; serve the web pages over https (a reverse proxy with TLS) and set an \
             https:// public_url"
        );
    }
    let sender = SystemSender {
        name: config.web.site_name.clone(),
        address: config.web.sender(&config.server.domains),
        hostname: config.server.hostname.clone(),
    };
    Signin::new(
        store.clone(),
        queue.clone(),
        clock.clone(),
        signin::Settings::from(&config.web),
        sender,
        &config.http.public_url,
    )
}

/// Every hour: sign-in requests, links and sessions that no longer matter are forgotten.
async fn prune_signin(signin: Signin, shutdown: CancellationToken) {
    loop {
        if let Err(e) = signin.prune().await {
            tracing::error!(error = %e, "cannot prune sign-in records");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Once a minute: held posts past their time expire, with a notice to each author.
async fn expire_held_posts(moderation: Arc<Moderation>, shutdown: CancellationToken) {
    loop {
        if let Err(e) = moderation.expire_due().await {
            tracing::error!(error = %e, "cannot expire held posts");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Every `gdpr.expiry_interval`: facts kept by a retention rule whose time is over are removed.
async fn expire_retained_facts(
    store: Store,
    clock: SharedClock,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        match store.expire_retained(clock.now_ms()).await {
            Ok((0, 0)) => {}
            Ok((memberships, people)) => {
                tracing::info!(memberships, people, "retained facts expired and removed");
                let entry = crate::store::accounts::AuditEntry {
                    at: clock.now_ms(),
                    actor: "system (retention expiry)".into(),
                    action: "expire retained facts".into(),
                    after: Some(
                        serde_json::json!({ "memberships": memberships, "people": people }),
                    ),
                    ..Default::default()
                };
                if let Err(e) = store.append_audit(&entry).await {
                    tracing::error!(error = %e, "cannot write the audit log");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot expire retained facts"),
        }
        // Archived posts older than their list's archive_keep_years.
        match store.archive_expire(clock.now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                messages = n,
                "archived posts past their keeping time removed"
            ),
            Err(e) => tracing::error!(error = %e, "cannot expire archived posts"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

fn manager_settings(config: &Config, verp_key: crate::bounce::verp::Verp) -> ManagerSettings {
    let d = &config.delivery;
    ManagerSettings {
        workers: d.workers,
        batch_size: d.max_recipients_per_transaction,
        lease: d.lease,
        poll_interval: d.poll_interval.max(Duration::from_millis(10)),
        schedule: RetrySchedule {
            initial: d.retry_initial,
            max_interval: d.retry_max_interval,
            max_age: d.max_age,
        },
        verp: d.verp,
        verp_key,
        scoring: crate::bounce::score::Scoring::from_config(&config.bounces),
    }
}

/// Whether `public_url` is plain http to a host other than this machine.
fn plain_http_in_the_open(public_url: &str) -> bool {
    match url::Url::parse(public_url) {
        Ok(u) if u.scheme() == "http" => match u.host() {
            Some(url::Host::Domain(d)) => d != "localhost" && !d.ends_with(".localhost"),
            Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod plain_http_tests {
    use super::plain_http_in_the_open;

    #[test]
    fn plain_http_is_only_fine_on_this_machine() {
        assert!(plain_http_in_the_open("http://lists.example.org"));
        assert!(plain_http_in_the_open("http://192.0.2.7:8080/"));
        assert!(!plain_http_in_the_open("https://lists.example.org"));
        assert!(!plain_http_in_the_open("http://localhost:8080"));
        assert!(!plain_http_in_the_open("http://127.0.0.1:8080"));
        assert!(!plain_http_in_the_open("http://[::1]:8080"));
    }
}
