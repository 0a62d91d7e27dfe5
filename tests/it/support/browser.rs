//! A real browser for the tests: Debian's headless Chromium driven through chromedriver's W3C
//! WebDriver protocol (JSON over HTTP; `scripts/test` installs both). The test drives it step by
//! step and can look at the mail sink between steps (a sign-in link, a delivered post).
//!
//! ```ignore
//! let b = Browser::phone().await;          // 412 px wide, like a phone
//! b.open(&format!("http://{}/signin", app.http)).await;
//! b.fill("#address", "ann@x.org").await;
//! b.click("#send").await;
//! b.wait_for_text("h1", "Check your mail").await;
//! b.screenshot("signin").await;            // target/tmp/signin.png
//! ```

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a step may wait for the page to show what it expects.
pub const STEP: Duration = Duration::from_secs(15);

pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    profile: tempfile::TempDir,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where the screenshots go (`target/tmp/`, kept after the run).
pub fn artifacts() -> String {
    env!("CARGO_TARGET_TMPDIR").to_string()
}

impl Browser {
    /// A phone-sized window (412 × 900).
    pub async fn phone() -> Browser {
        Browser::start(412, 900).await
    }

    /// A desktop-sized window (1280 × 900).
    pub async fn desktop() -> Browser {
        Browser::start(1280, 900).await
    }

    pub async fn start(width: u32, height: u32) -> Browser {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists(),
            "headless Chromium is needed: run scripts/test, or apt-get install chromium chromium-driver"
        );
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
            profile,
        };
        let deadline = tokio::time::Instant::now() + STEP;
        while b.call("GET", "/status", None).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = json!([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--lang=en-US",
            format!("--user-data-dir={}", b.profile.path().display()),
            format!("--window-size={width},{height}"),
        ]);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let v = b
            .call("POST", "/session", Some(caps))
            .await
            .expect("a browser session");
        b.session = v["sessionId"].as_str().unwrap_or_default().to_string();
        assert!(!b.session.is_empty(), "no session id: {v}");
        b
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut s = TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let body = body.map(|b| b.to_string());
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.addr.port()
        );
        if let Some(b) = &body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        if let Some(b) = &body {
            s.write_all(b.as_bytes()).await.map_err(|e| e.to_string())?;
        }
        // chromedriver says "Connection: close" but keeps the socket open: read by length.
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        let (head, body) = loop {
            let n = s.read(&mut buf).await.map_err(|e| e.to_string())?;
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok());
                if n == 0 || length.is_some_and(|len| body.len() >= len) {
                    break (head.to_string(), body.to_string());
                }
            } else if n == 0 {
                return Err(format!("chromedriver closed the connection: {text}"));
            }
        };
        let body = body.as_str();
        let v: Value = serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))?;
        let ok = head.starts_with("HTTP/1.1 200");
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            Ok(value)
        } else {
            Err(value["message"].as_str().unwrap_or(body).to_string())
        }
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body)
            .await
            .unwrap_or_else(|e| panic!("browser {method} {path}: {e}"))
    }

    pub async fn open(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The first element matching `css`, if there is one now.
    pub async fn find(&self, css: &str) -> Option<Element> {
        let path = format!("/session/{}/element", self.session);
        let v = self
            .call(
                "POST",
                &path,
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .ok()?;
        v[ELEMENT].as_str().map(|id| Element(id.to_string()))
    }

    /// Every element matching `css`.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            if let Some(e) = self.find(css).await {
                return e;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no element {css} on {}:\n{}",
                self.url().await,
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn click(&self, css: &str) {
        let e = self.wait_for(css).await;
        self.cmd("POST", &format!("/element/{}/click", e.0), Some(json!({})))
            .await;
    }

    /// Types `text` into the field `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        self.cmd("POST", &format!("/element/{}/clear", e.0), Some(json!({})))
            .await;
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Chooses the file at `path` in the file input `css`.
    pub async fn attach(&self, css: &str, path: &str) {
        let e = self.wait_for(css).await;
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": path })),
        )
        .await;
    }

    /// Picks the option with `value` in the `<select>` `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"))
            .await;
    }

    /// The visible text of an element (empty when it is gone).
    pub async fn text_of(&self, e: &Element) -> String {
        let path = format!("/session/{}/element/{}/text", self.session, e.0);
        self.call("GET", &path, None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let e = self.wait_for(css).await;
        self.text_of(&e).await
    }

    /// Waits until the first element matching `css` shows `wanted` (a page that is being
    /// replaced may answer with its old element, or none, for a moment).
    pub async fn wait_for_text(&self, css: &str, wanted: &str) -> String {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            if let Some(e) = self.find(css).await {
                let t = self.text_of(&e).await;
                if t.contains(wanted) {
                    return t;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never showed {wanted:?} on {}:\n{}",
                self.url().await,
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs a script in the page and returns its value (for what a user sees but WebDriver does
    /// not say directly, such as whether the page scrolls sideways).
    pub async fn run(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Whether the page fits the window's width (no sideways scrolling).
    pub async fn fits_width(&self) -> bool {
        self.run("return document.documentElement.scrollWidth <= window.innerWidth;")
            .await
            .as_bool()
            .unwrap_or(false)
    }

    /// Saves a screenshot as `DIR/NAME.png` (DIR: `target/tmp/`, or `to` when given).
    pub async fn screenshot_to(&self, dir: &str, name: &str) -> String {
        use base64::Engine;
        let v = self.cmd("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("a PNG");
        let path = format!("{dir}/{name}.png");
        std::fs::write(&path, png).expect("screenshot saved");
        path
    }

    pub async fn screenshot(&self, name: &str) -> String {
        self.screenshot_to(&artifacts(), name).await
    }

    /// Sets the window size.
    pub async fn resize(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    pub async fn quit(mut self) {
        let path = format!("/session/{}", self.session);
        let _ = self.call("DELETE", &path, None).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    /// Ends the browser session (so chromedriver quits Chromium) even when a test failed.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if let Ok(mut s) = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(1))
        {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                self.session,
                self.addr.port()
            );
            let _ = s.read_to_end(&mut Vec::new());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
