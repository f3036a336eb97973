//! Server configuration: embedded defaults, an optional TOML file, and command-line overrides
//! (applied in that order). Running with no file at all is the normal case.

use crate::conference::canvas::CanvasConfig;
use crate::media::video::codec::DecoderBackend;
use crate::sip::transport::TcpLimits;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

/// Configuration errors, reported before anything binds.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("invalid RTP port range {0:?}: expected LOW-HIGH with even LOW and at least 2 ports")]
    PortRange(String),
    #[error("{key} = {value} is out of range {min}..={max}")]
    OutOfRange {
        key: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    #[error("{key}: {value:?} is not a network (CIDR like 192.0.2.0/24, or an address)")]
    Network { key: &'static str, value: String },
    #[error("[sip.auth] algorithms: {0:?} is not SHA-256 or MD5 (at least one is needed)")]
    Algorithm(String),
    #[error("{0} = 0: it must be at least 1")]
    Zero(&'static str),
    #[error("[limits] invites_per_sec_per_ip = {0} must be a number of at least 0.01")]
    Rate(f64),
    #[error("[audio] opus_complexity = {0} is out of range 0..=10")]
    Complexity(i32),
}

/// The timer settings and their sane ranges (a larger value would overflow the clock when
/// added to it, or mean the timer never fires).
const TIMER_RANGES: [(&str, u64, u64); 9] = [
    ("[sip] t1_ms", 1, 10_000),
    ("[sip] answer_delay_ms", 0, 60_000),
    ("[rtp] timeout_secs", 1, 86_400),
    ("[cascade] idle_grace_secs", 0, 86_400),
    ("[cascade] redial_first_secs", 0, 86_400),
    ("[cascade] redial_max_secs", 1, 86_400),
    ("[cascade] keepalive_secs", 1, 3_600),
    ("[cascade] keepalive_timeout_secs", 1, 3_600),
    ("[limits] tcp_idle_secs", 1, 86_400),
];

/// Everything `tessera serve` needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub node: NodeConfig,
    pub cascade: CascadeConfig,
    pub sip: SipConfig,
    pub api: ApiConfig,
    pub rtp: RtpConfig,
    pub media: MediaConfig,
    pub audio: AudioConfig,
    pub video: VideoConfig,
    pub limits: LimitsConfig,
}

/// Bounds that keep one source from exhausting the server (`docs/SECURITY.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// SIP over TCP: connections open at once, in all and from one IP address.
    pub tcp_connections: usize,
    pub tcp_connections_per_ip: usize,
    /// A TCP connection that carries no call and sent nothing for this long is closed.
    pub tcp_idle_secs: u64,
    /// Calls at once: in all, and from one source IP.
    pub calls: usize,
    pub calls_per_ip: usize,
    /// New INVITEs per second from one source IP (bursts of twice that); more get 503 with
    /// `Retry-After`.
    pub invites_per_sec_per_ip: f64,
    /// Rooms open at once.
    pub rooms: usize,
    /// Members of one room that may hide their own tile (`X-Tessera-Hide-Self`): each costs
    /// a view of its own, an encoder. Past this, a member sees the shared view.
    pub hide_self_per_room: usize,
    /// SIP server transactions one source IP may hold at once (an accepted INVITE's lasts
    /// 64·T1); past this its new requests get a stateless 503.
    pub transactions_per_ip: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let tcp = TcpLimits::default();
        Self {
            tcp_connections: tcp.connections,
            tcp_connections_per_ip: tcp.connections_per_ip,
            tcp_idle_secs: tcp.idle.as_secs(),
            calls: 2000,
            calls_per_ip: 100,
            invites_per_sec_per_ip: 20.0,
            rooms: 1000,
            hide_self_per_room: 8,
            transactions_per_ip: crate::sip::transaction::MAX_SERVER_TRANSACTIONS_PER_SOURCE,
        }
    }
}

impl LimitsConfig {
    /// The limits on new calls.
    pub fn admission(&self) -> crate::server::admission::AdmissionLimits {
        crate::server::admission::AdmissionLimits {
            calls: self.calls,
            calls_per_ip: self.calls_per_ip,
            invites_per_sec_per_ip: self.invites_per_sec_per_ip,
            rooms: self.rooms,
        }
    }

    /// The limits of the SIP TCP listener.
    pub fn tcp(&self) -> TcpLimits {
        TcpLimits {
            connections: self.tcp_connections,
            connections_per_ip: self.tcp_connections_per_ip,
            idle: Duration::from_secs(self.tcp_idle_secs),
        }
    }
}

