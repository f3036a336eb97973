//! Real-world-shaped SDP bodies used by the tests (LF line endings; tests
//! convert them to CRLF with [`crlf`] where needed).

/// Converts LF line endings to CRLF.
pub fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

/// baresip offer: Opus at a dynamic PT, G.711, telephone-event/8000, rtcp-mux.
pub const BARESIP: &str = "v=0
o=- 1462218466 2846251329 IN IP4 192.168.1.10
s=-
c=IN IP4 192.168.1.10
t=0 0
m=audio 10634 RTP/AVP 96 0 8 101
b=AS:96
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=rtcp-mux
a=ssrc:2843419813 cname:3e6a2c4f-1a35-4b2c-9c8c-0c7e52d1a1f0
";

/// Linphone offer: session-level attributes, audio + video, many codecs.
pub const LINPHONE: &str = "v=0
o=alice 3428 1870 IN IP4 10.0.0.20
s=Talk
c=IN IP4 10.0.0.20
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=fmtp:18 annexb=yes
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
m=video 9078 RTP/AVP 96 97
a=rtpmap:96 VP8/90000
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42801F
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
a=rtcp-fb:96 nack pli
a=rtcp-fb:97 nack pli
";

/// FreeSWITCH offer: static PTs without rtpmap, explicit a=rtcp.
pub const FREESWITCH: &str = "v=0
o=FreeSWITCH 1700000000 1700000001 IN IP4 203.0.113.5
s=FreeSWITCH
c=IN IP4 203.0.113.5
t=0 0
m=audio 16384 RTP/AVP 0 8 101 13
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv
a=rtcp:16385 IN IP4 203.0.113.5
";

/// Browser-style offer: BUNDLE, ICE, DTLS, SAVPF audio + video, data channel.
pub const WEBRTC: &str = "v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1 2
a=extmap-allow-mixed
a=msid-semantic: WMS stream1
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Vv2n
a=ice-pwd:VWz1h8VuzFGGcMh3mHfsFMvo
a=ice-options:trickle
a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=sendrecv
a=msid:stream1 track1
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:1732846380 cname:EocUG1f0fcg/yvY7
a=ssrc:1732846380 msid:stream1 track1
m=video 9 UDP/TLS/RTP/SAVPF 96 97
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=mid:1
a=sendrecv
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 goog-remb
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 0.0.0.0
a=mid:2
a=sctp-port:5000
a=max-message-size:262144
";

/// IPv6 offer with G.711 only.
pub const IPV6: &str = "v=0
o=bob 2808844564 2808844564 IN IP6 2001:db8::2
s=-
c=IN IP6 2001:db8::2
t=0 0
m=audio 49172 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
";

/// Audio + video with media-level c= and bandwidth lines.
pub const AUDIO_VIDEO: &str = "v=0
o=carol 1111 2222 IN IP4 198.51.100.7
s=Video call
t=0 0
m=audio 40000 RTP/AVP 111 0 101
c=IN IP4 198.51.100.7
b=AS:64
a=rtpmap:111 opus/48000/2
a=fmtp:111 useinbandfec=1;minptime=10
a=rtpmap:101 telephone-event/48000
a=fmtp:101 0-16
a=ptime:20
m=video 40002 RTP/AVP 96
c=IN IP4 198.51.100.7
b=AS:1024
b=TIAS:1000000
a=rtpmap:96 H264/90000
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1
a=sendrecv
";

/// The RFC 8866 §5 example, with every unmodelled session-level line.
pub const RFC8866_EXAMPLE: &str = "v=0
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
s=Call to John Smith
i=SDP Offer #1
u=http://www.jdoe.example.com/home.html
e=Jane Doe <jane@jdoe.example.com>
p=+1 617 555-6011
c=IN IP4 198.51.100.1
t=0 0
r=7d 1h 0 25h
z=2882844526 -1h 2898848070 0
k=clear:secret
m=audio 49170 RTP/AVP 0
m=audio 49180 RTP/AVP 0
m=video 51372 RTP/AVP 99
i=Main camera
c=IN IP6 2001:db8::2
k=prompt
a=rtpmap:99 h263-1998/90000
";

