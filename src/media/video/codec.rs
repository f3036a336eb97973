//! H.264 video codec: the encoder and decoder that the MCU runs per stream.
//!
//! This module owns the wrapping of OpenH264 (through the `openh264` crate,
//! built from source with its x86 SIMD assembly) behind a small, panic-free
//! API that speaks the project's [`I420Frame`]:
//!
//! - [`VideoEncoder`] turns I420 frames into an Annex-B byte stream (start
//!   codes, one access unit per call) tuned for real-time conferencing over
//!   RTP: Constrained Baseline profile, a single slice per picture (the RTP
//!   packetiser fragments it with FU-A), bitrate-mode rate control with
//!   frame skipping (a skipped frame yields 0 bytes), no B-frames, SPS/PPS in
//!   front of every IDR.
//! - [`VideoDecoder`] turns Annex-B access units back into tightly packed
//!   I420 frames whose size follows the stream (it may change mid-stream), with
//!   OpenH264 or libavcodec ([`DecoderBackend`]; the latter in
//!   `libav_decoder.rs`, the server's default).
//!   Any problem with the input (corrupt data, missing parameter sets or
//!   references) is a [`VideoCodecError`], after which the caller should ask
//!   the sender for a keyframe.
//!
//! RTP packetisation/depacketisation and the choice of bitrate are not owned
//! here.

use std::fmt;

use openh264::decoder::{Decoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig as OhEncoderConfig, FrameRate, FrameType,
    IntraFramePeriod, Profile, RateControlMode, SpsPpsStrategy, UsageType,
};
use openh264::formats::YUVSource;
use openh264::{OpenH264API, Timestamp};

use crate::media::video::frame::I420Frame;
use crate::media::video::libav_decoder::LibavDecoder;

/// Largest picture OpenH264 can encode (either orientation).
const MAX_LONG_SIDE: u32 = 3840;
/// Largest short side OpenH264 can encode.
const MAX_SHORT_SIDE: u32 = 2160;

/// H.264 NAL unit types used here.
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;

/// Errors from the H.264 encoder or decoder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoCodecError {
    /// The encoder configuration is unusable.
    #[error("invalid encoder configuration: {0}")]
    InvalidConfig(String),
    /// A frame given to the encoder does not have the configured size.
    #[error("frame is {width}x{height} but the encoder is configured for {expected_width}x{expected_height}")]
    FrameSizeMismatch {
        /// Configured width.
        expected_width: u32,
        /// Configured height.
        expected_height: u32,
        /// Width of the frame that was passed.
        width: u32,
        /// Height of the frame that was passed.
        height: u32,
    },
    /// A frame's planes do not match its declared dimensions.
    #[error("malformed I420 frame: {0}")]
    InvalidFrame(String),
    /// OpenH264 failed to create, initialise or run the encoder.
    #[error("H.264 encoder failed: {0}")]
    Encoder(String),
    /// The encoder produced an IDR without SPS/PPS and none were cached.
    #[error("encoder produced an IDR without SPS/PPS")]
    MissingParameterSets,
    /// The decoder (OpenH264 or libavcodec) could not be created or initialised.
    #[error("H.264 decoder could not be created: {0}")]
    DecoderInit(String),
    /// The input could not be decoded (corrupt data, missing SPS/PPS or
    /// reference). Request a keyframe from the sender.
    #[error("H.264 decode failed (state {state:#x}): {detail}")]
    Decode {
        /// OpenH264 `DECODING_STATE` bit set (0 if not from the decoder core).
        state: i64,
        /// Human-readable description.
        detail: String,
    },
    /// The decoder input is larger than OpenH264 accepts (`i32::MAX`).
    #[error("decoder input of {len} bytes is too large")]
    InputTooLarge {
        /// Length of the rejected input.
        len: usize,
    },
    /// The decoder produced a picture that cannot be represented as an
    /// [`I420Frame`] (odd or zero size, inconsistent strides).
    #[error("decoded picture {width}x{height} is not representable as an I420 frame")]
    UnsupportedPicture {
        /// Decoded width.
        width: usize,
        /// Decoded height.
        height: usize,
    },
}

impl VideoCodecError {
    /// Whether this error means the decoder lost sync and the sender should
    /// be asked for a keyframe (RTCP PLI/FIR).
    pub fn needs_keyframe(&self) -> bool {
        matches!(
            self,
            Self::Decode { .. } | Self::UnsupportedPicture { .. } | Self::InputTooLarge { .. }
        )
    }
}

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncoderConfig {
    /// Picture width in pixels (even, at most 3840, or 2160 if it is the short side).
    pub width: u32,
    /// Picture height in pixels (even).
    pub height: u32,
    /// Nominal frame rate at which `encode` is called (frames per second, > 0).
    /// OpenH264's rate control clamps it to 1..=60.
    pub fps: f32,
    /// Target bitrate in bits per second (> 0).
    pub bitrate_bps: u32,
    /// Emit an IDR at least every this many frames; `None` = only on the
    /// first frame, on request and on scene changes.
    pub max_keyframe_interval: Option<u32>,
    /// Cap every NAL unit (start code included) at this many bytes with
    /// size-limited slices, for receivers in packetization mode 0 (RFC 6184
    /// §6.2); `None` = one slice per picture. At least [`MIN_NAL_BYTES`].
    pub max_nal_bytes: Option<u32>,
}

