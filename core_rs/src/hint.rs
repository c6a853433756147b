//! A best-effort look at the header of a frame that failed to parse, so that the platform
//! can still answer it (9011 with the QnRtn of the fault) and file it under its station.
//!
//! Only values that look like header values are kept: what comes out may be echoed into an
//! answer, so a hostile frame must not be able to place separators or odd bytes there.

use crate::frame::MAX_FRAME;

/// What could be read of a rejected frame's header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderHint {
    pub qn: Option<String>,
    pub st: Option<String>,
    pub cn: Option<String>,
    pub pw: Option<String>,
    pub mn: Option<String>,
    pub flag: Option<u16>,
}

/// Longest value kept; the standard's longest header value (MN) is 24.
const MAX_VALUE: usize = 32;

fn is_sep(b: u8) -> bool {
    // ',' is a separator only by mistake (appendix C.22 prints `QN=...,ST=32`), but it never
    // belongs inside a header value either
    b == b';' || b == b','
}

fn trim_spaces(mut s: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' '] = s {
        s = rest;
    }
    s
}

/// The value as text when it is short and made of plain printable ASCII.
fn plain_value(v: &[u8]) -> Option<String> {
    let ok = !v.is_empty()
        && v.len() <= MAX_VALUE
        && v.iter()
            .all(|&b| b.is_ascii_graphic() && !matches!(b, b'=' | b'&' | b';' | b','));
    if ok {
        std::str::from_utf8(v).ok().map(String::from)
    } else {
        None
    }
}

