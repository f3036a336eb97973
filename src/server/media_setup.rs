//! Turns a negotiated SDP into a ready-to-run room member: endpoint, decoder and private
//! encoder are all built here, on the signalling side, so the media thread only moves it in.

use crate::conference::member::{AudioParams, MemberId, MemberSetup};
use crate::conference::member_video::MemberVideoSetup;
use crate::conference::room::SharedEncoders;
use crate::conference::view::ViewFormat;
use crate::media::audio::codec::{AudioEncoder, CodecError, EncoderSettings};
use crate::media::audio::inbound::AudioInbound;
use crate::media::video::codec::{VideoCodecError, VideoDecoder};
use crate::media::video::codec_pool::VideoCodecPool;
use crate::media::video::inbound::VideoDecoding;
use crate::rtp::endpoint::{RemoteMedia, RtpEndpoint};
use crate::rtp::port_pool::RtpSocketPair;
use crate::sdp::{AudioCodec, NegotiatedAudio, NegotiatedVideo};
use std::net::IpAddr;

/// Where the negotiated audio wants media.
pub fn remote_media(audio: &NegotiatedAudio) -> RemoteMedia {
    RemoteMedia {
        rtp: Some(audio.remote_rtp),
        rtcp: Some(audio.remote_rtcp),
        rtcp_mux: audio.rtcp_mux,
    }
}

/// Where the negotiated video wants media.
pub fn video_remote_media(video: &NegotiatedVideo) -> RemoteMedia {
    RemoteMedia {
        rtp: Some(video.remote_rtp),
        rtcp: Some(video.remote_rtcp),
        rtcp_mux: video.rtcp_mux,
    }
}

/// Identity of the member being built.
pub struct MemberIdentity {
    pub id: MemberId,
    pub call_id: String,
    pub name: String,
    pub signalling_ip: IpAddr,
    /// 0-based canvas showing the member, its picture or its placeholder (None: on none).
    pub initial_canvas: Option<usize>,
}

/// A member's negotiated video and where it goes.
pub struct VideoPlan<'a> {
    pub sockets: RtpSocketPair,
    pub negotiated: &'a NegotiatedVideo,
    /// 0-based canvas the member receives.
    pub watching_canvas: usize,
    /// Leave the member's own tile out of what it receives.
    pub hide_self: bool,
    /// What it receives has its own size and bitrate (a cascade leg).
    pub view_format: Option<ViewFormat>,
    /// Decode threads for the member's frames (inline on the media thread when `None`).
    pub codec_pool: Option<&'a VideoCodecPool>,
}

/// Builds the video half of a member.
pub fn build_member_video(
    plan: VideoPlan<'_>,
    signalling_ip: IpAddr,
) -> Result<MemberVideoSetup, VideoCodecError> {
    let v = plan.negotiated;
    let remote = video_remote_media(v);
    Ok(MemberVideoSetup {
        endpoint: RtpEndpoint::new(plan.sockets, remote, signalling_ip),
        payload_type: v.payload_type,
        direction: v.direction,
        decoding: match plan.codec_pool {
            Some(pool) => VideoDecoding::Pooled(pool.open_decoder()?),
            None => VideoDecoding::Inline(VideoDecoder::new()?),
        },
        watching_canvas: plan.watching_canvas,
        hide_self: plan.hide_self,
        single_nal_units: v.params.packetization_mode == 0,
        view_format: plan.view_format,
        nack: v.nack,
    })
}

/// Builds the member for `audio` on `sockets`.
pub fn build_member(
    who: MemberIdentity,
    sockets: RtpSocketPair,
    audio: &NegotiatedAudio,
    settings: EncoderSettings,
) -> Result<MemberSetup, CodecError> {
    Ok(MemberSetup {
        video: None,
        controls: Default::default(),
        initial_canvas: who.initial_canvas,
        id: who.id,
        call_id: who.call_id,
        name: who.name,
        endpoint: RtpEndpoint::new(sockets, remote_media(audio), who.signalling_ip),
        audio: AudioParams {
            codec: audio.codec,
            payload_type: audio.payload_type,
            telephone_event_pt: audio.telephone_event_pt(),
            direction: audio.direction,
        },
        inbound: AudioInbound::new(audio.codec)?,
        encoder: AudioEncoder::new(audio.codec, settings)?,
    })
}

/// The shared encoders of a new room.
pub fn build_shared_encoders(settings: EncoderSettings) -> Result<SharedEncoders, CodecError> {
    Ok(SharedEncoders {
        opus: AudioEncoder::new(AudioCodec::Opus, settings)?,
        pcmu: AudioEncoder::new(AudioCodec::Pcmu, settings)?,
        pcma: AudioEncoder::new(AudioCodec::Pcma, settings)?,
    })
}
