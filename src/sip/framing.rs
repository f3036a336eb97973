//! Stream framing for SIP over TCP (RFC 3261 §18.3): splits a byte stream into messages using
//! the blank line after the headers and `Content-Length`, skips CRLF keep-alives
//! (RFC 5626 §4.4.1) and enforces size limits so a hostile peer cannot make us buffer forever.
//!
//! Sans-IO: the driver pushes the bytes it read and pulls complete messages out. The search for
//! the end of the headers resumes where the last one stopped, so a peer dripping a header a
//! byte at a time costs linear work, not a rescan of the buffer per read.

use thiserror::Error;

/// Largest header section accepted on a stream (the "64 KiB header line" must be refused).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest body accepted on a stream.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a stream was judged broken; the driver closes the connection.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("header section exceeds {MAX_HEADER_BYTES} bytes")]
    HeaderTooLarge,
    #[error("missing or malformed Content-Length on a stream transport")]
    BadContentLength,
    #[error("body of {0} bytes exceeds {MAX_BODY_BYTES}")]
    BodyTooLarge(usize),
    #[error("stream does not carry SIP (bad start line)")]
    NotSip,
}

/// Longest start line we accept (a Request-URI rarely exceeds a few hundred bytes).
const MAX_START_LINE: usize = 2048;

/// Accumulates stream bytes and yields whole SIP messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// How far the search for the blank line after the headers got (it is not before this).
    scanned: usize,
    /// Bytes looked at by that search, for the test that it stays linear.
    #[cfg(test)]
    searched: usize,
}

impl StreamFramer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Returns the next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        // Keep-alive CRLFs between messages are skipped.
        let leading = self
            .buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        if leading > 0 {
            self.buf.drain(..leading);
            self.scanned = self.scanned.saturating_sub(leading);
        }
        match find_subslice(&self.buf, b"\r\n") {
            Some(end) if !looks_like_start_line(&self.buf[..end]) => {
                return Err(FramingError::NotSip)
            }
            None if self.buf.len() > MAX_START_LINE => return Err(FramingError::NotSip),
            _ => {}
        }
        // The blank line may straddle the last search's end: back up three bytes.
        let from = self.scanned.saturating_sub(3).min(self.buf.len());
        #[cfg(test)]
        {
            self.searched += self.buf.len() - from;
        }
        let found = find_subslice(&self.buf[from..], b"\r\n\r\n").map(|at| from + at);
        let Some(header_end) = found else {
            self.scanned = self.buf.len();
            if self.buf.len() > MAX_HEADER_BYTES {
                return Err(FramingError::HeaderTooLarge);
            }
            return Ok(None);
        };
        self.scanned = header_end;
        if header_end > MAX_HEADER_BYTES {
            return Err(FramingError::HeaderTooLarge);
        }
        // Streams require Content-Length (RFC 3261 §18.3); its absence is taken as an empty body,
        // which is what common UAs expect for bodiless requests.
        let body_len = declared_content_length(&self.buf[..header_end])?.unwrap_or(0);
        if body_len > MAX_BODY_BYTES {
            return Err(FramingError::BodyTooLarge(body_len));
        }
        let total = header_end + 4 + body_len;
        if self.buf.len() < total {
            return Ok(None);
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        self.scanned = 0;
        Ok(Some(message))
    }

    /// The header section (with its blank line) of the message being framed, once complete:
    /// after a [`FramingError::BadContentLength`] or [`FramingError::BodyTooLarge`], what an
    /// error response can be built from before the connection is closed.
    pub fn pending_header_section(&self) -> Option<&[u8]> {
        find_subslice(&self.buf, b"\r\n\r\n").map(|end| &self.buf[..end + 4])
    }
}

/// `METHOD SP Request-URI SP SIP/2.0` or `SIP/2.0 SP 3DIGIT ...` (RFC 3261 §7.1, §7.2).
fn looks_like_start_line(line: &[u8]) -> bool {
    if line.len() > MAX_START_LINE {
        return false;
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    if let Some(rest) = text.strip_prefix("SIP/2.0 ") {
        return rest.len() >= 3 && rest.as_bytes()[..3].iter().all(u8::is_ascii_digit);
    }
    let mut parts = text.split(' ');
    let method_ok = parts
        .next()
        .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()));
    let uri_ok = parts.next().is_some_and(|u| !u.is_empty());
    method_ok && uri_ok && parts.next() == Some("SIP/2.0") && parts.next().is_none()
}

