//! The call-control engine: the user-agent server (RFC 3261 §8.2, §12–15) that turns INVITEs
//! into room members. It owns the transaction layer, every call and the room registry, and is
//! driven from outside: `handle_message`, `handle_room_event`, `handle_control`,
//! `handle_timeout` and `begin_shutdown` take the time as an argument, `poll_transmit` yields
//! what to send, `poll_timeout` when to wake it next. It reads no clock and sends nothing
//! itself, so its timers are tested on synthetic time (`engine/tests.rs`); the
//! [driver](super::driver) alone awaits sockets and the clock. Media never passes through
//! here. (Still not sans-IO: building a member binds its RTP sockets and codecs, and rooms
//! are reached over the media threads' channels.)

use super::admission::{Admission, Refusal};
use super::call::{Call, CallState, PendingOffer};
use super::control::ControlRequest;
use super::media_setup::{
    build_member, build_member_video, build_shared_encoders, remote_media, video_remote_media,
    MemberIdentity, VideoPlan,
};
use super::roster::{MemberKind, RoomPolicy};
use super::server_event::{LeaveReason, ServerEvent};
use super::wall_clock::WallClock;
use crate::cascade::{CascadeLegs, NodeId, CASCADE_HEADER};
use crate::conference::canvas::CanvasConfig;
use crate::conference::events::RoomEvent;
use crate::conference::member::{MediaUpdate, MemberId, StreamUpdate};
use crate::conference::member_control::Role;
use crate::conference::registry::{is_valid_room_id, RoomRegistry};
use crate::conference::room::RoomId;
use crate::config::parse_networks;
use crate::config::Config;
use crate::media::audio::codec::EncoderSettings;
use crate::media::audio::inbound::AudioInbound;
use crate::media::video::codec_pool::VideoCodecPool;
use crate::metrics::Metrics;
use crate::rtp::port_pool::PortPool;
use crate::sdp::{
    accept_answer, answer_offer, build_offer, AudioCodec, Direction, LocalMedia, NegotiatedAudio,
    NegotiatedSession, SessionDescription,
};
use crate::sip::digest::{parse_algorithm, DigestAuth, Verdict};
use crate::sip::log_limit::printable;
use crate::sip::message::{
    call_id, cseq, from_tag, other_header, response_to, set_body, set_to_tag, to_tag,
    ALLOWED_METHODS,
};
use crate::sip::peer::{ConnectionId, Flow, Peer};
use crate::sip::transaction::{TimeoutKind, TransactionLayer, TxKey, TxOutput};
use bytes::Bytes;
use cascade::cascade_of;
use ipnet::IpNet;
use rsip::headers::{Header, UntypedHeader};
use rsip::prelude::*;
use rsip::{Method, Request, Response};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, info_span, warn};

/// Port used while negotiating, before the real pair is bound (any non-zero value).
const PLACEHOLDER_PORT: u16 = 9;

/// How long shutdown waits for BYE responses.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// The server's signalling state.
pub struct CallEngine {
    /// This server's id in cascades.
    node: NodeId,
    /// Cascade legs to and from other servers.
    cascades: CascadeLegs,
    /// Rooms kept only by a cascade leg, and when that leg ends.
    idle_rooms: HashMap<RoomId, Instant>,
    /// When a roster side held back by its leg's send interval is due.
    roster_wake: Option<Instant>,
    config: Config,
    /// The SIP listening address (the local address of requests not tied to one arrival).
    sip_addr: SocketAddr,
    layer: TransactionLayer,
    /// Bytes to send, in order, until the driver takes them.
    transmits: VecDeque<(Peer, Bytes)>,
    registry: RoomRegistry,
    ports: PortPool,
    calls: HashMap<String, Call>,
    by_member: HashMap<MemberId, String>,
    next_member: MemberId,
    encoder_settings: EncoderSettings,
    shutdown_deadline: Option<Instant>,
    /// Every room that exists: created by a first dial or by the API.
    policies: HashMap<RoomId, RoomPolicy>,
    /// Events for operators, until the driver takes them.
    events: VecDeque<ServerEvent>,
    /// Members talking now (so one that leaves while talking is announced as stopping).
    talking: HashSet<MemberId>,
    /// Callers typing a room's PIN.
    pin_entries: HashMap<MemberId, pin_entry::PinEntry>,
    /// Outbound calls not answered yet, by Call-ID.
    dials: HashMap<String, dial_out::PendingDial>,
    next_dial: u64,
    clock: WallClock,
    metrics: Arc<Metrics>,
    /// The limits on new calls (rate per source, calls, rooms).
    admission: Admission,
    /// Sources served (`[sip] allow`; empty: any).
    allow: Vec<IpNet>,
    /// Digest authentication of callers, when users are configured, and who skips it.
    auth: Option<DigestAuth>,
    auth_trusted: Vec<IpNet>,
    /// Last field: dropped (threads joined) after the registry has stopped the rooms.
    codec_pool: Arc<VideoCodecPool>,
}

