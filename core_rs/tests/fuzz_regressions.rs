//! Inputs the fuzzers found, kept as regression tests.

use hj212::framer::Framer;
use hj212::{Options, MAX_FRAME};

/// Fed one byte at a time, the framer must never hold more than one largest frame plus the
/// chunk (found by the `framer` fuzz target).
#[test]
fn framer_buffer_bound_byte_by_byte() {
    let data = include_bytes!("fuzz/framer-buffer-bound.bin");
    let mut framer = Framer::new(Options::lenient());
    let mut out = Vec::new();
    for (i, b) in data[1..].iter().enumerate() {
        framer.feed(std::slice::from_ref(b), &mut out);
        assert!(
            framer.buffered() <= MAX_FRAME + 1,
            "byte {i}: {} buffered",
            framer.buffered()
        );
    }
}
