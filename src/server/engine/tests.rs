//! The call life cycle on synthetic time: the engine is fed parsed SIP messages with a `now`
//! the test advances, and what it would send is read back from `poll_transmit`. A 40-second
//! unacknowledged-answer timeout runs in milliseconds. (The rooms behind it are real: media
//! threads, sockets on loopback.)

use super::CallEngine;
use crate::conference::events::RoomEvent;
use crate::config::{Config, PortRange};
use crate::rtp::port_pool::PortPool;
use crate::server::control::{ControlError, ControlRequest};
use crate::server::roster::RoomPatch;
use crate::server::server_event::{ChangeSource, LeaveReason, ServerEvent};
use crate::sip::message::parse_message;
use crate::sip::peer::Peer;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

const SERVER: &str = "127.0.0.1:5060";
const CALLER: &str = "127.0.0.1:5999";

static NEXT_PORTS: AtomicU16 = AtomicU16::new(0);

/// A server config with a port range of its own (the engine tests run side by side).
pub(super) fn config() -> Config {
    let mut c = Config::default();
    let slot = NEXT_PORTS.fetch_add(1, Ordering::Relaxed) % 10;
    let low = 47000 + slot * 40 + (std::process::id() % 7) as u16 * 400;
    c.rtp.ports = PortRange {
        low,
        high: low + 39,
    };
    c.rtp.bind_ip = "127.0.0.1".parse().expect("ip");
    c.media.threads = 1;
    c.media.video_threads = 1;
    c
}

struct Harness {
    engine: CallEngine,
    /// What the (real) media threads report.
    room_events: tokio::sync::mpsc::UnboundedReceiver<RoomEvent>,
    ports: PortPool,
    now: Instant,
    /// Everything sent so far, as text.
    sent: Vec<String>,
}

impl Harness {
    fn new(config: Config) -> Self {
        let parts =
            super::super::build_engine(config, SERVER.parse().expect("addr"), Default::default())
                .expect("engine");
        let (engine, ports) = (parts.engine, parts.ports);
        Self {
            room_events: parts.room_events,
            engine,
            ports,
            now: Instant::now(),
            sent: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some((_, data)) = self.engine.poll_transmit() {
            self.sent.push(String::from_utf8_lossy(&data).into_owned());
        }
    }

    fn receive(&mut self, text: &str) {
        let message = parse_message(text.as_bytes()).expect("valid test message");
        let peer = Peer::udp(CALLER.parse::<SocketAddr>().expect("addr"));
        self.engine
            .handle_message(self.now, message, peer, SERVER.parse().expect("addr"));
        self.drain();
    }

    /// Moves time forward by `by`, firing every timer due on the way, in order. (A deadline
    /// that stays due after firing — the shutdown grace — is the driver's cue to stop.)
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        let mut fired: Option<Instant> = None;
        while let Some(at) = self.engine.poll_timeout().filter(|at| *at <= end) {
            if fired.is_some_and(|f| at <= f) {
                break;
            }
            self.now = self.now.max(at);
            fired = Some(self.now);
            self.engine.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }

    /// Messages sent whose first line starts with `start`.
    fn sent_starting(&self, start: &str) -> Vec<&String> {
        self.sent.iter().filter(|m| m.starts_with(start)).collect()
    }
}

fn request(method: &str, cseq: &str, to_tag: Option<&str>, body: &str) -> String {
    let to = match to_tag {
        Some(tag) => format!("<sip:3000@{SERVER}>;tag={tag}"),
        None => format!("<sip:3000@{SERVER}>"),
    };
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:3000@{SERVER} SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-{}\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=alice\r\nTo: {to}\r\nCall-ID: call-1\r\n\
CSeq: {cseq}\r\nContact: <sip:alice@{CALLER}>\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
        // ACK and CANCEL of the INVITE share its branch; other requests get their own.
        if matches!(method, "ACK" | "CANCEL") || cseq == "1 INVITE" {
            "invite".to_string()
        } else {
            cseq.replace(' ', "-")
        },
        body.len()
    )
}

