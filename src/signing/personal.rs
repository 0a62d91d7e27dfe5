//! Signing personal copies with what they share prepared once per post.
//!
//! A personalised fan-out sends one copy per recipient that differs only in a few header
//! fields. mail-auth's `sign()` canonicalises and hashes the whole message every time; here the
//! body hash (`bh=`) and the canonical form of the header fields every copy shares are made
//! once per key and post, and each recipient's signature adds only their own fields — the same
//! bytes as `sign()` on their copy (unit test below; verified by dkimpy in the integration
//! tests), at the cost of the private-key operation alone.

use base64::Engine;
use mail_auth::{
    common::{
        crypto::{DkimKey, SigningKey},
        headers::{HeaderWriter, Writable, Writer},
    },
    dkim::{Canonicalization, DkimSigner, Done},
};

use crate::rewrite::headers::field_len;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What one key's signatures of one post's copies share.
pub(super) struct SharedPart {
    /// The signer's template with the `bh=` value of the shared body, and no `h=` yet.
    signature: mail_auth::dkim::Signature,
    /// The shared header fields the key signs, canonicalised in the order they are hashed:
    /// mail-auth hashes a message's signed fields from the last up, and the shared ones come
    /// after each recipient's own, so they are hashed first, and the same for every copy.
    canonical: Vec<u8>,
    /// Their names, in that order (the start of `h=`).
    names: Vec<String>,
    /// Per name of the signer's list: found among the shared fields.
    found: Vec<bool>,
}

/// The part of `signer`'s signatures that every copy of a post shares: `shared_fields` (whole
/// fields, CRLF-terminated) and `body`.
pub(super) fn shared_part(
    signer: &DkimSigner<DkimKey, Done>,
    shared_fields: &[u8],
    body: &[u8],
) -> SharedPart {
    let template = &signer.template;
    let canonical_body = template.cb.canonical_body(body, u64::MAX);
    let mut signature = template.clone();
    signature.bh = B64
        .encode(signer.key.hash(canonical_body).as_ref())
        .into_bytes();
    signature.h = Vec::new();
    let mut found = vec![false; template.h.len()];
    let fields = signed_fields(template, shared_fields, &mut found);
    let mut canonical = Vec::new();
    template
        .ch
        .canonicalize_headers(fields.iter().rev().copied(), &mut canonical);
    SharedPart {
        signature,
        canonical,
        names: fields.iter().rev().map(|(n, _)| name(n)).collect(),
        found,
    }
}

/// The fields of `block` that `template` signs, in message order, each marked in `found`.
fn signed_fields<'x>(
    template: &mail_auth::dkim::Signature,
    block: &'x [u8],
    found: &mut [bool],
) -> Vec<(&'x [u8], &'x [u8])> {
    let mut fields = Vec::new();
    for (name, value) in Fields::new(block) {
        if let Some(pos) = template
            .h
            .iter()
            .position(|h| name.eq_ignore_ascii_case(h.as_bytes()))
        {
            fields.push((name, value));
            if let Some(f) = found.get_mut(pos) {
                *f = true;
            }
        }
    }
    fields
}

fn name(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One key's signer with what one post's copies share.
pub(super) struct PostSigner<'a> {
    signer: &'a DkimSigner<DkimKey, Done>,
    shared: &'a SharedPart,
}

impl<'a> PostSigner<'a> {
    pub(super) fn new(signer: &'a DkimSigner<DkimKey, Done>, shared: &'a SharedPart) -> Self {
        PostSigner { signer, shared }
    }

    /// A `DKIM-Signature:` field for the copy made of `personal` (one recipient's own whole
    /// fields, CRLF-terminated) followed by the shared fields and body.
    pub(super) fn sign(&self, personal: &[u8], now: u64) -> Result<String, mail_auth::Error> {
        let template = &self.signer.template;
        let mut found = self.shared.found.clone();
        let fields = signed_fields(template, personal, &mut found);
        // As mail-auth names them: the signed fields from the last up, then those absent.
        let mut names = self.shared.names.clone();
        names.extend(fields.iter().rev().map(|(n, _)| name(n)));
        names.extend(
            template
                .h
                .iter()
                .zip(&found)
                .filter(|(_, found)| !**found)
                .map(|(h, _)| h.clone()),
        );
        if names.is_empty() {
            return Err(mail_auth::Error::NoHeadersFound);
        }
        let mut signature = self.shared.signature.clone();
        signature.t = now;
        signature.h = names;
        let b = self.signer.key.sign(Signable {
            shared: &self.shared.canonical,
            personal: fields,
            canonicalization: template.ch,
            signature: &signature,
        })?;
        signature.b = B64.encode(b).into_bytes();
        Ok(signature.to_header())
    }
}

