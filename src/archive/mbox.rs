//! mbox in the mboxrd form (RFC 4155; `>From ` quoting reversible at any depth): written a
//! message at a time (the pages stream a month or a thread), and read a message at a time with
//! its position for reports (`circlemail archive import`). Mailman 2 pipermail mboxes,
//! HyperKitty exports and Google Takeout files are read the same way.

use std::io::BufRead;

use super::store::{Imported, import_entry};
use crate::store::Store;

/// Appends one message to an mbox: the `From ` line, the message with LF line ends and every
/// line matching `^>*From ` quoted once more, and a blank line.
pub fn write_message(out: &mut Vec<u8>, sender: &str, at_ms: i64, raw: &[u8]) {
    let sender: String = sender
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    let sender = if sender.is_empty() {
        "MAILER-DAEMON".to_string()
    } else {
        sender
    };
    let date = chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .format("%a %b %e %H:%M:%S %Y");
    out.extend_from_slice(format!("From {sender} {date}\n").as_bytes());
    let body = raw.strip_suffix(b"\n").unwrap_or(raw);
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let gt = line.iter().take_while(|&&b| b == b'>').count();
        if line[gt..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// A message read from an mbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MboxMessage {
    /// 1-based position in the file.
    pub position: u64,
    /// The line its `From ` line is on (1-based).
    pub line: u64,
    /// The time on its `From ` line, ms, when readable.
    pub from_time: Option<i64>,
    /// The message with CRLF line ends, `>From ` quoting undone.
    pub raw: Vec<u8>,
}

/// Reads messages one at a time; `bytes_read` says how far it got (for a progress bar).
pub struct Reader<R> {
    input: R,
    line_no: u64,
    pub bytes_read: u64,
    position: u64,
    /// The `From ` line of the next message, already read: (line number, line).
    pending: Option<(u64, Vec<u8>)>,
    started: bool,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Reader<R> {
        Reader {
            input,
            line_no: 0,
            bytes_read: 0,
            position: 0,
            pending: None,
            started: false,
        }
    }

    fn read_line(&mut self, buf: &mut Vec<u8>) -> std::io::Result<bool> {
        buf.clear();
        let n = self.input.read_until(b'\n', buf)?;
        self.bytes_read += n as u64;
        if n > 0 {
            self.line_no += 1;
        }
        Ok(n > 0)
    }
}

fn from_time(line: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(line).ok()?.trim_end();
    let rest = text.strip_prefix("From ")?;
    let (_, date) = rest.trim_start().split_once(' ')?;
    let t: Vec<&str> = date.split_whitespace().collect();
    // `Mon Jan  1 12:00:00 2024`, sometimes with a zone after the time.
    let mut tries = vec![t.iter().take(5).copied().collect::<Vec<_>>().join(" ")];
    if t.len() >= 6 {
        tries.push(format!(
            "{} {} {} {} {}",
            t[0],
            t[1],
            t[2],
            t[3],
            t[t.len() - 1]
        ));
    }
    tries
        .iter()
        .find_map(|s| chrono::NaiveDateTime::parse_from_str(s, "%a %b %d %H:%M:%S %Y").ok())
        .map(|t| t.and_utc().timestamp_millis())
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = std::io::Result<MboxMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = Vec::with_capacity(256);
        // Find the first `From ` line (text before it is no message).
        let (start_line, from_line) = match self.pending.take() {
            Some(p) => p,
            None => loop {
                match self.read_line(&mut line) {
                    Ok(false) => return None,
                    Ok(true) if line.starts_with(b"From ") => break (self.line_no, line.clone()),
                    Ok(true) => continue,
                    Err(e) => return Some(Err(e)),
                }
            },
        };
        self.started = true;
        self.position += 1;
        let mut raw = Vec::new();
        let mut previous_blank = false;
        loop {
            match self.read_line(&mut line) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Some(Err(e)),
            }
            if previous_blank && line.starts_with(b"From ") {
                self.pending = Some((self.line_no, line.clone()));
                break;
            }
            let content = line.strip_suffix(b"\n").unwrap_or(&line);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            previous_blank = content.is_empty();
            let gt = content.iter().take_while(|&&b| b == b'>').count();
            let content = if gt > 0 && content[gt..].starts_with(b"From ") {
                &content[1..]
            } else {
                content
            };
            raw.extend_from_slice(content);
            raw.extend_from_slice(b"\r\n");
        }
        // The blank line that separates messages is not part of the message.
        if raw.ends_with(b"\r\n\r\n") {
            raw.truncate(raw.len() - 2);
        }
        Some(Ok(MboxMessage {
            position: self.position,
            line: start_line,
            from_time: from_time(&from_line),
            raw,
        }))
    }
}

