//! Public pages reached from links in mail. GET only shows a page; a button on it POSTs, so mail
//! scanners and link previews that follow links change nothing. Plain server-rendered HTML,
//! readable on a phone, with no external resources.

pub mod moderate;
pub mod unsubscribe;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A whole page around `body` (already escaped).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         button{{font-size:1.1rem;padding:.6rem 1.2rem}}textarea{{width:100%}}dt{{font-weight:bold}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}
