//! `circlemail group …` and `circlemail member …`: enough administration to run without the API.

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;

use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    model::address::EmailAddress,
    store::{Store, groups::Group},
};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group with a list address at one of `server.domains`.
    Create {
        /// The group's name, e.g. "Board".
        name: String,
        /// The list address, e.g. board@lists.example.org.
        #[arg(long)]
        address: String,
    },
    /// List every group with its address and member count.
    List,
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a person (created if new) to a group.
    Add {
        /// The group's name or address.
        group: String,
        email: String,
        /// The person's name, shown in lists.
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove a person from a group.
    Remove { group: String, email: String },
    /// List a group's members.
    List { group: String },
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(config.database.url.expose(), 2)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    Ok(store)
}

async fn find(store: &Store, group: &str) -> anyhow::Result<Group> {
    store.find_group(group).await?.ok_or_else(|| {
        anyhow!("no group named or addressed {group:?}; see `circlemail group list`")
    })
}

fn parse_address(input: &str) -> anyhow::Result<EmailAddress> {
    EmailAddress::parse(input).map_err(|e| anyhow!("{e}"))
}

pub(super) async fn group(config: &Config, command: GroupCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        GroupCommand::Create { name, address } => {
            let name = name.trim();
            if name.is_empty() {
                bail!("a group needs a name");
            }
            let address = parse_address(&address)?;
            if !config
                .server
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(address.domain()))
            {
                bail!(
                    "{} is not in server.domains ({}): mail to it would be refused",
                    address.domain(),
                    config.server.domains.join(", ")
                );
            }
            let group = store
                .create_group(name, Some(&address), SystemClock.now_ms())
                .await?;
            println!("created group {:?} <{}>", group.name, address.key());
        }
        GroupCommand::List => {
            let groups = store.list_groups().await?;
            if groups.is_empty() {
                println!(
                    "no groups yet; create one with `circlemail group create NAME --address LIST@DOMAIN`"
                );
            }
            for g in groups {
                println!(
                    "{:<30} {:<40} {} members",
                    g.group.name,
                    g.group.address.as_deref().unwrap_or("-"),
                    g.members
                );
            }
        }
    }
    Ok(())
}

pub(super) async fn member(config: &Config, command: MemberCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    let now = SystemClock.now_ms();
    match command {
        MemberCommand::Add { group, email, name } => {
            let group = find(&store, &group).await?;
            let email = parse_address(&email)?;
            let person = store.upsert_person(&email, name.as_deref(), now).await?;
            if store.add_member(group.id, person.id, now).await? {
                println!("added {} to {:?}", person.email, group.name);
            } else {
                println!("{} is already a member of {:?}", person.email, group.name);
            }
        }
        MemberCommand::Remove { group, email } => {
            let group = find(&store, &group).await?;
            let email = parse_address(&email)?;
            let removed = match store.find_person(&email).await? {
                Some(p) => store.remove_member(group.id, p.id).await?,
                None => false,
            };
            if !removed {
                bail!("{email} is not a member of {:?}", group.name);
            }
            println!("removed {email} from {:?}", group.name);
        }
        MemberCommand::List { group } => {
            let group = find(&store, &group).await?;
            for m in store.members(group.id).await? {
                match m.name {
                    Some(name) => println!("{} ({name})", m.email),
                    None => println!("{}", m.email),
                }
            }
        }
    }
    Ok(())
}
