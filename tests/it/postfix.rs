//! circlemail behind a real Postfix (Debian's package, a private instance per test): Postfix
//! takes a post for the list domain and hands it over by LMTP, circlemail sends the copies out
//! through Postfix, Postfix writes the bounce for a member it cannot deliver to and circlemail
//! scores it; Postfix asks circlemail's socketmap which list addresses exist, so an unknown one
//! is refused in the SMTP dialogue and a list created a moment ago is reachable at once.

use std::{io::Write, net::SocketAddr, time::Duration};

use circlemail::{config::Secret, model::address::EmailAddress};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::on_both_backends;
use crate::support::{
    app::{DOMAIN, TestApp, message, test_config},
    db::TestDb,
    http::request,
    postfix::{Postfix, Wiring, free_port},
    sink::Sink,
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "test-token-0123456789abcdef";

/// Sends each request as a netstring on one connection (all in one write) and reads as many
/// replies.
async fn lookups(addr: SocketAddr, requests: &[&str]) -> Vec<String> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut out = Vec::new();
    for r in requests {
        out.extend_from_slice(format!("{}:{r},", r.len()).as_bytes());
    }
    stream.write_all(&out).await.unwrap();
    let mut replies = Vec::new();
    let mut buf = Vec::new();
    while replies.len() < requests.len() {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("socketmap answers")
            .unwrap();
        assert!(n > 0, "closed after {replies:?}");
        buf.extend_from_slice(&chunk[..n]);
        while let Some(colon) = buf.iter().position(|&b| b == b':') {
            let len: usize = std::str::from_utf8(&buf[..colon]).unwrap().parse().unwrap();
            if buf.len() < colon + len + 2 {
                break;
            }
            assert_eq!(buf[colon + 1 + len], b',');
            replies.push(String::from_utf8(buf[colon + 1..colon + 1 + len].to_vec()).unwrap());
            buf.drain(..colon + len + 2);
        }
    }
    replies
}

fn with_socketmap(db: &TestDb, relay: SocketAddr) -> circlemail::config::Config {
    let mut config = test_config(&db.url, relay);
    config.lmtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.socketmap.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.http.api_token = Some(Secret::new(TOKEN));
    config
}

