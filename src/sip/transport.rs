//! The SIP transport driver (RFC 3261 §18): owns the UDP socket, the TCP listener and the TCP
//! connections, turns bytes into parsed messages for the SIP core and sends what it is given.
//!
//! Malformed input is answered here with `400 Bad Request` (`413` for a body over the limit)
//! when a response can be formed (silence otherwise) and counted; a TCP peer that breaks
//! framing gets that answer, then is disconnected without affecting anyone else.
//!
//! TCP is bounded ([`TcpLimits`]): connections in all and per source IP (one over is closed at
//! once), and an idle timeout for connections that carry no call ([`Transport::set_in_use`]).
//! Sends to one connection never wait ([`Transport::try_send`]): a full queue closes it.

use super::framing::{FramingError, StreamFramer};
use super::log_limit::{LogDecision, LogLimiter};
use super::message::{answer_unparsable, parse_message, raw_error_response, RawRejection};
use super::peer::{ConnectionId, Flow, Peer};
use bytes::Bytes;
use rsip::SipMessage;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// Transport failures the caller may see.
#[derive(Debug, Error)]
pub enum TransportError {
    #[error("cannot bind SIP {transport} on {addr}: {source}")]
    Bind {
        transport: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no open TCP connection {0}")]
    NoConnection(ConnectionId),
    #[error("send to {peer} failed: {source}")]
    Send { peer: Peer, source: std::io::Error },
    #[error("connect to {addr} failed: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TCP connection {0} stopped reading: its send queue is full; closed")]
    QueueFull(ConnectionId),
}

/// What the driver hands to the SIP core.
#[derive(Debug)]
pub enum TransportEvent {
    /// A well-formed message; `local` is our address on the flow it arrived on.
    Message {
        message: Box<SipMessage>,
        peer: Peer,
        local: SocketAddr,
    },
    /// A TCP connection went away.
    Closed(ConnectionId),
}

/// Bounds on the TCP connections a listener keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Accepted connections open at once.
    pub connections: usize,
    /// Accepted connections open at once from one IP address.
    pub connections_per_ip: usize,
    /// A connection that carries no call and sent nothing for this long is closed.
    pub idle: std::time::Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            connections: 1024,
            connections_per_ip: 32,
            idle: std::time::Duration::from_secs(120),
        }
    }
}

/// Counters of what the transport dropped.
#[derive(Debug, Default)]
pub struct TransportStats {
    pub malformed: AtomicU64,
    pub bad_request_sent: AtomicU64,
    pub tcp_disconnected_for_abuse: AtomicU64,
    /// TCP connections closed because their peer stopped reading (send queue full).
    pub tcp_closed_queue_full: AtomicU64,
    /// UDP datagrams the socket could not take at once (dropped; SIP retransmits).
    pub udp_send_dropped: AtomicU64,
    /// TCP connections refused at accept: over the total or per-IP limit.
    pub tcp_refused: AtomicU64,
    /// TCP connections closed because they carried no call and sent nothing for a while.
    pub tcp_closed_idle: AtomicU64,
}

/// Open accepted connections per source IP, and the connections calls use.
#[derive(Debug, Default)]
struct Occupancy {
    per_ip: HashMap<IpAddr, usize>,
    total: usize,
    in_use: HashSet<ConnectionId>,
}

type ConnectionTable = Arc<Mutex<HashMap<ConnectionId, mpsc::Sender<Bytes>>>>;

/// Cloneable sending side plus the background tasks of one SIP endpoint.
#[derive(Clone)]
pub struct Transport {
    udp: Arc<UdpSocket>,
    connections: ConnectionTable,
    events: mpsc::Sender<TransportEvent>,
    next_connection: Arc<AtomicU64>,
    stats: Arc<TransportStats>,
    occupancy: Arc<Mutex<Occupancy>>,
    limits: TcpLimits,
    log_limiter: Arc<Mutex<LogLimiter>>,
    tasks: Arc<TaskSet>,
}

