//! Where `decode_batch` spends its time, stage by stage, on a corpus file of length-prefixed
//! frames (u32 little-endian length, then the frame), as `benchmarks/parse.py` writes them:
//!
//!     cargo run --release --example batch_profile -- corpus.bin [repeats]
//!
//! Each stage adds work to the one before, so the differences are the cost of each step.
//! A third argument runs one stage alone: `fast`, `validating` or `parse` (`decode_batch`,
//! `decode_batch_validating` or `Frame::parse` frame by frame, for a profiler), `bails`
//! (how many accepted frames leave the fast path) or `same` (the two paths give the same
//! columns on this corpus). Instructions
//! per frame, as the README gives them:
//!
//!     valgrind --tool=callgrind target/release/examples/batch_profile corpus.bin 1 fast
//!     callgrind_annotate --inclusive=yes callgrind.out.<pid> | grep -E 'batch::decode_batch |fast_cp |frame::locate |fast_header_with '
//!
//! (divide by the frame count).

use std::time::Instant;

use hj212::batch::{decode_batch, decode_batch_validating};
use hj212::frame::{locate, Located};
use hj212::segment::{parse_frame, parse_frame_head};
use hj212::{crc16, Options, WarnCount};

fn read_corpus(path: &str) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).expect("corpus file");
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= data.len() {
        let n = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        out.push(data[at + 4..at + 4 + n].to_vec());
        at += 4 + n;
    }
    out
}

fn best(repeats: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut sink = 0;
    for _ in 0..repeats {
        let t = Instant::now();
        sink = std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, sink)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let frames = read_corpus(args.get(1).map_or("/tmp/dcodec/corpus.bin", |s| s.as_str()));
    let repeats = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let slices: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let n = slices.len();
    let bytes: usize = slices.iter().map(|f| f.len()).sum();
    let opts = Options::default();
    let report = |name: &str, (s, sink): (f64, usize)| {
        println!(
            "{name:<44} {:>7.0} ns/frame {:>8.0} k frames/s {:>7.0} MB/s  ({sink})",
            s * 1e9 / n as f64,
            n as f64 / s / 1e3,
            bytes as f64 / s / 1e6
        );
    };
    println!("{n} frames, {} bytes a frame", bytes / n);
    if let Some(stage) = args.get(3) {
        // one stage only, for a profiler
        let r = match stage.as_str() {
            "bails" => {
                let mut c = hj212::batch::Columns::default();
                let mut known = Default::default();
                let mut bails = 0;
                for (i, f) in slices.iter().enumerate() {
                    if parse_frame(f, &opts, &mut WarnCount::default()).is_ok() {
                        let fast = hj212::batch::fast_frame(f, &opts, &mut c, i, &mut known, None);
                        bails += usize::from(fast.is_none());
                    }
                }
                println!("{bails} accepted frames leave the fast path");
                return;
            }
            "same" => {
                // the fast path against the validating path on this corpus
                for (k, c) in slices.chunks(10_000).enumerate() {
                    let fast = decode_batch(c, &opts);
                    let slow = decode_batch_validating(c, &opts);
                    assert!(fast.same_as(&slow), "batch {k}: the two paths differ");
                }
                println!("the fast path and the validating path give the same columns");
                return;
            }
            "parse" => best(repeats, || {
                slices
                    .iter()
                    .filter(|f| hj212::Frame::parse(f, &opts).is_ok())
                    .count()
            }),
            "fast" => best(repeats, || {
                slices
                    .chunks(10_000)
                    .map(|c| decode_batch(c, &opts).n_rows())
                    .sum()
            }),
            _ => best(repeats, || {
                slices
                    .chunks(10_000)
                    .map(|c| decode_batch_validating(c, &opts).n_rows())
                    .sum()
            }),
        };
        report(stage, r);
        return;
    }
    report(
        "crc16 over each whole frame",
        best(repeats, || slices.iter().map(|f| crc16(f) as usize).sum()),
    );
    report(
        "locate (length, tail, CRC)",
        best(repeats, || {
            let mut w = Vec::new();
            slices
                .iter()
                .filter(|f| {
                    f.starts_with(b"##")
                        && matches!(locate(f, true, &opts, &mut w), Located::Frame { .. })
                })
                .count()
        }),
    );
    report(
        "parse_frame_head (framing, CRC, header)",
        best(repeats, || {
            slices
                .iter()
                .filter(|f| parse_frame_head(f, &opts, &mut WarnCount::default()).is_ok())
                .count()
        }),
    );
    report(
        "parse_frame (validating, no columns)",
        best(repeats, || {
            slices
                .iter()
                .filter(|f| parse_frame(f, &opts, &mut WarnCount::default()).is_ok())
                .count()
        }),
    );
    report(
        "Frame::parse (plain frames by the fast path)",
        best(repeats, || {
            slices
                .iter()
                .filter(|f| hj212::Frame::parse(f, &opts).is_ok())
                .count()
        }),
    );
    let batch = 10_000usize;
    {
        report(
            &format!("decode_batch_validating, batches of {batch}"),
            best(repeats, || {
                slices
                    .chunks(batch)
                    .map(|c| decode_batch_validating(c, &opts).n_rows())
                    .sum()
            }),
        );
        report(
            &format!("decode_batch (fast path), batches of {batch}"),
            best(repeats, || {
                slices
                    .chunks(batch)
                    .map(|c| decode_batch(c, &opts).n_rows())
                    .sum()
            }),
        );
    }
}
