//! The members' own pages and digests: delivery modes decide who gets a copy; a digest parses
//! with Python's email package (no defects), each part is the post as distributed, dkimpy
//! verifies it; a killed server and two instances still send each member one digest; `/me`
//! shows one's lists with reasons and nothing of anyone else; an address changes only after
//! the new address confirms it; the whole flow in Chromium.

use std::{collections::HashMap, sync::Arc, time::Duration};

use circlemail::{
    clock::{ManualClock, SharedClock},
    digest::{self, Mode, run::Digests},
    groups::Resolver,
    queue::Queue,
    store::{Store, posts::NewPost},
};
use serde_json::json;

use crate::on_both_backends;
use crate::support::{
    admin::{BREAK_GLASS, Client as Api},
    app::{TestApp, message, seed_group, web_config},
    db::TestDb,
    sink::{Delivered, Sink},
    smtp::Client,
    web::{WebClient, mailed_link, path_of, sign_in},
};

const WAIT: Duration = Duration::from_secs(20);
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Monday 30 Nov 2026, 08:00 UTC.
const START: i64 = 1_795_996_800_000 + 8 * HOUR;

async fn post(smtp: std::net::SocketAddr, from: &str, subject: &str) {
    let (mut c, _) = Client::connect(smtp).await;
    c.cmd("EHLO client").await;
    let r = c
        .post(
            from,
            &["board@lists.test"],
            &message(
                from,
                "board@lists.test",
                subject,
                &format!("About {subject}."),
            ),
        )
        .await;
    assert!(r.starts_with("250"), "{r}");
}

async fn start(db: &TestDb, clock: Option<ManualClock>) -> (TestApp, Sink, Api) {
    let sink = Sink::start().await;
    let mut config = web_config(&db.url, sink.addr);
    config.http.api_token = Some(circlemail::config::Secret::new(BREAK_GLASS));
    let app = match clock {
        Some(c) => TestApp::spawn_with_clock(config, Arc::new(c)).await,
        None => TestApp::spawn(config).await,
    };
    let api = Api {
        http: app.http,
        token: BREAK_GLASS.into(),
    };
    (app, sink, api)
}

fn to(sink: &Sink, who: &str) -> Vec<Delivered> {
    sink.messages()
        .into_iter()
        .filter(|m| m.rcpts.iter().any(|r| r == who))
        .collect()
}

