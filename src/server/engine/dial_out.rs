//! Dial-out: the engine as a UAC (RFC 3261 §13.2, §9.1). An operator asks for a call to a URI;
//! the engine sends the INVITE with its offer, reports progress (`trying`, `ringing`,
//! `answered`, `failed` with the status), ACKs the 2xx (again for every retransmitted 2xx),
//! CANCELs on timeout or on request, and turns an answered call into a `dialout` member of the
//! room. Cascade legs will be outbound calls of this same path.

use super::{default_codecs, CallEngine, PlacementError};
use crate::cascade::CASCADE_HEADER;
use crate::conference::member::MemberId;
use crate::conference::member_control::Role;
use crate::conference::registry::is_valid_room_id;
use crate::media::audio::inbound::AudioInbound;
use crate::rtp::port_pool::RtpSocketPair;
use crate::sdp::{accept_answer, build_offer, Direction, LocalMedia, SessionDescription};
use crate::server::call::{Call, CallState};
use crate::server::control::ControlError;
use crate::server::media_setup::{
    build_member, build_member_video, build_shared_encoders, MemberIdentity, VideoPlan,
};
use crate::server::roster::MemberKind;
use crate::server::server_event::{DialState, LeaveReason, ServerEvent};
use crate::sip::message::call_id;
use crate::sip::peer::Peer;
use crate::sip::uac_dialog::{cancel_for, UacDialog};
use bytes::Bytes;
use rsip::headers::UntypedHeader;
use rsip::{Request, Response};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long a CANCEL waits for the INVITE's final response before the dial is given up.
const CANCEL_GRACE: Duration = Duration::from_secs(4);

/// Longest ring time an operator may ask for.
pub const MAX_DIAL_TIMEOUT: Duration = Duration::from_secs(300);

/// What an operator asks for.
#[derive(Debug, Clone)]
pub struct DialRequest {
    /// `sip:user@IP[:port]` (UDP).
    pub uri: String,
    /// Name shown for the member (default: the URI's user).
    pub name: Option<String>,
    /// 1-based canvas showing the member (0: on none); default as for callers.
    pub canvas: Option<usize>,
    /// 1-based canvas the member watches.
    pub watching_canvas: Option<usize>,
    /// Ring this long, then CANCEL.
    pub timeout: Duration,
    /// The cascade leg this call is to carry.
    pub leg: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Trying,
    Ringing,
    /// CANCEL sent; the INVITE's final response is awaited until the deadline.
    Cancelling,
}

/// What every progress event of a dial names.
#[derive(Debug, Clone)]
struct DialLabel {
    id: String,
    room: String,
    uri: String,
}

/// An outbound call not answered yet.
pub(super) struct PendingDial {
    label: DialLabel,
    name: String,
    member: MemberId,
    dialog: UacDialog,
    invite: Request,
    offer: SessionDescription,
    sockets: RtpSocketPair,
    video_sockets: Option<RtpSocketPair>,
    placement: (Option<usize>, usize),
    phase: Phase,
    deadline: Instant,
    /// The cascade leg it carries.
    leg: Option<String>,
}

impl PendingDial {
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// The IP address and port of a `sip:` URI whose host is an IP address.
fn target_addr(target: &rsip::Uri) -> Result<SocketAddr, ControlError> {
    let host = target.host_with_port.host.to_string();
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| {
            ControlError::Invalid(format!("uri: dial-out needs an IP address, not {host:?}"))
        })?;
    let port = target
        .host_with_port
        .port
        .as_ref()
        .map_or(5060, |p| *p.value());
    Ok(SocketAddr::new(ip, port))
}

