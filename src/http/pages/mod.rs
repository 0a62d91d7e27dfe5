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

/// A whole page around `body` (already escaped), with the one stylesheet (no inline style: the
/// Content-Security-Policy allows only our own files).
pub fn page(title: &str, body: &str) -> String {
    let (css, _) = crate::http::web::frame::asset_paths();
    let css = css.as_str();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body><main class=\"narrow\"><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    )
}
