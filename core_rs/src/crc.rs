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
        crc = step8(crc, c);
    }
    for &b in chunks.remainder() {
        crc = TABLE[usize::from((crc >> 8) as u8 ^ b)];
    }
    crc
}

/// Eight bytes `c[..8]` into the CRC: the first lookup waits for the last step's result,
/// the other seven do not.
#[inline(always)]
fn step8(crc: u16, c: &[u8]) -> u16 {
    let h = (crc >> 8) as u8;
    SLICES[7][usize::from(h ^ c[0])]
        ^ SLICES[6][usize::from(c[1])]
        ^ SLICES[5][usize::from(c[2])]
        ^ SLICES[4][usize::from(c[3])]
        ^ SLICES[3][usize::from(c[4])]
        ^ SLICES[2][usize::from(c[5])]
        ^ SLICES[1][usize::from(c[6])]
        ^ SLICES[0][usize::from(c[7])]
}

/// How many byte strings `crc16_lanes` runs side by side.
pub const LANES: usize = 4;

/// `crc16` of each of up to `LANES` byte strings (`out[k] = crc16(data[k])`), computed side
/// by side.
///
/// One string's CRC is a chain: each eight-byte step starts with a table read that needs
/// the previous step's result, so a core computing one CRC mostly waits on its L1 cache
/// (about 1 byte a cycle). The chains of different strings do not depend on each other, and
/// interleaving four of them keeps the core's load ports busy instead.
pub fn crc16_lanes(data: [&[u8]; LANES]) -> [u16; LANES] {
    let mut crc = [0xFFFFu16; LANES];
    let full = data.map(|d| d.len() / 8 * 8);
    // the whole steps every lane has: no lane waits, so no lane is checked step by step
    let common = full.iter().copied().min().unwrap_or(0);
    let [a, b, c, d] = data.map(|x| x.get(..common).unwrap_or_default().chunks_exact(8));
    for (((a, b), c), d) in a.zip(b).zip(c).zip(d) {
        crc = [
            step8(crc[0], a),
            step8(crc[1], b),
            step8(crc[2], c),
            step8(crc[3], d),
        ];
    }
    let longest = full.iter().copied().max().unwrap_or(0);
    let mut at = common;
    while at < longest {
        for k in 0..LANES {
            // a lane that has run out of whole steps waits (a branch that changes once)
            if at < full[k] {
                crc[k] = step8(crc[k], &data[k][at..at + 8]);
            }
        }
        at += 8;
    }
    // fewer than eight bytes left in each lane
    std::array::from_fn(|k| crc16_update(crc[k], &data[k][full[k]..]))
}

/// CRC-16/MODBUS: the same table as appendix A's, but the byte is xored into the low half of
/// the state (`crc = (crc >> 8) ^ T[(crc ^ byte) & 0xFF]`). Not the standard's; loggers built
/// on Modbus code send it (it gives `0759` for the standard's example instead of `1C80`).
pub fn crc16_modbus(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc = (crc >> 8) ^ TABLE[usize::from((crc as u8) ^ b)];
    }
    crc
}

/// A CRC16 algorithm seen on the wire. Only `Hj212` is the standard's; a platform may allow
/// the others per station (a logger that is wrong the same way on every frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrcVariant {
    /// appendix A: the standard's CRC16
    Hj212,
    /// CRC-16/MODBUS
    Modbus,
}

impl CrcVariant {
    pub const ALL: [CrcVariant; 2] = [CrcVariant::Hj212, CrcVariant::Modbus];

