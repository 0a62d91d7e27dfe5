//! `circlemail import people.csv`: attributes and groups from a spreadsheet, bad rows reported
//! by line, the rest imported, and a second import of the same file changing nothing.

use std::process::Command;

use circlemail::{admin::import::import_csv, model::address::EmailAddress, store::Store};

use crate::on_both_backends;
use crate::support::{db::TestDb, process::BIN};

const CSV: &str = "\
email,name,status,membership_type,teams,groups,joined,left,field:Instrument
anna@x.org,Anna Berg,active,Gold,Youth;Board,Circle leaders;Choir,2020-01-01,,Cello
bo@x.org,Bo,resigned,Silver,,Choir,2019-03-01,2026-02-28,
not-an-address,Broken,active,,,,,,
cay@x.org,Cay,sleeping,Gold,,,,,
dan@x.org,Dan,active,Gold,,Choir,2021-01-01,,Tuba
eve@x.org,\"Eve, the second\",active,,,Choir,2024-05-01,,Violin;Cello
";

async fn org(db: &TestDb) -> Store {
    let store = Store::connect(&db.url, 4).await.unwrap();
    store.migrate().await.unwrap();
    store
        .create_custom_field("Instrument", "multiple", &["Violin", "Cello"])
        .await
        .unwrap();
    store
}

async fn snapshot(store: &Store) -> String {
    let mut out = String::new();
    for g in store.list_groups().await.unwrap() {
        out.push_str(&format!("{}={} ", g.group.name, g.members));
    }
    for e in ["anna@x.org", "bo@x.org", "eve@x.org"] {
        let p = store
            .find_person(&EmailAddress::parse(e).unwrap())
            .await
            .unwrap()
            .unwrap();
        out.push_str(&serde_json::to_string(&store.person_detail(p.id).await.unwrap()).unwrap());
    }
    out
}

on_both_backends!(
    an_import_reports_bad_rows_by_line_and_a_second_import_changes_nothing,
    async |db: &TestDb| {
        let store = org(db).await;
        let report = import_csv(&store, CSV.as_bytes(), 0, |_| {}).await.unwrap();
        assert_eq!(report.rows, 6);
        assert_eq!(report.imported, 3);
        let lines: Vec<u64> = report.skipped.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [4, 5, 6], "{:?}", report.skipped);
        assert!(report.skipped[0].1.contains("email"));
        assert!(report.skipped[1].1.contains("status"));
        assert!(report.skipped[2].1.contains("Tuba"));
        let mut created = report.created_groups.clone();
        created.sort();
        assert_eq!(created, ["Choir", "Circle leaders"]);

        let anna = store
            .find_person(&EmailAddress::parse("anna@x.org").unwrap())
            .await
            .unwrap()
            .unwrap();
        let d = store.person_detail(anna.id).await.unwrap().unwrap();
        assert_eq!(
            (
                d.name.as_deref(),
                d.status.as_str(),
                d.membership_type.as_deref()
            ),
            (Some("Anna Berg"), "active", Some("Gold"))
        );
        assert_eq!(d.teams, ["Board", "Youth"]);
        assert_eq!(d.fields["Instrument"], ["Cello"]);
        let eve = store
            .find_person(&EmailAddress::parse("eve@x.org").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            eve.name.as_deref(),
            Some("Eve, the second"),
            "quoted CSV cells"
        );

        let before = snapshot(&store).await;
        let again = import_csv(&store, CSV.as_bytes(), 1, |_| {}).await.unwrap();
        assert_eq!(again.imported, 3);
        assert!(again.created_groups.is_empty());
        assert_eq!(
            snapshot(&store).await,
            before,
            "re-importing the same file changes nothing"
        );

        // A later file: Bo's period gets its end date changed; history is kept, not overwritten.
        let later = "email,joined,left\nbo@x.org,2019-03-01,2026-03-31\nbo@x.org,2026-09-01,\n";
        let r = import_csv(&store, later.as_bytes(), 2, |_| {})
            .await
            .unwrap();
        assert_eq!(
            r.skipped.len(),
            1,
            "the same address twice in one file: {:?}",
            r.skipped
        );
        let bo = store
            .find_person(&EmailAddress::parse("bo@x.org").unwrap())
            .await
            .unwrap()
            .unwrap();
        let periods = store.person_detail(bo.id).await.unwrap().unwrap().periods;
        assert_eq!(periods.len(), 1);
        assert_eq!(periods[0].left.as_deref(), Some("2026-03-31"));
    }
);

#[tokio::test]
async fn an_import_with_an_unknown_column_is_refused_before_anything_is_written() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite, None).await;
    let store = org(&db).await;
    let err = import_csv(
        &store,
        "email,shoe_size\na@x.org,42\n".as_bytes(),
        0,
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown column \"shoe_size\""),
        "{err}"
    );
    assert!(
        store
            .search_people(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_import_command_prints_skipped_lines_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(&csv, "email,name,groups\nanna@x.org,Anna,Board\nbad,Bad,\n").unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/circlemail.toml");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("import")
        .arg(&csv)
        .env(
            "CIRCLEMAIL_DATABASE_URL",
            format!("sqlite://{}/i.db", dir.path().display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("2 rows: 1 imported, 1 skipped"), "{stdout}");
    assert!(stdout.contains("created group \"Board\""), "{stdout}");
    assert!(stderr.contains("people.csv:3: skipped: email:"), "{stderr}");
}
