//! Operations endpoints: `GET /healthz` (is it up, what version, how busy), `GET /metrics`
//! (Prometheus text; the room gauges are refreshed from the rooms' reports at each scrape)
//! and `GET /v1/layouts` (the layouts and groups loaded).

use super::error::ApiResult;
use super::ApiState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
    version: &'static str,
    /// This server's node id in cascades.
    #[schema(value_type = String)]
    node: crate::cascade::NodeId,
    rooms: usize,
    members: usize,
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "up", body = Health))
)]
pub async fn healthz(State(api): State<Arc<ApiState>>) -> ApiResult<Json<Health>> {
    let rooms = api.control.rooms().await?;
    Ok(Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        node: api.node.clone(),
        rooms: rooms.len(),
        members: rooms
            .iter()
            .flat_map(|r| &r.calls)
            .filter(|c| c.kind != crate::server::roster::MemberKind::Cascade)
            .count(),
    }))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(api): State<Arc<ApiState>>) -> ApiResult<impl IntoResponse> {
    let rooms = api.control.rooms().await?;
    let live = || rooms.iter().filter_map(|r| r.live.as_ref());
    let m = &api.metrics;
    m.rooms.set(live().count() as i64);
    m.members
        .set(live().map(|l| l.members.len()).sum::<usize>() as i64);
    let views: usize = live().map(|l| l.video_encoders).sum();
    m.views.set(views as i64);
    m.video_encoders.set(views as i64);
    m.audio_encoders
        .set(live().map(|l| l.audio_encoders).sum::<usize>() as i64);
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        m.encode(),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LayoutInfo {
    name: String,
    slots: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupInfo {
    name: String,
    layouts: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Layouts {
    layouts: Vec<LayoutInfo>,
    groups: Vec<GroupInfo>,
}

#[utoipa::path(
    get,
    path = "/v1/layouts",
    tag = "operations",
    responses((status = 200, description = "the layouts and groups loaded", body = Layouts))
)]
pub async fn layouts(State(api): State<Arc<ApiState>>) -> Json<Layouts> {
    let library = &api.layouts;
    Json(Layouts {
        layouts: library
            .layout_names()
            .filter_map(|n| library.get(n))
            .map(|l| LayoutInfo {
                name: l.name.clone(),
                slots: l.slots.len(),
            })
            .collect(),
        groups: library
            .group_names()
            .filter_map(|n| library.group(n))
            .map(|g| GroupInfo {
                name: g.name.clone(),
                layouts: g.layouts.clone(),
            })
            .collect(),
    })
}
