//! `tessera dial --listen ADDR`: the answering side. It waits (up to the answer timeout) for
//! one INVITE on ADDR (UDP and TCP), answers 200 with its SDP answer, then sends its tone and
//! video and records exactly as a placed call does, until its duration ends (BYE) or the
//! caller hangs up. A second INVITE meanwhile gets 486. Made for checking dial-out and
//! cascade legs against a client that is not the server itself.

use super::session::{empty_report, CallSockets, Uac};
use super::{DialError, DialOptions, DialReport};
use crate::sdp::{answer_offer, Direction, LocalMedia, SessionDescription};
use crate::sip::message::{new_tag, response_to, set_body, set_to_tag};
use crate::sip::peer::Peer;
use crate::sip::timers::TimerConfig;
use crate::sip::transaction::{TransactionLayer, TxKey, TxOutput};
use crate::sip::transport::{local_ip_towards, Transport, TransportEvent};
use crate::sip::uac_dialog::UacDialog;
use rsip::headers::{Header, UntypedHeader};
use rsip::{Method, Request, SipMessage};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::net::UdpSocket;
use tracing::{info, warn};

/// Waits for one call on `listen`, answers it and reports it as [`super::dial`] does.
pub async fn answer(options: DialOptions, listen: SocketAddr) -> Result<DialReport, DialError> {
    Listener::bind(options, listen).await?.answer().await
}

/// A bound answering client, before its call.
pub struct Listener {
    signalling: Listening,
    options: DialOptions,
}

impl Listener {
    /// Binds `listen` (UDP and TCP; port 0 picks one).
    pub async fn bind(options: DialOptions, listen: SocketAddr) -> Result<Self, DialError> {
        let (transport, events) = Transport::bind(listen, Some(Default::default())).await?;
        info!(local = %transport.local_addr(), "waiting for a call");
        Ok(Self {
            signalling: Listening {
                transport,
                events,
                layer: TransactionLayer::new(TimerConfig::default()),
            },
            options,
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.signalling.transport.local_addr()
    }

    /// Waits for the call, answers it and runs it.
    pub async fn answer(self) -> Result<DialReport, DialError> {
        answer_on(self.signalling, self.options).await
    }
}

async fn answer_on(mut uac: Listening, options: DialOptions) -> Result<DialReport, DialError> {
    let local = uac.transport.local_addr();
    let mut report = empty_report(&options);
    let give_up = Instant::now() + options.answer_timeout;
    let Some((invite, key, peer)) = uac.next_invite(give_up).await else {
        report.ended_by = Some("no call arrived".to_string());
        return Ok(report);
    };
    let ip = match local.ip() {
        ip if ip.is_unspecified() => local_ip_towards(peer.addr.ip()),
        ip => ip,
    };
    let bind = || UdpSocket::bind(SocketAddr::new(ip, 0));
    let rtp = bind().await.map_err(DialError::Rtp)?;
    let video = if options.wants_video() {
        Some(bind().await.map_err(DialError::Rtp)?)
    } else {
        None
    };
    let port = |s: &UdpSocket| s.local_addr().map(|a| a.port()).map_err(DialError::Rtp);
    let media = LocalMedia {
        address: ip,
        session_id: rand::random::<u32>().into(),
        session_version: 1,
        audio_port: port(&rtp)?,
        audio_codecs: vec![options.codec],
        offer_rtcp_mux: true,
        video_port: video.as_ref().map(port).transpose()?,
        direction: Direction::SendRecv,
    };
    let offer = std::str::from_utf8(&invite.body)
        .ok()
        .and_then(|text| SessionDescription::parse(text).ok());
    let answered = offer
        .as_ref()
        .and_then(|offer| answer_offer(offer, &media).ok())
        .and_then(|(sdp, n)| n.audio.map(|audio| (sdp, audio, n.video)));
    let Some((sdp, audio, negotiated_video)) = answered else {
        warn!("the offer has no audio we can use: 488");
        let refusal = response_to(&invite, 488);
        uac.layer.respond(Instant::now(), &key, &refusal);
        uac.flush().await;
        report.status = 488;
        return Ok(report);
    };
    let tag = new_tag();
    let local = SocketAddr::new(ip, local.port());
    let Some(dialog) = UacDialog::answering(&invite, &tag, local, peer) else {
        let refusal = response_to(&invite, 400);
        uac.layer.respond(Instant::now(), &key, &refusal);
        uac.flush().await;
        return Ok(report);
    };
    let mut ok = response_to(&invite, 200);
    set_to_tag(&mut ok, &tag);
    ok.headers.push(Header::Contact(rsip::headers::Contact::new(
        dialog.contact(),
    )));
    set_body(&mut ok, "application/sdp", sdp.to_string().into_bytes());
    uac.layer.respond(Instant::now(), &key, &ok);
    uac.flush().await;
    info!(call_id = %dialog.call_id, from = %dialog.target, "call answered");
    let mut call = Uac {
        transport: uac.transport,
        events: uac.events,
        layer: uac.layer,
        dialog,
    };
    let sockets = CallSockets { rtp, video };
    call.converse(&options, &audio, negotiated_video, sockets, report)
        .await
}

/// Signalling before a call: answers what is not an INVITE.
struct Listening {
    transport: Transport,
    events: tokio::sync::mpsc::Receiver<TransportEvent>,
    layer: TransactionLayer,
}

impl Listening {
    /// The first INVITE to arrive before `give_up`.
    async fn next_invite(&mut self, give_up: Instant) -> Option<(Request, TxKey, Peer)> {
        loop {
            let mut invite = None;
            while let Some(out) = self.layer.poll_output() {
                match out {
                    TxOutput::Transmit { peer, data } => {
                        if let Err(e) = self.transport.send(peer, data).await {
                            warn!(error = %e, "send failed");
                        }
                    }
                    TxOutput::Request { key, request, peer }
                        if request.method == Method::Invite && invite.is_none() =>
                    {
                        invite = Some((request, key, peer));
                    }
                    TxOutput::Request { key, request, .. } => {
                        let status = match request.method {
                            Method::Options => 200,
                            Method::Invite => 486,
                            Method::Bye | Method::Cancel => 481,
                            _ => 405,
                        };
                        self.layer
                            .respond(Instant::now(), &key, &response_to(&request, status));
                    }
                    _ => {}
                }
            }
            if invite.is_some() {
                return invite;
            }
            if Instant::now() >= give_up {
                return None;
            }
            let deadline = self.layer.poll_timeout().unwrap_or(give_up).min(give_up);
            tokio::select! {
                event = self.events.recv() => {
                    let Some(TransportEvent::Message { message, peer, .. }) = event else {
                        continue;
                    };
                    let now = Instant::now();
                    match *message {
                        SipMessage::Request(r) => self.layer.handle_request(now, r, peer),
                        SipMessage::Response(r) => self.layer.handle_response(now, r),
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    self.layer.handle_timeout(Instant::now());
                }
            }
        }
    }

    /// Sends what the transactions queued.
    async fn flush(&mut self) {
        while let Some(out) = self.layer.poll_output() {
            if let TxOutput::Transmit { peer, data } = out {
                if let Err(e) = self.transport.send(peer, data).await {
                    warn!(error = %e, "send failed");
                }
            }
        }
    }
}
