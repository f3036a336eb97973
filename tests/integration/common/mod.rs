//! Shared helpers for the integration tests: an in-process server on loopback, real dialled
//! calls through `tessera::dial`, tone analysis, and a raw SIP probe for bad-input tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};
use tessera::config::{Config, PortRange};
use tessera::dial::{dial, DialOptions, DialReport, DialTransport};
use tessera::media::audio::tone::tone_ratio;
use tessera::media::video::frame::I420Frame;
use tessera::sdp::AudioCodec;
use tessera::server::ServerHandle;
use tokio::net::UdpSocket;

pub mod api;
pub mod ffmpeg_receiver;
pub mod impaired_path;
pub mod media_peer;

static NEXT_RANGE: AtomicU16 = AtomicU16::new(0);

/// A config for tests: loopback, an RTP range of its own, short timers.
pub fn test_config() -> Config {
    // 60 ports (30 pairs) per server; ranges may overlap across test processes, which is
    // harmless: the pool binds a port before handing it out.
    let slot = NEXT_RANGE.fetch_add(1, Ordering::Relaxed) % 20;
    let pid_offset = (std::process::id() % 5) as u16 * 20;
    let low = 21000 + (slot + pid_offset) * 60;
    let mut c = Config::default();
    c.api.listen = "127.0.0.1:0".parse().expect("addr");
    c.sip.listen = "127.0.0.1:0".parse().unwrap();
    c.rtp.ports = PortRange {
        low,
        high: low + 59,
    };
    c.rtp.bind_ip = "127.0.0.1".parse().unwrap();
    c.media.threads = 2;
    c
}

/// Tests that run several servers with video at once take one of these permits, so that on
/// a two-core machine at most two of them share the cores (the other tests go on meanwhile).
static SEVERAL_SERVERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Waits for a turn to run several servers; the turn lasts as long as the permit.
pub async fn several_servers() -> tokio::sync::SemaphorePermit<'static> {
    SEVERAL_SERVERS.acquire().await.expect("never closed")
}

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// `config` with a 320x180 canvas at 15 fps: video that a loaded 2-core machine decodes in
/// several in-process clients at once.
pub fn small_video(mut config: Config) -> Config {
    config.video.canvas.width = 320;
    config.video.canvas.height = 180;
    config.video.canvas.fps = 15.0;
    config
}

pub async fn start(config: Config) -> ServerHandle {
    init_logs();
    ServerHandle::start(config).await.expect("server starts")
}

pub fn uri(server: &ServerHandle, room: &str) -> String {
    format!("sip:{room}@{}", server.sip_addr())
}

/// Dials `room` sending `tone_hz` for `secs`.
pub async fn dial_tone(
    server: &ServerHandle,
    room: &str,
    tone_hz: Option<f32>,
    secs: f64,
    codec: AudioCodec,
    transport: DialTransport,
) -> DialReport {
    let mut o = DialOptions::new(uri(server, room));
    o.tone_hz = tone_hz;
    o.duration = Duration::from_secs_f64(secs);
    o.codec = codec;
    o.transport = transport;
    o.from = format!("tone{}", tone_hz.unwrap_or(0.0) as u32);
    dial(o).await.expect("dial runs")
}

/// Fraction of the recording's energy at `hz`, skipping the first second (join, jitter
/// buffer fill) and the last half second (hang-up).
pub fn heard(report: &DialReport, hz: f32) -> f64 {
    tone_ratio(settled(report), hz, 48_000)
}

/// [`steadily_heard`] over the same part of the call as [`heard`]: for "is heard".
pub fn heard_steadily(report: &DialReport, hz: f32) -> f64 {
    steadily_heard(settled(report), hz)
}

/// The recording without its first second and last half second.
fn settled(report: &DialReport) -> &[i16] {
    let rec = &report.recording;
    let start = 48_000.min(rec.len());
    let end = rec.len().saturating_sub(24_000).max(start);
    &rec[start..end]
}

