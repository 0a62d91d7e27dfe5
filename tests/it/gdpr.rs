//! GDPR: export everything about a person, erase with and without retention rules, the
//! scheduled removal of retained facts (with a hand-set clock), and the clean-up.

use std::{sync::Arc, time::Duration};

use circlemail::clock::ManualClock;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{
    admin::{self, Client, give_address, group},
    app::{TestApp, message},
    db::TestDb,
    smtp,
};

/// 2026-06-01T12:00:00Z
const JUNE_2026: i64 = 1_780_315_200_000;
const DAY: i64 = 86_400_000;

async fn start(db: &TestDb) -> (TestApp, Client, ManualClock) {
    let clock = ManualClock::new(JUNE_2026);
    let (app, root) = admin::start_with_clock(db, 0, Arc::new(clock.clone())).await;
    (app, root, clock)
}

/// A resigned member with attributes, a custom field and two membership periods.
async fn member(root: &Client, email: &str, left: &str) -> i64 {
    root.ok(
        "POST",
        "/people",
        Some(json!({
            "email": email, "name": "Rosa Example", "status": "resigned", "teams": ["Youth"],
            "fields": {"Instrument": ["Cello"]},
            "add_periods": [{"joined": "2010-01-01", "left": "2012-01-01"}, {"joined": "2015-01-01", "left": left}]
        })),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

async fn join(root: &Client, group: i64, person: i64, from: &str, until: &str) {
    root.ok(
        "POST",
        &format!("/groups/{group}/members"),
        Some(json!({"person_id": person, "role": "manager", "valid_from": from, "valid_until": until})),
    )
    .await;
}

async fn post_from(app: &TestApp, from: &str, list: &str) -> String {
    let (mut c, _) = smtp::Client::connect(app.smtp).await;
    c.cmd("EHLO client.test").await;
    c.cmd(&format!("MAIL FROM:<{from}>")).await;
    c.cmd(&format!("RCPT TO:<{list}@lists.test>")).await;
    c.cmd("DATA").await;
    c.send(&message(
        from,
        &format!("{list}@lists.test"),
        "Hello",
        "Hi.",
    ))
    .await;
    c.send("\r\n.\r\n").await;
    c.reply().await
}

async fn setup_fields(root: &Client) {
    root.ok(
        "POST",
        "/fields",
        Some(json!({"name": "Instrument", "kind": "multiple", "options": ["Cello", "Violin"]})),
    )
    .await;
}

on_both_backends!(
    an_export_holds_everything_about_a_person_and_is_audited,
    async |db: &TestDb| {
        let (app, root, _) = start(db).await;
        setup_fields(&root).await;
        let rosa = member(&root, "rosa@x.org", "2020-01-01").await;
        let choir = group(&root, "Choir", None, &[]).await;
        give_address(&root, choir, "choir").await;
        join(&root, choir, rosa, "2015-01-01", "2027-01-01").await;
        let board = group(&root, "Board", None, &[]).await;
        give_address(&root, board, "board").await;
        root.ok(
            "POST",
            &format!("/people/{rosa}/opt-outs"),
            Some(json!({"group_id": choir})),
        )
        .await;
        assert!(
            post_from(&app, "rosa@x.org", "choir")
                .await
                .starts_with("250")
        );
        assert!(
            post_from(&app, "rosa@x.org", "board")
                .await
                .contains("Held")
        );

        let export = root
            .ok("GET", &format!("/people/{rosa}/export"), None)
            .await;
        assert_eq!(export["profile"]["email"], "rosa@x.org");
        assert_eq!(export["profile"]["teams"], json!(["Youth"]));
        assert_eq!(export["profile"]["fields"]["Instrument"], json!(["Cello"]));
        assert_eq!(export["profile"]["periods"].as_array().unwrap().len(), 2);
        let m = &export["memberships"][0];
        assert_eq!(
            (
                m["group"].as_str(),
                m["role"].as_str(),
                m["valid_from"].as_str(),
                m["valid_until"].as_str()
            ),
            (
                Some("Choir"),
                Some("manager"),
                Some("2015-01-01"),
                Some("2027-01-01")
            )
        );
        assert_eq!(export["opt_outs"][0]["group_id"], choir);
        assert_eq!(export["posts_sent"].as_array().unwrap().len(), 1);
        assert_eq!(export["posts_sent"][0]["group_id"], choir);
        assert_eq!(export["held_posts"].as_array().unwrap().len(), 1);
        assert_eq!(export["held_posts"][0]["group_id"], board);
        let audit_actions: Vec<&str> = export["audit_entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(audit_actions.contains(&"POST /people"), "{audit_actions:?}");
        assert!(
            audit_actions.contains(&"POST /people/{id}/opt-outs"),
            "{audit_actions:?}"
        );

        let log = root
            .ok("GET", &format!("/audit?person_id={rosa}"), None)
            .await;
        let first = &log["entries"][0];
        assert_eq!(first["action"], "export");
        assert_eq!(
            first["after"],
            Value::Null,
            "the export itself is not copied into the log"
        );
        app.stop().await;
    }
);

on_both_backends!(
    erasing_without_retention_removes_the_person_entirely,
    async |db: &TestDb| {
        let (app, root, _) = start(db).await;
        setup_fields(&root).await;
        let rosa = member(&root, "rosa@x.org", "2020-01-01").await;
        let choir = group(&root, "Choir", None, &[]).await;
        join(&root, choir, rosa, "2015-01-01", "2019-12-31").await;
        let report = root
            .ok("POST", &format!("/people/{rosa}/erase"), None)
            .await;
        assert_eq!(report["kept"], json!([]));
        assert_eq!(report["kept_until"], Value::Null);
        assert_eq!(report["removed"]["person"], true);
        assert_eq!(report["removed"]["memberships"], 1);
        assert_eq!(report["removed"]["membership_periods"], 2);
        assert_eq!(report["removed"]["teams"], 1);
        assert_eq!(report["removed"]["custom_field_values"], 1);
        assert_eq!(
            root.status("GET", &format!("/people/{rosa}"), None).await,
            404
        );
        assert_eq!(
            root.ok("GET", &format!("/groups/{choir}/members"), None)
                .await["members"],
            json!([])
        );
        assert_eq!(
            root.ok("GET", "/people?q=rosa", None).await["people"],
            json!([])
        );
        app.stop().await;
    }
);

on_both_backends!(
    erasing_keeps_what_a_retention_rule_protects_says_until_when_and_the_job_removes_it_later,
    async |db: &TestDb| {
        let (app, root, clock) = start(db).await;
        setup_fields(&root).await;
        let rosa = member(&root, "rosa@x.org", "2026-01-31").await;
        let board = group(&root, "Board", None, &[]).await;
        let auditors = group(&root, "Auditors", None, &[]).await;
        let choir = group(&root, "Choir", None, &[]).await;
        root.ok(
            "PUT",
            &format!("/groups/{board}/retention"),
            Some(json!({"years": 10})),
        )
        .await;
        root.ok(
            "PUT",
            &format!("/groups/{auditors}/retention"),
            Some(json!({"years": 1})),
        )
        .await;
        join(&root, board, rosa, "2018-01-01", "2020-12-31").await;
        join(&root, auditors, rosa, "2024-01-01", "2026-01-31").await;
        join(&root, choir, rosa, "2015-01-01", "2030-01-01").await;

        let report = root
            .ok("POST", &format!("/people/{rosa}/erase"), None)
            .await;
        let kept = report["kept"].as_array().unwrap();
        assert_eq!(kept.len(), 2, "{report}");
        let by_group = |name: &str| kept.iter().find(|k| k["group"] == name).unwrap().clone();
        let b = by_group("Board");
        assert_eq!(b["kept_until"], "2030-12-31");
        assert_eq!(
            (
                b["role"].as_str(),
                b["valid_from"].as_str(),
                b["valid_until"].as_str()
            ),
            (Some("manager"), Some("2018-01-01"), Some("2020-12-31"))
        );
        assert_eq!(b["name"], "Rosa Example");
        assert_eq!(by_group("Auditors")["kept_until"], "2027-01-31");
        assert_eq!(report["kept_until"], "2030-12-31");
        assert_eq!(report["removed"]["person"], false);
        assert_eq!(
            report["removed"]["memberships"], 1,
            "the choir membership went"
        );

        // What is left: the name and the protected memberships; no address, no attributes.
        let left = root.ok("GET", &format!("/people/{rosa}"), None).await;
        assert_eq!(left["name"], "Rosa Example");
        assert!(left["email"].as_str().unwrap().ends_with("@erased.invalid"));
        assert_eq!(left["teams"], json!([]));
        assert_eq!(left["fields"], json!({}));
        assert_eq!(left["periods"], json!([]));
        assert_eq!(
            root.ok("GET", &format!("/groups/{choir}/members"), None)
                .await["members"],
            json!([])
        );
        assert_eq!(
            root.ok("GET", &format!("/groups/{board}/members"), None)
                .await["members"][0]["name"],
            "Rosa Example"
        );
        let again = root
            .call("POST", &format!("/people/{rosa}/erase"), None)
            .await;
        assert_eq!(again.status, 409);
        // The erasure is in the log, without a copy of what it erased.
        let log = root
            .ok("GET", &format!("/audit?person_id={rosa}"), None)
            .await;
        let entry = log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "POST /people/{id}/erase")
            .cloned()
            .unwrap_or_else(|| panic!("no erase entry: {log}"));
        assert!(
            entry["before"].is_null() && entry["after"].is_null(),
            "{entry}"
        );

        // The job runs every 100 ms; nothing goes before its time.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            root.ok("GET", &format!("/groups/{auditors}/members"), None)
                .await["members"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // 2027-02-01: the auditors' year is over, the board's ten are not.
        clock.advance(245 * DAY);
        wait_until(|| async {
            root.ok("GET", &format!("/groups/{auditors}/members"), None)
                .await["members"]
                == json!([])
        })
        .await;
        assert_eq!(
            root.ok("GET", &format!("/groups/{board}/members"), None)
                .await["members"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            root.status("GET", &format!("/people/{rosa}"), None).await,
            200
        );
        // 2031: everything is gone, and the log says so.
        clock.advance(4 * 365 * DAY);
        wait_until(|| async { root.status("GET", &format!("/people/{rosa}"), None).await == 404 })
            .await;
        let log = root.ok("GET", "/audit", None).await;
        assert!(
            log["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "expire retained facts")
        );
        app.stop().await;
    }
);

async fn wait_until<F, Fut>(check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 10 s");
}

on_both_backends!(
    the_cleanup_lists_then_anonymises_people_who_resigned_long_ago,
    async |db: &TestDb| {
        let (app, root, _) = start(db).await;
        setup_fields(&root).await;
        let board = group(&root, "Board", None, &[]).await;
        root.ok(
            "PUT",
            &format!("/groups/{board}/retention"),
            Some(json!({"years": 10})),
        )
        .await;
        let old = member(&root, "old@x.org", "2020-01-01").await;
        let treasurer = member(&root, "treasurer@x.org", "2021-01-01").await;
        join(&root, board, treasurer, "2018-01-01", "2020-12-31").await;
        let recent = member(&root, "recent@x.org", "2025-12-01").await;
        let active = root
            .ok("POST", "/people", Some(json!({"email": "active@x.org"})))
            .await["id"]
            .as_i64()
            .unwrap();

        let dry = root
            .ok("POST", "/gdpr/cleanup", Some(json!({"resigned_years": 2})))
            .await;
        assert_eq!(dry["dry_run"], true);
        let ids: Vec<i64> = dry["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["person_id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![old, treasurer]);
        assert_eq!(dry["people"][0]["retention_rules"], json!([]));
        assert_eq!(dry["people"][1]["retention_rules"][0]["group"], "Board");
        assert_eq!(
            dry["people"][1]["retention_rules"][0]["kept_until"],
            "2030-12-31"
        );
        assert_eq!(
            root.status("GET", &format!("/people/{old}"), None).await,
            200,
            "a dry run changes nothing"
        );

        let real = root
            .ok(
                "POST",
                "/gdpr/cleanup",
                Some(json!({"resigned_years": 2, "dry_run": false})),
            )
            .await;
        assert_eq!(real["count"], 2);
        assert_eq!(
            root.status("GET", &format!("/people/{old}"), None).await,
            404
        );
        let t = root.ok("GET", &format!("/people/{treasurer}"), None).await;
        assert!(t["email"].as_str().unwrap().ends_with("@erased.invalid"));
        for id in [recent, active] {
            assert_eq!(
                root.status("GET", &format!("/people/{id}"), None).await,
                200
            );
        }
        let again = root
            .ok("POST", "/gdpr/cleanup", Some(json!({"resigned_years": 2})))
            .await;
        assert_eq!(again["count"], 0, "the erased are not listed again");
        app.stop().await;
    }
);