/// How far an import got: messages added, already archived, unreadable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub added: u64,
    pub duplicates: u64,
    pub unreadable: u64,
}

impl Counts {
    fn of(out: &Imported) -> Counts {
        Counts {
            added: out.added,
            duplicates: out.duplicates,
            unreadable: out.unreadable.len() as u64,
        }
    }
}

/// Messages archived in one transaction during an import (at most [`BATCH_BYTES`] of them).
const BATCH: usize = 200;
const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Imports an mbox into a list's archive: each message threaded as if it had been posted,
/// de-duplicated by Message-ID (a second import changes nothing), unreadable ones reported by
/// position. Messages are written [`BATCH`] to a transaction; `progress` hears the bytes read
/// and the counts so far after each.
pub async fn import<R: BufRead, F: Future<Output = ()>>(
    store: &Store,
    group_id: i64,
    input: R,
    now: i64,
    mut progress: impl FnMut(u64, Counts) -> F,
) -> Result<Imported, crate::store::StoreError> {
    let mut reader = Reader::new(input);
    let mut out = Imported::default();
    let mut batch: Vec<(super::Entry, Vec<u8>, i64)> = Vec::new();
    let mut batch_bytes = 0;
    // Messages read since `progress` last heard (unreadable ones too: a long unreadable stretch
    // still shows the import moving).
    let mut seen = 0;
    loop {
        let next = reader.next();
        let end = next.is_none();
        seen += 1;
        match next {
            None => {}
            Some(Err(e)) => {
                out.unreadable
                    .push((reader.position + 1, format!("read error: {e}")));
                // What follows an unreadable stretch of the file cannot be trusted to start a
                // message where it seems to: stop, keeping what was read before.
                write(store, group_id, &mut batch, &mut out).await?;
                progress(reader.bytes_read, Counts::of(&out)).await;
                break;
            }
            Some(Ok(m)) => match import_entry(&m.raw) {
                Ok(entry) => {
                    let at = entry.date.unwrap_or(m.from_time.unwrap_or(now));
                    batch_bytes += m.raw.len();
                    batch.push((entry, m.raw, at));
                }
                Err(why) => out
                    .unreadable
                    .push((m.position, format!("line {}: {why}", m.line))),
            },
        }
        if end || seen >= BATCH || batch_bytes >= BATCH_BYTES {
            write(store, group_id, &mut batch, &mut out).await?;
            batch_bytes = 0;
            seen = 0;
            progress(reader.bytes_read, Counts::of(&out)).await;
        }
        if end {
            break;
        }
    }
    Ok(out)
}

async fn write(
    store: &Store,
    group_id: i64,
    batch: &mut Vec<(super::Entry, Vec<u8>, i64)>,
    out: &mut Imported,
) -> Result<(), crate::store::StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let added = store.archive_import_batch(group_id, batch).await?;
    out.added += added;
    out.duplicates += batch.len() as u64 - added;
    batch.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_are_quoted_and_unquoted_at_any_depth() {
        let msg =
            b"From: a@x\r\nSubject: s\r\n\r\nFrom here\r\n>From there\r\n>>From far\r\nend\r\n";
        let mut mbox = Vec::new();
        write_message(&mut mbox, "a@x", 0, msg);
        write_message(&mut mbox, "", 86_400_000, b"Subject: two\r\n\r\nFrom\r\n");
        let text = String::from_utf8(mbox.clone()).unwrap();
        assert!(
            text.starts_with("From a@x Thu Jan  1 00:00:00 1970\n"),
            "{text}"
        );
        assert!(
            text.contains("\n>From here\n>>From there\n>>>From far\n"),
            "{text}"
        );
        let back: Vec<MboxMessage> = Reader::new(&mbox[..]).map(|m| m.unwrap()).collect();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].raw, msg.to_vec());
        assert_eq!(back[0].from_time, Some(0));
        assert_eq!(back[1].raw, b"Subject: two\r\n\r\nFrom\r\n".to_vec());
        assert_eq!((back[1].position, back[1].line), (2, 10));
        assert_eq!(back[1].from_time, Some(86_400_000));
    }
}