impl CallEngine {
    /// Starts a call to `request.uri` for `room`; answers the dial's id.
    pub(super) fn start_dial(
        &mut self,
        now: Instant,
        room: &str,
        request: DialRequest,
    ) -> Result<String, ControlError> {
        if self.shutdown_deadline.is_some() {
            return Err(ControlError::Unavailable);
        }
        if !is_valid_room_id(room) {
            return Err(ControlError::InvalidRoomId);
        }
        let target = rsip::Uri::try_from(request.uri.as_str())
            .map_err(|e| ControlError::Invalid(format!("uri: {e}")))?;
        if request.uri.to_ascii_lowercase().contains("transport=tcp") {
            return Err(ControlError::Invalid(
                "uri: dial-out is over UDP only".to_string(),
            ));
        }
        let remote = target_addr(&target)?;
        if request.timeout.is_zero() || request.timeout > MAX_DIAL_TIMEOUT {
            return Err(ControlError::Invalid(format!(
                "timeout_s must be 1..={}",
                MAX_DIAL_TIMEOUT.as_secs()
            )));
        }
        let placement = self
            .placement(room, request.canvas, request.watching_canvas)
            .map_err(|e| {
                let what = match e {
                    PlacementError::Initial => "canvas",
                    PlacementError::Watching => "watching_canvas",
                };
                ControlError::Invalid(self.placement_error_text(room, what, e))
            })?;
        let ip = self.config.sip.public_ip.unwrap_or(self.sip_addr.ip());
        let ip = match ip {
            ip if !ip.is_unspecified() => ip,
            _ if remote.ip().is_loopback() => remote.ip(),
            _ => {
                return Err(ControlError::Invalid(
                    "dial-out needs the server's address: set --public-ip".to_string(),
                ))
            }
        };
        let local = SocketAddr::new(ip, self.sip_addr.port());
        let no_ports = |e| {
            warn!(error = %e, "cannot allocate RTP ports for dial-out");
            ControlError::NoPorts
        };
        let sockets = self.ports.allocate().map_err(no_ports)?;
        let video_sockets = match self.config.video.enabled {
            true => Some(self.ports.allocate().map_err(no_ports)?),
            false => None,
        };
        let offer = build_offer(&LocalMedia {
            address: ip,
            session_id: rand::random::<u32>() as u64,
            session_version: 1,
            audio_port: sockets.rtp_port(),
            audio_codecs: default_codecs(),
            offer_rtcp_mux: true,
            video_port: video_sockets.as_ref().map(|s| s.rtp_port()),
            direction: Direction::SendRecv,
        });
        let peer = Peer::udp(remote);
        let dialog = UacDialog::new(target.clone(), room, local, peer);
        let headers: Vec<(String, String)> = match &request.leg {
            Some(leg) => vec![(
                CASCADE_HEADER.to_string(),
                self.cascade_header(room, Some(leg)),
            )],
            None => Vec::new(),
        };
        let invite = dialog.invite(&offer.to_string(), &headers);
        if self.layer.send_request(now, invite.clone(), peer).is_none() {
            return Err(ControlError::Invalid("cannot build the INVITE".to_string()));
        }
        self.next_dial += 1;
        let id = format!("dial-{}", self.next_dial);
        let member = self.next_member;
        self.next_member += 1;
        let name = request
            .name
            .or_else(|| target.user().map(str::to_string))
            .unwrap_or_else(|| request.uri.clone());
        info!(dial = %id, %room, uri = %request.uri, "dialling out");
        let dial = PendingDial {
            label: DialLabel {
                id: id.clone(),
                room: room.to_string(),
                uri: request.uri,
            },
            name,
            member,
            dialog,
            invite,
            offer,
            sockets,
            video_sockets,
            placement,
            phase: Phase::Trying,
            deadline: now + request.timeout,
            leg: request.leg,
        };
        self.progress(&dial.label, DialState::Trying, None, None);
        self.dials.insert(dial.dialog.call_id.clone(), dial);
        Ok(id)
    }

    fn progress(
        &mut self,
        dial: &DialLabel,
        state: DialState,
        status: Option<u16>,
        member: Option<MemberId>,
    ) {
        self.events.push_back(ServerEvent::DialProgress {
            room: dial.room.clone(),
            dial_id: dial.id.clone(),
            uri: dial.uri.clone(),
            state,
            status,
            member,
        });
    }

    /// CANCELs a pending dial at the operator's request.
    pub(super) fn cancel_dial(&mut self, now: Instant, id: &str) -> Result<(), ControlError> {
        let cid = self
            .dials
            .iter()
            .find(|(_, d)| d.label.id == id)
            .map(|(cid, _)| cid.clone())
            .ok_or_else(|| ControlError::UnknownDial(id.to_string()))?;
        info!(dial = %id, "dial cancelled by API");
        self.send_cancel(now, &cid);
        Ok(())
    }

    /// The call-id of the dial carrying cascade leg `leg`.
    pub(super) fn dial_call_of_leg(&self, leg: &str) -> Option<String> {
        self.dials
            .iter()
            .find(|(_, d)| d.leg.as_deref() == Some(leg))
            .map(|(cid, _)| cid.clone())
    }

    /// CANCELs the dial of call `cid`.
    pub(super) fn cancel_dial_call(&mut self, now: Instant, cid: &str) {
        self.send_cancel(now, cid);
    }

    fn send_cancel(&mut self, now: Instant, cid: &str) {
        let Some(dial) = self.dials.get_mut(cid) else {
            return;
        };
        if dial.phase == Phase::Cancelling {
            return;
        }
        dial.phase = Phase::Cancelling;
        dial.deadline = now + CANCEL_GRACE;
        let cancel = cancel_for(&dial.invite);
        let peer = dial.dialog.peer;
        self.layer.send_request(now, cancel, peer);
    }

