//! Bounces: VERP envelope senders, a DSN for one recipient scored until they are disabled (and
//! the API says why), a forged bounce ignored, re-enabling, and bounces never distributed.

use std::{sync::Arc, time::Duration};

use circlemail::{
    clock::ManualClock,
    config::{Secret, VerpMode},
    model::address::EmailAddress,
};
use serde_json::Value;

use crate::on_both_backends;
use crate::support::{
    app::{TestApp, chrono_now, message, test_config},
    db::TestDb,
    http::request,
    sink::Sink,
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(20);
const TOKEN: &str = "test-token-0123456789abcdef";
const DAY: i64 = 86_400_000;

fn dsn(verp: &str, recipient: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.org\r\n\
To: {verp}\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\
\r\n\
--B\r\n\
Content-Type: text/plain\r\n\
\r\n\
Your message could not be delivered.\r\n\
--B\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.org\r\n\
\r\n\
Final-Recipient: rfc822; {recipient}\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\
\r\n\
--B--"
    )
}

async fn send_bounce(app: &TestApp, to: &str, body: &str) {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO mx.example.org").await;
    let reply = c.post("", &[to], body).await;
    assert!(reply.starts_with("250"), "{reply}");
    c.cmd("QUIT").await;
}

async fn post(app: &TestApp, list: &str, subject: &str) {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.example.org").await;
    let from = "bo@example.net";
    let reply = c
        .post(from, &[list], &message(from, list, subject, "hi"))
        .await;
    assert!(reply.starts_with("250 2.0.0 Queued as"), "{reply}");
}

