//! The bytes of mail the server writes itself: plain UTF-8
//! text, marked `Auto-Submitted: auto-generated` (RFC 3834) so no auto-responder answers it.

use base64::Engine;

use crate::rewrite::headers::phrase;

pub struct Notice<'a> {
    pub from_name: &'a str,
    pub from_address: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub message_id: &'a str,
    /// Seconds since the Unix epoch.
    pub date: i64,
}

fn encoded(text: &str) -> String {
    if text.chars().all(|c| (' '..='~').contains(&c)) {
        text.to_string()
    } else {
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
        )
    }
}

impl Notice<'_> {
    pub fn to_bytes(&self) -> Vec<u8> {
        let date = mail_parser::DateTime::from_timestamp(self.date).to_rfc822();
        let mut body = self.body.replace("\r\n", "\n").replace('\n', "\r\n");
        if !body.ends_with("\r\n") {
            body.push_str("\r\n");
        }
        format!(
            "From: {} <{}>\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: <{}>\r\nAuto-Submitted: auto-generated\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}",
            phrase(self.from_name),
            self.from_address,
            self.to,
            encoded(self.subject),
            self.message_id,
        )
        .into_bytes()
    }
}
