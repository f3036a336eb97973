//! The dial loop: signalling (through the shared transaction layer) and media (a 20 ms ticker
//! that encodes the tone and records the decoded audio) in one task.

use super::video::DialVideo;
use super::{DialError, DialOptions, DialReport, DialTransport};
use crate::media::audio::codec::{
    rtp_ticks_per_frame, AudioEncoder, EncoderSettings, FRAME_SAMPLES,
};
use crate::media::audio::inbound::{AudioInbound, DecodeNeed};
use crate::media::audio::tone::ToneGenerator;
use crate::rtp::rtcp::is_rtcp;
use crate::rtp::sender::RtpSender;
use crate::sdp::{
    build_offer, Direction, LocalMedia, NegotiatedAudio, NegotiatedVideo, SessionDescription,
};
use crate::sip::message::{call_id, response_to};
use crate::sip::peer::Peer;
use crate::sip::timers::TimerConfig;
use crate::sip::transaction::{TransactionLayer, TxOutput};
use crate::sip::transport::{local_ip_towards, Transport, TransportEvent};
use crate::sip::uac_dialog::UacDialog;
use crate::sip::uac_dialog::{negotiated_from_answer, resolve_target};
use rsip::{Method, SipMessage};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tracing::{debug, info, warn};

/// Amplitude of the test tone (about −12 dBFS peak).
const TONE_AMPLITUDE: i16 = 8000;

/// One call's signalling: the transport, its transactions and the dialog.
pub(super) struct Uac {
    pub transport: Transport,
    pub events: mpsc::Receiver<TransportEvent>,
    pub layer: TransactionLayer,
    pub dialog: UacDialog,
}

enum Phase {
    Calling,
    Answered(NegotiatedAudio, Option<NegotiatedVideo>),
    Failed(u16),
    RemoteHangup,
}

/// Places the call described by `options` and returns its report.
pub async fn dial(options: DialOptions) -> Result<DialReport, DialError> {
    let target: rsip::Uri = rsip::Uri::try_from(options.target.as_str())
        .map_err(|_| DialError::Target(options.target.clone()))?;
    let server = resolve(&target).await?;
    let local_ip = local_ip_towards(server.ip());
    let bind: SocketAddr = SocketAddr::new(local_ip, 0);
    let (transport, events) = Transport::bind(bind, None).await?;
    let peer = match options.transport {
        DialTransport::Udp => Peer::udp(server),
        DialTransport::Tcp => transport.connect_tcp(server).await?,
    };
    let rtp = UdpSocket::bind(SocketAddr::new(local_ip, 0))
        .await
        .map_err(DialError::Rtp)?;
    let rtp_port = rtp.local_addr().map_err(DialError::Rtp)?.port();
    let video_socket = if options.wants_video() {
        Some(
            UdpSocket::bind(SocketAddr::new(local_ip, 0))
                .await
                .map_err(DialError::Rtp)?,
        )
    } else {
        None
    };
    let video_port = match &video_socket {
        Some(s) => Some(s.local_addr().map_err(DialError::Rtp)?.port()),
        None => None,
    };
    let local = transport.local_addr();
    let mut uac = Uac {
        layer: TransactionLayer::new(TimerConfig::default()),
        dialog: UacDialog::new(target, &options.from, local, peer),
        transport,
        events,
    };
    let offer = build_offer(&LocalMedia {
        address: local_ip,
        session_id: rand::random::<u32>() as u64,
        session_version: 1,
        audio_port: rtp_port,
        audio_codecs: vec![options.codec],
        offer_rtcp_mux: true,
        video_port,
        direction: Direction::SendRecv,
    });
    let invite = uac.dialog.invite(&offer.to_string(), &options.headers);
    uac.layer.send_request(Instant::now(), invite, peer);
    let mut report = empty_report(&options);
    let phase = uac.wait_for_answer(&offer, options.answer_timeout).await;
    let (audio, negotiated_video) = match phase {
        Phase::Answered(audio, video) => (audio, video),
        Phase::Failed(status) => {
            report.status = status;
            if uac.dialog.remote_tag.is_some() && (200..300).contains(&status) {
                // Answered, but with nothing we can use: do not leave the call up.
                report.ended_by = Some("unusable SDP answer".to_string());
                uac.hang_up().await;
            }
            return Ok(report);
        }
        Phase::Calling | Phase::RemoteHangup => return Ok(report),
    };
    let sockets = CallSockets {
        rtp,
        video: video_socket,
    };
    uac.converse(&options, &audio, negotiated_video, sockets, report)
        .await
}