/// Smallest NAL size limit OpenH264 accepts (a macroblock may take 400 bytes,
/// plus its slice margins).
pub const MIN_NAL_BYTES: u32 = 500;

impl EncoderConfig {
    fn validate(&self) -> Result<(), VideoCodecError> {
        let bad = |msg: String| Err(VideoCodecError::InvalidConfig(msg));
        let (w, h) = (self.width, self.height);
        if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 {
            return bad(format!("size {w}x{h} must be non-zero and even"));
        }
        if w.max(h) > MAX_LONG_SIDE || w.min(h) > MAX_SHORT_SIDE {
            return bad(format!(
                "size {w}x{h} exceeds {MAX_LONG_SIDE}x{MAX_SHORT_SIDE}"
            ));
        }
        if !self.fps.is_finite() || self.fps <= 0.0 {
            return bad(format!("fps {} must be finite and positive", self.fps));
        }
        if self.bitrate_bps == 0 || i32::try_from(self.bitrate_bps).is_err() {
            return bad(format!(
                "bitrate {} bps must be in 1..=i32::MAX",
                self.bitrate_bps
            ));
        }
        if self.max_keyframe_interval == Some(0) {
            return bad("max_keyframe_interval must be at least 1 frame".into());
        }
        if let Some(n) = self.max_nal_bytes.filter(|n| *n < MIN_NAL_BYTES) {
            return bad(format!(
                "max_nal_bytes {n} must be at least {MIN_NAL_BYTES}"
            ));
        }
        Ok(())
    }

    fn to_openh264(self) -> OhEncoderConfig {
        let config = OhEncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .profile(Profile::Baseline)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(self.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(self.fps))
            .skip_frames(true)
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .complexity(Complexity::Low)
            .num_threads(1)
            .intra_frame_period(IntraFramePeriod::from_num_frames(
                self.max_keyframe_interval.unwrap_or(0),
            ))
            .scene_change_detect(true)
            .adaptive_quantization(true)
            .background_detection(true)
            .long_term_reference(false);
        match self.max_nal_bytes {
            // SM_SIZELIMITED_SLICE with uiMaxNalSize = uiSliceSizeConstraint = n.
            Some(n) => config.max_slice_len(n),
            None => config,
        }
    }
}

/// Result of one [`VideoEncoder::encode`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The access unit is an IDR (preceded by SPS and PPS): a decoder can
    /// start here.
    pub keyframe: bool,
    /// Number of bytes written to the output buffer (0 if the encoder
    /// skipped the frame; nothing should be sent then).
    pub bytes: usize,
}

/// Borrowed view of an [`I420Frame`] for OpenH264.
struct I420Source<'a>(&'a I420Frame);

impl YUVSource for I420Source<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width as usize, self.0.height as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let w = self.0.width as usize;
        (w, w / 2, w / 2)
    }

    fn y(&self) -> &[u8] {
        &self.0.y
    }

    fn u(&self) -> &[u8] {
        &self.0.u
    }

    fn v(&self) -> &[u8] {
        &self.0.v
    }
}

/// Checks that `frame`'s planes hold exactly its declared (even) size.
fn check_planes(frame: &I420Frame) -> Result<(), VideoCodecError> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let luma = w * h;
    let chroma = (w / 2) * (h / 2);
    if frame.y.len() != luma || frame.u.len() != chroma || frame.v.len() != chroma {
        return Err(VideoCodecError::InvalidFrame(format!(
            "{}x{} needs planes of {luma}/{chroma}/{chroma} bytes, got {}/{}/{}",
            frame.width,
            frame.height,
            frame.y.len(),
            frame.u.len(),
            frame.v.len()
        )));
    }
    Ok(())
}

/// Returns the NAL unit type of `nal`, which starts with an Annex-B start code.
fn nal_type_after_start_code(nal: &[u8]) -> Option<u8> {
    let body = nal
        .strip_prefix(&[0, 0, 0, 1])
        .or_else(|| nal.strip_prefix(&[0, 0, 1]))?;
    body.first().map(|b| b & 0x1f)
}

/// H.264 encoder for one outgoing stream (OpenH264, single-threaded).
///
/// Each [`encode`](Self::encode) call produces one access unit. The first
/// frame, frames after [`request_keyframe`](Self::request_keyframe) or with
/// `force_keyframe`, and (if configured) every `max_keyframe_interval`
/// frames are IDRs carrying SPS and PPS.
pub struct VideoEncoder {
    config: EncoderConfig,
    inner: Encoder,
    frames_encoded: u64,
    keyframe_requested: bool,
    /// Last SPS+PPS emitted (Annex-B), re-sent if an IDR ever lacks them.
    param_sets: Vec<u8>,
}

impl fmt::Debug for VideoEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VideoEncoder")
            .field("config", &self.config)
            .field("frames_encoded", &self.frames_encoded)
            .field("keyframe_requested", &self.keyframe_requested)
            .finish_non_exhaustive()
    }
}

