//! H.264 decoding with libavcodec (the system FFmpeg's `h264` decoder), the backend the server
//! decodes its members' video with: on the load generator's 720p stream it needs 2–2.5x less
//! CPU than OpenH264 (docs/PERFORMANCE.md), and decoding is most of a video room's work.
//!
//! The decoder is single-threaded (the codec pool spreads members over the cores), low-delay
//! (a picture comes out of the access unit that completes it, never held for reordering), and
//! strict like OpenH264 without concealment: a picture libavcodec had to conceal or could not
//! fully reference is refused, not shown, and so is every picture after it (and before the
//! first) until an IDR arrives, each refusal an error that makes the caller ask for one.
//!
//! A picture whose rows are packed is handed on by reference ([`Plane`] shares libav's
//! buffer), not copied. All `unsafe` FFI of the crate's video path lives here (and the slice
//! over shared bytes in `plane.rs`); the rest sees [`LibavDecoder`] and [`I420Frame`].

use std::ptr;
use std::sync::{Arc, Once};

use ffmpeg_sys_next as ff;

use super::codec::{store_picture, StridedPlane, VideoCodecError};
use super::frame::I420Frame;
use super::plane::{Plane, PlaneOwner};
use crate::rtp::h264::nal::{is_keyframe_access_unit, split_annex_b};

/// Picture flags that mean the decoder could not produce the picture the sender encoded.
const DAMAGE_FLAGS: i32 = ff::FF_DECODE_ERROR_INVALID_BITSTREAM
    | ff::FF_DECODE_ERROR_MISSING_REFERENCE
    | ff::FF_DECODE_ERROR_CONCEALMENT_ACTIVE
    | ff::FF_DECODE_ERROR_DECODE_SLICES;

/// One libavcodec H.264 decoder with its packet and picture.
pub struct LibavDecoder {
    context: *mut ff::AVCodecContext,
    packet: *mut ff::AVPacket,
    picture: *mut ff::AVFrame,
    /// The access unit followed by the zeroed padding libavcodec's bit readers may overread.
    padded: Vec<u8>,
    /// No clean picture since the start or the last damage: only an IDR is decoded.
    awaiting_keyframe: bool,
}

// SAFETY: the context, packet and picture are owned by this value alone and used only
// through `&mut self`; libavcodec decoders may move between threads between calls.
unsafe impl Send for LibavDecoder {}

/// libavcodec writes its complaints about damaged input to stderr; the decoder reports them
/// as errors instead (a sender could otherwise fill the server's log).
fn quiet_libav_logging() {
    static QUIET: Once = Once::new();
    // SAFETY: sets a global integer; no other state is touched.
    QUIET.call_once(|| unsafe { ff::av_log_set_level(ff::AV_LOG_QUIET) });
}

fn init_error(what: &str) -> VideoCodecError {
    VideoCodecError::DecoderInit(format!("libavcodec: {what}"))
}

fn decode_error(code: i32, detail: &str) -> VideoCodecError {
    VideoCodecError::Decode {
        state: i64::from(code),
        detail: format!("libavcodec: {detail}"),
    }
}

impl LibavDecoder {
    /// Opens an H.264 decoder.
    pub fn new() -> Result<Self, VideoCodecError> {
        quiet_libav_logging();
        // SAFETY: plain constructor calls; every pointer is checked before use and owned by
        // the returned value (freed in `Drop`, also when a later step fails).
        unsafe {
            let codec = ff::avcodec_find_decoder(ff::AVCodecID::AV_CODEC_ID_H264);
            if codec.is_null() {
                return Err(init_error("this FFmpeg has no H.264 decoder"));
            }
            let decoder = Self {
                context: ff::avcodec_alloc_context3(codec),
                packet: ff::av_packet_alloc(),
                picture: ff::av_frame_alloc(),
                padded: Vec::new(),
                awaiting_keyframe: true,
            };
            if decoder.context.is_null() || decoder.packet.is_null() || decoder.picture.is_null() {
                return Err(init_error("out of memory"));
            }
            let context = &mut *decoder.context;
            context.thread_count = 1;
            context.flags |= ff::AV_CODEC_FLAG_LOW_DELAY as i32;
            context.flags &= !(ff::AV_CODEC_FLAG_OUTPUT_CORRUPT as i32);
            context.err_recognition |= ff::AV_EF_BITSTREAM | ff::AV_EF_BUFFER;
            let opened = ff::avcodec_open2(decoder.context, codec, ptr::null_mut());
            if opened < 0 {
                return Err(init_error(&format!("cannot open the decoder ({opened})")));
            }
            Ok(decoder)
        }
    }

