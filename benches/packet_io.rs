//! What one media tick's sends cost the server by the way they are made (issue #15 target 3,
//! "batch them … measure"): one small RTP packet to each of 500 members over loopback, sent
//!
//! - `sendto_per_member`: from each member's own socket, one `sendto` each (what the server
//!   does);
//! - `send_connected`: the same sockets `connect`ed to their member (no address per send, the
//!   route cached);
//! - `sendmmsg_one_socket`: from one socket for all members, one `sendmmsg` (the "one socket
//!   per media thread, demultiplexed by source" design);
//! - `io_uring_per_member`: each member's own socket, all 500 `sendmsg` queued on an io_uring
//!   and submitted by one `io_uring_enter`.
//!
//! Only the sends are timed; the receivers are drained between iterations. On loopback a send
//! also runs the receiver's side of the stack (the softirq runs in the sender's context), the
//! same in every variant, so the differences are the system calls' own cost.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use io_uring::{opcode, types, IoUring};

/// Members of the room one tick sends to.
const MEMBERS: usize = 500;
/// An RTP header and a ready-made Opus silence frame, about.
const PACKET: [u8; 32] = [0x80; 32];

fn loopback_socket() -> UdpSocket {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind loopback");
    socket.set_nonblocking(true).expect("non-blocking");
    socket
}

fn v4(socket: &UdpSocket) -> SocketAddrV4 {
    match socket.local_addr().expect("local address") {
        SocketAddr::V4(addr) => addr,
        SocketAddr::V6(_) => unreachable!("bound to 127.0.0.1"),
    }
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// Reads everything the receivers hold (between timed sends), checking each got its packet.
fn drain(receivers: &[UdpSocket]) {
    let mut buf = [0u8; 64];
    for receiver in receivers {
        let mut got = 0;
        while receiver.recv(&mut buf).is_ok() {
            got += 1;
        }
        assert_eq!(got, 1, "each member receives one packet a tick");
    }
}

/// Times `send` (one tick's sends) only, draining the receivers after each.
fn time_sends(iters: u64, receivers: &[UdpSocket], mut send: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let started = Instant::now();
        send();
        total += started.elapsed();
        drain(receivers);
    }
    total
}

/// Message headers for `sendmsg`/`sendmmsg`: one iovec over `PACKET` and one address each.
struct Messages {
    addresses: Vec<libc::sockaddr_in>,
    iov: libc::iovec,
    headers: Vec<libc::mmsghdr>,
}

impl Messages {
    fn to(receivers: &[UdpSocket]) -> Box<Self> {
        let mut messages = Box::new(Self {
            addresses: receivers.iter().map(|r| sockaddr(v4(r))).collect(),
            iov: libc::iovec {
                iov_base: PACKET.as_ptr() as *mut libc::c_void,
                iov_len: PACKET.len(),
            },
            headers: Vec::new(),
        });
        // The headers point into the box, which does not move.
        let iov = &mut messages.iov as *mut libc::iovec;
        let headers = (0..receivers.len())
            .map(|i| {
                // SAFETY: an all-zero msghdr is valid (no name, no control data).
                let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
                header.msg_name = &mut messages.addresses[i] as *mut _ as *mut libc::c_void;
                header.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                header.msg_iov = iov;
                header.msg_iovlen = 1;
                libc::mmsghdr {
                    msg_hdr: header,
                    msg_len: 0,
                }
            })
            .collect();
        messages.headers = headers;
        messages
    }
}

fn packet_io(c: &mut Criterion) {
    let mut group = c.benchmark_group("packet_io_500_members");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let receivers: Vec<UdpSocket> = (0..MEMBERS).map(|_| loopback_socket()).collect();
    let senders: Vec<UdpSocket> = (0..MEMBERS).map(|_| loopback_socket()).collect();
    let destinations: Vec<SocketAddr> = receivers
        .iter()
        .map(|r| r.local_addr().expect("local address"))
        .collect();

    group.bench_function("sendto_per_member", |b| {
        b.iter_custom(|iters| {
            time_sends(iters, &receivers, || {
                for (sender, to) in senders.iter().zip(&destinations) {
                    sender.send_to(&PACKET, to).expect("sendto");
                }
            })
        })
    });

    let connected: Vec<UdpSocket> = destinations
        .iter()
        .map(|to| {
            let socket = loopback_socket();
            socket.connect(to).expect("connect");
            socket
        })
        .collect();
    group.bench_function("send_connected", |b| {
        b.iter_custom(|iters| {
            time_sends(iters, &receivers, || {
                for socket in &connected {
                    socket.send(&PACKET).expect("send");
                }
            })
        })
    });

    let one = loopback_socket();
    let mut messages = Messages::to(&receivers);
    group.bench_function("sendmmsg_one_socket", |b| {
        b.iter_custom(|iters| {
            time_sends(iters, &receivers, || {
                let mut sent = 0;
                while sent < MEMBERS {
                    let batch = &mut messages.headers[sent..];
                    // SAFETY: the headers point at live addresses, iovec and packet.
                    let n = unsafe {
                        libc::sendmmsg(one.as_raw_fd(), batch.as_mut_ptr(), batch.len() as u32, 0)
                    };
                    assert!(n > 0, "sendmmsg: {}", std::io::Error::last_os_error());
                    sent += n as usize;
                }
            })
        })
    });

    let mut ring = IoUring::new(MEMBERS.next_power_of_two() as u32).expect("io_uring");
    group.bench_function("io_uring_per_member", |b| {
        b.iter_custom(|iters| {
            time_sends(iters, &receivers, || {
                {
                    let mut queue = ring.submission();
                    for (i, sender) in senders.iter().enumerate() {
                        let header = &messages.headers[i].msg_hdr as *const libc::msghdr;
                        let send = opcode::SendMsg::new(types::Fd(sender.as_raw_fd()), header)
                            .build()
                            .user_data(i as u64);
                        // SAFETY: the header and what it points at outlive the completion,
                        // which is awaited below before the next tick reuses them.
                        unsafe { queue.push(&send).expect("the ring holds a tick") };
                    }
                }
                ring.submit_and_wait(MEMBERS).expect("io_uring_enter");
                let mut done = 0;
                for completion in ring.completion() {
                    assert!(completion.result() > 0, "sendmsg: {}", completion.result());
                    done += 1;
                }
                assert_eq!(done, MEMBERS);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, packet_io);
criterion_main!(benches);
