//! The web pages' way to the data: the admin API, called in-process as the signed-in account.
//! Every read and change goes through the API's route table, access rules, validation and audit
//! log exactly as a call with that account's token would; a page never reads the store around it.

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower::ServiceExt;

use crate::http::api::{Caller, authz};

/// What the API refused, as it said it.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiFailure {
    fn internal(message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal".into(),
            message: message.into(),
        }
    }
}

/// The API, as one account.
#[derive(Clone)]
pub struct Api {
    router: Router,
    caller: Arc<Caller>,
}

/// `path?k=v&…` with the values URL-encoded; empty values are left out.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
        any = true;
    }
    if any {
        format!("{path}?{}", q.finish())
    } else {
        path.to_string()
    }
}

impl Api {
    pub fn new(router: Router, caller: Arc<Caller>) -> Api {
        Api { router, caller }
    }

    pub fn caller(&self) -> &Arc<Caller> {
        &self.caller
    }

    /// `GET /api/v1{path}` (path may carry a query, see [`with_query`]).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        self.call(Method::GET, path, None).await
    }

    /// A change: `method /api/v1{path}` with a JSON body.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, ApiFailure> {
        self.call(method, path, body).await
    }

    /// `POST /api/v1{path}` with a file as the body (streamed), of `content_type`.
    pub async fn upload<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        body: Body,
    ) -> Result<T, ApiFailure> {
        self.request(Method::POST, path, content_type, body).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, ApiFailure> {
        let body = match body {
            Some(b) => Body::from(b.to_string()),
            None => Body::empty(),
        };
        self.request(method, path, "application/json", body).await
    }

    async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Body,
    ) -> Result<T, ApiFailure> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .header(header::CONTENT_TYPE, content_type);
        if let Some(ext) = request.extensions_mut() {
            ext.insert(authz::InProcess(self.caller.clone()));
        }
        let request = request
            .body(body)
            .map_err(|e| ApiFailure::internal(format!("building the request: {e}")))?;
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| ApiFailure::internal(format!("calling the API: {e}")))?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| ApiFailure::internal(format!("reading the API's answer: {e}")))?;
        if !status.is_success() {
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(ApiFailure {
                status,
                code: v["error"].as_str().unwrap_or("error").to_string(),
                message: v["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned()),
            });
        }
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes
        };
        serde_json::from_slice(bytes).map_err(|e| {
            tracing::error!(error = %e, path, "the API's answer does not fit the page");
            ApiFailure::internal(format!("the API's answer does not fit the page: {e}"))
        })
    }
}