/// A report of a call that has not happened yet.
pub(super) fn empty_report(options: &DialOptions) -> DialReport {
    DialReport {
        answered: false,
        status: 0,
        codec: options.codec.encoding_name().to_string(),
        rx_packets: 0,
        tx_packets: 0,
        duration_s: 0.0,
        ended_by: None,
        recording: Vec::new(),
        media_started: None,
        video_rx_frames: 0,
        video_pli_sent: 0,
        video_width: 0,
        video_height: 0,
        last_frame: None,
        video_decoded_at: Vec::new(),
    }
}

/// The media sockets of a call.
pub(super) struct CallSockets {
    pub rtp: UdpSocket,
    pub video: Option<UdpSocket>,
}

async fn resolve(target: &rsip::Uri) -> Result<SocketAddr, DialError> {
    resolve_target(target)
        .await
        .ok_or_else(|| DialError::Resolve(target.host_with_port.host.to_string()))
}

impl Uac {
    /// The call after the answer: media for `options.duration` (or until the remote BYE),
    /// then BYE, the report and the files asked for.
    pub(super) async fn converse(
        &mut self,
        options: &DialOptions,
        audio: &NegotiatedAudio,
        negotiated_video: Option<NegotiatedVideo>,
        sockets: CallSockets,
        mut report: DialReport,
    ) -> Result<DialReport, DialError> {
        report.answered = true;
        report.status = 200;
        info!(codec = audio.codec.encoding_name(), remote = %audio.remote_rtp, "call answered");
        let started = Instant::now();
        let mut video = match (sockets.video, negotiated_video) {
            (Some(socket), Some(v)) => {
                match DialVideo::new(socket, &v, options.color, options.video_size) {
                    Ok(mut video) => {
                        video.set_drop_every(options.drop_every_nth_video_packet);
                        Some(video)
                    }
                    Err(e) => {
                        warn!(error = %e, "video unavailable; continuing with audio only");
                        None
                    }
                }
            }
            _ => None,
        };
        let hung_up = self
            .run_media(options, audio, &sockets.rtp, video.as_mut(), &mut report)
            .await?;
        if let Some(v) = video.as_mut() {
            report.video_rx_frames = v.inbound.stats().frames_decoded;
            report.video_pli_sent = v.inbound.stats().keyframe_requests;
            report.last_frame = v.captured.clone().or_else(|| v.last_picture());
            report.video_decoded_at = std::mem::take(&mut v.decoded_at);
            if let Some(f) = &report.last_frame {
                report.video_width = f.width;
                report.video_height = f.height;
            }
        }
        report.duration_s = started.elapsed().as_secs_f64();
        if hung_up {
            report.ended_by = Some("remote BYE".to_string());
        } else {
            self.hang_up().await;
        }
        // Files are written after the BYE so a write error never leaves the call up.
        if let (Some(path), Some(frame)) = (&options.save_frame, &report.last_frame) {
            frame.write_png(path)?;
        }
        if let Some(path) = &options.record_wav {
            write_wav(path, &report.recording)?;
        }
        Ok(report)
    }

    /// Drives signalling until the INVITE gets a final response.
    async fn wait_for_answer(&mut self, offer: &SessionDescription, limit: Duration) -> Phase {
        let give_up = Instant::now() + limit;
        loop {
            let mut phase = Phase::Calling;
            while let Some(out) = self.layer.poll_output() {
                if let Some(p) = self.handle_output(out, Some(offer)).await {
                    phase = p;
                }
            }
            if !matches!(phase, Phase::Calling) {
                return phase;
            }
            if Instant::now() >= give_up {
                return Phase::Failed(408);
            }
            self.step(give_up).await;
        }
    }

