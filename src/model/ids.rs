//! Identifiers that appear in logs and SMTP replies.

use rand::Rng;

/// The public id of an accepted post ("queued as …"): 16 hex digits, time-ordered, unguessable
/// enough not to collide across instances (48 bits of milliseconds, 16 random bits, then 16 more).
pub fn new_queue_id(now_ms: i64) -> String {
    let random: u32 = rand::rng().random();
    format!("{:012X}{:08X}", now_ms as u64 & 0xFFFF_FFFF_FFFF, random)
}