impl CallEngine {
    /// `clock` maps the instants the engine is given to wall-clock time (for operators).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        node: NodeId,
        config: Config,
        sip_addr: SocketAddr,
        registry: RoomRegistry,
        ports: PortPool,
        codec_pool: Arc<VideoCodecPool>,
        clock: WallClock,
        metrics: Arc<Metrics>,
    ) -> Self {
        let timers = crate::sip::timers::TimerConfig {
            t1: Duration::from_millis(config.sip.t1_ms.max(1)),
            ..Default::default()
        };
        let encoder_settings = EncoderSettings {
            opus_bitrate: config.audio.opus_bitrate,
            opus_complexity: config.audio.opus_complexity,
        };
        let auth = (!config.sip.auth.users.is_empty()).then(|| {
            let algorithms = config
                .sip
                .auth
                .algorithms
                .iter()
                .filter_map(|a| parse_algorithm(a))
                .collect();
            let users = config.sip.auth.users.clone().into_iter().collect();
            DigestAuth::new(&config.sip.auth.realm, users, algorithms, Instant::now())
        });
        // `validate` has checked the lists at start.
        let allow = parse_networks("[sip] allow", &config.sip.allow).unwrap_or_default();
        let auth_trusted =
            parse_networks("[sip.auth] trusted", &config.sip.auth.trusted).unwrap_or_default();
        let layer =
            TransactionLayer::new(timers).with_per_source_limit(config.limits.transactions_per_ip);
        Self {
            admission: Admission::new(config.limits.admission()),
            allow,
            auth,
            auth_trusted,
            node,
            cascades: CascadeLegs::default(),
            idle_rooms: HashMap::new(),
            roster_wake: None,
            config,
            sip_addr,
            layer,
            transmits: VecDeque::new(),
            registry,
            ports,
            calls: HashMap::new(),
            by_member: HashMap::new(),
            next_member: 1,
            encoder_settings,
            shutdown_deadline: None,
            policies: HashMap::new(),
            events: VecDeque::new(),
            talking: HashSet::new(),
            dials: HashMap::new(),
            pin_entries: HashMap::new(),
            next_dial: 0,
            clock,
            metrics,
            codec_pool,
        }
    }

    /// A SIP message that arrived from `peer` on our address `local`.
    pub fn handle_message(
        &mut self,
        now: Instant,
        message: rsip::SipMessage,
        peer: Peer,
        local: SocketAddr,
    ) {
        match message {
            rsip::SipMessage::Request(req) => self.layer.handle_request(now, req, peer),
            rsip::SipMessage::Response(resp) => self.layer.handle_response(now, resp),
        }
        self.process_outputs(now, Some(local));
    }

    /// An event from a room (talk state, RTP timeout, a failed room).
    pub fn handle_room_event(&mut self, now: Instant, event: RoomEvent) {
        self.on_room_event(now, event);
        self.process_outputs(now, None);
    }

    /// A question or command from outside (tests, the control API).
    pub fn handle_control(&mut self, now: Instant, request: ControlRequest) {
        self.on_control(now, request);
        self.process_outputs(now, None);
    }

    /// Timers that are due at `now` ([`poll_timeout`](Self::poll_timeout)): transaction
    /// retransmissions and timeouts, ringing calls to answer.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.answer_due_calls(now);
        self.dial_timers(now);
        self.pin_timers(now);
        self.idle_leg_timers(now);
        self.redial_timers(now);
        self.keepalive_timers(now);
        self.process_outputs(now, None);
    }

    /// Starts a graceful shutdown: new INVITEs get 503, every call a BYE.
    pub fn begin_shutdown(&mut self, now: Instant) {
        self.shutdown_calls(now);
        self.process_outputs(now, None);
    }

    /// The next datagram or stream message to send.
    pub fn poll_transmit(&mut self) -> Option<(Peer, Bytes)> {
        self.transmits.pop_front()
    }

    /// The next event for operators (the driver publishes it on the event bus).
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due, if anything waits.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ringing = self.calls.values().filter_map(|c| match c.state {
            CallState::Ringing { answer_at, .. } => Some(answer_at),
            _ => None,
        });
        let shutdown = self.shutdown_deadline.into_iter();
        let dials = self.dials.values().map(|d| d.deadline());
        let pins = self.pin_entries.values().map(|p| p.deadline());
        let idle = self
            .idle_rooms
            .values()
            .copied()
            .chain(self.next_redial())
            .chain(self.next_keepalive())
            .chain(self.roster_wake);
        self.layer
            .poll_timeout()
            .into_iter()
            .chain(ringing)
            .chain(shutdown)
            .chain(dials)
            .chain(pins)
            .chain(idle)
            .min()
    }

    /// True once a shutdown has finished: every call ended, or the grace time passed.
    pub fn is_stopped(&self, now: Instant) -> bool {
        self.shutdown_deadline
            .is_some_and(|limit| self.calls.is_empty() || now >= limit)
    }

    /// Calls still tracked (including ones hanging up).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// The TCP connections the calls' signalling uses (spared by the idle timeout).
    pub fn tcp_connections_in_use(&self) -> impl Iterator<Item = ConnectionId> + '_ {
        self.calls.values().filter_map(|c| match c.peer.flow {
            Flow::Tcp(id) => Some(id),
            Flow::Udp => None,
        })
    }

    /// Forgets every remaining call (after a shutdown): members leave, sockets return.
    pub fn drop_calls(&mut self) {
        info!(remaining_calls = self.calls.len(), "signalling stopped");
        let leftover: Vec<String> = self.calls.keys().cloned().collect();
        for call_id in leftover {
            self.end_call(&call_id, LeaveReason::Shutdown);
        }
    }

    fn process_outputs(&mut self, now: Instant, local: Option<SocketAddr>) {
        while let Some(output) = self.layer.poll_output() {
            match output {
                TxOutput::Transmit { peer, data } => {
                    if let Some(code) = response_code(&data) {
                        self.metrics.sip_response(code);
                    }
                    self.transmits.push_back((peer, data));
                }
                TxOutput::Request { key, request, peer } => {
                    let local = local.unwrap_or(self.sip_addr);
                    let span = info_span!(
                        "sip",
                        call_id = %call_id(&request).unwrap_or_default(),
                        method = %request.method,
                        // Never the PIN of `ROOM*PIN`.
                        room = rooms::split_pin(request.uri.user().unwrap_or_default()).0
                    );
                    span.in_scope(|| self.on_request(now, key, request, peer, local));
                }
                TxOutput::AckForSuccess { request, .. } => self.on_ack(now, request),
                TxOutput::Response { key, response } => {
                    if key.method != Method::Invite || !self.on_dial_response(now, &response) {
                        self.on_response(now, response);
                    }
                }
                TxOutput::Timeout { kind, call_id, .. } => self.on_timeout(now, kind, call_id),
            }
        }
        self.refresh_idle_rooms(now);
        self.sync_rosters(now);
    }

    fn on_request(
        &mut self,
        now: Instant,
        key: TxKey,
        req: Request,
        peer: Peer,
        local: SocketAddr,
    ) {
        debug!(%peer, uri = %req.uri, "request");
        let ip = peer.addr.ip();
        if !self.allow.is_empty() && !self.allow.iter().any(|net| net.contains(&ip)) {
            debug!(%peer, "request from a source outside [sip] allow");
            self.metrics.call("forbidden");
            return self.reply(now, &key, &req, 403, Some("source not allowed"));
        }
        if self.shutdown_deadline.is_some() && req.method == Method::Invite {
            return self.reply(now, &key, &req, 503, None);
        }
        match req.method {
            Method::Invite if to_tag(&req).is_some() => self.on_reinvite(now, key, req),
            Method::Invite => self.on_invite(now, key, req, peer, local),
            Method::Bye => self.on_bye(now, key, req),
            Method::Cancel => self.on_cancel(now, key, req),
            Method::Info => self.on_info(now, key, req),
            Method::Options => {
                let mut resp = response_to(&req, 200);
                set_to_tag(&mut resp, &crate::sip::message::new_tag());
                push_header(
                    &mut resp,
                    Header::Allow(rsip::headers::Allow::new(ALLOWED_METHODS)),
                );
                push_header(
                    &mut resp,
                    Header::Accept(rsip::headers::Accept::new("application/sdp")),
                );
                self.layer.respond(now, &key, &resp);
            }
            _ => {
                let mut resp = response_to(&req, 405);
                set_to_tag(&mut resp, &crate::sip::message::new_tag());
                push_header(
                    &mut resp,
                    Header::Allow(rsip::headers::Allow::new(ALLOWED_METHODS)),
                );
                self.layer.respond(now, &key, &resp);
            }
        }
    }

    /// Sends a final response with a fresh To tag (plus a Warning text for errors).
    fn reply(
        &mut self,
        now: Instant,
        key: &TxKey,
        req: &Request,
        status: u16,
        warning: Option<&str>,
    ) {
        let mut resp = response_to(req, status);
        if to_tag(req).is_none() {
            set_to_tag(&mut resp, &crate::sip::message::new_tag());
        }
        if let Some(text) = warning {
            let text = printable(text, 200).replace('"', "'");
            push_header(
                &mut resp,
                Header::Warning(rsip::headers::Warning::new(format!(
                    "399 tessera \"{text}\""
                ))),
            );
        }
        self.layer.respond(now, key, &resp);
    }

    /// Digest authentication of a new INVITE (when `[sip.auth]` has users and the source is not
    /// trusted): `Ok(Some(user))` when it proved who it is, `Ok(None)` when none is needed,
    /// `Err` when it was answered 401 with a challenge.
    fn authenticate(
        &mut self,
        now: Instant,
        key: &TxKey,
        req: &Request,
        peer: Peer,
    ) -> Result<Option<String>, ()> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        let ip = peer.addr.ip();
        if self.auth_trusted.iter().any(|net| net.contains(&ip)) {
            return Ok(None);
        }
        match auth.verify(req, now) {
            Verdict::Authenticated(user) => Ok(Some(user)),
            Verdict::Challenge { stale } => {
                let had_credentials = req
                    .headers
                    .iter()
                    .any(|h| matches!(h, Header::Authorization(_)));
                if had_credentials && !stale {
                    info!(%peer, "INVITE with wrong credentials");
                    self.metrics.call("unauthorized");
                }
                let mut resp = response_to(req, 401);
                set_to_tag(&mut resp, &crate::sip::message::new_tag());
                for header in auth.challenge(now, stale) {
                    push_header(&mut resp, header);
                }
                self.layer.respond(now, key, &resp);
                Err(())
            }
        }
    }

    /// Answers an INVITE that is not taken with its status, Warning and `Retry-After`.
    fn reject(&mut self, now: Instant, key: &TxKey, req: &Request, reject: Reject) {
        let mut resp = response_to(req, reject.status);
        set_to_tag(&mut resp, &crate::sip::message::new_tag());
        let text = printable(&reject.warning, 200).replace('"', "'");
        push_header(
            &mut resp,
            Header::Warning(rsip::headers::Warning::new(format!(
                "399 tessera \"{text}\""
            ))),
        );
        if let Some(secs) = reject.retry_after {
            push_header(
                &mut resp,
                Header::RetryAfter(rsip::headers::RetryAfter::new(secs.to_string())),
            );
        }
        self.layer.respond(now, key, &resp);
    }

    fn local_media(&self, local: SocketAddr, port: u16, codecs: Vec<AudioCodec>) -> LocalMedia {
        LocalMedia {
            address: self.config.sip.public_ip.unwrap_or(local.ip()),
            session_id: rand::random::<u32>() as u64,
            session_version: 1,
            audio_port: port,
            audio_codecs: codecs,
            offer_rtcp_mux: true,
            video_port: None,
            direction: Direction::SendRecv,
        }
    }

    fn on_invite(&mut self, now: Instant, key: TxKey, req: Request, peer: Peer, local: SocketAddr) {
        // The rate of new INVITEs per source is checked first: a flood costs a 503 each, no
        // 100 Trying, no SDP parse, no port.
        if let Err(refusal) = self.admission.take_invite_token(now, peer.addr.ip()) {
            debug!(%peer, reason = refusal.label(), "INVITE refused");
            self.metrics.call("refused");
            return self.reject(now, &key, &req, Reject::refused(refusal));
        }
        let user = match self.authenticate(now, &key, &req, peer) {
            Ok(user) => user,
            Err(()) => return,
        };
        let trying = response_to(&req, 100);
        self.layer.respond(now, &key, &trying);
        let call = match self.accept_invite(&req, peer, local) {
            Ok(mut call) => {
                call.user = user;
                call
            }
            Err(reject) => {
                info!(status = reject.status, reason = %reject.warning, "INVITE rejected");
                self.metrics.call("rejected");
                return self.reject(now, &key, &req, reject);
            }
        };
        let cid = call.call_id.clone();
        info!(
            room = %call.room,
            member = call.member,
            %peer,
            user = call.user.as_deref().unwrap_or("-"),
            "incoming call"
        );
        self.by_member.insert(call.member, cid.clone());
        let delay = Duration::from_millis(self.config.sip.answer_delay_ms);
        let mut call = call;
        if !delay.is_zero() {
            let mut ringing = response_to(&req, 180);
            set_to_tag(&mut ringing, &call.local_tag);
            self.layer.respond(now, &key, &ringing);
            call.state = CallState::Ringing {
                invite: key.clone(),
                answer_at: now + delay,
            };
        }
        call.invite = Some((key, req));
        self.calls.insert(cid.clone(), call);
        if delay.is_zero() {
            self.answer(now, &cid);
        }
    }

    /// Validates an initial INVITE and builds its call: room id, SDP offer (checked before any
    /// port is bound), ports, member media. Errors carry the SIP status to answer with.
    fn accept_invite(
        &mut self,
        req: &Request,
        peer: Peer,
        local: SocketAddr,
    ) -> Result<Call, Reject> {
        let user = req.uri.user().unwrap_or_default();
        let (room, pin) = rooms::split_pin(user);
        if !is_valid_room_id(room) {
            return Err(Reject::new(404, "room ids are [A-Za-z0-9_.-]{1,64}"));
        }
        let cascade = cascade_of(req)?;
        if let Some(header) = &cascade {
            self.refuse_ring(room, header)?;
        }
        let from_source = self
            .calls
            .values()
            .filter(|c| c.peer.addr.ip() == peer.addr.ip())
            .count();
        let opens_room = !self.policies.contains_key(room);
        self.admission
            .check_capacity(
                self.calls.len(),
                from_source,
                opens_room,
                self.policies.len(),
            )
            .map_err(Reject::refused)?;
        // A cascade leg is an operator's link, not a caller: no PIN, no capacity.
        let awaiting_pin = match cascade {
            Some(_) => false,
            None => self.admit(room, pin)?,
        };
        let room = room.to_string();
        let cid = call_id(req).ok_or_else(|| Reject::new(400, "missing Call-ID"))?;
        if self.calls.contains_key(&cid) {
            return Err(Reject::new(482, "merged request"));
        }
        if !req.body.is_empty() && !is_sdp(req) {
            return Err(Reject::new(415, "only application/sdp bodies"));
        }
        let remote_from = req
            .from_header()
            .cloned()
            .map_err(|_| Reject::new(400, "bad From"))?;
        let local_to = req
            .to_header()
            .cloned()
            .map_err(|_| Reject::new(400, "bad To"))?;
        let advertised = SocketAddr::new(
            self.config.sip.public_ip.unwrap_or(local.ip()),
            local.port(),
        );
        let member = self.next_member;
        let name = caller_name(req);
        let uri = remote_from.uri().map(|u| u.to_string()).unwrap_or_default();
        // Negotiate before binding: a rejected offer costs no ports. The answer is built with a
        // placeholder port, replaced below on the accepted (non-zero port) m-line.
        let mut local_media = self.local_media(local, PLACEHOLDER_PORT, default_codecs());
        if self.config.video.enabled {
            local_media.video_port = Some(PLACEHOLDER_PORT);
        }
        let placement = self.canvas_placement(&room, req)?;
        let hides_self = self.grants_hide_self(&room, req);
        let negotiated = if req.body.is_empty() {
            local_media.video_port = None; // late offer: audio only
            None
        } else {
            let offer = parse_sdp(&req.body).map_err(|e| Reject::new(400, &e))?;
            let (answer, negotiated) = answer_offer(&offer, &local_media)
                .map_err(|e| Reject::new(e.sip_status(), &e.to_string()))?;
            // A video-only call still becomes a member: its audio is inactive (it neither
            // sends nor receives sound, and is never a talker).
            let audio = match (negotiated.audio, &negotiated.video) {
                (Some(audio), _) => audio,
                (None, Some(_)) => silent_audio(),
                (None, None) => return Err(Reject::new(488, "no acceptable media")),
            };
            Some((answer, audio, negotiated.video))
        };
        let sockets = self.ports.allocate().map_err(|e| {
            warn!(error = %e, "cannot allocate RTP ports");
            Reject::new(503, "no RTP ports free")
        })?;
        let video_sockets = match &negotiated {
            Some((_, _, Some(_))) => Some(self.ports.allocate().map_err(|e| {
                warn!(error = %e, "cannot allocate video RTP ports");
                Reject::new(503, "no RTP ports free")
            })?),
            _ => None,
        };
        let rtp_port = sockets.rtp_port();
        let video_port = video_sockets.as_ref().map(|s| s.rtp_port());
        local_media.audio_port = rtp_port;
        let (local_sdp, staged, pending_offer, codec) = match negotiated {
            None => {
                let offer = build_offer(&local_media);
                let pending = PendingOffer {
                    offer: offer.clone(),
                    sockets,
                    initial_canvas: placement.0,
                };
                (offer, None, Some(pending), None)
            }
            Some((mut answer, audio, video)) => {
                for m in answer.media.iter_mut().filter(|m| m.port != 0) {
                    m.port = if m.media == "video" {
                        video_port.unwrap_or(0)
                    } else {
                        rtp_port
                    };
                }
                let who = MemberIdentity {
                    id: member,
                    call_id: cid.clone(),
                    name: name.clone(),
                    signalling_ip: peer.addr.ip(),
                    initial_canvas: placement.0,
                };
                let mut setup =
                    build_member(who, sockets, &audio, self.encoder_settings).map_err(|e| {
                        warn!(error = %e, "cannot build member media");
                        Reject::new(500, "media setup failed")
                    })?;
                setup.controls.awaiting_pin = awaiting_pin;
                if cascade.is_some() {
                    // The far server paced its mix: no extra playout frame per hop.
                    setup.inbound = AudioInbound::paced(audio.codec).map_err(|e| {
                        warn!(error = %e, "cannot build member media");
                        Reject::new(500, "media setup failed")
                    })?;
                }
                if let (Some(negotiated), Some(sockets)) = (video.as_ref(), video_sockets) {
                    let plan = VideoPlan {
                        sockets,
                        negotiated,
                        watching_canvas: placement.1,
                        hide_self: cascade.is_some() || hides_self,
                        // A leg dialled in is sent the default leg view.
                        view_format: cascade
                            .as_ref()
                            .and_then(|_| self.config.cascade.leg_view(None, None).ok()),
                        codec_pool: Some(&self.codec_pool),
                    };
                    setup.video = Some(build_member_video(plan, peer.addr.ip()).map_err(|e| {
                        warn!(error = %e, "cannot build member video");
                        Reject::new(500, "video setup failed")
                    })?);
                }
                (answer, Some(setup), None, Some(audio.codec))
            }
        };
        self.next_member += 1;
        let remote_target = req
            .contact_header()
            .ok()
            .and_then(|c| c.typed().ok())
            .map(|c| c.uri)
            .or_else(|| remote_from.uri().ok())
            .unwrap_or_else(|| req.uri.clone());
        let route_set = req
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::RecordRoute(rr) => Some(rr.clone()),
                _ => None,
            })
            .collect();
        let mut call = Call {
            call_id: cid,
            room,
            member,
            name,
            uri,
            kind: MemberKind::Member,
            role: Role::default(),
            leg: None,
            state: CallState::AwaitingAck,
            peer,
            local_addr: advertised,
            local_tag: crate::sip::message::new_tag(),
            remote_tag: from_tag(req),
            remote_from,
            local_to,
            remote_target,
            route_set,
            local_cseq: rand::random::<u16>() as u32,
            local_sdp: Some(local_sdp),
            pending_offer,
            invite: None,
            staged,
            awaiting_pin,
            controls: Default::default(),
            joined: false,
            joined_at: None,
            codec,
            reoffer: None,
            rtp_port,
            video_port,
            ack: None,
            hides_self,
            user: None,
        };
        if let Some(header) = cascade {
            self.inbound_leg(&mut call, header);
        }
        Ok(call)
    }

    fn answer_due_calls(&mut self, now: Instant) {
        let due: Vec<String> = self
            .calls
            .values()
            .filter(|c| matches!(c.state, CallState::Ringing { answer_at, .. } if answer_at <= now))
            .map(|c| c.call_id.clone())
            .collect();
        for cid in due {
            self.answer(now, &cid);
        }
    }

    /// Sends the 200 with our SDP and puts the member into its room.
    fn answer(&mut self, now: Instant, cid: &str) {
        let Some(call) = self.calls.get_mut(cid) else {
            return;
        };
        let Some((key, req)) = call.invite.take() else {
            return;
        };
        let mut ok = response_to(&req, 200);
        set_to_tag(&mut ok, &call.local_tag);
        push_header(
            &mut ok,
            Header::Contact(rsip::headers::Contact::new(call.local_contact())),
        );
        push_header(
            &mut ok,
            Header::Allow(rsip::headers::Allow::new(ALLOWED_METHODS)),
        );
        if let Some(sdp) = &call.local_sdp {
            set_body(&mut ok, "application/sdp", sdp.to_string().into_bytes());
        }
        if let Some(leg) = call.leg.clone() {
            let room = call.room.clone();
            push_header(
                &mut ok,
                Header::Other(
                    CASCADE_HEADER.to_string(),
                    self.cascade_header(&room, Some(&leg)),
                ),
            );
        }
        let Some(call) = self.calls.get_mut(cid) else {
            return;
        };
        if !self.layer.respond(now, &key, &ok) {
            info!("INVITE transaction gone before answer; dropping call");
            self.end_call(cid, LeaveReason::Bye);
            return;
        }
        call.state = CallState::AwaitingAck;
        self.metrics.call("answered");
        if let Some(setup) = call.staged.take() {
            let settings = self.encoder_settings;
            let canvases = room_canvases(&self.policies, &self.config, &call.room);
            match self.registry.join(&call.room, setup, &canvases, || {
                build_shared_encoders(settings)
            }) {
                Ok(()) => self.joined(now, cid),
                Err(e) => {
                    warn!(error = %e, "cannot create room encoders; hanging up");
                    self.hang_up(now, cid, LeaveReason::RoomEnded);
                }
            }
        }
    }

    fn on_ack(&mut self, now: Instant, req: Request) {
        let Some(cid) = call_id(&req) else { return };
        // Both tags must name the dialog: an ACK forged from a seen INVITE alone (Call-ID and
        // CSeq) cannot confirm a call or carry its answer.
        let Some(call) = self.calls.get_mut(&cid).filter(|c| c.is_dialog_of(&req)) else {
            debug!(call_id = %cid, "ACK of no dialog of ours ignored");
            return;
        };
        if matches!(call.state, CallState::AwaitingAck) {
            call.state = CallState::Confirmed;
            info!(call_id = %cid, room = %call.room, "call confirmed");
        }
        if let Some(pending) = call.pending_offer.take() {
            let result = parse_sdp(&req.body)
                .map_err(|e| e.to_string())
                .and_then(|answer| {
                    accept_answer(&pending.offer, &answer).map_err(|e| e.to_string())
                })
                .and_then(|n| n.audio.ok_or_else(|| "no audio in answer".to_string()));
            match result {
                Ok(audio) => {
                    let who = MemberIdentity {
                        id: call.member,
                        call_id: cid.clone(),
                        name: call.name.clone(),
                        signalling_ip: call.peer.addr.ip(),
                        initial_canvas: pending.initial_canvas,
                    };
                    let settings = self.encoder_settings;
                    call.codec = Some(audio.codec);
                    let awaiting_pin = call.awaiting_pin;
                    let canvases = room_canvases(&self.policies, &self.config, &call.room);
                    let joined = build_member(who, pending.sockets, &audio, settings).and_then(
                        |mut setup| {
                            setup.controls.awaiting_pin = awaiting_pin;
                            self.registry.join(&call.room, setup, &canvases, || {
                                build_shared_encoders(settings)
                            })
                        },
                    );
                    match joined {
                        Ok(()) => self.joined(now, &cid),
                        Err(e) => {
                            warn!(call_id = %cid, error = %e, "cannot set up media; hanging up");
                            self.hang_up(now, &cid, LeaveReason::RoomEnded);
                        }
                    }
                }
                Err(e) => {
                    warn!(call_id = %cid, error = %e, "ACK without a usable SDP answer; hanging up");
                    self.hang_up(now, &cid, LeaveReason::Bye);
                }
            }
            return;
        }
        if let Some(offer) = call.reoffer.take() {
            match parse_sdp(&req.body)
                .map_err(|e| e.to_string())
                .and_then(|answer| accept_answer(&offer, &answer).map_err(|e| e.to_string()))
            {
                Ok(n) => apply_update(&self.registry, call, &n),
                Err(e) => warn!(call_id = %cid, error = %e, "re-INVITE ACK answer unusable"),
            }
        }
    }

    fn on_reinvite(&mut self, now: Instant, key: TxKey, req: Request) {
        let Some(cid) = call_id(&req) else { return };
        let Some(call) = self.calls.get_mut(&cid) else {
            return self.reply(now, &key, &req, 481, None);
        };
        if !call.is_dialog_of(&req) {
            return self.reply(now, &key, &req, 481, None);
        }
        if call.invite.is_some() || call.pending_offer.is_some() || call.reoffer.is_some() {
            return self.reply(now, &key, &req, 491, None);
        }
        let Some(previous) = call.local_sdp.clone() else {
            return self.reply(now, &key, &req, 500, None);
        };
        let mut codecs = default_codecs();
        if let Some(current) = call.codec {
            codecs.retain(|c| *c == current); // the member's codec pipeline stays as built
        }
        let local = LocalMedia {
            address: previous
                .origin
                .address
                .parse()
                .unwrap_or(call.local_addr.ip()),
            session_id: previous.origin.session_id,
            session_version: previous.origin.session_version + 1,
            audio_port: call.rtp_port,
            audio_codecs: codecs,
            offer_rtcp_mux: true,
            // Video keeps its sockets; a call without video cannot add it later.
            video_port: call.video_port,
            direction: Direction::SendRecv,
        };
        let (sdp, update) = if req.body.is_empty() {
            let offer = build_offer(&local);
            call.reoffer = Some(offer.clone());
            (offer, None)
        } else {
            let offer = match parse_sdp(&req.body) {
                Ok(o) => o,
                Err(e) => return self.reply(now, &key, &req, 400, Some(&e)),
            };
            match answer_offer(&offer, &local) {
                Ok((answer, negotiated)) => (answer, Some(negotiated)),
                Err(e) => return self.reply(now, &key, &req, e.sip_status(), Some(&e.to_string())),
            }
        };
        let Some(call) = self.calls.get_mut(&cid) else {
            return;
        };
        if let Some(negotiated) = update {
            apply_update(&self.registry, call, &negotiated);
        }
        call.local_sdp = Some(sdp.clone());
        let mut ok = response_to(&req, 200);
        push_header(
            &mut ok,
            Header::Contact(rsip::headers::Contact::new(call.local_contact())),
        );
        set_body(&mut ok, "application/sdp", sdp.to_string().into_bytes());
        self.layer.respond(now, &key, &ok);
        info!(call_id = %cid, "re-INVITE answered");
    }

    fn on_bye(&mut self, now: Instant, key: TxKey, req: Request) {
        let cid = call_id(&req).unwrap_or_default();
        let known = self.calls.get(&cid).is_some_and(|c| c.is_dialog_of(&req));
        if !known {
            return self.reply(now, &key, &req, 481, None);
        }
        let resp = response_to(&req, 200);
        self.layer.respond(now, &key, &resp);
        info!(call_id = %cid, "BYE received");
        // A BYE before our answer ends the pending INVITE with 487 (RFC 3261 §15.1.2).
        self.fail_pending_invite(now, &cid, 487);
        self.end_call(&cid, LeaveReason::Bye);
    }

    fn on_cancel(&mut self, now: Instant, key: TxKey, req: Request) {
        let cid = call_id(&req).unwrap_or_default();
        if !self.calls.contains_key(&cid) {
            return self.reply(now, &key, &req, 481, None);
        }
        self.layer.respond(now, &key, &response_to(&req, 200));
        if !self.layer.invite_pending(&key) {
            return; // already answered: CANCEL has no effect (RFC 3261 §9.2)
        }
        self.fail_pending_invite(now, &cid, 487);
        info!(call_id = %cid, "call cancelled before answer");
        self.end_call(&cid, LeaveReason::Bye);
    }

    /// Answers a call's still-unanswered INVITE with `status` (with our To tag); false when
    /// there was none.
    fn fail_pending_invite(&mut self, now: Instant, cid: &str, status: u16) -> bool {
        let Some(call) = self.calls.get_mut(cid) else {
            return false;
        };
        let Some((key, invite)) = call.invite.take() else {
            return false;
        };
        let mut resp = response_to(&invite, status);
        set_to_tag(&mut resp, &call.local_tag);
        self.layer.respond(now, &key, &resp);
        true
    }

    fn on_response(&mut self, now: Instant, response: Response) {
        let code = response.status_code.code();
        if code < 200 {
            return;
        }
        let Some(cid) = call_id(&response) else {
            return;
        };
        let bye = cseq(&response).is_none_or(|(_, method)| method == Method::Bye);
        if !bye {
            return self.on_leg_response(now, &response);
        }
        if self
            .calls
            .get(&cid)
            .is_some_and(|c| matches!(c.state, CallState::Terminating))
        {
            debug!(call_id = %cid, code, "BYE answered");
            self.calls.remove(&cid);
        }
    }

    fn on_timeout(&mut self, now: Instant, kind: TimeoutKind, cid: Option<String>) {
        let Some(cid) = cid else { return };
        match kind {
            TimeoutKind::SuccessNotAcknowledged => {
                warn!(call_id = %cid, "200 OK never acknowledged; hanging up");
                self.hang_up(now, &cid, LeaveReason::Timeout);
            }
            TimeoutKind::NoResponse if self.dials.contains_key(&cid) => self.fail_dial(&cid, 408),
            TimeoutKind::NoResponse => {
                if self
                    .calls
                    .get(&cid)
                    .is_some_and(|c| matches!(c.state, CallState::Terminating))
                {
                    self.calls.remove(&cid);
                }
            }
            TimeoutKind::FailureNotAcknowledged => {}
        }
    }

    fn on_room_event(&mut self, now: Instant, event: RoomEvent) {
        match event {
            RoomEvent::Dtmf {
                room,
                member,
                digit,
            } => {
                if !self.by_member.contains_key(&member) {
                    return;
                }
                // A lobby member's digits are its PIN: never published.
                if self.pin_entries.contains_key(&member) {
                    self.on_pin_digit(now, member, digit);
                } else {
                    self.events.push_back(ServerEvent::Dtmf {
                        room,
                        member,
                        digit,
                    });
                }
            }
            RoomEvent::MediaTimeout { member, .. } => {
                if let Some(cid) = self.by_member.get(&member).cloned() {
                    info!(call_id = %cid, "ending call after RTP timeout");
                    self.hang_up(now, &cid, LeaveReason::Timeout);
                }
            }
            RoomEvent::RoomFailed { room, members } => {
                warn!(%room, members = members.len(), "room failed; ending its calls");
                // Its media is gone: the next caller starts the room afresh. Every call of
                // the room ends, also one that joined after the failure (its member was
                // added to a room the thread no longer had, so it would get no media).
                self.registry.forget(&room);
                let mut ended: Vec<String> = members
                    .iter()
                    .filter_map(|member| self.by_member.get(member).cloned())
                    .collect();
                ended.extend(
                    self.calls
                        .values()
                        .filter(|c| c.room == room && c.joined)
                        .map(|c| c.call_id.clone()),
                );
                ended.sort();
                ended.dedup();
                for cid in ended {
                    self.hang_up(now, &cid, LeaveReason::RoomEnded);
                }
            }
            RoomEvent::FloorChanged { room, member } => {
                debug!(%room, member, "floor changed");
                self.events
                    .push_back(ServerEvent::FloorChanged { room, member });
            }
            RoomEvent::Talking {
                room,
                member,
                talking,
            } => {
                debug!(%room, member, talking, "talk state");
                let known = if talking {
                    self.talking.insert(member)
                } else {
                    self.talking.remove(&member)
                };
                if known && self.by_member.contains_key(&member) {
                    self.events.push_back(if talking {
                        ServerEvent::TalkingStarted {
                            room,
                            member,
                            far: None,
                        }
                    } else {
                        ServerEvent::TalkingStopped {
                            room,
                            member,
                            far: None,
                        }
                    });
                }
            }
        }
    }

    /// Sends BYE and removes the member at once; the call record stays until the BYE completes.
    fn hang_up(&mut self, now: Instant, cid: &str, reason: LeaveReason) {
        self.leave_room(cid, reason);
        let Some(call) = self.calls.get_mut(cid) else {
            return;
        };
        if matches!(call.state, CallState::Terminating) {
            return;
        }
        call.state = CallState::Terminating;
        let bye = call.build_bye();
        let peer = call.peer;
        if self.layer.send_request(now, bye, peer).is_none() {
            self.calls.remove(cid);
        }
    }

    fn shutdown_calls(&mut self, now: Instant) {
        info!(
            calls = self.calls.len(),
            "shutting down: ending every call with BYE"
        );
        self.shutdown_deadline = Some(now + SHUTDOWN_GRACE);
        self.cancel_all_dials(now);
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        for cid in ids {
            if self.fail_pending_invite(now, &cid, 503) {
                self.end_call(&cid, LeaveReason::Shutdown);
            } else {
                self.hang_up(now, &cid, LeaveReason::Shutdown);
            }
        }
    }

    /// Takes the call's member out of its room (announcing it, and the room's end when it
    /// was the last member of a room nobody created by API).
    fn leave_room(&mut self, cid: &str, reason: LeaveReason) {
        let Some(call) = self.calls.get_mut(cid) else {
            return;
        };
        let left = call.joined.then(|| (call.room.clone(), call.member));
        if let Some(leg) = call.leg.take() {
            self.leg_down(&leg, None);
        }
        let Some(call) = self.calls.get_mut(cid) else {
            return;
        };
        if call.joined {
            call.joined = false;
            self.registry.leave(&call.room, call.member);
        }
        call.pending_offer = None;
        call.staged = None;
        self.by_member.remove(&call.member);
        if let Some((room, member)) = left {
            if self.talking.remove(&member) {
                self.events.push_back(ServerEvent::TalkingStopped {
                    room: room.clone(),
                    member,
                    far: None,
                });
            }
            info!(%room, member, ?reason, "member left");
            self.events.push_back(ServerEvent::MemberLeft {
                room: room.clone(),
                member,
                reason,
                far: None,
            });
            self.forget_room_if_done(&room);
        }
    }

    /// Forgets a call entirely (its sockets return to the pool as they drop).
    fn end_call(&mut self, cid: &str, reason: LeaveReason) {
        self.leave_room(cid, reason);
        self.calls.remove(cid);
    }
}

