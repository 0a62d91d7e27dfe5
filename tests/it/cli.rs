//! The command line as an operator uses it.

use std::process::Command;

use crate::support::process::BIN;

fn run(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run circlemail")
}

#[test]
fn a_broken_config_exits_2_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[delivery]\nworkers = \"many\"\n").unwrap();
    let out = run(&config, &["check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("delivery.workers"), "{stderr}");

    let missing = run(&dir.path().join("nope.toml"), &["serve"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the config file"));
}

#[test]
fn the_shipped_config_checks_and_environment_overrides_are_applied() {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = std::path::Path::new(root).join("config/circlemail.toml");
    assert!(run(&config, &["check-config"]).status.success());
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .env("CIRCLEMAIL_DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.url"));
}

#[test]
fn groups_and_members_can_be_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let config = std::path::Path::new(root).join("config/circlemail.toml");
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    let cm = |args: &[&str]| {
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("CIRCLEMAIL_DATABASE_URL", &db)
            .output()
            .unwrap()
    };
    let created = cm(&[
        "group",
        "create",
        "Board",
        "--address",
        "board@lists.localhost",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        cm(&[
            "member",
            "add",
            "Board",
            "anna@example.org",
            "--name",
            "Anna"
        ])
        .status
        .success()
    );
    assert!(
        cm(&["member", "add", "board@lists.localhost", "bo@example.net"])
            .status
            .success()
    );
    let wrong_domain = cm(&["group", "create", "X", "--address", "x@elsewhere.org"]);
    assert_eq!(wrong_domain.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong_domain.stderr).contains("not in server.domains"));
    let list = String::from_utf8(cm(&["group", "list"]).stdout).unwrap();
    assert!(
        list.contains("Board")
            && list.contains("board@lists.localhost")
            && list.contains("2 direct members"),
        "{list}"
    );
    let members = String::from_utf8(cm(&["member", "list", "Board"]).stdout).unwrap();
    assert_eq!(members, "anna@example.org (Anna)\nbo@example.net\n");
    assert!(
        cm(&["member", "remove", "Board", "bo@example.net"])
            .status
            .success()
    );
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("serve"));
}

