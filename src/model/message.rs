//! The bytes of one outgoing copy: its own header fields in front of the bytes every copy of
//! the post shares. A 10 MB post fanned out as 100 personal copies holds the 10 MB once, not
//! 100 times; only the few fields of each recipient (DKIM-Signature, To, List-Unsubscribe) are
//! their own.

use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct CopyBytes {
    /// This copy's own header fields, whole CRLF-terminated fields (may be empty).
    pub head: Vec<u8>,
    /// The rest of the message, the same in every copy.
    pub shared: Arc<[u8]>,
}

impl CopyBytes {
    pub fn new(head: Vec<u8>, shared: Arc<[u8]>) -> CopyBytes {
        CopyBytes { head, shared }
    }

    /// A copy made of one block of bytes.
    pub fn whole(message: impl Into<Arc<[u8]>>) -> CopyBytes {
        CopyBytes {
            head: Vec::new(),
            shared: message.into(),
        }
    }

    /// The message, in order.
    pub fn parts(&self) -> [&[u8]; 2] {
        [&self.head, &self.shared]
    }

    pub fn len(&self) -> usize {
        self.head.len() + self.shared.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_ascii(&self) -> bool {
        self.head.is_ascii() && self.shared.is_ascii()
    }

    /// The message in one piece (for tests and tools; delivery writes the parts).
    pub fn to_vec(&self) -> Vec<u8> {
        [self.head.as_slice(), &self.shared].concat()
    }
}
