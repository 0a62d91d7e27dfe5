//! The archive pages at scale: one list with 100,000 archived messages (36 months, threads of
//! 1–9 messages, bodies of varied words), read through the real server over HTTP by a signed-in
//! member. Prints the median server round trip of a month page, a thread page, a message page
//! and searches, next to the targets (pages < 100 ms, search < 200 ms), and the time to stream
//! an mbox of a month.
//!
//!     cargo bench --bench archive               # 100,000 messages
//!     cargo bench --bench archive -- 5000       # fewer
//!     CIRCLEMAIL_TEST_POSTGRES=postgres://postgres@127.0.0.1/test cargo bench --bench archive -- --postgres

use std::time::{Duration, Instant};

use circlemail::{
    admin::access::hash_token,
    app::App,
    archive,
    config::{Config, Secret},
    model::address::EmailAddress,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WORDS: &[&str] = &[
    "budget",
    "hall",
    "rent",
    "meeting",
    "agenda",
    "minutes",
    "vote",
    "treasurer",
    "party",
    "summer",
    "winter",
    "choir",
    "concert",
    "tickets",
    "volunteers",
    "coffee",
    "cake",
    "board",
    "members",
    "årsmöte",
    "kassör",
    "protokoll",
    "styrelsen",
    "räksmörgås",
    "fika",
    "lokal",
    "hyra",
    "budgeten",
    "spring",
    "autumn",
    "website",
    "newsletter",
    "insurance",
    "keys",
    "cleaning",
    "schedule",
];

fn word(seed: u64) -> &'static str {
    WORDS[(seed % WORDS.len() as u64) as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let postgres = args.iter().any(|a| a == "--postgres");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = if postgres {
        match std::env::var("CIRCLEMAIL_TEST_POSTGRES") {
            Ok(url) => url,
            Err(_) => {
                println!("postgres: skipped (set CIRCLEMAIL_TEST_POSTGRES to measure it)");
                return;
            }
        }
    } else {
        format!("sqlite://{}/bench.db", dir.path().display())
    };
    println!("backend: {}", if postgres { "postgres" } else { "sqlite" });
    runtime.block_on(run(n, &url));
}

async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> (u16, String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\nOrigin: http://{addr}\r\n"
    );
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body);
    s.write_all(head.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head, raw[(split + 4).min(raw.len())..].to_vec())
}

fn set_cookie(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .filter_map(|l| l.split_once(':').map(|(_, v)| v.trim()))
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
}

/// Median of `runs` round trips of GET `path`.
async fn median(
    addr: std::net::SocketAddr,
    cookie: &str,
    path: &str,
    runs: usize,
) -> (Duration, usize) {
    let (status, _, body) = http(addr, "GET", path, cookie, "").await; // warm
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let (_, _, body) = http(addr, "GET", path, cookie, "").await;
        times.push(start.elapsed());
        size = body.len();
    }
    times.sort();
    (times[runs / 2], size)
}

