//! Errors and warnings as values.

use std::fmt;

use crate::crc::CrcVariant;

/// What is wrong with a rejected frame. The names are the Python API's `FrameError.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// no `##` where a frame must start (garbage, or a frame cut short)
    Header,
    /// the 4-digit length is not digits, too large, or does not match the data segment
    Length,
    /// the CRC digits are not hex, or the CRC does not match the data segment
    Crc,
    /// no `\r\n` after the CRC, or bytes after the tail
    Tail,
    /// the data segment is not UTF-8 (or not ASCII where the standard wants ASCII)
    Encoding,
    /// a header field (QN, ST, CN, PW, MN, Flag, PNUM, PNO, RF) is missing or malformed
    Field,
    /// the data area (CP) is malformed: missing `&&`, a field without `=`, ...
    Cp,
    /// a CP value is not what its field allows: not a number, not a real date, ...
    Value,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Header,
        ErrorKind::Length,
        ErrorKind::Crc,
        ErrorKind::Tail,
        ErrorKind::Encoding,
        ErrorKind::Field,
        ErrorKind::Cp,
        ErrorKind::Value,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Header => "header",
            ErrorKind::Length => "length",
            ErrorKind::Crc => "crc",
            ErrorKind::Tail => "tail",
            ErrorKind::Encoding => "encoding",
            ErrorKind::Field => "field",
            ErrorKind::Cp => "cp",
            ErrorKind::Value => "value",
        }
    }

    /// 1-based code used in columnar status arrays (0 means accepted).
    pub fn code(self) -> u8 {
        self as u8 + 1
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected frame: the kind, the field and value at fault, where, and what to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub kind: ErrorKind,
    pub field: Option<String>,
    pub value: Option<String>,
    /// byte offset inside the frame (from the first `#`)
    pub offset: usize,
    pub message: String,
    /// the QnRtn a platform answers with, where the standard has one for this fault
    pub qn_rtn: Option<u16>,
    /// for a CRC mismatch: the known non-standard algorithm whose CRC the frame carries (a
    /// platform that allows it for the station parses the frame again with it allowed)
    pub crc_variant: Option<CrcVariant>,
}

/// Values longer than this are cut in messages so a hostile frame cannot blow up a log line.
const MAX_SHOWN: usize = 64;

pub(crate) fn shown(value: &[u8]) -> String {
    let cut = &value[..value.len().min(MAX_SHOWN)];
    let mut s = String::with_capacity(cut.len() + 8);
    for chunk in cut.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                s.extend(c.escape_default());
            } else {
                s.push(c);
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if value.len() > MAX_SHOWN {
        s.push_str(&format!("... ({} bytes)", value.len()));
    }
    s
}

impl FrameError {
    pub fn new(kind: ErrorKind, offset: usize, message: impl Into<String>) -> Self {
        FrameError {
            kind,
            field: None,
            value: None,
            offset,
            message: message.into(),
            qn_rtn: None,
            crc_variant: None,
        }
    }

    /// An error about one named field, whose message names the field and shows the value.
    pub fn at_field(
        kind: ErrorKind,
        field: &str,
        value: &[u8],
        offset: usize,
        why: impl fmt::Display,
    ) -> Self {
        let v = shown(value);
        FrameError {
            kind,
            field: Some(field.to_string()),
            message: format!("{field}=\"{v}\": {why}"),
            value: Some(v),
            offset,
            qn_rtn: None,
            crc_variant: None,
        }
    }

    pub fn with_qn_rtn(mut self, code: u16) -> Self {
        self.qn_rtn = Some(code);
        self
    }

    pub fn with_crc_variant(mut self, variant: Option<CrcVariant>) -> Self {
        self.crc_variant = variant;
        self
    }

    pub fn shifted(mut self, by: usize) -> Self {
        self.offset += by;
        self
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} error at byte {}: {}",
            self.kind, self.offset, self.message
        )
    }
}

impl std::error::Error for FrameError {}

