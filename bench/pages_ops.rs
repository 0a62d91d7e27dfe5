//! Server time of the operations pages at association scale: the real server (in-process, on
//! loopback) with 100,000 people in 2,000 groups (200 departments of 10 nested groups), 30 held
//! posts and 20,000 audit entries; an owner's session. Each page is asked for 20 times after a
//! warm-up (the directory built once); printed: the median and the slowest, next to the 100 ms
//! target. The time is the whole request on loopback (the session, the caller's permissions,
//! the in-process API calls, the template).
//!
//!     cargo bench --bench pages_ops                 # 100,000 people, SQLite
//!     cargo bench --bench pages_ops -- 10000        # fewer people

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use circlemail::{
    admin::{access::hash_token, import::import_csv},
    app::App,
    clock::SystemClock,
    config::{Config, RelayTls, Secret},
    model::address::EmailAddress,
    store::{Store, accounts::AuditEntry, held::NewHeld, signin::NewSession},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const GROUPS: usize = 2_000;
const DEPARTMENT: usize = 10;
const HELD: usize = 30;
const AUDIT: usize = 20_000;
const RUNS: usize = 20;
const TARGET_MS: f64 = 100.0;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let people: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        run(
            &format!("sqlite://{}/bench.db", dir.path().display()),
            people,
        )
        .await;
    });
}

fn csv(people: usize) -> String {
    let mut csv = String::from("email,name,external_id,status,teams,groups,joined\n");
    for i in 0..people {
        csv.push_str(&format!(
            "member{i}@example.org,Member {i},{},{},{},G{},2020-01-{:02}\n",
            100_000 + i,
            if i % 10 == 0 { "resigned" } else { "active" },
            if i % 3 == 0 { "Leaders" } else { "" },
            i % GROUPS,
            1 + i % 28
        ));
    }
    csv
}

async fn get(addr: SocketAddr, path: &str, cookie: &str) -> (u16, usize) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: cm_session={cookie}\r\nAccept-Language: en\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, raw.len())
}

async fn time(addr: SocketAddr, cookie: &str, what: &str, path: &str) {
    let (status, size) = get(addr, path, cookie).await; // warm
    assert_eq!(status, 200, "{path} answered {status}");
    let mut ms = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let (status, _) = get(addr, path, cookie).await;
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status, 200);
    }
    ms.sort_by(f64::total_cmp);
    let median = ms[RUNS / 2];
    let worst = ms[RUNS - 1];
    println!(
        "{what:<28} median {median:7.1} ms   slowest {worst:7.1} ms   target {TARGET_MS:.0} ms  {}  ({} KB)",
        if worst < TARGET_MS { "ok" } else { "OVER" },
        size / 1024
    );
}

