//! The shared vocabulary of every stage: addresses, ids, list settings, outgoing copies.

pub mod address;
pub mod ids;
pub mod list_settings;
pub mod message;
