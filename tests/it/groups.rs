//! Group resolution as the organisation describes it, on SQLite and PostgreSQL, with a clock the
//! test sets: who is in a group today, and why.

use std::sync::Arc;

use circlemail::{
    clock::{Clock, ManualClock},
    groups::{Resolver, criteria::Criteria},
    model::address::EmailAddress,
    store::{Store, people::Vocabulary},
};
use serde_json::json;

use crate::on_both_backends;
use crate::support::db::TestDb;

const DAY: i64 = 86_400_000;

/// An organisation in a fresh database, with a clock at 2026-06-15.
struct Org {
    store: Store,
    clock: ManualClock,
    resolver: Resolver,
}

impl Org {
    async fn new(db: &TestDb) -> Org {
        let store = Store::connect(&db.url, 4).await.unwrap();
        store.migrate().await.unwrap();
        let clock = ManualClock::new(1_781_481_600_000); // 2026-06-15T00:00:00Z
        let resolver = Resolver::new(store.clone(), Arc::new(clock.clone()));
        Org {
            store,
            clock,
            resolver,
        }
    }

    async fn person(&self, email: &str) -> i64 {
        let now = self.clock.now_ms();
        self.store
            .upsert_person(&EmailAddress::parse(email).unwrap(), None, now)
            .await
            .unwrap()
            .id
    }

    async fn group(&self, name: &str) -> i64 {
        let address = format!("{}@lists.test", name.to_lowercase().replace(' ', "-"));
        let now = self.clock.now_ms();
        self.store
            .create_group(name, Some(&EmailAddress::parse(&address).unwrap()), now)
            .await
            .unwrap()
            .id
    }

    async fn add(&self, group: i64, person: i64) {
        self.store.add_member(group, person, 0).await.unwrap();
    }

    async fn recipients(&self, group: i64) -> Vec<String> {
        let mut r = self.resolver.recipients(group).await.unwrap();
        r.sort();
        r
    }

