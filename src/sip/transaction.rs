//! The SIP transaction layer (RFC 3261 §17, with the RFC 6026 "Accepted" states), sans-IO.
//!
//! Fed with parsed messages and `now`; drained with [`TransactionLayer::poll_output`]. It
//! absorbs retransmitted requests (a retransmitted INVITE never reaches the TU twice), resends
//! responses on the UDP timers G (and 2xx retransmission per §13.3.1.4), retransmits client
//! requests on timers A/E, and reports timeouts (B, F, H, L). Reliable flows (TCP) get no
//! retransmissions and zero-length wait states.

use super::message::{call_id, cseq, from_tag, to_tag, transaction_id};
use super::peer::Peer;
use super::timers::TimerConfig;
use bytes::Bytes;
use rsip::headers::Header;
use rsip::prelude::*;
use rsip::{Method, Request, Response};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Identifies a transaction: the top Via's branch and sent-by (or, from an RFC 2543 peer, the
/// fields that stand in for them, [`transaction_id`]) plus the method (ACK folds into INVITE,
/// RFC 3261 §17.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxKey {
    pub id: String,
    pub method: Method,
}

impl std::hash::Hash for TxKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.method.to_string().hash(state);
    }
}

impl TxKey {
    fn for_message(msg: &impl HeadersExt, method: Method) -> Option<Self> {
        let method = if method == Method::Ack {
            Method::Invite
        } else {
            method
        };
        Some(Self {
            id: transaction_id(msg)?,
            method,
        })
    }
}

/// Why a transaction ended without the normal exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Client transaction: no final response (Timer B or F); treat as 408.
    NoResponse,
    /// Server INVITE transaction: a 2xx was never acknowledged (64·T1, RFC 3261 §13.3.1.4).
    SuccessNotAcknowledged,
    /// Server INVITE transaction: a failure response was never acknowledged (Timer H).
    FailureNotAcknowledged,
}

/// What the layer asks its driver or transaction user to do.
#[derive(Debug)]
pub enum TxOutput {
    /// Send these bytes.
    Transmit { peer: Peer, data: Bytes },
    /// A new request for the TU; answer it with [`TransactionLayer::respond`].
    Request {
        key: TxKey,
        request: Request,
        peer: Peer,
    },
    /// An ACK for a 2xx: it belongs to the dialog, not to a transaction.
    AckForSuccess { request: Request, peer: Peer },
    /// A response for a client transaction (2xx retransmissions are repeated so the TU can
    /// re-send its ACK).
    Response { key: TxKey, response: Response },
    /// A transaction gave up.
    Timeout {
        key: TxKey,
        kind: TimeoutKind,
        call_id: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    Trying,
    Proceeding,
    /// Final non-2xx sent; waiting for ACK (INVITE) or absorbing retransmissions (non-INVITE).
    Completed,
    /// INVITE only: ACK received, absorbing ACK retransmissions (Timer I).
    Confirmed,
    /// INVITE only: 2xx sent (RFC 6026 §7.1).
    Accepted,
}

#[derive(Debug)]
struct ServerTx {
    is_invite: bool,
    state: ServerState,
    peer: Peer,
    call_id: String,
    cseq: u32,
    last_response: Option<Bytes>,
    retransmit_at: Option<Instant>,
    retransmit_interval: Duration,
    deadline: Option<Instant>,
    acked: bool,
    /// The From tag of the request; with the To tag of a 2xx, the dialog its ACK must name.
    from_tag: Option<String>,
    /// Its entry in the index of accepted INVITEs, once a 2xx went.
    accepted_as: Option<AcceptedDialog>,
    /// Timer G retransmissions left for a failure response (`None`: until the ACK).
    retransmits_left: Option<u32>,
}

/// Timer G retransmissions of a failure response to an INVITE. RFC 3261 has them until the
/// ACK (about ten); a caller that lost ours retransmits its INVITE and gets it again anyway,
/// so a few are enough, and a spoofed INVITE is not amplified tenfold.
const FAILURE_RETRANSMITS: u32 = 2;

/// What an ACK for a 2xx must carry to be the ACK of an accepted INVITE (RFC 3261 §12.2.2):
/// the whole dialog, not only Call-ID and CSeq, so one who never saw the 2xx cannot forge it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AcceptedDialog {
    call_id: String,
    cseq: u32,
    from_tag: Option<String>,
    to_tag: Option<String>,
}

