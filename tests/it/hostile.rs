//! The SMTP/LMTP server under hostile and unusual input: the exact size limit, SIZE overflow,
//! slow clients, a thousand pipelined recipients, US-ASCII replies, quoted and invalid paths,
//! and well-formed list copies from a header-only post.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::on_both_backends;
use crate::support::{
    app::{TestApp, message, test_config},
    db::{Backend, TestDb},
    python,
    sink::Sink,
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(20);
const MAX: usize = 64 * 1024; // test_config's smtp.max_message_size

/// A post from anna to board of exactly `size` bytes, ending in CRLF, no line starting with ".".
fn post_of_size(size: usize) -> String {
    let head = message("anna@example.org", "board@lists.test", "Exact", "");
    let mut m = head;
    let line = "x".repeat(76) + "\r\n";
    while m.len() + line.len() <= size {
        m.push_str(&line);
    }
    let rest = size - m.len();
    assert!(rest == 0 || rest >= 2, "{rest}");
    if rest > 0 {
        m.push_str(&"y".repeat(rest - 2));
        m.push_str("\r\n");
    }
    assert_eq!(m.len(), size);
    m
}

async fn data(c: &mut Client, rcpts: &[&str], msg: &str) -> Vec<String> {
    assert!(
        c.cmd("MAIL FROM:<anna@example.org>")
            .await
            .starts_with("250")
    );
    for r in rcpts {
        assert!(c.cmd(&format!("RCPT TO:<{r}>")).await.starts_with("250"));
    }
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(msg).await;
    c.send(".\r\n").await;
    let mut replies = Vec::new();
    for _ in 0..rcpts.len() {
        replies.push(c.reply().await);
    }
    replies
}

on_both_backends!(
    the_size_limit_is_exact_at_the_end_of_data_bdat_and_lmtp_and_a_huge_size_is_552,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let mut config = test_config(&db.url, sink.addr);
        config.lmtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
        let app = TestApp::spawn(config).await;
        app.group("Board", "board", &["anna@example.org", "bo@example.net"])
            .await;
        let (mut c, _) = Client::connect(app.smtp).await;
        c.cmd("EHLO client.example.org").await;
        // DATA: the limit itself is fine, one byte more is not (it fits in the same read).
        let at = data(&mut c, &["board@lists.test"], &post_of_size(MAX)).await;
        assert!(at[0].starts_with("250 2.0.0 Queued"), "{at:?}");
        let over = data(&mut c, &["board@lists.test"], &post_of_size(MAX + 1)).await;
        assert!(over[0].starts_with("552 5.3.4"), "{over:?}");
        // BDAT, in two chunks.
        for (size, ok) in [(MAX, true), (MAX + 1, false)] {
            let m = post_of_size(size);
            c.cmd("MAIL FROM:<anna@example.org>").await;
            c.cmd("RCPT TO:<board@lists.test>").await;
            let (a, b) = m.as_bytes().split_at(size / 2);
            c.send(&format!("BDAT {}\r\n", a.len())).await;
            c.send_bytes(a).await;
            let first = c.reply().await;
            c.send(&format!("BDAT {} LAST\r\n", b.len())).await;
            c.send_bytes(b).await;
            let last = if first.starts_with("250") {
                c.reply().await
            } else {
                first
            };
            assert_eq!(
                last.starts_with("250 2.0.0 Queued"),
                ok,
                "BDAT {size}: {last}"
            );
            if !ok {
                assert!(last.starts_with("552 5.3.4"), "{last}");
                c.cmd("RSET").await;
            }
        }
        // A SIZE no number holds.
        let r = c
            .cmd("MAIL FROM:<anna@example.org> SIZE=99999999999999999999999")
            .await;
        assert!(r.starts_with("552 5.3.4"), "{r}");
        let r = c
            .cmd(&format!("MAIL FROM:<anna@example.org> SIZE={}", MAX + 1))
            .await;
        assert!(r.starts_with("552 5.3.4"), "{r}");
        c.cmd("QUIT").await;

        // LMTP: one reply per recipient, each 552.
        let (mut l, _) = Client::connect(app.lmtp.unwrap()).await;
        l.cmd("LHLO mx.example.org").await;
        let at = data(
            &mut l,
            &["board@lists.test", "board-owner@lists.test"],
            &post_of_size(MAX),
        )
        .await;
        assert!(at.iter().all(|r| r.starts_with("250")), "{at:?}");
        let over = data(
            &mut l,
            &["board@lists.test", "board-owner@lists.test"],
            &post_of_size(MAX + 1),
        )
        .await;
        assert!(over.iter().all(|r| r.starts_with("552 5.3.4")), "{over:?}");

        // Only the posts at the limit were delivered: DATA, BDAT and LMTP, two members each.
        sink.wait_for_recipients(6, WAIT).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.recipient_count(), 6);
        app.stop().await;
    }
);

