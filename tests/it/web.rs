//! The web pages' sign-in and what every page shares: sign-in by a mailed single-use link
//! (caught at the sink), sessions and their time-outs, the same answer for every address, rate
//! limits, cookies, the form token and other origins, security headers, the account page.

use std::{sync::Arc, time::Duration};

use serde_json::json;

use crate::on_both_backends;
use crate::support::{
    admin::{BREAK_GLASS, Client, account, group},
    app::{TestApp, web_config},
    db::TestDb,
    sink::Sink,
    web::{Page, WebClient, mailed_link, path_of, sign_in},
};

/// A server whose links point at itself, with the break-glass token, a sink, and the clock.
async fn start(
    db: &TestDb,
    clock: Option<circlemail::clock::ManualClock>,
) -> (TestApp, Sink, Client) {
    let sink = Sink::start().await;
    let mut config = web_config(&db.url, sink.addr);
    config.http.api_token = Some(circlemail::config::Secret::new(BREAK_GLASS));
    let app = match clock {
        Some(c) => TestApp::spawn_with_clock(config, Arc::new(c)).await,
        None => TestApp::spawn(config).await,
    };
    let root = Client {
        http: app.http,
        token: BREAK_GLASS.into(),
    };
    (app, sink, root)
}

/// The id of the session marked "this browser" on an account page.
fn this_session(account: &Page) -> i64 {
    account
        .body
        .split("<tr>")
        .find(|row| row.contains("this browser"))
        .and_then(|row| row.split_once("/account/sessions/"))
        .and_then(|(_, r)| r.split_once('/'))
        .and_then(|(id, _)| id.parse().ok())
        .expect("this browser's session on the account page")
}