/// The recording between `from` and `to` seconds after the call was answered (48 kHz).
pub fn window(report: &DialReport, from: f64, to: f64) -> &[i16] {
    const RATE: f64 = 48_000.0;
    let rec = &report.recording;
    let a = ((from * RATE) as usize).min(rec.len());
    let b = ((to * RATE) as usize).min(rec.len()).max(a);
    &rec[a..b]
}

/// How steadily `hz` sounds in `samples` (48 kHz): the median, over 100 ms chunks, of the
/// fraction of each chunk's energy at `hz`. A whole-window ratio needs the tone's phase to
/// run on unbroken, so one late packet on a loaded machine (a frame of zeros, then the tone
/// shifted) spreads its energy; the median of short chunks asks instead whether the tone is
/// there most of the time. For "not heard", use the whole-window `tone_ratio`: any trace of
/// the tone counts there.
pub fn steadily_heard(samples: &[i16], hz: f32) -> f64 {
    let mut ratios: Vec<f64> = samples
        .chunks_exact(4_800)
        .map(|chunk| tone_ratio(chunk, hz, 48_000))
        .collect();
    if ratios.is_empty() {
        return 0.0;
    }
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

/// Whether the third-party program `program` runs here (`arg` makes it print and exit).
/// The tests that need one assert it with a hint at `scripts/install-deps --test`.
pub fn tool_available(program: &str, arg: &str) -> bool {
    std::process::Command::new(program)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// Whether two RGB colours are within 70 per channel (H.264 and scaling shift them).
pub fn close(a: (u8, u8, u8), b: (u8, u8, u8)) -> bool {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).abs();
    d(a.0, b.0) < 70 && d(a.1, b.1) < 70 && d(a.2, b.2) < 70
}

/// True when most of five points around the tile centre have `colour` (the moving marker may
/// cover one or two of them).
pub fn tile_has(frame: &I420Frame, tile: (i32, i32, u32, u32), colour: (u8, u8, u8)) -> bool {
    tile_has_by(|x, y| frame.pixel_rgb(x, y), tile, colour)
}

/// [`tile_has`] on a decoded RGB picture (a PNG snapshot).
pub fn image_tile_has(
    image: &image::RgbImage,
    tile: (i32, i32, u32, u32),
    colour: (u8, u8, u8),
) -> bool {
    tile_has_by(image_rgb(image), tile, colour)
}

/// The RGB colour at (x, y) of a decoded picture, `None` outside it.
pub fn image_rgb(image: &image::RgbImage) -> impl Fn(u32, u32) -> Option<(u8, u8, u8)> + '_ {
    |x, y| {
        image
            .get_pixel_checked(x, y)
            .map(|p| (p.0[0], p.0[1], p.0[2]))
    }
}

fn tile_has_by(
    pixel: impl Fn(u32, u32) -> Option<(u8, u8, u8)>,
    tile: (i32, i32, u32, u32),
    colour: (u8, u8, u8),
) -> bool {
    let (x, y, w, h) = tile;
    let (cx, cy) = (x + w as i32 / 2, y + h as i32 / 2);
    let dx = w as i32 / 6;
    let dy = h as i32 / 6;
    let points = [
        (cx, cy),
        (cx - dx, cy),
        (cx + dx, cy),
        (cx, cy - dy),
        (cx, cy + dy),
    ];
    points
        .iter()
        .filter(|(px, py)| pixel(*px as u32, *py as u32).is_some_and(|p| close(p, colour)))
        .count()
        >= 3
}

