//! What one cascade hop costs, over real SIP, RTP, Opus and H.264 between two servers in this
//! process (loopback), room 3000 on A joined with room 3000 on B by one leg:
//!
//! - **latency**: a listener on A and one on B hear the same tone bursts played by a caller on
//!   A; the hop adds the difference of their onsets (B's jitter buffer, mix tick and encode on
//!   the way). Median, min and max over runs with fresh servers (fresh tick phases).
//! - **CPU**: the process's CPU time (both servers and the callers) over the same window with
//!   and without the leg, a video caller on each side (640x360 in, the default 1280x720
//!   canvas); the difference is the leg's two ends.
//! - **bandwidth**: what each end of the leg received (RTP audio and video) over the window.
//!
//! Run: `cargo bench --bench cascade_hop` (about 90 s; bounded: every call has its duration).
//! `TESSERA_HOP_RUNS` sets the number of latency runs (default 9).

use std::time::{Duration, Instant};
use tessera::cascade::LegRequest;
use tessera::cascade::LegState;
use tessera::config::{CascadeConfig, Config, PortRange};
use tessera::dial::{dial, DialOptions, DialReport};
use tessera::media::audio::tone::tone_ratio;
use tessera::server::ServerHandle;

const RATE: usize = 48_000;
/// Onsets are found to within one window (5 ms).
const WINDOW: usize = RATE / 200;
const BURST: Duration = Duration::from_millis(1200);
const GAP: Duration = Duration::from_millis(1300);
const WINDOW_SECS: u64 = 10;

fn node(name: &str, rtp_low: u16) -> Config {
    let mut c = Config::default();
    c.node.id = Some(name.to_string());
    c.api.listen = "127.0.0.1:0".parse().expect("addr");
    c.sip.listen = "127.0.0.1:0".parse().expect("addr");
    c.rtp.bind_ip = "127.0.0.1".parse().expect("ip");
    c.rtp.ports = PortRange {
        low: rtp_low,
        high: rtp_low + 99,
    };
    c
}

fn caller(server: &ServerHandle, name: &str, duration: Duration) -> DialOptions {
    let mut o = DialOptions::new(format!("sip:3000@{}", server.sip_addr()));
    o.from = name.to_string();
    o.duration = duration;
    o
}