fn offer() -> String {
    "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        .to_string()
}

fn to_tag(response: &str) -> String {
    response
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split("tag=").nth(1))
        .map(|t| t.trim().to_string())
        .expect("To tag")
}

/// Places the call and ACKs its 200; returns the server's tag.
fn established(h: &mut Harness) -> String {
    answered(h, &request("INVITE", "1 INVITE", None, &offer()))
}

/// Sends `invite` and ACKs its 200; returns the server's tag.
fn answered(h: &mut Harness, invite: &str) -> String {
    h.receive(invite);
    let ok = h
        .sent_starting("SIP/2.0 200")
        .first()
        .map(|m| m.to_string());
    let tag = to_tag(&ok.expect("200 OK"));
    h.receive(&request("ACK", "1 ACK", Some(&tag), ""));
    tag
}

#[test]
fn an_unacknowledged_answer_is_retransmitted_then_the_call_hung_up() {
    let mut h = Harness::new(config());
    h.receive(&request("INVITE", "1 INVITE", None, &offer()));
    assert_eq!(h.sent_starting("SIP/2.0 100").len(), 1);
    assert_eq!(h.sent_starting("SIP/2.0 200").len(), 1);
    h.advance(Duration::from_secs(31));
    let retransmitted = h.sent_starting("SIP/2.0 200").len();
    assert!(
        retransmitted >= 7,
        "200 retransmitted (T1 doubling to T2): {retransmitted}"
    );
    assert!(h.sent_starting("BYE").is_empty(), "not before 64·T1");
    h.advance(Duration::from_millis(1200));
    // The BYE goes at 32 s and is retransmitted (Timer E) while unanswered.
    assert!(
        !h.sent_starting("BYE").is_empty(),
        "BYE after 64·T1 = 32 s without ACK"
    );
    assert_eq!(
        h.engine.call_count(),
        1,
        "the call stays until its BYE completes"
    );
    // Nobody answers the BYE either: the call is forgotten after its transaction times out.
    h.advance(Duration::from_secs(40));
    assert_eq!(h.engine.call_count(), 0);
}

#[test]
fn cancel_while_ringing_answers_487_and_frees_the_ports() {
    let mut c = config();
    c.sip.answer_delay_ms = 5_000;
    let mut h = Harness::new(c);
    h.receive(&request("INVITE", "1 INVITE", None, &offer()));
    assert_eq!(h.sent_starting("SIP/2.0 180").len(), 1, "ringing");
    assert_eq!(h.ports.in_use(), 1, "the offer holds its ports");
    h.advance(Duration::from_secs(2));
    h.receive(&request("CANCEL", "1 CANCEL", None, ""));
    assert_eq!(h.sent_starting("SIP/2.0 200").len(), 1, "CANCEL answered");
    assert_eq!(
        h.sent_starting("SIP/2.0 487").len(),
        1,
        "INVITE ended with 487"
    );
    h.advance(Duration::from_secs(10));
    assert!(
        h.sent_starting("SIP/2.0 200").len() == 1,
        "the INVITE is never answered 200 after its CANCEL"
    );
    assert_eq!(h.engine.call_count(), 0);
    assert_eq!(h.ports.in_use(), 0, "ports back in the pool");
}

#[test]
fn an_rtp_timeout_from_the_room_ends_the_call_with_bye() {
    let mut h = Harness::new(config());
    let tag = established(&mut h);
    h.advance(Duration::from_secs(1));
    assert!(h.sent_starting("BYE").is_empty());
    h.engine.handle_room_event(
        h.now,
        RoomEvent::MediaTimeout {
            room: "3000".into(),
            member: 1,
        },
    );
    h.drain();
    let bye = h.sent_starting("BYE");
    assert_eq!(bye.len(), 1);
    assert!(
        bye[0].contains(&format!("tag={tag}")),
        "in the dialog: {}",
        bye[0]
    );
}