fn cookie_header<'p>(page: &'p Page, name: &str) -> Option<&'p str> {
    page.headers_named("set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

on_both_backends!(
    an_administrator_signs_in_by_the_mailed_link_once,
    async |db: &TestDb| {
        let (app, sink, root) = start(db, None).await;
        account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        let web = WebClient::new(app.http);

        // Not signed in: the administrators' pages send to the sign-in page, and back after.
        let admin = web.get("/admin").await;
        assert_eq!(admin.status, 303);
        assert_eq!(admin.location(), Some("/signin?next=%2Fadmin"));

        let form = web.get("/signin?next=/admin").await;
        let asked = web
            .post(
                "/signin",
                &[
                    ("csrf", &form.csrf()),
                    ("address", "Ana@Club.example"),
                    ("next", "/admin"),
                ],
            )
            .await;
        assert_eq!(asked.status, 200, "{}", asked.body);
        assert!(
            asked.body.contains("a sign-in link is on its way"),
            "{}",
            asked.body
        );
        let link = mailed_link(&sink, "ana@club.example", 0).await;
        let mail = sink
            .messages()
            .into_iter()
            .find(|m| m.text().contains(&link))
            .unwrap();
        assert_eq!(
            mail.header("From").as_deref(),
            Some("\"circlemail\" <no-reply@lists.test>")
        );
        assert_eq!(
            mail.header("Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
        assert!(
            link.starts_with(&format!("http://{}/signin/cs_", app.http)),
            "{link}"
        );

        // Opening the link (what a mail scanner does) signs nobody in and spends nothing.
        let path = path_of(&link);
        let scanner = WebClient::new(app.http);
        let seen = scanner.get(&path).await;
        assert_eq!(seen.status, 200);
        assert!(
            seen.h1().contains("Sign in as ana@club.example?"),
            "{}",
            seen.h1()
        );
        assert!(cookie_header(&seen, "cm_session").is_none());
        assert_eq!(scanner.get("/admin").await.status, 303);

        // The button signs in, and goes where the sign-in began.
        let page = web.get(&path).await;
        let done = web.post(&path, &[("csrf", &page.csrf())]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location(), Some("/admin"));
        let cookie = cookie_header(&done, "cm_session").expect("a session cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "http: no Secure flag: {cookie}");
        let overview = web.get("/admin").await;
        assert_eq!(overview.status, 200, "{}", overview.body);
        assert_eq!(overview.h1(), "Overview");
        assert!(overview.body.contains("ana@club.example"));
        // The sign-in is in the audit log.
        let audit = root.ok("GET", "/audit", None).await;
        assert!(
            audit["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "sign in (web)" && e["actor"] == "ana@club.example"),
            "{audit}"
        );

        // The link works once.
        let again = WebClient::new(app.http);
        let page = again.get(&path).await;
        assert_eq!(page.status, 410, "{}", page.body);
        assert!(page.body.contains("was used already"), "{}", page.body);
        let replay = again.post(&path, &[("csrf", &page.csrf())]).await;
        assert_eq!(replay.status, 410);
        assert!(again.cookie("cm_session").is_none());
        app.stop().await;
    }
);

on_both_backends!(
    every_address_gets_the_same_answer_and_strangers_no_mail,
    async |db: &TestDb| {
        let (app, sink, root) = start(db, None).await;
        group(&root, "Board", None, &["bo@club.example"]).await;
        let web = WebClient::new(app.http);
        let known = web
            .submit("/signin", "/signin", &[("address", "bo@club.example")])
            .await;
        let stranger = web
            .submit("/signin", "/signin", &[("address", "nobody@club.example")])
            .await;
        assert_eq!(known.status, stranger.status);
        assert_eq!(
            known.body.replace("bo@club.example", "X"),
            stranger.body.replace("nobody@club.example", "X"),
            "the same page for a known and an unknown address"
        );
        // A member without an account signs in too (their own pages); the stranger gets nothing.
        mailed_link(&sink, "bo@club.example", 0).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            sink.messages()
                .iter()
                .all(|m| !m.rcpts.contains(&"nobody@club.example".to_string()))
        );
        let bad = web
            .submit("/signin", "/signin", &[("address", "not an address")])
            .await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("is not an e-mail address"));
        app.stop().await;
    }
);

on_both_backends!(
    sign_in_requests_are_limited_per_address_and_per_client,
    async |db: &TestDb| {
        let (app, sink, _root) = start(db, None).await;
        let web = WebClient::new(app.http);
        for _ in 0..5 {
            let p = web
                .submit("/signin", "/signin", &[("address", "someone@club.example")])
                .await;
            assert_eq!(p.status, 200);
        }
        let sixth = web
            .submit("/signin", "/signin", &[("address", "someone@club.example")])
            .await;
        assert_eq!(sixth.status, 429, "{}", sixth.body);
        assert!(sixth.body.contains("Wait an hour"));
        // Another address from the same client still works, up to the client's limit (30; the
        // refused request was not counted).
        for i in 0..25 {
            let p = web
                .submit(
                    "/signin",
                    "/signin",
                    &[("address", &format!("p{i}@club.example"))],
                )
                .await;
            assert_eq!(p.status, 200, "request {i}");
        }
        let over = web
            .submit("/signin", "/signin", &[("address", "late@club.example")])
            .await;
        assert_eq!(over.status, 429);
        assert_eq!(sink.recipient_count(), 0, "nobody of these is known");
        app.stop().await;
    }
);

on_both_backends!(
    links_expire_and_sessions_end_when_idle_or_old,
    async |db: &TestDb| {
        let clock = circlemail::clock::ManualClock::new(crate::support::app::chrono_now());
        let (app, sink, root) = start(db, Some(clock.clone())).await;
        account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        let web = WebClient::new(app.http);

        // A link older than 15 minutes is refused.
        web.submit("/signin", "/signin", &[("address", "ana@club.example")])
            .await;
        let link = mailed_link(&sink, "ana@club.example", 0).await;
        clock.advance(16 * 60_000);
        let late = web.get(&path_of(&link)).await;
        assert_eq!(late.status, 410);
        assert!(late.body.contains("has expired"), "{}", late.body);

        // A session ends after 12 hours without use...
        sign_in(&web, &sink, "ana@club.example").await;
        assert_eq!(web.get("/admin").await.status, 200);
        clock.advance(11 * 3_600_000);
        assert_eq!(web.get("/admin").await.status, 200, "used within 12 hours");
        clock.advance(11 * 3_600_000);
        assert_eq!(
            web.get("/admin").await.status,
            200,
            "used within 12 hours again"
        );
        clock.advance(13 * 3_600_000);
        assert_eq!(web.get("/admin").await.status, 303, "idle for 13 hours");

        // ... and 7 days after sign-in, however much it is used.
        sign_in(&web, &sink, "ana@club.example").await;
        let mut hours = 0;
        while web.get("/admin").await.status == 200 {
            clock.advance(11 * 3_600_000);
            hours += 11;
            assert!(hours < 200, "the session outlived 7 days");
        }
        assert!(hours > 7 * 24, "it ended after {hours} hours, not 7 days");
        app.stop().await;
    }
);

on_both_backends!(
    a_change_without_our_form_token_or_from_another_site_changes_nothing,
    async |db: &TestDb| {
        let (app, sink, root) = start(db, None).await;
        account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "ana@club.example").await;
        let token = web.get("/account").await.csrf();

        let no_token = web.post("/account/sessions/end-all", &[]).await;
        assert_eq!(no_token.status, 403, "{}", no_token.body);
        assert!(no_token.body.contains("did not come from this site"));
        let wrong = web
            .post("/account/sessions/end-all", &[("csrf", "AAAA")])
            .await;
        assert_eq!(wrong.status, 403);
        let foreign = web
            .send(
                "POST",
                "/account/sessions/end-all",
                Some(format!("csrf={token}").as_bytes()),
                &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Origin", "https://evil.example"),
                ],
            )
            .await;
        assert_eq!(foreign.status, 403, "another origin, even with the token");
        let cross = web
            .send(
                "POST",
                "/account/sessions/end-all",
                Some(format!("csrf={token}").as_bytes()),
                &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Sec-Fetch-Site", "cross-site"),
                ],
            )
            .await;
        assert_eq!(cross.status, 403);
        // Still signed in: nothing happened.
        assert_eq!(web.get("/admin").await.status, 200);
        // A token of another session does not work either.
        let other = WebClient::new(app.http);
        sign_in(&other, &sink, "ana@club.example").await;
        let theirs = other.get("/account").await.csrf();
        assert_ne!(theirs, token);
        let swapped = web
            .post("/account/sessions/end-all", &[("csrf", &theirs)])
            .await;
        assert_eq!(swapped.status, 403);
        // With ours, it works: signed out everywhere.
        let ok = web
            .post("/account/sessions/end-all", &[("csrf", &token)])
            .await;
        assert_eq!(ok.status, 303);
        assert_eq!(web.get("/admin").await.status, 303);
        assert_eq!(other.get("/admin").await.status, 303, "everywhere");
        app.stop().await;
    }
);

