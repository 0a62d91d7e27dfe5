//! The operations pages over HTTP (and one flow in Chromium): moderation with a safe preview and
//! one-or-many decisions delivered at the sink; people (search, a person's page, export, erase
//! with what retention keeps); the CSV import with its check, progress and member numbers;
//! accounts and grants; the audit log; the queue. Security on each: user text escaped, a POST
//! without the form token changes nothing, outside one's scopes the same 404 page as an unknown
//! address, an auditor sees no buttons and a hand-made POST is refused.

use std::time::Duration;

use serde_json::json;

use crate::on_both_backends;
use crate::support::{
    admin::{BREAK_GLASS, Client, account, give_address, group, person_id},
    app::{TestApp, web_config},
    db::TestDb,
    sink::Sink,
    smtp,
    web::{Page, WebClient, mailed_link, sign_in},
};

const WAIT: Duration = Duration::from_secs(15);

async fn start(db: &TestDb) -> (TestApp, Sink, Client) {
    let sink = Sink::start().await;
    let mut config = web_config(&db.url, sink.addr);
    config.http.api_token = Some(circlemail::config::Secret::new(BREAK_GLASS));
    let app = TestApp::spawn(config).await;
    let root = Client {
        http: app.http,
        token: BREAK_GLASS.into(),
    };
    (app, sink, root)
}

/// A post from a non-member, held for moderation; its id.
async fn hold(app: &TestApp, root: &Client, to: &str, subject: &str, raw: &str) -> i64 {
    let (mut c, _) = smtp::Client::connect(app.smtp).await;
    c.cmd("EHLO client.test").await;
    let reply = c.post("guest@y.org", &[to], raw).await;
    assert!(reply.contains("Held for moderation"), "{reply}");
    root.ok("GET", "/moderation", None).await["held"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["subject"] == subject)
        .and_then(|h| h["id"].as_i64())
        .expect("the held post is listed")
}

fn plain(to: &str, subject: &str) -> String {
    format!(
        "From: Guest <guest@y.org>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@y.org>\r\n\r\nHello <b>list</b>.\r\n",
        rand::random::<u64>()
    )
}

fn html(to: &str, subject: &str) -> String {
    format!(
        concat!(
            "From: Guest <guest@y.org>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@y.org>\r\n",
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n",
            "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
            "<p>Offer <img src=\"https://tracker.example/pixel.gif\"><script>alert('x')</script>",
            "<a href=\"javascript:alert(1)\">click</a></p>\r\n",
            "--b\r\nContent-Type: application/pdf; name=\"flyer.pdf\"\r\n",
            "Content-Disposition: attachment; filename=\"flyer.pdf\"\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
        ),
        to = to,
        subject = subject,
        id = rand::random::<u64>()
    )
}

/// The mail `address` got at the sink, once it has at least `n`.
async fn mails_to(sink: &Sink, address: &str, n: usize) -> Vec<crate::support::sink::Delivered> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = sink.by_recipient().remove(address).unwrap_or_default();
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{address} got {} mails, expected {n}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn today() -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_millis(crate::support::app::chrono_now())
        .unwrap()
        .date_naive()
}

/// The unknown-page 404, to compare an out-of-scope page with.
async fn unknown_page(web: &WebClient) -> Page {
    let p = web.get("/admin/no-such-page").await;
    assert_eq!(p.status, 404);
    p
}

