//! Transactions on an open SMTP connection: the part of the client both transports share.
//!
//! [`send_copies`] sends copies one transaction each. When the server offers PIPELINING
//! (RFC 2920) the commands go in groups, one round trip per copy: MAIL FROM, every RCPT TO and
//! DATA in one write; after the `354`, the message content, its final dot and the *next* copy's
//! MAIL/RCPT/DATA in the next write (RFC 2920 §3.1: message content may start a group). Without
//! PIPELINING every command waits for its reply. Each reply is matched to its command: one
//! refused recipient fails alone, a refused MAIL fails only its copy, a transaction left open by
//! a refused DATA is reset. A reply of an unexpected class (a `3xx` to MAIL, a `250` to DATA)
//! means client and server are out of step: that copy is temporary and the connection is
//! dropped.
//!
//! When the server offers CHUNKING as well (RFC 3030; Postfix does by default) and
//! `delivery.chunking` is on, copies for up to [`GROUP`] (twenty) recipients go in one write,
//! each as MAIL, its RCPTs and `BDAT <size> LAST` with the message bytes as they are — no `354`
//! to wait for, no dot stuffing — and every copy but the first preceded by RSET, so that each
//! transaction is its own whatever the server made of the one before. One round trip then
//! carries twenty personal copies instead of one.

use std::io::Write;

use smtp_proto::{EXT_CHUNKING, EXT_PIPELINING, EhloResponse, Response};

use super::{
    Copy, Progress, Waiting,
    outcome::{RcptOutcome, from_error, from_reply},
    relay::Client,
    wire::{content, envelope, exchange},
};

/// Sends `copies` in order over one connection. Returns the outcomes (one per recipient) of the
/// first copies, at least one, and whether the connection can carry more; when the connection
/// broke, the copies without outcomes were not sent and go on a new connection. Each copy's
/// outcomes go to `progress` as soon as they are known; a message content goes out only while
/// at most [`AHEAD`] copies' outcomes are still being written (see [`Progress`]), and all are
/// recorded when this returns.
pub(super) async fn send_copies(
    client: &mut Client,
    ehlo: &EhloResponse<String>,
    chunking: bool,
    copies: &[&Copy],
    progress: &dyn Progress,
) -> (Vec<Vec<RcptOutcome>>, bool) {
    let mut recording = Recording {
        progress,
        reported: 0,
        pending: Default::default(),
    };
    let (results, usable) =
        if chunking && ehlo.has_capability(EXT_PIPELINING) && ehlo.has_capability(EXT_CHUNKING) {
            chunked(client, ehlo, copies, &mut recording).await
        } else if ehlo.has_capability(EXT_PIPELINING) {
            pipelined(client, ehlo, copies, &mut recording).await
        } else {
            let mut results = Vec::with_capacity(copies.len());
            let mut usable = true;
            for copy in copies {
                recording.ahead(&results, AHEAD).await;
                match one_at_a_time(client, ehlo, copy).await {
                    Attempt::Done(outcomes, in_step) => {
                        results.push(outcomes);
                        if !in_step {
                            usable = false;
                            break;
                        }
                    }
                    Attempt::Closing(outcome) => {
                        if results.is_empty() {
                            results.push(vec![outcome; copy.recipients.len()]);
                        }
                        usable = false;
                        break;
                    }
                }
            }
            (results, usable)
        };
    recording.all(&results).await;
    (results, usable)
}

/// How many copies' outcome writes a connection may have outstanding when it sends the next
/// content (see [`Progress`]): the write never holds up the connection, and a crash repeats
/// at most `AHEAD + 1` copies per connection. Measured on a personal fan-out (10,000 RSA-signed
/// copies) against writing outcomes only after each batch: 1 lost 5–10% of that rate, 4 about
/// 3% (single runs move ±15% on 2 shared cores).
pub(super) const AHEAD: usize = 4;

/// The outcomes handed to `progress` so far, and the writes not yet waited for.
struct Recording<'p> {
    progress: &'p dyn Progress,
    /// `results[..reported]` were handed over.
    reported: usize,
    /// The writes not yet waited for, oldest first.
    pending: std::collections::VecDeque<Waiting<'p>>,
}

