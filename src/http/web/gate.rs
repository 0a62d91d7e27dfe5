//! Before every page: who is asking (the session cookie), in which language, whether a change
//! really comes from one of our own forms (origin, CSRF token), and whether this person may open
//! this page (its [`Audience`], and for the administrators' pages the access rule of the API
//! route it fronts — the same 404 as an unknown page outside one's scopes).
//!
//! CSRF tokens are HMACs with the server's link key: over the session for signed-in people,
//! over a random pre-session cookie (`cm_pre`) for the forms before sign-in. A POST carries its
//! token as the form field `csrf` (URL-encoded forms), in the query (`?csrf=`, file uploads) or
//! in the `X-CSRF-Token` header (the little script). A POST whose `Origin` is another site, or
//! whose `Sec-Fetch-Site` says cross-site, is refused before anything else.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    body::Body,
    extract::{ConnectInfo, RawPathParams, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use cookie::{Cookie, SameSite};

use super::{
    WebState,
    frame::{self, ErrorPage},
    pages::{Audience, PageSpec},
    texts::Lang,
};
use crate::{
    admin::access::access_of,
    http::api::{Caller, authz},
    store::signin::Session,
};

/// The most a URL-encoded form may be (read before anyone is known; file uploads are multipart
/// and carry the token in the query instead).
const MAX_FORM: usize = 256 * 1024;

/// The signed-in person (or nobody) and what a page needs to draw itself.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub session: Option<Session>,
    pub lang: Lang,
    /// The token the page's forms carry.
    pub csrf: String,
    /// The person's administrator account and what it may do, when it is active.
    pub caller: Option<Arc<Caller>>,
    /// The path asked for (for "sign in and come back").
    pub path: String,
}

impl Viewer {
    pub fn person_id(&self) -> Option<i64> {
        self.session.as_ref().map(|s| s.person_id)
    }
}

/// Cookie names; with https the `__Host-` prefix pins them to this host and path.
pub struct CookieNames {
    pub session: &'static str,
    pub pre: &'static str,
    pub lang: &'static str,
}

pub fn cookie_names(secure: bool) -> CookieNames {
    if secure {
        CookieNames {
            session: "__Host-cm_session",
            pre: "__Host-cm_pre",
            lang: "__Host-cm_lang",
        }
    } else {
        CookieNames {
            session: "cm_session",
            pre: "cm_pre",
            lang: "cm_lang",
        }
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure with https; `max_age` None: a
/// browser-session cookie; Some(0): removes it.
pub fn set_cookie(secure: bool, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = Cookie::build((name.to_string(), value.to_string()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure);
    if let Some(s) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(s));
    }
    HeaderValue::from_str(&c.build().to_string()).unwrap_or(HeaderValue::from_static(""))
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The client's address: the peer, or behind trusted proxies the right-most `X-Forwarded-For`
/// entry (over every such header line) that is not one of them. IPv4-mapped IPv6 addresses are
/// read as IPv4.
pub fn client_ip(
    proxies: &[IpAddr],
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let trusted = |ip: &IpAddr| proxies.iter().any(|t| t.to_canonical() == *ip);
    let mut ip = peer.map(|p| p.ip().to_canonical())?;
    if !trusted(&ip) {
        return Some(ip);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| v.trim().parse::<IpAddr>().ok())
        .map(|i| i.to_canonical())
        .collect();
    for hop in forwarded.iter().rev() {
        ip = *hop;
        if !trusted(hop) {
            break;
        }
    }
    Some(ip)
}

/// The key a client is counted under for rate limits: its IPv4 address, or its IPv6 /64 (one
/// household or server has a whole /64).
pub fn client_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(v4) => v4.to_string(),
        None => "unknown".into(),
    }
}

/// The language of a request: the switch's cookie, or the browser's `Accept-Language`.
pub fn language(state: &WebState, headers: &HeaderMap) -> Lang {
    cookie(headers, cookie_names(state.secure).lang)
        .and_then(Lang::parse)
        .unwrap_or_else(|| {
            Lang::negotiate(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            )
        })
}

