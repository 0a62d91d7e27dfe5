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
