//! The administrators' group pages: overview, the groups tree, a group (members with terms,
//! paging and search, copy to the next term, subgroups and the cycle sentence), the rule editor
//! with its count, recipients with explain, opt-outs, bounces, list settings with the preview;
//! the page table walked with every role; `<script>` in every user-entered field escaped; a
//! department's manager and an auditor.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{
    admin::{BREAK_GLASS, Client, account, group, person_id},
    app::{DOMAIN, TestApp, web_config},
    db::TestDb,
    sink::Sink,
    web::{Page, WebClient, sign_in},
};
use circlemail::http::web::pages;

async fn start(db: &TestDb) -> (TestApp, Sink, Client) {
    let sink = Sink::start().await;
    let mut config = web_config(&db.url, sink.addr);
    config.http.api_token = Some(circlemail::config::Secret::new(BREAK_GLASS));
    let app = TestApp::spawn(config).await;
    let root = Client {
        http: app.http,
        token: BREAK_GLASS.into(),
    };
    (app, sink, root)
}

/// Signs in a new web client as `email`.
async fn web_as(app: &TestApp, sink: &Sink, email: &str) -> WebClient {
    let web = WebClient::new(app.http);
    sign_in(&web, sink, email).await;
    web
}

/// POSTs a form from `page_path`'s form token; follows a 303 to its page.
async fn act(web: &WebClient, page_path: &str, action: &str, fields: &[(&str, &str)]) -> Page {
    let done = web.submit(page_path, action, fields).await;
    match (done.status, done.location()) {
        (303, Some(to)) => {
            let to = to.to_string();
            let page = web.get(&to).await;
            assert_eq!(page.status, 200, "{to}: {}", page.body);
            page
        }
        _ => done,
    }
}

fn group_id_of(location: &str) -> i64 {
    location
        .trim_start_matches("/admin/groups/")
        .split(['?', '/'])
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no group in {location}"))
}