/// This server's identity in cascades.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Node id (`[A-Za-z0-9_.-]{1,64}`); default: host name and SIP port.
    pub id: Option<String>,
}

/// Cascade legs between servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CascadeConfig {
    /// A room with nobody in it and at most one leg ends that leg after this long, so rooms on
    /// several servers never keep each other alive.
    pub idle_grace_secs: u64,
    /// An outgoing leg that goes down is dialled again after this many seconds, doubling
    /// per failed attempt up to `redial_max_secs`.
    pub redial_first_secs: u64,
    pub redial_max_secs: u64,
    /// Between Tessera nodes, an up leg sends an in-dialog OPTIONS this often…
    pub keepalive_secs: u64,
    /// …and ends (then redials) when one stays unanswered this long.
    pub keepalive_timeout_secs: u64,
    /// The size (`WxH`) and bitrate (bits per second) of the view a leg is sent, whatever
    /// its canvas's; a leg dialled by config or API may set its own.
    pub video_size: String,
    pub bitrate: u32,
    /// Legs dialled at start-up (`[[cascade.leg]]`).
    pub leg: Vec<ConfiguredLeg>,
}

/// A cascade leg the server dials when it starts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredLeg {
    /// The local room.
    pub room: String,
    /// The same room on the peer, `sip:ROOM@IP[:port]`.
    pub peer: String,
    /// 1-based canvas showing the far room (0: on none).
    pub canvas: Option<usize>,
    /// 1-based canvas sent to the far room.
    pub watching_canvas: Option<usize>,
    /// Kept up whether or not anybody is in the room (no idle end; the room stays).
    #[serde(default)]
    pub permanent: bool,
    /// The leg's view size (`WxH`) and bitrate, if not `[cascade]`'s.
    pub video_size: Option<String>,
    pub bitrate: Option<u32>,
}

/// The bitrates a leg's view may have, bits per second.
pub const LEG_BITRATE_RANGE: std::ops::RangeInclusive<u32> = 64_000..=20_000_000;

impl CascadeConfig {
    /// A leg's view: `size` and `bitrate` where given, else the defaults.
    pub fn leg_view(
        &self,
        size: Option<&str>,
        bitrate: Option<u32>,
    ) -> Result<crate::conference::view::ViewFormat, String> {
        let (width, height) = crate::dial::parse_size(size.unwrap_or(&self.video_size))
            .map_err(|e| format!("video_size: {e}"))?;
        let bitrate_bps = bitrate.unwrap_or(self.bitrate);
        if !LEG_BITRATE_RANGE.contains(&bitrate_bps) {
            return Err(format!(
                "bitrate: {bitrate_bps} is out of range {}..={}",
                LEG_BITRATE_RANGE.start(),
                LEG_BITRATE_RANGE.end()
            ));
        }
        Ok(crate::conference::view::ViewFormat {
            width,
            height,
            bitrate_bps,
        })
    }
}

impl Default for CascadeConfig {
    fn default() -> Self {
        Self {
            idle_grace_secs: 30,
            redial_first_secs: 1,
            redial_max_secs: 60,
            keepalive_secs: 5,
            keepalive_timeout_secs: 10,
            video_size: "1280x720".to_string(),
            bitrate: 2_000_000,
            leg: Vec::new(),
        }
    }
}

/// Video canvases and per-member defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VideoConfig {
    /// Accept video at all (answer H.264 m-lines).
    pub enabled: bool,
    /// Canvases per room.
    pub canvases: usize,
    /// Settings shared by every canvas.
    pub canvas: CanvasConfig,
    /// Default initial canvas of a member (1-based; 0 = on no canvas, watch-only).
    pub initial_canvas: usize,
    /// Default watching canvas (1-based); absent = the initial canvas (or 1).
    pub watching_canvas: Option<usize>,
    /// Directory of layout files replacing the built-in set.
    pub layouts_dir: Option<std::path::PathBuf>,
    /// Canvases with settings of their own (`[[video.per_canvas]]`); when present they
    /// replace `canvases` × `canvas`.
    pub per_canvas: Vec<CanvasConfig>,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            canvases: 1,
            canvas: CanvasConfig::default(),
            initial_canvas: 1,
            watching_canvas: None,
            layouts_dir: None,
            per_canvas: Vec::new(),
        }
    }
}

impl VideoConfig {
    /// The settings of each canvas of a room (at least one).
    pub fn canvas_configs(&self) -> Vec<CanvasConfig> {
        if self.per_canvas.is_empty() {
            vec![self.canvas.clone(); self.canvases.max(1)]
        } else {
            self.per_canvas.clone()
        }
    }
}