on_both_backends!(
    held_posts_are_previewed_safely_and_decided_one_or_many,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        let board = group(&root, "Board", None, &["kim@club.example"]).await;
        give_address(&root, board, "board").await;
        let to = "board@lists.test";
        let evil = "<script>alert(1)</script> offer";
        let a = hold(&app, &root, to, evil, &plain(to, evil)).await;
        let b = hold(&app, &root, to, "Flyer", &html(to, "Flyer")).await;
        let c = hold(&app, &root, to, "Third", &plain(to, "Third")).await;
        let d = hold(&app, &root, to, "Fourth", &plain(to, "Fourth")).await;

        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "ana@club.example").await;
        let list = web.get("/admin/moderation").await;
        assert_eq!(list.status, 200, "{}", list.body);
        assert!(!list.body.contains("<script>alert(1)"), "escaped");
        assert!(
            list.body.contains("&#60;script&#62;alert(1)")
                || list.body.contains("&lt;script&gt;alert(1)")
        );
        for id in [a, b, c, d] {
            assert!(
                list.body.contains(&format!("value=\"{id}\"")),
                "{}",
                list.body
            );
        }

        // The preview: text as text, HTML without scripts or remote content, attachments listed.
        let one = web.get(&format!("/admin/moderation/{a}")).await;
        assert_eq!(one.status, 200, "{}", one.body);
        assert!(
            one.body.contains("&#60;b&#62;list&#60;/b&#62;")
                || one.body.contains("&lt;b&gt;list&lt;/b&gt;"),
            "{}",
            one.body
        );
        let flyer = web.get(&format!("/admin/moderation/{b}")).await;
        assert_eq!(flyer.status, 200, "{}", flyer.body);
        assert!(flyer.body.contains("class=\"mailhtml\""), "{}", flyer.body);
        assert!(!flyer.body.contains("tracker.example"), "{}", flyer.body);
        assert!(!flyer.body.contains("alert('x')"), "{}", flyer.body);
        assert!(!flyer.body.contains("javascript:"), "{}", flyer.body);
        assert!(flyer.body.contains("flyer.pdf") && flyer.body.contains("application/pdf"));

        // Without the form token nothing is decided.
        let forged = web
            .post(
                "/admin/moderation/decide",
                &[("id", &a.to_string()), ("action", "approve")],
            )
            .await;
        assert_eq!(forged.status, 403);
        let forged = web
            .post(
                &format!("/admin/moderation/{a}/decide"),
                &[("action", "approve")],
            )
            .await;
        assert_eq!(forged.status, 403);
        assert_eq!(
            root.ok("GET", "/moderation", None).await["held"]
                .as_array()
                .unwrap()
                .len(),
            4
        );

        // Two at once: approved, and delivered to the member.
        let csrf = list.csrf();
        let done = web
            .post(
                "/admin/moderation/decide",
                &[
                    ("csrf", &csrf),
                    ("id", &a.to_string()),
                    ("id", &c.to_string()),
                    ("action", "approve"),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        let after = web.get(done.location().unwrap()).await;
        assert!(after.body.contains("2 approved"), "{}", after.body);
        let kim = mails_to(&sink, "kim@club.example", 2).await;
        assert!(
            kim.iter()
                .any(|m| m.header("Subject").as_deref() == Some("Third"))
        );

        // One rejected with a reason: the author is told.
        let rejected = web
            .post(
                &format!("/admin/moderation/{d}/decide"),
                &[
                    ("csrf", &csrf),
                    ("action", "reject"),
                    ("reason", "Not for this list"),
                ],
            )
            .await;
        assert_eq!(rejected.status, 303, "{}", rejected.body);
        let told = mails_to(&sink, "guest@y.org", 1).await;
        assert!(
            told[0].text().contains("Not for this list"),
            "{}",
            told[0].text()
        );
        // A row's own button: discard.
        let discarded = web
            .post(
                "/admin/moderation/decide",
                &[("csrf", &csrf), ("only", &format!("{b}:discard"))],
            )
            .await;
        assert_eq!(discarded.status, 303);
        assert!(
            root.ok("GET", "/moderation", None).await["held"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        // Deciding again is refused with a sentence, and changes nothing.
        let again = web
            .post(
                &format!("/admin/moderation/{a}/decide"),
                &[("csrf", &csrf), ("action", "discard")],
            )
            .await;
        assert_eq!(again.status, 409, "{}", again.body);
        app.stop().await;
    }
);

on_both_backends!(
    outside_ones_scopes_posts_and_people_are_the_same_404,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        let dept = group(&root, "Youth", None, &["yann@club.example"]).await;
        let other = group(&root, "Seniors", None, &["sven@club.example"]).await;
        give_address(&root, other, "seniors").await;
        account(
            &root,
            &app.store,
            "gm@club.example",
            Some("group_manager"),
            Some(dept),
        )
        .await;
        let to = "seniors@lists.test";
        let held = hold(&app, &root, to, "Elsewhere", &plain(to, "Elsewhere")).await;
        let sven = person_id(&root, "sven@club.example").await;
        let yann = person_id(&root, "yann@club.example").await;

        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "gm@club.example").await;
        let unknown = unknown_page(&web).await;
        for path in [
            format!("/admin/moderation/{held}"),
            format!("/admin/people/{sven}"),
            "/admin/people/999999".to_string(),
        ] {
            let p = web.get(&path).await;
            assert_eq!(p.status, 404, "{path}");
            assert_eq!(
                p.body, unknown.body,
                "{path}: the same page as an unknown address"
            );
        }
        // The list and the search show nothing of the other department.
        let list = web.get("/admin/moderation").await;
        assert_eq!(list.status, 200);
        assert!(!list.body.contains("Elsewhere"));
        let found = web.get("/admin/people?q=club.example").await;
        assert!(found.body.contains("yann@club.example"), "{}", found.body);
        assert!(!found.body.contains("sven@club.example"));
        // Their own person page works; the deciding POST on the other post is the 404 too.
        assert_eq!(web.get(&format!("/admin/people/{yann}")).await.status, 200);
        let csrf = list.csrf();
        let p = web
            .post(
                &format!("/admin/moderation/{held}/decide"),
                &[("csrf", &csrf), ("action", "approve")],
            )
            .await;
        assert_eq!(p.status, 404);
        assert_eq!(
            root.ok("GET", "/moderation", None).await["held"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // Pages for the whole organisation are refused outright.
        assert_eq!(web.get("/admin/queue").await.status, 403);
        assert_eq!(web.get("/admin/import").await.status, 403);
        app.stop().await;
    }
);

on_both_backends!(
    a_persons_page_shows_groups_access_export_and_what_erasing_keeps,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        let leaders = group(&root, "Leaders", None, &[]).await;
        let all = group(&root, "All leaders", None, &[]).await;
        root.ok(
            "POST",
            &format!("/groups/{all}/subgroups"),
            Some(json!({"group_id": leaders})),
        )
        .await;
        root.ok(
            "POST",
            &format!("/groups/{leaders}/members"),
            Some(json!({"email": "kim@club.example", "name": "<script>alert(2)</script>Kim", "valid_from": "2020-01-01"})),
        )
        .await;
        root.ok(
            "PUT",
            &format!("/groups/{leaders}/retention"),
            Some(json!({"years": 7})),
        )
        .await;
        let kim = person_id(&root, "kim@club.example").await;

        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "ana@club.example").await;
        let search = web.get("/admin/people?q=kim").await;
        assert_eq!(search.status, 200, "{}", search.body);
        assert!(!search.body.contains("<script>alert(2)"));
        assert!(search.body.contains(&format!("/admin/people/{kim}")));

        let page = web.get(&format!("/admin/people/{kim}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(!page.body.contains("<script>alert(2)"));
        assert!(
            page.body
                .contains("All leaders ← Leaders ← direct member since 2020-01-01"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("ana@club.example"),
            "the access report names the owner"
        );
        assert!(page.body.contains(&format!("/admin/people/{kim}/erase")));

        let export = web.get(&format!("/admin/people/{kim}/export")).await;
        assert_eq!(export.status, 200);
        assert!(
            export
                .header("content-disposition")
                .unwrap()
                .contains("attachment")
        );
        assert!(export.body.contains("kim@club.example"));

        // Erasing: first what a retention rule keeps, and until when; nothing changes yet.
        let preview = web.get(&format!("/admin/people/{kim}/erase")).await;
        assert_eq!(preview.status, 200, "{}", preview.body);
        assert!(preview.body.contains("Leaders"), "{}", preview.body);
        let today = today();
        let until = today
            .pred_opt()
            .unwrap()
            .checked_add_months(chrono::Months::new(84))
            .unwrap();
        assert!(
            preview.body.contains(&until.format("%Y-%m-%d").to_string()),
            "{}",
            preview.body
        );
        assert!(!preview.body.contains("<script>alert(2)"));
        // Without the form token: refused, the person is untouched.
        let forged = web.post(&format!("/admin/people/{kim}/erase"), &[]).await;
        assert_eq!(forged.status, 403);
        assert_eq!(
            root.ok("GET", &format!("/people/{kim}"), None).await["email"],
            "kim@club.example"
        );
        let done = web
            .post(
                &format!("/admin/people/{kim}/erase"),
                &[("csrf", &preview.csrf())],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_ne!(
            root.ok("GET", &format!("/people/{kim}"), None).await["email"],
            "kim@club.example"
        );
        // The audit log page shows the erasure, filtered by the person.
        let audit = web.get(&format!("/admin/audit?person={kim}")).await;
        assert_eq!(audit.status, 200, "{}", audit.body);
        assert!(audit.body.contains("/people/{id}/erase"), "{}", audit.body);
        assert!(audit.body.contains("export"), "{}", audit.body);
        app.stop().await;
    }
);

/// A multipart upload of `csv` as the import form sends it (with `csrf` in the query, or not).
async fn upload(web: &WebClient, csrf: Option<&str>, csv: &str) -> Page {
    let boundary = "cmboundary7MA4YWxk";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let path = match csrf {
        Some(c) => format!("/admin/import?csrf={c}"),
        None => "/admin/import".to_string(),
    };
    web.send(
        "POST",
        &path,
        Some(body.as_bytes()),
        &[(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )],
    )
    .await
}

/// Follows an import page until it is no longer under way.
async fn settled(web: &WebClient, path: &str) -> Page {
    for _ in 0..300 {
        let p = web.get(path).await;
        assert_eq!(p.status, 200, "{}", p.body);
        if !p.body.contains("data-progress") {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} stayed under way");
}

on_both_backends!(
    a_csv_is_checked_then_imported_and_member_numbers_keep_people_apart,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        let web = WebClient::new(app.http);
        let home = sign_in(&web, &sink, "ana@club.example").await;
        let form = web.get("/admin/import").await;
        assert_eq!(form.status, 200, "{}", form.body);
        assert!(form.body.contains("enctype=\"multipart/form-data\""));
        let csv = "email,name,external_id,groups\n\
                   ann@club.example,Ann,1001,Board\n\
                   not-an-address,Bad,1002,\n\
                   bo@club.example,<script>alert(3)</script>,1003,Board\n";
        // Without the form token: refused, nothing checked.
        assert_eq!(upload(&web, None, csv).await.status, 403);
        let checked = upload(&web, Some(&home.csrf()), csv).await;
        assert_eq!(checked.status, 303, "{}", checked.body);
        let job = checked.location().unwrap().to_string();
        assert!(job.starts_with("/admin/import/"), "{job}");
        let check = settled(&web, &job).await;
        assert!(
            check
                .body
                .contains("<td class=\"num\" data-label=\"Line\">3</td>"),
            "{}",
            check.body
        );
        assert!(check.body.contains("email:"), "{}", check.body);
        assert!(check.body.contains("Import 2 rows"), "{}", check.body);
        assert!(!check.body.contains("<script>alert(3)"));
        // The check wrote nothing.
        assert!(
            root.ok("GET", "/people?q=ann@club.example", None).await["people"]
                .as_array()
                .unwrap()
                .is_empty()
        );

        let run = web
            .post(&format!("{job}/run"), &[("csrf", &check.csrf())])
            .await;
        assert_eq!(run.status, 303, "{}", run.body);
        let summary = settled(&web, &job).await;
        assert!(summary.body.contains("Summary"), "{}", summary.body);
        let ann = person_id(&root, "ann@club.example").await;
        assert_eq!(
            root.ok("GET", &format!("/people/{ann}"), None).await["external_id"],
            "1001"
        );
        // Run twice: refused with a sentence.
        assert_eq!(
            web.post(&format!("{job}/run"), &[("csrf", &check.csrf())])
                .await
                .status,
            409
        );

        // Next month: Ann has a new address. The member number keeps her one person.
        let moved =
            "email,name,external_id\nann.new@club.example,Ann,1001\nbo@club.example,Bo,1099\n";
        let job2 = upload(&web, Some(&home.csrf()), moved)
            .await
            .location()
            .unwrap()
            .to_string();
        let check2 = settled(&web, &job2).await;
        // Bo's address belongs to member number 1003: a bad line, not a second person.
        assert!(
            check2.body.contains("belongs to member number 1003"),
            "{}",
            check2.body
        );
        web.post(&format!("{job2}/run"), &[("csrf", &check2.csrf())])
            .await;
        settled(&web, &job2).await;
        let after = root.ok("GET", &format!("/people/{ann}"), None).await;
        assert_eq!(after["email"], "ann.new@club.example");
        assert!(
            root.ok("GET", "/people?q=ann@club.example", None).await["people"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            root.ok("GET", "/people?q=1001", None).await["people"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // The API import as a script uses it: check, then run, waiting for each.
        let checked = root
            .ok(
                "POST",
                "/import?wait=true",
                Some(json!({"csv": "email,external_id\ncy@club.example,2001\n"})),
            )
            .await;
        assert_eq!(checked["state"], "checked", "{checked}");
        assert_eq!(checked["check"]["imported"], 1);
        let id = checked["id"].as_i64().unwrap();
        let done = root
            .ok("POST", &format!("/import/{id}/run?wait=true"), None)
            .await;
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(done["result"]["imported"], 1);
        app.stop().await;
    }
);

on_both_backends!(
    accounts_audit_and_queue_pages_for_owners_and_auditors,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        account(&root, &app.store, "aud@club.example", Some("auditor"), None).await;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "ana@club.example").await;
        let page = web.get("/admin/accounts").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("aud@club.example"));
        assert!(page.body.contains("there is no cap"), "{}", page.body);
        let csrf = page.csrf();
        // A new account with a name that is not markup.
        let made = web
            .post(
                "/admin/accounts",
                &[
                    ("csrf", &csrf),
                    ("email", "tre@club.example"),
                    ("name", "<script>alert(4)</script>"),
                ],
            )
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        let page = web.get("/admin/accounts").await;
        assert!(page.body.contains("tre@club.example"));
        assert!(!page.body.contains("<script>alert(4)"));
        let accounts = root.ok("GET", "/accounts", None).await;
        let tre = accounts["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["email"] == "tre@club.example")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let granted = web
            .post(
                "/admin/grants",
                &[
                    ("csrf", &csrf),
                    ("role", "moderator"),
                    ("account_id", &tre.to_string()),
                    ("group_id", ""),
                    ("scope_group_id", ""),
                ],
            )
            .await;
        assert_eq!(granted.status, 303, "{}", granted.body);
        let off = web
            .post(
                &format!("/admin/accounts/{tre}/deactivate"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(off.status, 303, "{}", off.body);
        let a = root.ok("GET", &format!("/accounts/{tre}"), None).await;
        assert_eq!(a["active"], false);

        // The audit log, by who acted and by date.
        let today = today().format("%Y-%m-%d").to_string();
        let audit = web
            .get(&format!(
                "/admin/audit?actor=ana%40club.example&from={today}&to={today}"
            ))
            .await;
        assert_eq!(audit.status, 200, "{}", audit.body);
        assert!(audit.body.contains("POST /grants"), "{}", audit.body);
        assert!(
            audit.body.contains("/accounts/{id}/deactivate"),
            "{}",
            audit.body
        );
        let nobody = web.get("/admin/audit?actor=nobody%40club.example").await;
        assert!(nobody.body.contains("No entries."), "{}", nobody.body);
        let queue = web.get("/admin/queue").await;
        assert_eq!(queue.status, 200, "{}", queue.body);

        // An auditor reads, but sees no button that changes anything, and a hand-made POST is
        // refused.
        let aud = WebClient::new(app.http);
        sign_in(&aud, &sink, "aud@club.example").await;
        let page = aud.get("/admin/accounts").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(!page.body.contains("/deactivate"), "{}", page.body);
        assert!(
            !page.body.contains("action=\"/admin/grants\""),
            "{}",
            page.body
        );
        let refused = aud
            .post(
                &format!("/admin/accounts/{tre}/reactivate"),
                &[("csrf", &page.csrf())],
            )
            .await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert_eq!(
            root.ok("GET", &format!("/accounts/{tre}"), None).await["active"],
            false
        );
        let audit = aud.get("/admin/audit").await;
        assert_eq!(audit.status, 200);
        assert_eq!(
            aud.get("/admin/queue").await.status,
            403,
            "the queue is for administrators"
        );
        app.stop().await;
    }
);

/// In Chromium: an owner signs in, reads a held post, approves it, and the member gets it;
/// then imports a CSV file with a bad line: the check shows the line and why, the import runs,
/// the summary shows. On a phone's width, without sideways scrolling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_a_held_post_is_approved_and_a_csv_with_a_bad_line_imported() {
    use crate::support::browser::Browser;
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let (app, sink, root) = start(&db).await;
    account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
    let board = group(&root, "Board", None, &["kim@club.example"]).await;
    give_address(&root, board, "board").await;
    let to = "board@lists.test";
    let id = hold(
        &app,
        &root,
        to,
        "Concert tickets",
        &plain(to, "Concert tickets"),
    )
    .await;
    let base = format!("http://{}", app.http);

    let b = Browser::phone().await;
    b.open(&format!("{base}/admin/moderation")).await;
    b.wait_for_text("h1", "Sign in").await;
    b.fill("#address", "ana@club.example").await;
    b.click("#send").await;
    b.wait_for_text("h1", "Check your mail").await;
    let link = mailed_link(&sink, "ana@club.example", 0).await;
    b.open(&link).await;
    b.click("#signin").await;
    b.wait_for_text("h1", "Moderation").await;
    assert!(b.fits_width().await, "the moderation page fits a phone");
    b.screenshot("moderation-phone").await;
    b.click(&format!("a[href=\"/admin/moderation/{id}\"]"))
        .await;
    b.wait_for_text("h1", "Concert tickets").await;
    assert!(b.text("pre.mailtext").await.contains("Hello <b>list</b>."));
    assert!(b.fits_width().await, "the held post fits a phone");
    b.screenshot("held-post-phone").await;
    b.click("section.decide button.primary").await;
    b.wait_for_text(".notice", "1 approved").await;
    let kim = mails_to(&sink, "kim@club.example", 1).await;
    assert_eq!(kim[0].header("Subject").as_deref(), Some("Concert tickets"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("members.csv");
    std::fs::write(
        &file,
        "email,name,external_id\nlea@club.example,Lea,501\nthis is wrong,Bad,502\nmo@club.example,Mo,503\n",
    )
    .unwrap();
    b.open(&format!("{base}/admin/import")).await;
    b.wait_for_text("h1", "Import people").await;
    b.attach("#file", &file.display().to_string()).await;
    b.click("form[enctype] button").await;
    b.wait_for_text("h1", "The check").await;
    let bad = b.text("table.bad-lines").await;
    assert!(bad.contains('3') && bad.contains("email:"), "{bad}");
    assert!(b.fits_width().await, "the check fits a phone");
    b.screenshot("import-check-phone").await;
    b.click("form[action$=\"/run\"] button").await;
    b.wait_for_text("h1", "Summary").await;
    b.resize(1280, 900).await;
    b.screenshot("import-summary-desktop").await;
    assert_eq!(
        root.ok("GET", "/people?q=501", None).await["people"][0]["email"],
        "lea@club.example"
    );
    b.quit().await;
    app.stop().await;
}