on_both_backends!(
    an_owner_runs_groups_members_rules_and_settings,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        let web = web_as(&app, &sink, "ana@club.example").await;

        // A department, and a list inside it.
        let made = web
            .submit("/admin/groups", "/admin/groups", &[("name", "Youth")])
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        let youth = group_id_of(made.location().unwrap());
        let youth_s = youth.to_string();
        let address = format!("youth-board@{DOMAIN}");
        let made = web
            .submit(
                "/admin/groups",
                "/admin/groups",
                &[
                    ("name", "Youth board"),
                    ("address", &address),
                    ("parent_id", &youth_s),
                ],
            )
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        let board = group_id_of(made.location().unwrap());
        let gp = format!("/admin/groups/{board}");

        // The tree shows the board under Youth.
        let tree = web.get("/admin/groups").await;
        assert_eq!(tree.status, 200);
        let y = tree.body.find(">Youth<").expect("Youth in the tree");
        let b = tree
            .body
            .find(">Youth board<")
            .expect("the board in the tree");
        assert!(y < b);
        assert!(tree.body.contains("class=\"d1\""), "{}", tree.body);

        // Members with terms.
        let page = act(
            &web,
            &gp,
            &format!("{gp}/members"),
            &[
                ("email", "cleo@x.org"),
                ("name", "Cleo"),
                ("role", "manager"),
                ("valid_from", "2026-01-01"),
                ("valid_until", "2026-12-31"),
            ],
        )
        .await;
        assert!(page.body.contains("cleo@x.org"), "{}", page.body);
        act(
            &web,
            &gp,
            &format!("{gp}/members"),
            &[("email", "dan@x.org"), ("role", "member")],
        )
        .await;
        // Search finds one; found by person search and added elsewhere.
        let found = web.get(&format!("{gp}?q=cleo")).await;
        assert!(found.body.contains("cleo@x.org") && !found.body.contains("dan@x.org"));
        // Change a term.
        let cleo = person_id(&root, "cleo@x.org").await;
        let page = act(
            &web,
            &gp,
            &format!("{gp}/members/{cleo}/change"),
            &[
                ("term_from", "2026-01-01"),
                ("role", "member"),
                ("valid_from", "2026-02-01"),
                ("valid_until", "2099-12-31"),
            ],
        )
        .await;
        assert!(page.body.contains("2026-02-01"), "{}", page.body);
        let m = root
            .ok("GET", &format!("/groups/{board}/members"), None)
            .await;
        let row = m["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == "cleo@x.org")
            .unwrap()
            .clone();
        assert_eq!(row["role"], "member");
        assert_eq!(row["valid_from"], "2026-02-01");
        // Copy to the next term: the members whose term is current (Cleo, Dan), not a term
        // that is over.
        act(
            &web,
            &gp,
            &format!("{gp}/members"),
            &[
                ("email", "past@x.org"),
                ("role", "member"),
                ("valid_from", "2020-01-01"),
                ("valid_until", "2020-12-31"),
            ],
        )
        .await;
        act(
            &web,
            &gp,
            &format!("{gp}/copy"),
            &[("valid_from", "2030-01-01"), ("valid_until", "2030-12-31")],
        )
        .await;
        let m = root
            .ok("GET", &format!("/groups/{board}/members"), None)
            .await;
        assert_eq!(m["total"], 5, "{m}");
        let copied: Vec<&str> = m["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["valid_from"] == "2030-01-01")
            .filter_map(|r| r["email"].as_str())
            .collect();
        assert_eq!(copied, ["cleo@x.org", "dan@x.org"], "{m}");

        // Each member's delivery on the group page: Dan switched to a daily digest, Cleo
        // pausing all list mail.
        let dan = person_id(&root, "dan@x.org").await;
        root.ok(
            "PUT",
            &format!("/people/{dan}/delivery"),
            Some(json!({ "group_id": board, "mode": "daily" })),
        )
        .await;
        let now = circlemail::clock::Clock::now_ms(&circlemail::clock::SystemClock);
        let back = chrono::DateTime::from_timestamp_millis(now + 10 * 86_400_000)
            .map(|t| t.date_naive().format("%Y-%m-%d").to_string())
            .unwrap();
        root.ok(
            "PUT",
            &format!("/people/{cleo}/delivery"),
            Some(json!({ "pause_until": back })),
        )
        .await;
        let m = root
            .ok("GET", &format!("/groups/{board}/members?q=dan"), None)
            .await;
        assert_eq!(m["members"][0]["delivery"], "daily", "{m}");
        let row_of = |body: &str, email: &str| -> String {
            let at = body
                .find(email)
                .unwrap_or_else(|| panic!("{email} in {body}"));
            let end = body[at..].find("</tr>").map_or(body.len(), |e| at + e);
            body[at..end].to_string()
        };
        let page = web.get(&format!("{gp}?q=x.org")).await;
        assert!(
            row_of(&page.body, "dan@x.org").contains("daily digest"),
            "{}",
            page.body
        );
        let cleo_row = row_of(&page.body, "cleo@x.org");
        assert!(cleo_row.contains("every post"), "{cleo_row}");
        assert!(
            cleo_row.contains(&format!("paused until {back}")),
            "{cleo_row}"
        );
        assert!(row_of(&page.body, "past@x.org").contains("every post"));
        let rec = web.get(&format!("{gp}/recipients?q=dan")).await;
        assert!(
            row_of(&rec.body, "dan@x.org").contains("daily digest"),
            "{}",
            rec.body
        );
        web.set_cookie("cm_lang", "sv");
        let sv = web.get(&format!("{gp}?q=dan")).await;
        assert!(
            row_of(&sv.body, "dan@x.org").contains("dagligt sammandrag"),
            "{}",
            sv.body
        );
        web.set_cookie("cm_lang", "en");

        // Paging: 120 more members, 50 a page, searched by the API.
        for i in 0..120 {
            root.ok(
                "POST",
                &format!("/groups/{board}/members"),
                Some(json!({ "email": format!("m{i:03}@y.org") })),
            )
            .await;
        }
        let first = web.get(&gp).await;
        assert!(first.body.contains("125"), "the total");
        assert!(first.body.contains("rel=\"next\""));
        let third = web.get(&format!("{gp}?page=3")).await;
        assert!(third.body.contains("Page 3 / 3"), "{}", third.body);
        let m = root
            .ok(
                "GET",
                &format!("/groups/{board}/members?q=m11&limit=5"),
                None,
            )
            .await;
        assert_eq!(m["total"], 10);
        assert_eq!(m["members"].as_array().unwrap().len(), 5);
        // Unsearched pages (from the directory) walk every term once, by address then start.
        let rows = |m: &serde_json::Value| -> Vec<(String, String)> {
            m["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["email"].as_str().unwrap().to_lowercase(),
                        r["valid_from"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        };
        let mut expected = rows(
            &root
                .ok("GET", &format!("/groups/{board}/members"), None)
                .await,
        );
        expected.sort();
        let mut walked = Vec::new();
        for offset in (0..expected.len() + 7).step_by(7) {
            let m = root
                .ok(
                    "GET",
                    &format!("/groups/{board}/members?limit=7&offset={offset}"),
                    None,
                )
                .await;
            assert_eq!(m["total"], 125, "{m}");
            walked.extend(rows(&m));
        }
        assert_eq!(walked, expected);

        // Subgroups, and a cycle refused with a sentence.
        let youth_page = format!("/admin/groups/{youth}");
        let board_s = board.to_string();
        // (the board is already inside Youth: created there)
        let refused = web
            .submit(&gp, &format!("{gp}/subgroups"), &[("group_id", &youth_s)])
            .await;
        assert_eq!(refused.status, 409, "{}", refused.body);
        assert!(refused.body.contains("cycle"), "{}", refused.body);
        let yp = web.get(&youth_page).await;
        assert!(yp.body.contains(&format!("/admin/groups/{board_s}\"")));

        // The rule editor: Count without script, JSON for the script.
        let rp = format!("{gp}/rule");
        let counted = web
            .submit(
                &rp,
                &format!("{rp}/count"),
                &[
                    ("combine", "all"),
                    ("field0", "status"),
                    ("op0", "equals"),
                    ("value0", "active"),
                ],
            )
            .await;
        assert_eq!(counted.status, 200, "{}", counted.body);
        assert!(counted.body.contains("people match"), "{}", counted.body);
        let csrf = web.get(&rp).await.csrf();
        let live = web
            .send(
                "POST",
                &format!("{rp}/count"),
                Some(b"field0=team&op0=equals&value0=nobody-has-this"),
                &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Accept", "application/json"),
                    ("X-CSRF-Token", &csrf),
                ],
            )
            .await;
        assert_eq!(live.status, 200, "{}", live.body);
        let j: serde_json::Value = serde_json::from_str(&live.body).unwrap();
        assert_eq!(j["matches"], 0, "{j}");
        let saved = act(
            &web,
            &rp,
            &rp,
            &[
                ("field0", "status"),
                ("op0", "equals"),
                ("value0", "active"),
            ],
        )
        .await;
        assert!(saved.body.contains("The rule was saved"), "{}", saved.body);

        // Recipients, with why each is there.
        let rec = web.get(&format!("{gp}/recipients")).await;
        assert_eq!(rec.status, 200);
        assert!(rec.body.contains("dan@x.org"));
        let why = web.get(&format!("{gp}/recipients?person={dan}")).await;
        assert!(why.body.contains("Receives the list"), "{}", why.body);

        // Settings: every setting shown; a change shows in the preview.
        let sp = format!("{gp}/settings");
        let s = web.get(&sp).await;
        for name in [
            "who_may_post",
            "post_groups",
            "allowed_senders",
            "member_action",
            "nonmember_action",
            "max_message_size",
            "max_recipients",
            "posts_per_hour",
            "unsubscribe_links",
            "unsubscribe_footer",
            "self_subscribe",
            "dmarc_fail_action",
            "hold_days",
            "from_mode",
            "reply_to",
            "reply_to_address",
            "to_mode",
            "subject_prefix",
            "header_text",
            "footer_text",
            "language",
            "archive_url",
            "help_url",
            "skip_addressed_members",
            "author_receives_own",
        ] {
            assert!(
                s.body.contains(&format!("name=\"{name}\"")),
                "{name} is on the settings page"
            );
        }
        let after = act(
            &web,
            &sp,
            &sp,
            &[
                ("who_may_post", "members"),
                ("member_action", "hold"),
                ("nonmember_action", "hold"),
                ("dmarc_fail_action", "hold"),
                ("hold_days", "10"),
                ("from_mode", "via_group"),
                ("reply_to", "list"),
                ("to_mode", "as_written"),
                ("subject_prefix", "[Youth]"),
                ("language", "sv"),
                ("unsubscribe_links", "on"),
            ],
        )
        .await;
        assert!(
            after.body.contains("[Youth] Re: Meeting on Tuesday"),
            "{}",
            after.body
        );
        assert!(after.body.contains("Ana Andersson via Youth board"));
        let stored = root
            .ok("GET", &format!("/groups/{board}/settings"), None)
            .await;
        assert_eq!(stored["hold_days"], 10);
        assert_eq!(stored["reply_to"], "list");
        assert_eq!(stored["self_subscribe"], false);

        for sub in ["opt-outs", "bounces"] {
            let p = web.get(&format!("{gp}/{sub}")).await;
            assert_eq!(p.status, 200, "{sub}: {}", p.body);
        }
        let o = web.get("/admin").await;
        assert_eq!(o.status, 200);
        assert!(o.body.contains("Youth board"), "{}", o.body);

        // Rename, address, deactivate, activate.
        let p = act(
            &web,
            &gp,
            &gp,
            &[("name", "Youth committee"), ("address", &address)],
        )
        .await;
        assert_eq!(p.h1(), "Youth committee");
        let p = act(&web, &gp, &format!("{gp}/deactivate"), &[]).await;
        assert!(p.body.contains("inactive"));
        let p = act(&web, &gp, &format!("{gp}/activate"), &[]).await;
        assert!(!p.body.contains("<span class=\"tag\">inactive"));
        // Remove a member.
        act(&web, &gp, &format!("{gp}/members/{dan}/remove"), &[]).await;
        let m = root
            .ok("GET", &format!("/groups/{board}/members?q=dan"), None)
            .await;
        assert_eq!(m["total"], 0);
    }
);

on_both_backends!(
    every_user_field_shows_escaped_on_every_page,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
        let evil = "<script>alert(1)</script>";
        let g = group(&root, evil, None, &[]).await;
        root.ok(
            "PATCH",
            &format!("/groups/{g}"),
            Some(json!({ "address": format!("evil@{DOMAIN}") })),
        )
        .await;
        root.ok(
            "POST",
            &format!("/groups/{g}/members"),
            Some(json!({ "email": "eve@x.org", "name": evil })),
        )
        .await;
        let child = group(&root, &format!("child {evil}"), Some(g), &[]).await;
        let _ = child;
        root.ok(
            "PUT",
            &format!("/groups/{g}/settings"),
            Some(
                json!({ "subject_prefix": evil, "footer_text": evil, "header_text": evil,
                          "reply_to_address": "x@y.org", "allowed_senders": ["a@b.org"] }),
            ),
        )
        .await;
        root.ok(
            "PUT",
            &format!("/groups/{g}/rule"),
            Some(json!({ "rule": { "field": "team", "op": "equals", "value": evil } })),
        )
        .await;
        let web = web_as(&app, &sink, "ana@club.example").await;
        let eve = person_id(&root, "eve@x.org").await;
        for path in [
            "/admin".to_string(),
            "/admin/groups".into(),
            format!("/admin/groups/{g}"),
            format!("/admin/groups/{g}?find=eve"),
            format!("/admin/groups/{g}/rule"),
            format!("/admin/groups/{g}/recipients"),
            format!("/admin/groups/{g}/recipients?person={eve}"),
            format!("/admin/groups/{g}/settings"),
            format!("/admin/groups/{g}/opt-outs"),
            format!("/admin/groups/{g}/bounces"),
        ] {
            let p = web.get(&path).await;
            assert_eq!(p.status, 200, "{path}: {}", p.body);
            assert!(
                !p.body.contains("<script>alert"),
                "{path} shows a user's <script> unescaped"
            );
            assert!(p.header("content-security-policy").is_some());
        }
        let p = web.get(&format!("/admin/groups/{g}/settings")).await;
        assert!(p.body.contains("&#60;script&#62;") || p.body.contains("&lt;script&gt;"));
    }
);

/// Fills a page path's placeholders with objects of the test.
fn concrete(path: &str, group: i64, person: i64, child: i64) -> String {
    path.replace("{id}", &group.to_string())
        .replace("{person}", &person.to_string())
        .replace("{child}", &child.to_string())
        .replace("{token}", "cs_nothing")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_page_with_every_role() {
    use circlemail::{admin::access::Role, http::api::routes::Target};
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let (app, sink, root) = start(&db).await;
    let north = group(&root, "North", None, &["nils@x.org"]).await;
    let north_list = group(&root, "North list", Some(north), &["nina@x.org"]).await;
    let south = group(&root, "South", None, &["sven@x.org"]).await;
    let south_list = group(&root, "South list", Some(south), &["sara@x.org"]).await;
    let nina = person_id(&root, "nina@x.org").await;
    let sara = person_id(&root, "sara@x.org").await;
    // (role, scope)
    let who: Vec<(&str, Option<i64>, Role)> = vec![
        ("owner", None, Role::Owner),
        ("administrator", None, Role::Administrator),
        ("group_manager", None, Role::GroupManager),
        ("moderator", None, Role::Moderator),
        ("auditor", None, Role::Auditor),
        ("group_manager", Some(north), Role::GroupManager),
        ("auditor", Some(north), Role::Auditor),
    ];
    let unknown = {
        let w = WebClient::new(app.http);
        w.get("/admin/no-such-page").await.body
    };
    for (i, (role, scope, level)) in who.iter().enumerate() {
        let email = format!("a{i}@club.example");
        account(&root, &app.store, &email, Some(role), *scope).await;
        let web = web_as(&app, &sink, &email).await;
        let csrf = web.get("/account").await.csrf();
        for spec in pages::all().filter(|p| p.path.starts_with("/admin")) {
            let Some(api) = spec.api_spec() else { continue };
            for (g, person, child, inside) in [
                (north_list, nina, north_list, true),
                (south_list, sara, south_list, scope.is_none()),
            ] {
                let path = concrete(spec.path, g, person, child);
                let org = scope.is_none();
                let need = api.rule.role;
                let allowed = match api.rule.target {
                    Target::Any => true,
                    Target::ParentInBody => *level >= need,
                    Target::Org | Target::GroupOrgWide => org && *level >= need,
                    Target::Anywhere => *level >= need,
                    _ => inside && *level >= need,
                };
                if spec.method == "get" {
                    let p = web.get(&path).await;
                    if allowed {
                        assert!(
                            p.status == 200 || p.status == 404,
                            "{role} {scope:?} GET {path}: {} {}",
                            p.status,
                            p.body
                        );
                        if p.status == 404 {
                            // A page whose object is no such thing for it (a group as a post).
                            assert_eq!(p.body, unknown, "{role} GET {path}");
                        }
                    } else if !inside
                        && spec.path.contains("{id}")
                        && api.rule.target == Target::Group
                    {
                        assert_eq!(p.status, 404, "{role} {scope:?} GET {path}");
                        assert_eq!(p.body, unknown, "{role} GET {path}: the same 404 page");
                    } else {
                        assert!(
                            p.status == 403 || p.status == 404,
                            "{role} {scope:?} GET {path}: {}",
                            p.status
                        );
                    }
                } else if !allowed {
                    let p = web.post(&path, &[("csrf", &csrf), ("name", "x")]).await;
                    assert!(
                        p.status == 403 || p.status == 404,
                        "{role} {scope:?} POST {path} was not refused: {} {}",
                        p.status,
                        p.body
                    );
                }
            }
        }
    }
    // Nothing changed by the refused POSTs: the lists keep their names and members.
    let g = root.ok("GET", &format!("/groups/{south_list}"), None).await;
    assert_eq!(g["name"], "South list");
    let m = root
        .ok("GET", &format!("/groups/{south_list}/members"), None)
        .await;
    assert_eq!(m["total"], 1);
}

on_both_backends!(
    a_department_manager_sees_only_the_department_and_an_auditor_changes_nothing,
    async |db: &TestDb| {
        let (app, sink, root) = start(db).await;
        let north = group(&root, "North", None, &[]).await;
        let north_list = group(&root, "North list", Some(north), &["nina@x.org"]).await;
        let south = group(&root, "South", None, &[]).await;
        let south_list = group(&root, "South list", Some(south), &["sara@x.org"]).await;
        account(
            &root,
            &app.store,
            "nm@club.example",
            Some("group_manager"),
            Some(north),
        )
        .await;
        account(&root, &app.store, "au@club.example", Some("auditor"), None).await;

        let nm = web_as(&app, &sink, "nm@club.example").await;
        let tree = nm.get("/admin/groups").await;
        assert!(tree.body.contains("North list"));
        assert!(!tree.body.contains("South"), "{}", tree.body);
        let unknown = nm.get("/admin/groups/999999").await;
        let other = nm.get(&format!("/admin/groups/{south_list}")).await;
        assert_eq!(other.status, 404);
        assert_eq!(other.body, unknown.body, "the same 404 page");
        // Creating inside the department works; at the top it does not.
        let made = nm
            .submit(
                "/admin/groups",
                "/admin/groups",
                &[("name", "North youth"), ("parent_id", &north.to_string())],
            )
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        let top = nm
            .submit("/admin/groups", "/admin/groups", &[("name", "Top")])
            .await;
        assert_eq!(top.status, 403);

        let au = web_as(&app, &sink, "au@club.example").await;
        for path in [
            format!("/admin/groups/{north_list}"),
            format!("/admin/groups/{north_list}/rule"),
            format!("/admin/groups/{north_list}/settings"),
            format!("/admin/groups/{north_list}/bounces"),
            "/admin/groups".to_string(),
        ] {
            let p = au.get(&path).await;
            assert_eq!(p.status, 200, "{path}");
            let changing = p
                .body
                .matches("<form method=\"post\" action=\"/admin")
                .count();
            assert_eq!(
                changing, 0,
                "{path} offers an auditor a change:\n{}",
                p.body
            );
            assert!(!p.body.contains("id=\"save-settings\""));
        }
        // A hand-made POST (with a valid form token) is refused, and changes nothing.
        let csrf = au.get("/account").await.csrf();
        let p = au
            .post(
                &format!("/admin/groups/{north_list}/members"),
                &[("csrf", &csrf), ("email", "intruder@x.org")],
            )
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
        let m = root
            .ok("GET", &format!("/groups/{north_list}/members"), None)
            .await;
        assert_eq!(m["total"], 1);
    }
);

/// Signs the browser in by the link the sink catches; lands on the overview.
async fn browser_sign_in(
    b: &crate::support::browser::Browser,
    app: &TestApp,
    sink: &Sink,
    email: &str,
) {
    b.open(&format!("http://{}/admin", app.http)).await;
    b.wait_for_text("h1", "Sign in").await;
    b.fill("#address", email).await;
    b.click("#send").await;
    b.wait_for_text("h1", "Check your mail").await;
    let link = crate::support::web::mailed_link(sink, email, 0).await;
    b.open(&link).await;
    b.click("#signin").await;
    b.wait_for_text("h1", "Overview").await;
}

/// Where the README's screenshots are kept.
fn shots() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/screenshots").to_string();
    std::fs::create_dir_all(&dir).expect("docs/screenshots");
    dir
}

/// Sets a form field's value by script (date fields take typing in the browser's locale).
async fn set_value(b: &crate::support::browser::Browser, css: &str, value: &str) {
    b.run(&format!(
        "document.querySelector({}).value = {}; return true;",
        serde_json::to_string(css).unwrap(),
        serde_json::to_string(value).unwrap()
    ))
    .await;
}

/// In Chromium at phone width: sign in by the mailed link, create a list inside a department,
/// add members with terms, edit a rule and watch the count change, change a setting and find
/// it in the next delivered copy. Screenshots of the main pages at phone (390 px) and desktop
/// (1280 px) width go to docs/screenshots/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_builds_a_list_in_chromium() {
    // On the heap: the whole flow is one large future.
    Box::pin(owner_flow_in_chromium()).await;
}