/// The mean luma of the pixels that the rasterizer inks (nearly) fully in the banner of `text`
/// on `tile`,
/// and of the pixels it leaves dark there: (ink, background). A banner shows as a large
/// difference; a tile without one shows about the same luma for both.
pub fn banner_contrast(
    luma: impl Fn(u32, u32) -> Option<u8>,
    tile: (i32, i32, u32, u32),
    text: &str,
) -> (f64, f64) {
    use tessera::media::video::banner::{banner_rect, banner_text};
    use tessera::media::video::frame::Rect;
    let font = tessera::media::video::text::tile_font().expect("the tile font is installed");
    let strip = banner_rect(Rect::new(tile.0, tile.1, tile.2, tile.3));
    let (mask, (ox, oy)) = banner_text(font, text, strip.w, strip.h);
    let (mut ink, mut background) = ((0.0, 0u32), (0.0, 0u32));
    for y in 0..mask.height {
        for x in 0..mask.width {
            let px = strip.x as i64 + ox + i64::from(x);
            let py = strip.y as i64 + oy + i64::from(y);
            let Some(l) = luma(px as u32, py as u32) else {
                continue;
            };
            match mask.at(x, y) {
                200.. => ink = (ink.0 + f64::from(l), ink.1 + 1),
                0 => background = (background.0 + f64::from(l), background.1 + 1),
                _ => {}
            }
        }
    }
    let mean = |(sum, n): (f64, u32)| if n == 0 { 0.0 } else { sum / f64::from(n) };
    (mean(ink), mean(background))
}

/// Luma of a decoded RGB picture (BT.601 weights).
pub fn image_luma(image: &image::RgbImage) -> impl Fn(u32, u32) -> Option<u8> + '_ {
    |x, y| {
        image.get_pixel_checked(x, y).map(|p| {
            let [r, g, b] = p.0;
            (0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)) as u8
        })
    }
}

/// Waits (up to 20 s) until `room` has at least `n` members; panics otherwise.
pub async fn wait_members(server: &ServerHandle, room: &str, n: usize) {
    let joined = eventually(Duration::from_secs(20), || async {
        server
            .control()
            .room(room)
            .await
            .is_some_and(|r| r.members.len() >= n)
    })
    .await;
    assert!(joined, "{n} members joined {room}");
}

/// Polls `check` until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every RTP port pair went back to the pool (the media thread drops a room's
/// sockets shortly after the signalling side forgets it).
pub async fn ports_returned(server: &ServerHandle) -> bool {
    eventually(Duration::from_secs(10), || async {
        server.rtp_port_pairs_in_use() == 0
    })
    .await
}

/// A raw SIP peer for hand-written (and deliberately broken) requests over UDP.
pub struct SipProbe {
    pub socket: UdpSocket,
    pub server: SocketAddr,
}

impl SipProbe {
    pub async fn new(server: SocketAddr) -> Self {
        Self {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            server,
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    pub async fn send(&self, text: &str) {
        self.socket
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
    }

    /// Next message received within `limit`.
    pub async fn recv(&self, limit: Duration) -> Option<String> {
        let mut buf = vec![0u8; 65_535];
        match tokio::time::timeout(limit, self.socket.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            _ => None,
        }
    }

    /// Next response with a final status (skips 1xx), within `limit`.
    pub async fn final_response(&self, limit: Duration) -> Option<String> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            let msg = self.recv(end - Instant::now()).await?;
            if msg.starts_with("SIP/2.0 1") {
                continue;
            }
            if msg.starts_with("SIP/2.0 ") {
                return Some(msg);
            }
        }
        None
    }