/// The data segment of frame bytes after the length field: up to four CRC digits before
/// the first `\n` (a segment holds no control byte, so that is the frame's real end).
fn segment_by_tail(s: &[u8]) -> Option<&[u8]> {
    let nl = s.iter().position(|&b| b == b'\n')?;
    let crc_end = if nl > 0 && s[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let crc_at = crc_end.checked_sub(4)?;
    s[crc_at..crc_end]
        .iter()
        .all(u8::is_ascii_hexdigit)
        .then_some(&s[..crc_at])
}

/// Scan whole-frame bytes (starting at `##`) or a bare data segment for QN, ST, CN, PW, MN
/// and Flag, including header fields written after the data area (`CP=&&...&&;Flag=5`).
/// Never panics; a value that is cut off by the end of the input, longer than 32 bytes, or
/// holds anything but printable ASCII is dropped; the first of repeated keys wins.
pub fn scan(raw: &[u8]) -> HeaderHint {
    let mut s = &raw[..raw.len().min(MAX_FRAME)];
    // whether `s` is exactly a frame's data segment, whose end then ends its last value
    let mut whole = false;
    if let Some(rest) = s.strip_prefix(b"##") {
        let digits = rest
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_digit())
            .count();
        s = &rest[digits..];
        if let Some(seg) = segment_by_tail(s).filter(|_| digits == 4) {
            s = seg;
            whole = true;
        }
    }
    let mut hint = HeaderHint::default();
    let mut pos = 0;
    while pos < s.len() {
        let rest = &s[pos..];
        let Some(eq) = rest.iter().position(|&b| b == b'=') else {
            break;
        };
        // the key is what follows the last separator before '='
        let before = &rest[..eq];
        let key_start = before.iter().rposition(|&b| is_sep(b)).map_or(0, |i| i + 1);
        let key = trim_spaces(&before[key_start..]);
        let after = &rest[eq + 1..];
        if key == b"CP" {
            // never into the data area; past it only where the parser reads header fields
            // after it: a segment that does not end with its `&&`, going on after `&&;`
            if whole && s.ends_with(b"&&") {
                break;
            }
            let close = after
                .strip_prefix(b"&&")
                .and_then(|area| area.windows(3).position(|w| w == b"&&;"));
            match close {
                Some(i) => {
                    pos += eq + 1 + 2 + i + 3;
                    continue;
                }
                None => break,
            }
        }
        let end = match after.iter().position(|&b| is_sep(b)) {
            Some(end) => end,
            None if whole => after.len(),
            None => break,
        };
        let value = plain_value(trim_spaces(&after[..end]));
        let slot = match key {
            b"QN" => &mut hint.qn,
            b"ST" => &mut hint.st,
            b"CN" => &mut hint.cn,
            b"PW" => &mut hint.pw,
            b"MN" => &mut hint.mn,
            b"Flag" => {
                if hint.flag.is_none() {
                    hint.flag = value
                        .filter(|v| v.len() <= 3 && v.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|v| v.parse::<u16>().ok())
                        .filter(|&f| f <= 255);
                }
                pos += eq + 1 + end + 1;
                continue;
            }
            _ => {
                pos += eq + 1 + end + 1;
                continue;
            }
        };
        if slot.is_none() {
            *slot = value;
        }
        pos += eq + 1 + end + 1;
    }
    hint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_whole_frame() {
        let h = scan(b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n");
        assert_eq!(h.qn.as_deref(), Some("20160801085857223"));
        assert_eq!(h.st.as_deref(), Some("32"));
        assert_eq!(h.cn.as_deref(), Some("1062"));
        assert_eq!(h.pw.as_deref(), Some("100000"));
        assert_eq!(h.mn.as_deref(), Some("010000A8900016F000169DC0"));
        assert_eq!(h.flag, Some(5));
    }

    #[test]
    fn reads_a_bare_segment_with_a_comma() {
        let h = scan(b"QN=20160801085857534,ST=32;CN=2031;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&x&&");
        assert_eq!(h.qn.as_deref(), Some("20160801085857534"));
        assert_eq!(h.st.as_deref(), Some("32"));
        assert_eq!(h.flag, Some(5));
    }

    #[test]
    fn drops_what_is_odd_or_cut_off() {
        let h = scan(b"##0101QN=2016\x0008;ST=32;PW=123456;Flag=5CP=&&DataTime=1;MN=0100");
        assert_eq!(h.qn, None);
        assert_eq!(h.st.as_deref(), Some("32"));
        assert_eq!(h.flag, None);
        assert_eq!(h.mn, None);
        let long = format!("MN={};", "A".repeat(40));
        assert_eq!(scan(long.as_bytes()).mn, None);
        assert_eq!(scan(b"").qn, None);
        assert_eq!(scan(b"##").qn, None);
        assert_eq!(scan(b"=;=;==;;").qn, None);
        assert_eq!(scan(b"Flag=999;").flag, None);
    }

    #[test]
    fn stops_at_the_data_area() {
        let h = scan(b"ST=32;CN=2011;PW=1;MN=1;CP=&&QN=1;Flag=1;&&");
        assert_eq!((h.qn, h.flag), (None, None));
        let framed = crate::frame::wrap(b"ST=32;CN=2011;PW=1;MN=1;CP=&&Flag=1&&;x=1;&&");
        assert_eq!(scan(&framed).flag, None);
    }

    #[test]
    fn reads_header_fields_after_the_data_area() {
        let seg = b"QN=20160801085857223;ST=32;CN=1072;PW=100000;MN=010000A8900016F000169DC0;CP=&&NewPW=654321&&;Flag=5";
        let framed = crate::frame::wrap(seg);
        let h = scan(&framed);
        assert_eq!(h.flag, Some(5));
        assert_eq!(h.mn.as_deref(), Some("010000A8900016F000169DC0"));
        // with a wrong CRC or a bare `\n` alike
        let mut bad = framed.clone();
        let n = bad.len();
        bad[n - 6] = b'0';
        bad.remove(n - 2);
        assert_eq!(scan(&bad).flag, Some(5));
        // not knowing where the segment ends (no tail), a value at the end is cut off
        assert_eq!(scan(&framed[..framed.len() - 6]).flag, None);
        assert_eq!(scan(seg).flag, None);
    }
}
