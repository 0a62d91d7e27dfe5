//! The real server, in-process, on ephemeral ports, delivering to a [`Sink`].

use std::{net::SocketAddr, sync::Arc, time::Duration};

use circlemail::{
    app::App,
    clock::SystemClock,
    config::{Config, RelayTls, Secret},
    model::address::EmailAddress,
    store::{Store, deliveries::DeliveryRow},
};
use tokio::{sync::oneshot, task::JoinHandle};

use super::{db::TestDb, sink::Sink};

pub const DOMAIN: &str = "lists.test";

/// A configuration for tests: loopback, port 0, fast retries, delivery to `sink`.
pub fn test_config(db_url: &str, relay: SocketAddr) -> Config {
    let mut c = Config::default();
    c.server.hostname = "circlemail.test".into();
    c.server.domains = vec![DOMAIN.into()];
    c.server.shutdown_grace = Duration::from_secs(5);
    c.smtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.smtp.max_message_size = 64 * 1024;
    c.smtp.idle_timeout = Duration::from_secs(30);
    c.http.listen = "127.0.0.1:0".parse().unwrap();
    c.database.url = Secret::new(db_url);
    c.database.max_connections = 4;
    c.delivery.relay = format!("smtp://{relay}");
    c.delivery.relay_tls = RelayTls::None;
    c.delivery.retry_initial = Duration::from_millis(200);
    c.delivery.retry_max_interval = Duration::from_millis(400);
    c.delivery.poll_interval = Duration::from_millis(50);
    c.delivery.connect_timeout = Duration::from_secs(5);
    c.delivery.command_timeout = Duration::from_secs(5);
    c.delivery.lease = Duration::from_secs(5);
    c.dns.nameservers = vec![super::dns::server()];
    c
}

/// [`test_config`] with the HTTP listener on a port chosen now, and `http.public_url` pointing
/// at it, so links in mail (sign-in, unsubscribe) lead to this test's server.
pub fn web_config(db_url: &str, relay: SocketAddr) -> Config {
    let mut c = test_config(db_url, relay);
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = http.local_addr().unwrap();
    drop(http);
    c.http.listen = addr;
    c.http.public_url = format!("http://{addr}");
    c
}

pub struct TestApp {
    pub smtp: SocketAddr,
    pub lmtp: Option<SocketAddr>,
    pub socketmap: Option<SocketAddr>,
    pub http: SocketAddr,
    pub store: Store,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl TestApp {
    pub async fn spawn(config: Config) -> TestApp {
        Self::spawn_with_clock(config, Arc::new(SystemClock)).await
    }

    /// The server with a clock the test sets (terms, retention, expiry).
    pub async fn spawn_with_clock(
        config: Config,
        clock: circlemail::clock::SharedClock,
    ) -> TestApp {
        // A web test's port was chosen free and let go (its public URL must name it before
        // the server binds it); something else may take it meanwhile: then choose again.
        let mut config = config;
        let mut tries = 0;
        let app = loop {
            match App::build_with_clock(config.clone(), clock.clone()).await {
                Err(e)
                    if tries < 5
                        && format!("{e:?}").contains("AddrInUse")
                        && config.http.public_url == format!("http://{}", config.http.listen) =>
                {
                    tries += 1;
                    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                    config.http.listen = free.local_addr().unwrap();
                    config.http.public_url = format!("http://{}", config.http.listen);
                }
                built => break built.expect("app builds"),
            }
        };
        let smtp = app.smtp_addrs()[0];
        let lmtp = app.lmtp_addrs().first().copied();
        let socketmap = app.socketmap_addrs().first().copied();
        let http = app.http_addr().unwrap();
        let store = app.store().clone();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            app.run_until(async {
                let _ = rx.await;
            })
            .await
            .expect("app runs");
        });
        TestApp {
            smtp,
            lmtp,
            socketmap,
            http,
            store,
            stop: Some(tx),
            task,
        }
    }

    /// Starts the server on `db`, delivering to `sink`.
    pub async fn start(db: &TestDb, sink: &Sink) -> TestApp {
        Self::spawn(test_config(&db.url, sink.addr)).await
    }

    /// Creates a group `local@lists.test` with these members.
    pub async fn group(&self, name: &str, local: &str, members: &[&str]) -> String {
        seed_group(&self.store, name, local, members).await
    }

    /// Sets the list settings (JSON) of the group called `name`.
    pub async fn settings(&self, name: &str, json: &str) {
        let g = self.store.find_group(name).await.unwrap().unwrap();
        self.store.set_settings(g.id, json).await.unwrap();
    }

    /// The delivery rows of a post once every one satisfies `done`, or as they are after 5 s
    /// (the caller's assertions then show them).
    pub async fn deliveries_when(
        &self,
        queue_id: &str,
        done: impl Fn(&DeliveryRow) -> bool,
    ) -> Vec<DeliveryRow> {
        let mut rows = Vec::new();
        for _ in 0..100 {
            rows = self.store.deliveries_of(queue_id).await.unwrap();
            if rows.iter().all(&done) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        rows
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }
}

/// The queue id in a `250 2.0.0 Queued as ID` reply.
pub fn queue_id(reply: &str) -> String {
    reply
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Creates a group `local@lists.test` with these members, straight in the store.
pub async fn seed_group(store: &Store, name: &str, local: &str, members: &[&str]) -> String {
    let now = chrono_now();
    let address = format!("{local}@{DOMAIN}");
    let group = store
        .create_group(name, Some(&EmailAddress::parse(&address).unwrap()), now)
        .await
        .expect("create group");
    for m in members {
        let person = store
            .upsert_person(&EmailAddress::parse(m).unwrap(), None, now)
            .await
            .unwrap();
        store.add_member(group.id, person.id, now).await.unwrap();
    }
    address
}

pub fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A small RFC 5322 message (no final CRLF: [`super::smtp::Client::post`] adds the terminator).
pub fn message(from: &str, to: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@client.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n{body}",
        rand::random::<u32>()
    )
}
