//! Framing: `##`, 4-digit length, data segment, 4 hex CRC digits, `\r\n`.

use crate::crc::{crc16, known_variants, variant_matching, CrcVariant, CrcVariants};
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
    /// CRC algorithms accepted besides the standard's, each acceptance reported with a
    /// `crc_variant` warning (in strict mode too: it is the operator's choice per station,
    /// not a reading of the standard); none by default
    pub crc_variants: CrcVariants,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            max_segment: MAX_SEGMENT,
            crc_variants: CrcVariants::NONE,
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
    pub fn with_crc_variants(self, crc_variants: CrcVariants) -> Self {
        Options {
            crc_variants,
            ..self
        }
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

/// Which accepted algorithm signed `segment` with `carried`, given its standard CRC
/// `actual`: the standard's, else one of the variants the options allow. The variants are
/// computed only when the standard's does not match, so a good frame never pays for them.
#[inline]
fn accepted_crc(segment: &[u8], carried: u16, actual: u16, opts: &Options) -> Option<CrcVariant> {
    if carried == actual {
        return Some(CrcVariant::Hj212);
    }
    if opts.crc_variants.is_empty() {
        return None;
    }
    variant_matching(segment, carried, opts.crc_variants)
}

/// A CRC that no accepted algorithm gives: a `crc` error that also names the known
/// algorithm whose CRC the frame does carry, if any, so a platform can allow it for the
/// station and parse the frame again.
fn crc_mismatch(
    segment: &[u8],
    digits: &[u8],
    carried: u16,
    actual: u16,
    at: usize,
    note: &str,
) -> FrameError {
    let variant = variant_matching(segment, carried, known_variants());
    let why = match variant {
        Some(v) => format!(
            "the data segment's CRC16 is {actual:04X}; {} is its {} (crc_variant \"{}\"){note}",
            shown(digits),
            v.title(),
            v.as_str()
        ),
        None => format!("the data segment's CRC16 is {actual:04X}{note}"),
    };
    FrameError::at_field(ErrorKind::Crc, "CRC", digits, at, why)
        .with_qn_rtn(9)
        .with_crc_variant(variant)
}

/// The largest frame the options allow: lenient mode never looks further for a tail.
fn frame_limit(opts: &Options) -> usize {
    6 + opts.max_segment + 4 + 2
}

/// The first `\n` after the length field (within the largest frame).
fn first_newline(buf: &[u8], opts: &Options) -> Option<usize> {
    let limit = buf.len().min(frame_limit(opts));
    let area = buf.get(6..limit)?;
    // `contains` is memchr, word at a time: hostile input without any `\n` asks this for
    // every `##` it holds
    if !area.contains(&b'\n') {
        return None;
    }
    Some(6 + area.iter().position(|&b| b == b'\n')?)
}

/// A frame's end found by its tail rather than its declared length.
struct Tail {
    /// where the CRC digits start (the data segment is `6..crc_at`)
    crc_at: usize,
    crc: u16,
    lower: bool,
    bare: bool,
    variant: CrcVariant,
    /// the standard's CRC of the segment
    actual: u16,
}

/// Find the frame's real tail when the declared length is wrong. A data segment never holds
/// a control byte, so the first `\n` after the length field is the tail; it counts only if
/// four hex digits before it are the CRC of everything between (`\n` alone in lenient mode).
fn find_by_tail(buf: &[u8], opts: &Options) -> Option<Tail> {
    let i = first_newline(buf, opts)?;
    let bare = buf[i - 1] != b'\r';
    let crc_end = if bare { i } else { i - 1 };
    if crc_end < 10 || (bare && opts.strict) {
        return None;
    }
    let crc_at = crc_end - 4;
    let (crc, lower) = read_crc(&buf[crc_at..crc_end])?;
    let segment = &buf[6..crc_at];
    let actual = crc16(segment);
    let variant = accepted_crc(segment, crc, actual, opts)?;
    Some(Tail {
        crc_at,
        crc,
        lower,
        bare,
        variant,
        actual,
    })
}

/// Where a `##` (a frame start) lies inside `buf[2..end]`, if anywhere.
fn frame_start_inside(buf: &[u8], end: usize) -> Option<usize> {
    buf.get(2..end)?
        .windows(2)
        .position(|w| w == b"##")
        .map(|i| i + 2)
}

/// A frame whose declared length runs over the start of another: it was cut short (or its
/// length and CRC are both wrong). Only its `##` is consumed, so the stream's framer skips
/// to the next `##` and takes the frame there.
fn cut_short(buf: &[u8], declared: usize, at: usize) -> Located {
    Located::Error {
        error: FrameError::at_field(
            ErrorKind::Length,
            "length",
            &buf[2..6],
            2,
            format!(
                "declared length {declared} runs past the end of the frame: another frame starts at byte {at}"
            ),
        ),
        consumed: 2,
    }
}

/// In a stream, the frame's first `\n` (at `nl`, not where the declared length puts the
/// tail) ends it, and no accepted CRC stands before it. With four hex digits there (lenient
/// mode) the frame is delimited and its CRC is wrong; otherwise it is cut short or broken,
/// and the stream goes on from the next `##`.
fn broken_at_newline(buf: &[u8], nl: usize, declared: usize, opts: &Options) -> Located {
    if let Some(at) = frame_start_inside(buf, nl) {
        return cut_short(buf, declared, at);
    }
    let crc_end = if buf[nl - 1] == b'\r' { nl - 1 } else { nl };
    if !opts.strict && crc_end >= 10 {
        let digits = &buf[crc_end - 4..crc_end];
        if let Some((carried, _)) = read_crc(digits) {
            let segment = &buf[6..crc_end - 4];
            let note = format!(
                " (the frame ends at the \\n at byte {nl}; its declared length {declared} does not match either)"
            );
            return Located::Error {
                error: crc_mismatch(segment, digits, carried, crc16(segment), crc_end - 4, &note),
                consumed: nl + 1,
            };
        }
    }
    Located::Error {
        error: FrameError::at_field(
            ErrorKind::Length,
            "length",
            &buf[2..6],
            2,
            format!(
                "declared length {declared} does not match the frame: it ends at the \\n at byte {nl}"
            ),
        ),
        consumed: 2,
    }
}

/// Locate the frame at the start of `buf` (which must start with `##`).
///
/// `at_end` says no more bytes will follow (a whole frame given to `parse`); a stream's
/// framer passes false and gets `Incomplete` until the frame is in. In a stream the frame's
/// first `\n` decides, whatever the declared length says: a data segment never holds a
/// control byte, so a frame that runs past one is no frame at its declared length, and
/// waiting for that length would hold the good frames behind it.
pub fn locate(buf: &[u8], at_end: bool, opts: &Options, warnings: &mut Vec<Warning>) -> Located {
    locate_known(buf, at_end, opts, warnings, None)
}

/// Where the data segment of `buf` ends if its declared length is right and a whole tail
/// can follow it (`buf[6..end]`, the bytes `locate` computes the CRC over in the common
/// case); None when `locate` takes another road.
#[inline]
pub fn plain_segment_end(buf: &[u8], opts: &Options) -> Option<usize> {
    if buf.len() < 6 || !buf.starts_with(b"##") {
        return None;
    }
    let declared = crate::text::read_uint(&buf[2..6])? as usize;
    let end = 6 + declared;
    (declared <= opts.max_segment && buf.len() > end + 4).then_some(end)
}

/// `locate` given the CRC of `buf[6..end]` when it is known already (`known = Some((end,
/// crc))`, e.g. from `crc16_lanes` over `plain_segment_end`): used only if the declared
/// length puts the segment's end there, so the result is `locate`'s whatever is passed.
pub fn locate_known(
    buf: &[u8],
    at_end: bool,
    opts: &Options,
    warnings: &mut Vec<Warning>,
    known: Option<(usize, u16)>,
) -> Located {
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
    // `contains` is a word-at-a-time memchr: every frame of a stream pays for this scan
    let before_tail = &buf[6..buf.len().min(tail_at)];
    if !at_end && before_tail.contains(&b'\n') {
        let nl = 6 + before_tail
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or_default();
        // a `\n` before the declared tail: over-declared, or cut short by another frame
        if !opts.strict {
            if let Some(found) = recovered(buf, declared, opts, warnings) {
                return found;
            }
        }
        return broken_at_newline(buf, nl, declared, opts);
    }
    // The common case: the declared length is right.
    if buf.len() > tail_at {
        let crc_digits = &buf[crc_at..tail_at];
        let bare = buf[tail_at] == b'\n';
        let crlf = buf.len() >= tail_at + 2 && buf[tail_at] == b'\r' && buf[tail_at + 1] == b'\n';
        if crlf || bare {
            let consumed = if crlf { tail_at + 2 } else { tail_at + 1 };
            let segment = &buf[6..crc_at];
            let actual = match known {
                Some((end, crc)) if end == crc_at => crc,
                _ => crc16(segment),
            };
            let carried = read_crc(crc_digits);
            let accepted = carried.and_then(|(c, _)| accepted_crc(segment, c, actual, opts));
            if accepted.is_none() {
                if !opts.strict {
                    // a length one or two too long puts the CRC digits over the real tail;
                    // the CRC, found where the tail really is, decides
                    if let Some(found) = recovered(buf, declared, opts, warnings) {
                        return found;
                    }
                }
                if !at_end {
                    // a wrong CRC and a frame start inside: this frame was cut short and its
                    // declared length reaches into the next one, which must not be lost
                    if let Some(at) = frame_start_inside(buf, tail_at) {
                        return cut_short(buf, declared, at);
                    }
                }
            }
            let Some((crc, lower)) = carried else {
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
            let Some(variant) = accepted else {
                return Located::Error {
                    error: crc_mismatch(segment, crc_digits, crc, actual, crc_at, ""),
                    consumed,
                };
            };
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
            variant_warning(warnings, variant, crc_digits, actual);
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
        // the declared tail is not in yet, and no `\n` came before it
        return Located::Incomplete;
    }
    // The declared length does not lead to a tail.
    if !opts.strict {
        if let Some(found) = recovered(buf, declared, opts, warnings) {
            return found;
        }
        if !at_end {
            if let Some(nl) = first_newline(buf, opts) {
                // under-declared, and no accepted CRC where the frame really ends
                return broken_at_newline(buf, nl, declared, opts);
            }
        }
        if !at_end && buf.len() < frame_limit(opts) {
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
        crc_variant: None,
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
    let t = find_by_tail(buf, opts)?;
    let actual = t.crc_at - 6;
    warnings.push(Warning {
        code: WarnCode::LengthMismatch,
        detail: format!("declared length {declared:04} but the data segment is {actual} bytes"),
    });
    let digits = &buf[t.crc_at..t.crc_at + 4];
    tail_warnings(warnings, t.bare, t.lower, digits);
    variant_warning(warnings, t.variant, digits, t.actual);
    let consumed = t.crc_at + 4 + if t.bare { 1 } else { 2 };
    Some(Located::Frame {
        segment: Span::new(6, t.crc_at),
        crc: t.crc,
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

/// A CRC accepted by an allowed non-standard algorithm is reported, naming it.
fn variant_warning(warnings: &mut Vec<Warning>, variant: CrcVariant, digits: &[u8], actual: u16) {
    if variant != CrcVariant::Hj212 {
        warnings.push(Warning {
            code: WarnCode::CrcVariant,
            detail: format!(
                "CRC {} is {} (\"{}\"), not the standard's CRC16 {actual:04X}; accepted as allowed",
                shown(digits),
                variant.title(),
                variant.as_str()
            ),
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
