//! The admin API as different people: the break-glass token, and personal accounts with roles.

use std::net::SocketAddr;

use circlemail::{admin::access::hash_token, store::Store};
use serde_json::{Value, json};

use super::{
    app::{TestApp, test_config},
    db::TestDb,
    http::{Response, request},
    sink::Sink,
};

/// The break-glass `http.api_token` of test servers.
pub const BREAK_GLASS: &str = "test-token-0123456789abcdef";

/// One caller of the API.
#[derive(Clone)]
pub struct Client {
    pub http: SocketAddr,
    pub token: String,
}

impl Client {
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let body = body.map(|b| b.to_string());
        request(
            self.http,
            method,
            &format!("/api/v1{path}"),
            Some(&self.token),
            body.as_deref(),
        )
        .await
    }

    /// A call that must succeed; its JSON (or null).
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        if r.body.is_empty() {
            Value::Null
        } else {
            r.json()
        }
    }

    pub async fn status(&self, method: &str, path: &str, body: Option<Value>) -> u16 {
        self.call(method, path, body).await.status
    }
}

/// A server with the break-glass token and a cap (0: none).
pub async fn start(db: &TestDb, cap: usize) -> (TestApp, Client) {
    start_with_clock(db, cap, std::sync::Arc::new(circlemail::clock::SystemClock)).await
}

/// The same with a clock the test sets; retained facts are checked every 100 ms.
pub async fn start_with_clock(
    db: &TestDb,
    cap: usize,
    clock: circlemail::clock::SharedClock,
) -> (TestApp, Client) {
    let sink = Sink::start().await;
    let mut config = test_config(&db.url, sink.addr);
    config.http.api_token = Some(circlemail::config::Secret::new(BREAK_GLASS));
    config.accounts.max_member_data_admins = cap;
    config.gdpr.expiry_interval = std::time::Duration::from_millis(100);
    let app = TestApp::spawn_with_clock(config, clock).await;
    let root = Client {
        http: app.http,
        token: BREAK_GLASS.into(),
    };
    (app, root)
}

/// A personal token for an account, made straight in the store (as `POST /me/tokens` would).
pub async fn token_for(store: &Store, account_id: i64) -> String {
    let token = circlemail::admin::access::new_token();
    store
        .add_token(account_id, "test", &hash_token(&token), 0)
        .await
        .unwrap();
    token
}

/// An account for `email` (created through the API), optionally with a role in a scope.
/// Returns (account id, person id, client).
pub async fn account(
    root: &Client,
    store: &Store,
    email: &str,
    role: Option<&str>,
    scope: Option<i64>,
) -> (i64, i64, Client) {
    let a = root
        .ok("POST", "/accounts", Some(json!({ "email": email })))
        .await;
    let id = a["id"].as_i64().unwrap();
    if let Some(role) = role {
        root.ok(
            "POST",
            "/grants",
            Some(json!({ "role": role, "account_id": id, "scope_group_id": scope })),
        )
        .await;
    }
    let client = Client {
        http: root.http,
        token: token_for(store, id).await,
    };
    (id, a["person_id"].as_i64().unwrap(), client)
}

/// A group (optionally nested in `parent`) with these members; its id.
pub async fn group(root: &Client, name: &str, parent: Option<i64>, members: &[&str]) -> i64 {
    let id = root
        .ok("POST", "/groups", Some(json!({ "name": name })))
        .await["id"]
        .as_i64()
        .unwrap();
    if let Some(p) = parent {
        root.ok(
            "POST",
            &format!("/groups/{p}/subgroups"),
            Some(json!({ "group_id": id })),
        )
        .await;
    }
    for m in members {
        root.ok(
            "POST",
            &format!("/groups/{id}/members"),
            Some(json!({ "email": m })),
        )
        .await;
    }
    id
}

/// The id of the person with this address.
pub async fn person_id(root: &Client, email: &str) -> i64 {
    root.ok("GET", &format!("/people?q={email}"), None).await["people"][0]["id"]
        .as_i64()
        .unwrap()
}

/// Gives group `id` the address `local@lists.test`.
pub async fn give_address(root: &Client, id: i64, local: &str) {
    root.ok(
        "PATCH",
        &format!("/groups/{id}"),
        Some(json!({ "address": format!("{local}@{}", super::app::DOMAIN) })),
    )
    .await;
}

/// A post from a non-member to `local@lists.test`, held for moderation (the default); its id.
pub async fn held_post(app: &TestApp, root: &Client, local: &str) -> i64 {
    let (mut c, _) = super::smtp::Client::connect(app.smtp).await;
    c.cmd("EHLO client.test").await;
    assert!(c.cmd("MAIL FROM:<guest@y.org>").await.starts_with("250"));
    let to = format!("{local}@{}", super::app::DOMAIN);
    assert!(c.cmd(&format!("RCPT TO:<{to}>")).await.starts_with("250"));
    assert!(c.cmd("DATA").await.starts_with("354"));
    let subject = format!("offer {}", rand::random::<u32>());
    c.send(&super::app::message("guest@y.org", &to, &subject, "Hello."))
        .await;
    c.send("\r\n.\r\n").await;
    let reply = c.reply().await;
    assert!(reply.contains("Held for moderation"), "{reply}");
    root.ok("GET", "/moderation", None).await["held"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["subject"] == subject.as_str())
        .and_then(|h| h["id"].as_i64())
        .expect("the held post is listed")
}
