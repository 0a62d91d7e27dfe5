//! A real browser: headless Chromium (Debian's `chromium` and `chromium-driver`, installed by
//! `scripts/test`) opens the unsubscribe link from a delivered copy and clicks the button; the
//! next post to the list does not reach that member. Screenshots of the page are kept in
//! `target/tmp/` (`unsubscribe-page.png`, `unsubscribe-done.png`).

use std::time::Duration;

use crate::support::{
    app::{TestApp, message, test_config},
    db::{Backend, TestDb},
    sink::Sink,
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(15);

async fn post(app: &TestApp, subject: &str) {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client").await;
    let r = c
        .post(
            "chair@x.org",
            &["board@lists.test"],
            &message("chair@x.org", "board@lists.test", subject, "Hello."),
        )
        .await;
    assert!(r.starts_with("250"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_leaves_by_clicking_the_link_in_chromium() {
    assert!(
        std::path::Path::new("/usr/bin/chromedriver").exists(),
        "headless Chromium is needed: run scripts/test, or apt-get install chromium chromium-driver"
    );
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = test_config(&db.url, sink.addr);
    // The link must point at this test's server.
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = http.local_addr().unwrap();
    drop(http);
    config.http.listen = addr;
    config.http.public_url = format!("http://{addr}");
    let app = TestApp::spawn(config).await;
    app.group("Board", "board", &["ann@x.org", "bo@x.org", "chair@x.org"])
        .await;

    post(&app, "One").await;
    sink.wait_for_recipients(3, WAIT).await;
    let ann = sink
        .messages()
        .into_iter()
        .find(|m| m.rcpts == ["ann@x.org"])
        .unwrap();
    let header = ann.header("List-Unsubscribe").unwrap();
    let url = header
        .split(['<', '>'])
        .find(|p| p.starts_with("http"))
        .unwrap()
        .to_string();

    let artifacts = env!("CARGO_TARGET_TMPDIR").to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/unsubscribe.py");
    let out = tokio::task::spawn_blocking({
        let artifacts = artifacts.clone();
        move || {
            std::process::Command::new("python3")
                .args([script, &url, &artifacts])
                .output()
                .expect("python3")
        }
    })
    .await
    .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser: {said}");
    assert!(said.contains("You have left Board"), "{said}");
    let png = std::fs::read(format!("{artifacts}/unsubscribe-page.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a screenshot of the page");

    post(&app, "Two").await;
    sink.wait_for_recipients(5, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut two: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|m| m.header("Subject").as_deref() == Some("Two"))
        .flat_map(|m| m.rcpts)
        .collect();
    two.sort();
    assert_eq!(two, ["bo@x.org", "chair@x.org"], "Ann left by the click");
    app.stop().await;
}

/// The sign-in of the web pages in a real browser at phone width: ask for a link, open the
/// mailed link, press the button, land on the administrators' overview; the pages fit the
/// phone's width.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_signs_in_by_the_mailed_link_in_chromium() {
    use crate::support::{
        admin::{BREAK_GLASS, Client, account},
        app::web_config,
        browser::Browser,
        web::mailed_link,
    };
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = web_config(&db.url, sink.addr);
    config.http.api_token = Some(circlemail::config::Secret::new(BREAK_GLASS));
    let app = TestApp::spawn(config).await;
    let root = Client {
        http: app.http,
        token: BREAK_GLASS.into(),
    };
    account(&root, &app.store, "ana@club.example", Some("owner"), None).await;

    let b = Browser::phone().await;
    b.open(&format!("http://{}/admin", app.http)).await;
    b.wait_for_text("h1", "Sign in").await;
    assert!(b.fits_width().await, "the sign-in page fits a phone");
    b.screenshot("signin-phone").await;
    b.fill("#address", "ana@club.example").await;
    b.click("#send").await;
    b.wait_for_text("h1", "Check your mail").await;
    let link = mailed_link(&sink, "ana@club.example", 0).await;
    b.open(&link).await;
    b.wait_for_text("h1", "Sign in as ana@club.example?").await;
    b.click("#signin").await;
    b.wait_for_text("h1", "Overview").await;
    assert!(
        b.url().await.ends_with("/admin"),
        "back where the sign-in began"
    );
    assert!(b.fits_width().await, "the overview fits a phone");
    b.open(&format!("http://{}/account", app.http)).await;
    b.wait_for_text("h1", "Your account").await;
    assert!(b.text("main").await.contains("this browser"));
    b.screenshot("account-phone").await;
    // The navigation shows the pages an owner has.
    assert!(b.find_all("header nav a").await.len() >= 2);
    // The language switch at the foot of every page.
    b.select("footer select[name=lang]", "sv").await;
    b.click("footer button").await;
    b.wait_for_text("h1", "Ditt konto").await;
    // At desktop width too.
    b.resize(1280, 900).await;
    assert!(b.fits_width().await);
    b.quit().await;
    let wide = Browser::desktop().await;
    wide.open(&format!("http://{}/signin", app.http)).await;
    wide.wait_for_text("h1", "Sign in").await;
    wide.quit().await;
    app.stop().await;
}
