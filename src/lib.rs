//! circlemail: a mailing-list server whose lists are groups of people.
//!
//! # Layout
//! The modules follow a post through the server:
//!
//! ```text
//!  SMTP/LMTP ─► ingress ─► groups (who is this address? who receives?) ─► policy (accept/drop)
//!              │           ─► rewrite (the list copy) ─► queue::enqueue ══ one transaction ══► 250
//!              ▼
//!  queue::manager (claims due recipients under a lease) ─► delivery (relay SMTP) ─► outcomes stored
//! ```
//!
//! - [`ingress`]: the SMTP/LMTP server (one file per phase; every reply text in `ingress::reply`).
//! - [`socketmap`]: Postfix's socketmap lookups, so a Postfix in front refuses unknown list
//!   addresses at RCPT (routing by [`groups::route`], as ingress does).
//! - [`groups`]: routing an address to a group, and resolving its recipients.
//! - [`policy`]: what happens to a post (for now: loop detection).
//! - [`verify`]: DKIM, SPF, DMARC and ARC checks of an arriving post (Authentication-Results).
//! - [`arc`]: ARC sealing of list copies (its own module: the ARC experiment may end).
//! - [`rewrite`]: the list copy (Received, List-Id, List-Post, Precedence, loop marker).
//! - [`queue`]: the durable contract between acceptance and delivery; retries; leases.
//! - [`delivery`]: outbound SMTP through the relay, with a per-recipient outcome.
//! - [`store`]: SQLite or PostgreSQL, one schema, migrations in `migrations/`.
//! - [`http`]: `/healthz` and the admin API (`/api/v1`); [`admin`]: the operations behind it,
//!   shared with the command line.
//! - [`config`], [`cli`], [`app`] (wiring and shutdown), [`clock`], [`telemetry`], [`model`].

pub mod admin;
pub mod app;
pub mod arc;
pub mod archive;
pub mod bounce;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod digest;
pub mod dmarc;
pub mod groups;
pub mod http;
pub mod ingress;
pub mod metrics;
pub mod model;
pub mod moderation;
pub mod notices;
pub mod policy;
pub mod posting;
pub mod queue;
pub mod rewrite;
pub mod signin;
pub mod signing;
pub mod socketmap;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod unsubscribe;
pub mod verify;
