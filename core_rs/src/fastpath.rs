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
use crate::cp::{suffix_id, CpSummary, SUFFIX_EFLAG, SUFFIX_FLAG};
use crate::frame::{locate, Located, Options, Span};
use crate::segment::{edition_of, is_upload_cn, Header, Parsed, FLAG_D};
use crate::text::{non_digits, read_stamp, read_uint, time_of_known_date_ok};

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

/// The eight bytes at `at`, little-endian; 0 when fewer than eight bytes are left (`fast_cp`
/// reads a slice with eight bytes after the data area, so that only happens past its end).
/// No name or value byte is 0, so a 0 word never completes a match.
#[inline(always)]
fn load(d: &[u8], at: usize) -> u64 {
    // one compare: `at + 8` cannot overflow for an index into a slice of at least 8 bytes
    if d.len() >= 8 && at <= d.len() - 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&d[at..at + 8]);
        u64::from_le_bytes(w)
    } else {
        0
    }
}

/// The value of the `n` (1 to 8) ASCII digits in the low bytes of `w` (the first digit in
/// the lowest byte), eight digits folded in three multiplications.
#[inline(always)]
fn swar_digits(w: u64, n: usize) -> u64 {
    debug_assert!((1..=8).contains(&n));
    // the digits to the top bytes: the bytes below them are zeros, i.e. leading zeros
    let v = (w & (ONES * 0x0F)) << ((8 * (8 - n)) & 63);
    let v = v.wrapping_mul(2561) >> 8;
    let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    (v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32
}

/// Where `read_number_at` stops when the text is no number: no value ends there.
const NO_NUMBER: usize = usize::MAX;

/// `read_plain_number` for the data area `d[..end]` (`d` holds at least eight bytes more, the
/// first not a digit): a number of at most seven digits (with or without a '.') is read a
/// word at a time, a longer one by `read_plain_number`. The same value and stop, or a stop of
/// `NO_NUMBER` where `read_plain_number` fails (a plain pair, which stays in registers).
#[inline(always)]
fn read_number_at(d: &[u8], end: usize, start: usize) -> (f64, usize) {
    let first = d.get(start).copied().unwrap_or(0);
    let neg = first == b'-';
    let p = start + usize::from(neg || first == b'+');
    let w = load(d, p);
    let n = (non_digits(w).trailing_zeros() / 8) as usize; // digits before any other byte
    let (digits, t, frac, stop) = if n < 8 && (w >> (8 * n)) as u8 == b'.' {
        // drop the '.': the fraction's digits move down one byte next to the integer's
        let low = (1u64 << (8 * n)) - 1;
        let w2 = (w & low) | ((w >> 8) & !low);
        // the top byte of w2 is 0, so at most seven digits
        let t = (non_digits(w2).trailing_zeros() / 8) as usize;
        if t == 7 && d.get(p + 8).is_some_and(u8::is_ascii_digit) {
            return read_long_number(d, end, start); // more digits past the word
        }
        (w2, t, t - n, p + t + 1)
    } else {
        if n == 8 {
            return read_long_number(d, end, start); // more digits past the word
        }
        (w, n, 0, p + n)
    };
    if stop > end {
        return read_long_number(d, end, start);
    }
    if t == 0 || frac > 6 {
        return (0.0, NO_NUMBER);
    }
    let v = swar_digits(digits, t) as f64 / POW10[frac];
    (if neg { -v } else { v }, stop)
}

/// What the frames of a batch read so far tell about the next ones, which name the same
/// pollutants with the same suffixes: codes of appendix B already found (so they need no
/// table lookup; a small direct-mapped cache of packed codes), and for each suffix the
/// suffix that followed it in a group last time. Also table 8's flags as a byte table.
#[derive(Debug, Clone)]
pub struct KnownCodes {
    /// two-way sets (`set_of`): a batch names some tens of codes, and in a direct-mapped
    /// table of 256 a few of them evicted each other all the time (9 % of a corpus's groups
    /// missed)
    slots: [u64; SLOTS],
    /// by the suffix id of a group's previous field (`FIRST`: none, a group's first field)
    next: [NextSuffix; FIRST + 1],
    /// the one-byte flags of table 8 (letters and digits)
    flag_ok: [bool; 256],
    /// the data areas' shapes by station and CN (`Templates`)
    templates: Templates,
    /// the last DataTime read
    stamp: LastStamp,
    /// the header's last QN date and ST (`fast_header_with`)
    header: HeaderMemo,
}

/// What the last headers read leave to the next: the date (`YYYYMMDD`, the first eight
/// bytes) of the last QN accepted and the last ST accepted, as little-endian words (0: none;
/// neither is ever 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderMemo {
    qn_date: u64,
    st: u64,
}

/// The last `DataTime` value read and its seconds: the frames of a batch mostly carry a
/// few times, so most are the last one again (two word compares instead of a date check).
#[derive(Debug, Clone, Copy, Default)]
struct LastStamp {
    /// the 14 digits as the words of bytes 0..8 and 6..14 (0: none; digits are never 0)
    words: [u64; 2],
    seconds: i64,
}

impl LastStamp {
    /// The wall-clock seconds of the 14 bytes `v` when they are a real time (`read_stamp`),
    /// carried through an f64 as the validating path does (exact below 2^53).
    #[inline(always)]
    fn seconds(&mut self, v: &[u8]) -> Result<i64, Bail> {
        let (Some(a), Some(b)) = (
            v.first_chunk::<8>(),
            v.get(6..).and_then(|r| r.first_chunk::<8>()),
        ) else {
            return Err(Bail);
        };
        let words = [u64::from_le_bytes(*a), u64::from_le_bytes(*b)];
        if v.len() == 14 && words == self.words {
            return Ok(self.seconds);
        }
        let stamp = read_stamp(v).map_err(|_| Bail)?;
        let seconds = stamp.wall_seconds() as f64 as i64;
        *self = LastStamp { words, seconds };
        Ok(seconds)
    }
}

/// A suffix and its '=' as a little-endian word, the mask of its bytes, its id and length.
#[derive(Debug, Clone, Copy)]
struct NextSuffix {
    word: u64,
    mask: u64,
    id: u8,
    len: u8,
}

/// Slots of the code cache, in sets of two.
const SLOTS: usize = 1024;