/// Sends a joined member its re-negotiated media. A stream the new description left out
/// (rejected, port 0) stops in both directions (RFC 3264 §8.2).
fn apply_update(registry: &RoomRegistry, call: &Call, negotiated: &NegotiatedSession) {
    if !call.joined {
        return;
    }
    let update = MediaUpdate {
        audio: negotiated.audio.as_ref().map(|audio| StreamUpdate {
            remote: remote_media(audio),
            direction: audio.direction,
            payload_type: audio.payload_type,
            telephone_event_pt: audio.telephone_event_pt(),
        }),
        video: negotiated.video.as_ref().map(|video| StreamUpdate {
            remote: video_remote_media(video),
            direction: video.direction,
            payload_type: video.payload_type,
            telephone_event_pt: None,
        }),
    };
    registry.update(&call.room, call.member, update);
}

impl CallEngine {
    /// Initial and watching canvas (0-based) from `X-Tessera-Canvas` /
    /// `X-Tessera-Watching-Canvas` (1-based; canvas 0 = on no canvas), else the config.
    /// Whether a caller asking to hide its own tile (`X-Tessera-Hide-Self`) gets a view of its
    /// own: each is an encoder, so a room grants `[limits] hide_self_per_room`; later ones see
    /// the shared view, themselves included.
    fn grants_hide_self(&self, room: &str, req: &Request) -> bool {
        let asked = other_header(req, "X-Tessera-Hide-Self")
            .is_some_and(|v| matches!(v.trim(), "1" | "yes" | "true"));
        if !asked {
            return false;
        }
        let granted = self
            .calls
            .values()
            .filter(|c| c.hides_self && c.room == room)
            .count();
        let fits = granted < self.config.limits.hide_self_per_room;
        if !fits {
            warn!(
                room,
                granted, "hide-self refused: the room has its limit of own views"
            );
        }
        fits
    }

