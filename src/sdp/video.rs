//! H.264 video in SDP: the payload format parameters Tessera negotiates.
//!
//! - `H264/90000` rtpmap and the `a=fmtp` parameters of
//!   [RFC 6184 §8.1](https://www.rfc-editor.org/rfc/rfc6184#section-8.1):
//!   `profile-level-id`, `packetization-mode`, `level-asymmetry-allowed`,
//!   `max-fs`, `max-mbps` (others, such as `sprop-parameter-sets`, are
//!   ignored);
//! - which profiles Tessera accepts: those a Constrained Baseline encoder and
//!   decoder can serve (RFC 6184 §8.1 Table 5), in packetization mode 1
//!   (preferred) or 0 (RFC 6184 §6.2, §6.3);
//! - the level rules of
//!   [RFC 6184 §8.2.2](https://www.rfc-editor.org/rfc/rfc6184#section-8.2.2):
//!   the profile part is symmetric, the level part may differ, and without
//!   `level-asymmetry-allowed=1` on both sides the lower level applies.
//!
//! RTCP feedback (`a=rtcp-fb`) lives in [`super::feedback`].

use std::fmt;

use super::attributes::{fmtp_parameter, parse_payload_type};
use super::format_index::FormatIndex;
use super::session::MediaDescription;

/// Encoding name in `a=rtpmap` (RFC 6184 §8.1; matched case-insensitively).
pub const H264_ENCODING_NAME: &str = "H264";
/// RTP clock rate of H.264 (RFC 6184 §8.1).
pub const H264_CLOCK_RATE: u32 = 90_000;
/// Payload type Tessera offers H.264 at in packetization mode 1.
pub const H264_MODE1_PAYLOAD_TYPE: u8 = 96;
/// Payload type Tessera offers H.264 at in packetization mode 0.
pub const H264_MODE0_PAYLOAD_TYPE: u8 = 97;

/// Longest excerpt of an offending value kept in an error.
const MAX_EXCERPT_CHARS: usize = 40;

/// Why an H.264 fmtp cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum H264ParamsError {
    /// A known parameter with a value outside its RFC 6184 §8.1 grammar.
    #[error("invalid H.264 fmtp parameter {name}={value:?}")]
    InvalidParameter {
        /// The parameter name, e.g. `profile-level-id`.
        name: &'static str,
        /// The start of the offending value.
        value: String,
    },
}

/// `profile-level-id`: the three bytes `profile_idc`, `profile-iop` (the
/// constraint_set flags) and `level_idc` of an H.264 sequence parameter set,
/// written as 6 hex digits (RFC 6184 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileLevelId {
    /// `profile_idc`: 0x42 Baseline, 0x4d Main, 0x58 Extended, 0x64 High...
    pub profile_idc: u8,
    /// `profile-iop`: constraint_set0_flag is 0x80, constraint_set1 0x40,
    /// constraint_set2 0x20, constraint_set3 0x10...
    pub profile_iop: u8,
    /// `level_idc`: ten times the level number, e.g. 31 (0x1f) for 3.1.
    pub level_idc: u8,
}

/// constraint_set0_flag: the stream obeys the Baseline profile.
const CONSTRAINT_SET0: u8 = 0x80;
/// constraint_set3_flag: with level_idc 11 in Baseline, Main or Extended,
/// level 1b.
const CONSTRAINT_SET3: u8 = 0x10;
/// profile_idc values whose constraint_set3_flag marks level 1b.
const PROFILES_WITH_LEVEL_1B_FLAG: [u8; 3] = [0x42, 0x4d, 0x58];

impl ProfileLevelId {
    /// `42e01f`: Constrained Baseline, level 3.1; what Tessera offers.
    pub const CONSTRAINED_BASELINE_3_1: ProfileLevelId = ProfileLevelId {
        profile_idc: 0x42,
        profile_iop: 0xe0,
        level_idc: 0x1f,
    };
    /// `420010`: Baseline, level 1, the value implied when the parameter is
    /// absent (RFC 6184 §8.1).
    pub const DEFAULT: ProfileLevelId = ProfileLevelId {
        profile_idc: 0x42,
        profile_iop: 0x00,
        level_idc: 0x10,
    };

