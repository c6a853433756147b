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
        CpFields { buf, pos: cp.start as usize, end: cp.end as usize, sep: 0, empty: 0 }
    }
}

/// Byte classes for scanning a data area in one pass.
const K_NAME: u8 = 0; // letters, digits, '-', '_'
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
        let end = self.end;
        loop {
            if self.pos >= end {
                return None;
            }
            let start = self.pos;
            let mut i = start;
            let mut eq = None;
            let mut name_ok = true;
            let mut spaces = false;
            while i < end {
                match CLASS[usize::from(buf[i])] {
                    K_NAME => {}
                    K_EQ => {
                        eq = Some(i);
                        break;
                    }
                    K_SEP => break,
                    K_SPACE => spaces = true,
                    _ => name_ok = false,
                }
                i += 1;
            }
            if let Some(e) = eq {
                i = e + 1;
                while i < end && buf[i] != b';' && buf[i] != b',' {
                    i += 1;
                }
            }
            let stop = i;
            let sep = self.sep;
            if stop < end {
                self.sep = buf[stop];
                self.pos = stop + 1;
            } else {
                self.pos = end;
            }
            let Some(eq) = eq else {
                if buf[start..stop].iter().all(|&b| b == b' ') {
                    self.empty += 1;
                    continue;
                }
                return Some(Err(Span::new(start, stop)));
            };
            let (ks, ke) = if spaces { trim(buf, start, eq) } else { (start, eq) };
            let (vs, ve) = trim(buf, eq + 1, stop);
            let padded = spaces || ve - vs != stop - eq - 1;
            if spaces && buf[ks..ke].contains(&b' ') {
                name_ok = false;
            }
            let key = Span::new(ks, ke);
            let value = Span::new(vs, ve);
            let k = key.of(buf);
            let (code, suffix) = match k.iter().rposition(|&b| b == b'-') {
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
    "Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "RS", "RT", "Data",
    "DayData", "NightData", "Ala", "UpValue", "LowValue",
];

/// Column of a numeric suffix in `NUMERIC_SUFFIXES`.
#[inline]
pub fn numeric_column(suffix: &[u8]) -> Option<usize> {
    // dispatch on length first: this sits on the per-field path
    let i = match suffix {
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
        _ => return None,
    };
    Some(i)
}

/// The kind of a `code-Suffix` field's value; None for a suffix the standard does not define.
pub fn suffix_kind(suffix: &[u8]) -> Option<ValueKind> {
    if let Some(col) = numeric_column(suffix) {
        return Some(match col {
            9 => ValueKind::Int(0, 5),
            10 => ValueKind::Ranged(0.0, 24.0),
            _ => ValueKind::Number,
        });
    }
    Some(match suffix {
        b"Flag" => ValueKind::DataFlag,
        b"EFlag" => ValueKind::EFlag,
        b"SampleTime" => ValueKind::Time,
        b"Info" => ValueKind::Text,
        b"SN" => ValueKind::Serial,
        _ => return None,
    })
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
    let bad = |why: &str| {
        FrameError::at_field(ErrorKind::Value, &field_name(buf, f), v, at, why)
    };
    // A deviation strict mode rejects and lenient mode reports.
    macro_rules! deviation {
        ($code:expr, $why:expr) => {{
            if opts.strict {
                return Err(bad(&$why));
            }
            sink.warn($code, || format!("{}={:?}: {}", field_name(buf, f), crate::error::shown(v), $why));
        }};
    }
    if v.is_empty() && !matches!(kind, ValueKind::Text) {
        if opts.strict {
            return Err(bad("the value is empty"));
        }
        sink.warn(WarnCode::EmptyValue, || format!("{} has an empty value", field_name(buf, f)));
        return Ok(None);
    }
    match kind {
        ValueKind::Number | ValueKind::Ranged(..) => {
            let Some((x, form)) = read_number(v) else {
                return Err(bad("not a decimal number"));
            };
            if form == NumberForm::Loose {
                deviation!(WarnCode::NumberForm, "more digits than N14.6 allows, or exponent form");
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
                deviation!(WarnCode::OutOfRange, "not one of 1,2,3,4,5,6,10,12,15,20,30 minutes");
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
            if !ok || !codes::is_known_data_flag(std::str::from_utf8(v).unwrap_or("")) {
                if v.len() > 4 || !v.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(bad("a data flag is one of N, F, M, S, D, C, T, B"));
                }
                deviation!(WarnCode::UnknownDataFlag, "not a data flag of table 8 (N F M S D C T B)");
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
            if let Err(fault) = read_stamp(v) {
                return Err(bad(&fault.describe("YYYYMMDDhhmmss")));
            }
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
            if v.len() != 24 || !v.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)) {
                deviation!(WarnCode::MnForm, "a serial number is 24 of 0-9/A-F");
            }
        }
        ValueKind::Text => {}
    }
    Ok(None)
}