async fn bounces(app: &TestApp, group_id: i64) -> Value {
    let r = request(
        app.http,
        "GET",
        &format!("/api/v1/groups/{group_id}/bounces"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["bounces"].clone()
}

/// Waits until the bounce processor has read `n` bounces in all.
async fn processed(app: &TestApp, n: usize) -> String {
    let start = tokio::time::Instant::now();
    loop {
        let r = request(app.http, "GET", "/metrics", Some(TOKEN), None).await;
        let scored = metric(&r.body, "circlemail_bounces{result=\"scored\"}");
        let ignored = metric(&r.body, "circlemail_bounces{result=\"ignored\"}");
        if scored + ignored >= n as f64 {
            return r.body;
        }
        assert!(start.elapsed() < WAIT, "bounces not processed: {}", r.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

on_both_backends!(
    a_dsn_for_one_recipient_disables_them_after_the_threshold_and_a_forged_one_is_ignored,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let mut config = test_config(&db.url, sink.addr);
        config.delivery.verp = VerpMode::Always;
        config.bounces.score_threshold = 2.0;
        config.http.api_token = Some(Secret::new(TOKEN));
        let clock = ManualClock::new(chrono_now());
        let app = TestApp::spawn_with_clock(config, Arc::new(clock.clone())).await;
        let list = app
            .group("Board", "board", &["anna@example.org", "bo@example.net"])
            .await;
        let group = app.store.group_by_address(&list).await.unwrap().unwrap();
        let anna = app
            .store
            .find_person(&EmailAddress::parse("anna@example.org").unwrap())
            .await
            .unwrap()
            .unwrap();

        post(&app, &list, "first").await;
        sink.wait_for_recipients(2, WAIT).await;
        let copies = sink.by_recipient();
        let verp = copies["anna@example.org"][0].mail_from.clone();
        assert!(
            verp.starts_with("board-bounces+anna=example.org=") && verp.ends_with("@lists.test"),
            "{verp}"
        );
        let bo_verp = copies["bo@example.net"][0].mail_from.clone();
        assert_ne!(verp, bo_verp, "one envelope sender per recipient");

        // A forged bounce: bo's address with a made-up tag. And a report with no VERP naming
        // someone this list never mailed.
        let forged = bo_verp.replace(
            bo_verp
                .rsplit_once('=')
                .unwrap()
                .1
                .split('@')
                .next()
                .unwrap(),
            "0123456789",
        );
        send_bounce(&app, &forged, &dsn(&forged, "bo@example.net")).await;
        send_bounce(
            &app,
            "board-bounces@lists.test",
            &dsn("board-bounces@lists.test", "stranger@example.com"),
        )
        .await;
        // The real one.
        send_bounce(&app, &verp, &dsn(&verp, "anna@example.org")).await;
        processed(&app, 3).await;
        let b = bounces(&app, group.id).await;
        assert_eq!(b.as_array().unwrap().len(), 1, "only anna: {b}");
        assert_eq!(b[0]["email"], "anna@example.org");
        assert_eq!(b[0]["score"], 1.0);
        assert!(b[0]["disabled_at"].is_null());
        let m = processed(&app, 3).await;
        assert_eq!(
            metric(&m, "circlemail_bounces{result=\"ignored\"}"),
            2.0,
            "{m}"
        );
        assert_eq!(sink.recipient_count(), 2, "bounces are never distributed");

        // The next day anna bounces again: the threshold (2) is reached.
        clock.advance(DAY);
        send_bounce(&app, &verp, &dsn(&verp, "anna@example.org")).await;
        processed(&app, 4).await;
        let b = bounces(&app, group.id).await;
        assert_eq!(b[0]["score"], 2.0);
        assert!(b[0]["disabled_at"].is_i64(), "{b}");
        assert_eq!(b[0]["last_status"], "5.1.1");
        assert!(
            b[0]["last_diagnostic"]
                .as_str()
                .unwrap()
                .contains("User unknown")
        );

        // Disabled: the next post goes to bo only.
        post(&app, &list, "second").await;
        sink.wait_for_recipients(3, WAIT).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.by_recipient()["anna@example.org"].len(), 1);
        assert_eq!(sink.recipient_count(), 3);

        // Re-enabled by a manager: anna gets mail again.
        let r = request(
            app.http,
            "POST",
            &format!("/api/v1/groups/{}/bounces/{}/enable", group.id, anna.id),
            Some(TOKEN),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(bounces(&app, group.id).await.as_array().unwrap().len(), 0);
        post(&app, &list, "third").await;
        sink.wait_for_recipients(5, WAIT).await;
        assert_eq!(sink.by_recipient()["anna@example.org"].len(), 2);
        app.stop().await;
    }
);

/// The samples of `tests/fixtures/bounces/` (where each came from: its README) and the member
/// each one names.
const REAL_BOUNCES: &[(&str, &str)] = &[
    ("postfix-3.7-sender.eml", "anna@example.org"),
    ("postfix-3.7-postmaster-copy.eml", "bo@example.net"),
    ("exim-4.96.eml", "cay@example.com"),
    ("sendmail-8.eml", "dee@example.net"),
    ("qmail-1.03.eml", "eva@example.org"),
    ("office365.eml", "finn@example.com"),
    ("gmail.eml", "gus@example.org"),
];

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/bounces/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    String::from_utf8(std::fs::read(&path).expect(&path)).expect("UTF-8 fixture")
}

on_both_backends!(
    bounces_written_by_real_mtas_are_scored_to_their_recipient_and_vacation_replies_never,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let mut config = test_config(&db.url, sink.addr);
        config.http.api_token = Some(Secret::new(TOKEN));
        let app = TestApp::spawn(config).await;
        let mut members: Vec<&str> = REAL_BOUNCES.iter().map(|(_, r)| *r).collect();
        members.push("hal@example.org");
        let list = app.group("Board", "board", &members).await;
        let group = app.store.group_by_address(&list).await.unwrap().unwrap();
        post(&app, &list, "Minutes").await;
        sink.wait_for_recipients(members.len(), WAIT).await;
        let hal_verp = sink.by_recipient()["hal@example.org"][0].mail_from.clone();
        assert!(hal_verp.starts_with("board-bounces+"), "{hal_verp}");

        // Every real bounce to the plain bounce address; the vacation reply to the plain
        // address and to hal's own VERP address (where anything unreadable counts as a bounce).
        for (file, _) in REAL_BOUNCES {
            send_bounce(&app, "board-bounces@lists.test", &fixture(file)).await;
        }
        let vacation = fixture("vacation-sieve.eml");
        send_bounce(&app, "board-bounces@lists.test", &vacation).await;
        send_bounce(&app, &hal_verp, &vacation).await;
        let m = processed(&app, REAL_BOUNCES.len() + 2).await;

        let b = bounces(&app, group.id).await;
        let mut scored: Vec<(String, f64)> = b
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["email"].as_str().unwrap().to_string(),
                    e["score"].as_f64().unwrap(),
                )
            })
            .collect();
        scored.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected: Vec<(String, f64)> = REAL_BOUNCES
            .iter()
            .map(|(_, r)| (r.to_string(), 1.0))
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(scored, expected, "{b}\n{m}");
        assert_eq!(
            metric(&m, "circlemail_bounces{result=\"ignored\"}"),
            2.0,
            "the vacation replies: {m}"
        );
        app.stop().await;
    }
);

