//! `circlemail person …`, `circlemail opt-out …` and `circlemail import FILE.csv`.

use std::{collections::BTreeMap, io::IsTerminal};

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};

use super::{
    groups::{find, person_id},
    open,
};
use crate::{
    admin::{
        self,
        people::{PersonInput, apply, validate},
    },
    clock::{Clock, SystemClock},
    config::Config,
    model::address::EmailAddress,
    store::people::{PeopleQuery, Period},
};

#[derive(Debug, Args)]
pub struct Attributes {
    #[arg(long)]
    name: Option<String>,
    /// active or resigned.
    #[arg(long)]
    status: Option<String>,
    #[arg(long = "type")]
    membership_type: Option<String>,
    /// person, organisation or public_body.
    #[arg(long)]
    profile: Option<String>,
    /// Replaces the person's teams (repeat for several).
    #[arg(long = "team")]
    teams: Vec<String>,
    /// Replaces the person's add-on services (repeat for several).
    #[arg(long = "service")]
    services: Vec<String>,
    /// A custom field value, NAME=VALUE (repeat for several values or fields).
    #[arg(long = "field")]
    fields: Vec<String>,
    /// Add a membership period: the day the person joined (YYYY-MM-DD)...
    #[arg(long)]
    joined: Option<String>,
    /// ...and, if they have left, the day they left.
    #[arg(long, requires = "joined")]
    left: Option<String>,
    /// Also get the list's copy of posts that address them directly (true/false).
    #[arg(long)]
    receive_duplicates: Option<bool>,
}

