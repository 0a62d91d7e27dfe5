//! Extractors whose refusals are pages in the viewer's language, not axum's plain text: a form
//! that cannot be read is a 400 page, a path that names nothing (`/admin/groups/abc`) the 404
//! page.

use std::sync::Arc;

use axum::{
    Form,
    extract::{FromRequest, FromRequestParts, Path, Query, Request},
    http::{StatusCode, request::Parts},
    response::Response,
};
use serde::de::DeserializeOwned;

use super::{
    WebState,
    frame::{self, ErrorPage},
    gate::Viewer,
    texts::{Common, Lang},
};

fn lang_of(extensions: &axum::http::Extensions) -> Lang {
    extensions
        .get::<Arc<Viewer>>()
        .map(|v| v.lang)
        .unwrap_or_default()
}

/// A URL-encoded form.
pub struct WebForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<WebState> for WebForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Response> {
        let lang = lang_of(request.extensions());
        match Form::<T>::from_request(request, state).await {
            Ok(Form(t)) => Ok(WebForm(t)),
            Err(e) => {
                let c = Common::get(lang);
                let status = e.status();
                let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    c.too_large.to_string()
                } else {
                    e.body_text()
                };
                Err(frame::error(
                    state,
                    lang,
                    ErrorPage::Refused(status, message),
                ))
            }
        }
    }
}

/// A query string.
pub struct WebQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<WebState> for WebQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(t)) => Ok(WebQuery(t)),
            Err(e) => Err(frame::error(
                state,
                lang_of(&parts.extensions),
                ErrorPage::Refused(StatusCode::BAD_REQUEST, e.body_text()),
            )),
        }
    }
}

/// Path parameters; any that cannot be read means there is no such page.
pub struct WebPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<WebState> for WebPath<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(WebPath(t)),
            Err(_) => Err(frame::error(
                state,
                lang_of(&parts.extensions),
                ErrorPage::NotFound,
            )),
        }
    }
}

/// The page for an uploaded form (multipart) that cannot be read.
pub fn unreadable_form(
    state: &WebState,
    lang: Lang,
    e: axum::extract::multipart::MultipartRejection,
) -> Response {
    frame::error(state, lang, ErrorPage::Refused(e.status(), e.body_text()))
}

/// The page for a form that broke off while it was read.
pub fn broken_form(
    state: &WebState,
    lang: Lang,
    e: axum::extract::multipart::MultipartError,
) -> Response {
    frame::error(state, lang, ErrorPage::Refused(e.status(), e.body_text()))
}
