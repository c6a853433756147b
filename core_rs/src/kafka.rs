//! Kafka record batches (message format v2) made from the gateway spool's records, for its
//! publisher (`pipeline/gateway/publisher.py`): what aiokafka's batch builder does record by
//! record in Python, done here for a whole spool read at once.
//!
//! `split` walks the spool records of a read (`crate::spool`'s format, each CRC-checked),
//! picks each one's partition as Kafka's default partitioner does (murmur2 of the key; a
//! record without a key goes round-robin), and appends it to its partition's records
//! section. `batch` wraps a records section in the batch header once the producer's id,
//! epoch and base sequence are known (aiokafka sets them when it sends the batch, for
//! idempotence), with the CRC-32C Kafka checks.

use crate::envelope::TooLong;

/// One partition's records from one spool read (a section, not yet a batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub topic: u8,
    pub partition: i32,
    /// the records, back to back, with offset deltas from 0
    pub records: Vec<u8>,
    pub count: u32,
}

/// What `split` found wrong in the spool bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// a record is cut short or fails its CRC-32 at this byte offset
    Corrupt(usize),
    /// a record's topic tag has no partitions given
    Topic(u8),
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitError::Corrupt(at) => write!(
                f,
                "spool record at byte {at} of a read is cut short or fails its CRC: the \
                 disk returned other bytes than were fsynced"
            ),
            SplitError::Topic(t) => write!(
                f,
                "spool record with topic tag {t}, which has no partitions"
            ),
        }
    }
}

/// The result of `split`: sections in the order their partitions first appear, and the
/// records per topic tag (skipped ones included).
#[derive(Debug, Default)]
pub struct Split {
    pub sections: Vec<Section>,
    pub per_topic: Vec<u64>,
}

