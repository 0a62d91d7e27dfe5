//! Who may see and change what: roles in a hierarchy, scopes, and the permissions an account
//! holds right now — from grants to the account, grants to groups it is a (transitive) member
//! of, and managing a group (which makes one its moderator).

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::AdminError;
use chrono::NaiveDate;

use crate::{
    groups::{Resolver, access, directory::Directory},
    store::{
        Store, StoreError,
        accounts::{Account, Grant},
        directory::DirectoryRows,
    },
};

/// Roles, lowest first: each includes the rights of those below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Signs in, sees nothing until given a scope.
    Limited,
    /// Reads everything in scope, changes nothing.
    Auditor,
    /// Acts on held posts; reads list settings.
    Moderator,
    /// Creates and edits groups, members and list settings; reads people.
    GroupManager,
    /// Everything but managing administrators: people's data, retention, GDPR operations.
    Administrator,
    /// Everything, including accounts and grants.
    Owner,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Administrator,
        Role::GroupManager,
        Role::Moderator,
        Role::Auditor,
        Role::Limited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Administrator => "administrator",
            Role::GroupManager => "group_manager",
            Role::Moderator => "moderator",
            Role::Auditor => "auditor",
            Role::Limited => "limited",
        }
    }

    pub fn parse(s: &str) -> Result<Role, AdminError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                AdminError::invalid(format!(
                    "role: {s:?} is not one of owner, administrator, group_manager, moderator, auditor, limited"
                ))
            })
    }

    /// Administrators and owners administer member data (the capped rights).
    pub fn administers_member_data(self) -> bool {
        self >= Role::Administrator
    }
}

/// A new API token: 256 random bits, URL-safe, prefixed so it is recognisable in a leak scan.
pub fn new_token() -> String {
    crate::tokens::random_secret("cm_")
}

/// What is stored of a token: its SHA-256, hex (a high-entropy token needs no slow hash).
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where a permission applies.
#[derive(Debug, Clone)]
pub enum Scope {
    Organisation,
    /// A subtree of groups: the group ids in it, and the people who are members of its root.
    Groups {
        root: i64,
        groups: HashSet<i64>,
        people: HashSet<i64>,
    },
}

/// One role held in one scope, and why.
#[derive(Debug, Clone)]
pub struct Permission {
    pub role: Role,
    pub scope: Scope,
    /// "grant 3", "grant 5 (member of group 9)", "manager of group 4".
    pub via: String,
    pub grant_id: Option<i64>,
}

impl serde::Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let scope = match &self.scope {
            Scope::Organisation => serde_json::Value::String("organisation".into()),
            Scope::Groups { root, .. } => serde_json::json!({ "group_id": root }),
        };
        serde::Serialize::serialize(
            &serde_json::json!({ "role": self.role, "scope": scope, "via": self.via }),
            s,
        )
    }
}

/// What a caller may do: the union of their permissions.
#[derive(Debug, Clone)]
pub struct Access {
    pub permissions: Vec<Permission>,
}

impl Access {
    pub fn owner() -> Access {
        Access {
            permissions: vec![Permission {
                role: Role::Owner,
                scope: Scope::Organisation,
                via: "break-glass token (http.api_token)".into(),
                grant_id: None,
            }],
        }
    }

    /// The highest role held for the whole organisation.
    pub fn org_role(&self) -> Option<Role> {
        self.permissions
            .iter()
            .filter(|p| matches!(p.scope, Scope::Organisation))
            .map(|p| p.role)
            .max()
    }

    /// The highest role held anywhere.
    pub fn any_role(&self) -> Option<Role> {
        self.permissions.iter().map(|p| p.role).max()
    }

    /// The highest role that covers group `id`.
    pub fn group_role(&self, id: i64) -> Option<Role> {
        self.permissions
            .iter()
            .filter(|p| match &p.scope {
                Scope::Organisation => true,
                Scope::Groups { groups, .. } => groups.contains(&id),
            })
            .map(|p| p.role)
            .max()
    }

    /// The highest role that covers person `id` (a member of a scope's root group).
    pub fn person_role(&self, id: i64) -> Option<Role> {
        self.permissions
            .iter()
            .filter(|p| match &p.scope {
                Scope::Organisation => true,
                Scope::Groups { people, .. } => people.contains(&id),
            })
            .map(|p| p.role)
            .max()
    }

    /// The groups visible (at least auditor), or `None` for all of them.
    pub fn visible_groups(&self) -> Option<HashSet<i64>> {
        self.visible(|g, _| g)
    }

    /// The people visible (at least auditor), or `None` for everyone.
    pub fn visible_people(&self) -> Option<HashSet<i64>> {
        self.visible(|_, p| p)
    }

    fn visible(
        &self,
        pick: impl for<'a> Fn(&'a HashSet<i64>, &'a HashSet<i64>) -> &'a HashSet<i64>,
    ) -> Option<HashSet<i64>> {
        let mut out = HashSet::new();
        for p in self.permissions.iter().filter(|p| p.role >= Role::Auditor) {
            match &p.scope {
                Scope::Organisation => return None,
                Scope::Groups { groups, people, .. } => out.extend(pick(groups, people)),
            }
        }
        Some(out)
    }
}

/// A scope resolved against a directory.
fn scope_of(dir: &Directory, today: NaiveDate, root: Option<i64>) -> Scope {
    match root {
        None => Scope::Organisation,
        Some(root) => Scope::Groups {
            root,
            groups: access::subtree(dir, root),
            people: access::member_ids(dir, root, today),
        },
    }
}