/// A deviation from the standard that lenient mode accepts and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarnCode {
    /// the tail is a bare `\n`
    BareLf,
    /// CRC digits in lower case
    CrcLowercase,
    /// the declared length does not match the data segment (found by the tail instead)
    LengthMismatch,
    /// QN is not 17 digits or not a real time
    QnForm,
    /// header fields out of the standard's order
    HeaderOrder,
    /// a header field the standard does not define
    UnknownHeaderField,
    /// ST not in table 5
    UnknownSt,
    /// CN not in table 9
    UnknownCn,
    /// PW is not 6 characters
    PwLength,
    /// MN is not 24 characters 0-9/A-F (2017 and later)
    MnForm,
    /// Flag's edition bits are not 0, 1 or 2
    UnknownEdition,
    /// the data area is longer than 950 bytes
    CpLength,
    /// the data area does not end with `&&`
    CpTail,
    /// `,` joins fields of two different pollutants, or `;` appears inside a group
    CpSeparator,
    /// an empty field between separators
    CpEmptyField,
    /// a pollutant code outside appendix B (kept, never rejected)
    UnknownCode,
    /// a field suffix the standard does not define (kept as text)
    UnknownSuffix,
    /// spaces around a field name or value (trimmed)
    Whitespace,
    /// a plain data-area field name outside table 4 (kept as text)
    UnknownField,
    /// a number with more than 14 significant digits or 6 decimals, or in exponent form
    NumberForm,
    /// an empty value where a number is expected (kept as absent)
    EmptyValue,
    /// a data flag outside table 8
    UnknownDataFlag,
    /// a value outside the range the standard gives (RtdInterval 30..3600, RS 0..5, ...)
    OutOfRange,
    /// the same field twice in the data area (the last one is kept)
    DuplicateField,
    /// bytes that are not UTF-8, replaced
    EncodingLossy,
    /// a header field (e.g. `;Flag=5`) after the data area's closing `&&`, read as a header
    /// field
    HeaderAfterCp,
    /// the CRC is a non-standard variant's (e.g. CRC-16/MODBUS) that the options allow
    CrcVariant,
}

impl WarnCode {
    pub fn as_str(self) -> &'static str {
        match self {
            WarnCode::BareLf => "bare_lf",
            WarnCode::CrcLowercase => "crc_lowercase",
            WarnCode::LengthMismatch => "length_mismatch",
            WarnCode::QnForm => "qn_form",
            WarnCode::HeaderOrder => "header_order",
            WarnCode::UnknownHeaderField => "unknown_header_field",
            WarnCode::UnknownSt => "unknown_st",
            WarnCode::UnknownCn => "unknown_cn",
            WarnCode::PwLength => "pw_length",
            WarnCode::MnForm => "mn_form",
            WarnCode::UnknownEdition => "unknown_edition",
            WarnCode::CpLength => "cp_length",
            WarnCode::CpTail => "cp_tail",
            WarnCode::CpSeparator => "cp_separator",
            WarnCode::CpEmptyField => "cp_empty_field",
            WarnCode::UnknownCode => "unknown_code",
            WarnCode::UnknownSuffix => "unknown_suffix",
            WarnCode::UnknownField => "unknown_field",
            WarnCode::Whitespace => "whitespace",
            WarnCode::NumberForm => "number_form",
            WarnCode::EmptyValue => "empty_value",
            WarnCode::UnknownDataFlag => "unknown_data_flag",
            WarnCode::OutOfRange => "out_of_range",
            WarnCode::DuplicateField => "duplicate_field",
            WarnCode::EncodingLossy => "encoding_lossy",
            WarnCode::HeaderAfterCp => "header_after_cp",
            WarnCode::CrcVariant => "crc_variant",
        }
    }
}

/// One reported deviation: its code and a sentence naming the field and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub code: WarnCode,
    pub detail: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

/// A rejected frame with its bytes, so that nothing is lost: what a stream's framer yields
/// for garbage, broken frames and frames that fail validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub error: FrameError,
    /// the bytes of the rejected frame (garbage runs are cut at `MAX_FRAME` bytes)
    pub raw: Vec<u8>,
}
