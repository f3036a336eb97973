//! The API's errors: one JSON shape, `{"error": {"code": "...", "message": "..."}}`, with the
//! HTTP status that says what went wrong (400 malformed, 401 no token, 404 unknown, 405 wrong
//! method, 413 too large, 422 invalid value, 503 server stopping).

use crate::server::control::ControlError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a bearer token is required (Authorization: Bearer TOKEN)",
        )
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let message = e.to_string();
        match e {
            ControlError::UnknownRoom(_)
            | ControlError::UnknownMember { .. }
            | ControlError::UnknownDial(_)
            | ControlError::UnknownCanvas { .. }
            | ControlError::UnknownCascade(_) => Self::not_found(message),
            ControlError::InvalidRoomId | ControlError::Invalid(_) => Self::invalid(message),
            ControlError::NoMedia(_) | ControlError::Conflict(_) => {
                Self::new(StatusCode::CONFLICT, "conflict", message)
            }
            ControlError::Unavailable | ControlError::NoPorts => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
        }
    }
}

/// The JSON of an error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthorized`, `not_found`, `method_not_allowed`, `conflict`,
    /// `too_large`, `invalid`, `internal` or `unavailable`.
    pub code: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
