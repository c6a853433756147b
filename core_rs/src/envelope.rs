//! The gateway's envelope around each frame on `hj212.frames` and `hj212.rejects`: read
//! for the stream worker, which takes thousands a batch, and written for the gateway's
//! accepted frames, one per frame a logger sends.
//!
//! The format is stated (and written) by `pipeline/gateway/envelope.py`; its `decode` and
//! `encode_accepted` are the references this reader and writer are tested against. All integers big-endian:
//! magic `HJGW`, version 1, kind (u8), receive time in ns (u64), gateway sequence (u64),
//! gateway id (u8 length + UTF-8), peer (u8 length + ASCII), reason (u16 length + UTF-8),
//! the frame (u32 length + its bytes exactly as received). Bytes after the frame are
//! ignored.

/// The envelope's magic bytes.
pub const MAGIC: &[u8; 4] = b"HJGW";
/// The one version this release reads.
pub const VERSION: u8 = 1;

/// The envelope's kind for an accepted frame.
pub const ACCEPTED: u8 = 1;

/// Why an envelope (or the spool record holding one) cannot be written: a field longer
/// than its length prefix can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLong {
    pub field: &'static str,
    pub len: usize,
    pub max: usize,
}

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} has {} bytes, more than the {} its length prefix can say",
            self.field, self.len, self.max
        )
    }
}

/// Append the envelope of an accepted frame to `out`. `sender` is the envelope's gateway
/// and peer fields already written (each a u8 length and its bytes: what
/// `envelope.sender_part` gives once per connection), so only the frame's own fields are
/// written per frame. The reason is empty.
pub fn write_accepted(
    out: &mut Vec<u8>,
    receive_ns: u64,
    seq: u64,
    sender: &[u8],
    raw: &[u8],
) -> Result<(), TooLong> {
    let raw_len = u32::try_from(raw.len()).map_err(|_| TooLong {
        field: "envelope's frame",
        len: raw.len(),
        max: u32::MAX as usize,
    })?;
    out.reserve(accepted_len(sender, raw));
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(ACCEPTED);
    out.extend_from_slice(&receive_ns.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(sender);
    out.extend_from_slice(&[0, 0]); // no reason
    out.extend_from_slice(&raw_len.to_be_bytes());
    out.extend_from_slice(raw);
    Ok(())
}

/// The length `write_accepted` adds.
pub fn accepted_len(sender: &[u8], raw: &[u8]) -> usize {
    4 + 1 + 1 + 8 + 8 + sender.len() + 2 + 4 + raw.len()
}

/// One envelope, borrowing its fields from the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub kind: u8,
    pub receive_ns: u64,
    pub seq: u64,
    pub gateway: &'a [u8],
    pub peer: &'a [u8],
    pub reason: &'a [u8],
    pub raw: &'a [u8],
}

