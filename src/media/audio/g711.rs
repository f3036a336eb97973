//! ITU-T G.711 companding: μ-law (PCMU, RTP payload type 0) and A-law
//! (PCMA, RTP payload type 8), as used by narrowband SIP members (RFC 3551 §4.5.14).
//!
//! Encoding follows the ITU-T G.191 reference implementation (`g711.c`): the
//! 16-bit input is truncated to 14 bits (μ-law) or 13 bits (A-law), negative
//! values use one's complement, and out-of-range magnitudes saturate to the
//! largest code. Decoding goes through 256-entry tables built at compile time,
//! so every decoded value sits at the midpoint of its quantisation interval and
//! `encode(decode(code))` gives `code` back (μ-law negative zero `0x7F` excepted,
//! which encodes as positive zero `0xFF`).

/// μ-law encoder bias (33 in the 14-bit domain), G.191 `ulaw_compress`.
const ULAW_BIAS: i32 = 33;
/// Largest biased 14-bit μ-law magnitude; larger inputs saturate.
const ULAW_MAX_BIASED: i32 = 0x1FFF;

/// Decoded value of every μ-law code.
const ULAW_DECODE_TABLE: [i16; 256] = build_ulaw_decode_table();
/// Decoded value of every A-law code.
const ALAW_DECODE_TABLE: [i16; 256] = build_alaw_decode_table();

const fn ulaw_expand(code: u8) -> i16 {
    // G.191 `ulaw_expand`: codes are transmitted inverted.
    let inverted = !code;
    let exponent = ((inverted >> 4) & 0x07) as i32;
    let mantissa = (inverted & 0x0F) as i32;
    let step = 8 << exponent;
    let magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * ULAW_BIAS;
    let value = if code < 0x80 { -magnitude } else { magnitude };
    value as i16
}

const fn alaw_expand(code: u8) -> i16 {
    // G.191 `alaw_expand`: even bits are inverted on the line.
    let bits = (code ^ 0x55) & 0x7F;
    let exponent = (bits >> 4) as i32;
    let mut mantissa = (bits & 0x0F) as i32;
    if exponent > 0 {
        mantissa += 16;
    }
    let mut magnitude = (mantissa << 4) + 8;
    if exponent > 1 {
        magnitude <<= exponent - 1;
    }
    let value = if code > 0x7F { magnitude } else { -magnitude };
    value as i16
}

const fn build_ulaw_decode_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_expand(code as u8);
        code += 1;
    }
    table
}

const fn build_alaw_decode_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_expand(code as u8);
        code += 1;
    }
    table
}

/// One's-complement magnitude of `sample` as G.191 computes it (never overflows).
fn ones_complement_magnitude(sample: i16) -> i32 {
    let sample = i32::from(sample);
    if sample < 0 {
        !sample
    } else {
        sample
    }
}

/// Encodes one 16-bit linear sample as a G.711 μ-law code.
pub fn ulaw_encode(sample: i16) -> u8 {
    let biased = ((ones_complement_magnitude(sample) >> 2) + ULAW_BIAS).min(ULAW_MAX_BIASED);
    // Segment 1..=8: one more than the position of the highest set bit above bit 5.
    let segment = (u32::BITS - ((biased >> 6) as u32).leading_zeros()) as i32 + 1;
    let high_nibble = 8 - segment;
    let low_nibble = 0x0F - ((biased >> segment) & 0x0F);
    let code = ((high_nibble << 4) | low_nibble) as u8;
    if sample >= 0 {
        code | 0x80
    } else {
        code
    }
}

/// Decodes one G.711 μ-law code to a 16-bit linear sample.
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE_TABLE[usize::from(code)]
}

/// Encodes one 16-bit linear sample as a G.711 A-law code.
pub fn alaw_encode(sample: i16) -> u8 {
    let mut bits = ones_complement_magnitude(sample) >> 4;
    if bits > 15 {
        let mut exponent = 1;
        while bits > 16 + 15 {
            bits >>= 1;
            exponent += 1;
        }
        bits = bits - 16 + (exponent << 4);
    }
    let code = bits as u8;
    let signed = if sample >= 0 { code | 0x80 } else { code };
    signed ^ 0x55
}

