//! The command line: `serve`, `migrate`, `check-config`, and group/member administration.
//! Each subcommand is thin: parse, call the library, print.

mod admin;
mod archive;
mod delivery;
mod dkim;
mod groups;
mod moderation;
mod people;
mod queue;
mod serve;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};

#[derive(Debug, Parser)]
#[command(
    name = "circlemail",
    version,
    about = "Mailing lists for associations: every group has an address"
)]
pub struct Cli {
    /// The configuration file. Every key can also be set as CIRCLEMAIL_<SECTION>_<KEY>.
    #[arg(
        long,
        short,
        global = true,
        default_value = "config/circlemail.toml",
        env = "CIRCLEMAIL_CONFIG"
    )]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Replace the link key: new links use a new key; links already sent keep working for
    /// http.link_key_grace. Restart every instance afterwards.
    Rotate,
}

async fn rotate_link_key(config: &crate::config::Config) -> anyhow::Result<()> {
    let store = open(config).await?;
    let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
    store.secret("links", now).await?;
    store.rotate_secret("links", now).await?;
    println!(
        "rotated the link key; links signed with the old key keep working for {}. Restart every instance to use the new key.",
        humantime::format_duration(config.http.link_key_grace)
    );
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: SMTP/LMTP ingress, delivery, HTTP. Applies pending migrations first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check the configuration and exit: 0 when valid, 2 with one line per problem otherwise.
    CheckConfig,
    /// Create, change and inspect groups; rules; recipients with explain.
    #[command(subcommand)]
    Group(groups::GroupCommand),
    /// Put groups in groups.
    #[command(subcommand)]
    Subgroup(groups::SubgroupCommand),
    /// Add, remove, list and copy a group's direct members.
    #[command(subcommand)]
    Member(groups::MemberCommand),
    /// Add, change, show, search and delete people.
    #[command(subcommand)]
    Person(people::PersonCommand),
    /// Stop or resume a person's list mail.
    #[command(subcommand)]
    OptOut(people::OptOutCommand),
    /// Make DKIM keys and check their DNS records.
    #[command(subcommand)]
    Dkim(dkim::DkimCommand),
    /// The key that signs links in mail (unsubscribe, moderation).
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Admin accounts: `admin bootstrap EMAIL` creates the first owner.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// List held posts and decide on them.
    #[command(subcommand)]
    Moderation(moderation::ModerationCommand),
    /// The delivery queue: posts in flight, deferred recipients; retry now or cancel.
    Queue {
        #[command(subcommand)]
        command: Option<queue::QueueCommand>,
    },
    /// Bounce scores of a group, and re-enabling a person disabled for bouncing.
    #[command(subcommand)]
    Bounces(queue::BounceCommand),
    /// A list's archive: import an mbox.
    #[command(subcommand)]
    Archive(archive::ArchiveCommand),
    /// Import people, attributes and group memberships from a CSV file (see docs/groups.md).
    Import {
        /// The CSV file; its first row names the columns.
        file: PathBuf,
    },
}

/// Why a command failed, and with which exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Exit status 2: systemd's `RestartPreventExitStatus=2` does not restart a broken config.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Exit status 1.
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Config(_) => ExitCode::from(2),
            CliError::Failed(_) => ExitCode::from(1),
        }
    }
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    let config = Config::load(&cli.config)?;
    let level = match cli.command {
        Command::Serve => config.log.level.as_str(),
        _ => "warn",
    };
    crate::telemetry::init(level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    // Administrative commands go to the audit log (who ran what, when) once they succeed.
    let audited = !matches!(
        cli.command,
        Command::Serve | Command::Migrate | Command::CheckConfig | Command::Admin(_)
    );
    let audit_config = audited.then(|| config.clone());
    runtime.block_on(async move {
        let result = match cli.command {
            Command::Serve => serve::serve(config).await,
            Command::Migrate => serve::migrate(&config).await,
            Command::CheckConfig => {
                println!("{}: the configuration is valid", cli.config.display());
                Ok(())
            }
            Command::Group(cmd) => groups::group(&config, cmd).await,
            Command::Subgroup(cmd) => groups::subgroup(&config, cmd).await,
            Command::Member(cmd) => groups::member(&config, cmd).await,
            Command::Person(cmd) => people::person(&config, cmd).await,
            Command::OptOut(cmd) => people::opt_out(&config, cmd).await,
            Command::Import { file } => people::import(&config, &file).await,
            Command::Archive(cmd) => archive::run(&config, cmd).await,
            Command::Moderation(cmd) => moderation::run(&config, cmd).await,
            Command::Dkim(cmd) => dkim::run(&config, cmd).await,
            Command::Secret(SecretCommand::Rotate) => rotate_link_key(&config).await,
            Command::Admin(cmd) => admin::run(&config, cmd).await,
            Command::Queue { command } => queue::queue(&config, command).await,
            Command::Bounces(cmd) => queue::bounces(&config, cmd).await,
        };
        if let (Ok(()), Some(config)) = (&result, audit_config) {
            audit_command(&config).await?;
        }
        result.map_err(CliError::Failed)
    })
}

/// Records a command-line run in the audit log: the operator (from the environment) and the
/// arguments. A command that cannot be recorded fails, so nothing happens unrecorded twice.
async fn audit_command(config: &Config) -> Result<(), CliError> {
    use crate::clock::Clock as _;
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .unwrap_or_else(|| "unknown".into());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store = open(config).await?;
    store
        .append_audit(&crate::store::accounts::AuditEntry {
            at: crate::clock::SystemClock.now_ms(),
            actor: format!("command line ({user})"),
            action: format!("cli: {}", args.join(" ")),
            ..Default::default()
        })
        .await
        .map_err(|e| CliError::Failed(e.into()))?;
    Ok(())
}

/// Opens the database for an administrative command (migrating it if needed).
async fn open(config: &Config) -> anyhow::Result<crate::store::Store> {
    use anyhow::Context as _;
    let store = crate::store::Store::connect(config.database.url.expose(), 2)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    Ok(store)
}
