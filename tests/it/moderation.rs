//! Who may post and what happens to the rest: held posts and the moderation round trip by link
//! and by API, refusals inside the SMTP dialogue (and nothing ever sent to the envelope sender).

use std::{sync::Arc, time::Duration};

use circlemail::{
    clock::{Clock, ManualClock},
    groups::Resolver,
    model::address::EmailAddress,
    moderation::Moderation,
    posting::Posting,
    queue::Queue,
    store::{Store, held::NewHeld},
    tokens::Signer,
};
use serde_json::json;

use crate::on_both_backends;
use crate::support::{
    app::{TestApp, message, test_config},
    db::TestDb,
    http::request,
    sink::Sink,
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(15);
const TOKEN: &str = "test-token-0123456789abcdef";

/// A board list: anna and bo are members, chair@x.org is its manager.
async fn board(db: &TestDb, settings: serde_json::Value) -> (Sink, TestApp, i64) {
    let sink = Sink::start().await;
    let mut config = test_config(&db.url, sink.addr);
    config.http.api_token = Some(circlemail::config::Secret::new(TOKEN));
    let app = TestApp::spawn(config).await;
    app.group("Board", "board", &["anna@x.org", "bo@x.org"])
        .await;
    let id = app.store.find_group("Board").await.unwrap().unwrap().id;
    let chair = app
        .store
        .upsert_person(&EmailAddress::parse("chair@x.org").unwrap(), None, 0)
        .await
        .unwrap();
    app.store
        .add_member_with_term(id, chair.id, "manager", None, None, 0)
        .await
        .unwrap();
    app.store
        .set_settings(id, &settings.to_string())
        .await
        .unwrap();
    (sink, app, id)
}

async fn post_as(app: &TestApp, envelope: &str, from: &str, subject: &str) -> String {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.test").await;
    assert!(
        c.cmd(&format!("MAIL FROM:<{envelope}>"))
            .await
            .starts_with("250")
    );
    assert!(c.cmd("RCPT TO:<board@lists.test>").await.starts_with("250"));
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(&message(from, "board@lists.test", subject, "Please read."))
        .await;
    c.send("\r\n.\r\n").await;
    c.reply().await
}

/// The moderation link for `action` in the notice the manager received.
fn link(sink: &Sink, action: &str) -> String {
    let notices = sink.by_recipient();
    let text = notices["chair@x.org"]
        .iter()
        .map(|m| m.text())
        .find(|t| t.contains("/moderate/"))
        .expect("a moderation notice");
    text.split_whitespace()
        .filter_map(|w| {
            w.split_once("/moderate/")
                .map(|(_, t)| format!("/moderate/{t}"))
        })
        .find(|path| path.contains(&format!(".{action}.")))
        .unwrap_or_else(|| panic!("no {action} link in {text}"))
}

on_both_backends!(
    a_non_member_post_is_held_approved_through_the_link_then_delivered,
    async |db: &TestDb| {
        let (sink, app, _) = board(db, json!({})).await;
        let reply = post_as(&app, "guest@y.org", "Guest <guest@y.org>", "Offer").await;
        assert!(
            reply.starts_with(
                "250 2.0.0 Held for moderation: Board takes posts from its members only"
            ),
            "{reply}"
        );

        sink.wait_for_recipients(1, WAIT).await;
        let notice = &sink.by_recipient()["chair@x.org"][0];
        assert_eq!(notice.mail_from, "board-bounces@lists.test");
        assert_eq!(
            notice.header("From").as_deref(),
            Some("\"Board\" <board-owner@lists.test>")
        );
        assert_eq!(
            notice.header("Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
        assert!(notice.text().contains("guest@y.org"));

        // GET shows a page and changes nothing (link scanners follow links).
        let approve = link(&sink, "approve");
        let page = request(app.http, "GET", &approve, None, None).await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("Approve this post?")
                && page.body.contains("<form method=\"post\">"),
            "{}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.recipient_count(), 1, "nothing sent by a GET");
        assert_eq!(app.store.held_posts("held").await.unwrap().len(), 1);

        // POST approves: the post goes to the members.
        let done = request(app.http, "POST", &approve, None, Some("")).await;
        assert_eq!(done.status, 200, "{}", done.body);
        sink.wait_for_recipients(1 + 3, WAIT).await;
        let got = sink.by_recipient();
        for m in ["anna@x.org", "bo@x.org"] {
            let copy = got[m].last().unwrap();
            assert_eq!(copy.header("Subject").as_deref(), Some("Offer"));
            assert_eq!(
                copy.header("List-Id").as_deref(),
                Some("\"Board\" <board.lists.test>")
            );
        }

        // One-time: the same link, or another action, finds nothing left to do.
        assert_eq!(
            request(app.http, "POST", &approve, None, Some(""))
                .await
                .status,
            409
        );
        assert_eq!(
            request(app.http, "POST", &link(&sink, "discard"), None, Some(""))
                .await
                .status,
            409
        );
        let tampered = approve.replacen("approve", "discard", 1);
        assert_eq!(
            request(app.http, "GET", &tampered, None, None).await.status,
            400
        );
        app.stop().await;
    }
);

#[tokio::test]
async fn a_refused_post_gets_550_in_the_dialogue_and_nothing_goes_to_the_envelope_sender() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let (sink, app, _) = board(&db, json!({"nonmember_action": "reject"})).await;
    let reply = post_as(&app, "victim@forged.example", "Spammer <spam@y.org>", "Buy").await;
    assert!(
        reply.starts_with("550 5.7.1 Post refused: Board takes posts from its members only"),
        "{reply}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        sink.messages().is_empty(),
        "no bounce, no notice: {:?}",
        sink.by_recipient().keys().collect::<Vec<_>>()
    );
    assert!(app.store.held_posts("held").await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_announce_list_takes_posts_from_its_managers_only() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let (sink, app, _) = board(
        &db,
        json!({"who_may_post": "managers", "member_action": "reject"}),
    )
    .await;
    let member = post_as(&app, "anna@x.org", "anna@x.org", "Me too").await;
    assert!(
        member.starts_with("550 5.7.1 Post refused: only the managers of Board post to it"),
        "{member}"
    );
    let leader = post_as(
        &app,
        "chair@x.org",
        "Chair <chair@x.org>",
        "Course material",
    )
    .await;
    assert!(leader.starts_with("250 2.0.0 Queued as"), "{leader}");
    sink.wait_for_recipients(3, WAIT).await;
    assert!(
        sink.messages()
            .iter()
            .all(|m| m.header("Subject").as_deref() == Some("Course material"))
    );
    app.stop().await;
}

#[tokio::test]
async fn the_api_lists_held_posts_and_a_rejection_tells_the_author_not_the_envelope() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let (sink, app, _) = board(&db, json!({"language": "de"})).await;
    post_as(
        &app,
        "bounce-1234@mailer.y.org",
        "Guest <guest@y.org>",
        "Angebot",
    )
    .await;
    sink.wait_for_recipients(1, WAIT).await;
    assert!(
        sink.by_recipient()["chair@x.org"][0]
            .text()
            .contains("wartet auf die Entscheidung"),
        "the list's language"
    );

    let api = |m: &'static str, p: String, b: Option<&'static str>| {
        let http = app.http;
        async move { request(http, m, &p, Some(TOKEN), b).await }
    };
    let held = api("GET", "/api/v1/moderation".into(), None).await.json();
    let id = held["held"][0]["id"].as_i64().unwrap();
    assert_eq!(held["held"][0]["author"], "guest@y.org");
    let r = api(
        "POST",
        format!("/api/v1/moderation/{id}/reject"),
        Some(r#"{"reason": "Bitte keine Werbung."}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["held"]["status"], "rejected");
    sink.wait_for_recipients(2, WAIT).await;
    let got = sink.by_recipient();
    assert!(
        got["guest@y.org"][0]
            .text()
            .contains("Bitte keine Werbung.")
    );
    assert!(
        !got.contains_key("bounce-1234@mailer.y.org"),
        "the envelope sender gets nothing"
    );
    assert_eq!(
        api("POST", format!("/api/v1/moderation/{id}/approve"), None)
            .await
            .status,
        409
    );
    assert_eq!(
        api("POST", format!("/api/v1/moderation/{id}/bless"), None)
            .await
            .status,
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn a_sender_over_the_hourly_limit_is_told_to_try_later() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let (_sink, app, _) = board(&db, json!({"posts_per_hour": 1})).await;
    assert!(
        post_as(&app, "anna@x.org", "anna@x.org", "One")
            .await
            .starts_with("250")
    );
    let second = post_as(&app, "anna@x.org", "anna@x.org", "Two").await;
    assert!(
        second.starts_with("451 4.7.1 Try again later: Board takes at most 1 posts per hour"),
        "{second}"
    );
    assert!(
        post_as(&app, "bo@x.org", "bo@x.org", "Bo's")
            .await
            .starts_with("250"),
        "the limit is per sender"
    );
    app.stop().await;
}

#[tokio::test]
async fn mail_to_the_owner_address_reaches_the_managers_only() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let (sink, app, _) = board(&db, json!({})).await;
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client").await;
    let reply = c
        .post(
            "guest@y.org",
            &["board-owner@lists.test"],
            &message(
                "guest@y.org",
                "board-owner@lists.test",
                "Question",
                "How do I join?",
            ),
        )
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    sink.wait_for_recipients(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = sink.by_recipient();
    assert_eq!(got.keys().collect::<Vec<_>>(), ["chair@x.org"]);
    app.stop().await;
}

on_both_backends!(
    held_posts_expire_after_their_time_with_a_notice_to_the_author,
    async |db: &TestDb| {
        let store = Store::connect(&db.url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let clock = ManualClock::new(1_781_481_600_000);
        let group = store
            .create_group(
                "Board",
                Some(&EmailAddress::parse("board@lists.test").unwrap()),
                0,
            )
            .await
            .unwrap();
        let now = clock.now_ms();
        let queue = Queue::new(store.clone());
        let held = NewHeld {
            group_id: group.id,
            author: "guest@y.org".into(),
            envelope_from: "guest@y.org".into(),
            subject: Some("Old".into()),
            reason: "non-member".into(),
            raw: b"From: guest@y.org\r\nSubject: Old\r\n\r\nx\r\n".to_vec(),
            helo: "h".into(),
            peer: "127.0.0.1".into(),
            received_at: now,
            expires_at: now + 14 * 86_400_000,
        };
        queue.enqueue(&[], &[], &[held]).await.unwrap();
        let moderation = Moderation {
            posting: Arc::new(Posting {
                arc: None,
                links: None,
                dmarc: Arc::new(circlemail::dmarc::DmarcPolicies::new(Arc::new(
                    circlemail::dmarc::authenticator(&["127.0.0.1:9".parse().unwrap()]).unwrap(),
                ))),
                store: store.clone(),
                resolver: Arc::new(Resolver::new(store.clone(), Arc::new(clock.clone()))),
                queue,
                clock: Arc::new(clock.clone()),
                hostname: "circlemail.test".into(),
            }),
            signer: Signer::new(vec![7; 32]),
            public_url: "http://localhost".into(),
        };
        clock.advance(13 * 86_400_000);
        assert_eq!(moderation.expire_due().await.unwrap(), 0);
        clock.advance(2 * 86_400_000);
        assert_eq!(moderation.expire_due().await.unwrap(), 1);
        assert!(store.held_posts("held").await.unwrap().is_empty());
        assert_eq!(store.held_posts("expired").await.unwrap().len(), 1);
        let counts = store.delivery_counts(None).await.unwrap();
        assert_eq!(counts.queued, 1, "a notice to the author is queued");
        assert_eq!(moderation.expire_due().await.unwrap(), 0, "once");
    }
);