    /// Parses exactly 6 hex digits, in either case.
    pub fn parse(text: &str) -> Option<ProfileLevelId> {
        let text = text.trim();
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |at: usize| {
            text.get(at..at + 2)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        };
        Some(ProfileLevelId {
            profile_idc: byte(0)?,
            profile_iop: byte(2)?,
            level_idc: byte(4)?,
        })
    }

    /// Whether a Constrained Baseline endpoint can take part: the described
    /// format is Baseline or Constrained Baseline (RFC 6184 §8.1 Table 5):
    /// profile_idc 0x42 with any flags, or Main (0x4d) or Extended (0x58)
    /// with constraint_set0_flag. A Baseline decoder decodes our Constrained
    /// Baseline stream; Main and High proper are refused.
    pub fn is_constrained_baseline_compatible(self) -> bool {
        match self.profile_idc {
            0x42 => true,
            0x4d | 0x58 => self.profile_iop & CONSTRAINT_SET0 != 0,
            _ => false,
        }
    }

    /// Whether this is level 1b (H.264 Table A-1), which sorts between
    /// levels 1 and 1.1.
    pub fn is_level_1b(self) -> bool {
        self.level_idc == 9
            || (self.level_idc == 11
                && self.profile_iop & CONSTRAINT_SET3 != 0
                && PROFILES_WITH_LEVEL_1B_FLAG.contains(&self.profile_idc))
    }

    /// A number that orders levels (1 < 1b < 1.1 < ... < 5.2).
    fn level_rank(self) -> u16 {
        if self.is_level_1b() {
            21
        } else {
            u16::from(self.level_idc) * 2
        }
    }

    /// The same profile at `level`'s level (its level_idc and, where it
    /// means level 1b, constraint_set3_flag).
    pub fn with_level_of(self, level: ProfileLevelId) -> ProfileLevelId {
        let flags_1b = PROFILES_WITH_LEVEL_1B_FLAG.contains(&self.profile_idc);
        let mut profile_iop = self.profile_iop;
        if flags_1b {
            profile_iop &= !CONSTRAINT_SET3;
        }
        let level_idc = match (level.is_level_1b(), flags_1b) {
            (true, true) => {
                profile_iop |= CONSTRAINT_SET3;
                11
            }
            (true, false) => 9,
            (false, _) => level.level_idc,
        };
        ProfileLevelId {
            profile_idc: self.profile_idc,
            profile_iop,
            level_idc,
        }
    }

    /// This profile at the lower of the two levels.
    pub fn capped_to_level_of(self, limit: ProfileLevelId) -> ProfileLevelId {
        if self.level_rank() > limit.level_rank() {
            self.with_level_of(limit)
        } else {
            self
        }
    }
}

impl fmt::Display for ProfileLevelId {
    /// Six lowercase hex digits, e.g. `42e01f`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02x}{:02x}{:02x}",
            self.profile_idc, self.profile_iop, self.level_idc
        )
    }
}

/// The H.264 fmtp parameters Tessera reads and writes (RFC 6184 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct H264Params {
    /// Profile and level; [`ProfileLevelId::DEFAULT`] when absent.
    pub profile_level_id: ProfileLevelId,
    /// 0 single NAL unit, 1 non-interleaved, 2 interleaved; 0 when absent.
    pub packetization_mode: u8,
    /// `level-asymmetry-allowed=1`: each direction may use its own level.
    pub level_asymmetry_allowed: bool,
    /// `max-fs`: largest frame size in macroblocks, above the level's.
    pub max_fs: Option<u32>,
    /// `max-mbps`: macroblocks per second, above the level's.
    pub max_mbps: Option<u32>,
}

impl Default for H264Params {
    /// The values implied by an empty fmtp (RFC 6184 §8.1).
    fn default() -> Self {
        H264Params {
            profile_level_id: ProfileLevelId::DEFAULT,
            packetization_mode: 0,
            level_asymmetry_allowed: false,
            max_fs: None,
            max_mbps: None,
        }
    }
}

impl H264Params {
    /// Highest packetization mode defined (RFC 6184 §8.1).
    pub const MAX_PACKETIZATION_MODE: u8 = 2;

    /// What Tessera announces: Constrained Baseline 3.1 in `mode`, with
    /// level asymmetry allowed.
    pub fn tessera(packetization_mode: u8) -> H264Params {
        H264Params {
            profile_level_id: ProfileLevelId::CONSTRAINED_BASELINE_3_1,
            packetization_mode,
            level_asymmetry_allowed: true,
            max_fs: None,
            max_mbps: None,
        }
    }

