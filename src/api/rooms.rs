//! `/v1/rooms`: list, read, create ahead of the first dial (`PUT`), change (`PATCH`: locked,
//! PIN, capacity; canvases while nobody is in) and end (`DELETE`: every call gets a BYE) rooms.

use super::canvases::canvas_config;
use super::error::ApiResult;
use super::error::ErrorBody;
use super::json::Body;
use super::views::RoomView;
use super::ApiState;
use crate::conference::canvas_control::CanvasPatch;
use crate::server::roster::RoomPatch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Deserializer};
use std::sync::Arc;

/// Tells a field that is absent (`None`) from one that is `null` (`Some(None)`).
pub(super) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The body of `PUT` and `PATCH /v1/rooms/{room}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomBody {
    locked: Option<bool>,
    /// Digits; `null` clears.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pin: Option<Option<String>>,
    /// `null` clears.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<usize>)]
    max_members: Option<Option<usize>>,
    /// Each canvas's settings (the server's default canvas with these fields).
    canvases: Option<Vec<CanvasPatch>>,
}

impl RoomBody {
    fn into_patch(self, api: &ApiState) -> ApiResult<RoomPatch> {
        let canvases = self
            .canvases
            .map(|list| {
                list.iter()
                    .map(|settings| canvas_config(api, settings))
                    .collect::<ApiResult<Vec<_>>>()
            })
            .transpose()?;
        Ok(RoomPatch {
            locked: self.locked,
            pin: self.pin,
            max_members: self.max_members,
            canvases,
        })
    }
}

#[utoipa::path(
    get,
    path = "/v1/rooms",
    tag = "rooms",
    responses((status = 200, description = "every room", body = [RoomView]))
)]
pub async fn list(State(api): State<Arc<ApiState>>) -> ApiResult<Json<Vec<RoomView>>> {
    let rooms = api.control.rooms().await?;
    Ok(Json(rooms.iter().map(RoomView::new).collect()))
}

#[utoipa::path(
    get,
    path = "/v1/rooms/{room}",
    tag = "rooms",
    params(("room" = String, Path, description = "room id")),
    responses((status = 200, description = "the room", body = RoomView), (status = 404, description = "unknown room", body = ErrorBody))
)]
pub async fn get(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
) -> ApiResult<Json<RoomView>> {
    let state = api.control.room_state(&room).await?;
    Ok(Json(RoomView::new(&state)))
}

#[utoipa::path(
    put,
    path = "/v1/rooms/{room}",
    tag = "rooms",
    request_body = RoomBody,
    params(("room" = String, Path, description = "room id")),
    responses((status = 201, description = "created", body = RoomView), (status = 200, description = "updated", body = RoomView), (status = 400, description = "malformed JSON or unknown field", body = ErrorBody), (status = 409, description = "conflict", body = ErrorBody), (status = 422, description = "invalid value", body = ErrorBody))
)]
pub async fn put(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
    Body(body): Body<RoomBody>,
) -> ApiResult<(StatusCode, Json<RoomView>)> {
    let created = api.control.put_room(&room, body.into_patch(&api)?).await?;
    let state = api.control.room_state(&room).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(RoomView::new(&state))))
}

#[utoipa::path(
    patch,
    path = "/v1/rooms/{room}",
    tag = "rooms",
    request_body = RoomBody,
    params(("room" = String, Path, description = "room id")),
    responses((status = 200, description = "the room after the change", body = RoomView), (status = 400, description = "malformed JSON or unknown field", body = ErrorBody), (status = 404, description = "unknown room", body = ErrorBody), (status = 409, description = "conflict", body = ErrorBody), (status = 422, description = "invalid value", body = ErrorBody))
)]
pub async fn patch(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
    Body(body): Body<RoomBody>,
) -> ApiResult<Json<RoomView>> {
    api.control
        .patch_room(&room, body.into_patch(&api)?)
        .await?;
    let state = api.control.room_state(&room).await?;
    Ok(Json(RoomView::new(&state)))
}

#[utoipa::path(
    delete,
    path = "/v1/rooms/{room}",
    tag = "rooms",
    params(("room" = String, Path, description = "room id")),
    responses((status = 204, description = "every call ended with BYE"), (status = 404, description = "unknown room", body = ErrorBody))
)]
pub async fn delete(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
) -> ApiResult<StatusCode> {
    api.control.delete_room(&room).await?;
    Ok(StatusCode::NO_CONTENT)
}
