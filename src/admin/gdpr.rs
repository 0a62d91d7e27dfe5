//! GDPR operations: export everything about a person, erase a person keeping only what a
//! group's retention rule protects (and saying until when), the clean-up of people who resigned
//! long ago, and the scheduled removal of retained facts whose time is over.

use chrono::{Months, NaiveDate};
use serde_json::{Value, json};

use super::AdminError;
use crate::store::{
    Store,
    gdpr::{Kept, MembershipFact},
};

fn day_of(ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// The first millisecond of the day after `d` (UTC): a fact kept "until d" goes then.
fn end_of_day_ms(d: NaiveDate) -> i64 {
    d.succ_opt()
        .and_then(|n| n.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(i64::MAX)
}

/// Everything stored about a person, as JSON.
pub async fn export(store: &Store, person_id: i64) -> Result<Value, AdminError> {
    let detail = store
        .person_detail(person_id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no person with id {person_id}")))?;
    let key = detail.email.to_lowercase();
    let account = store.account_of_person(person_id).await?;
    let tokens = match &account {
        Some(a) => store.tokens(a.id).await?,
        None => Vec::new(),
    };
    Ok(json!({
        "profile": detail,
        "memberships": store.membership_facts(person_id).await?,
        "opt_outs": store.opt_outs(Some(person_id), None).await?,
        "held_posts": store.held_by(&key).await?,
        "posts_sent": store.posts_by(&key).await?,
        "archived_posts": archived_posts(store, &key).await?,
        "admin_account": account.map(|a| json!({ "account": a, "tokens": tokens })),
        "web_sessions": store.sessions_of(person_id).await?,
        "audit_entries": store.audit_entries(Some(person_id), None, i64::MAX).await?,
        "erased_at": store.erased_at(person_id).await?,
    }))
}

/// The person's posts in the lists' archives: list, date, subject, Message-ID and text.
async fn archived_posts(store: &Store, key: &str) -> Result<Vec<Value>, AdminError> {
    Ok(store
        .archived_posts_by(key)
        .await?
        .into_iter()
        .map(|(group_id, s, raw)| {
            let text = mail_parser::MessageParser::new()
                .parse(&raw)
                .map(|m| crate::archive::text::search_text(&m))
                .unwrap_or_default();
            json!({
                "group_id": group_id, "key": s.key, "at": s.at, "subject": s.subject,
                "author": s.author_name, "text": text,
            })
        })
        .collect())
}

/// What erasing would keep: memberships in groups with a retention rule whose protection has
/// not run out (a membership still running ends today).
fn protected(facts: &[MembershipFact], today: NaiveDate) -> Vec<(MembershipFact, Kept, NaiveDate)> {
    let yesterday = today.pred_opt().unwrap_or(today);
    let date = |s: &Option<String>| {
        s.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let mut out = Vec::new();
    for f in facts {
        let Some(years) = f.retention_years.filter(|y| *y > 0) else {
            continue;
        };
        let from = date(&f.valid_from);
        if from.is_some_and(|d| d > yesterday) {
            continue; // never under way: nothing to protect
        }
        let end = date(&f.valid_until)
            .filter(|u| *u < today)
            .unwrap_or(yesterday);
        let Some(until) = end.checked_add_months(Months::new(12 * years as u32)) else {
            continue;
        };
        if until < today {
            continue; // protection already over
        }
        let kept = Kept {
            row_id: f.row_id,
            valid_until: end.format("%Y-%m-%d").to_string(),
            retain_until: end_of_day_ms(until),
        };
        out.push((f.clone(), kept, until));
    }
    out
}

/// Why a person may not simply be deleted: facts a retention rule keeps (deleting would remove
/// them before their time). `None`: nothing is protected. Deleting is for mistakes; erasing
/// (`POST /people/{id}/erase`) is what respects retention.
pub async fn delete_blocked_by_retention(
    store: &Store,
    person_id: i64,
    now: i64,
) -> Result<Option<String>, AdminError> {
    if store.erased_at(person_id).await?.is_some() {
        return Ok(Some(format!(
            "person {person_id} is erased; what is left is kept by a retention rule and goes when its time ends"
        )));
    }
    let facts = store.membership_facts(person_id).await?;
    let keep = protected(&facts, day_of(now));
    if keep.is_empty() {
        return Ok(None);
    }
    let groups: Vec<String> = keep
        .iter()
        .map(|(f, _, until)| format!("{} until {}", f.group, until.format("%Y-%m-%d")))
        .collect();
    Ok(Some(format!(
        "a retention rule keeps person {person_id}'s memberships ({}); erase the person instead \
         (POST /api/v1/people/{person_id}/erase), which keeps what the rule protects and removes \
         the rest",
        groups.join(", ")
    )))
}

/// Erases a person: answers what was removed and what was kept, until when, and why.
pub async fn erase(store: &Store, person_id: i64, now: i64) -> Result<Value, AdminError> {
    let detail = store
        .person_detail(person_id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no person with id {person_id}")))?;
    if let Some(a) = store.account_of_person(person_id).await? {
        return Err(AdminError::Conflict(format!(
            "{} holds admin account {}; an account's person is kept for the audit trail (deactivate the account instead)",
            detail.email, a.id
        )));
    }
    if store.erased_at(person_id).await?.is_some() {
        return Err(AdminError::Conflict(format!(
            "person {person_id} is erased already; what is left goes when its retention ends"
        )));
    }
    let today = day_of(now);
    let facts = store.membership_facts(person_id).await?;
    let keep = protected(&facts, today);
    let kept: Vec<Kept> = keep.iter().map(|(_, k, _)| k.clone()).collect();
    let key = detail.email.to_lowercase();
    let posts = store.posts_by(&key).await?.len();
    let audit = store
        .audit_entries(Some(person_id), None, i64::MAX)
        .await?
        .len();
    let removed = store.erase_person(person_id, &key, &kept, now).await?;
    // The archives: per list, redacted (default) or removed (`archive_erasure`).
    let (archive_redacted, archive_removed) =
        store.archive_erase(&key, detail.name.as_deref()).await?;
    let kept_json: Vec<Value> = keep
        .iter()
        .map(|(f, k, until)| {
            json!({
                "group_id": f.group_id, "group": f.group, "role": f.role,
                "valid_from": f.valid_from, "valid_until": k.valid_until,
                "name": detail.name,
                "retention_years": f.retention_years,
                "kept_until": until.format("%Y-%m-%d").to_string(),
            })
        })
        .collect();
    Ok(json!({
        "person_id": person_id,
        "removed": removed,
        "archive": { "redacted": archive_redacted, "removed": archive_removed },
        "kept": kept_json,
        "kept_until": keep.iter().map(|(_, _, u)| *u).max().map(|u| u.format("%Y-%m-%d").to_string()),
        "not_erased": {
            "posts_sent": { "count": posts, "why": "copies in the delivery store (posts) are pruned with the mail queue, not here" },
            "audit_entries": { "count": audit, "why": "the audit log is append-only: it is the record of who did what" },
        },
    }))
}

/// What [`erase`] would do now, changing nothing: the memberships a retention rule would keep
/// and until when, what would go, what stays elsewhere, and why erasing is refused, if it is.
pub async fn erase_preview(store: &Store, person_id: i64, now: i64) -> Result<Value, AdminError> {
    let detail = store
        .person_detail(person_id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no person with id {person_id}")))?;
    let refused = if let Some(a) = store.account_of_person(person_id).await? {
        Some(format!(
            "{} holds admin account {}; an account's person is kept for the audit trail (deactivate the account instead)",
            detail.email, a.id
        ))
    } else if store.erased_at(person_id).await?.is_some() {
        Some(format!(
            "person {person_id} is erased already; what is left goes when its retention ends"
        ))
    } else {
        None
    };
    let facts = store.membership_facts(person_id).await?;
    let keep = protected(&facts, day_of(now));
    let key = detail.email.to_lowercase();
    let kept: Vec<Value> = keep
        .iter()
        .map(|(f, k, until)| {
            json!({
                "group_id": f.group_id, "group": f.group, "role": f.role,
                "valid_from": f.valid_from, "valid_until": k.valid_until,
                "retention_years": f.retention_years,
                "kept_until": until.format("%Y-%m-%d").to_string(),
            })
        })
        .collect();
    Ok(json!({
        "person_id": person_id,
        "refused": refused,
        "kept": kept,
        "kept_until": keep.iter().map(|(_, _, u)| *u).max().map(|u| u.format("%Y-%m-%d").to_string()),
        "keeps_name": !keep.is_empty(),
        "removes": {
            "memberships": facts.len() - keep.len(),
            "membership_periods": detail.periods.len(),
            "teams": detail.teams.len(),
            "services": detail.services.len(),
            "custom_fields": detail.fields.len(),
            "opt_outs": store.opt_outs(Some(person_id), None).await?.len(),
            "held_posts": store.held_by(&key).await?.len(),
            "web_sessions": store.sessions_of(person_id).await?.len(),
        },
        "not_erased": {
            "posts_sent": store.posts_by(&key).await?.len(),
            "audit_entries": store.audit_entries(Some(person_id), None, i64::MAX).await?.len(),
        },
    }))
}

/// People who resigned more than `years` ago and the retention rules that would keep facts
/// about each; with `dry_run` false they are erased (account holders are skipped).
pub async fn cleanup(
    store: &Store,
    years: u32,
    dry_run: bool,
    now: i64,
) -> Result<Value, AdminError> {
    let today = day_of(now);
    let before = today
        .checked_sub_months(Months::new(12 * years))
        .ok_or_else(|| AdminError::invalid("resigned_years: too large"))?;
    let mut people = Vec::new();
    for (id, email, name, left) in store
        .resigned_before(&before.format("%Y-%m-%d").to_string())
        .await?
    {
        let facts = store.membership_facts(id).await?;
        let blocking: Vec<Value> = protected(&facts, today)
            .iter()
            .map(|(f, _, until)| {
                json!({ "group_id": f.group_id, "group": f.group, "retention_years": f.retention_years,
                        "kept_until": until.format("%Y-%m-%d").to_string() })
            })
            .collect();
        let mut entry = json!({ "person_id": id, "email": email, "name": name, "left": left,
                                "retention_rules": blocking });
        if store.account_of_person(id).await?.is_some() {
            entry["skipped"] = json!("holds an admin account");
        } else if !dry_run {
            entry["result"] = erase(store, id, now).await?;
        }
        people.push(entry);
    }
    Ok(json!({
        "rule": format!("resigned more than {years} years ago (last left before {before})"),
        "dry_run": dry_run,
        "count": people.len(),
        "people": people,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(from: Option<&str>, until: Option<&str>, years: Option<i64>) -> MembershipFact {
        MembershipFact {
            row_id: 1,
            group_id: 1,
            group: "Board".into(),
            role: "member".into(),
            valid_from: from.map(Into::into),
            valid_until: until.map(Into::into),
            retention_years: years,
            retain_until: None,
        }
    }

    #[test]
    fn retention_counts_from_the_end_of_the_membership() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let ended = protected(
            &[fact(Some("2018-01-01"), Some("2020-12-31"), Some(10))],
            today,
        );
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].2.to_string(), "2030-12-31");
        let running = protected(&[fact(Some("2024-01-01"), None, Some(10))], today);
        assert_eq!(
            running[0].1.valid_until, "2026-05-31",
            "ends with the erasure"
        );
        assert_eq!(running[0].2.to_string(), "2036-05-31");
        assert!(protected(&[fact(None, Some("2010-01-01"), Some(10))], today).is_empty());
        assert!(protected(&[fact(None, None, None)], today).is_empty());
        assert!(
            protected(&[fact(Some("2027-01-01"), None, Some(10))], today).is_empty(),
            "a term that has not begun protects nothing"
        );
    }
}
