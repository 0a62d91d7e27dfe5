//! Group resolution at association scale: 100,000 people, 2,000 groups nested up to 10 deep
//! (with diamonds), 50 rule-based groups. Prints the import rate, the time to load the directory,
//! to resolve the top group (100,000 recipients) and to explain one person; then, against the
//! real server over HTTP: an admin write followed by a read, and the top group's recipients;
//! and the peak memory of a fresh server process that takes a post to the top group and
//! delivers it to all 100,000 (to a counting sink).
//! Each figure is printed next to its target.
//!
//!     cargo bench --bench groups                 # SQLite
//!     cargo bench --bench groups -- 20000        # fewer people
//!     CIRCLEMAIL_TEST_POSTGRES=postgres://postgres@127.0.0.1/test cargo bench --bench groups -- --postgres
//!     cargo bench --bench groups -- --keep       # keep the database, to profile the last step

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use circlemail::{
    admin::import::import_csv,
    clock::SystemClock,
    groups::{Resolver, criteria::Criteria, explain_in, recipients_in},
    store::Store,
};
use serde_json::json;

const GROUPS: usize = 2000;
const RULE_GROUPS: usize = 50;

#[path = "../tests/it/support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../tests/it/support/sink.rs"]
#[allow(dead_code)]
mod sink;

const TOKEN: &str = "bench-token-0123456789abcdef";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--rss-child") {
        return rss_child(&args[1], args[2].parse().expect("recipients"));
    }
    let people: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let postgres = args.iter().any(|a| a == "--postgres");
    // --keep: the database stays (its URL is printed), to run the last step again under a
    // profiler: `groups --rss-child URL RECIPIENTS`.
    let keep = args.iter().any(|a| a == "--keep");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = if postgres {
            let admin =
                std::env::var("CIRCLEMAIL_TEST_POSTGRES").expect("set CIRCLEMAIL_TEST_POSTGRES");
            fresh_pg_database(&admin).await
        } else {
            format!("sqlite://{}/bench.db", dir.path().display())
        };
        run(&url, people).await;
        if keep {
            let _ = dir.keep();
            println!("kept the database: {url}");
        }
    });
    println!("peak memory (VmHWM): {}", peak_memory());
}

