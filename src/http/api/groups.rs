//! Groups: CRUD, address, activation, direct members with role and term, subgroups, rules (with a
//! dry-run count), standard groups, recipients with explain.

use std::sync::Arc;

use axum::{Extension, Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiPath, ApiQuery, ApiState, Caller};
use crate::{
    admin::{self, access::Role},
    groups::criteria::Criteria,
    http::error::ApiError,
    model::address::EmailAddress,
    store::{directory::day, groups::Group},
};

fn group_json(g: &Group) -> Value {
    let rule = g
        .criteria
        .as_deref()
        .and_then(|c| serde_json::from_str::<Value>(c).ok());
    let rule_text = rule
        .as_ref()
        .and_then(|r| Criteria::parse(r).ok())
        .map(|c| c.describe());
    json!({
        "id": g.id, "name": g.name, "address": g.address, "active": g.active,
        "standard": g.standard_key.is_some(), "rule": rule, "rule_text": rule_text,
    })
}

async fn find(state: &ApiState, id: i64) -> Result<Group, ApiError> {
    state
        .store
        .group(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no group with id {id}")))
}

/// A group named in a request body must be in the caller's scopes with `role`; else 404.
fn in_scope(caller: &Caller, group_id: i64, role: Role) -> Result<(), ApiError> {
    if caller
        .access
        .group_role(group_id)
        .is_some_and(|r| r >= role)
    {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no group with id {group_id}")))
    }
}

fn list_address(state: &ApiState, address: &str) -> Result<EmailAddress, ApiError> {
    Ok(admin::list_address(&state.domains, address)?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    name: Option<String>,
    #[serde(default, deserialize_with = "crate::admin::double_option")]
    address: Option<Option<String>>,
    /// On create: nest the new group in this one (how a department's manager creates groups).
    parent_id: Option<i64>,
}

pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
) -> Result<Json<Value>, ApiError> {
    // The directory (current: patched with the latest changes, not rebuilt) creates the
    // standard groups the data calls for, and counts each group's direct members in memory.
    let dir = state.resolver.directory().await?;
    let visible = caller.access.visible_groups();
    let seen = |id: &i64| visible.as_ref().is_none_or(|v| v.contains(id));
    let mut children: std::collections::HashMap<i64, Vec<Value>> = Default::default();
    for (parent, child, as_manager) in state.store.subgroup_edges().await? {
        if seen(&parent) && seen(&child) {
            children
                .entry(parent)
                .or_default()
                .push(json!({ "id": child, "as_manager": as_manager }));
        }
    }
    let groups: Vec<Value> = state
        .store
        .groups()
        .await?
        .iter()
        .filter(|g| seen(&g.id))
        .map(|g| {
            let mut v = group_json(g);
            v["direct_members"] = json!(dir.direct_count(g.id).unwrap_or(0));
            v["subgroups"] = json!(children.remove(&g.id).unwrap_or_default());
            v
        })
        .collect();
    Ok(Json(json!({ "groups": groups })))
}

pub async fn standard(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
) -> Result<Json<Value>, ApiError> {
    state.resolver.directory().await?;
    let visible = caller.access.visible_groups();
    let groups: Vec<Value> = state
        .store
        .groups()
        .await?
        .iter()
        .filter(|g| g.standard_key.is_some())
        .filter(|g| visible.as_ref().is_none_or(|v| v.contains(&g.id)))
        .map(group_json)
        .collect();
    Ok(Json(json!({ "groups": groups })))
}

pub async fn create(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiJson(input): ApiJson<GroupInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let org = caller.access.org_role();
    match input.parent_id {
        _ if org.is_some_and(|r| r >= Role::GroupManager) => {
            if let Some(p) = input.parent_id {
                find(&state, p).await?;
            }
        }
        None => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "only a group manager of the whole organisation creates top-level groups; \
                 inside your department, give parent_id",
            ));
        }
        Some(p) => match caller.access.group_role(p) {
            Some(r) if r >= Role::GroupManager => {}
            Some(r) if r >= Role::Auditor => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("this needs the role group_manager; you hold {}", r.as_str()),
                ));
            }
            _ => return Err(ApiError::not_found(format!("no group with id {p}"))),
        },
    }
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("name: required"))?;
    let address = input
        .address
        .flatten()
        .map(|a| list_address(&state, &a))
        .transpose()?;
    let group = state
        .store
        .create_group_in(
            name,
            address.as_ref(),
            input.parent_id,
            state.clock.now_ms(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(group_json(&group))))
}

