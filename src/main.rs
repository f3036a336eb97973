//! The `tessera` command: `serve` runs the conference server, `dial` places a test call.

use clap::{Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tessera::config::{Config, PortRange};
use tessera::dial::{dial, DialOptions, DialTransport};
use tessera::sdp::AudioCodec;
use tessera::server::ServerHandle;
use tracing::{error, info};

#[derive(Parser)]
#[command(name = "tessera", version, about = "Tessera: a SIP conference MCU")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the conference server (embedded defaults; every flag can also be set in --config).
    Serve(ServeArgs),
    /// Place a real SIP+RTP call: send a tone, record what comes back, print a JSON line.
    Dial(DialArgs),
    /// Place many real calls from one process and report what the server delivered
    /// (loopback targets only; bounded in members and time).
    Loadgen(LoadgenArgs),
    /// Drive a running server over its control API (rooms, members, events).
    Ctl(tessera::ctl::CtlArgs),
}

#[derive(clap::Args)]
struct LoadgenArgs {
    /// Target room, e.g. sip:3000@127.0.0.1:5060 (loopback only).
    #[arg(long, required_unless_present = "calibrate")]
    target: Option<String>,
    /// Only measure this machine's Opus and H.264 (at --video-size) encode/decode cost per
    /// frame, print JSON and exit.
    #[arg(long)]
    calibrate: bool,
    /// Calls to place (at most 5000).
    #[arg(long, default_value_t = 10)]
    members: usize,
    /// Members that also send H.264 video (a pre-encoded loop of a moving pattern); they
    /// watch the canvas too unless --video-send-only. At most 64.
    #[arg(long, default_value_t = 0)]
    video_members: usize,
    /// Further members that only watch video (receive the canvas, send none).
    #[arg(long, default_value_t = 0)]
    video_watchers: usize,
    /// Video members send without watching, so exactly --video-watchers members watch.
    #[arg(long)]
    video_send_only: bool,
    /// Size of the sent video, WxH.
    #[arg(long, default_value = "1280x720", value_parser = tessera::dial::parse_size)]
    video_size: (u32, u32),
    /// Frame rate of the sent video.
    #[arg(long, default_value_t = 30.0)]
    video_fps: f32,
    /// Members sending tone bursts (the others send --listener-sound); per room with --rooms.
    #[arg(long, default_value_t = 1)]
    talkers: usize,
    /// What the non-talkers send: silence (pre-encoded digital silence), noise LEVEL (white
    /// noise) or speech LEVEL (speech-band noise with a 4 Hz syllabic envelope); LEVEL in
    /// dBFS RMS, default -24 (also `speech:-24`).
    #[arg(
        long,
        num_args = 1..=2,
        value_names = ["SOUND", "LEVEL"],
        default_value = "silence",
        allow_negative_numbers = true
    )]
    listener_sound: Vec<String>,
    /// Spread the members round robin over this many rooms: the target's room number and
    /// the ones after it.
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// Seconds from the first INVITE to the BYEs (at most 3600).
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Call rate, e.g. 10/s.
    #[arg(long, default_value = "10/s", value_parser = tessera::loadgen::parse_ramp)]
    ramp: f64,
    /// Listeners that decode audio to time tone onsets.
    #[arg(long, default_value_t = 4)]
    latency_probes: usize,
    /// Print the summary as one JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Optional TOML config file; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// SIP listen address (UDP and TCP) [default: 0.0.0.0:5060].
    #[arg(long)]
    sip_listen: Option<SocketAddr>,
    /// Control API listen address [default: 127.0.0.1:8080].
    #[arg(long)]
    api_listen: Option<SocketAddr>,
    /// Bearer token for the control API (required when --api-listen is not loopback).
    #[arg(long, env = "TESSERA_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// RTP port range, LOW-HIGH [default: 20000-29999].
    #[arg(long)]
    rtp_ports: Option<PortRange>,
    /// Address written into SDP [default: the local address each request arrived on].
    #[arg(long)]
    public_ip: Option<IpAddr>,
    /// End calls that send no RTP for this many seconds [default: 30].
    #[arg(long)]
    rtp_timeout: Option<u64>,
    /// Media threads [default: one per core].
    #[arg(long)]
    media_threads: Option<usize>,
    /// This server's node id in cascades [default: host name and SIP port, host-5060].
    #[arg(long)]
    node_id: Option<String>,
}

