//! Reading a non-blocking UDP socket's queue in as few system calls as possible. A member
//! sends one packet per tick, and reading it with `recv_from` costs two calls: one that finds
//! the packet and one that finds the queue empty. `recvmmsg(2)` takes up to [`SLOTS`]
//! datagrams at once and says how many it found, so a short count means the queue is empty:
//! one call per member per tick. Elsewhere than Linux, one `recv_from` per datagram.
//!
//! A media thread reads its sockets once per tick, so the time of the read says only which
//! tick a packet came before. On a socket with [`stamp_arrivals`] the kernel notes when each
//! datagram arrived (`SO_TIMESTAMPNS`), and [`RecvBatch::get`] gives that time: a jitter
//! buffer can then tell a packet that came just before the tick from one that waited 19 ms.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;
#[cfg(target_os = "linux")]
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Datagrams one call can take.
pub const SLOTS: usize = 2;
/// Bytes kept of each datagram (more than an Ethernet MTU; longer ones are truncated, as by
/// `recv_from`).
pub const SLOT_BYTES: usize = 2048;

/// Buffers for one batch of datagrams and what the last [`fill`](Self::fill) put in them.
pub struct RecvBatch {
    bufs: Box<[[u8; SLOT_BYTES]; SLOTS]>,
    lens: [usize; SLOTS],
    from: [Option<SocketAddr>; SLOTS],
    arrived: [Option<Instant>; SLOTS],
}

/// Asks the kernel to note each datagram's arrival time on `socket` (Linux; elsewhere a
/// no-op, and [`RecvBatch::arrived`] gives no arrival time).
pub fn stamp_arrivals(socket: &UdpSocket) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket, an int option and its size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
    Ok(())
}

/// `SO_TIMESTAMPNS` (= `SCM_TIMESTAMPNS`): 35 on every architecture Rust builds for but MIPS
/// and SPARC; the `libc` crate does not export it for Linux.
#[cfg(all(
    target_os = "linux",
    not(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64"
    ))
))]
const SO_TIMESTAMPNS: libc::c_int = 35;
#[cfg(all(target_os = "linux", any(target_arch = "mips", target_arch = "mips64")))]
const SO_TIMESTAMPNS: libc::c_int = 0x4033;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "sparc", target_arch = "sparc64")
))]
const SO_TIMESTAMPNS: libc::c_int = 0x0021;

/// Room for one `SCM_TIMESTAMPNS` control message (a `cmsghdr` and a `timespec`), aligned.
#[cfg(target_os = "linux")]
type ControlBuf = [u64; 8];

impl Default for RecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RecvBatch {
    pub fn new() -> Self {
        Self {
            bufs: Box::new([[0; SLOT_BYTES]; SLOTS]),
            lens: [0; SLOTS],
            from: [None; SLOTS],
            arrived: [None; SLOTS],
        }
    }

    /// Reads up to [`SLOTS`] queued datagrams; returns how many (fewer than [`SLOTS`]: the
    /// queue is empty now). Nothing queued is `ErrorKind::WouldBlock`.
    pub fn fill(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        {
            self.fill_linux(socket)
        }
        #[cfg(not(target_os = "linux"))]
        {
            // As many reads as slots, so that a full batch still means "maybe more".
            let mut n = 0;
            while n < SLOTS {
                match socket.recv_from(&mut self.bufs[n]) {
                    Ok((len, from)) => {
                        self.lens[n] = len;
                        self.from[n] = Some(from);
                        self.arrived[n] = None;
                        n += 1;
                    }
                    Err(e) if n == 0 => return Err(e),
                    Err(_) => break,
                }
            }
            Ok(n)
        }
    }

    /// Datagram `i` of the last fill and where it came from (`None` for an address family
    /// other than IPv4 and IPv6, which a UDP socket does not produce).
    pub fn get(&self, i: usize) -> (&[u8], Option<SocketAddr>) {
        (&self.bufs[i][..self.lens[i]], self.from[i])
    }

    /// When datagram `i` of the last fill arrived, if its socket [stamps
    /// arrivals](stamp_arrivals).
    pub fn arrived(&self, i: usize) -> Option<Instant> {
        self.arrived[i]
    }

    #[cfg(target_os = "linux")]
    fn fill_linux(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        // SAFETY: all-zero is a valid value of these plain C structs.
        let mut addrs: [libc::sockaddr_storage; SLOTS] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; SLOTS] = unsafe { std::mem::zeroed() };
        let mut controls: [ControlBuf; SLOTS] = [[0; 8]; SLOTS];
        let mut iovecs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; SLOTS];
        for ((((iov, msg), addr), buf), control) in iovecs
            .iter_mut()
            .zip(msgs.iter_mut())
            .zip(addrs.iter_mut())
            .zip(self.bufs.iter_mut())
            .zip(controls.iter_mut())
        {
            iov.iov_base = buf.as_mut_ptr().cast();
            iov.iov_len = SLOT_BYTES;
            msg.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
            msg.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
            msg.msg_hdr.msg_control = control.as_mut_ptr().cast();
            msg.msg_hdr.msg_controllen = std::mem::size_of::<ControlBuf>() as _;
        }
        // SAFETY: every pointer in `msgs` points into `iovecs`, `addrs`, `self.bufs` and
        // `controls`, which outlive the call, with the lengths given; the kernel writes only
        // within them.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                SLOTS as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        let mut clocks = None;
        for i in 0..n {
            self.lens[i] = (msgs[i].msg_len as usize).min(SLOT_BYTES);
            self.from[i] = socket_addr(&addrs[i]);
            self.arrived[i] = kernel_stamp(&msgs[i].msg_hdr).map(|stamp| {
                let (mono, real) =
                    *clocks.get_or_insert_with(|| (Instant::now(), SystemTime::now()));
                since_stamp(stamp, real).map_or(mono, |ago| mono.checked_sub(ago).unwrap_or(mono))
            });
        }
        Ok(n)
    }
}