#[test]
fn shutdown_sends_bye_refuses_new_calls_and_gives_up_after_its_grace() {
    let mut h = Harness::new(config());
    established(&mut h);
    h.engine.begin_shutdown(h.now);
    h.drain();
    assert_eq!(h.sent_starting("BYE").len(), 1);
    assert!(
        !h.engine.is_stopped(h.now),
        "waits for the BYE to be answered"
    );
    h.advance(Duration::from_secs(1));
    assert!(!h.engine.is_stopped(h.now));
    let mut second = request("INVITE", "1 INVITE", None, &offer()).replace("call-1", "call-2");
    second = second.replace("branch=z9hG4bK-invite", "branch=z9hG4bK-second");
    h.receive(&second);
    assert_eq!(
        h.sent_starting("SIP/2.0 503").len(),
        1,
        "no new calls while stopping"
    );
    h.advance(Duration::from_secs(2));
    assert!(h.engine.is_stopped(h.now), "stopped after the 3 s grace");
    h.engine.drop_calls();
    assert_eq!(h.engine.call_count(), 0);
}

impl Harness {
    fn control<T>(
        &mut self,
        make: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> ControlRequest,
    ) -> T {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        self.engine.handle_control(self.now, make(tx));
        self.drain();
        rx.try_recv().expect("answered at once")
    }

    fn events(&mut self) -> Vec<ServerEvent> {
        std::iter::from_fn(|| self.engine.poll_event()).collect()
    }

    /// The status line of the last final response sent.
    fn last_final(&self) -> String {
        self.sent
            .iter()
            .rev()
            .find(|m| m.starts_with("SIP/2.0 ") && !m.starts_with("SIP/2.0 1"))
            .and_then(|m| m.lines().next())
            .unwrap_or_default()
            .to_string()
    }
}

/// An INVITE from another caller (its own Call-ID, tag and branch) to `user`.
fn invite_from(n: u32, user: &str) -> String {
    request("INVITE", "1 INVITE", None, &offer())
        .replace("sip:3000@", &format!("sip:{user}@"))
        .replace("Call-ID: call-1", &format!("Call-ID: call-{n}"))
        .replace("tag=alice", &format!("tag=caller{n}"))
        .replace(
            "branch=z9hG4bK-invite",
            &format!("branch=z9hG4bK-invite{n}"),
        )
}

fn put_room(h: &mut Harness, patch: RoomPatch) -> Result<bool, ControlError> {
    h.control(|reply| ControlRequest::PutRoom {
        room: "3000".to_string(),
        patch,
        reply,
    })
}

#[test]
fn a_room_admits_by_lock_pin_and_capacity_before_allocating_anything() {
    let mut h = Harness::new(config());
    let created = put_room(
        &mut h,
        RoomPatch {
            locked: Some(true),
            ..RoomPatch::default()
        },
    );
    assert_eq!(created, Ok(true));
    h.receive(&invite_from(1, "3000"));
    assert!(h.last_final().starts_with("SIP/2.0 403"), "locked");
    assert_eq!(h.ports.in_use(), 0, "refused calls hold no ports");
    let patch = RoomPatch {
        locked: Some(false),
        pin: Some(Some("1234".to_string())),
        max_members: Some(Some(2)),
        canvases: None,
    };
    assert_eq!(put_room(&mut h, patch), Ok(false), "an update");
    h.receive(&invite_from(2, "3000"));
    assert!(
        h.last_final().starts_with("SIP/2.0 200"),
        "no PIN dialled: admitted to the PIN lobby"
    );
    h.receive(&invite_from(3, "3000*9999"));
    assert!(h.last_final().contains("403"), "wrong PIN");
    assert_eq!(h.ports.in_use(), 1, "the refused call holds no ports");
    h.receive(&invite_from(4, "3000*1234"));
    assert!(h.last_final().starts_with("SIP/2.0 200"), "right PIN");
    h.receive(&invite_from(5, "3000*1234"));
    assert!(h.last_final().starts_with("SIP/2.0 486"), "full");
    let cleared = h.control(|reply| ControlRequest::PatchRoom {
        room: "3000".to_string(),
        patch: RoomPatch {
            pin: Some(None),
            max_members: Some(None),
            ..RoomPatch::default()
        },
        reply,
    });
    assert!(!cleared.expect("patched").pin_required);
    h.receive(&invite_from(6, "3000"));
    assert!(h.last_final().starts_with("SIP/2.0 200"), "open again");
    let invalid = put_room(
        &mut h,
        RoomPatch {
            pin: Some(Some("12ab".to_string())),
            ..RoomPatch::default()
        },
    );
    assert!(matches!(invalid, Err(ControlError::Invalid(_))));
}

