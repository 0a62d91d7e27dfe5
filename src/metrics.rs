//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4).
//!
//! Two kinds: counters this process keeps since it started (attempts and their outcomes — with
//! several instances, Prometheus sums them), and gauges read from the database, the same for
//! every instance (recipients by state, the age of the oldest waiting post, bounces).

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use crate::store::queue::QueueFigures;

static DELIVERED: AtomicU64 = AtomicU64::new(0);
static DEFERRED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);
static TRANSACTIONS: AtomicU64 = AtomicU64::new(0);

/// Counts the outcomes of one delivery batch.
pub fn record_batch(delivered: usize, deferred: usize, failed: usize, transactions: usize) {
    DELIVERED.fetch_add(delivered as u64, Ordering::Relaxed);
    DEFERRED.fetch_add(deferred as u64, Ordering::Relaxed);
    FAILED.fetch_add(failed as u64, Ordering::Relaxed);
    TRANSACTIONS.fetch_add(transactions as u64, Ordering::Relaxed);
}

/// The exposition text.
pub fn render(figures: &QueueFigures, now_ms: i64) -> String {
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
    metric(
        "circlemail_delivery_attempts_total",
        "counter",
        "Recipient delivery attempts by this process since it started, by outcome.",
        &[
            ("{outcome=\"delivered\"}", load(&DELIVERED)),
            ("{outcome=\"deferred\"}", load(&DEFERRED)),
            ("{outcome=\"failed\"}", load(&FAILED)),
        ],
    );
    metric(
        "circlemail_smtp_transactions_total",
        "counter",
        "Outbound SMTP transactions attempted by this process since it started.",
        &[("", load(&TRANSACTIONS))],
    );
    metric(
        "circlemail_recipients",
        "gauge",
        "Recipients of stored posts by delivery state (all instances).",
        &[
            ("{state=\"queued\"}", figures.queued as f64),
            ("{state=\"deferred\"}", figures.deferred as f64),
            ("{state=\"delivered\"}", figures.delivered as f64),
            ("{state=\"failed\"}", figures.failed as f64),
        ],
    );
    let age = figures
        .oldest_waiting_at
        .map(|t| ((now_ms - t).max(0) as f64) / 1000.0)
        .unwrap_or(0.0);
    metric(
        "circlemail_queue_oldest_age_seconds",
        "gauge",
        "Age of the oldest post with a recipient still waiting (0 when none waits).",
        &[("", age)],
    );
    metric(
        "circlemail_bounces",
        "gauge",
        "Inbound bounces stored, by what the bounce processor made of them.",
        &[
            ("{result=\"received\"}", figures.bounces_received as f64),
            ("{result=\"scored\"}", figures.bounces_scored as f64),
            ("{result=\"ignored\"}", figures.bounces_ignored as f64),
        ],
    );
    metric(
        "circlemail_bounce_disabled_memberships",
        "gauge",
        "Person and list pairs whose delivery is disabled for bouncing.",
        &[("", figures.disabled_by_bounces as f64)],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_follows_the_exposition_format() {
        let f = QueueFigures {
            queued: 3,
            oldest_waiting_at: Some(1_000),
            ..QueueFigures::default()
        };
        let text = render(&f, 61_000);
        assert!(text.contains("# TYPE circlemail_recipients gauge\n"));
        assert!(text.contains("circlemail_recipients{state=\"queued\"} 3\n"));
        assert!(text.contains("circlemail_queue_oldest_age_seconds 60\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("circlemail_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
