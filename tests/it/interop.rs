//! A stock client we did not write (Python's smtplib) sends to circlemail, in clear and over
//! STARTTLS, and the members receive the post; a server we did not write (aiosmtpd) receives
//! circlemail's personal copies as the relay, pipelined and not.

use std::{process::Command, time::Duration};

use crate::support::{
    app::{TestApp, message, queue_id, test_config},
    db::{Backend, TestDb},
    pyrelay::PyRelay,
    sink::Sink,
    smtp::Client,
};

async fn python(script: &'static str, args: Vec<String>) -> (bool, String) {
    tokio::task::spawn_blocking(move || python_blocking(script, &args))
        .await
        .unwrap()
}

fn python_blocking(script: &str, args: &[String]) -> (bool, String) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed for the interoperability tests (scripts/test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const SEND: &str = r#"
import smtplib, ssl, sys, email.policy
from email.message import EmailMessage
port, tls = int(sys.argv[1]), sys.argv[2] == "tls"
msg = EmailMessage()
msg["From"] = "Åsa Berg <asa@example.org>"
msg["To"] = "board@lists.test"
msg["Subject"] = "Möte på torsdag"
msg.set_content("Hej alla,\nvi ses.\n")
msg.add_attachment(b"\x00\x01binary", maintype="application", subtype="octet-stream", filename="a.bin")
with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
    if tls:
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
    refused = s.sendmail("asa@example.org", ["board@lists.test", "nobody@lists.test"],
                         msg.as_bytes(policy=email.policy.SMTP))
    print("refused", refused)
    print("sent", s.sock.version() if hasattr(s.sock, "version") else "plain")
"#;

async fn check_delivery(sink: &Sink) {
    sink.wait_for_recipients(2, Duration::from_secs(15)).await;
    for m in sink.messages() {
        let parsed = mail_parser::MessageParser::new()
            .parse(&m.data)
            .expect("parses");
        assert_eq!(parsed.subject(), Some("Möte på torsdag"));
        assert_eq!(parsed.attachment_count(), 1);
        assert!(parsed.body_text(0).unwrap().contains("vi ses."));
    }
}

#[tokio::test]
async fn python_smtplib_posts_to_a_list() {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::start(&db, &sink).await;
    app.group("Board", "board", &["asa@example.org", "bo@example.net"])
        .await;
    let (ok, out) = python(SEND, vec![app.smtp.port().to_string(), "plain".into()]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("'nobody@lists.test': (550, b'5.1.1"),
        "smtplib sees the refused recipient: {out}"
    );
    check_delivery(&sink).await;
    app.stop().await;
}

#[tokio::test]
async fn python_smtplib_posts_over_starttls() {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let cert = rcgen::generate_simple_self_signed(vec!["circlemail.test".into()]).unwrap();
    let cert_path = db.dir.path().join("cert.pem");
    let key_path = db.dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let mut config = test_config(&db.url, sink.addr);
    config.smtp.tls_certificate = Some(cert_path);
    config.smtp.tls_key = Some(key_path);
    let app = TestApp::spawn(config).await;
    app.group("Board", "board", &["asa@example.org", "bo@example.net"])
        .await;
    let (ok, out) = python(SEND, vec![app.smtp.port().to_string(), "tls".into()]).await;
    assert!(ok, "{out}");
    assert!(out.contains("sent TLS"), "the session was encrypted: {out}");
    check_delivery(&sink).await;
    let received = sink.messages()[0].header("Received").unwrap();
    assert!(received.contains("with ESMTPS"), "{received}");
    app.stop().await;
}

/// Five personal copies (VERP sender, own List-Unsubscribe) through aiosmtpd as the relay, one
/// recipient refused by it: the others get exactly their own copy, byte for byte, on one
/// connection.
async fn personal_copies_through_aiosmtpd(pipelining: bool) {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let mut args = vec!["refuse=gone@example.net"];
    if pipelining {
        args.push("pipelining");
    }
    let relay = tokio::task::spawn_blocking(move || PyRelay::start(&args))
        .await
        .unwrap();
    let app = TestApp::spawn(test_config(&db.url, relay.addr)).await;
    let members = [
        "ann@example.org",
        "bo@example.org",
        "gone@example.net",
        "cay@example.org",
        "dan@example.org",
    ];
    let list = app.group("Board", "board", &members).await;
    app.settings("Board", r#"{"unsubscribe_footer": false}"#)
        .await;
    let body = "Hej Åsa,\r\n.a line with a leading dot\r\n..and two\r\n.\r\nend";
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.example.org").await;
    let reply = c
        .post(
            "ann@example.org",
            &[&list],
            &message("Ann <ann@example.org>", &list, "Piped", body),
        )
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    let queue_id = queue_id(&reply);

    let got = relay.wait_for(4, Duration::from_secs(15)).await;
    let rows = app
        .deliveries_when(&queue_id, |r| r.status != "queued")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_now = relay.received();
    assert_eq!(got_now.len(), 4, "no copy twice: {got_now:?}");
    let gone = rows
        .iter()
        .find(|r| r.recipient == "gone@example.net")
        .unwrap();
    assert_eq!(gone.status, "failed", "{rows:?}");
    assert!(
        gone.last_error
            .as_deref()
            .unwrap_or("")
            .contains("550 5.1.1"),
        "{gone:?}"
    );
    let mut who: Vec<&str> = got.iter().map(|m| m.rcpts[0].as_str()).collect();
    who.sort();
    assert_eq!(
        who,
        [
            "ann@example.org",
            "bo@example.org",
            "cay@example.org",
            "dan@example.org"
        ]
    );
    for m in &got {
        assert_eq!(m.rcpts.len(), 1);
        let rcpt = &m.rcpts[0];
        let verp = format!("board-bounces+{}=", rcpt.replace('@', "="));
        assert!(m.mail_from.starts_with(&verp), "{rcpt}: {}", m.mail_from);
        let parsed = mail_parser::MessageParser::new()
            .parse(&m.data)
            .expect("parses");
        assert_eq!(parsed.subject(), Some("Piped"));
        assert!(
            m.text().ends_with(&format!("\r\n\r\n{body}\r\n")),
            "{rcpt}: body byte for byte: {:?}",
            m.text()
        );
        let unsubscribe = parsed
            .header_raw("List-Unsubscribe")
            .expect("List-Unsubscribe")
            .to_string();
        for other in got.iter().filter(|o| o.rcpts[0] != *rcpt) {
            assert!(
                !other.text().contains(unsubscribe.trim()),
                "{rcpt}'s link is in {}'s copy",
                other.rcpts[0]
            );
        }
        assert_eq!(
            m.connection, got[0].connection,
            "one connection for the batch"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn aiosmtpd_with_pipelining_receives_each_members_own_copy() {
    personal_copies_through_aiosmtpd(true).await;
}

#[tokio::test]
async fn aiosmtpd_without_pipelining_receives_each_members_own_copy() {
    personal_copies_through_aiosmtpd(false).await;
}
