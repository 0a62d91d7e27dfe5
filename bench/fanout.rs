//! Fan-out rate: recipients per second from a post accepted over SMTP to copies received by a
//! local SMTP sink, through the real server (SMTP ingress, store, queue, relay delivery).
//!
//!     cargo bench --bench fanout                      # 1,000 members, SQLite
//!     cargo bench --bench fanout -- 10000 5           # members, runs
//!     cargo bench --bench fanout -- 10000,100000,1000000 1   # sizes in turn, rates vs the first
//!     CIRCLEMAIL_TEST_POSTGRES=postgres://postgres@127.0.0.1/test cargo bench --bench fanout
//!     CIRCLEMAIL_TEST_POSTGRES=… cargo bench --bench fanout -- 10000 3 2   # 2 instances
//!     cargo bench --bench fanout -- 10000 3 personal  # one RSA-signed copy per recipient
//!     cargo bench --bench fanout -- 10000 3 personal unsigned  # the same without a DKIM key
//!
//! Batched mode (the default): one copy for up to `max_recipients_per_transaction` recipients,
//! no personal unsubscribe links, no VERP. With a third argument N > 1, N servers share the
//! PostgreSQL database (SQLite is skipped: it is single-instance); posts go to the first, all of
//! them deliver.
//!
//! `personal`: the list keeps its personal List-Unsubscribe links (one copy per recipient, VERP
//! sender) and has an RSA-2048 DKIM key, so every recipient gets their own signed copy; after
//! each run the bench also measures the bare signing rate of this machine on all cores for the
//! same copy (full `sign()` calls for 1.5 s: the ceiling such a fan-out is compared with) and
//! prints the run's ratio, then the median of the ratios (a shared machine's speed drifts by
//! several percent between minutes, so each run is compared with the ceiling of its minute).
//! `unsigned` leaves the key out: what the personal copies cost besides signing.
//!
//! Prints one line per run and the median. The sink shares the machine's cores with the server,
//! so the figure is a floor for a real relay on another machine; it only counts what it
//! receives (it keeps the last message, for the signing ceiling), so a million copies fit.
//! Several sizes (comma-separated) run one after another on the same server, each with a list
//! of its own, and each size's rate is printed as a share of the first size's: the target for
//! linear fan-out is ≥ 80% at 100,000 and 1,000,000 against 10,000; for `personal` the target
//! is ≥ 95% of the bare signing rate. A run ends when the sink receives its last copy (the
//! sink wakes the bench at once).
//!
//! The server runs with the default configuration (its `delivery.poll_interval` of 5 s too: a
//! new post wakes delivery at once); `CIRCLEMAIL_BENCH_POLL_MS=20` sets the poll interval.
//! `CIRCLEMAIL_BENCH_BATCH=500` sets `delivery.max_recipients_per_transaction` (default: the
//! configuration's default), to compare batch sizes; `CIRCLEMAIL_BENCH_WORKERS=8` sets
//! `delivery.workers` (default 4).
//!
//! The sink offers PIPELINING and CHUNKING, as Postfix does, so copies go with BDAT, twenty to a
//! round trip; `CIRCLEMAIL_BENCH_NO_CHUNKING=1` makes it offer no CHUNKING (DATA, one copy per
//! round trip), to compare.

#[path = "ceiling.rs"]
mod ceiling;
#[path = "../tests/it/support/db.rs"]
#[allow(dead_code, unused_macros)]
mod db;
#[path = "../tests/it/support/sink.rs"]
#[allow(dead_code)]
mod sink;

use std::{sync::Arc, time::Duration};

use circlemail::{
    app::App,
    clock::SystemClock,
    config::{Config, DkimKeyConfig, RelayTls, Secret},
    model::address::EmailAddress,
    signing::{Signers, keys},
    store::import::{ImportIds, PersonRecord},
};
use sink::Sink;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let sizes: Vec<usize> = args
        .first()
        .map(|a| a.split(',').filter_map(|n| n.parse().ok()).collect())
        .filter(|s: &Vec<usize>| !s.is_empty())
        .unwrap_or_else(|| vec![1000]);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let instances: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1).max(1);
    let personal = args.iter().any(|a| a == "personal");
    let signed = personal && !args.iter().any(|a| a == "unsigned");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
        if instances == 1 {
            bench("sqlite", &sqlite, &sizes, runs, 1, personal, signed).await;
        }
        match std::env::var("CIRCLEMAIL_TEST_POSTGRES") {
            // A database of its own, dropped afterwards: runs on a database that earlier runs
            // filled (millions of people and deliveries, no autovacuum on a test server)
            // measured those leftovers.
            Ok(url) => {
                let fresh = db::TestDb::new(db::Backend::Postgres, Some(&url)).await;
                bench(
                    "postgres", &fresh.url, &sizes, runs, instances, personal, signed,
                )
                .await;
                fresh.drop_database().await;
            }
            Err(_) => println!("postgres: skipped (set CIRCLEMAIL_TEST_POSTGRES to measure it)"),
        }
    });
}

