//! When to try again: exponential backoff from `retry_initial` up to `retry_max_interval`, and a
//! permanent failure once the post is older than `max_age`.

use std::time::Duration;

use crate::{delivery::RcptOutcome, store::deliveries::Recorded};

#[derive(Debug, Clone, Copy)]
pub struct RetrySchedule {
    pub initial: Duration,
    pub max_interval: Duration,
    pub max_age: Duration,
}

impl RetrySchedule {
    /// The wait after the `attempt`-th failed attempt (1 for the first).
    pub fn backoff(&self, attempt: i64) -> Duration {
        let doublings = attempt.saturating_sub(1).clamp(0, 30) as u32;
        self.initial
            .saturating_mul(1u32 << doublings)
            .min(self.max_interval)
    }

    /// Turns an attempt's outcome into the state to record. `attempts_before` counts earlier attempts.
    pub fn record(
        &self,
        outcome: RcptOutcome,
        attempts_before: i64,
        received_at: i64,
        now: i64,
    ) -> Recorded {
        match outcome {
            RcptOutcome::Delivered => Recorded::Delivered,
            RcptOutcome::Permanent(error) | RcptOutcome::Refused { error, .. } => {
                Recorded::Failed { error }
            }
            RcptOutcome::Temporary(error) => {
                let next = now + self.backoff(attempts_before + 1).as_millis() as i64;
                let deadline = received_at + self.max_age.as_millis() as i64;
                if next > deadline {
                    Recorded::Failed {
                        error: format!(
                            "gave up after {} attempts over {}: {error}",
                            attempts_before + 1,
                            humantime::format_duration(Duration::from_millis(
                                (now - received_at).max(0) as u64
                            ))
                        ),
                    }
                } else {
                    Recorded::Deferred {
                        error,
                        next_attempt_at: next,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> RetrySchedule {
        RetrySchedule {
            initial: Duration::from_secs(60),
            max_interval: Duration::from_secs(3600),
            max_age: Duration::from_secs(5 * 86400),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let s = schedule();
        let waits: Vec<u64> = (1..=8).map(|a| s.backoff(a).as_secs()).collect();
        assert_eq!(waits, vec![60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(s.backoff(10_000).as_secs(), 3600);
    }

    #[test]
    fn a_temporary_failure_past_the_maximum_age_becomes_permanent() {
        let s = schedule();
        let day = 86_400_000;
        let r = s.record(RcptOutcome::Temporary("451".into()), 3, 0, day);
        assert!(
            matches!(r, Recorded::Deferred { next_attempt_at, .. } if next_attempt_at == day + 480_000)
        );
        let r = s.record(RcptOutcome::Temporary("451".into()), 40, 0, 5 * day);
        assert!(
            matches!(r, Recorded::Failed { error } if error.contains("gave up after 41 attempts"))
        );
    }
}
