//! A synthetic camera picture for load generation and benchmarks: a slowly panning diagonal
//! gradient with a moving textured square. Unlike a solid colour it gives the encoder real
//! motion to search and the decoder real residuals, so per-frame costs resemble a camera's.

use super::frame::I420Frame;

/// Side of the moving square in pixels.
const MARKER: usize = 48;
/// Horizontal pan of the gradient per frame, in pixels.
const PAN_PER_FRAME: usize = 2;

/// Renders frame number `t` of the pattern at `width`×`height` (even sizes, at least 64x64).
pub fn pattern_frame(width: u32, height: u32, t: u32) -> I420Frame {
    let (w, h) = (width as usize, height as usize);
    let mut frame = I420Frame::new_filled(width, height, (0, 0, 0));
    let pan = t as usize * PAN_PER_FRAME;
    for y in 0..h {
        let row = &mut frame.y[y * w..(y + 1) * w];
        for (x, px) in row.iter_mut().enumerate() {
            *px = (16 + ((x + pan) % w + y) * 200 / (w + h)) as u8;
        }
    }
    let (cw, ch) = (
        frame.chroma_width() as usize,
        frame.chroma_height() as usize,
    );
    for y in 0..ch {
        for x in 0..cw {
            frame.u[y * cw + x] = (64 + ((x + pan / 2) % cw) * 128 / cw) as u8;
            frame.v[y * cw + x] = (64 + y * 128 / ch) as u8;
        }
    }
    if w > MARKER && h > MARKER {
        let x0 = (t as usize * 12) % (w - MARKER);
        let y0 = (t as usize * 7) % (h - MARKER);
        for y in y0..y0 + MARKER {
            for x in x0..x0 + MARKER {
                frame.y[y * w + x] = 235 - ((x + y) % 32) as u8;
            }
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_differ_and_have_the_requested_size() {
        let a = pattern_frame(320, 180, 0);
        let b = pattern_frame(320, 180, 1);
        assert_eq!((a.width, a.height), (320, 180));
        assert!(a.validate().is_ok());
        assert_ne!(a.y, b.y);
        // Tiny sizes do not panic (no marker).
        let tiny = pattern_frame(32, 32, 5);
        assert_eq!(tiny.y.len(), 32 * 32);
    }
}