/// Aborts the background tasks when the last handle is dropped.
#[derive(Default)]
struct TaskSet(Mutex<Vec<JoinHandle<()>>>);

impl TaskSet {
    fn push(&self, task: JoinHandle<()>) {
        if let Ok(mut tasks) = self.0.lock() {
            tasks.retain(|t| !t.is_finished());
            tasks.push(task);
        }
    }
}

impl Drop for TaskSet {
    fn drop(&mut self) {
        if let Ok(tasks) = self.0.lock() {
            for t in tasks.iter() {
                t.abort();
            }
        }
    }
}

/// Attempts at a free port pair when the port is left to the system (port 0).
const EPHEMERAL_ATTEMPTS: usize = 16;

/// The UDP socket on `addr` and (when `listen_tcp`) a TCP listener on the same port. With port
/// 0 the system picks the UDP port, which TCP may already use for another socket; then another
/// UDP port is tried.
async fn bind_sockets(
    addr: SocketAddr,
    listen_tcp: bool,
) -> Result<(UdpSocket, Option<TcpListener>), TransportError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let bind_error = |transport, addr, source| TransportError::Bind {
            transport,
            addr,
            source,
        };
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|e| bind_error("UDP", addr, e))?;
        let bound = udp.local_addr().map_err(|e| bind_error("UDP", addr, e))?;
        if !listen_tcp {
            return Ok((udp, None));
        }
        match TcpListener::bind(bound).await {
            Ok(listener) => return Ok((udp, Some(listener))),
            Err(e)
                if addr.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && attempts < EPHEMERAL_ATTEMPTS =>
            {
                debug!(port = bound.port(), "TCP port taken; another UDP port");
            }
            Err(e) => return Err(bind_error("TCP", bound, e)),
        }
    }
}

impl Transport {
    /// Binds UDP on `addr` and, when `tcp` is given, a TCP listener on the same port that
    /// keeps to those limits.
    pub async fn bind(
        addr: SocketAddr,
        tcp: Option<TcpLimits>,
    ) -> Result<(Self, mpsc::Receiver<TransportEvent>), TransportError> {
        let (udp, listener) = bind_sockets(addr, tcp.is_some()).await?;
        let (events, rx) = mpsc::channel(4096);
        let transport = Self {
            udp: Arc::new(udp),
            connections: Arc::default(),
            events,
            next_connection: Arc::new(AtomicU64::new(1)),
            stats: Arc::default(),
            occupancy: Arc::default(),
            limits: tcp.unwrap_or_default(),
            log_limiter: Arc::default(),
            tasks: Arc::default(),
        };
        transport
            .tasks
            .push(tokio::spawn(transport.clone_weak().udp_loop()));
        if let Some(listener) = listener {
            transport
                .tasks
                .push(tokio::spawn(transport.clone_weak().accept_loop(listener)));
        }
        Ok((transport, rx))
    }

    /// A handle for background tasks that does not keep them alive (no `tasks` reference).
    fn clone_weak(&self) -> TaskContext {
        TaskContext {
            udp: self.udp.clone(),
            connections: self.connections.clone(),
            events: self.events.clone(),
            next_connection: self.next_connection.clone(),
            stats: self.stats.clone(),
            occupancy: self.occupancy.clone(),
            limits: self.limits,
            log_limiter: self.log_limiter.clone(),
        }
    }

    /// The TCP connections calls use now: the idle timeout spares them (a call may go an
    /// hour without a SIP message, and our BYE needs its connection).
    pub fn set_in_use(&self, connections: impl IntoIterator<Item = ConnectionId>) {
        if let Ok(mut occupancy) = self.occupancy.lock() {
            occupancy.in_use = connections.into_iter().collect();
        }
    }