/// The first slot of `key`'s set (even, so the set is it and the next).
#[inline(always)]
fn set_of(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS.trailing_zeros())) as usize & !1
}

/// `KnownCodes::next`'s entry for a group's first field.
const FIRST: usize = 32;

impl Default for KnownCodes {
    fn default() -> Self {
        let flags = codes::data_flag_set();
        let mut flag_ok = [false; 256];
        for (b, ok) in flag_ok.iter_mut().enumerate().take(128) {
            *ok = (b as u8).is_ascii_alphanumeric() && flags & (1u128 << b) != 0;
        }
        // 0 is no packed code (a packed code carries its length in the top bits); a mask of
        // 0 with a word of !0 never matches
        let none = NextSuffix {
            word: !0,
            mask: 0,
            id: 0,
            len: 0,
        };
        KnownCodes {
            slots: [0; SLOTS],
            next: [none; FIRST + 1],
            flag_ok,
            templates: Templates::default(),
            stamp: LastStamp::default(),
            header: HeaderMemo::default(),
        }
    }
}

impl KnownCodes {
    /// `known_suffix(w)` for a field after one with suffix id `prev` (`FIRST` for a group's
    /// first field): first the suffix that followed `prev` last time, by one compare. A
    /// match is that suffix and its '=' with no '=' before, so `known_suffix` would give the
    /// same.
    #[inline(always)]
    fn suffix_after(&mut self, prev: usize, w: u64) -> Option<(u8, usize)> {
        let n = self.next.get(prev)?;
        if w & n.mask == n.word {
            return Some((n.id, usize::from(n.len)));
        }
        let (id, len) = known_suffix(w)?;
        // len < 8: the '=' is in the word
        let mask = low_bytes(len + 1);
        if let Some(slot) = self.next.get_mut(prev) {
            *slot = NextSuffix {
                word: w & mask,
                mask,
                id,
                len: len as u8,
            };
        }
        Some((id, len))
    }

    /// The length of the code before the first '-' of the word `w` (the data area's next
    /// bytes, little-endian), if that code (of 1 to 7 bytes) is in the cache.
    #[inline(always)]
    fn cached_code(&self, w: u64) -> Option<(usize, u64)> {
        let x = w ^ (ONES * u64::from(b'-'));
        let z = x.wrapping_sub(ONES) & !x & HIGH;
        // the lowest flagged byte is exactly the first '-'
        let d = (z.trailing_zeros() / 8) as usize;
        if d == 0 || d > 7 {
            return None;
        }
        // the code's bytes, first byte most significant, as `pack_code` packs them
        let key = ((w << (64 - 8 * d)).swap_bytes()) | ((d as u64) << 60);
        let set = set_of(key);
        let hit = self
            .slots
            .get(set..set + 2)
            .is_some_and(|s| s[0] == key || s[1] == key);
        hit.then_some((d, key))
    }

    /// Whether `code` (packed as `key`) is a code of appendix B.
    #[inline]
    fn contains(&mut self, key: u64, code: &[u8]) -> bool {
        let set = set_of(key);
        let Some(s) = self.slots.get_mut(set..set + 2) else {
            return codes::is_known_field_code(code);
        };
        if s[0] == key || s[1] == key {
            return true;
        }
        let known = codes::is_known_field_code(code);
        if known {
            // the newer in front, the older kept
            s[1] = s[0];
            s[0] = key;
        }
        known
    }
}

/// One field of a template: its name with the '=' (at most 16 bytes, as two little-endian
/// words, the bytes past the name 0), its name length (which gives the masks of its bytes),
/// suffix id (`TPL_DATA_TIME` for `DataTime`), group and the byte after its value (';', ','
/// or 0 for the data area's end). 24 bytes: a template's entries are read for every frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    name: [u64; 2],
    len: u8,
    suffix: u8,
    group: u8,
    sep: u8,
}

/// The masks of a text of `len` bytes (at most 16) in two words.
#[inline(always)]
fn masks_of(len: usize) -> [u64; 2] {
    [low_bytes(len), low_bytes(len.saturating_sub(8))]
}

/// `Entry::suffix` of `DataTime`.
const TPL_DATA_TIME: u8 = u8::MAX;
/// Suffix ids `read_value` reads specially.
const SUFFIX_RS: u8 = 9;
const SUFFIX_RT: u8 = 10;

/// The longest name a template holds (two words).
const TPL_NAME_MAX: usize = 16;

/// The shape of a data area the fast path accepted: its fields in order, and the code of each
/// group (a row) in order of first appearance. The fast path's verdict on a data area depends
/// only on its names and separators and on each value read alone, so a data area with the
/// same names and separators, each value accepted by `read_value` for its suffix, is accepted
/// with the same rows; its values are all that is left to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Template {
    entries: Vec<Entry>,
    codes: Vec<u64>,
}

impl Template {
    /// A hash of the whole shape (to find an equal one kept before).
    fn shape_hash(&self) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut h = self.codes.len() as u64;
        let mut mix = |x: u64| h = (h ^ x).wrapping_mul(K).rotate_left(29);
        for e in &self.entries {
            mix(e.name[0]);
            mix(e.name[1]);
            mix(u64::from_le_bytes([
                e.len, e.suffix, e.group, e.sep, 0, 0, 0, 0,
            ]));
        }
        for &c in &self.codes {
            mix(c);
        }
        h
    }
}

/// Sets of the station table (two stations a set), at most and at first: the table starts
/// small (a batch of a few frames, a fuzz input, need no big table) and grows fourfold each
/// time it has taken in new stations for half its slots.
const TPL_SETS: usize = 4096;
const TPL_SETS_FIRST: usize = 16;
/// Distinct shapes kept at most (a shape past them is not kept).
const TPL_SHAPES: usize = 4096;

/// The last accepted data area's shape for each station and CN seen (a two-way cache by
/// `station_key`), and the template being recorded while the fast path reads a data area.
/// Stations of one kind send data areas of one shape: each shape is kept once (`shapes`),
/// and a station's slot holds its index, so the shapes in use stay few and in cache (a
/// template per station, 500 stations of four CNs, was a megabyte or two read at random:
/// slower per frame than the instructions it saved).
#[derive(Debug, Clone)]
struct Templates {
    /// (station key, shape index); key 0: none
    slots: Vec<(u64, u32)>,
    /// new stations taken in since the table last grew
    taken: usize,
    shapes: Vec<Template>,
    /// shape hash to index in `shapes`
    by_hash: std::collections::HashMap<u64, u32>,
    /// the fields of the data area being read; `ok` false once one is not recordable
    scratch: Template,
    ok: bool,
}

