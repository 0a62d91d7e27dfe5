//! Accounts and grants (owners change them; auditors of the organisation read them): every
//! administrator account with its roles now, the grants to accounts and to groups' members,
//! the cap on member-data administrators, new accounts and grants, deactivation.

use std::{collections::HashMap, sync::Arc};

use askama::Template;
use axum::{
    Extension,
    extract::State,
    http::{Method, StatusCode},
    response::Response,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fill, group_names, see_other, texts::OpsTexts};
use crate::http::web::{
    WebState,
    admin::{may, refused},
    extract::{WebForm, WebPath, WebQuery},
    frame::{self, ErrorPage, Layout, render, when},
    gate::Viewer,
};

#[derive(Debug, Deserialize)]
struct Permission {
    role: String,
    scope: Value,
    via: String,
}

#[derive(Debug, Deserialize)]
struct Account {
    id: i64,
    email: String,
    name: Option<String>,
    active: bool,
    created_at: i64,
    #[serde(default)]
    permissions: Vec<Permission>,
}

#[derive(Debug, Deserialize, Default)]
struct Cap {
    max_member_data_admins: usize,
    member_data_admins: usize,
}

#[derive(Debug, Deserialize)]
struct Accounts {
    accounts: Vec<Account>,
    #[serde(default)]
    cap: Cap,
}

