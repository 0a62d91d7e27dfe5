//! The authorization matrix: every API route × every role × (organisation-wide or department
//! grant) × (object inside or outside the department), asserting the exact status.
//!
//! The expectations come from this file's own table (the specification, written apart from the
//! server's `routes::ROUTES`); the test fails if the server has a route this table lacks or the
//! other way round, and if the OpenAPI document differs from the router's table.

use std::collections::BTreeSet;

use circlemail::{admin::access::hash_token, http::api::routes::ROUTES};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{
    admin::{self, Client, account, give_address, group, held_post, person_id},
    app::TestApp,
    db::TestDb,
    http::request,
};

/// How a route's right applies.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Every account; answers are filtered by scope.
    Any,
    /// The caller's own token: someone else's is 404.
    Own,
    /// The role in any scope, else 403.
    Anywhere(usize),
    /// The role for the whole organisation, else 403.
    Org(usize),
    /// The role in a scope containing the object; visible but not allowed 403; unseen 404.
    Scoped(usize),
    /// Like Scoped, but the role must be organisation-wide.
    ScopedOrgWide(usize),
}
use Kind::*;

/// Roles, highest first (index = rank from the top).
const ROLES: [&str; 6] = [
    "owner",
    "administrator",
    "group_manager",
    "moderator",
    "auditor",
    "limited",
];
const OWNER: usize = 0;
const ADMIN: usize = 1;
const MANAGER: usize = 2;
const MODERATOR: usize = 3;
const AUDITOR: usize = 4;