#[derive(clap::Args)]
struct DialArgs {
    /// Target, e.g. sip:3000@127.0.0.1:5060
    #[arg(required_unless_present = "listen")]
    uri: Option<String>,
    /// Answer one call on this address (UDP and TCP) instead of placing one, e.g.
    /// 127.0.0.1:5080; waits up to --answer-timeout.
    #[arg(long, conflicts_with = "uri")]
    listen: Option<std::net::SocketAddr>,
    /// Seconds to wait for the answer (or, with --listen, for the call).
    #[arg(long, default_value_t = 32.0)]
    answer_timeout: f64,
    /// Send a sine tone of this frequency (silence when absent).
    #[arg(long)]
    tone: Option<f32>,
    /// Seconds from answer to hang-up.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Record the decoded received audio to this WAV file (48 kHz, 16-bit mono).
    #[arg(long)]
    record_wav: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "udp")]
    transport: DialTransport,
    #[arg(long, value_enum, default_value = "opus")]
    codec: CodecArg,
    /// Caller name (From user and display name).
    #[arg(long, default_value = "tessera-dial")]
    from: String,
    /// Extra INVITE header, 'Name: value' (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Send H.264 video of this solid colour, RRGGBB (with a small moving marker).
    #[arg(long, value_parser = tessera::dial::parse_color)]
    color: Option<(u8, u8, u8)>,
    /// Size of the sent video, WxH.
    #[arg(long, default_value = "640x360", value_parser = tessera::dial::parse_size)]
    video_size: (u32, u32),
    /// Save the last received video frame as PNG (also offers video without sending any).
    #[arg(long)]
    save_frame: Option<PathBuf>,
    /// Press these DTMF keys (RFC 4733), e.g. 1234#.
    #[arg(long)]
    dtmf: Option<String>,
    /// Seconds after the answer to start pressing them.
    #[arg(long, default_value_t = 1.0)]
    dtmf_at: f64,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CodecArg {
    Opus,
    Pcmu,
    Pcma,
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let cli = match cli.command {
        Command::Ctl(args) => {
            return match tessera::ctl::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tessera ctl: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        other => Cli { command: other },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Dial(args) => run_dial(args).await,
            Command::Loadgen(args) => run_loadgen(args).await,
            Command::Ctl(_) => ExitCode::FAILURE, // handled above, without a runtime
        }
    })
}

fn load_config(args: &ServeArgs) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(v) = args.sip_listen {
        config.sip.listen = v;
    }
    if let Some(v) = args.api_listen {
        config.api.listen = v;
    }
    if let Some(v) = &args.api_token {
        config.api.token = Some(v.clone());
    }
    if let Some(v) = args.rtp_ports {
        config.rtp.ports = v;
    }
    if let Some(v) = args.public_ip {
        config.sip.public_ip = Some(v);
    }
    if let Some(v) = args.rtp_timeout {
        config.rtp.timeout_secs = v;
    }
    if let Some(v) = &args.node_id {
        config.node.id = Some(v.clone());
    }
    if let Some(v) = args.media_threads {
        config.media.threads = v;
    }
    Ok(config)
}

async fn serve(args: ServeArgs) -> ExitCode {
    let config = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    raise_fd_limit();
    return_freed_buffers();
    let server = match ServerHandle::start(config).await {
        Ok(s) => s,
        Err(e) => {
            error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    wait_for_signal().await;
    info!("signal received; ending calls");
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Video pictures (86 KB at 320x180, 1.4 MB at 720p) change threads: decoded on a codec
/// thread, freed or recycled on a media thread. Each time glibc frees such a block it raises
/// its mmap threshold, after which big blocks come from per-thread heaps that keep them: a
/// churn of video calls grew the server's RSS by about 130 KB per call and kept it. A fixed
/// threshold keeps blocks over 64 KB mapped, so freeing one returns it (the same churn: about
/// 16 KB per call, most of it the allocator's small-block slack). The buffers are recycled,
/// so the extra mmap calls are rare. An operator's `MALLOC_MMAP_THRESHOLD_` wins.
fn return_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        const THRESHOLD: libc::c_int = 64 * 1024;
        // SAFETY: mallopt takes two integers and changes only the allocator's tunables.
        if unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD) } != 1 {
            tracing::debug!("could not fix the allocator's mmap threshold");
        }
    }
}

/// Each member holds two sockets: lift the soft descriptor limit to the hard one.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            let before = limit.rlim_cur;
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                info!(from = before, to = limit.rlim_max, "raised open-file limit");
            }
        }
    }
}

