//! A member's video as the media thread sees it: its RTP endpoint, the inbound decode
//! pipeline, the outgoing stream header state (90 kHz timestamps from the room clock), which
//! canvas its picture goes to and which it watches, and RTCP feedback both ways
//! (PLI/FIR in → keyframe on its view; loss or decode trouble → PLI out, RFC 4585/5104).

use crate::media::video::inbound::{VideoDecoding, VideoInbound};
use crate::rtp::clock::MediaClock;
use crate::rtp::endpoint::{Inbound, RtpEndpoint};
use crate::rtp::h264::RtpPayloads;
use crate::rtp::reorder::{Arrival, ReorderBuffer, ReorderStats};
use crate::rtp::retransmit::RetransmitHistory;
use crate::rtp::rtcp::{ntp_from_unix, write_compound, RtcpPacket, SenderInfo};
use crate::rtp::sender::RtpSender;
use crate::sdp::video::H264_CLOCK_RATE;
use crate::sdp::Direction;
use std::time::{Duration, Instant};

use super::member::{StreamUpdate, TickTime};
use super::view::{KeyframeReason, ViewFormat};

const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// Video setup built off the media thread.
pub struct MemberVideoSetup {
    pub endpoint: RtpEndpoint,
    pub payload_type: u8,
    pub direction: Direction,
    /// Inline, or on a thread of the server's decode pool.
    pub decoding: VideoDecoding,
    /// Canvas (0-based) this member receives.
    pub watching_canvas: usize,
    /// Leave the member's own tile out of what it receives (costs a view of its own).
    pub hide_self: bool,
    /// The member negotiated packetization-mode=0: it receives single NAL units only.
    pub single_nal_units: bool,
    /// What it receives has a size and bitrate of its own (a cascade leg's), not its canvas's.
    pub view_format: Option<ViewFormat>,
    /// Both sides offered generic NACK (RFC 4585 §6.2.1): we NACK its lost packets.
    pub nack: bool,
}

/// How long a gap in a member's video is waited on before it counts as loss.
pub const REORDER_WINDOW: Duration = Duration::from_millis(50);
/// The same when the member answers NACKs: long enough for a retransmission to arrive.
pub const NACK_WINDOW: Duration = Duration::from_millis(100);

/// One member's video state.
pub struct MemberVideo {
    endpoint: RtpEndpoint,
    pub direction: Direction,
    pub inbound: VideoInbound,
    /// Puts the member's packets back in order before the depacketizer sees them.
    reorder: ReorderBuffer,
    sender: RtpSender,
    /// 90 kHz clock of what we send, sharing the audio clock's epoch.
    clock: MediaClock,
    remote_ssrc: Option<u32>,
    pub watching_canvas: usize,
    pub hide_self: bool,
    /// Receives single NAL unit packets only (packetization-mode=0, RFC 6184 §6.2).
    pub single_nal_units: bool,
    pub view_format: Option<ViewFormat>,
    /// The negotiated H.264 payload type; other payload types are ignored.
    payload_type: u8,
    /// The member asked for a keyframe (PLI/FIR) or just started watching.
    pub wants_keyframe: Option<KeyframeReason>,
    /// No frame has been sent since the member started watching (or resumed) until a
    /// keyframe: frames before it would only be decode errors to the member.
    awaiting_keyframe: bool,
    next_rtcp: Option<Instant>,
    /// When RTP or RTCP last arrived on the video sockets (for the RTP timeout).
    pub(super) last_rx: Instant,
    buf: Vec<u8>,
    /// What we sent lately, to answer the member's NACKs (when it negotiated them).
    history: Option<RetransmitHistory>,
    /// Packets sent again because the member NACKed them.
    pub retransmitted: u64,
    pub frames_sent: u64,
    /// Frames not sent because the member was waiting for its first keyframe.
    pub frames_before_keyframe: u64,
}

