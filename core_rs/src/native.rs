//! ClickHouse's Native wire form of a `String` column, from a column of fixed-width,
//! NUL-padded byte strings (NumPy's `S<width>` layout, as `decode_batch` returns codes,
//! MNs, flags): each value as its length in unsigned LEB128, then its bytes. A value ends
//! after its last non-NUL byte, which is what NumPy gives back for an item (trailing NULs
//! are padding, inner NULs are kept).
//!
//! The stream worker inserts seven such columns of about seven rows a frame; written one
//! Python `bytes` at a time by the driver they cost about 60 ns a value, here a few.

/// Append the Native form of the `blob.len() / width` values of `blob` to `out`.
/// A `width` of 0 means values that are all empty; a trailing partial value is ignored
/// (the caller passes whole columns).
pub fn write_strings(blob: &[u8], width: usize, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    out.reserve(blob.len() + blob.len() / width * 2);
    for value in blob.chunks_exact(width) {
        let len = value
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |last| last + 1);
        write_leb128(len as u64, out);
        out.extend_from_slice(&value[..len]);
    }
}

fn write_leb128(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(values: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in values {
            let mut n = v.len();
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            out.extend_from_slice(v);
        }
        out
    }

    #[test]
    fn trailing_nuls_are_padding_inner_nuls_are_kept() {
        let blob = [
            &b"a01\0\0\0"[..],
            b"w0\0x\0\0",
            b"\0\0\0\0\0\0",
            b"\0\0\0\0\0N",
        ]
        .concat();
        let mut out = Vec::new();
        write_strings(&blob, 6, &mut out);
        assert_eq!(out, reference(&[b"a01", b"w0\0x", b"", b"\0\0\0\0\0N"]));
    }

    #[test]
    fn long_values_take_a_two_byte_length() {
        let mut blob = vec![b'x'; 300];
        blob[299] = 0;
        let mut out = Vec::new();
        write_strings(&blob, 300, &mut out);
        assert_eq!(out[..2], [0xab, 0x02]); // 299 = 0b10_0101011
        assert_eq!(out, reference(&[&blob[..299]]));
    }

    #[test]
    fn empty_and_zero_width_columns_write_nothing() {
        let mut out = Vec::new();
        write_strings(b"", 8, &mut out);
        write_strings(b"", 0, &mut out);
        assert!(out.is_empty());
    }
}
