//! `List-Id` (RFC 2919), `List-Post` (RFC 2369), `Precedence` and the loop marker.

use super::{LOOP_HEADER, headers::phrase};
use crate::store::groups::Group;

pub(super) fn lines(group: &Group) -> String {
    let Some(address) = group.address.as_deref() else {
        return String::new();
    };
    format!(
        "List-Id: {} <{}>\r\nList-Post: <mailto:{address}>\r\nPrecedence: list\r\n{LOOP_HEADER}: {address}\r\n",
        phrase(&group.name),
        list_id(address),
    )
}

/// RFC 2919 list identifier: the list address with `@` turned into `.`.
pub fn list_id(address: &str) -> String {
    address.replace('@', ".")
}
