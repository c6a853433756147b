//! The gateway spool's record: what `pipeline/gateway/spool.py` appends to a segment for
//! each message it keeps until Kafka has it. That module states the format and writes it
//! (its `record` is the reference this writer is tested against); this writer serves the
//! gateway's hot path, where a record, its envelope and the frame's answer are made in one
//! call.
//!
//! Big-endian: body length (u32), CRC-32 of the body (zlib's, u32), then the body: the
//! topic tag (u8), the key's length (u16), the key, the value.

use crate::envelope::TooLong;

/// Bytes before the body.
pub const HEAD: usize = 8;
/// Append one record to `out`.
pub fn write_record(out: &mut Vec<u8>, topic: u8, key: &[u8], value: &[u8]) -> Result<(), TooLong> {
    write_record_with(out, topic, key, |out| {
        out.extend_from_slice(value);
        Ok(())
    })
    .map(|_| ())
}

/// Append one record to `out` whose value `value_into` writes in place (the gateway's
/// envelope: made once, not made and then copied); returns where the value starts in
/// `out`. On an error nothing is appended.
pub fn write_record_with(
    out: &mut Vec<u8>,
    topic: u8,
    key: &[u8],
    value_into: impl FnOnce(&mut Vec<u8>) -> Result<(), TooLong>,
) -> Result<usize, TooLong> {
    let key_len = u16::try_from(key.len()).map_err(|_| TooLong {
        field: "key",
        len: key.len(),
        max: u16::MAX as usize,
    })?;
    let start = out.len();
    out.extend_from_slice(&[0; HEAD]); // length and CRC, once the body is there
    out.push(topic);
    out.extend_from_slice(&key_len.to_be_bytes());
    out.extend_from_slice(key);
    let value_at = out.len();
    let body = start + HEAD;
    let written = value_into(out).and_then(|()| {
        let body_len = out.len() - body;
        u32::try_from(body_len).map_err(|_| TooLong {
            field: "record body",
            len: body_len,
            max: u32::MAX as usize,
        })
    });
    let body_len = match written {
        Ok(n) => n,
        Err(e) => {
            out.truncate(start);
            return Err(e);
        }
    };
    let crc = crc32fast::hash(&out[body..]);
    out[start..start + 4].copy_from_slice(&body_len.to_be_bytes());
    out[start + 4..body].copy_from_slice(&crc.to_be_bytes());
    Ok(value_at)
}

/// One record read back: its topic tag, key and value, and where the next one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub topic: u8,
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub end: usize,
}

/// The record at `pos` of `data`, if it is whole and its CRC holds.
pub fn read_record(data: &[u8], pos: usize) -> Option<Record<'_>> {
    let head = data.get(pos..pos.checked_add(HEAD)?)?;
    let body_len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let end = (pos + HEAD).checked_add(body_len)?;
    let body = data.get(pos + HEAD..end)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let (&topic, rest) = body.split_first()?;
    let klen = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    Some(Record {
        topic,
        key: rest.get(2..2 + klen)?,
        value: rest.get(2 + klen..)?,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_has_its_length_crc_topic_and_key() {
        let mut out = vec![];
        write_record(&mut out, 1, b"MN1", b"abc").unwrap();
        let body = b"\x01\x00\x03MN1abc";
        let mut want = (body.len() as u32).to_be_bytes().to_vec();
        want.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
        want.extend_from_slice(body);
        assert_eq!(out, want);
        // zlib's CRC-32 of the check string
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_record_is_read_back_and_a_changed_byte_is_refused() {
        let mut out = vec![];
        write_record(&mut out, 1, b"MN1", b"abc").unwrap();
        write_record(&mut out, 0, b"", b"xy").unwrap();
        let first = read_record(&out, 0).expect("whole");
        assert_eq!(
            (first.topic, first.key, first.value),
            (1, &b"MN1"[..], &b"abc"[..])
        );
        let second = read_record(&out, first.end).expect("whole");
        assert_eq!(
            (second.topic, second.key, second.value),
            (0, &b""[..], &b"xy"[..])
        );
        assert_eq!(second.end, out.len());
        assert_eq!(
            read_record(&out[..out.len() - 1], first.end),
            None,
            "cut short"
        );
        out[HEAD + 4] ^= 1;
        assert_eq!(read_record(&out, 0), None, "CRC");
    }

    #[test]
    fn a_key_too_long_for_its_prefix_is_refused() {
        let mut out = vec![];
        let key = vec![b'k'; 70_000];
        let e = write_record(&mut out, 0, &key, b"").unwrap_err();
        assert_eq!((e.field, e.len), ("key", 70_000));
        assert!(out.is_empty());
        let refused = write_record_with(&mut out, 0, b"k", |_| {
            Err(TooLong {
                field: "frame",
                len: 1,
                max: 0,
            })
        });
        assert_eq!(refused.unwrap_err().field, "frame");
        assert!(out.is_empty(), "a refused value leaves nothing behind");
    }

    #[test]
    fn a_value_written_in_place_is_the_same_record() {
        let mut direct = vec![];
        write_record(&mut direct, 2, b"MN1", b"value").unwrap();
        let mut in_place = vec![7];
        let at = write_record_with(&mut in_place, 2, b"MN1", |o| {
            o.extend_from_slice(b"value");
            Ok(())
        })
        .unwrap();
        assert_eq!(in_place[1..], direct[..]);
        assert_eq!(&in_place[at..], b"value");
    }
}