impl VideoEncoder {
    /// Creates an encoder. OpenH264 allocates its working buffers on the
    /// first [`encode`](Self::encode).
    pub fn new(config: EncoderConfig) -> Result<Self, VideoCodecError> {
        config.validate()?;
        let inner = Encoder::with_api_config(OpenH264API::from_source(), config.to_openh264())
            .map_err(|e| VideoCodecError::Encoder(e.to_string()))?;
        Ok(Self {
            config,
            inner,
            frames_encoded: 0,
            keyframe_requested: false,
            param_sets: Vec::new(),
        })
    }

    /// The configuration this encoder was created with.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Makes the next [`encode`](Self::encode) produce an IDR (e.g. on an
    /// RTCP PLI/FIR from a receiver).
    pub fn request_keyframe(&mut self) {
        self.keyframe_requested = true;
    }

    /// Encodes `frame` into `out` (cleared first) as an Annex-B byte stream.
    ///
    /// `frame` must have the configured size; otherwise
    /// [`VideoCodecError::FrameSizeMismatch`] is returned and nothing is
    /// encoded. Frames are assumed to arrive at the configured `fps` (the
    /// encoder derives its timestamps from the frame count).
    ///
    /// When the rate control is over budget the frame may be skipped:
    /// `Ok(EncodedFrame { bytes: 0, .. })` with `out` empty; send nothing.
    /// A keyframe that was forced or requested is then produced by the next
    /// frame that is coded.
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        force_keyframe: bool,
        out: &mut Vec<u8>,
    ) -> Result<EncodedFrame, VideoCodecError> {
        out.clear();
        if frame.width != self.config.width || frame.height != self.config.height {
            return Err(VideoCodecError::FrameSizeMismatch {
                expected_width: self.config.width,
                expected_height: self.config.height,
                width: frame.width,
                height: frame.height,
            });
        }
        check_planes(frame)?;

        if force_keyframe || self.keyframe_requested {
            // Before the first frame the encoder is not initialised yet and
            // this is a no-op, but the first frame is an IDR anyway.
            self.inner.force_intra_frame();
        }

        // Saturating float-to-int cast, kept within what OpenH264 accepts.
        let millis = ((self.frames_encoded as f64 * 1000.0 / f64::from(self.config.fps)) as u64)
            .min(i64::MAX as u64);
        let stream = self
            .inner
            .encode_at(&I420Source(frame), Timestamp::from_millis(millis))
            .map_err(|e| VideoCodecError::Encoder(e.to_string()))?;
        self.frames_encoded += 1;

        match stream.frame_type() {
            FrameType::Skip => {
                return Ok(EncodedFrame {
                    keyframe: false,
                    bytes: 0,
                })
            }
            FrameType::Invalid => {
                return Err(VideoCodecError::Encoder(
                    "encoder returned an invalid frame".into(),
                ))
            }
            FrameType::IDR | FrameType::I | FrameType::P | FrameType::IPMixed => {}
        }

        let (mut has_idr, mut has_sps, mut has_pps) = (false, false, false);
        for layer in (0..stream.num_layers()).filter_map(|i| stream.layer(i)) {
            for nal in (0..layer.nal_count()).filter_map(|n| layer.nal_unit(n)) {
                match nal_type_after_start_code(nal) {
                    Some(NAL_IDR) => has_idr = true,
                    Some(t @ (NAL_SPS | NAL_PPS)) => {
                        if !has_sps && !has_pps {
                            self.param_sets.clear();
                        }
                        self.param_sets.extend_from_slice(nal);
                        has_sps |= t == NAL_SPS;
                        has_pps |= t == NAL_PPS;
                    }
                    _ => {}
                }
                out.extend_from_slice(nal);
            }
        }

        if has_idr {
            if !(has_sps && has_pps) {
                if self.param_sets.is_empty() {
                    out.clear();
                    return Err(VideoCodecError::MissingParameterSets);
                }
                out.splice(0..0, self.param_sets.iter().copied());
            }
            self.keyframe_requested = false;
        }
        Ok(EncodedFrame {
            keyframe: has_idr,
            bytes: out.len(),
        })
    }
}

/// A picture produced by [`VideoDecoder::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    /// The decoded picture, tightly packed, at the size signalled by the stream.
    pub frame: I420Frame,
}

/// H.264 decoder for one incoming stream (single-threaded; damage is reported, not hidden:
/// OpenH264 with error concealment off, or libavcodec refusing concealed pictures).
pub struct VideoDecoder {
    inner: DecoderInner,
}

impl fmt::Debug for VideoDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VideoDecoder").finish_non_exhaustive()
    }
}

/// Describes an OpenH264 `DECODING_STATE` bit set.
fn describe_decoding_state(state: i64) -> String {
    const FLAGS: [(i64, &str); 11] = [
        (0x1, "frame pending"),
        (0x2, "reference lost"),
        (0x4, "bitstream error"),
        (0x8, "dependency layer lost"),
        (0x10, "no parameter sets"),
        (0x20, "data error concealed"),
        (0x40, "reference list null"),
        (0x1000, "invalid argument"),
        (0x2000, "decoder not initialised"),
        (0x4000, "out of memory"),
        (0x8000, "destination buffer too small"),
    ];
    let names: Vec<&str> = FLAGS
        .iter()
        .filter(|(bit, _)| state & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "unknown decoder error".to_owned()
    } else {
        names.join(", ")
    }
}

fn decode_error(e: &openh264::Error) -> VideoCodecError {
    let state = e.native_code();
    let detail = if state != 0 {
        describe_decoding_state(state)
    } else {
        e.to_string()
    };
    VideoCodecError::Decode { state, detail }
}

