//! Administration operations shared by the admin API and the command line (and later the web
//! UI): input types and the rules that make them valid, so every front end accepts and refuses
//! the same things with the same words.

pub mod access;
pub mod accounts;
pub mod gdpr;
pub mod import;
pub mod people;

use crate::{groups::criteria::Criteria, model::address::EmailAddress, store::StoreError};

/// Why an administrative operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    NotFound(String),
    /// The input is wrong (HTTP 422).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// The caller may see this but not do it (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// The database failed; the cause is logged where it happened.
    #[error("{0}")]
    Internal(String),
}

impl AdminError {
    pub fn invalid(m: impl Into<String>) -> Self {
        Self::Invalid(m.into())
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::NotFound(m.into())
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => AdminError::NotFound(m),
            StoreError::Conflict(m) => AdminError::Conflict(m),
            other => {
                tracing::error!(error = %other, "administration failed in the database");
                AdminError::Internal(format!("database error: {other}"))
            }
        }
    }
}

/// `YYYY-MM-DD`, or an error naming the field.
pub fn check_date(field: &str, value: Option<&str>) -> Result<(), AdminError> {
    match value {
        Some(v) if chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err() => Err(
            AdminError::invalid(format!("{field}: {v:?} is not a date; write YYYY-MM-DD")),
        ),
        _ => Ok(()),
    }
}

/// A membership term: both dates valid, the end not before the start.
pub fn check_term(from: Option<&str>, until: Option<&str>) -> Result<(), AdminError> {
    check_date("valid_from", from)?;
    check_date("valid_until", until)?;
    match (from, until) {
        (Some(f), Some(u)) if f > u => Err(AdminError::invalid(format!(
            "valid_until {u} is before valid_from {f}"
        ))),
        _ => Ok(()),
    }
}

/// A list address at one of `domains`.
pub fn list_address(domains: &[String], address: &str) -> Result<EmailAddress, AdminError> {
    let a =
        EmailAddress::parse(address).map_err(|e| AdminError::invalid(format!("address: {e}")))?;
    if !domains.iter().any(|d| d.eq_ignore_ascii_case(a.domain())) {
        return Err(AdminError::invalid(format!(
            "address: {} is not in server.domains ({}), so mail to it would be refused",
            a.domain(),
            domains.join(", ")
        )));
    }
    Ok(a)
}

/// A rule from JSON (see `groups::criteria`).
pub fn parse_rule(rule: &serde_json::Value) -> Result<Criteria, AdminError> {
    Criteria::parse(rule).map_err(AdminError::invalid)
}

/// `member` or `manager`.
pub fn check_role(role: &str) -> Result<(), AdminError> {
    if ["member", "manager"].contains(&role) {
        Ok(())
    } else {
        Err(AdminError::invalid(format!(
            "role: {role:?} is not member or manager"
        )))
    }
}

/// For PATCH fields that can be absent (keep), `null` (clear) or a value (set).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}
