//! How a list mail looks: From (DMARC-aware), Reply-To, Subject prefix, footer, List-* headers;
//! a one-way list and a board discussing by reply-all, from an ordinary client's point of view.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    app::{TestApp, test_config},
    db::{Backend, TestDb},
    sink::Sink,
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(15);

async fn list(members: &[&str], settings: serde_json::Value) -> (TestDb, Sink, TestApp) {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::spawn(test_config(&db.url, sink.addr)).await;
    app.group("Board", "board", members).await;
    let g = app.store.find_group("Board").await.unwrap().unwrap();
    app.store
        .set_settings(g.id, &settings.to_string())
        .await
        .unwrap();
    (db, sink, app)
}

async fn send(app: &TestApp, envelope: &str, head: &str, body: &str) -> String {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client").await;
    c.post(
        envelope,
        &["board@lists.test"],
        &format!("{head}\r\n\r\n{body}"),
    )
    .await
}

#[tokio::test]
async fn auto_mode_rewrites_from_only_for_domains_publishing_a_strict_dmarc_policy() {
    let members = [
        "ann@strict.example",
        "bo@relaxed.example",
        "cy@quarantine.example",
        "di@sub.quarantine.example",
    ];
    let (_db, sink, app) = list(&members, json!({})).await;
    for (i, m) in members.iter().enumerate() {
        let r = send(
            &app,
            m,
            &format!("From: Member {i} <{m}>\r\nTo: board@lists.test\r\nSubject: s{i}"),
            "x",
        )
        .await;
        assert!(r.starts_with("250"), "{r}");
    }
    sink.wait_for_recipients(16, WAIT).await;
    let from_of = |subject: &str| {
        let m = sink
            .messages()
            .into_iter()
            .find(|m| m.header("Subject").as_deref() == Some(subject))
            .unwrap();
        (
            m.header("From").unwrap(),
            m.header("Reply-To"),
            m.header("X-Original-From"),
        )
    };
    assert_eq!(
        from_of("s0"),
        (
            "\"Member 0 via Board\" <board@lists.test>".into(),
            Some("\"Member 0\" <ann@strict.example>".into()),
            Some("Member 0 <ann@strict.example>".into())
        ),
        "p=reject"
    );
    assert_eq!(
        from_of("s1").0,
        "Member 1 <bo@relaxed.example>",
        "p=none: as written"
    );
    assert_eq!(
        from_of("s2").0,
        "\"Member 2 via Board\" <board@lists.test>",
        "p=quarantine"
    );
    assert_eq!(
        from_of("s3").0,
        "Member 3 <di@sub.quarantine.example>",
        "sp=none for subdomains"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_one_way_list_sends_the_leaders_post_and_replies_go_to_the_leader_only() {
    let settings = json!({"who_may_post": "managers", "member_action": "reject", "reply_to": "author", "subject_prefix": "[Study circle]"});
    let (_db, sink, app) = list(&["kim@x.org", "lee@x.org"], settings).await;
    let g = app.store.find_group("Board").await.unwrap().unwrap();
    let leader = app
        .store
        .upsert_person(
            &circlemail::model::address::EmailAddress::parse("leader@x.org").unwrap(),
            None,
            0,
        )
        .await
        .unwrap();
    app.store
        .add_member_with_term(g.id, leader.id, "manager", None, None, 0)
        .await
        .unwrap();

    let r = send(
        &app,
        "leader@x.org",
        "From: Leader <leader@x.org>\r\nTo: board@lists.test\r\nSubject: Chapter 3",
        "Read chapter 3.",
    )
    .await;
    assert!(r.starts_with("250 2.0.0 Queued"), "{r}");
    sink.wait_for_recipients(3, WAIT).await;
    let copy = sink.by_recipient()["kim@x.org"][0].clone();
    assert_eq!(
        copy.header("Subject").as_deref(),
        Some("[Study circle] Chapter 3")
    );
    assert_eq!(
        copy.header("From").as_deref(),
        Some("Leader <leader@x.org>")
    );
    assert_eq!(
        copy.header("Reply-To"),
        None,
        "a reply goes to From:, the leader"
    );
    assert_eq!(copy.header("List-Post").as_deref(), Some("NO"));

    // A member's reply sent to the list anyway is refused in the dialogue, not distributed.
    let reply = send(
        &app,
        "kim@x.org",
        "From: kim@x.org\r\nTo: board@lists.test\r\nSubject: Re: [Study circle] Chapter 3",
        "Thanks!",
    )
    .await;
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.recipient_count(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_board_reply_all_reaches_every_member_exactly_once() {
    let settings =
        json!({"reply_to": "list", "subject_prefix": "[Board]", "author_receives_own": false});
    let (_db, sink, app) = list(&["ann@x.org", "bo@x.org", "cy@x.org", "di@x.org"], settings).await;
    // Ann replies to all: To the list, Cc Bo (who gets it from Ann's own server).
    let di = app
        .store
        .find_person(&circlemail::model::address::EmailAddress::parse("di@x.org").unwrap())
        .await
        .unwrap()
        .unwrap();
    app.store.set_receive_duplicates(di.id, true).await.unwrap();
    let r = send(&app, "ann@x.org", "From: Ann <ann@x.org>\r\nTo: board@lists.test\r\nCc: Bo <bo@x.org>, di@x.org\r\nSubject: Re: [Board] Re: Budget", "Agreed.").await;
    assert!(r.starts_with("250"), "{r}");
    sink.wait_for_recipients(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = sink.by_recipient();
    let mut who: Vec<&String> = got.keys().collect();
    who.sort();
    assert_eq!(
        who,
        ["cy@x.org", "di@x.org"],
        "bo was addressed directly; di too, but she asked for the list's copy; ann does not want her own post"
    );
    let copy = &got["cy@x.org"][0];
    assert_eq!(
        copy.header("Subject").as_deref(),
        Some("[Board] Re: Budget")
    );
    assert_eq!(
        copy.header("Reply-To").as_deref(),
        Some("<board@lists.test>")
    );
    app.stop().await;
}

#[tokio::test]
async fn prefix_footer_and_non_ascii_make_a_valid_message_for_two_parsers() {
    let settings = json!({"subject_prefix": "[Styrelsen]", "footer_text": "Lämna listan: https://lists.test/u", "language": "sv"});
    let (_db, sink, app) = list(&["ann@x.org", "bo@x.org"], settings).await;
    let head = "From: =?utf-8?q?=C3=85sa?= <ann@x.org>\r\nTo: board@lists.test\r\nSubject: =?utf-8?q?M=C3=B6te_p=C3=A5_torsdag?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"";
    let body = "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHej alla.\r\n--b\r\nContent-Type: application/pdf; name=\"protokoll.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--";
    assert!(send(&app, "ann@x.org", head, body).await.starts_with("250"));
    sink.wait_for_recipients(2, WAIT).await;
    let raw = sink.messages()[0].data.clone();

    let parsed = mail_parser::MessageParser::new()
        .parse(&raw)
        .expect("mail-parser reads it");
    assert_eq!(parsed.subject(), Some("[Styrelsen] Möte på torsdag"));
    assert_eq!(parsed.attachment_count(), 1);
    assert_eq!(parsed.attachment(0).unwrap().contents(), b"%PDF-1.4\n");
    assert!(raw.windows(5).all(|w| w != b"\n\n\n\n\n"));

    // An independent parser: Python's email package.
    let script = r#"
import sys, email, email.policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
assert not m.defects, m.defects
print(m["subject"])
for part in m.walk():
    assert not part.defects, part.defects
    if part.get_content_type() == "text/plain":
        print(part.get_content().strip())
    elif part.get_filename():
        print("attachment", part.get_filename(), part.get_payload(decode=True))
"#;
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&raw).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("[Styrelsen] Möte på torsdag\n"), "{text}");
    assert!(
        text.contains("Hej alla.") && text.contains("Lämna listan: https://lists.test/u"),
        "{text}"
    );
    assert!(
        text.contains("attachment protokoll.pdf b'%PDF-1.4\\n'"),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn to_mode_recipient_sends_each_member_a_copy_addressed_to_them() {
    let (_db, sink, app) = list(&["kim@x.org", "lee@x.org"], json!({"to_mode": "recipient"})).await;
    assert!(
        send(
            &app,
            "kim@x.org",
            "From: kim@x.org\r\nTo: board@lists.test\r\nSubject: Hi",
            "x"
        )
        .await
        .starts_with("250")
    );
    sink.wait_for_recipients(2, WAIT).await;
    for m in sink.messages() {
        assert_eq!(m.rcpts.len(), 1, "one copy per recipient");
        assert_eq!(m.header("To"), Some(format!("<{}>", m.rcpts[0])));
    }
    app.stop().await;
}
