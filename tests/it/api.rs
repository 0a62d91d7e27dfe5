//! The admin API as a script or the future web UI uses it: status codes and JSON bodies.

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{
    app::{TestApp, test_config},
    db::TestDb,
    http::{Response, request},
    sink::Sink,
};

const TOKEN: &str = "test-token-0123456789abcdef";

struct Api {
    app: TestApp,
}

impl Api {
    async fn start(db: &TestDb) -> Api {
        let sink = Sink::start().await;
        let mut config = test_config(&db.url, sink.addr);
        config.http.api_token = Some(circlemail::config::Secret::new(TOKEN));
        Api {
            app: TestApp::spawn(config).await,
        }
    }
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let body = body.map(|b| b.to_string());
        request(
            self.app.http,
            method,
            &format!("/api/v1{path}"),
            Some(TOKEN),
            body.as_deref(),
        )
        .await
    }
    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        if r.body.is_empty() {
            Value::Null
        } else {
            r.json()
        }
    }
    async fn person(&self, email: &str, extra: Value) -> i64 {
        let mut body = json!({"email": email});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        self.ok("POST", "/people", Some(body)).await["id"]
            .as_i64()
            .unwrap()
    }
    async fn group(&self, name: &str, address: Option<&str>) -> i64 {
        self.ok(
            "POST",
            "/groups",
            Some(json!({"name": name, "address": address})),
        )
        .await["id"]
            .as_i64()
            .unwrap()
    }
}

fn assert_error(r: &Response, status: u16, text: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    assert!(
        v["message"].as_str().unwrap().contains(text),
        "expected {text:?} in {}",
        r.body
    );
}

#[tokio::test]
async fn the_api_needs_the_bearer_token_and_is_closed_without_one() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let api = Api::start(&db).await;
    let none = request(api.app.http, "GET", "/api/v1/groups", None, None).await;
    assert_error(&none, 401, "Authorization: Bearer");
    let wrong = request(api.app.http, "GET", "/api/v1/groups", Some("nope"), None).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(api.call("GET", "/groups", None).await.status, 200);
    api.app.stop().await;

    let sink = Sink::start().await;
    let closed = TestApp::spawn(test_config(&db.url, sink.addr)).await;
    let r = request(closed.http, "GET", "/api/v1/groups", Some(TOKEN), None).await;
    assert_error(&r, 401, "unknown or revoked token");
    closed.stop().await;
}

