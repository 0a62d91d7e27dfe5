//! Checks that need more than types: every problem is collected, each with its key path.

use super::{Config, ConfigError, ConfigProblem, RelayTls};
use crate::model::address::is_valid_domain;

pub(super) fn check(config: &Config) -> Result<(), ConfigError> {
    let mut problems = Vec::new();
    let mut bad = |key: &str, problem: String| problems.push(ConfigProblem::new(key, problem));

    if !is_valid_domain(&config.server.hostname) && config.server.hostname != "localhost" {
        bad(
            "server.hostname",
            format!("{:?} is not a host name", config.server.hostname),
        );
    }
    if config.server.domains.is_empty() {
        bad(
            "server.domains",
            "list at least one mail domain to accept mail for".into(),
        );
    }
    for d in &config.server.domains {
        if !is_valid_domain(d) {
            bad("server.domains", format!("{d:?} is not a domain name"));
        }
    }
    if config.smtp.listen.is_empty() && config.lmtp.listen.is_empty() {
        bad(
            "smtp.listen",
            "no SMTP or LMTP listener: nothing could receive mail".into(),
        );
    }
    if config.smtp.max_message_size < 1024 {
        bad(
            "smtp.max_message_size",
            "must be at least 1024 bytes".into(),
        );
    }
    for (key, n) in [
        ("smtp.max_recipients", config.smtp.max_recipients),
        ("smtp.max_sessions", config.smtp.max_sessions),
        ("delivery.workers", config.delivery.workers),
        (
            "delivery.max_recipients_per_transaction",
            config.delivery.max_recipients_per_transaction,
        ),
        (
            "delivery.direct_connections_per_domain",
            config.delivery.direct_connections_per_domain,
        ),
    ] {
        if n == 0 {
            bad(key, "must be at least 1".into());
        }
    }
    if config.delivery.max_recipients_per_transaction > 1000 {
        bad(
            "delivery.max_recipients_per_transaction",
            "must be at most 1000 (servers need take only 100 per transaction, RFC 5321; the \
             replies to pipelined RCPTs must fit in the socket buffers)"
                .into(),
        );
    }
    if config.smtp.tls_certificate.is_some() != config.smtp.tls_key.is_some() {
        bad(
            "smtp.tls_key",
            "set both smtp.tls_certificate and smtp.tls_key, or neither".into(),
        );
    }
    if config.database.max_connections == 0 {
        bad("database.max_connections", "must be at least 1".into());
    }
    let url = config.database.url.expose();
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        bad(
            "database.url",
            "must start with sqlite:// or postgres://".into(),
        );
    }
    if let Err(e) =
        crate::delivery::RelayTarget::parse(&config.delivery.relay, config.delivery.relay_tls)
    {
        bad("delivery.relay", e);
    }
    if config.delivery.relay_username.is_some() != config.delivery.relay_password.is_some() {
        bad(
            "delivery.relay_password",
            "set both delivery.relay_username and delivery.relay_password, or neither".into(),
        );
    }
    if config.delivery.relay_username.is_some() && config.delivery.relay_tls == RelayTls::None {
        bad(
            "delivery.relay_tls",
            "\"none\" would send the relay password in clear text; use starttls or tls".into(),
        );
    }
    if config.gdpr.expiry_interval.is_zero() {
        bad("gdpr.expiry_interval", "must be more than 0s".into());
    }
    if !(config.http.public_url.starts_with("http://")
        || config.http.public_url.starts_with("https://"))
    {
        bad(
            "http.public_url",
            "must be an http:// or https:// URL".into(),
        );
    }
    if config
        .http
        .api_token
        .as_ref()
        .is_some_and(|t| t.expose().len() < 24)
    {
        bad(
            "http.api_token",
            "use at least 24 characters (e.g. `openssl rand -hex 24`)".into(),
        );
    }
    let b = &config.bounces;
    for (key, v) in [
        ("bounces.score_threshold", b.score_threshold),
        ("bounces.hard_score", b.hard_score),
        ("bounces.soft_score", b.soft_score),
    ] {
        if !(v.is_finite() && v > 0.0) {
            bad(key, "must be a number above 0".into());
        }
    }
    if config.delivery.direct_port == 0 {
        bad("delivery.direct_port", "must be a port number (25)".into());
    }
    if config.delivery.retry_initial.is_zero() {
        bad("delivery.retry_initial", "must be longer than 0s".into());
    }
    if config.delivery.lease < config.delivery.command_timeout {
        bad(
            "delivery.lease",
            "must be at least delivery.command_timeout, or a slow batch could be sent twice".into(),
        );
    }
    for (i, k) in config.dkim.keys.iter().enumerate() {
        if !config
            .server
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&k.domain))
        {
            bad(
                &format!("dkim.keys[{i}].domain"),
                format!("{:?} is not in server.domains", k.domain),
            );
        }
        if k.selector.is_empty()
            || !k
                .selector
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            bad(
                &format!("dkim.keys[{i}].selector"),
                format!("{:?} is not a DNS label", k.selector),
            );
        }
        if let Err(e) = crate::signing::keys::load(&k.private_key) {
            bad(&format!("dkim.keys[{i}].private_key"), e);
        }
    }
    if let Err(e) = config.log.level.parse::<tracing_subscriber::EnvFilter>() {
        bad("log.level", e.to_string());
    }
    check_web(config, &mut bad);

    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError(problems))
    }
}

/// `[web]`: the sign-in and its sessions.
fn check_web(config: &Config, bad: &mut impl FnMut(&str, String)) {
    let w = &config.web;
    if w.site_name.trim().is_empty() {
        bad("web.site_name", "must not be empty".into());
    }
    if !w.mail_from.is_empty() && crate::model::address::EmailAddress::parse(&w.mail_from).is_err()
    {
        bad(
            "web.mail_from",
            format!("{:?} is not an e-mail address", w.mail_from),
        );
    }
    for (key, d) in [
        ("web.signin_link_lifetime", w.signin_link_lifetime),
        ("web.session_idle_timeout", w.session_idle_timeout),
        ("web.session_max_age", w.session_max_age),
    ] {
        if d.is_zero() {
            bad(key, "must be longer than 0s".into());
        }
    }
    if w.session_idle_timeout > w.session_max_age {
        bad(
            "web.session_idle_timeout",
            "must not be longer than web.session_max_age".into(),
        );
    }
    for (key, n) in [
        ("web.signin_limit_per_address", w.signin_limit_per_address),
        ("web.signin_limit_per_client", w.signin_limit_per_client),
    ] {
        if n == 0 {
            bad(key, "must be at least 1 (nobody could sign in)".into());
        }
    }
}
