//! The data area (CP): `name=value` fields, `;` between groups and `,` within a group, and
//! what each field's value may be (table 4).

use crate::codes;
use crate::error::{ErrorKind, FrameError, WarnCode};
use crate::frame::{Options, Span};
use crate::text::{read_number, read_stamp, read_uint, NumberForm};
use crate::WarnSink;

/// One `name=value` of the data area, as spans of the frame buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpField {
    pub key: Span,
    pub value: Span,
    /// for `code-Suffix` names: the code and the suffix
    pub code: Option<Span>,
    pub suffix: Option<Span>,
    /// the separator before this field (`;`, `,`, or 0 for the first)
    pub sep: u8,
    /// spaces stood around the name or the value (trimmed from the spans)
    pub padded: bool,
    /// the name is non-empty and only letters, digits, '-' and '_'
    pub name_ok: bool,
}

/// Trim ASCII spaces from both ends of `start..end` in `buf`.
fn trim(buf: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && buf[start] == b' ' {
        start += 1;
    }
    while end > start && buf[end - 1] == b' ' {
        end -= 1;
    }
    (start, end)
}

/// Iterates the fields of a data area; yields `Err(span)` for a non-empty piece without `=`
/// and skips empty pieces (reported through `empty`).
pub struct CpFields<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    sep: u8,
    pub empty: u32,
}

impl<'a> CpFields<'a> {
    pub fn new(buf: &'a [u8], cp: Span) -> Self {
        CpFields {
            buf,
            pos: cp.start as usize,
            end: cp.end as usize,
            sep: 0,
            empty: 0,
        }
    }
}

/// Byte classes for scanning a data area in one pass.
const K_NAME: u8 = 0; // letters, digits, '_'
const K_DASH: u8 = 5; // '-' between code and suffix
const K_EQ: u8 = 1;
const K_SEP: u8 = 2; // ';' ','
const K_SPACE: u8 = 3;
const K_OTHER: u8 = 4;

const fn classes() -> [u8; 256] {
    let mut t = [K_OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
            t[b] = K_NAME;
        }
        b += 1;
    }
    t[b'-' as usize] = K_DASH;
    t[b'=' as usize] = K_EQ;
    t[b';' as usize] = K_SEP;
    t[b',' as usize] = K_SEP;
    t[b' ' as usize] = K_SPACE;
    t
}

static CLASS: [u8; 256] = classes();

impl Iterator for CpFields<'_> {
    type Item = Result<CpField, Span>;

    fn next(&mut self) -> Option<Self::Item> {
        let buf = self.buf;
        let end = self.end.min(buf.len());
        loop {
            if self.pos >= end {
                return None;
            }
            let start = self.pos;
            let piece = &buf[start..end];
            // the name, up to '=': one pass that also notes the last '-' (code-Suffix)
            let mut name_ok = true;
            let mut spaces = false;
            let mut eq = None;
            let mut dash = None;
            let mut j = piece.len();
            for (at, &b) in piece.iter().enumerate() {
                let c = CLASS[usize::from(b)];
                if c == K_NAME {
                    continue;
                }
                match c {
                    K_DASH => dash = Some(at),
                    K_EQ => {
                        eq = Some(at);
                        j = at;
                        break;
                    }
                    K_SEP => {
                        j = at;
                        break;
                    }
                    K_SPACE => spaces = true,
                    _ => name_ok = false,
                }
            }
            let stop = match eq {
                Some(e) => {
                    let v = &piece[e + 1..];
                    e + 1
                        + v.iter()
                            .position(|&b| b == b';' || b == b',')
                            .unwrap_or(v.len())
                }
                None => j,
            };
            let sep = self.sep;
            if stop < piece.len() {
                self.sep = piece[stop];
                self.pos = start + stop + 1;
            } else {
                self.pos = end;
            }
            let Some(eq) = eq else {
                if piece[..stop].iter().all(|&b| b == b' ') {
                    self.empty += 1;
                    continue;
                }
                return Some(Err(Span::new(start, start + stop)));
            };
            let (eq, stop) = (start + eq, start + stop);
            let (ks, ke) = if spaces {
                trim(buf, start, eq)
            } else {
                (start, eq)
            };
            let (vs, ve) = if stop > eq + 1 && (buf[eq + 1] == b' ' || buf[stop - 1] == b' ') {
                trim(buf, eq + 1, stop)
            } else {
                (eq + 1, stop)
            };
            let padded = spaces || ve - vs != stop - eq - 1;
            if spaces && buf[ks..ke].contains(&b' ') {
                name_ok = false;
            }
            let key = Span::new(ks, ke);
            let value = Span::new(vs, ve);
            let k = &buf[ks..ke];
            let dash = if spaces {
                k.iter().rposition(|&b| b == b'-')
            } else {
                dash
            };
            let (code, suffix) = match dash {
                Some(d) if d > 0 && d + 1 < k.len() => {
                    (Some(Span::new(ks, ks + d)), Some(Span::new(ks + d + 1, ke)))
                }
                _ => (None, None),
            };
            return Some(Ok(CpField {
                key,
                value,
                code,
                suffix,
                sep,
                padded,
                name_ok: name_ok && !k.is_empty(),
            }));
        }
    }
}