async fn leg(from: &ServerHandle, to: &ServerHandle) -> String {
    let request = LegRequest {
        uri: format!("sip:3000@{}", to.sip_addr()),
        canvas: None,
        watching_canvas: None,
        timeout: Duration::from_secs(10),
        permanent: false,
        video: CascadeConfig::default()
            .leg_view(None, None)
            .expect("default view"),
    };
    let leg = from
        .control()
        .start_cascade("3000", request)
        .await
        .expect("leg");
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        let legs = from.control().cascades("3000").await.unwrap_or_default();
        if legs
            .iter()
            .any(|l| l.id == leg.id && l.state == LegState::Up)
        {
            return leg.id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the leg never came up");
}

/// When each tone burst in a recording began (a 440 Hz window after at least 300 ms without).
fn onsets(report: &DialReport) -> Vec<Instant> {
    let Some(start) = report.media_started else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut quiet = usize::MAX / 2;
    for (i, window) in report.recording.chunks(WINDOW).enumerate() {
        let rms = (window.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / window.len() as f64)
            .sqrt();
        let tone = rms > 300.0 && tone_ratio(window, 440.0, RATE as u32) > 0.3;
        if tone && quiet * WINDOW >= RATE * 3 / 10 {
            found.push(start + Duration::from_secs_f64((i * WINDOW) as f64 / RATE as f64));
        }
        quiet = if tone { 0 } else { quiet + 1 };
    }
    found
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage writes one rusage into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Bytes the leg's member on `server` has received (audio + video).
async fn leg_rx_bytes(server: &ServerHandle) -> u64 {
    let Some(room) = server.control().room("3000").await else {
        return 0;
    };
    let legs = server.control().cascades("3000").await.unwrap_or_default();
    room.members
        .iter()
        .filter(|m| legs.iter().any(|l| l.member == Some(m.id)))
        .map(|m| m.counters.rx_bytes + m.video.as_ref().map_or(0, |v| v.counters.rx_bytes))
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One run: fresh servers and listeners (so fresh tick phases); the hop of each burst.
async fn latency_run(bursts: usize) -> Vec<f64> {
    let (a, b) = (
        ServerHandle::start(node("node-a", 30_000))
            .await
            .expect("A"),
        ServerHandle::start(node("node-b", 30_200))
            .await
            .expect("B"),
    );
    let length = (BURST + GAP) * bursts as u32 + Duration::from_secs(4);
    let bursts_on_a = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        leg(&a, &b).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        for n in 0..bursts {
            let mut talker = caller(&a, &format!("talker-{n}"), BURST);
            talker.tone_hz = Some(440.0);
            dial(talker).await.expect("talker");
            tokio::time::sleep(GAP).await;
        }
    };
    let (on_a, on_b, ()) = tokio::join!(
        dial(caller(&a, "listener-a", length)),
        dial(caller(&b, "listener-b", length)),
        bursts_on_a
    );
    let (on_a, on_b) = (on_a.expect("A"), on_b.expect("B"));
    let (heard_a, heard_b) = (onsets(&on_a), onsets(&on_b));
    let hops: Vec<f64> = heard_a
        .iter()
        .filter_map(|ta| {
            let tb = heard_b
                .iter()
                .find(|tb| tb.checked_duration_since(*ta).is_some_and(|d| d < GAP))?;
            Some(tb.duration_since(*ta).as_secs_f64() * 1000.0)
        })
        .collect();
    a.shutdown().await;
    b.shutdown().await;
    hops
}

/// Each listener records on its own 20 ms tick, and each room mixes on its own: within a run
/// those phases are fixed, so one run measures the hop at one phase; the median over runs
/// (fresh phases each) is the hop's typical cost.
async fn latency(runs: usize) {
    let mut per_run = Vec::new();
    for _ in 0..runs {
        let hops = latency_run(3).await;
        if !hops.is_empty() {
            per_run.push(median(hops));
        }
    }
    println!(
        "hop latency (tone onset on B minus on A), {} runs: median {:.1} ms, min {:.1}, max {:.1} (per run: {:?})",
        per_run.len(),
        median(per_run.clone()),
        per_run.iter().copied().fold(f64::INFINITY, f64::min),
        per_run.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        per_run.iter().map(|h| (h * 10.0).round() / 10.0).collect::<Vec<_>>(),
    );
}

async fn cpu_and_bandwidth() {
    let (a, b) = (
        ServerHandle::start(node("node-a", 30_400))
            .await
            .expect("A"),
        ServerHandle::start(node("node-b", 30_600))
            .await
            .expect("B"),
    );
    let length = Duration::from_secs(2 * WINDOW_SECS + 8);
    let video = |server: &ServerHandle, name: &str, colour, hz| {
        let mut o = caller(server, name, length);
        o.color = Some(colour);
        o.video_size = (640, 360);
        o.tone_hz = Some(hz);
        o
    };
    let measure = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let window = Duration::from_secs(WINDOW_SECS);
        let (cpu0, t0) = (cpu_time(), Instant::now());
        tokio::time::sleep(window).await;
        let without = (cpu_time() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64();
        leg(&a, &b).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (rx_a0, rx_b0) = (leg_rx_bytes(&a).await, leg_rx_bytes(&b).await);
        let (cpu1, t1) = (cpu_time(), Instant::now());
        tokio::time::sleep(window).await;
        let with = (cpu_time() - cpu1).as_secs_f64() / t1.elapsed().as_secs_f64();
        let secs = t1.elapsed().as_secs_f64();
        let (rx_a1, rx_b1) = (leg_rx_bytes(&a).await, leg_rx_bytes(&b).await);
        (without, with, secs, rx_a1 - rx_a0, rx_b1 - rx_b0)
    };
    let (red, blue, (without, with, secs, rx_a, rx_b)) = tokio::join!(
        dial(video(&a, "red", (230, 20, 20), 440.0)),
        dial(video(&b, "blue", (20, 20, 230), 880.0)),
        measure
    );
    let _ = (red, blue);
    println!(
        "CPU, a video caller on each side: {:.1} % of a core without the leg, {:.1} % with it: the leg's two ends {:.1} %",
        without * 100.0,
        with * 100.0,
        (with - without) * 100.0
    );
    println!(
        "leg bandwidth (RTP payload and headers, audio + 1280x720 video): A→B {:.0} kbit/s, B→A {:.0} kbit/s",
        rx_b as f64 * 8.0 / secs / 1000.0,
        rx_a as f64 * 8.0 / secs / 1000.0
    );
    a.shutdown().await;
    b.shutdown().await;
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing to run.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs = std::env::var("TESSERA_HOP_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        latency(runs).await;
        cpu_and_bandwidth().await;
    });
}