on_both_backends!(
    a_thousand_pipelined_recipients_keep_the_session_and_the_accepted_ones_get_the_post,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let app = TestApp::spawn(test_config(&db.url, sink.addr)).await;
        app.group("Board", "board", &["anna@example.org", "bo@example.net"])
            .await;
        let (mut c, _) = Client::connect(app.smtp).await;
        c.cmd("EHLO client.example.org").await;
        let mut batch = String::from("MAIL FROM:<anna@example.org>\r\n");
        for _ in 0..1000 {
            batch.push_str("RCPT TO:<board@lists.test>\r\n");
        }
        batch.push_str("DATA\r\n");
        c.send(&batch).await;
        let mut codes = std::collections::BTreeMap::<String, usize>::new();
        assert!(c.reply().await.starts_with("250"));
        for _ in 0..1000 {
            let r = c.reply().await;
            *codes
                .entry(r.get(..9).unwrap_or(&r).to_string())
                .or_default() += 1;
        }
        assert_eq!(codes.get("250 2.1.5"), Some(&100), "{codes:?}");
        assert_eq!(codes.get("452 4.5.3"), Some(&900), "{codes:?}");
        let go = c.reply().await;
        assert!(go.starts_with("354"), "{go}");
        c.send(&message(
            "anna@example.org",
            "board@lists.test",
            "Many",
            "hi",
        ))
        .await;
        c.send("\r\n.\r\n").await;
        let done = c.reply().await;
        assert!(done.starts_with("250 2.0.0 Queued"), "{done}");
        sink.wait_for_recipients(2, WAIT).await;
        app.stop().await;
    }
);

/// Reads everything the server sends until it closes, or `limit` passes.
async fn read_all(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut all = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut all)).await;
    all
}

#[tokio::test]
async fn replies_are_us_ascii_and_paths_follow_rfc_5321_and_6531() {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let app = TestApp::start(&db, &sink).await;
    app.group("Board", "board", &["anna@example.org"]).await;
    let mut s = TcpStream::connect(app.smtp).await.unwrap();
    let mut out: Vec<u8> = Vec::new();
    out.extend_from_slice(b"EHLO client.example.org\r\n");
    // A quoted local part is a valid sender.
    out.extend_from_slice(b"MAIL FROM:<\"anna smith\"@example.org>\r\n");
    // A UTF-8 address, without SMTPUTF8: refused without echoing it.
    out.extend_from_slice("RCPT TO:<björn@lists.test>\r\n".as_bytes());
    // Invalid UTF-8 in the path.
    out.extend_from_slice(b"RCPT TO:<bj\xf6rn@lists.test>\r\n");
    out.extend_from_slice(b"RCPT TO:<board@lists.test>\r\nRSET\r\n");
    out.extend_from_slice(b"MAIL FROM:<x\xff@example.org>\r\nQUIT\r\n");
    s.write_all(&out).await.unwrap();
    let got = read_all(&mut s, Duration::from_secs(10)).await;
    assert!(got.is_ascii(), "{}", String::from_utf8_lossy(&got));
    let text = String::from_utf8(got).unwrap();
    let replies: Vec<&str> = text
        .split("\r\n")
        .filter(|l| l.len() > 3 && l.as_bytes()[3] == b' ')
        .collect();
    assert!(replies[2].starts_with("250 2.1.0"), "quoted sender: {text}");
    assert!(replies[3].starts_with("550 5.1.1"), "{text}");
    assert!(replies[4].starts_with("501 5.6.7"), "invalid UTF-8: {text}");
    assert!(replies[5].starts_with("250 2.1.5"), "{text}");
    assert!(replies[7].starts_with("501 5.6.7"), "{text}");
    // The bare-line-ending refusal is ASCII too.
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.example.org").await;
    c.cmd("MAIL FROM:<anna@example.org>").await;
    c.cmd("RCPT TO:<board@lists.test>").await;
    c.cmd("DATA").await;
    c.send("From: anna@example.org\r\n\r\nbare\nline\r\n.\r\n")
        .await;
    let r = c.reply().await;
    assert!(r.starts_with("554 5.6.0") && r.is_ascii(), "{r}");
    app.stop().await;
}

/// Python's email package (policy.default) finds no defect in any part of the message.
const NO_DEFECTS: &str = r#"
import sys, email, email.policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
defects = [(p.get_content_type(), d) for p in m.walk() for d in p.defects]
if defects: print(defects); sys.exit(1)
if not m['From'] or not m['Date']: print('header section lost its fields'); sys.exit(1)
print(m.get_content_type(), m.get_param('charset'))
"#;