async fn run(url: &str, people: usize) {
    let store = Store::connect(url, 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    println!(
        "backend: {}, {people} people, {GROUPS} groups, {RULE_GROUPS} rule groups",
        url.split(':').next().unwrap_or("")
    );

    // 1. Import: every person in one or two of the groups G1..G1999.
    let csv = association_csv(people);
    let start = Instant::now();
    let report = import_csv(&store, csv.as_bytes(), 0, |_| {})
        .await
        .expect("import");
    let took = start.elapsed();
    println!(
        "import: {} rows in {:.1} s = {:.0} rows/s ({} skipped)",
        report.rows,
        took.as_secs_f64(),
        report.rows as f64 / took.as_secs_f64(),
        report.skipped.len()
    );

    // 2. Nesting: a binary tree G0 ← G1, G2; G1 ← G3, G4; … (depth 10), plus diamond edges.
    let mut ids = Vec::with_capacity(GROUPS);
    for i in 0..GROUPS {
        let g = match store.find_group(&format!("G{i}")).await.unwrap() {
            Some(g) => g,
            None => store.create_group(&format!("G{i}"), None, 0).await.unwrap(),
        };
        ids.push(g.id);
    }
    for i in 1..GROUPS {
        store
            .add_subgroup(ids[(i - 1) / 2], ids[i], false)
            .await
            .unwrap();
        if i % 7 == 0 && (i - 1) / 3 != (i - 1) / 2 && (i - 1) / 3 < i {
            store
                .add_subgroup(ids[(i - 1) / 3], ids[i], false)
                .await
                .unwrap();
        }
    }
    // 3. Fifty rule groups under the first internal groups.
    for r in 0..RULE_GROUPS {
        let rule = match r % 5 {
            0 => {
                json!({"field": "membership_type", "op": "equals", "value": format!("Type{}", r % 7)})
            }
            1 => {
                json!({"field": "team", "op": "in", "value": [format!("Team{}", r % 20), format!("Team{}", (r + 1) % 20)]})
            }
            2 => {
                json!({"any": [{"field": "status", "op": "equals", "value": "active"}, {"field": "left", "op": "within_last_months", "value": 4}]})
            }
            3 => {
                json!({"all": [{"field": "status", "op": "equals", "value": "resigned"}, {"field": "membership_type", "op": "not_in", "value": ["Type1", "Type2"]}]})
            }
            _ => json!({"field": "joined", "op": "within_last_months", "value": 24}),
        };
        let g = store
            .create_group(&format!("Rule{r}"), None, 0)
            .await
            .unwrap();
        store
            .set_criteria(g.id, Some(&Criteria::parse(&rule).unwrap().to_json()))
            .await
            .unwrap();
        store.add_subgroup(ids[r % 31], g.id, false).await.unwrap();
    }

    // 4. Loading the directory (what the first post after a change pays).
    let start = Instant::now();
    let rows = store.load_directory().await.expect("load");
    let loaded = start.elapsed();
    let start = Instant::now();
    let built = circlemail::groups::directory::Directory::build(rows);
    println!(
        "  read rows {:.0} ms, build {:.0} ms ({} people)",
        ms(loaded),
        ms(start.elapsed()),
        built.person_count()
    );
    drop(built);
    let resolver = Resolver::new(store.clone(), Arc::new(SystemClock));
    let start = Instant::now();
    let directory = resolver.directory().await.expect("directory");
    println!(
        "load + build directory: {:.0} ms ({} people)",
        ms(start.elapsed()),
        directory.person_count()
    );
    let today = resolver.today();

    // 5. Resolving the top group.
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..21 {
        let start = Instant::now();
        count = recipients_in(&directory, ids[0], today).len();
        times.push(start.elapsed());
    }
    println!(
        "resolve top group ({count} recipients): median {:.2} ms over {} runs (target < 50 ms)",
        ms(median(&mut times)),
        times.len()
    );
    let mut times = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        resolver.recipients(ids[0]).await.unwrap();
        times.push(start.elapsed());
    }
    println!(
        "resolve top group through Resolver (with version check): median {:.2} ms",
        ms(median(&mut times))
    );

    // 6. Explaining one person deep in the tree.
    let deep = store
        .members(ids[GROUPS - 1])
        .await
        .unwrap()
        .first()
        .map(|m| m.person_id)
        .expect("the deepest group has members");
    let mut times = Vec::new();
    let mut paths = 0;
    for _ in 0..101 {
        let start = Instant::now();
        paths = explain_in(&directory, ids[0], deep, today)
            .map(|e| e.paths.len())
            .unwrap_or(0);
        times.push(start.elapsed());
    }
    println!(
        "explain one person ({paths} paths): median {:.3} ms over {} runs (target < 5 ms)",
        ms(median(&mut times)),
        times.len()
    );

    // 7. The members' page (/me): why one person gets each list, every group taken as a list.
    let mut times = Vec::new();
    let mut lists = 0;
    for _ in 0..11 {
        let start = Instant::now();
        lists = ids
            .iter()
            .filter_map(|g| explain_in(&directory, *g, deep, today))
            .filter(|e| e.member)
            .count();
        times.push(start.elapsed());
    }
    println!(
        "/me: explain one person against all {GROUPS} groups ({lists} with them): median {:.1} ms over {} runs (target < 100 ms)",
        ms(median(&mut times)),
        times.len()
    );

    drop(directory);
    drop(resolver);

    // 8. The real server on this database, over HTTP.
    server_figures(url, &store, &ids, people).await;

    // 9. Peak memory of a fresh server process that fans a post out to the top group.
    let address =
        circlemail::model::address::EmailAddress::parse("everyone@lists.test").expect("address");
    store
        .update_group(ids[0], None, Some(Some(&address)))
        .await
        .expect("the top group's address");
    store
        .set_settings(
            ids[0],
            r#"{"from_mode": "as_written", "who_may_post": "anyone", "unsubscribe_links": false}"#,
        )
        .await
        .expect("settings");
    let out = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args(["--rss-child", url, &count.to_string()])
        .output()
        .expect("child runs");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
}