impl AcceptedDialog {
    fn of_ack(ack: &Request) -> Self {
        Self {
            call_id: call_id(ack).unwrap_or_default(),
            cseq: cseq(ack).map(|(s, _)| s).unwrap_or(0),
            from_tag: from_tag(ack),
            to_tag: to_tag(ack),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
}

#[derive(Debug)]
struct ClientTx {
    request: Request,
    data: Bytes,
    peer: Peer,
    state: ClientState,
    retransmit_at: Option<Instant>,
    retransmit_interval: Duration,
    deadline: Option<Instant>,
    ack: Option<Bytes>,
}

/// Server transactions kept at once. Past this a new request gets a stateless `503` (an
/// OPTIONS flood cannot grow the table; over UDP each lives 64·T1).
pub const MAX_SERVER_TRANSACTIONS: usize = 8192;
/// Server transactions one source IP may hold at once by default (`[limits]
/// transactions_per_ip`), so that one flooding source cannot fill the table for everyone:
/// past this its new requests get a stateless `503`.
pub const MAX_SERVER_TRANSACTIONS_PER_SOURCE: usize = MAX_SERVER_TRANSACTIONS / 8;

/// Which table a timer entry points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// All client and server transactions of one SIP endpoint.
#[derive(Debug)]
pub struct TransactionLayer {
    timers: TimerConfig,
    server: HashMap<TxKey, ServerTx>,
    client: HashMap<TxKey, ClientTx>,
    /// When each transaction is next due, in time order (an entry is stale once its
    /// transaction was rescheduled or ended; it is checked when it comes up). Timers are
    /// found without a scan of every transaction per event.
    wakeups: BTreeMap<(Instant, u64), (Side, TxKey)>,
    next_wakeup: u64,
    /// Accepted INVITE transactions by the dialog their ACK names (no scan per ACK).
    accepted: HashMap<AcceptedDialog, TxKey>,
    /// Server transactions held per source IP (entries leave at zero), and the most one may.
    per_source: HashMap<IpAddr, usize>,
    per_source_limit: usize,
    outputs: VecDeque<TxOutput>,
}

impl TransactionLayer {
    pub fn new(timers: TimerConfig) -> Self {
        Self {
            timers,
            server: HashMap::new(),
            client: HashMap::new(),
            wakeups: BTreeMap::new(),
            next_wakeup: 0,
            accepted: HashMap::new(),
            per_source: HashMap::new(),
            per_source_limit: MAX_SERVER_TRANSACTIONS_PER_SOURCE,
            outputs: VecDeque::new(),
        }
    }

    /// Lets one source IP hold `limit` server transactions at once instead of the default.
    pub fn with_per_source_limit(mut self, limit: usize) -> Self {
        self.per_source_limit = limit.max(1);
        self
    }

    /// One server transaction of `source` ended.
    fn forget_source(&mut self, source: IpAddr) {
        if let Some(held) = self.per_source.get_mut(&source) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                self.per_source.remove(&source);
            }
        }
    }

    /// Files transaction `key`'s next due time in the index (call after changing its timers).
    fn reindex(&mut self, side: Side, key: &TxKey) {
        let due = match side {
            Side::Server => self
                .server
                .get(key)
                .and_then(|t| next_due(t.retransmit_at, t.deadline)),
            Side::Client => self
                .client
                .get(key)
                .and_then(|t| next_due(t.retransmit_at, t.deadline)),
        };
        if let Some(at) = due {
            self.next_wakeup += 1;
            self.wakeups
                .insert((at, self.next_wakeup), (side, key.clone()));
        }
    }

    /// Next output for the driver or TU.
    pub fn poll_output(&mut self) -> Option<TxOutput> {
        self.outputs.pop_front()
    }

    /// Number of live server transactions (for tests and metrics).
    pub fn server_transactions(&self) -> usize {
        self.server.len()
    }