    fn canvas_placement(
        &self,
        room: &str,
        req: &Request,
    ) -> Result<(Option<usize>, usize), Reject> {
        let parse = |name: &str| -> Result<Option<usize>, Reject> {
            match other_header(req, name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<usize>()
                    .map(Some)
                    .map_err(|_| Reject::new(400, &format!("{name} must be a number"))),
            }
        };
        let (initial, watching) = (
            parse("X-Tessera-Canvas")?,
            parse("X-Tessera-Watching-Canvas")?,
        );
        self.placement(room, initial, watching).map_err(|e| {
            let header = match e {
                PlacementError::Initial => "X-Tessera-Canvas",
                PlacementError::Watching => "X-Tessera-Watching-Canvas",
            };
            Reject::new(400, &self.placement_error_text(room, header, e))
        })
    }

    /// How many canvases `room` has (or will have when it starts).
    pub(super) fn canvas_count(&self, room: &str) -> usize {
        self.policies.get(room).map_or_else(
            || self.config.video.canvas_configs().len(),
            |p| p.canvases.len(),
        )
    }

    /// Why a placement was refused, naming the field or header `what`.
    fn placement_error_text(&self, room: &str, what: &str, e: PlacementError) -> String {
        let canvases = self.canvas_count(room);
        match e {
            PlacementError::Initial => format!("{what} must be 0..={canvases}"),
            PlacementError::Watching => format!("{what} must be 1..={canvases}"),
        }
    }

