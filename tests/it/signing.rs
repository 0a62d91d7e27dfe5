//! Every copy is DKIM-signed and verifies with an independent verifier (dkimpy), for RSA,
//! Ed25519 and both at once, on a message with a non-ASCII subject and an attachment.

use std::time::Duration;

use circlemail::{config::DkimKeyConfig, signing::keys};

use crate::support::{
    app::{TestApp, test_config},
    db::{Backend, TestDb},
    sink::Sink,
    smtp::Client,
};

const VERIFY: &str = r#"
import sys, json, dkim
records = json.loads(sys.argv[1])
msg = sys.stdin.buffer.read()
def dns(name, timeout=5):
    return records.get(name.decode().rstrip(".")).encode()
d = dkim.DKIM(msg)
n = msg.split(b"\r\n\r\n", 1)[0].lower().count(b"\r\ndkim-signature:") + msg.lower().startswith(b"dkim-signature:")
results = [d.verify(idx=i, dnsfunc=dns) for i in range(n)]
print(n, results, [s.get(b"a").decode() for s in d.signatures] if hasattr(d, "signatures") else "")
sys.exit(0 if n > 0 and all(results) else 1)
"#;

async fn verify_with_dkimpy(message: Vec<u8>, records: String) -> (bool, String) {
    crate::support::python::run(VERIFY, message, records).await
}

async fn signed_copy(kinds: &[&str]) -> (Vec<u8>, String, TestApp) {
    let (copies, records, app) = signed_copies(kinds, "").await;
    (copies[0].data.clone(), records, app)
}

/// Posts a multipart message with a non-ASCII subject and a PDF to a two-member list signed
/// with `kinds`; `extra_settings` is added to the list's settings JSON.
async fn signed_copies(
    kinds: &[&str],
    extra_settings: &str,
) -> (Vec<crate::support::sink::Delivered>, String, TestApp) {
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    let mut config = test_config(&db.url, sink.addr);
    let mut records = serde_json::Map::new();
    for (i, kind) in kinds.iter().enumerate() {
        let pem = keys::generate(kind).unwrap();
        let path = db.dir.path().join(format!("{kind}.pem"));
        std::fs::write(&path, &pem).unwrap();
        let loaded = keys::parse(pem.as_bytes()).unwrap();
        let selector = format!("s{i}{kind}");
        records.insert(
            format!("{selector}._domainkey.lists.test"),
            format!("v=DKIM1; k={kind}; p={}", loaded.public).into(),
        );
        config.dkim.keys.push(DkimKeyConfig {
            domain: "lists.test".into(),
            selector,
            private_key: path,
            arc: true,
        });
    }
    let app = TestApp::spawn(config).await;
    app.group("Styrelsen", "board", &["anna@x.org", "bo@x.org"])
        .await;
    let g = app.store.find_group("Styrelsen").await.unwrap().unwrap();
    app.store
        .set_settings(
            g.id,
            &format!(
                r#"{{"subject_prefix": "[Styrelsen]", "footer_text": "Lämna listan"{extra_settings}}}"#
            ),
        )
        .await
        .unwrap();
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client").await;
    let body = "From: =?utf-8?q?=C3=85sa?= <anna@x.org>\r\nTo: board@lists.test\r\nSubject: =?utf-8?q?M=C3=B6te?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHej.\r\n--b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--";
    assert!(
        c.post("anna@x.org", &["board@lists.test"], body)
            .await
            .starts_with("250")
    );
    sink.wait_for_recipients(2, Duration::from_secs(15)).await;
    let copies = sink.messages();
    std::mem::forget(db); // the keys must outlive the app
    (copies, serde_json::Value::Object(records).to_string(), app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_signed_copies_verify_with_dkimpy() {
    let (copy, records, app) = signed_copy(&["rsa"]).await;
    let (ok, out) = verify_with_dkimpy(copy.clone(), records).await;
    assert!(ok, "{out}");
    assert!(String::from_utf8_lossy(&copy).starts_with("DKIM-Signature: v=1; a=rsa-sha256;"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_signed_copies_verify_with_dkimpy() {
    let (copy, records, app) = signed_copy(&["ed25519"]).await;
    let (ok, out) = verify_with_dkimpy(copy, records).await;
    assert!(ok, "{out}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_signed_copies_verify_both_signatures_and_oversign_from() {
    let (copy, records, app) = signed_copy(&["rsa", "ed25519"]).await;
    let (ok, out) = verify_with_dkimpy(copy.clone(), records).await;
    assert!(ok, "{out}");
    assert!(out.starts_with("2 [True, True]"), "{out}");
    let text = String::from_utf8_lossy(&copy).to_lowercase();
    let h = text
        .split("h=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .replace(['\r', '\n', '\t', ' '], "");
    assert!(
        h.starts_with("from:from:") || h.matches("from").count() >= 2,
        "From oversigned: {h}"
    );
    for signed in ["list-id", "subject", "list-unsubscribe-post", "reply-to"] {
        assert!(h.contains(signed), "{signed} signed: {h}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_copies_signed_with_one_body_hash_verify_for_each_recipient() {
    // to_mode = recipient: one copy per member, each with its own To: and List-Unsubscribe,
    // and signatures whose body hash was computed once for the post.
    let (copies, records, app) =
        signed_copies(&["rsa", "ed25519"], r#", "to_mode": "recipient""#).await;
    assert_eq!(copies.len(), 2, "one copy per recipient");
    let mut body_hashes = Vec::new();
    for copy in &copies {
        let to = copy.header("To").unwrap_or_default();
        assert_eq!(to.trim(), format!("<{}>", copy.rcpts[0]), "own To:");
        // RFC 8058: the personal List-Unsubscribe fields are covered by the signature.
        assert!(
            copy.header("List-Unsubscribe")
                .is_some_and(|v| v.contains("/u/"))
        );
        let signed = copy.text().to_lowercase();
        let h = signed
            .split("h=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .replace(['\r', '\n', '\t', ' '], "");
        assert!(
            h.contains("list-unsubscribe:list-unsubscribe-post")
                || (h.contains("list-unsubscribe:") && h.contains("list-unsubscribe-post")),
            "{h}"
        );
        let (ok, out) = verify_with_dkimpy(copy.data.clone(), records.clone()).await;
        assert!(ok, "{} {out}", copy.rcpts[0]);
        assert!(out.starts_with("2 [True, True]"), "{out}");
        let text = copy.text();
        let bh = text
            .split("bh=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        body_hashes.push(bh);
    }
    assert_eq!(
        body_hashes[0], body_hashes[1],
        "the same body, the same bh="
    );
    app.stop().await;
}