    /// Our UDP (and TCP) address.
    pub fn local_addr(&self) -> SocketAddr {
        self.udp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Drop counters.
    pub fn stats(&self) -> &TransportStats {
        &self.stats
    }

    /// Sends bytes on the peer's flow.
    pub async fn send(&self, peer: Peer, data: Bytes) -> Result<(), TransportError> {
        match peer.flow {
            Flow::Udp => self
                .udp
                .send_to(&data, peer.addr)
                .await
                .map(|_| ())
                .map_err(|source| TransportError::Send { peer, source }),
            Flow::Tcp(id) => {
                let sender = self
                    .connections
                    .lock()
                    .ok()
                    .and_then(|c| c.get(&id).cloned())
                    .ok_or(TransportError::NoConnection(id))?;
                sender
                    .send(data)
                    .await
                    .map_err(|_| TransportError::NoConnection(id))
            }
        }
    }

    /// Sends without waiting, for a caller that must never block on one peer (the server's
    /// call engine): a UDP datagram the socket cannot take now is dropped (SIP retransmits);
    /// a TCP connection whose send queue is full is closed, since its peer stopped reading.
    pub fn try_send(&self, peer: Peer, data: Bytes) -> Result<(), TransportError> {
        match peer.flow {
            Flow::Udp => match self.udp.try_send_to(&data, peer.addr) {
                Ok(_) => Ok(()),
                Err(source) => {
                    if source.kind() == std::io::ErrorKind::WouldBlock {
                        self.stats.udp_send_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TransportError::Send { peer, source })
                }
            },
            Flow::Tcp(id) => {
                let mut connections = self
                    .connections
                    .lock()
                    .map_err(|_| TransportError::NoConnection(id))?;
                let sender = connections
                    .get(&id)
                    .ok_or(TransportError::NoConnection(id))?;
                match sender.try_send(data) {
                    Ok(()) => Ok(()),
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        Err(TransportError::NoConnection(id))
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        // Dropping the sender ends the writer task, which closes the stream.
                        connections.remove(&id);
                        self.stats
                            .tcp_closed_queue_full
                            .fetch_add(1, Ordering::Relaxed);
                        Err(TransportError::QueueFull(id))
                    }
                }
            }
        }
    }

    /// Opens a TCP connection (UAC side) and returns the peer to send on.
    pub async fn connect_tcp(&self, addr: SocketAddr) -> Result<Peer, TransportError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| TransportError::Connect { addr, source })?;
        let ctx = self.clone_weak();
        let id = ctx.register(stream, addr, &self.tasks, false);
        Ok(Peer {
            addr,
            flow: Flow::Tcp(id),
        })
    }
}

/// What the background tasks share.
#[derive(Clone)]
struct TaskContext {
    udp: Arc<UdpSocket>,
    connections: ConnectionTable,
    events: mpsc::Sender<TransportEvent>,
    next_connection: Arc<AtomicU64>,
    stats: Arc<TransportStats>,
    occupancy: Arc<Mutex<Occupancy>>,
    limits: TcpLimits,
    log_limiter: Arc<Mutex<LogLimiter>>,
}

impl TaskContext {
    /// Logs malformed input from `peer`, at most a few times a minute per source address.
    fn warn_malformed(&self, peer: Peer, what: &str, error: &dyn std::fmt::Display) {
        let decision = self
            .log_limiter
            .lock()
            .map(|mut l| l.check(std::time::Instant::now(), peer.addr.ip()))
            .unwrap_or(LogDecision::Suppress);
        match decision {
            LogDecision::Log => warn!(%peer, error = %error, "{what}"),
            LogDecision::LogSuppressing => warn!(
                %peer,
                error = %error,
                "{what}; more from this address in the next minute are only counted"
            ),
            LogDecision::Suppress => {}
        }
    }