    /// Initial and watching canvas (0-based) from requested 1-based numbers (initial 0 = on
    /// no canvas), else the config's defaults.
    fn placement(
        &self,
        room: &str,
        initial: Option<usize>,
        watching: Option<usize>,
    ) -> Result<(Option<usize>, usize), PlacementError> {
        let canvases = self.canvas_count(room);
        if initial.is_some_and(|n| n > canvases) {
            return Err(PlacementError::Initial);
        }
        let initial = initial
            .unwrap_or(self.config.video.initial_canvas.min(canvases))
            .checked_sub(1);
        let watching = match watching {
            Some(0) => return Err(PlacementError::Watching),
            Some(n) if n > canvases => return Err(PlacementError::Watching),
            Some(n) => n - 1,
            None => self
                .config
                .video
                .watching_canvas
                .map(|w| w.clamp(1, canvases) - 1)
                .or(initial)
                .unwrap_or(0),
        };
        Ok((initial, watching))
    }
}

/// Which requested canvas number was out of range.
#[derive(Debug, Clone, Copy)]
enum PlacementError {
    Initial,
    Watching,
}

/// A refused INVITE: the status to answer with and a human-readable reason (sent as Warning).
/// The canvases `room` starts its media with: its own, else the server's defaults.
fn room_canvases(
    policies: &HashMap<RoomId, RoomPolicy>,
    config: &Config,
    room: &str,
) -> Vec<CanvasConfig> {
    policies
        .get(room)
        .map_or_else(|| config.video.canvas_configs(), |p| p.canvases.clone())
}

