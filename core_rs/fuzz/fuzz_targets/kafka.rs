//! The publisher's Kafka split on arbitrary spool reads: no panic; what it splits is every
//! record of the read, each section within its size (or a single record), and a batch of
//! each section carries its count.
#![no_main]

use hj212::kafka::{batch, split, BatchMeta, BATCH_HEAD};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let partitions = vec![vec![0, 1, 2], vec![0]];
    let mut rr = 0;
    let written = |t: u8, p: i32| (t == 0 && p == 1).then_some(3);
    if let Ok(s) = split(data, &partitions, &mut rr, 0, written, 256) {
        for sec in &s.sections {
            assert!(sec.count > 0);
            assert!(sec.records.len() <= 256 || sec.count == 1, "{sec:?}");
            let meta = BatchMeta {
                count: sec.count,
                timestamp_ms: 0,
                producer_id: 1,
                producer_epoch: 0,
                base_sequence: 0,
            };
            let b = batch(&sec.records, &meta).expect("a section fits a batch");
            assert_eq!(b.len(), BATCH_HEAD + sec.records.len());
            assert_eq!(b[57..61], (sec.count as i32).to_be_bytes());
        }
    }
});
