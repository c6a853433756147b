//! The stream framer on arbitrary bytes in arbitrary chunkings: no panic, bounded buffer,
//! the same frames whichever way the stream is cut, and a good frame fed after any bytes
//! comes out of that very feed (nothing before it may hold it back); the same frames as a
//! framer that reads every frame by the validating path alone.
#![no_main]

use hj212::crc::crc16;
use hj212::framer::Framer;
use hj212::{Frame, Options, Rejected, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

const GOOD: &[u8] = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";

/// Bytes before GOOD that, read up to GOOD's tail, carry GOOD's CRC digits as their own
/// correct CRC (one chance in 65536, and a fuzzer is good at finding it): then the two are
/// rightly one frame, or one rejection.
fn crc_coincidence(out: &[Result<Frame, Rejected>]) -> bool {
    out.iter().any(|r| {
        let raw = match r {
            Ok(f) => &f.raw,
            Err(r) => &r.raw,
        };
        raw.len() > GOOD.len() + 6
            && raw.ends_with(GOOD)
            && format!("{:04X}", crc16(&raw[6..raw.len() - 6])).as_bytes()
                == &GOOD[GOOD.len() - 6..GOOD.len() - 2]
    })
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // first byte picks a chunk size so one input explores one chunking, and the mode
    let chunk = usize::from(data[0] >> 1).max(1);
    let opts = if data[0] & 1 == 1 {
        Options::strict()
    } else {
        Options::lenient()
    };
    let stream = &data[1..];
    let mut whole = Framer::new(opts);
    let mut a = Vec::new();
    whole.feed(stream, &mut a);
    whole.finish(&mut a);
    // the fast path for plain frames changes nothing the stream yields
    let mut reference = Framer::validating(opts);
    let mut r = Vec::new();
    reference.feed(stream, &mut r);
    reference.finish(&mut r);
    assert_eq!(a, r, "the framer's fast path and its validating path differ");
    let mut cut = Framer::new(opts);
    let mut b = Vec::new();
    for piece in stream.chunks(chunk) {
        cut.feed(piece, &mut b);
        assert!(cut.buffered() <= MAX_FRAME + chunk);
    }
    let mut last = Vec::new();
    cut.feed(GOOD, &mut last);
    if !crc_coincidence(&last) {
        assert_eq!(
            last.last().and_then(|r| r.as_ref().ok()).map(|f| &f.raw[..]),
            Some(GOOD),
            "a good frame waited behind the bytes before it: {last:?}"
        );
        assert_eq!(cut.buffered(), 0);
    }
    cut.finish(&mut last);
    let frames_a: Vec<_> = a.iter().filter_map(|r| r.as_ref().ok()).collect();
    let frames_b: Vec<_> = b.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(frames_a, frames_b);
});
