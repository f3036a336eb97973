//! Fork-join inside one room tick: a big room's per-member work (draining sockets, jitter
//! buffers, decoding, sending) is independent from member to member, so it is split over the
//! cores on rayon's pool of persistent threads and joined before the tick goes on. The room
//! still has one owner (its media thread); members are only lent out for the duration of the
//! call. Small rooms, where handing work over would cost more than it saves, run on the
//! calling thread.

use rayon::prelude::*;
use tracing::Span;

/// Runs `work` on every item, splitting `items` into up to `ways` contiguous chunks of at
/// least `min_chunk` items; the chunks run on rayon's threads (the calling thread takes part)
/// inside the current tracing span.
pub fn for_each_split<T: Send>(
    items: &mut [T],
    ways: usize,
    min_chunk: usize,
    work: impl Fn(&mut T) + Sync + Send,
) {
    let chunks = ways.min(items.len() / min_chunk.max(1)).max(1);
    if chunks == 1 {
        items.iter_mut().for_each(&work);
        return;
    }
    let chunk_len = items.len().div_ceil(chunks);
    let span = Span::current();
    items.par_chunks_mut(chunk_len).for_each(|part| {
        let _entered = span.enter();
        part.iter_mut().for_each(&work);
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
