//! Direct delivery to MX hosts found in the (local) DNS: preference order and fallback, a
//! destination answering 421 then 451 then 250, one that never answers, a null MX, SERVFAIL;
//! and the queue as the API and /metrics show it.

use std::{net::Ipv4Addr, time::Duration};

use circlemail::config::{Config, Secret, TransportKind};

use crate::on_both_backends;
use crate::support::{
    app::{TestApp, message, queue_id, test_config},
    db::TestDb,
    dns::{publish_a, publish_mx, servfail},
    http::request,
    sink::Sink,
    smtp::Client,
};

const WAIT: Duration = Duration::from_secs(20);
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// A server delivering directly, to MX hosts listening on `port`.
pub fn direct_config(db: &TestDb, port: u16) -> Config {
    let mut c = test_config(&db.url, "127.0.0.1:9".parse().unwrap());
    c.delivery.transport = TransportKind::Direct;
    c.delivery.direct_port = port;
    c.delivery.command_timeout = Duration::from_secs(1);
    c.delivery.connect_timeout = Duration::from_secs(1);
    c.http.api_token = Some(Secret::new(TOKEN));
    c
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// Posts to `list` as `from` (a member); returns the queue id.
pub async fn post(app: &TestApp, list: &str, from: &str, subject: &str) -> String {
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client.example.org").await;
    let reply = c
        .post(from, &[list], &message(from, list, subject, "hello"))
        .await;
    c.cmd("QUIT").await;
    assert!(reply.starts_with("250 2.0.0 Queued as"), "{reply}");
    queue_id(&reply)
}

fn recipients_of(sink: &Sink) -> Vec<String> {
    let mut r: Vec<String> = sink.messages().into_iter().flat_map(|m| m.rcpts).collect();
    r.sort();
    r
}

on_both_backends!(
    mx_hosts_are_tried_in_preference_order_and_the_next_takes_over,
    async |db: &TestDb| {
        let sinks = Sink::start_same_port(&["127.0.0.2", "127.0.0.3", "127.0.0.4"]).await;
        let port = sinks[0].addr.port();
        publish_mx("prio.test", &[(20, "mx2.prio.test"), (10, "mx1.prio.test")]);
        publish_a("mx1.prio.test", &[ip(2)]);
        publish_a("mx2.prio.test", &[ip(3)]);
        // The preferred host refuses connections (nothing listens on 127.0.0.9).
        publish_mx(
            "fallback.test",
            &[(5, "dead.fallback.test"), (10, "mx.fallback.test")],
        );
        publish_a("dead.fallback.test", &[ip(9)]);
        publish_a("mx.fallback.test", &[ip(3)]);
        // No MX at all: the domain's own address.
        publish_a("bare.test", &[ip(4)]);

        let app = TestApp::spawn(direct_config(db, port)).await;
        let list = app
            .group(
                "Board",
                "board",
                &["a@prio.test", "b@fallback.test", "c@bare.test"],
            )
            .await;
        post(&app, &list, "a@prio.test", "one").await;
        for s in &sinks {
            s.wait_for_recipients(1, WAIT).await;
        }
        assert_eq!(
            recipients_of(&sinks[0]),
            ["a@prio.test"],
            "the preferred MX"
        );
        assert_eq!(
            recipients_of(&sinks[1]),
            ["b@fallback.test"],
            "the next MX after a refusal"
        );
        assert_eq!(recipients_of(&sinks[2]), ["c@bare.test"], "the implicit MX");

        // The preferred host is busy (421 at the greeting): the next one takes the copy.
        sinks[0].busy(1);
        post(&app, &list, "a@prio.test", "two").await;
        sinks[1].wait_for_recipients(3, WAIT).await;
        sinks[2].wait_for_recipients(2, WAIT).await;
        assert_eq!(recipients_of(&sinks[0]), ["a@prio.test"]);
        assert_eq!(
            recipients_of(&sinks[1]),
            ["a@prio.test", "b@fallback.test", "b@fallback.test"]
        );
        app.stop().await;
    }
);

on_both_backends!(
    a_destination_answering_421_then_451_gets_the_post_on_the_third_attempt,
    async |db: &TestDb| {
        let sink = &Sink::start_same_port(&["127.0.0.5"]).await[0];
        publish_mx("retry.test", &[(10, "mx.retry.test")]);
        publish_a("mx.retry.test", &[ip(5)]);
        sink.busy(1);
        sink.fail_temporarily(1);
        let app = TestApp::spawn(direct_config(db, sink.addr.port())).await;
        let list = app.group("Board", "board", &["x@retry.test"]).await;
        let queue_id = post(&app, &list, "x@retry.test", "again").await;
        sink.wait_for_recipients(1, WAIT).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rows = app.store.deliveries_of(&queue_id).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, "delivered");
        assert_eq!(rows[0].attempts, 3, "421, then 451, then 250");
        assert_eq!(sink.messages().len(), 1, "one copy");
        app.stop().await;
    }
);

