//! A real SMTP server standing in for the relay: it records every transaction it accepts, and can
//! be told to answer 4xx for a while, refuse given recipients, or stall without greeting.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use smtp_proto::{
    Request,
    request::receiver::{BdatReceiver, DataReceiver, DummyDataReceiver, RequestReceiver},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Notify,
};

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub mail_from: String,
    pub rcpts: Vec<String>,
    pub data: Vec<u8>,
}

impl Delivered {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The value of the first header called `name`, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = found.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push(' ');
                    v.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                found = Some(v.trim().to_string());
            }
        }
        found
    }
}

#[derive(Default)]
struct Behaviour {
    /// Answer `451` to MAIL FROM for this many transactions, then work normally.
    temp_fail_transactions: AtomicUsize,
    /// Per-recipient RCPT replies, e.g. "550 5.1.1 No such user".
    rcpt_replies: Mutex<HashMap<String, String>>,
    /// Accept connections but say nothing.
    stall: AtomicBool,
    /// Greet this many connections with `421` and close them.
    busy_connections: AtomicUsize,
    /// Offer STARTTLS, answer it with 220, then talk garbage instead of TLS.
    broken_tls: AtomicBool,
    /// Do not offer PIPELINING (RFC 2920).
    no_pipelining: AtomicBool,
    /// Offer CHUNKING (RFC 3030: BDAT), as Postfix does.
    chunking: AtomicBool,
    /// Answer this many DATA commands (or last BDAT chunks, once the chunk is read) `451`
    /// (greylisting at DATA), keeping the transaction open.
    refuse_data: AtomicUsize,
    /// After this many messages on one connection, answer MAIL `421` and close (0: no limit),
    /// as Exim's `smtp_accept_max_per_connection` does.
    messages_per_connection: AtomicUsize,
    /// Commands that arrived before the reply to the previous one was sent, although
    /// PIPELINING was not offered.
    pipelined_anyway: AtomicUsize,
    /// Keep only the last message (benchmarks of a million copies): counts stay exact.
    count_only: AtomicBool,
    /// BDAT commands received.
    bdat_commands: AtomicUsize,
}

/// Message data being read: DATA up to its final dot, a BDAT chunk by its size, or a chunk
/// that is swallowed and answered with an error (RFC 3030 §2: the data is read either way).
enum Incoming {
    Data(DataReceiver),
    Chunk(BdatReceiver),
    Discard(DummyDataReceiver, &'static [u8]),
}

#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<Delivered>>>,
    behaviour: Arc<Behaviour>,
    pub transactions: Arc<AtomicUsize>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// Recipient copies received so far (kept beside `messages` so waiting costs nothing).
    recipients: Arc<AtomicUsize>,
    /// The count [`Sink::wait_for_recipients`] waits for, and how the copy that reaches it
    /// wakes the waiter (at once: a benchmark's end is when the last copy arrives).
    wanted: Arc<AtomicUsize>,
    arrived: Arc<Notify>,
}

