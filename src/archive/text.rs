//! What a message says: its decoded text for the search index, and for the pages its text
//! (format=flowed joined, quoted runs apart so a page can fold them), a sanitised HTML version
//! and its attachments. Decoding (quoted-printable, base64, charsets) is mail-parser's.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

/// The text the search index gets: every text body (HTML turned into text), and the names of
/// attachments.
pub fn search_text(message: &Message<'_>) -> String {
    let mut out = String::new();
    for i in 0..message.text_body_count() {
        if let Some(t) = message.body_text(i) {
            out.push_str(&t);
            out.push('\n');
        }
    }
    for a in message.attachments() {
        if let Some(name) = a.attachment_name() {
            out.push_str(name);
            out.push('\n');
        }
    }
    out
}

/// A short piece of a message's text around the first word of a search found in it: the
/// text before, the word as written, the text after (plain text; the page escapes it). The
/// words compare as the search index compares them: whole words, any case, å ä ö é … as their
/// base letter. Without a word found (the match was in the subject or the author), the
/// beginning of the text.
pub fn snippet(text: &str, words: &str) -> (String, String, String) {
    const BEFORE: usize = 60;
    const AFTER: usize = 140;
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let wanted: Vec<String> = words
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(fold)
        .collect();
    let mut hit = None;
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if wanted.contains(&fold(&text[s..i])) {
                    hit = Some((s, i));
                    break;
                }
                start = None;
            }
            _ => {}
        }
    }
    let Some((s, e)) = hit else {
        return (String::new(), String::new(), cut_after(&text, AFTER));
    };
    let before: Vec<char> = text[..s].chars().collect();
    let before = if before.len() > BEFORE {
        let tail: String = before[before.len() - BEFORE..].iter().collect();
        // From the first whole word.
        let tail = tail.split_once(' ').map(|(_, t)| t).unwrap_or(&tail);
        format!("…{tail}")
    } else {
        before.into_iter().collect()
    };
    (before, text[s..e].to_string(), cut_after(&text[e..], AFTER))
}

/// At most `n` characters of `text`, cut at a space, with "…" when cut.
fn cut_after(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        None => text.to_string(),
        Some((at, _)) => {
            let head = &text[..at];
            let head = head.rsplit_once(' ').map(|(h, _)| h).unwrap_or(head);
            format!("{head}…")
        }
    }
}

/// A word as the search index compares it: lower case, without diacritics (the common Latin
/// letters; the index's `remove_diacritics` knows more, and a word it matched but this does
/// not only costs the snippet its highlight).
fn fold(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
            'ç' | 'č' => 'c',
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' | 'ń' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
            'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
            'ý' | 'ÿ' => 'y',
            'š' | 'ś' => 's',
            'ž' | 'ź' | 'ż' => 'z',
            'ł' => 'l',
            c => c,
        })
        .collect()
}

/// A run of lines of a message's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// The author's own words.
    Text(String),
    /// Quoted text (lines starting with `>`), with its number of lines.
    Quote(String, usize),
}

/// An attachment, as a page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its position among the message's attachments (the download's address).
    pub index: usize,
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

/// A message as the pages show it.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    pub blocks: Vec<Block>,
    /// The HTML version, sanitised (no script, no remote content, no forms, no styles).
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// The message's text and parts; `public`: addresses are shortened (`anna@e…`).
pub fn show(message: &Message<'_>, public: bool) -> Shown {
    let mut text = String::new();
    for &id in &message.text_body {
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        let piece = match &part.body {
            PartType::Text(t) => {
                let ct = part.content_type();
                let flowed = ct
                    .and_then(|c| c.attribute("format"))
                    .is_some_and(|f| f.eq_ignore_ascii_case("flowed"));
                let delsp = ct
                    .and_then(|c| c.attribute("delsp"))
                    .is_some_and(|f| f.eq_ignore_ascii_case("yes"));
                if flowed {
                    unflow(t, delsp)
                } else {
                    t.to_string()
                }
            }
            PartType::Html(h) => mail_parser::decoders::html::html_to_text(h),
            _ => continue,
        };
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&piece);
    }
    if public {
        text = mask_addresses(&text);
    }
    let html = message
        .html_body
        .iter()
        .filter_map(|&id| message.parts.get(id as usize))
        .find_map(|p| match &p.body {
            PartType::Html(h) => Some(h.to_string()),
            _ => None,
        })
        .map(|h| sanitise(&if public { mask_addresses(&h) } else { h }));
    Shown {
        blocks: blocks(&text),
        html,
        attachments: attachments(message),
    }
}

