//! Stream framing for SIP over TCP (RFC 3261 §18.3): splits a byte stream into messages using
//! the blank line after the headers and `Content-Length`, skips CRLF keep-alives
//! (RFC 5626 §4.4.1) and enforces size limits so a hostile peer cannot make us buffer forever.
//!
//! Sans-IO: the driver pushes the bytes it read and pulls complete messages out.

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
}

/// Accumulates stream bytes and yields whole SIP messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
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
        }
        let Some(header_end) = find_subslice(&self.buf, b"\r\n\r\n") else {
            if self.buf.len() > MAX_HEADER_BYTES {
                return Err(FramingError::HeaderTooLarge);
            }
            return Ok(None);
        };
        if header_end > MAX_HEADER_BYTES {
            return Err(FramingError::HeaderTooLarge);
        }
        let body_len = content_length(&self.buf[..header_end])?;
        if body_len > MAX_BODY_BYTES {
            return Err(FramingError::BodyTooLarge(body_len));
        }
        let total = header_end + 4 + body_len;
        if self.buf.len() < total {
            return Ok(None);
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        Ok(Some(message))
    }
}

/// Finds the first occurrence of `needle` in `haystack`.
pub fn find_subslice(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads `Content-Length` (or its compact form `l`) from a header section.
/// Streams require it (RFC 3261 §18.3); its absence is treated as a zero-length body only
/// when no header claims otherwise, which is what common UAs expect for bodiless requests.
fn content_length(headers: &[u8]) -> Result<usize, FramingError> {
    let text = String::from_utf8_lossy(headers);
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
            return value
                .trim()
                .parse::<usize>()
                .map_err(|_| FramingError::BadContentLength);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:3000@h SIP/2.0\r\nContent-Length: 0\r\n\r\n";

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
    fn refuses_bad_content_length() {
        let mut f = StreamFramer::new();
        f.push(b"INFO sip:x SIP/2.0\r\nContent-Length: lots\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::BadContentLength));
    }
}
