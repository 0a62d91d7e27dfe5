//! Delivery: outbound SMTP. One call sends one message to a batch of recipients in one
//! transaction and tells, per recipient, what became of it.
//!
//! Input: envelope sender, recipients, message bytes. Output: one [`RcptOutcome`] per recipient.
//! Never touches the store: the queue records outcomes. Errors are temporary unless the remote
//! server proved them permanent with a 5xx reply (see [`outcome`]).

pub mod outcome;
mod relay;

pub use outcome::RcptOutcome;
pub use relay::{Relay, RelayTarget};

/// How copies leave this server. The relay (smarthost) is the one transport so far.
pub enum Transport {
    Relay(Relay),
}

impl Transport {
    pub async fn send(
        &self,
        envelope_from: &str,
        recipients: &[String],
        message: &[u8],
    ) -> Vec<RcptOutcome> {
        match self {
            Transport::Relay(relay) => relay.send(envelope_from, recipients, message).await,
        }
    }

    /// Where copies go, for logs.
    pub fn describe(&self) -> String {
        match self {
            Transport::Relay(relay) => format!("relay {}", relay.target()),
        }
    }
}
