//! `tessera serve`: wires the SIP transport, the SIP core, the RTP port pool and the media
//! thread pool together, and shuts them down in order.

pub mod admission;
pub mod call;
pub mod control;
pub mod driver;
pub mod engine;
pub mod event_bus;
pub mod media_setup;
pub mod roster;
pub mod server_event;
pub mod wall_clock;

use crate::cascade::NodeId;
use crate::conference::canvas::LayoutChoice;
use crate::conference::events::{EventSink, RoomEvent};
use crate::conference::registry::RoomRegistry;
use crate::conference::room::{MixingPolicy, RoomSettings};
use crate::conference::worker::MediaPool;
use crate::config::Config;
use crate::media::audio::talk::TalkConfig;
use crate::media::video::codec_pool::VideoCodecPool;
use crate::media::video::layout_library::LayoutLibrary;
use crate::metrics::Metrics;
use crate::rtp::port_pool::PortPool;
use crate::sip::transport::{Transport, TransportError};
use control::ControlClient;
use event_bus::EventBus;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::info;
use wall_clock::WallClock;

/// Startup failures.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("cannot start media threads: {0}")]
    MediaThreads(std::io::Error),
    #[error(transparent)]
    Layouts(#[from] crate::media::video::layout::LayoutError),
    #[error("invalid video config: {0}")]
    Canvas(String),
    #[error(transparent)]
    Api(#[from] crate::api::ApiStartError),
    #[error("invalid [node] id: {0}")]
    NodeId(#[from] crate::cascade::node_id::InvalidNodeId),
    #[error("[[cascade.leg]] for room {room}: {reason}")]
    CascadeLeg { room: String, reason: String },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// The built-in layouts, or the configured directory's; every canvas's layout must exist.
fn load_layouts(config: &Config) -> Result<LayoutLibrary, ServerError> {
    let library = match &config.video.layouts_dir {
        Some(dir) => LayoutLibrary::load_dir(dir)?,
        None => LayoutLibrary::builtin(),
    };
    for (i, canvas) in config.video.canvas_configs().iter().enumerate() {
        let known = match canvas.layout_choice() {
            LayoutChoice::Group(g) => library.group(&g).is_some(),
            LayoutChoice::Fixed(name) => library.get(&name).is_some(),
        };
        let size_ok = canvas.width >= 16
            && canvas.height >= 16
            && canvas.width % 2 == 0
            && canvas.height % 2 == 0
            && canvas.width <= 3840
            && canvas.height <= 2160
            && canvas.fps > 0.0;
        if !known || !size_ok {
            return Err(ServerError::Canvas(format!(
                "canvas {}: layout {:?} {} and size {}x{}@{} {}",
                i + 1,
                canvas.layout,
                if known { "exists" } else { "is unknown" },
                canvas.width,
                canvas.height,
                canvas.fps,
                if size_ok {
                    "is valid"
                } else {
                    "is invalid (even, 16..=3840x2160, fps > 0)"
                }
            )));
        }
    }
    Ok(library)
}

/// What every room of the server is built with.
fn room_settings(
    config: &Config,
    codec_pool: Arc<VideoCodecPool>,
    metrics: Arc<Metrics>,
) -> Result<RoomSettings, ServerError> {
    Ok(RoomSettings {
        talk: TalkConfig {
            threshold_dbfs: config.audio.talk_threshold_dbfs,
            hangover_frames: config.audio.talk_hangover_frames,
            ..TalkConfig::default()
        },
        skip_inactive_decode: config.audio.skip_inactive_decode,
        rtp_timeout: config.rtp_timeout(),
        canvases: config.video.canvas_configs(),
        layouts: Arc::new(load_layouts(config)?),
        video_codecs: Some(codec_pool),
        metrics,
        mixing: MixingPolicy {
            forward_single_source: config.audio.forward_single_source,
            cached_silence: config.audio.cached_silence,
            max_mixed_talkers: config.audio.max_mixed_talkers,
        },
    })
}

/// A call engine with its media threads, codec threads and port pool, and the room events
/// it is to be fed.
pub struct EngineParts {
    pub engine: engine::CallEngine,
    pub ports: PortPool,
    pub room_events: mpsc::UnboundedReceiver<RoomEvent>,
    /// The layouts the rooms use.
    pub layouts: Arc<LayoutLibrary>,
    /// This server's node id.
    pub node: NodeId,
}

/// Builds the call engine as [`ServerHandle::start`] runs it, without any SIP socket: also
/// for driving the engine directly (tests on synthetic time). `sip_addr` is the address it
/// advertises.
pub fn build_engine(
    config: Config,
    sip_addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> Result<EngineParts, ServerError> {
    let (events, room_events) = EventSink::new();
    let codec_pool = VideoCodecPool::start(
        config.video_threads(),
        config.media.video_decoder,
        metrics.clone(),
    )
    .map_err(ServerError::MediaThreads)?;
    let settings = room_settings(&config, codec_pool.clone(), metrics.clone())?;
    let layouts = settings.layouts.clone();
    let pool = MediaPool::start(config.media_threads(), settings, events)
        .map_err(ServerError::MediaThreads)?;
    let ports = PortPool::new(config.rtp.ports, config.rtp.bind_ip);
    let node = match &config.node.id {
        Some(id) => NodeId::parse(id)?,
        None => NodeId::local_default(sip_addr.port()),
    };
    info!(%node, sip = %sip_addr, rtp_ports = %config.rtp.ports, media_threads = pool.threads(),
          video_threads = codec_pool.threads(), "call engine ready");
    let engine = engine::CallEngine::new(
        node.clone(),
        config,
        sip_addr,
        RoomRegistry::new(pool),
        ports.clone(),
        codec_pool,
        WallClock::new(Instant::now(), SystemTime::now()),
        metrics,
    );
    Ok(EngineParts {
        engine,
        ports,
        room_events,
        layouts,
        node,
    })
}

/// A running server.
pub struct ServerHandle {
    sip_addr: SocketAddr,
    api_addr: SocketAddr,
    metrics: Arc<Metrics>,
    control: ControlClient,
    events: EventBus,
    ports: PortPool,
    shutdown: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    stopped: watch::Receiver<bool>,
}

impl ServerHandle {
    /// Starts a server (binds SIP and the control API, starts media threads) and returns
    /// once it is listening.
    pub async fn start(config: Config) -> Result<Self, ServerError> {
        config.validate()?;
        let api_config = config.api.clone();
        let configured_legs = config.cascade.leg.clone();
        let cascade_config = config.cascade.clone();
        // A bad default leg view stops the start, before anything is bound.
        cascade_config
            .leg_view(None, None)
            .map_err(|reason| ServerError::CascadeLeg {
                room: "*".to_string(),
                reason,
            })?;
        let canvases = config.video.canvas_configs();
        let (transport, transport_rx) =
            Transport::bind(config.sip.listen, Some(config.limits.tcp())).await?;
        let sip_addr = transport.local_addr();
        let metrics = Arc::new(Metrics::new());
        let EngineParts {
            engine,
            ports,
            room_events,
            layouts,
            node,
        } = build_engine(config, sip_addr, metrics.clone())?;
        let (control_tx, control_rx) = mpsc::channel(64);
        let control = ControlClient(control_tx);
        let events = EventBus::for_run(SystemTime::now(), node.clone());
        let (stopped_tx, stopped) = watch::channel(false);
        let api_state = crate::api::ApiState {
            control: control.clone(),
            events: events.clone(),
            metrics: metrics.clone(),
            canvases,
            layouts,
            node: node.clone(),
            cascade: cascade_config.clone(),
            stopping: stopped.clone(),
        };
        let (api_addr, _api_task) =
            crate::api::start(api_config.listen, api_config.token, api_state).await?;
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        info!(%node, sip = %sip_addr, "tessera listening (UDP and TCP)");
        let inputs = driver::DriverInputs {
            transport: transport_rx,
            room_events,
            control: control_rx,
            shutdown: shutdown_rx,
        };
        let core = driver::spawn(engine, transport, inputs, events.clone());
        tokio::spawn(async move {
            let _ = core.await;
            let _ = stopped_tx.send(true);
        });
        for leg in configured_legs {
            let video = cascade_config.leg_view(leg.video_size.as_deref(), leg.bitrate);
            let started = match video {
                Ok(video) => {
                    let request = crate::cascade::LegRequest {
                        uri: leg.peer.clone(),
                        canvas: leg.canvas,
                        watching_canvas: leg.watching_canvas,
                        timeout: std::time::Duration::from_secs(30),
                        permanent: leg.permanent,
                        video,
                    };
                    control
                        .start_cascade(&leg.room, request)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e),
            };
            match started {
                Ok(started) => {
                    info!(leg = %started.id, room = %leg.room, peer = %leg.peer,
                          "configured cascade leg");
                }
                Err(e) => {
                    // A config mistake stops the server it would have started.
                    let _ = shutdown_tx.send(());
                    return Err(ServerError::CascadeLeg {
                        room: leg.room,
                        reason: e,
                    });
                }
            }
        }
        Ok(Self {
            sip_addr,
            api_addr,
            metrics,
            control,
            events,
            ports,
            shutdown: std::sync::Mutex::new(Some(shutdown_tx)),
            stopped,
        })
    }

    /// The bound SIP address (UDP and TCP).
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }

    /// The bound control API address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Client for questions to the running core.
    pub fn control(&self) -> &ControlClient {
        &self.control
    }

    /// The server's event stream.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// RTP port pairs currently leased.
    pub fn rtp_port_pairs_in_use(&self) -> usize {
        self.ports.in_use()
    }

    /// Asks the server to end every call with BYE and stop (returns at once).
    pub fn request_shutdown(&self) {
        let sender = self.shutdown.lock().ok().and_then(|mut s| s.take());
        if let Some(tx) = sender {
            let _ = tx.send(());
        }
    }

    /// Waits until signalling and the media threads have stopped.
    pub async fn wait_stopped(&self) {
        let mut stopped = self.stopped.clone();
        let _ = stopped.wait_for(|s| *s).await;
    }

    /// Ends every call with BYE, stops the media threads and waits for all of it.
    pub async fn shutdown(self) {
        self.request_shutdown();
        self.wait_stopped().await;
        info!("tessera stopped");
    }
}
