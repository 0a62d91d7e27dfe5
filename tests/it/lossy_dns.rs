//! Inbound checks against a resolver that loses packets: a UDP relay in front of the test DNS
//! server (support/dns.rs) drops queries. Posts still get real results (not `temperror`, which
//! is what `smtp.authentication_timeout` running out gives), and a look-up that never gets an
//! answer holds up only its own session.

use std::{
    net::{SocketAddr, UdpSocket},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use crate::support::{
    app::{TestApp, test_config},
    db::{Backend, TestDb},
    dns,
    sink::Sink,
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(20);

/// The query name of a DNS message, lower-cased.
fn query_name(q: &[u8]) -> String {
    let mut i = 12;
    let mut labels = Vec::new();
    while let Some(&len) = q.get(i) {
        if len == 0 {
            break;
        }
        let label = q.get(i + 1..i + 1 + len as usize).unwrap_or_default();
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        i += 1 + len as usize;
    }
    labels.join(".")
}

/// A relay to the test DNS server that drops a query when `drop(n, name)` (n counts queries
/// from 1). Returns its address and the count of queries dropped.
fn lossy_relay(
    drop: impl Fn(u64, &str) -> bool + Send + 'static,
) -> (SocketAddr, &'static AtomicU64) {
    let dropped: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind relay");
    let addr = socket.local_addr().unwrap();
    let upstream = dns::server();
    std::thread::spawn(move || {
        let mut n = 0u64;
        let mut buf = [0u8; 1500];
        while let Ok((len, peer)) = socket.recv_from(&mut buf) {
            n += 1;
            if drop(n, &query_name(&buf[..len])) {
                dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let Ok(up) = UdpSocket::bind("127.0.0.1:0") else {
                continue;
            };
            let _ = up.set_read_timeout(Some(Duration::from_secs(2)));
            let mut answer = [0u8; 1500];
            if up.send_to(&buf[..len], upstream).is_ok()
                && let Ok((m, _)) = up.recv_from(&mut answer)
            {
                let _ = socket.send_to(&answer[..m], peer);
            }
        }
    });
    (addr, dropped)
}

async fn board(nameserver: SocketAddr, auth_timeout: Duration) -> (TestDb, Sink, TestApp) {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = test_config(&db.url, sink.addr);
    config.dns.nameservers = vec![nameserver];
    config.smtp.authentication_timeout = auth_timeout;
    let app = TestApp::spawn(config).await;
    app.group("Board", "board", &["kim@x.org"]).await;
    let g = app.store.find_group("Board").await.unwrap().unwrap();
    app.store
        .set_settings(
            g.id,
            r#"{"from_mode": "as_written", "who_may_post": "anyone"}"#,
        )
        .await
        .unwrap();
    (db, sink, app)
}

async fn post(app: &TestApp, from: &str, subject: &str) -> String {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.example").await;
    c.post(
        from,
        &["board@lists.test"],
        &format!("From: <{from}>\r\nTo: board@lists.test\r\nSubject: {subject}\r\n\r\nHello.\r\n"),
    )
    .await
}

/// Our Authentication-Results of the copy with this subject, unfolded.
fn results_of(sink: &Sink, subject: &str) -> String {
    let copy = sink
        .messages()
        .into_iter()
        .map(|m| m.text())
        .find(|t| t.contains(&format!("Subject: {subject}")))
        .unwrap_or_else(|| panic!("no copy of {subject}"));
    let head = copy
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    head.split("\r\nAuthentication-Results:")
        .skip(1)
        .find(|f| f.trim_start().starts_with("circlemail.test"))
        .map(|f| f.split("\r\n").take(6).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| panic!("no results of ours: {head}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_other_query_lost_and_posts_still_get_real_results() {
    let (relay, dropped) = lossy_relay(|n, _| n % 2 == 1);
    // Well under the 10 s default: a lost query must cost a resend, not the whole budget.
    let (_db, sink, app) = board(relay, Duration::from_secs(5)).await;
    for i in 0..6 {
        let r = post(&app, "ann@strict.example", &format!("Post {i}")).await;
        assert!(r.starts_with("250"), "{r}");
    }
    sink.wait_for_recipients(6, WAIT).await;
    for i in 0..6 {
        let results = results_of(&sink, &format!("Post {i}"));
        // strict.example's SPF record authorises the loopback: SPF and so DMARC pass.
        assert!(results.contains("spf=pass"), "post {i}: {results}");
        assert!(results.contains("dmarc=pass"), "post {i}: {results}");
    }
    assert!(
        dropped.load(Ordering::Relaxed) >= 6,
        "the relay lost queries"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_lookup_holds_up_no_other_session() {
    // Nothing about stall.example is ever answered.
    let (relay, _) = lossy_relay(|_, name| name.ends_with("stall.example"));
    let (_db, sink, app) = board(relay, Duration::from_secs(4)).await;
    let stalled = {
        let smtp = app.smtp;
        tokio::spawn(async move {
            let (mut c, _) = Client::connect(smtp).await;
            c.cmd("EHLO client.example").await;
            let r = c
                .post(
                    "someone@stall.example",
                    &["board@lists.test"],
                    "From: <someone@stall.example>\r\nTo: board@lists.test\r\nSubject: Stalled\r\n\r\nHello.\r\n",
                )
                .await;
            (r, Instant::now())
        })
    };
    // The stalled session is waiting on its look-ups now; others go through meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut others_done = Instant::now();
    for i in 0..3 {
        let r = post(&app, "ann@strict.example", &format!("Other {i}")).await;
        assert!(r.starts_with("250"), "{r}");
        others_done = Instant::now();
    }
    let (r, stalled_done) = stalled.await.unwrap();
    assert!(
        r.starts_with("250"),
        "the stalled post is still accepted: {r}"
    );
    assert!(
        others_done < stalled_done,
        "the other sessions finished while the stalled one waited"
    );
    sink.wait_for_recipients(4, WAIT).await;
    for i in 0..3 {
        let results = results_of(&sink, &format!("Other {i}"));
        assert!(results.contains("spf=pass"), "{results}");
    }
    // The stalled post's checks ran out of time: temperror, never a refusal.
    assert!(results_of(&sink, "Stalled").contains("temperror"));
    app.stop().await;
}