/// The `SCM_TIMESTAMPNS` time (since the Unix epoch) among `msg`'s control messages.
#[cfg(target_os = "linux")]
fn kernel_stamp(msg: &libc::msghdr) -> Option<Duration> {
    // SAFETY: `msg` is a header the kernel just filled: its control pointer and length
    // describe the control messages it wrote, which the CMSG macros walk within.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == SO_TIMESTAMPNS {
                let stamp: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                let secs = u64::try_from(stamp.tv_sec).ok()?;
                let nanos = u32::try_from(stamp.tv_nsec).ok()?;
                return Some(Duration::new(secs, nanos));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

#[cfg(target_os = "linux")]
/// How long before `now` (wall clock) a packet stamped `stamp` arrived; `None` when the
/// stamp is ahead of `now` (the wall clock stepped back).
fn since_stamp(stamp: Duration, now: SystemTime) -> Option<Duration> {
    now.duration_since(UNIX_EPOCH).ok()?.checked_sub(stamp)
}

/// The address the kernel wrote into `storage`.
#[cfg(target_os = "linux")]
fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is big
            // enough and aligned for.
            let a =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    fn pair(ip: &str) -> Option<(UdpSocket, UdpSocket)> {
        let rx = UdpSocket::bind((ip, 0)).ok()?;
        rx.set_nonblocking(true).ok()?;
        let tx = UdpSocket::bind((ip, 0)).ok()?;
        Some((rx, tx))
    }

    #[test]
    fn a_batch_takes_what_is_queued_and_a_short_count_means_empty() {
        let (rx, tx) = pair("127.0.0.1").expect("loopback");
        let to = rx.local_addr().expect("addr");
        let mut batch = RecvBatch::new();
        let nothing = batch.fill(&rx).expect_err("nothing queued");
        assert_eq!(nothing.kind(), ErrorKind::WouldBlock);
        for payload in [&b"one"[..], b"two", b"three"] {
            tx.send_to(payload, to).expect("send"); // on loopback, queued on return
        }
        let from = Some(tx.local_addr().expect("addr"));
        let mut got = Vec::new();
        let mut counts = Vec::new();
        while let Ok(n) = batch.fill(&rx) {
            counts.push(n);
            for i in 0..n {
                let (data, source) = batch.get(i);
                assert_eq!(source, from);
                got.push(data.to_vec());
            }
        }
        assert_eq!(
            got,
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
        if cfg!(target_os = "linux") {
            assert_eq!(counts, vec![2, 1], "two calls for three datagrams");
        }
    }

    #[test]
    fn a_stamped_socket_tells_when_a_datagram_arrived_not_when_it_was_read() {
        let (rx, tx) = pair("127.0.0.1").expect("loopback");
        stamp_arrivals(&rx).expect("SO_TIMESTAMPNS");
        let to = rx.local_addr().expect("addr");
        let mut batch = RecvBatch::new();
        let ms = std::time::Duration::from_millis;
        // The kernel turns arrival stamping on for the whole host a moment after the first
        // socket asks (a deferred static key); until then it stamps when a packet is read.
        for _ in 0..200 {
            tx.send_to(b"warm", to).expect("send");
            std::thread::sleep(ms(5));
            let read = Instant::now();
            batch.fill(&rx).expect("queued");
            if batch.arrived(0).is_some_and(|at| at + ms(4) < read)
                || cfg!(not(target_os = "linux"))
            {
                break;
            }
        }
        let before = Instant::now();
        tx.send_to(b"early", to).expect("send");
        let sent = Instant::now();
        std::thread::sleep(ms(30)); // the datagram waits
        let read = Instant::now();
        assert_eq!(batch.fill(&rx).expect("queued"), 1);
        let arrived = batch.arrived(0);
        if cfg!(target_os = "linux") {
            let arrived = arrived.expect("stamped");
            // A millisecond of slack either side for the two clocks' readings.
            assert!(arrived + ms(1) >= before, "not before it was sent");
            assert!(
                arrived <= sent + ms(1),
                "when it came, not when it was read"
            );
            assert!(arrived + ms(25) < read);
        }
        // An unstamped socket's datagrams have no arrival time.
        let (plain, tx) = pair("127.0.0.1").expect("loopback");
        tx.send_to(b"plain", plain.local_addr().expect("addr"))
            .expect("send");
        assert_eq!(batch.fill(&plain).expect("queued"), 1);
        assert_eq!(batch.arrived(0), None);
    }

    #[test]
    fn ipv6_sources_come_back_whole() {
        let Some((rx, tx)) = pair("::1") else {
            return; // no IPv6 loopback on this machine
        };
        tx.send_to(b"six", rx.local_addr().expect("addr"))
            .expect("send");
        let mut batch = RecvBatch::new();
        let n = loop {
            match batch.fill(&rx) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(n, 1);
        assert_eq!(
            batch.get(0),
            (&b"six"[..], Some(tx.local_addr().expect("addr")))
        );
    }
}
