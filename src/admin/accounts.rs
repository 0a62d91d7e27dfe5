//! Account operations shared by the API and the command line: bootstrap, grants with the cap
//! and last-owner checks, deactivation.

use super::{
    AdminError,
    access::{self, Access, Role, hash_token, new_token},
};
use crate::{
    groups::{Resolver, access as dir_access},
    model::address::EmailAddress,
    store::{
        Store,
        accounts::{Account, AuditEntry, Grant},
    },
};

/// Creates the first owner: a person (created if new), their account, an owner grant for the
/// whole organisation and a token, returned once. Refused once an active owner exists.
pub async fn bootstrap(
    store: &Store,
    resolver: &Resolver,
    email: &str,
    now: i64,
) -> Result<(Account, String), AdminError> {
    let email =
        EmailAddress::parse(email).map_err(|e| AdminError::invalid(format!("email: {e}")))?;
    if !access::owners(store, resolver).await?.is_empty() {
        return Err(AdminError::Conflict(
            "there is an owner already: they can create accounts and grants (POST /api/v1/accounts, /api/v1/grants)"
                .into(),
        ));
    }
    let person = store.upsert_person(&email, None, now).await?;
    let account = match store.account_of_person(person.id).await? {
        Some(a) => {
            store.set_account_active(a.id, true, now).await?;
            a
        }
        None => store.create_account(person.id, now).await?,
    };
    let grant = store
        .add_grant(Role::Owner.as_str(), Some(account.id), None, None, now)
        .await?;
    let token = new_token();
    store
        .add_token(account.id, "bootstrap", &hash_token(&token), now)
        .await?;
    store
        .append_audit(&AuditEntry {
            at: now,
            actor: "command line (admin bootstrap)".into(),
            action: "bootstrap".into(),
            object: Some(format!("accounts/{}", account.id)),
            person_id: Some(person.id),
            after: Some(serde_json::json!({ "account": account, "grant": grant })),
            ..Default::default()
        })
        .await?;
    Ok((account, token))
}

/// What a new grant asks for.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    pub role: String,
    pub account_id: Option<i64>,
    pub group_id: Option<i64>,
    pub scope_group_id: Option<i64>,
}

/// Creates a grant after checking its parts exist and the cap on member-data administrators.
pub async fn create_grant(
    store: &Store,
    resolver: &Resolver,
    cap: usize,
    input: &GrantInput,
    now: i64,
) -> Result<Grant, AdminError> {
    let role = Role::parse(&input.role)?;
    let missing_group = |id: i64| AdminError::not_found(format!("no group with id {id}"));
    match (input.account_id, input.group_id) {
        (Some(a), None) => {
            store
                .account(a)
                .await?
                .ok_or_else(|| AdminError::not_found(format!("no account with id {a}")))?;
        }
        (None, Some(g)) => {
            store.group(g).await?.ok_or_else(|| missing_group(g))?;
        }
        _ => {
            return Err(AdminError::invalid(
                "give exactly one of account_id (a person's account) and group_id (every member of a group)",
            ));
        }
    }
    if let Some(s) = input.scope_group_id {
        store.group(s).await?.ok_or_else(|| missing_group(s))?;
    }
    if role.administers_member_data() {
        let before = access::member_data_admins(store, resolver).await?;
        let mut after = before.clone();
        let gaining: Vec<i64> = match (input.account_id, input.group_id) {
            (Some(a), _) => vec![a],
            (_, Some(g)) => {
                let dir = resolver.directory().await?;
                let members = dir_access::member_ids(&dir, g, resolver.today());
                store
                    .accounts()
                    .await?
                    .into_iter()
                    .filter(|a| a.active && members.contains(&a.person_id))
                    .map(|a| a.id)
                    .collect()
            }
            _ => Vec::new(),
        };
        for a in gaining {
            if !after.contains(&a) {
                after.push(a);
            }
        }
        access::check_cap(cap, &before, &after)?;
    }
    Ok(store
        .add_grant(
            role.as_str(),
            input.account_id,
            input.group_id,
            input.scope_group_id,
            now,
        )
        .await?)
}

