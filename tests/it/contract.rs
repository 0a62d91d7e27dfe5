//! The admin API answers as docs/api.md says: every error in the JSON form with a fitting code
//! (router-made ones too), the membership after adding a member, 404 for what is unknown or
//! out of scope, and no deleting around a retention rule.

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{
    admin::{BREAK_GLASS, account, group, person_id, start},
    db::TestDb,
    http::send,
};

fn error_of(status: u16, body: &str) -> (u16, String) {
    let v: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{status}: not the JSON error form ({e}): {body:?}"));
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    (status, v["error"].as_str().unwrap_or("").to_string())
}

on_both_backends!(
    every_api_error_is_json_with_a_fitting_code_and_adding_a_member_answers_the_membership,
    async |db: &TestDb| {
        let (app, root) = start(db, 0).await;
        let board = group(&root, "Board", None, &[]).await;
        let call =
            |method: &'static str, path: String, ctype: &'static str, body: Option<String>| {
                let http = app.http;
                async move {
                    let r = send(
                        http,
                        method,
                        &format!("/api/v1{path}"),
                        Some(BREAK_GLASS),
                        ctype,
                        body.as_deref(),
                    )
                    .await;
                    (r.status, r.body)
                }
            };
        let json_ct = "application/json";
        let (s, b) = call(
            "PATCH",
            format!("/groups/{board}/settings"),
            json_ct,
            Some("{}".into()),
        )
        .await;
        assert_eq!(error_of(s, &b), (405, "method_not_allowed".into()));
        let (s, b) = call("GET", "/no/such/route".into(), json_ct, None).await;
        assert_eq!(error_of(s, &b), (404, "not_found".into()));
        let (s, b) = call(
            "POST",
            "/people".into(),
            "text/plain",
            Some(r#"{"email":"a@x.org"}"#.into()),
        )
        .await;
        assert_eq!(error_of(s, &b), (415, "unsupported_media_type".into()));
        let big = json!({ "email": "big@x.org", "name": "x".repeat(3 * 1024 * 1024) }).to_string();
        let (s, b) = call("POST", "/people".into(), json_ct, Some(big)).await;
        assert_eq!(error_of(s, &b), (413, "too_large".into()));
        let (s, b) = call("POST", "/people".into(), json_ct, Some("{not json".into())).await;
        assert_eq!(error_of(s, &b), (400, "bad_request".into()));
        // A grant naming a group that does not exist: 404, as for any unknown id.
        let (acc, _, _) = account(&root, &app.store, "kim@x.org", None, None).await;
        let (s, b) = call(
            "POST",
            "/grants".into(),
            json_ct,
            Some(
                json!({"role": "auditor", "account_id": acc, "scope_group_id": 999_999})
                    .to_string(),
            ),
        )
        .await;
        assert_eq!(error_of(s, &b), (404, "not_found".into()));
        let (s, b) = call(
            "POST",
            "/grants".into(),
            json_ct,
            Some(json!({"role": "auditor", "group_id": 999_999}).to_string()),
        )
        .await;
        assert_eq!(error_of(s, &b), (404, "not_found".into()));

        // Adding a member: 201 with the membership.
        let (s, b) = call(
            "POST",
            format!("/groups/{board}/members"),
            json_ct,
            Some(
                json!({"email": "anna@x.org", "role": "manager", "valid_from": "2026-01-01"})
                    .to_string(),
            ),
        )
        .await;
        assert_eq!(s, 201, "{b}");
        let m: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(m["email"], "anna@x.org");
        assert_eq!(m["role"], "manager");
        assert_eq!(m["valid_from"], "2026-01-01");
        assert_eq!(m["group_id"], board);
        assert!(m["person_id"].is_i64(), "{m}");

        // Re-enabling someone who never bounced, or no one: 404.
        let anna = person_id(&root, "anna@x.org").await;
        for who in [anna, 999_999] {
            let (s, b) = call(
                "POST",
                format!("/groups/{board}/bounces/{who}/enable"),
                json_ct,
                None,
            )
            .await;
            assert_eq!(error_of(s, &b), (404, "not_found".into()), "person {who}");
        }
        app.stop().await;
    }
);

on_both_backends!(
    explain_for_a_person_out_of_scope_is_the_404_of_an_unknown_one_and_names_only_visible_groups,
    async |db: &TestDb| {
        let (app, root) = start(db, 0).await;
        let youth = group(&root, "Youth", None, &["pat@x.org"]).await;
        let region = group(&root, "Region Syd", None, &["olle@x.org"]).await;
        // Pat was in Region Syd once: a term that ended.
        root.ok(
            "POST",
            &format!("/groups/{region}/members"),
            Some(json!({"email": "pat@x.org", "valid_from": "2020-01-01", "valid_until": "2021-01-01"})),
        )
        .await;
        let pat = person_id(&root, "pat@x.org").await;
        let olle = person_id(&root, "olle@x.org").await;
        let (_, _, manager) = account(
            &root,
            &app.store,
            "lead@x.org",
            Some("group_manager"),
            Some(youth),
        )
        .await;

        let explain = |who: i64| format!("/groups/{youth}/recipients?person_id={who}");
        let outside = manager.call("GET", &explain(olle), None).await;
        let unknown = manager.call("GET", &explain(999_999), None).await;
        assert_eq!(outside.status, 404, "{}", outside.body);
        assert_eq!(unknown.status, 404, "{}", unknown.body);
        assert_eq!(
            outside.body.replace(&olle.to_string(), "ID"),
            unknown.body.replace("999999", "ID"),
            "out of scope looks exactly like unknown"
        );
        let seen = manager.ok("GET", &explain(pat), None).await;
        assert!(!seen.to_string().contains("Region Syd"), "{seen}");
        assert_eq!(seen["explanation"]["member"], true, "{seen}");
        // The owner sees the whole picture.
        let all = root.ok("GET", &explain(pat), None).await;
        assert!(all.to_string().contains("Region Syd"), "{all}");
        app.stop().await;
    }
);

on_both_backends!(
    deleting_a_person_whom_a_retention_rule_protects_is_409_pointing_at_erase,
    async |db: &TestDb| {
        let (app, root) = start(db, 0).await;
        let board = group(&root, "Board", None, &[]).await;
        root.ok(
            "PUT",
            &format!("/groups/{board}/retention"),
            Some(json!({"years": 10})),
        )
        .await;
        root.ok(
            "POST",
            &format!("/groups/{board}/members"),
            Some(json!({"email": "chair@x.org", "valid_from": "2020-01-01", "valid_until": "2024-12-31"})),
        )
        .await;
        let chair = person_id(&root, "chair@x.org").await;
        let r = root.call("DELETE", &format!("/people/{chair}"), None).await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("erase"), "{}", r.body);
        // Erased: what is kept stays kept; deleting is still refused.
        root.ok("POST", &format!("/people/{chair}/erase"), None)
            .await;
        let r = root.call("DELETE", &format!("/people/{chair}"), None).await;
        assert_eq!(r.status, 409, "{}", r.body);
        let kept = root
            .ok("GET", &format!("/groups/{board}/members"), None)
            .await;
        assert_eq!(kept["members"].as_array().map(Vec::len), Some(1), "{kept}");
        // Nobody protects this one: deleted.
        group(&root, "Choir", None, &["sam@x.org"]).await;
        let sam = person_id(&root, "sam@x.org").await;
        assert_eq!(
            root.status("DELETE", &format!("/people/{sam}"), None).await,
            204
        );
        app.stop().await;
    }
);