/// Finds the first occurrence of `needle` in `haystack`.
pub fn find_subslice(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The body length a header section declares in `Content-Length` (or its compact form `l`),
/// `None` when it declares none. The value is `1*DIGIT` (RFC 3261 §20.14, §25.1): a sign,
/// letters or an empty value are malformed, and repeated headers must agree.
pub fn declared_content_length(headers: &[u8]) -> Result<Option<usize>, FramingError> {
    /// More digits than any body we would accept could need.
    const MAX_DIGITS: usize = 9;
    let text = String::from_utf8_lossy(headers);
    let mut declared = None;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if !(name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l")) {
            continue;
        }
        let value = value.trim();
        let digits_only = !value.is_empty()
            && value.len() <= MAX_DIGITS
            && value.bytes().all(|b| b.is_ascii_digit());
        let length = value
            .parse::<usize>()
            .ok()
            .filter(|_| digits_only)
            .ok_or(FramingError::BadContentLength)?;
        if declared.is_some_and(|d| d != length) {
            return Err(FramingError::BadContentLength);
        }
        declared = Some(length);
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:3000@h SIP/2.0\r\nContent-Length: 0\r\n\r\n";

    /// #14: every read rescanned the whole buffer for the blank line, so a 16 KiB header
    /// dripped a byte per read cost 16 K × 8 K comparisons. Now each byte is looked at a few
    /// times at most, and a header split anywhere is still found.
    #[test]
    fn a_header_dripped_a_byte_at_a_time_is_searched_in_linear_time() {
        let padding = "X-Pad: ".to_string() + &"a".repeat(MAX_HEADER_BYTES - 200) + "\r\n";
        let message = format!("OPTIONS sip:3000@h SIP/2.0\r\n{padding}Content-Length: 0\r\n\r\n");
        let mut framer = StreamFramer::new();
        let mut out = None;
        for byte in message.as_bytes() {
            framer.push(std::slice::from_ref(byte));
            if let Some(m) = framer.next_message().expect("valid") {
                out = Some(m);
            }
        }
        assert_eq!(out.as_deref(), Some(message.as_bytes()));
        assert!(
            framer.searched < 5 * message.len(),
            "searched {} bytes for a {}-byte message",
            framer.searched,
            message.len()
        );
    }

    #[test]
    fn splits_two_messages_in_one_read() {
        let mut f = StreamFramer::new();
        let mut two = OPTIONS.to_vec();
        two.extend_from_slice(b"\r\n\r\n");
        two.extend_from_slice(b"INFO sip:x SIP/2.0\r\nl: 3\r\n\r\nabc");
        f.push(&two);
        assert_eq!(f.next_message().unwrap().unwrap(), OPTIONS);
        let second = f.next_message().unwrap().unwrap();
        assert!(second.ends_with(b"abc"));
        assert_eq!(f.next_message().unwrap(), None);
    }

    #[test]
    fn waits_for_body_across_reads() {
        let mut f = StreamFramer::new();
        f.push(b"INFO sip:x SIP/2.0\r\nContent-Length: 5\r\n\r\nab");
        assert_eq!(f.next_message().unwrap(), None);
        f.push(b"cde");
        assert!(f.next_message().unwrap().unwrap().ends_with(b"abcde"));
    }

    #[test]
    fn refuses_huge_header_line() {
        let mut f = StreamFramer::new();
        f.push(b"INVITE sip:x SIP/2.0\r\nX-Big: ");
        f.push(&vec![b'a'; 64 * 1024]);
        assert_eq!(f.next_message(), Err(FramingError::HeaderTooLarge));
    }

    #[test]
    fn refuses_non_sip_bytes() {
        let mut f = StreamFramer::new();
        f.push(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::NotSip));
        let mut f = StreamFramer::new();
        f.push(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
        f.push(&vec![0xAA; 3000]);
        assert_eq!(f.next_message(), Err(FramingError::NotSip));
    }

    #[test]
    fn refuses_bad_content_length() {
        let mut f = StreamFramer::new();
        f.push(b"INFO sip:x SIP/2.0\r\nContent-Length: lots\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::BadContentLength));
    }
}
