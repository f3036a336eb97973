//! Cost of one 20 ms room tick with real sockets and codecs: drain every member's RTP socket,
//! jitter-buffer and decode one Opus frame each, detect talkers, mix N−1, encode (talkers +
//! one shared encode) and send. Packets are injected over loopback before each timed tick.
//!
//! `members_1_talker` is the server's default (silent members' packets that say they hold no
//! speech are not decoded); `members_1_talker_decode_all` decodes every member every tick.
//!
//! Also the pure mixer (sum + mix-minus) for N = 3 … 1000 with 1–3 talkers.
//!
//! Run: `cargo bench --bench room_tick`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::net::UdpSocket;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tessera::conference::events::EventSink;
use tessera::conference::member::TickTime;
use tessera::conference::room::{Room, RoomSettings};
use tessera::config::PortRange;
use tessera::media::audio::codec::{AudioEncoder, EncoderSettings, FRAME_SAMPLES};
use tessera::media::audio::mixer::AudioMixer;
use tessera::media::audio::talk::TalkConfig;
use tessera::media::audio::tone::ToneGenerator;
use tessera::rtp::port_pool::PortPool;
use tessera::rtp::sender::RtpSender;
use tessera::sdp::{AudioCodec, Direction, NegotiatedAudio};
use tessera::server::media_setup::{build_member, build_shared_encoders, MemberIdentity};

/// A room with `members` Opus members; member i < `talkers` sends a tone, the rest silence.
struct RoomRig {
    room: Room,
    client: UdpSocket,
    targets: Vec<std::net::SocketAddr>,
    senders: Vec<RtpSender>,
    tone_packets: Vec<Vec<u8>>,
    silence_packets: Vec<Vec<u8>>,
    talkers: usize,
    now: Instant,
    frame: usize,
    packet: Vec<u8>,
    _events: tokio::sync::mpsc::UnboundedReceiver<tessera::conference::events::RoomEvent>,
}

fn encode_loop(tone: Option<f32>, frames: usize) -> Vec<Vec<u8>> {
    let mut enc = AudioEncoder::new(AudioCodec::Opus, EncoderSettings::default()).expect("encoder");
    let mut gen = tone.map(|hz| ToneGenerator::new(hz, 8000, 48_000));
    let mut pcm = vec![0i16; FRAME_SAMPLES];
    (0..frames)
        .map(|_| {
            if let Some(g) = gen.as_mut() {
                g.fill(&mut pcm);
            }
            let mut out = Vec::new();
            enc.encode(&pcm, &mut out).expect("encode");
            out
        })
        .collect()
}

impl RoomRig {
    fn new(members: usize, talkers: usize, range_low: u16, skip_inactive_decode: bool) -> Self {
        let (events, rx) = EventSink::new();
        let settings = RoomSettings {
            talk: TalkConfig::default(),
            skip_inactive_decode,
            rtp_timeout: Duration::from_secs(3600),
            canvases: vec![Default::default()],
            layouts: std::sync::Arc::new(
                tessera::media::video::layout_library::LayoutLibrary::builtin(),
            ),
            video_codecs: None,
            metrics: Default::default(),
            mixing: Default::default(),
        };
        let shared = build_shared_encoders(EncoderSettings::default()).expect("encoders");
        let mut room = Room::new("bench".into(), settings, shared, events);
        let pool = PortPool::new(
            PortRange {
                low: range_low,
                high: range_low + 2 * members as u16 + 200,
            },
            "127.0.0.1".parse().expect("ip"),
        );
        let client = UdpSocket::bind("127.0.0.1:0").expect("client socket");
        let client_addr = client.local_addr().expect("addr");
        let now = Instant::now();
        let mut targets = Vec::new();
        for id in 0..members {
            let sockets = pool.allocate().expect("ports");
            targets.push(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                sockets.rtp_port(),
            )));
            let audio = NegotiatedAudio {
                codec: AudioCodec::Opus,
                payload_type: 111,
                telephone_event: None,
                remote_rtp: client_addr,
                remote_rtcp: client_addr,
                rtcp_mux: true,
                direction: Direction::SendRecv,
                ptime_ms: Some(20),
                opus_inband_fec: false,
            };
            let who = MemberIdentity {
                id: id as u64,
                call_id: format!("bench-{id}"),
                name: format!("m{id}"),
                signalling_ip: "127.0.0.1".parse().expect("ip"),
                initial_canvas: None,
            };
            let setup =
                build_member(who, sockets, &audio, EncoderSettings::default()).expect("member");
            room.add_member(setup, tick_at(now));
        }
        // Keep the client's receive buffer from filling: we never read what the room sends.
        let _ = client.set_nonblocking(true);
        Self {
            room,
            client,
            senders: (0..members).map(|_| RtpSender::new(111)).collect(),
            targets,
            tone_packets: encode_loop(Some(440.0), 50),
            silence_packets: encode_loop(None, 50),
            talkers,
            now,
            frame: 0,
            packet: Vec::with_capacity(1500),
            _events: rx,
        }
    }

    /// Injects one packet per member (not timed).
    fn inject(&mut self) {
        let f = self.frame % 50;
        for (i, target) in self.targets.iter().enumerate() {
            let payload = if i < self.talkers {
                &self.tone_packets[f]
            } else {
                &self.silence_packets[f]
            };
            self.senders[i].packetize(payload, 960, &mut self.packet);
            let _ = self.client.send_to(&self.packet, target);
        }
        self.frame += 1;
        let mut sink = [0u8; 2048];
        while self.client.recv_from(&mut sink).is_ok() {}
    }

    fn tick(&mut self) {
        self.now += Duration::from_millis(20);
        self.room.tick(tick_at(self.now));
    }
}

