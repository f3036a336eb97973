//! [`Plane`]: the bytes of one picture plane, either owned (a `Vec<u8>`) or shared with the
//! decoder that produced them (libavcodec's reference-counted picture buffer), so a decoded
//! camera picture reaches the compositor without being copied (a 720p picture is 1.4 MB; nine
//! senders at 30 fps were 370 MB/s of copying).
//!
//! A plane reads as a `[u8]`. Writing to a shared plane first copies it into an owned one
//! (copy on write), so code that paints on a frame never touches the decoder's memory.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// Keeps shared plane bytes alive (and valid, unchanged) for as long as it exists.
pub trait PlaneOwner: Send + Sync {}

/// Bytes another owner keeps alive: `len` bytes at `ptr`, valid while its owner lives.
#[derive(Clone)]
struct SharedBytes {
    /// Never read: holding it keeps the bytes alive.
    _owner: Arc<dyn PlaneOwner>,
    ptr: *const u8,
    len: usize,
}

// SAFETY: the bytes are immutable while any `SharedBytes` points at them (the owner's
// contract, see `Plane::shared`), and the owner itself is `Send + Sync`.
unsafe impl Send for SharedBytes {}
// SAFETY: as above; only shared reads are ever made through `ptr`.
unsafe impl Sync for SharedBytes {}

impl SharedBytes {
    fn as_slice(&self) -> &[u8] {
        // SAFETY: `Plane::shared`'s caller promised `len` readable bytes at `ptr`, unchanged
        // while `owner` lives, and `self` holds that owner.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

#[derive(Clone)]
enum Bytes {
    Owned(Vec<u8>),
    Shared(SharedBytes),
}

/// One plane of an [`I420Frame`](super::frame::I420Frame): owned or shared bytes, read as a
/// slice, copied on the first write if shared.
#[derive(Clone)]
pub struct Plane(Bytes);

impl Plane {
    /// A plane over `len` bytes at `ptr` that `owner` keeps alive.
    ///
    /// # Safety
    /// `ptr` must point at `len` readable bytes that stay valid and unchanged for as long as
    /// `owner` (or any clone of the `Arc`) exists.
    pub unsafe fn shared(owner: Arc<dyn PlaneOwner>, ptr: *const u8, len: usize) -> Self {
        Self(Bytes::Shared(SharedBytes {
            _owner: owner,
            ptr,
            len,
        }))
    }

    /// True when the bytes belong to another owner (a decoder's picture).
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Bytes::Shared(_))
    }

    /// The plane as an owned vector (copying shared bytes first, like `Cow::to_mut`).
    pub fn to_mut(&mut self) -> &mut Vec<u8> {
        if let Bytes::Shared(shared) = &self.0 {
            self.0 = Bytes::Owned(shared.as_slice().to_vec());
        }
        match &mut self.0 {
            Bytes::Owned(bytes) => bytes,
            Bytes::Shared(_) => unreachable!("a shared plane was just made owned"),
        }
    }

    /// An owned vector to fill from scratch: a shared plane's bytes are dropped, not copied
    /// (the decoder gets its buffer back), an owned one's allocation is kept (cleared).
    pub fn recycled_vec(&mut self) -> &mut Vec<u8> {
        if self.is_shared() {
            self.0 = Bytes::Owned(Vec::new());
        }
        let bytes = self.to_mut();
        bytes.clear();
        bytes
    }
}

impl Default for Plane {
    fn default() -> Self {
        Self(Bytes::Owned(Vec::new()))
    }
}

impl From<Vec<u8>> for Plane {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Bytes::Owned(bytes))
    }
}

impl Deref for Plane {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Bytes::Owned(bytes) => bytes,
            Bytes::Shared(shared) => shared.as_slice(),
        }
    }
}

impl DerefMut for Plane {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.to_mut()
    }
}

impl PartialEq for Plane {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Plane {}

impl fmt::Debug for Plane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_shared() { "shared" } else { "owned" };
        write!(f, "Plane({} bytes, {kind})", self.len())
    }
}
