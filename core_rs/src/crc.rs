//! CRC16 of HJ 212 appendix A.
//!
//! The standard's algorithm: start at 0xFFFF; for each byte, `crc = (crc >> 8) ^ byte`, then
//! eight rounds of "shift right, xor 0xA001 if the bit shifted out was 1". This is not the
//! Modbus CRC (which xors the byte into the low half), so the table below is built from the
//! standard's own definition and the tests prove the two agree on every input they try.

/// Bit-by-bit CRC exactly as appendix A writes it. Kept as the reference for tests.
pub fn crc16_bitwise(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc = (crc >> 8) ^ u16::from(b);
        for _ in 0..8 {
            let lsb = crc & 1;
            crc >>= 1;
            if lsb != 0 {
                crc ^= 0xA001;
            }
        }
    }
    crc
}

/// After `crc = (crc >> 8) ^ b`, the eight rounds depend only on the low byte
/// `x = (crc & 0xFF)`; the high byte (`crc >> 8` is at most 0xFF, so the high byte of the
/// value entering the rounds is zero) means the rounds act on an 8-bit value: one table.
const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut k = 0;
        while k < 8 {
            let lsb = crc & 1;
            crc >>= 1;
            if lsb != 0 {
                crc ^= 0xA001;
            }
            k += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static TABLE: [u16; 256] = build_table();

/// `SLICES[k][x] = T[U^k(x)]` where `U(x) = T[x] >> 8`.
///
/// Appendix A's step is `crc = T[(crc >> 8) ^ byte]`: only the high byte `h` of the state
/// carries on, `h' = U(h ^ byte)`. `T` is linear over GF(2) (eight rounds of shift and
/// conditional xor, with `T[0] = 0`), so `U` is too, and eight steps unroll into
/// `crc = S7[h ^ b0] ^ S6[b1] ^ ... ^ S0[b7]`: one dependent lookup per eight bytes instead
/// of eight. The tests check this against the bit-by-bit definition.
const fn build_slices() -> [[u16; 256]; 8] {
    let t = build_table();
    let mut s = [[0u16; 256]; 8];
    let mut x = 0;
    while x < 256 {
        let mut u = x; // U^k(x), starting at k = 0
        let mut k = 0;
        while k < 8 {
            s[k][x] = t[u];
            u = (t[u] >> 8) as usize;
            k += 1;
        }
        x += 1;
    }
    s
}

static SLICES: [[u16; 256]; 8] = build_slices();

/// CRC16 (appendix A), eight bytes per step.
#[inline]
pub fn crc16(data: &[u8]) -> u16 {
    crc16_update(0xFFFF, data)
}

/// Continue a CRC over more bytes: `crc16_update(crc16(a), b) == crc16(a ++ b)`.
#[inline]
pub fn crc16_update(mut crc: u16, data: &[u8]) -> u16 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let h = (crc >> 8) as u8;
        crc = SLICES[7][usize::from(h ^ c[0])]
            ^ SLICES[6][usize::from(c[1])]
            ^ SLICES[5][usize::from(c[2])]
            ^ SLICES[4][usize::from(c[3])]
            ^ SLICES[3][usize::from(c[4])]
            ^ SLICES[2][usize::from(c[5])]
            ^ SLICES[1][usize::from(c[6])]
            ^ SLICES[0][usize::from(c[7])];
    }
    for &b in chunks.remainder() {
        crc = TABLE[usize::from((crc >> 8) as u8 ^ b)];
    }
    crc
}

/// One table lookup per byte: the plain table-driven form, kept for comparison.
pub fn crc16_bytewise(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc = TABLE[usize::from((crc >> 8) as u8 ^ b)];
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_example() {
        let seg = b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";
        assert_eq!(seg.len(), 101);
        assert_eq!(crc16(seg), 0x1C80);
        assert_eq!(crc16_bitwise(seg), 0x1C80);
    }

    #[test]
    fn empty_is_initial_value() {
        assert_eq!(crc16(b""), 0xFFFF);
    }

    #[test]
    fn differs_from_modbus() {
        // Modbus CRC16 of "123456789" is 0x4B37; appendix A's is not.
        assert_ne!(crc16(b"123456789"), 0x4B37);
    }

    #[test]
    fn every_single_byte() {
        for b in 0..=255u8 {
            assert_eq!(crc16(&[b]), crc16_bitwise(&[b]));
        }
    }

    proptest! {
        #[test]
        fn update_continues_a_crc(a in proptest::collection::vec(any::<u8>(), 0..300), b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let whole: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
            prop_assert_eq!(crc16_update(crc16(&a), &b), crc16(&whole));
        }

        #[test]
        fn table_equals_bitwise(data in proptest::collection::vec(any::<u8>(), 0..2100)) {
            prop_assert_eq!(crc16(&data), crc16_bitwise(&data));
            prop_assert_eq!(crc16_bytewise(&data), crc16_bitwise(&data));
        }
    }
}
