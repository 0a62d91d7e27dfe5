//! Bounce processing: mail to `LIST-bounces[+VERP]@DOMAIN` is stored at acceptance (never
//! distributed, never answered); this processor reads it afterwards, attributes it to people of
//! the list and scores them (see [`score`]). Several instances may run it: each bounce is claimed
//! in the transaction that records its effect, so it counts once.
//!
//! Attribution:
//! - VERP address with a valid tag ([`verp`]): the recipient it names, whatever the report says
//!   (unless the report only says "delayed", or it is an auto-reply).
//! - VERP address with a wrong tag: a forgery, ignored (`outcome = forged`).
//! - Plain bounce address (batched copies without VERP): the recipients the report names
//!   ([`dsn`]), each counted only if this list sent them a copy within the scoring window —
//!   so a forged report naming a member who was not mailed counts for nothing.

pub mod dsn;
pub mod score;
pub mod verp;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{
    clock::SharedClock,
    config::BounceConfig,
    store::{
        Store, StoreError,
        bounces::{PendingBounce, ScoreChange},
    },
};
use dsn::{Failure, Report, Severity};
use score::Scoring;
use verp::{Decoded, Verp};

pub struct BounceProcessor {
    pub store: Store,
    pub clock: SharedClock,
    pub verp: Verp,
    pub scoring: Scoring,
    pub poll_interval: Duration,
}

impl Scoring {
    pub fn from_config(c: &BounceConfig) -> Scoring {
        Scoring {
            threshold: c.score_threshold,
            hard: c.hard_score,
            soft: c.soft_score,
            stale_after_ms: c.stale_after.as_millis() as i64,
        }
    }
}

impl BounceProcessor {
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.process_pending().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "cannot process bounces; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Processes the bounces waiting; returns how many.
    pub async fn process_pending(&self) -> Result<usize, StoreError> {
        let pending = self.store.pending_bounces(50).await?;
        for bounce in &pending {
            self.process(bounce).await?;
        }
        Ok(pending.len())
    }

    async fn process(&self, bounce: &PendingBounce) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let report = dsn::parse(&bounce.raw);
        // (recipient, severity, status, diagnostic) to score, or the reason for scoring nothing.
        let named: Result<Vec<Failure>, String> = match (&bounce.verp, &bounce.list) {
            (Some(detail), Some(list)) => match self.verp.decode(list, detail) {
                Decoded::Forged => Err("forged: the VERP tag does not match".into()),
                Decoded::Recipient(r) => attribute_verp(r, report),
            },
            (Some(_), None) => Err("the group has no list address any more".into()),
            (None, _) => match report {
                Report::Bounce(failures) => {
                    let since = now - self.scoring.stale_after_ms;
                    let mut kept = Vec::new();
                    for f in failures {
                        if let Some(r) = &f.recipient
                            && self.store.group_mailed(bounce.group_id, r, since).await?
                        {
                            kept.push(f);
                        }
                    }
                    if kept.is_empty() {
                        Err("names no recipient this list mailed recently".into())
                    } else {
                        Ok(kept)
                    }
                }
                Report::AutoReply => Err("an auto-reply".into()),
                Report::Unrecognised => Err("not a bounce report".into()),
            },
        };
        let failures = match named {
            Ok(f) => f,
            Err(reason) => {
                self.store
                    .finish_bounce(bounce.id, bounce.group_id, &[], now, |_| {
                        (format!("ignored: {reason}"), vec![])
                    })
                    .await?;
                tracing::info!(bounce_id = bounce.id, group_id = bounce.group_id, from = %bounce.envelope_from, reason, "bounce ignored");
                return Ok(());
            }
        };
        let mut people = Vec::new();
        for f in &failures {
            if let Some(r) = &f.recipient
                && let Some(id) = self.store.person_id_by_email(r).await?
            {
                people.push((id, f.clone()));
            }
        }
        let ids: Vec<i64> = people.iter().map(|(id, _)| *id).collect();
        let scoring = self.scoring;
        let outcome = self
            .store
            .finish_bounce(bounce.id, bounce.group_id, &ids, now, |current| {
                let mut changes = Vec::new();
                let mut words = Vec::new();
                for ((id, state), (_, f)) in current.into_iter().zip(&people) {
                    let applied = scoring.apply(
                        state.as_ref(),
                        f.severity,
                        f.status.clone(),
                        f.diagnostic.clone(),
                        now,
                    );
                    words.push(format!(
                        "{} {:?} score {}{}",
                        f.recipient.as_deref().unwrap_or("?"),
                        f.severity,
                        applied.state.score_milli as f64 / 1000.0,
                        if applied.disables { " disabled" } else { "" }
                    ));
                    changes.push(ScoreChange {
                        person_id: id,
                        state: applied.state,
                        disable: applied.disables,
                    });
                }
                if words.is_empty() {
                    ("ignored: names no known person".into(), changes)
                } else {
                    (format!("scored: {}", words.join("; ")), changes)
                }
            })
            .await?;
        if let Some(outcome) = outcome {
            tracing::info!(
                bounce_id = bounce.id,
                group_id = bounce.group_id,
                outcome,
                "bounce processed"
            );
        }
        Ok(())
    }
}

