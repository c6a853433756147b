//! Column buffers kept from one `decode_batch` for the next.
//!
//! A batch of 10 k frames writes about 13 MB of columns. Taken fresh from the allocator each
//! time, much of that memory came straight from the kernel: every page faulted in and was
//! zeroed before the decoder wrote it, and how often that happened depended on glibc's
//! thresholds and on what the process had done before (the same build measured 1.7 to 2.2 M
//! frames/s in one afternoon; with the freed columns kept by the allocator, 2.1 to 2.2 M).
//! The Python binding hands a column's buffer to NumPy in an owner that gives it back here
//! when the last array over it is gone, and the next batch takes it again: pages already
//! in place, whatever the allocator would have done.
//!
//! Pure Rust: a caller that never gives buffers back (the tests, the fuzz targets) only
//! ever gets new ones. A pool keeps at most `KEEP` buffers and `KEEP_BYTES` of capacity per
//! element type; past that a buffer given back is freed (or replaces a smaller one).

use std::sync::{Mutex, MutexGuard};

/// Buffers kept per element type: a batch has up to 13 columns of one type (the text
/// columns are bytes), and a caller may hold a batch or two while it decodes the next.
pub const KEEP: usize = 48;
/// Capacity kept per element type, in bytes (reserved, not necessarily touched).
pub const KEEP_BYTES: usize = 128 << 20;

/// Empty vectors of `T` kept for reuse.
pub struct Pool<T> {
    free: Mutex<Vec<Vec<T>>>,
}

impl<T> Pool<T> {
    pub const fn new() -> Self {
        Pool {
            free: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Vec<T>>> {
        // every critical section is a push, a swap or a remove: whole after a panic
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An empty vector with room for at least `cap`: the smallest kept one that has it, or a
    /// new one.
    pub fn take(&self, cap: usize) -> Vec<T> {
        let mut free = self.lock();
        // of equal ones the last given back: its pages are the likeliest still in a cache
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= cap)
            .min_by_key(|&(i, v)| (v.capacity(), std::cmp::Reverse(i)))
            .map(|(i, _)| i);
        match best {
            Some(i) => free.remove(i),
            None => Vec::with_capacity(cap),
        }
    }

    /// Keep `v` (emptied) for a later `take`: while there is room, or in place of a smaller
    /// kept one; otherwise it is freed.
    pub fn give(&self, mut v: Vec<T>) {
        v.clear();
        let size = std::mem::size_of::<T>().max(1);
        let bytes = |v: &Vec<T>| v.capacity() * size;
        if bytes(&v) == 0 || bytes(&v) > KEEP_BYTES {
            return;
        }
        let mut free = self.lock();
        let mut kept: usize = free.iter().map(bytes).sum();
        // make room by letting the smallest go, while the new one is bigger than it
        while free.len() >= KEEP || kept + bytes(&v) > KEEP_BYTES {
            let smallest = free
                .iter()
                .enumerate()
                .min_by_key(|(_, k)| k.capacity())
                .map(|(i, k)| (i, bytes(k)));
            match smallest {
                Some((i, b)) if b < bytes(&v) => {
                    free.remove(i);
                    kept -= b;
                }
                _ => return,
            }
        }
        free.push(v);
    }

    /// How many buffers are kept (for the tests).
    pub fn kept(&self) -> usize {
        self.lock().len()
    }
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool::new()
    }
}

/// The element types of `batch::Columns`, each with its pool.
pub trait Pooled: Sized + 'static {
    fn pool() -> &'static Pool<Self>;
}

macro_rules! pooled {
    ($($t:ty => $name:ident),* $(,)?) => {
        $(
            static $name: Pool<$t> = Pool::new();
            impl Pooled for $t {
                fn pool() -> &'static Pool<$t> {
                    &$name
                }
            }
        )*
    };
}

pooled!(
    u8 => U8, u16 => U16, u32 => U32, i16 => I16, i32 => I32, i64 => I64, f64 => F64,
);

/// An empty vector of `T` with room for `cap`, from `T`'s pool.
pub fn take<T: Pooled>(cap: usize) -> Vec<T> {
    T::pool().take(cap)
}

/// Give a vector back to `T`'s pool.
pub fn give<T: Pooled>(v: Vec<T>) {
    T::pool().give(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_without_a_new_allocation() {
        let p: Pool<u64> = Pool::new();
        let mut v = p.take(1000);
        v.extend(0..10);
        let at = v.as_ptr();
        p.give(v);
        let again = p.take(500);
        assert_eq!(again.as_ptr(), at);
        assert!(again.is_empty(), "given back emptied");
        // too small for a bigger request: a new one
        p.give(again);
        let big = p.take(5000);
        assert_ne!(big.as_ptr(), at);
        assert!(big.capacity() >= 5000);
    }

    #[test]
    fn the_smallest_buffer_that_fits_is_taken() {
        let p: Pool<u8> = Pool::new();
        let (a, b, c) = (p.take(100), p.take(1000), p.take(10_000));
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        p.give(c);
        p.give(a);
        p.give(b);
        let (mid, small) = (p.take(500), p.take(50));
        assert_eq!((mid.as_ptr(), small.as_ptr()), (pb, pa));
    }

    #[test]
    fn a_full_pool_keeps_the_bigger_buffers() {
        let p: Pool<u8> = Pool::new();
        for _ in 0..KEEP {
            p.give(Vec::with_capacity(10));
        }
        assert_eq!(p.kept(), KEEP);
        let big = Vec::<u8>::with_capacity(1 << 20);
        let at = big.as_ptr();
        p.give(big);
        assert_eq!(p.kept(), KEEP, "one small let go for the big one");
        let again = p.take(1 << 20);
        assert_eq!(again.as_ptr(), at);
        assert_eq!(p.kept(), KEEP - 1);
        // nothing past the byte cap is kept
        p.give(Vec::<u8>::with_capacity(KEEP_BYTES + 1));
        assert_eq!(p.kept(), KEEP - 1);
    }
}