impl<'p> Recording<'p> {
    /// Hands over the outcomes from `results[reported..]` and waits until at most [`AHEAD`]
    /// writes are outstanding: called before a message content goes out, it lets the newest
    /// outcomes' writes run during the next round trips.
    async fn ahead(&mut self, results: &[Vec<RcptOutcome>], writes: usize) {
        if let Some(newest) = self.hand_over(results) {
            self.pending.push_back(newest);
        }
        while self.pending.len() > writes {
            if let Some(older) = self.pending.pop_front() {
                older.await;
            }
        }
    }

    /// Hands over what is left and waits until every outcome is written.
    async fn all(&mut self, results: &[Vec<RcptOutcome>]) {
        if let Some(newest) = self.hand_over(results) {
            self.pending.push_back(newest);
        }
        while let Some(older) = self.pending.pop_front() {
            older.await;
        }
    }

    fn hand_over(&mut self, results: &[Vec<RcptOutcome>]) -> Option<Waiting<'p>> {
        if self.reported >= results.len() {
            return None;
        }
        let first = self.reported;
        let outcomes = results[first..]
            .iter()
            .enumerate()
            .flat_map(|(i, outcomes)| {
                outcomes
                    .iter()
                    .enumerate()
                    .map(move |(r, o)| (first + i, r, o.clone()))
            })
            .collect();
        self.reported = results.len();
        Some(self.progress.done(outcomes))
    }
}

/// One transaction's result without pipelining.
enum Attempt {
    /// The outcomes, and whether the connection can carry another transaction.
    Done(Vec<RcptOutcome>, bool),
    /// The server answered MAIL with `421` (closing, e.g. after its limit of messages per
    /// connection): the copy was not attempted and may go on a new connection at once.
    Closing(RcptOutcome),
}

/// What became of one copy's MAIL, RCPT… and DATA.
enum Envelope {
    /// DATA was answered `354`: the content goes next. `None` for each recipient the server
    /// took, the refusal otherwise (all refused: a lone dot ends the data).
    Content(Vec<Option<RcptOutcome>>),
    /// No content goes: the outcomes are final. `reset`: a transaction is still open (MAIL was
    /// taken) and needs an RSET.
    Done(Vec<RcptOutcome>, bool),
    /// A reply out of step: the outcomes are final and the connection cannot be trusted.
    OutOfStep(Vec<RcptOutcome>),
}

/// Reads the replies to MAIL, one RCPT per recipient, and DATA.
fn envelope_replies(recipients: usize, replies: &[Response<String>]) -> Envelope {
    let (Some(mail), Some(data)) = (replies.first(), replies.get(recipients + 1)) else {
        let outcome = RcptOutcome::Temporary("MAIL FROM: no reply".into());
        return Envelope::OutOfStep(vec![outcome; recipients]);
    };
    let rcpts = &replies[1..=recipients];
    match mail.code / 100 {
        2 => {}
        4 | 5 => {
            let refused = from_reply("MAIL FROM", mail);
            return match data.code {
                // The server took DATA although it refused MAIL: a lone dot ends it.
                354 => Envelope::Content(vec![Some(refused); recipients]),
                _ => Envelope::Done(vec![refused; recipients], false),
            };
        }
        _ => return Envelope::OutOfStep(vec![unexpected("MAIL FROM", mail); recipients]),
    }
    let (outcomes, in_step) = rcpt_outcomes(rcpts);
    let settle = |outcome: RcptOutcome| {
        outcomes
            .iter()
            .map(|o| o.clone().unwrap_or_else(|| outcome.clone()))
            .collect::<Vec<_>>()
    };
    match data.code {
        _ if !in_step => Envelope::OutOfStep(settle(unexpected("DATA", data))),
        354 => Envelope::Content(outcomes),
        400..=599 => Envelope::Done(settle(from_reply("DATA", data)), true),
        _ => Envelope::OutOfStep(settle(unexpected("DATA", data))),
    }
}

/// Per RCPT reply: `None` for a recipient the server took, its refusal otherwise; and false
/// when a reply was of the wrong class (client and server out of step).
fn rcpt_outcomes<'r>(
    replies: impl IntoIterator<Item = &'r Response<String>>,
) -> (Vec<Option<RcptOutcome>>, bool) {
    let mut in_step = true;
    let outcomes = replies
        .into_iter()
        .map(|r| match r.code / 100 {
            2 => None,
            4 | 5 => Some(RcptOutcome::from_rcpt_reply(r)),
            _ => {
                in_step = false;
                Some(unexpected("RCPT TO", r))
            }
        })
        .collect();
    (outcomes, in_step)
}

