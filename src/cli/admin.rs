//! `circlemail admin bootstrap EMAIL`: the first owner, from the command line;
//! `circlemail admin sign-in-link EMAIL`: a sign-in link for the web pages, printed instead of
//! mailed (for the operator at the console, or when mail does not flow yet).

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
    /// Print a single-use link that signs EMAIL in to the web pages (valid for
    /// web.signin_link_lifetime). Nothing is mailed.
    SignInLink {
        /// The person's e-mail address (someone the organisation knows).
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
        AdminCommand::SignInLink { email } => {
            let address = crate::model::address::EmailAddress::parse(&email)
                .map_err(|e| anyhow::anyhow!("{email}: {e}"))?;
            let Some((person, _)) = store.signin_person(&address.key()).await? else {
                anyhow::bail!(
                    "{email} is nobody here (add them first: `circlemail person add {email}`)"
                );
            };
            let clock: crate::clock::SharedClock = Arc::new(SystemClock);
            let queue = crate::queue::Queue::new(store.clone());
            let signin = crate::app::signin(config, &store, &queue, &clock);
            let link = signin.link(person, None).await?;
            if store
                .account_of_person(person)
                .await?
                .is_none_or(|a| !a.active)
            {
                eprintln!(
                    "note: {email} has no active administrator account: the link opens their own pages only"
                );
            }
            println!("{link}");
            eprintln!(
                "It works once, for {}.",
                humantime::format_duration(config.web.signin_link_lifetime)
            );
        }
    }
    Ok(())
}
