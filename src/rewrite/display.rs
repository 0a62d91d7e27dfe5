//! From, Reply-To and Subject as the list's settings want them (docs/list-settings.md).
//!
//! Reply-To precedence: an author's own Reply-To is never dropped. `author` keeps it (and, when
//! From: is rewritten, puts the author there so replies still reach them); `list` and `fixed`
//! add the author's own Reply-To after ours; `both` lists the author (their Reply-To, else their
//! From) then the list. A list that shows the group as sender (`from_mode = group`) answers to
//! the list in `author` mode, since the author is not shown.

use mail_parser::{Addr, Message};

use super::headers::{encode_words, phrase};
use crate::model::list_settings::{FromMode, ListSettings, ReplyTo};

/// The header lines to set (replacing the author's), or `None` to keep the author's.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Display {
    pub from: Option<String>,
    pub original_from: Option<String>,
    pub reply_to: Option<String>,
    pub subject: Option<String>,
}

fn format_addr(a: &Addr<'_>) -> Option<String> {
    let address = a.address()?.trim();
    Some(match a.name().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{} <{address}>", phrase(name)),
        None => format!("<{address}>"),
    })
}

fn addrs(message: &Message<'_>, reply_to: bool) -> Vec<String> {
    let list = if reply_to {
        message.reply_to()
    } else {
        message.from()
    };
    list.map(|l| l.iter().filter_map(format_addr).collect())
        .unwrap_or_default()
}

/// `munge_from`: whether From: is rewritten (decided before, from `from_mode` and DMARC).
pub fn display(
    message: &Message<'_>,
    settings: &ListSettings,
    group_name: &str,
    list: &str,
    munge_from: bool,
) -> Display {
    let mut d = Display::default();
    let anonymous = settings.from_mode == FromMode::Group;
    let list_addr = format!("{} <{list}>", phrase(group_name));
    if anonymous {
        d.from = Some(list_addr.clone());
    } else if munge_from {
        let author = message.from().and_then(|l| l.first());
        let name = author
            .and_then(|a| {
                a.name().map(str::to_string).or_else(|| {
                    a.address()
                        .map(|x| x.split('@').next().unwrap_or(x).to_string())
                })
            })
            .unwrap_or_default();
        d.from = Some(format!(
            "{} <{list}>",
            phrase(&format!("{name} via {group_name}"))
        ));
        d.original_from = message.header_raw("From").map(|v| v.trim().to_string());
    }
    let own = addrs(message, true);
    let author_reply = if own.is_empty() {
        addrs(message, false)
    } else {
        own.clone()
    };
    let list_entry = format!("<{list}>");
    let reply: Option<Vec<String>> = match (settings.reply_to, anonymous) {
        (ReplyTo::Author, true) => Some(vec![list_entry.clone()]),
        (ReplyTo::Author, false) if d.from.is_some() => Some(author_reply.clone()),
        (ReplyTo::Author, false) => None,
        (ReplyTo::List, _) => Some([vec![list_entry.clone()], own.clone()].concat()),
        (ReplyTo::Both, _) => Some([author_reply.clone(), vec![list_entry.clone()]].concat()),
        (ReplyTo::Fixed, _) => {
            let fixed = settings
                .reply_to_address
                .clone()
                .map(|a| format!("<{a}>"))
                .unwrap_or_else(|| list_entry.clone());
            Some([vec![fixed], own.clone()].concat())
        }
    };
    d.reply_to = reply.filter(|r| !r.is_empty()).map(|mut r| {
        r.dedup();
        r.join(", ")
    });
    if let Some(prefix) = settings
        .subject_prefix
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let subject = message.subject().unwrap_or("");
        d.subject = Some(encode_words(&prefixed(subject, prefix)));
    }
    d
}