/// The outcomes once the reply to the final dot is in; false when it was out of step.
fn after_content(
    outcomes: Vec<Option<RcptOutcome>>,
    reply: &Response<String>,
) -> (Vec<RcptOutcome>, bool) {
    let (accepted, in_step) = match reply.code / 100 {
        2 => (RcptOutcome::Delivered, true),
        4 | 5 => (from_reply("DATA", reply), true),
        _ => (unexpected("end of DATA", reply), false),
    };
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| accepted.clone()))
        .collect();
    (outcomes, in_step)
}

fn unexpected(stage: &str, reply: &Response<String>) -> RcptOutcome {
    RcptOutcome::Temporary(format!(
        "{stage}: unexpected reply {} {}",
        reply.code,
        reply.message.trim()
    ))
}

/// Recipients in one write when the server offers CHUNKING (see [`chunked`]): twenty personal
/// copies, or one copy of more recipients alone. It bounds what a crash can send twice, and
/// the replies the server writes before the client reads any.
pub(super) const GROUP: usize = 20;

/// The first copies of `copies` that go in one write: as many as fit in [`GROUP`]
/// recipients, at least one.
fn next_group(copies: &[&Copy]) -> usize {
    let mut recipients = 0;
    let mut n = 0;
    for copy in copies {
        recipients += copy.recipients.len();
        if n > 0 && recipients > GROUP {
            break;
        }
        n += 1;
    }
    n
}

/// How one copy of a group fared, read from its replies.
enum Chunked {
    /// Final outcomes. When none is `Delivered` the server may still hold the transaction
    /// (MAIL taken, the message refused): the next copy starts with RSET.
    Done(Vec<RcptOutcome>),
    /// The server is closing (`421`): nothing was taken and the copy may go on a new connection.
    Closing(RcptOutcome),
    /// A reply of the wrong class: the outcomes are final, the rest is not to be trusted.
    OutOfStep(Vec<RcptOutcome>),
}

/// Reads one copy's replies: to RSET when one was sent, MAIL, one RCPT per recipient, BDAT.
/// `replies` may stop early only when the server is closing.
fn chunk_replies(recipients: usize, reset: bool, replies: &[Response<String>]) -> Chunked {
    let temporary = |why: &str| vec![RcptOutcome::Temporary(why.into()); recipients];
    let mut replies = replies.iter();
    if reset {
        match replies.next() {
            Some(r) if r.code == 421 => return Chunked::Closing(from_reply("RSET", r)),
            Some(r) if r.code / 100 == 2 => {}
            Some(r) => return Chunked::OutOfStep(vec![unexpected("RSET", r); recipients]),
            None => return Chunked::OutOfStep(temporary("RSET: no reply")),
        }
    }
    let Some(mail) = replies.next() else {
        return Chunked::OutOfStep(temporary("MAIL FROM: no reply"));
    };
    if mail.code == 421 {
        return Chunked::Closing(from_reply("MAIL FROM", mail));
    }
    let rcpts: Vec<&Response<String>> = replies.by_ref().take(recipients).collect();
    let (Some(bdat), true) = (replies.next(), rcpts.len() == recipients) else {
        return Chunked::OutOfStep(temporary("BDAT: no reply"));
    };
    match mail.code / 100 {
        2 => {}
        // Refused MAIL: the RCPTs and the chunk were refused as well (RFC 3030 §2: the
        // server reads the chunk and says no).
        4 | 5 if bdat.code / 100 != 2 => {
            return Chunked::Done(vec![from_reply("MAIL FROM", mail); recipients]);
        }
        _ => return Chunked::OutOfStep(vec![unexpected("MAIL FROM", mail); recipients]),
    }
    let (outcomes, in_step) = rcpt_outcomes(rcpts);
    let taken = outcomes.iter().any(Option::is_none);
    let (settled, in_step) = match bdat.code / 100 {
        _ if !in_step => (unexpected("BDAT", bdat), false),
        2 if taken => (RcptOutcome::Delivered, true),
        4 | 5 => (from_reply("BDAT", bdat), true),
        _ => (unexpected("BDAT", bdat), false),
    };
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| settled.clone()))
        .collect();
    if in_step {
        Chunked::Done(outcomes)
    } else {
        Chunked::OutOfStep(outcomes)
    }
}