/// Refuses adding `people` to `group_id` (directly, or as members of a subgroup) when that
/// would give member-data administration rights, through a grant to the group or a group it is
/// nested in, to more accounts than the cap allows.
pub async fn check_cap_for_joining(
    store: &Store,
    resolver: &Resolver,
    cap: usize,
    group_id: i64,
    people: &std::collections::HashSet<i64>,
) -> Result<(), AdminError> {
    if cap == 0 || people.is_empty() {
        return Ok(());
    }
    let dir = resolver.directory().await?;
    let above = dir_access::ancestors(&dir, group_id);
    let grants_admin = store.grants().await?.into_iter().any(|g| {
        g.group_id.is_some_and(|id| above.contains(&id))
            && Role::parse(&g.role).is_ok_and(Role::administers_member_data)
    });
    if !grants_admin {
        return Ok(());
    }
    let before = access::member_data_admins(store, resolver).await?;
    let mut after = before.clone();
    for a in store.accounts().await? {
        if a.active && people.contains(&a.person_id) && !after.contains(&a.id) {
            after.push(a.id);
        }
    }
    access::check_cap(cap, &before, &after)
}

/// Owners of the whole organisation if `grant_id` were withdrawn and `account_id` deactivated.
async fn owners_without(
    store: &Store,
    resolver: &Resolver,
    grant_id: Option<i64>,
    account_id: Option<i64>,
) -> Result<usize, AdminError> {
    let all = access::all_access(store, resolver).await?;
    Ok(all
        .iter()
        .filter(|(a, _)| Some(a.id) != account_id)
        .filter(|(_, x)| {
            x.permissions.iter().any(|p| {
                p.role == Role::Owner
                    && matches!(p.scope, access::Scope::Organisation)
                    && (p.grant_id.is_none() || p.grant_id != grant_id)
            })
        })
        .count())
}

pub const LAST_OWNER: &str = "this would leave no owner: grant the owner role to someone else first (the last owner cannot be removed)";

pub async fn delete_grant(store: &Store, resolver: &Resolver, id: i64) -> Result<(), AdminError> {
    let grant = store
        .grants()
        .await?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(|| AdminError::not_found(format!("no grant with id {id}")))?;
    if grant.role == Role::Owner.as_str()
        && !access::owners(store, resolver).await?.is_empty()
        && owners_without(store, resolver, Some(id), None).await? == 0
    {
        return Err(AdminError::Conflict(LAST_OWNER.into()));
    }
    store.delete_grant(id).await?;
    Ok(())
}

pub async fn set_active(
    store: &Store,
    resolver: &Resolver,
    cap: usize,
    id: i64,
    active: bool,
    now: i64,
) -> Result<Account, AdminError> {
    let account = store
        .account(id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no account with id {id}")))?;
    if !active
        && account.active
        && access::owners(store, resolver).await?.contains(&id)
        && owners_without(store, resolver, None, Some(id)).await? == 0
    {
        return Err(AdminError::Conflict(LAST_OWNER.into()));
    }
    if active && !account.active {
        let woken = Account {
            active: true,
            ..account.clone()
        };
        let would = access::access_of(store, resolver, &woken).await?;
        if would.any_role().is_some_and(Role::administers_member_data) {
            let before = access::member_data_admins(store, resolver).await?;
            let mut after = before.clone();
            after.push(id);
            access::check_cap(cap, &before, &after)?;
        }
    }
    store.set_account_active(id, active, now).await?;
    if !active {
        // Its web sessions end at once (API tokens stop at their next use, see authz).
        store.revoke_sessions_of(account.person_id, now).await?;
    }
    store
        .account(id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no account with id {id}")))
}

/// Access report: every active account that can see `person_id`'s data, and through what.
pub async fn access_report(
    store: &Store,
    resolver: &Resolver,
    person_id: i64,
) -> Result<Vec<serde_json::Value>, AdminError> {
    let mut out = Vec::new();
    for (account, x) in access::all_access(store, resolver).await? {
        let through: Vec<&access::Permission> = x
            .permissions
            .iter()
            .filter(|p| p.role >= Role::Auditor)
            .filter(|p| {
                Access {
                    permissions: vec![(*p).clone()],
                }
                .person_role(person_id)
                .is_some()
            })
            .collect();
        if !through.is_empty() {
            out.push(serde_json::json!({
                "account_id": account.id, "email": account.email, "name": account.name,
                "through": through,
            }));
        }
    }
    Ok(out)
}