/// `[Board] x`; a reply keeps one `Re:` after the prefix: "Re: [Board] Re: x" → "[Board] Re: x".
pub fn prefixed(subject: &str, prefix: &str) -> String {
    let mut rest = subject.trim();
    let mut reply = false;
    loop {
        let before = rest;
        if rest
            .get(..prefix.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
        {
            rest = rest[prefix.len()..].trim_start();
        }
        for re in ["re:", "aw:", "sv:", "antw:", "vs:"] {
            if rest
                .get(..re.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(re))
            {
                rest = rest[re.len()..].trim_start();
                reply = true;
            }
        }
        if rest == before {
            break;
        }
    }
    format!("{prefix} {}{rest}", if reply { "Re: " } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_added_once_and_replies_collapse() {
        assert_eq!(prefixed("Minutes", "[Board]"), "[Board] Minutes");
        assert_eq!(prefixed("[Board] Minutes", "[Board]"), "[Board] Minutes");
        assert_eq!(
            prefixed("Re: [Board] Minutes", "[Board]"),
            "[Board] Re: Minutes"
        );
        assert_eq!(
            prefixed("Re: [Board] Re: Minutes", "[Board]"),
            "[Board] Re: Minutes"
        );
        assert_eq!(
            prefixed("AW: RE: [board] Möte", "[Board]"),
            "[Board] Re: Möte"
        );
        assert_eq!(prefixed("", "[Board]"), "[Board] ");
    }

    fn show(raw: &str, settings: ListSettings, munge: bool) -> Display {
        let m = mail_parser::MessageParser::new()
            .parse(raw.as_bytes())
            .unwrap();
        display(&m, &settings, "Board", "board@lists.test", munge)
    }

    const POST: &str = "From: Åsa Berg <asa@gmail.example>\r\nSubject: Hej\r\n\r\nx\r\n";
    const WITH_REPLY_TO: &str =
        "From: Anna <anna@x.org>\r\nReply-To: <anna.home@x.org>\r\nSubject: Hej\r\n\r\nx\r\n";

    #[test]
    fn each_from_mode() {
        let d = show(POST, ListSettings::default(), false);
        assert_eq!(
            (d.from, d.reply_to),
            (None, None),
            "as written: nothing changes"
        );
        let d = show(POST, ListSettings::default(), true);
        assert_eq!(
            d.from.as_deref(),
            Some("=?utf-8?b?w4VzYSBCZXJnIHZpYSBCb2FyZA==?= <board@lists.test>")
        );
        assert_eq!(
            d.original_from.as_deref(),
            Some("Åsa Berg <asa@gmail.example>")
        );
        assert_eq!(
            d.reply_to.as_deref(),
            Some("=?utf-8?b?w4VzYSBCZXJn?= <asa@gmail.example>"),
            "replies still reach the author"
        );
        let d = show(
            POST,
            ListSettings {
                from_mode: FromMode::Group,
                ..Default::default()
            },
            false,
        );
        assert_eq!(d.from.as_deref(), Some("\"Board\" <board@lists.test>"));
        assert_eq!(d.reply_to.as_deref(), Some("<board@lists.test>"));
    }

    #[test]
    fn each_reply_to_mode_keeps_the_authors_own_reply_to() {
        let s = |reply_to, fixed: Option<&str>| ListSettings {
            reply_to,
            reply_to_address: fixed.map(String::from),
            ..Default::default()
        };
        assert_eq!(
            show(WITH_REPLY_TO, s(ReplyTo::Author, None), false).reply_to,
            None
        );
        assert_eq!(
            show(WITH_REPLY_TO, s(ReplyTo::List, None), false)
                .reply_to
                .as_deref(),
            Some("<board@lists.test>, <anna.home@x.org>")
        );
        assert_eq!(
            show(WITH_REPLY_TO, s(ReplyTo::Both, None), false)
                .reply_to
                .as_deref(),
            Some("<anna.home@x.org>, <board@lists.test>")
        );
        assert_eq!(
            show(POST, s(ReplyTo::Both, None), false)
                .reply_to
                .as_deref(),
            Some("=?utf-8?b?w4VzYSBCZXJn?= <asa@gmail.example>, <board@lists.test>")
        );
        assert_eq!(
            show(
                WITH_REPLY_TO,
                s(ReplyTo::Fixed, Some("office@x.org")),
                false
            )
            .reply_to
            .as_deref(),
            Some("<office@x.org>, <anna.home@x.org>")
        );
    }
}