/// With PIPELINING and CHUNKING (RFC 3030): copies for up to [`GROUP`] recipients in one
/// write, each as MAIL, its RCPTs and one `BDAT <size> LAST` followed by the message as it is
/// (no dot stuffing, no final dot), and every copy after the first preceded by RSET. No reply is
/// awaited inside the group: BDAT needs no `354`. The RSET keeps each copy's transaction its
/// own whatever the server made of the previous one (a refused chunk may leave a
/// transaction open, and a recipient of one copy must never receive another's).
async fn chunked(
    client: &mut Client,
    ehlo: &EhloResponse<String>,
    copies: &[&Copy],
    recording: &mut Recording<'_>,
) -> (Vec<Vec<RcptOutcome>>, bool) {
    let mut results: Vec<Vec<RcptOutcome>> = Vec::with_capacity(copies.len());
    let mut out = Vec::new();
    // A transaction may be left open by the last copy sent.
    let mut open = false;
    let mut rest = copies;
    while !rest.is_empty() {
        let (group, later) = rest.split_at(next_group(rest));
        rest = later;
        // The outcomes known so far are handed over; those of earlier groups are recorded
        // before this one goes out.
        recording.ahead(&results, 0).await;
        out.clear();
        // The group's messages and their commands, without growing the buffer on the way.
        out.reserve(
            group
                .iter()
                .map(|c| c.message.len() + 64 * (c.recipients.len() + 3))
                .sum(),
        );
        let mut expected = 0;
        for (i, copy) in group.iter().enumerate() {
            if i > 0 || open {
                out.extend_from_slice(b"RSET\r\n");
                expected += 1;
            }
            envelope(ehlo, copy, &mut out);
            // Writing to a Vec cannot fail.
            let _ = write!(out, "BDAT {} LAST\r\n", copy.message.len());
            for part in copy.message.parts() {
                out.extend_from_slice(part);
            }
            expected += copy.recipients.len() + 2;
        }
        let (replies, error) = exchange(client, &out, expected).await;
        let mut replies = replies.as_slice();
        for (i, copy) in group.iter().enumerate() {
            let reset = i > 0 || open;
            let n = copy.recipients.len() + 2 + usize::from(reset);
            let (mine, after) = replies.split_at(n.min(replies.len()));
            replies = after;
            let verdict = match chunk_replies(copy.recipients.len(), reset, mine) {
                // Replies missing (a server that is closing said so first: `Closing`): the
                // message went out but its fate is unknown; it may have arrived, and a retry
                // can duplicate it (as any MTA's would).
                Chunked::OutOfStep(_) if mine.len() < n => {
                    let outcome = error
                        .as_ref()
                        .map(|e| from_error("BDAT", e))
                        .unwrap_or_else(|| RcptOutcome::Temporary("BDAT: no reply".into()));
                    Chunked::OutOfStep(vec![outcome; copy.recipients.len()])
                }
                verdict => verdict,
            };
            match verdict {
                Chunked::Done(outcomes) => {
                    open = !outcomes.contains(&RcptOutcome::Delivered);
                    results.push(outcomes);
                }
                Chunked::Closing(outcome) => {
                    // Not attempted; it and the rest go on a new connection, unless it is the
                    // first here (it must not be tried here forever).
                    if results.is_empty() {
                        results.push(vec![outcome; copy.recipients.len()]);
                    }
                    return (results, false);
                }
                Chunked::OutOfStep(outcomes) => {
                    // The rest of the group went out too; what became of it is not known
                    // (a retry may duplicate a copy, as after a lost reply to the final dot).
                    results.push(outcomes);
                    let unknown = match &error {
                        Some(e) => from_error("BDAT", e),
                        None => RcptOutcome::Temporary(
                            "BDAT: the replies to an earlier copy were out of step".into(),
                        ),
                    };
                    for later in &group[i + 1..] {
                        results.push(vec![unknown.clone(); later.recipients.len()]);
                    }
                    return (results, false);
                }
            }
        }
    }
    (results, true)
}

