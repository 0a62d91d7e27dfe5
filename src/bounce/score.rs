//! Bounce scoring, after Mailman: each bounce adds to a person's score for a list (a hard bounce
//! `hard_score`, a soft one `soft_score`), at most one bounce per day counts, a score left alone
//! for `stale_after` starts again from zero, and reaching `score_threshold` disables delivery of
//! that list to that person. Mailman 3's defaults: threshold 5, stale after 7 days.

use super::dsn::Severity;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scoring {
    pub threshold: f64,
    pub hard: f64,
    pub soft: f64,
    pub stale_after_ms: i64,
}

/// A person's bounce record for one list. Scores are kept in thousandths (an integer column).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScoreState {
    pub score_milli: i64,
    pub bounces: i64,
    pub first_bounce_at: i64,
    pub last_bounce_at: i64,
    /// The day (epoch days) whose bounce was last counted.
    pub last_counted_day: i64,
    pub last_status: Option<String>,
    pub last_diagnostic: Option<String>,
    pub disabled_at: Option<i64>,
}

/// What one bounce did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub state: ScoreState,
    /// Whether this bounce added to the score (the first of its day).
    pub counted: bool,
    /// Whether this bounce took the score over the threshold just now.
    pub disables: bool,
}

impl Scoring {
    fn milli(points: f64) -> i64 {
        (points * 1000.0).round() as i64
    }

    /// Applies a bounce of `severity` at `now` to `previous` (none: the first bounce).
    pub fn apply(
        &self,
        previous: Option<&ScoreState>,
        severity: Severity,
        status: Option<String>,
        diagnostic: Option<String>,
        now: i64,
    ) -> Applied {
        let day = now.div_euclid(DAY_MS);
        let mut state = match previous {
            Some(p) if p.disabled_at.is_some() || now - p.last_bounce_at < self.stale_after_ms => {
                p.clone()
            }
            _ => ScoreState {
                first_bounce_at: now,
                last_counted_day: i64::MIN,
                ..ScoreState::default()
            },
        };
        state.bounces += 1;
        state.last_bounce_at = now;
        state.last_status = status;
        state.last_diagnostic = diagnostic;
        let points = match severity {
            Severity::Hard => self.hard,
            Severity::Soft => self.soft,
            Severity::Delayed => 0.0,
        };
        let counted = state.last_counted_day != day && points > 0.0;
        if counted {
            state.score_milli += Self::milli(points);
            state.last_counted_day = day;
        }
        let disables =
            state.disabled_at.is_none() && state.score_milli >= Self::milli(self.threshold);
        if disables {
            state.disabled_at = Some(now);
        }
        Applied {
            state,
            counted,
            disables,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailman() -> Scoring {
        Scoring {
            threshold: 5.0,
            hard: 1.0,
            soft: 0.5,
            stale_after_ms: 7 * DAY_MS,
        }
    }

    #[test]
    fn five_days_of_hard_bounces_disable_and_one_per_day_counts() {
        let s = mailman();
        let mut state: Option<ScoreState> = None;
        let mut disabled_on = None;
        for day in 0..6 {
            for hour in [1, 2] {
                let now = day * DAY_MS + hour * 3_600_000;
                let a = s.apply(state.as_ref(), Severity::Hard, None, None, now);
                assert_eq!(a.counted, hour == 1);
                if a.disables {
                    disabled_on = Some(day);
                }
                state = Some(a.state);
            }
        }
        assert_eq!(disabled_on, Some(4));
        assert_eq!(state.unwrap().bounces, 12);
    }

    #[test]
    fn a_stale_score_starts_again_and_soft_bounces_count_half() {
        let s = mailman();
        let a = s.apply(None, Severity::Hard, None, None, 0);
        let b = s.apply(Some(&a.state), Severity::Soft, None, None, 3 * DAY_MS);
        assert_eq!(b.state.score_milli, 1500);
        let c = s.apply(Some(&b.state), Severity::Hard, None, None, 11 * DAY_MS);
        assert_eq!(
            c.state.score_milli, 1000,
            "more than 7 days since the last bounce"
        );
        assert_eq!(c.state.bounces, 1);
        let d = s.apply(Some(&c.state), Severity::Delayed, None, None, 12 * DAY_MS);
        assert!(!d.counted);
    }
}