/// SIP listener and behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// Address written into SDP; default: the local address the request arrived on.
    pub public_ip: Option<IpAddr>,
    /// Ring for this long (180 Ringing) before answering; 0 answers at once.
    pub answer_delay_ms: u64,
    /// RFC 3261 T1 in milliseconds.
    pub t1_ms: u64,
    /// Source networks (CIDR, e.g. `"192.0.2.0/24"`, `"::1/128"`) whose SIP is served; others
    /// get 403. Empty: any.
    pub allow: Vec<String>,
    /// Digest authentication of callers.
    pub auth: AuthConfig,
}

/// Digest authentication of callers (RFC 8760); on when `users` has someone.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub realm: String,
    /// User name → password.
    pub users: std::collections::BTreeMap<String, String>,
    /// Offered in this order (most preferred first): `"SHA-256"`, `"MD5"`.
    pub algorithms: Vec<String>,
    /// Source networks (CIDR) that need no authentication, e.g. peer servers' cascade legs.
    pub trusted: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            realm: "tessera".to_string(),
            users: Default::default(),
            algorithms: vec!["SHA-256".to_string(), "MD5".to_string()],
            trusted: Vec::new(),
        }
    }
}

/// Parses a list of CIDR networks (a bare address is a network of one).
pub fn parse_networks(
    key: &'static str,
    list: &[String],
) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.iter()
        .map(|text| {
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::Network {
                    key,
                    value: text.clone(),
                })
        })
        .collect()
}

/// The HTTP control API (`docs/API.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// Bearer token every request must carry; required when `listen` is not loopback.
    pub token: Option<String>,
}

/// RTP ports and liveness.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RtpConfig {
    /// Inclusive port range, `"20000-29999"`.
    pub ports: PortRange,
    /// Address RTP sockets bind to.
    pub bind_ip: IpAddr,
    /// A call with no RTP for this long is ended with BYE.
    pub timeout_secs: u64,
}

/// Media threads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Number of media threads; 0 = one per core.
    pub threads: usize,
    /// Number of video codec threads (decoding members, encoding views); 0 = one per core.
    pub video_threads: usize,
    /// The H.264 decoder of the members' video: `libavcodec` (the system FFmpeg, the fastest)
    /// or `openh264`.
    pub video_decoder: DecoderBackend,
}

/// Mixer and talk detection.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioConfig {
    /// Level above which a member counts as talking.
    pub talk_threshold_dbfs: f32,
    /// Frames (20 ms) a talker stays "talking" after falling silent.
    pub talk_hangover_frames: u32,
    /// Opus encoder bitrate in bits per second.
    pub opus_bitrate: i32,
    /// Skip decoding Opus packets flagged as silent (VAD off, DTX) from members that are not
    /// talking. Saves most of a big room's decode work; turn off to decode everything.
    pub skip_inactive_decode: bool,
    /// Opus encoder complexity, 0–10: the cost of every mix encode (see `docs/PERFORMANCE.md`
    /// for the cost and quality of each).
    pub opus_complexity: i32,
    /// A listener whose mix is exactly one other member in its own codec is sent that
    /// member's packets (under our SSRC, sequence numbers and timestamps) instead of a decode
    /// and re-encode of them.
    pub forward_single_source: bool,
    /// A listener whose mix is silent is sent a ready-made silent frame instead of an encode
    /// of silence.
    pub cached_silence: bool,
    /// Most members mixed at once: the loudest talkers, kept with hysteresis. The others are
    /// still heard as soon as they are among the loudest; until then they hear the shared mix
    /// and cost no encoder. 0 = no limit.
    pub max_mixed_talkers: usize,
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 5060)),
            public_ip: None,
            answer_delay_ms: 0,
            t1_ms: 500,
            allow: Vec::new(),
            auth: AuthConfig::default(),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
        }
    }
}

impl Default for RtpConfig {
    fn default() -> Self {
        Self {
            ports: PortRange {
                low: 20000,
                high: 29999,
            },
            bind_ip: IpAddr::from([0, 0, 0, 0]),
            timeout_secs: 30,
        }
    }
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            talk_threshold_dbfs: -45.0,
            talk_hangover_frames: 15,
            opus_bitrate: 32_000,
            skip_inactive_decode: true,
            opus_complexity: crate::media::audio::codec::DEFAULT_OPUS_COMPLEXITY,
            forward_single_source: true,
            cached_silence: true,
            max_mixed_talkers: 4,
        }
    }
}