async fn run(url: &str, people: usize) {
    let store = Store::connect(url, 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    let started = Instant::now();
    import_csv(&store, csv(people).as_bytes(), 0, |_| {})
        .await
        .expect("import");
    let mut ids = Vec::with_capacity(GROUPS);
    for g in 0..GROUPS {
        ids.push(
            store
                .find_group(&format!("G{g}"))
                .await
                .unwrap()
                .expect("group")
                .id,
        );
    }
    for g in 0..GROUPS {
        if g % DEPARTMENT != 0 {
            store.add_subgroup(ids[g - 1], ids[g], false).await.unwrap();
        }
    }
    // Lists: every department's top group has an address, and holds posts.
    let list = EmailAddress::parse("g0@lists.test").unwrap();
    store
        .update_group(ids[0], None, Some(Some(&list)))
        .await
        .unwrap();
    let now = chrono_now();
    let held: Vec<NewHeld> = (0..HELD)
        .map(|i| NewHeld {
            group_id: ids[0],
            author: format!("guest{i}@y.org"),
            envelope_from: format!("guest{i}@y.org"),
            subject: Some(format!("Offer {i}")),
            reason: "the sender is not a member".into(),
            raw: format!(
                "From: guest{i}@y.org\r\nTo: g0@lists.test\r\nSubject: Offer {i}\r\n\r\nHello.\r\n"
            )
            .into_bytes(),
            helo: "client.test".into(),
            peer: "192.0.2.1".into(),
            received_at: now,
            expires_at: now + 86_400_000 * 7,
        })
        .collect();
    store.insert_accepted(&[], &[], &held).await.unwrap();
    // The owner: an account with a session.
    let owner = store
        .find_person(&EmailAddress::parse("member1@example.org").unwrap())
        .await
        .unwrap()
        .unwrap();
    let account = store.create_account(owner.id, now).await.unwrap();
    store
        .add_grant("owner", Some(account.id), None, None, now)
        .await
        .unwrap();
    for i in 0..AUDIT {
        store
            .append_audit(&AuditEntry {
                at: now - (AUDIT - i) as i64 * 1000,
                account_id: Some(account.id),
                actor: if i % 2 == 0 {
                    "member1@example.org".into()
                } else {
                    "break-glass token (http.api_token)".into()
                },
                action: "PATCH /people/{id}".into(),
                object: Some(format!("people/{}", i % people)),
                person_id: Some((i % people) as i64 + 1),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let link = "cs_bench_link";
    store
        .create_signin_link(&hash_token(link), owner.id, None, now, now + 600_000)
        .await
        .unwrap();
    let cookie = "bench-session-cookie-0123456789";
    let hash = hash_token(cookie);
    store
        .redeem_signin_link(
            &hash_token(link),
            &NewSession {
                token_hash: &hash,
                now,
                expires_at: now + 3_600_000,
                client: None,
                user_agent: None,
            },
        )
        .await
        .unwrap()
        .expect("a session");
    println!(
        "{people} people, {GROUPS} groups ({} departments), {HELD} held posts, {AUDIT} audit entries; set up in {:.0} s",
        GROUPS / DEPARTMENT,
        started.elapsed().as_secs_f64()
    );
    store.close().await;

    let mut config = Config::default();
    config.server.domains = vec!["lists.test".into()];
    config.smtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = http.local_addr().unwrap();
    drop(http);
    config.http.listen = addr;
    config.http.public_url = format!("http://{addr}");
    config.database.url = Secret::new(url);
    config.delivery.relay = "smtp://127.0.0.1:9".into();
    config.delivery.relay_tls = RelayTls::None;
    let app = App::build_with_clock(config, Arc::new(SystemClock))
        .await
        .expect("app");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let warm = Instant::now();
    let (status, _) = get(addr, "/admin", cookie).await;
    assert_eq!(status, 200, "the owner's session works");
    println!(
        "first page (builds the directory): {:.0} ms",
        warm.elapsed().as_secs_f64() * 1000.0
    );
    let person = (people / 2) as i64;
    time(addr, cookie, "moderation (30 held)", "/admin/moderation").await;
    time(addr, cookie, "held post", "/admin/moderation/1").await;
    time(addr, cookie, "people, first page", "/admin/people").await;
    time(
        addr,
        cookie,
        "people search \"member4242\"",
        "/admin/people?q=member4242",
    )
    .await;
    time(
        addr,
        cookie,
        "people search, member no.",
        "/admin/people?q=150000",
    )
    .await;
    time(
        addr,
        cookie,
        "person page",
        &format!("/admin/people/{person}"),
    )
    .await;
    time(addr, cookie, "audit log, newest", "/admin/audit").await;
    time(
        addr,
        cookie,
        "audit log, by actor",
        "/admin/audit?actor=member1%40example.org",
    )
    .await;
    time(
        addr,
        cookie,
        "audit log, by person",
        &format!("/admin/audit?person={person}"),
    )
    .await;
    time(addr, cookie, "accounts", "/admin/accounts").await;
    time(addr, cookie, "queue", "/admin/queue").await;
    // The first load right after a change to the directory (a member added, as a page or the
    // API would): no warm-up; the median and slowest of 5.
    let store = Store::connect(url, 2).await.expect("connect");
    // People 101… are not direct members of G1: each addition is a change.
    let mut n = 100;
    for (what, path) in [
        ("moderation after a change", "/admin/moderation".to_string()),
        ("accounts after a change", "/admin/accounts".into()),
        (
            "person page after a change",
            format!("/admin/people/{person}"),
        ),
    ] {
        let mut ms = Vec::new();
        for _ in 0..5 {
            n += 1;
            store
                .add_member(ids[1], n, chrono_now())
                .await
                .expect("a member added");
            let start = Instant::now();
            let (status, _) = get(addr, &path, cookie).await;
            ms.push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200, "{path}");
        }
        ms.sort_by(f64::total_cmp);
        let (median, worst) = (ms[ms.len() / 2], ms[ms.len() - 1]);
        println!(
            "{what:<28} median {median:7.1} ms   slowest {worst:7.1} ms   target {TARGET_MS:.0} ms  {}",
            if worst < TARGET_MS { "ok" } else { "OVER" },
        );
    }
    store.close().await;
    println!("(2 shared cores, ±2× between days)");
    let _ = stop.send(());
    let _ = server.await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
