//! The calling side of a dialog (UAC): the INVITE with its SDP offer, ACK for a 2xx (again
//! for each retransmitted 2xx), CANCEL of an unanswered INVITE, BYE (RFC 3261 §8.1.1, §9.1,
//! §13.2.2.4, §15.1.1). Used by `tessera dial`, the load generator and the server's dial-out.
//! [`UacDialog::answering`] gives the called side of a dialog the same in-dialog requests
//! (its BYE), for `tessera dial --listen`.

use crate::sip::message::{new_branch, new_tag, random_token, set_body, PRODUCT};
use crate::sip::peer::Peer;
use rsip::headers::{Header, UntypedHeader};
use rsip::prelude::*;
use rsip::{Method, Request};
use std::net::SocketAddr;

/// Dialog identifiers and addressing of the UAC side.
pub struct UacDialog {
    pub target: rsip::Uri,
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: Option<String>,
    pub from_user: String,
    pub local: SocketAddr,
    pub peer: Peer,
    pub cseq: u32,
    /// Remote Contact from the 2xx: where in-dialog requests go.
    pub remote_target: Option<rsip::Uri>,
}

impl UacDialog {
    pub fn new(target: rsip::Uri, from_user: &str, local: SocketAddr, peer: Peer) -> Self {
        Self {
            target,
            call_id: format!("{}@{}", random_token(20), local.ip()),
            local_tag: new_tag(),
            remote_tag: None,
            from_user: from_user.to_string(),
            local,
            peer,
            cseq: 1,
            remote_target: None,
        }
    }

    /// The dialog of a call we answer: its Call-ID, the caller as the remote party (its From
    /// tag and Contact), `local_tag` on our side (the To tag of our 2xx).
    pub fn answering(
        invite: &Request,
        local_tag: &str,
        local: SocketAddr,
        peer: Peer,
    ) -> Option<Self> {
        let from = invite.from_header().ok()?.typed().ok()?;
        let user = invite.uri.user().unwrap_or("tessera-dial").to_string();
        Some(Self {
            remote_tag: from.tag().map(|t| t.value().to_string()),
            target: from.uri,
            call_id: crate::sip::message::call_id(invite)?,
            local_tag: local_tag.to_string(),
            from_user: user,
            local,
            peer,
            cseq: rand::random::<u16>().into(),
            remote_target: invite
                .contact_header()
                .ok()
                .and_then(|c| c.typed().ok())
                .map(|c| c.uri),
        })
    }

    /// The Contact header value of our side.
    pub fn contact(&self) -> String {
        let transport = if self.peer.is_reliable() {
            ";transport=tcp"
        } else {
            ""
        };
        format!("<sip:{}@{}{transport}>", self.from_user, self.local)
    }

    fn base(&self, method: Method, cseq: u32, uri: rsip::Uri) -> Request {
        let mut headers = rsip::Headers::default();
        headers.push(Header::Via(rsip::headers::Via::new(format!(
            "SIP/2.0/{} {};branch={};rport",
            self.peer.transport_name(),
            self.local,
            new_branch()
        ))));
        headers.push(Header::MaxForwards(rsip::headers::MaxForwards::new("70")));
        let ip = self.local.ip();
        headers.push(Header::From(rsip::headers::From::new(format!(
            "\"{}\" <sip:{}@{}>;tag={}",
            self.from_user, self.from_user, ip, self.local_tag
        ))));
        let to = match &self.remote_tag {
            Some(tag) => format!("<{}>;tag={tag}", self.target),
            None => format!("<{}>", self.target),
        };
        headers.push(Header::To(rsip::headers::To::new(to)));
        headers.push(Header::CallId(rsip::headers::CallId::new(
            self.call_id.clone(),
        )));
        headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
            "{cseq} {method}"
        ))));
        headers.push(Header::Contact(rsip::headers::Contact::new(self.contact())));
        headers.push(Header::UserAgent(rsip::headers::UserAgent::new(PRODUCT)));
        let mut req = Request {
            method,
            uri,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        };
        crate::sip::message::BodyCarrier::fix_content_length(&mut req);
        req
    }

    /// The initial INVITE with its SDP offer and any extra headers.
    pub fn invite(&self, sdp: &str, extra: &[(String, String)]) -> Request {
        let mut req = self.base(Method::Invite, self.cseq, self.target.clone());
        for (name, value) in extra {
            req.headers.push(Header::Other(name.clone(), value.clone()));
        }
        set_body(&mut req, "application/sdp", sdp.as_bytes().to_vec());
        req
    }

    /// Takes the dialog's remote tag and target from a 2xx to the INVITE and returns the ACK
    /// to send (RFC 3261 §13.2.2.4). Called again for retransmitted 2xx, it re-ACKs.
    pub fn accept_success(&mut self, response: &rsip::Response) -> Request {
        self.remote_tag = crate::sip::message::to_tag(response);
        self.remote_target = response
            .contact_header()
            .ok()
            .and_then(|c| c.typed().ok())
            .map(|c| c.uri);
        self.ack()
    }

    /// ACK for the 2xx of the INVITE (a new transaction, same CSeq number).
    pub fn ack(&self) -> Request {
        let uri = self
            .remote_target
            .clone()
            .unwrap_or_else(|| self.target.clone());
        self.base(Method::Ack, self.cseq, uri)
    }

    /// BYE ending the dialog.
    pub fn bye(&mut self) -> Request {
        self.cseq += 1;
        let uri = self
            .remote_target
            .clone()
            .unwrap_or_else(|| self.target.clone());
        self.base(Method::Bye, self.cseq, uri)
    }
}

/// CANCEL for `invite` (RFC 3261 §9.1): its Request-URI, Call-ID, From, To and top Via
/// (the same branch), CSeq number with method CANCEL, no body.
pub fn cancel_for(invite: &Request) -> Request {
    let mut headers = rsip::Headers::default();
    let mut via_done = false;
    for h in invite.headers.iter() {
        match h {
            Header::Via(_) if !via_done => {
                via_done = true;
                headers.push(h.clone());
            }
            Header::From(_) | Header::To(_) | Header::CallId(_) | Header::MaxForwards(_) => {
                headers.push(h.clone())
            }
            Header::CSeq(cseq) => {
                let number = cseq.typed().map(|c| c.seq).unwrap_or(1);
                headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
                    "{number} CANCEL"
                ))));
            }
            _ => {}
        }
    }
    headers.push(Header::UserAgent(rsip::headers::UserAgent::new(PRODUCT)));
    headers.push(Header::ContentLength(rsip::headers::ContentLength::new(
        "0",
    )));
    Request {
        method: Method::Cancel,
        uri: invite.uri.clone(),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// The session negotiated by the SDP answer in a response body, if it is usable.
pub fn negotiated_from_answer(
    offer: &crate::sdp::SessionDescription,
    body: &[u8],
) -> Option<crate::sdp::NegotiatedSession> {
    let text = std::str::from_utf8(body).ok()?;
    let answer = crate::sdp::SessionDescription::parse(text).ok()?;
    crate::sdp::accept_answer(offer, &answer).ok()
}

/// Resolves the host and port of a SIP URI (default port 5060; IPv6 brackets allowed).
pub async fn resolve_target(target: &rsip::Uri) -> Option<std::net::SocketAddr> {
    let text = target.host_with_port.host.to_string();
    let host = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = target
        .host_with_port
        .port
        .as_ref()
        .map(|p| *p.value())
        .unwrap_or(5060);
    let mut addrs = tokio::net::lookup_host((host.as_str(), port)).await.ok()?;
    addrs.next()
}