/// A recipient a remote server refused with 5xx at RCPT, relay or MX: the address does not take
/// mail, as a hard bounce would say later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub recipient: String,
    /// The enhanced status code of the reply (`5.1.1`), if it had one.
    pub status: Option<String>,
    /// The reply as the transport reported it.
    pub diagnostic: String,
}

/// Scores refusals at RCPT like hard bounces for the list `group_id`: the same scoring, the same
/// one-a-day cap and threshold, so an address that no longer exists is disabled whether its
/// refusal came in the SMTP dialogue or as a report later. Returns how many people it disabled.
pub async fn score_refusals(
    store: &Store,
    scoring: Scoring,
    group_id: i64,
    refusals: &[Refusal],
    now: i64,
) -> Result<usize, StoreError> {
    let mut people = Vec::new();
    for refusal in refusals {
        if let Some(id) = store.person_id_by_email(&refusal.recipient).await?
            && !people.iter().any(|(p, _)| *p == id)
        {
            people.push((id, refusal));
        }
    }
    if people.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = people.iter().map(|(id, _)| *id).collect();
    let mut disabled = Vec::new();
    store
        .score_people(group_id, &ids, now, |current| {
            current
                .into_iter()
                .zip(&people)
                .map(|((id, state), (_, refusal))| {
                    let applied = scoring.apply(
                        state.as_ref(),
                        Severity::Hard,
                        refusal.status.clone(),
                        Some(refusal.diagnostic.clone()),
                        now,
                    );
                    if applied.disables {
                        disabled.push(refusal.recipient.clone());
                    }
                    ScoreChange {
                        person_id: id,
                        state: applied.state,
                        disable: applied.disables,
                    }
                })
                .collect()
        })
        .await?;
    for (_, refusal) in &people {
        tracing::info!(group_id, recipient = %refusal.recipient, diagnostic = %refusal.diagnostic, "refusal at RCPT scored as a hard bounce");
    }
    for recipient in &disabled {
        tracing::info!(group_id, %recipient, "delivery disabled: bounce score reached the threshold");
    }
    Ok(disabled.len())
}

/// A VERP bounce counts for its recipient unless the report says it is only delayed or is an
/// auto-reply; an unreadable report still counts as a hard bounce (the address bounced).
fn attribute_verp(recipient: String, report: Report) -> Result<Vec<Failure>, String> {
    match report {
        Report::AutoReply => Err("an auto-reply".into()),
        Report::Bounce(failures) => {
            // The part about this recipient; a forwarded address may be named differently.
            let worst = failures
                .iter()
                .filter(|f| f.recipient.as_deref().is_none_or(|r| r == recipient))
                .max_by_key(|f| f.severity)
                .or_else(|| failures.iter().max_by_key(|f| f.severity))
                .cloned();
            match worst {
                Some(f) if f.severity == Severity::Delayed => Err("only a delay notice".into()),
                Some(f) => Ok(vec![Failure {
                    recipient: Some(recipient),
                    ..f
                }]),
                None => Ok(vec![hard(recipient)]),
            }
        }
        Report::Unrecognised => Ok(vec![hard(recipient)]),
    }
}

fn hard(recipient: String) -> Failure {
    Failure {
        recipient: Some(recipient),
        severity: Severity::Hard,
        status: None,
        diagnostic: None,
    }
}
