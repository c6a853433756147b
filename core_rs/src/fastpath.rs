//! The batch decoder's fast path for well-formed frames.
//!
//! The validating path (`parse_header_at`, `check_cp`) reads any frame and reports every
//! deviation; for the data area it builds a field struct per `name=value`, classifies names
//! and values in separate passes and goes through the general value checker for each. Nearly
//! every frame on the wire is plain: the header fields in the standard's order and form, then
//! `DataTime` once and `code-Suffix=value` fields with standard suffixes, short codes of
//! appendix B, numbers within N14.6 and one-letter flags of table 8. This module reads exactly
//! that shape in one pass over the bytes, writing each value into its column as it is read
//! (numbers are folded digit by digit, no text is copied). At the first byte that could lead
//! the validating path to a warning or an error it gives up (`Bail`); `batch::decode_batch`
//! then drops the rows written and decodes the whole frame with the validating path, so
//! results are identical by construction: the fast path only accepts what the validating
//! path accepts silently, with the same values.

use crate::batch::{Columns, EFLAG_WIDTH, FLAG_WIDTH, N_NUMERIC};
use crate::codes;
use crate::cp::{suffix_id, SUFFIX_EFLAG, SUFFIX_FLAG};
use crate::frame::Span;
use crate::segment::{edition_of, is_upload_cn, Header, FLAG_D};
use crate::text::{read_stamp, read_uint};

/// The frame is not of the plain shape: let the validating path decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

/// The longest data area the standard allows (longer ones are a deviation).
const CP_MAX: usize = 950;
/// Groups kept on the stack; more (rare) means the validating path.
const MAX_GROUPS: usize = 32;

const POW10: [f64; 7] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];

/// A code packed for comparison (at most 8 bytes; longer codes bail).
#[inline]
fn pack_code(code: &[u8]) -> u64 {
    let mut k: u64 = 0;
    for &b in code {
        k = (k << 8) | u64::from(b);
    }
    k | ((code.len() as u64) << 60)
}

/// Read a number within N14.6 from `at` up to the next separator or `end`: optional sign,
/// digits, optional '.' and digits, at least one digit, at most 14 digits and 6 decimals.
/// The value is `read_number`'s for such text (the digits fold into an integer below 2^53
/// and one division by an exact power of ten rounds correctly). Returns the value and where
/// it stopped (at a separator or `end`).
#[inline(always)]
fn read_plain_number(cp: &[u8], mut at: usize) -> Result<(f64, usize), Bail> {
    let mut neg = false;
    match cp.get(at) {
        Some(b'-') => {
            neg = true;
            at += 1;
        }
        Some(b'+') => at += 1,
        _ => {}
    }
    let mut mant: u64 = 0;
    let mut digits = 0usize;
    while let Some(&b) = cp.get(at) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        mant = mant * 10 + u64::from(d);
        digits += 1;
        at += 1;
        if digits > 14 {
            return Err(Bail);
        }
    }
    let mut frac = 0usize;
    if cp.get(at) == Some(&b'.') {
        at += 1;
        while let Some(&b) = cp.get(at) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            mant = mant * 10 + u64::from(d);
            frac += 1;
            at += 1;
            if digits + frac > 14 || frac > 6 {
                return Err(Bail);
            }
        }
    }
    if digits + frac == 0 {
        return Err(Bail);
    }
    let v = mant as f64 / POW10[frac];
    Ok((if neg { -v } else { v }, at))
}

/// Whether a value ends at `at`: the data area's end or a separator.
#[inline]
fn ends_value(cp: &[u8], at: usize) -> bool {
    matches!(cp.get(at), None | Some(b';' | b','))
}

/// Codes of appendix B already found in it, so the next frames of a batch (which name the
/// same pollutants) need no table lookup: a small direct-mapped cache of packed codes.
#[derive(Debug, Clone)]
pub struct KnownCodes {
    slots: [u64; 256],
}

