//! Digest authentication of callers (RFC 3261 §22.4, RFC 8760: SHA-256 and MD5), sans-IO with
//! time passed in.
//!
//! A challenge carries one `WWW-Authenticate` per configured algorithm, most preferred first
//! (RFC 8760 §2.4), `qop="auth"`, and a stateless nonce: its issue time and a keyed SHA-256 of
//! it under a secret drawn at start, so nothing is stored per challenge and a nonce cannot be
//! forged or kept beyond [`NONCE_LIFETIME`] (an old one gets a `stale=true` challenge). The
//! answer is checked in constant time.

use rsip::headers::auth::Algorithm;
use rsip::headers::{Header, UntypedHeader};
use rsip::Request;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// How long a nonce may be used.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// What an INVITE's credentials amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Right credentials of this user.
    Authenticated(String),
    /// None, or wrong: challenge (again). `stale`: right credentials on an expired nonce.
    Challenge { stale: bool },
}

/// The users and how they are challenged.
#[derive(Debug, Clone)]
pub struct DigestAuth {
    realm: String,
    users: HashMap<String, String>,
    algorithms: Vec<Algorithm>,
    secret: [u8; 32],
    epoch: Instant,
}

/// An algorithm name as config and headers spell it.
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    match name.to_ascii_uppercase().as_str() {
        "SHA-256" => Some(Algorithm::Sha256),
        "MD5" => Some(Algorithm::Md5),
        _ => None,
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Md5 => "MD5",
        _ => "SHA-256",
    }
}

impl DigestAuth {
    /// `algorithms`: most preferred first; only SHA-256 and MD5 are offered.
    pub fn new(
        realm: &str,
        users: HashMap<String, String>,
        algorithms: Vec<Algorithm>,
        now: Instant,
    ) -> Self {
        Self {
            realm: realm.to_string(),
            users,
            algorithms,
            secret: rand::random(),
            epoch: now,
        }
    }

    fn nonce_at(&self, issued_secs: u64) -> String {
        let mut mac = Sha256::new();
        mac.update(self.secret);
        mac.update(issued_secs.to_be_bytes());
        let tag: String = mac.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{issued_secs:x}.{tag}")
    }

    /// Whether `nonce` is one of ours, and if so whether it is still fresh at `now`.
    fn nonce_state(&self, nonce: &str, now: Instant) -> Option<bool> {
        let (issued, _) = nonce.split_once('.')?;
        let issued = u64::from_str_radix(issued, 16).ok()?;
        let genuine: bool = self
            .nonce_at(issued)
            .as_bytes()
            .ct_eq(nonce.as_bytes())
            .into();
        if !genuine {
            return None;
        }
        let age = now
            .saturating_duration_since(self.epoch)
            .as_secs()
            .saturating_sub(issued);
        Some(age <= NONCE_LIFETIME.as_secs())
    }

    /// The `WWW-Authenticate` headers of a 401 at `now`.
    pub fn challenge(&self, now: Instant, stale: bool) -> Vec<Header> {
        let nonce = self.nonce_at(now.saturating_duration_since(self.epoch).as_secs());
        let stale = if stale { ", stale=true" } else { "" };
        self.algorithms
            .iter()
            .map(|a| {
                Header::WwwAuthenticate(rsip::headers::WwwAuthenticate::new(format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
                    self.realm,
                    algorithm_name(*a)
                )))
            })
            .collect()
    }

    /// Checks the `Authorization` of `req` at `now`.
    pub fn verify(&self, req: &Request, now: Instant) -> Verdict {
        let wrong = Verdict::Challenge { stale: false };
        let Some(auth) = req.headers.iter().find_map(|h| match h {
            Header::Authorization(a) => Credentials::parse(a.value()),
            _ => None,
        }) else {
            return wrong;
        };
        let Some(algorithm) = parse_algorithm(auth.get("algorithm").unwrap_or("MD5")) else {
            return wrong;
        };
        if auth.get("realm") != Some(self.realm.as_str()) || !self.algorithms.contains(&algorithm) {
            return wrong;
        }
        let (Some(user), Some(nonce), Some(uri), Some(response)) = (
            auth.get("username"),
            auth.get("nonce"),
            auth.get("uri"),
            auth.get("response"),
        ) else {
            return wrong;
        };
        let Some(fresh) = self.nonce_state(nonce, now) else {
            return wrong;
        };
        let Some(password) = self.users.get(user) else {
            return wrong;
        };
        let hash = |text: String| hex_digest(algorithm, &text);
        let ha1 = hash(format!("{user}:{}:{password}", self.realm));
        let ha2 = hash(format!("{}:{uri}", req.method));
        let expected = match auth.get("qop") {
            None => hash(format!("{ha1}:{nonce}:{ha2}")),
            Some("auth") => {
                let (Some(nc), Some(cnonce)) = (auth.get("nc"), auth.get("cnonce")) else {
                    return wrong;
                };
                hash(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
            }
            Some(_) => return wrong,
        };
        let right: bool = expected
            .as_bytes()
            .ct_eq(response.to_ascii_lowercase().as_bytes())
            .into();
        match (right, fresh) {
            (true, true) => Verdict::Authenticated(user.to_string()),
            (true, false) => Verdict::Challenge { stale: true },
            (false, _) => wrong,
        }
    }
}