struct Reject {
    status: u16,
    warning: String,
    /// Seconds for `Retry-After` (a 503 for load).
    retry_after: Option<u32>,
}

impl Reject {
    fn new(status: u16, warning: &str) -> Self {
        Self {
            status,
            warning: warning.to_string(),
            retry_after: None,
        }
    }

    /// A `503` with `Retry-After` for a call the limits refuse.
    fn refused(refusal: Refusal) -> Self {
        Self {
            status: 503,
            warning: refusal.reason().to_string(),
            retry_after: Some(refusal.retry_after_secs()),
        }
    }
}

/// The audio half of a video-only member: inactive, sending nowhere.
fn silent_audio() -> NegotiatedAudio {
    let nowhere = SocketAddr::from(([0, 0, 0, 0], 9));
    NegotiatedAudio {
        codec: AudioCodec::Opus,
        payload_type: 111,
        telephone_event: None,
        remote_rtp: nowhere,
        remote_rtcp: nowhere,
        rtcp_mux: true,
        direction: Direction::Inactive,
        ptime_ms: None,
        opus_inband_fec: false,
    }
}

/// The status code of an encoded SIP response (`SIP/2.0 200 OK…`).
fn response_code(data: &[u8]) -> Option<u16> {
    let rest = data.strip_prefix(b"SIP/2.0 ")?;
    std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()
}