/// Everything `account` may do on `today` given the directory and the grants. A deactivated
/// account may do nothing.
pub fn access_in(dir: &Directory, today: NaiveDate, grants: &[Grant], account: &Account) -> Access {
    let mut permissions = Vec::new();
    if !account.active {
        return Access { permissions };
    }
    for g in grants {
        let Ok(role) = Role::parse(&g.role) else {
            continue;
        };
        let via = match (g.account_id, g.group_id) {
            (Some(a), _) if a == account.id => format!("grant {}", g.id),
            (None, Some(group))
                if access::member_ids(dir, group, today).contains(&account.person_id) =>
            {
                format!("grant {} (member of group {group})", g.id)
            }
            _ => continue,
        };
        permissions.push(Permission {
            role,
            scope: scope_of(dir, today, g.scope_group_id),
            via,
            grant_id: Some(g.id),
        });
    }
    for group in access::managed_groups(dir, account.person_id, today) {
        permissions.push(Permission {
            role: Role::Moderator,
            scope: Scope::Groups {
                root: group,
                groups: HashSet::from([group]),
                people: access::member_ids(dir, group, today),
            },
            via: format!("manager of group {group}"),
            grant_id: None,
        });
    }
    Access { permissions }
}

/// Everything `account` may do right now.
pub async fn access_of(
    store: &Store,
    resolver: &Resolver,
    account: &Account,
) -> Result<Access, StoreError> {
    let dir = resolver.directory().await?;
    let grants = store.grants().await?;
    Ok(access_in(&dir, resolver.today(), &grants, account))
}

/// Every account with its access now (for reports, the cap and last-owner checks).
pub async fn all_access(
    store: &Store,
    resolver: &Resolver,
) -> Result<Vec<(Account, Access)>, StoreError> {
    let dir = resolver.directory().await?;
    let grants = store.grants().await?;
    let today = resolver.today();
    Ok(store
        .accounts()
        .await?
        .into_iter()
        .map(|a| {
            let access = access_in(&dir, today, &grants, &a);
            (a, access)
        })
        .collect())
}

/// How many owners of the whole organisation there would be after `change` to the directory
/// (a membership removed, a group deactivated …), computed in memory: nothing is written.
/// Only grants to groups depend on the directory, so without an owner grant to a group the
/// answer is the owners now.
pub async fn owners_after(
    store: &Store,
    resolver: &Resolver,
    change: impl FnOnce(&mut DirectoryRows),
) -> Result<usize, StoreError> {
    let grants = store.grants().await?;
    if !grants
        .iter()
        .any(|g| g.group_id.is_some() && g.role == Role::Owner.as_str())
    {
        return Ok(owners(store, resolver).await?.len());
    }
    let mut rows = store.load_directory().await?;
    change(&mut rows);
    let dir = tokio::task::spawn_blocking(move || Directory::build(rows))
        .await
        .map_err(|e| StoreError::Conflict(format!("building the directory failed: {e}")))?;
    let today = resolver.today();
    Ok(store
        .accounts()
        .await?
        .iter()
        .filter(|a| access_in(&dir, today, &grants, a).org_role() == Some(Role::Owner))
        .count())
}

/// Active accounts that are owners of the whole organisation.
pub async fn owners(store: &Store, resolver: &Resolver) -> Result<Vec<i64>, StoreError> {
    Ok(all_access(store, resolver)
        .await?
        .into_iter()
        .filter(|(_, x)| x.org_role() == Some(Role::Owner))
        .map(|(a, _)| a.id)
        .collect())
}

/// Active accounts holding member-data-administration rights (administrator or owner, any scope).
pub async fn member_data_admins(
    store: &Store,
    resolver: &Resolver,
) -> Result<Vec<i64>, StoreError> {
    Ok(all_access(store, resolver)
        .await?
        .into_iter()
        .filter(|(_, x)| x.any_role().is_some_and(Role::administers_member_data))
        .map(|(a, _)| a.id)
        .collect())
}

/// Refuses a change that would leave more than `cap` member-data administrators (0: no cap).
/// `after` is the set as it would be after the change.
pub fn check_cap(cap: usize, before: &[i64], after: &[i64]) -> Result<(), AdminError> {
    if cap > 0 && after.len() > cap && after.len() > before.len() {
        return Err(AdminError::Conflict(format!(
            "at most {cap} people may hold member-data administration rights \
             (accounts.max_member_data_admins); {} do already",
            before.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(Role::Owner > Role::Administrator);
        assert!(Role::Administrator > Role::GroupManager);
        assert!(Role::GroupManager > Role::Moderator);
        assert!(Role::Moderator > Role::Auditor);
        assert!(Role::Auditor > Role::Limited);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("cm_") && a.len() > 40);
        assert_eq!(hash_token(&a).len(), 64);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn the_cap_refuses_growth_beyond_it() {
        assert!(check_cap(2, &[1, 2], &[1, 2, 3]).is_err());
        assert!(check_cap(2, &[1], &[1, 2]).is_ok());
        assert!(check_cap(0, &[1, 2], &[1, 2, 3]).is_ok());
        assert!(
            check_cap(1, &[1, 2], &[1, 2]).is_ok(),
            "no worse than before"
        );
    }
}
