//! `/v1/rooms/{room}/members`: list and read members, change their controls, canvases,
//! volumes, role, banner and reserved slot (`PATCH`), kick them (`DELETE`, a BYE), and mute everyone at once (`POST …/mute-all`).

use super::error::{ApiError, ApiResult, ErrorBody};
use super::json::Body;
use super::rooms::nullable;
use super::views::MemberView;
use super::ApiState;
use crate::conference::member::MemberId;
use crate::conference::member_control::{MemberControl, Role, VOLUME_RANGE_DB};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The body of `PATCH /v1/rooms/{room}/members/{id}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    muted: Option<bool>,
    deaf: Option<bool>,
    video_muted: Option<bool>,
    /// The canvas showing the member (1-based); `null`: on no canvas.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<usize>)]
    canvas: Option<Option<usize>>,
    /// The canvas it watches (1-based).
    watching_canvas: Option<usize>,
    /// dB, −12…+12.
    volume_in: Option<i64>,
    volume_out: Option<i64>,
    role: Option<Role>,
    /// Text drawn on its tile; `null` or `""` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    banner: Option<Option<String>>,
    /// The layout slot (1-based) reserved for it; `null` releases it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<usize>)]
    slot: Option<Option<usize>>,
}

/// The longest banner text accepted, in characters.
const MAX_BANNER_CHARS: usize = 64;

fn volume(db: Option<i64>, field: &str) -> ApiResult<Option<i8>> {
    let Some(db) = db else { return Ok(None) };
    i8::try_from(db)
        .ok()
        .filter(|db| VOLUME_RANGE_DB.contains(db))
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{field}: {db} dB is out of range {}..={}",
                VOLUME_RANGE_DB.start(),
                VOLUME_RANGE_DB.end()
            ))
        })
}

fn banner(text: Option<Option<String>>) -> ApiResult<Option<Option<String>>> {
    Ok(match text {
        Some(Some(text)) if text.chars().count() > MAX_BANNER_CHARS => {
            return Err(ApiError::invalid(format!(
                "banner: at most {MAX_BANNER_CHARS} characters"
            )))
        }
        Some(Some(text)) if text.trim().is_empty() => Some(None),
        Some(Some(text)) if text.chars().any(char::is_control) => {
            return Err(ApiError::invalid("banner: control characters"))
        }
        other => other,
    })
}

/// 1-based canvas numbers from the API to 0-based ones.
fn zero_based(n: usize, field: &str) -> ApiResult<usize> {
    n.checked_sub(1)
        .ok_or_else(|| ApiError::invalid(format!("{field}: canvases are numbered from 1")))
}

impl MemberBody {
    fn into_control(self) -> ApiResult<MemberControl> {
        Ok(MemberControl {
            muted: self.muted,
            deaf: self.deaf,
            video_muted: self.video_muted,
            awaiting_pin: None,
            canvas: match self.canvas {
                Some(Some(n)) => Some(Some(zero_based(n, "canvas")?)),
                Some(None) => Some(None),
                None => None,
            },
            watching_canvas: self
                .watching_canvas
                .map(|n| zero_based(n, "watching_canvas"))
                .transpose()?,
            volume_in: volume(self.volume_in, "volume_in")?,
            volume_out: volume(self.volume_out, "volume_out")?,
            slot: match self.slot {
                Some(Some(n)) => {
                    Some(Some(n.checked_sub(1).ok_or_else(|| {
                        ApiError::invalid("slot: layout slots are numbered from 1")
                    })?))
                }
                Some(None) => Some(None),
                None => None,
            },
            banner: banner(self.banner)?,
            role: self.role,
        })
    }
}

/// The body of `POST /v1/rooms/{room}/mute-all`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteAllBody {
    muted: bool,
    #[serde(default)]
    except: Vec<MemberId>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MuteAllAnswer {
    /// The members it applied to.
    changed: Vec<MemberId>,
}

fn member_id(room: &str, id: &str) -> ApiResult<MemberId> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("no member {id:?} in room {room}")))
}

async fn member_view(api: &ApiState, room: &str, id: MemberId) -> ApiResult<MemberView> {
    let state = api.control.room_state(room).await?;
    MemberView::all(&state)
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no member {id} in room {room}")))
}

#[utoipa::path(
    get,
    path = "/v1/rooms/{room}/members",
    tag = "members",
    params(("room" = String, Path, description = "room id")),
    responses((status = 200, description = "the members, by id", body = [MemberView]), (status = 404, description = "unknown room", body = ErrorBody))
)]
pub async fn list(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
) -> ApiResult<Json<Vec<MemberView>>> {
    let state = api.control.room_state(&room).await?;
    Ok(Json(MemberView::all(&state)))
}

#[utoipa::path(
    get,
    path = "/v1/rooms/{room}/members/{id}",
    tag = "members",
    params(("room" = String, Path, description = "room id"), ("id" = u64, Path, description = "member id")),
    responses((status = 200, description = "the member", body = MemberView), (status = 404, description = "unknown room", body = ErrorBody))
)]
pub async fn get(
    State(api): State<Arc<ApiState>>,
    Path((room, id)): Path<(String, String)>,
) -> ApiResult<Json<MemberView>> {
    let id = member_id(&room, &id)?;
    Ok(Json(member_view(&api, &room, id).await?))
}

#[utoipa::path(
    patch,
    path = "/v1/rooms/{room}/members/{id}",
    tag = "members",
    request_body = MemberBody,
    params(("room" = String, Path, description = "room id"), ("id" = u64, Path, description = "member id")),
    responses((status = 200, description = "the member after the change", body = MemberView), (status = 400, description = "malformed JSON or unknown field", body = ErrorBody), (status = 404, description = "unknown room", body = ErrorBody), (status = 422, description = "invalid value", body = ErrorBody))
)]
pub async fn patch(
    State(api): State<Arc<ApiState>>,
    Path((room, id)): Path<(String, String)>,
    Body(body): Body<MemberBody>,
) -> ApiResult<Json<MemberView>> {
    let id = member_id(&room, &id)?;
    let change = body.into_control()?;
    api.control.control_member(&room, id, change).await?;
    // The room applies the change before it answers the snapshot asked for after it.
    Ok(Json(member_view(&api, &room, id).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/rooms/{room}/members/{id}",
    tag = "members",
    params(("room" = String, Path, description = "room id"), ("id" = u64, Path, description = "member id")),
    responses((status = 204, description = "kicked (BYE)"), (status = 404, description = "unknown room", body = ErrorBody))
)]
pub async fn delete(
    State(api): State<Arc<ApiState>>,
    Path((room, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = member_id(&room, &id)?;
    api.control.kick(&room, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/rooms/{room}/mute-all",
    tag = "members",
    request_body = MuteAllBody,
    params(("room" = String, Path, description = "room id")),
    responses((status = 200, description = "the members it applied to", body = MuteAllAnswer), (status = 400, description = "malformed JSON or unknown field", body = ErrorBody), (status = 404, description = "unknown room", body = ErrorBody))
)]
pub async fn mute_all(
    State(api): State<Arc<ApiState>>,
    Path(room): Path<String>,
    Body(body): Body<MuteAllBody>,
) -> ApiResult<Json<MuteAllAnswer>> {
    let changed = api.control.mute_all(&room, body.muted, body.except).await?;
    Ok(Json(MuteAllAnswer { changed }))
}
