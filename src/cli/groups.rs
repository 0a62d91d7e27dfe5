//! `circlemail group …`, `circlemail subgroup …`, `circlemail member …`.

use std::sync::Arc;

use anyhow::{anyhow, bail};
use clap::Subcommand;

use super::open;
use crate::{
    admin,
    clock::{Clock, SystemClock},
    config::Config,
    groups::Resolver,
    model::address::EmailAddress,
    store::{Store, groups::Group},
};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group, optionally with a list address at one of `server.domains`.
    Create {
        /// The group's name, e.g. "Board".
        name: String,
        /// The list address, e.g. board@lists.example.org.
        #[arg(long)]
        address: Option<String>,
    },
    /// List groups with address and direct member count.
    List {
        /// Only the standard groups the system keeps.
        #[arg(long)]
        standard: bool,
    },
    /// Show a group: address, state, rule, subgroups.
    Show { group: String },
    /// Rename a group.
    Rename { group: String, new_name: String },
    /// Set a group's list address, or remove it with --none.
    SetAddress {
        group: String,
        address: Option<String>,
        #[arg(long, conflicts_with = "address")]
        none: bool,
    },
    /// Delete a group (standard groups can only be deactivated).
    Delete { group: String },
    /// Activate a group.
    Activate { group: String },
    /// Deactivate a group: it has no members and its address takes no mail.
    Deactivate { group: String },
    /// Set a group's rule (JSON, see docs/groups.md), or clear it with --clear.
    Rule {
        group: String,
        /// e.g. '{"field": "status", "op": "equals", "value": "active"}'
        rule: Option<String>,
        /// Only say how many people the rule matches; save nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, conflicts_with_all = ["rule", "dry_run"])]
        clear: bool,
    },
    /// Show the list settings, or replace them with JSON (see docs/list-settings.md).
    Settings {
        group: String,
        /// e.g. '{"who_may_post": "managers", "subject_prefix": "[Board]"}'; fields left out
        /// take their defaults.
        json: Option<String>,
    },
    /// Who receives the group's mail now.
    Recipients {
        group: String,
        /// Show every path by which each recipient is in the group.
        #[arg(long)]
        explain: bool,
        /// Explain one person (member or not), e.g. why they get no mail.
        #[arg(long)]
        person: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SubgroupCommand {
    /// Make CHILD a subgroup of PARENT (its members become members of PARENT).
    Add {
        parent: String,
        child: String,
        /// CHILD's members also become managers of PARENT.
        #[arg(long)]
        as_manager: bool,
    },
    /// Remove CHILD from PARENT.
    Remove { parent: String, child: String },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a person (created if new) to a group, with a role and an optional term.
    Add {
        /// The group's name or address.
        group: String,
        email: String,
        /// The person's name, shown in lists.
        #[arg(long)]
        name: Option<String>,
        /// member or manager.
        #[arg(long, default_value = "member")]
        role: String,
        /// First day of the term (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Last day of the term (YYYY-MM-DD).
        #[arg(long)]
        until: Option<String>,
    },
    /// Remove a person from a group (every term).
    Remove { group: String, email: String },
    /// List a group's direct members with role and term.
    List { group: String },
    /// How a person gets lists: show their modes, set one list's mode (every, daily, weekly,
    /// none), or pause all their list mail until a day.
    Mode {
        email: String,
        /// The list's name or address (with MODE).
        group: Option<String>,
        /// every | daily | weekly | none.
        mode: Option<String>,
        /// Pause all list mail until this day (YYYY-MM-DD); mail comes again that day.
        #[arg(long)]
        pause_until: Option<String>,
        /// End a pause now.
        #[arg(long, conflicts_with = "pause_until")]
        resume: bool,
    },
    /// Copy the direct members of FROM_GROUP whose term is current today into GROUP with a new term.
    Copy {
        from_group: String,
        group: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        until: Option<String>,
    },
}

pub(super) async fn find(store: &Store, group: &str) -> anyhow::Result<Group> {
    store.find_group(group).await?.ok_or_else(|| {
        anyhow!("no group named or addressed {group:?}; see `circlemail group list`")
    })
}

pub(super) async fn person_id(store: &Store, email: &str) -> anyhow::Result<i64> {
    let address = EmailAddress::parse(email).map_err(|e| anyhow!("{e}"))?;
    Ok(store
        .find_person(&address)
        .await?
        .ok_or_else(|| anyhow!("no person with address {address}"))?
        .id)
}

fn resolver(store: &Store) -> Resolver {
    Resolver::new(store.clone(), Arc::new(SystemClock))
}

pub(super) async fn group(config: &Config, command: GroupCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    let now = SystemClock.now_ms();
    match command {
        GroupCommand::Create { name, address } => {
            let name = name.trim();
            if name.is_empty() {
                bail!("a group needs a name");
            }
            let address = address
                .map(|a| admin::list_address(&config.server.domains, &a))
                .transpose()?;
            let group = store.create_group(name, address.as_ref(), now).await?;
            match &group.address {
                Some(a) => println!("created group {:?} <{a}>", group.name),
                None => println!("created group {:?}", group.name),
            }
        }
        GroupCommand::List { standard } => {
            resolver(&store).directory().await?;
            let groups = store.list_groups().await?;
            for g in groups
                .iter()
                .filter(|g| !standard || g.group.standard_key.is_some())
            {
                let state = if g.group.active { "" } else { " (deactivated)" };
                println!(
                    "{:<36} {:<36} {} direct members{state}",
                    g.group.name,
                    g.group.address.as_deref().unwrap_or("-"),
                    g.members
                );
            }
        }
        GroupCommand::Show { group } => {
            let g = find(&store, &group).await?;
            println!(
                "{} (id {}){}",
                g.name,
                g.id,
                if g.active { "" } else { ", deactivated" }
            );
            println!("address: {}", g.address.as_deref().unwrap_or("-"));
            if g.standard_key.is_some() {
                println!("standard group, kept by the system");
            }
            if let Some(rule) = g
                .criteria
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .and_then(|v| admin::parse_rule(&v).ok())
            {
                println!("rule: {}", rule.describe());
            }
            for (_, name, as_manager) in store.subgroups_of(g.id).await? {
                println!(
                    "subgroup: {name}{}",
                    if as_manager { " (as managers)" } else { "" }
                );
            }
        }
        GroupCommand::Rename { group, new_name } => {
            let g = find(&store, &group).await?;
            store
                .update_group(g.id, Some(new_name.trim()), None)
                .await?;
            println!("renamed {:?} to {:?}", g.name, new_name.trim());
        }
        GroupCommand::SetAddress {
            group,
            address,
            none,
        } => {
            let g = find(&store, &group).await?;
            let address = match (address, none) {
                (Some(a), false) => Some(admin::list_address(&config.server.domains, &a)?),
                (None, true) => None,
                _ => bail!("give an address, or --none to remove it"),
            };
            store
                .update_group(g.id, None, Some(address.as_ref()))
                .await?;
            println!(
                "{:?} now has address {}",
                g.name,
                address.map(|a| a.key()).unwrap_or_else(|| "-".into())
            );
        }
        GroupCommand::Delete { group } => {
            let g = find(&store, &group).await?;
            store.delete_group(g.id).await?;
            println!("deleted {:?}", g.name);
        }
        GroupCommand::Activate { group } => {
            let g = find(&store, &group).await?;
            store.set_group_active(g.id, true).await?;
            println!("activated {:?}", g.name);
        }
        GroupCommand::Deactivate { group } => {
            let g = find(&store, &group).await?;
            store.set_group_active(g.id, false).await?;
            println!("deactivated {:?}", g.name);
        }
        GroupCommand::Rule {
            group,
            rule,
            dry_run,
            clear,
        } => {
            let g = find(&store, &group).await?;
            if clear {
                store.set_criteria(g.id, None).await?;
                println!("cleared the rule of {:?}", g.name);
                return Ok(());
            }
            let text = rule.ok_or_else(|| anyhow!("give a rule as JSON, or --clear"))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| anyhow!("the rule is not JSON: {e}"))?;
            let rule = admin::parse_rule(&value)?;
            let matches = resolver(&store).count_matching(&rule).await?;
            if !dry_run {
                if g.standard_key.is_some() {
                    bail!("a standard group's members come from the system's own rule");
                }
                store.set_criteria(g.id, Some(&rule.to_json())).await?;
            }
            println!(
                "{}: {} ({}){}",
                g.name,
                rule.describe(),
                match matches {
                    1 => "1 person matches now".to_string(),
                    n => format!("{n} people match now"),
                },
                if dry_run { ", not saved" } else { "" }
            );
        }
        GroupCommand::Settings { group, json } => {
            let g = find(&store, &group).await?;
            let settings = match json {
                None => {
                    crate::model::list_settings::ListSettings::from_stored(g.settings.as_deref())
                }
                Some(text) => {
                    let value: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|e| anyhow!("the settings are not JSON: {e}"))?;
                    let s = crate::model::list_settings::ListSettings::from_json(value)
                        .map_err(|e| anyhow!(e))?;
                    for pg in &s.post_groups {
                        if store.group(*pg).await?.is_none() {
                            bail!("settings.post_groups: no group with id {pg}");
                        }
                    }
                    store
                        .set_settings(g.id, &serde_json::to_string(&s)?)
                        .await?;
                    s
                }
            };
            println!("{}", serde_json::to_string_pretty(&settings)?);
        }
        GroupCommand::Recipients {
            group,
            explain,
            person,
        } => {
            let g = find(&store, &group).await?;
            let resolver = resolver(&store);
            if let Some(p) = person {
                let why = resolver.explain(g.id, person_id(&store, &p).await?).await?;
                println!(
                    "{p}: {}",
                    if why.receives {
                        "receives the mail"
                    } else {
                        "does not receive the mail"
                    }
                );
                for line in why
                    .paths
                    .iter()
                    .chain(&why.excluded_because)
                    .chain(why.inactive_terms.iter())
                {
                    println!("  {line}");
                }
                return Ok(());
            }
            let people = resolver.recipient_people(g.id).await?;
            for (id, email) in &people {
                println!("{email}");
                if explain {
                    for path in resolver.explain(g.id, *id).await?.paths {
                        println!("  {path}");
                    }
                }
            }
            match people.len() {
                1 => eprintln!("1 recipient"),
                n => eprintln!("{n} recipients"),
            }
        }
    }
    Ok(())
}