impl Default for Templates {
    fn default() -> Self {
        Templates {
            slots: vec![(0, 0); 2 * TPL_SETS_FIRST],
            taken: 0,
            shapes: Vec::new(),
            by_hash: std::collections::HashMap::new(),
            scratch: Template::default(),
            ok: true,
        }
    }
}

impl Templates {
    /// The first slot of `key`'s set.
    #[inline(always)]
    fn set_of(&self, key: u64) -> usize {
        // the table's sets are a power of two
        2 * ((key >> 40) as usize & (self.slots.len() / 2).saturating_sub(1))
    }

    /// The template of `key`, if any.
    #[inline(always)]
    fn find(&self, key: u64) -> Option<&Template> {
        let set = self.set_of(key);
        let s = self.slots.get(set..set + 2)?;
        let i = if s[0].0 == key {
            s[0].1
        } else if s[1].0 == key {
            s[1].1
        } else {
            return None;
        };
        self.shapes.get(i as usize)
    }

    /// Start recording a data area.
    #[inline(always)]
    fn start(&mut self) {
        self.scratch.entries.clear();
        self.scratch.codes.clear();
        self.ok = true;
    }

    /// Record a field of `len` bytes of name (with its '=') whose words are `w0` and `w1`.
    #[inline(always)]
    fn field(&mut self, w0: u64, w1: u64, len: usize, suffix: u8, group: usize) {
        if len > TPL_NAME_MAX || group > usize::from(u8::MAX) {
            self.ok = false;
            return;
        }
        let mask = masks_of(len);
        self.scratch.entries.push(Entry {
            name: [w0 & mask[0], w1 & mask[1]],
            len: len as u8,
            suffix,
            group: group as u8,
            sep: 0,
        });
    }

    /// Record the byte after the last field's value.
    #[inline(always)]
    fn sep(&mut self, sep: u8) {
        if let Some(e) = self.scratch.entries.last_mut() {
            e.sep = sep;
        }
    }

    /// Keep the recorded data area as `key`'s template: its shape found among those kept
    /// (or added), and the station's slot pointed at it: in its slot if it has one, else in
    /// front of its set (the older moved behind, the oldest dropped).
    #[inline]
    fn keep(&mut self, key: u64) {
        if !self.ok {
            return;
        }
        let hash = self.scratch.shape_hash();
        let shape = match self.by_hash.get(&hash) {
            Some(&i) if self.shapes.get(i as usize) == Some(&self.scratch) => i,
            // another shape with this hash (rare): not kept
            Some(_) => return,
            None if self.shapes.len() < TPL_SHAPES => {
                let i = self.shapes.len() as u32;
                self.shapes.push(self.scratch.clone());
                self.by_hash.insert(hash, i);
                i
            }
            None => return,
        };
        let set = self.set_of(key);
        let Some(s) = self.slots.get_mut(set..set + 2) else {
            return;
        };
        if s[1].0 == key {
            s[1].1 = shape;
        } else {
            if s[0].0 != key {
                s.swap(0, 1);
                self.taken += 1;
            }
            s[0] = (key, shape);
        }
        if 2 * self.taken > self.slots.len() && self.slots.len() < 2 * TPL_SETS {
            // a bigger table, the stations moved over
            let n = (self.slots.len() * 4).min(2 * TPL_SETS);
            let old = std::mem::replace(&mut self.slots, vec![(0, 0); n]);
            for (k, i) in old.into_iter().filter(|t| t.0 != 0) {
                let set = self.set_of(k);
                if let Some(s) = self.slots.get_mut(set..set + 2) {
                    let free = if s[0].0 == 0 { &mut s[0] } else { &mut s[1] };
                    *free = (k, i);
                }
            }
            self.taken = 0;
        }
    }
}

