//! An impaired network path between one caller and the server, in user space: this machine's
//! kernel has no `netem` qdisc (`CONFIG_NET_SCH_NETEM` is not set), so loss, jitter (and the
//! reordering it brings) and black-outs are applied by a relay on loopback instead.
//!
//! The relay is SIP-aware just enough to put itself in the media path, like a media-relaying
//! proxy: the caller dials the relay; requests go on to the server with the relay's Via on
//! top, responses come back with it removed, and every SDP body on the way has its addresses
//! replaced by a pair of relay sockets per stream (RTP on an even port, RTCP on the next, as
//! the server expects of an RTCP source). SIP itself passes unimpaired; RTP and RTCP are
//! impaired in both directions. In-dialog requests go straight between the two ends (their
//! Contacts), which is fine: they carry no SDP here.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// What the path does to media packets, each way.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    /// Share of packets dropped, 0..1.
    pub loss: f64,
    /// Each packet is held for a uniformly random time up to this (packets 20 ms apart with
    /// 60 ms of jitter arrive out of order).
    pub jitter: Duration,
    pub seed: u64,
}

/// The relay; dial [`ImpairedPath::sip_addr`] instead of the server.
pub struct ImpairedPath {
    sip: SocketAddr,
    state: Arc<Shared>,
}

struct Shared {
    impairment: Mutex<Impairment>,
    rng: Mutex<StdRng>,
    /// Media dropped entirely between these instants.
    blackout: Mutex<Option<(Instant, Instant)>>,
}

impl Shared {
    /// When to deliver a packet that enters the path now, or `None` to drop it.
    fn delay(&self) -> Option<Duration> {
        let now = Instant::now();
        if self
            .blackout
            .lock()
            .expect("blackout")
            .is_some_and(|(from, to)| now >= from && now < to)
        {
            return None;
        }
        let impairment = *self.impairment.lock().expect("impairment");
        let mut rng = self.rng.lock().expect("rng");
        if rng.random_bool(impairment.loss.clamp(0.0, 1.0)) {
            return None;
        }
        let jitter_us = impairment.jitter.as_micros() as u64;
        Some(Duration::from_micros(rng.random_range(0..=jitter_us)))
    }
}

impl ImpairedPath {
    /// A relay in front of the server at `server` (SIP over UDP).
    pub async fn start(server: SocketAddr, impairment: Impairment) -> Self {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("relay SIP"));
        let sip = socket.local_addr().expect("addr");
        let state = Arc::new(Shared {
            impairment: Mutex::new(impairment),
            rng: Mutex::new(StdRng::seed_from_u64(impairment.seed)),
            blackout: Mutex::new(None),
        });
        tokio::spawn(relay_sip(socket, server, state.clone()));
        Self { sip, state }
    }

    pub fn sip_addr(&self) -> SocketAddr {
        self.sip
    }

    /// Drops every media packet, both ways, from `from` for `lasting`.
    pub fn black_out(&self, from: Instant, lasting: Duration) {
        *self.state.blackout.lock().expect("blackout") = Some((from, from + lasting));
    }

    /// Changes the impairment from now on.
    pub fn set(&self, impairment: Impairment) {
        *self.state.impairment.lock().expect("impairment") = impairment;
    }
}

/// Forwards SIP between the caller (whoever sends requests first) and the server.
async fn relay_sip(socket: Arc<UdpSocket>, server: SocketAddr, state: Arc<Shared>) {
    let mut caller: Option<SocketAddr> = None;
    let mut buf = vec![0u8; 65_536];
    let me = socket.local_addr().expect("addr");
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let Ok(text) = std::str::from_utf8(&buf[..len]) else {
            continue;
        };
        let text = text.to_string();
        let is_response = text.starts_with("SIP/2.0 ");
        let (to, message) = if from == server {
            let Some(caller) = caller else { continue };
            let message = if is_response {
                remove_top_via(&text)
            } else {
                text
            };
            (caller, rewrite_sdp(&message, &state, server.ip()).await)
        } else {
            caller = Some(from);
            let message = if is_response {
                text
            } else {
                add_via(&text, me)
            };
            (server, rewrite_sdp(&message, &state, from.ip()).await)
        };
        let _ = socket.send_to(message.as_bytes(), to).await;
    }
}

fn add_via(request: &str, me: SocketAddr) -> String {
    let Some(end) = request.find("\r\n") else {
        return request.to_string();
    };
    let branch: u64 = rand::random();
    format!(
        "{}\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKrelay{branch:x}{}",
        &request[..end],
        &request[end..]
    )
}

