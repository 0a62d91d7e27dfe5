//! Inbound authentication: every post carries our Authentication-Results (DKIM, SPF, DMARC,
//! ARC) and no forged one; a post failing DMARC of a p=reject domain is held or refused per
//! list. The DNS answers come from the local test DNS server (support/dns.rs).

use std::time::Duration;

use serde_json::json;

use crate::support::{
    app::{TestApp, test_config},
    db::{Backend, TestDb},
    sink::Sink,
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(15);

async fn board(settings: serde_json::Value) -> (TestDb, Sink, TestApp) {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::spawn(test_config(&db.url, sink.addr)).await;
    app.group(
        "Board",
        "board",
        &["ann@strict.example", "boss@forged.example", "kim@x.org"],
    )
    .await;
    let g = app.store.find_group("Board").await.unwrap().unwrap();
    app.store
        .set_settings(g.id, &settings.to_string())
        .await
        .unwrap();
    (db, sink, app)
}

async fn post(app: &TestApp, from: &str, extra_headers: &str, subject: &str) -> String {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.example").await;
    c.post(
        from,
        &["board@lists.test"],
        &format!("{extra_headers}From: <{from}>\r\nTo: board@lists.test\r\nSubject: {subject}\r\n\r\nHello.\r\n"),
    )
    .await
}

#[tokio::test]
async fn each_copy_carries_our_results_and_no_forged_ones() {
    let (_db, sink, app) = board(json!({"from_mode": "as_written"})).await;
    let forged = "Authentication-Results: circlemail.test; dkim=pass header.d=strict.example; dmarc=pass\r\n\
                  Authentication-Results: other.example; spf=none\r\n";
    let r = post(&app, "ann@strict.example", forged, "Budget").await;
    assert!(r.starts_with("250"), "{r}");
    sink.wait_for_recipients(3, WAIT).await;
    for copy in sink.messages() {
        let text = copy.text();
        let head = text.split("\r\n\r\n").next().unwrap();
        let ours: Vec<&str> = head
            .split("\r\nAuthentication-Results:")
            .skip(1)
            .filter(|f| f.trim_start().starts_with("circlemail.test"))
            .collect();
        assert_eq!(ours.len(), 1, "exactly one result of ours: {head}");
        let ours = ours[0].split("\r\n").take(6).collect::<Vec<_>>().join(" ");
        // strict.example's SPF record authorises the loopback: SPF and so DMARC pass.
        assert!(ours.contains("spf=pass"), "{ours}");
        assert!(ours.contains("dmarc=pass"), "{ours}");
        assert!(ours.contains("arc=none"), "{ours}");
        // The post carries no DKIM signature: the forged "dkim=pass" is gone, none is claimed.
        assert!(!ours.contains("dkim="), "forged one removed: {ours}");
        assert!(
            head.contains("Authentication-Results: other.example; spf=none"),
            "another host's results are kept: {head}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_forged_board_member_is_held_by_default() {
    let (_db, sink, app) = board(json!({})).await;
    let r = post(&app, "boss@forged.example", "", "Pay this invoice").await;
    assert!(r.starts_with("250"), "{r}");
    assert!(
        r.contains("Held for moderation") && r.contains("fails DMARC of forged.example"),
        "{r}"
    );
    // A genuine member's post still goes through.
    let r = post(&app, "ann@strict.example", "", "Minutes").await;
    assert!(r.starts_with("250 2.0.0 Queued"), "{r}");
    sink.wait_for_recipients(3, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        sink.messages()
            .iter()
            .all(|m| m.header("Subject").as_deref() == Some("Minutes")),
        "the forged post reached no one"
    );
    let held = app.store.held_posts("held").await.unwrap();
    assert_eq!(held.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_list_can_refuse_posts_failing_dmarc_in_the_dialogue() {
    let (_db, sink, app) = board(json!({"dmarc_fail_action": "reject"})).await;
    let r = post(&app, "boss@forged.example", "", "Pay this invoice").await;
    assert!(r.starts_with("550 5.7.1 Post refused:"), "{r}");
    assert!(r.contains("DMARC"), "{r}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.recipient_count(), 0, "nothing sent, no bounce");
    app.stop().await;
}