impl Default for KnownCodes {
    fn default() -> Self {
        // 0 is no packed code (a packed code carries its length in the top bits)
        KnownCodes { slots: [0; 256] }
    }
}

impl KnownCodes {
    /// The length of the code before the first '-' of the word `w` (the data area's next
    /// bytes, little-endian), if that code (of 1 to 7 bytes) is in the cache.
    #[inline(always)]
    fn cached_code(&self, w: u64) -> Option<usize> {
        let x = w ^ (ONES * u64::from(b'-'));
        let z = x.wrapping_sub(ONES) & !x & HIGH;
        // the lowest flagged byte is exactly the first '-'
        let d = (z.trailing_zeros() / 8) as usize;
        if d == 0 || d > 7 {
            return None;
        }
        // the code's bytes, first byte most significant, as `pack_code` packs them
        let key = ((w << (64 - 8 * d)).swap_bytes()) | ((d as u64) << 60);
        let slot = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize;
        (self.slots[slot] == key).then_some(d)
    }

    /// Whether `code` (packed as `key`) is a code of appendix B.
    #[inline]
    fn contains(&mut self, key: u64, code: &[u8]) -> bool {
        let slot = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize;
        if self.slots[slot] == key {
            return true;
        }
        let known = codes::is_known_field_code(code);
        if known {
            self.slots[slot] = key;
        }
        known
    }
}

/// The eight bytes at `at`, little-endian, zero bytes past the end (no name or value byte is
/// zero, so a zero never completes a match); None at the end.
#[inline(always)]
fn word_at(cp: &[u8], at: usize) -> Option<u64> {
    if let Some(b) = cp.get(at..at + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        return Some(u64::from_le_bytes(w));
    }
    let tail = cp.get(at..).filter(|t| !t.is_empty())?;
    let mut w = 0u64;
    for (i, &b) in tail.iter().enumerate() {
        w |= u64::from(b) << (8 * i);
    }
    Some(w)
}

// Byte classes of a field name.
const C_NAME: u8 = 0; // letters, digits, '_'
const C_DASH: u8 = 1;
const C_EQ: u8 = 2;
const C_BAD: u8 = 3; // anything else: separators, spaces, other bytes

const fn name_classes() -> [u8; 256] {
    let mut t = [C_BAD; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' {
            t[b] = C_NAME;
        }
        b += 1;
    }
    t[b'-' as usize] = C_DASH;
    t[b'=' as usize] = C_EQ;
    t
}

