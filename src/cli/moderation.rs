//! `circlemail moderation list|approve|reject|discard`.

use std::sync::Arc;

use anyhow::anyhow;
use clap::Subcommand;

use super::open;
use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    groups::Resolver,
    moderation::{Decision, Moderation},
    posting::Posting,
    queue::Queue,
};

#[derive(Debug, Subcommand)]
pub enum ModerationCommand {
    /// Posts waiting for a decision.
    List,
    /// Send a held post to the list.
    Approve { id: i64 },
    /// Refuse a held post; the reason is mailed to the author.
    Reject {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Drop a held post without telling anyone.
    Discard { id: i64 },
}

pub(super) async fn run(config: &Config, command: ModerationCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    if let ModerationCommand::List = command {
        let held = store.held_posts("held").await?;
        if held.is_empty() {
            println!("no posts held for moderation");
        }
        for h in held {
            let group = store
                .group(h.group_id)
                .await?
                .map(|g| g.name)
                .unwrap_or_default();
            println!(
                "{:>6}  {:<20} {:<32} {}  ({})",
                h.id,
                group,
                h.author,
                h.subject.unwrap_or_default(),
                h.reason
            );
        }
        return Ok(());
    }
    let clock = Arc::new(SystemClock);
    let resolver = crate::app::resolver(config).map_err(|e| anyhow!(e))?;
    let (dmarc, _, arc) = crate::app::authentication(config, resolver).map_err(|e| anyhow!(e))?;
    let moderation = Moderation {
        posting: Arc::new(Posting {
            store: store.clone(),
            arc: Some(arc),
            links: Some(crate::unsubscribe::Links::new(
                crate::app::link_signer(&store, config, clock.now_ms()).await?,
                &config.http.public_url,
            )),
            dmarc,
            resolver: Arc::new(Resolver::new(store.clone(), clock.clone())),
            queue: Queue::new(store.clone()),
            clock: clock.clone(),
            hostname: config.server.hostname.clone(),
        }),
        signer: crate::app::link_signer(&store, config, clock.now_ms()).await?,
        public_url: config.http.public_url.clone(),
    };
    let (id, decision, reason) = match command {
        ModerationCommand::Approve { id } => (id, Decision::Approve, None),
        ModerationCommand::Reject { id, reason } => (id, Decision::Reject, reason),
        ModerationCommand::Discard { id } => (id, Decision::Discard, None),
        ModerationCommand::List => unreachable!("handled above"),
    };
    let held = moderation
        .decide(id, decision, "command line", reason.as_deref())
        .await?;
    println!(
        "post {id} {}; a running server sends it within its poll interval",
        held.status
    );
    Ok(())
}