on_both_backends!(
    every_answer_carries_the_security_headers,
    async |db: &TestDb| {
        let (app, sink, root) = start(db, None).await;
        let (_, _, _) = account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "ana@club.example").await;
        let mut paths: Vec<String> = circlemail::http::web::pages::all()
            .filter(|p| p.method == "get")
            .map(|p| p.path.replace("{id}", "1").replace("{token}", "cs_nothing"))
            .collect();
        paths.extend(
            [
                "/nowhere",
                "/static/style.css",
                "/healthz",
                "/api/v1/openapi.json",
                "/u/garbage",
            ]
            .map(String::from),
        );
        for path in paths {
            let p = web.get(&path).await;
            let csp = p.header("content-security-policy").unwrap_or_default();
            assert!(
                csp.contains("default-src 'none'")
                    && csp.contains("script-src 'self'")
                    && csp.contains("frame-ancestors 'none'")
                    && !csp.contains("unsafe-inline"),
                "{path}: {csp:?}"
            );
            assert_eq!(
                p.header("x-content-type-options"),
                Some("nosniff"),
                "{path}"
            );
            assert_eq!(p.header("x-frame-options"), Some("DENY"), "{path}");
        }
        // The page for an unknown address is the 404 page.
        let nowhere = web.get("/nowhere").await;
        assert_eq!(nowhere.status, 404);
        assert_eq!(nowhere.h1(), "Not found");
        app.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_https_the_cookies_are_secure_and_host_only() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = web_config(&db.url, sink.addr);
    config.http.public_url = "https://lists.club.example".into();
    let app = TestApp::spawn(config).await;
    let web = WebClient::new(app.http);
    let page = web.get("/signin").await;
    let pre = cookie_header(&page, "__Host-cm_pre").expect("a pre-session cookie");
    assert!(
        pre.contains("Secure") && pre.contains("HttpOnly") && pre.contains("Path=/"),
        "{pre}"
    );
    // A form posted from the public origin is ours.
    let mut from_public = WebClient::new(app.http);
    from_public.origin = Some("https://lists.club.example".into());
    from_public.set_cookie("__Host-cm_pre", &web.cookie("__Host-cm_pre").unwrap());
    let asked = from_public
        .post(
            "/signin",
            &[("csrf", &page.csrf()), ("address", "x@club.example")],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    app.stop().await;
}

on_both_backends!(
    the_account_page_makes_and_revokes_api_tokens_and_ends_sessions,
    async |db: &TestDb| {
        let (app, sink, root) = start(db, None).await;
        let (id, _, _) = account(&root, &app.store, "tea@club.example", None, None).await;
        root.ok(
            "POST",
            "/grants",
            Some(json!({ "role": "administrator", "account_id": id })),
        )
        .await;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "tea@club.example").await;

        // A token made on the page is shown once and works with the API.
        let made = web
            .submit(
                "/account",
                "/account/tokens",
                &[("name", "laptop <script>")],
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
        assert!(made.body.contains("laptop &#60;script&#62;"), "escaped");
        assert!(!made.body.contains("laptop <script>"));
        let secret = made
            .body
            .split_once("id=\"new-token\">")
            .and_then(|(_, r)| r.split_once('<'))
            .map(|(t, _)| t.to_string())
            .unwrap();
        assert!(secret.starts_with("cm_"), "{secret}");
        let api = Client {
            http: app.http,
            token: secret.clone(),
        };
        assert_eq!(
            api.ok("GET", "/me", None).await["email"],
            "tea@club.example"
        );
        let again = web.get("/account").await;
        assert!(!again.body.contains(&secret), "shown only once");
        // Revoked on the page: the API refuses it.
        let token_id = app
            .store
            .tokens(id)
            .await
            .unwrap()
            .iter()
            .find(|t| t.name == "laptop <script>")
            .unwrap()
            .id;
        let revoked = web
            .submit(
                "/account",
                &format!("/account/tokens/{token_id}/revoke"),
                &[],
            )
            .await;
        assert_eq!(revoked.status, 303);
        assert_eq!(api.status("GET", "/me", None).await, 401);

        // Two sessions: the phone's is ended from the laptop's account page.
        let phone = WebClient::new(app.http);
        sign_in(&phone, &sink, "tea@club.example").await;
        let page = web.get("/account").await;
        assert_eq!(page.body.matches("Sign out there").count(), 2);
        let phone_session = this_session(&phone.get("/account").await);
        assert_ne!(phone_session, this_session(&page));
        let ended = web
            .submit(
                "/account",
                &format!("/account/sessions/{phone_session}/end"),
                &[],
            )
            .await;
        assert_eq!(ended.status, 303);
        assert_eq!(
            phone.get("/account").await.status,
            303,
            "the phone is signed out"
        );
        assert_eq!(web.get("/account").await.status, 200, "this one is not");
        // Nobody ends someone else's session: the same page as for no such session.
        let (_, _, _) = account(&root, &app.store, "bo@club.example", None, None).await;
        let bo = WebClient::new(app.http);
        sign_in(&bo, &sink, "bo@club.example").await;
        let mine = this_session(&web.get("/account").await);
        let refused = bo
            .submit("/account", &format!("/account/sessions/{mine}/end"), &[])
            .await;
        assert_eq!(refused.status, 404);
        assert_eq!(web.get("/account").await.status, 200);
        app.stop().await;
    }
);

on_both_backends!(
    a_deactivated_accounts_sessions_end_at_once,
    async |db: &TestDb| {
        let (app, sink, root) = start(db, None).await;
        let (id, _, _) = account(
            &root,
            &app.store,
            "tea@club.example",
            Some("administrator"),
            None,
        )
        .await;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "tea@club.example").await;
        assert_eq!(web.get("/admin").await.status, 200);
        root.ok("POST", &format!("/accounts/{id}/deactivate"), None)
            .await;
        assert_eq!(web.get("/admin").await.status, 303, "signed out");
        assert_eq!(web.get("/account").await.status, 303);
        app.stop().await;
    }
);