async fn pipelined(
    client: &mut Client,
    ehlo: &EhloResponse<String>,
    copies: &[&Copy],
    recording: &mut Recording<'_>,
) -> (Vec<Vec<RcptOutcome>>, bool) {
    let mut results: Vec<Vec<RcptOutcome>> = Vec::with_capacity(copies.len());
    let mut out = Vec::new();
    // The copy whose DATA was answered 354: its content goes first in the next group.
    let mut sending: Option<Vec<Option<RcptOutcome>>> = None;
    // The last transaction is still open (MAIL taken, DATA refused): RSET goes next.
    let mut reset = false;
    for (i, copy) in copies.iter().map(Some).chain([None]).enumerate() {
        // The outcomes known so far are handed over; those before them are recorded before
        // more content goes out.
        recording.ahead(&results, AHEAD).await;
        out.clear();
        let mut expected = 0;
        if let Some(outcomes) = &sending {
            if outcomes.iter().any(Option::is_none) {
                content(&copies[i - 1].message, &mut out);
            } else {
                out.extend_from_slice(b".\r\n");
            }
            expected += 1;
        }
        if reset {
            out.extend_from_slice(b"RSET\r\n");
            expected += 1;
        }
        if let Some(copy) = copy {
            envelope(ehlo, copy, &mut out);
            out.extend_from_slice(b"DATA\r\n");
            expected += copy.recipients.len() + 2;
        }
        if expected == 0 {
            break;
        }
        let (replies, error) = exchange(client, &out, expected).await;
        let mut replies = replies.as_slice();
        // Whatever was answered counts, even when the connection broke after it.
        let broken = |results: &mut Vec<Vec<RcptOutcome>>, stage: &str| {
            let outcome = match &error {
                Some(e) => from_error(stage, e),
                None => RcptOutcome::Temporary(format!("{stage}: no reply")),
            };
            if let (Some(copy), true) = (copy, results.is_empty()) {
                // The first copy on this connection: it must not be tried here forever.
                results.push(vec![outcome; copy.recipients.len()]);
            }
        };
        if let Some(outcomes) = sending.take() {
            let Some((reply, rest)) = replies.split_first() else {
                // The content went out but its fate is unknown: it may have arrived, and a
                // retry can duplicate it (as any MTA's would).
                let outcome = error
                    .as_ref()
                    .map(|e| from_error("DATA", e))
                    .unwrap_or_else(|| RcptOutcome::Temporary("DATA: no reply".into()));
                results.push(vec![outcome; outcomes.len()]);
                return (results, false);
            };
            replies = rest;
            let (outcomes, in_step) = after_content(outcomes, reply);
            results.push(outcomes);
            if !in_step {
                return (results, false);
            }
        }
        if reset {
            reset = false;
            match replies.split_first() {
                Some((reply, rest)) if reply.code / 100 == 2 => replies = rest,
                // A refused RSET leaves the old transaction open: this copy's MAIL was
                // answered in that state, so it goes on a new connection instead.
                _ => {
                    broken(&mut results, "RSET");
                    return (results, false);
                }
            }
        }
        let Some(copy) = copy else { break };
        if let Some(mail) = replies.first().filter(|r| r.code == 421) {
            // The server is closing (its limit of messages per connection, say): this copy
            // was not attempted and goes on a new connection, unless it is the first here.
            if results.is_empty() {
                results.push(vec![from_reply("MAIL FROM", mail); copy.recipients.len()]);
            }
            return (results, false);
        }
        if replies.len() < copy.recipients.len() + 2 {
            // The envelope was not fully answered; no content went.
            broken(&mut results, "MAIL/RCPT");
            return (results, false);
        }
        match envelope_replies(copy.recipients.len(), replies) {
            Envelope::Content(outcomes) => sending = Some(outcomes),
            Envelope::Done(outcomes, open) => {
                results.push(outcomes);
                reset = open;
            }
            Envelope::OutOfStep(outcomes) => {
                results.push(outcomes);
                return (results, false);
            }
        }
    }
    (results, true)
}