/// One plane of a picture held in a decoder's buffer: its bytes and row stride.
#[derive(Debug, Clone, Copy)]
pub(super) struct StridedPlane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
}

impl StridedPlane<'_> {
    pub const EMPTY: Self = Self {
        data: &[],
        stride: 0,
    };
}

/// Copies `height` rows of `width` bytes from a strided plane into `dst`,
/// reusing its allocation.
fn copy_plane(
    plane: StridedPlane<'_>,
    width: usize,
    height: usize,
    dst: &mut Vec<u8>,
) -> Option<()> {
    dst.reserve(width * height);
    for row in 0..height {
        let start = row.checked_mul(plane.stride)?;
        dst.extend_from_slice(plane.data.get(start..start.checked_add(width)?)?);
    }
    Some(())
}

/// Stores a decoded `width`x`height` 4:2:0 picture (Y, U, V planes with strides) in `dst` as
/// a tightly packed [`I420Frame`], reusing its planes; refuses odd, empty or short pictures.
pub(super) fn store_picture(
    width: usize,
    height: usize,
    [y, u, v]: [StridedPlane<'_>; 3],
    dst: &mut I420Frame,
) -> Result<(), VideoCodecError> {
    let unsupported = VideoCodecError::UnsupportedPicture { width, height };
    let (Ok(w32), Ok(h32)) = (u32::try_from(width), u32::try_from(height)) else {
        return Err(unsupported);
    };
    if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(unsupported);
    }
    let (cw, ch) = (width / 2, height / 2);
    copy_plane(y, width, height, dst.y.recycled_vec())
        .and_then(|()| copy_plane(u, cw, ch, dst.u.recycled_vec()))
        .and_then(|()| copy_plane(v, cw, ch, dst.v.recycled_vec()))
        .ok_or(unsupported)?;
    dst.width = w32;
    dst.height = h32;
    Ok(())
}

/// Which H.264 decoder a [`VideoDecoder`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecoderBackend {
    /// The system FFmpeg's libavcodec: the fastest here (the server's default).
    #[default]
    Libavcodec,
    /// OpenH264, the same library as the encoder (`tessera dial` decodes with it, so that
    /// its pictures do not come through the server's decoder).
    Openh264,
}

enum DecoderInner {
    Openh264(Box<Decoder>),
    Libavcodec(LibavDecoder),
}

impl VideoDecoder {
    /// Creates a decoder with the default backend ([`DecoderBackend::Libavcodec`]).
    pub fn new() -> Result<Self, VideoCodecError> {
        Self::with_backend(DecoderBackend::default())
    }

    /// Creates a decoder running `backend`.
    pub fn with_backend(backend: DecoderBackend) -> Result<Self, VideoCodecError> {
        let inner = match backend {
            DecoderBackend::Openh264 => DecoderInner::Openh264(Box::new(
                Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
                    .map_err(|e| VideoCodecError::DecoderInit(e.to_string()))?,
            )),
            DecoderBackend::Libavcodec => DecoderInner::Libavcodec(LibavDecoder::new()?),
        };
        Ok(Self { inner })
    }

    /// The backend this decoder runs.
    pub fn backend(&self) -> DecoderBackend {
        match self.inner {
            DecoderInner::Openh264(_) => DecoderBackend::Openh264,
            DecoderInner::Libavcodec(_) => DecoderBackend::Libavcodec,
        }
    }

    /// Decodes one Annex-B access unit (or parameter sets alone) and returns
    /// the picture, if one was completed. Allocates a new frame per picture;
    /// use [`decode_into`](Self::decode_into) to reuse one.
    pub fn decode(&mut self, annex_b: &[u8]) -> Result<Option<DecodedFrame>, VideoCodecError> {
        let mut frame = I420Frame::default();
        Ok(self
            .decode_into(annex_b, &mut frame)?
            .then_some(DecodedFrame { frame }))
    }

