//! One SMTP or LMTP session: bytes in, replies out, over any stream (TCP, TLS, or a test pipe).
//!
//! Commands are parsed by smtp-proto. Every command found in one read is answered, and the
//! replies are written together before the next read, which is what PIPELINING needs. Message
//! data is collected by smtp-proto's DATA/BDAT receivers; only CRLF.CRLF ends DATA.

use std::{net::SocketAddr, sync::Arc};

use smtp_proto::{
    Request,
    request::receiver::{BdatReceiver, DataReceiver, DummyDataReceiver, RequestReceiver},
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    time::{Instant, timeout_at},
};

use super::{Context, accept, envelope, reply, reply::Reply};

/// How a session ended.
pub enum Ended {
    Closed,
    /// The client asked for STARTTLS and got `220`: the caller wraps the stream and resumes.
    StartTls,
}

/// Which clock runs: waiting for a command line, or receiving message data.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Command,
    Data,
}

/// What a command asks the read loop to do next.
pub(super) enum Flow {
    Continue,
    Data,
    Bdat { size: usize, last: bool },
    Quit,
    StartTls,
}

enum State {
    Command,
    Data(DataReceiver),
    Bdat(BdatReceiver),
    /// Swallowing data that will not be kept (too big, or no transaction); the reply is sent
    /// when the data ends.
    Discard(DummyDataReceiver, Option<Reply>),
}

/// The envelope and data of the transaction in progress.
#[derive(Default)]
pub(super) struct Transaction {
    pub mail_from: Option<String>,
    pub rcpts: Vec<envelope::Accepted>,
    pub body: Vec<u8>,
    pub used_bdat: bool,
    pub too_big: bool,
    /// MAIL FROM said SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
}

pub struct Session {
    pub(super) ctx: Arc<Context>,
    pub(super) peer: SocketAddr,
    pub(super) lmtp: bool,
    pub(super) tls: bool,
    /// The name from EHLO/HELO/LHLO; `None` until the client greets.
    pub(super) helo: Option<String>,
    pub(super) esmtp: bool,
    pub(super) tx: Transaction,
    errors: u32,
    /// The raw bytes of the command line being read (smtp-proto decodes paths lossily and
    /// saturates SIZE; the envelope checks these bytes). Bounded by [`MAX_LINE`].
    line: Vec<u8>,
    /// When the session ends at the latest (`smtp.session_timeout`), STARTTLS or not.
    ends_at: Instant,
}

/// The most bytes of one command line kept for the envelope checks (RFC 5321: 512 octets,
/// plus room for parameters).
const MAX_LINE: usize = 4096;

/// After this many refused commands in one session, the client is disconnected.
const MAX_ERRORS: u32 = 20;

impl Session {
    pub fn new(ctx: Arc<Context>, peer: SocketAddr, lmtp: bool) -> Session {
        let ctx_session_timeout = ctx.session_timeout;
        Session {
            ctx,
            peer,
            lmtp,
            tls: false,
            helo: None,
            esmtp: false,
            tx: Transaction::default(),
            errors: 0,
            line: Vec::new(),
            ends_at: Instant::now() + ctx_session_timeout,
        }
    }

    /// Called after the TLS handshake: RFC 3207 says to forget everything the client said before.
    pub fn restart_after_tls(&mut self) {
        self.tls = true;
        self.helo = None;
        self.esmtp = false;
        self.tx = Transaction::default();
    }

    pub fn greeting(&self) -> Reply {
        reply::greeting(&self.ctx.hostname, self.lmtp)
    }