    /// Decodes one Annex-B access unit into `dst` (reusing its planes). `Ok(true)` when a
    /// picture was written, `Ok(false)` when the unit completed none (parameter sets alone;
    /// `dst` untouched). An error means the stream is damaged: ask for a keyframe.
    pub fn decode_into(
        &mut self,
        annex_b: &[u8],
        dst: &mut I420Frame,
    ) -> Result<bool, VideoCodecError> {
        let Ok(len) = i32::try_from(annex_b.len()) else {
            return Err(VideoCodecError::InputTooLarge { len: annex_b.len() });
        };
        if annex_b.is_empty() {
            return Ok(false);
        }
        // Scanned only while waiting (false otherwise): whether this unit ends the wait.
        let keyframe = self.awaiting_keyframe && is_keyframe_access_unit(split_annex_b(annex_b));
        if self.awaiting_keyframe && !keyframe && has_non_idr_slice(annex_b) {
            return Err(decode_error(0, "waiting for a keyframe"));
        }
        self.padded.clear();
        self.padded.extend_from_slice(annex_b);
        self.padded
            .resize(annex_b.len() + ff::AV_INPUT_BUFFER_PADDING_SIZE as usize, 0);
        // SAFETY: the packet borrows `padded` (not reference-counted, so libavcodec copies
        // what it keeps) only for the duration of the send; it is detached before returning.
        let sent = unsafe {
            (*self.packet).data = self.padded.as_mut_ptr();
            (*self.packet).size = len;
            let sent = ff::avcodec_send_packet(self.context, self.packet);
            (*self.packet).data = ptr::null_mut();
            (*self.packet).size = 0;
            sent
        };
        if sent < 0 && sent != ff::AVERROR(libc::EAGAIN) {
            self.awaiting_keyframe = true;
            return Err(decode_error(sent, "the access unit was refused"));
        }
        // Low delay and one unit per call: at most one picture comes out.
        // SAFETY: `picture` is ours; libavcodec unreferences it before filling it.
        let received = unsafe { ff::avcodec_receive_frame(self.context, self.picture) };
        if received == ff::AVERROR(libc::EAGAIN) {
            return Ok(false);
        }
        if received < 0 {
            self.awaiting_keyframe = true;
            return Err(decode_error(received, "no picture could be decoded"));
        }
        let stored = self.store(dst);
        // SAFETY: drops our reference to the decoder's picture buffers.
        unsafe { ff::av_frame_unref(self.picture) };
        match stored {
            Ok(()) => {
                self.awaiting_keyframe &= !keyframe;
                Ok(true)
            }
            Err(e) => {
                self.awaiting_keyframe = true;
                Err(e)
            }
        }
    }