    /// Decodes one Annex-B access unit into `dst`, reusing its plane
    /// allocations. Returns `Ok(true)` if a picture was written, `Ok(false)`
    /// if more data is needed (then `dst` is untouched).
    ///
    /// `dst` takes the picture size of the stream, which may change at any
    /// IDR. On error `dst` may hold a partially copied picture; the caller
    /// should request a keyframe (see [`VideoCodecError::needs_keyframe`]).
    pub fn decode_into(
        &mut self,
        annex_b: &[u8],
        dst: &mut I420Frame,
    ) -> Result<bool, VideoCodecError> {
        let decoder = match &mut self.inner {
            DecoderInner::Libavcodec(decoder) => return decoder.decode_into(annex_b, dst),
            DecoderInner::Openh264(decoder) => decoder,
        };
        if annex_b.is_empty() {
            return Ok(false);
        }
        if i32::try_from(annex_b.len()).is_err() {
            return Err(VideoCodecError::InputTooLarge { len: annex_b.len() });
        }
        let yuv = match decoder.decode(annex_b) {
            Ok(Some(yuv)) => yuv,
            Ok(None) => return Ok(false),
            Err(e) => return Err(decode_error(&e)),
        };
        let (width, height) = yuv.dimensions();
        let (y_stride, u_stride, v_stride) = yuv.strides();
        let plane = |data, stride| StridedPlane { data, stride };
        store_picture(
            width,
            height,
            [
                plane(yuv.y(), y_stride),
                plane(yuv.u(), u_stride),
                plane(yuv.v(), v_stride),
            ],
            dst,
        )?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u32 = 640;
    const H: u32 = 360;
    const BG: (u8, u8, u8) = (150, 90, 170);

    /// Solid frame with a 16x16 marker moving along the top-left area.
    fn marker_frame(w: u32, h: u32, t: u32) -> I420Frame {
        let mut f = I420Frame::new_filled(w, h, BG);
        let (x0, y0) = ((8 + 6 * t) as usize % (w as usize / 3), 16usize);
        for y in y0..y0 + 16 {
            for x in x0..x0 + 16 {
                f.y[y * w as usize + x] = 30;
            }
        }
        for y in y0 / 2..(y0 + 16) / 2 {
            for x in x0 / 2..(x0 + 16) / 2 {
                f.u[y * (w as usize / 2) + x] = 200;
            }
        }
        f
    }

    fn config(w: u32, h: u32) -> EncoderConfig {
        EncoderConfig {
            width: w,
            height: h,
            fps: 30.0,
            bitrate_bps: 800_000,
            max_keyframe_interval: None,
            max_nal_bytes: None,
        }
    }

    /// NAL units of an Annex-B stream (without start codes).
    fn nal_units(data: &[u8]) -> Vec<&[u8]> {
        let mut starts = Vec::new();
        let mut i = 0;
        while i + 3 <= data.len() {
            if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
                starts.push(i + 3);
                i += 3;
            } else {
                i += 1;
            }
        }
        let mut nals = Vec::new();
        for (k, &s) in starts.iter().enumerate() {
            let mut end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
            while end > s && data[end - 1] == 0 {
                end -= 1; // zero_byte of a 4-byte start code / trailing zeros
            }
            nals.push(&data[s..end]);
        }
        nals
    }

    fn nal_types(data: &[u8]) -> Vec<u8> {
        nal_units(data).iter().map(|n| n[0] & 0x1f).collect()
    }

    fn centre(f: &I420Frame) -> (u8, u8, u8) {
        let (w, h) = (f.width as usize, f.height as usize);
        (
            f.y[(h / 2) * w + w / 2],
            f.u[(h / 4) * (w / 2) + w / 4],
            f.v[(h / 4) * (w / 2) + w / 4],
        )
    }

    fn assert_close(got: (u8, u8, u8), want: (u8, u8, u8), tol: i32) {
        for (g, w) in [(got.0, want.0), (got.1, want.1), (got.2, want.2)] {
            assert!(
                (i32::from(g) - i32::from(w)).abs() <= tol,
                "got {got:?}, want {want:?} ±{tol}"
            );
        }
    }