on_both_backends!(
    the_socketmap_knows_every_address_ingress_takes_and_nothing_else,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let app = TestApp::spawn(with_socketmap(db, sink.addr)).await;
        let sm = app.socketmap.expect("socketmap listener");
        let lmtp = app.lmtp.unwrap();
        app.group("Board", "board", &["anna@example.org"]).await;
        app.group("Old", "old", &[]).await;
        let old = app.store.find_group("Old").await.unwrap().unwrap();
        app.store.set_group_active(old.id, false).await.unwrap();

        let transport = format!("OK lmtp:inet:127.0.0.1:{}", lmtp.port());
        let cases: &[(&str, &str)] = &[
            ("domains lists.test", "OK lists.test"),
            ("domains LISTS.TEST", "OK lists.test"),
            ("domains example.org", "NOTFOUND "),
            ("recipients board@lists.test", "OK list"),
            ("recipients Board@Lists.Test", "OK list"),
            ("recipients board-bounces@lists.test", "OK bounces"),
            (
                "recipients board-bounces+anna=example.org=0123456789@lists.test",
                "OK bounces",
            ),
            ("recipients board-owner@lists.test", "OK owner"),
            ("recipients board-leave@lists.test", "OK leave"),
            ("recipients board-join@lists.test", "OK join"),
            ("recipients nosuch@lists.test", "NOTFOUND "),
            ("recipients board+x@lists.test", "NOTFOUND "),
            ("recipients board-owner+x@lists.test", "NOTFOUND "),
            ("recipients old@lists.test", "NOTFOUND "),
            ("recipients @lists.test", "NOTFOUND "),
            ("recipients board", "NOTFOUND "),
            ("recipients board@example.org", "NOTFOUND "),
            ("transport lists.test", &transport),
            ("transport board@lists.test", &transport),
            ("transport example.org", "NOTFOUND "),
            ("transport anna@example.org", "NOTFOUND "),
        ];
        let requests: Vec<&str> = cases.iter().map(|(q, _)| *q).collect();
        let replies = lookups(sm, &requests).await;
        for ((request, expected), reply) in cases.iter().zip(&replies) {
            assert_eq!(reply, expected, "{request}");
        }
        // Ingress agrees with each of them.
        let (mut c, _) = Client::connect(app.smtp).await;
        c.cmd("EHLO client.example.org").await;
        c.cmd("MAIL FROM:<x@example.org>").await;
        for (request, expected) in cases {
            if let Some(addr) = request.strip_prefix("recipients ")
                && addr.contains('@')
                && !addr.starts_with('@')
            {
                let r = c.cmd(&format!("RCPT TO:<{addr}>")).await;
                assert_eq!(
                    r.starts_with("250"),
                    expected.starts_with("OK"),
                    "{addr}: ingress says {r}"
                );
            }
        }

        // Unknown maps and requests without a key are refused, and the connection goes on.
        let r = lookups(
            sm,
            &[
                "aliases board@lists.test",
                "recipients",
                "domains lists.test",
            ],
        )
        .await;
        assert!(r[0].starts_with("PERM "), "{r:?}");
        assert!(r[1].starts_with("PERM "), "{r:?}");
        assert_eq!(r[2], "OK lists.test");

        // A list created, or given a new address, is known at once.
        app.group("Youth", "youth", &[]).await;
        let board = app.store.find_group("Board").await.unwrap().unwrap();
        let renamed = EmailAddress::parse("styrelse@lists.test").unwrap();
        app.store
            .update_group(board.id, None, Some(Some(&renamed)))
            .await
            .unwrap();
        let r = lookups(
            sm,
            &[
                "recipients youth@lists.test",
                "recipients styrelse-bounces@lists.test",
                "recipients board@lists.test",
            ],
        )
        .await;
        assert_eq!(r, ["OK list", "OK bounces", "NOTFOUND "]);

        // Broken framing: a PERM reply, then the connection is closed.
        let mut s = TcpStream::connect(sm).await.unwrap();
        s.write_all(b"99999999999999999999:x,").await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got))
            .await
            .expect("closed")
            .unwrap();
        let got = String::from_utf8_lossy(&got);
        assert!(got.contains(":PERM "), "{got}");
        app.stop().await;
    }
);