#[derive(Debug, Deserialize)]
struct Grant {
    id: i64,
    role: String,
    account_id: Option<i64>,
    group_id: Option<i64>,
    scope_group_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Grants {
    grants: Vec<Grant>,
}

pub struct AccountRow {
    pub id: i64,
    pub who: String,
    pub active: bool,
    pub since: String,
    pub roles: Vec<String>,
}

pub struct GrantRow {
    pub id: i64,
    pub role: String,
    pub to: String,
    pub scope: String,
}

pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_ops/accounts.html")]
struct AccountsPage {
    l: Layout,
    t: &'static OpsTexts,
    accounts: Vec<AccountRow>,
    grants: Vec<GrantRow>,
    cap: String,
    owner: bool,
    roles: Vec<&'static str>,
    account_choices: Vec<Choice>,
    group_choices: Vec<Choice>,
}

fn scope_of(t: &OpsTexts, scope: Option<i64>, names: &HashMap<i64, String>) -> String {
    match scope {
        Some(g) => fill(
            t.group_subtree,
            &[(
                "group",
                names.get(&g).map(String::as_str).unwrap_or(&g.to_string()),
            )],
        ),
        None => t.whole_org.to_string(),
    }
}

/// GET /admin/accounts
pub async fn list(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebQuery(done): WebQuery<Done>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let t = OpsTexts::get(viewer.lang);
    let (accounts, grants, names) = tokio::join!(
        api.get::<Accounts>("/accounts"),
        api.get::<Grants>("/grants"),
        group_names(&state, &api),
    );
    let accounts = match accounts {
        Ok(a) => a,
        Err(f) => return refused(&state, &viewer, f),
    };
    let grants = match grants {
        Ok(g) => g.grants,
        Err(f) => return refused(&state, &viewer, f),
    };
    let who = |a: &Account| match &a.name {
        Some(n) => format!("{n} <{}>", a.email),
        None => a.email.clone(),
    };
    let emails: HashMap<i64, String> = accounts
        .accounts
        .iter()
        .map(|a| (a.id, a.email.clone()))
        .collect();
    let rows = accounts
        .accounts
        .iter()
        .map(|a| AccountRow {
            id: a.id,
            who: who(a),
            active: a.active,
            since: when(a.created_at),
            roles: a
                .permissions
                .iter()
                .map(|p| {
                    let scope =
                        scope_of(t, p.scope.get("group_id").and_then(Value::as_i64), &names);
                    format!("{} · {scope} ({})", p.role, p.via)
                })
                .collect(),
        })
        .collect();
    let grant_rows = grants
        .iter()
        .map(|g| GrantRow {
            id: g.id,
            role: g.role.clone(),
            to: match (g.account_id, g.group_id) {
                (Some(a), _) => emails.get(&a).cloned().unwrap_or_else(|| a.to_string()),
                (None, Some(gid)) => fill(
                    t.grant_members_of,
                    &[(
                        "group",
                        names
                            .get(&gid)
                            .map(String::as_str)
                            .unwrap_or(&gid.to_string()),
                    )],
                ),
                (None, None) => String::new(),
            },
            scope: scope_of(t, g.scope_group_id, &names),
        })
        .collect();
    let cap = if accounts.cap.max_member_data_admins == 0 {
        fill(
            t.cap_none,
            &[("n", &accounts.cap.member_data_admins.to_string())],
        )
    } else {
        fill(
            t.cap_some,
            &[
                ("n", &accounts.cap.member_data_admins.to_string()),
                ("max", &accounts.cap.max_member_data_admins.to_string()),
            ],
        )
    };
    let mut group_choices: Vec<Choice> = names
        .iter()
        .map(|(id, name)| Choice {
            value: id.to_string(),
            label: name.clone(),
        })
        .collect();
    group_choices.sort_by(|a, b| a.label.cmp(&b.label));
    let account_choices = accounts
        .accounts
        .iter()
        .filter(|a| a.active)
        .map(|a| Choice {
            value: a.id.to_string(),
            label: who(a),
        })
        .collect();
    let notice = match done.done.as_deref() {
        Some("account") => Some(t.done_account),
        Some("deactivate") => Some(t.done_deactivate),
        Some("reactivate") => Some(t.done_reactivate),
        Some("grant") => Some(t.done_grant),
        Some("withdraw") => Some(t.done_withdraw),
        _ => None,
    };
    render(
        StatusCode::OK,
        &AccountsPage {
            l: Layout::new(&state, &viewer, t.accounts_title)
                .with_notice(notice.map(str::to_string)),
            t,
            accounts: rows,
            grants: grant_rows,
            cap,
            owner: may(&viewer, "post", "/grants", None),
            roles: crate::admin::access::Role::ALL
                .iter()
                .map(|r| r.as_str())
                .collect(),
            account_choices,
            group_choices,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct NewAccount {
    email: String,
    #[serde(default)]
    name: Option<String>,
}

/// POST /admin/accounts
pub async fn create(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebForm(form): WebForm<NewAccount>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let mut body = json!({ "email": form.email.trim() });
    if let Some(n) = form
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        body["name"] = json!(n);
    }
    match api
        .send::<Value>(Method::POST, "/accounts", Some(body))
        .await
    {
        Ok(_) => see_other("/admin/accounts?done=account"),
        Err(f) => refused(&state, &viewer, f),
    }
}

async fn set_active(state: WebState, viewer: Arc<Viewer>, id: i64, action: &str) -> Response {
    let api = api_or_404!(state, viewer);
    match api
        .send::<Value>(Method::POST, &format!("/accounts/{id}/{action}"), None)
        .await
    {
        Ok(_) => see_other(&format!("/admin/accounts?done={action}")),
        Err(f) => refused(&state, &viewer, f),
    }
}

/// POST /admin/accounts/{id}/deactivate
pub async fn deactivate(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    set_active(state, viewer, id, "deactivate").await
}

/// POST /admin/accounts/{id}/reactivate
pub async fn reactivate(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    set_active(state, viewer, id, "reactivate").await
}

#[derive(Debug, Deserialize)]
pub struct NewGrant {
    role: String,
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    scope_group_id: String,
}

/// POST /admin/grants
pub async fn grant(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebForm(form): WebForm<NewGrant>,
) -> Response {
    let api = api_or_404!(state, viewer);
    let number = |s: &str| s.trim().parse::<i64>().ok();
    let mut body = json!({ "role": form.role });
    if let Some(a) = number(&form.account_id) {
        body["account_id"] = json!(a);
    }
    if let Some(g) = number(&form.group_id) {
        body["group_id"] = json!(g);
    }
    if let Some(s) = number(&form.scope_group_id) {
        body["scope_group_id"] = json!(s);
    }
    match api.send::<Value>(Method::POST, "/grants", Some(body)).await {
        Ok(_) => see_other("/admin/accounts?done=grant"),
        Err(f) => refused(&state, &viewer, f),
    }
}

/// POST /admin/grants/{id}/withdraw
pub async fn withdraw(
    State(state): State<WebState>,
    Extension(viewer): Extension<Arc<Viewer>>,
    WebPath(id): WebPath<i64>,
) -> Response {
    let api = api_or_404!(state, viewer);
    match api
        .send::<Value>(Method::DELETE, &format!("/grants/{id}"), None)
        .await
    {
        Ok(_) => see_other("/admin/accounts?done=withdraw"),
        Err(f) => refused(&state, &viewer, f),
    }
}