#[test]
fn a_dialled_room_is_announced_and_ends_with_its_last_member() {
    let mut h = Harness::new(config());
    let tag = established(&mut h);
    let types = |events: &[ServerEvent]| -> Vec<String> {
        events
            .iter()
            .map(|e| serde_json::to_value(e).expect("json")["type"].to_string())
            .collect()
    };
    let joined = h.events();
    assert_eq!(
        types(&joined),
        vec!["\"room-created\"", "\"member-joined\""]
    );
    let ServerEvent::MemberJoined { member, .. } = &joined[1] else {
        panic!("member-joined");
    };
    assert_eq!(member.name, "alice");
    assert_eq!(member.uri, "sip:alice@127.0.0.1");
    assert_eq!(member.audio_codec, "PCMU");
    assert!(member.source.starts_with("udp:127.0.0.1"));
    let id = member.id;
    let report = h.control(|tx| ControlRequest::Room("3000".to_string(), tx));
    assert_eq!(report.expect("room").calls.len(), 1);
    let muted = h.control(|reply| ControlRequest::MuteAll {
        room: "3000".to_string(),
        muted: true,
        except: vec![],
        reply,
    });
    assert_eq!(muted, Ok(vec![id]));
    assert_eq!(types(&h.events()), vec!["\"member-updated\""]);
    h.receive(&request("BYE", "2 BYE", Some(&tag), ""));
    let left = h.events();
    assert_eq!(types(&left), vec!["\"member-left\"", "\"room-destroyed\""]);
    assert!(matches!(
        left[0],
        ServerEvent::MemberLeft {
            reason: LeaveReason::Bye,
            ..
        }
    ));
    let gone = h.control(|tx| ControlRequest::Room("3000".to_string(), tx));
    assert!(gone.is_none());
}

#[test]
fn deleting_a_room_ends_its_calls_with_bye() {
    let mut h = Harness::new(config());
    assert_eq!(put_room(&mut h, RoomPatch::default()), Ok(true));
    established(&mut h);
    h.events();
    let deleted = h.control(|reply| ControlRequest::DeleteRoom {
        room: "3000".to_string(),
        reply,
    });
    assert_eq!(deleted, Ok(()));
    assert_eq!(h.sent_starting("BYE").len(), 1);
    let events = h.events();
    assert!(matches!(
        events[0],
        ServerEvent::MemberLeft {
            reason: LeaveReason::RoomEnded,
            ..
        }
    ));
    assert!(matches!(events[1], ServerEvent::RoomDestroyed { .. }));
    let again = h.control(|reply| ControlRequest::DeleteRoom {
        room: "3000".to_string(),
        reply,
    });
    assert_eq!(again, Err(ControlError::UnknownRoom("3000".to_string())));
}