fn remove_top_via(response: &str) -> String {
    let mut out = String::with_capacity(response.len());
    let mut removed = false;
    for line in response.split_inclusive("\r\n") {
        let lower = line.to_ascii_lowercase();
        if !removed && (lower.starts_with("via:") || lower.starts_with("v:")) {
            removed = true;
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Replaces the addresses of an SDP body by relay sockets, which forward to the addresses
/// the body gave (the sender's, at `sender_ip` unless `c=` says otherwise).
async fn rewrite_sdp(message: &str, state: &Arc<Shared>, sender_ip: std::net::IpAddr) -> String {
    let Some(split) = message.find("\r\n\r\n") else {
        return message.to_string();
    };
    let (head, body) = (&message[..split], &message[split + 4..]);
    if !body.contains("\nm=") && !body.starts_with("m=") {
        return message.to_string();
    }
    let ip = body
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))
        .and_then(|ip| ip.trim().parse().ok())
        .unwrap_or(sender_ip);
    let mut out = String::new();
    for line in body.split_inclusive("\r\n") {
        let trimmed = line.trim_end();
        if trimmed.starts_with("c=IN IP4 ") {
            out.push_str("c=IN IP4 127.0.0.1\r\n");
        } else if trimmed.starts_with("a=rtcp:") {
            // The relay's RTCP socket is its RTP port + 1, the default.
        } else if let Some(rest) = trimmed.strip_prefix("m=") {
            let mut fields = rest.splitn(3, ' ');
            let (media, port, tail) = (
                fields.next().unwrap_or_default(),
                fields
                    .next()
                    .and_then(|p| p.parse::<u16>().ok())
                    .unwrap_or(0),
                fields.next().unwrap_or_default(),
            );
            let relayed = if port == 0 {
                0
            } else {
                relay_stream(SocketAddr::new(ip, port), state.clone()).await
            };
            out.push_str(&format!("m={media} {relayed} {tail}\r\n"));
        } else {
            out.push_str(line);
        }
    }
    let head = set_content_length(head, out.len());
    format!("{head}\r\n\r\n{out}")
}

fn set_content_length(head: &str, len: usize) -> String {
    head.split("\r\n")
        .map(|line| {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-length:") || lower.starts_with("l:") {
                format!("Content-Length: {len}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Relays one stream to `target` (RTP; RTCP at + 1): answers the port the far end is told
/// about. Packets arriving there go to `target` from a second pair of sockets, and what
/// comes back to those returns to whoever last sent. Runs while the test runs.
async fn relay_stream(target: SocketAddr, state: Arc<Shared>) -> u16 {
    let (facing_rtp, facing_rtcp) = socket_pair().await;
    let (toward_rtp, toward_rtcp) = socket_pair().await;
    let port = facing_rtp.local_addr().expect("addr").port();
    let rtcp_target = SocketAddr::new(target.ip(), target.port() + 1);
    for (facing, toward, target) in [
        (facing_rtp, toward_rtp, target),
        (facing_rtcp, toward_rtcp, rtcp_target),
    ] {
        let (facing, toward) = (Arc::new(facing), Arc::new(toward));
        let back_to = Arc::new(Mutex::new(None::<SocketAddr>));
        // The far end → target.
        tokio::spawn(forward(
            facing.clone(),
            toward.clone(),
            Some(target),
            back_to.clone(),
            state.clone(),
        ));
        // Target → the far end (wherever it last sent from).
        tokio::spawn(forward(toward, facing, None, back_to, state.clone()));
    }
    port
}

/// Moves packets arriving on `from` out of `out`, impaired: to `to`, or (when `None`) to the
/// address last seen on the other direction, which this direction records in `peer` when it
/// is the one with a fixed target.
async fn forward(
    from: Arc<UdpSocket>,
    out: Arc<UdpSocket>,
    to: Option<SocketAddr>,
    peer: Arc<Mutex<Option<SocketAddr>>>,
    state: Arc<Shared>,
) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((len, source)) = from.recv_from(&mut buf).await else {
            return;
        };
        let destination = match to {
            Some(to) => {
                *peer.lock().expect("peer") = Some(source);
                to
            }
            None => match *peer.lock().expect("peer") {
                Some(peer) => peer,
                None => continue,
            },
        };
        let Some(delay) = state.delay() else {
            continue;
        };
        let packet = buf[..len].to_vec();
        let out = out.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = out.send_to(&packet, destination).await;
        });
    }
}

/// Two sockets on loopback, on an even port and the next.
async fn socket_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..100 {
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let port = rtp.local_addr().expect("addr").port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", port + 1)).await {
            return (rtp, rtcp);
        }
    }
    panic!("no free even/odd port pair on loopback");
}