    /// Feeds a request received from `peer`.
    pub fn handle_request(&mut self, now: Instant, request: Request, peer: Peer) {
        let method = request.method;
        let Some(key) = TxKey::for_message(&request, method) else {
            return; // parse_message guarantees a transaction id; nothing to match on otherwise
        };
        if method == Method::Ack {
            self.handle_ack(now, key, request, peer);
            return;
        }
        if let Some(tx) = self.server.get_mut(&key) {
            // A retransmission: repeat the last response, never bother the TU again.
            if let Some(data) = &tx.last_response {
                self.outputs.push_back(TxOutput::Transmit {
                    peer: tx.peer,
                    data: data.clone(),
                });
            }
            return;
        }
        let source = peer.addr.ip();
        let from_source = self.per_source.get(&source).copied().unwrap_or(0);
        if self.server.len() >= MAX_SERVER_TRANSACTIONS || from_source >= self.per_source_limit {
            // Stateless: no transaction, nothing for the TU.
            let refused = super::message::response_to(&request, 503);
            self.outputs.push_back(TxOutput::Transmit {
                peer,
                data: Bytes::from(refused.to_string()),
            });
            return;
        }
        let (seq, _) = cseq(&request).unwrap_or((0, method));
        *self.per_source.entry(source).or_insert(0) += 1;
        self.server.insert(
            key.clone(),
            ServerTx {
                is_invite: method == Method::Invite,
                state: ServerState::Trying,
                peer,
                call_id: call_id(&request).unwrap_or_default(),
                cseq: seq,
                last_response: None,
                retransmit_at: None,
                retransmit_interval: self.timers.t1,
                deadline: None,
                acked: false,
                from_tag: from_tag(&request),
                accepted_as: None,
                retransmits_left: None,
            },
        );
        self.outputs
            .push_back(TxOutput::Request { key, request, peer });
    }

    fn handle_ack(&mut self, now: Instant, key: TxKey, request: Request, peer: Peer) {
        let timer_i = self.timers.t4;
        if let Some(tx) = self.server.get_mut(&key) {
            if tx.state == ServerState::Completed {
                // ACK for a failure response: stop Timer G, wait out Timer I.
                tx.state = ServerState::Confirmed;
                tx.retransmit_at = None;
                tx.deadline = Some(now + wait_time(tx.peer, timer_i));
                self.reindex(Side::Server, &key);
                return;
            }
            if tx.state == ServerState::Confirmed {
                return;
            }
        }
        // ACK for a 2xx has its own branch: the accepted INVITE is found by its dialog.
        if let Some(tx) = self
            .accepted
            .get(&AcceptedDialog::of_ack(&request))
            .and_then(|key| self.server.get_mut(key))
        {
            tx.acked = true;
            tx.retransmit_at = None;
        }
        self.outputs
            .push_back(TxOutput::AckForSuccess { request, peer });
    }

    /// Sends a response within server transaction `key`. Returns false when the transaction is
    /// gone (e.g. it already timed out), in which case nothing is sent.
    pub fn respond(&mut self, now: Instant, key: &TxKey, response: &Response) -> bool {
        let timers = self.timers;
        let Some(tx) = self.server.get_mut(key) else {
            return false;
        };
        if matches!(
            tx.state,
            ServerState::Completed | ServerState::Confirmed | ServerState::Accepted
        ) {
            return false; // a final response was already sent
        }
        let data = Bytes::from(response.to_string());
        let code = response.status_code.code();
        tx.last_response = Some(data.clone());
        let reliable = tx.peer.is_reliable();
        if code < 200 {
            tx.state = ServerState::Proceeding;
        } else if tx.is_invite && code < 300 {
            tx.state = ServerState::Accepted;
            let dialog = AcceptedDialog {
                call_id: tx.call_id.clone(),
                cseq: tx.cseq,
                from_tag: tx.from_tag.clone(),
                to_tag: to_tag(response),
            };
            self.accepted.insert(dialog.clone(), key.clone());
            tx.accepted_as = Some(dialog);
            tx.deadline = Some(now + timers.transaction_timeout());
            // RFC 3261 §13.3.1.4: the 2xx is retransmitted until ACKed, over UDP only.
            tx.retransmit_interval = timers.t1;
            tx.retransmit_at = (!reliable).then(|| now + timers.t1);
        } else if tx.is_invite {
            tx.state = ServerState::Completed;
            tx.retransmits_left = Some(FAILURE_RETRANSMITS);
            tx.deadline = Some(now + timers.transaction_timeout());
            tx.retransmit_interval = timers.t1;
            tx.retransmit_at = (!reliable).then(|| now + timers.t1);
        } else {
            tx.state = ServerState::Completed;
            tx.deadline = Some(
                now + if reliable {
                    Duration::ZERO
                } else {
                    timers.transaction_timeout()
                },
            );
        }
        self.outputs.push_back(TxOutput::Transmit {
            peer: tx.peer,
            data,
        });
        self.reindex(Side::Server, key);
        true
    }

