//! Whole-frame parsing, both modes, a bare segment, the batch decoder and the header scan:
//! none may panic on any input, and what lenient mode accepts must re-encode and parse again.
//! Allowing CRC variants never changes a frame that was accepted without them. The batch
//! decoder's fast path and its validating path give the same columns, and a single frame is
//! parsed the same with the fast path for plain frames as by the validating path alone; its
//! answers are the general encoder's.
#![no_main]

use hj212::crc::known_variants;
use hj212::encode::{answer, answer_by_encoder, Reply};
use hj212::fastpath::KnownCodes;
use hj212::{batch, hint, ErrorKind, Frame, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = Frame::parse(data, &Options::strict());
    let lenient = Frame::parse(data, &Options::lenient());
    // the plain shape's fast path gives the validating path's frame or error, in both modes
    assert_eq!(strict, Frame::parse_validating(data, &Options::strict()));
    assert_eq!(lenient, Frame::parse_validating(data, &Options::lenient()));
    if strict.is_ok() {
        // whatever the letter of the standard accepts, lenient mode accepts too
        assert!(lenient.is_ok(), "strict accepted, lenient rejected: {:?}", lenient.err());
    }
    if let Ok(f) = &lenient {
        // an answer written straight into bytes is the general encoder's
        for reply in [Reply::Auto, Reply::Data, Reply::Notify, Reply::QnRtn(1)] {
            assert_eq!(answer(f, reply), answer_by_encoder(f, reply), "{reply:?}");
        }
        let _ = f.pollutants();
        let _ = f.cp_fields().count();
        // the segment alone, framed again with a correct length and CRC, parses the same way
        let again = Frame::parse_segment(f.segment_bytes(), &Options::lenient())
            .expect("a segment lenient mode accepted must parse again");
        assert_eq!(again.pollutants(), f.pollutants());
    }
    let variants = Frame::parse(data, &Options::lenient().with_crc_variants(known_variants()));
    match (&lenient, &variants) {
        (Ok(f), v) => assert_eq!(v.as_ref().ok(), Some(f), "a variant changed a good frame"),
        // a CRC the variant matched is no CRC error once allowed
        (Err(e), Err(v)) if e.crc_variant.is_some() => {
            assert_eq!(e.kind, ErrorKind::Crc, "{e}");
            assert_ne!(v.kind, ErrorKind::Crc, "{e} / {v}");
        }
        _ => {}
    }
    let _ = Frame::parse_segment(data, &Options::lenient());
    let _ = hint::scan(data);
    let cols = batch::decode_batch(&[data], &Options::lenient());
    assert_eq!(cols.status[0] == 0, lenient.is_ok());
    // the fast path for plain data areas gives what the validating path gives, in both modes
    let slow = batch::decode_batch_validating(&[data], &Options::lenient());
    assert!(cols.same_as(&slow), "fast {cols:?}\nvalidating {slow:?}");
    let fast = batch::decode_batch(&[data], &Options::strict());
    let slow = batch::decode_batch_validating(&[data], &Options::strict());
    assert!(fast.same_as(&slow), "strict: fast {fast:?}\nvalidating {slow:?}");
    // Several frames in one batch, so that the fast path's per-station templates are made
    // and used: the input's lines (a frame each, as a seed of two frames from one station
    // gives them), then all of them again (each station's template now in place), then the
    // whole input. A template used where the data area differs from it must still give
    // the validating path's columns.
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').take(16).collect();
    let mut frames = lines.clone();
    frames.extend_from_slice(&lines);
    frames.push(data);
    for opts in [Options::lenient(), Options::strict()] {
        let fast = batch::decode_batch_with(&frames, &opts, &mut KnownCodes::default());
        let slow = batch::decode_batch_validating(&frames, &opts);
        assert!(fast.same_as(&slow), "batch: fast {fast:?}\nvalidating {slow:?}");
    }
});