fn tick_at(now: Instant) -> TickTime {
    TickTime {
        now,
        since_unix_epoch: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    }
}

fn room_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("room_tick_opus");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(6));
    let sizes = [10usize, 100, 200];
    for (i, members) in sizes.into_iter().enumerate() {
        for skip in [true, false] {
            let low = 40000 + (i as u16 * 2 + u16::from(skip)) * 1000;
            let mut rig = RoomRig::new(members, 1, low, skip);
            for _ in 0..10 {
                rig.inject();
                rig.tick(); // prime the jitter buffers
            }
            let name = if skip {
                "members_1_talker"
            } else {
                "members_1_talker_decode_all"
            };
            group.bench_with_input(BenchmarkId::new(name, members), &members, |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        rig.inject();
                        let start = Instant::now();
                        rig.tick();
                        total += start.elapsed();
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

fn pure_mix(c: &mut Criterion) {
    let mut group = c.benchmark_group("mix_n_minus_1");
    let frame: Vec<i16> = (0..FRAME_SAMPLES)
        .map(|i| (i as i16).wrapping_mul(37))
        .collect();
    for members in [3usize, 10, 50, 200, 1000] {
        for talkers in [1usize, 3] {
            let mut mixer = AudioMixer::new();
            let mut out = vec![0i16; FRAME_SAMPLES];
            group.bench_function(
                BenchmarkId::new(format!("talkers_{talkers}"), members),
                |b| {
                    b.iter(|| {
                        mixer.reset();
                        for _ in 0..talkers {
                            mixer.add(&frame);
                        }
                        for _ in 0..talkers {
                            mixer.write_mix_minus(&frame, &mut out);
                        }
                        mixer.write_full_mix(&mut out); // shared by all members - talkers
                        std::hint::black_box(&out);
                    })
                },
            );
        }
    }
    group.finish();
}

/// Tick-time percentiles (criterion reports central values only): 1500 ticks of a 200-member
/// room, split over the cores and on one thread, printed as one line each.
fn tick_percentiles(_c: &mut Criterion) {
    for (ways, label) in [(0usize, "split over cores"), (1, "one thread")] {
        let mut rig = RoomRig::new(200, 1, 47000 + ways as u16 * 1000, true);
        if ways > 0 {
            rig.room.set_split_ways(ways);
        }
        for _ in 0..10 {
            rig.inject();
            rig.tick();
        }
        let mut times: Vec<Duration> = (0..1500)
            .map(|_| {
                rig.inject();
                let start = Instant::now();
                rig.tick();
                start.elapsed()
            })
            .collect();
        times.sort();
        let pct = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
        println!(
            "room_tick_percentiles/200_members/{label}: p50 {:?} p99 {:?} max {:?}",
            pct(50),
            pct(99),
            times[times.len() - 1]
        );
    }
}

criterion_group!(benches, room_tick, pure_mix, tick_percentiles);
criterion_main!(benches);
