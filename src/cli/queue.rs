//! `circlemail queue [list]|retry|cancel` and `circlemail bounces list|enable`.

use clap::Subcommand;

use super::open;
use crate::{
    clock::{Clock, SystemClock},
    config::Config,
};

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Posts still being delivered, and deferred recipients with their last error.
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Try a post's waiting recipients (or one of them) now.
    Retry {
        queue_id: String,
        #[arg(long)]
        recipient: Option<String>,
    },
    /// Give up on a post's waiting recipients (or one of them): they are marked failed.
    Cancel {
        queue_id: String,
        #[arg(long)]
        recipient: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BounceCommand {
    /// Bounce scores of a group (by list address or name): who bounced, and who is disabled.
    List { group: String },
    /// Re-enable delivery of a group to a person disabled for bouncing.
    Enable { group: String, email: String },
}

fn time(ms: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64),
    )
    .to_string()
}

pub(super) async fn queue(config: &Config, command: Option<QueueCommand>) -> anyhow::Result<()> {
    let store = open(config).await?;
    let now = SystemClock.now_ms();
    match command.unwrap_or(QueueCommand::List { limit: 100 }) {
        QueueCommand::List { limit } => {
            let posts = store.in_flight(now, limit).await?;
            if posts.is_empty() {
                println!("The queue is empty: every recipient has been delivered or has failed.");
            }
            for p in posts {
                println!(
                    "{}  received {}  queued {}  sending {}  deferred {}  delivered {}  failed {}",
                    p.queue_id,
                    time(p.received_at),
                    p.queued,
                    p.sending,
                    p.deferred,
                    p.delivered,
                    p.failed
                );
            }
            for d in store.deferred(limit).await? {
                println!(
                    "  deferred {} ({})  attempts {}  next {}  {}",
                    d.recipient,
                    d.queue_id,
                    d.attempts,
                    time(d.next_attempt_at),
                    d.last_error.unwrap_or_default()
                );
            }
        }
        QueueCommand::Retry {
            queue_id,
            recipient,
        } => {
            let n = store
                .retry_now(&queue_id, recipient.as_deref(), now)
                .await?;
            println!(
                "{queue_id}: {n} recipients due now (a running server picks them up within delivery.poll_interval)"
            );
        }
        QueueCommand::Cancel {
            queue_id,
            recipient,
        } => {
            let n = store.cancel(&queue_id, recipient.as_deref(), now).await?;
            println!("{queue_id}: {n} recipients cancelled");
        }
    }
    Ok(())
}

pub(super) async fn bounces(config: &Config, command: BounceCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    let find = |name: String| {
        let store = store.clone();
        async move {
            store
                .find_group(&name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no group named or addressed {name:?}"))
        }
    };
    match command {
        BounceCommand::List { group } => {
            let group = find(group).await?;
            let scores = store.bounce_scores(Some(group.id), None).await?;
            if scores.is_empty() {
                println!("no bounces for {}: nobody has a bounce score", group.name);
            }
            for b in scores {
                println!(
                    "{:<40} score {:>4.1}  bounces {:>3}  last {}  {}{}",
                    b.email,
                    b.score,
                    b.bounces,
                    time(b.last_bounce_at),
                    b.last_status.unwrap_or_default(),
                    b.disabled_at
                        .map(|t| format!("  DISABLED since {}", time(t)))
                        .unwrap_or_default()
                );
            }
        }
        BounceCommand::Enable { group, email } => {
            let group = find(group).await?;
            let person = store
                .person_id_by_email(&email)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no person with address {email}"))?;
            if !store.reenable_bounced(group.id, person).await? {
                anyhow::bail!("{email} has no bounce record for {}", group.name);
            }
            println!("{email}: delivery of {} enabled again", group.name);
        }
    }
    Ok(())
}