/// Waits for `n` copies at the sink; on failure, shows what Postfix logged.
async fn wait_for(sink: &Sink, n: usize, postfix: &Postfix) {
    let start = tokio::time::Instant::now();
    while sink.recipient_count() < n {
        assert!(
            start.elapsed() < WAIT,
            "the sink got {} copies, expected {n}; Postfix logged:\n{}",
            sink.recipient_count(),
            postfix.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The post as a client of Postfix sends it.
async fn post_through(postfix: SocketAddr, from: &str, list: &str, subject: &str) -> String {
    let (mut c, greeting) = Client::connect(postfix).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    c.cmd("EHLO client.example.org").await;
    let reply = c
        .post(
            from,
            &[list],
            &message(from, list, subject, "Hello from behind Postfix."),
        )
        .await;
    c.cmd("QUIT").await;
    reply
}

on_both_backends!(
    behind_a_real_postfix_every_member_gets_the_post_once_and_postfixs_own_bounce_is_scored,
    async |db: &TestDb| {
        if let Err(why) = Postfix::available() {
            let _ = writeln!(
                std::io::stderr(),
                "\n########\nSKIPPED: the Postfix test cannot run here: {why}\n########"
            );
            return;
        }
        let sink = Sink::start().await;
        let members: Vec<String> = (0..20).map(|i| format!("m{i:02}@example.net")).collect();
        let gone = "gone@example.net";
        sink.refuse_recipient(
            gone,
            "550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown",
        );
        // circlemail relays through Postfix; Postfix hands the list domain to circlemail.
        let postfix_smtp = free_port();
        let app = TestApp::spawn(with_socketmap(db, postfix_smtp)).await;
        let mut all: Vec<&str> = members.iter().map(String::as_str).collect();
        all.push(gone);
        let list = app.group("Board", "board", &all).await;
        let postfix = Postfix::start(
            postfix_smtp,
            &Wiring {
                socketmap: app.socketmap.unwrap(),
                relayhost: sink.addr,
            },
        );

        // An address at the list domain that is no list: Postfix refuses it at RCPT.
        let (mut c, _) = Client::connect(postfix.smtp).await;
        c.cmd("EHLO client.example.org").await;
        c.cmd("MAIL FROM:<chair@example.org>").await;
        let r = c.cmd(&format!("RCPT TO:<nosuch@{DOMAIN}>")).await;
        assert!(r.starts_with("550 5.1.1"), "{r}\n{}", postfix.log());
        for ok in ["board-owner@lists.test", "board-bounces@lists.test"] {
            let r = c.cmd(&format!("RCPT TO:<{ok}>")).await;
            assert!(r.starts_with("250"), "{ok}: {r}");
        }
        c.cmd("QUIT").await;

        let reply = post_through(postfix.smtp, &members[0], &list, "Through Postfix").await;
        assert!(reply.starts_with("250"), "{reply}\n{}", postfix.log());
        // Every member once; the gone one refused at the sink, Postfix bounces to the VERP
        // address, which Postfix hands to circlemail by LMTP, which scores it.
        wait_for(&sink, members.len(), &postfix).await;
        let group = app.store.group_by_address(&list).await.unwrap().unwrap();
        let start = tokio::time::Instant::now();
        let bounces = loop {
            let r = request(
                app.http,
                "GET",
                &format!("/api/v1/groups/{}/bounces", group.id),
                Some(TOKEN),
                None,
            )
            .await;
            let b = r.json()["bounces"].clone();
            if b.as_array().is_some_and(|a| !a.is_empty()) || start.elapsed() > WAIT {
                break b;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(
            bounces.as_array().map(Vec::len),
            Some(1),
            "{bounces}\n{}",
            postfix.log()
        );
        assert_eq!(bounces[0]["email"], gone);
        assert_eq!(bounces[0]["score"], 1.0);
        assert_eq!(bounces[0]["last_status"], "5.1.1");
        let by = sink.by_recipient();
        for m in &members {
            assert_eq!(by.get(m).map(Vec::len), Some(1), "{m} got the post once");
        }
        assert!(!by.contains_key(gone));
        // The bounce went through Postfix to circlemail, not to the sink.
        assert!(
            sink.messages().iter().all(|m| !m.mail_from.is_empty()),
            "no bounce reached the sink"
        );
        assert!(
            postfix.log().contains("relay=127.0.0.1[127.0.0.1]:")
                && postfix.log().contains("status=bounced"),
            "{}",
            postfix.log()
        );

        // A list created after Postfix started is reachable at once.
        app.group("Youth", "youth", &["kim@example.org"]).await;
        let reply = post_through(
            postfix.smtp,
            "kim@example.org",
            "youth@lists.test",
            "New list",
        )
        .await;
        assert!(reply.starts_with("250"), "{reply}\n{}", postfix.log());
        wait_for(&sink, members.len() + 1, &postfix).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.recipient_count(), members.len() + 1, "nothing more");
        assert_eq!(sink.by_recipient()["kim@example.org"].len(), 1);
        // Postfix offers CHUNKING, so circlemail sent its copies with BDAT (an RSET before each
        // but the first of a write); Postfix counts each session's commands when it ends
        // ("disconnect from localhost[127.0.0.1] ehlo=1 mail=22 rcpt=22 bdat=22 rset=19 …").
        app.stop().await;
        let start = tokio::time::Instant::now();
        while !postfix.log().contains(" bdat=") && start.elapsed() < WAIT {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(postfix.log().contains(" bdat="), "{}", postfix.log());
        drop(postfix);
    }
);