    /// Parses the parameters of an H.264 `a=fmtp` line (`k=v;k=v`, keys
    /// case-insensitive, blanks around items tolerated, unknown keys
    /// ignored, the first of repeated keys wins). Missing parameters take
    /// their RFC 6184 §8.1 defaults.
    pub fn parse(params: &str) -> Result<H264Params, H264ParamsError> {
        let mut parsed = H264Params::default();
        if let Some(value) = fmtp_parameter(params, "profile-level-id") {
            parsed.profile_level_id =
                ProfileLevelId::parse(value).ok_or_else(|| invalid("profile-level-id", value))?;
        }
        if let Some(value) = fmtp_parameter(params, "packetization-mode") {
            parsed.packetization_mode = value
                .parse()
                .ok()
                .filter(|mode| *mode <= Self::MAX_PACKETIZATION_MODE)
                .ok_or_else(|| invalid("packetization-mode", value))?;
        }
        if let Some(value) = fmtp_parameter(params, "level-asymmetry-allowed") {
            parsed.level_asymmetry_allowed = match value {
                "0" => false,
                "1" => true,
                _ => return Err(invalid("level-asymmetry-allowed", value)),
            };
        }
        parsed.max_fs = optional_number(params, "max-fs")?;
        parsed.max_mbps = optional_number(params, "max-mbps")?;
        Ok(parsed)
    }

    /// Whether Tessera can use this format: a Constrained Baseline
    /// compatible profile in packetization mode 0 or 1.
    pub fn is_acceptable(&self) -> bool {
        self.profile_level_id.is_constrained_baseline_compatible() && self.packetization_mode <= 1
    }
}

fn invalid(name: &'static str, value: &str) -> H264ParamsError {
    H264ParamsError::InvalidParameter {
        name,
        value: value.chars().take(MAX_EXCERPT_CHARS).collect(),
    }
}

fn optional_number(params: &str, name: &'static str) -> Result<Option<u32>, H264ParamsError> {
    fmtp_parameter(params, name)
        .map(|value| value.parse().map_err(|_| invalid(name, value)))
        .transpose()
}

impl fmt::Display for H264Params {
    /// The fmtp parameters, e.g.
    /// `profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1`;
    /// defaulted optional parameters are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "profile-level-id={};packetization-mode={}",
            self.profile_level_id, self.packetization_mode
        )?;
        if self.level_asymmetry_allowed {
            f.write_str(";level-asymmetry-allowed=1")?;
        }
        if let Some(max_fs) = self.max_fs {
            write!(f, ";max-fs={max_fs}")?;
        }
        if let Some(max_mbps) = self.max_mbps {
            write!(f, ";max-mbps={max_mbps}")?;
        }
        Ok(())
    }
}

/// Every `H264/90000` format of `media` whose fmtp parses, in format order,
/// with its parameters. A format without an rtpmap is not H.264 (the
/// encoding has no static payload type).
pub fn h264_formats(media: &MediaDescription) -> Vec<(u8, H264Params)> {
    let index = FormatIndex::of(media);
    media
        .formats
        .iter()
        .filter_map(|f| parse_payload_type(f))
        .filter(|pt| {
            index.rtpmap(*pt).is_some_and(|map| {
                map.encoding.eq_ignore_ascii_case(H264_ENCODING_NAME)
                    && map.clock_rate == H264_CLOCK_RATE
            })
        })
        .filter_map(|pt| {
            let params = H264Params::parse(index.fmtp(pt).unwrap_or("")).ok()?;
            Some((pt, params))
        })
        .collect()
}

/// The H.264 format Tessera picks in `media`: the first acceptable one in
/// packetization mode 1, else the first acceptable one in mode 0.
pub fn preferred_h264(media: &MediaDescription) -> Option<(u8, H264Params)> {
    let acceptable: Vec<(u8, H264Params)> = h264_formats(media)
        .into_iter()
        .filter(|(_, params)| params.is_acceptable())
        .collect();
    [1, 0].into_iter().find_map(|mode| {
        acceptable
            .iter()
            .find(|(_, params)| params.packetization_mode == mode)
            .copied()
    })
}