on_both_backends!(
    people_can_be_created_read_searched_updated_and_deleted,
    async |db: &TestDb| {
        let api = Api::start(db).await;
        api.ok(
            "POST",
            "/fields",
            Some(json!({"name": "Instrument", "kind": "multiple", "options": ["Violin", "Cello"]})),
        )
        .await;
        let anna = api
        .person("Anna@Example.org", json!({"name": "Anna Berg", "status": "active", "membership_type": "Gold",
            "teams": ["Youth"], "fields": {"Instrument": ["Cello"]}, "add_periods": [{"joined": "2020-01-01"}]}))
        .await;
        let p = api.ok("GET", &format!("/people/{anna}"), None).await;
        assert_eq!(p["email"], "Anna@example.org");
        assert_eq!(p["membership_type"], "Gold");
        assert_eq!(p["teams"], json!(["Youth"]));
        assert_eq!(p["fields"]["Instrument"], json!(["Cello"]));
        assert_eq!(p["periods"][0]["joined"], "2020-01-01");

        assert_error(
            &api.call(
                "POST",
                "/people",
                Some(json!({"email": "anna@example.org"})),
            )
            .await,
            409,
            "exists already",
        );
        assert_error(
            &api.call("POST", "/people", Some(json!({"email": "not-an-address"})))
                .await,
            422,
            "email:",
        );
        assert_error(
            &api.call(
                "POST",
                "/people",
                Some(json!({"email": "x@y.org", "status": "asleep"})),
            )
            .await,
            422,
            "status:",
        );
        assert_error(
            &api.call(
                "POST",
                "/people",
                Some(json!({"email": "x@y.org", "fields": {"Instrument": ["Tuba"]}})),
            )
            .await,
            422,
            "Tuba",
        );
        assert_error(
            &api.call(
                "POST",
                "/people",
                Some(json!({"email": "x@y.org", "colour": "red"})),
            )
            .await,
            422,
            "unknown field",
        );
        let bad_json = request(
            api.app.http,
            "POST",
            "/api/v1/people",
            Some(TOKEN),
            Some("{\"email\": "),
        )
        .await;
        assert_eq!(bad_json.status, 400, "{}", bad_json.body);
        assert_error(
            &api.call("GET", "/people/999", None).await,
            404,
            "no person",
        );
        assert_eq!(api.call("GET", "/people/abc", None).await.status, 400);

        api.person("bo@example.net", json!({"status": "resigned"}))
            .await;
        let found = api.ok("GET", "/people?q=berg", None).await;
        assert_eq!(found["people"].as_array().unwrap().len(), 1);
        let resigned = api.ok("GET", "/people?status=resigned", None).await;
        assert_eq!(resigned["people"][0]["email"], "bo@example.net");
        let youth = api.ok("GET", "/people?team=Youth", None).await;
        assert_eq!(youth["people"][0]["id"], anna);

        let updated = api
            .ok(
                "PATCH",
                &format!("/people/{anna}"),
                Some(json!({"name": null, "status": "resigned"})),
            )
            .await;
        assert_eq!(updated["name"], Value::Null);
        assert_eq!(updated["status"], "resigned");
        assert_eq!(updated["membership_type"], "Gold", "absent fields are kept");
        assert_eq!(
            api.call("DELETE", &format!("/people/{anna}"), None)
                .await
                .status,
            204
        );
        assert_eq!(
            api.call("GET", &format!("/people/{anna}"), None)
                .await
                .status,
            404
        );
        api.app.stop().await;
    }
);