/// A key for a station's data areas of one CN: its MN's bytes and the CN, hashed (never 0).
/// Only the template cache uses it, and a template is checked against the bytes whatever
/// frame it came from, so two stations with one key cost time, never a wrong row.
#[inline]
pub fn station_key(buf: &[u8], mn: Option<Span>, cn: u16) -> u64 {
    let (s, e) = mn.map_or((0, 0), |m| (m.start as usize, m.end as usize));
    let n = e.saturating_sub(s);
    let w = |k: usize| load(buf, s + 8 * k) & low_bytes(n.saturating_sub(8 * k));
    let h = w(0) ^ w(1).rotate_left(21) ^ w(2).rotate_left(42) ^ (u64::from(cn) << 48) ^ n as u64;
    (h ^ (h >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

/// Whether the name of `e` (with its '=') starts at `at` of `d`: two masked word compares.
#[inline(always)]
fn name_at(d: &[u8], at: usize, e: &Entry) -> bool {
    let mask = masks_of(usize::from(e.len));
    ((load(d, at) & mask[0]) ^ e.name[0]) | ((load(d, at + 8) & mask[1]) ^ e.name[1]) == 0
}

/// Read the data area `d[..end]` (as `fast_cp` lays it out) by the template `t`: each field's
/// name and the separator after its value must be the template's, and each value is read by
/// its suffix. Rows for the template's groups are opened first; on `Bail` they are the
/// caller's to drop.
#[inline(never)]
fn by_template(
    d: &[u8],
    end: usize,
    t: &Template,
    c: &mut Columns,
    frame: i32,
    flag_ok: &[bool; 256],
    stamps: &mut LastStamp,
) -> Result<Option<i64>, Bail> {
    let first_row = c.n_rows();
    c.open_rows_words(frame, &t.codes);
    let mut data_time = None;
    let mut at = 0usize;
    for e in &t.entries {
        if !name_at(d, at, e) {
            return Err(Bail);
        }
        // the name matched, so it and its value's first byte are within the area
        let v = at + usize::from(e.len);
        let row = first_row + usize::from(e.group);
        // the value as `read_value` reads it, less its test of the byte after the value,
        // which the separator's test below makes stricter
        let stop = match e.suffix {
            col if usize::from(col) < N_NUMERIC && col != SUFFIX_RS => {
                let (x, stop) = read_number_at(d, end, v);
                if col == SUFFIX_RT && !(0.0..=24.0).contains(&x) {
                    return Err(Bail);
                }
                *c.numeric
                    .get_mut(row * N_NUMERIC + usize::from(col))
                    .ok_or(Bail)? = x;
                stop
            }
            TPL_DATA_TIME => {
                data_time = Some(stamps.seconds(d.get(v..v + 14).ok_or(Bail)?)?);
                v + 14
            }
            SUFFIX_FLAG => {
                let f = d.get(v).copied().unwrap_or(0);
                if !flag_ok[usize::from(f)] {
                    return Err(Bail);
                }
                *c.flag.get_mut(row * FLAG_WIDTH).ok_or(Bail)? = f;
                v + 1
            }
            SUFFIX_RS => {
                let digit = d.get(v).map_or(10, |b| b.wrapping_sub(b'0'));
                if digit > 5 {
                    return Err(Bail);
                }
                *c.numeric.get_mut(row * N_NUMERIC + 9).ok_or(Bail)? = f64::from(digit);
                v + 1
            }
            _ => read_value(d, end, v, e.suffix, row, c, flag_ok)?,
        };
        // `stop` must be at the template's separator, or the end
        if e.sep == 0 {
            if stop != end {
                return Err(Bail);
            }
            at = stop;
        } else {
            if stop >= end || d.get(stop) != Some(&e.sep) {
                return Err(Bail);
            }
            at = stop + 1;
        }
    }
    if at != end {
        return Err(Bail);
    }
    Ok(data_time)
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

/// `read_plain_number` over the data area `d[..end]`: the numbers `read_number_at` leaves.
#[cold]
#[inline(never)]
fn read_long_number(d: &[u8], end: usize, start: usize) -> (f64, usize) {
    d.get(..end)
        .and_then(|cp| read_plain_number(cp, start).ok())
        .unwrap_or((0.0, NO_NUMBER))
}

/// Whether a value ends at `at` of the data area `d[..end]`: its end or a separator.
#[inline(always)]
fn ends_at(d: &[u8], end: usize, at: usize) -> bool {
    at == end || (at < end && matches!(d.get(at), Some(b';' | b',')))
}

/// Read the value of a field with suffix id `suffix` at `at` of the data area `d[..end]` into
/// row `row`; where it ends (at a separator or the end).
#[inline(always)]
fn read_value(
    d: &[u8],
    end: usize,
    mut at: usize,
    suffix: u8,
    row: usize,
    c: &mut Columns,
    flag_ok: &[bool; 256],
) -> Result<usize, Bail> {
    let col = usize::from(suffix);
    if col < N_NUMERIC {
        let x = if col == 9 {
            // RS: a whole number 0..5
            let digit = d.get(at).map_or(10, |b| b.wrapping_sub(b'0'));
            if digit > 5 || at >= end || !ends_at(d, end, at + 1) {
                return Err(Bail);
            }
            at += 1;
            f64::from(digit)
        } else {
            let (x, stop) = read_number_at(d, end, at);
            if !ends_at(d, end, stop) || (col == 10 && !(0.0..=24.0).contains(&x)) {
                return Err(Bail);
            }
            at = stop;
            x
        };
        *c.numeric.get_mut(row * N_NUMERIC + col).ok_or(Bail)? = x;
    } else if suffix == SUFFIX_FLAG {
        let f = d.get(at).copied().unwrap_or(0);
        // table 8's flags are letters and digits; the bitmap says which
        if at >= end || !ends_at(d, end, at + 1) || !flag_ok[usize::from(f)] {
            return Err(Bail);
        }
        *c.flag.get_mut(row * FLAG_WIDTH).ok_or(Bail)? = f;
        at += 1;
    } else if suffix == SUFFIX_EFLAG {
        let v_start = at;
        while at < end && at - v_start <= 4 && d[at].is_ascii_alphanumeric() {
            at += 1;
        }
        let n = at - v_start;
        if n == 0 || n > 4 || !ends_at(d, end, at) {
            return Err(Bail);
        }
        let cell = c
            .eflag
            .get_mut(row * EFLAG_WIDTH..(row + 1) * EFLAG_WIDTH)
            .ok_or(Bail)?;
        cell.fill(0);
        cell[..n].copy_from_slice(&d[v_start..at]);
    } else {
        // SampleTime, Info, SN and unknown suffixes: the validating path
        return Err(Bail);
    }
    Ok(at)
}

/// `DataTime` as a little-endian word.
const DATA_TIME: u64 = le(b"DataTime");

/// Read the data area `span` of `buf` into rows of `c` for frame `frame` (rows from
/// `c.n_rows()` on, one per pollutant in order of first appearance). Returns the DataTime's
/// wall-clock seconds (None without DataTime). On `Bail` the rows written so far are the
/// caller's to drop.
// not inlined: inside the batch loop its registers spill (callgrind: 1 % more instructions)
#[inline(never)]
pub fn fast_cp(
    buf: &[u8],
    span: Span,
    c: &mut Columns,
    frame: i32,
    known: &mut KnownCodes,
    station: u64,
) -> Result<Option<i64>, Bail> {
    let start = span.start as usize;
    let end = span.len();
    if end > CP_MAX {
        return Err(Bail);
    }
    // The data area `d[..end]` and eight bytes after it, the first of them '&' (no name or
    // value byte): every word load within the area is whole, and every scan stops at its end.
    // In a frame these are the '&&' closing CP=, the CRC and "\r\n"; otherwise a padded copy.
    let padded: [u8; CP_MAX + 8];
    let d: &[u8] = match buf.get(start..start + end + 8) {
        Some(d) if d[end] == b'&' => d,
        _ => {
            let cp = buf.get(start..start + end).ok_or(Bail)?;
            let mut p = [0u8; CP_MAX + 8];
            p[..end].copy_from_slice(cp);
            p[end] = b'&';
            padded = p;
            &padded[..end + 8]
        }
    };
    let first_row = c.n_rows();
    // the station's last data area of this CN, if it has the same shape: only values to read
    if let Some(t) = known.templates.find(station) {
        match by_template(d, end, t, c, frame, &known.flag_ok, &mut known.stamp) {
            Ok(data_time) => return Ok(data_time),
            Err(Bail) => c.drop_rows_from(first_row),
        }
    }
    known.templates.start();
    let data_time = plain_cp(d, end, c, frame, known)?;
    known.templates.keep(station);
    Ok(data_time)
}

/// `fast_cp`'s reading of the data area `d[..end]` field by field, each field recorded in
/// `known.templates`.
#[inline(always)]
fn plain_cp(
    d: &[u8],
    end: usize,
    c: &mut Columns,
    frame: i32,
    known: &mut KnownCodes,
) -> Result<Option<i64>, Bail> {
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
    // the previous field's `code-` as little-endian bytes, the mask of its length and its
    // length (a mask of 0 and a word of !0 never match)
    let mut prev_word = !0u64;
    let mut prev_mask = 0u64;
    let mut prev_len = 0usize;
    // the previous field's suffix id (`FIRST` when it opened its group)
    let mut prev_suffix = FIRST;
    while at < end {
        let field = at;
        let w = load(d, at);
        // the field's suffix id, group and value's start; None for DataTime (read here)
        let named: Option<(u8, usize, usize)> = 'name: {
            // Most fields continue the previous field's group: its `code-` (at most 8 bytes,
            // known to be a good name) and a standard suffix are recognised a word at a time.
            if let Some(g) = prev {
                if w & prev_mask == prev_word {
                    let sw = load(d, at + prev_len);
                    if let Some((suffix, len)) = known.suffix_after(prev_suffix, sw) {
                        break 'name Some((suffix, g, at + prev_len + len + 1));
                    }
                }
            }
            if w == DATA_TIME && d.get(at + 8) == Some(&b'=') {
                // a plain field: only DataTime, once
                if data_time.is_some() || sep == b',' {
                    return Err(Bail);
                }
                let v = at + 9;
                if v + 14 > end || !ends_at(d, end, v + 14) {
                    return Err(Bail);
                }
                data_time = Some(known.stamp.seconds(&d[v..v + 14])?);
                known
                    .templates
                    .field(DATA_TIME, u64::from(b'='), 9, TPL_DATA_TIME, 0);
                at = v + 14;
                prev = None;
                prev_word = !0;
                prev_mask = 0;
                break 'name None;
            }
            // The first field of a group: a code already found in appendix B (so a good
            // name) and a standard suffix are recognised a word at a time; anything else
            // goes through the byte loop.
            let cached = known.cached_code(w).and_then(|(n, key)| {
                let sw = load(d, at + n + 1);
                let (suffix, len) = known.suffix_after(FIRST, sw)?;
                Some((n, key, suffix, len))
            });
            let (code_len, key, suffix, value_at, checked) = match cached {
                Some((n, key, suffix, len)) => (n, key, suffix, at + n + 1 + len + 1, true),
                None => {
                    // the name, up to '=', noting the last '-'
                    let mut dash = usize::MAX;
                    loop {
                        if at >= end {
                            return Err(Bail);
                        }
                        match NAME_CLASS[usize::from(d[at])] {
                            C_NAME => {}
                            C_DASH => dash = at,
                            C_EQ => break,
                            _ => return Err(Bail),
                        }
                        at += 1;
                    }
                    let eq = at;
                    if dash == usize::MAX || dash == field || dash + 1 == eq || dash - field > 8 {
                        // DataTime is read above; any other plain name, an empty code or
                        // suffix, a long code: the validating path
                        return Err(Bail);
                    }
                    let code = &d[field..dash];
                    let suffix = suffix_id(&d[dash + 1..eq]);
                    (dash - field, pack_code(code), suffix, eq + 1, false)
                }
            };
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
                            let code = &d[field..field + code_len];
                            if n_groups == MAX_GROUPS || !(checked || known.contains(key, code)) {
                                return Err(Bail);
                            }
                            keys[n_groups] = key;
                            n_groups += 1;
                            let code = w & low_bytes(code_len);
                            c.open_row_word(frame, code);
                            known.templates.scratch.codes.push(code);
                            n_groups - 1
                        }
                    }
                }
            };
            // the next field continues this group when it starts with the same `code-`
            let n = code_len + 1;
            if n <= 8 {
                prev_mask = low_bytes(n);
                prev_word = w & prev_mask;
                prev_len = n;
            } else {
                // a code of 8 bytes and its '-' do not fit a word: never predicted
                prev_mask = 0;
                prev_word = !0;
            }
            prev = Some(g);
            break 'name Some((suffix, g, value_at));
        };
        if let Some((suffix, g, value_at)) = named {
            if suffix >= 32 || masks[g] & (1 << suffix) != 0 {
                return Err(Bail);
            }
            masks[g] |= 1 << suffix;
            prev_suffix = usize::from(suffix);
            known
                .templates
                .field(w, load(d, field + 8), value_at - field, suffix, g);
            at = read_value(d, end, value_at, suffix, first_row + g, c, &known.flag_ok)?;
        }
        // `at` is at a separator or the end; a separator right at the end ends the data
        // area with no empty field (as the validating path reads it)
        if at >= end {
            break;
        }
        sep = d.get(at).copied().unwrap_or(0);
        known.templates.sep(sep);
        at += 1;
        // d[end] is '&': a separator here is inside the area
        if matches!(d.get(at), Some(b';' | b',')) {
            // an empty field between separators
            return Err(Bail);
        }
    }
    Ok(data_time)
}