/// Puts a PIN on room 3000 and places a call that dials no PIN; returns its member id.
fn in_the_lobby(h: &mut Harness) -> u64 {
    let patch = RoomPatch {
        pin: Some(Some("2468".to_string())),
        ..RoomPatch::default()
    };
    assert_eq!(put_room(h, patch), Ok(true));
    established(h);
    let joined = h.events();
    joined
        .iter()
        .find_map(|e| match e {
            ServerEvent::MemberJoined { member, .. } => Some(member.id),
            _ => None,
        })
        .expect("joined the lobby")
}

fn press(h: &mut Harness, member: u64, keys: &str) {
    for digit in keys.chars() {
        h.engine.handle_room_event(
            h.now,
            RoomEvent::Dtmf {
                room: "3000".to_string(),
                member,
                digit,
            },
        );
        h.drain();
    }
}

#[test]
fn the_right_pin_by_dtmf_lets_a_lobby_caller_in_and_its_digits_stay_private() {
    let mut h = Harness::new(config());
    let member = in_the_lobby(&mut h);
    press(&mut h, member, "1111#");
    assert!(h.events().is_empty(), "a wrong try: nothing published");
    press(&mut h, member, "2468#");
    let events = h.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let ServerEvent::MemberUpdated { changes, by, .. } = &events[0] else {
        panic!("member-updated: {events:?}");
    };
    assert_eq!(changes.awaiting_pin, Some(false));
    assert_eq!(*by, ChangeSource::Dtmf);
    press(&mut h, member, "5");
    assert!(
        matches!(h.events()[..], [ServerEvent::Dtmf { digit: '5', .. }]),
        "inside the room, digits are events"
    );
    h.advance(Duration::from_secs(40));
    assert!(
        h.sent_starting("BYE").is_empty(),
        "no PIN timeout once inside"
    );
}

#[test]
fn three_wrong_pins_or_thirty_seconds_end_the_call() {
    let mut h = Harness::new(config());
    let member = in_the_lobby(&mut h);
    press(&mut h, member, "1#2#");
    assert!(h.sent_starting("BYE").is_empty(), "two tries so far");
    press(&mut h, member, "3#");
    assert_eq!(
        h.sent_starting("BYE").len(),
        1,
        "the third wrong PIN hangs up"
    );
    assert!(h.events().iter().any(|e| matches!(
        e,
        ServerEvent::MemberLeft {
            reason: LeaveReason::PinFailed,
            ..
        }
    )));

    let mut h = Harness::new(config());
    in_the_lobby(&mut h);
    h.advance(Duration::from_secs(29));
    assert!(h.sent_starting("BYE").is_empty());
    h.advance(Duration::from_secs(2));
    assert!(
        !h.sent_starting("BYE").is_empty(),
        "30 s without the PIN hangs up"
    );
}

/// A cascade leg from node-b (an INVITE with its header, answered and ACKed); returns the
/// server's tag.
fn cascade_leg_in(h: &mut Harness) -> String {
    let invite = request("INVITE", "1 INVITE", None, &offer()).replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nX-Tessera-Cascade: node=node-b;room=3000;tree=node-b\r\n",
    );
    answered(h, &invite)
}

/// An INFO of the leg's dialog with `body` of `content_type`.
fn info(cseq: u32, tag: &str, content_type: &str, body: &str) -> String {
    request("INFO", &format!("{cseq} INFO"), Some(tag), body)
        .replace("application/sdp", content_type)
}

