//! `circlemail dkim generate` and `circlemail dkim check`.

use std::{io::Write, os::unix::fs::OpenOptionsExt, path::PathBuf};

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;

use crate::{config::Config, signing::keys};

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Make a new key (file mode 0600) and print the DNS TXT record to publish.
    Generate {
        #[arg(long)]
        domain: String,
        #[arg(long)]
        selector: String,
        #[arg(long, default_value = "rsa", value_parser = ["rsa", "ed25519"])]
        algorithm: String,
        /// Where to write the PEM key; default `DOMAIN.SELECTOR.pem` in the current folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Look up the published record of each key of DOMAIN and say whether it matches.
    Check {
        #[arg(long)]
        domain: String,
    },
}

pub(super) async fn run(config: &Config, command: DkimCommand) -> anyhow::Result<()> {
    match command {
        DkimCommand::Generate {
            domain,
            selector,
            algorithm,
            out,
        } => {
            let pem = keys::generate(&algorithm).map_err(|e| anyhow!(e))?;
            let path = out.unwrap_or_else(|| PathBuf::from(format!("{domain}.{selector}.pem")));
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| {
                    format!("cannot create {} (it must not exist yet)", path.display())
                })?;
            file.write_all(pem.as_bytes())?;
            let key = keys::parse(pem.as_bytes()).map_err(|e| anyhow!(e))?;
            println!("wrote {} ({algorithm}, mode 0600)", path.display());
            println!("publish this TXT record, then add the key to [[dkim.keys]]:");
            println!(
                "{selector}._domainkey.{domain}. IN TXT {}",
                keys::dns_record(key.kind, &key.public)
            );
        }
        DkimCommand::Check { domain } => {
            let auth = crate::dmarc::authenticator_with(
                &config.dns.nameservers,
                config.dns.timeout,
                config.dns.attempts,
            )
            .map_err(|e| anyhow!(e))?;
            let mine: Vec<_> = config
                .dkim
                .keys
                .iter()
                .filter(|k| k.domain.eq_ignore_ascii_case(&domain))
                .collect();
            if mine.is_empty() {
                bail!("no key for {domain} in [[dkim.keys]]");
            }
            let mut bad = 0;
            for k in mine {
                let key = keys::load(&k.private_key).map_err(|e| anyhow!(e))?;
                let name = format!("{}._domainkey.{domain}.", k.selector);
                let published = auth
                    .txt_raw_lookup(name.as_str())
                    .await
                    .map(|r| String::from_utf8_lossy(&r).into_owned());
                let found = published.as_deref().ok().and_then(|txt| {
                    txt.split(';').find_map(|t| {
                        t.trim()
                            .strip_prefix("p=")
                            .map(|p| p.replace([' ', '"'], ""))
                    })
                });
                match found {
                    Some(p) if p == key.public => println!(
                        "{name}: OK, the published key matches {}",
                        k.private_key.display()
                    ),
                    Some(_) => {
                        bad += 1;
                        println!(
                            "{name}: MISMATCH, the published p= is not the key in {}",
                            k.private_key.display()
                        );
                    }
                    None => {
                        bad += 1;
                        println!(
                            "{name}: NOT FOUND ({}); publish: {}",
                            published
                                .err()
                                .map(|e| e.to_string())
                                .unwrap_or_else(|| "no p= tag".into()),
                            keys::dns_record(key.kind, &key.public)
                        );
                    }
                }
            }
            if bad > 0 {
                bail!("{bad} key(s) not published correctly");
            }
        }
    }
    Ok(())
}