#[test]
fn dkim_generate_writes_a_private_key_and_check_compares_it_with_dns() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let base = std::path::Path::new(root).join("config/circlemail.toml");
    let key = dir.path().join("k.pem");
    let out = run(
        &base,
        &[
            "dkim",
            "generate",
            "--domain",
            "lists.example",
            "--selector",
            "s1",
            "--algorithm",
            "ed25519",
            "--out",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let record_line = stdout
        .lines()
        .find(|l| l.starts_with("s1._domainkey.lists.example. IN TXT "))
        .unwrap();
    let value: String = record_line
        .split("TXT ")
        .nth(1)
        .unwrap()
        .replace("\" \"", "")
        .trim_matches('"')
        .to_string();
    assert!(value.starts_with("v=DKIM1; k=ed25519; p="), "{value}");
    assert!(
        run(
            &base,
            &[
                "dkim",
                "generate",
                "--domain",
                "x.org",
                "--selector",
                "s",
                "--out",
                key.to_str().unwrap()
            ]
        )
        .status
        .code()
            == Some(1),
        "never overwrites a key"
    );

    let config = dir.path().join("c.toml");
    let dns = crate::support::dns::server();
    std::fs::write(&config, format!(
        "[server]\ndomains = [\"lists.example\"]\n[dns]\nnameservers = [\"{dns}\"]\n[[dkim.keys]]\ndomain = \"lists.example\"\nselector = \"s1\"\nprivate_key = \"{}\"\n",
        key.display()
    )).unwrap();
    let missing = run(&config, &["dkim", "check", "--domain", "lists.example"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stdout).contains("NOT FOUND"));
    crate::support::dns::publish("s1._domainkey.lists.example", &value);
    let ok = run(&config, &["dkim", "check", "--domain", "lists.example"]);
    assert!(
        ok.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("OK, the published key matches"));
    crate::support::dns::publish(
        "s1._domainkey.lists.example",
        "v=DKIM1; k=ed25519; p=AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKey=",
    );
    let wrong = run(&config, &["dkim", "check", "--domain", "lists.example"]);
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("MISMATCH"));

    std::fs::write(&config, "[server]\ndomains = [\"lists.example\"]\n[[dkim.keys]]\ndomain = \"lists.example\"\nselector = \"s1\"\nprivate_key = \"/nonexistent/k.pem\"\n").unwrap();
    let bad = run(&config, &["check-config"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("dkim.keys[0].private_key: cannot read DKIM key /nonexistent/k.pem")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_command_shows_deferred_recipients_and_retries_and_cancels_them() {
    use crate::support::{
        app::{TestApp, message, queue_id, test_config},
        db::{Backend, TestDb},
        process::write_config,
        sink::Sink,
        smtp::Client,
    };
    let db = TestDb::new(Backend::Sqlite, None).await;
    let sink = Sink::start().await;
    sink.fail_temporarily(1000);
    let mut config = test_config(&db.url, sink.addr);
    config.delivery.retry_initial = std::time::Duration::from_secs(3600);
    config.delivery.retry_max_interval = std::time::Duration::from_secs(3600);
    let app = TestApp::spawn(config).await;
    let list = app.group("Board", "board", &["anna@example.org"]).await;
    let (mut c, _) = Client::connect(app.smtp).await;
    c.cmd("EHLO client").await;
    let reply = c
        .post(
            "anna@example.org",
            &[&list],
            &message("anna@example.org", &list, "Queued", "hi"),
        )
        .await;
    let queue_id = queue_id(&reply);
    let start = std::time::Instant::now();
    while app.store.deferred(10).await.unwrap().is_empty() {
        assert!(start.elapsed().as_secs() < 20, "never deferred");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.stop().await;

    let config = write_config(db.dir.path(), &db.url, sink.addr);
    let text = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed = text(run(&config, &["queue"]));
    assert!(listed.contains(&queue_id), "{listed}");
    assert!(listed.contains("deferred anna@example.org"), "{listed}");
    assert!(listed.contains("451 4.3.0"), "{listed}");
    let retried = text(run(&config, &["queue", "retry", &queue_id]));
    assert!(retried.contains("1 recipients due now"), "{retried}");
    let cancelled = text(run(
        &config,
        &[
            "queue",
            "cancel",
            &queue_id,
            "--recipient",
            "anna@example.org",
        ],
    ));
    assert!(cancelled.contains("1 recipients cancelled"), "{cancelled}");
    assert!(text(run(&config, &["queue"])).contains("The queue is empty"));
    let unknown = run(&config, &["queue", "retry", "NOPE"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no post with queue id"));
    assert!(run(&config, &["bounces", "list", "Board"]).status.success());
}

/// The README walk-through's commands, as written there (docs/examples/people.csv included),
/// with output a person reads: singular and plural, empty lists said, the real reason.
#[test]
fn the_readme_walk_through_commands_say_what_they_did_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let config = std::path::Path::new(root).join("config/circlemail.toml");
    let db = format!("sqlite://{}/walk.db", dir.path().display());
    let cm = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("CIRCLEMAIL_DATABASE_URL", &db)
            .current_dir(root)
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let ok = |args: &[&str]| {
        let (ok, text) = cm(args);
        assert!(ok, "{args:?}: {text}");
        text
    };
    ok(&[
        "group",
        "create",
        "Board",
        "--address",
        "board@lists.localhost",
    ]);
    ok(&[
        "member",
        "add",
        "Board",
        "anna@example.org",
        "--name",
        "Anna Berg",
    ]);
    let (done, text) = cm(&["member", "add", "Board", "anna@@example.org"]);
    assert!(!done && text.contains("more than one @"), "{text}");
    ok(&["group", "create", "Circle leaders"]);
    ok(&[
        "group",
        "create",
        "All leaders",
        "--address",
        "leaders@lists.localhost",
    ]);
    ok(&["subgroup", "add", "All leaders", "Circle leaders"]);
    ok(&[
        "member",
        "add",
        "Circle leaders",
        "kim@example.org",
        "--from",
        "2026-01-01",
    ]);
    let rule = r#"{"field": "team", "op": "equals", "value": "Leaders"}"#;
    let text = ok(&["group", "rule", "All leaders", rule, "--dry-run"]);
    assert!(text.contains("(0 people match now)"), "{text}");
    let text = ok(&["group", "recipients", "All leaders", "--explain"]);
    assert!(
        text.contains("1 recipient\n") && !text.contains("1 recipients"),
        "{text}"
    );
    ok(&[
        "group",
        "create",
        "Study circle",
        "--address",
        "study@lists.localhost",
    ]);
    let text = ok(&["import", "docs/examples/people.csv"]);
    assert!(text.contains("5 imported, 0 skipped"), "{text}");
    let text = ok(&["group", "rule", "All leaders", rule, "--dry-run"]);
    assert!(text.contains("(2 people match now)"), "{text}");
    let youth = r#"{"field": "team", "op": "equals", "value": "Youth"}"#;
    let text = ok(&["group", "rule", "All leaders", youth, "--dry-run"]);
    assert!(text.contains("(1 person matches now)"), "{text}");
    ok(&[
        "group",
        "settings",
        "Board",
        r#"{"reply_to": "list", "subject_prefix": "[Board]"}"#,
    ]);
    ok(&[
        "group",
        "settings",
        "Study circle",
        r#"{"who_may_post": "managers", "member_action": "reject"}"#,
    ]);
    let text = ok(&["group", "recipients", "Study circle"]);
    assert!(
        text.contains("sam@example.org") && text.contains("1 recipient"),
        "{text}"
    );
    assert!(ok(&["moderation", "list"]).contains("no posts held for moderation"));
    assert!(ok(&["bounces", "list", "Board"]).contains("no bounces for Board"));
}