    async fn standard(&self, name: &str) -> i64 {
        self.resolver.directory().await.unwrap();
        self.store
            .find_group(name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no standard group {name}"))
            .id
    }
}

on_both_backends!(
    direct_members_subgroups_and_rules_combine_without_duplicates,
    async |db: &TestDb| {
        let org = Org::new(db).await;
        let (anna, bo, cay, dan) = (
            org.person("anna@x.org").await,
            org.person("bo@x.org").await,
            org.person("cay@x.org").await,
            org.person("dan@x.org").await,
        );
        for p in [anna, bo, cay, dan] {
            org.store
                .set_person_profile(p, "active", None, "person")
                .await
                .unwrap();
        }
        org.store
            .set_person_vocabulary(dan, Vocabulary::Team, &["Youth"])
            .await
            .unwrap();
        let circle = org.group("Circle leaders").await;
        let travel = org.group("Travel leaders").await;
        let all = org.group("All leaders").await;
        org.add(circle, anna).await;
        org.add(circle, bo).await;
        org.add(travel, bo).await; // diamond: bo is reachable twice
        org.add(travel, cay).await;
        org.store.add_subgroup(all, circle, false).await.unwrap();
        org.store.add_subgroup(all, travel, false).await.unwrap();
        assert_eq!(
            org.recipients(all).await,
            ["anna@x.org", "bo@x.org", "cay@x.org"]
        );

        // A rule adds the youth team; a direct member who also matches is still one recipient.
        let rule =
            Criteria::parse(&json!({"field": "team", "op": "equals", "value": "Youth"})).unwrap();
        assert_eq!(
            org.resolver.count_matching(&rule).await.unwrap(),
            1,
            "dry-run count"
        );
        org.store
            .set_criteria(all, Some(&rule.to_json()))
            .await
            .unwrap();
        org.add(all, dan).await;
        assert_eq!(
            org.recipients(all).await,
            ["anna@x.org", "bo@x.org", "cay@x.org", "dan@x.org"]
        );

        // Subgroups change, the parent follows.
        let eve = org.person("eve@x.org").await;
        org.add(travel, eve).await;
        assert!(org.recipients(all).await.contains(&"eve@x.org".to_string()));
    }
);

on_both_backends!(
    nesting_three_levels_deep_and_a_cycle_is_refused,
    async |db: &TestDb| {
        let org = Org::new(db).await;
        let (top, mid, leaf) = (
            org.group("Top").await,
            org.group("Mid").await,
            org.group("Leaf").await,
        );
        let p = org.person("deep@x.org").await;
        org.add(leaf, p).await;
        org.store.add_subgroup(top, mid, false).await.unwrap();
        org.store.add_subgroup(mid, leaf, false).await.unwrap();
        assert_eq!(org.recipients(top).await, ["deep@x.org"]);

        let err = org.store.add_subgroup(leaf, top, false).await.unwrap_err();
        assert!(err.to_string().contains("cycle"), "{err}");
        assert!(org.store.add_subgroup(top, top, false).await.is_err());
        let why = org.resolver.explain(top, p).await.unwrap();
        assert_eq!(why.paths, ["Top ← Mid ← Leaf ← direct member"]);
    }
);

on_both_backends!(terms_start_and_end_on_their_days, async |db: &TestDb| {
    let org = Org::new(db).await;
    let board = org.group("Board").await;
    let (old, new) = (org.person("old@x.org").await, org.person("new@x.org").await);
    org.store
        .add_member_with_term(
            board,
            old,
            "member",
            Some("2025-07-01"),
            Some("2026-06-30"),
            0,
        )
        .await
        .unwrap();
    org.store
        .add_member_with_term(board, new, "manager", Some("2026-07-01"), None, 0)
        .await
        .unwrap();
    assert_eq!(
        org.recipients(board).await,
        ["old@x.org"],
        "June: last year's board"
    );

    org.clock.advance(15 * DAY); // 2026-06-30: the old board's last day
    assert_eq!(org.recipients(board).await, ["old@x.org"]);
    org.clock.advance(DAY); // 2026-07-01
    assert_eq!(
        org.recipients(board).await,
        ["new@x.org"],
        "the new board from its first day"
    );
    let why = org.resolver.explain(board, new).await.unwrap();
    assert_eq!(
        why.paths,
        ["Board ← direct member (manager) since 2026-07-01"]
    );
    assert!(why.manager);
    let old_why = org.resolver.explain(board, old).await.unwrap();
    assert!(!old_why.member);
    assert_eq!(
        old_why.inactive_terms,
        ["Board: direct member from 2025-07-01 until 2026-06-30"]
    );

    // "Next year's board from this year's": only the terms current today (2026-07-01: the
    // new board; last year's term is over).
    let next = org.group("Board 2027").await;
    assert_eq!(
        org.store
            .copy_members(board, next, "2026-07-01", Some("2027-07-01"), None, 0)
            .await
            .unwrap(),
        1
    );
    let copied = org.store.members(next).await.unwrap();
    assert_eq!(copied.len(), 1);
    assert_eq!(copied[0].person_id, new);
    assert_eq!(copied[0].role, "manager");
    assert_eq!(copied[0].valid_from.as_deref(), Some("2027-07-01"));
    assert!(
        org.recipients(next).await.is_empty(),
        "not before 2027-07-01"
    );
});

on_both_backends!(
    rule_operators_and_the_last_n_months_case,
    async |db: &TestDb| {
        let org = Org::new(db).await;
        let s = &org.store;
        let people = [
            ("active@x.org", "active", Some("Gold"), None),
            (
                "left2m@x.org",
                "resigned",
                Some("Silver"),
                Some("2026-04-20"),
            ),
            ("left6m@x.org", "resigned", Some("Gold"), Some("2025-12-01")),
        ];
        for (email, status, kind, left) in people {
            let id = org.person(email).await;
            s.set_person_profile(id, status, kind, "person")
                .await
                .unwrap();
            s.add_membership_period(id, "2020-01-01", left)
                .await
                .unwrap();
        }
        s.create_custom_field("Instrument", "multiple", &["Violin", "Cello"])
            .await
            .unwrap();
        s.create_custom_field("Newsletter", "checkbox", &[])
            .await
            .unwrap();
        let active = org.person("active@x.org").await;
        s.set_custom_field(active, "Instrument", &["Cello"])
            .await
            .unwrap();
        s.set_custom_field(active, "Newsletter", &["true"])
            .await
            .unwrap();

        let count = async |rule: serde_json::Value| {
            org.resolver
                .count_matching(&Criteria::parse(&rule).unwrap())
                .await
                .unwrap()
        };
        assert_eq!(
            count(json!({"field": "status", "op": "equals", "value": "active"})).await,
            1
        );
        assert_eq!(
            count(json!({"field": "status", "op": "not_equals", "value": "active"})).await,
            2
        );
        assert_eq!(
            count(json!({"field": "membership_type", "op": "in", "value": ["Gold", "Bronze"]}))
                .await,
            2
        );
        assert_eq!(
            count(json!({"field": "membership_type", "op": "not_in", "value": ["Gold"]})).await,
            1
        );
        assert_eq!(
            count(json!({"field": "field:Instrument", "op": "equals", "value": "Cello"})).await,
            1
        );
        assert_eq!(
            count(json!({"field": "field:Newsletter", "op": "equals", "value": "false"})).await,
            2
        );
        assert_eq!(
            count(json!({"field": "profile_type", "op": "equals", "value": "organisation"})).await,
            0
        );
        let recent = json!({"any": [
            {"field": "status", "op": "equals", "value": "active"},
            {"field": "left", "op": "within_last_months", "value": 4}
        ]});
        assert_eq!(
            count(recent.clone()).await,
            2,
            "active, or left within the last 4 months"
        );
        assert_eq!(
            count(json!({"field": "left", "op": "more_than_months_ago", "value": 4})).await,
            1
        );
        assert_eq!(
            count(
                json!({"all": [{"field": "status", "op": "equals", "value": "resigned"},
                              {"field": "membership_type", "op": "equals", "value": "Gold"}]})
            )
            .await,
            1
        );

        // Time moves: on 2026-08-24 the window starts 2026-04-24, after the April 20 leaver left.
        org.clock.advance(70 * DAY);
        assert_eq!(count(recent).await, 1);
    }
);

on_both_backends!(standard_groups_follow_the_data, async |db: &TestDb| {
    let org = Org::new(db).await;
    let s = &org.store;
    let (a, b) = (org.person("a@x.org").await, org.person("b@x.org").await);
    s.set_person_profile(a, "active", Some("Family"), "person")
        .await
        .unwrap();
    s.set_person_profile(b, "resigned", Some("Family"), "person")
        .await
        .unwrap();
    s.set_person_vocabulary(a, Vocabulary::Service, &["Magazine"])
        .await
        .unwrap();
    let active = org.standard("All active people").await;
    let family = org.standard("Membership type: Family").await;
    let magazine = org.standard("Service: Magazine").await;
    let resigned = org.standard("All resigned people").await;
    assert_eq!(org.recipients(active).await, ["a@x.org"]);
    assert_eq!(org.recipients(resigned).await, ["b@x.org"]);
    assert_eq!(org.recipients(family).await, ["a@x.org", "b@x.org"]);
    assert_eq!(org.recipients(magazine).await, ["a@x.org"]);

    // A type change moves people between groups; renaming the type renames its group.
    s.set_person_profile(b, "resigned", Some("Single"), "person")
        .await
        .unwrap();
    assert_eq!(org.recipients(family).await, ["a@x.org"]);
    s.rename_vocabulary(Vocabulary::MembershipType, "Family", "Household")
        .await
        .unwrap();
    assert_eq!(org.standard("Membership type: Household").await, family);
    assert!(
        s.delete_group(family)
            .await
            .unwrap_err()
            .to_string()
            .contains("only deactivated")
    );
    s.set_group_active(family, false).await.unwrap();
    assert!(org.recipients(family).await.is_empty());

    // Everyone not otherwise grouped: people in no group of the organisation's own.
    let default = org.standard("Everyone not otherwise grouped").await;
    assert_eq!(org.recipients(default).await, ["a@x.org", "b@x.org"]);
    let club = org.group("Club").await;
    org.add(club, a).await;
    assert_eq!(org.recipients(default).await, ["b@x.org"]);
    assert_eq!(
        org.resolver.explain(default, b).await.unwrap().paths,
        ["Everyone not otherwise grouped ← in no other group"]
    );
});

on_both_backends!(
    opting_out_of_a_parent_keeps_the_child_and_all_mail_opt_out_stops_everything,
    async |db: &TestDb| {
        let org = Org::new(db).await;
        let (all, circle) = (
            org.group("All leaders").await,
            org.group("Circle leaders").await,
        );
        org.store.add_subgroup(all, circle, false).await.unwrap();
        let (anna, bo) = (org.person("anna@x.org").await, org.person("bo@x.org").await);
        org.add(circle, anna).await;
        org.add(circle, bo).await;

        org.store.opt_out(anna, Some(all), "link", 0).await.unwrap();
        assert_eq!(org.recipients(all).await, ["bo@x.org"]);
        assert_eq!(
            org.recipients(circle).await,
            ["anna@x.org", "bo@x.org"],
            "still gets the subgroup's mail"
        );
        let why = org.resolver.explain(all, anna).await.unwrap();
        assert!(why.member && !why.receives);
        assert_eq!(why.excluded_because, ["opted out of All leaders"]);

        org.store
            .opt_out(bo, Some(circle), "admin", 0)
            .await
            .unwrap();
        assert_eq!(
            org.recipients(all).await,
            ["bo@x.org"],
            "a child opt-out does not touch the parent"
        );

        // The opt-out survives the membership changing.
        org.store.remove_member(circle, anna).await.unwrap();
        org.add(circle, anna).await;
        assert_eq!(org.recipients(all).await, ["bo@x.org"]);

        org.store.opt_out(bo, None, "link", 0).await.unwrap();
        assert!(org.recipients(all).await.is_empty());
        assert!(org.store.undo_opt_out(bo, None).await.unwrap());
        org.store.undo_opt_out(anna, Some(all)).await.unwrap();
        assert_eq!(org.recipients(all).await, ["anna@x.org", "bo@x.org"]);
    }
);

on_both_backends!(
    managers_propagate_and_explain_lists_every_path,
    async |db: &TestDb| {
        let org = Org::new(db).await;
        let (marketing, weekly, all) = (
            org.group("Marketing").await,
            org.group("Weekly").await,
            org.group("All").await,
        );
        let m = org.person("m@x.org").await;
        org.store
            .set_person_profile(m, "active", None, "person")
            .await
            .unwrap();
        org.add(marketing, m).await;
        org.store
            .add_subgroup(weekly, marketing, true)
            .await
            .unwrap();
        assert_eq!(org.resolver.managers(weekly).await.unwrap(), ["m@x.org"]);
        assert_eq!(org.recipients(weekly).await, ["m@x.org"]);

        org.store.add_subgroup(all, weekly, false).await.unwrap();
        org.store.add_subgroup(all, marketing, false).await.unwrap();
        let rule = Criteria::parse(&json!({"field": "status", "op": "equals", "value": "active"}))
            .unwrap();
        org.store
            .set_criteria(all, Some(&rule.to_json()))
            .await
            .unwrap();
        let mut why = org.resolver.explain(all, m).await.unwrap().paths;
        why.sort();
        assert_eq!(
            why,
            [
                "All ← Marketing ← direct member",
                "All ← Weekly ← Marketing ← direct member",
                "All ← rule: status equals active",
            ]
        );
    }
);
