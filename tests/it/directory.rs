//! The in-memory directory kept current by patches from the change log: random writes through
//! the store, applied incrementally, must leave the same directory a full rebuild makes (on
//! SQLite and PostgreSQL); and a change made through one instance is seen by another at once.

use std::sync::Arc;

use circlemail::{
    clock::{Clock, ManualClock},
    groups::{Resolver, directory::Directory},
    model::address::EmailAddress,
    store::{Store, people::Vocabulary},
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::json;

use crate::on_both_backends;
use crate::support::{
    admin::{self, Client},
    db::TestDb,
};

const RULES: [&str; 6] = [
    r#"{"field": "status", "op": "equals", "value": "active"}"#,
    r#"{"field": "membership_type", "op": "not_in", "value": ["Gold"]}"#,
    r#"{"field": "team", "op": "in", "value": ["Youth", "Board"]}"#,
    r#"{"field": "field:colour", "op": "equals", "value": "green"}"#,
    r#"{"any": [{"field": "status", "op": "equals", "value": "resigned"}, {"field": "left", "op": "within_last_months", "value": 6}]}"#,
    r#"{"all": [{"field": "joined", "op": "more_than_months_ago", "value": 12}, {"field": "team", "op": "not_equals", "value": "Youth"}]}"#,
];

fn pick<T: Copy>(rng: &mut StdRng, list: &[T]) -> Option<T> {
    (!list.is_empty()).then(|| list[rng.random_range(0..list.len())])
}

/// The directory as a full rebuild makes it now.
async fn rebuilt(store: &Store, today: chrono::NaiveDate) -> Vec<String> {
    Directory::build(store.load_directory().await.unwrap()).describe(today)
}

async fn incremental_matches_rebuild(db: &TestDb) {
    let store = Store::connect(&db.url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let clock = ManualClock::new(1_781_481_600_000); // 2026-06-15
    let resolver = Resolver::new(store.clone(), Arc::new(clock.clone()));
    let now = clock.now_ms();
    for t in ["Gold", "Silver"] {
        store
            .vocabulary_id(Vocabulary::MembershipType, t)
            .await
            .unwrap();
    }
    for t in ["Youth", "Board", "Choir"] {
        store.vocabulary_id(Vocabulary::Team, t).await.unwrap();
    }
    store
        .create_custom_field("colour", "single", &["green", "blue", "red"])
        .await
        .unwrap();
    let mut people: Vec<i64> = Vec::new();
    let mut groups: Vec<i64> = Vec::new();
    for i in 0..12 {
        let email = EmailAddress::parse(&format!("p{i}@example.org")).unwrap();
        people.push(store.upsert_person(&email, None, now).await.unwrap().id);
    }
    for i in 0..5 {
        groups.push(
            store
                .create_group(&format!("G{i}"), None, now)
                .await
                .unwrap()
                .id,
        );
    }
    let today = resolver.today();
    let first = resolver.directory().await.unwrap();
    assert_eq!(first.describe(today), rebuilt(&store, today).await);
    drop(first);

    let mut rng = StdRng::seed_from_u64(17);
    let mut next_person = 12;
    let mut next_group = 5;
    for step in 0..260 {
        let person = pick(&mut rng, &people);
        let group = pick(&mut rng, &groups);
        let op = rng.random_range(0..18);
        let what = match (op, person, group) {
            (0, _, _) => {
                let email = EmailAddress::parse(&format!("P{next_person}@Example.org")).unwrap();
                next_person += 1;
                people.push(store.upsert_person(&email, None, now).await.unwrap().id);
                "new person".to_string()
            }
            (1 | 2, Some(p), Some(g)) => {
                let role = if rng.random_bool(0.3) {
                    "manager"
                } else {
                    "member"
                };
                let from = ["2026-01-01", "2026-07-01", "2025-03-01"][rng.random_range(0..3)];
                let until = rng.random_bool(0.3).then_some("2026-06-30");
                let with_term = rng.random_bool(0.5);
                let r = store
                    .add_member_with_term(
                        g,
                        p,
                        role,
                        with_term.then_some(from),
                        if with_term { until } else { None },
                        now,
                    )
                    .await;
                format!("member {p} in {g} as {role}: {:?}", r.is_ok())
            }
            (3, Some(p), Some(g)) => {
                store.remove_member(g, p).await.unwrap();
                format!("remove member {p} from {g}")
            }
            (4 | 5, _, Some(parent)) => {
                let child = pick(&mut rng, &groups).unwrap_or(parent);
                let r = store
                    .add_subgroup(parent, child, rng.random_bool(0.3))
                    .await;
                format!("subgroup {child} in {parent}: {}", r.is_ok())
            }
            (6, _, Some(parent)) => {
                let child = pick(&mut rng, &groups).unwrap_or(parent);
                store.remove_subgroup(parent, child).await.unwrap();
                format!("remove subgroup {child} from {parent}")
            }
            (7, _, Some(g)) => {
                let rule = if rng.random_bool(0.2) {
                    None
                } else {
                    Some(RULES[rng.random_range(0..RULES.len())])
                };
                store.set_criteria(g, rule).await.unwrap();
                format!("rule of {g}: {rule:?}")
            }
            (8, _, Some(g)) => {
                let on = rng.random_bool(0.6);
                store.set_group_active(g, on).await.unwrap();
                format!("group {g} active {on}")
            }
            (9, _, Some(g)) => {
                let r = store.delete_group(g).await;
                if r.is_ok() {
                    groups.retain(|&x| x != g);
                }
                format!("delete group {g}: {}", r.is_ok())
            }
            (10, _, _) => {
                groups.push(
                    store
                        .create_group(&format!("G{next_group}"), None, now)
                        .await
                        .unwrap()
                        .id,
                );
                next_group += 1;
                "new group".to_string()
            }
            (11, Some(p), _) => {
                let status = ["active", "resigned"][rng.random_range(0..2)];
                let kind = [None, Some("Gold"), Some("Silver")][rng.random_range(0..3)];
                store
                    .set_person_profile(p, status, kind, "person")
                    .await
                    .unwrap();
                format!("profile of {p}: {status} {kind:?}")
            }
            (12, Some(p), _) => {
                let teams: Vec<&str> = ["Youth", "Board", "Choir"]
                    .into_iter()
                    .filter(|_| rng.random_bool(0.4))
                    .collect();
                store
                    .set_person_vocabulary(p, Vocabulary::Team, &teams)
                    .await
                    .unwrap();
                format!("teams of {p}: {teams:?}")
            }
            (13, Some(p), _) => {
                let colour = ["green", "blue", "red"][rng.random_range(0..3)];
                store
                    .set_custom_field(p, "colour", &[colour])
                    .await
                    .unwrap();
                format!("colour of {p}: {colour}")
            }
            (14, Some(p), _) => {
                let joined = ["2020-01-01", "2025-09-01", "2026-05-01"][rng.random_range(0..3)];
                let left = rng.random_bool(0.5).then_some("2026-04-01");
                store.add_membership_period(p, joined, left).await.unwrap();
                format!("period of {p}: {joined} {left:?}")
            }
            (15, Some(p), _) => {
                store.delete_person(p).await.unwrap();
                people.retain(|&x| x != p);
                format!("delete person {p}")
            }
            (16, Some(p), g) => {
                let g = g.filter(|_| rng.random_bool(0.7));
                if rng.random_bool(0.6) {
                    store.opt_out(p, g, "admin", now).await.unwrap();
                    format!("opt-out of {p} from {g:?}")
                } else {
                    store.undo_opt_out(p, g).await.unwrap();
                    format!("undo opt-out of {p} from {g:?}")
                }
            }
            (17, Some(p), _) => {
                let on = rng.random_bool(0.5);
                store.set_receive_duplicates(p, on).await.unwrap();
                let email = EmailAddress::parse(&format!("renamed{p}@example.org")).unwrap();
                store
                    .update_person(p, Some(&email), None, now)
                    .await
                    .unwrap();
                format!("duplicates {on} and new address for {p}")
            }
            _ => continue,
        };
        if rng.random_bool(0.4) {
            continue; // several writes before the next read
        }
        let patched = resolver.directory().await.unwrap().describe(today);
        let full = rebuilt(&store, today).await;
        if patched != full {
            let diff: Vec<String> = patched
                .iter()
                .filter(|l| !full.contains(l))
                .map(|l| format!("patched: {l}"))
                .chain(
                    full.iter()
                        .filter(|l| !patched.contains(l))
                        .map(|l| format!("rebuilt: {l}")),
                )
                .collect();
            panic!(
                "step {step} ({what}) left the patched directory different:\n{}",
                diff.join("\n")
            );
        }
    }
    let (patches, rebuilds) = resolver.update_counts();
    assert!(patches > 100, "{patches} patches, {rebuilds} rebuilds");
    assert!(rebuilds <= 2, "{patches} patches, {rebuilds} rebuilds");
}

on_both_backends!(patched_directory_equals_rebuilt_one, |db| {
    incremental_matches_rebuild(db)
});

async fn recipients(c: &Client, group: i64) -> Vec<String> {
    let mut v: Vec<String> = c
        .ok("GET", &format!("/groups/{group}/recipients"), None)
        .await["recipients"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .filter_map(|r| {
            r.as_str()
                .map(str::to_string)
                .or_else(|| r["email"].as_str().map(str::to_string))
        })
        .collect();
    v.sort();
    v
}

/// Two servers on one database: a change made through either is in the other's next answer.
async fn another_instance_sees_a_change(db: &TestDb) {
    let (a, root_a) = admin::start(db, 0).await;
    let (b, root_b) = admin::start(db, 0).await;
    let group = admin::group(&root_a, "Board", None, &["ann@example.org"]).await;
    assert_eq!(recipients(&root_b, group).await, ["ann@example.org"]);
    // Both instances hold a directory now; each change goes through one, is read at the other.
    root_a
        .ok(
            "POST",
            &format!("/groups/{group}/members"),
            Some(json!({ "email": "bob@example.org" })),
        )
        .await;
    assert_eq!(
        recipients(&root_b, group).await,
        ["ann@example.org", "bob@example.org"]
    );
    let ann = admin::person_id(&root_b, "ann@example.org").await;
    root_b
        .ok("DELETE", &format!("/groups/{group}/members/{ann}"), None)
        .await;
    assert_eq!(recipients(&root_a, group).await, ["bob@example.org"]);
    let sub = admin::group(&root_b, "Youth", Some(group), &["cy@example.org"]).await;
    assert_eq!(
        recipients(&root_a, group).await,
        ["bob@example.org", "cy@example.org"]
    );
    root_a
        .ok("POST", &format!("/groups/{sub}/deactivate"), None)
        .await;
    assert_eq!(recipients(&root_b, group).await, ["bob@example.org"]);
    a.stop().await;
    b.stop().await;
}

on_both_backends!(a_change_through_one_instance_is_seen_by_another, |db| {
    another_instance_sees_a_change(db)
});
