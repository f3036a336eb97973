//! The control API: HTTP+JSON on `--api-listen` (axum). This layer knows HTTP and JSON only:
//! each request becomes a typed request to the call engine ([`ControlClient`]) answered over
//! a oneshot, events come from the [`EventBus`]; rooms never see HTTP, and a slow client
//! never slows a room. See `docs/API.md`.

mod auth;
mod canvases;
mod cascades;
mod dials;
mod error;
mod events;
mod json;
mod members;
mod openapi;
mod ops;
mod rooms;
mod views;

pub use auth::token_optional;
pub use error::ApiError;

use crate::conference::canvas::CanvasConfig;
use crate::media::video::layout_library::LayoutLibrary;
use crate::metrics::Metrics;
use crate::server::control::ControlClient;
use crate::server::event_bus::EventBus;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

/// What the handlers reach.
pub struct ApiState {
    pub control: ControlClient,
    pub events: EventBus,
    pub metrics: Arc<Metrics>,
    /// The canvases a room starts with (the first is the template of added ones).
    pub canvases: Vec<CanvasConfig>,
    pub layouts: Arc<LayoutLibrary>,
    /// This server's node id (cascades).
    pub node: crate::cascade::NodeId,
    /// Cascade settings (the defaults of a leg's view).
    pub cascade: crate::config::CascadeConfig,
    /// Becomes true when the server stops (event streams end).
    pub stopping: watch::Receiver<bool>,
}

/// Why the API did not start.
#[derive(Debug, Error)]
pub enum ApiStartError {
    #[error(
        "the API listens on {0}, which is not loopback: set --api-token (or TESSERA_API_TOKEN)"
    )]
    TokenRequired(SocketAddr),
    #[error("cannot listen for the API on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Every route, behind the token check.
pub fn router(state: Arc<ApiState>, token: Option<Arc<str>>) -> Router {
    let room = "/v1/rooms/{room}";
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/layouts", get(ops::layouts))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .route("/v1/events", get(events::stream))
        .route("/v1/rooms", get(rooms::list))
        .route(
            room,
            get(rooms::get)
                .put(rooms::put)
                .patch(rooms::patch)
                .delete(rooms::delete),
        )
        .route(
            &format!("{room}/canvases"),
            get(canvases::list).post(canvases::add),
        )
        .route(
            &format!("{room}/canvases/{{n}}"),
            axum::routing::patch(canvases::patch).delete(canvases::delete),
        )
        .route(
            &format!("{room}/canvases/{{n}}/floor"),
            axum::routing::put(canvases::put_floor).delete(canvases::delete_floor),
        )
        .route(
            &format!("{room}/canvases/{{n}}/snapshot.png"),
            get(canvases::snapshot_png),
        )
        .route(&format!("{room}/members"), get(members::list))
        .route(
            &format!("{room}/members/{{id}}"),
            get(members::get)
                .patch(members::patch)
                .delete(members::delete),
        )
        .route(&format!("{room}/mute-all"), post(members::mute_all))
        .route(&format!("{room}/dial"), post(dials::dial))
        .route(
            &format!("{room}/cascades"),
            get(cascades::list).post(cascades::start),
        )
        .route(
            &format!("{room}/cascades/{{id}}"),
            axum::routing::delete(cascades::delete),
        )
        .route("/v1/dials/{dial_id}", axum::routing::delete(dials::cancel))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(json::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
        .with_state(state)
}

/// Kernel send buffer of each API connection: what a client that stops reading can hold
/// up (without a cap the kernel grows it to megabytes). Past it, its event stream stops being
/// polled and it falls behind the broadcast, then resynchronises from a snapshot.
const SEND_BUFFER_BYTES: libc::c_int = 64 * 1024;

fn limit_send_buffer(stream: &mut tokio::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    // SAFETY: setsockopt on a descriptor the stream owns, with a c_int it reads.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            &SEND_BUFFER_BYTES as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot cap the API send buffer");
    }
}

/// Binds `listen` and serves the API until `stopping` turns true. A non-loopback address
/// needs a token.
pub async fn start(
    listen: SocketAddr,
    token: Option<String>,
    state: ApiState,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ApiStartError> {
    let token = token.filter(|t| !t.is_empty());
    if token.is_none() && !token_optional(listen) {
        return Err(ApiStartError::TokenRequired(listen));
    }
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| ApiStartError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(listen);
    let mut stopping = state.stopping.clone();
    let app = router(Arc::new(state), token.map(Arc::from));
    info!(api = %addr, "control API listening");
    let listener = listener.tap_io(limit_send_buffer);
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopping.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            warn!(error = %e, "control API stopped");
        }
    });
    Ok((addr, task))
}