async fn owner_flow_in_chromium() {
    use crate::support::{browser::Browser, db::Backend};
    let db = TestDb::new(Backend::Sqlite, None).await;
    let (app, sink, root) = start(&db).await;
    account(&root, &app.store, "ana@club.example", Some("owner"), None).await;
    let b = Browser::start(390, 844).await;
    Box::pin(browser_sign_in(&b, &app, &sink, "ana@club.example")).await;
    let base = format!("http://{}", app.http);
    let board = Box::pin(chromium_list_with_members(&b, &base)).await;
    let gp = format!("{base}/admin/groups/{board}");
    Box::pin(chromium_rule(&b, &gp)).await;
    Box::pin(chromium_setting_in_next_copy(&b, &app, &sink, &gp)).await;
    Box::pin(chromium_screenshots(&b, &base, board)).await;
    b.quit().await;
    app.stop().await;
}

/// A department, a list inside it, members with terms; the list's id.
async fn chromium_list_with_members(b: &crate::support::browser::Browser, base: &str) -> i64 {
    b.open(&format!("{base}/admin/groups")).await;
    b.fill("#new-group input[name=name]", "Youth").await;
    b.click("#new-group button").await;
    b.wait_for_text("h1", "Youth").await;
    let youth = group_id_of(&path_only(&b.url().await));
    b.open(&format!("{base}/admin/groups")).await;
    b.fill("#new-group input[name=name]", "Youth board").await;
    b.fill(
        "#new-group input[name=address]",
        &format!("youth-board@{DOMAIN}"),
    )
    .await;
    b.select("#new-group select[name=parent_id]", &youth.to_string())
        .await;
    b.click("#new-group button").await;
    b.wait_for_text("h1", "Youth board").await;
    let board = group_id_of(&path_only(&b.url().await));
    let gp = format!("{base}/admin/groups/{board}");
    for (email, role, from, until) in [
        ("cleo@x.org", "manager", "2020-01-01", "2099-12-31"),
        ("dan@x.org", "member", "", ""),
        ("eva@x.org", "member", "2020-01-01", "2099-12-31"),
    ] {
        b.open(&gp).await;
        b.fill("#add-member input[name=email]", email).await;
        b.select("#add-member select[name=role]", role).await;
        set_value(b, "#add-member input[name=valid_from]", from).await;
        set_value(b, "#add-member input[name=valid_until]", until).await;
        b.click("#add-member button").await;
        b.wait_for_text(".notice", "Added").await;
    }
    assert!(b.text("main").await.contains("eva@x.org"));
    assert!(b.fits_width().await, "the group page fits a phone");
    b.screenshot_to(&shots(), "group-phone").await;
    board
}

