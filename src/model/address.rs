//! E-mail addresses, parsed once at the edge (SMTP, CLI, API) and trusted afterwards.

use std::fmt;

/// `local@domain` with the domain lower-cased. The local part keeps its case when shown, but
/// comparisons use [`EmailAddress::key`] (fully lower-cased): no real mailbox provider
/// distinguishes `Anna@` from `anna@`, and treating them as two people would send two copies.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    local: String,
    domain: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("{0:?} has no @domain part")]
    NoDomain(String),
    #[error("{0:?} has an empty local part")]
    EmptyLocal(String),
    #[error("{0:?} has more than one @ (quote a local part that holds one: \"a@b\"@example.org)")]
    SeveralAts(String),
    #[error("{0:?} is longer than 254 characters")]
    TooLong(String),
    #[error("{0:?} contains a space, a control character, or one of <>()[],;:\\\"")]
    BadCharacter(String),
    #[error("{0:?} does not end in a valid domain name")]
    BadDomain(String),
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let s = input.trim();
        if s.len() > 254 {
            return Err(AddressError::TooLong(s.into()));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(AddressError::NoDomain(s.into()));
        };
        if local.is_empty() {
            return Err(AddressError::EmptyLocal(s.into()));
        }
        let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
        if !quoted && local.contains('@') {
            return Err(AddressError::SeveralAts(s.into()));
        }
        let bad = match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
            // A quoted local part (RFC 5321 4.1.2): `"anna smith"@example.org`.
            Some(inner) if local.len() >= 2 => !valid_quoted(inner),
            _ => local
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || "<>()[],;:\\\"@".contains(c)),
        };
        if bad {
            return Err(AddressError::BadCharacter(s.into()));
        }
        if !is_valid_domain(domain) {
            return Err(AddressError::BadDomain(s.into()));
        }
        Ok(Self {
            local: local.to_string(),
            domain: domain.to_ascii_lowercase(),
        })
    }

    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The form used for lookups and de-duplication.
    pub fn key(&self) -> String {
        format!("{}@{}", self.local.to_lowercase(), self.domain)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{self}>")
    }
}

/// The inside of a Quoted-string: printable characters and spaces; `"` and `\\` only escaped.
fn valid_quoted(inner: &str) -> bool {
    let mut escaped = false;
    for c in inner.chars() {
        if c.is_control() {
            return false;
        }
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return false;
        }
    }
    !escaped
}

/// A DNS name of at least two labels (or an internationalised one in UTF-8), no empty labels.
pub fn is_valid_domain(d: &str) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_is_lower_cased_and_key_folds_the_local_part() {
        let a = EmailAddress::parse(" Anna.Berg@Example.ORG ").unwrap();
        assert_eq!(a.to_string(), "Anna.Berg@example.org");
        assert_eq!(a.key(), "anna.berg@example.org");
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        for bad in [
            "anna",
            "@example.org",
            "a b@example.org",
            "a@example",
            "a@-x.org",
            "a<b@x.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn two_ats_are_named_as_the_problem() {
        let e = EmailAddress::parse("anna@@example.org").unwrap_err();
        assert_eq!(e, AddressError::SeveralAts("anna@@example.org".into()));
        assert!(e.to_string().contains("more than one @"), "{e}");
    }

    #[test]
    fn quoted_local_parts_are_accepted_as_written() {
        let a = EmailAddress::parse("\"anna smith\"@example.org").unwrap();
        assert_eq!(a.to_string(), "\"anna smith\"@example.org");
        assert!(EmailAddress::parse("\"a\\\"b\"@example.org").is_ok());
        for bad in [
            "\"a\"b\"@example.org",
            "\"a\\\"@example.org",
            "\"a\rb\"@example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn international_domains_are_accepted() {
        assert!(EmailAddress::parse("björn@föreningen.se").is_ok());
    }
}