impl MemberVideo {
    /// `epoch` is the member's audio clock epoch (one wall clock for both SRs).
    pub fn new(setup: MemberVideoSetup, epoch: Instant) -> Self {
        Self {
            endpoint: setup.endpoint,
            direction: setup.direction,
            inbound: VideoInbound::with_decoding(setup.decoding),
            reorder: ReorderBuffer::new(
                if setup.nack {
                    NACK_WINDOW
                } else {
                    REORDER_WINDOW
                },
                setup.nack,
            ),
            sender: RtpSender::new(setup.payload_type),
            clock: MediaClock::new(H264_CLOCK_RATE, epoch),
            remote_ssrc: None,
            watching_canvas: setup.watching_canvas,
            hide_self: setup.hide_self,
            single_nal_units: setup.single_nal_units,
            view_format: setup.view_format,
            payload_type: setup.payload_type,
            wants_keyframe: Some(KeyframeReason::NewWatcher),
            awaiting_keyframe: true,
            next_rtcp: None,
            last_rx: epoch,
            buf: Vec::with_capacity(1500),
            history: setup.nack.then(RetransmitHistory::default),
            retransmitted: 0,
            frames_sent: 0,
            frames_before_keyframe: 0,
        }
    }

    /// Applies a re-negotiated description (`None`: video rejected, stopped both ways). A
    /// member that starts receiving again gets a keyframe at once.
    pub fn update(&mut self, now: Instant, update: Option<StreamUpdate>) {
        let was_sending = self.direction.sends();
        self.last_rx = now;
        match update {
            Some(video) => {
                self.endpoint.update_remote(video.remote);
                self.direction = video.direction;
                self.payload_type = video.payload_type;
                self.sender.set_payload_type(video.payload_type);
            }
            None => self.direction = Direction::Inactive,
        }
        if self.direction.sends() && !was_sending {
            self.wants_keyframe = Some(KeyframeReason::NewWatcher);
            self.awaiting_keyframe = true;
        }
    }

    /// Watches canvas `canvas` (0-based) from now on: like a new watcher, it gets nothing
    /// until the new view's next keyframe, which it asks for. Returns whether it changed.
    pub fn watch(&mut self, canvas: usize) -> bool {
        if self.watching_canvas == canvas {
            return false;
        }
        self.watching_canvas = canvas;
        self.wants_keyframe = Some(KeyframeReason::NewWatcher);
        self.awaiting_keyframe = true;
        true
    }

    /// Drains the video sockets; sends a PLI when the decoder needs a keyframe.
    pub fn receive(&mut self, now: Instant) {
        let payload_type = self.payload_type;
        let Self {
            endpoint,
            inbound,
            reorder,
            remote_ssrc,
            wants_keyframe,
            direction,
            last_rx,
            ..
        } = self;
        let receiving = direction.receives();
        let ours = self.sender.ssrc();
        let mut nacked: Vec<u16> = Vec::new();
        endpoint.drain(now, |packet| match packet {
            Inbound::Rtp(rtp, _) if receiving && rtp.payload_type() == payload_type => {
                *last_rx = now;
                if remote_ssrc.is_some_and(|s| s != rtp.ssrc()) {
                    reorder.reset();
                }
                *remote_ssrc = Some(rtp.ssrc());
                let seq = u16::from(rtp.sequence_number());
                let (timestamp, marker) = (rtp.timestamp(), rtp.mark());
                if reorder.push(now, seq, timestamp, marker, rtp.payload()) == Arrival::InOrder {
                    inbound.push(now, seq, timestamp, marker, rtp.payload());
                }
            }
            Inbound::Rtp(..) => {}
            Inbound::Rtcp(packets) => {
                *last_rx = now;
                for p in packets {
                    match p {
                        RtcpPacket::PictureLossIndication { .. }
                        | RtcpPacket::FullIntraRequest { .. } => {
                            wants_keyframe.get_or_insert(KeyframeReason::Repair);
                        }
                        RtcpPacket::Nack {
                            media_ssrc, lost, ..
                        } if media_ssrc == ours => nacked.extend(lost),
                        _ => {}
                    }
                }
            }
        });
        self.retransmit(&nacked, now);
        while let Some(p) = self.reorder.pop(now) {
            self.inbound
                .push(now, p.seq, p.timestamp, p.marker, &p.payload);
        }
        let lost = self.reorder.take_nacks();
        if let (false, Some(media_ssrc)) = (lost.is_empty(), self.remote_ssrc) {
            self.send_rtcp(&[RtcpPacket::Nack {
                sender_ssrc: self.sender.ssrc(),
                media_ssrc,
                lost,
            }]);
        }
        self.inbound.collect(now);
        if self.inbound.take_keyframe_request(now) {
            if let Some(media_ssrc) = self.remote_ssrc {
                self.send_rtcp(&[RtcpPacket::PictureLossIndication {
                    sender_ssrc: self.sender.ssrc(),
                    media_ssrc,
                }]);
            }
        }
    }

