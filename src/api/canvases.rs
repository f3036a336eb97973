//! `/v1/rooms/{room}/canvases`: the room's canvases, adding one (`POST`), changing one
//! (`PATCH`: layout, size, frame rate, bitrate, name banners), removing one (`DELETE`: its
//! members and watchers move to canvas 1), its floor forced to a member (`PUT …/floor`) or
//! returned to the loudest talker (`DELETE …/floor`), and the composed picture as PNG
//! (`GET …/snapshot.png`, composed on request, so also for a canvas nobody watches). Canvas
//! numbers are 1-based.

use super::error::{ApiError, ApiResult, ErrorBody};
use super::json::Body;
use super::views::CanvasView;
use super::ApiState;
use crate::conference::canvas::CanvasConfig;
use crate::conference::canvas_control::{CanvasChange, CanvasControl, CanvasPatch};
use crate::conference::member::MemberId;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FloorBody {
    member: MemberId,
}

/// A 1-based canvas number from the path, as a 0-based index.
fn canvas_index(room: &str, n: &str) -> ApiResult<usize> {
    n.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .ok_or_else(|| ApiError::not_found(format!("room {room} has no canvas {n:?}")))
}

async fn canvas_view(api: &ApiState, room: &str, index: usize) -> ApiResult<CanvasView> {
    let state = api.control.room_state(room).await?;
    CanvasView::all(&state)
        .into_iter()
        .nth(index)
        .ok_or_else(|| ApiError::not_found(format!("room {room} has no canvas {}", index + 1)))
}

#[utoipa::path(
    get,
    path = "/v1/rooms/{room}/canvases",
    tag = "canvases",
    params(("room" = String, Path, description = "room id")),
    responses((status = 200, description = "the room's canvases", body = [CanvasView]), (status = 404, description = "unknown room", body = ErrorBody))
)]
pub async fn list(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
) -> ApiResult<Json<Vec<CanvasView>>> {
    let state = api.control.room_state(&room).await?;
    Ok(Json(CanvasView::all(&state)))
}

/// Checks a canvas's settings: numbers in range, the layout one the library has.
pub(super) fn check_settings(api: &ApiState, settings: &CanvasPatch) -> ApiResult<()> {
    settings.validate().map_err(ApiError::invalid)?;
    if let Some(layout) = &settings.layout {
        let known = match layout.strip_prefix("group:") {
            Some(group) => api.layouts.group(group).is_some(),
            None => api.layouts.get(layout).is_some(),
        };
        if !known {
            return Err(ApiError::invalid(format!(
                "layout: no layout or group {layout:?} (see GET /v1/layouts)"
            )));
        }
    }
    Ok(())
}

/// A canvas's full settings from a body: the server's default canvas with the body's fields.
pub(super) fn canvas_config(api: &ApiState, settings: &CanvasPatch) -> ApiResult<CanvasConfig> {
    check_settings(api, settings)?;
    let mut config = api.canvases.first().cloned().unwrap_or_default();
    settings.apply(&mut config);
    Ok(config)
}

#[utoipa::path(
    patch,
    path = "/v1/rooms/{room}/canvases/{n}",
    tag = "canvases",
    request_body = CanvasPatch,
    params(("room" = String, Path, description = "room id"), ("n" = usize, Path, description = "canvas number, from 1")),
    responses((status = 200, description = "the canvas after the change", body = CanvasView), (status = 400, description = "malformed JSON or unknown field", body = ErrorBody), (status = 404, description = "unknown room", body = ErrorBody), (status = 422, description = "invalid value", body = ErrorBody))
)]
pub async fn patch(
    State(api): State<Arc<ApiState>>,
    Path((room, n)): Path<(String, String)>,
    Body(settings): Body<CanvasPatch>,
) -> ApiResult<Json<CanvasView>> {
    let index = canvas_index(&room, &n)?;
    check_settings(&api, &settings)?;
    let change = CanvasControl {
        settings,
        floor: None,
    };
    control(&api, &room, index, change).await
}

