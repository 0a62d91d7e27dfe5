//! `circlemail admin bootstrap EMAIL`: the first owner, from the command line.

use std::sync::Arc;

use clap::Subcommand;

use super::open;
use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    groups::Resolver,
};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create the first owner (the person is created if new) and print their API token, once.
    /// Refused once an active owner exists.
    Bootstrap {
        /// The owner's e-mail address.
        email: String,
    },
}

pub(super) async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        AdminCommand::Bootstrap { email } => {
            let clock = Arc::new(SystemClock);
            let resolver = Resolver::new(store.clone(), clock.clone());
            let (account, token) =
                crate::admin::accounts::bootstrap(&store, &resolver, &email, clock.now_ms())
                    .await?;
            println!(
                "{} is the owner (account {}). Their API token, shown only this once:",
                account.email, account.id
            );
            println!("{token}");
        }
    }
    Ok(())
}