    /// Runs the session until the client quits, the connection drops, or STARTTLS.
    ///
    /// Time limits (none restarted by single bytes, so a client trickling one byte a second
    /// cannot hold a session): each command line must arrive whole within `idle_timeout` of the
    /// previous reply; the whole message data (DATA, or all BDAT chunks) within `data_timeout`;
    /// the whole session within `session_timeout`. Past one: `421 4.4.2` and the connection
    /// is closed.
    pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> std::io::Result<Ended> {
        let mut buf = vec![0u8; 16 * 1024];
        let mut requests = RequestReceiver::default();
        let mut state = State::Command;
        // After an over-long command line, the rest of that line is thrown away, not parsed.
        let mut skip_line = false;
        let shutdown = self.ctx.shutdown.clone();
        let mut phase = Phase::Command;
        let mut phase_ends = Instant::now() + self.ctx.idle_timeout;
        loop {
            let idle = matches!(state, State::Command) && self.tx.mail_from.is_none();
            let deadline = phase_ends.min(self.ends_at);
            let read = tokio::select! {
                r = timeout_at(deadline, stream.read(&mut buf)) => r,
                _ = shutdown.cancelled(), if idle => {
                    return say(stream, &reply::shutting_down(&self.ctx.hostname)).await;
                }
            };
            let n = match read {
                Err(_) => {
                    let host = &self.ctx.hostname;
                    let why = if self.ends_at <= phase_ends {
                        reply::session_too_long(host)
                    } else if phase == Phase::Data {
                        reply::data_timeout(host)
                    } else {
                        reply::idle_timeout(host)
                    };
                    tracing::info!(peer = %self.peer, reply = %why.text, "session timed out");
                    return say(stream, &why).await;
                }
                Ok(Ok(0)) => return Ok(Ended::Closed),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e),
            };
            let mut bytes = buf[..n].iter();
            let mut out = Vec::new();
            let mut ended = None;
            let mut commands_done = false;
            while ended.is_none() {
                if skip_line && matches!(state, State::Command) {
                    let rest = bytes.as_slice();
                    match rest.iter().position(|&b| b == b'\n') {
                        Some(lf) => {
                            bytes = rest[lf + 1..].iter();
                            skip_line = false;
                        }
                        None => break,
                    }
                }
                match &mut state {
                    State::Command => {
                        let before = bytes.as_slice();
                        let parsed = requests.ingest(&mut bytes);
                        let used = before.len() - bytes.as_slice().len();
                        let room = MAX_LINE.saturating_sub(self.line.len());
                        self.line.extend_from_slice(&before[..used.min(room)]);
                        match parsed {
                            Ok(request) => {
                                commands_done = true;
                                let request = request.into_owned();
                                let line = std::mem::take(&mut self.line);
                                match self.command(request, &line, &mut out).await {
                                    Flow::Continue => {}
                                    Flow::Data => state = State::Data(DataReceiver::new()),
                                    Flow::Bdat { size, last } => {
                                        state = self.start_chunk(size, last)
                                    }
                                    Flow::Quit => ended = Some(Ended::Closed),
                                    // Bytes pipelined after STARTTLS are dropped, never read
                                    // as commands inside TLS (the CVE-2011-0411 class).
                                    Flow::StartTls => ended = Some(Ended::StartTls),
                                }
                            }
                            Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                            Err(e) => {
                                commands_done = true;
                                self.line.clear();
                                skip_line = matches!(e, smtp_proto::Error::ResponseTooLong);
                                self.refuse(reply::for_parse_error(&e), &mut out);
                            }
                        }
                    }
                    State::Data(rx) => {
                        let done = rx.ingest(&mut bytes, &mut self.tx.body);
                        // The limit is exact: checked on every read, the last one too.
                        let over = self.tx.body.len() as u64 > self.ctx.max_message_size;
                        if over {
                            self.tx.too_big = true;
                            self.tx.body = Vec::new();
                        }
                        if done {
                            state = State::Command;
                            self.end_of_message(&mut out).await;
                        } else {
                            if over {
                                state = State::Discard(DummyDataReceiver::new_data(rx), None);
                            }
                            break;
                        }
                    }
                    State::Bdat(rx) => {
                        if rx.ingest(&mut bytes, &mut self.tx.body) {
                            let last = rx.is_last;
                            state = State::Command;
                            if last {
                                self.end_of_message(&mut out).await;
                            } else {
                                reply::chunk_received(self.tx.body.len()).write(&mut out);
                            }
                        } else {
                            break;
                        }
                    }
                    State::Discard(rx, pending) => {
                        if rx.ingest(&mut bytes) {
                            match pending.take() {
                                Some(reply) => self.refuse(reply, &mut out),
                                None => self.end_of_message(&mut out).await,
                            }
                            state = State::Command;
                        } else {
                            break;
                        }
                    }
                }
                if self.errors >= MAX_ERRORS {
                    reply::too_many_errors().write(&mut out);
                    ended = Some(Ended::Closed);
                }
            }
            // The clocks: message data (all BDAT chunks of a transaction count as one data
            // phase) runs on data_timeout; the next command line gets a fresh idle_timeout once
            // a command was answered.
            let now_phase = match state {
                State::Command if !self.tx.used_bdat => Phase::Command,
                _ => Phase::Data,
            };
            if now_phase != phase {
                phase = now_phase;
                phase_ends = Instant::now()
                    + match phase {
                        Phase::Data => self.ctx.data_timeout,
                        Phase::Command => self.ctx.idle_timeout,
                    };
            } else if phase == Phase::Command && commands_done {
                phase_ends = Instant::now() + self.ctx.idle_timeout;
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
                stream.flush().await?;
            }
            if let Some(ended) = ended {
                return Ok(ended);
            }
        }
    }

    /// Where the data of a BDAT chunk goes: kept, or swallowed with an error reply.
    fn start_chunk(&mut self, size: usize, last: bool) -> State {
        let refusal = if self.tx.rcpts.is_empty() {
            Some(if self.tx.mail_from.is_none() {
                reply::need_mail()
            } else {
                reply::need_rcpt()
            })
        } else if self.tx.body.len() as u64 + size as u64 > self.ctx.max_message_size {
            self.tx = Transaction::default();
            Some(reply::too_big(self.ctx.max_message_size))
        } else {
            None
        };
        match refusal {
            Some(reply) => State::Discard(DummyDataReceiver::new_bdat(size), Some(reply)),
            None => {
                self.tx.used_bdat = true;
                State::Bdat(BdatReceiver::new(size, last))
            }
        }
    }

    /// The whole message is in: check it, store it, reply (once, or once per recipient in LMTP).
    async fn end_of_message(&mut self, out: &mut Vec<u8>) {
        let tx = std::mem::take(&mut self.tx);
        let replies = accept::accept(self, tx).await;
        for reply in replies {
            reply.write(out);
        }
    }

    /// Writes a refusal and counts it against the session's error budget.
    pub(super) fn refuse(&mut self, reply: Reply, out: &mut Vec<u8>) {
        // "Too many recipients" is the client's cue to send the rest in another transaction
        // (RFC 5321 4.5.3.1.10), not a mistake: it does not count.
        if !reply.is_positive() && !reply::is_too_many_recipients(&reply) {
            self.errors += 1;
        }
        reply.write(out);
    }

    async fn command(&mut self, request: Request<String>, line: &[u8], out: &mut Vec<u8>) -> Flow {
        let ctx = self.ctx.clone();
        match request {
            Request::Ehlo { host } if !self.lmtp => self.greet(host, true, out),
            Request::Helo { host } if !self.lmtp => self.greet(host, false, out),
            Request::Lhlo { host } if self.lmtp => self.greet(host, true, out),
            Request::Ehlo { .. } | Request::Helo { .. } => {
                self.refuse(reply::need_lhlo(), out);
                Flow::Continue
            }
            Request::Lhlo { .. } => {
                self.refuse(reply::lhlo_on_smtp(), out);
                Flow::Continue
            }
            Request::Mail { from } => {
                let r = envelope::mail_from(self, from, line);
                self.refuse(r, out);
                Flow::Continue
            }
            Request::Rcpt { to } => {
                let r = envelope::rcpt_to(self, to, line).await;
                self.refuse(r, out);
                Flow::Continue
            }
            Request::Data => {
                let refusal = if self.tx.mail_from.is_none() {
                    Some(reply::need_mail())
                } else if self.tx.rcpts.is_empty() {
                    Some(reply::need_rcpt())
                } else if self.tx.used_bdat {
                    Some(reply::data_after_bdat())
                } else {
                    None
                };
                match refusal {
                    Some(r) => {
                        self.refuse(r, out);
                        Flow::Continue
                    }
                    None => {
                        reply::start_data().write(out);
                        Flow::Data
                    }
                }
            }
            Request::Bdat {
                chunk_size,
                is_last,
            } => Flow::Bdat {
                size: chunk_size,
                last: is_last,
            },
            Request::Rset => {
                self.tx = Transaction::default();
                reply::reset().write(out);
                Flow::Continue
            }
            Request::Noop { .. } => {
                reply::ok().write(out);
                Flow::Continue
            }
            Request::Quit => {
                reply::bye().write(out);
                Flow::Quit
            }
            Request::Help { .. } => {
                reply::help().write(out);
                Flow::Continue
            }
            Request::Vrfy { .. } => {
                reply::vrfy().write(out);
                Flow::Continue
            }
            Request::Expn { .. } => {
                self.refuse(reply::expn(), out);
                Flow::Continue
            }
            Request::Auth { .. } => {
                self.refuse(reply::auth_unavailable(), out);
                Flow::Continue
            }
            Request::StartTls => {
                if self.tls {
                    self.refuse(reply::already_tls(), out);
                    Flow::Continue
                } else if ctx.tls.is_none() {
                    self.refuse(reply::starttls_unavailable(), out);
                    Flow::Continue
                } else {
                    reply::starttls_ready().write(out);
                    Flow::StartTls
                }
            }
            _ => {
                self.refuse(reply::not_implemented(), out);
                Flow::Continue
            }
        }
    }

    fn greet(&mut self, host: String, extended: bool, out: &mut Vec<u8>) -> Flow {
        let client: String = host
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(100)
            .collect();
        self.tx = Transaction::default();
        self.esmtp = extended;
        let hostname = &self.ctx.hostname;
        if extended {
            let starttls = self.ctx.tls.is_some() && !self.tls;
            reply::ehlo(hostname, &client, self.ctx.max_message_size, starttls, out);
        } else {
            reply::helo(hostname).write(out);
        }
        self.helo = Some(client);
        Flow::Continue
    }

    /// The `with` word of our Received line (RFC 3848).
    pub(super) fn protocol(&self) -> &'static str {
        match (self.lmtp, self.esmtp, self.tls) {
            (true, _, false) => "LMTP",
            (true, _, true) => "LMTPS",
            (false, true, true) => "ESMTPS",
            (false, true, false) => "ESMTP",
            (false, false, true) => "SMTPS",
            (false, false, false) => "SMTP",
        }
    }
}

async fn say<S: AsyncWrite + Unpin>(stream: &mut S, reply: &Reply) -> std::io::Result<Ended> {
    let mut out = Vec::new();
    reply.write(&mut out);
    stream.write_all(&out).await?;
    stream.flush().await?;
    Ok(Ended::Closed)
}
