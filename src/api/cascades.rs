//! `/v1/rooms/{room}/cascades`: cascade legs joining the room with the same room on other
//! servers. `POST` dials one (`201` with the leg, `connecting`; `cascade-*` state follows in
//! the list), `GET` lists them, `DELETE …/{id}` ends one (BYE, or CANCEL while it rings).

use super::error::{ApiError, ApiResult, ErrorBody};
use super::json::Body;
use super::ApiState;
use crate::cascade::{CascadeLeg, LegDirection, LegState, NodeId};
use crate::conference::member::MemberId;
use crate::server::control::CascadeRequest;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Ring time of a leg when the request names none.
const DEFAULT_TIMEOUT_S: u64 = 30;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CascadeBody {
    /// The same room on the peer, `sip:ROOM@IP[:port]`.
    uri: String,
    /// 1-based canvas showing the far room here (0: on none).
    canvas: Option<usize>,
    /// 1-based canvas sent to the far room.
    watching_canvas: Option<usize>,
    /// Seconds to ring before giving up.
    timeout_s: Option<u64>,
    /// Keep the leg (and the room) up whether or not anybody is in the room.
    #[serde(default)]
    permanent: bool,
    /// The size of the view the leg is sent, `WxH` (default `[cascade] video_size`, 1280x720).
    video_size: Option<String>,
    /// Its bitrate, bits per second (default `[cascade] bitrate`, 2000000).
    bitrate: Option<u32>,
}

/// A leg as the API lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LegView {
    id: String,
    /// The peer's URI (out) or the caller's From URI (in).
    peer: String,
    #[schema(value_type = String, example = "out")]
    direction: LegDirection,
    #[schema(value_type = String, example = "up")]
    state: LegState,
    /// The far node's id (a plain SIP peer has none).
    #[schema(value_type = Option<String>)]
    remote_node: Option<NodeId>,
    /// The signalling round trip (the leg's OPTIONS keepalive, between Tessera nodes), 0.1 ms.
    rtt_ms: Option<f64>,
    #[schema(value_type = String, format = DateTime)]
    since: crate::server::wall_clock::Timestamp,
    /// The member it is in the room, while it is up.
    member: Option<MemberId>,
    /// The SIP status it went down with, if it did.
    status: Option<u16>,
    /// Kept up whether or not anybody is in the room.
    permanent: bool,
}

impl From<CascadeLeg> for LegView {
    fn from(leg: CascadeLeg) -> Self {
        Self {
            id: leg.id,
            peer: leg.peer,
            direction: leg.direction,
            state: leg.state,
            remote_node: leg.remote_node,
            rtt_ms: leg
                .keepalive
                .as_ref()
                .and_then(|k| k.rtt)
                .map(|rtt| (rtt.as_secs_f64() * 1e4).round() / 10.0),
            since: leg.since,
            member: leg.member.filter(|_| leg.state == LegState::Up),
            status: leg.status,
            permanent: leg.permanent,
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/rooms/{room}/cascades",
    tag = "cascades",
    request_body = CascadeBody,
    params(("room" = String, Path, description = "room id")),
    responses(
        (status = 201, description = "the leg, connecting", body = LegView),
        (status = 400, description = "malformed JSON or unknown field", body = ErrorBody),
        (status = 422, description = "invalid value", body = ErrorBody),
        (status = 503, description = "no RTP ports free", body = ErrorBody)
    )
)]
pub async fn start(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
    Body(body): Body<CascadeBody>,
) -> ApiResult<(StatusCode, Json<LegView>)> {
    let video = api
        .cascade
        .leg_view(body.video_size.as_deref(), body.bitrate)
        .map_err(ApiError::invalid)?;
    let request = CascadeRequest {
        uri: body.uri,
        canvas: body.canvas,
        watching_canvas: body.watching_canvas,
        timeout: Duration::from_secs(body.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S)),
        permanent: body.permanent,
        video,
    };
    let leg = api.control.start_cascade(&room, request).await?;
    Ok((StatusCode::CREATED, Json(leg.into())))
}

#[utoipa::path(
    get,
    path = "/v1/rooms/{room}/cascades",
    tag = "cascades",
    params(("room" = String, Path, description = "room id")),
    responses(
        (status = 200, description = "the room's legs", body = [LegView]),
        (status = 404, description = "unknown room", body = ErrorBody)
    )
)]
pub async fn list(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
) -> ApiResult<Json<Vec<LegView>>> {
    let legs = api.control.cascades(&room).await?;
    Ok(Json(legs.into_iter().map(LegView::from).collect()))
}

#[utoipa::path(
    delete,
    path = "/v1/rooms/{room}/cascades/{id}",
    tag = "cascades",
    params(
        ("room" = String, Path, description = "room id"),
        ("id" = String, Path, description = "leg id")
    ),
    responses(
        (status = 204, description = "ended"),
        (status = 404, description = "no such leg", body = ErrorBody)
    )
)]
pub async fn delete(
    State(api): State<Arc<ApiState>>,
    Path((room, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    api.control.delete_cascade(&room, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