pub async fn read(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let group = find(&state, id).await?;
    let mut v = group_json(&group);
    v["retention_years"] = json!(state.store.retention_years(id).await?);
    v["subgroups"] = state
        .store
        .subgroups_of(id)
        .await?
        .into_iter()
        .map(|(id, name, as_manager)| json!({ "id": id, "name": name, "as_manager": as_manager }))
        .collect();
    Ok(Json(v))
}

pub async fn update(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<GroupInput>,
) -> Result<Json<Value>, ApiError> {
    let group = find(&state, id).await?;
    if input.parent_id.is_some() {
        return Err(ApiError::invalid(
            "parent_id: only when creating; nest an existing group with POST /groups/{id}/subgroups",
        ));
    }
    if group.standard_key.is_some() && input.name.is_some() {
        return Err(ApiError::conflict(
            "a standard group is named after its data; rename the membership type, team or service instead",
        ));
    }
    let address = match &input.address {
        Some(Some(a)) => Some(Some(list_address(&state, a)?)),
        Some(None) => Some(None),
        None => None,
    };
    let name = input.name.as_deref().map(str::trim);
    if name.is_some_and(str::is_empty) {
        return Err(ApiError::invalid("name: must not be empty"));
    }
    state
        .store
        .update_group(id, name, address.as_ref().map(Option::as_ref))
        .await?;
    Ok(Json(group_json(&find(&state, id).await?)))
}

/// How many owners of the whole organisation there are now.
async fn owners(state: &ApiState) -> Result<usize, ApiError> {
    Ok(admin::access::owners(&state.store, &state.resolver)
        .await?
        .len())
}

fn last_owner() -> ApiError {
    ApiError::conflict(admin::accounts::LAST_OWNER)
}

/// Refuses a change to the directory that would leave no owner of the organisation (an owner
/// through a grant to a group loses it when they leave the group or the group goes).
async fn keep_an_owner(
    state: &ApiState,
    change: impl FnOnce(&mut crate::store::directory::DirectoryRows),
) -> Result<(), ApiError> {
    if admin::access::owners_after(&state.store, &state.resolver, change).await? == 0
        && owners(state).await? > 0
    {
        return Err(last_owner());
    }
    Ok(())
}

fn without_group(id: i64) -> impl FnOnce(&mut crate::store::directory::DirectoryRows) {
    move |rows| {
        for g in rows.groups.iter_mut().filter(|g| g.id == id) {
            g.active = false;
        }
    }
}

