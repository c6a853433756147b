//! The data segment's header fields (QN, ST, CN, PW, MN, Flag, PNUM, PNO, RF) and whole-frame
//! parsing on top of framing and the data area.

use crate::codes;
use crate::cp::{check_cp, Accepted, CpSummary};
use crate::error::{shown, ErrorKind, FrameError, WarnCode};
use crate::frame::{locate, Located, Options, Span};
use crate::text::{read_stamp, read_uint};
use crate::WarnSink;

/// Flag bit A: the sender wants an answer.
pub const FLAG_A: u16 = 0b01;
/// Flag bit D: the message is split and carries PNUM/PNO.
pub const FLAG_D: u16 = 0b10;

/// The header of a data segment, as spans of the frame buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Header {
    pub qn: Option<Span>,
    pub st: Option<Span>,
    pub cn: Span,
    pub cn_num: u16,
    pub pw: Option<Span>,
    pub mn: Option<Span>,
    pub flag: Option<u16>,
    pub pnum: Option<u32>,
    pub pno: Option<u32>,
    pub rf: Option<Span>,
    /// the data area between `&&` and `&&`
    pub cp: Span,
    /// 2005, 2017 or 2025
    pub edition: u16,
}

impl Header {
    pub fn needs_ack(&self) -> bool {
        self.flag.is_some_and(|f| f & FLAG_A != 0)
    }
    pub fn is_split(&self) -> bool {
        self.flag.is_some_and(|f| f & FLAG_D != 0)
    }
}

/// Everything `parse` learns about a frame, as spans of its buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parsed {
    pub segment: Span,
    pub crc: u16,
    pub header: Header,
    pub cp: CpSummary,
}

/// Edition of a Flag value (bits 2..7).
pub fn edition_of(flag: Option<u16>) -> Option<u16> {
    match flag.map(|f| f >> 2) {
        None | Some(0) => Some(2005),
        Some(1) => Some(2017),
        Some(2) => Some(2025),
        Some(_) => None,
    }
}

/// Flag value carrying an edition and the A/D bits.
pub fn flag_for(edition: u16, needs_ack: bool, split: bool) -> u16 {
    let v = match edition {
        2005 => 0,
        2017 => 1,
        _ => 2,
    };
    (v << 2) | if needs_ack { FLAG_A } else { 0 } | if split { FLAG_D } else { 0 }
}

const ORDER: [&str; 9] = ["QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO", "RF"];

fn field_err(name: &str, v: &[u8], at: usize, why: &str, qn_rtn: u16) -> FrameError {
    FrameError::at_field(ErrorKind::Field, name, v, at, why).with_qn_rtn(qn_rtn)
}

fn is_upper_hex(b: &u8) -> bool {
    b.is_ascii_digit() || (b'A'..=b'F').contains(b)
}

/// Position of the first byte outside printable ASCII (0x20..=0x7E), eight bytes at a time:
/// every segment is checked, and nearly all are clean.
#[inline]
fn first_unprintable(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        // a byte below 0x20 borrows into its high bit; 0x7F and above carry into or own it
        let low = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let high = (x.wrapping_add(ONES) | x) & HIGH;
        if low | high != 0 {
            return c
                .iter()
                .position(|&b| !(0x20..0x7F).contains(&b))
                .map(|i| base + i);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| !(0x20..0x7F).contains(&b))
        .map(|i| base + i)
}

/// Parse and validate the header and data area of the segment at `seg` in `buf`.
pub fn parse_segment_at<S: WarnSink>(
    buf: &[u8],
    seg: Span,
    opts: &Options,
    sink: &mut S,
) -> Result<(Header, CpSummary), FrameError> {
    parse_segment_with(buf, seg, opts, sink, &mut |_| {})
}

/// `parse_segment_at`, showing each accepted data-area field to `visit` (see `check_cp`).
pub fn parse_segment_with<S: WarnSink, V: FnMut(&Accepted<'_>)>(
    buf: &[u8],
    seg: Span,
    opts: &Options,
    sink: &mut S,
    visit: &mut V,
) -> Result<(Header, CpSummary), FrameError> {
    let h = parse_header_at(buf, seg, opts, sink)?;
    let summary = check_cp(buf, h.cp, opts, sink, visit)?;
    Ok((h, summary))
}

