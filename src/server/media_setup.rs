//! Turns a negotiated SDP into a ready-to-run room member: endpoint, decoder and private
//! encoder are all built here, on the signalling side, so the media thread only moves it in.

use crate::conference::member::{AudioParams, MemberId, MemberSetup};
use crate::conference::room::SharedEncoders;
use crate::media::audio::codec::{AudioEncoder, CodecError, EncoderSettings};
use crate::media::audio::inbound::AudioInbound;
use crate::rtp::endpoint::{RemoteMedia, RtpEndpoint};
use crate::rtp::port_pool::RtpSocketPair;
use crate::sdp::{AudioCodec, NegotiatedAudio};
use std::net::IpAddr;

/// Where the negotiated audio wants media.
pub fn remote_media(audio: &NegotiatedAudio) -> RemoteMedia {
    RemoteMedia {
        rtp: Some(audio.remote_rtp),
        rtcp: Some(audio.remote_rtcp),
        rtcp_mux: audio.rtcp_mux,
    }
}

/// Identity of the member being built.
pub struct MemberIdentity {
    pub id: MemberId,
    pub call_id: String,
    pub name: String,
    pub signalling_ip: IpAddr,
}

/// Builds the member for `audio` on `sockets`.
pub fn build_member(
    who: MemberIdentity,
    sockets: RtpSocketPair,
    audio: &NegotiatedAudio,
    settings: EncoderSettings,
) -> Result<MemberSetup, CodecError> {
    Ok(MemberSetup {
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