    /// The peer of a live server transaction.
    pub fn server_peer(&self, key: &TxKey) -> Option<Peer> {
        self.server.get(key).map(|tx| tx.peer)
    }

    /// True while the INVITE server transaction that `cancel` (the key of a CANCEL) names has
    /// not sent a final response. A CANCEL carries its INVITE's top Via, so the ids agree.
    pub fn invite_pending(&self, cancel: &TxKey) -> bool {
        let key = TxKey {
            id: cancel.id.clone(),
            method: Method::Invite,
        };
        self.server
            .get(&key)
            .is_some_and(|tx| matches!(tx.state, ServerState::Trying | ServerState::Proceeding))
    }

    /// Starts a client transaction for `request` towards `peer`.
    pub fn send_request(&mut self, now: Instant, request: Request, peer: Peer) -> Option<TxKey> {
        let key = TxKey::for_message(&request, request.method)?;
        let data = Bytes::from(request.to_string());
        let reliable = peer.is_reliable();
        let state = if request.method == Method::Invite {
            ClientState::Calling
        } else {
            ClientState::Proceeding
        };
        self.outputs.push_back(TxOutput::Transmit {
            peer,
            data: data.clone(),
        });
        self.client.insert(
            key.clone(),
            ClientTx {
                request,
                data,
                peer,
                state,
                retransmit_at: (!reliable).then(|| now + self.timers.t1),
                retransmit_interval: self.timers.t1,
                deadline: Some(now + self.timers.transaction_timeout()),
                ack: None,
            },
        );
        self.reindex(Side::Client, &key);
        Some(key)
    }