/// The header of the segment at `seg`, validated, with `cp` the data area between its `&&`s;
/// the data area itself is not looked into (`check_cp` does that, and always after this, so
/// a frame's first fault is the same whoever checks its data area).
pub fn parse_header_at<S: WarnSink>(
    buf: &[u8],
    seg: Span,
    opts: &Options,
    sink: &mut S,
) -> Result<Header, FrameError> {
    let s = seg.of(buf);
    let base = seg.start as usize;
    // Control bytes never belong in a segment; bytes over 0x7F only in UTF-8 text values.
    if let Some(first) = first_unprintable(s) {
        if let Some(j) = s[first..].iter().position(|&b| b < 0x20 || b == 0x7F) {
            let i = first + j;
            return Err(FrameError::at_field(
                ErrorKind::Encoding,
                "segment",
                &s[i..(i + 1)],
                base + i,
                "a control byte inside the data segment",
            ));
        }
        if let Err(e) = std::str::from_utf8(s) {
            let i = e.valid_up_to();
            if opts.strict {
                return Err(FrameError::at_field(
                    ErrorKind::Encoding,
                    "segment",
                    &s[i..s.len().min(i + 4)],
                    base + i,
                    "the data segment is not UTF-8",
                ));
            }
            sink.warn(WarnCode::EncodingLossy, || {
                format!("bytes at {} are not UTF-8 (shown replaced)", base + i)
            });
        }
    }

    let mut h = Header::default();
    let mut have_cn = false;
    let mut cp: Option<Span> = None;
    let mut last_rank = 0usize;
    let mut seen = 0u16;
    let mut pos = 0usize;
    // past the data area's closing `&&`: what follows is header fields written after CP
    let mut after_cp = false;
    while pos < s.len() {
        let rest = &s[pos..];
        let Some(eq) = rest.iter().position(|&b| b == b'=') else {
            if after_cp {
                let at = base + pos;
                if opts.strict {
                    return Err(FrameError::at_field(
                        ErrorKind::Field,
                        "segment",
                        rest,
                        at,
                        "bytes after the data area CP=&&...&&",
                    ));
                }
                sink.warn(WarnCode::UnknownHeaderField, || {
                    format!("{:?} after the data area has no '=' (ignored)", shown(rest))
                });
                break;
            }
            return Err(FrameError::at_field(
                ErrorKind::Field,
                "segment",
                rest,
                base + pos,
                "a header field without '=' (or CP missing)",
            ));
        };
        if let Some(semi) = rest[..eq].iter().position(|&b| b == b';') {
            // a piece without '=' before the next field: never let it swallow that field
            let piece = &rest[..semi];
            if opts.strict {
                return Err(FrameError::at_field(
                    ErrorKind::Field,
                    "segment",
                    piece,
                    base + pos,
                    "a header piece without '='",
                ));
            }
            sink.warn(WarnCode::UnknownHeaderField, || {
                format!("header piece {:?} has no '=' (ignored)", shown(piece))
            });
            pos += semi + 1;
            continue;
        }
        let raw_key = &rest[..eq];
        let key = raw_key.trim_ascii();
        if key.len() != raw_key.len() {
            if opts.strict {
                return Err(FrameError::at_field(
                    ErrorKind::Field,
                    &String::from_utf8_lossy(key),
                    raw_key,
                    base + pos,
                    "spaces around a header field name",
                ));
            }
            sink.warn(WarnCode::Whitespace, || {
                format!("spaces around header field {:?} (trimmed)", shown(key))
            });
        }
        if key == b"CP" {
            let vstart = pos + eq + 1;
            if after_cp {
                return Err(FrameError::at_field(
                    ErrorKind::Cp,
                    "CP",
                    &s[vstart..],
                    base + vstart,
                    "a second data area after the first one's closing &&",
                ));
            }
            let value = &s[vstart..];
            let Some(close) = closing_ampersands(value) else {
                cp = Some(Span::new(base + vstart, base + s.len()));
                break;
            };
            // The data area ends at its closing `&&`; never let what follows become part of
            // its last value.
            cp = Some(Span::new(base + vstart, base + vstart + close));
            let after = &value[close..];
            if after.len() > 1 && after.starts_with(b";") {
                after_cp = true;
                pos = vstart + close + 1;
                continue;
            }
            if after == b";" {
                if opts.strict {
                    return Err(FrameError::at_field(
                        ErrorKind::Cp,
                        "CP",
                        after,
                        base + vstart + close,
                        "a ';' after the data area's closing &&",
                    ));
                }
                sink.warn(WarnCode::CpTail, || {
                    "a ';' after the data area's closing && (ignored)".into()
                });
                break;
            }
            if opts.strict || !after.iter().all(|&b| b == b' ') {
                return Err(FrameError::at_field(
                    ErrorKind::Cp,
                    "CP",
                    after,
                    base + vstart + close,
                    "bytes after the data area's closing &&",
                ));
            }
            sink.warn(WarnCode::Whitespace, || {
                "spaces after the data area's closing && (ignored)".into()
            });
            break;
        }
        let vlen = match rest[eq + 1..].iter().position(|&b| b == b';') {
            Some(n) => n,
            // after the data area, the last field runs to the end of the segment
            None if after_cp => rest.len() - eq - 1,
            None => {
                return Err(FrameError::at_field(
                    ErrorKind::Field,
                    "CP",
                    b"",
                    base + s.len(),
                    "the data segment has no CP=&&...&& data area",
                ))
            }
        };
        let vstart = base + pos + eq + 1;
        let vspan = Span::new(vstart, vstart + vlen);
        let v = vspan.of(buf);
        if after_cp && opts.strict {
            let name = String::from_utf8_lossy(key);
            return Err(FrameError::at_field(
                ErrorKind::Field,
                &name,
                v,
                vstart,
                "a header field after the data area CP=&&...&&; the standard puts every header field before CP",
            )
            .with_qn_rtn(qn_rtn_of(&name)));
        }
        let Some(rank) = ORDER.iter().position(|k| k.as_bytes() == key) else {
            let name = String::from_utf8_lossy(key);
            if opts.strict {
                return Err(FrameError::at_field(
                    ErrorKind::Field,
                    &name,
                    v,
                    base + pos,
                    "not a field of the data segment (QN ST CN PW MN Flag PNUM PNO CP)",
                ));
            }
            sink.warn(WarnCode::UnknownHeaderField, || {
                format!(
                    "{name}={:?} is not a header field of the standard (ignored)",
                    shown(v)
                )
            });
            pos += eq + 1 + vlen + 1;
            continue;
        };
        let name = ORDER[rank];
        if seen & (1 << rank) != 0 {
            return Err(field_err(name, v, vstart, "the field appears twice", 100));
        }
        seen |= 1 << rank;
        if after_cp {
            sink.warn(WarnCode::HeaderAfterCp, || {
                format!(
                    "{name}={:?} follows the data area CP=&&...&& (read as the header's {name})",
                    shown(v)
                )
            });
        } else if rank < last_rank {
            if opts.strict {
                return Err(field_err(
                    name,
                    v,
                    vstart,
                    "out of the standard's order QN ST CN PW MN Flag PNUM PNO CP",
                    100,
                ));
            }
            sink.warn(WarnCode::HeaderOrder, || {
                format!("{name} is out of the standard's order")
            });
        }
        if !after_cp {
            last_rank = last_rank.max(rank);
        }
        match rank {
            0 => h.qn = Some(vspan),
            1 => h.st = Some(vspan),
            2 => {
                let n = if v.len() == 4 { read_uint(v) } else { None };
                let Some(n) = n else {
                    return Err(field_err(name, v, vstart, "CN is 4 digits", 8));
                };
                h.cn = vspan;
                h.cn_num = n as u16;
                have_cn = true;
            }
            3 => h.pw = Some(vspan),
            4 => h.mn = Some(vspan),
            5 => {
                let n = if v.len() <= 3 { read_uint(v) } else { None };
                match n {
                    Some(n) if n <= 255 => h.flag = Some(n as u16),
                    _ => return Err(field_err(name, v, vstart, "Flag is a number 0..255", 6)),
                }
            }
            6 | 7 => {
                let n = read_uint(v).filter(|&n| n > 0);
                let Some(n) = n else {
                    return Err(field_err(
                        name,
                        v,
                        vstart,
                        "a packet count or number is 1 or more",
                        100,
                    ));
                };
                if rank == 6 {
                    h.pnum = Some(n);
                } else {
                    h.pno = Some(n);
                }
            }
            _ => h.rf = Some(vspan),
        }
        pos += eq + 1 + vlen + 1;
    }

    let Some(cp_value) = cp else {
        return Err(FrameError::at_field(
            ErrorKind::Field,
            "CP",
            b"",
            base + s.len(),
            "the data segment has no CP=&&...&& data area",
        ));
    };
    if !have_cn {
        return Err(field_err("CN", b"", base, "CN is missing", 8));
    }

    // Edition first: the rules for MN and RF depend on it.
    h.edition = match edition_of(h.flag) {
        Some(e) => e,
        None => {
            let f = h.flag.unwrap_or(0);
            if opts.strict {
                return Err(field_err(
                    "Flag",
                    f.to_string().as_bytes(),
                    base,
                    "edition bits are not 0 (2005), 1 (2017) or 2 (2025)",
                    6,
                ));
            }
            sink.warn(WarnCode::UnknownEdition, || {
                format!(
                    "Flag={f}: edition bits {} are unknown (read as 2025)",
                    f >> 2
                )
            });
            2025
        }
    };

    if let Some(q) = h.qn {
        let v = q.of(buf);
        let ok = v.len() == 17 && read_stamp(v).is_ok();
        if !ok {
            if opts.strict {
                return Err(field_err(
                    "QN",
                    v,
                    q.start as usize,
                    "QN is a real time YYYYMMDDhhmmsszzz (17 digits)",
                    7,
                ));
            }
            if v.is_empty() || v.len() > 32 || !v.iter().all(u8::is_ascii_alphanumeric) {
                return Err(field_err(
                    "QN",
                    v,
                    q.start as usize,
                    "QN is digits (YYYYMMDDhhmmsszzz)",
                    7,
                ));
            }
            sink.warn(WarnCode::QnForm, || {
                format!("QN={:?} is not a real time of 17 digits", shown(v))
            });
        }
    } else if opts.strict && h.edition >= 2017 && !is_upload_cn(h.cn_num) {
        return Err(field_err(
            "QN",
            b"",
            base,
            "QN is required on requests and answers",
            7,
        ));
    }

    match h.st {
        None => return Err(field_err("ST", b"", base, "ST is missing", 5)),
        Some(st) => {
            let v = st.of(buf);
            if v.len() != 2
                || !v
                    .iter()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            {
                return Err(field_err(
                    "ST",
                    v,
                    st.start as usize,
                    "ST is 2 characters 0-9/A-Z (table 5)",
                    5,
                ));
            }
            if !codes::is_known_st(std::str::from_utf8(v).unwrap_or("")) {
                if opts.strict {
                    return Err(field_err(
                        "ST",
                        v,
                        st.start as usize,
                        "not a system code of table 5",
                        5,
                    ));
                }
                sink.warn(WarnCode::UnknownSt, || {
                    format!("ST={:?} is not in table 5", shown(v))
                });
            }
        }
    }

    if !codes::is_known_cn(h.cn_num) {
        if opts.strict {
            return Err(field_err(
                "CN",
                h.cn.of(buf),
                h.cn.start as usize,
                "not a command code of table 9",
                8,
            ));
        }
        sink.warn(WarnCode::UnknownCn, || {
            format!("CN={:04} is not in table 9", h.cn_num)
        });
    }

    match h.pw {
        None => return Err(field_err("PW", b"", base, "PW is missing", 3)),
        Some(pw) => {
            let v = pw.of(buf);
            let standard = v.len() == 6 && v.iter().all(u8::is_ascii_alphanumeric);
            if !standard {
                if opts.strict
                    || v.is_empty()
                    || v.len() > 32
                    || !v.iter().all(u8::is_ascii_graphic)
                {
                    return Err(field_err(
                        "PW",
                        v,
                        pw.start as usize,
                        "PW is 6 characters 0-9/a-z/A-Z",
                        3,
                    ));
                }
                sink.warn(WarnCode::PwLength, || {
                    format!("PW is {} characters, not 6", v.len())
                });
            }
        }
    }

    match h.mn {
        None => return Err(field_err("MN", b"", base, "MN is missing", 4)),
        Some(mn) => {
            let v = mn.of(buf);
            let epc = v.len() == 24 && v.iter().all(is_upper_hex);
            // only wanted for an MN that is not of its edition's form
            let loose = || {
                !v.is_empty()
                    && v.len() <= 32
                    && v.iter()
                        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            };
            if h.edition >= 2017 && !epc {
                if opts.strict || !loose() {
                    return Err(field_err(
                        "MN",
                        v,
                        mn.start as usize,
                        "MN is 24 characters 0-9/A-F (EPC-96)",
                        4,
                    ));
                }
                sink.warn(WarnCode::MnForm, || {
                    format!("MN={:?} is not 24 characters 0-9/A-F", shown(v))
                });
            } else if h.edition == 2005 {
                let ok2005 =
                    !v.is_empty() && v.len() <= 24 && v.iter().all(u8::is_ascii_alphanumeric);
                if !ok2005 && (opts.strict || !loose()) {
                    return Err(field_err(
                        "MN",
                        v,
                        mn.start as usize,
                        "MN is letters and digits, at most 24",
                        4,
                    ));
                }
                if !ok2005 {
                    sink.warn(WarnCode::MnForm, || {
                        format!("MN={:?} is not letters and digits", shown(v))
                    });
                }
            }
        }
    }

    if h.is_split() {
        match (h.pnum, h.pno) {
            (Some(n), Some(no)) if no <= n => {}
            (Some(n), Some(no)) => {
                return Err(field_err(
                    "PNO",
                    no.to_string().as_bytes(),
                    base,
                    &format!("PNO is larger than PNUM={n}"),
                    100,
                ));
            }
            _ => {
                return Err(field_err(
                    "PNUM",
                    b"",
                    base,
                    "Flag's D bit is set but PNUM/PNO are missing",
                    6,
                ));
            }
        }
    } else if h.pnum.is_some() || h.pno.is_some() {
        if opts.strict {
            return Err(field_err(
                "PNUM",
                b"",
                base,
                "PNUM/PNO given but Flag's D bit is not set",
                6,
            ));
        }
        sink.warn(WarnCode::UnknownHeaderField, || {
            "PNUM/PNO without Flag's D bit (ignored)".into()
        });
    }

    if let Some(rf) = h.rf {
        let v = rf.of(buf);
        if h.edition < 2025 {
            if opts.strict {
                return Err(field_err(
                    "RF",
                    v,
                    rf.start as usize,
                    "RF exists only in the 2025 edition",
                    6,
                ));
            }
            sink.warn(WarnCode::UnknownHeaderField, || {
                format!("RF={:?} on a {} frame", shown(v), h.edition)
            });
        }
        if read_uint(v).is_none() {
            return Err(field_err("RF", v, rf.start as usize, "RF is a number", 100));
        }
    }

    // CP=&&...&&
    let v = cp_value.of(buf);
    if !v.starts_with(b"&&") {
        return Err(FrameError::at_field(
            ErrorKind::Cp,
            "CP",
            v,
            cp_value.start as usize,
            "the data area must start with &&",
        ));
    }
    let inner_end = if v.len() >= 4 && v.ends_with(b"&&") {
        cp_value.end as usize - 2
    } else {
        if opts.strict {
            return Err(FrameError::at_field(
                ErrorKind::Cp,
                "CP",
                v,
                cp_value.start as usize,
                "the data area must end with &&",
            ));
        }
        sink.warn(WarnCode::CpTail, || {
            "the data area does not end with &&".into()
        });
        cp_value.end as usize
    };
    h.cp = Span::new(cp_value.start as usize + 2, inner_end);
    Ok(h)
}

