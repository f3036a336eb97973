//! `ffmpeg` as a third-party RTP receiver: it reads an SDP for one stream and records
//! `record_secs` of stream time; a relay in the test stands for its side of the network (it
//! places the call, sends the consent report ffmpeg never sends, and forwards the RTP to it).

use super::eventually;
use super::media_peer::{relay_rtp, send_consent, ProbeCall};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running ffmpeg and the relay feeding it.
pub struct FfmpegReceiver {
    ffmpeg: tokio::process::Child,
    log: JoinHandle<String>,
    relay: Arc<UdpSocket>,
    stop_relay: oneshot::Sender<()>,
    relayed: JoinHandle<Vec<(u8, usize)>>,
}

/// What an ffmpeg run left: its exit, its log and what the relay forwarded to it.
pub struct FfmpegRun {
    pub status: ExitStatus,
    pub log: String,
    /// NAL type (first payload byte & 0x1f) and size of every RTP payload relayed.
    pub relayed: Vec<(u8, usize)>,
}

impl FfmpegReceiver {
    /// Starts ffmpeg on `sdp` (whose stream is on loopback `port`), recording `record_secs`
    /// with `output` (its output options and file), and waits until it holds the port.
    pub async fn start<I, S>(sdp: &Path, port: u16, record_secs: f64, output: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut ffmpeg = tokio::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-y", "-loglevel", "info"])
            .args(["-protocol_whitelist", "file,udp,rtp", "-t"])
            .arg(record_secs.to_string())
            .arg("-i")
            .arg(sdp)
            .args(output)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("ffmpeg starts");
        let mut stderr = ffmpeg.stderr.take().expect("stderr");
        let log = tokio::spawn(async move {
            let mut text = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
            text
        });
        // ffmpeg is ready once it holds the port.
        let bound = eventually(Duration::from_secs(20), || async {
            std::net::UdpSocket::bind(("127.0.0.1", port)).is_err()
        })
        .await;
        assert!(bound, "ffmpeg bound its RTP port");
        let relay = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("relay"));
        let (stop_relay, stop) = oneshot::channel();
        let relayed = tokio::spawn(relay_rtp(
            relay.clone(),
            SocketAddr::from(([127, 0, 0, 1], port)),
            stop,
        ));
        Self {
            ffmpeg,
            log,
            relay,
            stop_relay,
            relayed,
        }
    }

    /// Where the call's `media` should be sent: the relay.
    pub fn relay_addr(&self) -> SocketAddr {
        self.relay.local_addr().expect("relay addr")
    }

    /// Places the call (its `sdp` names [`Self::relay_addr`] for `media`) and sends the
    /// receiver report that shows the server this address wants the media.
    pub async fn call(
        &self,
        server: SocketAddr,
        ruri: &str,
        call_id: &str,
        extra: &str,
        sdp: &str,
        media: &str,
    ) -> ProbeCall {
        let call = ProbeCall::place(server, ruri, call_id, extra, sdp).await;
        send_consent(&self.relay, &call.answer, media).await;
        call
    }

    /// Waits (up to 60 s) for ffmpeg to finish its stream time.
    pub async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(Duration::from_secs(60), self.ffmpeg.wait())
            .await
            .expect("ffmpeg finishes within 60 s")
            .expect("ffmpeg ran")
    }

    /// Stops the relay and collects the run (after [`Self::wait`]).
    pub async fn finish(mut self) -> FfmpegRun {
        let status = self.wait().await;
        let _ = self.stop_relay.send(());
        FfmpegRun {
            status,
            log: self.log.await.expect("ffmpeg log"),
            relayed: self.relayed.await.expect("relay"),
        }
    }
}
