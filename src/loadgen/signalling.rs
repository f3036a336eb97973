//! The load generator's signalling: one UDP transport and transaction layer for all members,
//! INVITEs paced by the ramp, ACKs, answers handed to the audio and video threads, BYEs at the
//! end.

use super::media::{self, MemberMedia, Payloads};
use super::stream::StreamCommand;
use super::video::{self, VideoMember, VideoRole};
use super::video_loop::VideoLoop;
use super::{percentile, LoadError, LoadOptions, LoadReport};
use crate::sdp::{build_offer, Attribute, AudioCodec, Direction, LocalMedia, SessionDescription};
use crate::sip::message::{call_id, cseq, response_to};
use crate::sip::peer::Peer;
use crate::sip::timers::TimerConfig;
use crate::sip::transaction::{TransactionLayer, TxOutput};
use crate::sip::transport::{Transport, TransportEvent};
use crate::sip::uac_dialog::{negotiated_from_answer, resolve_target, UacDialog};
use rsip::{Method, SipMessage};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc as tokio_mpsc;
use tracing::{info, warn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    Idle,
    Calling,
    Up,
    Failed,
    EndedByServer,
    Closing,
    Done,
}

struct Member {
    dialog: UacDialog,
    offer: SessionDescription,
    state: CallState,
    /// The server accepted this member's video.
    video_up: bool,
    /// Headers the INVITE adds (a watcher's `X-Tessera-Canvas: 0`).
    invite_headers: Vec<(String, String)>,
}

struct Generator {
    transport: Transport,
    events: tokio_mpsc::Receiver<TransportEvent>,
    layer: TransactionLayer,
    members: Vec<Member>,
    by_call_id: HashMap<String, usize>,
    media: mpsc::Sender<StreamCommand>,
    video: mpsc::Sender<StreamCommand>,
    progress: Option<indicatif::ProgressBar>,
}

