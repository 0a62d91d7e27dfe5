//! Ingress: durable posts per second through the real server (SQLite, `synchronous = FULL`: each
//! `250` is on disk), from concurrent SMTP sessions sending a DKIM-signed post to a list, with
//! inbound checks off, on against a local DNS server that answers every query (the test DNS
//! server, TTL 0: every post looks everything up), and on with a relay in front of it that
//! loses every other query. Delivery runs meanwhile, to Postfix's smtp-sink; how far it got by
//! the time the last post was stored is printed beside each rate.
//!
//! Every post is a message of its own (its own Message-ID, so each is archived and threaded),
//! DKIM-signed before the clock starts: the client's signing is not measured. The client sets
//! TCP_NODELAY, as Postfix does when its buffers are smaller than the MSS: without it, the
//! `.` ending each post waits for the server's delayed ACK (40 ms), which alone held 16
//! sessions to about 340 posts/s.
//!
//!     cargo bench --bench ingress                  # 4000 posts, 16 sessions per run
//!     cargo bench --bench ingress -- 1000 32       # posts, sessions

#[path = "../tests/it/support/dns.rs"]
#[allow(dead_code)]
mod dns;

use std::{
    net::{SocketAddr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use circlemail::{
    app::App,
    config::{Config, RelayTls, Secret},
    model::address::EmailAddress,
    signing::keys,
    store::Store,
};
use mail_auth::{common::headers::HeaderWriter, dkim::DkimSigner};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let posts = args.first().copied().unwrap_or(4000);
    let sessions = args.get(1).copied().unwrap_or(16);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sink = SmtpSink::start();
    let signer = signer();
    let lossy = lossy_relay();
    println!(
        "{posts} posts per run from {sessions} concurrent SMTP sessions (2 shared cores, ±2× between days)"
    );
    let mut rates = Vec::new();
    for (run, (label, checks, nameserver, n)) in [
        ("inbound checks off", false, dns::server(), posts),
        (
            "inbound checks on, DNS answers every query",
            true,
            dns::server(),
            posts,
        ),
        (
            "inbound checks on, every other DNS query lost",
            true,
            lossy,
            posts / 4,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let posts: Vec<String> = (0..n).map(|i| signed_post(&signer, run, i)).collect();
        let (rate, slowest, delivered) =
            runtime.block_on(self::run(checks, nameserver, sink.addr, posts, sessions));
        rates.push(rate);
        println!(
            "{label}: {rate:.0} posts/s, slowest post {:.0} ms; delivery meanwhile: {delivered} of the {n} copies",
            slowest * 1e3
        );
    }
    println!(
        "checks on: {:.0} posts/s (target >= 1,000); {:.2}x the rate with checks off",
        rates[1],
        rates[1] / rates[0]
    );
    println!(
        "checks on with every other query lost: {:.0} posts/s; slowest post above is the cost of lost queries (target: about 1 s per loss, within smtp.authentication_timeout = 10 s)",
        rates[2]
    );
}

type Signer = DkimSigner<mail_auth::common::crypto::DkimKey, mail_auth::dkim::Done>;

/// strict.example's RSA key, published in the test DNS.
fn signer() -> Signer {
    let pem = keys::generate("rsa").expect("key");
    let loaded = keys::parse(pem.as_bytes()).expect("key");
    dns::publish(
        "bench._domainkey.strict.example",
        &format!("v=DKIM1; k=rsa; p={}", loaded.public),
    );
    DkimSigner::from_key(loaded.key)
        .domain("strict.example")
        .selector("bench")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
}

/// Post `i` of run `run`, DKIM-signed by strict.example, whose SPF record authorises the
/// loopback and whose DMARC record says p=reject: DKIM, SPF and DMARC pass, after four look-ups.
fn signed_post(signer: &Signer, run: usize, i: usize) -> String {
    let body = format!(
        "From: Ann <ann@strict.example>\r\nTo: board@lists.test\r\nSubject: Agenda {i}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <agenda-{run}-{i}@strict.example>\r\n\r\nItems for Thursday.\r\n"
    ) + &"A line of the post, as a post of about 5 KB has them.\r\n".repeat(90);
    let signature = signer.sign(body.as_bytes()).expect("sign");
    format!("{}{body}", signature.to_header())
}

/// Posts per second, the slowest post (seconds), and the copies delivered by the time the last
/// post was stored.
async fn run(
    checks: bool,
    nameserver: SocketAddr,
    relay: SocketAddr,
    all: Vec<String>,
    sessions: usize,
) -> (f64, f64, i64) {
    let posts = all.len();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let mut c = Config::default();
    c.server.hostname = "bench.test".into();
    c.server.domains = vec!["lists.test".into()];
    c.smtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.smtp.max_sessions = sessions.max(100);
    c.smtp.authentication_checks = checks;
    c.http.listen = "127.0.0.1:0".parse().unwrap();
    c.database.url = Secret::new(&url);
    c.delivery.relay = format!("smtp://{relay}");
    c.delivery.relay_tls = RelayTls::None;
    c.delivery.poll_interval = Duration::from_millis(200);
    c.dns.nameservers = vec![nameserver];
    let store = Store::connect(&url, 4).await.expect("db");
    store.migrate().await.expect("migrate");
    let kim = store
        .upsert_person(&EmailAddress::parse("kim@x.org").unwrap(), None, 0)
        .await
        .unwrap();
    let g = store
        .create_group(
            "Board",
            Some(&EmailAddress::parse("board@lists.test").unwrap()),
            0,
        )
        .await
        .unwrap();
    store.add_member(g.id, kim.id, 0).await.unwrap();
    store
        .set_settings(
            g.id,
            r#"{"who_may_post": "anyone", "from_mode": "as_written"}"#,
        )
        .await
        .unwrap();
    let app = App::build(c).await.expect("server");
    let smtp = app.smtp_addrs()[0];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    let left = Arc::new(AtomicUsize::new(posts));
    let slowest = Arc::new(AtomicU64::new(0));
    let all = Arc::new(all);
    let start = Instant::now();
    let clients: Vec<_> = (0..sessions)
        .map(|_| {
            let (left, slowest, all) = (left.clone(), slowest.clone(), all.clone());
            tokio::spawn(async move {
                let mut s = Session::open(smtp).await;
                let mut sent = 0;
                while let Ok(n) =
                    left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                {
                    let t = Instant::now();
                    s.post(&all[n - 1]).await;
                    slowest.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let mut total = 0;
    for c in clients {
        total += c.await.expect("client");
    }
    let took = start.elapsed().as_secs_f64();
    assert_eq!(total, posts, "every post answered 250 (stored)");
    let delivered = store.delivery_counts(None).await.expect("counts").delivered;
    let _ = stop.send(());
    let _ = task.await;
    (
        posts as f64 / took,
        slowest.load(Ordering::Relaxed) as f64 / 1e6,
        delivered,
    )
}

/// One SMTP session sending post after post (MAIL, RCPT and DATA pipelined).
struct Session {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl Session {
    async fn open(addr: SocketAddr) -> Session {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (r, w) = stream.into_split();
        let mut s = Session {
            r: BufReader::new(r),
            w,
        };
        s.reply().await;
        s.w.write_all(b"EHLO client.example\r\n").await.unwrap();
        s.reply().await;
        s
    }

    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.r.read_line(&mut line).await.unwrap_or(0) == 0 {
                panic!("connection closed: {all}");
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    async fn post(&mut self, post: &str) {
        self.w
            .write_all(b"MAIL FROM:<ann@strict.example>\r\nRCPT TO:<board@lists.test>\r\nDATA\r\n")
            .await
            .unwrap();
        for want in ["250", "250", "354"] {
            let r = self.reply().await;
            assert!(r.starts_with(want), "{r}");
        }
        self.w.write_all(post.as_bytes()).await.unwrap();
        self.w.write_all(b".\r\n").await.unwrap();
        let r = self.reply().await;
        assert!(r.starts_with("250"), "{r}");
    }
}

/// Postfix's smtp-sink on a free port: accepts every copy, keeps nothing.
struct SmtpSink {
    addr: SocketAddr,
    child: std::process::Child,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // smtp-sink refuses to run as root without a user to switch to.
        let root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        let mut args = Vec::new();
        if root {
            args.extend(["-u".to_string(), "nobody".to_string()]);
        }
        args.extend([addr.to_string(), "256".to_string()]);
        let child = std::process::Command::new("smtp-sink")
            .args(&args)
            .spawn()
            .or_else(|_| {
                std::process::Command::new("/usr/sbin/smtp-sink")
                    .args(&args)
                    .spawn()
            })
            .expect("smtp-sink (Postfix) installed");
        std::thread::sleep(Duration::from_millis(300));
        SmtpSink { addr, child }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A relay to the test DNS server that drops every other query.
fn lossy_relay() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind relay");
    let addr = socket.local_addr().unwrap();
    let upstream = dns::server();
    let upstream_socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let back = socket.try_clone().expect("clone");
    let pending: Arc<std::sync::Mutex<std::collections::HashMap<u16, SocketAddr>>> =
        Default::default();
    let answers = upstream_socket.try_clone().expect("clone");
    let p = pending.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((len, _)) = answers.recv_from(&mut buf) {
            let id = u16::from_be_bytes([buf[0], buf[1]]);
            if let Some(peer) = p.lock().ok().and_then(|mut p| p.remove(&id)) {
                let _ = back.send_to(&buf[..len], peer);
            }
        }
    });
    std::thread::spawn(move || {
        let mut n = 0u64;
        let mut buf = [0u8; 1500];
        while let Ok((len, peer)) = socket.recv_from(&mut buf) {
            n += 1;
            if n % 2 == 1 || len < 12 {
                continue;
            }
            let id = u16::from_be_bytes([buf[0], buf[1]]);
            if let Ok(mut p) = pending.lock() {
                p.insert(id, peer);
            }
            let _ = upstream_socket.send_to(&buf[..len], upstream);
        }
    });
    addr
}
