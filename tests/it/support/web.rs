//! A browser without a screen, for the web pages: keeps cookies, sends forms with our form
//! token as a browser would (with `Origin`), and signs in by the link the test sink catches.

use std::{collections::HashMap, net::SocketAddr, sync::Mutex, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::sink::Sink;

/// An answer.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Page {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The form token of the page's first form.
    pub fn csrf(&self) -> String {
        self.attribute_after("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no form token on the page:\n{}", self.body))
    }

    /// Where a redirect goes.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The text of the first `<h1>`.
    pub fn h1(&self) -> String {
        self.body
            .split_once("<h1>")
            .and_then(|(_, r)| r.split_once("</h1>"))
            .map(|(h, _)| h.to_string())
            .unwrap_or_default()
    }

    fn attribute_after(&self, marker: &str) -> Option<String> {
        let (_, rest) = self.body.split_once(marker)?;
        rest.split_once('"').map(|(v, _)| html_unescape(v))
    }
}

/// Undoes askama's escaping of an attribute value.
pub fn html_unescape(s: &str) -> String {
    s.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#38;", "&")
        .replace("&#43;", "+")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#61;", "=")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Cookies and the server's address.
pub struct WebClient {
    pub addr: SocketAddr,
    cookies: Mutex<HashMap<String, String>>,
    /// Sent as `Origin` with every POST (None: a client that sends none).
    pub origin: Option<String>,
}

impl WebClient {
    pub fn new(addr: SocketAddr) -> WebClient {
        WebClient {
            addr,
            cookies: Mutex::new(HashMap::new()),
            origin: Some(format!("http://{addr}")),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.into(), value.into());
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send("GET", path, None, &[]).await
    }

    /// A form POST with these fields (URL-encoded), as a browser sends it from our page.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            "POST",
            path,
            Some(body.as_bytes()),
            &[("Content-Type", "application/x-www-form-urlencoded")],
        )
        .await
    }

    /// Opens `path` and submits its first form with `fields` (the form token added).
    pub async fn submit(&self, page_path: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(page_path).await;
        assert_eq!(page.status, 200, "{page_path}: {}", page.body);
        let csrf = page.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut s = TcpStream::connect(self.addr).await.expect("connect HTTP");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept-Language: en\r\n",
            self.addr
        );
        let cookies: Vec<String> = self
            .cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !cookies.is_empty() {
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if method == "POST"
            && let Some(o) = &self.origin
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("origin"))
        {
            head.push_str(&format!("Origin: {o}\r\n"));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        if let Some(b) = body {
            s.write_all(b).await.unwrap();
        }
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let chunked = headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
        });
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_string()
        };
        for (k, v) in &headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap_or("");
                if let Some((name, value)) = pair.split_once('=') {
                    let mut jar = self.cookies.lock().unwrap();
                    let removed = v.to_ascii_lowercase().contains("max-age=0");
                    if removed || value.is_empty() {
                        jar.remove(name.trim());
                    } else {
                        jar.insert(name.trim().into(), value.trim().into());
                    }
                }
            }
        }
        Page {
            status,
            headers,
            body,
        }
    }
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

/// The sign-in link in the newest sign-in mail the sink holds for `email`.
pub async fn mailed_link(sink: &Sink, email: &str, already: usize) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mails: Vec<_> = sink
            .messages()
            .into_iter()
            .filter(|m| m.rcpts.iter().any(|r| r.eq_ignore_ascii_case(email)))
            .filter(|m| m.text().contains("/signin/cs_"))
            .collect();
        if mails.len() > already {
            let text = mails[mails.len() - 1].text();
            let start = text.find("http").expect("a link in the sign-in mail");
            return text[start..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no sign-in mail for {email} reached the sink"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The path of a URL of ours (`http://addr/signin/…` → `/signin/…`).
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.find('/')
        .map(|i| rest[i..].to_string())
        .unwrap_or_else(|| "/".into())
}

/// Signs `web` in as `email`: asks for a link, catches it at the sink, opens it, presses the
/// button. Returns the page the sign-in led to.
pub async fn sign_in(web: &WebClient, sink: &Sink, email: &str) -> Page {
    let already = sink
        .messages()
        .iter()
        .filter(|m| m.rcpts.iter().any(|r| r.eq_ignore_ascii_case(email)))
        .filter(|m| m.text().contains("/signin/cs_"))
        .count();
    let asked = web
        .submit("/signin", "/signin", &[("address", email)])
        .await;
    assert_eq!(asked.status, 200, "asking for a link: {}", asked.body);
    let link = mailed_link(sink, email, already).await;
    let path = path_of(&link);
    let done = web.submit(&path, &path, &[]).await;
    assert_eq!(done.status, 303, "pressing Sign in: {}", done.body);
    let to = done.location().unwrap_or("/").to_string();
    web.get(&to).await
}