/// What a field's value must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueKind {
    /// a decimal number (N14.6), kept as f64
    Number,
    /// a number with a range the standard gives
    Ranged(f64, f64),
    /// an integer with a range
    Int(u32, u32),
    /// MinInterval's allowed values
    MinInterval,
    /// one data flag of table 8
    DataFlag,
    /// the extended flag: up to 4 of A-Z/0-9
    EFlag,
    /// YYYYMMDDhhmmss
    Time,
    /// hhmmss
    ClockTime,
    /// QnRtn of table 7
    QnRtn,
    /// ExeRtn of table 6
    ExeRtn,
    /// 6 characters (NewPW)
    Password,
    /// a code (PolId, InfoId)
    Code,
    /// 24 hex (SN)
    Serial,
    /// free text (Info, and names the standard does not define)
    Text,
}

/// The numeric suffixes, in the order of `decode_batch`'s columns.
pub const NUMERIC_SUFFIXES: [&str; 17] = [
    "Rtd",
    "Min",
    "Avg",
    "Max",
    "Cou",
    "ZsRtd",
    "ZsMin",
    "ZsAvg",
    "ZsMax",
    "RS",
    "RT",
    "Data",
    "DayData",
    "NightData",
    "Ala",
    "UpValue",
    "LowValue",
];

/// Ids of the suffixes the standard defines: 0..17 are the numeric columns in the order of
/// `NUMERIC_SUFFIXES`, then these.
pub const SUFFIX_FLAG: u8 = 17;
pub const SUFFIX_EFLAG: u8 = 18;
pub const SUFFIX_SAMPLE_TIME: u8 = 19;
pub const SUFFIX_INFO: u8 = 20;
pub const SUFFIX_SN: u8 = 21;
pub const SUFFIX_UNKNOWN: u8 = u8::MAX;

/// The id of a suffix, read once per field.
#[inline]
pub fn suffix_id(suffix: &[u8]) -> u8 {
    match suffix {
        b"Rtd" => 0,
        b"Min" => 1,
        b"Avg" => 2,
        b"Max" => 3,
        b"Cou" => 4,
        b"ZsRtd" => 5,
        b"ZsMin" => 6,
        b"ZsAvg" => 7,
        b"ZsMax" => 8,
        b"RS" => 9,
        b"RT" => 10,
        b"Data" => 11,
        b"DayData" => 12,
        b"NightData" => 13,
        b"Ala" => 14,
        b"UpValue" => 15,
        b"LowValue" => 16,
        b"Flag" => SUFFIX_FLAG,
        b"EFlag" => SUFFIX_EFLAG,
        b"SampleTime" => SUFFIX_SAMPLE_TIME,
        b"Info" => SUFFIX_INFO,
        b"SN" => SUFFIX_SN,
        _ => SUFFIX_UNKNOWN,
    }
}

/// Column of a numeric suffix in `NUMERIC_SUFFIXES`.
#[inline]
pub fn numeric_column(suffix: &[u8]) -> Option<usize> {
    let id = suffix_id(suffix);
    (usize::from(id) < NUMERIC_SUFFIXES.len()).then_some(usize::from(id))
}

/// The kind of a `code-Suffix` field's value by suffix id; None for an unknown suffix.
pub fn suffix_kind_of(id: u8) -> Option<ValueKind> {
    Some(match id {
        9 => ValueKind::Int(0, 5),
        10 => ValueKind::Ranged(0.0, 24.0),
        0..=16 => ValueKind::Number,
        SUFFIX_FLAG => ValueKind::DataFlag,
        SUFFIX_EFLAG => ValueKind::EFlag,
        SUFFIX_SAMPLE_TIME => ValueKind::Time,
        SUFFIX_INFO => ValueKind::Text,
        SUFFIX_SN => ValueKind::Serial,
        _ => return None,
    })
}

