//! H.264 fmtp parameters and profile rules (RFC 6184 §8.1, §8.2.2): parse,
//! print, round trip, typed errors.

use super::super::{H264Params, H264ParamsError, ProfileLevelId};

fn plid(text: &str) -> ProfileLevelId {
    ProfileLevelId::parse(text).unwrap()
}

#[test]
fn profile_level_id_parses_and_prints() {
    assert_eq!(plid("42e01f"), ProfileLevelId::CONSTRAINED_BASELINE_3_1);
    assert_eq!(plid("42E01F").to_string(), "42e01f");
    assert_eq!(
        plid("4d0032"),
        ProfileLevelId {
            profile_idc: 0x4d,
            profile_iop: 0,
            level_idc: 50
        }
    );
    for bad in ["", "42e01", "42e01f0", "+2e01f", "42g01f", "４２e01f"] {
        assert_eq!(ProfileLevelId::parse(bad), None, "{bad}");
    }
}

#[test]
fn constrained_baseline_compatibility_follows_rfc6184_table_5() {
    for ok in ["42e01f", "42c01f", "42801f", "42001f", "4d801f", "58c01e"] {
        assert!(plid(ok).is_constrained_baseline_compatible(), "{ok}");
    }
    for refused in ["4d001f", "4d401f", "640c1f", "64001f", "58001e", "f4001f"] {
        assert!(
            !plid(refused).is_constrained_baseline_compatible(),
            "{refused}"
        );
    }
}

#[test]
fn levels_order_and_cap_including_1b() {
    assert!(plid("42f00b").is_level_1b());
    assert!(!plid("42e00b").is_level_1b());
    assert!(plid("640009").is_level_1b());
    let ours = ProfileLevelId::CONSTRAINED_BASELINE_3_1;
    assert_eq!(plid("42e028").capped_to_level_of(ours), ours);
    assert_eq!(plid("42e00d").capped_to_level_of(ours), plid("42e00d"));
    assert_eq!(ours.capped_to_level_of(plid("42f00b")), plid("42f00b"));
    assert_eq!(ours.capped_to_level_of(plid("42e00a")), plid("42e00a"));
    assert_eq!(plid("42f00b").with_level_of(ours), ours);
    assert_eq!(plid("640c1f").with_level_of(plid("42f00b")), plid("640c09"));
}

#[test]
fn params_parse_with_defaults_and_tolerance() {
    assert_eq!(H264Params::parse("").unwrap(), H264Params::default());
    let p = H264Params::parse(
        " Profile-Level-Id=42801F; packetization-mode=1 ;max-mbps=108000; max-fs=3600;sprop-parameter-sets=Z0IAH5WoFAFuQA==,aM48gA==",
    )
    .unwrap();
    assert_eq!(p.profile_level_id, plid("42801f"));
    assert_eq!(p.packetization_mode, 1);
    assert!(!p.level_asymmetry_allowed);
    assert_eq!((p.max_fs, p.max_mbps), (Some(3600), Some(108000)));
    assert!(p.is_acceptable());
    let chrome =
        H264Params::parse("level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f")
            .unwrap();
    assert!(chrome.level_asymmetry_allowed && chrome.is_acceptable());
    assert!(!H264Params::parse("packetization-mode=2")
        .unwrap()
        .is_acceptable());
    assert!(!H264Params::parse("profile-level-id=640c1f")
        .unwrap()
        .is_acceptable());
}

#[test]
fn params_errors_are_typed() {
    let cases = [
        ("profile-level-id=42e0", "profile-level-id"),
        ("profile-level-id", "profile-level-id"),
        ("packetization-mode=3", "packetization-mode"),
        ("packetization-mode=-1", "packetization-mode"),
        ("level-asymmetry-allowed=yes", "level-asymmetry-allowed"),
        ("max-fs=big", "max-fs"),
        ("max-mbps=99999999999", "max-mbps"),
    ];
    for (text, name) in cases {
        let H264ParamsError::InvalidParameter { name: got, .. } =
            H264Params::parse(text).unwrap_err();
        assert_eq!(got, name, "{text}");
    }
    let long = format!("profile-level-id={}", "x".repeat(500));
    let err = H264Params::parse(&long).unwrap_err();
    assert!(err.to_string().len() < 100);
}

#[test]
fn params_print_and_round_trip() {
    assert_eq!(
        H264Params::tessera(1).to_string(),
        "profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1"
    );
    assert_eq!(
        H264Params::default().to_string(),
        "profile-level-id=420010;packetization-mode=0"
    );
    let full = H264Params {
        max_fs: Some(8160),
        max_mbps: Some(244800),
        ..H264Params::tessera(0)
    };
    let printed = full.to_string();
    assert_eq!(
        printed,
        "profile-level-id=42e01f;packetization-mode=0;level-asymmetry-allowed=1;max-fs=8160;max-mbps=244800"
    );
    for params in [full, H264Params::default(), H264Params::tessera(1)] {
        assert_eq!(H264Params::parse(&params.to_string()), Ok(params));
    }
}
