//! The one error type of the HTTP layer, and the one place where it becomes a status code and a JSON body.

use crate::http::HttpResponse;
use crate::store::StoreError;

/// Everything a request can fail with. Messages are written for the caller: they name what was wrong
/// (a parameter, a header, a secret to set) and never echo secrets, signatures or addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// The request is malformed: bad JSON, a missing or invalid parameter.
    BadRequest(String),
    /// Credentials or signature missing, wrong or stale; or the ESP's secret is not configured.
    Unauthorized(String),
    /// The credentials are right but the action is not enabled: a write route without `ADMIN_TOKEN` set.
    Forbidden(String),
    /// No such route or resource.
    NotFound(String),
    /// The request is well formed but the stored state refuses it: all the silences that may be active are.
    Conflict(String),
    /// The route exists but not for this method; `allow` is what it does accept, sent as the `Allow` header
    /// that RFC 9110 §15.5.6 requires on every 405.
    MethodNotAllowed { allow: &'static str, message: String },
    /// The body (or a batch) is larger than we accept.
    PayloadTooLarge(String),
    /// Storage failed; the caller should retry (ESPs do on any 5xx).
    StorageUnavailable(String),
    /// Something we depend on besides storage failed (fetching the SNS certificate, confirming a
    /// subscription, the runtime's WebCrypto): not the caller's fault, and worth a retry.
    UpstreamUnavailable(String),
    /// A bug or an unexpected upstream failure.
    Internal(String),
    /// A configuration var cannot be used (an operator rule that does not compile); fixed by the
    /// operator, so the ESP should retry later.
    Misconfigured(String),
}

impl AppError {
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::MethodNotAllowed { .. } => 405,
            AppError::PayloadTooLarge(_) => 413,
            AppError::StorageUnavailable(_) | AppError::UpstreamUnavailable(_) => 503,
            AppError::Internal(_) => 500,
            AppError::Misconfigured(_) => 503,
        }
    }

    /// A short machine-readable code for the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::StorageUnavailable(_) => "storage_unavailable",
            AppError::UpstreamUnavailable(_) => "upstream_unavailable",
            AppError::Internal(_) => "internal",
            AppError::Misconfigured(_) => "configuration_error",
        }
    }

    /// The message for the caller (also what the webhook log line records as the rejection).
    pub fn message(&self) -> &str {
        match self {
            AppError::BadRequest(m)
            | AppError::Unauthorized(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::Conflict(m)
            | AppError::MethodNotAllowed { message: m, .. }
            | AppError::PayloadTooLarge(m)
            | AppError::StorageUnavailable(m)
            | AppError::UpstreamUnavailable(m)
            | AppError::Internal(m)
            | AppError::Misconfigured(m) => m,
        }
    }

    /// The response the caller sees: `{"error": "<code>", "message": "<what was wrong>"}`.
    pub fn into_response(self) -> HttpResponse {
        let body = serde_json::json!({ "error": self.code(), "message": self.message() });
        let response = HttpResponse::json(self.status(), &body);
        match self {
            AppError::MethodNotAllowed { allow, .. } => response.with_header("allow", allow),
            _ => response,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        AppError::StorageUnavailable(format!("storage failed, retry later: {err}"))
    }
}