    /// Feeds a response received from the network.
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        let Some((_, method)) = cseq(&response) else {
            return;
        };
        let Some(key) = TxKey::for_message(&response, method) else {
            return;
        };
        let timers = self.timers;
        let Some(tx) = self.client.get_mut(&key) else {
            return; // stray response: RFC 3261 §17.1.3 says drop it
        };
        let code = response.status_code.code();
        let is_invite = key.method == Method::Invite;
        match (tx.state, code) {
            (ClientState::Completed, _) => {
                // Retransmitted final: repeat our ACK (INVITE) or ignore.
                if let Some(ack) = &tx.ack {
                    self.outputs.push_back(TxOutput::Transmit {
                        peer: tx.peer,
                        data: ack.clone(),
                    });
                }
                return;
            }
            (ClientState::Accepted, 200..=299) => {}
            (ClientState::Accepted, _) => return,
            (_, 100..=199) => {
                if is_invite {
                    tx.state = ClientState::Proceeding;
                    tx.retransmit_at = None;
                } else if !tx.peer.is_reliable() {
                    // Timer E keeps running at T2 in Proceeding.
                    tx.retransmit_interval = timers.t2;
                }
            }
            (_, 200..=299) if is_invite => {
                tx.state = ClientState::Accepted;
                tx.retransmit_at = None;
                tx.deadline = Some(now + timers.transaction_timeout());
            }
            (_, _) => {
                tx.state = ClientState::Completed;
                tx.retransmit_at = None;
                let wait = if tx.peer.is_reliable() {
                    Duration::ZERO
                } else if is_invite {
                    Duration::from_secs(32) // Timer D
                } else {
                    timers.t4 // Timer K
                };
                tx.deadline = Some(now + wait);
                if is_invite {
                    let ack = Bytes::from(ack_for_failure(&tx.request, &response).to_string());
                    self.outputs.push_back(TxOutput::Transmit {
                        peer: tx.peer,
                        data: ack.clone(),
                    });
                    tx.ack = Some(ack);
                }
            }
        }
        self.reindex(Side::Client, &key);
        self.outputs.push_back(TxOutput::Response { key, response });
    }

    /// When the driver must call [`Self::handle_timeout`] next (possibly a little early: a
    /// stale index entry only costs a wake-up).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.wakeups.keys().next().map(|(at, _)| *at)
    }

    /// Fires every timer due at `now`: only the transactions the index says are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due: Vec<(Side, TxKey)> = Vec::new();
        while let Some(entry) = self.wakeups.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (side, key) = entry.remove();
            if !due.iter().any(|(s, k)| *s == side && *k == key) {
                due.push((side, key));
            }
        }
        for (side, key) in due {
            match side {
                Side::Server => self.fire_server(now, &key),
                Side::Client => self.fire_client(now, &key),
            }
            self.reindex(side, &key);
        }
    }

    fn fire_server(&mut self, now: Instant, key: &TxKey) {
        let timers = self.timers;
        let Some(tx) = self.server.get_mut(key) else {
            return;
        };
        if tx.deadline.is_some_and(|d| d <= now) {
            let kind = match tx.state {
                ServerState::Accepted if !tx.acked => Some(TimeoutKind::SuccessNotAcknowledged),
                ServerState::Completed if tx.is_invite => Some(TimeoutKind::FailureNotAcknowledged),
                _ => None,
            };
            if let Some(kind) = kind {
                self.outputs.push_back(TxOutput::Timeout {
                    key: key.clone(),
                    kind,
                    call_id: Some(tx.call_id.clone()),
                });
            }
            if let Some(ended) = self.server.remove(key) {
                self.forget_source(ended.peer.addr.ip());
                if let Some(dialog) = ended.accepted_as {
                    self.accepted.remove(&dialog);
                }
            }
            return;
        }
        if let (Some(at), Some(data)) = (tx.retransmit_at, &tx.last_response) {
            if at <= now && tx.retransmits_left == Some(0) {
                tx.retransmit_at = None;
            } else if at <= now {
                if let Some(left) = tx.retransmits_left.as_mut() {
                    *left -= 1;
                }
                self.outputs.push_back(TxOutput::Transmit {
                    peer: tx.peer,
                    data: data.clone(),
                });
                tx.retransmit_interval = timers.backoff(tx.retransmit_interval, true);
                tx.retransmit_at = Some(now + tx.retransmit_interval);
            }
        }
    }

    fn fire_client(&mut self, now: Instant, key: &TxKey) {
        let timers = self.timers;
        let Some(tx) = self.client.get_mut(key) else {
            return;
        };
        if tx.deadline.is_some_and(|d| d <= now) {
            if matches!(tx.state, ClientState::Calling | ClientState::Proceeding) {
                self.outputs.push_back(TxOutput::Timeout {
                    key: key.clone(),
                    kind: TimeoutKind::NoResponse,
                    call_id: call_id(&tx.request),
                });
            }
            self.client.remove(key);
            return;
        }
        if let Some(at) = tx.retransmit_at {
            if at <= now {
                self.outputs.push_back(TxOutput::Transmit {
                    peer: tx.peer,
                    data: tx.data.clone(),
                });
                let capped = key.method != Method::Invite;
                tx.retransmit_interval = timers.backoff(tx.retransmit_interval, capped);
                tx.retransmit_at = Some(now + tx.retransmit_interval);
            }
        }
    }
}

/// The earlier of a transaction's two timers.
fn next_due(retransmit_at: Option<Instant>, deadline: Option<Instant>) -> Option<Instant> {
    match (retransmit_at, deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Wait states last zero time on reliable transports (RFC 3261 §17.2.1, Timer I).
fn wait_time(peer: Peer, unreliable: Duration) -> Duration {
    if peer.is_reliable() {
        Duration::ZERO
    } else {
        unreliable
    }
}

/// Builds the ACK for a non-2xx final response (RFC 3261 §17.1.1.3).
fn ack_for_failure(invite: &Request, response: &Response) -> Request {
    let mut headers = rsip::Headers::default();
    if let Ok(via) = invite.via_header() {
        headers.push(Header::Via(via.clone()));
    }
    for h in invite.headers.iter() {
        if matches!(h, Header::From(_) | Header::CallId(_) | Header::Route(_)) {
            headers.push(h.clone());
        }
    }
    if let Ok(to) = response.to_header() {
        headers.push(Header::To(to.clone()));
    }
    let seq = cseq(invite).map(|(s, _)| s).unwrap_or(1);
    headers.push(Header::CSeq(rsip::headers::CSeq::new(format!("{seq} ACK"))));
    headers.push(Header::MaxForwards(rsip::headers::MaxForwards::new("70")));
    headers.push(Header::ContentLength(rsip::headers::ContentLength::new(
        "0",
    )));
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