static NAME_CLASS: [u8; 256] = name_classes();

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
/// `text` as a little-endian word (at most 8 bytes).
const fn le(text: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < text.len() {
        w |= (text[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// A standard suffix followed by '=' at the start of `w`: its id and length. Suffixes of
/// eight bytes or more (`DayData`, `NightData`, `UpValue`, `LowValue`, ...) and unknown ones
/// take the byte-by-byte path.
#[inline(always)]
fn known_suffix(w: u64) -> Option<(u8, usize)> {
    // the first '=' in the word
    let x = w ^ (ONES * u64::from(b'='));
    let z = x.wrapping_sub(ONES) & !x & HIGH;
    if z == 0 {
        return None;
    }
    let len = (z.trailing_zeros() / 8) as usize;
    let name = w & ((1u64 << (8 * len)) - 1);
    const RTD: u64 = le(b"Rtd");
    const MIN: u64 = le(b"Min");
    const AVG: u64 = le(b"Avg");
    const MAX: u64 = le(b"Max");
    const COU: u64 = le(b"Cou");
    const ZSRTD: u64 = le(b"ZsRtd");
    const ZSMIN: u64 = le(b"ZsMin");
    const ZSAVG: u64 = le(b"ZsAvg");
    const ZSMAX: u64 = le(b"ZsMax");
    const RS: u64 = le(b"RS");
    const RT: u64 = le(b"RT");
    const DATA: u64 = le(b"Data");
    const ALA: u64 = le(b"Ala");
    const FLAG: u64 = le(b"Flag");
    const EFLAG: u64 = le(b"EFlag");
    let id = match name {
        RTD => 0,
        MIN => 1,
        AVG => 2,
        MAX => 3,
        COU => 4,
        ZSRTD => 5,
        ZSMIN => 6,
        ZSAVG => 7,
        ZSMAX => 8,
        RS => 9,
        RT => 10,
        DATA => 11,
        ALA => 14,
        FLAG => SUFFIX_FLAG,
        EFLAG => SUFFIX_EFLAG,
        _ => return None,
    };
    Some((id, len))
}

/// Read the value of a field with suffix id `suffix` at `at` into row `row`; where it ends
/// (at a separator or the end).
#[inline(always)]
fn read_value(
    cp: &[u8],
    mut at: usize,
    suffix: u8,
    row: usize,
    c: &mut Columns,
    flags: u128,
) -> Result<usize, Bail> {
    let col = usize::from(suffix);
    if col < N_NUMERIC {
        let x = if col == 9 {
            // RS: a whole number 0..5
            let d = cp.get(at).map_or(10, |b| b.wrapping_sub(b'0'));
            if d > 5 || !ends_value(cp, at + 1) {
                return Err(Bail);
            }
            at += 1;
            f64::from(d)
        } else {
            let (x, stop) = read_plain_number(cp, at)?;
            if !ends_value(cp, stop) || (col == 10 && !(0.0..=24.0).contains(&x)) {
                return Err(Bail);
            }
            at = stop;
            x
        };
        c.numeric[row * N_NUMERIC + col] = x;
    } else if suffix == SUFFIX_FLAG {
        let f = *cp.get(at).ok_or(Bail)?;
        // table 8's flags are letters and digits; the bitmap says which
        if !ends_value(cp, at + 1) || !f.is_ascii_alphanumeric() || flags & (1u128 << f) == 0 {
            return Err(Bail);
        }
        c.flag[row * FLAG_WIDTH] = f;
        at += 1;
    } else if suffix == SUFFIX_EFLAG {
        let v_start = at;
        while at < cp.len() && at - v_start <= 4 && cp[at].is_ascii_alphanumeric() {
            at += 1;
        }
        let n = at - v_start;
        if n == 0 || n > 4 || !ends_value(cp, at) {
            return Err(Bail);
        }
        let cell = &mut c.eflag[row * EFLAG_WIDTH..(row + 1) * EFLAG_WIDTH];
        cell.fill(0);
        cell[..n].copy_from_slice(&cp[v_start..at]);
    } else {
        // SampleTime, Info, SN and unknown suffixes: the validating path
        return Err(Bail);
    }
    Ok(at)
}

/// Read the data area `span` of `buf` into rows of `c` for frame `frame` (rows from
/// `c.n_rows()` on, one per pollutant in order of first appearance). Returns the DataTime's
/// wall-clock seconds (None without DataTime). On `Bail` the rows written so far are the
/// caller's to drop.
pub fn fast_cp(
    buf: &[u8],
    span: Span,
    c: &mut Columns,
    frame: i32,
    known: &mut KnownCodes,
) -> Result<Option<i64>, Bail> {
    let cp = span.of(buf);
    if cp.len() > CP_MAX {
        return Err(Bail);
    }
    let first_row = c.n_rows();
    let mut data_time: Option<i64> = None;
    // groups: packed code and the suffixes seen (a bit per suffix id)
    let mut keys = [0u64; MAX_GROUPS];
    let mut masks = [0u32; MAX_GROUPS];
    let mut n_groups = 0usize;
    let mut seen = 0u64;
    // the previous field's group, if it had a code (',' may only join fields of one group)
    let mut prev: Option<usize> = None;
    let mut sep = 0u8;
    let mut at = 0usize;
    // the previous field's `code-` as little-endian bytes, and the mask of its length
    let mut prev_word = 0u64;
    let mut prev_mask = 0u64;
    let flags = codes::data_flag_set();
    while at < cp.len() {
        let start = at;
        // Most fields continue the previous field's group: its `code-` (at most 8 bytes,
        // known to be a good name) and a standard suffix are recognised a word at a time.
        if let (Some(g), Some(w)) = (prev, word_at(cp, at)) {
            if w & prev_mask == prev_word {
                let dash = at + (prev_mask.count_ones() / 8) as usize - 1;
                if let Some((suffix, len)) = word_at(cp, dash + 1).and_then(known_suffix) {
                    at = dash + 1 + len + 1;
                    if masks[g] & (1 << suffix) != 0 {
                        return Err(Bail);
                    }
                    masks[g] |= 1 << suffix;
                    at = read_value(cp, at, suffix, first_row + g, c, flags)?;
                    match cp.get(at) {
                        None => break,
                        Some(&s) => {
                            sep = s;
                            at += 1;
                            if at < cp.len() && matches!(cp[at], b';' | b',') {
                                return Err(Bail);
                            }
                        }
                    }
                    continue;
                }
            }
        }
        // the name, up to '=', noting the last '-'
        let mut dash = usize::MAX;
        // The first field of a group: a code already found in appendix B (so a good name)
        // and a standard suffix are recognised a word at a time, without the byte loop.
        let mut scanned = false;
        if let Some(d) = word_at(cp, at).and_then(|w| known.cached_code(w)) {
            if let Some((_, len)) = word_at(cp, at + d + 1).and_then(known_suffix) {
                dash = at + d;
                at = dash + 1 + len;
                scanned = true;
            }
        }
        if !scanned {
            loop {
                let Some(&b) = cp.get(at) else {
                    return Err(Bail);
                };
                match NAME_CLASS[usize::from(b)] {
                    C_NAME => {}
                    C_DASH => dash = at,
                    C_EQ => break,
                    _ => return Err(Bail),
                }
                at += 1;
            }
        }
        let eq = at;
        at += 1;
        if dash == usize::MAX {
            // a plain field: only DataTime, once
            if &cp[start..eq] != b"DataTime" || data_time.is_some() || sep == b',' {
                return Err(Bail);
            }
            let v = cp.get(at..at + 14).ok_or(Bail)?;
            if !ends_value(cp, at + 14) {
                return Err(Bail);
            }
            let stamp = read_stamp(v).map_err(|_| Bail)?;
            // the validating path carries it through an f64: exact below 2^53
            data_time = Some(stamp.wall_seconds() as f64 as i64);
            at += 14;
            prev = None;
        } else {
            if dash == start || dash + 1 == eq || dash - start > 8 {
                return Err(Bail);
            }
            let code = &cp[start..dash];
            let suffix = suffix_id(&cp[dash + 1..eq]);
            let key = pack_code(code);
            // which group: the previous field's, an earlier one, or a new one
            let g = match prev {
                Some(g) if keys[g] == key => g,
                _ => {
                    if sep == b',' {
                        return Err(Bail);
                    }
                    // a bit per code hash: a code not seen in this data area (the usual
                    // case for a new group) needs no search
                    let bit = 1u64 << (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58);
                    let seen_before = seen & bit != 0;
                    seen |= bit;
                    let found = if seen_before {
                        keys[..n_groups].iter().position(|&k| k == key)
                    } else {
                        None
                    };
                    match found {
                        Some(g) => g,
                        None => {
                            if n_groups == MAX_GROUPS || !known.contains(key, code) {
                                return Err(Bail);
                            }
                            keys[n_groups] = key;
                            n_groups += 1;
                            c.open_row(frame, code);
                            n_groups - 1
                        }
                    }
                }
            };
            if suffix >= 32 || masks[g] & (1 << suffix) != 0 {
                return Err(Bail);
            }
            masks[g] |= 1 << suffix;
            at = read_value(cp, at, suffix, first_row + g, c, flags)?;
            let n = dash + 1 - start;
            prev_mask = if n >= 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            };
            prev_word = word_at(cp, start).map_or(!0, |w| w & prev_mask);
            if n > 8 {
                // a code of 8 bytes and its '-' do not fit a word: never predicted
                prev_mask = 0;
                prev_word = !0;
            }
            prev = Some(g);
        }
        // `at` is at a separator or the end; a separator right at the end ends the data
        // area with no empty field (as the validating path reads it)
        match cp.get(at) {
            None => break,
            Some(&s) => {
                sep = s;
                at += 1;
                if at < cp.len() && matches!(cp[at], b';' | b',') {
                    // an empty field between separators
                    return Err(Bail);
                }
            }
        }
    }
    Ok(data_time)
}

/// The value of header field `key` at `at` in segment `s` (`key=value;`): its start and end.
/// `usual` is the value's standard length: when a ';' stands there, the value is taken to end
/// there without a scan. Every caller then checks the value's bytes against a class without
/// ';', so an accepted value has no earlier ';' and is the one the validating path finds.
#[inline(always)]
fn header_field(s: &[u8], at: usize, key: &[u8], usual: usize) -> Option<(usize, usize)> {
    let rest = s.get(at..)?;
    if !rest.starts_with(key) || rest.get(key.len()) != Some(&b'=') {
        return None;
    }
    let from = at + key.len() + 1;
    if s.get(from + usual) == Some(&b';') {
        return Some((from, from + usual));
    }
    let len = s[from..].iter().position(|&b| b == b';')?;
    Some((from, from + len))
}

/// The header of the segment at `seg` when it has the plain shape: the fields
/// `[QN;]ST;CN;PW;MN;[Flag;][RF;]CP` in the standard's order, each of its standard form (a real QN
/// of 17 digits, a known ST and CN, PW of 6, MN of the edition's form, a known edition, no
/// split message), then `CP=&&...&&` to the segment's end. Each value is checked against a
/// class of printable bytes, so the header part is printable ASCII; the data area's bytes are
/// the caller's to check (`fast_cp` accepts only printable ASCII). For a segment whose data
/// area is printable, equal to what `parse_header_at` returns, which reports nothing for such
/// a header; anything else is `Bail`.
pub fn fast_header(buf: &[u8], seg: Span) -> Result<Header, Bail> {
    let s = seg.of(buf);
    let base = seg.start as usize;
    let span = |(a, b): (usize, usize)| Span::new(base + a, base + b);
    let mut h = Header::default();
    let mut at = 0;
    if let Some(v) = header_field(s, at, b"QN", 17) {
        let q = &s[v.0..v.1];
        if q.len() != 17 || read_stamp(q).is_err() {
            return Err(Bail);
        }
        h.qn = Some(span(v));
        at = v.1 + 1;
    }
    let v = header_field(s, at, b"ST", 2).ok_or(Bail)?;
    let st = &s[v.0..v.1];
    if st.len() != 2
        || !st
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        || !codes::is_known_st(std::str::from_utf8(st).map_err(|_| Bail)?)
    {
        return Err(Bail);
    }
    h.st = Some(span(v));
    at = v.1 + 1;
    let v = header_field(s, at, b"CN", 4).ok_or(Bail)?;
    let cn = &s[v.0..v.1];
    let n = if cn.len() == 4 { read_uint(cn) } else { None };
    let n = n.ok_or(Bail)? as u16;
    if !codes::is_known_cn(n) {
        return Err(Bail);
    }
    h.cn = span(v);
    h.cn_num = n;
    at = v.1 + 1;
    let v = header_field(s, at, b"PW", 6).ok_or(Bail)?;
    let pw = &s[v.0..v.1];
    if pw.len() != 6 || !pw.iter().all(u8::is_ascii_alphanumeric) {
        return Err(Bail);
    }
    h.pw = Some(span(v));
    at = v.1 + 1;
    let v = header_field(s, at, b"MN", 24).ok_or(Bail)?;
    let mn = &s[v.0..v.1];
    h.mn = Some(span(v));
    at = v.1 + 1;
    if let Some(v) = header_field(s, at, b"Flag", 1) {
        let f = &s[v.0..v.1];
        let n = if f.len() <= 3 { read_uint(f) } else { None };
        match n {
            Some(n) if n <= 255 && u16::try_from(n).is_ok_and(|n| n & FLAG_D == 0) => {
                h.flag = Some(n as u16)
            }
            _ => return Err(Bail),
        }
        at = v.1 + 1;
    }
    if let Some(v) = header_field(s, at, b"RF", 1) {
        // RF (2025 only): a number
        read_uint(&s[v.0..v.1]).ok_or(Bail)?;
        h.rf = Some(span(v));
        at = v.1 + 1;
    }
    h.edition = edition_of(h.flag).ok_or(Bail)?;
    if h.rf.is_some() && h.edition < 2025 {
        return Err(Bail);
    }
    if h.qn.is_none() && !is_upload_cn(h.cn_num) {
        return Err(Bail);
    }
    let mn_ok = if h.edition >= 2017 {
        mn.len() == 24
            && mn
                .iter()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
    } else {
        !mn.is_empty() && mn.len() <= 24 && mn.iter().all(u8::is_ascii_alphanumeric)
    };
    if !mn_ok {
        return Err(Bail);
    }
    // CP=&& ... && to the end of the segment
    let rest = s.get(at..).ok_or(Bail)?;
    let value = rest.strip_prefix(b"CP=").ok_or(Bail)?;
    if value.len() < 4 || !value.starts_with(b"&&") || !value.ends_with(b"&&") {
        return Err(Bail);
    }
    let cp_start = base + at + 3;
    h.cp = Span::new(cp_start + 2, base + s.len() - 2);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_codes_by_word() {
        let w = |t: &[u8]| {
            let mut b = [0u8; 8];
            b[..t.len()].copy_from_slice(t);
            u64::from_le_bytes(b)
        };
        let mut known = KnownCodes::default();
        assert_eq!(known.cached_code(w(b"w01018-R")), None);
        assert!(known.contains(pack_code(b"w01018"), b"w01018"));
        assert!(known.contains(pack_code(b"B01"), b"B01"));
        assert_eq!(known.cached_code(w(b"w01018-R")), Some(6));
        assert_eq!(known.cached_code(w(b"B01-Rtd=")), Some(3));
        assert_eq!(known.cached_code(w(b"w01019-R")), None);
        assert_eq!(known.cached_code(w(b"B01x-Rtd")), None);
        assert_eq!(known.cached_code(w(b"-Rtd=1;x")), None);
        assert!(!known.contains(pack_code(b"zz999"), b"zz999"));
        assert_eq!(known.cached_code(w(b"zz999-Rt")), None);
    }

    #[test]
    fn suffixes_by_word() {
        let w = |t: &[u8]| {
            let mut b = [0u8; 8];
            b[..t.len()].copy_from_slice(t);
            u64::from_le_bytes(b)
        };
        assert_eq!(known_suffix(w(b"Rtd=1.5,")), Some((0, 3)));
        assert_eq!(known_suffix(w(b"ZsRtd=1,")), Some((5, 5)));
        assert_eq!(known_suffix(w(b"Flag=N")), Some((SUFFIX_FLAG, 4)));
        assert_eq!(known_suffix(w(b"Rtdx=1")), None);
        assert_eq!(known_suffix(w(b"DayData=")), None);
        assert_eq!(known_suffix(w(b"Rtd")), None);
    }
}