/// Multicast description with a TTL suffix.
pub const MULTICAST: &str = "v=0
o=- 1 1 IN IP4 198.51.100.1
s=Seminar
c=IN IP4 233.252.0.1/127
t=3724394400 3724398000
a=recvonly
m=audio 49170/2 RTP/AVP 0
";

/// baresip with video: H.264 in packetization mode 0 (listed first) and 1,
/// VP8, wildcard feedback, rtcp-mux.
pub const BARESIP_VIDEO: &str = "v=0
o=- 3181786839 1234567890 IN IP4 192.168.1.10
s=-
c=IN IP4 192.168.1.10
t=0 0
m=audio 10634 RTP/AVP 96 0 8 101
b=AS:96
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=rtcp-mux
m=video 10636 RTP/AVP 97 98 99
b=AS:1500
a=rtpmap:97 H264/90000
a=fmtp:97 packetization-mode=0;profile-level-id=42e01f
a=rtpmap:98 H264/90000
a=fmtp:98 packetization-mode=1;profile-level-id=42e01f
a=rtpmap:99 VP8/90000
a=fmtp:99 max-fs=3600
a=rtcp-fb:* ccm fir
a=rtcp-fb:* nack
a=rtcp-fb:* nack pli
a=sendrecv
a=label:2
a=rtcp-mux
";

/// Desk video phone: G.722/G.711/G.729, H.264 Baseline `42801F` with
/// blanks in the fmtp, max-mbps/max-fs, FIR only, no rtcp-mux.
pub const DESK_PHONE: &str = "v=0
o=- 20020 20020 IN IP4 10.1.1.50
s=SDP data
c=IN IP4 10.1.1.50
t=0 0
m=audio 11780 RTP/AVP 9 0 8 18 101
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=ptime:20
a=sendrecv
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
m=video 11782 RTP/AVP 99
b=TIAS:2048000
a=rtpmap:99 H264/90000
a=fmtp:99 profile-level-id=42801F; packetization-mode=1; max-mbps=108000; max-fs=3600
a=rtcp-fb:* ccm fir
a=content:main
a=label:11
a=sendrecv
";

/// WebRTC-ish offer through a gateway (no DTLS): audio over RTP/AVP, video
/// over RTP/AVPF with VP8 first, rtx, High profile before Baseline, per-PT
/// feedback, rtcp-mux and rtcp-rsize.
pub const WEBRTC_AVPF: &str = "v=0
o=- 5498186869896684180 2 IN IP4 203.0.113.20
s=-
c=IN IP4 203.0.113.20
t=0 0
a=msid-semantic: WMS stream0
m=audio 50000 RTP/AVP 111 0 126
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=rtpmap:126 telephone-event/8000
a=rtcp-mux
a=sendrecv
m=video 50002 RTP/AVPF 96 97 125 102 127 103
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 goog-remb
a=rtcp-fb:96 transport-cc
a=rtcp-fb:96 ccm fir
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:125 H264/90000
a=rtcp-fb:125 ccm fir
a=rtcp-fb:125 nack
a=rtcp-fb:125 nack pli
a=fmtp:125 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f
a=rtpmap:102 H264/90000
a=rtcp-fb:102 goog-remb
a=rtcp-fb:102 ccm fir
a=rtcp-fb:102 nack
a=rtcp-fb:102 nack pli
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
a=rtpmap:127 H264/90000
a=rtcp-fb:127 ccm fir
a=rtcp-fb:127 nack pli
a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f
a=rtpmap:103 rtx/90000
a=fmtp:103 apt=102
a=rtcp-mux
a=rtcp-rsize
a=sendrecv
";

/// Every sample, named.
pub const ALL: [(&str, &str); 11] = [
    ("baresip", BARESIP),
    ("linphone", LINPHONE),
    ("freeswitch", FREESWITCH),
    ("webrtc", WEBRTC),
    ("ipv6", IPV6),
    ("audio_video", AUDIO_VIDEO),
    ("rfc8866", RFC8866_EXAMPLE),
    ("multicast", MULTICAST),
    ("baresip_video", BARESIP_VIDEO),
    ("desk_phone", DESK_PHONE),
    ("webrtc_avpf", WEBRTC_AVPF),
];
