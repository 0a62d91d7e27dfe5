//! The shared vocabulary of every stage: addresses, ids.

pub mod address;
pub mod ids;
pub mod list_settings;