on_both_backends!(
    erasing_a_person_ends_their_sessions_and_the_export_lists_them,
    async |db: &TestDb| {
        let (app, sink, root) = start(db, None).await;
        let board = group(&root, "Board", None, &["bo@club.example"]).await;
        let _ = board;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "bo@club.example").await;
        assert_eq!(web.get("/account").await.status, 200);
        let id = crate::support::admin::person_id(&root, "bo@club.example").await;
        let export = root.ok("GET", &format!("/people/{id}/export"), None).await;
        let sessions = export["web_sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{export}");
        assert_eq!(sessions[0]["client"], "127.0.0.1");
        let erased = root.ok("POST", &format!("/people/{id}/erase"), None).await;
        assert_eq!(erased["removed"]["web_sessions"], 1, "{erased}");
        assert_eq!(web.get("/account").await.status, 303, "signed out");
        app.stop().await;
    }
);

#[test]
fn the_console_prints_a_sign_in_link_that_works_once() {
    use crate::support::process::BIN;
    let dir = tempfile::tempdir().unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/circlemail.toml");
    let db = format!("sqlite://{}/link.db", dir.path().display());
    let cm = |args: &[&str]| {
        std::process::Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("CIRCLEMAIL_DATABASE_URL", &db)
            .env("CIRCLEMAIL_HTTP_PUBLIC_URL", "http://lists.club.example")
            .output()
            .unwrap()
    };
    let nobody = cm(&["admin", "sign-in-link", "ana@club.example"]);
    assert_eq!(nobody.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&nobody.stderr).contains("is nobody here"),
        "{nobody:?}"
    );
    assert!(
        cm(&["admin", "bootstrap", "ana@club.example"])
            .status
            .success()
    );
    let out = cm(&["admin", "sign-in-link", "ana@club.example"]);
    assert!(out.status.success(), "{out:?}");
    let link = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        link.starts_with("http://lists.club.example/signin/cs_"),
        "{link}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("It works once, for 15m"));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sink = Sink::start().await;
        let app = TestApp::spawn(crate::support::app::test_config(&db, sink.addr)).await;
        let web = WebClient::new(app.http);
        let path = path_of(&link);
        let page = web.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let done = web.post(&path, &[("csrf", &page.csrf())]).await;
        assert_eq!(done.status, 303);
        assert_eq!(web.get("/admin").await.status, 200);
        assert_eq!(web.get(&path).await.status, 410, "used");
        app.stop().await;
    });
}