/// Runs a bounded load against `options.target` and returns the summary.
pub async fn run(options: LoadOptions) -> Result<LoadReport, LoadError> {
    options.validate()?;
    let target = rsip::Uri::try_from(options.target.as_str())
        .map_err(|_| LoadError::Target(options.target.clone()))?;
    let server = resolve_loopback(&target).await?;
    let (transport, events) = Transport::bind(SocketAddr::new(server.ip(), 0), None).await?;
    let local = transport.local_addr();
    let payloads = Payloads::encode(options.talkers, options.listener_sound)?;
    let video_loop = if options.video_members > 0 {
        info!(size = ?options.video_size, fps = options.video_fps, "pre-encoding the video loop");
        Some(VideoLoop::encode(
            options.video_size,
            options.video_fps,
            VIDEO_LOOP_SECONDS,
        )?)
    } else {
        None
    };
    let mut medias = Vec::with_capacity(options.members);
    let mut videos = Vec::with_capacity(options.members);
    let mut members = Vec::with_capacity(options.members);
    let mut probes_left = options.latency_probes;
    for i in 0..options.members {
        let socket = UdpSocket::bind(SocketAddr::new(server.ip(), 0))?;
        let port = socket.local_addr()?.port();
        let (room, seat) = options.seat_of(i);
        let talker = (seat < options.talkers).then_some(seat);
        let probe = talker.is_none() && probes_left > 0;
        probes_left -= usize::from(probe);
        medias.push(MemberMedia::new(socket, talker, probe)?);
        let role = video_role(&options, i);
        let video_port = match role {
            Some(role) => {
                let socket = UdpSocket::bind(SocketAddr::new(server.ip(), 0))?;
                let port = socket.local_addr()?.port();
                videos.push(Some(VideoMember::new(socket, role)?));
                Some(port)
            }
            None => {
                videos.push(None);
                None
            }
        };
        let mut offer = build_offer(&LocalMedia {
            address: server.ip(),
            session_id: i as u64 + 1,
            session_version: 1,
            audio_port: port,
            audio_codecs: vec![AudioCodec::Opus],
            offer_rtcp_mux: true,
            video_port,
            direction: Direction::SendRecv,
        });
        if let Some(role) = role {
            set_video_direction(&mut offer, role);
        }
        members.push(Member {
            dialog: UacDialog::new(
                room_uri(&options, room, &target)?,
                &format!("load{i}"),
                local,
                Peer::udp(server),
            ),
            offer,
            state: CallState::Idle,
            video_up: false,
            invite_headers: role.map(placement_headers).unwrap_or_default(),
        });
    }
    let (media_tx, media_rx) = mpsc::channel();
    let media_thread = media::spawn(medias, payloads, media_rx)?;
    let (video_tx, video_rx) = mpsc::channel();
    let video_thread = match video_loop {
        Some(video_loop) => Some(video::spawn(videos, video_loop, video_rx)?),
        // Watch-only runs need no loop: the thread only receives.
        None if options.video_watchers > 0 => Some(video::spawn(
            videos,
            VideoLoop::empty(options.video_fps),
            video_rx,
        )?),
        None => None,
    };
    let progress = options.progress.then(|| {
        let bar = indicatif::ProgressBar::new(options.members as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} joined {pos}/{len} {wide_msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut generator = Generator {
        transport,
        events,
        layer: TransactionLayer::new(TimerConfig::default()),
        by_call_id: members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.dialog.call_id.clone(), i))
            .collect(),
        members,
        media: media_tx,
        video: video_tx,
        progress,
    };
    let started = Instant::now();
    generator.drive(&options, started).await;
    let hangup = Instant::now();
    generator.hang_up_all().await;
    info!(
        elapsed_ms = hangup.elapsed().as_millis() as u64,
        "all calls hung up"
    );
    let _ = generator.media.send(StreamCommand::Finish);
    let _ = generator.video.send(StreamCommand::Finish);
    let (totals, video_totals) = tokio::task::spawn_blocking(move || {
        let audio = media_thread.join().ok();
        let video = video_thread.and_then(|t| t.join().ok());
        (audio, video)
    })
    .await
    .unwrap_or((None, None));
    if let Some(bar) = &generator.progress {
        bar.finish_and_clear();
    }
    let mut report = generator.report(options.members);
    report.duration_s = started.elapsed().as_secs_f64();
    report.rooms = options.rooms;
    report.listener_sound = options.listener_sound.to_string();
    report.latency_resolution_ms = super::probe::RESOLUTION_MS;
    if let Some(t) = totals {
        report.rx_packets = t.rx_packets;
        report.tx_packets = t.tx_packets;
        report.loss_pct = loss_percent(t.lost, t.expected);
        report.jitter_ms = mean(&t.jitter_ms);
        let mut lat = t.latencies_ms;
        lat.sort_by(f64::total_cmp);
        report.latency_ms_p50 = percentile(&lat, 50.0);
        report.latency_ms_p99 = percentile(&lat, 99.0);
        report.latency_samples = lat.len();
        report.silent_members = t.silent_members;
        report.expected_by_clock = t.missing.expected_by_clock;
        report.missing_packets = t.missing.missing_packets;
        report.missing_pct = t.missing.missing_pct;
        report.missing_per_member_max_pct = t.missing.missing_per_member_max_pct;
    }
    report.video_members = options.video_members;
    report.video_watchers = options.video_watchers;
    if let Some(v) = video_totals {
        report.video_tx_frames = v.tx_frames;
        report.video_tx_packets = v.tx_packets;
        report.video_rx_packets = v.rx_packets;
        report.video_rx_frames = v.rx_frames;
        report.video_rx_keyframes = v.rx_keyframes;
        report.video_loss_pct = loss_percent(v.lost, v.expected);
        report.video_rx_fps = mean(&v.rx_fps);
        report.video_keyframe_requests = v.keyframe_requests;
        report.video_blind_watchers = v.blind_watchers;
        let mut waits = v.first_keyframe_ms;
        waits.sort_by(f64::total_cmp);
        report.video_first_keyframe_ms_p50 = percentile(&waits, 50.0);
        report.video_first_keyframe_ms_max = waits.last().copied().unwrap_or(0.0);
    }
    Ok(report)
}

/// Lost packets as a percentage of those expected (0 when none were expected).
fn loss_percent(lost: i64, expected: i64) -> f64 {
    if expected > 0 {
        100.0 * lost as f64 / expected as f64
    } else {
        0.0
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Seconds of video in the pre-encoded loop (one IDR per loop).
const VIDEO_LOOP_SECONDS: f32 = 4.0;

/// Member `index`'s video role: the first `video_members` send, the next `video_watchers`
/// only watch.
fn video_role(options: &LoadOptions, index: usize) -> Option<VideoRole> {
    if index < options.video_members {
        Some(VideoRole {
            sends: true,
            watches: !options.video_send_only,
        })
    } else if index < options.video_members + options.video_watchers {
        Some(VideoRole {
            sends: false,
            watches: true,
        })
    } else {
        None
    }
}

/// A watcher asks to be on no canvas (`X-Tessera-Canvas: 0`): it sends no picture, so it
/// takes no tile (the server would show its placeholder card), and the room's layout is the
/// senders' (9 senders: a 3x3 grid, however many watch).
fn placement_headers(role: VideoRole) -> Vec<(String, String)> {
    if role.sends {
        Vec::new()
    } else {
        vec![("X-Tessera-Canvas".to_string(), "0".to_string())]
    }
}

/// Narrows the offer's video section to what the member does.
fn set_video_direction(offer: &mut SessionDescription, role: VideoRole) {
    let direction = match (role.sends, role.watches) {
        (true, true) => return,
        (true, false) => Direction::SendOnly,
        (false, _) => Direction::RecvOnly,
    };
    let names = [
        Direction::SendRecv,
        Direction::SendOnly,
        Direction::RecvOnly,
        Direction::Inactive,
    ]
    .map(Direction::attribute_name);
    for media in offer.media.iter_mut().filter(|m| m.media == "video") {
        media
            .attributes
            .retain(|a| !names.contains(&a.name.as_str()));
        media
            .attributes
            .push(Attribute::flag(direction.attribute_name()));
    }
}

/// The request URI of room `index` of the run.
fn room_uri(
    options: &LoadOptions,
    index: usize,
    first: &rsip::Uri,
) -> Result<rsip::Uri, LoadError> {
    if index == 0 {
        return Ok(first.clone());
    }
    let text = options
        .room_target(index)
        .ok_or_else(|| LoadError::Target(options.target.clone()))?;
    rsip::Uri::try_from(text.as_str()).map_err(|_| LoadError::Target(text))
}

async fn resolve_loopback(target: &rsip::Uri) -> Result<SocketAddr, LoadError> {
    let addr = resolve_target(target)
        .await
        .ok_or_else(|| LoadError::Target(target.to_string()))?;
    if !addr.ip().is_loopback() {
        return Err(LoadError::NotLoopback(addr));
    }
    Ok(addr)
}

impl Generator {
    /// Places calls at the ramp rate and keeps signalling alive until the run time is over.
    async fn drive(&mut self, options: &LoadOptions, started: Instant) {
        let end = started + options.duration;
        let interval = Duration::from_secs_f64(1.0 / options.ramp_per_sec);
        let mut next_invite = started;
        let mut placed = 0;
        loop {
            let now = Instant::now();
            if now >= end {
                return;
            }
            while placed < self.members.len() && now >= next_invite {
                self.invite(placed, now);
                placed += 1;
                next_invite += interval;
            }
            self.flush().await;
            let wake = [
                Some(end),
                (placed < self.members.len()).then_some(next_invite),
                self.layer.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end);
            tokio::select! {
                ev = self.events.recv() => self.feed(ev),
                _ = tokio::time::sleep_until(wake.into()) => self.layer.handle_timeout(Instant::now()),
            }
        }
    }

    fn invite(&mut self, index: usize, now: Instant) {
        let member = &mut self.members[index];
        let invite = member
            .dialog
            .invite(&member.offer.to_string(), &member.invite_headers);
        member.state = CallState::Calling;
        let peer = member.dialog.peer;
        self.layer.send_request(now, invite, peer);
    }

    fn feed(&mut self, event: Option<TransportEvent>) {
        if let Some(TransportEvent::Message { message, peer, .. }) = event {
            let now = Instant::now();
            match *message {
                SipMessage::Request(r) => self.layer.handle_request(now, r, peer),
                SipMessage::Response(r) => self.layer.handle_response(now, r),
            }
        }
    }

    async fn flush(&mut self) {
        while let Some(out) = self.layer.poll_output() {
            match out {
                TxOutput::Transmit { peer, data } => {
                    if let Err(e) = self.transport.send(peer, data).await {
                        warn!(error = %e, "loadgen send failed");
                    }
                }
                TxOutput::Response { response, .. } => self.on_response(response).await,
                TxOutput::Request { key, request, .. } => {
                    let index = call_id(&request).and_then(|c| self.by_call_id.get(&c).copied());
                    let status = match (request.method, index) {
                        (Method::Bye, Some(i)) => {
                            self.members[i].state = CallState::EndedByServer;
                            let _ = self.media.send(StreamCommand::Stop { index: i });
                            let _ = self.video.send(StreamCommand::Stop { index: i });
                            200
                        }
                        (Method::Bye, None) => 481,
                        (Method::Options, _) => 200,
                        _ => 405,
                    };
                    self.layer
                        .respond(Instant::now(), &key, &response_to(&request, status));
                }
                TxOutput::Timeout {
                    call_id: Some(cid), ..
                } => {
                    if let Some(&i) = self.by_call_id.get(&cid) {
                        if self.members[i].state == CallState::Calling {
                            self.members[i].state = CallState::Failed;
                        } else if self.members[i].state == CallState::Closing {
                            self.members[i].state = CallState::Done;
                        }
                    }
                }
                TxOutput::Timeout { .. } | TxOutput::AckForSuccess { .. } => {}
            }
        }
    }

    async fn on_response(&mut self, response: rsip::Response) {
        let code = response.status_code.code();
        let Some(i) = call_id(&response).and_then(|c| self.by_call_id.get(&c).copied()) else {
            return;
        };
        let method = cseq(&response).map(|(_, m)| m);
        let member = &mut self.members[i];
        match method {
            Some(Method::Bye) if code >= 200 => member.state = CallState::Done,
            Some(Method::Invite) if (200..300).contains(&code) => {
                let ack = member.dialog.accept_success(&response);
                let _ = self
                    .transport
                    .send(member.dialog.peer, bytes::Bytes::from(ack.to_string()))
                    .await;
                if member.state != CallState::Calling {
                    return; // a retransmitted 2xx: the ACK above was all it needed
                }
                let negotiated = negotiated_from_answer(&member.offer, &response.body);
                if let Some(v) = negotiated.as_ref().and_then(|n| n.video.as_ref()) {
                    member.video_up = true;
                    let _ = self.video.send(StreamCommand::Start {
                        index: i,
                        remote: v.remote_rtp,
                        payload_type: v.payload_type,
                    });
                }
                match negotiated.and_then(|n| n.audio) {
                    Some(audio) => {
                        member.state = CallState::Up;
                        let _ = self.media.send(StreamCommand::Start {
                            index: i,
                            remote: audio.remote_rtp,
                            payload_type: audio.payload_type,
                        });
                        if let Some(bar) = &self.progress {
                            bar.inc(1);
                        }
                    }
                    None => member.state = CallState::Failed,
                }
            }
            Some(Method::Invite) if code >= 300 => {
                member.state = CallState::Failed;
                info!(member = i, code, "call refused");
            }
            _ => {}
        }
    }

    /// BYE for every live call; waits (bounded) for the answers.
    async fn hang_up_all(&mut self) {
        let now = Instant::now();
        for i in 0..self.members.len() {
            let _ = self.media.send(StreamCommand::Stop { index: i });
            let _ = self.video.send(StreamCommand::Stop { index: i });
            let member = &mut self.members[i];
            if member.state == CallState::Up {
                member.state = CallState::Closing;
                let bye = member.dialog.bye();
                let peer = member.dialog.peer;
                self.layer.send_request(now, bye, peer);
            }
        }
        let limit = Instant::now() + Duration::from_secs(10);
        loop {
            self.flush().await;
            let closing = self.members.iter().any(|m| m.state == CallState::Closing);
            if !closing || Instant::now() >= limit {
                break;
            }
            let wake = self.layer.poll_timeout().unwrap_or(limit).min(limit);
            tokio::select! {
                ev = self.events.recv() => self.feed(ev),
                _ = tokio::time::sleep_until(wake.into()) => self.layer.handle_timeout(Instant::now()),
            }
        }
    }

    fn report(&self, members: usize) -> LoadReport {
        let count =
            |f: &dyn Fn(CallState) -> bool| self.members.iter().filter(|m| f(m.state)).count();
        LoadReport {
            members,
            joined: count(&|s| {
                matches!(
                    s,
                    CallState::Up | CallState::Closing | CallState::Done | CallState::EndedByServer
                )
            }),
            failed: count(&|s| {
                matches!(s, CallState::Failed | CallState::Calling | CallState::Idle)
            }),
            ended_by_server: count(&|s| s == CallState::EndedByServer),
            video_joined: self.members.iter().filter(|m| m.video_up).count(),
            ..LoadReport::default()
        }
    }
}