/// Whether a state change may come from where its headers say it comes from.
fn same_origin(state: &WebState, headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true; // not a browser, or an old one: the CSRF token decides
    };
    if origin.eq_ignore_ascii_case(&state.origin) {
        return true;
    }
    if state.secure {
        return false; // https: only the public origin
    }
    // Plain http, reached under another name than public_url (localhost, an IP): the browser
    // names the host it sent the request to, which no other site can choose.
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|host| {
            ["http://", "https://"]
                .iter()
                .any(|s| origin.eq_ignore_ascii_case(&format!("{s}{host}")))
        })
}

/// The token a POST carries, and the body to hand on (read when the token was in it).
async fn posted_token(request: Request) -> Result<(Option<String>, Request), Response> {
    let from_header = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(t) = from_header {
        return Ok((Some(t), request));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        // A file upload: the token is in the form's action URL.
        let from_query = request.uri().query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.into_owned())
        });
        return Ok((from_query, request));
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Ok((None, request));
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
        return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
    };
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}

/// What the CSRF token of a viewer is bound to.
fn csrf_binding(session: Option<&Session>, pre: Option<&str>) -> Option<String> {
    match (session, pre) {
        (Some(s), _) => Some(format!("session|{}|{}", s.id, s.created_at)),
        (None, Some(p)) => Some(format!("pre|{p}")),
        (None, None) => None,
    }
}

/// The route layer of every page.
pub async fn gate(
    State((state, spec)): State<(WebState, &'static PageSpec)>,
    request: Request,
    next: Next,
) -> Response {
    let names = cookie_names(state.secure);
    let headers = request.headers().clone();
    let lang = language(&state, &headers);
    let path = request.uri().path().to_string();
    let had_session_cookie = cookie(&headers, names.session).is_some();
    let session = match cookie(&headers, names.session) {
        Some(value) => match state.signin.session(value).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot read a web session");
                return frame::error(&state, lang, ErrorPage::Unavailable);
            }
        },
        None => None,
    };
    // A pre-session cookie for the forms of people not signed in.
    let mut new_pre = None;
    let pre = match cookie(&headers, names.pre) {
        Some(p) => Some(p.to_string()),
        None if session.is_none() => {
            let p = crate::tokens::random_secret("");
            new_pre = Some(p.clone());
            Some(p)
        }
        None => None,
    };
    let binding = csrf_binding(session.as_ref(), pre.as_deref());
    let csrf = binding
        .as_deref()
        .map(|b| state.signer.mac("csrf", b))
        .unwrap_or_default();

    let mut request = request;
    if request.method() == Method::POST {
        if !same_origin(&state, &headers) {
            tracing::warn!(path, "a POST from another site was refused");
            return frame::error(&state, lang, ErrorPage::Csrf);
        }
        let (token, r) = match posted_token(request).await {
            Ok(x) => x,
            Err(too_large) => return too_large,
        };
        request = r;
        // A new pre-session cookie means the form cannot have been ours.
        let valid = new_pre.is_none()
            && match (&token, &binding) {
                (Some(t), Some(b)) => state.signer.verify_mac("csrf", b, t),
                _ => false,
            };
        if !valid {
            return frame::error(&state, lang, ErrorPage::Csrf);
        }
    }

    let mut viewer = Viewer {
        session,
        lang,
        csrf,
        caller: None,
        path: path.clone(),
    };
    if let Some(s) = &viewer.session {
        match caller_of(&state, s).await {
            Ok(c) => viewer.caller = c,
            Err(page) => return frame::error(&state, lang, page),
        }
    }
    match spec.audience {
        Audience::Public => {}
        Audience::Person | Audience::Admin if viewer.session.is_none() => {
            if request.method() == Method::GET {
                let to = super::client::with_query("/signin", &[("next", &path)]);
                return Redirect::to(&to).into_response();
            }
            return frame::error(&state, lang, ErrorPage::SignedOut);
        }
        Audience::Person => {}
        Audience::Admin => {
            let Some(caller) = &viewer.caller else {
                return frame::error(
                    &state,
                    lang,
                    ErrorPage::NoAccount(
                        viewer
                            .session
                            .as_ref()
                            .map(|s| s.email.clone())
                            .unwrap_or_default(),
                    ),
                );
            };
            if let Some(api) = spec.api_spec() {
                let mut parts = request.into_parts();
                let params = RawPathParams::from_request_parts(&mut parts.0, &state)
                    .await
                    .ok();
                let id = params.as_ref().and_then(|p| {
                    p.iter()
                        .find(|(k, _)| *k == "id")
                        .map(|(_, v)| v.to_string())
                });
                request = Request::from_parts(parts.0, parts.1);
                if let Err(e) = authz::check(&state.api, caller, api, id.as_deref()).await {
                    return frame::error(&state, lang, ErrorPage::from_api(e.status, e.message));
                }
            }
        }
    }
    let ip = client_ip(
        &state.trusted_proxies,
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0),
        &headers,
    );
    let dead_session = had_session_cookie && viewer.session.is_none();
    request.extensions_mut().insert(Arc::new(viewer));
    request.extensions_mut().insert(ClientIp {
        shown: ip
            .map(|i| i.to_string())
            .unwrap_or_else(|| "unknown".into()),
        key: client_key(ip),
    });
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let handler_set_cookies = h.contains_key(header::SET_COOKIE);
    if let Some(p) = new_pre {
        h.append(
            header::SET_COOKIE,
            set_cookie(state.secure, names.pre, &p, None),
        );
    }
    if dead_session && !handler_set_cookies {
        // The session ended (signed out elsewhere, timed out): the browser forgets the cookie.
        h.append(
            header::SET_COOKIE,
            set_cookie(state.secure, names.session, "", Some(0)),
        );
    }
    response
}

