//! Personal accounts: bootstrap, tokens, deactivation, last owner, the cap, rights through
//! group membership and management, scopes, the audit log and the access report.

use std::process::Command;

use serde_json::json;

use crate::on_both_backends;
use crate::support::{
    admin::{self, Client, account, group, person_id},
    db::TestDb,
    process::BIN,
};

#[test]
fn bootstrap_creates_the_first_owner_once_and_prints_a_working_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/circlemail.toml");
    let db = format!("sqlite://{}/boot.db", dir.path().display());
    let cm = |args: &[&str]| {
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("CIRCLEMAIL_DATABASE_URL", &db)
            .output()
            .unwrap()
    };
    let out = cm(&["admin", "bootstrap", "chair@club.example"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("chair@club.example is the owner"),
        "{stdout}"
    );
    let token = stdout.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("cm_"), "{stdout}");

    let again = cm(&["admin", "bootstrap", "other@club.example"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("there is an owner already"));

    // Changes from the command line are audited too.
    let made = cm(&["group", "create", "Choir"]);
    assert!(made.status.success(), "{made:?}");

    // The token works against a server on that database, as an owner; it is stored hashed.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sink = crate::support::sink::Sink::start().await;
        let app =
            crate::support::app::TestApp::spawn(crate::support::app::test_config(&db, sink.addr))
                .await;
        let me = Client {
            http: app.http,
            token: token.clone(),
        };
        let v = me.ok("GET", "/me", None).await;
        assert_eq!(v["email"], "chair@club.example");
        assert_eq!(v["permissions"][0]["role"], "owner");
        assert_eq!(v["permissions"][0]["scope"], "organisation");
        let stored: Vec<String> = sqlx::query_scalar("SELECT hash FROM api_tokens")
            .fetch_all(&sqlx::SqlitePool::connect(&db).await.unwrap())
            .await
            .unwrap();
        assert_eq!(stored, vec![circlemail::admin::access::hash_token(&token)]);
        assert!(!stored[0].contains(&token));
        let log = me.ok("GET", "/audit", None).await;
        let entries = log["entries"].as_array().unwrap();
        assert!(
            entries[0]["action"]
                .as_str()
                .unwrap()
                .ends_with("group create Choir"),
            "{log}"
        );
        assert!(
            entries[0]["actor"]
                .as_str()
                .unwrap()
                .starts_with("command line (")
        );
        assert_eq!(entries[1]["action"], "bootstrap");
        app.stop().await;
    });
}

on_both_backends!(
    tokens_are_shown_once_listed_without_secret_and_revoked_by_their_owner,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let (_, _, ada) = account(&root, &app.store, "ada@x.org", Some("auditor"), None).await;
        let made = ada
            .call("POST", "/me/tokens", Some(json!({"name": "laptop"})))
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
        let made = made.json();
        let secret = made["token"].as_str().unwrap().to_string();
        let laptop = Client {
            http: app.http,
            token: secret.clone(),
        };
        assert_eq!(laptop.ok("GET", "/me", None).await["email"], "ada@x.org");
        let list = ada.ok("GET", "/me/tokens", None).await;
        assert_eq!(list["tokens"].as_array().unwrap().len(), 2);
        assert!(!list.to_string().contains(&secret), "never shown again");

        // Someone else cannot revoke it; its owner can, and then it stops working.
        let (_, _, bo) = account(&root, &app.store, "bo@x.org", Some("auditor"), None).await;
        let id = made["id"].as_i64().unwrap();
        assert_eq!(
            bo.status("DELETE", &format!("/me/tokens/{id}"), None).await,
            404
        );
        assert_eq!(
            ada.status("DELETE", &format!("/me/tokens/{id}"), None)
                .await,
            204
        );
        let r = laptop.call("GET", "/me", None).await;
        assert_eq!(r.status, 401);
        assert!(r.body.contains("unknown or revoked token"));
        assert_eq!(ada.status("GET", "/me", None).await, 200);

        // The audit log records the token's creation without the secret.
        let audit = root.ok("GET", "/audit", None).await.to_string();
        assert!(audit.contains("POST /me/tokens"));
        assert!(!audit.contains(&secret));
        app.stop().await;
    }
);