/// Where the data area `value` (the CP value from its opening `&&`) ends when the segment
/// does not end with `&&`: just past the first `&&` after the opening one. None when the
/// segment ends with `&&` (the data area is all of it, as ever) or has no closing `&&` at
/// all (lenient mode reads the data area to the end; strict mode rejects it).
fn closing_ampersands(value: &[u8]) -> Option<usize> {
    if !value.starts_with(b"&&") || (value.len() >= 4 && value.ends_with(b"&&")) {
        return None;
    }
    value
        .get(2..)?
        .windows(2)
        .position(|w| w == b"&&")
        .map(|i| i + 4)
}

/// The QnRtn for a misplaced header field: the standard's code for that field.
fn qn_rtn_of(name: &str) -> u16 {
    match name {
        "QN" => 7,
        "ST" => 5,
        "CN" => 8,
        "PW" => 3,
        "MN" => 4,
        "Flag" | "PNUM" | "PNO" | "RF" => 6,
        _ => 100,
    }
}

/// Commands a data logger sends on its own (uploads and notifications): QN may be absent.
pub fn is_upload_cn(cn: u16) -> bool {
    matches!(
        cn,
        2011 | 2021
            | 2031
            | 2041
            | 2051
            | 2061
            | 2081
            | 1013
            | 3020
            | 9015
            | 2013
            | 2052
            | 2062
            | 2111
    )
}