/// The kind of a `code-Suffix` field's value; None for a suffix the standard does not define.
pub fn suffix_kind(suffix: &[u8]) -> Option<ValueKind> {
    suffix_kind_of(suffix_id(suffix))
}

/// The kind of a plain (ungrouped) field's value.
pub fn plain_kind(key: &[u8]) -> ValueKind {
    match key {
        b"DataTime" | b"BeginTime" | b"EndTime" | b"SystemTime" | b"RestartTime" => ValueKind::Time,
        b"QnRtn" => ValueKind::QnRtn,
        b"ExeRtn" => ValueKind::ExeRtn,
        b"RtdInterval" => ValueKind::Int(30, 3600),
        b"MinInterval" => ValueKind::MinInterval,
        b"OverTime" | b"ReCount" | b"VaseNo" => ValueKind::Int(1, 99),
        b"Ctime" => ValueKind::Int(1, 24),
        b"Stime" => ValueKind::Int(1, 120),
        b"CstartTime" => ValueKind::ClockTime,
        b"NewPW" => ValueKind::Password,
        b"PolId" | b"InfoId" => ValueKind::Code,
        _ => ValueKind::Text,
    }
}

/// The plain field names of table 4 (names outside it are kept as text, and reported).
pub fn is_standard_plain(key: &[u8]) -> bool {
    !matches!(plain_kind(key), ValueKind::Text)
}

/// What the data area held that the frame's callers want without scanning again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpSummary {
    pub data_time: Option<Span>,
    pub data_time_secs: Option<i64>,
    pub fields: u32,
}

fn field_name(buf: &[u8], f: &CpField) -> String {
    String::from_utf8_lossy(f.key.of(buf)).into_owned()
}