/// Lower-case hex of the algorithm's hash of `text`.
fn hex_digest(algorithm: Algorithm, text: &str) -> String {
    let bytes: Vec<u8> = match algorithm {
        Algorithm::Md5 => md5::Md5::digest(text.as_bytes()).to_vec(),
        _ => Sha256::digest(text.as_bytes()).to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The parameters of a `Digest` credentials header (RFC 7616 §3.4), names lower-cased. Bounded:
/// a header of more than [`MAX_PARAMS`] parameters is not credentials.
struct Credentials(Vec<(String, String)>);

const MAX_PARAMS: usize = 16;

impl Credentials {
    fn parse(value: &str) -> Option<Self> {
        let rest = value.trim_start();
        let (scheme, mut rest) = rest.split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("digest") {
            return None;
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                return Some(Self(params));
            }
            if params.len() == MAX_PARAMS {
                return None;
            }
            let (name, after) = rest.split_once('=')?;
            let after = after.trim_start();
            let (value, next) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted.find('"')?;
                    (&quoted[..end], &quoted[end + 1..])
                }
                None => {
                    let end = after.find(',').unwrap_or(after.len());
                    (after[..end].trim_end(), &after[end..])
                }
            };
            params.push((name.trim().to_ascii_lowercase(), value.to_string()));
            rest = next;
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::parse_message;

    fn auth() -> (DigestAuth, Instant) {
        let now = Instant::now();
        let users = HashMap::from([("alice".to_string(), "secret".to_string())]);
        (
            DigestAuth::new(
                "tessera",
                users,
                vec![Algorithm::Sha256, Algorithm::Md5],
                now,
            ),
            now,
        )
    }

    /// The response a client computes (RFC 2617 §3.2.2), written out here rather than taken
    /// from the code under test.
    fn client_response(hash: fn(&str) -> String, nonce: &str, password: &str) -> String {
        let ha1 = hash(&format!("alice:tessera:{password}"));
        let ha2 = hash("INVITE:sip:3000@127.0.0.1");
        hash(&format!("{ha1}:{nonce}:00000001:abc:auth:{ha2}"))
    }

    fn sha256_hex(s: &str) -> String {
        Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn md5_hex(s: &str) -> String {
        md5::Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn invite(authorization: &str) -> Request {
        let text = format!(
            "INVITE sip:3000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-1\r\n\
From: <sip:alice@127.0.0.1>;tag=a\r\nTo: <sip:3000@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 2 INVITE\r\n\
{authorization}Content-Length: 0\r\n\r\n"
        );
        match parse_message(text.as_bytes()).expect("valid") {
            rsip::SipMessage::Request(r) => r,
            rsip::SipMessage::Response(_) => unreachable!(),
        }
    }

    fn authorization(nonce: &str, algorithm: &str, response: &str) -> String {
        format!(
            "Authorization: Digest username=\"alice\", realm=\"tessera\", nonce=\"{nonce}\", \
uri=\"sip:3000@127.0.0.1\", response=\"{response}\", algorithm={algorithm}, qop=auth, \
nc=00000001, cnonce=\"abc\"\r\n"
        )
    }

    fn nonce_of(header: &Header) -> String {
        let text = header.to_string();
        let start = text.find("nonce=\"").expect("nonce") + 7;
        text[start..].split('"').next().expect("quoted").to_string()
    }

    #[test]
    fn challenges_offer_sha256_then_md5_and_no_credentials_are_challenged() {
        let (a, now) = auth();
        let headers = a.challenge(now, false);
        assert_eq!(headers.len(), 2);
        assert!(headers[0].to_string().contains("algorithm=SHA-256"));
        assert!(headers[1].to_string().contains("algorithm=MD5"));
        assert_eq!(
            a.verify(&invite(""), now),
            Verdict::Challenge { stale: false }
        );
    }

    #[test]
    fn right_answers_in_sha256_and_md5_are_accepted_and_wrong_ones_not() {
        let (a, now) = auth();
        let nonce = nonce_of(&a.challenge(now, false)[0]);
        let sha = client_response(sha256_hex, &nonce, "secret");
        assert_eq!(
            a.verify(&invite(&authorization(&nonce, "SHA-256", &sha)), now),
            Verdict::Authenticated("alice".into())
        );
        let md5 = client_response(md5_hex, &nonce, "secret");
        assert_eq!(
            a.verify(&invite(&authorization(&nonce, "MD5", &md5)), now),
            Verdict::Authenticated("alice".into())
        );
        let wrong = client_response(sha256_hex, &nonce, "guess");
        assert_eq!(
            a.verify(&invite(&authorization(&nonce, "SHA-256", &wrong)), now),
            Verdict::Challenge { stale: false }
        );
    }

    /// RFC 7616 §3.9.1's example (HTTP, so GET): the MD5 and SHA-256 answers it lists.
    #[test]
    fn the_rfc_7616_example_answers() {
        let ha = |alg, text: &str| hex_digest(alg, text);
        for (alg, expected) in [
            (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
            (
                Algorithm::Sha256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let ha1 = ha(alg, "Mufasa:http-auth@example.org:Circle of Life");
            let ha2 = ha(alg, "GET:/dir/index.html");
            let response = ha(
                alg,
                &format!(
                    "{ha1}:7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v:00000001:\
f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ:auth:{ha2}"
                ),
            );
            assert_eq!(response, expected);
        }
    }

    #[test]
    fn forged_and_expired_nonces_are_refused() {
        let (a, now) = auth();
        let forged = "0.00000000000000000000000000000000";
        let sha = client_response(sha256_hex, forged, "secret");
        assert_eq!(
            a.verify(&invite(&authorization(forged, "SHA-256", &sha)), now),
            Verdict::Challenge { stale: false }
        );
        let nonce = nonce_of(&a.challenge(now, false)[0]);
        let sha = client_response(sha256_hex, &nonce, "secret");
        let later = now + NONCE_LIFETIME + Duration::from_secs(2);
        assert_eq!(
            a.verify(&invite(&authorization(&nonce, "SHA-256", &sha)), later),
            Verdict::Challenge { stale: true }
        );
    }
}
