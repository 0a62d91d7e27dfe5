//! Configuration: one TOML file (`config/circlemail.toml` documents every key), overridable key by key
//! from the environment (see [`env`]), checked as a whole before anything starts (see [`validate`]).
//!
//! Loading never panics: every problem comes back as a [`ConfigError`] naming the key path, so
//! `circlemail` can print one line per problem and exit with status 2.

mod env;
mod secret;
mod validate;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

pub use secret::Secret;

/// The whole configuration, as typed values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub smtp: SmtpConfig,
    pub lmtp: LmtpConfig,
    pub socketmap: SocketmapConfig,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub delivery: DeliveryConfig,
    pub dns: DnsConfig,
    pub bounces: BounceConfig,
    pub dkim: DkimConfig,
    pub log: LogConfig,
    pub accounts: AccountsConfig,
    pub gdpr: GdprConfig,
    pub web: WebConfig,
}

/// The web pages: sign-in by mail link and its sessions (shared by the administrators'
/// interface, the archives and the members' own page).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// The name the pages and the sign-in mail carry ("Sports club lists").
    pub site_name: String,
    /// From (and envelope sender) of sign-in links; its domain signs them when it has a DKIM
    /// key. Empty: `no-reply@` the first of `server.domains`.
    pub mail_from: String,
    /// How long a mailed sign-in link works (it works once).
    #[serde(with = "humantime_serde")]
    pub signin_link_lifetime: Duration,
    /// A session ends after this long without a request.
    #[serde(with = "humantime_serde")]
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not.
    #[serde(with = "humantime_serde")]
    pub session_max_age: Duration,
    /// Sign-in links mailed to one address per hour, at most.
    pub signin_limit_per_address: u32,
    /// Sign-in requests from one client address per hour, at most.
    pub signin_limit_per_client: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            site_name: "circlemail".into(),
            mail_from: String::new(),
            signin_link_lifetime: Duration::from_secs(15 * 60),
            session_idle_timeout: Duration::from_secs(12 * 3600),
            session_max_age: Duration::from_secs(7 * 86_400),
            signin_limit_per_address: 5,
            signin_limit_per_client: 30,
        }
    }
}