/// A mask of the low `n` (0 to 8) bytes of a word.
#[inline(always)]
fn low_bytes(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    }
}

/// Per byte of `w`, the high bit when the byte is at least `c` (an ASCII byte, below 0x80).
#[inline(always)]
fn at_least(w: u64, c: u8) -> u64 {
    // the high bits cleared, no addition carries into the next byte
    ((w & (ONES * 0x7F)) + ONES * u64::from(0x80 - c)) & HIGH
}

/// Per byte of `w`, the high bit when the byte is within `lo..=hi` (ASCII).
#[inline(always)]
fn within(w: u64, lo: u8, hi: u8) -> u64 {
    at_least(w, lo) & !at_least(w, hi + 1)
}

/// Per byte of `w`, the high bit when the byte is not an ASCII letter or digit.
#[inline(always)]
fn not_alnum(w: u64) -> u64 {
    let ok = within(w, b'0', b'9') | within(w, b'A', b'Z') | within(w, b'a', b'z');
    (!ok | w) & HIGH
}

/// Per byte of `w`, the high bit when the byte is not a digit or one of `A` to `F`.
#[inline(always)]
fn not_upper_hex(w: u64) -> u64 {
    let ok = within(w, b'0', b'9') | within(w, b'A', b'F');
    (!ok | w) & HIGH
}