/// Check a value against its kind. Errors are `value` errors naming the field and value.
/// `Ok(false)` means the value is empty and was let through (lenient).
pub fn check_value<S: WarnSink>(
    buf: &[u8],
    f: &CpField,
    kind: ValueKind,
    opts: &Options,
    sink: &mut S,
) -> Result<Option<f64>, FrameError> {
    let v = f.value.of(buf);
    let at = f.value.start as usize;
    let bad = |why: &str| FrameError::at_field(ErrorKind::Value, &field_name(buf, f), v, at, why);
    // A deviation strict mode rejects and lenient mode reports.
    macro_rules! deviation {
        ($code:expr, $why:expr) => {{
            if opts.strict {
                return Err(bad(&$why));
            }
            sink.warn($code, || {
                format!(
                    "{}={:?}: {}",
                    field_name(buf, f),
                    crate::error::shown(v),
                    $why
                )
            });
        }};
    }
    if v.is_empty() && !matches!(kind, ValueKind::Text) {
        if opts.strict {
            return Err(bad("the value is empty"));
        }
        sink.warn(WarnCode::EmptyValue, || {
            format!("{} has an empty value", field_name(buf, f))
        });
        return Ok(None);
    }
    match kind {
        ValueKind::Number | ValueKind::Ranged(..) => {
            let Some((x, form)) = read_number(v) else {
                return Err(bad("not a decimal number"));
            };
            if form == NumberForm::Loose {
                deviation!(
                    WarnCode::NumberForm,
                    "more digits than N14.6 allows, or exponent form"
                );
            }
            if let ValueKind::Ranged(lo, hi) = kind {
                if !(lo..=hi).contains(&x) {
                    deviation!(WarnCode::OutOfRange, format!("outside {lo}..{hi}"));
                }
            }
            return Ok(Some(x));
        }
        ValueKind::Int(lo, hi) => {
            let Some(x) = read_uint(v) else {
                return Err(bad("not a whole number"));
            };
            if !(lo..=hi).contains(&x) {
                deviation!(WarnCode::OutOfRange, format!("outside {lo}..{hi}"));
            }
            return Ok(Some(f64::from(x)));
        }
        ValueKind::MinInterval => {
            let Some(x) = read_uint(v) else {
                return Err(bad("not a whole number of minutes"));
            };
            if ![1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30].contains(&x) {
                deviation!(
                    WarnCode::OutOfRange,
                    "not one of 1,2,3,4,5,6,10,12,15,20,30 minutes"
                );
            }
        }
        ValueKind::QnRtn | ValueKind::ExeRtn => {
            let Some(x) = read_uint(v) else {
                return Err(bad("not a whole number"));
            };
            let known = if kind == ValueKind::QnRtn {
                codes::is_known_qn_rtn(x)
            } else {
                codes::is_known_exe_rtn(x)
            };
            if !known {
                deviation!(WarnCode::OutOfRange, "not a code of the standard's table");
            }
        }
        ValueKind::DataFlag => {
            let ok = v.len() == 1 && v[0].is_ascii_alphanumeric();
            if !ok || !codes::is_known_data_flag(v) {
                if v.len() > 4 || !v.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(bad("a data flag is one of N, F, M, S, D, C, T, B"));
                }
                deviation!(
                    WarnCode::UnknownDataFlag,
                    "not a data flag of table 8 (N F M S D C T B)"
                );
            }
        }
        ValueKind::EFlag => {
            if v.len() > 4 || !v.iter().all(u8::is_ascii_alphanumeric) {
                deviation!(WarnCode::UnknownDataFlag, "EFlag is at most 4 of A-Z/0-9");
            }
        }
        ValueKind::Time => {
            if v.len() != 14 {
                return Err(bad("not a time YYYYMMDDhhmmss"));
            }
            return match read_stamp(v) {
                // whole seconds below 2^53 are exact in an f64
                Ok(stamp) => Ok(Some(stamp.wall_seconds() as f64)),
                Err(fault) => Err(bad(&fault.describe("YYYYMMDDhhmmss"))),
            };
        }
        ValueKind::ClockTime => {
            let ok = v.len() == 6
                && read_uint(&v[0..2]).is_some_and(|h| h < 24)
                && read_uint(&v[2..4]).is_some_and(|m| m < 60)
                && read_uint(&v[4..6]).is_some_and(|s| s < 60);
            if !ok {
                return Err(bad("not a clock time hhmmss"));
            }
        }
        ValueKind::Password => {
            if v.len() != 6 || !v.iter().all(u8::is_ascii_alphanumeric) {
                deviation!(WarnCode::PwLength, "a password is 6 of 0-9/a-z/A-Z");
            }
        }
        ValueKind::Code => {
            if !v.iter().all(u8::is_ascii_alphanumeric) {
                return Err(bad("a code is letters and digits"));
            }
        }
        ValueKind::Serial => {
            if v.len() != 24
                || !v
                    .iter()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
            {
                deviation!(WarnCode::MnForm, "a serial number is 24 of 0-9/A-F");
            }
        }
        ValueKind::Text => {}
    }
    Ok(None)
}

/// A cheap hash of a field name: names are short, so the first and last eight bytes and the
/// length say almost everything; equal hashes are confirmed byte by byte.
#[inline]
fn key_hash(k: &[u8]) -> u64 {
    let n = k.len();
    let (a, b) = if n >= 8 {
        let mut x = [0u8; 8];
        x.copy_from_slice(&k[..8]);
        let mut y = [0u8; 8];
        y.copy_from_slice(&k[n - 8..]);
        (u64::from_le_bytes(x), u64::from_le_bytes(y))
    } else {
        let mut x = [0u8; 8];
        x[..n].copy_from_slice(k);
        (u64::from_le_bytes(x), 0)
    };
    let h = (a ^ b.rotate_left(29) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 31)
}

/// Names seen so far in one data area: a 256-bit filter, then full hashes, then bytes.
/// A data area holds up to a few hundred names, so a quadratic rescan would dominate parsing;
/// only plain names (a few per frame) come here, so eight live on the stack and the common
/// frame allocates nothing.
struct SeenKeys {
    filter: [u64; 4],
    inline: [(u64, Span); 8],
    n: usize,
    spill: Vec<(u64, Span)>,
}

impl SeenKeys {
    fn new() -> Self {
        SeenKeys {
            filter: [0; 4],
            inline: [(0, Span::default()); 8],
            n: 0,
            spill: Vec::new(),
        }
    }