/// Parse one whole frame (`##` to `\r\n`).
pub fn parse_frame<S: WarnSink>(
    buf: &[u8],
    opts: &Options,
    sink: &mut S,
) -> Result<Parsed, FrameError> {
    parse_frame_with(buf, opts, sink, &mut |_| {})
}

/// `parse_frame`, showing each accepted data-area field to `visit` (see `check_cp`).
pub fn parse_frame_with<S: WarnSink, V: FnMut(&Accepted<'_>)>(
    buf: &[u8],
    opts: &Options,
    sink: &mut S,
    visit: &mut V,
) -> Result<Parsed, FrameError> {
    let (segment, crc, header) = parse_frame_head(buf, opts, sink)?;
    let cp = check_cp(buf, header.cp, opts, sink, visit)?;
    Ok(Parsed {
        segment,
        crc,
        header,
        cp,
    })
}

/// Framing, CRC and the validated header of one whole frame: everything `parse_frame` does
/// but look into the data area (`header.cp`). Returns the segment, the carried CRC and the
/// header.
pub fn parse_frame_head<S: WarnSink>(
    buf: &[u8],
    opts: &Options,
    sink: &mut S,
) -> Result<(Span, u16, Header), FrameError> {
    frame_head(buf, opts, sink)
}

fn frame_head<S: WarnSink>(
    buf: &[u8],
    opts: &Options,
    sink: &mut S,
) -> Result<(Span, u16, Header), FrameError> {
    if !buf.starts_with(b"##") {
        return Err(FrameError::at_field(
            ErrorKind::Header,
            "header",
            &buf[..buf.len().min(2)],
            0,
            "a frame starts with ##",
        ));
    }
    let mut early = Vec::new();
    let (segment, crc, consumed) = match locate(buf, true, opts, &mut early) {
        Located::Frame {
            segment,
            crc,
            consumed,
        } => (segment, crc, consumed),
        Located::Error { error, .. } => return Err(error),
        Located::Incomplete => {
            return Err(FrameError::new(
                ErrorKind::Length,
                2,
                "the frame is incomplete",
            ));
        }
    };
    for w in early {
        sink.warn(w.code, || w.detail);
    }
    if consumed != buf.len() {
        return Err(FrameError::at_field(
            ErrorKind::Tail,
            "tail",
            &buf[consumed..],
            consumed,
            "bytes after the frame's \\r\\n",
        ));
    }
    let header = parse_header_at(buf, segment, opts, sink)?;
    Ok((segment, crc, header))
}

#[cfg(test)]
mod tests {
    use super::first_unprintable;

    #[test]
    fn unprintable_bytes_are_found_anywhere() {
        let clean = b"QN=20160801085857223;ST=32;CN=2011;PW=123456;";
        assert_eq!(first_unprintable(clean), None);
        for at in 0..clean.len() {
            for bad in [0x00u8, 0x1F, 0x7F, 0x80, 0xFF, b'\r', b'\n'] {
                let mut v = clean.to_vec();
                v[at] = bad;
                assert_eq!(first_unprintable(&v), Some(at), "byte {bad:#x} at {at}");
            }
        }
    }
}
