//! A scripted SMTP client that writes exactly the bytes a test gives and reads whole replies.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

pub struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    /// Connects and returns the client with the greeting read.
    pub async fn connect(addr: SocketAddr) -> (Client, String) {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to circlemail");
        let mut client = Client {
            stream: BufReader::new(stream),
        };
        let greeting = client.reply().await;
        (client, greeting)
    }

    pub async fn send(&mut self, bytes: &str) {
        self.send_bytes(bytes.as_bytes()).await;
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.expect("write");
    }

    /// Reads one (possibly multi-line) reply; "" when the server closed the connection.
    pub async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read_line(&mut line))
                .await
                .expect("the server did not reply within 10 s")
                .expect("read");
            if n == 0 {
                return all;
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    /// The connection, for a test that writes and reads raw bytes from here on.
    pub fn into_stream(self) -> TcpStream {
        self.stream.into_inner()
    }

    /// Sends a command line (CRLF added) and returns the reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n")).await;
        self.reply().await
    }

    /// A whole transaction; returns the reply to the end of data.
    pub async fn post(&mut self, from: &str, rcpts: &[&str], message: &str) -> String {
        assert!(
            self.cmd(&format!("MAIL FROM:<{from}>"))
                .await
                .starts_with("250")
        );
        for r in rcpts {
            let reply = self.cmd(&format!("RCPT TO:<{r}>")).await;
            assert!(reply.starts_with("250"), "RCPT {r}: {reply}");
        }
        assert!(self.cmd("DATA").await.starts_with("354"));
        self.send(&dot_stuff(message)).await;
        self.send("\r\n.\r\n").await;
        self.reply().await
    }
}

/// RFC 5321 §4.5.2: a line starting with "." gets another "." in front, as every client does.
pub fn dot_stuff(message: &str) -> String {
    let stuffed = message.replace("\r\n.", "\r\n..");
    if stuffed.starts_with('.') {
        format!(".{stuffed}")
    } else {
        stuffed
    }
}