/// The attachments of a message.
pub fn attachments(message: &Message<'_>) -> Vec<Attachment> {
    message
        .attachments()
        .enumerate()
        .map(|(index, p)| Attachment {
            index,
            name: attachment_name(p, index),
            content_type: p
                .content_type()
                .map(|c| match c.subtype() {
                    Some(s) => format!("{}/{}", c.ctype(), s),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase(),
            size: p.len(),
        })
        .collect()
}

/// A file name that is safe to offer: no path, no control characters.
pub fn attachment_name(p: &MessagePart<'_>, index: usize) -> String {
    let name: String = p
        .attachment_name()
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    let name = name.trim().trim_start_matches('.').to_string();
    if name.is_empty() {
        format!("attachment-{}", index + 1)
    } else {
        name
    }
}

/// The decoded bytes of attachment `index`.
pub fn attachment_bytes(message: &Message<'_>, index: usize) -> Option<(String, Vec<u8>)> {
    let part = message.attachments().nth(index)?;
    let bytes = match &part.body {
        PartType::Message(m) => m.raw_message.to_vec(),
        _ => part.contents().to_vec(),
    };
    Some((attachment_name(part, index), bytes))
}

/// HTML made safe to show inside our page: no script, style, forms, frames or images (so
/// nothing is fetched from elsewhere), links only absolute and opened without a referrer.
pub fn sanitise(html: &str) -> String {
    ammonia::Builder::default()
        .rm_tags(["img"])
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .clean(html)
        .to_string()
}

/// RFC 3676: lines ending in a space continue on the next line (same quote depth); a leading
/// space is stuffing; with `delsp=yes` the space itself goes too.
pub fn unflow(text: &str, delsp: bool) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line == "-- " {
            if let Some((d, s)) = open.take() {
                out.push(quoted(d, &s));
            }
            out.push("-- ".into());
            continue;
        }
        let depth = line.chars().take_while(|&c| c == '>').count();
        let mut content = &line[depth..];
        if let Some(rest) = content.strip_prefix(' ') {
            content = rest;
        }
        let soft = content.ends_with(' ');
        let content = if soft && delsp {
            &content[..content.len() - 1]
        } else {
            content
        };
        match &mut open {
            Some((d, s)) if *d == depth => s.push_str(content),
            _ => {
                if let Some((d, s)) = open.take() {
                    out.push(quoted(d, &s));
                }
                open = Some((depth, content.to_string()));
            }
        }
        if !soft && let Some((d, s)) = open.take() {
            out.push(quoted(d, &s));
        }
    }
    if let Some((d, s)) = open.take() {
        out.push(quoted(d, &s));
    }
    out.join("\n")
}

fn quoted(depth: usize, s: &str) -> String {
    if depth == 0 {
        s.to_string()
    } else {
        format!("{} {s}", ">".repeat(depth))
    }
}

/// The text in runs of own words and quoted lines.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    let mut cur_quoted = false;
    let flush = |out: &mut Vec<Block>, cur: &mut Vec<&str>, q: bool| {
        if cur.is_empty() {
            return;
        }
        let s = cur.join("\n");
        if q {
            out.push(Block::Quote(s, cur.len()));
        } else if !s.trim().is_empty() {
            out.push(Block::Text(s.trim_matches('\n').to_string()));
        }
        cur.clear();
    };
    for line in text.lines() {
        let q = line.trim_start().starts_with('>');
        if q != cur_quoted {
            flush(&mut out, &mut cur, cur_quoted);
            cur_quoted = q;
        }
        cur.push(line);
    }
    flush(&mut out, &mut cur, cur_quoted);
    out
}

