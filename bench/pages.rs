//! Server time of the administrators' main pages at association scale: 100,000 people in 2,000
//! groups (20 departments, each group nested in one; 200 of them lists), and one list "All" with
//! all 100,000 people as direct members. The real server runs on loopback; a signed-in owner
//! (sign-in link redeemed as a browser would) asks for each page; the time is the median of the
//! round trips (loopback: the server's time), printed next to the 100 ms target. "After a
//! change" is the first load right after a member was added (no warm-up: the directory is
//! brought up to date by that load).
//!
//!     cargo bench --bench pages                 # 100,000 people, 2,000 groups
//!     cargo bench --bench pages -- 10000        # fewer people

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use circlemail::{
    admin::import::import_csv,
    app::App,
    clock::{SharedClock, SystemClock},
    config::{Config, RelayTls, Secret},
    groups::Resolver,
    model::address::EmailAddress,
    store::Store,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const GROUPS: usize = 2000;
const DEPARTMENTS: usize = 20;
const LISTS: usize = 200;
const DOMAIN: &str = "lists.example.org";
const TARGET_MS: f64 = 100.0;
const TOKEN: &str = "bench-token-0123456789abcdef";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let people: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    fn csrf(&self) -> String {
        self.body
            .split_once("name=\"csrf\" value=\"")
            .and_then(|(_, r)| r.split_once('"'))
            .map(|(v, _)| {
                v.replace("&#43;", "+")
                    .replace("&#x2f;", "/")
                    .replace("&#47;", "/")
                    .replace("&#61;", "=")
            })
            .expect("a form token")
    }
}

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nOrigin: http://{addr}\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    if let Some(b) = body {
        head.push_str(b);
    }
    s.write_all(head.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
        body: body.to_string(),
    }
}

fn config(url: &str) -> Config {
    let mut c = Config::default();
    c.server.hostname = "bench.example.org".into();
    c.server.domains = vec![DOMAIN.into()];
    c.smtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = http.local_addr().unwrap();
    drop(http);
    c.http.listen = addr;
    c.http.public_url = format!("http://{addr}");
    c.http.api_token = Some(Secret::new(TOKEN));
    c.database.url = Secret::new(url);
    c.database.max_connections = 4;
    c.delivery.relay = "smtp://127.0.0.1:9".into();
    c.delivery.relay_tls = RelayTls::None;
    c
}