impl Config {
    /// Loads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source: Box::new(source),
        })
    }

    /// Refuses timer values that would overflow the clock or never fire, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let values = [
            self.sip.t1_ms,
            self.sip.answer_delay_ms,
            self.rtp.timeout_secs,
            self.cascade.idle_grace_secs,
            self.cascade.redial_first_secs,
            self.cascade.redial_max_secs,
            self.cascade.keepalive_secs,
            self.cascade.keepalive_timeout_secs,
            self.limits.tcp_idle_secs,
        ];
        let limits = &self.limits;
        let counts = [
            ("[limits] tcp_connections", limits.tcp_connections),
            (
                "[limits] tcp_connections_per_ip",
                limits.tcp_connections_per_ip,
            ),
            ("[limits] calls", limits.calls),
            ("[limits] calls_per_ip", limits.calls_per_ip),
            ("[limits] rooms", limits.rooms),
            ("[limits] transactions_per_ip", limits.transactions_per_ip),
        ];
        for (key, value) in counts {
            if value == 0 {
                return Err(ConfigError::Zero(key));
            }
        }
        parse_networks("[sip] allow", &self.sip.allow)?;
        parse_networks("[sip.auth] trusted", &self.sip.auth.trusted)?;
        if self.sip.auth.algorithms.is_empty() {
            return Err(ConfigError::Algorithm(String::new()));
        }
        for name in &self.sip.auth.algorithms {
            if crate::sip::digest::parse_algorithm(name).is_none() {
                return Err(ConfigError::Algorithm(name.clone()));
            }
        }
        let complexity = self.audio.opus_complexity;
        if !(0..=10).contains(&complexity) {
            return Err(ConfigError::Complexity(complexity));
        }
        let rate = limits.invites_per_sec_per_ip;
        if !(rate.is_finite() && rate >= 0.01) {
            return Err(ConfigError::Rate(rate));
        }
        for ((key, min, max), value) in TIMER_RANGES.into_iter().zip(values) {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::OutOfRange {
                    key,
                    value,
                    min,
                    max,
                });
            }
        }
        Ok(())
    }

    /// RTP inactivity limit.
    pub fn rtp_timeout(&self) -> Duration {
        Duration::from_secs(self.rtp.timeout_secs)
    }

    /// Media threads to start.
    pub fn media_threads(&self) -> usize {
        or_cores(self.media.threads)
    }

    /// Video codec threads to start.
    pub fn video_threads(&self) -> usize {
        or_cores(self.media.video_threads)
    }
}

/// An inclusive range of UDP ports used in RTP/RTCP pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl FromStr for PortRange {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ConfigError::PortRange(s.to_string());
        let (low, high) = s.split_once('-').ok_or_else(bad)?;
        let low: u16 = low.trim().parse().map_err(|_| bad())?;
        let high: u16 = high.trim().parse().map_err(|_| bad())?;
        if !low.is_multiple_of(2) || high <= low || low == 0 {
            return Err(bad());
        }
        Ok(Self { low, high })
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

/// `n`, or one per CPU core when `n` is 0.
fn or_cores(n: usize) -> usize {
    if n > 0 {
        n
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_that_would_overflow_the_clock_are_refused_by_name() {
        assert!(Config::default().validate().is_ok());
        let mut c = Config::default();
        c.sip.t1_ms = u64::MAX;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("[sip] t1_ms") && e.contains("1..=10000"), "{e}");
        let mut c = Config::default();
        c.sip.answer_delay_ms = 60_001;
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.cascade.keepalive_secs = 0;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("keepalive_secs"), "{e}");
        // Every value is at its key's place in the table.
        let mut c = Config::default();
        c.rtp.timeout_secs = 86_401;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("[rtp] timeout_secs"));
    }

    #[test]
    fn defaults_match_the_documented_flags() {
        let c = Config::default();
        assert_eq!(c.sip.listen.to_string(), "0.0.0.0:5060");
        assert_eq!(c.api.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.rtp.ports.to_string(), "20000-29999");
        assert_eq!(c.rtp.timeout_secs, 30);
    }

    #[test]
    fn toml_overrides_defaults() {
        let c: Config = toml::from_str(
            "[sip]\nlisten = \"127.0.0.1:5080\"\n[rtp]\nports = \"30000-30100\"\ntimeout_secs = 5\n",
        )
        .unwrap();
        assert_eq!(c.sip.listen.port(), 5080);
        assert_eq!(
            c.rtp.ports,
            PortRange {
                low: 30000,
                high: 30100
            }
        );
        assert_eq!(c.api.listen.port(), 8080);
    }

    #[test]
    fn unknown_keys_and_bad_ranges_are_errors() {
        assert!(toml::from_str::<Config>("[sip]\nlisen = \"x\"\n").is_err());
        assert!("30001-30100".parse::<PortRange>().is_err());
        assert!("30000".parse::<PortRange>().is_err());
        assert!("30100-30000".parse::<PortRange>().is_err());
    }
}

