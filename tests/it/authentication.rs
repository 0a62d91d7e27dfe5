//! Inbound authentication: every post carries our Authentication-Results (DKIM, SPF, DMARC,
//! ARC) and no forged one; a post failing DMARC of a p=reject domain is held or refused per
//! list. The DNS answers come from the local test DNS server (support/dns.rs).

use std::time::Duration;

use serde_json::json;

use circlemail::{config::DkimKeyConfig, signing::keys};
use mail_auth::{
    AuthenticatedMessage, DkimResult, common::headers::HeaderWriter, dkim::DkimSigner,
};

use crate::support::{
    app::{TestApp, test_config},
    db::{Backend, TestDb},
    dns,
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

const ARC_VERIFY: &str = r#"
import sys, json, dkim
records = json.loads(sys.argv[1])
msg = sys.stdin.buffer.read()
def dns(name, timeout=5):
    return (records.get(name.decode().rstrip(".")) or "").encode()
cv, results, comment = dkim.arc_verify(msg, dnsfunc=dns)
print(cv.decode(), comment)
sys.exit(0 if cv == b"pass" else 1)
"#;

/// A key for `selector._domainkey.domain`, published on the test DNS; (key file, TXT value).
fn publish_key(
    dir: &std::path::Path,
    domain: &str,
    selector: &str,
) -> (std::path::PathBuf, String) {
    let pem = keys::generate("rsa").unwrap();
    let path = dir.join(format!("{domain}-{selector}.pem"));
    std::fs::write(&path, &pem).unwrap();
    let loaded = keys::parse(pem.as_bytes()).unwrap();
    let record = format!("v=DKIM1; k=rsa; p={}", loaded.public);
    dns::publish(&format!("{selector}._domainkey.{domain}"), &record);
    (path, record)
}

async fn sealed_list(arc: bool) -> (TestDb, Sink, TestApp, String) {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = test_config(&db.url, sink.addr);
    let selector = format!("arc{}", rand::random::<u32>());
    let (path, record) = publish_key(db.dir.path(), "lists.test", &selector);
    config.dkim.keys.push(DkimKeyConfig {
        domain: "lists.test".into(),
        selector: selector.clone(),
        private_key: path,
        arc,
    });
    let app = TestApp::spawn(config).await;
    app.group("Board", "board", &["kim@x.org", "lo@x.org"])
        .await;
    let g = app.store.find_group("Board").await.unwrap().unwrap();
    app.store
        .set_settings(
            g.id,
            &json!({"subject_prefix": "[Board]", "footer_text": "Board list", "who_may_post": "anyone", "to_mode": "recipient"}).to_string(),
        )
        .await
        .unwrap();
    let records = json!({ format!("{selector}._domainkey.lists.test"): record }).to_string();
    (db, sink, app, records)
}

/// Eva posts a signed post from her provider's server; both members receive it.
async fn post_signed(app: &TestApp, db: &TestDb, sink: &Sink) {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO mail.signed.example").await;
    let r = c
        .post(
            "eva@signed.example",
            &["board@lists.test"],
            &signed_post(db.dir.path()),
        )
        .await;
    assert!(r.starts_with("250"), "{r}");
    sink.wait_for_recipients(2, WAIT).await;
}

/// A post DKIM-signed by its author's domain (signed.example), as the author's provider sends it.
fn signed_post(dir: &std::path::Path) -> String {
    let (path, _) = publish_key(dir, "signed.example", "mail");
    let key = keys::load(&path).unwrap().key;
    let post = "From: Eva <eva@signed.example>\r\nTo: board@lists.test\r\nSubject: Agenda\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <agenda@signed.example>\r\n\r\nItems for Thursday.\r\n";
    let signature = DkimSigner::from_key(key)
        .domain("signed.example")
        .selector("mail")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(post.as_bytes())
        .unwrap();
    format!("{}{post}", signature.to_header())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_are_arc_sealed_and_the_seal_verifies_with_mail_auth_and_dkimpy() {
    let (db, sink, app, records) = sealed_list(true).await;
    post_signed(&app, &db, &sink).await;
    let auth = circlemail::dmarc::authenticator(&[dns::server()]).unwrap();
    for copy in sink.messages() {
        let text = copy.text();
        let head = text.split("\r\n\r\n").next().unwrap();
        assert!(head.contains("ARC-Seal: i=1; a=rsa-sha256;"), "{head}");
        assert!(head.contains("cv=none"), "first in the chain: {head}");
        let aar = head.split("ARC-Authentication-Results:").nth(1).unwrap();
        let aar = aar.split("\r\nARC-").next().unwrap();
        assert!(
            aar.contains("dkim=pass header.d=signed.example"),
            "the author's signature passed when the post arrived: {aar}"
        );
        // Our changes (prefix, footer) broke the author's signature; the seal vouches for it.
        let parsed = AuthenticatedMessage::parse(&copy.data).unwrap();
        let arc = auth.verify_arc(&parsed).await;
        assert_eq!(arc.result(), &DkimResult::Pass, "mail-auth: {head}");
        let (ok, out) =
            crate::support::python::run(ARC_VERIFY, copy.data.clone(), records.clone()).await;
        assert!(ok, "dkimpy arc_verify: {out}");
        assert!(
            head.contains(&format!("To: <{}>", copy.rcpts[0])),
            "personal copy"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_domain_with_arc_switched_off_is_not_sealed() {
    let (db, sink, app, _) = sealed_list(false).await;
    post_signed(&app, &db, &sink).await;
    for copy in sink.messages() {
        let text = copy.text();
        assert!(!text.contains("ARC-Seal:"), "{text}");
        assert!(text.starts_with("DKIM-Signature:"), "still DKIM-signed");
    }
    app.stop().await;
}