/// A fresh process running the server on this database (as `circlemail serve` would, with the
/// default delivery settings) takes a post to the top group over SMTP and delivers it to all
/// its recipients, batched, to a counting sink in the same process (it keeps no message):
/// the directory load, the resolution, the queued recipients and the delivery are all in the
/// peak.
fn rss_child(url: &str, recipients: usize) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let sink = sink::Sink::start().await;
        sink.count_only();
        let mut config = circlemail::config::Config::default();
        config.server.hostname = "bench.test".into();
        config.server.domains = vec!["lists.test".into()];
        config.smtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
        config.http.listen = "127.0.0.1:0".parse().unwrap();
        config.database.url = circlemail::config::Secret::new(url);
        config.delivery.relay = format!("smtp://{}", sink.addr);
        config.delivery.relay_tls = circlemail::config::RelayTls::None;
        let app = circlemail::app::App::build(config).await.expect("server");
        let smtp = app.smtp_addrs()[0];
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        let before = peak_memory();
        let start = Instant::now();
        let stream = tokio::net::TcpStream::connect(smtp).await.expect("connect");
        let mut s = tokio::io::BufReader::new(stream);
        s.get_mut()
            .write_all(b"EHLO bench\r\nMAIL FROM:<chair@example.org>\r\nRCPT TO:<everyone@lists.test>\r\nDATA\r\n")
            .await
            .expect("write");
        let mut line = String::new();
        loop {
            line.clear();
            s.read_line(&mut line).await.expect("read");
            assert!(!line.is_empty(), "the server hung up");
            if line.starts_with("354") {
                break;
            }
            assert!(!line.starts_with('5'), "refused: {line}");
        }
        let body = "Dear members,\r\n\r\nthe annual meeting is on Thursday.\r\n".repeat(40);
        s.get_mut()
            .write_all(
                format!("From: Chair <chair@example.org>\r\nTo: everyone@lists.test\r\nSubject: Annual meeting\r\n\r\n{body}.\r\nQUIT\r\n")
                    .as_bytes(),
            )
            .await
            .expect("write");
        line.clear();
        s.read_line(&mut line).await.expect("read");
        assert!(line.starts_with("250"), "post refused: {line}");
        sink.wait_for_recipients(recipients, Duration::from_secs(900))
            .await;
        let took = start.elapsed();
        println!(
            "fresh server process: a post to the top group delivered to all {recipients} recipients in {:.1} s ({:.0} recipients/s); peak memory (VmHWM) {} (before the post: {}; target < 120 MB)",
            took.as_secs_f64(),
            recipients as f64 / took.as_secs_f64(),
            peak_memory(),
            before,
        );
        let _ = stop.send(());
        let _ = task.await;
    });
}

