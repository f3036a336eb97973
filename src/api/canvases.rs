//! `/v1/rooms/{room}/canvases`: the room's canvases, a canvas's layout (`PATCH`), its floor
//! forced to a member (`PUT …/floor`) or returned to the loudest talker (`DELETE …/floor`),
//! and the composed picture as PNG (`GET …/snapshot.png`, composed on request, so also for a
//! canvas nobody watches). Canvas numbers are 1-based.

use super::error::{ApiError, ApiResult};
use super::json::Body;
use super::views::CanvasView;
use super::ApiState;
use crate::conference::canvas_control::CanvasControl;
use crate::conference::member::MemberId;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanvasBody {
    /// A layout name or `group:NAME` (see `GET /v1/layouts`).
    layout: Option<String>,
}

#[derive(Debug, Deserialize)]
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
    CanvasView::all(&state, &api.canvases)
        .into_iter()
        .nth(index)
        .ok_or_else(|| ApiError::not_found(format!("room {room} has no canvas {}", index + 1)))
}

pub async fn list(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
) -> ApiResult<Json<Vec<CanvasView>>> {
    let state = api.control.room_state(&room).await?;
    Ok(Json(CanvasView::all(&state, &api.canvases)))
}

pub async fn patch(
    State(api): State<Arc<ApiState>>,
    Path((room, n)): Path<(String, String)>,
    Body(body): Body<CanvasBody>,
) -> ApiResult<Json<CanvasView>> {
    let index = canvas_index(&room, &n)?;
    if let Some(layout) = &body.layout {
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
    let change = CanvasControl {
        layout: body.layout,
        floor: None,
    };
    api.control.control_canvas(&room, index, change).await?;
    Ok(Json(canvas_view(&api, &room, index).await?))
}

pub async fn put_floor(
    State(api): State<Arc<ApiState>>,
    Path((room, n)): Path<(String, String)>,
    Body(body): Body<FloorBody>,
) -> ApiResult<Json<CanvasView>> {
    let index = canvas_index(&room, &n)?;
    let change = CanvasControl {
        layout: None,
        floor: Some(Some(body.member)),
    };
    api.control.control_canvas(&room, index, change).await?;
    Ok(Json(canvas_view(&api, &room, index).await?))
}

pub async fn delete_floor(
    State(api): State<Arc<ApiState>>,
    Path((room, n)): Path<(String, String)>,
) -> ApiResult<Json<CanvasView>> {
    let index = canvas_index(&room, &n)?;
    let change = CanvasControl {
        layout: None,
        floor: Some(None),
    };
    api.control.control_canvas(&room, index, change).await?;
    Ok(Json(canvas_view(&api, &room, index).await?))
}

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
