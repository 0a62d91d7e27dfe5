//! An SMTP server we did not write, as the relay: `tests/python/relay.py` (aiosmtpd, installed
//! by `scripts/test`) in a child process, reporting each message it accepts.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

/// One message as aiosmtpd received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The server's number for the connection it came on (1, 2, …).
    pub connection: u64,
    pub mail_from: String,
    pub rcpts: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

pub struct PyRelay {
    pub addr: SocketAddr,
    child: Child,
    received: Arc<Mutex<Vec<Received>>>,
}

impl PyRelay {
    /// Starts the server; `args` as for `relay.py` ("pipelining", "refuse=ADDRESS").
    pub fn start(args: &[&str]) -> PyRelay {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/relay.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (scripts/test installs it)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = lines.next().and_then(Result::ok).unwrap_or_default();
        let port: u16 = ready
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!("relay.py did not start (is aiosmtpd installed?): {ready:?}")
            });
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = received.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
                let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                sink.lock().unwrap().push(Received {
                    connection: v["connection"].as_u64().unwrap_or(0),
                    mail_from: text("mail_from"),
                    rcpts: v["rcpts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect(),
                    // Latin-1 in the JSON: one char per byte.
                    data: text("data").chars().map(|c| c as u8).collect(),
                });
            }
        });
        PyRelay {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            received,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` messages arrived; panics after `limit`.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let start = tokio::time::Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < limit,
                "aiosmtpd got {} messages in {limit:?}, expected {n}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PyRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