pub(super) async fn subgroup(config: &Config, command: SubgroupCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        SubgroupCommand::Add {
            parent,
            child,
            as_manager,
        } => {
            let (p, c) = (find(&store, &parent).await?, find(&store, &child).await?);
            store.add_subgroup(p.id, c.id, as_manager).await?;
            println!(
                "{:?} is now in {:?}{}",
                c.name,
                p.name,
                if as_manager { " as managers" } else { "" }
            );
        }
        SubgroupCommand::Remove { parent, child } => {
            let (p, c) = (find(&store, &parent).await?, find(&store, &child).await?);
            if !store.remove_subgroup(p.id, c.id).await? {
                bail!("{:?} is not a subgroup of {:?}", c.name, p.name);
            }
            println!("removed {:?} from {:?}", c.name, p.name);
        }
    }
    Ok(())
}

pub(super) async fn member(config: &Config, command: MemberCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    let now = SystemClock.now_ms();
    match command {
        MemberCommand::Add {
            group,
            email,
            name,
            role,
            from,
            until,
        } => {
            let group = find(&store, &group).await?;
            admin::check_role(&role)?;
            admin::check_term(from.as_deref(), until.as_deref())?;
            let email = EmailAddress::parse(&email).map_err(|e| anyhow!("{e}"))?;
            let person = store.upsert_person(&email, name.as_deref(), now).await?;
            if store
                .add_member_with_term(
                    group.id,
                    person.id,
                    &role,
                    from.as_deref(),
                    until.as_deref(),
                    now,
                )
                .await?
            {
                println!("added {} to {:?}", person.email, group.name);
            } else {
                println!("{} is already a member of {:?}", person.email, group.name);
            }
        }
        MemberCommand::Remove { group, email } => {
            let group = find(&store, &group).await?;
            let removed = match person_id(&store, &email).await {
                Ok(p) => store.remove_member(group.id, p).await?,
                Err(_) => false,
            };
            if !removed {
                bail!("{email} is not a direct member of {:?}", group.name);
            }
            println!("removed {email} from {:?}", group.name);
        }
        MemberCommand::List { group } => {
            let group = find(&store, &group).await?;
            for m in store.members(group.id).await? {
                let mut line = m.email.clone();
                if let Some(name) = &m.name {
                    line.push_str(&format!(" ({name})"));
                }
                if m.role != "member" {
                    line.push_str(&format!(" [{}]", m.role));
                }
                match (&m.valid_from, &m.valid_until) {
                    (None, None) => {}
                    (f, u) => line.push_str(&format!(
                        " {}..{}",
                        f.as_deref().unwrap_or(""),
                        u.as_deref().unwrap_or("")
                    )),
                }
                println!("{line}");
            }
        }
        MemberCommand::Mode {
            email,
            group,
            mode,
            pause_until,
            resume,
        } => {
            let person = person_id(&store, &email).await?;
            let group = match &group {
                Some(g) => Some(find(&store, g).await?),
                None => None,
            };
            super::delivery::mode(&store, person, group, mode, pause_until, resume, now).await?;
        }
        MemberCommand::Copy {
            from_group,
            group,
            from,
            until,
        } => {
            let (source, target) = (
                find(&store, &from_group).await?,
                find(&store, &group).await?,
            );
            admin::check_term(from.as_deref(), until.as_deref())?;
            // The terms current today: this year's board becomes next year's.
            let today = resolver(&store).today().format("%Y-%m-%d").to_string();
            let n = store
                .copy_members(
                    source.id,
                    target.id,
                    &today,
                    from.as_deref(),
                    until.as_deref(),
                    now,
                )
                .await?;
            println!(
                "copied {n} members from {:?} to {:?}",
                source.name, target.name
            );
        }
    }
    Ok(())
}