/// Whether every byte of `v` passes `class` (which flags the bytes that do not), eight
/// bytes at a time; a short last word is filled with '0', which every class here passes.
#[inline(always)]
fn all_bytes(v: &[u8], class: fn(u64) -> u64) -> bool {
    let mut words = v.chunks_exact(8);
    for c in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        if class(u64::from_le_bytes(w)) != 0 {
            return false;
        }
    }
    let rest = words.remainder();
    let mut w = [b'0'; 8];
    w[..rest.len()].copy_from_slice(rest);
    class(u64::from_le_bytes(w)) == 0
}

/// Whether the `n` (1 to 8) bytes of the little-endian word `key` stand at `at` of `s`: one
/// masked compare where eight bytes are left, else byte by byte.
#[inline(always)]
fn key_at(s: &[u8], at: usize, key: u64, n: usize) -> bool {
    let w = load(s, at);
    if w != 0 {
        // no byte of a segment is 0: eight bytes were there
        return w & low_bytes(n) == key;
    }
    let key = key.to_le_bytes();
    key.get(..n)
        .is_some_and(|k| s.get(at..).is_some_and(|r| r.starts_with(k)))
}

/// The value of header field `key` at `at` in segment `s` (`key=value;`): its start and end.
/// `usual` is the value's standard length: when a ';' stands there, the value is taken to end
/// there without a scan. Every caller then checks the value's bytes against a class without
/// ';', so an accepted value has no earlier ';' and is the one the validating path finds.
/// `key` is the field's name and '=' as a little-endian word of `key_len` bytes (at most 8).
#[inline(always)]
fn header_field(
    s: &[u8],
    at: usize,
    key: u64,
    key_len: usize,
    usual: usize,
) -> Option<(usize, usize)> {
    if !key_at(s, at, key, key_len) {
        return None;
    }
    let from = at + key_len;
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
    fast_header_with(buf, seg, &mut HeaderMemo::default())
}

/// `fast_header` with what the headers read before leave (`known`'s): a QN whose date is
/// the last QN's has only its time checked, an ST that is the last one needs no table. The
/// same result whatever `known` holds.
#[inline]
pub fn fast_header_known(buf: &[u8], seg: Span, known: &mut KnownCodes) -> Result<Header, Bail> {
    fast_header_with(buf, seg, &mut known.header)
}