#[utoipa::path(
    post,
    path = "/v1/rooms/{room}/canvases",
    tag = "canvases",
    request_body = CanvasPatch,
    params(("room" = String, Path, description = "room id")),
    responses((status = 201, description = "the new canvas", body = CanvasView), (status = 400, description = "malformed JSON or unknown field", body = ErrorBody), (status = 404, description = "unknown room", body = ErrorBody), (status = 409, description = "conflict", body = ErrorBody), (status = 422, description = "invalid value", body = ErrorBody))
)]
pub async fn add(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
    Body(settings): Body<CanvasPatch>,
) -> ApiResult<(StatusCode, Json<CanvasView>)> {
    let config = canvas_config(&api, &settings)?;
    let index = api
        .control
        .change_canvases(&room, CanvasChange::Add(config))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(canvas_view(&api, &room, index).await?),
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/rooms/{room}/canvases/{n}",
    tag = "canvases",
    params(("room" = String, Path, description = "room id"), ("n" = usize, Path, description = "canvas number, from 1")),
    responses((status = 204, description = "removed; its members and watchers moved to canvas 1"), (status = 404, description = "unknown room", body = ErrorBody), (status = 409, description = "conflict", body = ErrorBody))
)]
pub async fn delete(
    State(api): State<Arc<ApiState>>,
    Path((room, n)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let index = canvas_index(&room, &n)?;
    api.control
        .change_canvases(&room, CanvasChange::Remove(index))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn control(
    api: &ApiState,
    room: &str,
    canvas: usize,
    change: CanvasControl,
) -> ApiResult<Json<CanvasView>> {
    api.control
        .change_canvases(room, CanvasChange::Control { canvas, change })
        .await?;
    Ok(Json(canvas_view(api, room, canvas).await?))
}

#[utoipa::path(
    put,
    path = "/v1/rooms/{room}/canvases/{n}/floor",
    tag = "canvases",
    request_body = FloorBody,
    params(("room" = String, Path, description = "room id"), ("n" = usize, Path, description = "canvas number, from 1")),
    responses((status = 200, description = "the canvas, its floor held", body = CanvasView), (status = 400, description = "malformed JSON or unknown field", body = ErrorBody), (status = 404, description = "unknown room", body = ErrorBody))
)]
pub async fn put_floor(
    State(api): State<Arc<ApiState>>,
    Path((room, n)): Path<(String, String)>,
    Body(body): Body<FloorBody>,
) -> ApiResult<Json<CanvasView>> {
    let index = canvas_index(&room, &n)?;
    let change = CanvasControl {
        settings: CanvasPatch::default(),
        floor: Some(Some(body.member)),
    };
    control(&api, &room, index, change).await
}

#[utoipa::path(
    delete,
    path = "/v1/rooms/{room}/canvases/{n}/floor",
    tag = "canvases",
    params(("room" = String, Path, description = "room id"), ("n" = usize, Path, description = "canvas number, from 1")),
    responses((status = 200, description = "the canvas, its floor back with the talkers", body = CanvasView), (status = 404, description = "unknown room", body = ErrorBody))
)]
pub async fn delete_floor(
    State(api): State<Arc<ApiState>>,
    Path((room, n)): Path<(String, String)>,
) -> ApiResult<Json<CanvasView>> {
    let index = canvas_index(&room, &n)?;
    let change = CanvasControl {
        settings: CanvasPatch::default(),
        floor: Some(None),
    };
    control(&api, &room, index, change).await
}

#[utoipa::path(
    get,
    path = "/v1/rooms/{room}/canvases/{n}/snapshot.png",
    tag = "canvases",
    params(("room" = String, Path, description = "room id"), ("n" = usize, Path, description = "canvas number, from 1")),
    responses((status = 200, description = "the canvas composed now", content_type = "image/png", body = Vec<u8>), (status = 404, description = "unknown room", body = ErrorBody), (status = 409, description = "no media running", body = ErrorBody))
)]
pub async fn snapshot_png(
    State(api): State<Arc<ApiState>>,
    Path((room, n)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let index = canvas_index(&room, &n)?;
    let picture = api.control.canvas_picture(&room, index).await?;
    // PNG encoding of a 720p canvas takes a few milliseconds: off the async threads.
    let png = tokio::task::spawn_blocking(move || {
        let mut out = std::io::Cursor::new(Vec::new());
        picture
            .to_rgb_image()
            .write_to(&mut out, image::ImageFormat::Png)
            .map(|()| out.into_inner())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(([(CONTENT_TYPE, "image/png")], png))
}