    /// Record `key`; true if the same name was recorded before.
    #[inline]
    fn insert(&mut self, buf: &[u8], key: Span) -> bool {
        let k = key.of(buf);
        let h = key_hash(k);
        let (word, bit) = ((h >> 6) as usize & 3, 1u64 << (h & 63));
        let maybe = self.filter[word] & bit != 0;
        self.filter[word] |= bit;
        let again = maybe
            && self.inline[..self.n.min(8)]
                .iter()
                .chain(self.spill.iter())
                .any(|&(g, s)| g == h && s.of(buf) == k);
        if self.n < 8 {
            self.inline[self.n] = (h, key);
        } else {
            self.spill.push((h, key));
        }
        self.n += 1;
        again
    }
}

/// A code packed for comparison: codes of at most 8 bytes compare as one integer.
#[inline]
fn code_key(code: &[u8]) -> u64 {
    // a byte loop, not copy_from_slice: a variable-length copy becomes a memcpy call
    let mut k: u64 = 0;
    for &b in code.iter().take(8) {
        k = (k << 8) | u64::from(b);
    }
    k ^ ((code.len() as u64) << 56)
}

/// The pollutant groups of one data area in order of first appearance, each with the set of
/// suffixes it has had, so a repeated `code-Suffix` is found without hashing names.
struct Groups {
    inline: [(u64, Span, u32); 32],
    n: usize,
    spill: Vec<(u64, Span, u32)>,
}

impl Groups {
    fn new() -> Self {
        Groups {
            inline: [(0, Span::default(), 0); 32],
            n: 0,
            spill: Vec::new(),
        }
    }

    fn get_mut(&mut self, i: usize) -> &mut (u64, Span, u32) {
        if i < 32 {
            &mut self.inline[i]
        } else {
            &mut self.spill[i - 32]
        }
    }

    /// The index of `code`'s group, and whether it is new.
    fn find_or_add(&mut self, buf: &[u8], key: u64, code: Span) -> (usize, bool) {
        let c = code.of(buf);
        let long = c.len() > 8;
        let hit = self.inline[..self.n.min(32)]
            .iter()
            .chain(self.spill.iter())
            .position(|&(k, s, _)| k == key && (!long || s.of(buf) == c));
        if let Some(i) = hit {
            return (i, false);
        }
        if self.n < 32 {
            self.inline[self.n] = (key, code, 0);
        } else {
            self.spill.push((key, code, 0));
        }
        self.n += 1;
        (self.n - 1, true)
    }
}

/// A deviation of one field: strict mode rejects it (a `cp` error naming the field and its
/// value), lenient mode reports it and goes on.
fn deviation<S: WarnSink>(
    buf: &[u8],
    f: &CpField,
    opts: &Options,
    sink: &mut S,
    code: WarnCode,
    why: &str,
) -> Result<(), FrameError> {
    if opts.strict {
        return Err(FrameError::at_field(
            ErrorKind::Cp,
            &field_name(buf, f),
            f.value.of(buf),
            f.key.start as usize,
            why,
        ));
    }
    sink.warn(code, || format!("{}: {why}", field_name(buf, f)));
    Ok(())
}

/// What a visitor of `check_cp` sees for each accepted field.
#[derive(Debug, Clone, Copy)]
pub struct Accepted<'f> {
    pub field: &'f CpField,
    /// the value as a number, for numeric fields with a value; for a time field
    /// (`YYYYMMDDhhmmss`), its wall-clock seconds since 1970
    pub number: Option<f64>,
    /// for `code-Suffix` fields: the index of the code's group (0, 1, ... in order of first
    /// appearance), which is the pollutant's row
    pub group: Option<usize>,
    /// the suffix id (`suffix_id`), or `SUFFIX_UNKNOWN`
    pub suffix: u8,
}