on_both_backends!(
    deactivated_accounts_cannot_sign_in_and_keep_their_history,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let (id, _, ada) =
            account(&root, &app.store, "ada@x.org", Some("administrator"), None).await;
        ada.ok("POST", "/people", Some(json!({"email": "p@x.org"})))
            .await;
        root.ok("POST", &format!("/accounts/{id}/deactivate"), None)
            .await;
        let r = ada.call("GET", "/me", None).await;
        assert_eq!(r.status, 401);
        assert!(r.body.contains("deactivated"), "{}", r.body);
        let a = root.ok("GET", &format!("/accounts/{id}"), None).await;
        assert_eq!(a["active"], false);
        assert!(a["permissions"].as_array().unwrap().is_empty());
        let audit = root.ok("GET", "/audit", None).await;
        assert!(
            audit["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["actor"] == "ada@x.org" && e["action"] == "POST /people"),
            "{audit}"
        );
        root.ok("POST", &format!("/accounts/{id}/reactivate"), None)
            .await;
        assert_eq!(ada.status("GET", "/people", None).await, 200);
        app.stop().await;
    }
);

on_both_backends!(
    the_last_owner_cannot_be_removed_or_deactivated,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let (id, _, owner) = account(&root, &app.store, "own@x.org", Some("owner"), None).await;
        let grant = root.ok("GET", "/grants", None).await["grants"][0]["id"]
            .as_i64()
            .unwrap();
        for (method, path) in [
            ("DELETE", format!("/grants/{grant}")),
            ("POST", format!("/accounts/{id}/deactivate")),
        ] {
            let r = owner.call(method, &path, None).await;
            assert_eq!(r.status, 409, "{method} {path}: {}", r.body);
            assert!(r.body.contains("last owner"), "{}", r.body);
        }
        let (second, _, _) = account(&root, &app.store, "two@x.org", Some("owner"), None).await;
        owner
            .ok("POST", &format!("/accounts/{id}/deactivate"), None)
            .await;
        let r = root
            .call("POST", &format!("/accounts/{second}/deactivate"), None)
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        app.stop().await;
    }
);

on_both_backends!(
    the_cap_on_member_data_administrators_refuses_one_more,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 2).await;
        account(&root, &app.store, "own@x.org", Some("owner"), None).await;
        account(&root, &app.store, "adm@x.org", Some("administrator"), None).await;
        let (third, _, _) = account(&root, &app.store, "third@x.org", None, None).await;
        let r = root
            .call(
                "POST",
                "/grants",
                Some(json!({"role": "administrator", "account_id": third})),
            )
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(
            r.body.contains("at most 2 people")
                && r.body.contains("accounts.max_member_data_admins"),
            "{}",
            r.body
        );
        // Lesser roles are not capped; a grant to a group counts its members with accounts.
        root.ok(
            "POST",
            "/grants",
            Some(json!({"role": "group_manager", "account_id": third})),
        )
        .await;
        let board = group(&root, "Board", None, &["third@x.org"]).await;
        let r = root
            .call(
                "POST",
                "/grants",
                Some(json!({"role": "administrator", "group_id": board})),
            )
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        // Joining a group whose members administer counts too: directly or by nesting.
        let treasury = group(&root, "Treasury", None, &[]).await;
        root.ok(
            "POST",
            "/grants",
            Some(json!({"role": "administrator", "group_id": treasury})),
        )
        .await;
        let joins = [
            ("/members", json!({"email": "third@x.org"})),
            ("/subgroups", json!({"group_id": board})),
            ("/members/copy", json!({"from_group": board})),
        ];
        for (path, body) in joins {
            let r = root
                .call("POST", &format!("/groups/{treasury}{path}"), Some(body))
                .await;
            assert_eq!(r.status, 409, "{path}: {}", r.body);
            assert!(r.body.contains("at most 2 people"), "{}", r.body);
        }
        root.ok(
            "POST",
            &format!("/groups/{treasury}/members"),
            Some(json!({"email": "no-account@x.org"})),
        )
        .await;
        app.stop().await;
    }
);