on_both_backends!(
    every_list_copy_parses_without_defects_and_an_ascii_post_takes_a_utf8_footer_inline,
    async |db: &TestDb| {
        let sink = Sink::start().await;
        let app = TestApp::spawn(test_config(&db.url, sink.addr)).await;
        app.group("Board", "board", &["anna@example.org"]).await;
        app.settings(
            "Board",
            r#"{"footer_text": "Lämna listan: skriv till board-owner@lists.test"}"#,
        )
        .await;
        let (mut c, _) = Client::connect(app.smtp).await;
        c.cmd("EHLO client.example.org").await;
        // A header-only post without a final CRLF, by BDAT.
        let head = "From: anna@example.org\r\nTo: board@lists.test\r\nSubject: Only a header\r\nMessage-ID: <h1@client.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000";
        c.cmd("MAIL FROM:<anna@example.org>").await;
        c.cmd("RCPT TO:<board@lists.test>").await;
        c.send(&format!("BDAT {} LAST\r\n", head.len())).await;
        c.send(head).await;
        let r = c.reply().await;
        assert!(r.starts_with("250 2.0.0 Queued"), "{r}");
        // A plain US-ASCII post without Content-Type.
        let r = c
            .post(
                "anna@example.org",
                &["board@lists.test"],
                &message(
                    "anna@example.org",
                    "board@lists.test",
                    "Plain",
                    "Just text.",
                ),
            )
            .await;
        assert!(r.starts_with("250 2.0.0 Queued"), "{r}");
        sink.wait_for_recipients(2, WAIT).await;
        for copy in sink.messages() {
            let (ok, said) = python::run(NO_DEFECTS, copy.data.clone(), String::new()).await;
            assert!(ok, "{said}\n{}", copy.text());
            assert_eq!(said.trim(), "text/plain utf-8", "{}", copy.text());
            let text = copy.text();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(!head.contains("Lämna"), "{text}");
            assert!(body.contains("Lämna listan"), "{text}");
        }
        app.stop().await;
    }
);

/// Sends `bytes` one byte a second on a raw connection; returns what the server said and when
/// it closed (or `None` when it kept the session past `limit`).
async fn trickle(
    stream: &mut TcpStream,
    bytes: &[u8],
    limit: Duration,
) -> (String, Option<Duration>) {
    let start = tokio::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    let mut i = 0;
    while start.elapsed() < limit {
        if i < bytes.len() && stream.write_all(&bytes[i..i + 1]).await.is_err() {
            // The server closed the connection (a reset reaches the writer first).
            return (String::from_utf8_lossy(&got).into(), Some(start.elapsed()));
        }
        i += 1;
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (String::from_utf8_lossy(&got).into(), Some(start.elapsed()));
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    (String::from_utf8_lossy(&got).into(), None)
}

#[tokio::test]
async fn a_client_sending_one_byte_a_second_is_cut_off_by_the_command_data_and_session_limits() {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = test_config(&db.url, sink.addr);
    config.smtp.idle_timeout = Duration::from_secs(2);
    config.smtp.data_timeout = Duration::from_secs(3);
    config.smtp.session_timeout = Duration::from_secs(5);
    let app = TestApp::spawn(config).await;
    app.group("Board", "board", &["anna@example.org"]).await;

    // A command line trickled in: cut off after idle_timeout, although bytes keep coming.
    let mut s = TcpStream::connect(app.smtp).await.unwrap();
    let (said, closed) = trickle(
        &mut s,
        b"EHLO a-very-slow-client.example.org\r\n",
        Duration::from_secs(12),
    )
    .await;
    let closed = closed.unwrap_or_else(|| panic!("still open after 12 s: {said}"));
    assert!(said.contains("421 4.4.2"), "{said}");
    assert!(closed < Duration::from_secs(5), "{closed:?}");

    // Message data trickled in: cut off after data_timeout.
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.example.org").await;
    c.cmd("MAIL FROM:<anna@example.org>").await;
    c.cmd("RCPT TO:<board@lists.test>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    let mut s = c.into_stream();
    let (said, closed) = trickle(
        &mut s,
        "From: anna@example.org\r\n\r\nslow".repeat(5).as_bytes(),
        Duration::from_secs(12),
    )
    .await;
    let closed = closed.unwrap_or_else(|| panic!("still open after 12 s: {said}"));
    assert!(said.contains("421 4.4.2"), "{said}");
    assert!(closed < Duration::from_secs(6), "{closed:?}");

    // Whole commands, each in time, but the session goes on too long.
    let (mut c, _) = Client::connect(app.smtp).await;
    let start = tokio::time::Instant::now();
    let mut last = String::new();
    while start.elapsed() < Duration::from_secs(12) {
        last = c.cmd("NOOP").await;
        if !last.starts_with("250") {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(last.starts_with("421 4.4.2"), "{last}");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(sink.recipient_count(), 0);
    app.stop().await;
}
