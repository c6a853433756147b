//! Framing: `##`, 4-digit length, data segment, 4 hex CRC digits, `\r\n`.

use crate::crc::crc16;
use crate::error::{shown, ErrorKind, FrameError, WarnCode, Warning};

/// Largest data segment the standard allows.
pub const MAX_SEGMENT: usize = 1024;
/// `##` + length + segment + CRC + `\r\n`.
pub const MAX_FRAME: usize = 2 + 4 + MAX_SEGMENT + 4 + 2;

/// A byte range inside one frame buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    #[inline]
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    #[inline]
    pub fn of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }
    #[inline]
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Parsing options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// the standard to the letter; otherwise the deviations real loggers make are accepted
    /// and reported as warnings
    pub strict: bool,
    /// largest data segment accepted (the standard's 1024; joined split messages are larger)
    pub max_segment: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            max_segment: MAX_SEGMENT,
        }
    }
}

impl Options {
    pub fn strict() -> Self {
        Options {
            strict: true,
            ..Options::default()
        }
    }
    pub fn lenient() -> Self {
        Options::default()
    }
}

/// Where a frame sits in a buffer that starts with `##`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// a whole frame: its data segment, the CRC it carries, and how many bytes it takes
    Frame {
        segment: Span,
        crc: u16,
        consumed: usize,
    },
    /// more bytes are needed
    Incomplete,
    /// not a frame; skip `consumed` bytes and look for the next `##`
    Error { error: FrameError, consumed: usize },
}

#[inline]
fn hex_digit(b: u8) -> Option<(u16, bool)> {
    match b {
        b'0'..=b'9' => Some((u16::from(b - b'0'), false)),
        b'A'..=b'F' => Some((u16::from(b - b'A' + 10), false)),
        b'a'..=b'f' => Some((u16::from(b - b'a' + 10), true)),
        _ => None,
    }
}

/// Read 4 hex digits; the flag says whether any was lower case.
#[inline]
fn read_crc(d: &[u8]) -> Option<(u16, bool)> {
    let mut v = 0u16;
    let mut lower = false;
    for &b in &d[..4] {
        let (x, l) = hex_digit(b)?;
        v = (v << 4) | x;
        lower |= l;
    }
    Some((v, lower))
}

/// Find the frame's real tail when the declared length is wrong. A data segment never holds
/// a control byte, so the first `\n` after the length field is the tail; it counts only if
/// four hex digits before it are the CRC of everything between (`\n` alone in lenient mode).
fn find_by_tail(buf: &[u8], opts: &Options) -> Option<(usize, u16, bool, bool)> {
    let limit = buf.len().min(6 + opts.max_segment + 4 + 2);
    let i = 6 + buf.get(6..limit)?.iter().position(|&b| b == b'\n')?;
    let bare = buf[i - 1] != b'\r';
    let crc_end = if bare { i } else { i - 1 };
    if crc_end < 10 || (bare && opts.strict) {
        return None;
    }
    let (crc, lower) = read_crc(&buf[crc_end - 4..crc_end])?;
    (crc16(&buf[6..crc_end - 4]) == crc).then_some((crc_end - 4, crc, lower, bare))
}