/// Validate the whole data area and return what callers need from it. `visit` sees every
/// field as it is accepted (the batch decoder fills its columns from it, so a data area is
/// scanned once); on an error, the fields visited so far belong to a rejected frame.
pub fn check_cp<S: WarnSink, V: FnMut(&Accepted<'_>)>(
    buf: &[u8],
    cp: Span,
    opts: &Options,
    sink: &mut S,
    visit: &mut V,
) -> Result<CpSummary, FrameError> {
    let mut summary = CpSummary::default();
    if cp.len() > 950 {
        if opts.strict {
            return Err(FrameError::at_field(
                ErrorKind::Cp,
                "CP",
                cp.of(buf),
                cp.start as usize,
                format!(
                    "the data area is {} bytes; the standard allows 950",
                    cp.len()
                ),
            ));
        }
        sink.warn(WarnCode::CpLength, || {
            format!("the data area is {} bytes (over 950)", cp.len())
        });
    }
    let mut seen = SeenKeys::new();
    let mut groups = Groups::new();
    // the group of the previous field, if it had a code
    let mut current: Option<(u64, Span, usize)> = None;
    let mut warned_separator = false;
    let mut iter = CpFields::new(buf, cp);
    for item in &mut iter {
        let f = match item {
            Ok(f) => f,
            Err(piece) => {
                return Err(FrameError::at_field(
                    ErrorKind::Cp,
                    "CP",
                    piece.of(buf),
                    piece.start as usize,
                    "a data-area field without '='",
                ))
            }
        };
        summary.fields += 1;
        let key = f.key.of(buf);
        if !f.name_ok {
            return Err(FrameError::at_field(
                ErrorKind::Cp,
                "CP",
                key,
                f.key.start as usize,
                "a field name is letters, digits and '-'",
            ));
        }
        if f.padded {
            deviation(
                buf,
                &f,
                opts,
                sink,
                WarnCode::Whitespace,
                "spaces around the name or value (trimmed)",
            )?;
        }
        let suffix = match f.suffix {
            Some(sx) if f.code.is_some() => suffix_id(sx.of(buf)),
            _ => SUFFIX_UNKNOWN,
        };
        let mut group = None;
        let mut same_group = false;
        let repeated;
        if let (Some(code_span), Some(_)) = (f.code, f.suffix) {
            let code = code_span.of(buf);
            let key = code_key(code);
            let (g, is_new) = match current {
                Some((k, s, g)) if k == key && (code.len() <= 8 || s.of(buf) == code) => {
                    same_group = true;
                    (g, false)
                }
                _ => groups.find_or_add(buf, key, code_span),
            };
            if is_new && !codes::is_known_field_code(code) {
                sink.warn(WarnCode::UnknownCode, || {
                    format!(
                        "code {:?} is not in appendix B (kept)",
                        String::from_utf8_lossy(code)
                    )
                });
            }
            current = Some((key, code_span, g));
            group = Some(g);
            if suffix == SUFFIX_UNKNOWN {
                repeated = seen.insert(buf, f.key);
            } else {
                let mask = &mut groups.get_mut(g).2;
                repeated = *mask & (1 << suffix) != 0;
                *mask |= 1 << suffix;
            }
        } else {
            current = None;
            repeated = seen.insert(buf, f.key);
        }
        if repeated {
            deviation(
                buf,
                &f,
                opts,
                sink,
                WarnCode::DuplicateField,
                "appears twice in the data area (the last value is kept)",
            )?;
        }
        // ',' joins the fields of one pollutant; ';' separates groups
        if f.sep == b',' && !same_group && !warned_separator {
            warned_separator = true;
            deviation(
                buf,
                &f,
                opts,
                sink,
                WarnCode::CpSeparator,
                "',' joins fields of one pollutant only; ';' separates groups",
            )?;
        }
        let kind = if group.is_some() {
            match suffix_kind_of(suffix) {
                Some(k) => k,
                None => {
                    sink.warn(WarnCode::UnknownSuffix, || {
                        format!(
                            "{} has a suffix the standard does not define (kept as text)",
                            field_name(buf, &f)
                        )
                    });
                    ValueKind::Text
                }
            }
        } else {
            let kind = plain_kind(key);
            if kind == ValueKind::Text {
                deviation(
                    buf,
                    &f,
                    opts,
                    sink,
                    WarnCode::UnknownField,
                    "not a field name of table 4 (names are case-sensitive; kept as text)",
                )?;
            }
            if key == b"DataTime" && !f.value.is_empty() {
                summary.data_time = Some(f.value);
            }
            kind
        };
        let number = check_value(buf, &f, kind, opts, sink)?;
        if key == b"DataTime" {
            summary.data_time_secs = number.map(|secs| secs as i64);
        }
        visit(&Accepted {
            field: &f,
            number,
            group,
            suffix,
        });
    }
    if iter.empty > 0 {
        if opts.strict {
            return Err(FrameError::at_field(
                ErrorKind::Cp,
                "CP",
                cp.of(buf),
                cp.start as usize,
                "empty field between separators",
            ));
        }
        sink.warn(WarnCode::CpEmptyField, || {
            format!(
                "{} empty field(s) between separators in the data area",
                iter.empty
            )
        });
    }
    Ok(summary)
}