    /// Dials whose ring time or CANCEL grace has passed.
    pub(super) fn dial_timers(&mut self, now: Instant) {
        let due: Vec<(String, Phase)> = self
            .dials
            .iter()
            .filter(|(_, d)| d.deadline <= now)
            .map(|(cid, d)| (cid.clone(), d.phase))
            .collect();
        for (cid, phase) in due {
            match phase {
                Phase::Trying | Phase::Ringing => {
                    info!(call_id = %cid, "dial-out not answered in time; cancelling");
                    self.send_cancel(now, &cid);
                }
                Phase::Cancelling => self.fail_dial(&cid, 408),
            }
        }
    }

    /// Ends a pending dial with `status` (its ports return to the pool).
    pub(super) fn fail_dial(&mut self, cid: &str, status: u16) {
        if let Some(dial) = self.dials.remove(cid) {
            info!(dial = %dial.label.id, status, "dial-out failed");
            self.progress(&dial.label, DialState::Failed, Some(status), None);
            if let Some(leg) = &dial.leg {
                self.leg_down(leg, Some(status));
            }
        }
    }

    /// Cancels the pending dials into `room` (the room is being deleted).
    pub(super) fn cancel_dials_into(&mut self, now: Instant, room: &str) {
        let pending: Vec<String> = self
            .dials
            .iter()
            .filter(|(_, d)| d.label.room == room)
            .map(|(cid, _)| cid.clone())
            .collect();
        for cid in pending {
            self.send_cancel(now, &cid);
            self.fail_dial(&cid, 487);
        }
    }

    /// Cancels every pending dial (shutdown).
    pub(super) fn cancel_all_dials(&mut self, now: Instant) {
        let pending: Vec<String> = self.dials.keys().cloned().collect();
        for cid in pending {
            self.send_cancel(now, &cid);
            self.fail_dial(&cid, 503);
        }
    }

    /// A response to an INVITE we sent; true when it belonged to a dial-out.
    pub(super) fn on_dial_response(&mut self, now: Instant, response: &Response) -> bool {
        let Some(cid) = call_id(response) else {
            return false;
        };
        let code = response.status_code.code();
        if !self.dials.contains_key(&cid) {
            // A retransmitted 2xx of an answered dial: ACK it again (RFC 3261 §13.2.2.4).
            let Some(call) = self.calls.get(&cid) else {
                return false;
            };
            if let (true, Some(ack)) = ((200..300).contains(&code), call.ack.clone()) {
                self.transmits.push_back((call.peer, ack));
            }
            return true;
        }
        match code {
            100 => {}
            101..=199 => {
                let ringing = self.dials.get_mut(&cid).and_then(|dial| {
                    (dial.phase == Phase::Trying).then(|| {
                        dial.phase = Phase::Ringing;
                        dial.label.clone()
                    })
                });
                if let Some(label) = ringing {
                    self.progress(&label, DialState::Ringing, Some(code), None);
                }
            }
            200..=299 => self.dial_answered(now, &cid, response),
            _ => self.fail_dial(&cid, code),
        }
        true
    }