#[test]
fn a_leg_reads_the_far_roster_and_ends_when_its_keepalive_goes_unanswered() {
    use crate::cascade::roster::CASCADE_CONTENT_TYPE;
    let mut h = Harness::new(config());
    let tag = cascade_leg_in(&mut h);
    assert!(
        h.events()
            .iter()
            .any(|e| matches!(e, ServerEvent::CascadeUp { .. })),
        "the leg is up"
    );
    // The far side's people arrive as remote members.
    let side = r#"{"type":"side","seq":1,"tree":["node-b"],"people":[{"node":"node-b","member":4,"name":"bob","talking":true}]}"#;
    h.receive(&info(2, &tag, CASCADE_CONTENT_TYPE, side));
    assert_eq!(h.last_final(), "SIP/2.0 200 OK");
    let events = h.events();
    let joined = events.iter().find_map(|e| match e {
        ServerEvent::MemberJoined { member, .. } => Some(member.clone()),
        _ => None,
    });
    let joined = joined.expect("bob joined");
    assert_eq!(
        (joined.name.as_str(), joined.via.as_deref()),
        ("bob", Some("cascade-1"))
    );
    assert_eq!(joined.node.as_ref().map(|n| n.as_str()), Some("node-b"));
    assert!(events
        .iter()
        .any(|e| matches!(e, ServerEvent::TalkingStarted { far: Some(_), .. })));
    // Other bodies are refused without harm.
    h.receive(&info(
        3,
        &tag,
        "application/dtmf-relay",
        "Signal=5\r\nDuration=160\r\n",
    ));
    assert!(
        h.last_final().starts_with("SIP/2.0 415"),
        "{}",
        h.last_final()
    );
    h.receive(&info(4, &tag, CASCADE_CONTENT_TYPE, "{not json"));
    assert!(
        h.last_final().starts_with("SIP/2.0 400"),
        "{}",
        h.last_final()
    );
    // Our side went to the far node once the leg was up.
    let ours = h.sent_starting("INFO ");
    assert!(
        ours.first()
            .is_some_and(|m| m.contains(r#""type":"side""#) && !m.contains("node-b")),
        "our side, without the far node's people: {ours:?}"
    );
    // An OPTIONS every 5 s; one left unanswered for 10 s ends the leg (BYE) and its people.
    h.advance(Duration::from_millis(5_100));
    assert_eq!(h.sent_starting("OPTIONS ").len(), 1, "the keepalive probe");
    assert!(h.sent_starting("BYE").is_empty());
    h.advance(Duration::from_secs(10));
    assert!(!h.sent_starting("BYE").is_empty(), "the leg ended");
    let events = h.events();
    assert!(events.iter().any(|e| matches!(
        e,
        ServerEvent::MemberLeft {
            reason: LeaveReason::LegDown,
            far: Some(_),
            ..
        }
    )));
    assert!(events
        .iter()
        .any(|e| matches!(e, ServerEvent::CascadeDown { .. })));
}

/// #14: an ACK was matched on Call-ID and CSeq alone, so one who saw (or forged) the INVITE
/// could confirm the call blind. Without our To tag it confirms nothing: the 200 goes on
/// being retransmitted and the call is hung up at 64·T1 as if no ACK came.
#[test]
fn an_ack_without_our_tag_does_not_confirm_the_call() {
    let mut h = Harness::new(config());
    h.receive(&request("INVITE", "1 INVITE", None, &offer()));
    assert_eq!(h.sent_starting("SIP/2.0 200").len(), 1);
    h.receive(&request("ACK", "1 ACK", None, ""));
    h.receive(&request("ACK", "1 ACK", Some("guessed"), ""));
    h.advance(Duration::from_secs(5));
    assert!(
        h.sent_starting("SIP/2.0 200").len() > 1,
        "the 200 is still retransmitted"
    );
    h.advance(Duration::from_secs(28));
    assert!(
        !h.sent_starting("BYE").is_empty(),
        "hung up at 64·T1 as unacknowledged"
    );
}

/// #14 item 3: new INVITEs from one source beyond its rate get a cheap 503 with Retry-After
/// before any port or codec is taken; the source gets more as its bucket refills.
#[test]
fn an_invite_flood_from_one_source_gets_503_with_retry_after_and_holds_nothing() {
    let mut c = config();
    c.limits.invites_per_sec_per_ip = 5.0; // bursts of 10
    let mut h = Harness::new(c);
    for n in 1..=30 {
        h.receive(&invite_from(n, "3000"));
    }
    assert_eq!(h.sent_starting("SIP/2.0 200").len(), 10, "the burst");
    let refused = h.sent_starting("SIP/2.0 503");
    assert_eq!(refused.len(), 20);
    assert!(refused.iter().all(|r| r.contains("Retry-After: 1")));
    assert_eq!(
        h.sent_starting("SIP/2.0 100").len(),
        10,
        "no Trying for the refused"
    );
    assert_eq!(h.ports.in_use(), 10, "refused INVITEs hold no ports");
    h.advance(Duration::from_secs(1));
    let before = h.sent.len();
    for n in 31..=40 {
        h.receive(&invite_from(n, "3000"));
    }
    let answered = h.sent[before..]
        .iter()
        .filter(|m| m.starts_with("SIP/2.0 200"))
        .count();
    assert_eq!(answered, 5, "the rate");
}

#[test]
fn calls_per_source_and_rooms_are_limited() {
    let mut c = config();
    c.limits.calls_per_ip = 3;
    c.limits.rooms = 1;
    let mut h = Harness::new(c);
    for n in 1..=3 {
        h.receive(&invite_from(n, "3000"));
    }
    assert_eq!(h.sent_starting("SIP/2.0 200").len(), 3);
    h.receive(&invite_from(4, "3000"));
    let refused = h.sent_starting("SIP/2.0 503");
    assert_eq!(refused.len(), 1);
    assert!(refused[0].contains("too many calls from this address"));
    assert!(refused[0].contains("Retry-After:"));
    let mut c = config();
    c.limits.rooms = 1;
    let mut h = Harness::new(c);
    h.receive(&invite_from(1, "3000"));
    h.receive(&invite_from(2, "3001"));
    let refused = h.sent_starting("SIP/2.0 503");
    assert_eq!(refused.len(), 1, "a second room is not opened");
    assert!(refused[0].contains("no more rooms"));
    h.receive(&invite_from(3, "3000"));
    assert_eq!(
        h.sent_starting("SIP/2.0 200").len(),
        2,
        "the open room still takes calls"
    );
}

#[test]
fn a_room_with_dots_in_its_id_can_be_dialled() {
    let mut h = Harness::new(config());
    h.receive(&invite_from(2, "team.a"));
    assert_eq!(h.sent_starting("SIP/2.0 200").len(), 1);
    let room = h.control(|tx| ControlRequest::Room("team.a".to_string(), tx));
    assert_eq!(room.expect("room team.a").calls.len(), 1);
    assert!(h
        .control(|tx| ControlRequest::Room("team".to_string(), tx))
        .is_none());
}

#[test]
fn sources_outside_the_allow_list_get_403_and_hold_nothing() {
    let mut c = config();
    c.sip.allow = vec!["10.0.0.0/8".into(), "192.0.2.7".into()];
    let mut h = Harness::new(c);
    h.receive(&request("INVITE", "1 INVITE", None, &offer()));
    assert_eq!(h.sent_starting("SIP/2.0 403").len(), 1);
    assert!(h.sent_starting("SIP/2.0 100").is_empty());
    assert_eq!(h.ports.in_use(), 0);
    assert_eq!(h.engine.call_count(), 0);
    let mut c = config();
    c.sip.allow = vec!["127.0.0.0/8".into()];
    let mut h = Harness::new(c);
    h.receive(&request("INVITE", "1 INVITE", None, &offer()));
    assert_eq!(h.sent_starting("SIP/2.0 200").len(), 1, "an allowed source");
}

/// The digest a SIP phone computes (RFC 2617 §3.2.2 with qop=auth), written out here.
fn digest_response(nonce: &str, password: &str) -> String {
    use sha2::Digest;
    let hex = |s: String| -> String {
        sha2::Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let ha1 = hex(format!("alice:tessera:{password}"));
    let ha2 = hex(format!("INVITE:sip:3000@{SERVER}"));
    hex(format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"))
}

#[test]
fn callers_must_answer_the_digest_challenge_when_users_are_configured() {
    let mut c = config();
    c.sip.auth.users.insert("alice".into(), "secret".into());
    let mut h = Harness::new(c);
    h.receive(&request("INVITE", "1 INVITE", None, &offer()));
    let challenge = h.sent_starting("SIP/2.0 401")[0].clone();
    assert_eq!(h.ports.in_use(), 0, "a challenge holds no ports");
    let offers: Vec<&str> = challenge
        .lines()
        .filter(|l| l.starts_with("WWW-Authenticate:"))
        .collect();
    assert_eq!(offers.len(), 2, "{challenge}");
    assert!(offers[0].contains("algorithm=SHA-256") && offers[1].contains("algorithm=MD5"));
    let nonce = offers[0]
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("nonce")
        .to_string();
    let with_credentials = |password: &str, n: u32| {
        let authorization = format!(
            "Authorization: Digest username=\"alice\", realm=\"tessera\", nonce=\"{nonce}\", \
uri=\"sip:3000@{SERVER}\", response=\"{}\", algorithm=SHA-256, qop=auth, nc=00000001, \
cnonce=\"c0ffee\"\r\n",
            digest_response(&nonce, password)
        );
        request("INVITE", &format!("{n} INVITE"), None, &offer())
            .replace("Contact:", &format!("{authorization}Contact:"))
            .replace("branch=z9hG4bK-invite", &format!("branch=z9hG4bK-auth{n}"))
    };
    h.receive(&with_credentials("wrong", 2));
    assert_eq!(h.sent_starting("SIP/2.0 401").len(), 2, "a wrong password");
    assert_eq!(h.engine.call_count(), 0);
    h.receive(&with_credentials("secret", 3));
    assert_eq!(h.sent_starting("SIP/2.0 200").len(), 1, "the right one");
    assert_eq!(h.engine.call_count(), 1);
}

/// #14 item 6: a panic while a media thread applies a room's command fails that room alone
/// (the thread and its other rooms carry on). The core ends every call of the failed room
/// with BYE, also one that joined after the failure, and forgets the room, so the next caller
/// starts it afresh instead of getting a 200 with no media.
#[test]
fn a_failed_room_ends_its_calls_and_the_next_caller_starts_it_afresh() {
    use crate::conference::worker::RoomCommand;
    let mut c = config();
    c.media.threads = 1;
    let mut h = Harness::new(c);
    answered(&mut h, &invite_from(1, "3000"));
    answered(&mut h, &invite_from(2, "4000"));
    assert!(h.engine.registry.contains("3000") && h.engine.registry.contains("4000"));
    h.engine.registry.pool().send(
        0,
        RoomCommand::PanicForTest {
            room: "3000".into(),
        },
    );
    let failed = loop {
        match h
            .room_events
            .blocking_recv()
            .expect("the media thread reports")
        {
            event @ RoomEvent::RoomFailed { .. } => break event,
            _ => continue,
        }
    };
    // A caller joins the room between the failure and the core hearing of it.
    answered(&mut h, &invite_from(3, "3000"));
    h.engine.handle_room_event(h.now, failed);
    h.drain();
    let byes = h.sent_starting("BYE");
    assert_eq!(byes.len(), 2, "both calls of the failed room: {byes:?}");
    assert!(
        byes.iter().all(|b| !b.contains("call-2")),
        "room 4000 is untouched"
    );
    assert!(!h.engine.registry.contains("3000"), "forgotten");
    // The other room lives on its thread still.
    let snapshot = h.engine.registry.snapshot("4000").expect("room 4000");
    assert!(snapshot.blocking_recv().expect("answered").is_some());
    answered(&mut h, &invite_from(4, "3000"));
    assert!(h.engine.registry.contains("3000"), "started afresh");
    let snapshot = h.engine.registry.snapshot("3000").expect("room 3000");
    let room = snapshot
        .blocking_recv()
        .expect("answered")
        .expect("it runs");
    assert_eq!(room.members.len(), 1);
}