    /// Puts the received picture in `dst`, refusing damaged or non-4:2:0 pictures: by
    /// reference when its rows are packed (strides equal widths, as libavcodec allocates 720p
    /// and most camera sizes), else as a packed copy.
    fn store(&self, dst: &mut I420Frame) -> Result<(), VideoCodecError> {
        // SAFETY: `picture` holds a decoded frame (just received and not yet unreferenced).
        let picture = unsafe { &*self.picture };
        let damage = picture.decode_error_flags & DAMAGE_FLAGS;
        if damage != 0 || picture.flags & ff::AV_FRAME_FLAG_CORRUPT != 0 {
            return Err(decode_error(
                damage,
                "the picture was concealed or misses references",
            ));
        }
        let (width, height) = (
            usize::try_from(picture.width).unwrap_or(0),
            usize::try_from(picture.height).unwrap_or(0),
        );
        let unsupported = || VideoCodecError::UnsupportedPicture { width, height };
        let yuv420 = [
            ff::AVPixelFormat::AV_PIX_FMT_YUV420P as i32,
            ff::AVPixelFormat::AV_PIX_FMT_YUVJ420P as i32,
        ];
        if !yuv420.contains(&picture.format) || width == 0 || height == 0 {
            return Err(unsupported());
        }
        let chroma_rows = height.div_ceil(2);
        let mut planes = [StridedPlane::EMPTY; 3];
        for (index, plane) in planes.iter_mut().enumerate() {
            let rows = if index == 0 { height } else { chroma_rows };
            let stride = usize::try_from(picture.linesize[index]).map_err(|_| unsupported())?;
            let data = picture.data[index];
            if data.is_null() || stride == 0 {
                return Err(unsupported());
            }
            // SAFETY: libavcodec allocates `rows` rows of `linesize` bytes per plane of a
            // 4:2:0 picture of this size; the buffers stay alive until `av_frame_unref`.
            let bytes = unsafe { std::slice::from_raw_parts(data, stride * rows) };
            *plane = StridedPlane {
                data: bytes,
                stride,
            };
        }
        let packed = width.is_multiple_of(2)
            && height.is_multiple_of(2)
            && planes[0].stride == width
            && planes[1..].iter().all(|p| p.stride == width / 2);
        let dimensions = (u32::try_from(width), u32::try_from(height));
        if let (true, (Ok(w), Ok(h))) = (packed, dimensions) {
            if let Some(shared) = SharedPicture::of(self.picture) {
                shared.store(w, h, planes, dst);
                return Ok(());
            }
        }
        store_picture(width, height, planes, dst)
    }
}

/// A reference to one of libavcodec's decoded pictures (its own `AVFrame` referencing the
/// decoder's buffers), keeping the planes alive and unchanged while a [`Plane`] shows them:
/// libavcodec writes a buffer only when nobody else references it.
struct SharedPicture(*mut ff::AVFrame);

// SAFETY: the frame is only read (and freed once, in `Drop`); libav's buffer references are
// atomic and its buffer pools thread-safe, so the last reference may be dropped on any thread.
unsafe impl Send for SharedPicture {}
// SAFETY: as above: no method mutates through a shared reference.
unsafe impl Sync for SharedPicture {}

impl PlaneOwner for SharedPicture {}

impl SharedPicture {
    /// A new reference to `picture`'s buffers, or `None` if libav cannot make one.
    fn of(picture: *const ff::AVFrame) -> Option<Arc<Self>> {
        // SAFETY: `picture` holds a decoded, reference-counted frame; the clone references
        // the same buffers (no pixel is copied) and is owned by the returned value.
        let clone = unsafe { ff::av_frame_clone(picture) };
        (!clone.is_null()).then(|| Arc::new(Self(clone)))
    }

    /// Points `dst`'s planes at this picture's packed planes.
    fn store(
        self: Arc<Self>,
        width: u32,
        height: u32,
        planes: [StridedPlane<'_>; 3],
        dst: &mut I420Frame,
    ) {
        let [y, u, v] = planes.map(|plane| {
            let owner: Arc<dyn PlaneOwner> = self.clone();
            // SAFETY: the plane's bytes lie in buffers this frame references, which libav
            // neither frees nor rewrites while the reference (kept by `owner`) lives.
            unsafe { Plane::shared(owner, plane.data.as_ptr(), plane.data.len()) }
        });
        *dst = I420Frame {
            width,
            height,
            y,
            u,
            v,
        };
    }
}

impl Drop for SharedPicture {
    fn drop(&mut self) {
        // SAFETY: the frame was made by `av_frame_clone` and is freed exactly once here.
        unsafe { ff::av_frame_free(&mut self.0) };
    }
}

/// Whether an access unit without an IDR holds a coded slice (NAL types 1 to 4), i.e. is not
/// parameter sets or SEI alone. Only scanned while waiting for a keyframe.
fn has_non_idr_slice(annex_b: &[u8]) -> bool {
    split_annex_b(annex_b).any(|nal| nal.first().is_some_and(|h| (1..=4).contains(&(h & 0x1f))))
}

impl Drop for LibavDecoder {
    fn drop(&mut self) {
        // SAFETY: each pointer was allocated by the matching libav call (or is null, which
        // the free functions accept) and is freed exactly once here.
        unsafe {
            ff::avcodec_free_context(&mut self.context);
            ff::av_packet_free(&mut self.packet);
            ff::av_frame_free(&mut self.picture);
        }
    }
}
