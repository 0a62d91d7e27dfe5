//! Daily digests to many members: the time to build and queue them (one run of the digest
//! sender: who gets it, the posts, the MIME digest, the deliveries in one transaction) and the
//! time to send them (the real server's queue: one RSA-signed copy per member with their own
//! unsubscribe link and VERP sender, to a local SMTP sink).
//!
//!     cargo bench --bench digest                    # 10,000 members, 20 posts, SQLite
//!     cargo bench --bench digest -- 1000 10         # members, posts
//!     CIRCLEMAIL_TEST_POSTGRES=postgres://postgres@127.0.0.1/test cargo bench --bench digest
//!
//! The sink shares the machine's cores with the server: the figures are a floor.

#[path = "../tests/it/support/sink.rs"]
#[allow(dead_code)]
mod sink;

use std::{sync::Arc, time::Duration};

use circlemail::{
    app::App,
    clock::{SharedClock, SystemClock},
    config::{Config, DkimKeyConfig, RelayTls, Secret},
    digest::{self, Mode, run::Digests},
    groups::Resolver,
    model::{address::EmailAddress, list_settings::ListSettings},
    queue::Queue,
    signing::keys,
    store::{
        Store,
        import::{ImportIds, PersonRecord},
        posts::NewPost,
    },
};
use sink::Sink;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let members: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let posts: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
        bench("sqlite", &sqlite, members, posts).await;
        match std::env::var("CIRCLEMAIL_TEST_POSTGRES") {
            Ok(url) => bench("postgres", &url, members, posts).await,
            Err(_) => println!("postgres: skipped (set CIRCLEMAIL_TEST_POSTGRES to measure it)"),
        }
    });
}

async fn bench(label: &str, db_url: &str, members: usize, posts: usize) {
    let sink = Sink::start().await;
    let key_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    let path = key_dir.path().join("rsa.pem");
    std::fs::write(&path, keys::generate("rsa").expect("key")).expect("write key");
    config.dkim.keys.push(DkimKeyConfig {
        domain: "lists.test".into(),
        selector: "bench".into(),
        private_key: path,
        arc: false,
    });
    config.server.domains = vec!["lists.test".into()];
    config.smtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.database.url = Secret::new(db_url);
    config.delivery.relay = format!("smtp://{}", sink.addr);
    config.delivery.relay_tls = RelayTls::None;
    config.delivery.poll_interval = Duration::from_millis(20);

    let store = Store::connect(db_url, 4).await.expect("store");
    store.migrate().await.expect("migrate");
    let clock: SharedClock = Arc::new(SystemClock);
    let now = clock.now_ms();
    let local = format!("digest{}", rand::random::<u32>());
    let address = EmailAddress::parse(&format!("{local}@lists.test")).unwrap();
    let group = store
        .create_group(&local, Some(&address), 0)
        .await
        .expect("group");
    let settings = ListSettings {
        digest_hour: 7,
        ..Default::default()
    };
    store
        .set_settings(group.id, &serde_json::to_string(&settings).unwrap())
        .await
        .expect("settings");
    let records: Vec<PersonRecord> = (0..members)
        .map(|i| PersonRecord {
            email: Some(EmailAddress::parse(&format!("member{i}@example{}.org", i % 50)).unwrap()),
            groups: vec![local.clone()],
            ..PersonRecord::default()
        })
        .collect();
    let mut ids = ImportIds::default();
    for chunk in records.chunks(1000) {
        store
            .import_chunk(chunk, &mut ids, 0)
            .await
            .expect("members");
    }
    let cutoff = digest::run::scheduled_cutoff(Mode::Daily, &settings, now - digest::run::GRACE_MS);
    digest::set_mode_for_members(&store, group.id, Mode::Daily, cutoff - 2 * 86_400_000)
        .await
        .expect("modes");
    let stored: Vec<NewPost> = (0..posts)
        .map(|i| {
            let at = cutoff - 3_600_000 + i as i64 * 1000;
            let body = "A line of a post of a typical length for an association's list.\r\n".repeat(30);
            let copy = format!(
                "From: Anna <anna@example.org>\r\nTo: {address}\r\nSubject: Post {i}\r\nMessage-ID: <bench{i}.{at}@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
            );
            NewPost {
                queue_id: format!("BENCH{i:04}{at}"),
                kind: "post",
                personal: 0,
                author: Some("anna@example.org".into()),
                group_id: Some(group.id),
                author_envelope: "anna@example.org".into(),
                envelope_from: "bounces@lists.test".into(),
                message_id: None,
                received_at: at,
                original: copy.clone().into_bytes(),
                list_copy: copy.into_bytes(),
                recipients: Vec::new(),
            }
        })
        .collect();
    store
        .insert_accepted(&stored, &[], &[])
        .await
        .expect("posts");

    // Build and queue: one run of the digest sender.
    let sender = Digests {
        store: store.clone(),
        resolver: Arc::new(Resolver::new(store.clone(), clock.clone())),
        clock: clock.clone(),
        queue: Queue::new(store.clone()),
        hostname: "circlemail.test".into(),
        poll: Duration::from_secs(60),
    };
    let start = std::time::Instant::now();
    let sent = sender
        .run_list(group.id, Mode::Daily, clock.now_ms())
        .await
        .expect("digest run")
        .expect("a period due");
    let built = start.elapsed();
    println!(
        "{label}: {members} daily-digest members, {} posts: built and queued {} digest(s) ({} bytes) for {} recipients in {:.0} ms",
        sent.posts,
        sent.digests,
        sent.bytes,
        sent.recipients,
        built.as_secs_f64() * 1e3
    );

    // Send: the real server's queue delivers them.
    let app = App::build_with_clock(config, clock.clone())
        .await
        .expect("app");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let start = std::time::Instant::now();
    sink.wait_for_recipients(members, Duration::from_secs(1200))
        .await;
    let delivered = start.elapsed();
    println!(
        "{label}: sent {members} digests (one RSA-signed copy each, own List-Unsubscribe, VERP) in {:.1} s: {:.0} digests/s; build + send {:.1} s",
        delivered.as_secs_f64(),
        members as f64 / delivered.as_secs_f64(),
        (built + delivered).as_secs_f64()
    );
    let _ = stop.send(());
    let _ = server.await;
    store.close().await;
}