async fn server_figures(url: &str, store: &Store, ids: &[i64], people: usize) {
    let mut config = circlemail::config::Config::default();
    config.server.hostname = "bench.test".into();
    config.server.domains = vec!["lists.test".into()];
    config.smtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.http.api_token = Some(circlemail::config::Secret::new(TOKEN));
    config.database.url = circlemail::config::Secret::new(url);
    config.delivery.relay = "smtp://127.0.0.1:9".into();
    let app = circlemail::app::App::build(config).await.expect("server");
    let addr = app.http_addr().expect("http");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    // Requests go as an administrator would make them: an owner account's personal token
    // (its access is worked out per request, unlike the break-glass token's).
    let owner = store
        .upsert_person(
            &circlemail::model::address::EmailAddress::parse("owner@bench.test").expect("address"),
            Some("Owner"),
            0,
        )
        .await
        .expect("owner");
    let account = store.create_account(owner.id, 0).await.expect("account");
    store
        .add_grant("owner", Some(account.id), None, None, 0)
        .await
        .expect("grant");
    let token = circlemail::admin::access::new_token();
    store
        .add_token(
            account.id,
            "bench",
            &circlemail::admin::access::hash_token(&token),
            0,
        )
        .await
        .expect("token");
    let token = token.as_str();
    let get = |path: String| async move {
        let start = Instant::now();
        let r = http::request(addr, "GET", &format!("/api/v1{path}"), Some(token), None).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        (start.elapsed(), r)
    };
    let (first, _) = get(format!("/groups/{}", ids[1])).await;
    println!(
        "server: first request (loads the directory): {:.0} ms",
        ms(first)
    );
    // An admin write, then a read: the read pays for bringing the directory up to date.
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    for i in 0..21 {
        let group = ids[1 + (i * 37) % (GROUPS - 1)];
        let body = serde_json::json!({ "email": format!("member{}@example{}.org", i * 13, (i * 13) % 100) })
            .to_string();
        let start = Instant::now();
        let r = http::request(
            addr,
            "POST",
            &format!("/api/v1/groups/{group}/members"),
            Some(token),
            Some(&body),
        )
        .await;
        assert!(r.status < 300, "add member: {} {}", r.status, r.body);
        writes.push(start.elapsed());
        let (took, _) = get(format!("/groups/{group}")).await;
        reads.push(took);
    }
    println!(
        "server: admin write (add a member) median {:.1} ms; the read after it median {:.1} ms, slowest {:.1} ms (target < 20 ms)",
        ms(median(&mut writes)),
        ms(median(&mut reads)),
        ms(*reads.iter().max().unwrap()),
    );
    // A change made by another instance (straight in the store) is in the next answer.
    let probe = store.create_group("Probe", None, 0).await.expect("probe");
    let (took, r) = get(format!("/groups/{}", probe.id)).await;
    assert!(r.body.contains("Probe"));
    println!(
        "server: read after another instance's write: {:.1} ms (seen at once)",
        ms(took)
    );
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..11 {
        let (took, r) = get(format!("/groups/{}/recipients", ids[0])).await;
        count = r.json()["count"].as_u64().unwrap_or(0);
        times.push(took);
    }
    println!(
        "server: top group's recipients over HTTP ({count} of {people}): median {:.1} ms (target < 50 ms)",
        ms(median(&mut times))
    );
    let _ = stop.send(());
    let _ = task.await;
}

fn association_csv(people: usize) -> String {
    let mut csv = String::with_capacity(people * 90);
    csv.push_str("email,name,status,membership_type,teams,groups,joined,left\n");
    for i in 0..people {
        let status = if i % 10 == 0 { "resigned" } else { "active" };
        let left = if i % 10 == 0 {
            format!("2026-{:02}-15", 1 + i % 9)
        } else {
            String::new()
        };
        let g1 = 1 + (i * 7919) % (GROUPS - 1);
        let groups = if i % 3 == 0 {
            format!("G{g1};G{}", 1 + (i * 104729) % (GROUPS - 1))
        } else {
            format!("G{g1}")
        };
        csv.push_str(&format!(
            "member{i}@example{}.org,Member {i},{status},Type{},Team{};Team{},{groups},20{:02}-03-01,{left}\n",
            i % 100,
            i % 7,
            i % 20,
            (i / 20) % 20,
            10 + i % 16
        ));
    }
    csv
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

async fn fresh_pg_database(admin: &str) -> String {
    use sqlx::{Connection, Executor};
    let name = format!("circlemail_bench_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect");
    let _ = conn
        .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await;
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create database");
    let mut url = url::Url::parse(admin).expect("url");
    url.set_path(&name);
    url.to_string()
}
