//! Netstrings (`LEN:DATA,`), the framing of Postfix's socketmap protocol. The reader never
//! trusts a length it has not bounded: a request longer than the limit, a length with too many
//! digits or no digits, and a missing `,` are errors, never a panic or an allocation of what the
//! peer claimed.

/// Why bytes are no netstring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetstringError {
    #[error("the length is not a decimal number")]
    BadLength,
    #[error("the netstring is longer than {0} bytes")]
    TooLong(usize),
    #[error("the netstring does not end with ','")]
    MissingComma,
}

/// One netstring decoded from the front of `buf`: the data and how many bytes it took, or
/// `Ok(None)` when more bytes are needed.
pub fn decode(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, NetstringError> {
    // At most as many digits as the largest allowed length has, and one more to see the ':'.
    let max_digits = max.to_string().len();
    let Some(colon) = buf.iter().take(max_digits + 1).position(|&b| b == b':') else {
        if buf.len() > max_digits || !buf.iter().all(u8::is_ascii_digit) {
            return Err(NetstringError::BadLength);
        }
        return Ok(None);
    };
    let digits = &buf[..colon];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(NetstringError::BadLength);
    }
    let len: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or(NetstringError::BadLength)?;
    if len > max {
        return Err(NetstringError::TooLong(max));
    }
    let start = colon + 1;
    let end = start + len;
    if buf.len() <= end {
        return Ok(None);
    }
    if buf[end] != b',' {
        return Err(NetstringError::MissingComma);
    }
    Ok(Some((&buf[start..end], end + 1)))
}

/// `data` as a netstring.
pub fn encode(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(data.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(data);
    out.push(b',');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_read_whole_and_partial_input_waits() {
        let wire = b"27:recipients board@lists.test,";
        assert_eq!(
            decode(wire, 100),
            Ok(Some((&b"recipients board@lists.test"[..], wire.len())))
        );
        for cut in 0..wire.len() {
            assert_eq!(decode(&wire[..cut], 100), Ok(None), "cut at {cut}");
        }
        // Two in one read: the first, and how far it went.
        let two = b"3:abc,0:,";
        let (first, used) = decode(two, 100).unwrap().unwrap();
        assert_eq!((first, used), (&b"abc"[..], 6));
        assert_eq!(decode(&two[used..], 100), Ok(Some((&b""[..], 3))));
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        assert_eq!(decode(b"x:abc,", 100), Err(NetstringError::BadLength));
        assert_eq!(decode(b":abc,", 100), Err(NetstringError::BadLength));
        assert_eq!(decode(b"-1:a,", 100), Err(NetstringError::BadLength));
        assert_eq!(decode(b"3:abcd", 100), Err(NetstringError::MissingComma));
        assert_eq!(decode(b"101:", 100), Err(NetstringError::TooLong(100)));
        // A length with more digits than any allowed one: refused before the ':' arrives.
        assert_eq!(decode(b"0000", 100), Err(NetstringError::BadLength));
        assert_eq!(
            decode(b"99999999999999999999999999:", 100),
            Err(NetstringError::BadLength)
        );
        assert_eq!(decode(b"12a", 100), Err(NetstringError::BadLength));
        // Arbitrary bytes: whatever the answer, no panic.
        for seed in 0u32..2000 {
            let bytes: Vec<u8> = (0..(seed % 23))
                .map(|i| (seed.wrapping_mul(2654435761).rotate_left(i) & 0xff) as u8)
                .collect();
            let _ = decode(&bytes, 64);
        }
    }

    #[test]
    fn encoding_round_trips() {
        let mut out = Vec::new();
        encode(b"OK lmtp:inet:127.0.0.1:2424", &mut out);
        assert_eq!(out, b"27:OK lmtp:inet:127.0.0.1:2424,");
        assert_eq!(
            decode(&out, 1000),
            Ok(Some((&b"OK lmtp:inet:127.0.0.1:2424"[..], out.len())))
        );
    }
}