/// Shortens every address in `text`: `anna@example.org` → `anna@e…`.
pub fn mask_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let addr_char = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    while i < chars.len() {
        if chars[i] == '@'
            && i > 0
            && addr_char(chars[i - 1])
            && chars.get(i + 1).is_some_and(|c| c.is_alphanumeric())
        {
            // The domain: up to the first character that cannot be in one.
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_alphanumeric() || ".-".contains(chars[j])) {
                j += 1;
            }
            while j > i + 1 && ".-".contains(chars[j - 1]) {
                j -= 1;
            }
            out.push('@');
            out.push(chars[i + 1]);
            out.push('…');
            i = j;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// An address as a public archive shows it.
pub fn mask_address(address: &str) -> String {
    mask_addresses(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_shows_the_first_word_found_with_some_text_around() {
        let text = "Hej!\n\nVi ses på årsmötet i lokalen, med räksmörgåsar och Fika efteråt. Ta med nycklarna.";
        assert_eq!(
            snippet(text, "FIKA"),
            (
                "Hej! Vi ses på årsmötet i lokalen, med räksmörgåsar och ".to_string(),
                "Fika".to_string(),
                " efteråt. Ta med nycklarna.".to_string()
            )
        );
        // Diacritics as the index folds them; whole words only.
        assert_eq!(snippet(text, "arsmotet").1, "årsmötet");
        assert_eq!(snippet(text, "lokal").1, "");
        let long = format!("{} budget {}", "a ".repeat(100), "b ".repeat(200));
        let (before, hit, after) = snippet(&long, "budget");
        assert!(
            before.starts_with('…') && before.chars().count() <= 61,
            "{before}"
        );
        assert_eq!(hit, "budget");
        assert!(
            after.ends_with('…') && after.chars().count() <= 141,
            "{after}"
        );
    }

    #[test]
    fn flowed_lines_are_joined_and_quotes_kept_apart() {
        let t = "Hello \r\nworld.\r\n> quoted \r\n> on.\r\n>> deep\r\n \r\n-- \r\nAnna";
        assert_eq!(
            unflow(t, false),
            "Hello world.\n> quoted on.\n>> deep\n\n-- \nAnna"
        );
        assert_eq!(unflow("a-\r\nb", true), "a-\nb");
        assert_eq!(unflow("long wo \r\nrd", true), "long word");
    }

    #[test]
    fn quoted_runs_become_blocks() {
        let b = blocks("I agree.\n\nOn Monday Anna wrote:\n> Shall we?\n> Yes.\nThanks");
        assert_eq!(b.len(), 3);
        assert_eq!(b[1], Block::Quote("> Shall we?\n> Yes.".into(), 2));
    }

    #[test]
    fn html_loses_script_images_and_forms() {
        let s = sanitise(
            "<p onclick=x()>Hi<script>alert(1)</script><img src=https://track.example/p.gif>\
             <form action=https://evil.example><input name=p></form><a href=javascript:x>j</a></p>",
        );
        assert!(
            !s.contains("script") && !s.contains("img") && !s.contains("form"),
            "{s}"
        );
        assert!(
            !s.contains("input") && !s.contains("onclick") && !s.contains("javascript"),
            "{s}"
        );
        assert!(s.contains("Hi"));
    }

    #[test]
    fn addresses_are_shortened() {
        assert_eq!(
            mask_addresses("write to anna.berg@example.org, or bo@x.se."),
            "write to anna.berg@e…, or bo@x…."
        );
        assert_eq!(mask_addresses("a @ b and @home"), "a @ b and @home");
    }
}