/// The rule's count follows the rule as it changes (the page's script), and the Count button
/// works without it.
async fn chromium_rule(b: &crate::support::browser::Browser, gp: &str) {
    b.open(&format!("{gp}/rule")).await;
    b.select("select[name=field0]", "status").await;
    b.select("select[name=op0]", "equals").await;
    b.fill("input[name=value0]", "active").await;
    let active = b.wait_for_text("#rule-count", "people match").await;
    b.fill("input[name=value0]", "resigned").await;
    b.wait_for_text("#rule-count", "0 people match").await;
    assert_ne!(active, "0 people match", "the count changed with the rule");
    b.click("#count").await;
    b.wait_for_text("#rule-count", "0 people match").await;
    b.screenshot_to(&shots(), "rule-phone").await;
}

/// A setting changed on the page shows in the next delivered copy.
async fn chromium_setting_in_next_copy(
    b: &crate::support::browser::Browser,
    app: &TestApp,
    sink: &Sink,
    gp: &str,
) {
    b.open(&format!("{gp}/settings")).await;
    b.fill("#s-subject_prefix", "[Youth]").await;
    b.click("#save-settings").await;
    b.wait_for_text(".notice", "Saved").await;
    assert!(
        b.text("#preview")
            .await
            .contains("[Youth] Re: Meeting on Tuesday")
    );
    assert!(b.fits_width().await, "the settings fit a phone");
    b.screenshot_to(&shots(), "settings-phone").await;
    let (mut c, _) = crate::support::smtp::Client::connect(app.smtp).await;
    c.cmd("EHLO client").await;
    let to = format!("youth-board@{DOMAIN}");
    let r = c
        .post(
            "cleo@x.org",
            &[&to],
            &crate::support::app::message("cleo@x.org", &to, "Camp", "See you."),
        )
        .await;
    assert!(r.starts_with("250"), "{r}");
    sink.wait_for_recipients(3, std::time::Duration::from_secs(15))
        .await;
    let copy = sink
        .messages()
        .into_iter()
        .find(|m| m.rcpts == ["dan@x.org"])
        .expect("dan's copy");
    assert_eq!(copy.header("Subject").as_deref(), Some("[Youth] Camp"));
}

