//! `X-Tessera-Cascade`: what a cascade INVITE between Tessera nodes (and the 2xx answering it)
//! says about its side of the tree: `node=A;room=3000;tree=A,B` — the sending node, the room,
//! and every node already joined on the sender's side (itself included). The receiver refuses
//! the leg with 482 when that set meets its own side (a ring), and 400 when the header is
//! malformed.

use super::node_id::{InvalidNodeId, NodeId};
use std::collections::BTreeSet;
use std::fmt;

/// The header's name.
pub const CASCADE_HEADER: &str = "X-Tessera-Cascade";

/// Most node ids a tree may list.
pub const MAX_TREE_NODES: usize = 64;

/// A parsed `X-Tessera-Cascade` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CascadeHeader {
    pub node: NodeId,
    pub room: String,
    /// The sender's side of the tree, `node` included.
    pub tree: BTreeSet<NodeId>,
    /// The leg is to stay up whether or not anybody is in the rooms (`permanent=1`).
    pub permanent: bool,
}

/// Why a header value is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CascadeHeaderError {
    #[error("missing {0}=")]
    Missing(&'static str),
    #[error("unknown or repeated parameter {0:?}")]
    Unexpected(String),
    #[error(transparent)]
    Node(#[from] InvalidNodeId),
    #[error("room ids are [A-Za-z0-9_.-]{{1,64}}")]
    Room,
    #[error("a tree lists at most {MAX_TREE_NODES} nodes")]
    TreeTooLarge,
}

impl CascadeHeader {
    pub fn parse(value: &str) -> Result<Self, CascadeHeaderError> {
        let (mut node, mut room, mut tree, mut permanent) = (None, None, None, None);
        for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, val) = part
                .split_once('=')
                .ok_or_else(|| CascadeHeaderError::Unexpected(clip(part)))?;
            let slot_taken = match key.trim().to_ascii_lowercase().as_str() {
                "node" => node.replace(NodeId::parse(val.trim())?).is_some(),
                "room" => room.replace(val.trim().to_string()).is_some(),
                "tree" => tree.replace(parse_tree(val)?).is_some(),
                "permanent" => match val.trim() {
                    "1" => permanent.replace(true).is_some(),
                    "0" => permanent.replace(false).is_some(),
                    _ => true,
                },
                _ => true,
            };
            if slot_taken {
                return Err(CascadeHeaderError::Unexpected(clip(part)));
            }
        }
        let node = node.ok_or(CascadeHeaderError::Missing("node"))?;
        let room = room.ok_or(CascadeHeaderError::Missing("room"))?;
        if !crate::conference::registry::is_valid_room_id(&room) {
            return Err(CascadeHeaderError::Room);
        }
        let mut tree = tree.ok_or(CascadeHeaderError::Missing("tree"))?;
        tree.insert(node.clone());
        if tree.len() > MAX_TREE_NODES {
            return Err(CascadeHeaderError::TreeTooLarge);
        }
        Ok(Self {
            node,
            room,
            tree,
            permanent: permanent.unwrap_or(false),
        })
    }
}

fn parse_tree(value: &str) -> Result<BTreeSet<NodeId>, CascadeHeaderError> {
    let mut tree = BTreeSet::new();
    for id in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        tree.insert(NodeId::parse(id)?);
        if tree.len() > MAX_TREE_NODES {
            return Err(CascadeHeaderError::TreeTooLarge);
        }
    }
    Ok(tree)
}

fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

impl fmt::Display for CascadeHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tree: Vec<&str> = self.tree.iter().map(NodeId::as_str).collect();
        write!(
            f,
            "node={};room={};tree={}",
            self.node,
            self.room,
            tree.join(",")
        )?;
        if self.permanent {
            f.write_str(";permanent=1")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::parse(s).unwrap()
    }

    #[test]
    fn a_header_round_trips_and_its_tree_holds_its_node() {
        let h = CascadeHeader::parse("node=a; room=3000; tree=b,c").unwrap();
        assert_eq!(h.node, id("a"));
        assert_eq!(h.room, "3000");
        assert_eq!(h.tree, [id("a"), id("b"), id("c")].into_iter().collect());
        assert_eq!(h.to_string(), "node=a;room=3000;tree=a,b,c");
        assert_eq!(CascadeHeader::parse(&h.to_string()), Ok(h));
        let kept = CascadeHeader::parse("node=a;room=1;tree=a;permanent=1").unwrap();
        assert!(kept.permanent);
        assert_eq!(kept.to_string(), "node=a;room=1;tree=a;permanent=1");
    }

    #[test]
    fn malformed_headers_are_errors() {
        for bad in [
            "",
            "garbage",
            "node=a;room=3000",
            "room=3000;tree=a",
            "node=a,b;room=3000;tree=a",
            "node=a;room=3 0;tree=a",
            "node=a;room=3000;tree=a;tree=b",
            "node=a;room=3000;tree=a;colour=red",
            "node=a;room=3000;tree=a;permanent=yes",
            "node=a;room=3000;tree=a,b c",
        ] {
            assert!(CascadeHeader::parse(bad).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..70).map(|i| format!("n{i}")).collect();
        let big = format!("node=a;room=1;tree={}", many.join(","));
        assert_eq!(
            CascadeHeader::parse(&big),
            Err(CascadeHeaderError::TreeTooLarge)
        );
    }
}
