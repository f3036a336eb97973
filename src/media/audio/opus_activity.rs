//! Voice activity read from an Opus packet without decoding it (RFC 6716).
//!
//! Decoding every member every 20 ms is the largest cost of a big room, yet most members are
//! silent and a silent member is never mixed. The encoder already decided whether each frame
//! holds speech: SILK and hybrid frames carry a VAD flag as the very first symbol of the range
//! coder (RFC 6716 §4.2.3, one bit with probability ½ per SILK frame), CELT frames may carry
//! the "silence" flag (§4.3, probability 1/32768), and DTX sends frames of at most one byte,
//! which libopus treats as lost. With the range decoder's initial state (§4.1.1) those first
//! symbols reduce to the leading bits of the frame data, so reading them costs a few
//! instructions instead of a decode (≈ 15–25 µs).

/// What the packet says about its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceActivity {
    /// At least one frame is marked as speech.
    Active,
    /// Every frame we can see is marked silent (VAD off, CELT silence, or DTX).
    Inactive,
    /// The packet does not say (CELT without the silence flag, multi-frame code 3, malformed):
    /// decode it.
    Unknown,
}

/// Reads the voice activity of one mono Opus packet.
pub fn opus_voice_activity(packet: &[u8]) -> VoiceActivity {
    let Some((&toc, rest)) = packet.split_first() else {
        return VoiceActivity::Unknown;
    };
    let config = toc >> 3;
    let frame = match toc & 0b11 {
        // One frame, or two frames of equal size: the first starts right after the TOC.
        0 | 1 => rest,
        // Two frames of different sizes: the first one's length comes first (§3.2.1).
        2 => match first_frame_of_code2(rest) {
            Some(frame) => frame,
            None => return VoiceActivity::Unknown,
        },
        _ => return VoiceActivity::Unknown,
    };
    if frame.len() <= 1 {
        // DTX: libopus decodes a frame of zero or one byte as a lost frame (comfort noise).
        return VoiceActivity::Inactive;
    }
    if config < 16 {
        silk_vad(config, frame[0])
    } else {
        celt_silence(frame)
    }
}

/// SILK-only (configs 0–11) and hybrid (12–15): the first bits of the frame are the VAD flags
/// of the mid channel's SILK frames (one per 20 ms; 40 and 60 ms SILK-only frames hold two
/// and three).
fn silk_vad(config: u8, first_byte: u8) -> VoiceActivity {
    let silk_frames = if config < 12 {
        match config % 4 {
            2 => 2, // 40 ms
            3 => 3, // 60 ms
            _ => 1, // 10 or 20 ms
        }
    } else {
        1
    };
    let mask = !(0xFFu8 >> silk_frames);
    if first_byte & mask != 0 {
        VoiceActivity::Active
    } else {
        VoiceActivity::Inactive
    }
}

/// CELT-only (configs 16–31): the first symbol is the silence flag, set when the first 15 bits
/// of the frame are all ones.
fn celt_silence(frame: &[u8]) -> VoiceActivity {
    if frame[0] == 0xFF && frame[1] >> 1 == 0x7F {
        VoiceActivity::Inactive
    } else {
        VoiceActivity::Unknown
    }
}

fn first_frame_of_code2(rest: &[u8]) -> Option<&[u8]> {
    let (&b0, tail) = rest.split_first()?;
    let (len, tail) = if b0 < 252 {
        (usize::from(b0), tail)
    } else {
        let (&b1, tail) = tail.split_first()?;
        (usize::from(b1) * 4 + usize::from(b0), tail)
    };
    tail.get(..len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::audio::codec::{AudioEncoder, EncoderSettings, FRAME_SAMPLES};
    use crate::media::audio::tone::ToneGenerator;
    use crate::sdp::AudioCodec;

    fn encode(frames: &[Vec<i16>]) -> Vec<Vec<u8>> {
        let mut encoder =
            AudioEncoder::new(AudioCodec::Opus, EncoderSettings::default()).expect("encoder");
        frames
            .iter()
            .map(|pcm| {
                let mut out = Vec::new();
                encoder.encode(pcm, &mut out).expect("encode");
                out
            })
            .collect()
    }

    fn tone_frames(count: usize, amplitude: i16) -> Vec<Vec<i16>> {
        let mut tone = ToneGenerator::new(440.0, amplitude, 48_000);
        (0..count)
            .map(|_| {
                let mut pcm = vec![0; FRAME_SAMPLES];
                tone.fill(&mut pcm);
                pcm
            })
            .collect()
    }

    #[test]
    fn real_encoder_marks_digital_silence_inactive() {
        let packets = encode(&vec![vec![0i16; FRAME_SAMPLES]; 50]);
        // After the encoder has settled, every silent frame says so.
        for p in &packets[5..] {
            assert_eq!(opus_voice_activity(p), VoiceActivity::Inactive, "{p:02x?}");
        }
    }

    #[test]
    fn real_encoder_marks_a_tone_active_or_unknown() {
        let packets = encode(&tone_frames(50, 8000));
        for p in &packets {
            assert_ne!(opus_voice_activity(p), VoiceActivity::Inactive, "{p:02x?}");
        }
        // libopus moves a steady tone to CELT after a while (no VAD flag there: Unknown), but
        // the SILK/hybrid frames before that must carry the flag.
        let active = packets
            .iter()
            .filter(|p| opus_voice_activity(p) == VoiceActivity::Active)
            .count();
        assert!(
            active >= 5,
            "only {active} of 50 tone frames flagged active"
        );
    }

    #[test]
    fn silk_flags_follow_the_first_bits() {
        // config 1 (SILK NB 20 ms), code 0.
        assert_eq!(opus_voice_activity(&[0x08, 0x80, 0]), VoiceActivity::Active);
        assert_eq!(
            opus_voice_activity(&[0x08, 0x7F, 0]),
            VoiceActivity::Inactive
        );
        // config 3 (SILK NB 60 ms): three flags.
        assert_eq!(opus_voice_activity(&[0x18, 0x20, 0]), VoiceActivity::Active);
        assert_eq!(
            opus_voice_activity(&[0x18, 0x1F, 0]),
            VoiceActivity::Inactive
        );
        // config 13 (hybrid SWB 20 ms).
        assert_eq!(
            opus_voice_activity(&[13 << 3, 0xC0, 1]),
            VoiceActivity::Active
        );
    }

    #[test]
    fn celt_silence_dtx_and_odd_packets() {
        // config 31 (CELT FB 20 ms).
        assert_eq!(
            opus_voice_activity(&[0xF8, 0xFF, 0xFE]),
            VoiceActivity::Inactive
        );
        assert_eq!(
            opus_voice_activity(&[0xF8, 0x12, 0x34]),
            VoiceActivity::Unknown
        );
        // TOC only or one byte of data: DTX.
        assert_eq!(opus_voice_activity(&[0xF8]), VoiceActivity::Inactive);
        assert_eq!(opus_voice_activity(&[0x08, 0x80]), VoiceActivity::Inactive);
        assert_eq!(opus_voice_activity(&[]), VoiceActivity::Unknown);
        // code 3 is not inspected; code 2 with a truncated length is malformed.
        assert_eq!(
            opus_voice_activity(&[0x0B, 0x02, 0, 0]),
            VoiceActivity::Unknown
        );
        assert_eq!(opus_voice_activity(&[0x0A, 0xFD]), VoiceActivity::Unknown);
        // code 2: first frame of 2 bytes with VAD set.
        assert_eq!(
            opus_voice_activity(&[0x0A, 2, 0x80, 0, 0x00]),
            VoiceActivity::Active
        );
    }
}
