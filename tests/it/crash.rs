//! `kill -9` between acceptance and delivery loses nothing and sends each recipient one copy.

use std::time::Duration;

use circlemail::{
    model::address::EmailAddress,
    store::{
        Store,
        import::{ImportIds, PersonRecord},
    },
};

use crate::on_both_backends;
use crate::support::{
    app::{message, seed_group},
    db::TestDb,
    process::{Server, write_config},
    sink::Sink,
    smtp::Client,
};

on_both_backends!(
    a_server_killed_mid_delivery_delivers_after_restart_each_recipient_once,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let config = write_config(db.dir.path(), &db.url, sink.addr);
        let server = Server::start(&config);

        let store = Store::connect(&db.url, 2).await.unwrap();
        let members = ["anna@example.org", "bo@example.net", "cay@example.com"];
        seed_group(&store, "Board", "board", &members).await;

        // The relay takes the connection but never answers: the batch is in flight when we kill.
        sink.stall(true);
        let (mut c, _) = Client::connect(server.smtp).await;
        c.cmd("EHLO client").await;
        let reply = c
            .post(
                "anna@example.org",
                &["board@lists.test"],
                &message("anna@example.org", "board@lists.test", "Survives", "hi"),
            )
            .await;
        assert!(reply.starts_with("250"), "{reply}");
        tokio::time::sleep(Duration::from_millis(600)).await;
        server.kill();
        assert!(sink.messages().is_empty());

        sink.stall(false);
        let server = Server::start(&config);
        sink.wait_for_recipients(3, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let got = sink.by_recipient();
        for m in members {
            assert_eq!(
                got.get(m).map(Vec::len),
                Some(1),
                "{m} must get exactly one copy: {:?}",
                got.keys()
            );
        }
        assert_eq!(got.len(), 3);
        server.kill();
        store.close().await;
    }
);

/// delivery.workers (the default, 4): one connection each, and on each at most five personal
/// copies whose content went out while their outcome was not yet written (the connection runs
/// up to four copies ahead of the disk).
const PERSONAL_DUPLICATE_BOUND: usize = 20;

on_both_backends!(
    a_personal_fan_out_killed_midway_repeats_at_most_five_copies_per_open_connection,
    async |db: &TestDb| {
        const MEMBERS: usize = 2_000;
        let sink = Sink::start().await;
        let config = write_config(db.dir.path(), &db.url, sink.addr);
        let store = Store::connect(&db.url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let now = crate::support::app::chrono_now();
        let address = EmailAddress::parse("many@lists.test").unwrap();
        let group = store
            .create_group("Many", Some(&address), now)
            .await
            .unwrap();
        // Personal List-Unsubscribe links (the default): one copy, one transaction, per member.
        store
            .set_settings(
                group.id,
                r#"{"from_mode": "as_written", "who_may_post": "anyone"}"#,
            )
            .await
            .unwrap();
        let records: Vec<PersonRecord> = (0..MEMBERS)
            .map(|i| PersonRecord {
                email: Some(EmailAddress::parse(&format!("p{i}@example{}.org", i % 7)).unwrap()),
                groups: vec!["Many".into()],
                ..PersonRecord::default()
            })
            .collect();
        let mut ids = ImportIds::default();
        store.import_chunk(&records, &mut ids, now).await.unwrap();

        let server = Server::start(&config);
        let (mut c, _) = Client::connect(server.smtp).await;
        c.cmd("EHLO client").await;
        let reply = c
            .post(
                "chair@example.org",
                &["many@lists.test"],
                &message("chair@example.org", "many@lists.test", "Personal", "hi"),
            )
            .await;
        assert!(reply.starts_with("250"), "{reply}");
        // Killed in the middle of batches: most workers are between two copies of a batch.
        sink.wait_for_recipients(MEMBERS / 3, Duration::from_secs(120))
            .await;
        server.kill();
        let before_restart = sink.recipient_count();
        assert!(
            before_restart < MEMBERS,
            "{before_restart} copies before the kill"
        );

        let server = Server::start(&config);
        sink.wait_for_recipients(MEMBERS, Duration::from_secs(120))
            .await;
        // Leases of the killed process are 3 s (PostgreSQL): anything still to come comes by then.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let got = sink.by_recipient();
        let duplicates: usize = got.values().map(|copies| copies.len() - 1).sum();
        eprintln!(
            "personal crash test ({}): {before_restart} copies before SIGKILL, {} in all, {duplicates} duplicates (bound {PERSONAL_DUPLICATE_BOUND})",
            db.url.split(':').next().unwrap_or(""),
            sink.recipient_count()
        );
        assert_eq!(got.len(), MEMBERS, "every member got the post");
        assert!(
            got.values()
                .all(|copies| copies.len() == 1 || copies.len() == 2),
            "no one gets a third copy"
        );
        assert!(
            duplicates <= PERSONAL_DUPLICATE_BOUND,
            "{duplicates} duplicates, more than one per connection"
        );
        let counts = store.delivery_counts(None).await.unwrap();
        assert_eq!(counts.delivered, MEMBERS as i64, "{counts:?}");
        server.kill();
        store.close().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_transaction_in_progress_finish_then_exits_cleanly() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let config = write_config(db.dir.path(), &db.url, sink.addr);
    let mut server = Server::start(&config);
    let store = Store::connect(&db.url, 1).await.unwrap();
    seed_group(&store, "Board", "board", &["anna@example.org"]).await;

    let (mut c, _) = Client::connect(server.smtp).await;
    c.cmd("EHLO client").await;
    assert!(
        c.cmd("MAIL FROM:<anna@example.org>")
            .await
            .starts_with("250")
    );
    assert!(c.cmd("RCPT TO:<board@lists.test>").await.starts_with("250"));
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(
        c.cmd("DATA").await.starts_with("354"),
        "the transaction in progress goes on"
    );
    c.send(&message(
        "anna@example.org",
        "board@lists.test",
        "Last words",
        "hi",
    ))
    .await;
    c.send("\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250 2.0.0 Queued as"));
    assert!(
        c.reply().await.starts_with("421 4.3.2"),
        "then the server says goodbye"
    );

    let smtp = server.smtp;
    let status = tokio::task::spawn_blocking(move || server.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        tokio::net::TcpStream::connect(smtp).await.is_err(),
        "no longer listening"
    );
    let counts = store.delivery_counts(None).await.unwrap();
    assert_eq!(
        counts.queued + counts.delivered,
        1,
        "the post was stored before the exit"
    );
}
