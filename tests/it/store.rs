//! The storage contract, on SQLite and PostgreSQL alike.

use circlemail::{
    model::address::EmailAddress,
    store::{
        Store,
        deliveries::{ClaimCursor, Recorded, STATISTICS_FROM},
        posts::NewPost,
    },
};

use crate::on_both_backends;
use crate::support::db::TestDb;

async fn open(db: &TestDb) -> Store {
    let store = Store::connect(&db.url, 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

async fn post_with(store: &Store, recipients: &[&str]) -> i64 {
    let group = store
        .create_group(&format!("G{}", rand::random::<u32>()), None, 0)
        .await
        .unwrap();
    let post = NewPost {
        kind: "post",
        personal: 0,
        author: None,
        queue_id: format!("Q{}", rand::random::<u64>()),
        group_id: Some(group.id),
        author_envelope: "a@x.org".into(),
        envelope_from: "g-bounces@lists.test".into(),
        message_id: None,
        received_at: 1_000,
        original: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
        list_copy: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
    };
    store.insert_accepted(&[post], &[], &[]).await.unwrap();
    group.id
}

on_both_backends!(
    leased_recipients_are_claimed_once_until_the_lease_expires,
    async |db: &TestDb| {
        let store = open(db).await;
        post_with(
            &store,
            &["a@x.org", "b@x.org", "c@x.org", "d@x.org", "e@x.org"],
        )
        .await;
        let now = 2_000;
        let a = store.claim_batch("A", now, now + 1_000, 3).await.unwrap();
        let b = store.claim_batch("B", now, now + 1_000, 3).await.unwrap();
        let c = store.claim_batch("C", now, now + 1_000, 3).await.unwrap();
        assert_eq!((a.len(), b.len(), c.len()), (3, 2, 0));
        assert!(
            a.iter().all(|x| !b.iter().any(|y| y.id == x.id)),
            "no recipient in two batches"
        );

        // A finishes; B dies. After B's lease, only B's recipients come back.
        let done: Vec<_> = a.iter().map(|c| (c.id, Recorded::Delivered)).collect();
        store.record_outcomes(&done, now + 10).await.unwrap();
        let again = store
            .claim_batch("C", now + 1_001, now + 2_000, 10)
            .await
            .unwrap();
        let mut ids: Vec<i64> = again.iter().map(|c| c.id).collect();
        ids.sort();
        let mut b_ids: Vec<i64> = b.iter().map(|c| c.id).collect();
        b_ids.sort();
        assert_eq!(ids, b_ids);
    }
);

on_both_backends!(
    deferred_recipients_wait_for_their_next_attempt,
    async |db: &TestDb| {
        let store = open(db).await;
        post_with(&store, &["a@x.org"]).await;
        let claimed = store.claim_batch("A", 2_000, 3_000, 10).await.unwrap();
        let deferred = Recorded::Deferred {
            error: "451 later".into(),
            next_attempt_at: 5_000,
        };
        store
            .record_outcomes(&[(claimed[0].id, deferred)], 2_100)
            .await
            .unwrap();
        assert_eq!(store.next_due_at().await.unwrap(), Some(5_000));
        assert!(
            store
                .claim_batch("A", 4_999, 9_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let retry = store.claim_batch("A", 5_000, 9_000, 10).await.unwrap();
        assert_eq!(retry.len(), 1);
        assert_eq!(retry[0].attempts, 1);
        store
            .record_outcomes(
                &[(
                    retry[0].id,
                    Recorded::Failed {
                        error: "550 no".into(),
                    },
                )],
                5_100,
            )
            .await
            .unwrap();
        assert_eq!(store.next_due_at().await.unwrap(), None);
        let counts = store.delivery_counts(None).await.unwrap();
        assert_eq!(counts.failed, 1);
    }
);

on_both_backends!(
    claims_that_follow_a_cursor_take_each_recipient_once,
    async |db: &TestDb| {
        let store = open(db).await;
        let members: Vec<String> = (0..23).map(|i| format!("m{i}@x.org")).collect();
        let refs: Vec<&str> = members.iter().map(String::as_str).collect();
        post_with(&store, &refs).await;
        let now = 2_000;

        // Two delivery loops, each following its own cursor through the same post.
        let (mut a, mut b): (Option<ClaimCursor>, Option<ClaimCursor>) = (None, None);
        let mut seen: Vec<i64> = Vec::new();
        for turn in 0..20 {
            let cursor = if turn % 2 == 0 { &mut a } else { &mut b };
            let batch = match *cursor {
                Some(after) => store
                    .claim_batch_after("L", now, now + 1_000, 4, after)
                    .await
                    .unwrap(),
                None => store.claim_batch("L", now, now + 1_000, 4).await.unwrap(),
            };
            assert!(batch.iter().all(|c| c.due == 1_000), "due when posted");
            *cursor = ClaimCursor::after(&batch).or(*cursor);
            seen.extend(batch.iter().map(|c| c.id));
        }
        let claimed = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!((claimed, seen.len()), (23, 23), "everyone once");
        let after = a.unwrap();
        assert!(
            store
                .claim_batch_after("L", now, now + 1_000, 4, after)
                .await
                .unwrap()
                .is_empty()
        );

        // A lease runs out unrecorded: the recipients come back due at the lease's end, ahead
        // of any cursor taken before; a full claim finds them too.
        let later = now + 1_001;
        let back = store
            .claim_batch_after("L", later, later + 1_000, 50, after)
            .await
            .unwrap();
        assert_eq!(back.len(), 23);
        assert!(back.iter().all(|c| c.due == now + 1_000));
        let done: Vec<_> = back[..20]
            .iter()
            .map(|c| (c.id, Recorded::Delivered))
            .collect();
        store.record_outcomes(&done, later).await.unwrap();

        // One is deferred to a time before the cursor's: only a full claim finds it.
        let retry = Recorded::Deferred {
            error: "451 later".into(),
            next_attempt_at: 1_500,
        };
        store
            .record_outcomes(&[(back[20].id, retry)], later)
            .await
            .unwrap();
        let cursor = ClaimCursor::after(&back).unwrap();
        let at = later + 2_000;
        assert!(
            store
                .claim_batch_after("L", at, at + 1_000, 1, cursor)
                .await
                .unwrap()
                .iter()
                .all(|c| c.id != back[20].id)
        );
        let full = store.claim_batch("L", at, at + 1_000, 1).await.unwrap();
        assert_eq!(full.len(), 1);
        assert_eq!((full[0].id, full[0].due), (back[20].id, 1_500));
    }
);

/// PostgreSQL plans claims from its statistics: a big post refreshes them as it is stored (see
/// `Store::added_deliveries`), or a million-recipient post is claimed from at 300/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_post_refreshes_the_postgres_statistics() {
    use crate::support::db::{Backend, postgres_url};
    use sqlx::Connection;
    let Some(url) = postgres_url("a_big_post_refreshes_the_postgres_statistics") else {
        return;
    };
    let db = TestDb::new(Backend::Postgres, Some(&url)).await;
    let store = open(&db).await;
    let members: Vec<String> = (0..STATISTICS_FROM)
        .map(|i| format!("m{i}@x.org"))
        .collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    post_with(&store, &refs).await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let rows: f32 =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE relname = 'deliveries'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    drop(conn);
    db.drop_database().await;
    assert!(rows >= STATISTICS_FROM as f32, "reltuples {rows}");
}

on_both_backends!(a_failed_insert_stores_nothing, async |db: &TestDb| {
    let store = open(db).await;
    let group = store.create_group("G", None, 0).await.unwrap();
    let post = NewPost {
        kind: "post",
        personal: 0,
        author: None,
        queue_id: "DUP".into(),
        group_id: Some(group.id),
        author_envelope: String::new(),
        envelope_from: "g-bounces@lists.test".into(),
        message_id: None,
        received_at: 1,
        original: vec![],
        list_copy: vec![],
        recipients: vec!["same@x.org".into(), "same@x.org".into()],
    };
    assert!(store.insert_accepted(&[post], &[], &[]).await.is_err());
    assert!(store.deliveries_of("DUP").await.unwrap().is_empty());
    assert_eq!(store.delivery_counts(None).await.unwrap().queued, 0);
});

on_both_backends!(
    people_are_one_per_address_whatever_the_case,
    async |db: &TestDb| {
        let store = open(db).await;
        let a = store
            .upsert_person(
                &EmailAddress::parse("Anna@Example.org").unwrap(),
                Some("Anna"),
                1,
            )
            .await
            .unwrap();
        let b = store
            .upsert_person(&EmailAddress::parse("anna@EXAMPLE.ORG").unwrap(), None, 2)
            .await
            .unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(
            b.name.as_deref(),
            Some("Anna"),
            "a missing name does not erase the stored one"
        );
        let g = store
            .create_group(
                "Board",
                Some(&EmailAddress::parse("board@lists.test").unwrap()),
                1,
            )
            .await
            .unwrap();
        assert!(store.add_member(g.id, a.id, 1).await.unwrap());
        assert!(
            !store.add_member(g.id, b.id, 1).await.unwrap(),
            "adding twice is harmless"
        );
        assert_eq!(store.members(g.id).await.unwrap().len(), 1);
        let dup = store
            .create_group(
                "Board2",
                Some(&EmailAddress::parse("BOARD@lists.test").unwrap()),
                1,
            )
            .await;
        assert!(dup.unwrap_err().to_string().contains("already the address"));
    }
);

/// A database made by an earlier version (migrations up to 0005) with posts being delivered
/// is upgraded in place: the rebuilt `posts` table keeps every post and every recipient, and
/// takes mail of the server itself (no group) afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_sqlite_database_with_mail_in_flight_upgrades_in_place() {
    use sqlx::{Executor, Row};
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < "0006" {
            std::fs::copy(&path, old.join(&name)).unwrap();
        }
    }
    let url = format!("sqlite://{}/old.db?mode=rwc", dir.path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    pool.execute("PRAGMA foreign_keys = ON").await.unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool.execute(
        "INSERT INTO groups (id, name, address, created_at) VALUES (7, 'Board', 'board@lists.test', 1);
         INSERT INTO posts (id, queue_id, group_id, author_envelope, envelope_from, received_at, size,
                            original, list_copy, kind, personal_to, author)
           VALUES (3, 'Q3', 7, 'a@x.org', 'board-bounces@lists.test', 5, 4, X'41424344', X'45464748',
                   'post', 2, 'a@x.org');
         INSERT INTO deliveries (post_id, recipient, status, next_attempt_at, updated_at)
           VALUES (3, 'ann@x.org', 'delivered', 5, 5), (3, 'bo@x.org', 'deferred', 9, 5),
                  (3, 'cy@x.org', 'queued', 5, 5);",
    )
    .await
    .unwrap();
    pool.close().await;

    let store = Store::connect(&format!("sqlite://{}/old.db", dir.path().display()), 2)
        .await
        .unwrap();
    store.migrate().await.expect("the upgrade runs");
    let rows = sqlx::query(
        "SELECT d.recipient, d.status, p.queue_id, p.group_id, p.list_copy, p.personal_to
         FROM deliveries d JOIN posts p ON p.id = d.post_id ORDER BY d.recipient",
    )
    .fetch_all(&sqlx::SqlitePool::connect(&url).await.unwrap())
    .await
    .unwrap();
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.get("recipient"), r.get("status")))
        .collect();
    assert_eq!(
        seen,
        [
            ("ann@x.org".into(), "delivered".into()),
            ("bo@x.org".into(), "deferred".into()),
            ("cy@x.org".into(), "queued".into())
        ]
    );
    assert_eq!(rows[0].get::<i64, _>("group_id"), 7);
    assert_eq!(rows[0].get::<Vec<u8>, _>("list_copy"), b"EFGH");
    assert_eq!(rows[0].get::<i64, _>("personal_to"), 2);
    // Mail for a person, of no group, fits now.
    let system = NewPost {
        kind: "system",
        personal: 0,
        author: None,
        queue_id: "QS".into(),
        group_id: None,
        author_envelope: String::new(),
        envelope_from: "no-reply@lists.test".into(),
        message_id: None,
        received_at: 10,
        original: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
        list_copy: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
        recipients: vec!["ann@x.org".into()],
    };
    store.insert_accepted(&[system], &[], &[]).await.unwrap();
    // Deleting the old post still takes its recipients with it (the reference survived).
    sqlx::query("DELETE FROM posts WHERE id = 3")
        .execute(&sqlx::SqlitePool::connect(&url).await.unwrap())
        .await
        .unwrap();
    let left = sqlx::query("SELECT COUNT(*) AS n FROM deliveries WHERE post_id = 3")
        .fetch_one(&sqlx::SqlitePool::connect(&url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(left.get::<i64, _>("n"), 0);
    // Starting again applies nothing and checks nothing.
    store.migrate().await.unwrap();
}

on_both_backends!(
    concurrent_messages_share_a_transaction_and_a_bad_one_fails_alone,
    async |db: &TestDb| {
        let store = open(db).await;
        let group = store.create_group("G", None, 0).await.unwrap();
        let post = |queue_id: String| NewPost {
            kind: "post",
            personal: 0,
            author: None,
            queue_id,
            group_id: Some(group.id),
            author_envelope: "a@x.org".into(),
            envelope_from: "g-bounces@lists.test".into(),
            message_id: None,
            received_at: 1,
            original: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
            list_copy: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
            recipients: vec!["m@x.org".into()],
        };
        let queue = circlemail::queue::Queue::new(store.clone());
        queue
            .enqueue(&[post("TAKEN".into())], &[], &[])
            .await
            .unwrap();
        // Many sessions at once (they gather into shared transactions), one of them with a
        // queue id already stored: only that one is refused.
        let mut sessions = Vec::new();
        for i in 0..60 {
            let (queue, p) = (
                queue.clone(),
                post(if i == 30 {
                    "TAKEN".into()
                } else {
                    format!("Q{i}")
                }),
            );
            sessions.push(tokio::spawn(async move {
                queue.enqueue(&[p], &[], &[]).await.is_ok()
            }));
        }
        let mut stored = 0;
        for (i, s) in sessions.into_iter().enumerate() {
            let ok = s.await.unwrap();
            assert_eq!(ok, i != 30, "session {i}");
            stored += usize::from(ok);
        }
        assert_eq!(stored, 59);
        for i in (0..60).filter(|&i| i != 30) {
            assert_eq!(
                store.deliveries_of(&format!("Q{i}")).await.unwrap().len(),
                1,
                "Q{i}"
            );
        }
        assert_eq!(store.delivery_counts(None).await.unwrap().queued, 60);
    }
);

on_both_backends!(
    server_mail_is_pruned_with_its_recipients,
    async |db: &TestDb| {
        let store = open(db).await;
        let sign_in = |to: &str| NewPost {
            kind: "system",
            personal: 0,
            author: None,
            queue_id: format!("S{}", rand::random::<u64>()),
            group_id: None,
            author_envelope: String::new(),
            envelope_from: "bounces@lists.test".into(),
            message_id: None,
            received_at: 1_000,
            original: b"Subject: Sign in\r\n\r\nlink\r\n".to_vec(),
            list_copy: b"Subject: Sign in\r\n\r\nlink\r\n".to_vec(),
            recipients: vec![to.to_string()],
        };
        let sent = sign_in("ann@x.org");
        let waiting = sign_in("bo@x.org");
        store
            .insert_accepted(std::slice::from_ref(&sent), &[], &[])
            .await
            .unwrap();
        let claimed = store.claim_batch("A", 2_000, 3_000, 1).await.unwrap();
        store
            .record_outcomes(&[(claimed[0].id, Recorded::Delivered)], 2_100)
            .await
            .unwrap();
        store
            .insert_accepted(std::slice::from_ref(&waiting), &[], &[])
            .await
            .unwrap();

        store.prune_signin(0, 5_000, 0).await.unwrap();
        assert!(
            store
                .deliveries_of(&sent.queue_id)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.deliveries_of(&waiting.queue_id).await.unwrap().len(),
            1
        );
        // Counted over the whole table (no join to the posts): no row of the pruned post is
        // left behind, and the mail still to be sent is kept.
        let all = store.delivery_counts(None).await.unwrap();
        assert_eq!((all.delivered, all.queued), (0, 1));
    }
);

on_both_backends!(
    the_directory_change_log_is_pruned_by_age,
    async |db: &TestDb| {
        let store = open(db).await;
        store.create_group("Choir", None, 0).await.unwrap();
        store.create_group("Board", None, 0).await.unwrap();
        assert_eq!(
            store.prune_directory_changes(3_600).await.unwrap(),
            0,
            "nothing is an hour old yet"
        );
        // A negative age puts the cut-off in the future: every change is older than that.
        let pruned = store.prune_directory_changes(-10).await.unwrap();
        assert!(pruned >= 2, "both groups' changes pruned, got {pruned}");
        assert_eq!(store.prune_directory_changes(-10).await.unwrap(), 0);
    }
);