impl WebConfig {
    /// `mail_from`, or `no-reply@` the first mail domain.
    pub fn sender(&self, domains: &[String]) -> String {
        if self.mail_from.is_empty() {
            format!(
                "no-reply@{}",
                domains.first().map(String::as_str).unwrap_or("localhost")
            )
        } else {
            self.mail_from.clone()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// Most people who may hold member-data administration rights (administrator or owner,
    /// in any scope) at once; 0: no cap.
    pub max_member_data_admins: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GdprConfig {
    /// How often the server removes facts kept by a retention rule whose time is over.
    #[serde(with = "humantime_serde")]
    pub expiry_interval: Duration,
}

impl Default for GdprConfig {
    fn default() -> Self {
        Self {
            expiry_interval: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DkimConfig {
    /// Signing keys; a domain with two keys (RSA and Ed25519) is dual-signed.
    pub keys: Vec<DkimKeyConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimKeyConfig {
    /// The list domain whose copies this key signs (d=).
    pub domain: String,
    /// s=: the key is published at SELECTOR._domainkey.DOMAIN.
    pub selector: String,
    /// PEM private key (RSA or Ed25519), e.g. made by `circlemail dkim generate`.
    pub private_key: PathBuf,
    /// Seal copies of this domain with ARC (RFC 8617) using this key; RSA keys only.
    #[serde(default = "yes")]
    pub arc: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Name servers (`ip:port`) for DMARC and MX lookups; empty: the system's (/etc/resolv.conf).
    pub nameservers: Vec<SocketAddr>,
    /// How long one attempt of a query may take (a UDP query is sent again every third of a
    /// second within it); also with the system's name servers.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per query before it fails (`temperror` for the checks).
    pub attempts: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(1),
            attempts: 3,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Our host name: the SMTP greeting, `Received:` lines and the EHLO we send.
    pub hostname: String,
    /// Mail domains whose addresses we accept mail for. Any other domain is relaying: refused.
    pub domains: Vec<String>,
    /// How long a SIGTERM waits for SMTP transactions and delivery batches in flight.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub listen: Vec<SocketAddr>,
    /// Largest message accepted, in bytes (advertised as SIZE).
    pub max_message_size: u64,
    /// Most recipients accepted in one inbound transaction.
    pub max_recipients: usize,
    /// Most SMTP and LMTP sessions at once; the next client gets `421` and may retry.
    pub max_sessions: usize,
    /// Each command line must arrive whole within this of our previous reply (the clock is not
    /// restarted by single bytes); past it: `421 4.4.2`.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// The whole message data of a transaction (DATA, or all its BDAT chunks) must arrive
    /// within this; past it: `421 4.4.2`.
    #[serde(with = "humantime_serde")]
    pub data_timeout: Duration,
    /// The longest one session may last, STARTTLS included; past it: `421 4.4.2`.
    #[serde(with = "humantime_serde")]
    pub session_timeout: Duration,
    /// PEM certificate chain for STARTTLS. STARTTLS is offered only when this and `tls_key` are set.
    pub tls_certificate: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Check DKIM, SPF, DMARC and ARC of every post and record the results in an
    /// `Authentication-Results` field (forged ones claiming our host name are removed).
    pub authentication_checks: bool,
    /// The longest the checks of one post may take (DNS); past it the results are `temperror`.
    #[serde(with = "humantime_serde")]
    pub authentication_timeout: Duration,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LmtpConfig {
    /// LMTP listeners (RFC 2033), for running behind Postfix or another MTA. Empty: no LMTP.
    pub listen: Vec<SocketAddr>,
}

/// Postfix's socketmap lookups (docs/postfix.md): `relay_domains`, `relay_recipient_maps` and
/// `transport_maps` ask circlemail, so unknown list addresses are refused at RCPT.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocketmapConfig {
    /// Listeners for Postfix's `socketmap:inet:HOST:PORT:MAP` tables. Empty: off.
    pub listen: Vec<SocketAddr>,
    /// What the `transport` map answers. Unset: `lmtp:inet:HOST:PORT` of the first LMTP listener.
    pub transport: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// The address people reach us at; links in mail are built from it.
    pub public_url: String,
    /// Bearer token for the admin API (`Authorization: Bearer …`). Unset: the API is closed.
    pub api_token: Option<Secret>,
    /// After `circlemail secret rotate`, links signed with the old key (unsubscribe links in
    /// mail already sent, moderation links) keep working this long.
    #[serde(with = "humantime_serde")]
    pub link_key_grace: Duration,
    /// Reverse proxies in front of us: from these peers the client's address is taken from the
    /// last `X-Forwarded-For` entry (for the sign-in rate limit and the session list).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The largest mbox file taken by an upload into a list's archive (bytes); larger ones are
    /// imported on the server with `circlemail archive import`.
    pub max_mbox_upload: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (created on first start) or `postgres://user@host/db`.
    pub url: Secret,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayTls {
    /// Plain SMTP, never STARTTLS (a relay on loopback).
    None,
    /// STARTTLS when the relay offers it, certificate checked; plain otherwise.
    Opportunistic,
    /// STARTTLS required, certificate checked.
    Starttls,
    /// Implicit TLS from the first byte (SMTPS, port 465).
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// `relay` (every copy through `relay`) or `direct` (MX lookup per recipient domain).
    pub transport: TransportKind,
    /// When envelope senders carry VERP.
    pub verp: VerpMode,
    /// The smarthost every copy goes through: `smtp://host:port`.
    pub relay: String,
    pub relay_tls: RelayTls,
    /// Accept a relay certificate that does not verify (a self-signed relay on your own network).
    pub relay_allow_invalid_certs: bool,
    pub relay_username: Option<String>,
    pub relay_password: Option<Secret>,
    /// Outbound SMTP connections open at once.
    pub workers: usize,
    /// Most RCPT TO in one outbound transaction.
    pub max_recipients_per_transaction: usize,
    /// Relay: transactions one connection carries, across batches, before it is closed and a
    /// new one opened (0: a new connection for every batch).
    pub relay_transactions_per_connection: usize,
    /// Send messages with BDAT (RFC 3030 CHUNKING) when the server offers it with PIPELINING:
    /// several copies per round trip, no dot-stuffing.
    pub chunking: bool,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest wait for any one reply from the relay (and for the whole DATA phase).
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
    /// First retry after a temporary failure; doubles each time up to `retry_max_interval`.
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max_interval: Duration,
    /// A recipient still failing temporarily this long after the post arrived fails for good.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// How long a claimed batch stays reserved for the instance that claimed it.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How often the queue looks for due work when nothing wakes it.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Direct delivery: the port MX hosts are reached on (25; another only for tests).
    pub direct_port: u16,
    /// Direct delivery: connections open at once to one recipient domain.
    pub direct_connections_per_domain: usize,
}

/// How copies leave: through one smarthost, or straight to each domain's MX hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Relay,
    Direct,
}

/// When the envelope sender of a copy names its recipient (VERP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerpMode {
    /// Copies made for one recipient (`to_mode = "recipient"`) only: they are one transaction
    /// per recipient anyway. Batched copies keep the plain bounce address.
    Personal,
    /// Every copy: one transaction per recipient, slower for big lists.
    Always,
    /// Never: bounces are attributed by reading the report alone.
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BounceConfig {
    /// A score reaching this disables delivery of the list to the person (Mailman: 5).
    pub score_threshold: f64,
    /// Points for a permanent failure (5.x.x) and for a temporary one reported as failed (4.x.x).
    pub hard_score: f64,
    pub soft_score: f64,
    /// A score with no bounce for this long starts again from zero (Mailman: 7 days).
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

impl Default for BounceConfig {
    fn default() -> Self {
        Self {
            score_threshold: 5.0,
            hard_score: 1.0,
            soft_score: 0.5,
            stale_after: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter: `info`, `debug`, `circlemail=debug,sqlx=warn`, …
    pub level: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            domains: vec!["lists.localhost".into()],
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 2525))],
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            max_sessions: 200,
            idle_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
            session_timeout: Duration::from_secs(3600),
            tls_certificate: None,
            tls_key: None,
            authentication_checks: true,
            authentication_timeout: Duration::from_secs(10),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://localhost:8080".into(),
            api_token: None,
            link_key_grace: Duration::from_secs(180 * 86_400),
            trusted_proxies: Vec::new(),
            max_mbox_upload: 1024 * 1024 * 1024,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::new("sqlite://data/circlemail.db"),
            max_connections: 8,
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            transport: TransportKind::Relay,
            verp: VerpMode::Personal,
            relay: "smtp://127.0.0.1:25".into(),
            relay_tls: RelayTls::Opportunistic,
            relay_allow_invalid_certs: false,
            relay_username: None,
            relay_password: None,
            workers: 4,
            max_recipients_per_transaction: 100,
            relay_transactions_per_connection: 1000,
            chunking: true,
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(300),
            retry_initial: Duration::from_secs(60),
            retry_max_interval: Duration::from_secs(3600),
            max_age: Duration::from_secs(5 * 24 * 3600),
            lease: Duration::from_secs(600),
            poll_interval: Duration::from_secs(5),
            direct_port: 25,
            direct_connections_per_domain: 2,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

/// One thing wrong with the configuration: the key path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigProblem {
    pub key: String,
    pub problem: String,
}

impl ConfigProblem {
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Everything wrong with a configuration, collected rather than stopping at the first problem.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|p| format!("config: {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<ConfigProblem>);

impl ConfigError {
    fn one(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self(vec![ConfigProblem::new(key, problem)])
    }
}

impl Config {
    /// Reads `path`, applies `CIRCLEMAIL_*` environment overrides, and checks the result.
    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::one(
                path.display().to_string(),
                format!("cannot read the config file ({e}); pass --config PATH"),
            )
        })?;
        Self::from_toml_with_env(&text, std::env::vars())
    }

    /// Parses TOML text, applies overrides from `vars` (normally the process environment), checks.
    pub fn from_toml_with_env(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| {
            let place = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].lines().count().max(1);
                    format!("line {line}")
                })
                .unwrap_or_else(|| "file".into());
            ConfigError::one(place, e.message().to_string())
        })?;
        env::apply_overrides(&mut table, vars)?;
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::one(e.path().to_string(), e.inner().message().trim()))?;
        validate::check(&config)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_toml_with_env(
            text,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn the_shipped_config_file_is_valid() {
        let text = include_str!("../../config/circlemail.toml");
        let config = load(text, &[]).expect("config/circlemail.toml must load");
        assert_eq!(config.smtp.listen[0].port(), 2525);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = load("[smtp]\nmax_mesage_size = 5\n", &[]).unwrap_err();
        assert!(err.to_string().contains("smtp.max_mesage_size"), "{err}");
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let err = load("[delivery]\nworkers = \"many\"\n", &[]).unwrap_err();
        assert!(
            err.to_string().starts_with("config: delivery.workers:"),
            "{err}"
        );
    }

    #[test]
    fn environment_overrides_a_key_of_any_type() {
        let config = load(
            "[delivery]\nworkers = 2\n",
            &[
                ("CIRCLEMAIL_DATABASE_URL", "postgres://x@localhost/db"),
                ("CIRCLEMAIL_DELIVERY_WORKERS", "7"),
                ("CIRCLEMAIL_SERVER_DOMAINS", "a.example, b.example"),
                ("CIRCLEMAIL_DELIVERY_RETRY_INITIAL", "10s"),
                ("CIRCLEMAIL_TEST_POSTGRES", "ignored: not a config section"),
            ],
        )
        .unwrap();
        assert_eq!(config.database.url.expose(), "postgres://x@localhost/db");
        assert_eq!(config.delivery.workers, 7);
        assert_eq!(config.server.domains, vec!["a.example", "b.example"]);
        assert_eq!(config.delivery.retry_initial, Duration::from_secs(10));
    }

    #[test]
    fn accounts_and_gdpr_keys_load_and_are_checked() {
        let config = load(
            "[gdpr]\nexpiry_interval = \"10m\"\n",
            &[("CIRCLEMAIL_ACCOUNTS_MAX_MEMBER_DATA_ADMINS", "3")],
        )
        .unwrap();
        assert_eq!(config.accounts.max_member_data_admins, 3);
        assert_eq!(config.gdpr.expiry_interval, Duration::from_secs(600));
        let err = load("[gdpr]\nexpiry_interval = \"0s\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("gdpr.expiry_interval"), "{err}");
    }

    #[test]
    fn recipients_per_transaction_stay_within_what_servers_take() {
        let err = load("[delivery]\nmax_recipients_per_transaction = 5000\n", &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("delivery.max_recipients_per_transaction"),
            "{err}"
        );
        assert!(load("[delivery]\nmax_recipients_per_transaction = 1000\n", &[]).is_ok());
    }

    #[test]
    fn an_environment_variable_naming_no_section_is_an_error_naming_it() {
        let err = load("", &[("CIRCLEMAIL_DELIVRY_WORKERS", "3")]).unwrap_err();
        assert!(
            err.to_string().contains("CIRCLEMAIL_DELIVRY_WORKERS"),
            "{err}"
        );
        assert!(
            err.to_string().contains("DELIVERY"),
            "the sections are listed: {err}"
        );
        assert!(load("", &[("CIRCLEMAIL_NOTHING", "x")]).is_err());
        // Not configuration: the config file's path and the test suite's variables.
        assert!(
            load(
                "",
                &[
                    ("CIRCLEMAIL_CONFIG", "/etc/circlemail.toml"),
                    ("CIRCLEMAIL_TEST_POSTGRES", "postgres://x@y/z"),
                ]
            )
            .is_ok()
        );
    }

    #[test]
    fn a_bad_environment_value_names_the_variable_key() {
        let err = load("", &[("CIRCLEMAIL_SMTP_MAX_SESSIONS", "lots")]).unwrap_err();
        assert!(err.to_string().contains("smtp.max_sessions"), "{err}");
    }
}
