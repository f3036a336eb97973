//! The server's Prometheus metrics (`GET /metrics`): counters and histograms that the media
//! threads, codec threads and the call engine update as they work (atomics; a histogram
//! observation is a short lock, taken per media tick or per video frame, never per packet),
//! and gauges the API sets from the rooms' reports when it is scraped.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// `tessera_rtp_packets_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RtpLabels {
    /// `in` or `out`.
    pub direction: &'static str,
    /// `audio` or `video`.
    pub media: &'static str,
}

/// `tessera_sip_responses_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: u16,
}

/// `tessera_calls_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `answered` or `rejected`.
    pub result: &'static str,
}

/// `tessera_faults_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabel {
    /// What failed and was contained: `room` (a media thread's room, closed), `video_decoder`
    /// or `video_encoder` (a codec, rebuilt).
    pub kind: &'static str,
}

/// `tessera_audio_mixes_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MixLabel {
    /// How a mix was made: `encoded`, `forwarded` (one member's packets passed on) or
    /// `silence` (a ready-made silent frame).
    pub how: &'static str,
}

/// RTP counts of one stream since they were last reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpDelta {
    pub received: u64,
    pub sent: u64,
    pub lost: u64,
}

/// Every metric of one server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub rooms: Gauge,
    pub members: Gauge,
    pub views: Gauge,
    pub audio_encoders: Gauge,
    pub video_encoders: Gauge,
    pub media_tick: Histogram,
    pub compose: Histogram,
    pub video_encode: Histogram,
    pub video_decode: Histogram,
    pub rtp_packets: Family<RtpLabels, Counter>,
    pub rtp_lost: Counter,
    pub sip_responses: Family<CodeLabel, Counter>,
    pub calls: Family<ResultLabel, Counter>,
    pub faults: Family<FaultLabel, Counter>,
    pub audio_mixes: Family<MixLabel, Counter>,
}

/// Buckets from 50 µs to about 0.4 s.
fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let m = Self {
            rooms: Gauge::default(),
            members: Gauge::default(),
            views: Gauge::default(),
            audio_encoders: Gauge::default(),
            video_encoders: Gauge::default(),
            media_tick: seconds_histogram(),
            compose: seconds_histogram(),
            video_encode: seconds_histogram(),
            video_decode: seconds_histogram(),
            rtp_packets: Family::default(),
            rtp_lost: Counter::default(),
            sip_responses: Family::default(),
            calls: Family::default(),
            faults: Family::default(),
            audio_mixes: Family::default(),
            registry: Registry::default(),
        };
        registry.register("rooms", "Rooms with media running", m.rooms.clone());
        registry.register(
            "members",
            "Members in rooms (cascade legs included)",
            m.members.clone(),
        );
        registry.register("views", "Distinct video views encoded", m.views.clone());
        registry.register(
            "audio_encoders",
            "Audio encoders running (shared and talkers' private)",
            m.audio_encoders.clone(),
        );
        registry.register(
            "video_encoders",
            "Video encoders running (one per view)",
            m.video_encoders.clone(),
        );
        registry.register(
            "media_tick_seconds",
            "Time a media thread spends on one 20 ms tick of all its rooms",
            m.media_tick.clone(),
        );
        registry.register(
            "compose_seconds",
            "Time to compose one canvas picture",
            m.compose.clone(),
        );
        registry.register(
            "video_encode_seconds",
            "CPU time to encode one video frame",
            m.video_encode.clone(),
        );
        registry.register(
            "video_decode_seconds",
            "CPU time to decode one video frame",
            m.video_decode.clone(),
        );
        registry.register(
            "rtp_packets",
            "RTP packets received and sent",
            m.rtp_packets.clone(),
        );
        registry.register(
            "rtp_lost",
            "RTP packets lost on the way in (sequence gaps)",
            m.rtp_lost.clone(),
        );
        registry.register(
            "sip_responses",
            "SIP responses sent (provisional and retransmitted ones included), by status code",
            m.sip_responses.clone(),
        );
        registry.register(
            "calls",
            "Incoming calls, answered or rejected",
            m.calls.clone(),
        );
        registry.register(
            "faults",
            "Panics caught and contained, by what failed (room, video_decoder, video_encoder)",
            m.faults.clone(),
        );
        registry.register(
            "audio_mixes",
            "20 ms audio mixes sent, by how they were made (encoded, forwarded, silence); a \
             shared mix counts once however many listeners it went to",
            m.audio_mixes.clone(),
        );
        Self { registry, ..m }
    }

    /// Adds mixes made `how` (see [`MixLabel`]).
    pub fn add_mixes(&self, how: &'static str, count: u64) {
        if count > 0 {
            self.audio_mixes
                .get_or_create(&MixLabel { how })
                .inc_by(count);
        }
    }

    /// Adds a stream's RTP counts.
    pub fn add_rtp(&self, media: &'static str, delta: RtpDelta) {
        if delta.received > 0 {
            self.rtp_packets
                .get_or_create(&RtpLabels {
                    direction: "in",
                    media,
                })
                .inc_by(delta.received);
        }
        if delta.sent > 0 {
            self.rtp_packets
                .get_or_create(&RtpLabels {
                    direction: "out",
                    media,
                })
                .inc_by(delta.sent);
        }
        if delta.lost > 0 {
            self.rtp_lost.inc_by(delta.lost);
        }
    }

    /// Records a final SIP response sent.
    pub fn sip_response(&self, code: u16) {
        self.sip_responses.get_or_create(&CodeLabel { code }).inc();
    }

    /// Records how an incoming call ended its INVITE.
    pub fn call(&self, result: &'static str) {
        self.calls.get_or_create(&ResultLabel { result }).inc();
    }

    /// Records a panic that was caught and contained.
    pub fn fault(&self, kind: &'static str) {
        self.faults.get_or_create(&FaultLabel { kind }).inc();
    }

    pub fn observe(histogram: &Histogram, spent: Duration) {
        histogram.observe(spent.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_and_counts_what_was_added() {
        let m = Metrics::new();
        m.add_rtp(
            "audio",
            RtpDelta {
                received: 5,
                sent: 7,
                lost: 1,
            },
        );
        m.sip_response(486);
        m.call("answered");
        m.add_mixes("forwarded", 3);
        Metrics::observe(&m.media_tick, Duration::from_micros(300));
        let text = m.encode();
        for needle in [
            "tessera_rtp_packets_total{direction=\"in\",media=\"audio\"} 5",
            "tessera_rtp_packets_total{direction=\"out\",media=\"audio\"} 7",
            "tessera_rtp_lost_total 1",
            "tessera_sip_responses_total{code=\"486\"} 1",
            "tessera_calls_total{result=\"answered\"} 1",
            "tessera_media_tick_seconds_count 1",
            "tessera_rooms 0",
            "tessera_audio_mixes_total{how=\"forwarded\"} 3",
            "tessera_video_decode_seconds_bucket",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
    }
}