on_both_backends!(
    rights_through_a_group_come_with_joining_and_go_with_leaving,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let auditors = group(&root, "Auditors", None, &[]).await;
        root.ok(
            "POST",
            "/grants",
            Some(json!({"role": "auditor", "group_id": auditors})),
        )
        .await;
        let (_, ada_person, ada) = account(&root, &app.store, "ada@x.org", None, None).await;
        let board = group(&root, "Board", None, &["m@x.org"]).await;
        let m = person_id(&root, "m@x.org").await;
        assert_eq!(ada.status("GET", &format!("/people/{m}"), None).await, 404);
        assert_eq!(ada.ok("GET", "/groups", None).await["groups"], json!([]));

        root.ok(
            "POST",
            &format!("/groups/{auditors}/members"),
            Some(json!({"person_id": ada_person})),
        )
        .await;
        assert_eq!(ada.status("GET", &format!("/people/{m}"), None).await, 200);
        assert_eq!(
            ada.status("GET", &format!("/groups/{board}"), None).await,
            200
        );
        let me = ada.ok("GET", "/me", None).await;
        assert_eq!(me["permissions"][0]["role"], "auditor");
        assert!(
            me["permissions"][0]["via"]
                .as_str()
                .unwrap()
                .contains(&format!("member of group {auditors}"))
        );
        // An auditor changes nothing.
        assert_eq!(
            ada.status("PATCH", &format!("/people/{m}"), Some(json!({"name": "X"})))
                .await,
            403
        );

        root.ok(
            "DELETE",
            &format!("/groups/{auditors}/members/{ada_person}"),
            None,
        )
        .await;
        assert_eq!(ada.status("GET", &format!("/people/{m}"), None).await, 404);
        app.stop().await;
    }
);

on_both_backends!(
    a_groups_manager_moderates_it_and_nothing_else,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let youth = group(&root, "Youth", None, &["kid@x.org"]).await;
        let board = group(&root, "Board", None, &[]).await;
        admin::give_address(&root, youth, "youth").await;
        admin::give_address(&root, board, "board").await;
        let (_, lea_person, lea) = account(&root, &app.store, "lea@x.org", None, None).await;
        root.ok(
            "POST",
            &format!("/groups/{youth}/members"),
            Some(json!({"person_id": lea_person, "role": "manager"})),
        )
        .await;
        let in_youth = admin::held_post(&app, &root, "youth").await;
        let in_board = admin::held_post(&app, &root, "board").await;
        let listed = lea.ok("GET", "/moderation", None).await;
        let ids: Vec<i64> = listed["held"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![in_youth]);
        assert_eq!(
            lea.status("POST", &format!("/moderation/{in_board}/discard"), None)
                .await,
            404
        );
        let done = lea
            .ok("POST", &format!("/moderation/{in_youth}/discard"), None)
            .await;
        assert_eq!(done["held"]["decided_by"], "lea@x.org");
        // Moderating is not managing: the group's settings stay out of reach.
        assert_eq!(
            lea.status("PUT", &format!("/groups/{youth}/settings"), Some(json!({})))
                .await,
            403
        );
        app.stop().await;
    }
);