/// Kafka's murmur2 (the Java client's `Utils.murmur2`), as a signed 32-bit value.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if let Some(&b) = tail.get(2) {
            h ^= u32::from(b) << 16;
        }
        if let Some(&b) = tail.get(1) {
            h ^= u32::from(b) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Split the spool records in `data` (`count_limit` at most) by partition.
///
/// `partitions[tag]` lists the topic's partitions; `rr` is the round-robin counter for
/// records without a key (advanced here). A record whose sequence number (`first_seq` +
/// its index) is at or below `written(tag, partition)` is skipped: Kafka has it already.
/// A partition's records go into sections of at most `max_section` bytes.
pub fn split(
    data: &[u8],
    partitions: &[Vec<i32>],
    rr: &mut u64,
    first_seq: u64,
    written: impl Fn(u8, i32) -> Option<u64>,
    max_section: usize,
) -> Result<Split, SplitError> {
    let mut out = Split {
        per_topic: vec![0; partitions.len()],
        ..Split::default()
    };
    // (topic, partition) -> index of its open section
    let mut open: Vec<((u8, i32), usize)> = Vec::new();
    let mut pos = 0usize;
    let mut index = 0u64;
    while pos < data.len() {
        let crate::spool::Record {
            topic,
            key,
            value,
            end,
        } = crate::spool::read_record(data, pos).ok_or(SplitError::Corrupt(pos))?;
        let parts = partitions
            .get(usize::from(topic))
            .filter(|p| !p.is_empty())
            .ok_or(SplitError::Topic(topic))?;
        if let Some(n) = out.per_topic.get_mut(usize::from(topic)) {
            *n += 1;
        }
        let partition = if key.is_empty() {
            *rr += 1;
            parts[(*rr % parts.len() as u64) as usize]
        } else {
            parts[((murmur2(key) & 0x7fff_ffff) as usize) % parts.len()]
        };
        let seq = first_seq + index;
        index += 1;
        pos = end;
        if written(topic, partition).is_some_and(|w| seq <= w) {
            continue;
        }
        let need = key.len() + value.len() + 32;
        let slot = open.iter().position(|(tp, _)| *tp == (topic, partition));
        let fits = slot
            .and_then(|i| open.get(i))
            .and_then(|&(_, at)| out.sections.get(at))
            .is_some_and(|s| s.records.len() + need <= max_section);
        let at = match slot {
            Some(i) if fits => open[i].1,
            _ => {
                out.sections.push(Section {
                    topic,
                    partition,
                    records: Vec::with_capacity(64 * 1024),
                    count: 0,
                });
                let at = out.sections.len() - 1;
                match slot {
                    Some(i) => open[i].1 = at,
                    None => open.push(((topic, partition), at)),
                }
                at
            }
        };
        let s = &mut out.sections[at];
        write_record(&mut s.records, s.count, key, value);
        s.count += 1;
    }
    Ok(out)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn varint(out: &mut Vec<u8>, v: i64) {
    let mut u = zigzag(v);
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

fn varint_len(v: i64) -> usize {
    let mut u = zigzag(v);
    let mut n = 1;
    while u >= 0x80 {
        u >>= 7;
        n += 1;
    }
    n
}

/// One v2 record: no attributes, timestamp delta 0, no headers.
fn write_record(out: &mut Vec<u8>, offset_delta: u32, key: &[u8], value: &[u8]) {
    let key_len: i64 = if key.is_empty() { -1 } else { key.len() as i64 };
    let body = 1 // attributes
        + varint_len(0) // timestamp delta
        + varint_len(i64::from(offset_delta))
        + varint_len(key_len)
        + key.len()
        + varint_len(value.len() as i64)
        + value.len()
        + varint_len(0); // headers
    varint(out, body as i64);
    out.push(0);
    varint(out, 0);
    varint(out, i64::from(offset_delta));
    varint(out, key_len);
    out.extend_from_slice(key);
    varint(out, value.len() as i64);
    out.extend_from_slice(value);
    varint(out, 0);
}

/// Bytes of a batch header (base offset through the record count).
pub const BATCH_HEAD: usize = 61;
/// Where the CRC-32C's span starts (the attributes).
const CRC_FROM: usize = 21;

/// What a batch's header says besides its records: how many, their time, and the
/// producer's state that aiokafka sets when it sends the batch (for idempotence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    pub count: u32,
    /// CreateTime of every record
    pub timestamp_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

/// The header of a v2 record batch of `records` (as `split` makes them): no compression,
/// not transactional, with the CRC-32C over the header's tail and `records`. The batch is
/// this header, then `records`.
pub fn batch_header(records: &[u8], meta: &BatchMeta) -> Result<[u8; BATCH_HEAD], TooLong> {
    let total = BATCH_HEAD + records.len();
    let too_long = |field, len| TooLong {
        field,
        len,
        max: i32::MAX as usize,
    };
    let batch_len = i32::try_from(total - 12).map_err(|_| too_long("batch", total))?;
    let n = i32::try_from(meta.count).map_err(|_| too_long("records", meta.count as usize))?;
    let last_delta = n.saturating_sub(1).max(0);
    let mut out = [0u8; BATCH_HEAD];
    let fields: [&[u8]; 14] = [
        &0i64.to_be_bytes(), // base offset (the broker assigns)
        &batch_len.to_be_bytes(),
        &(-1i32).to_be_bytes(), // partition leader epoch
        &[2],                   // magic
        &[0; 4],                // CRC, below
        &0i16.to_be_bytes(),    // attributes
        &last_delta.to_be_bytes(),
        &meta.timestamp_ms.to_be_bytes(), // base timestamp
        &meta.timestamp_ms.to_be_bytes(), // max timestamp
        &meta.producer_id.to_be_bytes(),
        &meta.producer_epoch.to_be_bytes(),
        &meta.base_sequence.to_be_bytes(),
        &n.to_be_bytes(),
        &[],
    ];
    let mut at = 0;
    for f in fields {
        out[at..at + f.len()].copy_from_slice(f);
        at += f.len();
    }
    let crc = crate::crc::crc32_with(&CRC32C, 0, &out[CRC_FROM..]);
    let crc = crate::crc::crc32_with(&CRC32C, crc, records);
    out[CRC_FROM - 4..CRC_FROM].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// A whole v2 record batch: `batch_header`, then `records`.
pub fn batch(records: &[u8], meta: &BatchMeta) -> Result<Vec<u8>, TooLong> {
    let head = batch_header(records, meta)?;
    let mut out = Vec::with_capacity(BATCH_HEAD + records.len());
    out.extend_from_slice(&head);
    out.extend_from_slice(records);
    Ok(out)
}

/// CRC-32C (Castagnoli), as Kafka's record batches carry it.
pub fn crc32c(data: &[u8]) -> u32 {
    crate::crc::crc32_with(&CRC32C, 0, data)
}

static CRC32C: [[u32; 256]; 8] = crate::crc::crc32_slices(0x82F6_3B78);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn murmur2_of_the_java_clients_examples() {
        // values from Kafka's UtilsTest.testMurmur2
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }
}