async fn run(n: usize, url: &str) {
    let mut config = Config::default();
    config.server.hostname = "bench.test".into();
    config.server.domains = vec!["lists.test".into()];
    config.smtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    let http_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    config.http.listen = http_port;
    config.http.public_url = format!("http://{http_port}");
    config.database.url = Secret::new(url);
    config.delivery.relay = "smtp://127.0.0.1:9".into();
    let app = App::build(config).await.expect("app");
    let store = app.store().clone();
    let addr = app.http_addr().expect("http");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // A new list each run (a PostgreSQL database is kept between runs).
    let local = format!("board{}", rand::random::<u32>());
    let group = store
        .create_group(
            &local,
            Some(&EmailAddress::parse(&format!("{local}@lists.test")).unwrap()),
            now,
        )
        .await
        .unwrap();
    let person = store
        .upsert_person(&EmailAddress::parse("reader@x.org").unwrap(), None, now)
        .await
        .unwrap();
    store.add_member(group.id, person.id, now).await.unwrap();

    // The archive: 36 months back from now, threads of 1–9 messages.
    let start = Instant::now();
    let span = 36i64 * 30 * 24 * 3600 * 1000;
    let first = now - span;
    let mut batch = Vec::with_capacity(1000);
    let analyze = if url.starts_with("postgres") {
        Some(
            sqlx::postgres::PgPool::connect(url)
                .await
                .expect("postgres"),
        )
    } else {
        None
    };
    let mut thread_root = String::new();
    let mut thread_left = 0u64;
    let mut subject = String::new();
    for i in 0..n as u64 {
        let at = first + span * i as i64 / n as i64;
        let seed = i.wrapping_mul(2654435761);
        let mid = format!("m{i}@bench.test");
        let (subj, refs) = if thread_left == 0 {
            thread_left = seed % 9;
            thread_root = mid.clone();
            subject = format!("{} {} {i}", word(seed), word(seed >> 7));
            (subject.clone(), String::new())
        } else {
            thread_left -= 1;
            (
                format!("Re: {subject}"),
                format!("In-Reply-To: <{thread_root}>\r\nReferences: <{thread_root}>\r\n"),
            )
        };
        let mut body: Vec<&str> = (0..120).map(|k| word(seed >> (k % 40) ^ k)).collect();
        // A rare word: in one message in a thousand (the others are in almost every message).
        if i % 1000 == 7 {
            body.push("zebrafink");
        }
        let date = chrono::DateTime::from_timestamp_millis(at)
            .unwrap()
            .to_rfc2822();
        let raw = format!(
            "From: Member {m} <member{m}@x.org>\r\nTo: {local}@lists.test\r\nSubject: {subj}\r\nMessage-ID: <{mid}>\r\n{refs}Date: {date}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n\r\n> quoted line one\r\n> quoted line two\r\n",
            body.join(" "),
            m = seed % 500,
        )
        .into_bytes();
        let entry = archive::entry(&raw).expect("readable");
        batch.push((entry, raw, at));
        if batch.len() == 1000 {
            store
                .archive_import_batch(group.id, &batch)
                .await
                .expect("import");
            batch.clear();
            // PostgreSQL: what autovacuum would do while the table grows (the test server runs
            // without it). Without statistics the lookups by Message-ID kept a plan made for an
            // empty table and walked the whole list: seeding slowed from ~90 to ~7 messages/s
            // by 60,000 messages.
            if let Some(pool) = &analyze
                && (i + 1) % 10_000 == 0
            {
                sqlx::raw_sql("ANALYZE archive_messages, archive_refs")
                    .execute(pool)
                    .await
                    .expect("analyze");
            }
        }
    }
    store
        .archive_import_batch(group.id, &batch)
        .await
        .expect("import");
    println!(
        "archived {n} messages in one list in {:.1} s ({:.0} messages/s, single transactions of 1,000)",
        start.elapsed().as_secs_f64(),
        n as f64 / start.elapsed().as_secs_f64()
    );

    // PostgreSQL: what autovacuum does to a table that has grown (the test server runs without
    // it): statistics for the planner and the visibility map that lets counts and filters read
    // the indexes only. Without it, right after seeding, the list page took 284 ms and a
    // common word 336 ms instead of 27 ms and 184 ms.
    if url.starts_with("postgres") {
        let pool = sqlx::postgres::PgPool::connect(url)
            .await
            .expect("postgres");
        sqlx::raw_sql("VACUUM ANALYZE archive_messages, archive_refs")
            .execute(&pool)
            .await
            .expect("vacuum");
        pool.close().await;
    }

    let task = tokio::spawn(async move {
        let _ = app.run_until(std::future::pending::<()>()).await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Sign in as the member: a link made in the store, redeemed through the page.
    let token = format!("cs_benchlink{:016x}", rand::random::<u64>());
    store
        .create_signin_link(&hash_token(&token), person.id, None, now, now + 3_600_000)
        .await
        .unwrap();
    let (_, head, _) = http(addr, "GET", &format!("/signin/{token}"), "", "").await;
    let pre = set_cookie(&head, "cm_pre").expect("pre-session cookie");
    let (_, _, page) = http(addr, "GET", &format!("/signin/{token}"), &pre, "").await;
    let page = String::from_utf8_lossy(&page);
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("form token");
    let (status, head, _) = http(
        addr,
        "POST",
        &format!("/signin/{token}"),
        &pre,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(status, 303, "{head}");
    let cookie = set_cookie(&head, "cm_session").expect("session");

    let months = store.archive_months(group.id).await.unwrap();
    let busiest = months.iter().max_by_key(|m| m.count).unwrap().clone();
    let rows = store.archive_month(group.id, &busiest.month).await.unwrap();
    let biggest = rows.iter().max_by_key(|r| r.count).unwrap();
    let id = group.id;
    println!("pages, median server round trip over HTTP (2 shared cores, ±2× between days):");
    let (t, size) = median(addr, &cookie, &format!("/archives/{id}"), 21).await;
    println!(
        "  list page ({} months)            {:>7.1} ms  (target < 100 ms) {size} B",
        months.len(),
        t.as_secs_f64() * 1000.0
    );
    let (t, size) = median(
        addr,
        &cookie,
        &format!("/archives/{id}/month/{}", busiest.month),
        21,
    )
    .await;
    println!(
        "  month page ({} messages, {} threads) {:>7.1} ms  (target < 100 ms) {size} B",
        busiest.count,
        rows.len(),
        t.as_secs_f64() * 1000.0
    );
    let (t, size) = median(
        addr,
        &cookie,
        &format!("/archives/{id}/thread/{}", biggest.thread_id),
        21,
    )
    .await;
    println!(
        "  thread page ({} messages)        {:>7.1} ms  (target < 100 ms) {size} B",
        biggest.count,
        t.as_secs_f64() * 1000.0
    );
    let (t, size) = median(
        addr,
        &cookie,
        &format!("/archives/{id}/message/{}", biggest.first.key),
        21,
    )
    .await;
    println!(
        "  message page                     {:>7.1} ms  (target < 100 ms) {size} B",
        t.as_secs_f64() * 1000.0
    );
    for (what, q) in [
        (
            "search, one word (in ~97% of messages)",
            "q=r%C3%A4ksm%C3%B6rg%C3%A5s",
        ),
        (
            "search, the same, page 5",
            "q=r%C3%A4ksm%C3%B6rg%C3%A5s&page=5",
        ),
        ("search, a rare word (1 in 1,000)", "q=zebrafink"),
        ("search, a word in no message", "q=xylofon"),
        ("search, two words", "q=budget+hall"),
        ("search, word + author filter", "q=coffee&author=member7%40"),
        ("search, subject filter only", "subject=summer"),
        (
            "search, word + date range",
            "q=concert&from=2026-01-01&until=2026-06-30",
        ),
    ] {
        let (t, size) = median(addr, &cookie, &format!("/archives/{id}/search?{q}"), 11).await;
        println!(
            "  {what:<40} {:>7.1} ms  (target < 200 ms) {size} B",
            t.as_secs_f64() * 1000.0
        );
    }
    // The mbox of the month, read as it comes; the bench's resident memory (the server runs
    // in this process) is sampled while it streams.
    let before = rss_kib();
    let start = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        format!(
            "GET /archives/{id}/month/{}/mbox HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n",
            busiest.month
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let mut buf = vec![0u8; 64 * 1024];
    let (mut bytes, mut peak) = (0usize, before);
    loop {
        let got = s.read(&mut buf).await.expect("read");
        if got == 0 {
            break;
        }
        bytes += got;
        peak = peak.max(rss_kib());
    }
    println!(
        "  mbox of the month ({} messages)        {:>7.1} ms  {bytes} bytes streamed; resident memory {} → at most {} KiB while streaming",
        busiest.count,
        start.elapsed().as_secs_f64() * 1000.0,
        before,
        peak
    );

    // The same month imported as an mbox into a new list: the path an administrator's upload
    // and `circlemail archive import` take (read, threaded, indexed, 200 to a transaction).
    let ids = store
        .archive_ids(group.id, Some(&busiest.month), None)
        .await
        .unwrap();
    let mut mbox = Vec::new();
    for chunk in ids.chunks(500) {
        for (sender, at, raw) in store.archive_raw(chunk).await.unwrap() {
            archive::mbox::write_message(&mut mbox, &sender, at, &raw);
        }
    }
    let copy = format!("copy{}", rand::random::<u32>());
    let copy = store
        .create_group(
            &copy,
            Some(&EmailAddress::parse(&format!("{copy}@lists.test")).unwrap()),
            now,
        )
        .await
        .unwrap();
    let start = Instant::now();
    let report = archive::mbox::import(&store, copy.id, &mbox[..], now, |_, _| {
        std::future::ready(())
    })
    .await
    .unwrap();
    let took = start.elapsed().as_secs_f64();
    println!(
        "  mbox import of that month             {:>7.1} ms  {} added, {:.0} messages/s, {:.1} MB/s",
        took * 1000.0,
        report.added,
        report.added as f64 / took,
        mbox.len() as f64 / took / 1e6
    );
    task.abort();
}

/// This process's resident memory (KiB), from /proc (0 where there is none).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}
