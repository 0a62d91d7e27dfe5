//! Posts reach the members: who received what, with which headers, through a relay that
//! sometimes says no.

use std::{sync::atomic::Ordering, time::Duration};

use circlemail::model::address::EmailAddress;

use crate::on_both_backends;
use crate::support::{
    app::{TestApp, message, queue_id, test_config},
    db::TestDb,
    sink::Sink,
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(15);

async fn post(app: &TestApp, to: &str, msg: &str) -> String {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.example.org").await;
    let reply = c.post("anna@example.org", &[to], msg).await;
    c.cmd("QUIT").await;
    reply
}

on_both_backends!(
    a_post_reaches_exactly_the_three_members_with_the_body_intact,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let app = TestApp::start(db, &sink).await;
        let list = app
            .group(
                "Board",
                "board",
                &["anna@example.org", "bo@example.net", "cay@example.com"],
            )
            .await;
        app.group("Others", "others", &["outsider@example.org"])
            .await;
        // No footer: the body arrives byte for byte.
        app.settings("Board", r#"{"unsubscribe_footer": false}"#)
            .await;
        let body = "Minutes attached.\r\n.leading dot stays\r\n\r\nÅsa says hej.";
        let reply = post(
            &app,
            &list,
            &message("Anna <anna@example.org>", &list, "Minutes", body),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0 Queued as"), "{reply}");

        sink.wait_for_recipients(3, WAIT).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let got = sink.by_recipient();
        let mut who: Vec<_> = got.keys().cloned().collect();
        who.sort();
        assert_eq!(
            who,
            ["anna@example.org", "bo@example.net", "cay@example.com"]
        );
        for (rcpt, copies) in &got {
            assert_eq!(copies.len(), 1, "{rcpt} got {} copies", copies.len());
            let copy = &copies[0];
            // Each recipient has a copy of their own (personal unsubscribe link), so the
            // envelope sender is the list's bounce address with the recipient in it (VERP).
            assert!(
                copy.mail_from
                    .starts_with(&format!("board-bounces+{}=", rcpt.replace('@', "=")))
                    && copy.mail_from.ends_with("@lists.test"),
                "envelope sender is the list's VERP bounce address: {}",
                copy.mail_from
            );
            assert!(
                copy.text().ends_with(&format!("\r\n\r\n{body}\r\n")),
                "body intact: {}",
                copy.text()
            );
            assert_eq!(
                copy.header("From").as_deref(),
                Some("Anna <anna@example.org>")
            );
            assert_eq!(copy.header("Subject").as_deref(), Some("Minutes"));
            assert_eq!(
                copy.header("List-Id").as_deref(),
                Some("\"Board\" <board.lists.test>")
            );
            assert_eq!(
                copy.header("List-Post").as_deref(),
                Some("<mailto:board@lists.test>")
            );
            assert_eq!(copy.header("Precedence").as_deref(), Some("list"));
            assert_eq!(copy.header("X-Loop").as_deref(), Some("board@lists.test"));
            assert!(
                copy.header("Received")
                    .unwrap()
                    .contains("by circlemail.test")
            );
        }
        let counts = app.store.delivery_counts(None).await.unwrap();
        assert_eq!(
            (
                counts.delivered,
                counts.queued,
                counts.deferred,
                counts.failed
            ),
            (3, 0, 0, 0)
        );
        app.stop().await;
    }
);

on_both_backends!(
    a_relay_answering_4xx_for_a_while_delivers_after_it_recovers,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        sink.fail_temporarily(2);
        let app = TestApp::start(db, &sink).await;
        let list = app
            .group("Board", "board", &["anna@example.org", "bo@example.net"])
            .await;
        // One batched copy for both (no personal links): one transaction per attempt.
        app.settings("Board", r#"{"unsubscribe_links": false}"#)
            .await;
        let reply = post(
            &app,
            &list,
            &message("anna@example.org", &list, "Retry", "hello"),
        )
        .await;
        let queue_id = queue_id(&reply);

        sink.wait_for_recipients(2, WAIT).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(sink.recipient_count(), 2, "each recipient once");
        let rows = app.store.deliveries_of(&queue_id).await.unwrap();
        assert!(
            rows.iter()
                .all(|r| r.status == "delivered" && r.attempts == 3),
            "{rows:?}"
        );
        app.stop().await;
    }
);

on_both_backends!(
    a_relay_refusing_one_recipient_fails_only_that_one,
    async |db: &TestDb| {
        // Each member has a copy of their own; all go over one pipelined connection, where the
        // refused one's DATA is answered 554 and the next copies must still arrive.
        let sink = Sink::start().await;
        sink.refuse_recipient("gone@example.net", "550 5.1.1 No such user here");
        let app = TestApp::start(db, &sink).await;
        let list = app
            .group(
                "Board",
                "board",
                &[
                    "anna@example.org",
                    "gone@example.net",
                    "cay@example.com",
                    "dan@example.com",
                ],
            )
            .await;
        let reply = post(
            &app,
            &list,
            &message("anna@example.org", &list, "Hi", "hello"),
        )
        .await;
        let queue_id = queue_id(&reply);

        sink.wait_for_recipients(3, WAIT).await;
        let rows = app
            .deliveries_when(&queue_id, |r| r.status != "queued")
            .await;
        let gone = rows
            .iter()
            .find(|r| r.recipient == "gone@example.net")
            .unwrap();
        assert_eq!(gone.status, "failed");
        assert!(
            gone.last_error
                .as_deref()
                .unwrap()
                .contains("550 5.1.1 No such user here"),
            "{gone:?}"
        );
        assert_eq!(rows.iter().filter(|r| r.status == "delivered").count(), 3);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            sink.recipient_count(),
            3,
            "the refused recipient is not retried"
        );
        app.stop().await;
    }
);

/// How the relay (the sink) speaks, and whether our side may use BDAT.
#[derive(Clone, Copy, PartialEq)]
enum Speaks {
    /// No PIPELINING: one command, one reply.
    OneAtATime,
    /// PIPELINING (RFC 2920), DATA: one round trip per copy.
    Pipelining,
    /// PIPELINING and CHUNKING (RFC 3030): copies in groups, BDAT.
    Chunking,
    /// The relay offers CHUNKING but `delivery.chunking = false`: DATA as before.
    ChunkingTurnedOff,
}

/// A sink that speaks `speaks`, and an app delivering to it.
async fn relay_speaking(db: &TestDb, speaks: Speaks) -> (Sink, TestApp) {
    let sink = Sink::start().await;
    let mut config = test_config(&db.url, sink.addr);
    match speaks {
        Speaks::OneAtATime => sink.without_pipelining(),
        Speaks::Pipelining => {}
        Speaks::Chunking => sink.chunking(),
        Speaks::ChunkingTurnedOff => {
            sink.chunking();
            config.delivery.chunking = false;
        }
    }
    (sink, TestApp::spawn(config).await)
}

/// BDAT was used exactly when it should be.
fn assert_bdat_used(sink: &Sink, speaks: Speaks) {
    assert_eq!(
        sink.bdat_commands() > 0,
        speaks == Speaks::Chunking,
        "BDAT commands: {}",
        sink.bdat_commands()
    );
}

/// Five personal copies on one connection: the first MAIL FROM is answered 451, one recipient
/// is refused. Every reply must be matched to the right copy.
async fn refusals_in_the_middle(db: &TestDb, speaks: Speaks) {
    let (sink, app) = relay_speaking(db, speaks).await;
    sink.fail_temporarily(1);
    sink.refuse_recipient("gone@example.net", "550 5.1.1 No such user here");
    let members = [
        "a@example.org",
        "b@example.org",
        "gone@example.net",
        "c@example.org",
        "d@example.org",
    ];
    let list = app.group("Board", "board", &members).await;
    // Each copy names its recipient in To:, so a copy in the wrong transaction shows.
    app.settings("Board", r#"{"to_mode": "recipient"}"#).await;
    let reply = post(&app, &list, &message("a@example.org", &list, "Hi", "hello")).await;
    let queue_id = queue_id(&reply);
    sink.wait_for_recipients(4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = sink.by_recipient();
    assert_eq!(got.len(), 4, "{:?}", got.keys());
    for (rcpt, copies) in &got {
        assert_eq!(copies.len(), 1, "{rcpt}");
        // The copy in the transaction for `rcpt` is `rcpt`'s own: VERP sender and link.
        let verp = format!("board-bounces+{}=", rcpt.replace('@', "="));
        assert!(
            copies[0].mail_from.starts_with(&verp),
            "{}",
            copies[0].mail_from
        );
        assert_eq!(copies[0].rcpts, std::slice::from_ref(rcpt));
        assert!(
            copies[0].text().contains(&format!("To: <{rcpt}>")),
            "{rcpt} got someone else's copy"
        );
    }
    let rows = app.store.deliveries_of(&queue_id).await.unwrap();
    let gone = rows
        .iter()
        .find(|r| r.recipient == "gone@example.net")
        .unwrap();
    assert_eq!(gone.status, "failed", "{rows:?}");
    assert_eq!(
        rows.iter().filter(|r| r.status == "delivered").count(),
        4,
        "{rows:?}"
    );
    assert_eq!(
        rows.iter().map(|r| r.attempts).sum::<i64>(),
        6,
        "one copy was deferred once: {rows:?}"
    );
    assert_bdat_used(&sink, speaks);
    app.stop().await;
}

on_both_backends!(
    refusals_in_the_middle_of_a_pipelined_connection_keep_the_other_copies_in_step,
    async |db: &TestDb| {
        refusals_in_the_middle(db, Speaks::Pipelining).await;
    }
);

on_both_backends!(
    refusals_in_the_middle_of_a_group_of_bdat_copies_keep_the_other_copies_in_step,
    async |db: &TestDb| {
        refusals_in_the_middle(db, Speaks::Chunking).await;
    }
);

/// Four personal copies through a relay that greylists the first message (at DATA, or after
/// the last BDAT chunk) and takes two messages per connection before answering MAIL with 421
/// and hanging up: everyone gets exactly one copy, their own, with a dot line intact.
async fn greylisting_and_connection_limits(db: &TestDb, speaks: Speaks) {
    let (sink, app) = relay_speaking(db, speaks).await;
    // The greylisted transaction stays open (a nested MAIL is refused): the client must RSET.
    sink.refuse_data(1);
    sink.messages_per_connection(2);
    let members = [
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@example.org",
    ];
    let list = app.group("Board", "board", &members).await;
    app.settings("Board", r#"{"to_mode": "recipient"}"#).await;
    let body = "hello\r\n.dot line\r\n..two dots";
    let reply = post(&app, &list, &message("a@example.org", &list, "Hi", body)).await;
    let queue_id = queue_id(&reply);
    sink.wait_for_recipients(4, WAIT).await;
    let rows = app
        .deliveries_when(&queue_id, |r| r.status == "delivered")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = sink.by_recipient();
    assert_eq!(got.len(), 4, "{:?}", got.keys());
    for (rcpt, copies) in &got {
        assert_eq!(copies.len(), 1, "{rcpt} got {} copies", copies.len());
        assert_eq!(copies[0].rcpts, std::slice::from_ref(rcpt));
        let text = copies[0].text();
        assert!(text.contains(&format!("To: <{rcpt}>")), "{text}");
        // Dot-stuffed for DATA and unstuffed by the relay, or sent as it is by BDAT: the
        // member reads the lines as written.
        assert!(text.contains("\r\n.dot line\r\n..two dots"), "{text}");
    }
    assert!(rows.iter().all(|r| r.status == "delivered"), "{rows:?}");
    assert_eq!(
        rows.iter().map(|r| r.attempts).sum::<i64>(),
        5,
        "only the greylisted copy needed a second attempt: {rows:?}"
    );
    assert_eq!(sink.pipelined_anyway(), 0);
    assert_bdat_used(&sink, speaks);
    app.stop().await;
}

on_both_backends!(
    greylisting_at_data_and_a_message_limit_per_connection_cost_no_copy_and_duplicate_none,
    async |db: &TestDb| {
        greylisting_and_connection_limits(db, Speaks::Pipelining).await;
    }
);

on_both_backends!(the_same_without_pipelining, async |db: &TestDb| {
    greylisting_and_connection_limits(db, Speaks::OneAtATime).await;
});

on_both_backends!(the_same_with_bdat, async |db: &TestDb| {
    greylisting_and_connection_limits(db, Speaks::Chunking).await;
});

on_both_backends!(
    the_same_with_bdat_offered_but_turned_off,
    async |db: &TestDb| {
        greylisting_and_connection_limits(db, Speaks::ChunkingTurnedOff).await;
    }
);

on_both_backends!(
    a_relay_without_pipelining_gets_one_command_at_a_time,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        sink.without_pipelining();
        sink.refuse_recipient("gone@example.net", "550 5.1.1 No such user here");
        sink.fail_temporarily(1);
        let app = TestApp::start(db, &sink).await;
        let members = [
            "anna@example.org",
            "bo@example.net",
            "gone@example.net",
            "cay@example.com",
        ];
        let list = app.group("Board", "board", &members).await;
        let reply = post(
            &app,
            &list,
            &message("anna@example.org", &list, "Hi", "hello\r\n.dot line"),
        )
        .await;
        let queue_id = queue_id(&reply);

        sink.wait_for_recipients(3, WAIT).await;
        let rows = app
            .deliveries_when(&queue_id, |r| {
                r.status == "delivered" || r.status == "failed"
            })
            .await;
        let status = |who: &str| {
            rows.iter()
                .find(|r| r.recipient == who)
                .map(|r| r.status.clone())
        };
        assert_eq!(
            status("gone@example.net").as_deref(),
            Some("failed"),
            "{rows:?}"
        );
        for who in ["anna@example.org", "bo@example.net", "cay@example.com"] {
            assert_eq!(status(who).as_deref(), Some("delivered"), "{rows:?}");
        }
        let got = sink.by_recipient();
        assert_eq!(got.len(), 3, "{:?}", got.keys());
        for copies in got.values() {
            assert_eq!(copies.len(), 1);
            assert!(
                copies[0].text().contains("hello\r\n.dot line\r\n"),
                "{}",
                copies[0].text()
            );
        }
        assert_eq!(
            sink.pipelined_anyway(),
            0,
            "commands sent before their turn"
        );
        app.stop().await;
    }
);

on_both_backends!(
    large_groups_are_sent_in_batches_of_the_configured_size,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let mut config = test_config(&db.url, sink.addr);
        config.delivery.max_recipients_per_transaction = 2;
        let app = TestApp::spawn(config).await;
        let list = app
            .group(
                "Five",
                "five",
                &["a@x.org", "b@x.org", "c@x.org", "d@x.org", "e@x.org"],
            )
            .await;
        app.settings("Five", r#"{"unsubscribe_links": false}"#)
            .await;
        post(&app, &list, &message("a@x.org", &list, "Batches", "hi")).await;
        sink.wait_for_recipients(5, WAIT).await;
        let sizes: Vec<usize> = sink.messages().iter().map(|m| m.rcpts.len()).collect();
        assert_eq!(sizes.len(), 3, "{sizes:?}");
        assert!(sizes.iter().all(|&n| n <= 2));
        app.stop().await;
    }
);

on_both_backends!(
    a_worker_keeps_its_relay_connection_between_batches_up_to_the_configured_count,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let mut config = test_config(&db.url, sink.addr);
        config.delivery.workers = 1;
        config.delivery.max_recipients_per_transaction = 2;
        config.delivery.relay_transactions_per_connection = 4;
        let app = TestApp::spawn(config).await;
        let list = app
            .group(
                "Five",
                "five",
                &["a@x.org", "b@x.org", "c@x.org", "d@x.org", "e@x.org"],
            )
            .await;
        app.settings("Five", r#"{"unsubscribe_links": false}"#)
            .await;
        // Three batches, one transaction each, on one connection (RSET between batches).
        post(&app, &list, &message("a@x.org", &list, "One", "hi")).await;
        sink.wait_for_recipients(5, WAIT).await;
        assert_eq!(sink.connections.load(Ordering::SeqCst), 1);
        // Three more: the connection is closed after its fourth transaction, a new one takes
        // the rest.
        post(&app, &list, &message("a@x.org", &list, "Two", "hi")).await;
        sink.wait_for_recipients(10, WAIT).await;
        assert_eq!(sink.transactions.load(Ordering::SeqCst), 6);
        assert_eq!(sink.connections.load(Ordering::SeqCst), 2);
        assert_eq!(sink.by_recipient().values().map(Vec::len).max(), Some(2));
        app.stop().await;
    }
);

#[tokio::test]
async fn a_post_carrying_our_own_loop_marker_is_not_distributed_again() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::start(&db, &sink).await;
    let list = app.group("Board", "board", &["anna@example.org"]).await;
    let looped = format!(
        "X-Loop: {list}\r\n{}",
        message("anna@example.org", &list, "again", "hi")
    );
    let reply = post(&app, &list, &looped).await;
    assert!(
        reply.starts_with("250 2.0.0 Accepted but not distributed: mail loop"),
        "{reply}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(sink.messages().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn one_transaction_to_two_lists_makes_one_post_per_list() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::start(&db, &sink).await;
    let board = app
        .group("Board", "board", &["anna@example.org", "both@example.org"])
        .await;
    let youth = app
        .group("Youth", "youth", &["kim@example.org", "both@example.org"])
        .await;
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client").await;
    let reply = c
        .post(
            "anna@example.org",
            &[&board, &youth],
            &message("both@example.org", &board, "Both", "hi"),
        )
        .await;
    assert!(reply.starts_with("250 2.0.0 Queued as "), "{reply}");
    sink.wait_for_recipients(4, WAIT).await;
    let got = sink.by_recipient();
    let ids: Vec<String> = got["both@example.org"]
        .iter()
        .filter_map(|m| m.header("List-Id"))
        .collect();
    assert_eq!(ids.len(), 2, "a member of both lists gets each list's copy");
    assert!(
        ids.iter().any(|i| i.contains("board.lists.test"))
            && ids.iter().any(|i| i.contains("youth.lists.test"))
    );
    app.stop().await;
}

#[tokio::test]
async fn healthz_answers_ok_when_the_database_is_reachable() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::start(&db, &sink).await;
    let mut s = tokio::net::TcpStream::connect(app.http).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("{\"status\":\"ok\"}"), "{resp}");
    app.stop().await;
}

on_both_backends!(
    a_post_to_nested_groups_reaches_each_member_once_minus_opt_outs,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let mut config = test_config(&db.url, sink.addr);
        config.delivery.command_timeout = Duration::from_secs(1);
        config.delivery.lease = Duration::from_secs(1);
        let app = TestApp::spawn(config).await;
        let store = &app.store;
        app.group(
            "Circle leaders",
            "circle",
            &["anna@x.org", "both@x.org", "quiet@x.org"],
        )
        .await;
        app.group("Travel leaders", "travel", &["bo@x.org", "both@x.org"])
            .await;
        let all = app.group("All leaders", "leaders", &[]).await;
        let id =
            |name: &'static str| async move { store.find_group(name).await.unwrap().unwrap().id };
        let (all_id, circle_id, travel_id) = (
            id("All leaders").await,
            id("Circle leaders").await,
            id("Travel leaders").await,
        );
        store.add_subgroup(all_id, circle_id, false).await.unwrap();
        store.add_subgroup(all_id, travel_id, false).await.unwrap();
        let quiet = store
            .find_person(&EmailAddress::parse("quiet@x.org").unwrap())
            .await
            .unwrap()
            .unwrap();
        store
            .opt_out(quiet.id, Some(all_id), "link", 0)
            .await
            .unwrap();

        // The relay stalls, so the post waits in the queue while the group changes.
        sink.stall(true);
        let reply = post(
            &app,
            &all,
            &message("anna@x.org", &all, "Leaders' meeting", "Thursday."),
        )
        .await;
        assert!(reply.starts_with("250"), "{reply}");
        let late = store
            .upsert_person(&EmailAddress::parse("late@x.org").unwrap(), None, 0)
            .await
            .unwrap();
        store.add_member(travel_id, late.id, 0).await.unwrap();
        sink.stall(false);

        sink.wait_for_recipients(3, WAIT).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = sink.by_recipient();
        let mut who: Vec<&String> = got.keys().collect();
        who.sort();
        assert_eq!(
            who,
            ["anna@x.org", "bo@x.org", "both@x.org"],
            "once each; not the opted-out, not the late-comer"
        );
        assert!(got.values().all(|copies| copies.len() == 1));
        app.stop().await;
    }
);