on_both_backends!(
    a_silent_destination_is_deferred_shown_in_the_queue_and_retried_on_request,
    async |db: &TestDb| {
        let sink = &Sink::start_same_port(&["127.0.0.6"]).await[0];
        publish_mx("slow.test", &[(10, "mx.slow.test")]);
        publish_a("mx.slow.test", &[ip(6)]);
        sink.stall(true);
        let mut config = direct_config(db, sink.addr.port());
        config.delivery.retry_initial = Duration::from_secs(3600);
        config.delivery.retry_max_interval = Duration::from_secs(3600);
        let app = TestApp::spawn(config).await;
        let list = app.group("Board", "board", &["y@slow.test"]).await;
        let queue_id = post(&app, &list, "y@slow.test", "slow").await;

        let start = tokio::time::Instant::now();
        let deferred = loop {
            let r = request(app.http, "GET", "/api/v1/queue", Some(TOKEN), None).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let v = r.json();
            if let Some(d) = v["deferred"].as_array().and_then(|d| d.first()).cloned() {
                assert_eq!(v["in_flight"][0]["queue_id"], queue_id.as_str());
                assert_eq!(v["in_flight"][0]["deferred"], 1);
                break d;
            }
            assert!(start.elapsed() < WAIT, "never deferred: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(deferred["recipient"], "y@slow.test");
        assert_eq!(deferred["queue_id"], queue_id.as_str());
        let error = deferred["last_error"].as_str().unwrap();
        assert!(
            error.contains("timed out") || error.contains("reached"),
            "{error}"
        );
        let next = deferred["next_attempt_at"].as_i64().unwrap();
        assert!(
            next > crate::support::app::chrono_now() + 3_000_000,
            "an hour away: {next}"
        );

        sink.stall(false);
        let r = request(
            app.http,
            "POST",
            &format!("/api/v1/queue/{queue_id}/retry"),
            Some(TOKEN),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["recipients"], 1);
        sink.wait_for_recipients(1, WAIT).await;

        let r = request(
            app.http,
            "POST",
            "/api/v1/queue/nope/retry",
            Some(TOKEN),
            None,
        )
        .await;
        assert_eq!(r.status, 404, "{}", r.body);
        let r = request(
            app.http,
            "POST",
            &format!("/api/v1/queue/{queue_id}/explode"),
            Some(TOKEN),
            None,
        )
        .await;
        assert_eq!(r.status, 404, "{}", r.body);

        tokio::time::sleep(Duration::from_millis(300)).await;
        let r = request(app.http, "GET", "/metrics", Some(TOKEN), None).await;
        assert_eq!(r.status, 200);
        assert!(
            r.body
                .contains("circlemail_recipients{state=\"delivered\"} 1\n"),
            "{}",
            r.body
        );
        assert!(
            r.body
                .contains("circlemail_delivery_attempts_total{outcome=\"deferred\"}"),
            "{}",
            r.body
        );
        assert!(
            r.body.contains("circlemail_queue_oldest_age_seconds 0\n"),
            "{}",
            r.body
        );
        app.stop().await;
    }
);

on_both_backends!(
    a_null_mx_fails_for_good_servfail_defers_and_cancel_gives_up,
    async |db: &TestDb| {
        let sink = &Sink::start_same_port(&["127.0.0.7"]).await[0];
        publish_mx("nullmx.test", &[(0, ".")]);
        servfail("broken.test");
        publish_mx("fine.test", &[(10, "mx.fine.test")]);
        publish_a("mx.fine.test", &[ip(7)]);
        let mut config = direct_config(db, sink.addr.port());
        config.delivery.retry_initial = Duration::from_secs(3600);
        config.delivery.retry_max_interval = Duration::from_secs(3600);
        let app = TestApp::spawn(config).await;
        let list = app
            .group(
                "Board",
                "board",
                &["n@nullmx.test", "s@broken.test", "ok@fine.test"],
            )
            .await;
        let queue_id = post(&app, &list, "ok@fine.test", "mixed").await;
        sink.wait_for_recipients(1, WAIT).await;
        let start = tokio::time::Instant::now();
        let rows = loop {
            let rows = app.store.deliveries_of(&queue_id).await.unwrap();
            if rows.iter().all(|r| r.attempts > 0) {
                break rows;
            }
            assert!(start.elapsed() < WAIT, "{rows:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let row = |r: &str| rows.iter().find(|x| x.recipient == r).unwrap().clone();
        assert_eq!(row("ok@fine.test").status, "delivered");
        let n = row("n@nullmx.test");
        assert_eq!(n.status, "failed");
        assert!(n.last_error.unwrap().contains("null MX"));
        let s = row("s@broken.test");
        assert_eq!(s.status, "deferred", "SERVFAIL is temporary");
        assert!(s.last_error.unwrap().contains("DNS"));
        assert_eq!(recipients_of(sink), ["ok@fine.test"]);

        let r = request(
            app.http,
            "POST",
            &format!("/api/v1/queue/{queue_id}/cancel"),
            Some(TOKEN),
            Some(r#"{"recipient":"S@broken.test"}"#),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["recipients"], 1);
        let s = app
            .store
            .deliveries_of(&queue_id)
            .await
            .unwrap()
            .into_iter()
            .find(|x| x.recipient == "s@broken.test")
            .unwrap();
        assert_eq!(s.status, "failed");
        assert!(s.last_error.unwrap().contains("cancelled"));
        app.stop().await;
    }
);

on_both_backends!(
    a_host_whose_starttls_fails_gets_the_copy_in_plain_text,
    async |db: &TestDb| {
        let sink = &Sink::start_same_port(&["127.0.0.8"]).await[0];
        publish_mx("badtls.test", &[(10, "mx.badtls.test")]);
        publish_a("mx.badtls.test", &[ip(8)]);
        sink.break_tls(true);
        let app = TestApp::spawn(direct_config(db, sink.addr.port())).await;
        let list = app.group("Board", "board", &["z@badtls.test"]).await;
        let queue_id = post(&app, &list, "z@badtls.test", "tls").await;
        sink.wait_for_recipients(1, WAIT).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rows = app.store.deliveries_of(&queue_id).await.unwrap();
        assert_eq!(
            (rows[0].status.as_str(), rows[0].attempts),
            ("delivered", 1)
        );
        app.stop().await;
    }
);

on_both_backends!(
    a_host_taking_one_message_per_connection_gets_every_copy_once,
    async |db: &TestDb| {
        // Personal copies, one per member, to a host that answers the second MAIL FROM of each
        // connection with 421 and hangs up: a new connection to the same host for each copy.
        let sink = &Sink::start_same_port(&["127.0.0.11"]).await[0];
        publish_mx("onebyone.test", &[(10, "mx.onebyone.test")]);
        publish_a("mx.onebyone.test", &[ip(11)]);
        sink.messages_per_connection(1);
        let app = TestApp::spawn(direct_config(db, sink.addr.port())).await;
        let members = ["a@onebyone.test", "b@onebyone.test", "c@onebyone.test"];
        let list = app.group("Board", "board", &members).await;
        let queue_id = post(&app, &list, "a@onebyone.test", "one by one").await;
        sink.wait_for_recipients(3, WAIT).await;
        let rows = app
            .deliveries_when(&queue_id, |r| r.status == "delivered")
            .await;
        assert!(
            rows.iter()
                .all(|r| r.status == "delivered" && r.attempts == 1),
            "each delivered on its first attempt: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(recipients_of(sink), members, "each once");
        app.stop().await;
    }
);