impl Sink {
    pub async fn start() -> Sink {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Sink {
        let listener = TcpListener::bind(addr).await.expect("bind sink");
        Sink::serve(listener)
    }

    fn serve(listener: TcpListener) -> Sink {
        let sink = Sink {
            addr: listener.local_addr().unwrap(),
            messages: Arc::default(),
            behaviour: Arc::default(),
            transactions: Arc::default(),
            connections: Arc::default(),
            recipients: Arc::default(),
            wanted: Arc::new(AtomicUsize::new(usize::MAX)),
            arrived: Arc::default(),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        sink
    }

    pub fn fail_temporarily(&self, transactions: usize) {
        self.behaviour
            .temp_fail_transactions
            .store(transactions, Ordering::SeqCst);
    }

    pub fn refuse_recipient(&self, rcpt: &str, reply: &str) {
        self.behaviour
            .rcpt_replies
            .lock()
            .unwrap()
            .insert(rcpt.to_lowercase(), reply.to_string());
    }

    /// Greets the next `connections` connections with `421 4.3.2` and closes them.
    pub fn busy(&self, connections: usize) {
        self.behaviour
            .busy_connections
            .store(connections, Ordering::SeqCst);
    }

    /// Starts one sink per address, all on the same port (as MX hosts all listen on port 25):
    /// `ips` are loopback addresses such as 127.0.0.2.
    pub async fn start_same_port(ips: &[&str]) -> Vec<Sink> {
        for _ in 0..20 {
            let first = Sink::start_on(&format!("{}:0", ips[0])).await;
            let port = first.addr.port();
            let mut sinks = vec![first];
            for ip in &ips[1..] {
                match TcpListener::bind(format!("{ip}:{port}")).await {
                    Ok(l) => sinks.push(Sink::serve(l)),
                    Err(_) => break,
                }
            }
            if sinks.len() == ips.len() {
                return sinks;
            }
        }
        panic!("no port free on all of {ips:?}");
    }

    /// Offers STARTTLS but fails every TLS handshake.
    pub fn break_tls(&self, on: bool) {
        self.behaviour.broken_tls.store(on, Ordering::SeqCst);
    }

    /// Answers the next `n` DATA commands `451 4.7.1`; the transaction stays open, so a client
    /// must RSET before its next MAIL (this sink, like Postfix, refuses a nested MAIL).
    pub fn refuse_data(&self, n: usize) {
        self.behaviour.refuse_data.store(n, Ordering::SeqCst);
    }

    /// Takes at most `n` messages per connection: the next MAIL gets `421` and the connection
    /// is closed.
    pub fn messages_per_connection(&self, n: usize) {
        self.behaviour
            .messages_per_connection
            .store(n, Ordering::SeqCst);
    }

    /// Stops offering PIPELINING; [`Sink::pipelined_anyway`] counts clients that pipeline.
    pub fn without_pipelining(&self) {
        self.behaviour.no_pipelining.store(true, Ordering::SeqCst);
    }

    /// Offers CHUNKING: clients may send the message with BDAT instead of DATA.
    pub fn chunking(&self) {
        self.behaviour.chunking.store(true, Ordering::SeqCst);
    }

    /// BDAT commands received so far.
    #[allow(dead_code)] // for some tests
    pub fn bdat_commands(&self) -> usize {
        self.behaviour.bdat_commands.load(Ordering::SeqCst)
    }

    /// Commands sent before the previous command's reply while PIPELINING was not offered.
    pub fn pipelined_anyway(&self) -> usize {
        self.behaviour.pipelined_anyway.load(Ordering::SeqCst)
    }

    /// Keeps only the last message received; [`Sink::recipient_count`] still counts them all.
    #[allow(dead_code)] // for the benchmarks
    pub fn count_only(&self) {
        self.behaviour.count_only.store(true, Ordering::SeqCst);
    }

    pub fn stall(&self, on: bool) {
        self.behaviour.stall.store(on, Ordering::SeqCst);
    }

    pub fn messages(&self) -> Vec<Delivered> {
        self.messages.lock().unwrap().clone()
    }

    /// Every copy each recipient got.
    pub fn by_recipient(&self) -> HashMap<String, Vec<Delivered>> {
        let mut map: HashMap<String, Vec<Delivered>> = HashMap::new();
        for m in self.messages() {
            for r in &m.rcpts {
                map.entry(r.clone()).or_default().push(m.clone());
            }
        }
        map
    }

    pub fn recipient_count(&self) -> usize {
        self.recipients.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` recipient copies arrived; panics after `limit`.
    pub async fn wait_for_recipients(&self, n: usize, limit: Duration) {
        let start = tokio::time::Instant::now();
        self.wanted.store(n, Ordering::SeqCst);
        while self.recipient_count() < n {
            assert!(
                start.elapsed() < limit,
                "the sink got {} recipient copies in {limit:?}, expected {n}",
                self.recipient_count()
            );
            // Woken by the copy that reaches `n` (a wake-up given before this wait started is
            // kept for it); the time-out only covers a second waiter that took the wake-up.
            let _ = tokio::time::timeout(Duration::from_millis(50), self.arrived.notified()).await;
        }
        self.wanted.store(usize::MAX, Ordering::SeqCst);
    }

    async fn session(&self, mut stream: TcpStream) -> std::io::Result<()> {
        self.connections.fetch_add(1, Ordering::SeqCst);
        while self.behaviour.stall.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stream.set_nodelay(true)?;
        let busy = self.behaviour.busy_connections.load(Ordering::SeqCst);
        if busy > 0 {
            self.behaviour
                .busy_connections
                .store(busy - 1, Ordering::SeqCst);
            stream
                .write_all(b"421 4.3.2 Too busy, try again later\r\n")
                .await?;
            return Ok(());
        }
        stream.write_all(b"220 sink.test ESMTP\r\n").await?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut parser = RequestReceiver::default();
        let mut data: Option<Incoming> = None;
        let mut body = Vec::new();
        let mut from = String::new();
        let mut rcpts: Vec<String> = Vec::new();
        let mut refuse_tx = false;
        // MAIL was taken and the transaction has not ended (end of data or RSET).
        let mut in_tx = false;
        let mut taken = 0;
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            let mut it = buf[..n].iter();
            let mut out = Vec::<u8>::new();
            loop {
                if let Some(incoming) = data.as_mut() {
                    let chunked = matches!(incoming, Incoming::Chunk(_));
                    let last = match incoming {
                        Incoming::Data(rx) => rx.ingest(&mut it, &mut body).then_some(true),
                        Incoming::Chunk(rx) => rx.ingest(&mut it, &mut body).then_some(rx.is_last),
                        Incoming::Discard(rx, reply) => {
                            if rx.ingest(&mut it) {
                                out.extend_from_slice(reply);
                                data = None;
                                continue;
                            }
                            None
                        }
                    };
                    match last {
                        None => break,
                        Some(false) => {
                            data = None;
                            out.extend_from_slice(b"250 2.0.0 Chunk received\r\n");
                            continue;
                        }
                        Some(true) => data = None,
                    }
                    let refuse = self.behaviour.refuse_data.load(Ordering::SeqCst);
                    if chunked && refuse > 0 {
                        // Greylisting after the last chunk: the transaction stays open.
                        self.behaviour
                            .refuse_data
                            .store(refuse - 1, Ordering::SeqCst);
                        body.clear();
                        out.extend_from_slice(b"451 4.7.1 Greylisted, try again later\r\n");
                        continue;
                    }
                    self.transactions.fetch_add(1, Ordering::SeqCst);
                    let count = rcpts.len();
                    in_tx = false;
                    taken += 1;
                    let delivered = Delivered {
                        mail_from: from.clone(),
                        rcpts: std::mem::take(&mut rcpts),
                        data: std::mem::take(&mut body),
                    };
                    {
                        let mut messages = self.messages.lock().unwrap();
                        if self.behaviour.count_only.load(Ordering::Relaxed) {
                            messages.clear();
                        }
                        messages.push(delivered);
                    }
                    // After the push: whoever sees the count also sees the message.
                    let received = self.recipients.fetch_add(count, Ordering::SeqCst) + count;
                    if received >= self.wanted.load(Ordering::SeqCst) {
                        self.arrived.notify_one();
                    }
                    out.extend_from_slice(b"250 2.0.0 Ok: queued\r\n");
                    continue;
                }
                let replied = !out.is_empty();
                match parser.ingest(&mut it) {
                    Ok(req) if replied && self.behaviour.no_pipelining.load(Ordering::SeqCst) => {
                        // Not offered, but the client did not wait for the last reply.
                        drop(req);
                        self.behaviour
                            .pipelined_anyway
                            .fetch_add(1, Ordering::SeqCst);
                        out.extend_from_slice(b"503 5.5.0 PIPELINING was not offered\r\n");
                    }
                    Ok(req) => match req {
                        Request::Ehlo { .. } | Request::Lhlo { .. } => {
                            if self.behaviour.broken_tls.load(Ordering::SeqCst) {
                                out.extend_from_slice(b"250-STARTTLS\r\n");
                            }
                            out.extend_from_slice(b"250-sink.test\r\n");
                            if !self.behaviour.no_pipelining.load(Ordering::SeqCst) {
                                out.extend_from_slice(b"250-PIPELINING\r\n");
                            }
                            if self.behaviour.chunking.load(Ordering::SeqCst) {
                                out.extend_from_slice(b"250-CHUNKING\r\n");
                            }
                            out.extend_from_slice(
                                b"250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n",
                            )
                        }
                        Request::StartTls if self.behaviour.broken_tls.load(Ordering::SeqCst) => {
                            out.extend_from_slice(b"220 2.0.0 Ready\r\nthis is not TLS\r\n");
                            stream.write_all(&out).await?;
                            return Ok(());
                        }
                        Request::Helo { .. } => out.extend_from_slice(b"250 sink.test\r\n"),
                        Request::Mail { from: f } => {
                            let left = self.behaviour.temp_fail_transactions.load(Ordering::SeqCst);
                            let limit = self
                                .behaviour
                                .messages_per_connection
                                .load(Ordering::SeqCst);
                            refuse_tx = left > 0 || in_tx;
                            if limit > 0 && taken >= limit {
                                out.extend_from_slice(
                                    b"421 4.7.0 Too many messages on this connection\r\n",
                                );
                                stream.write_all(&out).await?;
                                return Ok(());
                            } else if in_tx {
                                out.extend_from_slice(b"503 5.5.1 Error: nested MAIL command\r\n");
                            } else if left > 0 {
                                self.behaviour
                                    .temp_fail_transactions
                                    .store(left - 1, Ordering::SeqCst);
                                out.extend_from_slice(b"451 4.3.0 Try again later\r\n");
                            } else {
                                from = f.address.to_string();
                                rcpts.clear();
                                in_tx = true;
                                out.extend_from_slice(b"250 2.1.0 Ok\r\n");
                            }
                        }
                        Request::Rcpt { to } => {
                            let special = self
                                .behaviour
                                .rcpt_replies
                                .lock()
                                .unwrap()
                                .get(&to.address.to_lowercase())
                                .cloned();
                            if refuse_tx {
                                out.extend_from_slice(b"503 5.5.1 No sender\r\n");
                            } else if let Some(reply) = special {
                                out.extend_from_slice(format!("{reply}\r\n").as_bytes());
                            } else {
                                rcpts.push(to.address.to_string());
                                out.extend_from_slice(b"250 2.1.5 Ok\r\n");
                            }
                        }
                        Request::Data => {
                            let refuse = self.behaviour.refuse_data.load(Ordering::SeqCst);
                            if !rcpts.is_empty() && refuse > 0 {
                                self.behaviour
                                    .refuse_data
                                    .store(refuse - 1, Ordering::SeqCst);
                                out.extend_from_slice(b"451 4.7.1 Greylisted, try again later\r\n");
                            } else if rcpts.is_empty() {
                                out.extend_from_slice(b"554 5.5.1 No valid recipients\r\n");
                            } else {
                                data = Some(Incoming::Data(DataReceiver::new()));
                                body.clear();
                                out.extend_from_slice(b"354 Go ahead\r\n");
                            }
                        }
                        Request::Bdat {
                            chunk_size,
                            is_last,
                        } => {
                            self.behaviour.bdat_commands.fetch_add(1, Ordering::SeqCst);
                            data = Some(if !self.behaviour.chunking.load(Ordering::SeqCst) {
                                Incoming::Discard(
                                    DummyDataReceiver::new_bdat(chunk_size),
                                    b"502 5.5.1 CHUNKING was not offered\r\n",
                                )
                            } else if !in_tx || refuse_tx {
                                Incoming::Discard(
                                    DummyDataReceiver::new_bdat(chunk_size),
                                    b"503 5.5.1 Error: need MAIL command\r\n",
                                )
                            } else if rcpts.is_empty() {
                                Incoming::Discard(
                                    DummyDataReceiver::new_bdat(chunk_size),
                                    b"554 5.5.1 Error: no valid recipients\r\n",
                                )
                            } else {
                                Incoming::Chunk(BdatReceiver::new(chunk_size, is_last))
                            });
                        }
                        Request::Rset => {
                            rcpts.clear();
                            in_tx = false;
                            out.extend_from_slice(b"250 2.0.0 Ok\r\n");
                        }
                        Request::Quit => {
                            out.extend_from_slice(b"221 2.0.0 Bye\r\n");
                            stream.write_all(&out).await?;
                            return Ok(());
                        }
                        _ => out.extend_from_slice(b"250 2.0.0 Ok\r\n"),
                    },
                    Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                    Err(_) => out.extend_from_slice(b"500 5.5.1 What?\r\n"),
                }
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
            }
        }
    }
}