impl Attributes {
    fn input(self, email: Option<String>) -> anyhow::Result<PersonInput> {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in self.fields {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| anyhow!("--field takes NAME=VALUE, not {f:?}"))?;
            fields.entry(k.to_string()).or_default().push(v.to_string());
        }
        Ok(PersonInput {
            email,
            name: self.name.map(Some),
            status: self.status,
            membership_type: self.membership_type.map(Some),
            profile_type: self.profile,
            teams: (!self.teams.is_empty()).then_some(self.teams),
            services: (!self.services.is_empty()).then_some(self.services),
            fields: (!fields.is_empty()).then_some(fields),
            add_periods: self.joined.map(|joined| {
                vec![Period {
                    joined,
                    left: self.left,
                }]
            }),
            receive_duplicates: self.receive_duplicates,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Add a person with attributes.
    Add {
        email: String,
        #[command(flatten)]
        attributes: Attributes,
    },
    /// Show everything stored about a person.
    Show { email: String },
    /// Change a person's attributes (only those given).
    Update {
        email: String,
        /// A new address.
        #[arg(long)]
        new_email: Option<String>,
        #[command(flatten)]
        attributes: Attributes,
    },
    /// Delete a person with their memberships and opt-outs.
    Delete { email: String },
    /// Search people by part of the address or name, and attributes.
    Search {
        text: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long = "type")]
        membership_type: Option<String>,
        #[arg(long)]
        team: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OptOutCommand {
    /// Stop a person receiving a group's mail (or, without --group, all list mail).
    Add {
        email: String,
        #[arg(long)]
        group: Option<String>,
    },
    /// Undo an opt-out.
    Remove {
        email: String,
        #[arg(long)]
        group: Option<String>,
    },
    /// List a person's opt-outs.
    List { email: String },
}

pub(super) async fn person(config: &Config, command: PersonCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        PersonCommand::Add { email, attributes } => {
            let address = EmailAddress::parse(&email).map_err(|e| anyhow!("{e}"))?;
            if store.find_person(&address).await?.is_some() {
                bail!("{address} exists already; change it with `circlemail person update`");
            }
            let input = attributes.input(None)?;
            validate(&store, &input).await?;
            let name = input.name.clone().flatten();
            let person = store
                .upsert_person(&address, name.as_deref(), SystemClock.now_ms())
                .await?;
            apply(&store, person.id, &input, SystemClock.now_ms()).await?;
            println!("added {address} (id {})", person.id);
        }
        PersonCommand::Show { email } => {
            let id = person_id(&store, &email).await?;
            let detail = store
                .person_detail(id)
                .await?
                .ok_or_else(|| anyhow!("no person {email}"))?;
            println!("{}", serde_json::to_string_pretty(&detail)?);
        }
        PersonCommand::Update {
            email,
            new_email,
            attributes,
        } => {
            let id = person_id(&store, &email).await?;
            let input = attributes.input(new_email)?;
            validate(&store, &input).await?;
            apply(&store, id, &input, SystemClock.now_ms()).await?;
            println!("updated {email}");
        }
        PersonCommand::Delete { email } => {
            let id = person_id(&store, &email).await?;
            let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
            if let Some(why) =
                crate::admin::gdpr::delete_blocked_by_retention(&store, id, now).await?
            {
                anyhow::bail!("cannot delete {email}: {why}");
            }
            store.delete_person(id).await?;
            println!("deleted {email}");
        }
        PersonCommand::Search {
            text,
            status,
            membership_type,
            team,
        } => {
            let q = PeopleQuery {
                text,
                status,
                membership_type,
                team,
                limit: 1000,
                offset: 0,
            };
            for p in store.search_people(&q).await? {
                println!(
                    "{:<40} {:<24} {:<9} {}",
                    p.email,
                    p.name.unwrap_or_default(),
                    p.status,
                    p.membership_type.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

pub(super) async fn opt_out(config: &Config, command: OptOutCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        OptOutCommand::Add { email, group } => {
            let id = person_id(&store, &email).await?;
            let group = match group {
                Some(g) => Some(find(&store, &g).await?),
                None => None,
            };
            store
                .opt_out(
                    id,
                    group.as_ref().map(|g| g.id),
                    "admin",
                    SystemClock.now_ms(),
                )
                .await?;
            println!(
                "{email} no longer receives {}",
                group
                    .map(|g| format!("{:?}", g.name))
                    .unwrap_or_else(|| "any list mail".into())
            );
        }
        OptOutCommand::Remove { email, group } => {
            let id = person_id(&store, &email).await?;
            let group = match group {
                Some(g) => Some(find(&store, &g).await?),
                None => None,
            };
            if !store.undo_opt_out(id, group.as_ref().map(|g| g.id)).await? {
                bail!("{email} had no such opt-out");
            }
            println!(
                "{email} receives {} again",
                group
                    .map(|g| format!("{:?}", g.name))
                    .unwrap_or_else(|| "list mail".into())
            );
        }
        OptOutCommand::List { email } => {
            let id = person_id(&store, &email).await?;
            for o in store.opt_outs(Some(id), None).await? {
                let what = match o.group_id {
                    Some(g) => store
                        .group(g)
                        .await?
                        .map(|g| g.name)
                        .unwrap_or_else(|| g.to_string()),
                    None => "all list mail".into(),
                };
                println!("{what} (by {})", o.channel);
            }
        }
    }
    Ok(())
}

pub(super) async fn import(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let store = open(config).await?;
    let handle =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = handle.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let report = admin::import::import_csv(
        &store,
        std::io::BufReader::new(handle),
        SystemClock.now_ms(),
        |read| {
            if let Some(b) = &bar {
                b.set_position(read);
            }
        },
    )
    .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for (line, why) in &report.skipped {
        eprintln!("{}:{line}: skipped: {why}", file.display());
    }
    for g in &report.created_groups {
        println!("created group {g:?}");
    }
    if report.changed_addresses > 0 {
        println!(
            "{} addresses changed (the same external_id, a new email)",
            report.changed_addresses
        );
    }
    println!(
        "{} rows: {} imported, {} skipped",
        report.rows,
        report.imported,
        report.skipped.len()
    );
    Ok(())
}