/// (method, path, kind, status on success)
const SPEC: &[(&str, &str, Kind, u16)] = &[
    ("get", "/people", Any, 200),
    ("post", "/people", Org(ADMIN), 201),
    ("get", "/people/{id}", Scoped(AUDITOR), 200),
    ("patch", "/people/{id}", Scoped(ADMIN), 200),
    ("delete", "/people/{id}", Scoped(ADMIN), 204),
    ("get", "/people/{id}/opt-outs", Scoped(AUDITOR), 200),
    ("post", "/people/{id}/opt-outs", Scoped(ADMIN), 201),
    ("get", "/people/{id}/delivery", Scoped(AUDITOR), 200),
    ("put", "/people/{id}/delivery", Scoped(ADMIN), 200),
    (
        "delete",
        "/people/{id}/opt-outs/{group}",
        Scoped(ADMIN),
        204,
    ),
    ("get", "/people/{id}/access", Scoped(AUDITOR), 200),
    ("get", "/people/{id}/export", Scoped(ADMIN), 200),
    ("post", "/people/{id}/erase", Scoped(ADMIN), 200),
    ("get", "/people/{id}/erase", Scoped(ADMIN), 200),
    ("get", "/people/{id}/memberships", Scoped(AUDITOR), 200),
    ("get", "/fields", Anywhere(AUDITOR), 200),
    ("post", "/fields", Org(ADMIN), 201),
    ("get", "/groups", Any, 200),
    ("post", "/groups", Scoped(MANAGER), 201), // with parent_id: the fixture's group
    ("get", "/groups/standard", Any, 200),
    ("get", "/groups/{id}", Scoped(AUDITOR), 200),
    ("patch", "/groups/{id}", Scoped(MANAGER), 200),
    ("delete", "/groups/{id}", Scoped(MANAGER), 204),
    ("post", "/groups/{id}/activate", Scoped(MANAGER), 200),
    ("post", "/groups/{id}/deactivate", Scoped(MANAGER), 200),
    ("get", "/groups/{id}/members", Scoped(AUDITOR), 200),
    ("post", "/groups/{id}/members", Scoped(MANAGER), 201),
    ("post", "/groups/{id}/members/copy", Scoped(MANAGER), 200),
    (
        "delete",
        "/groups/{id}/members/{person}",
        Scoped(MANAGER),
        204,
    ),
    (
        "patch",
        "/groups/{id}/members/{person}",
        Scoped(MANAGER),
        200,
    ),
    ("post", "/groups/{id}/subgroups", Scoped(MANAGER), 204),
    (
        "delete",
        "/groups/{id}/subgroups/{child}",
        Scoped(MANAGER),
        204,
    ),
    ("put", "/groups/{id}/rule", ScopedOrgWide(MANAGER), 200),
    ("delete", "/groups/{id}/rule", ScopedOrgWide(MANAGER), 204),
    (
        "post",
        "/groups/{id}/rule/dry-run",
        ScopedOrgWide(MANAGER),
        200,
    ),
    ("put", "/groups/{id}/retention", ScopedOrgWide(ADMIN), 200),
    ("get", "/groups/{id}/recipients", Scoped(AUDITOR), 200),
    ("get", "/groups/{id}/opt-outs", Scoped(AUDITOR), 200),
    ("get", "/groups/{id}/settings", Scoped(AUDITOR), 200),
    ("put", "/groups/{id}/settings", Scoped(MANAGER), 200),
    ("get", "/groups/{id}/bounces", Scoped(AUDITOR), 200),
    (
        "post",
        "/groups/{id}/bounces/{person}/enable",
        Scoped(MANAGER),
        200,
    ),
    ("get", "/queue", Org(ADMIN), 200),
    // Allowed callers reach the handler, which answers 404 for the made-up queue id; the
    // others are stopped before it (403).
    ("post", "/queue/{queue_id}/{action}", Org(ADMIN), 404),
    ("get", "/moderation", Any, 200),
    ("get", "/moderation/{id}", Scoped(AUDITOR), 200),
    ("post", "/moderation/{id}/{action}", Scoped(MODERATOR), 200),
    ("get", "/overview", Any, 200),
    ("get", "/me", Any, 200),
    ("get", "/me/tokens", Any, 200),
    ("post", "/me/tokens", Any, 201),
    ("delete", "/me/tokens/{id}", Own, 204),
    ("get", "/accounts", Org(AUDITOR), 200),
    ("post", "/accounts", Org(OWNER), 201),
    ("get", "/accounts/{id}", Org(AUDITOR), 200),
    ("post", "/accounts/{id}/deactivate", Org(OWNER), 200),
    ("post", "/accounts/{id}/reactivate", Org(OWNER), 200),
    ("get", "/grants", Org(AUDITOR), 200),
    ("post", "/grants", Org(OWNER), 201),
    ("delete", "/grants/{id}", Org(OWNER), 204),
    ("get", "/audit", Org(AUDITOR), 200),
    ("post", "/gdpr/cleanup", Org(ADMIN), 200),
    ("get", "/import", Org(ADMIN), 200),
    ("post", "/import", Org(ADMIN), 202),
    // A made-up import id: allowed callers reach the handler (404), the others are stopped (403).
    ("get", "/import/{id}", Org(ADMIN), 404),
    ("post", "/import/{id}/run", Org(ADMIN), 404),
    ("get", "/groups/{id}/archive/imports", Scoped(AUDITOR), 200),
    // The fixture's group has no address: allowed callers reach the handler, which says only
    // lists have archives (422); a made-up import id is the handler's 404.
    ("post", "/groups/{id}/archive/imports", Scoped(MANAGER), 422),
    (
        "get",
        "/groups/{id}/archive/imports/{import}",
        Scoped(AUDITOR),
        404,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    In,
    Out,
}

/// The status the specification demands.
fn expected(kind: Kind, role: usize, org: bool, side: Side, success: u16) -> u16 {
    let sees = role <= AUDITOR && (org || side == Side::In);
    match kind {
        Any => success,
        Own => match side {
            Side::In => success,
            Side::Out => 404,
        },
        Anywhere(need) => {
            if role <= need {
                success
            } else {
                403
            }
        }
        Org(need) => {
            if org && role <= need {
                success
            } else {
                403
            }
        }
        Scoped(need) | ScopedOrgWide(need) => {
            let org_wide = matches!(kind, ScopedOrgWide(_));
            if role <= need && (org || (side == Side::In && !org_wide)) {
                success
            } else if sees {
                403
            } else {
                404
            }
        }
    }
}

/// The objects a request is about, on one side of the department.
#[derive(Debug, Clone, Copy)]
struct Fixture {
    group: i64,
    person: i64,
    child: i64,
    spare_group: i64,
    held: i64,
    account: i64,
    grant: i64,
}

struct World {
    app: TestApp,
    root: Client,
    dept: i64,
    elsewhere: i64,
    n: std::sync::atomic::AtomicUsize,
}

impl World {
    fn fresh(&self, what: &str) -> String {
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("{what}{n}")
    }

    /// New objects inside (under the department) or outside it, as far as `path` needs them.
    /// With `everything`, all kinds of objects whatever the path (the shared fixtures).
    async fn fixture(&self, side: Side, path: &str, everything: bool) -> Fixture {
        let parent = match side {
            Side::In => self.dept,
            Side::Out => self.elsewhere,
        };
        let root = &self.root;
        let name = self.fresh("g");
        let email = format!("{}@x.org", self.fresh("p"));
        let g = group(root, &name, Some(parent), &[&email]).await;
        let person = person_id(root, &email).await;
        let mut f = Fixture {
            group: g,
            person,
            child: 0,
            spare_group: 0,
            held: 0,
            account: 0,
            grant: 0,
        };
        if everything
            || path.contains("{child}")
            || path.contains("/copy")
            || path.ends_with("/subgroups")
        {
            f.child = group(root, &self.fresh("c"), Some(g), &[]).await;
            f.spare_group = group(root, &self.fresh("s"), Some(parent), &[]).await;
        }
        if everything || path.starts_with("/moderation/") {
            let local = self.fresh("list");
            give_address(root, g, &local).await;
            f.held = held_post(&self.app, root, &local).await;
        }
        if everything || path.ends_with("/enable") {
            // Someone disabled for bouncing, as the bounce processor leaves them.
            self.app
                .store
                .opt_out(person, Some(g), "bounce", 0)
                .await
                .unwrap();
        }
        if everything || path.contains("{group}") {
            root.ok(
                "POST",
                &format!("/people/{person}/opt-outs"),
                Some(json!({"group_id": g})),
            )
            .await;
        }
        if everything || path.starts_with("/accounts/{id}") || path.starts_with("/grants") {
            let a = root
                .ok(
                    "POST",
                    "/accounts",
                    Some(json!({"email": format!("{}@x.org", self.fresh("acct"))})),
                )
                .await;
            f.account = a["id"].as_i64().unwrap();
            f.grant = root
                .ok(
                    "POST",
                    "/grants",
                    Some(json!({"role": "limited", "account_id": f.account})),
                )
                .await["id"]
                .as_i64()
                .unwrap();
        }
        f
    }

    /// The concrete path and body of a call to `path` about `f`.
    fn request(
        &self,
        method: &str,
        path: &str,
        f: &Fixture,
        token: i64,
    ) -> (String, Option<Value>) {
        let id = if path.starts_with("/moderation/") {
            f.held
        } else if path.starts_with("/accounts/") {
            f.account
        } else if path.starts_with("/grants/") {
            f.grant
        } else if path.starts_with("/me/tokens/") {
            token
        } else if path.starts_with("/people/") {
            f.person
        } else {
            f.group
        };
        let concrete = path
            .replace("{id}", &id.to_string())
            .replace("{person}", &f.person.to_string())
            .replace("{child}", &f.child.to_string())
            .replace("{group}", &f.group.to_string())
            .replace("{queue_id}", "NOSUCHPOST")
            .replace("{import}", "987654321")
            .replace(
                "{action}",
                if path.starts_with("/queue/") {
                    "retry"
                } else {
                    "discard"
                },
            );
        let rule = json!({"field": "status", "op": "equals", "value": "active"});
        let body = match (method, path) {
            ("post", "/people") | ("post", "/accounts") => {
                Some(json!({"email": format!("{}@x.org", self.fresh("new"))}))
            }
            ("patch", "/people/{id}") => Some(json!({"name": "Renamed"})),
            ("post", "/people/{id}/opt-outs") => Some(json!({})),
            ("put", "/people/{id}/delivery") => Some(json!({})),
            ("post", "/fields") => Some(json!({"name": self.fresh("field"), "kind": "checkbox"})),
            ("post", "/groups") => Some(json!({"name": self.fresh("named"), "parent_id": f.group})),
            ("patch", "/groups/{id}") => Some(json!({"name": self.fresh("named")})),
            ("post", "/groups/{id}/members") => {
                Some(json!({"email": format!("{}@x.org", self.fresh("m"))}))
            }
            ("post", "/groups/{id}/members/copy") => Some(json!({"from_group": f.child})),
            ("post", "/groups/{id}/subgroups") => Some(json!({"group_id": f.spare_group})),
            ("patch", "/groups/{id}/members/{person}") => Some(json!({"role": "member"})),
            ("put", "/groups/{id}/rule") | ("post", "/groups/{id}/rule/dry-run") => {
                Some(json!({ "rule": rule }))
            }
            ("put", "/groups/{id}/retention") => Some(json!({"years": 10})),
            ("put", "/groups/{id}/settings") => Some(json!({})),
            ("post", "/me/tokens") => Some(json!({"name": "matrix"})),
            ("post", "/grants") => Some(json!({"role": "limited", "account_id": f.account})),
            ("post", "/gdpr/cleanup") => Some(json!({"resigned_years": 2})),
            ("post", "/import") => Some(json!({"csv": "email\n"})),
            _ => None,
        };
        (concrete, body)
    }
}

#[test]
fn the_matrix_covers_every_route_of_the_router_and_of_the_openapi_document() {
    let table: BTreeSet<(String, String)> = SPEC
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(
        routed.difference(&table).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "routes without a row in the authorization matrix"
    );
    assert_eq!(
        table.difference(&routed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "matrix rows for routes that do not exist"
    );
    assert_eq!(SPEC.len(), table.len(), "a route twice in the matrix");
    let library: Vec<&str> = circlemail::admin::access::Role::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(library, ROLES, "the roles, highest first");
    let doc = circlemail::http::api::openapi::spec();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    assert_eq!(
        documented, routed,
        "the OpenAPI document and the router differ"
    );
}

on_both_backends!(
    every_route_every_role_in_and_out_of_scope_answers_the_exact_status,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let dept = group(&root, "Department", None, &[]).await;
        let elsewhere = group(&root, "Elsewhere", None, &[]).await;
        let world = World {
            app,
            root: root.clone(),
            dept,
            elsewhere,
            n: Default::default(),
        };
        // One account per role and scope kind: (role index, organisation-wide, client, id).
        let mut callers = Vec::new();
        for (role, name) in ROLES.iter().enumerate() {
            for org in [true, false] {
                let email = format!("{name}-{}@x.org", if org { "org" } else { "dept" });
                let scope = (!org).then_some(dept);
                let (id, _, client) =
                    account(&root, &world.app.store, &email, Some(name), scope).await;
                callers.push((role, org, client, id));
            }
        }
        // Someone else's token, for "not your token".
        let (other, _, _) = account(&root, &world.app.store, "other@x.org", None, None).await;
        let others_token = world
            .app
            .store
            .add_token(other, "other", &hash_token("cm_other"), 0)
            .await
            .unwrap()
            .id;
        let shared = [
            world.fixture(Side::In, "", true).await,
            world.fixture(Side::Out, "", true).await,
        ];

        let mut checked = 0;
        let mut failures = Vec::new();
        for &(method, path, kind, success) in SPEC {
            // Without a token: 401, whatever the route.
            let (p, _) = world.request(method, path, &shared[0], 0);
            let anonymous = request(
                world.app.http,
                &method.to_uppercase(),
                &format!("/api/v1{p}"),
                None,
                None,
            )
            .await;
            assert_eq!(anonymous.status, 401, "{method} {path} without a token");
            for (role, org, client, _) in &callers {
                for side in [Side::In, Side::Out] {
                    let want = expected(kind, *role, *org, side, success);
                    let changes = method != "get";
                    let f = if changes && want == success {
                        world.fixture(side, path, false).await
                    } else {
                        shared[side as usize]
                    };
                    let token = match side {
                        Side::In if path == "/me/tokens/{id}" => client
                            .ok("POST", "/me/tokens", Some(json!({"name": "to revoke"})))
                            .await["id"]
                            .as_i64()
                            .unwrap(),
                        _ => others_token,
                    };
                    let (concrete, body) = world.request(method, path, &f, token);
                    let r = client.call(&method.to_uppercase(), &concrete, body).await;
                    checked += 1;
                    if r.status != want {
                        failures.push(format!(
                            "{method} {path} as {} ({}) on an object {side:?}side: {} (wanted {want}) {}",
                            ROLES[*role],
                            if *org { "organisation" } else { "department" },
                            r.status,
                            r.body.chars().take(160).collect::<String>()
                        ));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(checked, SPEC.len() * ROLES.len() * 2 * 2);
        world.app.stop().await;
    }
);