async fn person(store: &Store, email: &str) -> i64 {
    store
        .find_person(&circlemail::model::address::EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

on_both_backends!(
    delivery_modes_and_a_pause_decide_who_gets_a_copy_through_the_api,
    async |db: &TestDb| {
        let (app, sink, api) = start(db, None).await;
        let members = ["ann@x.org", "bo@x.org", "cy@x.org", "di@x.org"];
        app.group("Board", "board", &members).await;
        let g = app.store.find_group("Board").await.unwrap().unwrap();
        let (bo, cy, di) = (
            person(&app.store, "bo@x.org").await,
            person(&app.store, "cy@x.org").await,
            person(&app.store, "di@x.org").await,
        );
        let set = |id: i64, body: serde_json::Value| {
            let api = &api;
            async move {
                api.call("PUT", &format!("/people/{id}/delivery"), Some(body))
                    .await
            }
        };
        let r = set(bo, json!({"group_id": g.id, "mode": "daily"})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["lists"][0]["mode"], "daily");
        set(cy, json!({"group_id": g.id, "mode": "none"})).await;
        let paused = set(di, json!({"pause_until": "2099-01-01"})).await;
        assert_eq!(
            paused.status, 422,
            "a pause is at most a year: {}",
            paused.body
        );
        let until =
            (digest::day_of(crate::support::app::chrono_now()) + chrono::Days::new(7)).to_string();
        let r = set(di, json!({"pause_until": until})).await;
        assert_eq!(r.json()["paused_until"]["until"], until.as_str());
        assert_eq!(
            set(bo, json!({"group_id": g.id, "mode": "hourly"}))
                .await
                .status,
            422
        );
        assert_eq!(
            set(bo, json!({"group_id": 999_999, "mode": "daily"}))
                .await
                .status,
            404
        );
        // Administrators see each member's mode.
        let seen = api.ok("GET", &format!("/people/{cy}/delivery"), None).await;
        assert_eq!(seen["lists"][0]["mode"], "none");
        assert_eq!(seen["lists"][0]["name"], "Board");
        let recipients = api
            .ok("GET", &format!("/groups/{}/recipients", g.id), None)
            .await;
        let modes = recipients["delivery_modes"].as_array().unwrap();
        assert_eq!(modes.len(), 2, "{recipients}");
        assert!(
            modes
                .iter()
                .any(|m| m["email"] == "bo@x.org" && m["mode"] == "daily")
        );

        post(app.smtp, "cy@x.org", "Minutes").await; // no mail, still a member: may post
        sink.wait_for_recipients(1, WAIT).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let got: Vec<String> = sink
            .messages()
            .iter()
            .flat_map(|m| m.rcpts.clone())
            .collect();
        assert_eq!(got, ["ann@x.org"], "only the every-post member gets a copy");

        // Back to every post, the pause over: mail comes again.
        set(bo, json!({"group_id": g.id, "mode": "every"})).await;
        set(di, json!({"pause_until": null})).await;
        post(app.smtp, "ann@x.org", "Again").await;
        sink.wait_for_recipients(4, WAIT).await;
        assert_eq!(to(&sink, "bo@x.org").len(), 1);
        assert_eq!(to(&sink, "di@x.org").len(), 1);
        assert!(to(&sink, "cy@x.org").is_empty());
        app.stop().await;
    }
);

const DIGEST_CHECK: &str = r#"
import sys, json, base64, email, dkim
from email import policy
arg = json.loads(sys.argv[1])
raw = sys.stdin.buffer.read()
def dns(name, timeout=5):
    return arg["records"].get(name.decode().rstrip(".")).encode()
assert dkim.verify(raw, dnsfunc=dns), "DKIM does not verify"
msg = email.message_from_bytes(raw, policy=policy.compat32)
defects = [(p.get_content_type(), d) for p in msg.walk() for d in p.defects]
assert not defects, defects
assert msg.get_content_type() == "multipart/mixed", msg.get_content_type()
toc, dig = msg.get_payload()
assert toc.get_content_type() == "text/plain"
assert dig.get_content_type() == "multipart/digest"
parts = dig.get_payload()
assert all(p.get_content_type() == "message/rfc822" for p in parts)
copies = [email.message_from_bytes(base64.b64decode(c), policy=policy.compat32) for c in arg["copies"]]
assert len(parts) == len(copies), (len(parts), len(copies))
for part, copy in zip(parts, copies):
    inner = part.get_payload(0)
    for name, value in inner.items():
        assert value in copy.get_all(name, []), (name, value, copy.get_all(name))
    personal = {"to", "list-unsubscribe", "list-unsubscribe-post", "dkim-signature"}
    for name, value in copy.items():
        if name.lower() not in personal:
            assert value in inner.get_all(name, []), ("missing", name)
    assert inner.get_payload() == copy.get_payload(), "bodies differ"
print("ok", len(parts), toc.get_payload())
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_digest_parses_verifies_and_holds_each_post_as_distributed() {
    use circlemail::{config::DkimKeyConfig, signing::keys};
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = web_config(&db.url, sink.addr);
    let pem = keys::generate("rsa").unwrap();
    let path = db.dir.path().join("rsa.pem");
    std::fs::write(&path, &pem).unwrap();
    let loaded = keys::parse(pem.as_bytes()).unwrap();
    config.dkim.keys.push(DkimKeyConfig {
        domain: "lists.test".into(),
        selector: "s1".into(),
        private_key: path,
        arc: false,
    });
    let records =
        json!({ "s1._domainkey.lists.test": format!("v=DKIM1; k=rsa; p={}", loaded.public) });
    let clock = ManualClock::new(START);
    let app = TestApp::spawn_with_clock(config, Arc::new(clock.clone())).await;
    app.group("Board", "board", &["ann@x.org", "bo@x.org"])
        .await;
    let g = app.store.find_group("Board").await.unwrap().unwrap();
    let bo = person(&app.store, "bo@x.org").await;
    digest::set_mode(&app.store, bo, g.id, Mode::Daily, START - DAY)
        .await
        .unwrap();

    // The clock moves only between deliveries (a jump during one outlives its lease).
    for (i, s) in ["First", "Second", "Third"].into_iter().enumerate() {
        post(app.smtp, "ann@x.org", s).await;
        sink.wait_for_recipients(i + 1, WAIT).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        clock.advance(60_000);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let copies = to(&sink, "ann@x.org");
    assert_eq!(
        copies.len(),
        3,
        "{:?}",
        copies
            .iter()
            .map(|c| (c.rcpts.clone(), c.header("Subject")))
            .collect::<Vec<_>>()
    );
    assert!(
        to(&sink, "bo@x.org").is_empty(),
        "a digest member gets no single posts"
    );

    // The next day, past 07:00 and the minute of grace: one digest.
    clock.advance(DAY);
    let digest = loop {
        let got = to(&sink, "bo@x.org");
        if let Some(d) = got.first() {
            break d.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        digest.header("Subject").as_deref(),
        Some("Board digest, 1 Dec 2026 (3 messages)")
    );
    assert_eq!(
        digest.header("Reply-To").as_deref(),
        Some("\"Board\" <board@lists.test>")
    );
    assert!(
        digest.header("List-Unsubscribe").unwrap().contains("http"),
        "the member's own link"
    );
    assert!(
        digest.mail_from.starts_with("board-bounces"),
        "VERP/bounce sender: {}",
        digest.mail_from
    );
    // Copies in the order of the digest (by time).
    let mut ordered = copies.clone();
    ordered.sort_by_key(|c| {
        ["First", "Second", "Third"]
            .iter()
            .position(|s| c.header("Subject").unwrap().ends_with(s))
    });
    let arg = json!({
        "records": records,
        "copies": ordered.iter().map(|c| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(&c.data)
        }).collect::<Vec<_>>(),
    });
    let (ok, said) =
        crate::support::python::run(DIGEST_CHECK, digest.data.clone(), arg.to_string()).await;
    assert!(ok, "{said}");
    assert!(said.starts_with("ok 3"), "{said}");

    // Nothing more for the period, and nothing twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(to(&sink, "bo@x.org").len(), 1);
    std::mem::forget(db); // the key must outlive the app
    app.stop().await;
}

/// `n` members on `board@`, all on a daily digest since two days before `cutoff`, and `posts`
/// posts stored in the day before it.
async fn digest_fixture(store: &Store, n: usize, posts: usize, cutoff: i64) -> Vec<String> {
    let members: Vec<String> = (0..n).map(|i| format!("m{i}@x.org")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    seed_group(store, "Board", "board", &refs).await;
    let g = store.find_group("Board").await.unwrap().unwrap();
    store
        .set_settings(g.id, &json!({"digest_hour": 7}).to_string())
        .await
        .unwrap();
    for m in &members {
        let p = person(store, m).await;
        digest::set_mode(store, p, g.id, Mode::Daily, cutoff - 2 * DAY)
            .await
            .unwrap();
    }
    let stored: Vec<NewPost> = (0..posts)
        .map(|i| {
            let at = cutoff - HOUR + i as i64 * 1000;
            let copy = format!(
                "From: ann@x.org\r\nTo: board@lists.test\r\nSubject: Post {i}\r\nMessage-ID: <p{i}@x.org>\r\n\r\nBody {i}.\r\n"
            );
            NewPost {
                queue_id: format!("Q{i:04}{at}"),
                kind: "post",
                personal: 0,
                author: Some("ann@x.org".into()),
                group_id: Some(g.id),
                author_envelope: "ann@x.org".into(),
                envelope_from: "board-bounces@lists.test".into(),
                message_id: Some(format!("p{i}@x.org")),
                received_at: at,
                original: copy.clone().into_bytes(),
                list_copy: copy.into_bytes(),
                recipients: Vec::new(),
            }
        })
        .collect();
    store.insert_accepted(&stored, &[], &[]).await.unwrap();
    members
}

on_both_backends!(
    two_instances_send_each_member_one_digest_per_period,
    async |db: &TestDb| {
        let store = Store::connect(&db.url, 4).await.unwrap();
        store.migrate().await.unwrap();
        let now = START + DAY; // Tuesday 08:00: Tuesday 07:00 ends the period
        let cutoff = now - HOUR;
        let members = digest_fixture(&store, 50, 5, cutoff).await;
        let instance = |s: Store| {
            let clock: SharedClock = Arc::new(ManualClock::new(now));
            Digests {
                resolver: Arc::new(Resolver::new(s.clone(), clock.clone())),
                queue: Queue::new(s.clone()),
                store: s,
                clock,
                hostname: "circlemail.test".into(),
                poll: Duration::from_secs(1),
            }
        };
        let other = Store::connect(&db.url, 4).await.unwrap();
        let (a, b) = (instance(store.clone()), instance(other));
        let (x, y) = tokio::join!(a.run_due(), b.run_due());
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(
            x.len() + y.len(),
            1,
            "one instance sends the period: {x:?} {y:?}"
        );
        let sent = x.iter().chain(&y).next().unwrap();
        assert_eq!((sent.posts, sent.recipients), (5, 50));
        // Again, and again later the same day: nothing new.
        assert!(a.run_due().await.unwrap().is_empty());
        assert!(b.run_due().await.unwrap().is_empty());
        let queued = store.deliveries_of(&sent.queue_ids[0]).await.unwrap();
        let mut got: Vec<String> = queued.iter().map(|d| d.recipient.clone()).collect();
        got.sort();
        let mut want = members.clone();
        want.sort();
        assert_eq!(got, want);
        store.close().await;
    }
);

on_both_backends!(
    a_server_killed_while_sending_digests_sends_each_member_one_with_every_post,
    async |db: &TestDb| {
        use crate::support::process::{Server, write_config};
        let sink = Sink::start().await;
        let config = write_config(db.dir.path(), &db.url, sink.addr);
        let store = Store::connect(&db.url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let now = crate::support::app::chrono_now();
        let settings = circlemail::model::list_settings::ListSettings {
            digest_hour: 7,
            ..Default::default()
        };
        let cutoff = circlemail::digest::run::scheduled_cutoff(
            Mode::Daily,
            &settings,
            now - circlemail::digest::run::GRACE_MS,
        );
        let members = digest_fixture(&store, 20, 4, cutoff).await;

        // The relay takes connections but never answers: digests are in flight when killed.
        sink.stall(true);
        let server = Server::start(&config);
        tokio::time::sleep(Duration::from_secs(4)).await;
        server.kill();
        assert!(sink.messages().is_empty());
        sink.stall(false);
        let server = Server::start(&config);
        sink.wait_for_recipients(members.len(), Duration::from_secs(40))
            .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let by: HashMap<String, Vec<Delivered>> = sink.by_recipient();
        for m in &members {
            let got = by.get(m).map(Vec::as_slice).unwrap_or_default();
            assert_eq!(got.len(), 1, "{m}: one digest");
            let text = got[0].text();
            for i in 0..4 {
                assert_eq!(
                    text.matches(&format!("Message-ID: <p{i}@x.org>")).count(),
                    1,
                    "{m}: post {i} once"
                );
            }
        }
        assert_eq!(by.len(), members.len());
        server.kill();
        store.close().await;
    }
);

on_both_backends!(
    members_see_their_own_lists_with_reasons_and_change_how_they_get_them,
    async |db: &TestDb| {
        let (app, sink, api) = start(db, None).await;
        let leaders = crate::support::admin::group(&api, "Alla ledare", None, &[]).await;
        crate::support::admin::give_address(&api, leaders, "leaders").await;
        let circle = crate::support::admin::group(
            &api,
            "Cirkelledare",
            Some(leaders),
            &["eva@x.org", "other@x.org"],
        )
        .await;
        let _ = circle;
        app.group("Board", "board", &["other@x.org"]).await;
        let open = crate::support::admin::group(&api, "Open list", None, &[]).await;
        crate::support::admin::give_address(&api, open, "open").await;
        api.ok(
            "PUT",
            &format!("/groups/{open}/settings"),
            Some(json!({"self_subscribe": true})),
        )
        .await;
        let eva = person(&app.store, "eva@x.org").await;
        api.ok(
            "PATCH",
            &format!("/people/{eva}"),
            Some(json!({"name": "<script>alert(1)</script>"})),
        )
        .await;

        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "eva@x.org").await;
        let me = web.get("/me").await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert!(
            me.body.contains(
                "You get Alla ledare because you are in Cirkelledare, which is part of it."
            ),
            "{}",
            me.body
        );
        assert!(
            !me.body.contains("Board"),
            "nothing about lists she is not on"
        );
        assert!(
            !me.body.contains("other@x.org"),
            "nothing about other people"
        );
        assert!(!me.body.contains("<script>alert"), "names are escaped");
        assert!(me.body.contains("Open list"), "a list she could join");

        // No form token: refused; a list that is not hers: the 404 page.
        let r = web
            .post(&format!("/me/lists/{leaders}/mode"), &[("mode", "daily")])
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        let board = app.store.find_group("Board").await.unwrap().unwrap();
        let r = web
            .submit(
                "/me",
                &format!("/me/lists/{}/mode", board.id),
                &[("mode", "daily")],
            )
            .await;
        assert_eq!(r.status, 404);
        let r = web
            .submit(
                "/me",
                &format!("/me/lists/{leaders}/mode"),
                &[("mode", "daily")],
            )
            .await;
        assert_eq!(r.status, 303);
        let modes = digest::modes_of(&app.store, eva).await.unwrap();
        assert_eq!(modes[0].mode, Mode::Daily);
        let me = web.get(r.location().unwrap()).await;
        assert!(
            me.body.contains("Alla ledare: Daily digest."),
            "{}",
            me.body
        );

        // Join the open list; leave it; get it again.
        let r = web
            .submit("/me", &format!("/me/lists/{open}/join"), &[])
            .await;
        assert_eq!(r.status, 303);
        let r = web
            .submit("/me", &format!("/me/lists/{open}/leave"), &[])
            .await;
        assert_eq!(r.status, 303);
        let me = web.get("/me").await;
        assert!(
            me.body.contains(&format!("/me/lists/{open}/again")),
            "{}",
            me.body
        );
        let r = web
            .submit("/me", &format!("/me/lists/{open}/again"), &[])
            .await;
        assert_eq!(r.status, 303);

        // Duplicates: the list's copy also of posts addressed to her directly, ticked and
        // unticked (the person setting the lists' `skip_addressed_members` honours).
        let duplicates = || async {
            app.store
                .person_detail(eva)
                .await
                .unwrap()
                .unwrap()
                .receive_duplicates
        };
        assert!(!duplicates().await);
        let r = web
            .submit("/me", "/me/duplicates", &[("duplicates", "on")])
            .await;
        assert_eq!(r.status, 303);
        assert!(duplicates().await);
        let me = web.get(r.location().unwrap()).await;
        assert!(
            me.body
                .contains("copy also of posts addressed to you directly.")
                && me
                    .body
                    .contains(r#"id="duplicates" name="duplicates" type="checkbox" checked"#),
            "{}",
            me.body
        );
        let r = web.submit("/me", "/me/duplicates", &[]).await;
        assert_eq!(r.status, 303);
        assert!(!duplicates().await);

        // My data: the export, about me only.
        let data = web.get("/me/export").await;
        assert_eq!(data.status, 200);
        assert!(data.body.contains("eva@x.org") && !data.body.contains("other@x.org"));
        assert!(data.body.contains("\"daily\""));
        app.stop().await;
    }
);

on_both_backends!(
    an_address_changes_only_after_the_new_address_confirms_and_the_old_one_is_told,
    async |db: &TestDb| {
        let (app, sink, _api) = start(db, None).await;
        app.group("Board", "board", &["eva@x.org", "ann@x.org"])
            .await;
        let web = WebClient::new(app.http);
        sign_in(&web, &sink, "eva@x.org").await;
        let r = web
            .submit("/me", "/me/address", &[("email", "eva@new.example")])
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let link = loop {
            if let Some(m) = to(&sink, "eva@new.example").first() {
                let text = m.text();
                let start = text.find("http").unwrap();
                break text[start..].split_whitespace().next().unwrap().to_string();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // Not yet: list mail still goes to the old address.
        post(app.smtp, "ann@x.org", "Before").await;
        sink.wait_for_recipients(3, WAIT).await;
        assert_eq!(
            to(&sink, "eva@new.example").len(),
            1,
            "only the confirmation"
        );
        let before = to(&sink, "eva@x.org").len();

        // A scanner's GET changes nothing; the button does.
        let path = path_of(&link);
        let page = web.get(&path).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("eva@new.example"));
        let done = web.submit(&path, &path, &[]).await;
        assert_eq!(done.status, 200, "{}", done.body);
        let again = web.get(&path).await;
        assert_eq!(
            again.status, 410,
            "the link is spent once the address changed"
        );
        // The old address is told.
        let deadline = tokio::time::Instant::now() + WAIT;
        while !to(&sink, "eva@x.org")
            .iter()
            .any(|m| m.text().contains("was changed"))
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the old address was not told"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        post(app.smtp, "ann@x.org", "After").await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while to(&sink, "eva@new.example").len() < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no post at the new address"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let old: Vec<_> = to(&sink, "eva@x.org")
            .into_iter()
            .filter(|m| m.header("Subject").is_some_and(|s| s.contains("After")))
            .collect();
        assert!(
            old.is_empty(),
            "no list mail to the old address after the change"
        );
        assert!(to(&sink, "eva@x.org").len() >= before);
        // Signed out by the change: /me asks to sign in again.
        assert_eq!(web.get("/me").await.status, 303);
        let _ = mailed_link;
        app.stop().await;
    }
);

async fn post_to(smtp: std::net::SocketAddr, list: &str, subject: &str) {
    let (mut c, _) = Client::connect(smtp).await;
    c.cmd("EHLO client").await;
    let r = c
        .post(
            "ann@x.org",
            &[list],
            &message("ann@x.org", list, subject, &format!("About {subject}.")),
        )
        .await;
    assert!(r.starts_with("250"), "{r}");
}

/// Waits until `who` has `n` messages at the sink, then a moment more (to see nothing else
/// comes), and returns them.
async fn settle(sink: &Sink, who: &str, n: usize) -> Vec<Delivered> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while to(sink, who).len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{who} got {} of {n} messages",
            to(sink, who).len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    to(sink, who)
}

/// The whole flow in a real browser: sign in by the mailed link, see the lists with the reasons,
/// switch Board to a daily digest (one digest with the day's posts, nothing else), pause all
/// list mail until next week (nothing comes), and after the pause mail comes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_chooses_a_daily_digest_and_a_pause_in_chromium() {
    use crate::support::browser::Browser;
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = web_config(&db.url, sink.addr);
    config.web.session_idle_timeout = Duration::from_secs(30 * 86_400);
    config.web.session_max_age = Duration::from_secs(30 * 86_400);
    let clock = ManualClock::new(START);
    let app = TestApp::spawn_with_clock(config, Arc::new(clock.clone())).await;
    app.group("Club", "club", &["eva@x.org", "ann@x.org"]).await;
    app.group("Board", "board", &["ann@x.org"]).await;
    let board = app.store.find_group("Board").await.unwrap().unwrap();
    let eva = person(&app.store, "eva@x.org").await;
    app.store
        .add_member_with_term(
            board.id,
            eva,
            "member",
            Some("2026-01-01"),
            Some("2026-12-31"),
            START,
        )
        .await
        .unwrap();
    let base = format!("http://{}", app.http);

    let b = Browser::phone().await;
    b.open(&format!("{base}/me")).await;
    b.wait_for_text("h1", "Sign in").await;
    b.fill("#address", "eva@x.org").await;
    b.click("#send").await;
    b.wait_for_text("h1", "Check your mail").await;
    let link = mailed_link(&sink, "eva@x.org", 0).await;
    b.open(&link).await;
    b.click("#signin").await;
    b.wait_for_text("h1", "Your lists").await;
    b.wait_for_text(
        &format!("#list-{}", board.id),
        "You are a member of Board. Your term on Board ends 31 Dec 2026.",
    )
    .await;
    assert!(b.fits_width().await, "/me fits a phone");
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/screenshots");
    let _ = std::fs::create_dir_all(shots);
    b.screenshot_to(shots, "me-phone").await;
    b.select(&format!("#mode-{}", board.id), "daily").await;
    b.click(&format!("#save-mode-{}", board.id)).await;
    b.wait_for_text(".notice", "Board: Daily digest.").await;
    clock.advance(1000);

    // Monday's posts to Board; Tuesday after 07:00 one digest with them, nothing else.
    post_to(app.smtp, "board@lists.test", "Budget").await;
    post_to(app.smtp, "board@lists.test", "Agenda").await;
    clock.advance(DAY);
    let got = settle(&sink, "eva@x.org", 2).await; // the sign-in link and the digest
    let digests: Vec<&Delivered> = got
        .iter()
        .filter(|m| m.text().contains("multipart/digest"))
        .collect();
    assert_eq!(
        got.len(),
        2,
        "the sign-in link and one digest, nothing else"
    );
    assert_eq!(digests.len(), 1);
    assert_eq!(
        digests[0].header("Subject").as_deref(),
        Some("Board digest, 1 Dec 2026 (2 messages)")
    );
    for s in ["Subject: Budget", "Subject: Agenda"] {
        assert_eq!(digests[0].text().matches(s).count(), 1, "{s} once");
    }

    // Pause all list mail until next week (the form's default day: in seven days).
    b.open(&format!("{base}/me")).await;
    b.click("#pause-set").await;
    b.wait_for_text("#paused", "paused until 8 Dec 2026").await;
    let desktop = b;
    desktop.resize(1280, 900).await;
    desktop.screenshot_to(shots, "me-desktop").await;
    post_to(app.smtp, "club@lists.test", "While away").await;
    post_to(app.smtp, "board@lists.test", "Also while away").await;
    sink.wait_for_recipients(4, WAIT).await; // ann: Budget, Agenda, While away, Also while away
    clock.advance(DAY);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(to(&sink, "eva@x.org").len(), 2, "nothing while paused");

    // After the pause date mail comes again: a Club post at once, Board in the next digest.
    clock.advance(6 * DAY); // Tuesday 8 Dec, 08:00
    post_to(app.smtp, "club@lists.test", "Welcome back").await;
    post_to(app.smtp, "board@lists.test", "Back to work").await;
    clock.advance(DAY);
    let got = settle(&sink, "eva@x.org", 4).await;
    assert_eq!(
        got.len(),
        4,
        "{:?}",
        got.iter().map(|m| m.header("Subject")).collect::<Vec<_>>()
    );
    assert!(
        got.iter()
            .any(|m| m.header("Subject").as_deref() == Some("Welcome back"))
    );
    let last = got
        .iter()
        .find(|m| {
            m.header("Subject")
                .is_some_and(|s| s.starts_with("Board digest, 9 Dec"))
        })
        .expect("a digest after the pause");
    assert!(last.text().contains("Subject: Back to work"));
    assert!(
        !last.text().contains("Subject: Also while away"),
        "posts during the pause are not sent"
    );
    desktop.quit().await;
    app.stop().await;
}

/// The unsubscribe page offers "manage all my lists": a button that mails a sign-in link to the
/// link's own address, which leads to `/me`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unsubscribe_page_mails_a_sign_in_link_to_manage_all_lists() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let (app, sink, _api) = start(&db, None).await;
    app.group("Board", "board", &["eva@x.org", "ann@x.org"])
        .await;
    post(app.smtp, "ann@x.org", "Hello").await;
    sink.wait_for_recipients(2, WAIT).await;
    let copy = to(&sink, "eva@x.org").remove(0);
    let url = copy
        .header("List-Unsubscribe")
        .unwrap()
        .split(['<', '>'])
        .find(|p| p.starts_with("http"))
        .unwrap()
        .to_string();
    let web = WebClient::new(app.http);
    let page = web.get(&path_of(&url)).await;
    assert_eq!(page.status, 200);
    let manage = page
        .body
        .split("href=\"")
        .find(|p| p.starts_with("/me/manage/"))
        .and_then(|p| p.split('"').next())
        .expect("a manage link on the unsubscribe page")
        .to_string();
    let asked = web.submit(&manage, &manage, &[]).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let link = mailed_link(&sink, "eva@x.org", 0).await;
    let path = path_of(&link);
    let done = web.submit(&path, &path, &[]).await;
    assert_eq!(done.location(), Some("/me"));
    let me = web.get("/me").await;
    assert!(
        me.body.contains("You are a member of Board."),
        "{}",
        me.body
    );
    // A forged token mails nothing.
    let bad = web.get("/me/manage/not-a-token").await;
    assert_eq!(bad.status, 404);
    app.stop().await;
}
