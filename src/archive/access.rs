//! Who may read a list's archive — one decision for every page and download:
//!
//! - `archive = "none"`: nobody (there is no archive);
//! - `"public"`: anyone, signed in or not (addresses shortened on the pages);
//! - `"managers"`: administrators whose scopes let them read the group
//!   (`GET /api/v1/groups/{id}`'s rule);
//! - `"members"` (default): those administrators, and the people who receive the list **now**
//!   through any path (direct membership in its term, subgroups, rules; not opted out), worked
//!   out by the directory's resolution: someone who leaves loses access at once, a board member
//!   whose term starts next month reads from that day.
//!
//! Anything else is the same 404 as a list that does not exist. An import goes into the list's
//! archive under the same decision: no path makes a members-only archive readable by others.

use crate::{
    groups::Resolver,
    http::api::{Caller, authz, routes},
    model::list_settings::{ArchivePolicy, ListSettings},
    store::{Store, StoreError, groups::Group},
};

/// A list whose archive the viewer may read.
#[derive(Debug, Clone)]
pub struct Readable {
    pub group: Group,
    pub settings: ListSettings,
    /// A public archive: addresses are shown shortened.
    pub public: bool,
}

/// Who is asking.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub person_id: Option<i64>,
    pub caller: Option<&'a Caller>,
}

/// Whether an administrator's scopes let them read group `id` (the rule of reading the group).
pub fn manages(caller: Option<&Caller>, group_id: i64) -> bool {
    match (caller, routes::spec("get", "/groups/{id}")) {
        (Some(c), Some(spec)) => authz::permits(&c.access, spec, Some(group_id)),
        _ => false,
    }
}

fn decide(
    dir: Option<&crate::groups::directory::Directory>,
    today: chrono::NaiveDate,
    reader: Reader<'_>,
    group: Group,
) -> Option<Readable> {
    group.address.as_ref()?;
    let settings = ListSettings::from_stored(group.settings.as_deref());
    let ok = match settings.archive {
        ArchivePolicy::None => false,
        ArchivePolicy::Public => true,
        ArchivePolicy::Managers => manages(reader.caller, group.id),
        ArchivePolicy::Members => {
            manages(reader.caller, group.id)
                || match (dir, reader.person_id) {
                    (Some(dir), Some(p)) => crate::groups::explain_in(dir, group.id, p, today)
                        .is_some_and(|e| e.receives),
                    _ => false,
                }
        }
    };
    ok.then(|| Readable {
        public: settings.archive == ArchivePolicy::Public,
        group,
        settings,
    })
}

/// The archive of group `group_id`, if `reader` may read it.
pub async fn readable(
    store: &Store,
    resolver: &Resolver,
    reader: Reader<'_>,
    group_id: i64,
) -> Result<Option<Readable>, StoreError> {
    let Some(group) = store.group(group_id).await? else {
        return Ok(None);
    };
    let dir = match reader.person_id {
        Some(_) => Some(resolver.directory().await?),
        None => None,
    };
    Ok(decide(dir.as_deref(), resolver.today(), reader, group))
}

/// Every list whose archive `reader` may read, by name.
pub async fn readable_lists(
    store: &Store,
    resolver: &Resolver,
    reader: Reader<'_>,
) -> Result<Vec<Readable>, StoreError> {
    let dir = match reader.person_id {
        Some(_) => Some(resolver.directory().await?),
        None => None,
    };
    let today = resolver.today();
    let mut out: Vec<Readable> = store
        .list_groups()
        .await?
        .into_iter()
        .filter_map(|g| decide(dir.as_deref(), today, reader, g.group))
        .collect();
    out.sort_by(|a, b| {
        a.group
            .name
            .to_lowercase()
            .cmp(&b.group.name.to_lowercase())
    });
    Ok(out)
}