    /// Tiny deterministic PRNG (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    fn encode_sequence(w: u32, h: u32, n: u32) -> Vec<(EncodedFrame, Vec<u8>)> {
        let mut enc = VideoEncoder::new(config(w, h)).unwrap();
        (0..n)
            .map(|t| {
                let mut out = Vec::new();
                let info = enc.encode(&marker_frame(w, h, t), false, &mut out).unwrap();
                (info, out)
            })
            .collect()
    }

    #[test]
    fn encode_decode_roundtrip_640x360() {
        let seq = encode_sequence(W, H, 30);

        let (first, first_bytes) = &seq[0];
        assert!(first.keyframe);
        assert_eq!(first.bytes, first_bytes.len());
        assert!(first_bytes.starts_with(&[0, 0, 0, 1]));
        let types = nal_types(first_bytes);
        assert!(types.contains(&NAL_SPS), "types {types:?}");
        assert!(types.contains(&NAL_PPS), "types {types:?}");
        assert!(types.contains(&NAL_IDR), "types {types:?}");

        // Constrained Baseline: profile_idc 66, constraint_set0 and set1.
        let sps = nal_units(first_bytes)
            .into_iter()
            .find(|n| n[0] & 0x1f == NAL_SPS)
            .unwrap();
        assert_eq!(sps[1], 66, "profile_idc");
        assert_eq!(sps[2] & 0xc0, 0xc0, "constraint_set0/1 flags");
        eprintln!(
            "profile-level-id {:02x}{:02x}{:02x}",
            sps[1], sps[2], sps[3]
        );

        let mut total = 0;
        for (i, (info, bytes)) in seq.iter().enumerate().skip(1) {
            assert!(!info.keyframe, "frame {i} unexpectedly a keyframe");
            assert!(info.bytes > 0, "frame {i} skipped");
            let types = nal_types(bytes);
            assert!(types.iter().all(|&t| t == 1), "frame {i} types {types:?}");
            total += info.bytes;
        }
        eprintln!(
            "keyframe {} B, P-frames avg {} B",
            first.bytes,
            total / (seq.len() - 1)
        );

        let mut dec = VideoDecoder::new().unwrap();
        let mut frame = I420Frame::default();
        for (i, (_, bytes)) in seq.iter().enumerate() {
            assert!(dec.decode_into(bytes, &mut frame).unwrap(), "frame {i}");
            assert_eq!((frame.width, frame.height), (W, H));
            assert_eq!(frame.y.len(), (W * H) as usize);
            assert_eq!(frame.u.len(), (W * H / 4) as usize);
            assert_eq!(frame.v.len(), (W * H / 4) as usize);
            assert_close(centre(&frame), BG, 12);
        }
        // The marker is visible where it was drawn in the last frame.
        let x = (8 + 6 * 29) % (W as usize / 3) + 8;
        assert!(frame.y[24 * W as usize + x] < 60, "marker missing");

        // `decode` (allocating variant) agrees.
        let mut dec2 = VideoDecoder::new().unwrap();
        let got = dec2.decode(&seq[0].1).unwrap().unwrap();
        assert_eq!((got.frame.width, got.frame.height), (W, H));
        assert_close(centre(&got.frame), BG, 12);
    }

    #[test]
    fn force_and_requested_keyframes_are_idr_with_parameter_sets() {
        let mut enc = VideoEncoder::new(config(W, H)).unwrap();
        let mut dec = VideoDecoder::new().unwrap();
        let mut out = Vec::new();
        for t in 0..12 {
            let force = t == 5;
            if t == 9 {
                enc.request_keyframe();
            }
            let info = enc.encode(&marker_frame(W, H, t), force, &mut out).unwrap();
            let want_key = t == 0 || t == 5 || t == 9;
            assert_eq!(info.keyframe, want_key, "frame {t}");
            let types = nal_types(&out);
            if want_key {
                for ty in [NAL_SPS, NAL_PPS, NAL_IDR] {
                    assert!(types.contains(&ty), "frame {t} types {types:?}");
                }
                // A fresh decoder can start at any keyframe.
                let mut fresh = VideoDecoder::new().unwrap();
                assert!(fresh.decode(&out).unwrap().is_some());
            } else {
                assert!(!types.contains(&NAL_IDR));
            }
            assert!(dec.decode(&out).unwrap().is_some());
        }
    }

    #[test]
    fn size_limited_slices_keep_every_nal_under_the_limit() {
        // A noisy 640x360 keyframe is tens of kilobytes: one slice would need FU-A.
        let mut cfg = config(640, 360);
        cfg.bitrate_bps = 2_000_000;
        cfg.max_nal_bytes = Some(1200);
        let mut enc = VideoEncoder::new(cfg).unwrap();
        let mut dec = VideoDecoder::new().unwrap();
        let mut rng = Rng(7);
        let mut out = Vec::new();
        let (mut slices, mut large) = (0, 0);
        for t in 0..5 {
            let mut frame = marker_frame(640, 360, t);
            frame
                .y
                .iter_mut()
                .for_each(|p| *p = (rng.next() % 256) as u8);
            let info = enc.encode(&frame, true, &mut out).unwrap();
            if info.bytes == 0 {
                continue; // rate control skipped it
            }
            large += usize::from(info.bytes > 5_000);
            let nals = nal_units(&out);
            assert!(
                nals.iter().all(|n| n.len() <= 1200),
                "frame {t}: {:?}",
                nals.iter().map(|n| n.len()).collect::<Vec<_>>()
            );
            slices += nals.iter().filter(|n| matches!(n[0] & 0x1f, 1 | 5)).count();
            assert!(dec.decode(&out).unwrap().is_some(), "frame {t} decodes");
        }
        assert!(large >= 2, "frames large enough to need slicing: {large}");
        assert!(
            slices > large * 4,
            "pictures were split into slices: {slices}"
        );
    }

    #[test]
    fn periodic_keyframes() {
        let mut cfg = config(320, 180);
        cfg.max_keyframe_interval = Some(10);
        let mut enc = VideoEncoder::new(cfg).unwrap();
        let mut out = Vec::new();
        let keys: Vec<u32> = (0..30)
            .filter(|&t| {
                enc.encode(&marker_frame(320, 180, t), false, &mut out)
                    .unwrap()
                    .keyframe
            })
            .collect();
        assert_eq!(keys, vec![0, 10, 20]);
    }

    #[test]
    fn mismatched_or_malformed_frames_are_errors() {
        let mut enc = VideoEncoder::new(config(W, H)).unwrap();
        let mut out = vec![1, 2, 3];
        let err = enc
            .encode(&I420Frame::new_filled(320, 180, BG), false, &mut out)
            .unwrap_err();
        assert!(matches!(
            err,
            VideoCodecError::FrameSizeMismatch {
                width: 320,
                height: 180,
                ..
            }
        ));
        assert!(out.is_empty());

        let mut short = I420Frame::new_filled(W, H, BG);
        short.y.to_mut().pop();
        assert!(matches!(
            enc.encode(&short, false, &mut out),
            Err(VideoCodecError::InvalidFrame(_))
        ));
        let mut short_v = I420Frame::new_filled(W, H, BG);
        short_v.v.to_mut().truncate(10);
        assert!(matches!(
            enc.encode(&short_v, false, &mut out),
            Err(VideoCodecError::InvalidFrame(_))
        ));

        // The encoder still works afterwards, starting with a keyframe.
        let info = enc.encode(&marker_frame(W, H, 0), false, &mut out).unwrap();
        assert!(info.keyframe);
    }

    #[test]
    fn extreme_but_valid_frame_rates_do_not_panic() {
        for fps in [1e-6, 0.5, 240.0] {
            let mut enc = VideoEncoder::new(EncoderConfig {
                fps,
                ..config(64, 48)
            })
            .unwrap();
            let mut out = Vec::new();
            for t in 0..3 {
                enc.encode(&marker_frame(64, 48, t), false, &mut out)
                    .unwrap();
            }
        }
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let ok = config(W, H);
        let bad = [
            EncoderConfig { width: 0, ..ok },
            EncoderConfig { width: 641, ..ok },
            EncoderConfig { height: 361, ..ok },
            EncoderConfig {
                width: 4096,
                height: 2160,
                ..ok
            },
            EncoderConfig {
                width: 2400,
                height: 2400,
                ..ok
            },
            EncoderConfig { fps: 0.0, ..ok },
            EncoderConfig {
                fps: f32::NAN,
                ..ok
            },
            EncoderConfig {
                bitrate_bps: 0,
                ..ok
            },
            EncoderConfig {
                bitrate_bps: u32::MAX,
                ..ok
            },
            EncoderConfig {
                max_keyframe_interval: Some(0),
                ..ok
            },
            EncoderConfig {
                max_nal_bytes: Some(MIN_NAL_BYTES - 1),
                ..ok
            },
        ];
        for cfg in bad {
            assert!(
                matches!(
                    VideoEncoder::new(cfg),
                    Err(VideoCodecError::InvalidConfig(_))
                ),
                "{cfg:?}"
            );
        }
        assert!(VideoEncoder::new(EncoderConfig {
            width: 2160,
            height: 3840,
            ..ok
        })
        .is_ok());
    }

    #[test]
    fn decoder_survives_garbage_and_recovers() {
        survives_garbage_and_recovers(DecoderBackend::Libavcodec);
        survives_garbage_and_recovers(DecoderBackend::Openh264);
    }

    fn survives_garbage_and_recovers(backend: DecoderBackend) {
        let seq = encode_sequence(W, H, 6);
        let key = &seq[0].1;
        let mut dec = VideoDecoder::with_backend(backend).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut frame = I420Frame::default();
        let mut errors = 0;

        // Pure random bytes, random bytes behind a start code + plausible
        // NAL header, and random bytes after valid parameter sets.
        let sps_pps_len = key
            .windows(5)
            .position(|w| w[..4] == [0, 0, 0, 1] && w[4] & 0x1f == NAL_IDR)
            .unwrap();
        for i in 0..3000 {
            let len = (rng.next() % 3000) as usize;
            let mut data = match i % 3 {
                0 => Vec::new(),
                1 => vec![0, 0, 0, 1, [0x65, 0x41, 0x67, 0x68][i % 4]],
                _ => key[..sps_pps_len].to_vec(),
            };
            data.extend(rng.bytes(len));
            if let Err(e) = dec.decode_into(&data, &mut frame) {
                assert!(e.needs_keyframe());
                errors += 1;
            }
        }
        assert!(errors > 0);

        // Truncated and bit-flipped real frames.
        for cut in (1..key.len()).step_by(97) {
            let _ = dec.decode(&key[..cut]);
            let _ = dec.decode(&seq[1].1[..cut.min(seq[1].1.len())]);
        }
        for _ in 0..200 {
            let mut damaged = key.clone();
            for _ in 0..8 {
                let pos = (rng.next() as usize) % damaged.len();
                damaged[pos] ^= 1 << (rng.next() % 8);
            }
            let _ = dec.decode(&damaged);
        }

        // Damaged P-frames on top of a good reference.
        for _ in 0..100 {
            let _ = dec.decode(key);
            for (_, p) in &seq[1..] {
                let mut damaged = p.clone();
                let pos = 5 + (rng.next() as usize) % (damaged.len() - 5);
                damaged[pos] ^= 1 << (rng.next() % 8);
                let _ = dec.decode(&damaged);
            }
        }

        // A clean keyframe brings the decoder back.
        let mut recovered = false;
        for (_, bytes) in &seq {
            if let Ok(Some(f)) = dec.decode(bytes) {
                assert_eq!((f.frame.width, f.frame.height), (W, H));
                assert_close(centre(&f.frame), BG, 12);
                recovered = true;
            }
        }
        assert!(recovered);
    }

    #[test]
    fn missing_parameter_sets_or_reference_is_an_error() {
        let seq = encode_sequence(W, H, 4);
        for backend in [DecoderBackend::Libavcodec, DecoderBackend::Openh264] {
            // P-frame into a fresh decoder: no SPS/PPS, no reference.
            let mut dec = VideoDecoder::with_backend(backend).unwrap();
            assert_eq!(dec.backend(), backend);
            let r = dec.decode(&seq[1].1);
            assert!(
                matches!(r, Err(ref e) if e.needs_keyframe()),
                "{backend:?}: {r:?}"
            );
            // The keyframe decodes, and so do the frames after it.
            assert!(dec.decode(&seq[0].1).unwrap().is_some(), "{backend:?}");
            assert!(dec.decode(&seq[1].1).unwrap().is_some(), "{backend:?}");
            // Empty input is simply "no picture".
            assert!(dec.decode(&[]).unwrap().is_none());
        }
        // A lost P-frame: OpenH264 sees the gap in frame_num and refuses frames until an IDR.
        // libavcodec fills the gap in, so the inbound pipeline skips the frames after a loss
        // itself, whatever the decoder (pipeline_tests).
        let mut dec = VideoDecoder::with_backend(DecoderBackend::Openh264).unwrap();
        assert!(dec.decode(&seq[0].1).unwrap().is_some());
        let r = dec.decode(&seq[2].1);
        assert!(r.is_err(), "gap in frame_num must be reported");
        assert!(
            dec.decode(&seq[3].1).is_err(),
            "and so is every frame until an IDR"
        );
    }

    #[test]
    fn a_damaged_picture_stops_decoding_until_the_next_keyframe() {
        let seq = encode_sequence(W, H, 4);
        let mut key_again = VideoEncoder::new(config(W, H)).unwrap();
        let mut idr = Vec::new();
        assert!(
            key_again
                .encode(&marker_frame(W, H, 0), true, &mut idr)
                .unwrap()
                .keyframe
        );
        let mut dec = VideoDecoder::with_backend(DecoderBackend::Libavcodec).unwrap();
        assert!(dec.decode(&seq[0].1).unwrap().is_some());
        // The slice of frame 1 cut short: libavcodec conceals the rest, which is refused.
        let cut = &seq[1].1[..seq[1].1.len() / 3];
        let r = dec.decode(cut);
        assert!(matches!(r, Err(ref e) if e.needs_keyframe()), "{r:?}");
        // Frame 2 is intact but references the damaged picture.
        let r = dec.decode(&seq[2].1);
        assert!(matches!(r, Err(ref e) if e.needs_keyframe()), "{r:?}");
        // An IDR brings the picture back.
        let f = dec.decode(&idr).unwrap().expect("the IDR decodes");
        assert_close(centre(&f.frame), BG, 12);
    }

    #[test]
    fn decoder_follows_resolution_change() {
        let small = encode_sequence(320, 180, 3);
        let big = encode_sequence(W, H, 3);
        let mut dec = VideoDecoder::new().unwrap();
        let mut frame = I420Frame::default();
        for (_, bytes) in &small {
            assert!(dec.decode_into(bytes, &mut frame).unwrap());
            assert_eq!((frame.width, frame.height), (320, 180));
        }
        for (_, bytes) in &big {
            assert!(dec.decode_into(bytes, &mut frame).unwrap());
            assert_eq!((frame.width, frame.height), (W, H));
            assert_eq!(frame.y.len(), (W * H) as usize);
            assert_close(centre(&frame), BG, 12);
        }
        for (_, bytes) in &small {
            assert!(dec.decode_into(bytes, &mut frame).unwrap());
            assert_eq!((frame.width, frame.height), (320, 180));
            assert_eq!(frame.u.len(), 160 * 90);
        }
    }

    #[test]
    fn libavcodec_pictures_are_shared_not_copied_and_outlive_their_decoder() {
        let seq = encode_sequence(W, H, 3);
        let mut dec = VideoDecoder::with_backend(DecoderBackend::Libavcodec).unwrap();
        let mut first = I420Frame::default();
        assert!(dec.decode_into(&seq[0].1, &mut first).unwrap());
        // 640 and 320 wide planes are packed in libav's buffers: handed on by reference.
        assert!(first.y.is_shared() && first.u.is_shared() && first.v.is_shared());
        first.validate().unwrap();
        let pixels = first.clone();
        // Later pictures and the decoder's end leave the first picture's bytes alone.
        let mut later = I420Frame::default();
        for (_, bytes) in &seq[1..] {
            assert!(dec.decode_into(bytes, &mut later).unwrap());
        }
        drop(dec);
        assert_ne!(later.y, first.y, "the marker moved");
        assert_eq!(first, pixels);
        assert_close(centre(&first), BG, 12);
        // Painting on a shared picture paints on a copy.
        let mut painted = first.clone();
        painted.fill_rect(painted.bounds(), (16, 128, 128));
        assert!(!painted.y.is_shared() && first.y.is_shared());
        assert_eq!(painted.pixel_yuv(5, 5), Some((16, 128, 128)));
        assert_eq!(first, pixels);
        // OpenH264's pictures are copied into the frame's own planes.
        let mut dec = VideoDecoder::with_backend(DecoderBackend::Openh264).unwrap();
        let mut copied = I420Frame::default();
        assert!(dec.decode_into(&seq[0].1, &mut copied).unwrap());
        assert!(!copied.y.is_shared());
    }

    #[test]
    fn bitrate_is_roughly_respected() {
        // 2 s of 360p at 500 kbps with a moving marker; allow wide slack.
        let mut cfg = config(W, H);
        cfg.bitrate_bps = 500_000;
        let mut enc = VideoEncoder::new(cfg).unwrap();
        let mut out = Vec::new();
        let mut bits = 0usize;
        for t in 0..60 {
            bits += 8 * enc
                .encode(&marker_frame(W, H, t), false, &mut out)
                .unwrap()
                .bytes;
        }
        let bps = bits / 2;
        eprintln!("measured {bps} bps for 500000 target");
        assert!(bps < 1_000_000, "{bps} bps");
    }

    #[test]
    fn codec_types_are_send() {
        fn assert_send<T: Send>() {}
        assert_send::<VideoEncoder>();
        assert_send::<VideoDecoder>();
        assert_send::<VideoCodecError>();
    }
}
