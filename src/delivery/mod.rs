//! Delivery: outbound SMTP. One call sends one or more copies over one connection, each copy
//! in its own transaction, and tells, per recipient, what became of it.
//!
//! Input: [`Copy`]s (envelope sender, recipients, message bytes). Output: one [`RcptOutcome`]
//! per recipient of each copy.
//! Never touches the store: the queue records outcomes. Errors are temporary unless the remote
//! server proved them permanent with a 5xx reply (see [`outcome`]).

mod direct;
pub mod mx;
pub mod outcome;
mod relay;
mod session;
mod wire;

pub use direct::Direct;

use std::{future::Future, pin::Pin};

use crate::model::message::CopyBytes;
pub use outcome::RcptOutcome;
pub use relay::{Relay, RelayTarget};

/// One SMTP transaction's worth: a message for some recipients from one envelope sender.
/// A batched list copy is one `Copy` for many recipients; a personalised one is a `Copy` each.
#[derive(Debug, Clone)]
pub struct Copy {
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub message: CopyBytes,
}

/// How copies leave this server (`delivery.transport`): through a smarthost, or straight to
/// each recipient domain's MX hosts. One per worker, so its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Transport {
    Relay(Relay),
    Direct(Box<Direct>),
}

impl Transport {
    /// Sends `copies` in order, reusing one connection; the outcomes come per copy, one per
    /// recipient, in the order given. `progress` hears each copy's outcomes as soon as its
    /// replies are in (see [`Progress`]); copies never attempted (no connection) are only in
    /// the result.
    pub async fn send(&self, copies: &[Copy], progress: &dyn Progress) -> Vec<Vec<RcptOutcome>> {
        match self {
            Transport::Relay(relay) => relay.send(copies, progress).await,
            Transport::Direct(direct) => direct.send(copies, progress).await,
        }
    }

    /// Where copies go, for logs.
    pub fn describe(&self) -> String {
        match self {
            Transport::Relay(relay) => format!("relay {}", relay.target()),
            Transport::Direct(direct) => direct.describe(),
        }
    }
}

/// A future the transport waits for.
pub type Waiting<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Hears the outcomes of copies as soon as their replies are in. The transport runs a few
/// copies ahead of the disk: it hands a copy's outcomes over and sends the next content at
/// once, waiting for the returned futures (outcomes written) only when more than
/// `session::AHEAD` (4) writes are outstanding. So at any moment each open connection has at
/// most **five** copies whose content went out and whose outcome is not yet recorded — what a
/// crash can send twice — and the writes overlap the next copies' round trips instead of
/// adding to them. With BDAT (`session::GROUP`) a write of twenty personal copies goes out
/// only once the outcomes of the writes before it are recorded: at most **twenty** such copies
/// per connection (or one copy of more recipients).
pub trait Progress: Sync {
    /// `outcomes`: (copy index, recipient index within that copy, outcome). They are handed
    /// over when this is called, not when the result is first polled; the result ends when
    /// they are recorded.
    fn done(&self, outcomes: Vec<(usize, usize, RcptOutcome)>) -> Waiting<'_>;
}

/// Nobody listening: the outcomes are only in what [`Transport::send`] returns.
pub struct Unheard;

impl Progress for Unheard {
    fn done(&self, _: Vec<(usize, usize, RcptOutcome)>) -> Waiting<'_> {
        Box::pin(async {})
    }
}

/// The progress of `copies[offset..]`, told to `inner` under the whole slice's indexes.
pub(crate) struct Offset<'a> {
    pub inner: &'a dyn Progress,
    pub offset: usize,
}

impl Progress for Offset<'_> {
    fn done(&self, outcomes: Vec<(usize, usize, RcptOutcome)>) -> Waiting<'_> {
        let offset = self.offset;
        self.inner.done(
            outcomes
                .into_iter()
                .map(|(c, r, o)| (c + offset, r, o))
                .collect(),
        )
    }
}