/// The client's address, for handlers: as shown (the session list) and as counted (rate limits).
#[derive(Debug, Clone)]
pub struct ClientIp {
    pub shown: String,
    pub key: String,
}

/// The administrator behind a session: `None` without an active account.
async fn caller_of(state: &WebState, s: &Session) -> Result<Option<Arc<Caller>>, ErrorPage> {
    let account = match state.api.store.account_of_person(s.person_id).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "cannot read an account");
            return Err(ErrorPage::Unavailable);
        }
    };
    let Some(account) = account.filter(|a| a.active) else {
        return Ok(None);
    };
    let access = access_of(&state.api.store, &state.api.resolver, &account)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot work out an account's access");
            ErrorPage::Unavailable
        })?;
    Ok(Some(Arc::new(Caller {
        actor: account.email.clone(),
        account: Some(account),
        access,
    })))
}

use axum::extract::FromRequestParts;

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let peer = |ip: &str| Some(SocketAddr::new(ip.parse().unwrap(), 4000));
        let one = |ip: &str| Some(ip.parse::<IpAddr>().unwrap());
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip(&[proxy], peer("192.0.2.9"), &headers(&["203.0.113.5"])),
            one("192.0.2.9")
        );
        // Behind the proxy: the right-most entry not a proxy, over every header line (a client
        // cannot choose its address by sending a header line of its own first).
        assert_eq!(
            client_ip(
                &[proxy],
                peer("10.0.0.1"),
                &headers(&["6.6.6.6", "198.51.100.7, 10.0.0.1"])
            ),
            one("198.51.100.7")
        );
        assert_eq!(
            client_ip(
                &[proxy],
                peer("10.0.0.1"),
                &headers(&["6.6.6.6, 198.51.100.7"])
            ),
            one("198.51.100.7")
        );
        // A proxy seen through a dual-stack socket is still the proxy.
        assert_eq!(
            client_ip(
                &[proxy],
                peer("::ffff:10.0.0.1"),
                &headers(&["198.51.100.7"])
            ),
            one("198.51.100.7")
        );
        assert_eq!(
            client_ip(&[], peer("::ffff:192.0.2.9"), &HeaderMap::new()),
            one("192.0.2.9")
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a = client_key(Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = client_key(Some("2001:db8:1:2:bbbb::9".parse().unwrap()));
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(client_key(Some("192.0.2.9".parse().unwrap())), "192.0.2.9");
    }
}
