//! Explain's paths in plain words: "Alla ledare ← Cirkelledare ← direct member until
//! 2026-12-31" becomes "You get Alla ledare because you are in Cirkelledare, which is part of
//! it." and "Your term on Cirkelledare ends 31 Dec 2026."

use chrono::NaiveDate;

use super::texts::Me;
use crate::{groups::Explanation, http::web::texts::Lang};

const SEP: &str = " ← ";

/// "31 Dec 2026" (English), "31 dec. 2026" style is not needed: day, month, year.
pub fn day_text(day: NaiveDate) -> String {
    day.format("%-d %b %Y").to_string()
}

fn date_in(text: &str, word: &str) -> Option<NaiveDate> {
    let rest = text.split(word).nth(1)?;
    let d = rest.trim().get(..10)?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

/// The sentences for one path.
fn sentences(t: &Me, path: &str, out: &mut Vec<String>) {
    let parts: Vec<&str> = path.split(SEP).collect();
    let Some((reason, chain)) = parts.split_last() else {
        return;
    };
    let Some(list) = chain.first() else {
        return;
    };
    let holder = chain.last().copied().unwrap_or(list);
    let via = || -> String {
        match chain.len() {
            0 | 1 => String::new(),
            2 => t.via.replace("{list}", list).replace("{via}", holder),
            _ => {
                let middle: Vec<&str> = chain[1..chain.len() - 1].iter().rev().copied().collect();
                t.via_chain
                    .replace("{list}", list)
                    .replace("{via}", holder)
                    .replace("{chain}", &middle.join(", "))
            }
        }
    };
    let mut said = if let Some(rule) = reason.strip_prefix("rule: ") {
        if chain.len() == 1 {
            t.rule.replace("{list}", list).replace("{rule}", rule)
        } else {
            t.rule_via
                .replace("{list}", list)
                .replace("{via}", holder)
                .replace("{rule}", rule)
        }
    } else if let Some(what) = reason.strip_prefix("standard group: ") {
        if chain.len() == 1 {
            t.standard.replace("{list}", list).replace("{what}", what)
        } else {
            via()
        }
    } else if *reason == "in no other group" {
        t.only_group.replace("{list}", list)
    } else if chain.len() == 1 {
        if reason.starts_with("direct member (manager)") {
            t.direct_manager.replace("{list}", list)
        } else {
            t.direct.replace("{list}", list)
        }
    } else {
        via()
    };
    if reason.starts_with("direct member")
        && let Some(until) = date_in(reason, "until ")
    {
        said.push(' ');
        said.push_str(
            &t.term_ends
                .replace("{group}", holder)
                .replace("{day}", &day_text(until)),
        );
    }
    if !said.is_empty() && !out.contains(&said) {
        out.push(said);
    }
}

/// Why the person gets the list, one sentence per path (at most a few).
pub fn plain(t: &Me, e: &Explanation, _lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    for p in &e.paths {
        sentences(t, p, &mut out);
        if out.len() >= 6 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(paths: &[&str]) -> Vec<String> {
        let e = Explanation {
            member: true,
            receives: true,
            paths: paths.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        plain(&Me::EN, &e, Lang::En)
    }

    #[test]
    fn paths_become_sentences() {
        assert_eq!(
            say(&["Alla ledare ← Cirkelledare ← direct member"]),
            ["You get Alla ledare because you are in Cirkelledare, which is part of it."]
        );
        assert_eq!(
            say(&["Styrelsen ← direct member from 2026-01-01 until 2026-12-31"]),
            ["You are a member of Styrelsen. Your term on Styrelsen ends 31 Dec 2026."]
        );
        assert_eq!(
            say(&["Alumni ← rule: left within the last 4 months"]),
            ["You get Alumni because of its rule: left within the last 4 months."]
        );
        assert_eq!(
            say(&["All ← Leaders ← Circle ← direct member (manager)"]),
            ["You get All because you are in Circle, which is part of Leaders."]
        );
    }
}