    /// Sends again the packets the member NACKed that the history still holds (a plain
    /// retransmission, RFC 4585 §6.2.1; what is gone waits for the member's PLI).
    fn retransmit(&mut self, lost: &[u16], now: Instant) {
        let Some(history) = self.history.as_ref() else {
            return;
        };
        for &seq in lost {
            if let Some(packet) = history.get(seq, now) {
                self.endpoint.send_rtp(packet);
                self.retransmitted += 1;
            }
        }
    }

    /// Sends one encoded frame (shared payloads of the member's view, whose canvas was composed
    /// at `captured_at`) with our own header. A member that has not shown consent (sent RTP
    /// or RTCP), or has not had a keyframe yet, gets nothing until it has.
    pub fn send_frame(&mut self, captured_at: Instant, payloads: &RtpPayloads, keyframe: bool) {
        if !self.direction.sends() {
            return;
        }
        if !self.endpoint.consented() {
            // No video before the peer has shown it wants it (#14: a forged `c=` gets none);
            // the first frame after its RTP or RTCP arrives is a keyframe.
            self.awaiting_keyframe = true;
            return;
        }
        if self.awaiting_keyframe && !keyframe {
            self.frames_before_keyframe += 1;
            // Keep asking: the encoder's rate control may have skipped the forced IDR. The
            // view rate-limits what it makes of it.
            self.wants_keyframe
                .get_or_insert(KeyframeReason::NewWatcher);
            return;
        }
        self.awaiting_keyframe = false;
        let timestamp = self.clock.timestamp_at(captured_at);
        for (payload, marker) in payloads.iter_with_marker() {
            self.sender
                .packetize_at(payload, timestamp, marker, &mut self.buf);
            self.endpoint.send_rtp(&self.buf);
            if let Some(history) = self.history.as_mut() {
                history.remember(&self.buf, captured_at);
            }
        }
        self.frames_sent += 1;
    }

    /// Sends an SR for the video stream when due; before we have sent any video, an RR (the
    /// first at once). That RR is what shows a far server our consent to its video: two
    /// servers on a cascade leg would otherwise each wait for the other's video first.
    pub fn maybe_send_rtcp(&mut self, t: TickTime) {
        let due = self.next_rtcp.is_none_or(|at| t.now >= at);
        if !due {
            return;
        }
        self.next_rtcp = Some(t.now + RTCP_INTERVAL);
        if !self.sender.has_sent() {
            self.send_rtcp(&[RtcpPacket::ReceiverReport {
                ssrc: self.sender.ssrc(),
                reports: Vec::new(),
            }]);
            return;
        }
        let (packet_count, octet_count) = self.sender.counts();
        let rtp_timestamp = self.clock.timestamp_at(t.now);
        self.send_rtcp(&[RtcpPacket::SenderReport {
            ssrc: self.sender.ssrc(),
            info: SenderInfo {
                ntp_timestamp: ntp_from_unix(t.since_unix_epoch),
                rtp_timestamp,
                packet_count,
                octet_count,
            },
            reports: Vec::new(),
        }]);
    }

    fn send_rtcp(&mut self, packets: &[RtcpPacket]) {
        let mut out = Vec::with_capacity(64);
        write_compound(packets, &mut out);
        self.endpoint.send_rtcp(&out);
    }

    pub fn reorder_stats(&self) -> ReorderStats {
        self.reorder.stats()
    }

    pub fn counters(&self) -> crate::rtp::endpoint::EndpointCounters {
        self.endpoint.counters()
    }

    pub fn local_port(&self) -> u16 {
        self.endpoint.local_port()
    }
}
