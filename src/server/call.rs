//! One call (a SIP dialog, RFC 3261 §12) as the UAS sees it: identifiers, the peer, the
//! member it became, and how to build in-dialog requests (our BYE, and a cascade leg's
//! INFO and OPTIONS).

use super::roster::MemberKind;
use super::wall_clock::Timestamp;
use crate::conference::member::{MemberId, MemberSetup};
use crate::conference::member_control::{ControlState, Role};
use crate::conference::room::RoomId;
use crate::rtp::port_pool::RtpSocketPair;
use crate::sdp::{AudioCodec, SessionDescription};
use crate::sip::message::{from_tag, new_branch, to_tag, PRODUCT};
use crate::sip::peer::Peer;
use crate::sip::transaction::TxKey;
use rsip::headers::{Header, UntypedHeader};
use rsip::{Method, Request};
use std::net::SocketAddr;
use std::time::Instant;

/// Where a call is in its life.
#[derive(Debug)]
pub enum CallState {
    /// INVITE received, 180 sent, answering at `answer_at` (answer delay configured).
    Ringing { invite: TxKey, answer_at: Instant },
    /// 200 sent, waiting for the ACK.
    AwaitingAck,
    /// ACK received: media flowing.
    Confirmed,
    /// We sent BYE and wait for its response.
    Terminating,
}

/// Media that waits for the SDP answer in the ACK (the INVITE carried no offer).
pub struct PendingOffer {
    pub offer: SessionDescription,
    pub sockets: RtpSocketPair,
    /// Where the member goes once the answer arrives (0-based canvas, or none).
    pub initial_canvas: Option<usize>,
}

/// The UAS side of a dialog.
pub struct Call {
    pub call_id: String,
    pub room: RoomId,
    pub member: MemberId,
    pub name: String,
    /// The caller's From URI.
    pub uri: String,
    pub kind: MemberKind,
    /// Moderators are spared by mute-all.
    pub role: Role,
    /// The cascade leg it carries (kind `cascade`).
    pub leg: Option<String>,
    pub state: CallState,
    pub peer: Peer,
    pub local_addr: SocketAddr,
    pub local_tag: String,
    pub remote_tag: Option<String>,
    /// The INVITE's From header (becomes To of our requests).
    pub remote_from: rsip::headers::From,
    /// The INVITE's To header without tag (becomes From of our requests, with our tag).
    pub local_to: rsip::headers::To,
    /// Where in-dialog requests go (the remote Contact, else the From URI).
    pub remote_target: rsip::Uri,
    /// Record-Route of the INVITE, used as our route set (RFC 3261 §12.1.1).
    pub route_set: Vec<rsip::headers::RecordRoute>,
    pub local_cseq: u32,
    /// The last SDP we sent (offer or answer); its origin version increments per change.
    pub local_sdp: Option<SessionDescription>,
    pub pending_offer: Option<PendingOffer>,
    /// The INVITE still waiting for its final response (answer delay), with its transaction.
    pub invite: Option<(TxKey, Request)>,
    /// The member, built and waiting for the answer to be sent.
    pub staged: Option<MemberSetup>,
    /// Must enter the room's PIN by DTMF before it is mixed.
    pub awaiting_pin: bool,
    /// Its controls as operators last set them (what the cascade roster tells of it).
    pub controls: ControlState,
    /// Whether the member was added to its room yet.
    pub joined: bool,
    /// When it was added.
    pub joined_at: Option<Timestamp>,
    /// The audio codec in use (kept across re-INVITEs).
    pub codec: Option<AudioCodec>,
    /// A re-INVITE without SDP got our offer in the 200; the answer comes in the ACK.
    pub reoffer: Option<SessionDescription>,
    pub rtp_port: u16,
    /// Our video RTP port, when the call negotiated video (kept for re-INVITEs).
    pub video_port: Option<u16>,
    /// The ACK we sent for the 2xx of our own INVITE (dial-out), repeated for retransmitted
    /// 2xx responses.
    pub ack: Option<bytes::Bytes>,
    /// It asked to hide its own tile (`X-Tessera-Hide-Self`) and was granted a view of its own.
    pub hides_self: bool,
    /// The user it authenticated as (`[sip.auth]`).
    pub user: Option<String>,
}

impl Call {
    /// Builds a BYE for this dialog (RFC 3261 §15.1.1).
    pub fn build_bye(&mut self) -> Request {
        self.build_request(Method::Bye, None)
    }

    /// Builds an in-dialog request (RFC 3261 §12.2.1.1) with the next CSeq and, if given, a
    /// body of its content type.
    pub fn build_request(&mut self, method: Method, body: Option<(&str, Vec<u8>)>) -> Request {
        self.local_cseq += 1;
        let mut headers = rsip::Headers::default();
        headers.push(Header::Via(rsip::headers::Via::new(format!(
            "SIP/2.0/{} {};branch={};rport",
            self.peer.transport_name(),
            self.local_addr,
            new_branch()
        ))));
        headers.push(Header::MaxForwards(rsip::headers::MaxForwards::new("70")));
        let from = format!("{};tag={}", self.local_to.value(), self.local_tag);
        headers.push(Header::From(rsip::headers::From::new(from)));
        headers.push(Header::To(rsip::headers::To::new(self.remote_from.value())));
        headers.push(Header::CallId(rsip::headers::CallId::new(
            self.call_id.clone(),
        )));
        headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
            "{} {method}",
            self.local_cseq
        ))));
        for rr in &self.route_set {
            headers.push(Header::Route(rsip::headers::Route::new(rr.value())));
        }
        headers.push(Header::UserAgent(rsip::headers::UserAgent::new(PRODUCT)));
        let body = match body {
            Some((content_type, body)) => {
                headers.push(Header::ContentType(rsip::headers::ContentType::new(
                    content_type,
                )));
                body
            }
            None => Vec::new(),
        };
        headers.push(Header::ContentLength(rsip::headers::ContentLength::new(
            body.len().to_string(),
        )));
        Request {
            method,
            uri: self.remote_target.clone(),
            version: rsip::Version::V2,
            headers,
            body,
        }
    }

    /// Whether an in-dialog request belongs to this dialog (its From tag is the peer's, its
    /// To tag ours).
    pub fn is_dialog_of(&self, req: &Request) -> bool {
        self.remote_tag == from_tag(req) && to_tag(req).as_deref() == Some(self.local_tag.as_str())
    }

    /// Contact URI of our side.
    pub fn local_contact(&self) -> String {
        contact_for(&self.room, self.local_addr, self.peer)
    }
}

/// `<sip:room@addr[;transport=tcp]>`.
pub fn contact_for(room: &str, local: SocketAddr, peer: Peer) -> String {
    let transport = if peer.is_reliable() {
        ";transport=tcp"
    } else {
        ""
    };
    format!("<sip:{room}@{local}{transport}>")
}
