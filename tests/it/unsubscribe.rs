//! Leaving a list from the mail: each copy's personal List-Unsubscribe link (RFC 8058), the
//! page behind it (GET changes nothing, POST leaves at once, Undo), and what leaving means for
//! nested groups. Checked the way a member would: by who receives the next post.

use std::time::Duration;

use crate::support::{
    app::{TestApp, message, test_config},
    db::{Backend, TestDb},
    http::{post_form, request},
    sink::{Delivered, Sink},
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(15);

async fn post(app: &TestApp, list: &str, subject: &str) -> String {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client").await;
    c.post(
        "chair@x.org",
        &[list],
        &message("chair@x.org", list, subject, "Hello."),
    )
    .await
}

/// The path of the https link in a copy's List-Unsubscribe (`/u/TOKEN`).
fn link_of(copy: &Delivered) -> String {
    let header = copy.header("List-Unsubscribe").expect("List-Unsubscribe");
    let url = header
        .split(['<', '>'])
        .find(|p| p.starts_with("http"))
        .unwrap_or_else(|| panic!("an https link: {header}"));
    format!("/u/{}", url.split("/u/").nth(1).unwrap())
}

fn copy_for(sink: &Sink, rcpt: &str, subject: &str) -> Option<Delivered> {
    sink.messages().into_iter().find(|m| {
        m.rcpts.iter().any(|r| r == rcpt) && m.header("Subject").as_deref() == Some(subject)
    })
}

async fn delivered_to(sink: &Sink, subject: &str, expected: usize) -> Vec<String> {
    sink.wait_for_recipients(expected, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut rcpts: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|m| m.header("Subject").as_deref() == Some(subject))
        .flat_map(|m| m.rcpts)
        .collect();
    rcpts.sort();
    rcpts
}

async fn board() -> (TestDb, Sink, TestApp) {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::spawn(test_config(&db.url, sink.addr)).await;
    app.group("Board", "board", &["ann@x.org", "bo@x.org", "chair@x.org"])
        .await;
    app.settings(
        "Board",
        r#"{"language": "sv", "footer_text": "Board list"}"#,
    )
    .await;
    (db, sink, app)
}

#[tokio::test]
async fn each_copy_carries_its_own_one_click_link_in_the_headers_only() {
    let (_db, sink, app) = board().await;
    assert!(
        post(&app, "board@lists.test", "One")
            .await
            .starts_with("250")
    );
    sink.wait_for_recipients(3, WAIT).await;
    let ann = copy_for(&sink, "ann@x.org", "One").unwrap();
    let bo = copy_for(&sink, "bo@x.org", "One").unwrap();
    assert_eq!(ann.rcpts.len(), 1, "a copy of her own");
    assert_eq!(
        ann.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(
        ann.header("List-Unsubscribe")
            .unwrap()
            .contains("http://localhost:8080/u/"),
        "{:?}",
        ann.header("List-Unsubscribe")
    );
    assert_ne!(link_of(&ann), link_of(&bo), "personal links");
    let token = link_of(&ann).trim_start_matches("/u/").to_string();
    let body = ann.text().split_once("\r\n\r\n").unwrap().1.to_string();
    assert!(
        !body.contains(&token),
        "the header token never appears in the body"
    );
    app.stop().await;
}

#[tokio::test]
async fn get_changes_nothing_and_one_click_post_leaves_without_cookies() {
    let (_db, sink, app) = board().await;
    post(&app, "board@lists.test", "One").await;
    sink.wait_for_recipients(3, WAIT).await;
    let link = link_of(&copy_for(&sink, "ann@x.org", "One").unwrap());

    // A link scanner or preview: GET shows the question, in the list's language.
    let page = request(app.http, "GET", &link, None, None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Lämna Board?"), "{}", page.body);
    assert!(page.body.contains("<form method=\"post\""), "{}", page.body);
    assert!(
        !page.body.contains("http://") && !page.body.contains("https://"),
        "no external resources"
    );
    post(&app, "board@lists.test", "Two").await;
    assert_eq!(
        delivered_to(&sink, "Two", 6).await,
        ["ann@x.org", "bo@x.org", "chair@x.org"],
        "GET unsubscribed no one"
    );

    // The mail client's one-click POST (RFC 8058): no cookie, no second step.
    let done = post_form(app.http, &link, "List-Unsubscribe=One-Click").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Du har lämnat Board"), "{}", done.body);
    post(&app, "board@lists.test", "Three").await;
    assert_eq!(
        delivered_to(&sink, "Three", 8).await,
        ["bo@x.org", "chair@x.org"]
    );
    let g = app.store.find_group("Board").await.unwrap().unwrap();
    let outs = app.store.opt_outs(None, Some(g.id)).await.unwrap();
    assert_eq!(outs.len(), 1);
    assert_eq!(
        (outs[0].email.as_str(), outs[0].channel.as_str()),
        ("ann@x.org", "link")
    );

    // Undo.
    let back = post_form(app.http, &format!("{link}/undo"), "").await;
    assert_eq!(back.status, 200);
    assert!(back.body.contains("Välkommen tillbaka"), "{}", back.body);
    post(&app, "board@lists.test", "Four").await;
    assert_eq!(
        delivered_to(&sink, "Four", 11).await,
        ["ann@x.org", "bo@x.org", "chair@x.org"]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_changed_or_foreign_token_unsubscribes_no_one_and_says_so() {
    let (_db, sink, app) = board().await;
    post(&app, "board@lists.test", "One").await;
    sink.wait_for_recipients(3, WAIT).await;
    let ann = link_of(&copy_for(&sink, "ann@x.org", "One").unwrap());
    let bo = link_of(&copy_for(&sink, "bo@x.org", "One").unwrap());
    // Ann's signature on Bo's payload, a cut-off link, garbage: a clear 400 page, no 500.
    let (bo_payload, _) = bo.rsplit_once('.').unwrap();
    let (_, ann_sig) = ann.rsplit_once('.').unwrap();
    for bad in [
        format!("{bo_payload}.{ann_sig}"),
        ann[..ann.len() - 5].to_string(),
        "/u/garbage".to_string(),
    ] {
        let r = post_form(app.http, &bad, "List-Unsubscribe=One-Click").await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.body.contains("not valid"), "{}", r.body);
    }
    // Ann's own link unsubscribes Ann only.
    assert_eq!(
        post_form(app.http, &ann, "List-Unsubscribe=One-Click")
            .await
            .status,
        200
    );
    post(&app, "board@lists.test", "Two").await;
    assert_eq!(
        delivered_to(&sink, "Two", 5).await,
        ["bo@x.org", "chair@x.org"]
    );
    app.stop().await;
}

#[tokio::test]
async fn leaving_a_parent_group_keeps_the_subgroups_mail_and_all_stops_everything() {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::spawn(test_config(&db.url, sink.addr)).await;
    let circle = app
        .group(
            "Circle leaders",
            "circle",
            &["kim@x.org", "lo@x.org", "chair@x.org"],
        )
        .await;
    let all = app.group("All leaders", "leaders", &[]).await;
    let parent = app.store.find_group("All leaders").await.unwrap().unwrap();
    let child = app
        .store
        .find_group("Circle leaders")
        .await
        .unwrap()
        .unwrap();
    app.store
        .add_subgroup(parent.id, child.id, false)
        .await
        .unwrap();

    post(&app, &all, "A1").await;
    sink.wait_for_recipients(3, WAIT).await;
    let kim_all = link_of(&copy_for(&sink, "kim@x.org", "A1").unwrap());
    assert_eq!(
        post_form(app.http, &kim_all, "List-Unsubscribe=One-Click")
            .await
            .status,
        200
    );
    post(&app, &all, "A2").await;
    assert_eq!(
        delivered_to(&sink, "A2", 5).await,
        ["chair@x.org", "lo@x.org"]
    );
    post(&app, &circle, "C1").await;
    assert_eq!(
        delivered_to(&sink, "C1", 8).await,
        ["chair@x.org", "kim@x.org", "lo@x.org"],
        "still in Circle leaders and its mail"
    );

    // The second choice on the page: all list mail.
    let lo_circle = link_of(&copy_for(&sink, "lo@x.org", "C1").unwrap());
    let r = post_form(app.http, &lo_circle, "scope=all").await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("You receive no more list mail"),
        "{}",
        r.body
    );
    post(&app, &circle, "C2").await;
    assert_eq!(
        delivered_to(&sink, "C2", 10).await,
        ["chair@x.org", "kim@x.org"]
    );
    app.stop().await;
}

#[tokio::test]
async fn mail_to_the_leave_address_needs_the_confirmation_link() {
    let (_db, sink, app) = board().await;
    post(&app, "board@lists.test", "One").await;
    sink.wait_for_recipients(3, WAIT).await;
    let header = copy_for(&sink, "ann@x.org", "One")
        .unwrap()
        .header("List-Unsubscribe")
        .unwrap();
    assert!(
        header.contains("<mailto:board-leave@lists.test?subject=leave>"),
        "{header}"
    );

    // Someone writes "as Ann" (or Ann herself): nothing changes yet; the link goes to Ann.
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client").await;
    let r = c
        .post(
            "someone@elsewhere.example",
            &["board-leave@lists.test"],
            "From: ann@x.org\r\nTo: board-leave@lists.test\r\nSubject: leave\r\n\r\n",
        )
        .await;
    assert!(r.starts_with("250 2.0.0 Request received"), "{r}");
    // A stranger gets the same answer and no mail.
    let r = c
        .post(
            "eve@elsewhere.example",
            &["board-leave@lists.test"],
            "From: eve@elsewhere.example\r\nSubject: leave\r\n\r\n",
        )
        .await;
    assert!(r.starts_with("250 2.0.0 Request received"), "{r}");
    sink.wait_for_recipients(4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let notices: Vec<Delivered> = sink
        .messages()
        .into_iter()
        .filter(|m| m.header("Auto-Submitted").as_deref() == Some("auto-generated"))
        .collect();
    assert_eq!(notices.len(), 1, "one confirmation, to Ann only");
    assert_eq!(notices[0].rcpts, ["ann@x.org"]);
    post(&app, "board@lists.test", "Two").await;
    assert_eq!(
        delivered_to(&sink, "Two", 7).await,
        ["ann@x.org", "bo@x.org", "chair@x.org"],
        "not left before the confirmation"
    );

    // Ann opens the link in the confirmation and presses the button.
    let text = notices[0].text();
    let url = text
        .split_whitespace()
        .find(|w| w.contains("/u/"))
        .expect("a link in the confirmation");
    let path = format!("/u/{}", url.split("/u/").nth(1).unwrap());
    assert_eq!(
        request(app.http, "GET", &path, None, None).await.status,
        200
    );
    assert_eq!(
        post_form(app.http, &path, "List-Unsubscribe=One-Click")
            .await
            .status,
        200
    );
    post(&app, "board@lists.test", "Three").await;
    assert_eq!(
        delivered_to(&sink, "Three", 9).await,
        ["bo@x.org", "chair@x.org"]
    );
    let g = app.store.find_group("Board").await.unwrap().unwrap();
    let outs = app.store.opt_outs(None, Some(g.id)).await.unwrap();
    assert_eq!(outs[0].channel, "mailto", "recorded with how Ann asked");
    app.stop().await;
}

#[tokio::test]
async fn a_quoted_footer_link_unsubscribes_no_one_without_the_owners_confirmation() {
    let (_db, sink, app) = board().await;
    post(&app, "board@lists.test", "One").await;
    sink.wait_for_recipients(3, WAIT).await;
    let ann = copy_for(&sink, "ann@x.org", "One").unwrap();
    let bo = copy_for(&sink, "bo@x.org", "One").unwrap();
    let body = |m: &Delivered| m.text().split_once("\r\n\r\n").unwrap().1.to_string();
    assert!(
        body(&ann).contains("Board list\r\nLämna listan: http://localhost:8080/leave/"),
        "{}",
        body(&ann)
    );
    assert_eq!(body(&ann), body(&bo), "the footer is the same for everyone");
    let footer_link = body(&ann)
        .split_whitespace()
        .find(|w| w.contains("/leave/"))
        .map(|u| format!("/leave/{}", u.split("/leave/").nth(1).unwrap()))
        .unwrap();

    // Bo replies to all quoting Ann's copy; someone follows the quoted footer link.
    let page = request(app.http, "GET", &footer_link, None, None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"address\""), "{}", page.body);
    let r = post_form(app.http, &footer_link, "address=ann%40x.org").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("ann@x.org"), "{}", r.body);
    // A stranger's address: the same page, and no mail.
    let r = post_form(app.http, &footer_link, "address=eve%40elsewhere.example").await;
    assert_eq!(r.status, 200);
    let r = post_form(app.http, &footer_link, "address=not-an-address").await;
    assert_eq!(r.status, 422);

    sink.wait_for_recipients(4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let notices: Vec<Delivered> = sink
        .messages()
        .into_iter()
        .filter(|m| m.header("Auto-Submitted").as_deref() == Some("auto-generated"))
        .collect();
    assert_eq!(
        notices.len(),
        1,
        "a confirmation to Ann, none to the stranger"
    );
    assert_eq!(notices[0].rcpts, ["ann@x.org"]);
    post(&app, "board@lists.test", "Two").await;
    assert_eq!(
        delivered_to(&sink, "Two", 7).await,
        ["ann@x.org", "bo@x.org", "chair@x.org"],
        "still subscribed until Ann confirms"
    );
    app.stop().await;
}

async fn write_to(app: &TestApp, from: &str, to: &str) -> String {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client").await;
    c.post(
        from,
        &[to],
        &format!("From: {from}\r\nTo: {to}\r\nSubject: join\r\n\r\n"),
    )
    .await
}

#[tokio::test]
async fn joining_by_mail_needs_the_confirmation_and_a_list_that_allows_it() {
    let (_db, sink, app) = board().await;
    // The default: managers add members; the refusal says whom to write to.
    let r = write_to(&app, "new@y.org", "board-join@lists.test").await;
    assert!(
        r.starts_with("550 5.7.1 Cannot join: Board takes new members from its managers only; write to board-owner@lists.test"),
        "{r}"
    );
    app.settings("Board", r#"{"self_subscribe": true}"#).await;
    let r = write_to(&app, "new@y.org", "board-join@lists.test").await;
    assert!(r.starts_with("250 2.0.0 Request received"), "{r}");
    sink.wait_for_recipients(1, WAIT).await;
    let notice = sink.messages().pop().unwrap();
    assert_eq!(notice.rcpts, ["new@y.org"]);
    let text = notice.text();
    let url = text
        .split_whitespace()
        .find(|w| w.contains("/join/"))
        .unwrap();
    let path = format!("/join/{}", url.split("/join/").nth(1).unwrap());

    // Not a member until the button is pressed.
    assert_eq!(
        request(app.http, "GET", &path, None, None).await.status,
        200
    );
    post(&app, "board@lists.test", "One").await;
    assert_eq!(
        delivered_to(&sink, "One", 4).await,
        ["ann@x.org", "bo@x.org", "chair@x.org"]
    );
    let r = post_form(app.http, &path, "").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Welcome to Board"), "{}", r.body);
    post(&app, "board@lists.test", "Two").await;
    assert_eq!(
        delivered_to(&sink, "Two", 8).await,
        ["ann@x.org", "bo@x.org", "chair@x.org", "new@y.org"]
    );
    // A changed link joins no one.
    let bad = post_form(app.http, &format!("{path}x"), "").await;
    assert_eq!(bad.status, 400);
    // A link asked for while the list took members by request joins no one once it stops.
    let r = write_to(&app, "late@y.org", "board-join@lists.test").await;
    assert!(r.starts_with("250 2.0.0 Request received"), "{r}");
    sink.wait_for_recipients(9, WAIT).await;
    let late = sink
        .messages()
        .into_iter()
        .find(|m| m.rcpts == ["late@y.org"])
        .unwrap()
        .text();
    let url = late
        .split_whitespace()
        .find(|w| w.contains("/join/"))
        .unwrap();
    let late_path = format!("/join/{}", url.split("/join/").nth(1).unwrap());
    app.settings("Board", r#"{"self_subscribe": false}"#).await;
    let r = post_form(app.http, &late_path, "").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("no longer takes new members"), "{}", r.body);
    post(&app, "board@lists.test", "Three").await;
    assert_eq!(
        delivered_to(&sink, "Three", 13).await,
        ["ann@x.org", "bo@x.org", "chair@x.org", "new@y.org"]
    );
    app.stop().await;
}

#[tokio::test]
async fn links_in_mail_already_sent_outlive_a_key_rotation_for_the_grace_period() {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::spawn(test_config(&db.url, sink.addr)).await;
    app.group("Board", "board", &["ann@x.org", "bo@x.org", "chair@x.org"])
        .await;
    post(&app, "board@lists.test", "One").await;
    sink.wait_for_recipients(3, WAIT).await;
    let ann = link_of(&copy_for(&sink, "ann@x.org", "One").unwrap());
    let bo = link_of(&copy_for(&sink, "bo@x.org", "One").unwrap());
    // `circlemail secret rotate`, then a restart.
    app.store
        .rotate_secret("links", crate::support::app::chrono_now())
        .await
        .unwrap();
    app.stop().await;
    let app = TestApp::spawn(test_config(&db.url, sink.addr)).await;
    post(&app, "board@lists.test", "Two").await;
    sink.wait_for_recipients(6, WAIT).await;
    assert_ne!(
        link_of(&copy_for(&sink, "ann@x.org", "Two").unwrap()),
        ann,
        "new key"
    );
    assert_eq!(
        post_form(app.http, &ann, "List-Unsubscribe=One-Click")
            .await
            .status,
        200,
        "old link, within the grace period"
    );
    app.stop().await;

    // Past the grace period the old key is gone.
    let mut config = test_config(&db.url, sink.addr);
    config.http.link_key_grace = Duration::ZERO;
    let app = TestApp::spawn(config).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        post_form(app.http, &bo, "List-Unsubscribe=One-Click")
            .await
            .status,
        400
    );
    app.stop().await;
}

#[tokio::test]
async fn the_api_lists_opt_outs_with_channel_and_counts_them_per_post() {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = test_config(&db.url, sink.addr);
    let token = "test-token-0123456789abcdef";
    config.http.api_token = Some(circlemail::config::Secret::new(token));
    let app = TestApp::spawn(config).await;
    app.group("Board", "board", &["ann@x.org", "bo@x.org", "chair@x.org"])
        .await;
    post(&app, "board@lists.test", "One").await;
    sink.wait_for_recipients(3, WAIT).await;
    for who in ["ann@x.org", "bo@x.org"] {
        let link = link_of(&copy_for(&sink, who, "One").unwrap());
        assert_eq!(
            post_form(app.http, &link, "List-Unsubscribe=One-Click")
                .await
                .status,
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    post(&app, "board@lists.test", "Two").await;
    sink.wait_for_recipients(4, WAIT).await;
    let g = app.store.find_group("Board").await.unwrap().unwrap();
    let r = request(
        app.http,
        "GET",
        &format!("/api/v1/groups/{}/opt-outs", g.id),
        Some(token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let outs = v["opt_outs"].as_array().unwrap();
    assert_eq!(outs.len(), 2);
    assert!(
        outs.iter()
            .all(|o| o["channel"] == "link" && o["created_at"].as_i64().unwrap() > 0)
    );
    let per_post: Vec<i64> = v["per_post"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["opt_outs"].as_i64().unwrap())
        .collect();
    assert_eq!(
        per_post,
        [0, 2],
        "newest first: Two lost no one, One lost two"
    );
    app.stop().await;
}

crate::on_both_backends!(
    the_one_click_link_names_nobody_and_readable_links_of_before_still_work,
    async |db: &TestDb| {
        use base64::Engine;
        let sink = Sink::start().await;
        let app = TestApp::spawn(test_config(&db.url, sink.addr)).await;
        app.group("Board", "board", &["ann@x.org", "bo@x.org", "chair@x.org"])
            .await;
        post(&app, "board@lists.test", "One").await;
        sink.wait_for_recipients(3, WAIT).await;
        let link = link_of(&copy_for(&sink, "ann@x.org", "One").unwrap());
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        assert!(
            !link.contains("ann") && !link.contains(&b64.encode("ann@x.org")),
            "the link names its recipient: {link}"
        );
        // A link of the old, readable form, signed with the server's link key.
        let key = app.store.secret("links", 0).await.unwrap();
        let group = app.store.find_group("Board").await.unwrap().unwrap();
        let old = circlemail::tokens::Signer::new(key).seal(
            circlemail::unsubscribe::PURPOSE,
            &format!("{}.{}", group.id, b64.encode("bo@x.org")),
        );
        for (who, path) in [("ann", link), ("bo", format!("/u/{old}"))] {
            let done = post_form(app.http, &path, "List-Unsubscribe=One-Click").await;
            assert_eq!(done.status, 200, "{who}: {}", done.body);
        }
        post(&app, "board@lists.test", "Two").await;
        assert_eq!(delivered_to(&sink, "Two", 4).await, ["chair@x.org"]);
        app.stop().await;
    }
);
