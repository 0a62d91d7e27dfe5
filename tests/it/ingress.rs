//! The SMTP dialogue as a client sees it: refusals, limits, pipelining, smuggling, BDAT, LMTP.

use std::time::Duration;

use crate::support::{
    app::{TestApp, message, test_config},
    db::{Backend, TestDb},
    sink::Sink,
    smtp::Client,
};

async fn started() -> (TestDb, Sink, TestApp) {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::start(&db, &sink).await;
    app.group("Board", "board", &["anna@example.org", "bo@example.net"])
        .await;
    (db, sink, app)
}

#[tokio::test]
async fn unknown_local_address_is_550_5_1_1_and_foreign_domain_is_relaying_denied() {
    let (_db, _sink, app) = started().await;
    let (mut c, greeting) = Client::connect(app.smtp).await;
    assert!(
        greeting.starts_with("220 circlemail.test ESMTP"),
        "{greeting}"
    );
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<anna@example.org>").await;
    let unknown = c.cmd("RCPT TO:<nobody@lists.test>").await;
    assert!(unknown.starts_with("550 5.1.1 "), "{unknown}");
    let foreign = c.cmd("RCPT TO:<victim@gmail.example>").await;
    assert!(
        foreign.starts_with("550 5.7.1 Relaying denied"),
        "{foreign}"
    );
    let known = c.cmd("RCPT TO:<Board@LISTS.test>").await;
    assert!(known.starts_with("250 2.1.5"), "{known}");
    app.stop().await;
}

#[tokio::test]
async fn commands_out_of_order_and_bad_syntax_get_clear_5xx_replies() {
    let (_db, _sink, app) = started().await;
    let (mut c, _) = Client::connect(app.smtp).await;
    assert!(
        c.cmd("MAIL FROM:<a@example.org>")
            .await
            .starts_with("503 5.5.1 Say EHLO")
    );
    c.cmd("EHLO client.test").await;
    assert!(
        c.cmd("RCPT TO:<board@lists.test>")
            .await
            .starts_with("503 5.5.1")
    );
    assert!(c.cmd("DATA").await.starts_with("503 5.5.1"));
    assert!(c.cmd("MAIL FROM:<not an address>").await.starts_with("501"));
    assert!(c.cmd("FROBNICATE").await.starts_with("500 5.5.1"));
    assert!(
        c.cmd("AUTH PLAIN AGFAYg==")
            .await
            .starts_with("503 5.5.1 AUTH is not available")
    );
    assert!(c.cmd("EXPN board@lists.test").await.starts_with("502"));
    let long = format!("NOOP {}", "x".repeat(100_000));
    assert!(
        c.cmd(&long).await.starts_with("500 5.5.6"),
        "an over-long line is refused"
    );
    assert!(
        c.cmd("NOOP").await.starts_with("250"),
        "the session goes on after errors"
    );
    assert!(c.cmd("QUIT").await.starts_with("221"));
    app.stop().await;
}