on_both_backends!(
    groups_members_subgroups_rules_and_recipients_through_the_api,
    async |db: &TestDb| {
        let api = Api::start(db).await;
        let anna = api.person("anna@x.org", json!({"status": "active"})).await;
        let bo = api.person("bo@x.org", json!({"status": "resigned"})).await;
        let all = api.group("All leaders", Some("leaders@lists.test")).await;
        let circle = api.group("Circle leaders", None).await;
        assert_error(
            &api.call(
                "POST",
                "/groups",
                Some(json!({"name": "X", "address": "x@elsewhere.org"})),
            )
            .await,
            422,
            "server.domains",
        );
        assert_error(
            &api.call("POST", "/groups", Some(json!({"name": "All leaders"})))
                .await,
            409,
            "exists already",
        );

        assert_eq!(
            api.call(
                "POST",
                &format!("/groups/{circle}/members"),
                Some(json!({"person_id": anna, "role": "manager", "valid_from": "2020-01-01"}))
            )
            .await
            .status,
            201
        );
        assert_error(
            &api.call(
                "POST",
                &format!("/groups/{circle}/members"),
                Some(json!({"person_id": anna, "valid_from": "2020-13-01"})),
            )
            .await,
            422,
            "not a date",
        );
        assert_error(
            &api.call(
                "POST",
                &format!("/groups/{circle}/members"),
                Some(json!({"person_id": 4242})),
            )
            .await,
            404,
            "no person",
        );
        assert_eq!(
            api.call(
                "POST",
                &format!("/groups/{all}/subgroups"),
                Some(json!({"group_id": circle}))
            )
            .await
            .status,
            204
        );
        assert_error(
            &api.call(
                "POST",
                &format!("/groups/{circle}/subgroups"),
                Some(json!({"group_id": all})),
            )
            .await,
            409,
            "cycle",
        );

        let bad_rule = json!({"rule": {"field": "status", "op": "sounds_like", "value": "x"}});
        assert_error(
            &api.call("PUT", &format!("/groups/{all}/rule"), Some(bad_rule))
                .await,
            422,
            "rule:",
        );
        let rule = json!({"rule": {"field": "status", "op": "equals", "value": "resigned"}});
        assert_eq!(
            api.ok(
                "POST",
                &format!("/groups/{all}/rule/dry-run"),
                Some(rule.clone())
            )
            .await["matches"],
            1
        );
        assert!(
            api.ok("GET", &format!("/groups/{all}"), None).await["rule"].is_null(),
            "a dry run saves nothing"
        );
        let set = api
            .ok("PUT", &format!("/groups/{all}/rule"), Some(rule))
            .await;
        assert_eq!(set["rule_text"], "status equals resigned");

        let r = api
            .ok("GET", &format!("/groups/{all}/recipients"), None)
            .await;
        assert_eq!(r["count"], 2);
        let explained = api
            .ok(
                "GET",
                &format!("/groups/{all}/recipients?explain=true"),
                None,
            )
            .await;
        let paths: Vec<String> = explained["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|x| {
                x["paths"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_string())
            })
            .collect();
        assert!(
            paths.contains(
                &"All leaders ← Circle leaders ← direct member (manager) since 2020-01-01"
                    .to_string()
            ),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"All leaders ← rule: status equals resigned".to_string()),
            "{paths:?}"
        );

        assert_eq!(
            api.call(
                "POST",
                &format!("/people/{bo}/opt-outs"),
                Some(json!({"group_id": all, "channel": "link"}))
            )
            .await
            .status,
            201
        );
        let one = api
            .ok(
                "GET",
                &format!("/groups/{all}/recipients?person_id={bo}"),
                None,
            )
            .await;
        assert_eq!(one["explanation"]["receives"], false);
        assert_eq!(
            one["explanation"]["excluded_because"][0],
            "opted out of All leaders"
        );
        assert_eq!(
            api.ok("GET", &format!("/groups/{all}/opt-outs"), None)
                .await["opt_outs"][0]["channel"],
            "link"
        );
        assert_eq!(
            api.call("DELETE", &format!("/people/{bo}/opt-outs/{all}"), None)
                .await
                .status,
            204
        );

        // Standard groups appear, cannot be deleted, can be deactivated.
        let standard = api.ok("GET", "/groups/standard", None).await;
        let active = standard["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "All active people")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        assert_error(
            &api.call("DELETE", &format!("/groups/{active}"), None).await,
            409,
            "only deactivated",
        );
        assert_eq!(
            api.ok("POST", &format!("/groups/{active}/deactivate"), None)
                .await["active"],
            false
        );
        assert_eq!(
            api.ok("GET", &format!("/groups/{active}/recipients"), None)
                .await["count"],
            0
        );
        assert_error(
            &api.call("GET", "/groups/777/recipients", None).await,
            404,
            "no group",
        );
        api.app.stop().await;
    }
);

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_each_exists() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let api = Api::start(&db).await;
    let doc = request(api.app.http, "GET", "/api/v1/openapi.json", None, None)
        .await
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, methods) in paths {
        for method in methods.as_object().unwrap().keys() {
            operations += 1;
            let concrete = path
                .replace("{id}", "999999")
                .replace("{person}", "1")
                .replace("{child}", "1")
                .replace("{group}", "all");
            let body = if ["post", "put", "patch"].contains(&method.as_str()) {
                Some(json!({}))
            } else {
                None
            };
            let r = api.call(&method.to_uppercase(), &concrete, body).await;
            // The router's own 404/405 have no JSON body; our handlers always answer JSON.
            assert!(
                r.status != 405,
                "{method} {path} is documented but not routed"
            );
            assert!(
                r.status < 300 || r.body.starts_with('{'),
                "{method} {path} -> {} {:?}",
                r.status,
                r.body
            );
        }
    }
    assert_eq!(operations, circlemail::http::api::routes::ROUTES.len());
    api.app.stop().await;
}