    /// Waits for one transport event or timer.
    async fn step(&mut self, limit: Instant) {
        let deadline = self.layer.poll_timeout().unwrap_or(limit).min(limit);
        tokio::select! {
            ev = self.events.recv() => self.feed(ev),
            _ = tokio::time::sleep_until(deadline.into()) => self.layer.handle_timeout(Instant::now()),
        }
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

    async fn handle_output(
        &mut self,
        out: TxOutput,
        offer: Option<&SessionDescription>,
    ) -> Option<Phase> {
        match out {
            TxOutput::Transmit { peer, data } => {
                if let Err(e) = self.transport.send(peer, data).await {
                    warn!(error = %e, "send failed");
                }
                None
            }
            TxOutput::Response { response, .. } => {
                let code = response.status_code.code();
                let is_invite =
                    crate::sip::message::cseq(&response).is_some_and(|(_, m)| m == Method::Invite);
                if !is_invite || code < 200 {
                    return None;
                }
                if code >= 300 {
                    return Some(Phase::Failed(code));
                }
                let ack = self.dialog.accept_success(&response);
                let _ = self
                    .transport
                    .send(self.dialog.peer, bytes::Bytes::from(ack.to_string()))
                    .await;
                let negotiated = negotiated_from_answer(offer?, &response.body);
                match negotiated.and_then(|n| n.audio.map(|a| (a, n.video))) {
                    Some((audio, video)) => Some(Phase::Answered(audio, video)),
                    None => {
                        warn!("2xx without a usable SDP answer");
                        Some(Phase::Failed(code))
                    }
                }
            }
            TxOutput::Request { key, request, .. } => {
                let ours = call_id(&request).as_deref() == Some(self.dialog.call_id.as_str());
                let status = match request.method {
                    Method::Bye if ours => 200,
                    Method::Options => 200,
                    Method::Bye => 481,
                    _ => 405,
                };
                let resp = response_to(&request, status);
                self.layer.respond(Instant::now(), &key, &resp);
                (request.method == Method::Bye && ours).then_some(Phase::RemoteHangup)
            }
            TxOutput::Timeout { .. } => Some(Phase::Failed(408)),
            TxOutput::AckForSuccess { .. } => None,
        }
    }

    /// Sends the tone and records for `options.duration`; true when the server hung up.
    async fn run_media(
        &mut self,
        options: &DialOptions,
        audio: &NegotiatedAudio,
        rtp: &UdpSocket,
        mut video: Option<&mut DialVideo>,
        report: &mut DialReport,
    ) -> Result<bool, DialError> {
        let mut video_ticker = tokio::time::interval(super::video::SEND_INTERVAL);
        video_ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut video_buf = vec![0u8; 2048];
        let mut encoder = AudioEncoder::new(audio.codec, EncoderSettings::default())?;
        let mut inbound = AudioInbound::new(audio.codec)?;
        let mut tone = options
            .tone_hz
            .map(|hz| ToneGenerator::new(hz, TONE_AMPLITUDE, 48_000));
        let mut sender = RtpSender::new(audio.payload_type);
        let mut keys = options
            .dtmf
            .as_deref()
            .zip(audio.telephone_event)
            .map(|(digits, te)| KeyPresses::new(digits, te));
        let answered_at = Instant::now();
        report.media_started = Some(answered_at);
        let ticks = rtp_ticks_per_frame(audio.codec);
        let mut frame = vec![0i16; FRAME_SAMPLES];
        let mut payload = Vec::with_capacity(1500);
        let mut packet = Vec::with_capacity(1500);
        let mut buf = vec![0u8; 2048];
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let end = Instant::now() + options.duration;
        let frames_total = (options.duration.as_millis() / 20) as usize;
        report.recording.reserve(frames_total * FRAME_SAMPLES);
        loop {
            let sig_deadline = self.layer.poll_timeout().unwrap_or(end).min(end);
            tokio::select! {
                _ = ticker.tick() => {
                    let now = Instant::now();
                    if now >= end {
                        return Ok(false);
                    }
                    if let Some(t) = tone.as_mut() {
                        t.fill(&mut frame);
                    }
                    if audio.direction.sends() {
                        encoder.encode(&frame, &mut payload)?;
                        sender.packetize(&payload, ticks, &mut packet);
                        if rtp.send_to(&packet, audio.remote_rtp).await.is_ok() {
                            report.tx_packets += 1;
                        }
                        let due = now >= answered_at + options.dtmf_at;
                        if let Some(event) = keys.as_mut().filter(|_| due).and_then(|k| k.next(sender.last_timestamp())) {
                            sender.packetize_event(event.payload_type, &event.payload, event.timestamp, event.marker, &mut packet);
                            let _ = rtp.send_to(&packet, audio.remote_rtp).await;
                        }
                    }
                    if let (Some(v), Some(at)) = (video.as_deref_mut(), options.capture_frame_at) {
                        if v.captured.is_none() && now >= end - options.duration + at {
                            v.captured = v.last_picture();
                        }
                    }
                    match inbound.next_frame(now, DecodeNeed::Everything) {
                        Some(f) => report.recording.extend_from_slice(f),
                        None => report.recording.extend(std::iter::repeat_n(0, FRAME_SAMPLES)),
                    }
                }
                received = rtp.recv_from(&mut buf) => {
                    let Ok((len, _from)) = received else { continue };
                    let data = &buf[..len];
                    if is_rtcp(data) {
                        continue;
                    }
                    if let Ok(p) = rtp_rs::RtpReader::new(data) {
                        if p.payload_type() == audio.payload_type {
                            report.rx_packets += 1;
                            inbound.push(Instant::now(), u16::from(p.sequence_number()), p.timestamp(), p.payload());
                        }
                    }
                }
                _ = video_ticker.tick(), if video.is_some() => {
                    if let Some(v) = video.as_deref_mut() {
                        v.send_report(Instant::now()).await;
                        v.send_frame(Instant::now()).await;
                    }
                }
                received = recv_video(video.as_deref(), &mut video_buf) => {
                    if let (Some(v), Some(len)) = (video.as_deref_mut(), received) {
                        v.receive(Instant::now(), &video_buf[..len]).await;
                    }
                }
                ev = self.events.recv() => self.feed(ev),
                _ = tokio::time::sleep_until(sig_deadline.into()) => self.layer.handle_timeout(Instant::now()),
            }
            while let Some(out) = self.layer.poll_output() {
                if let Some(Phase::RemoteHangup) = self.handle_output(out, None).await {
                    debug!("server hung up");
                    return Ok(true);
                }
            }
        }
    }

    /// Sends BYE and waits (bounded) for its response.
    async fn hang_up(&mut self) {
        let bye = self.dialog.bye();
        let Some(key) = self
            .layer
            .send_request(Instant::now(), bye, self.dialog.peer)
        else {
            return;
        };
        let limit = Instant::now() + Duration::from_secs(8);
        loop {
            while let Some(out) = self.layer.poll_output() {
                match out {
                    TxOutput::Response { key: k, response }
                        if k == key && response.status_code.code() >= 200 =>
                    {
                        return
                    }
                    TxOutput::Timeout { .. } => return,
                    other => {
                        self.handle_output(other, None).await;
                    }
                }
            }
            if Instant::now() >= limit {
                return;
            }
            self.step(limit).await;
        }
    }
}

/// Receives one datagram on the video socket (pending forever without video).
async fn recv_video(video: Option<&DialVideo>, buf: &mut [u8]) -> Option<usize> {
    match video {
        Some(v) => v.socket.recv_from(buf).await.ok().map(|(n, _)| n),
        None => std::future::pending().await,
    }
}

fn write_wav(path: &std::path::Path, samples: &[i16]) -> Result<(), DialError> {
    let wav_err = |source| DialError::Wav {
        path: path.display().to_string(),
        source,
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(wav_err)?;
    for s in samples {
        writer.write_sample(*s).map_err(wav_err)?;
    }
    writer.finalize().map_err(wav_err)
}

/// One RFC 4733 packet to send this tick.
struct KeyEvent {
    payload_type: u8,
    payload: [u8; 4],
    timestamp: u32,
    marker: bool,
}

/// Key presses of `tessera dial --dtmf`: one packet per 20 ms tick, each digit 200 ms long
/// (its end packet three times), then 100 ms of pause before the next.
struct KeyPresses {
    te: crate::sdp::codec::TelephoneEvent,
    digits: std::collections::VecDeque<u8>,
    /// Packets of the digit being pressed, and its timestamp.
    current: std::collections::VecDeque<[u8; 4]>,
    started: Option<u32>,
    first: bool,
    pause: u32,
}

/// Pause between key presses, in 20 ms ticks.
const KEY_GAP_TICKS: u32 = 5;

impl KeyPresses {
    fn new(digits: &str, te: crate::sdp::codec::TelephoneEvent) -> Self {
        Self {
            te,
            digits: digits
                .chars()
                .filter_map(crate::rtp::telephone_event::event_code)
                .collect(),
            current: Default::default(),
            started: None,
            first: false,
            pause: 0,
        }
    }

    fn next(&mut self, audio_timestamp: u32) -> Option<KeyEvent> {
        if self.current.is_empty() {
            if self.pause > 0 {
                self.pause -= 1;
                return None;
            }
            let code = self.digits.pop_front()?;
            let rate = self.te.clock_rate;
            let duration = (rate / 5).min(u16::MAX as u32) as u16; // 200 ms
            let step = (rate / 50) as u16; // 20 ms
            self.current = crate::rtp::telephone_event::digit_payloads(code, duration, step).into();
            self.started = Some(audio_timestamp);
            self.first = true;
        }
        let payload = self.current.pop_front()?;
        if self.current.is_empty() {
            self.pause = KEY_GAP_TICKS;
        }
        let marker = std::mem::take(&mut self.first);
        Some(KeyEvent {
            payload_type: self.te.payload_type,
            payload,
            timestamp: self.started.unwrap_or(audio_timestamp),
            marker,
        })
    }
}
