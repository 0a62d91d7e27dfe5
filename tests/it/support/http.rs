//! A minimal HTTP/1.1 client for the tests: one request per connection, JSON in and out.

use std::net::SocketAddr;

use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Response {
    send(addr, method, path, token, "application/json", body).await
}

/// A form POST, as a browser or a mail client's one-click unsubscribe sends it: no cookie.
pub async fn post_form(addr: SocketAddr, path: &str, body: &str) -> Response {
    send(
        addr,
        "POST",
        path,
        None,
        "application/x-www-form-urlencoded",
        Some(body),
    )
    .await
}

/// A request with any Content-Type (a server may answer before it has read a large body: the
/// rest is then not written, and the answer is still read).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Option<&str>,
) -> Response {
    let mut s = TcpStream::connect(addr).await.expect("connect HTTP");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    if let Some(b) = body {
        let _ = s.write_all(b.as_bytes()).await;
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response { status, body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
