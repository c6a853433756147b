//! The gateway envelope reader on arbitrary Kafka values: no panic, and what it reads is
//! what the value holds (written back field by field, it is the value's prefix).
#![no_main]

use hj212::envelope::{read, MAGIC, VERSION};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = read(data) {
        let mut back = MAGIC.to_vec();
        back.push(VERSION);
        back.push(e.kind);
        back.extend_from_slice(&e.receive_ns.to_be_bytes());
        back.extend_from_slice(&e.seq.to_be_bytes());
        back.push(e.gateway.len() as u8);
        back.extend_from_slice(e.gateway);
        back.push(e.peer.len() as u8);
        back.extend_from_slice(e.peer);
        back.extend_from_slice(&(e.reason.len() as u16).to_be_bytes());
        back.extend_from_slice(e.reason);
        back.extend_from_slice(&(e.raw.len() as u32).to_be_bytes());
        back.extend_from_slice(e.raw);
        assert!(data.starts_with(&back), "read {e:?} from {data:?}");
    }
});
