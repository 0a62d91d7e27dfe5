//! The cost of authorization per API request at association scale: 20,000 people in 200 groups
//! (20 departments of 10 nested groups), 60 admin accounts with organisation-wide, department
//! and group grants. Prints, per second: the permission computation of one caller (done on every
//! request, after the token lookup), the token lookup itself, and the access report of one person.
//!
//!     cargo bench --bench access                 # SQLite
//!     cargo bench --bench access -- 5000         # fewer people

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use circlemail::{
    admin::{
        access::{access_of, hash_token, new_token},
        accounts::access_report,
        import::import_csv,
    },
    clock::SystemClock,
    groups::Resolver,
    model::address::EmailAddress,
    store::Store,
};

const GROUPS: usize = 200;
const DEPARTMENTS: usize = 20;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let people: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        run(
            &format!("sqlite://{}/bench.db", dir.path().display()),
            people,
        )
        .await;
    });
}

fn csv(people: usize) -> String {
    let mut csv = String::from("email,name,groups\n");
    for i in 0..people {
        csv.push_str(&format!(
            "member{i}@example.org,Member {i},G{}\n",
            i % GROUPS
        ));
    }
    csv
}

/// Calls per second of `f`, timed over at least a second.
async fn rate<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await; // warm (directory built, statements prepared)
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(1) {
        f().await;
        n += 1;
    }
    let per = start.elapsed() / n;
    println!(
        "{what}: {:.0}/s ({:.2} ms each)",
        1.0 / per.as_secs_f64(),
        per.as_secs_f64() * 1000.0
    );
}

async fn run(url: &str, people: usize) {
    let store = Store::connect(url, 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    import_csv(&store, csv(people).as_bytes(), 0, |_| {})
        .await
        .expect("import");
    let mut ids = Vec::new();
    for g in 0..GROUPS {
        ids.push(
            store
                .find_group(&format!("G{g}"))
                .await
                .unwrap()
                .expect("group")
                .id,
        );
    }
    // Department d is G(d*10), with the next nine groups nested in a chain below it.
    for g in 0..GROUPS {
        if g % (GROUPS / DEPARTMENTS) != 0 {
            store.add_subgroup(ids[g - 1], ids[g], false).await.unwrap();
        }
    }
    let mut accounts = Vec::new();
    for i in 0..60 {
        let email = EmailAddress::parse(&format!("member{i}@example.org")).unwrap();
        let person = store.find_person(&email).await.unwrap().unwrap();
        let account = store.create_account(person.id, 0).await.unwrap();
        let (role, scope) = match i % 3 {
            0 => ("auditor", None),
            1 => ("group_manager", Some(ids[(i % DEPARTMENTS) * 10])),
            _ => ("moderator", Some(ids[(i * 7) % GROUPS])),
        };
        store
            .add_grant(role, Some(account.id), None, scope, 0)
            .await
            .unwrap();
        accounts.push(account);
    }
    // Everyone in G5 (people / 200 of them) audits through a group grant.
    store
        .add_grant("auditor", None, Some(ids[5]), None, 0)
        .await
        .unwrap();
    let token = new_token();
    store
        .add_token(accounts[1].id, "bench", &hash_token(&token), 0)
        .await
        .unwrap();
    let resolver = Resolver::new(store.clone(), Arc::new(SystemClock));
    println!(
        "{people} people, {GROUPS} groups in {DEPARTMENTS} departments, {} accounts, {} grants",
        accounts.len(),
        store.grants().await.unwrap().len()
    );
    let scoped = accounts[1].clone();
    rate("permissions of a department manager", || async {
        access_of(&store, &resolver, &scoped).await.unwrap();
    })
    .await;
    let org = accounts[0].clone();
    rate("permissions of an organisation-wide auditor", || async {
        access_of(&store, &resolver, &org).await.unwrap();
    })
    .await;
    let hash = hash_token(&token);
    rate("token lookup (SHA-256 and one indexed query)", || async {
        store.account_by_token(&hash, 1).await.unwrap();
    })
    .await;
    let someone = accounts[7].person_id;
    rate("access report of one person (every account)", || async {
        access_report(&store, &resolver, someone).await.unwrap();
    })
    .await;
}
