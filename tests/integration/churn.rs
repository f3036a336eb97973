//! Churn soak against a real `tessera serve` process: calls join and leave continuously across
//! a few rooms, some hanging up with BYE (over UDP and TCP, audio and video), some vanishing
//! without BYE (ended by the RTP timeout), some cancelled while ringing. Afterwards the
//! server's file descriptors, threads and RSS are back at their baseline and no room is left.
//!
//! The server is its own process so that its descriptors and threads are its own (the other
//! tests share this one). Bounded: 60 s of churn by default, `TESSERA_CHURN_SECS` for longer
//! runs, `TESSERA_CHURN_SEED` to replay a sequence, `TESSERA_CHURN_ONLY=Cancel` (or another
//! ending's name) to churn one kind of call alone when hunting a leak.

use crate::common;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera::dial::{dial, DialOptions, DialTransport};

/// Calls placed at once, each slot starting its next call when its last one ends.
const SLOTS: usize = 6;
const ROOMS: [&str; 4] = ["6000", "6001", "6002", "6003"];

/// How a call ends (or never starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Audio over UDP, BYE at the end.
    Bye,
    /// Audio over TCP, BYE at the end, then the connection closes.
    TcpBye,
    /// Audio and video, BYE at the end.
    VideoBye,
    /// Answered and ACKed, then the caller disappears: no BYE, no RTP.
    Vanish,
    /// CANCELled while ringing.
    Cancel,
}

const ENDINGS: [Ending; 5] = [
    Ending::Bye,
    Ending::TcpBye,
    Ending::VideoBye,
    Ending::Vanish,
    Ending::Cancel,
];

/// What the server process holds, from `/proc`.
#[derive(Debug, Clone, Copy)]
struct Usage {
    fds: usize,
    threads: usize,
    rss_kib: u64,
}

fn usage(pid: u32) -> Usage {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Usage {
        fds,
        threads: field("Threads:") as usize,
        rss_kib: field("VmRSS:"),
    }
}