/// A cursor over a value that names the field it could not read.
struct Reader<'a> {
    value: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.value.len());
        match end {
            Some(end) => {
                let out = &self.value[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(format!(
                "envelope of {} bytes is too short: its {field} needs {n} bytes at offset {}",
                self.value.len(),
                self.pos
            )),
        }
    }

    fn uint(&mut self, n: usize, field: &str) -> Result<u64, String> {
        Ok(self
            .take(n, field)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A length of `width` bytes, then that many bytes.
    fn sized(&mut self, width: usize, field: &str) -> Result<&'a [u8], String> {
        let len = self.uint(width, &format!("{field} length"))?;
        let len = usize::try_from(len).map_err(|_| format!("{field} length {len} too large"))?;
        self.take(len, field)
    }
}

/// Read one envelope; the error says what is wrong with the value.
pub fn read(value: &[u8]) -> Result<Envelope<'_>, String> {
    let mut r = Reader { value, pos: 0 };
    let magic = r.take(4, "magic")?;
    if magic != MAGIC {
        return Err(format!(
            "value starts with {}, not HJGW: not a gateway envelope (is this topic written \
             by something else?)",
            String::from_utf8_lossy(magic).escape_debug()
        ));
    }
    let version = r.uint(1, "version")?;
    if version != u64::from(VERSION) {
        return Err(format!(
            "envelope version {version} is not {VERSION}; upgrade the reader to the gateway's \
             version"
        ));
    }
    let kind = r.uint(1, "kind")? as u8; // one byte: fits
    let receive_ns = r.uint(8, "receive time")?;
    let seq = r.uint(8, "sequence number")?;
    let gateway = r.sized(1, "gateway id")?;
    let peer = r.sized(1, "peer")?;
    let reason = r.sized(2, "reason")?;
    let len = r.uint(4, "frame length")?;
    let raw = r.take(len as usize, "frame").map_err(|_| {
        format!(
            "envelope says the frame has {len} bytes but only {} follow: the value was cut",
            value.len() - r.pos
        )
    })?;
    Ok(Envelope {
        kind,
        receive_ns,
        seq,
        gateway,
        peer,
        reason,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(reason: &[u8], raw: &[u8]) -> Vec<u8> {
        let mut v = b"HJGW\x01\x02".to_vec();
        v.extend_from_slice(&7u64.to_be_bytes());
        v.extend_from_slice(&9u64.to_be_bytes());
        v.extend_from_slice(b"\x02gw\x09127.0.0.1");
        v.extend_from_slice(&(reason.len() as u16).to_be_bytes());
        v.extend_from_slice(reason);
        v.extend_from_slice(&(raw.len() as u32).to_be_bytes());
        v.extend_from_slice(raw);
        v
    }

    #[test]
    fn an_envelope_reads_back_and_every_cut_of_it_is_an_error() {
        let v = envelope(b"crc: bad", b"##0001abcd\r\n");
        let e = read(&v).expect("whole");
        assert_eq!((e.kind, e.receive_ns, e.seq), (2, 7, 9));
        assert_eq!((e.gateway, e.peer), (&b"gw"[..], &b"127.0.0.1"[..]));
        assert_eq!(
            (e.reason, e.raw),
            (&b"crc: bad"[..], &b"##0001abcd\r\n"[..])
        );
        for cut in 0..v.len() {
            assert!(read(&v[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = v.clone();
        trailing.push(0);
        assert_eq!(read(&trailing), read(&v));
    }

    #[test]
    fn an_accepted_envelope_reads_back() {
        let mut v = vec![0xAA];
        write_accepted(&mut v, 7, 9, b"\x02gw\x09127.0.0.1", b"##0001abcd\r\n").unwrap();
        assert_eq!(
            v.len(),
            1 + accepted_len(b"\x02gw\x09127.0.0.1", b"##0001abcd\r\n")
        );
        let e = read(&v[1..]).expect("whole");
        assert_eq!((e.kind, e.receive_ns, e.seq), (ACCEPTED, 7, 9));
        assert_eq!((e.gateway, e.peer), (&b"gw"[..], &b"127.0.0.1"[..]));
        assert_eq!((e.reason, e.raw), (&b""[..], &b"##0001abcd\r\n"[..]));
        assert_eq!(v[1..], envelope_of(1, b"", b"##0001abcd\r\n")[..]);
    }

    fn envelope_of(kind: u8, reason: &[u8], raw: &[u8]) -> Vec<u8> {
        let mut v = envelope(reason, raw);
        v[5] = kind;
        v
    }

    #[test]
    fn a_foreign_value_or_version_is_named() {
        assert!(read(b"{\"json\": 1}xxxxxxxxxxxxxxxxxxxxxxxx")
            .unwrap_err()
            .contains("not a gateway envelope"));
        let mut v = envelope(b"", b"##");
        v[4] = 2;
        assert!(read(&v).unwrap_err().contains("version 2"));
    }
}