/// What a signature signs: the signed header fields, canonicalised, from the last up (the
/// shared ones, made once, then the recipient's own), then the signature field without `b=`.
struct Signable<'a> {
    shared: &'a [u8],
    personal: Vec<(&'a [u8], &'a [u8])>,
    canonicalization: Canonicalization,
    signature: &'a mail_auth::dkim::Signature,
}

impl Writable for Signable<'_> {
    fn write(self, writer: &mut impl Writer) {
        writer.write(self.shared);
        self.canonicalization
            .canonicalize_headers(self.personal.into_iter().rev(), writer);
        self.signature.write(writer, false);
    }
}

/// The header fields of a block of whole fields: `(name, value after the colon with its folded
/// lines and final CRLF)`, as mail-auth's canonicaliser takes them.
struct Fields<'x> {
    rest: &'x [u8],
}

impl<'x> Fields<'x> {
    fn new(block: &'x [u8]) -> Self {
        Fields { rest: block }
    }
}

impl<'x> Iterator for Fields<'x> {
    type Item = (&'x [u8], &'x [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let (field, rest) = self
                .rest
                .split_at(field_len(self.rest).min(self.rest.len()));
            self.rest = rest;
            if let Some(colon) = field.iter().position(|&b| b == b':') {
                return Some((&field[..colon], &field[colon + 1..]));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::keys;

    #[test]
    fn a_personal_signature_is_the_one_sign_makes_of_the_whole_copy() {
        // The recipient's own fields, folded; shared ones with runs of white space to fold
        // away, one field no key signs, signed names absent (Cc) and From present once (the
        // list signs it twice).
        let personal: &[u8] = b"To: <kim@x.org>\r\nList-Unsubscribe: <https://lists.test/u/abc>,\r\n  <mailto:u@lists.test>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
        let shared: &[u8] = b"From: Chair <chair@x.org>\r\nSubject:  Annual\r\n   meeting \r\nX-Other: not signed\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n";
        let body: &[u8] = b"Dear members,\r\n\r\n  the meeting  is on Thursday.\r\n\r\n\r\n";
        let copy = [personal, shared, b"\r\n", body].concat();
        for kind in ["rsa", "ed25519"] {
            let key = keys::parse(keys::generate(kind).unwrap().as_bytes())
                .unwrap()
                .key;
            let signer = DkimSigner::from_key(key)
                .domain("lists.test")
                .selector("s")
                .headers(crate::signing::signed_headers());
            let whole = signer.sign(&copy).unwrap();
            let shared = shared_part(&signer, shared, body);
            let ours = PostSigner::new(&signer, &shared)
                .sign(personal, whole.t)
                .unwrap();
            // RSA PKCS#1 v1.5 and Ed25519 are deterministic: the same input, the same bytes.
            assert_eq!(ours, whole.to_header(), "{kind}");
        }
    }

    #[test]
    fn fields_are_read_with_their_folded_lines() {
        let block: &[u8] = b"To: <k@x.org>\r\nFrom: a@x.org\r\nSubject: one\r\n two\r\nX: y";
        let mut seen = Vec::new();
        for (n, v) in Fields::new(block) {
            seen.push((
                String::from_utf8_lossy(n).to_string(),
                String::from_utf8_lossy(v).to_string(),
            ));
        }
        assert_eq!(
            seen,
            [
                ("To".into(), " <k@x.org>\r\n".into()),
                ("From".into(), " a@x.org\r\n".into()),
                ("Subject".into(), " one\r\n two\r\n".into()),
                ("X".into(), " y".into()),
            ]
        );
    }
}