on_both_backends!(
    a_department_scope_shows_its_subtree_only,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let youth = group(&root, "Youth", None, &["y1@x.org"]).await;
        let juniors = group(&root, "Juniors", Some(youth), &["j1@x.org"]).await;
        let board = group(&root, "Board", None, &["b1@x.org"]).await;
        let (_, _, yvo) = account(
            &root,
            &app.store,
            "yvo@x.org",
            Some("group_manager"),
            Some(youth),
        )
        .await;
        let mut names: Vec<String> = yvo.ok("GET", "/groups", None).await["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["Juniors", "Youth"]);
        let people: Vec<String> = yvo.ok("GET", "/people", None).await["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["email"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(people, ["j1@x.org", "y1@x.org"]);
        let b1 = person_id(&root, "b1@x.org").await;
        let j1 = person_id(&root, "j1@x.org").await;
        assert_eq!(
            yvo.status("GET", &format!("/groups/{board}"), None).await,
            404
        );
        assert_eq!(yvo.status("GET", &format!("/people/{b1}"), None).await, 404);
        assert_eq!(yvo.status("GET", &format!("/people/{j1}"), None).await, 200);
        // Edits inside, not outside; a group manager reads people but does not edit them.
        yvo.ok(
            "POST",
            &format!("/groups/{juniors}/members"),
            Some(json!({"email": "j2@x.org"})),
        )
        .await;
        assert_eq!(
            yvo.status(
                "POST",
                &format!("/groups/{board}/members"),
                Some(json!({"email": "z@x.org"}))
            )
            .await,
            404
        );
        assert_eq!(
            yvo.status(
                "PATCH",
                &format!("/people/{j1}"),
                Some(json!({"name": "J"}))
            )
            .await,
            403
        );
        // New groups go inside the department.
        let made = yvo
            .call(
                "POST",
                "/groups",
                Some(json!({"name": "Minis", "parent_id": youth})),
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
        let minis = made.json()["id"].as_i64().unwrap();
        assert_eq!(
            yvo.status("GET", &format!("/groups/{minis}"), None).await,
            200
        );
        let top = yvo
            .call("POST", "/groups", Some(json!({"name": "Top"})))
            .await;
        assert_eq!(top.status, 403, "{}", top.body);
        assert!(top.body.contains("parent_id"));
        assert_eq!(
            yvo.status(
                "POST",
                "/groups",
                Some(json!({"name": "Spy", "parent_id": board}))
            )
            .await,
            404
        );
        // Groups named in a body count as unknown outside the department.
        let (_, _, ada) = account(
            &root,
            &app.store,
            "ada@x.org",
            Some("administrator"),
            Some(youth),
        )
        .await;
        let opt_out = |g: i64| json!({ "group_id": g });
        let path = format!("/people/{j1}/opt-outs");
        assert_eq!(ada.status("POST", &path, Some(opt_out(board))).await, 404);
        assert_eq!(ada.status("POST", &path, Some(opt_out(juniors))).await, 201);
        // An opt-out outlives membership; once out of the department it is out of sight.
        root.ok(
            "POST",
            &format!("/people/{b1}/opt-outs"),
            Some(opt_out(juniors)),
        )
        .await;
        let listed = |v: serde_json::Value| v["opt_outs"].as_array().unwrap().len();
        let opt_outs = format!("/groups/{juniors}/opt-outs");
        assert_eq!(listed(root.ok("GET", &opt_outs, None).await), 2);
        assert_eq!(listed(ada.ok("GET", &opt_outs, None).await), 1);
        let settings = format!("/groups/{juniors}/settings");
        let posting = |g: i64| json!({ "who_may_post": "members", "post_groups": [g] });
        assert_eq!(
            yvo.status("PUT", &settings, Some(posting(board))).await,
            422
        );
        assert_eq!(
            yvo.status("PUT", &settings, Some(posting(youth))).await,
            200
        );
        // Pulling an outside group or person into the department is refused as unknown.
        for (path, body) in [
            (
                format!("/groups/{youth}/subgroups"),
                json!({"group_id": board}),
            ),
            (format!("/groups/{youth}/members"), json!({"person_id": b1})),
            (
                format!("/groups/{youth}/members/copy"),
                json!({"from_group": board}),
            ),
        ] {
            assert_eq!(yvo.status("POST", &path, Some(body)).await, 404, "{path}");
        }
        // By address, too: refused (the address is known, so it says why), and the outside
        // person's record is left as it was.
        let by_address = json!({"email": "B1@x.org", "name": "Hijacked"});
        let refused = yvo
            .call(
                "POST",
                &format!("/groups/{youth}/members"),
                Some(by_address),
            )
            .await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused.body.contains("outside the groups you manage"));
        let b1_now = root.ok("GET", &format!("/people/{b1}"), None).await;
        assert_ne!(b1_now["name"], "Hijacked");
        app.stop().await;
    }
);

on_both_backends!(
    every_change_is_in_the_audit_log_with_before_and_after,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let (_, _, adm) =
            account(&root, &app.store, "adm@x.org", Some("administrator"), None).await;
        let p = adm
            .ok(
                "POST",
                "/people",
                Some(json!({"email": "p@x.org", "name": "Old"})),
            )
            .await["id"]
            .as_i64()
            .unwrap();
        adm.ok(
            "PATCH",
            &format!("/people/{p}"),
            Some(json!({"name": "New"})),
        )
        .await;
        let g = adm
            .ok("POST", "/groups", Some(json!({"name": "Choir"})))
            .await["id"]
            .as_i64()
            .unwrap();
        adm.ok(
            "POST",
            &format!("/groups/{g}/members"),
            Some(json!({"person_id": p})),
        )
        .await;
        adm.ok(
            "PATCH",
            &format!("/groups/{g}"),
            Some(json!({"name": "Chorus"})),
        )
        .await;
        adm.ok("GET", &format!("/people/{p}/export"), None).await;
        adm.ok("GET", &format!("/people/{p}"), None).await; // a read: not a change

        let entries = root.ok("GET", "/audit?limit=50", None).await["entries"]
            .as_array()
            .unwrap()
            .clone();
        let by_adm: Vec<&serde_json::Value> = entries
            .iter()
            .filter(|e| e["actor"] == "adm@x.org")
            .collect();
        let actions: Vec<&str> = by_adm
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "export",
                "PATCH /groups/{id}",
                "POST /groups/{id}/members",
                "POST /groups",
                "PATCH /people/{id}",
                "POST /people"
            ]
        );
        let patch = by_adm[4];
        assert_eq!(patch["before"]["name"], "Old");
        assert_eq!(patch["after"]["name"], "New");
        assert_eq!(patch["person_id"], p);
        assert_eq!(patch["object"], format!("people/{p}"));
        assert_eq!(by_adm[1]["before"]["name"], "Choir");
        assert_eq!(by_adm[1]["after"]["name"], "Chorus");
        assert_eq!(
            by_adm[2]["person_id"], p,
            "a membership is about its person"
        );
        assert!(by_adm.iter().all(|e| e["at"].as_i64().unwrap() > 0));
        // About one person only:
        let about = root.ok("GET", &format!("/audit?person_id={p}"), None).await["entries"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(about, 4);

        // Append-only, even for someone with the database in hand.
        let tampered = sqlx::query("UPDATE audit_log SET actor = 'someone else'")
            .execute(&sqlx::AnyPool::connect(&db.url).await.unwrap())
            .await;
        assert!(tampered.is_err(), "an audit entry was changed");
        let removed = sqlx::query("DELETE FROM audit_log")
            .execute(&sqlx::AnyPool::connect(&db.url).await.unwrap())
            .await;
        assert!(removed.is_err(), "audit entries were removed");

        // Auditors read the log; group managers do not.
        let (_, _, aud) = account(&root, &app.store, "aud@x.org", Some("auditor"), None).await;
        assert_eq!(aud.status("GET", "/audit", None).await, 200);
        let (_, _, gm) = account(
            &root,
            &app.store,
            "gm@x.org",
            Some("group_manager"),
            Some(g),
        )
        .await;
        assert_eq!(gm.status("GET", "/audit", None).await, 403);
        app.stop().await;
    }
);

