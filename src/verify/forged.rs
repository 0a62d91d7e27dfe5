//! Removing `Authentication-Results` fields that claim to be ours (RFC 8601 §5): only this
//! server writes results under its host name, so one that arrived with the post is forged.

use crate::rewrite::headers::field_len;

/// `raw` without the top-level `Authentication-Results` fields whose authserv-id is
/// `hostname` (case-insensitive); everything else byte for byte.
pub fn strip_forged(raw: &[u8], hostname: &str) -> Vec<u8> {
    let header_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(raw.len());
    let mut out = Vec::with_capacity(raw.len());
    let mut pos = 0;
    while pos < header_end {
        let len = field_len(&raw[pos..header_end]);
        let field = &raw[pos..pos + len];
        if !claims(field, hostname) {
            out.extend_from_slice(field);
        }
        pos += len;
    }
    out.extend_from_slice(&raw[header_end..]);
    out
}

/// True for an `Authentication-Results` field whose first token is `hostname`.
fn claims(field: &[u8], hostname: &str) -> bool {
    let Some(colon) = field.iter().position(|&b| b == b':') else {
        return false;
    };
    let (name, value) = field.split_at(colon);
    if !name
        .trim_ascii()
        .eq_ignore_ascii_case(b"Authentication-Results")
    {
        return false;
    }
    let value = String::from_utf8_lossy(&value[1..]);
    let id = value
        .split(';')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("");
    id.trim_end_matches('.').eq_ignore_ascii_case(hostname)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_claiming_our_name_are_removed_others_kept() {
        let raw = b"Authentication-Results: MX.Example.ORG;\r\n\tdkim=pass header.d=evil.example\r\nAuthentication-Results: other.example; spf=pass\r\nFrom: a@x.org\r\nSubject: Authentication-Results: mx.example.org\r\n\r\nAuthentication-Results: mx.example.org; body\r\n";
        let out = String::from_utf8(strip_forged(raw, "mx.example.org")).unwrap();
        assert_eq!(
            out,
            "Authentication-Results: other.example; spf=pass\r\nFrom: a@x.org\r\nSubject: Authentication-Results: mx.example.org\r\n\r\nAuthentication-Results: mx.example.org; body\r\n"
        );
    }

    #[test]
    fn a_message_without_results_is_unchanged() {
        let raw = b"From: a@x.org\r\n\r\nbody\r\n";
        assert_eq!(strip_forged(raw, "mx.example.org"), raw);
    }
}
