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
/// each recipient domain's MX hosts.
pub enum Transport {
    Relay(Relay),
    Direct(Box<Direct>),
}

impl Transport {
    /// Sends `copies` in order, reusing one connection; the outcomes come per copy, one per
    /// recipient, in the order given.
    pub async fn send(&self, copies: &[Copy]) -> Vec<Vec<RcptOutcome>> {
        match self {
            Transport::Relay(relay) => relay.send(copies).await,
            Transport::Direct(direct) => direct.send(copies).await,
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
