//! Dial-out: `POST /v1/rooms/{room}/dial` asks the server to call a URI into the room
//! (`202` with the `dial_id`; progress arrives as `dial-progress` events) and
//! `DELETE /v1/dials/{dial_id}` CANCELs one that is not answered yet.

use super::error::{ApiResult, ErrorBody};
use super::json::Body;
use super::ApiState;
use crate::server::control::DialRequest;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Ring time when the request names none.
const DEFAULT_TIMEOUT_S: u64 = 30;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialBody {
    /// `sip:user@IP[:port]`.
    uri: String,
    name: Option<String>,
    /// 1-based canvas showing the member (0: on none).
    canvas: Option<usize>,
    /// 1-based canvas the member watches.
    watching_canvas: Option<usize>,
    /// Seconds to ring before giving up (CANCEL).
    timeout_s: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DialStarted {
    dial_id: String,
}

#[utoipa::path(
    post,
    path = "/v1/rooms/{room}/dial",
    tag = "dial-out",
    request_body = DialBody,
    params(("room" = String, Path, description = "room id")),
    responses((status = 202, description = "dialling; dial-progress events follow", body = DialStarted), (status = 400, description = "malformed JSON or unknown field", body = ErrorBody), (status = 422, description = "invalid value", body = ErrorBody), (status = 503, description = "no RTP ports free", body = ErrorBody))
)]
pub async fn dial(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
    Body(body): Body<DialBody>,
) -> ApiResult<(StatusCode, Json<DialStarted>)> {
    let request = DialRequest {
        uri: body.uri,
        name: body.name,
        canvas: body.canvas,
        watching_canvas: body.watching_canvas,
        timeout: Duration::from_secs(body.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S)),
        leg: None,
    };
    let dial_id = api.control.dial(&room, request).await?;
    Ok((StatusCode::ACCEPTED, Json(DialStarted { dial_id })))
}

#[utoipa::path(
    delete,
    path = "/v1/dials/{dial_id}",
    tag = "dial-out",
    params(("dial_id" = String, Path, description = "the dial_id of the POST")),
    responses((status = 202, description = "CANCEL sent"), (status = 404, description = "no such pending dial", body = ErrorBody))
)]
pub async fn cancel(
    State(api): State<Arc<ApiState>>,
    Path(dial): Path<String>,
) -> ApiResult<StatusCode> {
    api.control.cancel_dial(&dial).await?;
    Ok(StatusCode::ACCEPTED)
}
