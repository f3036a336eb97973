//! Fork-join inside one room tick: a big room's per-member work (draining sockets, jitter
//! buffers, decoding, sending) is independent from member to member, so it is split over a few
//! short-lived scoped threads and joined before the tick goes on. The room still has one owner
//! (its media thread); members are only lent out for the duration of the call. Small rooms,
//! where a thread start (~20 µs) would cost more than it saves, run on the calling thread.

use std::sync::Mutex;
use tracing::Span;

/// Runs `work` on every item, splitting `items` into up to `ways` contiguous chunks of at
/// least `min_chunk` items; one chunk runs on the calling thread, the others on scoped
/// threads that inherit the current tracing span.
pub fn for_each_split<T: Send>(
    items: &mut [T],
    ways: usize,
    min_chunk: usize,
    work: impl Fn(&mut T) + Sync,
) {
    let chunks = ways.min(items.len() / min_chunk.max(1)).max(1);
    if chunks == 1 {
        items.iter_mut().for_each(&work);
        return;
    }
    let chunk_len = items.len().div_ceil(chunks);
    // Parts are taken from a queue by the helpers and by the caller alike, so every part is
    // done even if a helper thread cannot be started.
    let queue = Mutex::new(items.chunks_mut(chunk_len).collect::<Vec<_>>());
    let drain = || {
        while let Some(part) = queue.lock().ok().and_then(|mut q| q.pop()) {
            part.iter_mut().for_each(&work);
        }
    };
    let span = Span::current();
    std::thread::scope(|scope| {
        for _ in 1..chunks {
            let (drain, span) = (&drain, span.clone());
            let spawned = std::thread::Builder::new()
                .name("tessera-media-fork".into())
                .spawn_scoped(scope, move || {
                    let _entered = span.enter();
                    drain();
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "fork-join thread did not start; working alone");
            }
        }
        drain();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_visited_once_whatever_the_split() {
        for (len, ways, min_chunk) in [
            (0, 4, 10),
            (5, 4, 10),
            (100, 2, 10),
            (101, 3, 10),
            (7, 8, 1),
        ] {
            let mut items = vec![0u32; len];
            for_each_split(&mut items, ways, min_chunk, |x| *x += 1);
            assert!(items.iter().all(|&x| x == 1), "{len} {ways} {min_chunk}");
        }
    }
}