/// One transaction without pipelining: MAIL, then each RCPT, then DATA, each waiting for its
/// reply. The flag says whether the connection can carry another transaction (false after an
/// I/O error, a timeout or a reply out of step).
async fn one_at_a_time(client: &mut Client, ehlo: &EhloResponse<String>, copy: &Copy) -> Attempt {
    let n = copy.recipients.len();
    let mut commands = Vec::new();
    envelope(ehlo, copy, &mut commands);
    let mut replies = Vec::with_capacity(n + 2);
    for command in commands.split_inclusive(|&b| b == b'\n') {
        let (got, error) = exchange(client, command, 1).await;
        let Some(reply) = got.into_iter().next() else {
            let e = error.unwrap_or(mail_send::Error::UnparseableReply);
            return Attempt::Done(vec![from_error("MAIL/RCPT", &e); n], false);
        };
        if replies.is_empty() && reply.code / 100 != 2 {
            return match reply.code {
                421 => Attempt::Closing(from_reply("MAIL FROM", &reply)),
                400..=599 => Attempt::Done(vec![from_reply("MAIL FROM", &reply); n], true),
                _ => Attempt::Done(vec![unexpected("MAIL FROM", &reply); n], false),
            };
        }
        replies.push(reply);
    }
    if replies[1..].iter().all(|r| r.code / 100 != 2) {
        // Nobody taken: no DATA; end the transaction MAIL opened.
        let mut in_step = true;
        let outcomes = replies[1..]
            .iter()
            .map(|r| match r.code / 100 {
                4 | 5 => RcptOutcome::from_rcpt_reply(r),
                _ => {
                    in_step = false;
                    unexpected("RCPT TO", r)
                }
            })
            .collect();
        return Attempt::Done(outcomes, in_step && rset(client).await);
    }
    let (got, error) = exchange(client, b"DATA\r\n", 1).await;
    let Some(data) = got.into_iter().next() else {
        let e = error.unwrap_or(mail_send::Error::UnparseableReply);
        return Attempt::Done(vec![from_error("DATA", &e); n], false);
    };
    replies.push(data);
    let (outcomes, usable) = match envelope_replies(n, &replies) {
        Envelope::Content(outcomes) => {
            let mut bytes = Vec::new();
            content(&copy.message, &mut bytes);
            let (got, error) = exchange(client, &bytes, 1).await;
            match got.first() {
                Some(reply) => after_content(outcomes, reply),
                None => {
                    let e = error.unwrap_or(mail_send::Error::UnparseableReply);
                    (vec![from_error("DATA", &e); n], false)
                }
            }
        }
        // DATA refused: the transaction MAIL opened stays open until RSET.
        Envelope::Done(outcomes, _) => (outcomes, rset(client).await),
        Envelope::OutOfStep(outcomes) => (outcomes, false),
    };
    Attempt::Done(outcomes, usable)
}

