//! People operations shared by the admin API and the command line: one set of rules for what
//! a valid person is, checked before anything is written.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::AdminError;
use crate::{
    model::address::EmailAddress,
    store::{
        Store,
        people::{Period, Vocabulary},
    },
};

const STATUSES: &[&str] = &["active", "resigned"];
const PROFILES: &[&str] = &["person", "organisation", "public_body"];

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    pub email: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    pub name: Option<Option<String>>,
    pub status: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    pub membership_type: Option<Option<String>>,
    pub profile_type: Option<String>,
    pub teams: Option<Vec<String>>,
    pub services: Option<Vec<String>>,
    pub fields: Option<BTreeMap<String, Vec<String>>>,
    /// Periods to add to the history (existing ones are kept).
    pub add_periods: Option<Vec<Period>>,
    /// Also receive the list's copy of posts that address them directly (reply-all).
    pub receive_duplicates: Option<bool>,
}

pub fn parse_email(e: &str) -> Result<EmailAddress, AdminError> {
    EmailAddress::parse(e).map_err(|e| AdminError::invalid(format!("email: {e}")))
}

pub fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), AdminError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(AdminError::invalid(format!(
            "{field}: {value:?} is not one of {}",
            allowed.join(", ")
        )))
    }
}

/// Checks everything before anything is written, so a bad field changes nothing.
pub async fn validate(store: &Store, input: &PersonInput) -> Result<(), AdminError> {
    if let Some(s) = &input.status {
        one_of("status", s, STATUSES)?;
    }
    if let Some(p) = &input.profile_type {
        one_of("profile_type", p, PROFILES)?;
    }
    for p in input.add_periods.iter().flatten() {
        super::check_date("add_periods.joined", Some(&p.joined))?;
        super::check_date("add_periods.left", p.left.as_deref())?;
    }
    if let Some(fields) = &input.fields {
        let defined = store.custom_fields().await?;
        for (name, values) in fields {
            let Some((_, kind, options)) = defined.iter().find(|(n, _, _)| n == name) else {
                return Err(AdminError::invalid(format!(
                    "fields: no custom field named {name:?}; create it with POST /api/v1/fields"
                )));
            };
            let allowed: Vec<&str> = match kind.as_str() {
                "checkbox" => vec!["true", "false"],
                _ => options.iter().map(String::as_str).collect(),
            };
            if kind != "multiple" && values.len() > 1 {
                return Err(AdminError::invalid(format!(
                    "fields.{name}: a {kind} field holds one value"
                )));
            }
            for v in values {
                one_of(&format!("fields.{name}"), v, &allowed)?;
            }
        }
    }
    Ok(())
}

/// Whether `changer` may change the address of person `id`. An address is what signs its
/// person in, so the address of someone with an administrator account is changed only by an
/// owner of the whole organisation (otherwise an administrator could give an owner's account an
/// address of their own, sign in with it and hand themselves every right).
pub async fn check_address_change(
    store: &Store,
    id: i64,
    changer: &super::access::Access,
) -> Result<(), AdminError> {
    if store.account_of_person(id).await?.is_some()
        && changer
            .org_role()
            .is_none_or(|r| r < super::access::Role::Owner)
    {
        return Err(AdminError::Forbidden(
            "this person has an administrator account, whose sign-in is this address: only an \
             owner of the whole organisation changes it"
                .into(),
        ));
    }
    Ok(())
}

/// Applies a validated change. A new address ends the person's web sessions.
pub async fn apply(
    store: &Store,
    id: i64,
    input: &PersonInput,
    now: i64,
) -> Result<(), AdminError> {
    let email = input.email.as_deref().map(parse_email).transpose()?;
    store
        .update_person(
            id,
            email.as_ref(),
            input.name.as_ref().map(|n| n.as_deref()),
            now,
        )
        .await?;
    if input.status.is_some() || input.membership_type.is_some() || input.profile_type.is_some() {
        let current = store
            .person_detail(id)
            .await?
            .ok_or_else(|| AdminError::not_found(format!("no person {id}")))?;
        let status = input.status.clone().unwrap_or(current.status);
        let kind = match &input.membership_type {
            Some(k) => k.clone(),
            None => current.membership_type,
        };
        let profile = input.profile_type.clone().unwrap_or(current.profile_type);
        store
            .set_person_profile(id, &status, kind.as_deref(), &profile)
            .await?;
    }
    for (list, vocabulary) in [
        (&input.teams, Vocabulary::Team),
        (&input.services, Vocabulary::Service),
    ] {
        if let Some(names) = list {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            store.set_person_vocabulary(id, vocabulary, &names).await?;
        }
    }
    for (name, values) in input.fields.iter().flatten() {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        store.set_custom_field(id, name, &values).await?;
    }
    if let Some(on) = input.receive_duplicates {
        store.set_receive_duplicates(id, on).await?;
    }
    for p in input.add_periods.iter().flatten() {
        store
            .add_membership_period(id, &p.joined, p.left.as_deref())
            .await?;
    }
    Ok(())
}
