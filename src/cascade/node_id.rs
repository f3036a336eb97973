//! A node's identity in a cascade: a short name (`[A-Za-z0-9_.-]{1,64}`) given by `--node-id`
//! or `[node] id`, by default the host name and SIP port (`host-5060`). Node ids travel in the
//! `X-Tessera-Cascade` header, where `,` `;` `=` separate them, hence the alphabet.

use std::fmt;

/// The most characters a node id has.
pub const MAX_NODE_ID_LEN: usize = 64;

/// A validated node id.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(String);

/// Why a text is not a node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node ids are [A-Za-z0-9_.-]{{1,{MAX_NODE_ID_LEN}}}, not {0:?}")]
pub struct InvalidNodeId(pub String);

impl NodeId {
    pub fn parse(text: &str) -> Result<Self, InvalidNodeId> {
        let valid = !text.is_empty()
            && text.len() <= MAX_NODE_ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if valid {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidNodeId(text.chars().take(80).collect()))
        }
    }

    /// The default id of a node: its host name (characters outside the alphabet become `-`)
    /// and SIP port.
    pub fn default_for(host_name: &str, sip_port: u16) -> Self {
        let host: String = host_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .take(MAX_NODE_ID_LEN - 6)
            .collect();
        let host = if host.is_empty() {
            "tessera".into()
        } else {
            host
        };
        Self(format!("{host}-{sip_port}"))
    }

    /// This machine's default id for `sip_port`.
    pub fn local_default(sip_port: u16) -> Self {
        Self::default_for(&host_name(), sip_port)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NodeId {
    type Error = InvalidNodeId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<NodeId> for String {
    fn from(id: NodeId) -> Self {
        id.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The machine's host name (`tessera` when it cannot be read).
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer it is given.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "tessera".to_string();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_use_a_small_alphabet() {
        assert!(NodeId::parse("paris-1").is_ok());
        assert!(NodeId::parse("a.b_c-9").is_ok());
        for bad in ["", "a,b", "a;b", "a=b", "a b", "é", &"x".repeat(65)] {
            assert!(NodeId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_read_from_json_are_validated() {
        let id: NodeId = serde_json::from_str("\"paris-1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"paris-1\"");
        assert!(serde_json::from_str::<NodeId>("\"a,b\"").is_err());
    }

    #[test]
    fn defaults_are_valid_ids() {
        assert_eq!(
            NodeId::default_for("media01", 5060).as_str(),
            "media01-5060"
        );
        assert_eq!(NodeId::default_for("a b,c", 5070).as_str(), "a-b-c-5070");
        assert_eq!(NodeId::default_for("", 1).as_str(), "tessera-1");
        let long = NodeId::default_for(&"h".repeat(300), 65535);
        assert!(NodeId::parse(long.as_str()).is_ok(), "{long}");
        assert!(NodeId::parse(NodeId::local_default(5060).as_str()).is_ok());
    }
}
