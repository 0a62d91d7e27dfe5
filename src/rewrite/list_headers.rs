//! `List-Id` (RFC 2919), `List-Post`, `List-Help`, `List-Owner`, `List-Archive` (RFC 2369),
//! `Precedence: list` and the loop marker.

use super::{LOOP_HEADER, headers::phrase};
use crate::{
    model::list_settings::{ListSettings, WhoMayPost},
    store::groups::Group,
};

pub(super) fn lines(
    group: &Group,
    settings: &ListSettings,
    archive: Option<&super::ArchiveLinks>,
) -> String {
    let Some(address) = group.address.as_deref() else {
        return String::new();
    };
    let owner = crate::groups::owner_address(address);
    let post = if settings.who_may_post == WhoMayPost::Managers {
        "NO".to_string()
    } else {
        format!("<mailto:{address}>")
    };
    let help = match &settings.help_url {
        Some(url) => format!("<{url}>"),
        None => format!("<mailto:{owner}?subject=help>"),
    };
    let mut out = format!(
        "List-Id: {} <{}>\r\nList-Post: {post}\r\nList-Help: {help}\r\nList-Owner: <mailto:{owner}>\r\n",
        phrase(&group.name),
        list_id(address),
    );
    match (&settings.archive_url, archive) {
        (Some(url), _) => out.push_str(&format!("List-Archive: <{url}>\r\n")),
        (None, Some(a)) => out.push_str(&format!("List-Archive: <{}>\r\n", a.list)),
        (None, None) => {}
    }
    if let Some(a) = archive {
        // RFC 5064: where this very message can be read.
        out.push_str(&format!("Archived-At: <{}>\r\n", a.message));
    }
    out.push_str(&format!("Precedence: list\r\n{LOOP_HEADER}: {address}\r\n"));
    out
}

/// RFC 2919 list identifier: the list address with `@` turned into `.`.
pub fn list_id(address: &str) -> String {
    address.replace('@', ".")
}