#[inline]
fn key_hash(k: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in k {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h ^ (h >> 32)
}

/// Names seen so far in one data area: a 256-bit filter, then full hashes, then bytes.
/// A data area holds up to a few hundred names, so a quadratic rescan would dominate parsing.
struct SeenKeys {
    filter: [u64; 4],
    hashes: Vec<(u64, Span)>,
}

impl SeenKeys {
    fn new() -> Self {
        SeenKeys { filter: [0; 4], hashes: Vec::with_capacity(48) }
    }

    /// Record `key`; true if the same name was recorded before.
    #[inline]
    fn insert(&mut self, buf: &[u8], key: Span) -> bool {
        let k = key.of(buf);
        let h = key_hash(k);
        let (word, bit) = ((h >> 6) as usize & 3, 1u64 << (h & 63));
        let maybe = self.filter[word] & bit != 0;
        self.filter[word] |= bit;
        let again = maybe && self.hashes.iter().any(|&(g, s)| g == h && s.of(buf) == k);
        self.hashes.push((h, key));
        again
    }
}

/// What a visitor of `check_cp` is given for each accepted field: the field, and its value
/// as a number when the field is numeric and the value is not empty.
pub type Visit<'a> = (&'a CpField, Option<f64>);

/// Validate the whole data area and return what callers need from it. `visit` sees every
/// field as it is accepted (the batch decoder fills its columns from it, so a data area is
/// scanned once); on an error, the fields visited so far belong to a rejected frame.
pub fn check_cp<S: WarnSink, V: FnMut(&CpField, Option<f64>)>(
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
                format!("the data area is {} bytes; the standard allows 950", cp.len()),
            ));
        }
        sink.warn(WarnCode::CpLength, || format!("the data area is {} bytes (over 950)", cp.len()));
    }
    let mut seen = SeenKeys::new();
    let mut prev_code: &[u8] = b"";
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
            if opts.strict {
                return Err(FrameError::at_field(
                    ErrorKind::Cp,
                    &field_name(buf, &f),
                    f.value.of(buf),
                    f.key.start as usize,
                    "spaces around a field name or value",
                ));
            }
            sink.warn(WarnCode::Whitespace, || {
                format!("spaces around {}= or its value (trimmed)", field_name(buf, &f))
            });
        }
        if seen.insert(buf, f.key) {
            if opts.strict {
                return Err(FrameError::at_field(
                    ErrorKind::Cp,
                    &field_name(buf, &f),
                    f.value.of(buf),
                    f.key.start as usize,
                    "the field appears twice in the data area",
                ));
            }
            sink.warn(WarnCode::DuplicateField, || {
                format!("{} appears twice; the last value is kept", field_name(buf, &f))
            });
        }
        let code: &[u8] = f.code.map_or(b"", |c| c.of(buf));
        // fields of one group share their code: look a code up once per group
        let same_group = !code.is_empty() && code == prev_code;
        // ',' joins the fields of one pollutant; ';' separates groups
        if f.sep == b',' && !same_group && !warned_separator {
            warned_separator = true;
            if opts.strict {
                return Err(FrameError::at_field(
                    ErrorKind::Cp,
                    &field_name(buf, &f),
                    f.value.of(buf),
                    f.key.start as usize,
                    "',' joins fields of one pollutant only; use ';' between groups",
                ));
            }
            sink.warn(WarnCode::CpSeparator, || {
                format!("',' before {} joins fields of different groups", field_name(buf, &f))
            });
        }
        prev_code = code;
        let kind = match f.suffix {
            Some(s) if !code.is_empty() => {
                if !same_group && !codes::is_known_field_code(code) {
                    sink.warn(WarnCode::UnknownCode, || {
                        format!("code {:?} is not in appendix B (kept)", String::from_utf8_lossy(code))
                    });
                }
                match suffix_kind(s.of(buf)) {
                    Some(k) => k,
                    None => {
                        sink.warn(WarnCode::UnknownSuffix, || {
                            format!("{} has a suffix the standard does not define (kept as text)", field_name(buf, &f))
                        });
                        ValueKind::Text
                    }
                }
            }
            _ => {
                let kind = plain_kind(key);
                if kind == ValueKind::Text {
                    if opts.strict {
                        return Err(FrameError::at_field(
                            ErrorKind::Cp,
                            &field_name(buf, &f),
                            f.value.of(buf),
                            f.key.start as usize,
                            "not a field name of table 4 (names are case-sensitive)",
                        ));
                    }
                    sink.warn(WarnCode::UnknownField, || {
                        format!("{} is not a field of table 4 (kept as text)", field_name(buf, &f))
                    });
                }
                if key == b"DataTime" && !f.value.is_empty() {
                    summary.data_time = Some(f.value);
                }
                kind
            }
        };
        let number = check_value(buf, &f, kind, opts, sink)?;
        visit(&f, number);
    }
    if let Some(dt) = summary.data_time {
        summary.data_time_secs = read_stamp(dt.of(buf)).ok().map(|s| s.wall_seconds());
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
            format!("{} empty field(s) between separators in the data area", iter.empty)
        });
    }
    Ok(summary)
}
