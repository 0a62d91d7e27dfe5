//! Logging with `tracing`: one line per event, to standard error (journald picks it up).
//! Field names used across stages: `queue_id`, `group_id`, `peer`, `recipients`, `error`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `filter` is `log.level` from the config (or `RUST_LOG` when set).
pub fn init(filter: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| f.parse::<EnvFilter>().ok())
        .or_else(|| filter.parse().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