/// Locate the frame at the start of `buf` (which must start with `##`).
///
/// `at_end` says no more bytes will follow (a whole frame given to `parse`); a stream's
/// framer passes false and gets `Incomplete` until the frame is in.
pub fn locate(buf: &[u8], at_end: bool, opts: &Options, warnings: &mut Vec<Warning>) -> Located {
    debug_assert!(buf.starts_with(b"##"));
    if buf.len() < 6 {
        return if at_end {
            Located::Error {
                error: FrameError::at_field(
                    ErrorKind::Length,
                    "length",
                    &buf[2..],
                    2,
                    "frame ends before its 4-digit length",
                ),
                consumed: buf.len(),
            }
        } else {
            Located::Incomplete
        };
    }
    let len_digits = &buf[2..6];
    let declared = match crate::text::read_uint(len_digits) {
        Some(n) => n as usize,
        _ => {
            return Located::Error {
                error: FrameError::at_field(
                    ErrorKind::Length,
                    "length",
                    len_digits,
                    2,
                    "the data segment length must be 4 decimal digits (0000..1024)",
                ),
                consumed: 2,
            }
        }
    };
    if declared > opts.max_segment {
        return Located::Error {
            error: FrameError::at_field(
                ErrorKind::Length,
                "length",
                len_digits,
                2,
                format!(
                    "data segment length {declared} exceeds {} bytes",
                    opts.max_segment
                ),
            ),
            consumed: 2,
        };
    }
    let crc_at = 6 + declared;
    let tail_at = crc_at + 4;
    // The common case: the declared length is right.
    if buf.len() > tail_at {
        let crc_digits = &buf[crc_at..tail_at];
        let bare = buf[tail_at] == b'\n';
        let crlf = buf.len() >= tail_at + 2 && buf[tail_at] == b'\r' && buf[tail_at + 1] == b'\n';
        if crlf || bare {
            let consumed = if crlf { tail_at + 2 } else { tail_at + 1 };
            let actual = crc16(&buf[6..crc_at]);
            let declared_ok = read_crc(crc_digits).is_some_and(|(c, _)| actual == c);
            if !declared_ok && !opts.strict {
                // a length one or two too long puts the CRC digits over the real tail; the
                // CRC, found where the tail really is, decides
                if let Some(found) = recovered(buf, declared, opts, warnings) {
                    return found;
                }
            }
            let Some((crc, lower)) = read_crc(crc_digits) else {
                return Located::Error {
                    error: FrameError::at_field(
                        ErrorKind::Crc,
                        "CRC",
                        crc_digits,
                        crc_at,
                        "the CRC must be 4 hex digits",
                    )
                    .with_qn_rtn(9),
                    consumed,
                };
            };
            if actual != crc {
                return Located::Error {
                    error: FrameError::at_field(
                        ErrorKind::Crc,
                        "CRC",
                        crc_digits,
                        crc_at,
                        format!("the data segment's CRC16 is {actual:04X}"),
                    )
                    .with_qn_rtn(9),
                    consumed,
                };
            }
            if bare && opts.strict {
                return Located::Error {
                    error: FrameError::new(
                        ErrorKind::Tail,
                        tail_at,
                        "the frame ends with a bare \\n; the standard's tail is \\r\\n",
                    ),
                    consumed,
                };
            }
            tail_warnings(warnings, bare, lower, crc_digits);
            return Located::Frame {
                segment: Span::new(6, crc_at),
                crc,
                consumed,
            };
        }
        if buf[tail_at] == b'\r' && buf.len() == tail_at + 1 && !at_end {
            return Located::Incomplete;
        }
    } else if !at_end {
        // Not all declared bytes are in, but a logger that under-declares may already have
        // sent its whole (shorter) frame and be waiting for our answer.
        if !opts.strict && buf[6..].contains(&b'\n') {
            if let Some(found) = recovered(buf, declared, opts, warnings) {
                return found;
            }
        }
        return Located::Incomplete;
    }
    // The declared length does not lead to a tail.
    if !opts.strict {
        if let Some(found) = recovered(buf, declared, opts, warnings) {
            return found;
        }
        if !at_end && buf.len() < 6 + opts.max_segment + 6 {
            // the real tail may still come
            return Located::Incomplete;
        }
    }
    let end = buf.len().min(tail_at + 2);
    let (kind, msg) = if buf.len() < tail_at + 1 {
        (
            ErrorKind::Length,
            format!(
                "declared length {declared} runs past the end of the frame ({} bytes after the length)",
                buf.len() - 6
            ),
        )
    } else if find_by_tail(
        buf,
        &Options {
            strict: false,
            ..*opts
        },
    )
    .is_some()
    {
        (
            ErrorKind::Length,
            format!("declared length {declared} does not match the data segment"),
        )
    } else {
        (
            ErrorKind::Tail,
            format!(
                "expected \\r\\n after the CRC at byte {tail_at}, found \"{}\"",
                shown(&buf[tail_at..end])
            ),
        )
    };
    let (field, value) = if kind == ErrorKind::Length {
        ("length", shown(len_digits))
    } else {
        ("tail", shown(&buf[tail_at..end]))
    };
    let error = FrameError {
        kind,
        field: Some(field.into()),
        value: Some(value),
        offset: if kind == ErrorKind::Length {
            2
        } else {
            tail_at
        },
        message: msg,
        qn_rtn: None,
    };
    // In a stream, skip only the `##` so a real frame hiding behind is found; a whole frame
    // given to `parse` is consumed entirely.
    Located::Error {
        error,
        consumed: if at_end { buf.len() } else { 2 },
    }
}

fn recovered(
    buf: &[u8],
    declared: usize,
    opts: &Options,
    warnings: &mut Vec<Warning>,
) -> Option<Located> {
    let (crc_at, crc, lower, bare) = find_by_tail(buf, opts)?;
    let actual = crc_at - 6;
    warnings.push(Warning {
        code: WarnCode::LengthMismatch,
        detail: format!("declared length {declared:04} but the data segment is {actual} bytes"),
    });
    tail_warnings(warnings, bare, lower, &buf[crc_at..crc_at + 4]);
    let consumed = crc_at + 4 + if bare { 1 } else { 2 };
    Some(Located::Frame {
        segment: Span::new(6, crc_at),
        crc,
        consumed,
    })
}

/// The deviations a frame's end may carry (lenient mode): a bare `\n`, lower-case CRC.
fn tail_warnings(warnings: &mut Vec<Warning>, bare: bool, lower: bool, crc_digits: &[u8]) {
    if bare {
        warnings.push(Warning {
            code: WarnCode::BareLf,
            detail: "the frame ends with a bare \\n instead of \\r\\n".into(),
        });
    }
    if lower {
        warnings.push(Warning {
            code: WarnCode::CrcLowercase,
            detail: format!("CRC digits {:?} are lower case", shown(crc_digits)),
        });
    }
}

/// Frame a data segment: `##`, length, segment, CRC, `\r\n`.
pub fn wrap(segment: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(segment.len() + 12);
    out.extend_from_slice(b"##");
    out.extend_from_slice(format!("{:04}", segment.len()).as_bytes());
    out.extend_from_slice(segment);
    out.extend_from_slice(format!("{:04X}", crc16(segment)).as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}