on_both_backends!(
    the_access_report_names_every_account_that_sees_a_person_and_why,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let youth = group(&root, "Youth", None, &["kid@x.org"]).await;
        let board = group(&root, "Board", None, &["b@x.org"]).await;
        let auditors = group(&root, "Auditors", None, &[]).await;
        root.ok(
            "POST",
            "/grants",
            Some(json!({"role": "auditor", "group_id": auditors})),
        )
        .await;
        let (_, aud_person, _) = account(&root, &app.store, "aud@x.org", None, None).await;
        root.ok(
            "POST",
            &format!("/groups/{auditors}/members"),
            Some(json!({"person_id": aud_person})),
        )
        .await;
        account(&root, &app.store, "own@x.org", Some("owner"), None).await;
        account(
            &root,
            &app.store,
            "yvo@x.org",
            Some("group_manager"),
            Some(youth),
        )
        .await;
        account(
            &root,
            &app.store,
            "bea@x.org",
            Some("group_manager"),
            Some(board),
        )
        .await;
        account(&root, &app.store, "lim@x.org", Some("limited"), None).await;
        let kid = person_id(&root, "kid@x.org").await;
        let report = root.ok("GET", &format!("/people/{kid}/access"), None).await;
        let mut who: Vec<(String, String)> = report["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["email"].as_str().unwrap().to_string(),
                    a["through"][0]["via"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        who.sort();
        assert_eq!(who.len(), 3, "{report}");
        assert_eq!(who[0].0, "aud@x.org");
        assert!(who[0].1.contains(&format!("member of group {auditors}")));
        assert_eq!(who[1].0, "own@x.org");
        assert_eq!(who[2].0, "yvo@x.org");
        assert!(report["also"].as_str().unwrap().contains("http.api_token"));
        app.stop().await;
    }
);

on_both_backends!(
    an_owner_through_a_group_is_not_lost_by_leaving_it_or_by_the_group_going,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let board = group(&root, "Board", None, &[]).await;
        let chairs = group(&root, "Chairs", Some(board), &[]).await;
        let (_, chair, _) = account(&root, &app.store, "chair@x.org", None, None).await;
        root.ok(
            "POST",
            &format!("/groups/{chairs}/members"),
            Some(json!({"person_id": chair})),
        )
        .await;
        root.ok(
            "POST",
            "/grants",
            Some(json!({"role": "owner", "group_id": board})),
        )
        .await;
        for (method, path) in [
            ("DELETE", format!("/groups/{chairs}/members/{chair}")),
            ("DELETE", format!("/groups/{board}/subgroups/{chairs}")),
            ("POST", format!("/groups/{chairs}/deactivate")),
            ("POST", format!("/groups/{board}/deactivate")),
            ("DELETE", format!("/groups/{chairs}")),
            ("DELETE", format!("/groups/{board}")),
        ] {
            let r = root.call(method, &path, None).await;
            assert_eq!(r.status, 409, "{method} {path}: {}", r.body);
            assert!(r.body.contains("last owner"), "{}", r.body);
        }
        // Nothing was changed on the way: the chair is still a member and an owner.
        let members = root
            .ok("GET", &format!("/groups/{chairs}/members"), None)
            .await;
        assert_eq!(members["members"][0]["person_id"], chair);
        // With a second owner, the chair may leave.
        account(&root, &app.store, "two@x.org", Some("owner"), None).await;
        root.ok("DELETE", &format!("/groups/{chairs}/members/{chair}"), None)
            .await;
        app.stop().await;
    }
);

on_both_backends!(
    an_owner_through_a_rule_is_not_lost_by_changing_the_rule,
    async |db: &TestDb| {
        let (app, root) = admin::start(db, 0).await;
        let (_, chair, _) = account(&root, &app.store, "chair@x.org", None, None).await;
        root.ok(
            "PATCH",
            &format!("/people/{chair}"),
            Some(json!({"teams": ["Officers"]})),
        )
        .await;
        let officers = group(&root, "Officers", None, &[]).await;
        let rule = |team: &str| json!({"rule": {"field": "team", "op": "equals", "value": team}});
        root.ok(
            "PUT",
            &format!("/groups/{officers}/rule"),
            Some(rule("Officers")),
        )
        .await;
        root.ok(
            "POST",
            "/grants",
            Some(json!({"role": "owner", "group_id": officers})),
        )
        .await;
        let path = format!("/groups/{officers}/rule");
        assert_eq!(root.status("PUT", &path, Some(rule("Nobody"))).await, 409);
        assert_eq!(root.status("DELETE", &path, None).await, 409);
        assert_eq!(root.status("PUT", &path, Some(rule("Officers"))).await, 200);
        app.stop().await;
    }
);