on_both_backends!(
    only_an_owner_changes_an_administrators_address_and_a_new_address_signs_out,
    async |db: &TestDb| {
        let (app, sink, root) = start(db, None).await;
        let (_, owner_person, _) =
            account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        let (_, tea_person, treasurer) = account(
            &root,
            &app.store,
            "tea@club.example",
            Some("administrator"),
            None,
        )
        .await;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "ana@club.example").await;
        // The treasurer cannot give the owner's account an address of their own.
        let r = treasurer
            .call(
                "PATCH",
                &format!("/people/{owner_person}"),
                Some(json!({ "email": "mine@evil.example" })),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("only an owner"), "{}", r.body);
        assert_eq!(web.get("/admin").await.status, 200, "nothing changed");
        // Other fields of an account holder, and addresses of people without one, are theirs.
        treasurer
            .ok(
                "PATCH",
                &format!("/people/{owner_person}"),
                Some(json!({ "name": "Ana" })),
            )
            .await;
        // An owner can; the new address ends the person's sessions.
        root.ok(
            "PATCH",
            &format!("/people/{owner_person}"),
            Some(json!({ "email": "ana.new@club.example" })),
        )
        .await;
        assert_eq!(
            web.get("/admin").await.status,
            303,
            "signed out by the change"
        );
        let _ = tea_person;
        app.stop().await;
    }
);

on_both_backends!(
    metrics_are_for_auditors_of_the_organisation_only,
    async |db: &TestDb| {
        let (app, _sink, root) = start(db, None).await;
        let anonymous =
            crate::support::http::request(app.http, "GET", "/metrics", None, None).await;
        assert_eq!(anonymous.status, 401);
        let dept = group(&root, "Youth", None, &[]).await;
        let (_, _, manager) = account(
            &root,
            &app.store,
            "ym@club.example",
            Some("group_manager"),
            Some(dept),
        )
        .await;
        let (_, _, auditor) =
            account(&root, &app.store, "au@club.example", Some("auditor"), None).await;
        let m =
            crate::support::http::request(app.http, "GET", "/metrics", Some(&manager.token), None)
                .await;
        assert_eq!(m.status, 403, "{}", m.body);
        let a =
            crate::support::http::request(app.http, "GET", "/metrics", Some(&auditor.token), None)
                .await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("circlemail_recipients"), "{}", a.body);
        app.stop().await;
    }
);

on_both_backends!(
    out_of_scope_and_unknown_give_the_same_page_and_link_pages_use_the_stylesheet,
    async |db: &TestDb| {
        let (app, sink, root) = start(db, None).await;
        let youth = group(&root, "Youth", None, &[]).await;
        let seniors = group(&root, "Seniors", None, &[]).await;
        account(
            &root,
            &app.store,
            "ym@club.example",
            Some("group_manager"),
            Some(youth),
        )
        .await;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "ym@club.example").await;
        // In Swedish by choice: both 404 pages follow it.
        web.set_cookie("cm_lang", "sv");
        let outside = web.get(&format!("/admin/groups/{seniors}")).await;
        let unknown = web.get("/admin/no-such-page").await;
        assert_eq!(outside.status, 404);
        assert_eq!(unknown.status, 404);
        assert_eq!(outside.body, unknown.body, "the same page, byte for byte");
        assert_eq!(outside.h1(), "Hittades inte");
        // The pages behind links in mail use the stylesheet, never inline style.
        let link_page = web.get("/u/garbage").await;
        assert!(
            link_page.body.contains("/static/style.css"),
            "{}",
            link_page.body
        );
        assert!(!link_page.body.contains("<style"));
        let _ = youth;
        app.stop().await;
    }
);
