//! `circlemail archive import LIST FILE.mbox`: an mbox (Mailman 2 pipermail, HyperKitty
//! export, Google Takeout) into a list's archive, under the list's own `archive` setting.

use std::io::IsTerminal;

use anyhow::{Context as _, anyhow};
use clap::Subcommand;

use super::{groups::find, open};
use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    model::list_settings::{ArchivePolicy, ListSettings},
};

#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Import an mbox into a list's archive: de-duplicated by Message-ID (importing again
    /// changes nothing), threaded; unreadable messages are reported by position.
    Import {
        /// The list: its name or address.
        list: String,
        /// The mbox file (mboxrd or mboxo; gzip-compressed, as Mailman 2's .txt.gz, is read as it is).
        file: std::path::PathBuf,
    },
}

pub(super) async fn run(config: &Config, command: ArchiveCommand) -> anyhow::Result<()> {
    let ArchiveCommand::Import { list, file } = command;
    let store = open(config).await?;
    let group = find(&store, &list).await?;
    crate::archive::uploads::importable(&group).map_err(|why| anyhow!(why))?;
    let settings = ListSettings::from_stored(group.settings.as_deref());
    let handle =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = handle.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    crate::archive::uploads::check(handle.try_clone()?)
        .map_err(|why| anyhow!("{}: {why}", file.display()))?;
    let (reader, read) = crate::archive::uploads::open(handle)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let report =
        crate::archive::mbox::import(&store, group.id, reader, SystemClock.now_ms(), |_, _| {
            if let Some(b) = &bar {
                b.set_position(read.load(std::sync::atomic::Ordering::Relaxed));
            }
            std::future::ready(())
        })
        .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for (position, why) in &report.unreadable {
        println!("message {position} not imported: {why}");
    }
    println!(
        "{}: {} added, {} already archived, {} unreadable (readable by: {})",
        group.name,
        report.added,
        report.duplicates,
        report.unreadable.len(),
        match settings.archive {
            ArchivePolicy::Members => "the people who receive the list, and its administrators",
            ArchivePolicy::Managers => "the list's administrators",
            ArchivePolicy::Public => "anyone",
            ArchivePolicy::None => "nobody",
        }
    );
    Ok(())
}