fn default_codecs() -> Vec<AudioCodec> {
    vec![AudioCodec::Opus, AudioCodec::Pcmu, AudioCodec::Pcma]
}

fn push_header(resp: &mut Response, header: Header) {
    resp.headers.push(header);
}

fn is_sdp(req: &Request) -> bool {
    crate::sip::message::content_type(req)
        .is_none_or(|c| c.trim().to_ascii_lowercase().starts_with("application/sdp"))
}

fn parse_sdp(body: &[u8]) -> Result<SessionDescription, String> {
    let text = std::str::from_utf8(body).map_err(|_| "SDP is not UTF-8".to_string())?;
    SessionDescription::parse(text).map_err(|e| format!("invalid SDP: {e}"))
}

/// Display name or user of the caller, for logs and snapshots. Escaped: a quoted display
/// name may carry control characters as quoted-pairs (RFC 3261 §25.1).
fn caller_name(req: &Request) -> String {
    let from = req.from_header().ok().and_then(|f| f.typed().ok());
    let name = from.and_then(|f| {
        f.display_name
            .map(|d| d.trim().trim_matches('"').to_string())
            .filter(|d| !d.is_empty())
            .or_else(|| f.uri.user().map(str::to_string))
    });
    name.map_or_else(|| "anonymous".to_string(), |name| printable(&name, 128))
}

mod cascade;
mod cascade_keepalive;
mod cascade_roster;
mod control;
pub mod dial_out;
mod pin_entry;
mod rooms;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod torture_tests;