/// Decodes one G.711 A-law code to a 16-bit linear sample.
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE_TABLE[usize::from(code)]
}

/// Appends the μ-law encoding of `samples` to `out` (no reallocation if `out` has room).
pub fn encode_ulaw(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&sample| ulaw_encode(sample)));
}

/// Appends the linear decoding of μ-law `codes` to `out` (no reallocation if `out` has room).
pub fn decode_ulaw(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&code| ulaw_decode(code)));
}

/// Appends the A-law encoding of `samples` to `out` (no reallocation if `out` has room).
pub fn encode_alaw(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&sample| alaw_encode(sample)));
}

/// Appends the linear decoding of A-law `codes` to `out` (no reallocation if `out` has room).
pub fn decode_alaw(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&code| alaw_decode(code)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Half the width of the μ-law quantisation interval that decodes to `value`.
    fn ulaw_half_step(value: i16) -> i32 {
        let exponent = (!ulaw_encode(value) >> 4) & 0x07;
        4 << exponent
    }

    /// Half the width of the A-law quantisation interval that decodes to `value`.
    fn alaw_half_step(value: i16) -> i32 {
        let exponent = ((alaw_encode(value) ^ 0x55) & 0x7F) >> 4;
        8 << exponent.saturating_sub(1)
    }

    fn all_samples_in_steps() -> impl Iterator<Item = i16> {
        (i16::MIN..=i16::MAX).step_by(7).chain([i16::MAX, -1, 0, 1])
    }

    #[test]
    fn ulaw_round_trip_is_within_quantisation_error() {
        let max = i32::from(ulaw_decode(0x80));
        for sample in all_samples_in_steps() {
            let decoded = i32::from(ulaw_decode(ulaw_encode(sample)));
            let sample = i32::from(sample);
            if sample.abs() > max {
                assert_eq!(decoded, max * sample.signum(), "saturation of {sample}");
            } else {
                let error = (sample - decoded).abs();
                let allowed = ulaw_half_step(decoded as i16);
                assert!(error <= allowed, "{sample} -> {decoded}, error {error}");
            }
        }
    }

    #[test]
    fn alaw_round_trip_is_within_quantisation_error() {
        for sample in all_samples_in_steps() {
            let decoded = i32::from(alaw_decode(alaw_encode(sample)));
            let error = (i32::from(sample) - decoded).abs();
            let allowed = alaw_half_step(decoded as i16);
            assert!(error <= allowed, "{sample} -> {decoded}, error {error}");
        }
    }

    #[test]
    fn known_vectors() {
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_encode(8), 0xD5);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_encode(-8), 0x55);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn decoded_values_are_fixed_points() {
        for code in 0..=u8::MAX {
            let expected_ulaw = if code == 0x7F { 0xFF } else { code };
            assert_eq!(
                ulaw_encode(ulaw_decode(code)),
                expected_ulaw,
                "μ-law {code:#04x}"
            );
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        }
    }

    #[test]
    fn slice_forms_append_without_reallocating() {
        let samples: Vec<i16> = (0..160).map(|i| (i * 409 - 32_000) as i16).collect();
        let mut codes = Vec::with_capacity(1 + 2 * samples.len());
        codes.push(0xAB);
        let capacity = codes.capacity();
        encode_ulaw(&samples, &mut codes);
        encode_alaw(&samples, &mut codes);
        assert_eq!(codes.capacity(), capacity);
        assert_eq!(codes.len(), 1 + 2 * samples.len());
        assert_eq!(codes[0], 0xAB);
        assert_eq!(codes[1], ulaw_encode(samples[0]));

        let mut decoded = Vec::with_capacity(2 * samples.len());
        decode_ulaw(&codes[1..=samples.len()], &mut decoded);
        decode_alaw(&codes[1 + samples.len()..], &mut decoded);
        assert_eq!(decoded.capacity(), 2 * samples.len());
        for (i, &sample) in samples.iter().enumerate() {
            assert_eq!(decoded[i], ulaw_decode(ulaw_encode(sample)));
            assert_eq!(decoded[samples.len() + i], alaw_decode(alaw_encode(sample)));
        }
    }
}
