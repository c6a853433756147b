//! The stream framer on arbitrary bytes in arbitrary chunkings: no panic, bounded buffer,
//! and the same frames whichever way the stream is cut.
#![no_main]

use hj212::framer::Framer;
use hj212::{Options, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // first byte picks a chunk size so one input explores one chunking
    let chunk = usize::from(data[0]).max(1);
    let stream = &data[1..];
    let mut whole = Framer::new(Options::lenient());
    let mut a = Vec::new();
    whole.feed(stream, &mut a);
    whole.finish(&mut a);
    let mut cut = Framer::new(Options::lenient());
    let mut b = Vec::new();
    for piece in stream.chunks(chunk) {
        cut.feed(piece, &mut b);
        assert!(cut.buffered() <= MAX_FRAME + chunk);
    }
    cut.finish(&mut b);
    let frames_a: Vec<_> = a.iter().filter_map(|r| r.as_ref().ok()).collect();
    let frames_b: Vec<_> = b.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(frames_a, frames_b);
});