/// The main pages at phone and desktop width, for the README.
async fn chromium_screenshots(b: &crate::support::browser::Browser, base: &str, board: i64) {
    for (name, path) in [
        ("overview", "/admin".to_string()),
        ("groups", "/admin/groups".into()),
        ("recipients", format!("/admin/groups/{board}/recipients")),
    ] {
        b.open(&format!("{base}{path}")).await;
        b.wait_for("main h1").await;
        assert!(b.fits_width().await, "{path} fits a phone");
        b.screenshot_to(&shots(), &format!("{name}-phone")).await;
    }
    b.resize(1280, 900).await;
    for (name, path) in [
        ("overview", "/admin".to_string()),
        ("groups", "/admin/groups".into()),
        ("group", format!("/admin/groups/{board}")),
        ("rule", format!("/admin/groups/{board}/rule")),
        ("settings", format!("/admin/groups/{board}/settings")),
        ("recipients", format!("/admin/groups/{board}/recipients")),
    ] {
        b.open(&format!("{base}{path}")).await;
        b.wait_for("main h1").await;
        assert!(b.fits_width().await, "{path} fits a desktop");
        b.screenshot_to(&shots(), &format!("{name}-desktop")).await;
    }
}

/// In Chromium: a department's manager sees only the department (another department's group
/// is the 404 page); an auditor sees no button that changes anything, and a POST made by hand
/// in the page is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_and_an_auditor_in_chromium() {
    use crate::support::{browser::Browser, db::Backend};
    let db = TestDb::new(Backend::Sqlite, None).await;
    let (app, sink, root) = start(&db).await;
    let north = group(&root, "North", None, &[]).await;
    let north_list = group(&root, "North list", Some(north), &["nina@x.org"]).await;
    let south = group(&root, "South", None, &[]).await;
    let south_list = group(&root, "South list", Some(south), &["sara@x.org"]).await;
    account(
        &root,
        &app.store,
        "nm@club.example",
        Some("group_manager"),
        Some(north),
    )
    .await;
    account(&root, &app.store, "au@club.example", Some("auditor"), None).await;
    let base = format!("http://{}", app.http);

    let b = Browser::start(390, 844).await;
    browser_sign_in(&b, &app, &sink, "nm@club.example").await;
    b.open(&format!("{base}/admin/groups")).await;
    let tree = b.text("main").await;
    assert!(
        tree.contains("North list") && !tree.contains("South"),
        "{tree}"
    );
    b.open(&format!("{base}/admin/groups/{south_list}")).await;
    b.wait_for_text("h1", "Not found").await;
    b.open(&format!("{base}/admin/groups/{north_list}")).await;
    b.wait_for_text("h1", "North list").await;
    assert!(
        b.find("#add-member").await.is_some(),
        "a manager may add members"
    );
    b.quit().await;

    let b = Browser::start(390, 844).await;
    browser_sign_in(&b, &app, &sink, "au@club.example").await;
    for path in [
        format!("/admin/groups/{north_list}"),
        format!("/admin/groups/{north_list}/settings"),
        format!("/admin/groups/{north_list}/rule"),
        "/admin/groups".to_string(),
    ] {
        b.open(&format!("{base}{path}")).await;
        b.wait_for("main h1").await;
        let changing = b
            .find_all("main form[method=post], main button.primary, main button.danger")
            .await;
        assert!(changing.is_empty(), "{path} offers an auditor a change");
    }
    b.open(&format!("{base}/admin/groups/{north_list}")).await;
    b.run(&format!(
        "var f = document.createElement('form'); f.method = 'post'; \
         f.action = '/admin/groups/{north_list}/members'; \
         var t = document.createElement('input'); t.name = 'csrf'; \
         t.value = document.querySelector('meta[name=csrf-token]').content; f.appendChild(t); \
         var e = document.createElement('input'); e.name = 'email'; e.value = 'intruder@x.org'; \
         f.appendChild(e); document.body.appendChild(f); f.submit(); return true;"
    ))
    .await;
    b.wait_for_text("h1", "Not allowed").await;
    b.quit().await;
    let m = root
        .ok("GET", &format!("/groups/{north_list}/members"), None)
        .await;
    assert_eq!(m["total"], 1, "nothing was added");
    app.stop().await;
}

fn path_only(url: &str) -> String {
    crate::support::web::path_of(url)
}
