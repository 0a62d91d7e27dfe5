//! The real `circlemail` binary as a child process, for tests that kill it.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

pub const BIN: &str = env!("CARGO_BIN_EXE_circlemail");

pub struct Server {
    pub child: Child,
    pub smtp: SocketAddr,
}

/// A config file for the binary: port 0 everywhere, fast retries, relay at `relay`.
pub fn write_config(dir: &Path, db_url: &str, relay: SocketAddr) -> std::path::PathBuf {
    let path = dir.join("circlemail.toml");
    let text = format!(
        r#"[server]
hostname = "circlemail.test"
domains = ["lists.test"]
shutdown_grace = "5s"
[smtp]
listen = ["127.0.0.1:0"]
[http]
listen = "127.0.0.1:0"
[database]
url = "{db_url}"
[delivery]
relay = "smtp://{relay}"
relay_tls = "none"
retry_initial = "200ms"
retry_max_interval = "500ms"
poll_interval = "100ms"
connect_timeout = "2s"
command_timeout = "2s"
lease = "3s"
[dns]
nameservers = ["{dns}"]
"#,
        dns = super::dns::server()
    );
    std::fs::write(&path, text).unwrap();
    path
}

impl Server {
    /// Starts `circlemail serve` and waits until it says where SMTP listens.
    pub fn start(config: &Path) -> Server {
        let mut child = Command::new(BIN)
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start circlemail");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var("TEST_LOG").is_ok() {
                    eprintln!("[circlemail] {line}");
                }
                if line.contains("listening")
                    && line.contains("SMTP")
                    && let Some(addr) = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                {
                    let _ = tx.send(addr.trim_matches('"').to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("circlemail did not start listening");
        Server {
            child,
            smtp: addr.parse().unwrap(),
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