pub async fn delete(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    find(&state, id).await?;
    keep_an_owner(&state, without_group(id)).await?;
    state.store.delete_group(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn activate(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    find(&state, id).await?;
    state.store.set_group_active(id, true).await?;
    Ok(Json(group_json(&find(&state, id).await?)))
}

pub async fn deactivate(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    find(&state, id).await?;
    keep_an_owner(&state, without_group(id)).await?;
    state.store.set_group_active(id, false).await?;
    Ok(Json(group_json(&find(&state, id).await?)))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MemberParams {
    /// Only memberships whose address or name contains this (case-insensitive).
    q: Option<String>,
    /// A page of at most this many (1–1000); without it and `q`: every membership.
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn members(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<MemberParams>,
) -> Result<Json<Value>, ApiError> {
    find(&state, id).await?;
    if p.limit.is_none() && p.q.is_none() && p.offset.is_none() {
        let members = state.store.members(id).await?;
        let total = members.len();
        let members = with_delivery(&state, id, members).await?;
        return Ok(Json(json!({ "members": members, "total": total })));
    }
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit: from 1 to 1000"));
    }
    let offset = p.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("offset: 0 or more"));
    }
    let searched = p.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    let (members, total) = if searched {
        state
            .store
            .members_page(id, p.q.as_deref(), limit, offset)
            .await?
    } else {
        page_from_directory(&state, id, limit, offset).await?
    };
    let members = with_delivery(&state, id, members).await?;
    Ok(Json(
        json!({ "members": members, "total": total, "limit": limit, "offset": offset }),
    ))
}

/// A page of a group's memberships without a search: which rows, from the in-memory
/// directory (current with the store: see [`crate::groups::Resolver::directory`]); the rows
/// themselves (name, role, term) read for that page's people only.
async fn page_from_directory(
    state: &ApiState,
    id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<crate::store::groups::Member>, i64), ApiError> {
    let dir = state.resolver.directory().await?;
    let (offset, limit) = (
        usize::try_from(offset).unwrap_or(0),
        usize::try_from(limit).unwrap_or(0),
    );
    let Some((keys, total)) = dir.direct_page(id, offset, limit) else {
        return Err(ApiError::not_found(format!("no group with id {id}")));
    };
    drop(dir);
    let mut people: Vec<i64> = keys.iter().map(|(p, _)| *p).collect();
    people.sort_unstable();
    people.dedup();
    let mut rows = state.store.members_among(id, &people).await?;
    // The term start as the directory read it (a date, or none).
    let start = |m: &crate::store::groups::Member| m.valid_from.as_deref().and_then(day);
    let mut page = Vec::with_capacity(keys.len());
    for (person, from) in &keys {
        if let Some(i) = rows
            .iter()
            .position(|m| m.person_id == *person && start(m) == *from)
        {
            page.push(rows.swap_remove(i));
        }
    }
    Ok((page, i64::try_from(total).unwrap_or(i64::MAX)))
}

/// Each membership with how the person gets this list (administrators see each member's
/// mode): `delivery` (every, daily, weekly, none) and `paused_until`, the day their list mail
/// comes again when they paused all of it (else null). Two reads whatever the page's size: the
/// list's modes other than every post, and the pauses not over.
async fn with_delivery(
    state: &ApiState,
    id: i64,
    members: Vec<crate::store::groups::Member>,
) -> Result<Vec<Value>, ApiError> {
    let modes = crate::digest::modes_on(&state.store, id).await?;
    let today = state.resolver.today().format("%Y-%m-%d").to_string();
    let pauses = state.store.pauses_after(&today).await?;
    Ok(members
        .into_iter()
        .map(|m| {
            let mode = modes
                .get(&m.person_id)
                .map(|(mode, _)| *mode)
                .unwrap_or_default();
            let paused = pauses.get(&m.person_id).cloned();
            let mut v = json!(m);
            v["delivery"] = json!(mode);
            v["paused_until"] = json!(paused);
            v
        })
        .collect())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    /// Which term: the one starting on this day (null or left out: the term without a start).
    term_from: Option<String>,
    role: Option<String>,
    /// The term's new start and end (null: open).
    valid_from: Option<String>,
    valid_until: Option<String>,
}

/// Changes the role or the term of one membership.
pub async fn update_member(
    State(state): State<ApiState>,
    ApiPath((id, person)): ApiPath<(i64, i64)>,
    ApiJson(c): ApiJson<MemberChange>,
) -> Result<Json<Value>, ApiError> {
    find(&state, id).await?;
    let term = c.term_from.as_deref().filter(|t| !t.is_empty());
    let current = state
        .store
        .members(id)
        .await?
        .into_iter()
        .find(|m| m.person_id == person && m.valid_from.as_deref() == term)
        .ok_or_else(|| {
            ApiError::not_found(format!("person {person} has no such term in group {id}"))
        })?;
    let role = c.role.as_deref().unwrap_or(&current.role).to_string();
    admin::check_role(&role)?;
    let from = c.valid_from.as_deref().filter(|t| !t.is_empty());
    let until = c.valid_until.as_deref().filter(|t| !t.is_empty());
    admin::check_term(from, until)?;
    let (manager, f, u) = (role == "manager", from.and_then(day), until.and_then(day));
    let old_from = term.and_then(day);
    keep_an_owner(&state, move |rows| {
        for m in rows
            .memberships
            .iter_mut()
            .filter(|m| m.group_id == id && m.person_id == person && m.valid_from == old_from)
        {
            m.manager = manager;
            m.valid_from = f;
            m.valid_until = u;
        }
    })
    .await?;
    admin::accounts::check_cap_for_joining(
        &state.store,
        &state.resolver,
        state.max_member_data_admins,
        id,
        &std::collections::HashSet::from([person]),
    )
    .await?;
    if !state
        .store
        .update_membership(id, person, term, &role, from, until)
        .await?
    {
        return Err(ApiError::not_found(format!(
            "person {person} has no such term in group {id}"
        )));
    }
    Ok(Json(json!({
        "group_id": id, "person_id": person, "email": current.email, "name": current.name,
        "role": role, "valid_from": from, "valid_until": until,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    person_id: Option<i64>,
    /// Instead of person_id: the person's address (created if new).
    email: Option<String>,
    name: Option<String>,
    role: Option<String>,
    valid_from: Option<String>,
    valid_until: Option<String>,
}

pub async fn add_member(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(m): ApiJson<MemberInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    find(&state, id).await?;
    let role = m.role.as_deref().unwrap_or("member");
    admin::check_role(role)?;
    admin::check_term(m.valid_from.as_deref(), m.valid_until.as_deref())?;
    let now = state.clock.now_ms();
    let person_id = match (m.person_id, &m.email) {
        (Some(p), None) => {
            if caller
                .access
                .person_role(p)
                .is_none_or(|r| r < Role::Auditor)
            {
                return Err(ApiError::not_found(format!("no person with id {p}")));
            }
            state
                .store
                .person_detail(p)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no person with id {p}")))?;
            p
        }
        (None, Some(e)) => {
            let email =
                EmailAddress::parse(e).map_err(|e| ApiError::invalid(format!("email: {e}")))?;
            match state.store.find_person(&email).await? {
                // Someone already known: the same scope rule as by person_id, and their
                // record is not changed by the way.
                Some(p)
                    if caller
                        .access
                        .person_role(p.id)
                        .is_some_and(|r| r >= Role::Auditor) =>
                {
                    p.id
                }
                Some(_) => {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "forbidden",
                        format!(
                            "{email} belongs to a person outside the groups you manage; \
                             ask someone who manages them to add them"
                        ),
                    ));
                }
                None => {
                    state
                        .store
                        .upsert_person(&email, m.name.as_deref(), now)
                        .await?
                        .id
                }
            }
        }
        _ => return Err(ApiError::invalid("give either person_id or email")),
    };
    admin::accounts::check_cap_for_joining(
        &state.store,
        &state.resolver,
        state.max_member_data_admins,
        id,
        &std::collections::HashSet::from([person_id]),
    )
    .await?;
    let new = state
        .store
        .add_member_with_term(
            id,
            person_id,
            role,
            m.valid_from.as_deref(),
            m.valid_until.as_deref(),
            now,
        )
        .await?;
    // The membership as GET …/members shows it (this term of this person).
    let membership = state
        .store
        .members(id)
        .await?
        .into_iter()
        .find(|x| x.person_id == person_id && x.valid_from.as_deref() == m.valid_from.as_deref())
        .ok_or_else(|| ApiError::not_found(format!("no membership of person {person_id}")))?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut body = json!(membership);
    body["group_id"] = json!(id);
    Ok((status, Json(body)))
}

pub async fn remove_member(
    State(state): State<ApiState>,
    ApiPath((id, person)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    keep_an_owner(&state, |rows| {
        rows.memberships
            .retain(|m| !(m.group_id == id && m.person_id == person));
    })
    .await?;
    if state.store.remove_member(id, person).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "person {person} is not a direct member of group {id}"
        )))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyInput {
    from_group: i64,
    valid_from: Option<String>,
    valid_until: Option<String>,
}

pub async fn copy_members(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(c): ApiJson<CopyInput>,
) -> Result<Json<Value>, ApiError> {
    find(&state, id).await?;
    in_scope(&caller, c.from_group, Role::Auditor)?;
    find(&state, c.from_group).await?;
    admin::check_term(c.valid_from.as_deref(), c.valid_until.as_deref())?;
    // Only the terms current today are copied (this year's board, not last year's).
    let today = state.resolver.today().format("%Y-%m-%d").to_string();
    let current = |m: &crate::store::groups::Member| {
        m.valid_from.as_deref().is_none_or(|f| f <= today.as_str())
            && m.valid_until.as_deref().is_none_or(|u| u >= today.as_str())
    };
    let joining: std::collections::HashSet<i64> = state
        .store
        .members(c.from_group)
        .await?
        .iter()
        .filter(|m| current(m))
        .map(|m| m.person_id)
        .collect();
    admin::accounts::check_cap_for_joining(
        &state.store,
        &state.resolver,
        state.max_member_data_admins,
        id,
        &joining,
    )
    .await?;
    let n = state
        .store
        .copy_members(
            c.from_group,
            id,
            &today,
            c.valid_from.as_deref(),
            c.valid_until.as_deref(),
            state.clock.now_ms(),
        )
        .await?;
    Ok(Json(json!({ "copied": n })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubgroupInput {
    group_id: i64,
    #[serde(default)]
    as_manager: bool,
}

pub async fn add_subgroup(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(s): ApiJson<SubgroupInput>,
) -> Result<StatusCode, ApiError> {
    find(&state, id).await?;
    // Nesting a group brings its members into every scope above: only one you manage.
    in_scope(&caller, s.group_id, Role::GroupManager)?;
    find(&state, s.group_id).await?;
    let dir = state.resolver.directory().await?;
    let joining = crate::groups::access::member_ids(&dir, s.group_id, state.resolver.today());
    admin::accounts::check_cap_for_joining(
        &state.store,
        &state.resolver,
        state.max_member_data_admins,
        id,
        &joining,
    )
    .await?;
    state
        .store
        .add_subgroup(id, s.group_id, s.as_manager)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_subgroup(
    State(state): State<ApiState>,
    ApiPath((id, child)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    keep_an_owner(&state, |rows| {
        rows.subgroups.retain(|&(p, c, _)| !(p == id && c == child));
    })
    .await?;
    if state.store.remove_subgroup(id, child).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "group {child} is not a subgroup of group {id}"
        )))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    rule: Value,
}

pub async fn set_rule(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<RuleInput>,
) -> Result<Json<Value>, ApiError> {
    let group = find(&state, id).await?;
    if group.standard_key.is_some() {
        return Err(ApiError::conflict(
            "a standard group's members come from the system's own rule",
        ));
    }
    let rule = admin::parse_rule(&r.rule)?;
    let matches = state.resolver.count_matching(&rule).await?;
    let json = rule.to_json();
    let stored = json.clone();
    keep_an_owner(&state, move |rows| {
        for g in rows.groups.iter_mut().filter(|g| g.id == id) {
            g.criteria = Some(stored.clone());
        }
    })
    .await?;
    state.store.set_criteria(id, Some(&json)).await?;
    Ok(Json(
        json!({ "rule": r.rule, "rule_text": rule.describe(), "matches": matches }),
    ))
}

pub async fn clear_rule(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    find(&state, id).await?;
    keep_an_owner(&state, move |rows| {
        for g in rows.groups.iter_mut().filter(|g| g.id == id) {
            g.criteria = None;
        }
    })
    .await?;
    state.store.set_criteria(id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many people a rule would match, without saving it.
pub async fn dry_run(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<RuleInput>,
) -> Result<Json<Value>, ApiError> {
    find(&state, id).await?;
    let rule = admin::parse_rule(&r.rule)?;
    let matches = state.resolver.count_matching(&rule).await?;
    Ok(Json(
        json!({ "rule_text": rule.describe(), "matches": matches }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientParams {
    #[serde(default)]
    explain: bool,
    /// Explain this one person (member or not) instead of listing everyone.
    person_id: Option<i64>,
    /// Only addresses containing this (case-insensitive).
    q: Option<String>,
    /// A page of the list (`count` stays the number of all recipients).
    limit: Option<usize>,
    offset: Option<usize>,
}

pub async fn recipients(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<RecipientParams>,
) -> Result<axum::response::Response, ApiError> {
    find(&state, id).await?;
    if let Some(person) = p.person_id {
        // A person outside the caller's scopes looks exactly like no person at all.
        let unknown = || ApiError::not_found(format!("no person with id {person}"));
        if caller
            .access
            .person_role(person)
            .is_none_or(|r| r < Role::Auditor)
        {
            return Err(unknown());
        }
        let mut why = match state.resolver.explain(id, person).await {
            Err(crate::store::StoreError::NotFound(_)) => return Err(unknown()),
            other => other?,
        };
        // The paths go down from this group, inside the scope; terms elsewhere are named only
        // for groups the caller can see.
        if let Some(visible) = caller.access.visible_groups() {
            let names: Vec<String> = state
                .store
                .groups()
                .await?
                .into_iter()
                .filter(|g| visible.contains(&g.id))
                .map(|g| format!("{}: ", g.name))
                .collect();
            why.inactive_terms
                .retain(|t| names.iter().any(|n| t.starts_with(n.as_str())));
        }
        return Ok(
            Json(json!({ "group_id": id, "person_id": person, "explanation": why }))
                .into_response(),
        );
    }
    let mut people = state.resolver.recipient_people(id).await?;
    let count = people.len();
    let paged = p.limit.is_some() || p.offset.is_some() || p.q.is_some();
    if paged {
        people.sort_by_cached_key(|(_, e)| e.to_lowercase());
    }
    if let Some(q) = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let q = q.to_lowercase();
        people.retain(|(_, e)| e.to_lowercase().contains(&q));
    }
    let matching = people.len();
    if paged {
        let limit = p.limit.unwrap_or(100).clamp(1, 1000);
        people = people
            .into_iter()
            .skip(p.offset.unwrap_or(0))
            .take(limit)
            .collect();
    }
    // The addresses are written straight from the list (a `Value` per address cost a copy
    // and an allocation each: at 100,000 recipients a fifth of the answer's time).
    let list = if p.explain {
        let mut out = Vec::with_capacity(people.len());
        for (pid, email) in &people {
            let why = state.resolver.explain(id, *pid).await?;
            out.push(json!({ "person_id": pid, "email": email, "paths": why.paths }));
        }
        RecipientList::Explained(out)
    } else {
        RecipientList::Addresses(people.iter().map(|(_, e)| e.as_str()).collect())
    };
    // Recipients who get the list another way than every post (digest, no mail).
    let modes = crate::digest::modes_on(&state.store, id).await?;
    let delivery: Vec<Value> = people
        .iter()
        .filter_map(|(pid, email)| {
            modes
                .get(pid)
                .map(|(m, _)| json!({ "person_id": pid, "email": email, "mode": m }))
        })
        .collect();
    Ok(Json(RecipientsAnswer {
        group_id: id,
        count,
        matching,
        recipients: list,
        delivery_modes: delivery,
    })
    .into_response())
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum RecipientList<'a> {
    Addresses(Vec<&'a str>),
    Explained(Vec<Value>),
}

#[derive(serde::Serialize)]
struct RecipientsAnswer<'a> {
    group_id: i64,
    count: usize,
    matching: usize,
    recipients: RecipientList<'a>,
    delivery_modes: Vec<Value>,
}

/// The group's opt-outs, of people in the caller's scopes (someone who left the group keeps
/// their opt-out, but is no longer the department's to see).
pub async fn opt_outs(
    State(state): State<ApiState>,
    Extension(caller): Extension<Arc<Caller>>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    find(&state, id).await?;
    let visible = caller.access.visible_people();
    let opt_outs: Vec<_> = state
        .store
        .opt_outs(None, Some(id))
        .await?
        .into_iter()
        .filter(|o| visible.as_ref().is_none_or(|v| v.contains(&o.person_id)))
        .collect();
    let per_post = state.store.opt_outs_per_post(id, 50).await?;
    Ok(Json(json!({ "opt_outs": opt_outs, "per_post": per_post })))
}