    fn dial_answered(&mut self, now: Instant, cid: &str, response: &Response) {
        let Some(mut dial) = self.dials.remove(cid) else {
            return;
        };
        let ack = dial.dialog.accept_success(response);
        let ack = Bytes::from(ack.to_string());
        let peer = dial.dialog.peer;
        self.transmits.push_back((peer, ack.clone()));
        let negotiated = std::str::from_utf8(&response.body)
            .map_err(|_| "the answer is not UTF-8".to_string())
            .and_then(|text| SessionDescription::parse(text).map_err(|e| e.to_string()))
            .and_then(|answer| accept_answer(&dial.offer, &answer).map_err(|e| e.to_string()))
            .inspect_err(|e| warn!(dial = %dial.label.id, error = %e, "unusable SDP answer"))
            .ok()
            .filter(|n| n.audio.is_some() || n.video.is_some());
        let mut call = self.dialled_call(&dial, ack);
        if let Some(leg) = &dial.leg {
            if let Err(status) = self.leg_answered(leg, cid, response) {
                // A ring closed by a simultaneous dial, or a duplicate leg: end this one.
                call.leg = None;
                self.by_member.insert(call.member, cid.to_string());
                self.calls.insert(cid.to_string(), call);
                self.progress(&dial.label, DialState::Failed, Some(status), None);
                self.hang_up(now, cid, LeaveReason::Bye);
                return;
            }
            if let Some(l) = self.cascades.get_mut(leg) {
                l.member = Some(call.member);
                if let Some(node) = &l.remote_node {
                    call.name = node.to_string();
                    dial.name = node.to_string();
                }
            }
        }
        let cancelled = dial.phase == Phase::Cancelling;
        let label = dial.label.clone();
        let room = label.room.clone();
        self.by_member.insert(call.member, cid.to_string());
        self.calls.insert(cid.to_string(), call);
        let Some(negotiated) = negotiated.filter(|_| !cancelled) else {
            // Answered after our CANCEL, or with nothing usable: end it at once.
            let status = if cancelled { 487 } else { 488 };
            self.progress(&label, DialState::Failed, Some(status), None);
            self.hang_up(now, cid, LeaveReason::Bye);
            return;
        };
        let audio = negotiated.audio.unwrap_or_else(super::silent_audio);
        let who = MemberIdentity {
            id: dial.member,
            call_id: cid.to_string(),
            name: dial.name.clone(),
            signalling_ip: peer.addr.ip(),
            initial_canvas: dial.placement.0,
        };
        let settings = self.encoder_settings;
        let built = build_member(who, dial.sockets, &audio, settings).map_err(|e| e.to_string());
        let setup = built.and_then(|mut setup| {
            if dial.leg.is_some() {
                // The far server paced its mix: no extra playout frame per hop.
                setup.inbound = AudioInbound::paced(audio.codec).map_err(|e| e.to_string())?;
            }
            if let (Some(video), Some(sockets)) = (negotiated.video.as_ref(), dial.video_sockets) {
                let plan = VideoPlan {
                    sockets,
                    negotiated: video,
                    watching_canvas: dial.placement.1,
                    // A cascade leg never gets back what came over it, and has its own view.
                    hide_self: dial.leg.is_some(),
                    view_format: dial
                        .leg
                        .as_ref()
                        .and_then(|leg| self.cascades.get(leg)?.request.as_ref())
                        .map(|r| r.video),
                    codec_pool: Some(&self.codec_pool),
                };
                setup.video =
                    Some(build_member_video(plan, peer.addr.ip()).map_err(|e| e.to_string())?);
            }
            Ok(setup)
        });
        if let Some(call) = self.calls.get_mut(cid) {
            call.codec = Some(audio.codec);
            if negotiated.video.is_none() {
                call.video_port = None;
            }
        }
        let canvases = super::room_canvases(&self.policies, &self.config, &room);
        let joined = setup.and_then(|setup| {
            self.registry
                .join(&room, setup, &canvases, || build_shared_encoders(settings))
                .map_err(|e| e.to_string())
        });
        match joined {
            Ok(()) => {
                info!(dial = %label.id, %room, member = dial.member, "dial-out answered");
                self.progress(&label, DialState::Answered, Some(200), Some(dial.member));
                self.joined(now, cid);
            }
            Err(e) => {
                warn!(dial = %label.id, error = %e, "dial-out answered but media failed; hanging up");
                self.progress(&label, DialState::Failed, Some(500), None);
                self.hang_up(now, cid, LeaveReason::RoomEnded);
            }
        }
    }

    /// The dialog of an answered dial, as a call of kind `dialout`.
    fn dialled_call(&self, dial: &PendingDial, ack: Bytes) -> Call {
        let d = &dial.dialog;
        let remote_tag = d.remote_tag.clone().unwrap_or_default();
        Call {
            call_id: d.call_id.clone(),
            room: dial.label.room.clone(),
            member: dial.member,
            name: dial.name.clone(),
            uri: dial.label.uri.clone(),
            kind: if dial.leg.is_some() {
                MemberKind::Cascade
            } else {
                MemberKind::Dialout
            },
            role: Role::default(),
            leg: dial.leg.clone(),
            state: CallState::Confirmed,
            peer: d.peer,
            local_addr: d.local,
            local_tag: d.local_tag.clone(),
            remote_tag: d.remote_tag.clone(),
            remote_from: rsip::headers::From::new(format!("<{}>;tag={remote_tag}", d.target)),
            local_to: rsip::headers::To::new(format!(
                "\"{}\" <sip:{}@{}>",
                d.from_user,
                d.from_user,
                d.local.ip()
            )),
            remote_target: d.remote_target.clone().unwrap_or_else(|| d.target.clone()),
            route_set: Vec::new(),
            local_cseq: d.cseq,
            local_sdp: Some(dial.offer.clone()),
            pending_offer: None,
            invite: None,
            staged: None,
            awaiting_pin: false,
            controls: Default::default(),
            joined: false,
            joined_at: None,
            codec: None,
            reoffer: None,
            rtp_port: dial.sockets.rtp_port(),
            video_port: dial.video_sockets.as_ref().map(|s| s.rtp_port()),
            ack: Some(ack),
            hides_self: false,
            user: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_targets_need_an_ip_address() {
        let uri = |s: &str| rsip::Uri::try_from(s).unwrap();
        assert_eq!(
            target_addr(&uri("sip:bob@127.0.0.1:5070")).unwrap(),
            "127.0.0.1:5070".parse().unwrap()
        );
        assert_eq!(target_addr(&uri("sip:bob@127.0.0.1")).unwrap().port(), 5060);
        assert!(target_addr(&uri("sip:bob@example.com")).is_err());
    }
}
