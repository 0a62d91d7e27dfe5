//! Signing personal copies with the body hashed once.
//!
//! A personalised fan-out sends one copy per recipient that differs only in a few header
//! fields. mail-auth's `sign()` canonicalises and hashes the whole message every time; here the
//! body hash (`bh=`) is computed once per key and post, and each recipient's signature covers
//! only their header fields — the same result as `sign()` on their copy, verified by dkimpy in
//! the tests, at the cost of the private-key operation alone.

use base64::Engine;
use mail_auth::{
    common::{
        crypto::{DkimKey, SigningKey},
        headers::{HeaderStream, HeaderWriter, Writable, Writer},
    },
    dkim::{DkimSigner, Done, canonicalize::CanonicalHeaders},
};

use crate::rewrite::headers::field_len;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One key's signer with the body hash of one post's shared body.
pub(super) struct BodySigner<'a> {
    signer: &'a DkimSigner<DkimKey, Done>,
    body_hash: Vec<u8>,
}

/// The `bh=` value of `body` for `signer` (its canonicalisation and hash).
pub(super) fn body_hash(signer: &DkimSigner<DkimKey, Done>, body: &[u8]) -> Vec<u8> {
    let canonical = signer.template.cb.canonical_body(body, u64::MAX);
    B64.encode(signer.key.hash(canonical).as_ref()).into_bytes()
}

impl<'a> BodySigner<'a> {
    pub(super) fn new(signer: &'a DkimSigner<DkimKey, Done>, body_hash: Vec<u8>) -> Self {
        BodySigner { signer, body_hash }
    }

    /// A `DKIM-Signature:` field over the header fields in `blocks` (each a run of whole
    /// fields, CRLF-terminated, in message order).
    pub(super) fn sign(&self, blocks: &[&[u8]], now: u64) -> Result<String, mail_auth::Error> {
        let template = &self.signer.template;
        let (_, headers, names, _) = template.canonicalize(Fields::new(blocks));
        if names.is_empty() {
            return Err(mail_auth::Error::NoHeadersFound);
        }
        let mut signature = template.clone();
        signature.bh = self.body_hash.clone();
        signature.t = now;
        signature.h = names;
        let b = self.signer.key.sign(Signable {
            headers,
            signature: &signature,
        })?;
        signature.b = B64.encode(b).into_bytes();
        Ok(signature.to_header())
    }
}

struct Signable<'a> {
    headers: CanonicalHeaders<'a>,
    signature: &'a mail_auth::dkim::Signature,
}

impl Writable for Signable<'_> {
    fn write(self, writer: &mut impl Writer) {
        self.headers.write(writer);
        self.signature.write(writer, false);
    }
}

/// Header fields read from several blocks in turn: `(name, value after the colon with its
/// folded lines and final CRLF)`, as mail-auth's canonicaliser expects.
struct Fields<'x> {
    blocks: Vec<&'x [u8]>,
    block: usize,
    pos: usize,
}

impl<'x> Fields<'x> {
    fn new(blocks: &[&'x [u8]]) -> Self {
        Fields {
            blocks: blocks.to_vec(),
            block: 0,
            pos: 0,
        }
    }
}

impl<'x> HeaderStream<'x> for Fields<'x> {
    fn next_header(&mut self) -> Option<(&'x [u8], &'x [u8])> {
        loop {
            let block: &'x [u8] = self.blocks.get(self.block).copied()?;
            let rest = &block[self.pos.min(block.len())..];
            if rest.is_empty() {
                self.block += 1;
                self.pos = 0;
                continue;
            }
            let len = field_len(rest);
            self.pos += len;
            let field = &rest[..len];
            if let Some(colon) = field.iter().position(|&b| b == b':') {
                return Some((&field[..colon], &field[colon + 1..]));
            }
        }
    }

    fn body(&mut self) -> &'x [u8] {
        b""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_across_blocks_with_their_folded_lines() {
        let a: &[u8] = b"To: <k@x.org>\r\n";
        let b: &[u8] = b"From: a@x.org\r\nSubject: one\r\n two\r\nX: y";
        let mut f = Fields::new(&[a, b]);
        let mut seen = Vec::new();
        while let Some((n, v)) = f.next_header() {
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