async fn run(url: &str, people: usize) {
    let store = Store::connect(url, 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    let started = Instant::now();
    let mut csv = String::from("email,name,groups\n");
    for i in 0..people {
        csv.push_str(&format!(
            "member{i}@example.org,Member {i},G{};All\n",
            i % GROUPS
        ));
    }
    import_csv(&store, csv.as_bytes(), 0, |_| {})
        .await
        .expect("import");
    let mut ids = Vec::new();
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
    for g in DEPARTMENTS..GROUPS {
        store
            .add_subgroup(ids[g % DEPARTMENTS], ids[g], false)
            .await
            .unwrap();
    }
    for (n, g) in ids.iter().enumerate().skip(DEPARTMENTS).take(LISTS) {
        let a = EmailAddress::parse(&format!("list{n}@{DOMAIN}")).unwrap();
        store.update_group(*g, None, Some(Some(&a))).await.unwrap();
    }
    let all = store.find_group("All").await.unwrap().expect("All").id;
    let a = EmailAddress::parse(&format!("all@{DOMAIN}")).unwrap();
    store.update_group(all, None, Some(Some(&a))).await.unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let resolver = Resolver::new(store.clone(), clock.clone());
    let (account, _) =
        circlemail::admin::accounts::bootstrap(&store, &resolver, "owner@example.org", 0)
            .await
            .expect("owner");
    println!(
        "{people} people, {GROUPS} groups in {DEPARTMENTS} departments ({LISTS} lists), \
         \"All\" with {people} direct members; set up in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let config = config(url);
    let app = App::build(config.clone()).await.expect("app");
    let addr = app.http_addr().expect("http");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = app
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });

    // Sign in as a browser would, by a link.
    let queue = circlemail::queue::Queue::new(store.clone());
    let signin = circlemail::app::signin(&config, &store, &queue, &clock);
    let link = signin.link(account.person_id, None).await.expect("link");
    let path = link
        .split_once(&addr.to_string())
        .map(|(_, p)| p.to_string())
        .expect("path");
    let confirm = http(addr, "GET", &path, &[], None).await;
    let pre = confirm.cookie("cm_pre").expect("pre-session cookie");
    let form = format!("csrf={}", url_encode(&confirm.csrf()));
    let done = http(
        addr,
        "POST",
        &path,
        &[
            ("Cookie", &format!("cm_pre={pre}")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&form),
    )
    .await;
    assert_eq!(done.status, 303, "sign-in: {}", done.body);
    let session = done.cookie("cm_session").expect("session cookie");
    let cookie = format!("cm_session={session}");

    let small = ids[DEPARTMENTS];
    let pages: Vec<(String, String)> = vec![
        ("overview".into(), "/admin".into()),
        ("groups tree".into(), "/admin/groups".into()),
        (
            format!("group with {people} members"),
            format!("/admin/groups/{all}"),
        ),
        (
            "… page 1000".to_string(),
            format!("/admin/groups/{all}?page=1000"),
        ),
        (
            "… searched".into(),
            format!("/admin/groups/{all}?q=member4242"),
        ),
        (
            "… searched, nobody matches".into(),
            format!("/admin/groups/{all}?q=nobody-has-this"),
        ),
        (
            format!("group with {} members", people / GROUPS),
            format!("/admin/groups/{small}"),
        ),
        (
            "… choosing a subgroup".into(),
            format!("/admin/groups/{small}?add=subgroup"),
        ),
        ("rule editor".into(), format!("/admin/groups/{all}/rule")),
        (
            format!("recipients of {people}"),
            format!("/admin/groups/{all}/recipients"),
        ),
        (
            "list settings".into(),
            format!("/admin/groups/{all}/settings"),
        ),
        ("bounces".into(), format!("/admin/groups/{all}/bounces")),
        ("opt-outs".into(), format!("/admin/groups/{all}/opt-outs")),
    ];
    println!("{:<36} {:>10} {:>10}   target", "page", "median", "max");
    for (name, path) in &pages {
        let (median, max) = time(addr, path, &cookie, 15).await;
        report(name, median, max);
    }
    // The API calls behind the slowest pages, for comparison.
    let bearer = format!("Bearer {TOKEN}");
    for path in [
        "/api/v1/groups".to_string(),
        "/api/v1/overview".into(),
        format!("/api/v1/groups/{all}/members?limit=50"),
        format!("/api/v1/groups/{all}/recipients?explain=true&limit=50"),
    ] {
        let (median, max) = time_as(addr, &path, ("Authorization", &bearer), 15).await;
        report(
            &format!("API {}", path.trim_start_matches("/api/v1")),
            median,
            max,
        );
    }
    // The rule count (a POST).
    let csrf = http(
        addr,
        "GET",
        &format!("/admin/groups/{small}/rule"),
        &[("Cookie", &cookie)],
        None,
    )
    .await
    .csrf();
    let mut times = Vec::new();
    for i in 0..15 {
        let body = format!(
            "field0=team&op0=equals&value0=t{i}&csrf={}",
            url_encode(&csrf)
        );
        let t = Instant::now();
        let a = http(
            addr,
            "POST",
            &format!("/admin/groups/{small}/rule/count"),
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json"),
            ],
            Some(&body),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        times.push(t.elapsed());
    }
    let (median, max) = summary(times);
    report("rule count (live, POST)", median, max);

    // The first load right after a change.
    let mut after = Vec::new();
    let mut after_overview = Vec::new();
    let mut after_tree = Vec::new();
    let mut after_settings = Vec::new();
    for i in 0..5 {
        let add = format!(
            "email=new{i}%40example.org&role=member&csrf={}",
            url_encode(&csrf)
        );
        let a = http(
            addr,
            "POST",
            &format!("/admin/groups/{small}/members"),
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(&add),
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let m = once(addr, &format!("/admin/groups/{small}"), &cookie).await;
        after.push(m);
        let add = format!(
            "email=newer{i}%40example.org&role=member&csrf={}",
            url_encode(&csrf)
        );
        http(
            addr,
            "POST",
            &format!("/admin/groups/{small}/members"),
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(&add),
        )
        .await;
        let m = once(addr, "/admin", &cookie).await;
        after_overview.push(m);
        for (n, (path, times)) in [
            ("/admin/groups".to_string(), &mut after_tree),
            (format!("/admin/groups/{all}/settings"), &mut after_settings),
        ]
        .into_iter()
        .enumerate()
        {
            let add = format!(
                "email=newest{i}-{n}%40example.org&role=member&csrf={}",
                url_encode(&csrf)
            );
            http(
                addr,
                "POST",
                &format!("/admin/groups/{small}/members"),
                &[
                    ("Cookie", &cookie),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                Some(&add),
            )
            .await;
            let m = once(addr, &path, &cookie).await;
            times.push(m);
        }
    }
    let (m, x) = summary(after);
    report("group page right after a change", m, x);
    let (m, x) = summary(after_overview);
    report("overview right after a change", m, x);
    let (m, x) = summary(after_tree);
    report("groups tree right after a change", m, x);
    let (m, x) = summary(after_settings);
    report("list settings right after a change", m, x);
    println!("(2 shared cores: ±2× between days)");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// One load, not warmed up: the first after a change.
async fn once(addr: SocketAddr, path: &str, cookie: &str) -> Duration {
    let t = Instant::now();
    let a = http(addr, "GET", path, &[("Cookie", cookie)], None).await;
    let took = t.elapsed();
    assert_eq!(a.status, 200, "{path}: {}", a.body);
    took
}

async fn time(addr: SocketAddr, path: &str, cookie: &str, runs: usize) -> (Duration, Duration) {
    time_as(addr, path, ("Cookie", cookie), runs).await
}

async fn time_as(
    addr: SocketAddr,
    path: &str,
    who: (&str, &str),
    runs: usize,
) -> (Duration, Duration) {
    let warm = http(addr, "GET", path, &[who], None).await;
    assert_eq!(
        warm.status,
        200,
        "{path}: {} {:?}",
        warm.body,
        warm.header("location")
    );
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let a = http(addr, "GET", path, &[who], None).await;
        times.push(t.elapsed());
        assert_eq!(a.status, 200, "{path}");
    }
    summary(times)
}

fn summary(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

fn report(name: &str, median: Duration, max: Duration) {
    let ms = median.as_secs_f64() * 1000.0;
    println!(
        "{name:<36} {ms:>8.1}ms {:>8.1}ms   {} {TARGET_MS} ms",
        max.as_secs_f64() * 1000.0,
        if ms < TARGET_MS { "<" } else { ">" }
    );
}