#[inline(never)]
fn fast_header_with(buf: &[u8], seg: Span, memo: &mut HeaderMemo) -> Result<Header, Bail> {
    let s = seg.of(buf);
    let base = seg.start as usize;
    let span = |(a, b): (usize, usize)| Span::new(base + a, base + b);
    let mut h = Header::default();
    let mut at = 0;
    if let Some(v) = header_field(s, at, le(b"QN="), 3, 17) {
        let q = &s[v.0..v.1];
        if q.len() != 17 {
            return Err(Bail);
        }
        let date = load(q, 0);
        if date != memo.qn_date || !time_of_known_date_ok(q) {
            read_stamp(q).map_err(|_| Bail)?;
            memo.qn_date = date;
        }
        h.qn = Some(span(v));
        at = v.1 + 1;
    }
    let v = header_field(s, at, le(b"ST="), 3, 2).ok_or(Bail)?;
    let st = &s[v.0..v.1];
    if st.len() != 2 {
        return Err(Bail);
    }
    let st_word = u64::from(st[0]) | (u64::from(st[1]) << 8);
    if st_word != memo.st {
        if !st
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            || !codes::is_known_st_bytes(st)
        {
            return Err(Bail);
        }
        memo.st = st_word;
    }
    h.st = Some(span(v));
    at = v.1 + 1;
    let v = header_field(s, at, le(b"CN="), 3, 4).ok_or(Bail)?;
    let cn = &s[v.0..v.1];
    let n = if cn.len() == 4 { read_uint(cn) } else { None };
    let n = n.ok_or(Bail)? as u16;
    if !codes::is_known_cn(n) {
        return Err(Bail);
    }
    h.cn = span(v);
    h.cn_num = n;
    at = v.1 + 1;
    let v = header_field(s, at, le(b"PW="), 3, 6).ok_or(Bail)?;
    let pw = &s[v.0..v.1];
    if pw.len() != 6 || !all_bytes(pw, not_alnum) {
        return Err(Bail);
    }
    h.pw = Some(span(v));
    at = v.1 + 1;
    let v = header_field(s, at, le(b"MN="), 3, 24).ok_or(Bail)?;
    let mn = &s[v.0..v.1];
    h.mn = Some(span(v));
    at = v.1 + 1;
    if let Some(v) = header_field(s, at, le(b"Flag="), 5, 1) {
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
    if let Some(v) = header_field(s, at, le(b"RF="), 3, 1) {
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
        mn.len() == 24 && all_bytes(mn, not_upper_hex)
    } else {
        !mn.is_empty() && mn.len() <= 24 && all_bytes(mn, not_alnum)
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

/// What `plain_segment` keeps between calls: the codes and templates of the data areas read
/// so far (a gateway's connections send the same few shapes), and rows to write into and
/// throw away. One per thread, shared by every Framer and parse on it, for the thread's
/// life: at most `TPL_SHAPES` shapes (about 11 MB at worst; a shape past them is read
/// without a template, never wrongly), as the batch decoder's own `KnownCodes` is kept.
#[derive(Default)]
struct PlainScratch {
    known: KnownCodes,
    rows: Columns,
}

thread_local! {
    static PLAIN: std::cell::RefCell<PlainScratch> = std::cell::RefCell::new(PlainScratch::default());
}

/// The header and data-area summary of the segment `seg` of `buf` when it has the plain shape
/// (the batch decoder's fast path: `fast_header` and `fast_cp` read it), exactly as
/// `parse_segment_at` gives them; None for anything else (the validating path decides).
///
/// Only for a frame whose framing gave no warning: the fast path accepts only what the
/// validating path accepts without one, in either mode, so the result holds for strict and
/// lenient options alike. `Framer` and `Frame::parse` try it first: the gateway reads every
/// frame through them, and a plain frame costs a third of the validating path's time.
pub fn plain_segment(buf: &[u8], seg: Span) -> Option<(Header, CpSummary)> {
    PLAIN
        .try_with(|scratch| {
            let mut guard = scratch.try_borrow_mut().ok()?;
            let PlainScratch { known, rows } = &mut *guard;
            let header = fast_header_known(buf, seg, known).ok()?;
            let station = station_key(buf, header.mn, header.cn_num);
            let read = fast_cp(buf, header.cp, rows, 0, known, station);
            rows.drop_rows_from(0);
            let data_time_secs = read.ok()?;
            let cp = header.cp.of(buf);
            let data_time = match data_time_secs {
                Some(_) => Some(data_time_value(cp, header.cp.start as usize)?),
                None => None,
            };
            // a plain data area has no '=' in its values: one per field
            let fields = cp.iter().filter(|&&b| b == b'=').count();
            let summary = CpSummary {
                data_time,
                data_time_secs,
                fields: u32::try_from(fields).ok()?,
            };
            Some((header, summary))
        })
        .ok()
        .flatten()
}

/// A whole frame of the plain shape, parsed as `segment::parse_frame` parses it with no
/// warning; None for anything else (a framing warning included).
pub fn plain_frame(buf: &[u8], opts: &Options) -> Option<Parsed> {
    if !buf.starts_with(b"##") {
        return None;
    }
    let mut early = Vec::new();
    match locate(buf, true, opts, &mut early) {
        Located::Frame {
            segment,
            crc,
            consumed,
        } if consumed == buf.len() && early.is_empty() => {
            let (header, cp) = plain_segment(buf, segment)?;
            Some(Parsed {
                segment,
                crc,
                header,
                cp,
            })
        }
        _ => None,
    }
}

/// The span of the `DataTime` field's value in the data area `cp` (at `start` of its buffer):
/// the 14 bytes after the first `DataTime=` that begins a field.
fn data_time_value(cp: &[u8], start: usize) -> Option<Span> {
    const NAME: &[u8] = b"DataTime=";
    let at = (0..cp.len())
        .find(|&i| cp[i..].starts_with(NAME) && (i == 0 || matches!(cp[i - 1], b';' | b',')))?;
    let v = at + NAME.len();
    cp.get(v..v + 14)?;
    Some(Span::new(start + v, start + v + 14))
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
        assert_eq!(
            known.cached_code(w(b"w01018-R")),
            Some((6, pack_code(b"w01018")))
        );
        assert_eq!(
            known.cached_code(w(b"B01-Rtd=")),
            Some((3, pack_code(b"B01")))
        );
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

    /// `read_number_at` (a word at a time) against `read_plain_number` (byte by byte) on
    /// numbers of every length and '.' position, with each kind of byte after them.
    #[test]
    fn numbers_by_word_equal_numbers_by_byte() {
        let mut texts: Vec<String> = Vec::new();
        for sign in ["", "-", "+"] {
            for int in 0..=16usize {
                for frac in [
                    None,
                    Some(0),
                    Some(1),
                    Some(2),
                    Some(3),
                    Some(6),
                    Some(7),
                    Some(9),
                ] {
                    let mut t = sign.to_string();
                    t.extend((0..int).map(|i| char::from(b'0' + ((i * 7 + 3) % 10) as u8)));
                    if let Some(f) = frac {
                        t.push('.');
                        t.extend((0..f).map(|i| char::from(b'9' - (i % 10) as u8)));
                    }
                    for after in ["", ";", ",", "x", ".", "5", "-", "&"] {
                        texts.push(format!("{t}{after}"));
                    }
                }
            }
        }
        for t in texts {
            for lead in 0..3usize {
                // the area, then '&' and padding as in a frame
                let area = format!("{}{t}", "a=;".get(..lead).unwrap_or(""));
                let mut d = area.clone().into_bytes();
                let end = d.len();
                d.extend_from_slice(b"&&1234\r\n");
                let cp = &d[..end];
                let want = read_plain_number(cp, lead);
                let (x, stop) = read_number_at(&d, end, lead);
                match want {
                    Ok((a, sa)) => {
                        assert_eq!((a.to_bits(), sa), (x.to_bits(), stop), "{area:?}")
                    }
                    Err(_) => assert_eq!(stop, NO_NUMBER, "{area:?}"),
                }
            }
        }
    }

    /// `name_at` (two masked word compares) against `starts_with` on the bytes, for names
    /// of every length up to `TPL_NAME_MAX` at every position, with each byte of the text
    /// changed in turn.
    #[test]
    fn template_names_by_word_equal_names_by_byte() {
        let text = b"w01018ab-ZsRtd=12.5,a21026-Flag=N;DataTime=20240301080000&&1234\r\n";
        // the area ends at the first '&': `load` reads whole words up to eight bytes past it
        let end = text.iter().position(|&b| b == b'&').unwrap_or(text.len());
        for len in 1..=TPL_NAME_MAX {
            for from in 0..end {
                // a name lies within the area (and is followed by its value)
                let Some(name) = text.get(from..from + len).filter(|_| from + len < end) else {
                    continue;
                };
                let mut t = Templates::default();
                t.start();
                let w1 = load(text, from + 8);
                t.field(load(text, from), w1, len, 0, 0);
                let e = t.scratch.entries[0];
                for k in 0..end + 8 {
                    let mut d = text.to_vec();
                    if let Some(b) = d.get_mut(k) {
                        *b ^= 0x20;
                    }
                    for at in 0..end {
                        let want = d.get(at..).is_some_and(|r| r.starts_with(name));
                        assert_eq!(name_at(&d, at, &e), want, "{len} {from} {k} {at}");
                    }
                }
            }
        }
    }

    /// A template keeps what the fast path read, and a data area with other names, other
    /// separators or another end leaves it.
    #[test]
    fn templates_by_station() {
        let mut known = KnownCodes::default();
        let area = |cp: &str| {
            let mut d = cp.as_bytes().to_vec();
            let end = d.len();
            d.extend_from_slice(b"&&1234\r\n");
            (d, end)
        };
        let first = "DataTime=20240301080000;w01018-Rtd=1.5,w01018-Flag=N;B02-Rtd=7";
        let (d, end) = area(first);
        let mut c = Columns::default();
        known.templates.start();
        assert!(plain_cp(&d, end, &mut c, 0, &mut known).is_ok());
        known.templates.keep(5);
        let t = known.templates.find(5).expect("kept").clone();
        assert_eq!(t.entries.len(), 4);
        assert_eq!(
            t.codes,
            vec![u64::from_le_bytes(*b"w01018\0\0"), le(b"B02")]
        );
        assert_eq!(
            t.entries.iter().map(|e| e.sep).collect::<Vec<_>>(),
            b";,;\0"
        );
        assert!(known.templates.find(7).is_none());
        for (cp, ok) in [
            (
                "DataTime=20240301080000;w01018-Rtd=123456.25,w01018-Flag=D;B02-Rtd=-7",
                true,
            ),
            (
                "DataTime=20240301080000;w01018-Rtd=1.5,w01018-Flag=N;B02-Rtd=7;",
                false,
            ),
            (
                "DataTime=20240301080000;w01018-Rtd=1.5,w01018-Flag=N;B02-Rtd=7,B02-Flag=N",
                false,
            ),
            (
                "DataTime=20240301080000;w01018-Rtd=1.5;w01018-Flag=N;B02-Rtd=7",
                false,
            ),
            (
                "DataTime=20240301080000;w01018-Min=1.5,w01018-Flag=N;B02-Rtd=7",
                false,
            ),
            (
                "DataTime=20240301080000;w01018-Rtd=1.5,w01018-Flag=N;B03-Rtd=7",
                false,
            ),
            (
                "DataTime=20240301080000;w01018-Rtd=1.5,w01018-Flag=NN;B02-Rtd=7",
                false,
            ),
            (
                "DataTime=20240301080000;w01018-Rtd=1.5,w01018-Flag=N",
                false,
            ),
        ] {
            let (d, end) = area(cp);
            let mut c = Columns::default();
            let mut stamps = LastStamp::default();
            let got = by_template(&d, end, &t, &mut c, 0, &known.flag_ok, &mut stamps);
            assert_eq!(got.is_ok(), ok, "{cp}");
        }
        // the same key, another shape: the newer template replaces the older
        let (d, end) = area("w01018-Rtd=1.5");
        known.templates.start();
        assert!(plain_cp(&d, end, &mut Columns::default(), 0, &mut known).is_ok());
        known.templates.keep(5);
        assert_eq!(known.templates.find(5).map(|t| t.entries.len()), Some(1));
    }

    /// The template table grows as stations come, and keeps their templates as it grows.
    #[test]
    fn templates_grow_and_keep() {
        let mut t = Templates::default();
        let key = |i: u64| (i << 40) | 1;
        for i in 0..40 {
            t.start();
            t.field(le(b"B01-Rtd="), 0, 8, 0, 0);
            t.scratch.codes.push(i);
            t.keep(key(i));
        }
        assert!(t.slots.len() > 2 * TPL_SETS_FIRST);
        for i in 0..40 {
            assert_eq!(
                t.find(key(i)).map(|t| t.codes.clone()),
                Some(vec![i]),
                "{i}"
            );
        }
        assert!(t.find(key(40)).is_none());
        // a shape kept again for another station is kept once
        let shapes = t.shapes.len();
        t.start();
        t.field(le(b"B01-Rtd="), 0, 8, 0, 0);
        t.scratch.codes.push(3);
        t.keep(key(41));
        assert_eq!(t.shapes.len(), shapes);
        assert_eq!(t.find(key(41)), t.find(key(3)));
    }

    /// `LastStamp::seconds` (the last stamp by two words) against `read_stamp`, on a stamp
    /// read again and with each byte changed in turn.
    #[test]
    fn last_stamp_equals_read_stamp() {
        let want = |v: &[u8]| {
            read_stamp(v)
                .map(|s| s.wall_seconds() as f64 as i64)
                .map_err(|_| Bail)
        };
        let mut last = LastStamp::default();
        for base in [&b"20240301080000"[..], b"20240229235959", b"19991231000000"] {
            assert_eq!(last.seconds(base), want(base));
            assert_eq!(last.seconds(base), want(base));
            for k in 0..base.len() {
                for v in [b'0', b'1', b'5', b'9', b'/', b':', b'a', 0] {
                    let mut s = base.to_vec();
                    s[k] = v;
                    assert_eq!(last.seconds(&s), want(&s), "{s:?}");
                    assert_eq!(last.seconds(base), want(base));
                }
            }
            assert_eq!(last.seconds(&base[..13]), Err(Bail));
        }
    }

    /// `key_at` (a masked word compare) against `starts_with`, for each header key at every
    /// position of a header, with each byte changed in turn, and near the end where it
    /// compares byte by byte.
    #[test]
    fn header_keys_by_word() {
        let seg = b"QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=ABC;Flag=5;RF=1;CP=&&&&";
        for key in [
            &b"QN="[..],
            b"ST=",
            b"CN=",
            b"PW=",
            b"MN=",
            b"Flag=",
            b"RF=",
            b"CP=&&",
        ] {
            for k in 0..=seg.len() {
                let mut s = seg.to_vec();
                if let Some(b) = s.get_mut(k) {
                    *b ^= 0x01;
                }
                for at in 0..=s.len() {
                    let want = s.get(at..).is_some_and(|r| r.starts_with(key));
                    assert_eq!(key_at(&s, at, le(key), key.len()), want, "{key:?} {k} {at}");
                }
            }
        }
    }

    /// The word classes against the byte predicates they replace, on every byte in every
    /// position.
    #[test]
    fn byte_classes_by_word() {
        let hex = |b: &u8| b.is_ascii_digit() || (b'A'..=b'F').contains(b);
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut v = *b"0A9Fz1Za";
                v[pos] = b;
                assert_eq!(
                    all_bytes(&v, not_alnum),
                    v.iter().all(u8::is_ascii_alphanumeric)
                );
                let mut h = *b"0A9F3B7C";
                h[pos] = b;
                assert_eq!(all_bytes(&h, not_upper_hex), h.iter().all(hex), "{h:?}");
                for n in 0..8 {
                    assert_eq!(
                        all_bytes(&v[..n], not_alnum),
                        v[..n].iter().all(u8::is_ascii_alphanumeric)
                    );
                }
            }
        }
    }
}