/// The bounce score of `email` in `group_id` once it is `score` (or panics after `WAIT`).
async fn score_reaches(app: &TestApp, group_id: i64, email: &str, score: f64) -> Value {
    let start = tokio::time::Instant::now();
    loop {
        let b = bounces(app, group_id).await;
        let entry = b
            .as_array()
            .and_then(|a| a.iter().find(|e| e["email"] == email).cloned());
        if let Some(e) = entry.filter(|e| e["score"].as_f64() == Some(score)) {
            return e;
        }
        assert!(start.elapsed() < WAIT, "{email} never reached {score}: {b}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn bounces_reach(app: &TestApp, group_id: i64, email: &str, count: u64) -> Value {
    let start = tokio::time::Instant::now();
    loop {
        let b = bounces(app, group_id).await;
        let entry = b
            .as_array()
            .and_then(|a| a.iter().find(|e| e["email"] == email).cloned());
        if let Some(e) = entry.filter(|e| e["bounces"].as_u64() == Some(count)) {
            return e;
        }
        assert!(
            start.elapsed() < WAIT,
            "{email} never had {count} bounces: {b}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both_backends!(
    a_recipient_the_relay_refuses_at_rcpt_is_scored_like_a_hard_bounce_and_disabled,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        // The relay knows anna's mailbox is gone: it refuses her in the dialogue, no DSN follows.
        sink.refuse_recipient(
            "anna@example.org",
            "550 5.1.1 <anna@example.org>: Recipient address rejected: User unknown",
        );
        let mut config = test_config(&db.url, sink.addr);
        config.bounces.score_threshold = 2.0;
        config.http.api_token = Some(Secret::new(TOKEN));
        let clock = ManualClock::new(chrono_now());
        let app = TestApp::spawn_with_clock(config, Arc::new(clock.clone())).await;
        let list = app
            .group("Board", "board", &["anna@example.org", "bo@example.net"])
            .await;
        let group = app.store.group_by_address(&list).await.unwrap().unwrap();

        // Personal copies (one transaction each): anna refused, bo delivered, anna scored.
        post(&app, &list, "first").await;
        sink.wait_for_recipients(1, WAIT).await;
        let e = score_reaches(&app, group.id, "anna@example.org", 1.0).await;
        assert_eq!(e["last_status"], "5.1.1", "{e}");
        assert!(
            e["last_diagnostic"]
                .as_str()
                .unwrap()
                .contains("RCPT TO: 550 5.1.1"),
            "{e}"
        );
        assert!(e["disabled_at"].is_null(), "{e}");

        // The same day, a batched copy (anna and bo in one transaction): counted once a day,
        // as a DSN would be.
        app.settings("Board", r#"{"unsubscribe_links": false}"#)
            .await;
        post(&app, &list, "second").await;
        sink.wait_for_recipients(2, WAIT).await;
        let counts = wait_counts(&app, 2, 2).await;
        assert_eq!((counts.delivered, counts.failed), (2, 2), "{counts:?}");
        // The refusal is recorded (bounces: 2) but adds nothing to the day's score.
        let e = bounces_reach(&app, group.id, "anna@example.org", 2).await;
        assert_eq!(e["score"].as_f64(), Some(1.0), "{e}");

        // The next day: the threshold (2) is reached and anna is disabled.
        clock.advance(DAY);
        post(&app, &list, "third").await;
        sink.wait_for_recipients(3, WAIT).await;
        let e = score_reaches(&app, group.id, "anna@example.org", 2.0).await;
        assert!(e["disabled_at"].is_i64(), "{e}");

        // Disabled: the next post is not even tried for anna.
        post(&app, &list, "fourth").await;
        sink.wait_for_recipients(4, WAIT).await;
        let counts = wait_counts(&app, 4, 3).await;
        assert_eq!((counts.delivered, counts.failed), (4, 3), "{counts:?}");
        assert!(!sink.by_recipient().contains_key("anna@example.org"));
        app.stop().await;
    }
);

/// The delivery counts once `delivered` and `failed` are reached (or as they are after `WAIT`).
async fn wait_counts(
    app: &TestApp,
    delivered: i64,
    failed: i64,
) -> circlemail::store::deliveries::DeliveryCounts {
    let start = tokio::time::Instant::now();
    loop {
        let counts = app.store.delivery_counts(None).await.unwrap();
        if (counts.delivered >= delivered && counts.failed >= failed) || start.elapsed() > WAIT {
            return counts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