async fn run_dial(args: DialArgs) -> ExitCode {
    let mut options = DialOptions::new(args.uri.unwrap_or_default());
    options.answer_timeout = Duration::from_secs_f64(args.answer_timeout.max(0.0));
    options.tone_hz = args.tone;
    options.duration = Duration::from_secs_f64(args.duration.max(0.0));
    options.record_wav = args.record_wav;
    options.transport = args.transport;
    options.codec = match args.codec {
        CodecArg::Opus => AudioCodec::Opus,
        CodecArg::Pcmu => AudioCodec::Pcmu,
        CodecArg::Pcma => AudioCodec::Pcma,
    };
    options.from = args.from;
    options.color = args.color;
    options.video_size = args.video_size;
    options.save_frame = args.save_frame;
    options.dtmf = args.dtmf;
    options.dtmf_at = Duration::from_secs_f64(args.dtmf_at.max(0.0));
    for h in args.headers {
        match h.split_once(':') {
            Some((name, value)) => options
                .headers
                .push((name.trim().to_string(), value.trim().to_string())),
            None => {
                error!(header = %h, "headers are 'Name: value'");
                return ExitCode::from(2);
            }
        }
    }
    let outcome = match args.listen {
        Some(listen) => tessera::dial::answer(options, listen).await,
        None => dial(options).await,
    };
    match outcome {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string(&report).unwrap_or_else(|_| "{}".to_string())
            );
            if report.answered {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            error!(error = %e, "dial failed");
            println!(
                "{}",
                serde_json::json!({"answered": false, "status": 0, "error": e.to_string()})
            );
            ExitCode::FAILURE
        }
    }
}

async fn run_loadgen(args: LoadgenArgs) -> ExitCode {
    use std::io::IsTerminal;
    raise_fd_limit();
    if args.calibrate {
        return match tessera::loadgen::calibrate::measure(3000, args.video_size, 90) {
            Ok(costs) => {
                println!("{}", serde_json::to_string(&costs).unwrap_or_default());
                ExitCode::SUCCESS
            }
            Err(e) => {
                error!(error = %e, "calibration failed");
                ExitCode::FAILURE
            }
        };
    }
    let target = args.target.unwrap_or_default();
    let mut options = tessera::loadgen::LoadOptions::new(target, args.members);
    options.video_members = args.video_members;
    options.video_watchers = args.video_watchers;
    options.video_send_only = args.video_send_only;
    options.video_size = args.video_size;
    options.video_fps = args.video_fps;
    options.talkers = args.talkers;
    options.listener_sound = match tessera::loadgen::ListenerSound::from_args(&args.listener_sound)
    {
        Ok(sound) => sound,
        Err(e) => {
            error!(error = %e, "loadgen refused");
            return ExitCode::from(2);
        }
    };
    options.rooms = args.rooms;
    options.duration = Duration::from_secs_f64(args.duration.max(0.0));
    options.ramp_per_sec = args.ramp;
    options.latency_probes = args.latency_probes;
    options.progress = std::io::stderr().is_terminal();
    match tessera::loadgen::run(options).await {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string(&report).unwrap_or_else(|_| "{}".to_string())
                );
            } else {
                println!("members        {}", report.members);
                println!("joined         {}", report.joined);
                println!("failed         {}", report.failed);
                println!("rx_packets     {}", report.rx_packets);
                println!("loss_pct       {:.3}", report.loss_pct);
                println!("jitter_ms      {:.2}", report.jitter_ms);
                println!(
                    "missing        {} of {} by the clock ({:.3} %, worst member {:.3} %)",
                    report.missing_packets,
                    report.expected_by_clock,
                    report.missing_pct,
                    report.missing_per_member_max_pct
                );
                println!("listener_sound {}", report.listener_sound);
                println!(
                    "latency_ms     p50 {:.1}  p99 {:.1}  ({} samples, {} ms resolution)",
                    report.latency_ms_p50,
                    report.latency_ms_p99,
                    report.latency_samples,
                    report.latency_resolution_ms
                );
                if report.video_members + report.video_watchers > 0 {
                    println!(
                        "video          joined {}  tx_frames {}  rx_frames {}  rx_fps {:.1}  loss_pct {:.3}",
                        report.video_joined,
                        report.video_tx_frames,
                        report.video_rx_frames,
                        report.video_rx_fps,
                        report.video_loss_pct
                    );
                    println!(
                        "first keyframe p50 {:.0} ms  max {:.0} ms after the 200 OK",
                        report.video_first_keyframe_ms_p50, report.video_first_keyframe_ms_max
                    );
                }
            }
            if report.joined == report.members {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            error!(error = %e, "loadgen refused");
            ExitCode::from(2)
        }
    }
}