    async fn udp_loop(self) {
        let mut buf = vec![0u8; 65_535];
        let bound = self.udp.local_addr().ok();
        // Route lookups cost a socket each: remember the answer per remote IP (bounded).
        let mut local_for: HashMap<IpAddr, SocketAddr> = HashMap::new();
        loop {
            let (len, from) = match self.udp.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    // ICMP port-unreachable shows up here on some systems; keep serving.
                    debug!(error = %e, "udp recv error");
                    continue;
                }
            };
            let datagram = &buf[..len];
            if datagram.iter().all(|b| *b == b'\r' || *b == b'\n') {
                continue; // keep-alive
            }
            let peer = Peer::udp(from);
            if local_for.len() > 4096 {
                local_for.clear();
            }
            let local = *local_for
                .entry(from.ip())
                .or_insert_with(|| local_address_towards(bound, from));
            match parse_message(datagram) {
                Ok(message) => {
                    if self
                        .events
                        .send(TransportEvent::Message {
                            message: Box::new(message),
                            peer,
                            local,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    self.warn_malformed(peer, "malformed SIP datagram", &e);
                    if let Some(resp) = answer_unparsable(datagram, &e) {
                        self.stats.bad_request_sent.fetch_add(1, Ordering::Relaxed);
                        let _ = self.udp.send_to(&resp, from).await;
                    }
                }
            }
        }
    }