/// Ends an open transaction; whether the server agreed (else the connection is not reused).
async fn rset(client: &mut Client) -> bool {
    let (got, error) = exchange(client, b"RSET\r\n", 1).await;
    error.is_none() && got.first().is_some_and(|r| r.code / 100 == 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replies(codes: &[u16]) -> Vec<Response<String>> {
        codes
            .iter()
            .map(|&c| Response::new(c, (c / 100) as u8, 0, 0, "text".to_string()))
            .collect()
    }

    fn temporary(o: &RcptOutcome) -> bool {
        matches!(o, RcptOutcome::Temporary(_))
    }

    #[test]
    fn each_recipient_gets_its_own_reply_and_a_refused_data_leaves_a_transaction_to_reset() {
        match envelope_replies(2, &replies(&[250, 550, 250, 451])) {
            Envelope::Done(o, true) => {
                assert!(matches!(o[0], RcptOutcome::Refused { .. }));
                assert!(temporary(&o[1]));
            }
            _ => panic!("DATA refused: final outcomes, RSET needed"),
        }
        match envelope_replies(2, &replies(&[250, 550, 250, 354])) {
            Envelope::Content(o) => assert!(o[0].is_some() && o[1].is_none()),
            _ => panic!("354: the content goes"),
        }
    }

    #[test]
    fn a_refused_mail_with_data_taken_anyway_still_gets_its_lone_dot() {
        match envelope_replies(1, &replies(&[550, 503, 354])) {
            Envelope::Content(o) => assert!(o.iter().all(Option::is_some)),
            _ => panic!("the server is in DATA mode: it must get a dot"),
        }
        assert!(matches!(
            envelope_replies(1, &replies(&[451, 503, 503])),
            Envelope::Done(_, false)
        ));
    }

    #[test]
    fn a_write_holds_twenty_recipients_or_one_bigger_copy() {
        let copy = |n: usize| Copy {
            envelope_from: "l-bounces@lists.test".into(),
            recipients: (0..n).map(|i| format!("m{i}@x.org")).collect(),
            message: crate::model::message::CopyBytes::whole(b"x".as_slice()),
        };
        let personal: Vec<Copy> = (0..45).map(|_| copy(1)).collect();
        let refs: Vec<&Copy> = personal.iter().collect();
        assert_eq!(next_group(&refs), GROUP);
        assert_eq!(next_group(&refs[40..]), 5);
        let batched = [copy(100), copy(100)];
        let refs: Vec<&Copy> = batched.iter().collect();
        assert_eq!(next_group(&refs), 1);
        let mixed = [copy(15), copy(5), copy(1)];
        let refs: Vec<&Copy> = mixed.iter().collect();
        assert_eq!(next_group(&refs), 2);
    }

    #[test]
    fn bdat_replies_are_read_per_copy_after_its_rset() {
        // RSET, MAIL, two RCPTs (one refused), BDAT taken.
        match chunk_replies(2, true, &replies(&[250, 250, 550, 250, 250])) {
            Chunked::Done(o) => {
                assert!(matches!(o[0], RcptOutcome::Refused { .. }));
                assert_eq!(o[1], RcptOutcome::Delivered);
            }
            _ => panic!("a finished transaction"),
        }
        // Greylisted after the chunk: temporary, and nothing delivered (the next copy RSETs).
        match chunk_replies(1, false, &replies(&[250, 250, 451])) {
            Chunked::Done(o) => assert!(temporary(&o[0])),
            _ => panic!("a refused chunk is a final outcome"),
        }
        // Refused MAIL: the chunk was read and refused as well.
        match chunk_replies(1, false, &replies(&[550, 503, 503])) {
            Chunked::Done(o) => assert!(matches!(o[0], RcptOutcome::Permanent(_))),
            _ => panic!("a refused MAIL fails its copy"),
        }
    }

    #[test]
    fn a_closing_server_leaves_the_copy_unattempted_and_bdat_out_of_step_is_never_delivered() {
        assert!(matches!(
            chunk_replies(1, true, &replies(&[250, 421])),
            Chunked::Closing(_)
        ));
        assert!(matches!(
            chunk_replies(1, true, &replies(&[421])),
            Chunked::Closing(_)
        ));
        // A 250 to BDAT after a refused MAIL, a 354 anywhere, a failed RSET: out of step.
        for codes in [
            &[550, 503, 250][..],
            &[250, 354, 250],
            &[250, 250, 354],
            &[503, 250, 250, 250],
        ] {
            match chunk_replies(1, codes.len() == 4, &replies(codes)) {
                Chunked::OutOfStep(o) => assert!(temporary(&o[0]), "{codes:?}"),
                _ => panic!("{codes:?} is out of step"),
            }
        }
        // Replies missing without a 421: never taken for delivered.
        assert!(matches!(
            chunk_replies(2, false, &replies(&[250, 250])),
            Chunked::OutOfStep(_)
        ));
    }

    #[test]
    fn replies_of_the_wrong_class_are_never_counted_as_delivered() {
        // 250 to DATA: no content was sent.
        match envelope_replies(1, &replies(&[250, 250, 250])) {
            Envelope::OutOfStep(o) => assert!(temporary(&o[0])),
            _ => panic!("250 to DATA is out of step"),
        }
        match envelope_replies(1, &replies(&[354, 250, 354])) {
            Envelope::OutOfStep(o) => assert!(temporary(&o[0])),
            _ => panic!("354 to MAIL is out of step"),
        }
        let (o, in_step) = after_content(vec![None], &replies(&[354])[0]);
        assert!(!in_step && temporary(&o[0]));
        let (o, in_step) = after_content(vec![None], &replies(&[250])[0]);
        assert!(in_step && o[0] == RcptOutcome::Delivered);
    }
}