async fn bench(
    label: &str,
    db_url: &str,
    sizes: &[usize],
    runs: usize,
    instances: usize,
    personal: bool,
    signed: bool,
) {
    let (sink, sink_stat) = sink_on_its_own_thread();
    sink.count_only();
    let chunking = std::env::var_os("CIRCLEMAIL_BENCH_NO_CHUNKING").is_none();
    if chunking {
        sink.chunking();
    }
    let mut config = Config::default();
    let key_dir = tempfile::tempdir().expect("temp dir");
    if signed {
        let path = key_dir.path().join("rsa.pem");
        std::fs::write(&path, keys::generate("rsa").expect("key")).expect("write key");
        config.dkim.keys.push(DkimKeyConfig {
            domain: "lists.test".into(),
            selector: "bench".into(),
            private_key: path,
            arc: true,
        });
    }
    let signers = Signers::load(&config.dkim.keys).expect("keys");
    config.server.domains = vec!["lists.test".into()];
    config.smtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.database.url = Secret::new(db_url);
    config.delivery.relay = format!("smtp://{}", sink.addr);
    config.delivery.relay_tls = RelayTls::None;
    if let Some(ms) = std::env::var("CIRCLEMAIL_BENCH_POLL_MS")
        .ok()
        .and_then(|m| m.parse().ok())
    {
        config.delivery.poll_interval = Duration::from_millis(ms);
    }
    if let Some(batch) = std::env::var("CIRCLEMAIL_BENCH_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
    {
        config.delivery.max_recipients_per_transaction = batch;
    }
    if let Some(workers) = std::env::var("CIRCLEMAIL_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
    {
        config.delivery.workers = workers;
    }
    let workers = config.delivery.workers;
    let batch = config.delivery.max_recipients_per_transaction;
    let mut servers = Vec::new();
    let mut smtp = None;
    let mut store = None;
    for _ in 0..instances {
        let app = App::build_with_clock(config.clone(), Arc::new(SystemClock))
            .await
            .expect("app");
        smtp = smtp.or(Some(app.smtp_addrs()[0]));
        store = store.or(Some(app.store().clone()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        servers.push((stop, server));
    }
    let (smtp, store) = (smtp.expect("an instance"), store.expect("an instance"));

    let mut medians: Vec<(usize, f64)> = Vec::new();
    for &members in sizes {
        let local = format!("bench{}", rand::random::<u32>());
        let address = EmailAddress::parse(&format!("{local}@lists.test")).unwrap();
        let group = store
            .create_group(&local, Some(&address), 0)
            .await
            .expect("group");
        // Measure the fan-out, not a DMARC lookup of the author's domain (no DNS on a test machine);
        // anyone may post, so the author need not be a member.
        store
            .set_settings(
                group.id,
                if personal {
                    r#"{"from_mode": "as_written", "who_may_post": "anyone"}"#
                } else {
                    r#"{"from_mode": "as_written", "who_may_post": "anyone", "unsubscribe_links": false}"#
                },
            )
            .await
            .expect("settings");
        let records: Vec<PersonRecord> = (0..members)
            .map(|i| PersonRecord {
                email: Some(
                    EmailAddress::parse(&format!("member{i}@example{}.org", i % 50)).unwrap(),
                ),
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

        let mode = if signed {
            "one RSA-signed copy per recipient, personal List-Unsubscribe, VERP"
        } else if personal {
            "one unsigned copy per recipient, personal List-Unsubscribe, VERP"
        } else {
            "batched, no VERP"
        };
        println!(
            "{label}: {members} members, {instances} instance(s) × {workers} workers, {batch} recipients per batch ({mode}; {})",
            if chunking { "BDAT" } else { "DATA" }
        );
        let mut rates = Vec::new();
        let mut shares = Vec::new();
        for run in 1..=runs {
            let before = sink.recipient_count();
            let cpu_before = (cpu_seconds("/proc/self/stat"), cpu_seconds(&sink_stat));
            let start = std::time::Instant::now();
            post(smtp, &address.to_string()).await;
            let accepted = start.elapsed();
            sink.wait_for_recipients(before + members, Duration::from_secs(600))
                .await;
            let total = start.elapsed();
            let rate = members as f64 / total.as_secs_f64();
            let busy = |before: Option<f64>, after: Option<f64>| match (before, after) {
                (Some(b), Some(a)) => format!("{:.2}", (a - b) / total.as_secs_f64()),
                _ => "?".into(),
            };
            println!(
                "  run {run}: accepted in {:.1} ms, all {members} delivered in {:.1} ms: {rate:.0} recipients/s (cores busy: {} in all, {} of it the sink)",
                accepted.as_secs_f64() * 1e3,
                total.as_secs_f64() * 1e3,
                busy(cpu_before.0, cpu_seconds("/proc/self/stat")),
                busy(cpu_before.1, cpu_seconds(&sink_stat)),
            );
            rates.push(rate);
            if signed {
                // The ceiling right after each run, so that each ratio compares figures of
                // the same minutes (this machine's speed drifts between them).
                let ceiling = tokio::task::block_in_place(|| signing_ceiling(&signers, &sink));
                println!(
                    "  bare RSA signing right after it: {ceiling:.0} signatures/s on all cores: the fan-out reached {:.1}% of it",
                    100.0 * rate / ceiling
                );
                shares.push(100.0 * rate / ceiling);
            }
        }
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        println!("{label}: median {median:.0} recipients/s over {runs} runs");
        medians.push((members, median));
        if signed {
            shares.sort_by(f64::total_cmp);
            println!(
                "{label}: {members} members: fan-out at {:.1}% of bare signing (median of the {runs} runs' ratios; target ≥ 95%)",
                shares[shares.len() / 2]
            );
        }
    }
    if let Some(&(first, base)) = medians.first() {
        for &(members, median) in &medians[1..] {
            println!(
                "{label}: {members} members at {:.0}% of the rate at {first} (target ≥ 80%)",
                100.0 * median / base
            );
        }
    }
    for (stop, server) in servers {
        let _ = stop.send(());
        let _ = server.await;
    }
}

/// Full `sign()` calls per second on all cores, of the last copy the sink received (the server
/// idle): what a personal fan-out is compared with.
fn signing_ceiling(signers: &Signers, sink: &Sink) -> f64 {
    let copy = sink.messages().pop().map(|m| m.data).unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    ceiling::signing_rate(signers, "lists.test", &copy, cores)
}

/// The sink on a thread of its own with a one-threaded runtime, as a relay process would run
/// beside the server, so that its share of the cores can be told apart from the server's;
/// with the path of that thread's `/proc` stat file.
fn sink_on_its_own_thread() -> (Sink, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sink".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("sink runtime");
            runtime.block_on(async move {
                let sink = Sink::start().await;
                // "/proc/thread-self" links to "<pid>/task/<tid>".
                let stat = std::fs::read_link("/proc/thread-self")
                    .map(|t| format!("/proc/{}/stat", t.display()))
                    .unwrap_or_default();
                let _ = tx.send((sink, stat));
                std::future::pending::<()>().await
            })
        })
        .expect("sink thread");
    rx.recv().expect("the sink started")
}

/// CPU seconds (user and system) in a `/proc/…/stat` file, at 100 clock ticks a second (Linux's
/// USER_HZ); `None` where there is no such file.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let text = std::fs::read_to_string(stat).ok()?;
    // Fields after the command name in parentheses, from the 3rd (state) on: utime is the
    // 14th field, stime the 15th.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

async fn post(smtp: std::net::SocketAddr, to: &str) {
    let stream = TcpStream::connect(smtp).await.expect("connect");
    let mut s = BufReader::new(stream);
    let body = "Dear members,\r\n\r\nthe annual meeting is on Thursday.\r\n".repeat(40);
    let script =
        format!("EHLO bench\r\nMAIL FROM:<chair@example.org>\r\nRCPT TO:<{to}>\r\nDATA\r\n");
    s.get_mut().write_all(script.as_bytes()).await.unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        s.read_line(&mut line).await.unwrap();
        if line.starts_with("354") {
            break;
        }
    }
    let msg = format!(
        "From: Chair <chair@example.org>\r\nTo: {to}\r\nSubject: Annual meeting\r\n\r\n{body}.\r\nQUIT\r\n"
    );
    s.get_mut().write_all(msg.as_bytes()).await.unwrap();
    line.clear();
    s.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("250"), "post refused: {line}");
}