    async fn accept_loop(self, listener: TcpListener) {
        let tasks = Arc::new(TaskSet::default());
        loop {
            match listener.accept().await {
                Ok((stream, from)) => {
                    if !self.admit(from.ip()) {
                        self.stats.tcp_refused.fetch_add(1, Ordering::Relaxed);
                        debug!(%from, "tcp connection refused: over the connection limit");
                        drop(stream);
                        continue;
                    }
                    let id = self.register(stream, from, &tasks, true);
                    debug!(connection = id, %from, "tcp connection accepted");
                }
                Err(e) => {
                    warn!(error = %e, "tcp accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Counts an accepted connection from `ip` in, unless that goes over a limit.
    fn admit(&self, ip: IpAddr) -> bool {
        let Ok(mut occupancy) = self.occupancy.lock() else {
            return false;
        };
        let from_ip = occupancy.per_ip.get(&ip).copied().unwrap_or(0);
        if occupancy.total >= self.limits.connections || from_ip >= self.limits.connections_per_ip {
            return false;
        }
        occupancy.total += 1;
        *occupancy.per_ip.entry(ip).or_default() += 1;
        true
    }

    /// Counts a closed accepted connection out.
    fn release(&self, ip: IpAddr, id: ConnectionId) {
        if let Ok(mut occupancy) = self.occupancy.lock() {
            occupancy.total = occupancy.total.saturating_sub(1);
            if let Some(n) = occupancy.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    occupancy.per_ip.remove(&ip);
                }
            }
            occupancy.in_use.remove(&id);
        }
    }

    /// Whether a call uses connection `id`.
    fn in_use(&self, id: ConnectionId) -> bool {
        self.occupancy
            .lock()
            .is_ok_and(|occupancy| occupancy.in_use.contains(&id))
    }

    /// Spawns the reader and writer of a new connection (`accepted`: counted against the
    /// limits, released when it closes).
    fn register(
        &self,
        stream: TcpStream,
        from: SocketAddr,
        tasks: &TaskSet,
        accepted: bool,
    ) -> ConnectionId {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (mut reader, mut writer) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Bytes>(256);
        if let Ok(mut c) = self.connections.lock() {
            c.insert(id, tx);
        }
        tasks.push(tokio::spawn(async move {
            while let Some(data) = rx.recv().await {
                if writer.write_all(&data).await.is_err() {
                    break;
                }
            }
        }));
        let ctx = self.clone();
        tasks.push(tokio::spawn(async move {
            let peer = Peer {
                addr: from,
                flow: Flow::Tcp(id),
            };
            ctx.read_stream(&mut reader, peer, local).await;
            if let Ok(mut c) = ctx.connections.lock() {
                c.remove(&id);
            }
            if accepted {
                ctx.release(from.ip(), id);
            }
            let _ = ctx.events.send(TransportEvent::Closed(id)).await;
            debug!(connection = id, "tcp connection closed");
        }));
        id
    }

    async fn read_stream(
        &self,
        reader: &mut tokio::net::tcp::OwnedReadHalf,
        peer: Peer,
        local: SocketAddr,
    ) {
        let mut framer = StreamFramer::new();
        let mut buf = vec![0u8; 16 * 1024];
        let id = connection_of(peer);
        loop {
            let n = match tokio::time::timeout(self.limits.idle, reader.read(&mut buf)).await {
                Err(_) if self.in_use(id) => continue,
                Err(_) => {
                    self.stats.tcp_closed_idle.fetch_add(1, Ordering::Relaxed);
                    debug!(%peer, "closing idle TCP connection that carries no call");
                    return;
                }
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(n)) => n,
            };
            framer.push(&buf[..n]);
            loop {
                match framer.next_message() {
                    Ok(None) => break,
                    Ok(Some(bytes)) => match parse_message(&bytes) {
                        Ok(message) => {
                            let event = TransportEvent::Message {
                                message: Box::new(message),
                                peer,
                                local,
                            };
                            if self.events.send(event).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                            self.warn_malformed(peer, "malformed SIP on stream", &e);
                            // A well-framed request we can answer keeps the connection; bytes
                            // that are not SIP at all mean the stream is lost: disconnect.
                            let Some(resp) = answer_unparsable(&bytes, &e) else {
                                self.stats
                                    .tcp_disconnected_for_abuse
                                    .fetch_add(1, Ordering::Relaxed);
                                info!(%peer, "closing TCP connection that sent non-SIP bytes");
                                return;
                            };
                            self.send_error_on_stream(peer, resp).await;
                        }
                    },
                    Err(e) => {
                        self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                        self.stats
                            .tcp_disconnected_for_abuse
                            .fetch_add(1, Ordering::Relaxed);
                        // Where the message ends is unknown, so the stream is lost; a request
                        // whose header section arrived whole still gets its answer first.
                        let rejection = match e {
                            FramingError::BadContentLength => Some(RawRejection::BadRequest),
                            FramingError::BodyTooLarge(_) => Some(RawRejection::TooLarge),
                            FramingError::HeaderTooLarge | FramingError::NotSip => None,
                        };
                        let response = rejection.zip(framer.pending_header_section()).and_then(
                            |(rejection, head)| raw_error_response(head, rejection, &e.to_string()),
                        );
                        if let Some(resp) = response {
                            self.send_error_on_stream(peer, resp).await;
                        }
                        info!(%peer, error = %e, "closing TCP connection that broke framing");
                        return;
                    }
                }
            }
        }
    }

    /// Queues an error response on a connection (its writer sends it before closing).
    async fn send_error_on_stream(&self, peer: Peer, response: Vec<u8>) {
        self.stats.bad_request_sent.fetch_add(1, Ordering::Relaxed);
        let sender = self
            .connections
            .lock()
            .ok()
            .and_then(|c| c.get(&connection_of(peer)).cloned());
        if let Some(s) = sender {
            let _ = s.send(Bytes::from(response)).await;
        }
    }
}

fn connection_of(peer: Peer) -> ConnectionId {
    match peer.flow {
        Flow::Tcp(id) => id,
        Flow::Udp => 0,
    }
}

/// The local address a reply to `remote` leaves from: the bound address when specific,
/// otherwise the one the routing table picks (found by connecting a throwaway UDP socket).
pub fn local_address_towards(bound: Option<SocketAddr>, remote: SocketAddr) -> SocketAddr {
    let port = bound.map(|b| b.port()).unwrap_or(0);
    if let Some(b) = bound {
        if !b.ip().is_unspecified() {
            return b;
        }
    }
    SocketAddr::new(local_ip_towards(remote.ip()), port)
}

/// The local IP the kernel would use to reach `remote`.
pub fn local_ip_towards(remote: IpAddr) -> IpAddr {
    let any: SocketAddr = if remote.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    std::net::UdpSocket::bind(any)
        .and_then(|s| {
            s.connect(SocketAddr::new(remote, 9))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(remote)
}