    /// The name used in the Python API and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            CrcVariant::Hj212 => "hj212",
            CrcVariant::Modbus => "modbus",
        }
    }

    pub fn from_name(name: &str) -> Option<CrcVariant> {
        CrcVariant::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// The algorithm's usual name.
    pub fn title(self) -> &'static str {
        match self {
            CrcVariant::Hj212 => "the standard's CRC16 (appendix A)",
            CrcVariant::Modbus => "CRC-16/MODBUS",
        }
    }

    pub fn compute(self, data: &[u8]) -> u16 {
        match self {
            CrcVariant::Hj212 => crc16(data),
            CrcVariant::Modbus => crc16_modbus(data),
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of CRC variants (a bit set, so that `Options` stays `Copy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CrcVariants(u8);

impl CrcVariants {
    /// No variant beyond the standard's.
    pub const NONE: CrcVariants = CrcVariants(0);

    pub fn with(self, v: CrcVariant) -> CrcVariants {
        CrcVariants(self.0 | v.bit())
    }

    pub fn contains(self, v: CrcVariant) -> bool {
        self.0 & v.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = CrcVariant> {
        CrcVariant::ALL
            .into_iter()
            .filter(move |v| self.contains(*v))
    }
}

impl FromIterator<CrcVariant> for CrcVariants {
    fn from_iter<I: IntoIterator<Item = CrcVariant>>(iter: I) -> Self {
        iter.into_iter().fold(CrcVariants::NONE, CrcVariants::with)
    }
}

/// The non-standard variant whose CRC of `data` is `carried`, if any of `among` is. Only
/// called once the standard's CRC failed to match, so a good frame never pays for it.
pub fn variant_matching(data: &[u8], carried: u16, among: CrcVariants) -> Option<CrcVariant> {
    among
        .iter()
        .filter(|v| *v != CrcVariant::Hj212)
        .find(|v| v.compute(data) == carried)
}

/// Every variant this codec knows.
pub fn known_variants() -> CrcVariants {
    CrcVariant::ALL.into_iter().collect()
}

/// One table lookup per byte: the plain table-driven form, kept for comparison.
pub fn crc16_bytewise(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc = TABLE[usize::from((crc >> 8) as u8 ^ b)];
    }
    crc
}

// --- 32-bit CRCs (reflected), slicing-by-8 -------------------------------------------------

/// Tables for a reflected 32-bit CRC of polynomial `poly` (CRC-32C, Kafka's: 0x82F6_3B78;
/// zlib's CRC-32, 0xEDB8_8320, comes from `crc32fast`), eight bytes a step: `[k][b]` is the
/// register after byte `b` followed by `k` zero bytes.
pub const fn crc32_slices(poly: u32) -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { poly ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut c = t[0][i];
        let mut k = 1;
        while k < 8 {
            c = t[0][(c & 0xff) as usize] ^ (c >> 8);
            t[k][i] = c;
            k += 1;
        }
        i += 1;
    }
    t
}

/// The CRC of `data` by tables `t` (`crc32_slices`), continuing from `crc` (0 to start).
pub fn crc32_with(t: &[[u32; 256]; 8], crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let lo = c ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        c = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xff) as usize]
            ^ t[2][((hi >> 8) & 0xff) as usize]
            ^ t[1][((hi >> 16) & 0xff) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in words.remainder() {
        c = t[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
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
    fn modbus_check_values() {
        // the catalogue check value of CRC-16/MODBUS, and the standard's example frame as a
        // Modbus-minded logger would sign it
        assert_eq!(crc16_modbus(b"123456789"), 0x4B37);
        let seg = b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";
        assert_eq!(crc16_modbus(seg), 0x0759);
        assert_eq!(CrcVariant::Modbus.compute(seg), 0x0759);
        assert_eq!(CrcVariant::Hj212.compute(seg), 0x1C80);
        let all = known_variants();
        assert_eq!(variant_matching(seg, 0x0759, all), Some(CrcVariant::Modbus));
        assert_eq!(
            variant_matching(seg, 0x1C80, all),
            None,
            "the standard's is no variant"
        );
        assert_eq!(variant_matching(seg, 0x0759, CrcVariants::NONE), None);
    }

    #[test]
    fn variant_names_round_trip() {
        for v in CrcVariant::ALL {
            assert_eq!(CrcVariant::from_name(v.as_str()), Some(v));
        }
        assert_eq!(CrcVariant::from_name("MODBUS"), None);
        let set: CrcVariants = [CrcVariant::Modbus].into_iter().collect();
        assert!(set.contains(CrcVariant::Modbus) && !set.contains(CrcVariant::Hj212));
        assert!(CrcVariants::NONE.is_empty() && !set.is_empty());
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
        fn modbus_table_equals_its_bitwise_definition(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut crc: u16 = 0xFFFF;
            for &b in &data {
                crc ^= u16::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 != 0 { (crc >> 1) ^ 0xA001 } else { crc >> 1 };
                }
            }
            prop_assert_eq!(crc16_modbus(&data), crc);
        }

        #[test]
        fn lanes_equal_one_at_a_time(
            data in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), LANES)
        ) {
            let lanes: [&[u8]; LANES] = std::array::from_fn(|k| data[k].as_slice());
            let want: [u16; LANES] = std::array::from_fn(|k| crc16_bitwise(&data[k]));
            prop_assert_eq!(crc16_lanes(lanes), want);
        }

        #[test]
        fn table_equals_bitwise(data in proptest::collection::vec(any::<u8>(), 0..2100)) {
            prop_assert_eq!(crc16(&data), crc16_bitwise(&data));
            prop_assert_eq!(crc16_bytewise(&data), crc16_bitwise(&data));
        }
    }
}