/// A `tessera serve` child with its SIP and API addresses (read from its log) and the last
/// lines it logged (for a failure message).
struct ServerProcess {
    child: Child,
    sip: SocketAddr,
    api: String,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    fn start(config: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "tessera=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tessera serve");
        let lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (found_tx, found) = std::sync::mpsc::channel();
        let kept = log.clone();
        // Reads the log to the end (a full pipe would stall the server), keeping the last lines.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let line = strip_ansi(&line);
                if let Some(addr) = value_after(&line, "control API listening api=") {
                    let _ = found_tx.send(("api", addr));
                }
                if line.contains("tessera listening") {
                    if let Some(addr) = value_after(&line, "sip=") {
                        let _ = found_tx.send(("sip", addr));
                    }
                }
                let mut kept = kept.lock().expect("log");
                kept.push_back(line);
                if kept.len() > 40 {
                    kept.pop_front();
                }
            }
        });
        let (mut sip, mut api) = (None, None);
        while sip.is_none() || api.is_none() {
            let (what, addr) = found
                .recv_timeout(Duration::from_secs(30))
                .expect("the server logs its addresses");
            match what {
                "sip" => sip = Some(addr.parse().expect("SIP address")),
                _ => api = Some(format!("http://{addr}")),
            }
        }
        Self {
            child,
            sip: sip.expect("sip"),
            api: api.expect("api"),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn last_lines(&self) -> String {
        let log = self.log.lock().expect("log");
        log.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    async fn rooms(&self) -> Vec<serde_json::Value> {
        let url = format!("{}/v1/rooms", self.api);
        tokio::task::spawn_blocking(move || {
            let mut response = ureq::get(&url).call().ok()?;
            let text = response.body_mut().read_to_string().ok()?;
            serde_json::from_str::<Vec<serde_json::Value>>(&text).ok()
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![serde_json::Value::Null])
    }

    /// SIGTERM, then waits for the exit; whether it exited cleanly within `limit`.
    fn stop(mut self, limit: Duration) -> bool {
        // SAFETY: kill takes plain integers; the pid is our own child's.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        false
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn value_after(line: &str, key: &str) -> Option<String> {
    let rest = &line[line.find(key)? + key.len()..];
    Some(rest.split_whitespace().next()?.to_string())
}

/// A server small enough for a 2-core machine, ringing 200 ms (so CANCEL has a window), with
/// a 2 s RTP timeout (for the vanished calls) and short SIP timers (a BYE to a vanished
/// caller gives up after 64·T1 = 6.4 s).
fn config_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("churn.toml");
    std::fs::write(
        &path,
        r#"
[sip]
listen = "127.0.0.1:0"
answer_delay_ms = 200
t1_ms = 100

[api]
listen = "127.0.0.1:0"

[rtp]
ports = "28000-28199"
bind_ip = "127.0.0.1"
timeout_secs = 2

# Every caller here is 127.0.0.1: lift the per-source limits (admission is not under test).
[limits]
invites_per_sec_per_ip = 1000
calls_per_ip = 1000

[media]
threads = 2
video_threads = 2

[video.canvas]
width = 320
height = 180
fps = 15.0
"#,
    )
    .expect("write config");
    path
}

/// Places one call ending as `ending`; an error says how it did not go as it should.
async fn place(
    sip: SocketAddr,
    room: &str,
    ending: Ending,
    n: u64,
    rng: &mut StdRng,
) -> Result<(), String> {
    let ruri = format!("sip:{room}@{sip}");
    let call_id = format!("churn-{n}");
    match ending {
        Ending::Bye | Ending::TcpBye | Ending::VideoBye => {
            let mut o = DialOptions::new(ruri);
            o.from = call_id.clone();
            o.tone_hz = Some(300.0 + (n % 7) as f32 * 100.0);
            o.duration = Duration::from_millis(rng.random_range(300..1500));
            if ending == Ending::TcpBye {
                o.transport = DialTransport::Tcp;
            }
            if ending == Ending::VideoBye {
                o.color = Some((200, 30, 30));
                o.video_size = (160, 90);
            }
            match dial(o).await {
                Ok(r) if r.answered => Ok(()),
                Ok(r) => Err(format!("{call_id}: answered {}", r.status)),
                Err(e) => Err(format!("{call_id}: {e}")),
            }
        }
        Ending::Vanish => {
            let rtp = tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .map_err(|e| e.to_string())?;
            let offer = sdp_offer(rtp.local_addr().map_err(|e| e.to_string())?);
            let probe = SipProbe::new(sip).await;
            let content = "Content-Type: application/sdp\r\n";
            let invite = request(
                "INVITE",
                &ruri,
                probe.local(),
                &call_id,
                &call_id,
                1,
                None,
                content,
                &offer,
            );
            probe.send(&invite).await;
            let answer = probe.final_response(Duration::from_secs(10)).await;
            let answer = answer.ok_or(format!("{call_id}: INVITE unanswered"))?;
            if status(&answer) != 200 {
                return Err(format!("{call_id}: INVITE answered {}", status(&answer)));
            }
            let tag = to_tag_of(&answer);
            let ack = request(
                "ACK",
                &ruri,
                probe.local(),
                &call_id,
                &call_id,
                1,
                Some(&tag),
                "",
                "",
            );
            probe.send(&ack).await;
            Ok(()) // and gone: no BYE, no media; the sockets close here
        }
        Ending::Cancel => {
            let probe = SipProbe::new(sip).await;
            if !probe.ring(&ruri, &call_id).await {
                return Err(format!("{call_id}: no 180 Ringing"));
            }
            match probe.cancel(&ruri, &call_id).await {
                (true, true) => Ok(()),
                (cancelled, terminated) => Err(format!(
                    "{call_id}: CANCEL answered 200: {cancelled}, INVITE answered 487: {terminated}"
                )),
            }
        }
    }
}

/// Calls placed and how many went as planned, per ending.
#[derive(Debug, Default)]
struct Tally {
    placed: [u64; ENDINGS.len()],
    went_well: [u64; ENDINGS.len()],
    /// The first few that did not.
    errors: Vec<String>,
}

/// Runs `slots` callers until `until`; each picks a room and an ending at random.
async fn churn(sip: SocketAddr, until: Instant, seed: u64) -> Tally {
    let slots = (0..SLOTS as u64).map(|slot| async move {
        let mut rng = StdRng::seed_from_u64(seed ^ (slot << 32));
        let mut tally = Tally::default();
        // Call-IDs (and branches) differ across runs and slots: a reused one is a retransmission.
        let mut n = (seed % 1_000) * 1_000_000_000 + slot * 1_000_000;
        let only = std::env::var("TESSERA_CHURN_ONLY").ok();
        let kinds: Vec<usize> = (0..ENDINGS.len())
            .filter(|k| {
                only.as_ref()
                    .is_none_or(|o| *o == format!("{:?}", ENDINGS[*k]))
            })
            .collect();
        while Instant::now() < until {
            let kind = kinds[rng.random_range(0..kinds.len())];
            let room = ROOMS[rng.random_range(0..ROOMS.len())];
            n += 1;
            tally.placed[kind] += 1;
            match place(sip, room, ENDINGS[kind], n, &mut rng).await {
                Ok(()) => tally.went_well[kind] += 1,
                Err(e) if tally.errors.len() < 5 => tally.errors.push(e),
                Err(_) => {}
            }
            // Callers, not a flood: a cancelled call takes a few ms, and thousands of them a
            // second fill the transaction table (a stateless 503 then, by design).
            tokio::time::sleep(Duration::from_millis(rng.random_range(10..100))).await;
        }
        tally
    });
    let mut total = Tally::default();
    for tally in futures::future::join_all(slots).await {
        for k in 0..ENDINGS.len() {
            total.placed[k] += tally.placed[k];
            total.went_well[k] += tally.went_well[k];
        }
        total.errors.extend(tally.errors);
    }
    total
}

/// Waits until no room is left and the descriptors and threads are back to `baseline` (or
/// fewer); answers the usage then, or the last one seen.
async fn settles(server: &ServerProcess, baseline: Usage, limit: Duration) -> (bool, Usage) {
    let end = Instant::now() + limit;
    let mut now = usage(server.pid());
    while Instant::now() < end {
        now = usage(server.pid());
        let back = now.fds <= baseline.fds && now.threads <= baseline.threads;
        if back && server.rooms().await.is_empty() {
            return (true, now);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (false, now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churning_calls_leave_no_descriptors_threads_ports_or_memory_behind() {
    let secs: u64 = std::env::var("TESSERA_CHURN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("TESSERA_CHURN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let dir = std::env::temp_dir().join(format!("tessera-churn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let server = ServerProcess::start(&config_file(&dir));
    // A warm-up round of every ending starts what is started once (codec threads' encoders,
    // the font, the allocator's arenas); the baseline is taken when it has all ended.
    let warm_until = Instant::now() + Duration::from_secs(5);
    let warm = churn(server.sip, warm_until, seed.wrapping_add(1)).await;
    let (settled, baseline) = settles(&server, usage(server.pid()), Duration::from_secs(30)).await;
    assert!(settled, "the warm-up ends: {}", server.last_lines());
    let baseline = Usage {
        fds: baseline.fds,
        ..usage(server.pid())
    };
    eprintln!("churn: seed {seed}, {secs} s; warm-up {warm:?}; baseline {baseline:?}");
    let started = Instant::now();
    let tally = churn(server.sip, started + Duration::from_secs(secs), seed).await;
    let peak = usage(server.pid());
    eprintln!(
        "churn: {tally:?} in {:?}; at the end {peak:?}",
        started.elapsed()
    );
    for (k, ending) in ENDINGS.iter().enumerate() {
        assert!(
            tally.placed[k] > 0 || std::env::var("TESSERA_CHURN_ONLY").is_ok(),
            "no {ending:?} call was placed"
        );
        assert_eq!(
            tally.went_well[k],
            tally.placed[k],
            "{ending:?} calls that did not go as planned: {tally:?}\n{}",
            server.last_lines()
        );
    }
    // Vanished calls end at the RTP timeout (2 s) and their BYEs give up after 6.4 s.
    let (settled, after) = settles(&server, baseline, Duration::from_secs(60)).await;
    eprintln!("churn: after it settled {after:?}");
    assert!(
        settled,
        "back to the baseline {baseline:?}: {after:?}, rooms {:?}\n{}",
        server.rooms().await,
        server.last_lines()
    );
    // Memory: freed blocks stay in the allocator's arenas, so allow some slack over the
    // warmed-up baseline, but not growth with the number of calls (hundreds of them). Before
    // the server fixed glibc's mmap threshold (`main.rs`), 500 calls grew it by ~13 MB.
    let slack_kib = baseline.rss_kib / 4 + 8 * 1024;
    assert!(
        after.rss_kib <= baseline.rss_kib + slack_kib,
        "RSS grew from {} to {} KiB over {} calls",
        baseline.rss_kib,
        after.rss_kib,
        tally.placed.iter().sum::<u64>()
    );
    assert!(
        server.stop(Duration::from_secs(15)),
        "SIGTERM ends the server cleanly"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