    /// Waits for a response whose status starts with `prefix` (e.g. "487").
    pub async fn response_with(&self, prefix: &str, limit: Duration) -> Option<String> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            let msg = self.recv(end - Instant::now()).await?;
            if msg.starts_with(&format!("SIP/2.0 {prefix}")) {
                return Some(msg);
            }
        }
        None
    }

    /// INVITEs `ruri` (an audio offer to an unused port) as `call_id` and waits for
    /// `180 Ringing` (the server must ring first: `[sip] answer_delay_ms`).
    pub async fn ring(&self, ruri: &str, call_id: &str) -> bool {
        let offer = sdp_offer("127.0.0.1:9".parse().expect("addr"));
        let content = "Content-Type: application/sdp\r\n";
        let me = self.local();
        let invite = request(
            "INVITE", ruri, me, call_id, call_id, 1, None, content, &offer,
        );
        self.send(&invite).await;
        self.response_with("180", Duration::from_secs(10))
            .await
            .is_some()
    }

    /// CANCELs the ringing INVITE `call_id` and ACKs its final answer; answers (the CANCEL
    /// got 200, the INVITE got 487).
    pub async fn cancel(&self, ruri: &str, call_id: &str) -> (bool, bool) {
        let me = self.local();
        let cancel = request("CANCEL", ruri, me, call_id, call_id, 1, None, "", "");
        self.send(&cancel).await;
        let (mut cancelled, mut terminated) = (false, false);
        while !(cancelled && terminated) {
            let Some(msg) = self.final_response(Duration::from_secs(10)).await else {
                break;
            };
            let cseq = header(&msg, "CSeq").unwrap_or_default().to_string();
            if status(&msg) == 200 && cseq.ends_with("CANCEL") {
                cancelled = true;
            }
            if status(&msg) == 487 && cseq.ends_with("INVITE") {
                terminated = true;
                let tag = to_tag_of(&msg);
                let ack = request("ACK", ruri, me, call_id, call_id, 1, Some(&tag), "", "");
                self.send(&ack).await;
            }
        }
        (cancelled, terminated)
    }

    /// Waits for a response with status prefix `prefix` to a request of `method` (by CSeq).
    pub async fn response_to(&self, method: &str, prefix: &str, limit: Duration) -> Option<String> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            let msg = self.response_with(prefix, end - Instant::now()).await?;
            if header(&msg, "CSeq").is_some_and(|c| c.ends_with(method)) {
                return Some(msg);
            }
        }
        None
    }

    /// Sends a bodiless in-dialog request (ACK, BYE, ...) carrying the server's To `tag`.
    pub async fn in_dialog(
        &self,
        method: &str,
        ruri: &str,
        call_id: &str,
        branch: &str,
        cseq: u32,
        tag: &str,
    ) {
        self.send(&request(
            method,
            ruri,
            self.local(),
            call_id,
            branch,
            cseq,
            Some(tag),
            "",
            "",
        ))
        .await;
    }

    /// Waits for a request with `method`.
    pub async fn request(&self, method: &str, limit: Duration) -> Option<String> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            let msg = self.recv(end - Instant::now()).await?;
            if msg.starts_with(&format!("{method} ")) {
                return Some(msg);
            }
        }
        None
    }
}

/// Status code of a response text.
pub fn status(resp: &str) -> u16 {
    resp.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Value of a header in a message text (first occurrence, case-insensitive name).
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A request built from parts; `extra` holds additional header lines. The long parameter
/// list mirrors the request's fields one to one, which keeps the tests readable.
#[allow(clippy::too_many_arguments)]
pub fn request(
    method: &str,
    ruri: &str,
    probe: SocketAddr,
    call_id: &str,
    branch: &str,
    cseq: u32,
    to_tag: Option<&str>,
    extra: &str,
    body: &str,
) -> String {
    let to = match to_tag {
        Some(t) => format!("<{ruri}>;tag={t}"),
        None => format!("<{ruri}>"),
    };
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {probe};branch=z9hG4bK{branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:probe@{ip}>;tag=probetag\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\nContact: <sip:probe@{probe}>\r\n{extra}Content-Length: {len}\r\n\r\n{body}",
        ip = probe.ip(),
        len = body.len()
    )
}

/// A minimal audio offer pointing at `rtp` (PCMU and Opus).
pub fn sdp_offer(rtp: SocketAddr) -> String {
    format!(
        "v=0\r\no=probe 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
m=audio {port} RTP/AVP 111 0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
        ip = rtp.ip(),
        port = rtp.port()
    )
}

/// The tag of the To header of a message text.
pub fn to_tag_of(msg: &str) -> String {
    header(msg, "To")
        .and_then(|t| t.split("tag=").nth(1))
        .map(|t| t.split(';').next().unwrap_or(t).to_string())
        .expect("To tag")
}

/// The body of a message text.
pub fn body_of(msg: &str) -> &str {
    msg.split("\r\n\r\n").nth(1).unwrap_or("")
}

/// The port of the first `m=<media>` line of a message's SDP body (0 when rejected).
pub fn m_line_port(msg: &str, media: &str) -> Option<u16> {
    let prefix = format!("m={media} ");
    body_of(msg)
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
}