#[cfg(test)]
mod cascade_config_tests {
    use super::*;

    #[test]
    fn the_walkthrough_configs_load_with_distinct_ports_and_nodes() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cascade-configs");
        let configs: Vec<Config> = ["a.toml", "b.toml", "c.toml"]
            .iter()
            .map(|f| Config::from_file(&dir.join(f)).expect(f))
            .collect();
        let distinct = |f: &dyn Fn(&Config) -> String| {
            let all: std::collections::BTreeSet<String> = configs.iter().map(f).collect();
            all.len() == configs.len()
        };
        assert!(distinct(&|c| c.sip.listen.to_string()));
        assert!(distinct(&|c| c.api.listen.to_string()));
        assert!(distinct(&|c| c.rtp.ports.to_string()));
        assert!(distinct(&|c| format!("{:?}", c.node.id)));
        assert!(configs.iter().all(|c| c.sip.listen.ip().is_loopback()));
    }
}

#[cfg(test)]
mod video_tests {
    use super::*;

    #[test]
    fn canvases_share_settings_unless_listed_one_by_one() {
        let c: Config =
            toml::from_str("[video]\ncanvases = 2\n[video.canvas]\nwidth = 640\nheight = 360\n")
                .unwrap();
        let all = c.video.canvas_configs();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|k| (k.width, k.height) == (640, 360)));
        let c: Config = toml::from_str(
            "[[video.per_canvas]]\nwidth = 1280\nheight = 720\n[[video.per_canvas]]\nwidth = 320\nheight = 180\nlayout = \"presenter\"\n",
        )
        .unwrap();
        let all = c.video.canvas_configs();
        assert_eq!(all.len(), 2);
        assert_eq!((all[1].width, all[1].layout.as_str()), (320, "presenter"));
    }
}

#[cfg(test)]
mod limits_tests {
    use super::*;

    #[test]
    fn limits_load_from_toml_and_nonsense_is_refused_at_start() {
        let c: Config =
            toml::from_str("[limits]\ncalls_per_ip = 5\ninvites_per_sec_per_ip = 2.5\n").unwrap();
        assert_eq!(c.limits.calls_per_ip, 5);
        assert_eq!(c.limits.admission().invites_per_sec_per_ip, 2.5);
        assert_eq!(
            c.limits.tcp(),
            TcpLimits::default(),
            "the rest keep defaults"
        );
        assert!(c.validate().is_ok());
        for bad in [
            "[limits]\ncalls = 0\n",
            "[limits]\ntcp_connections_per_ip = 0\n",
            "[limits]\ninvites_per_sec_per_ip = 0.0\n",
            "[limits]\ntcp_idle_secs = 0\n",
        ] {
            let c: Config = toml::from_str(bad).unwrap();
            let e = c.validate().expect_err(bad).to_string();
            assert!(e.contains("[limits]"), "{bad}: {e}");
        }
    }
}

#[cfg(test)]
mod audio_tests {
    use super::*;

    #[test]
    fn mixing_levers_load_from_toml_and_a_complexity_past_10_is_refused() {
        let c: Config = toml::from_str(
            "[audio]\nopus_complexity = 5\nforward_single_source = false\nmax_mixed_talkers = 0\n",
        )
        .unwrap();
        assert_eq!(c.audio.opus_complexity, 5);
        assert!(!c.audio.forward_single_source);
        assert!(c.audio.cached_silence, "unlisted keys keep their defaults");
        assert_eq!(c.audio.max_mixed_talkers, 0);
        assert!(c.validate().is_ok());
        for bad in [-1, 11] {
            let mut c = Config::default();
            c.audio.opus_complexity = bad;
            let error = c.validate().expect_err("refused").to_string();
            assert!(error.contains("opus_complexity"), "{error}");
        }
    }
}

#[cfg(test)]
mod media_tests {
    use super::*;

    #[test]
    fn the_video_decoder_is_libavcodec_unless_openh264_is_named() {
        assert_eq!(
            Config::default().media.video_decoder,
            DecoderBackend::Libavcodec
        );
        let c: Config = toml::from_str("[media]\nvideo_decoder = \"openh264\"\n").unwrap();
        assert_eq!(c.media.video_decoder, DecoderBackend::Openh264);
        let error = toml::from_str::<Config>("[media]\nvideo_decoder = \"vaapi\"\n")
            .expect_err("an unknown decoder is refused")
            .to_string();
        assert!(
            error.contains("libavcodec") && error.contains("openh264"),
            "{error}"
        );
    }
}