#[tokio::test]
async fn ehlo_advertises_the_extensions() {
    let (_db, _sink, app) = started().await;
    let (mut c, _) = Client::connect(app.smtp).await;
    let ehlo = c.cmd("EHLO client.test").await;
    for ext in [
        "PIPELINING",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "SIZE 65536",
    ] {
        assert!(ehlo.contains(ext), "EHLO reply lacks {ext}: {ehlo}");
    }
    assert!(
        !ehlo.contains("STARTTLS"),
        "no certificate configured, so no STARTTLS"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_oversize_message_is_refused_with_552_whether_declared_or_sent() {
    let (_db, sink, app) = started().await;
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.test").await;
    let declared = c.cmd("MAIL FROM:<anna@example.org> SIZE=100000000").await;
    assert!(declared.starts_with("552 5.3.4"), "{declared}");
    c.cmd("MAIL FROM:<anna@example.org>").await;
    c.cmd("RCPT TO:<board@lists.test>").await;
    c.cmd("DATA").await;
    let big = message(
        "anna@example.org",
        "board@lists.test",
        "big",
        &"0123456789abcdef\r\n".repeat(8000),
    );
    c.send(&big).await;
    c.send("\r\n.\r\n").await;
    let reply = c.reply().await;
    assert!(reply.starts_with("552 5.3.4"), "{reply}");
    // The session is still usable and nothing was stored.
    let ok = c
        .post(
            "anna@example.org",
            &["board@lists.test"],
            &message("anna@example.org", "board@lists.test", "small", "hi"),
        )
        .await;
    assert!(ok.starts_with("250 2.0.0 Queued as"), "{ok}");
    sink.wait_for_recipients(2, Duration::from_secs(10)).await;
    assert!(
        sink.messages()
            .iter()
            .all(|m| m.header("Subject").as_deref() == Some("small"))
    );
    app.stop().await;
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let (_db, sink, app) = started().await;
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.test").await;
    c.send("MAIL FROM:<anna@example.org>\r\nRCPT TO:<nobody@lists.test>\r\nRCPT TO:<board@lists.test>\r\nDATA\r\n").await;
    assert!(c.reply().await.starts_with("250 2.1.0"));
    assert!(c.reply().await.starts_with("550 5.1.1"));
    assert!(c.reply().await.starts_with("250 2.1.5"));
    assert!(c.reply().await.starts_with("354"));
    c.send(&message(
        "anna@example.org",
        "board@lists.test",
        "pipelined",
        "body",
    ))
    .await;
    c.send("\r\n.\r\nQUIT\r\n").await;
    assert!(c.reply().await.starts_with("250 2.0.0 Queued as"));
    assert!(c.reply().await.starts_with("221"));
    sink.wait_for_recipients(2, Duration::from_secs(10)).await;
    app.stop().await;
}

#[tokio::test]
async fn a_smuggling_attempt_does_not_split_the_message() {
    let (_db, sink, app) = started().await;
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<anna@example.org>").await;
    c.cmd("RCPT TO:<board@lists.test>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    // A bare-LF "end of data" followed by a smuggled second transaction, then the real end.
    let smuggled = "From: anna@example.org\r\nSubject: first\r\n\r\nhello\n.\nMAIL FROM:<ceo@example.org>\r\nRCPT TO:<board@lists.test>\r\nDATA\r\nFrom: ceo@example.org\r\nSubject: smuggled\r\n\r\nwire the money\r\n.\r\n";
    c.send(smuggled).await;
    let reply = c.reply().await;
    assert!(
        reply.starts_with("554 5.6.0"),
        "one refusal for the whole data: {reply}"
    );
    assert!(
        c.cmd("NOOP").await.starts_with("250"),
        "no stray replies were queued"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 0, "nothing was distributed");
    let counts = app.store.delivery_counts(None).await.unwrap();
    assert_eq!(counts.queued + counts.delivered, 0, "nothing was stored");
    app.stop().await;
}

#[tokio::test]
async fn bdat_chunks_make_one_message() {
    let (_db, sink, app) = started().await;
    app.settings("Board", r#"{"unsubscribe_footer": false}"#)
        .await;
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<anna@example.org>").await;
    c.cmd("RCPT TO:<board@lists.test>").await;
    let msg = message(
        "anna@example.org",
        "board@lists.test",
        "chunked",
        "part one\r\npart two\r\n",
    );
    let (a, b) = msg.split_at(40);
    c.send(&format!("BDAT {}\r\n{a}", a.len())).await;
    assert!(c.reply().await.starts_with("250"));
    c.send(&format!("BDAT {} LAST\r\n{b}", b.len())).await;
    let reply = c.reply().await;
    assert!(reply.starts_with("250 2.0.0 Queued as"), "{reply}");
    sink.wait_for_recipients(2, Duration::from_secs(10)).await;
    assert!(
        sink.messages()[0]
            .text()
            .ends_with("part one\r\npart two\r\n")
    );
    app.stop().await;
}

#[tokio::test]
async fn lmtp_answers_once_per_recipient_after_data() {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = test_config(&db.url, sink.addr);
    config.lmtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    let app = TestApp::spawn(config).await;
    app.group("Board", "board", &["anna@example.org"]).await;
    app.group("Youth", "youth", &["kim@example.org", "anna@example.org"])
        .await;
    let (mut c, greeting) = Client::connect(app.lmtp.unwrap()).await;
    assert!(greeting.contains("LMTP"), "{greeting}");
    assert!(c.cmd("EHLO x").await.starts_with("500"), "LMTP wants LHLO");
    assert!(c.cmd("LHLO mta.test").await.starts_with("250"));
    c.cmd("MAIL FROM:<anna@example.org>").await;
    c.cmd("RCPT TO:<board@lists.test>").await;
    c.cmd("RCPT TO:<youth@lists.test>").await;
    c.cmd("DATA").await;
    c.send(&message(
        "anna@example.org",
        "board@lists.test",
        "both",
        "hi",
    ))
    .await;
    c.send("\r\n.\r\n").await;
    let first = c.reply().await;
    let second = c.reply().await;
    assert!(
        first.starts_with("250 2.0.0 Queued as") && second.starts_with("250 2.0.0 Queued as"),
        "{first}{second}"
    );
    assert_ne!(first, second, "each group's post has its own queue id");
    sink.wait_for_recipients(3, Duration::from_secs(10)).await;
    app.stop().await;
}

#[tokio::test]
async fn mail_to_the_bounce_address_is_kept_and_not_distributed() {
    let (_db, sink, app) = started().await;
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO mta.example.net").await;
    let dsn = "From: MAILER-DAEMON@example.net\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nbo@example.net: mailbox full";
    let reply = c.post("", &["board-bounces@lists.test"], dsn).await;
    assert!(reply.starts_with("250"), "{reply}");
    let group = app.store.find_group("Board").await.unwrap().unwrap();
    assert_eq!(app.store.count_bounces(group.id).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        sink.messages().is_empty(),
        "a bounce is never sent to the list"
    );
    app.stop().await;
}
