//! Building frames: any frame from its fields, the platform's answers and requests of
//! appendix C, and split messages for long data areas.
//!
//! Every builder checks what it builds by parsing it back (lenient mode for `segment`, strict
//! mode for `request`), so a frame that a receiver would reject never leaves this module.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::codes;
use crate::error::{ErrorKind, FrameError};
use crate::frame::{wrap, Options, Span, MAX_SEGMENT};
use crate::hint::HeaderHint;
use crate::model::Frame;
use crate::segment::{edition_of, flag_for, parse_segment_at, FLAG_A, FLAG_D};
use crate::text::{format_wall_seconds, read_stamp};
use crate::WarnCount;

/// The standard's limit on the data area (table 3: `CP` 0..950).
pub const MAX_CP: usize = 950;

/// Everything a frame carries, as text. Header values are written as given; `flag: None`
/// leaves Flag out (2005 frames).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub qn: Option<String>,
    pub st: String,
    pub cn: u16,
    pub pw: String,
    pub mn: String,
    pub flag: Option<u16>,
    pub pnum: Option<u32>,
    pub pno: Option<u32>,
    pub rf: Option<String>,
    /// data area fields in order (name, value); `cp_raw` wins when Some
    pub cp: Vec<(String, String)>,
    pub cp_raw: Option<String>,
}

impl Fields {
    /// The fields of a parsed frame (the data area as `cp` pairs, in order).
    pub fn from_frame(frame: &Frame) -> Fields {
        Fields {
            qn: frame.qn().map(String::from),
            st: frame.st().map(String::from).unwrap_or_default(),
            cn: frame.cn_num(),
            pw: frame.pw().map(String::from).unwrap_or_default(),
            mn: frame.mn().map(String::from).unwrap_or_default(),
            flag: frame.flag(),
            pnum: frame.pnum(),
            pno: frame.pno(),
            rf: frame.rf().map(String::from),
            cp: frame
                .cp_fields()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            cp_raw: None,
        }
    }
}

fn field_error(name: &str, value: &str, at: usize, why: impl std::fmt::Display) -> FrameError {
    FrameError::at_field(ErrorKind::Field, name, value.as_bytes(), at, why)
}

/// A header value must not carry a separator: the receiver would cut it there.
fn check_header_value(name: &str, v: &str, at: usize) -> Result<(), FrameError> {
    if v.is_empty() {
        return Err(field_error(name, v, at, "the value is empty"));
    }
    if v.len() > 32 {
        return Err(field_error(
            name,
            v,
            at,
            "a header value is at most 32 characters",
        ));
    }
    if let Some(b) = v
        .bytes()
        .find(|b| !b.is_ascii_graphic() || b"=;,&".contains(b))
    {
        let why = format!("{:?} cannot stand in a header value", char::from(b));
        return Err(field_error(name, v, at, why));
    }
    Ok(())
}

/// The code of a `code-Suffix` name, found the way the parser finds it (the last '-').
fn group_code(name: &str) -> Option<&str> {
    match name.rfind('-') {
        Some(d) if d > 0 && d + 1 < name.len() => Some(&name[..d]),
        _ => None,
    }
}

fn cp_error(
    kind: ErrorKind,
    name: &str,
    value: &str,
    at: usize,
    why: impl std::fmt::Display,
) -> FrameError {
    FrameError::at_field(kind, name, value.as_bytes(), at, why)
}

/// A data-area value must come back from the receiver's split unchanged.
fn check_cp_pair(name: &str, value: &str, at: usize) -> Result<(), FrameError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(cp_error(
            ErrorKind::Cp,
            "CP",
            name,
            at,
            "a field name is letters, digits, '-' and '_'",
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| matches!(c, ';' | ',' | '=') || c.is_control())
    {
        let why = format!("{c:?} cannot stand in a data-area value");
        return Err(cp_error(ErrorKind::Value, name, value, at, why));
    }
    if value.contains("&&") {
        return Err(cp_error(
            ErrorKind::Value,
            name,
            value,
            at,
            "\"&&\" would end the data area",
        ));
    }
    if value.starts_with(' ') || value.ends_with(' ') {
        return Err(cp_error(
            ErrorKind::Value,
            name,
            value,
            at,
            "spaces at the ends of a value are trimmed by receivers",
        ));
    }
    Ok(())
}

/// CP text from (name, value) pairs: ',' within a pollutant group (same code before '-'),
/// ';' between groups and plain fields.
pub fn cp_text(fields: &[(String, String)]) -> String {
    let mut out = String::with_capacity(fields.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    let mut prev: Option<&str> = None;
    for (i, (k, v)) in fields.iter().enumerate() {
        let code = group_code(k);
        if i > 0 {
            out.push(if code.is_some() && code == prev {
                ','
            } else {
                ';'
            });
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        prev = code;
    }
    out
}

/// Check the pairs and return their CP text; offsets in errors are from `base`.
fn checked_cp(fields: &[(String, String)], base: usize) -> Result<String, FrameError> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(fields.len());
    let mut at = base;
    for (k, v) in fields {
        check_cp_pair(k, v, at)?;
        if !seen.insert(k.as_str()) {
            return Err(cp_error(
                ErrorKind::Cp,
                k,
                v,
                at,
                "the field appears twice; a receiver keeps only the last",
            ));
        }
        at += k.len() + v.len() + 2;
    }
    Ok(cp_text(fields))
}

/// A raw data area is sent as given, as long as it cannot end the data area early.
fn checked_raw_cp(raw: &str, base: usize) -> Result<(), FrameError> {
    if let Some(i) = raw.bytes().position(|b| b < 0x20 || b == 0x7F) {
        return Err(cp_error(
            ErrorKind::Cp,
            "CP",
            raw,
            base + i,
            "a control byte in the data area",
        ));
    }
    if raw.contains("&&") {
        return Err(cp_error(
            ErrorKind::Cp,
            "CP",
            raw,
            base,
            "\"&&\" would end the data area",
        ));
    }
    Ok(())
}

/// The data segment text. Errors (kinds `field`, `cp`, `value`) name the field and value that
/// cannot be sent; offsets are from the start of the data segment.
pub fn segment(f: &Fields) -> Result<String, FrameError> {
    let mut s = String::with_capacity(96 + f.cp.len() * 24);
    if let Some(qn) = &f.qn {
        check_header_value("QN", qn, s.len() + 3)?;
        s.push_str("QN=");
        s.push_str(qn);
        s.push(';');
    }
    check_header_value("ST", &f.st, s.len() + 3)?;
    s.push_str("ST=");
    s.push_str(&f.st);
    if f.cn > 9999 {
        return Err(field_error(
            "CN",
            &f.cn.to_string(),
            s.len() + 4,
            "CN is 4 digits",
        ));
    }
    s.push_str(&format!(";CN={:04};", f.cn));
    check_header_value("PW", &f.pw, s.len() + 3)?;
    s.push_str("PW=");
    s.push_str(&f.pw);
    s.push(';');
    check_header_value("MN", &f.mn, s.len() + 3)?;
    s.push_str("MN=");
    s.push_str(&f.mn);
    s.push(';');

    let split = f.flag.is_some_and(|v| v & FLAG_D != 0);
    if let Some(flag) = f.flag {
        if flag > 255 {
            return Err(field_error(
                "Flag",
                &flag.to_string(),
                s.len() + 5,
                "Flag is a number 0..255",
            ));
        }
        s.push_str(&format!("Flag={flag};"));
    }
    match (split, f.pnum, f.pno) {
        (true, Some(n), Some(no)) if no >= 1 && no <= n && n <= 999_999_999 => {
            s.push_str(&format!("PNUM={n};PNO={no};"));
        }
        (true, Some(n), Some(no)) => {
            let why = format!("PNO must be 1..PNUM (PNUM={n})");
            return Err(field_error("PNO", &no.to_string(), s.len(), why));
        }
        (true, _, _) => {
            return Err(field_error(
                "PNUM",
                "",
                s.len(),
                "Flag's D bit is set: PNUM and PNO are required",
            ));
        }
        (false, None, None) => {}
        (false, _, _) => {
            return Err(field_error(
                "PNUM",
                "",
                s.len(),
                "PNUM/PNO are sent only with Flag's D bit set",
            ));
        }
    }
    if let Some(rf) = &f.rf {
        let edition = edition_of(f.flag);
        if edition.is_some_and(|e| e < 2025) {
            return Err(field_error(
                "RF",
                rf,
                s.len() + 3,
                "RF exists only in the 2025 edition",
            ));
        }
        if rf.is_empty() || rf.len() > 9 || !rf.bytes().all(|b| b.is_ascii_digit()) {
            return Err(field_error("RF", rf, s.len() + 3, "RF is a number"));
        }
        s.push_str("RF=");
        s.push_str(rf);
        s.push(';');
    }

    s.push_str("CP=&&");
    let cp_start = s.len();
    match &f.cp_raw {
        Some(raw) => {
            checked_raw_cp(raw, cp_start)?;
            s.push_str(raw);
        }
        None => s.push_str(&checked_cp(&f.cp, cp_start)?),
    }
    let cp_len = s.len() - cp_start;
    if cp_len > MAX_CP {
        let why = format!(
            "the data area is {cp_len} bytes; the standard allows {MAX_CP} (see encode_split)"
        );
        let shown = &s[cp_start..];
        return Err(cp_error(ErrorKind::Cp, "CP", shown, cp_start, why));
    }
    s.push_str("&&");
    if s.len() > MAX_SEGMENT {
        let why = format!(
            "the data segment is {} bytes; the standard allows {MAX_SEGMENT}",
            s.len()
        );
        return Err(cp_error(ErrorKind::Field, "segment", &s, 0, why));
    }
    // The checks above are meant to make this parse succeed; a receiver's own check is the
    // last word on whether the frame can be sent.
    check_by_parsing(&s, &Options::lenient())?;
    Ok(s)
}

/// Parse a built segment as a receiver would; errors carry segment offsets.
fn check_by_parsing(seg: &str, opts: &Options) -> Result<(), FrameError> {
    let raw = wrap(seg.as_bytes());
    let span = Span::new(6, 6 + seg.len());
    parse_segment_at(&raw, span, opts, &mut WarnCount::default())
        .map(|_| ())
        .map_err(|mut e| {
            e.offset = e.offset.saturating_sub(6);
            e
        })
}

/// The whole frame: `##`, length, segment, CRC (upper-case hex), `\r\n`.
pub fn encode(f: &Fields) -> Result<Vec<u8>, FrameError> {
    segment(f).map(|s| wrap(s.as_bytes()))
}

/// The groups of a data area, in order: a pollutant's `code-*` fields together, every other
/// field alone. Groups are what a split may not cut.
fn cp_groups(f: &Fields) -> Vec<String> {
    match &f.cp_raw {
        Some(raw) => raw
            .split(';')
            .filter(|g| !g.is_empty())
            .map(String::from)
            .collect(),
        None => {
            let mut groups = Vec::new();
            let mut i = 0;
            while i < f.cp.len() {
                let code = group_code(&f.cp[i].0);
                let mut j = i + 1;
                while j < f.cp.len() && code.is_some() && group_code(&f.cp[j].0) == code {
                    j += 1;
                }
                groups.push(cp_text(&f.cp[i..j]));
                i = j;
            }
            groups
        }
    }
}

/// Logger side, long data areas: parts of at most `max_cp` bytes of CP each (never more than
/// the standard's 950, nor more than leaves each part's segment within 1024 bytes), each with
/// Flag's D bit, PNUM and PNO, all with the same QN.
/// A pollutant's group is never split across parts. A leading `DataTime` is repeated in
/// every part, as appendix C.49/C.50 show, so each part can be stored on its own; a joiner
/// keeps one. A data area that fits in one part gives one frame without the D bit.
pub fn encode_split(f: &Fields, max_cp: usize) -> Result<Vec<Vec<u8>>, FrameError> {
    let flag = f.flag.unwrap_or(flag_for(2005, false, false)) | FLAG_D;
    // Room for the header of the largest part: PNUM/PNO are measured at 6 digits each.
    let probe = Fields {
        qn: Some(f.qn.clone().unwrap_or_else(|| "20000101000000000".into())),
        flag: Some(flag),
        pnum: Some(999_999),
        pno: Some(999_999),
        cp: Vec::new(),
        cp_raw: Some(String::new()),
        ..f.clone()
    };
    let header = segment(&probe)?.len();
    let limit = max_cp.min(MAX_CP).min(MAX_SEGMENT.saturating_sub(header));
    if let Some(raw) = &f.cp_raw {
        checked_raw_cp(raw, 0)?;
    } else {
        checked_cp(&f.cp, 0)?;
    }
    let mut groups = cp_groups(f);
    let total: usize =
        groups.iter().map(String::len).sum::<usize>() + groups.len().saturating_sub(1);
    let whole = Fields {
        flag: f.flag.map(|v| v & !FLAG_D),
        pnum: None,
        pno: None,
        ..f.clone()
    };
    if total <= limit {
        return encode(&whole).map(|frame| vec![frame]);
    }
    let Some(qn) = f.qn.as_deref() else {
        return Err(field_error(
            "QN",
            "",
            0,
            "a split message needs a QN: its parts are joined by it",
        ));
    };
    let head = if groups.first().is_some_and(|g| g.starts_with("DataTime=")) {
        Some(groups.remove(0))
    } else {
        None
    };
    let head_len = head.as_ref().map_or(0, |h| h.len() + 1);
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    for g in groups {
        let cur_len = if cur.is_empty() {
            head_len
        } else {
            head_len + cur.len() + 1
        };
        if cur_len + g.len() <= limit {
            if !cur.is_empty() {
                cur.push(';');
            }
            cur.push_str(&g);
            continue;
        }
        if head_len + g.len() > limit {
            let name = g.split('=').next().unwrap_or("CP").to_string();
            let why = format!(
                "a group of {} bytes does not fit in parts of {limit} bytes",
                head_len + g.len()
            );
            return Err(cp_error(ErrorKind::Cp, &name, &g, 0, why));
        }
        parts.push(std::mem::replace(&mut cur, g));
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    let n = parts.len() as u32;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let cp = match &head {
                Some(h) => format!("{h};{body}"),
                None => body,
            };
            let part = Fields {
                qn: Some(qn.to_string()),
                flag: Some(flag),
                pnum: Some(n),
                pno: Some(i as u32 + 1),
                cp: Vec::new(),
                cp_raw: Some(cp),
                ..f.clone()
            };
            encode(&part)
        })
        .collect()
}

/// China Standard Time is UTC+8 all year: the standard's timestamps are local wall clock.
const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;

/// A QN for a Unix time in milliseconds: `YYYYMMDDhhmmsszzz` in China Standard Time.
pub fn qn_from_unix_millis(ms: i64) -> String {
    let local = ms.saturating_add(CST_OFFSET_MS);
    let secs = local.div_euclid(1000);
    let millis = local.rem_euclid(1000);
    format!("{}{millis:03}", format_wall_seconds(secs))
}

/// A QN for now, `YYYYMMDDhhmmsszzz` in China Standard Time.
pub fn now_qn() -> String {
    let ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    };
    qn_from_unix_millis(ms)
}

/// Which answer `answer` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// what the standard asks for this frame: 9014 to an upload, 9013 to a notification,
    /// each only when the sender set Flag's A bit; nothing to answers and requests
    Auto,
    /// 9011 request answer with this QnRtn
    QnRtn(u16),
    /// 9012 execution result with this ExeRtn
    ExeRtn(u16),
    /// 9013 notification answer
    Notify,
    /// 9014 data answer
    Data,
}

/// The 90xx answer to a frame with the given header: QN echoed, ST=91, PW and MN echoed,
/// Flag with the sender's edition bits and neither A nor D (no Flag for a sender without).
fn answer_fields(
    qn: Option<&str>,
    pw: &str,
    mn: &str,
    flag: Option<u16>,
    cn: u16,
    cp: Vec<(String, String)>,
) -> Fields {
    Fields {
        qn: qn.map(String::from),
        st: "91".into(),
        cn,
        pw: pw.into(),
        mn: mn.into(),
        flag: flag.map(|f| f & !(FLAG_A | FLAG_D)),
        cp,
        ..Fields::default()
    }
}

/// What `Reply::Auto` answers to a command code: Some(9013) for notifications, Some(9014)
/// for uploads, None for requests and answers. Taken from the code table's direction notes
/// (table 9 and appendix C): 1013, 2012, 2022 are notifications (C.4, C.11, C.13); every
/// command a logger uploads gets 9014 (C.14-C.29, C.39-C.44 incl. 2081 in C.24, and history
/// replies in C.48/C.50). A code outside the table, outside the 9xxx answer range, is taken
/// as an upload: the sender asked for an answer and 9014 only says the frame arrived.
fn auto_answer(cn: u16) -> Option<u16> {
    match codes::lookup("cn", &format!("{cn:04}")) {
        Some(row) if row.note.contains("notify") => Some(9013),
        Some(row) if row.note.contains("upload") => Some(9014),
        Some(_) => None,
        None if (9000..=9999).contains(&cn) => None,
        None => Some(9014),
    }
}

/// `auto_answer` of every CN of four digits, worked out once (0: none): the gateway answers
/// every frame it keeps, and the code table's lookup by text cost more than the answer.
fn auto_answer_cached(cn: u16) -> Option<u16> {
    static TABLE: OnceLock<Vec<u16>> = OnceLock::new();
    let table = TABLE.get_or_init(|| (0..=9999).map(|c| auto_answer(c).unwrap_or(0)).collect());
    match table.get(usize::from(cn)) {
        Some(0) => None,
        Some(&answer) => Some(answer),
        None => auto_answer(cn),
    }
}

/// The platform's answer to a frame it received, in the sender's edition, or None when none
/// is due (`Auto` on a frame without Flag's A bit, on a request or on an answer).
///
/// A frame parsed without a warning gets an answer without a data area written straight
/// into bytes (`plain_answer`); `answer_by_encoder` is the general way, and the tests demand
/// the same bytes from both.
pub fn answer(frame: &Frame, reply: Reply) -> Option<Vec<u8>> {
    let cn = match reply {
        Reply::Auto if frame.needs_ack() => auto_answer_cached(frame.cn_num()),
        Reply::Auto => return None,
        Reply::Notify => Some(9013),
        Reply::Data => Some(9014),
        Reply::QnRtn(_) | Reply::ExeRtn(_) => None,
    };
    if let Some(cn) = cn {
        if frame.warnings.is_empty() {
            if let Some(bytes) = plain_answer(frame, cn) {
                return Some(bytes);
            }
        }
    }
    answer_by_encoder(frame, reply)
}

/// The answer with CN `cn` and an empty data area to a frame parsed without a warning: its
/// QN, PW and MN as they came (each already a valid header value, so the encoder's checks
/// and its parse of the result would pass), ST=91, Flag without the A and D bits. None
/// where the encoder might see it otherwise (a header value it would refuse, a Flag over
/// 255): `answer_by_encoder` then decides.
fn plain_answer(frame: &Frame, cn: u16) -> Option<Vec<u8>> {
    let h = &frame.parsed.header;
    let raw = &frame.raw;
    let pw = h.pw?.of(raw);
    let mn = h.mn?.of(raw);
    let qn = h.qn.map(|q| q.of(raw));
    // the encoder's own rule for header values (`check_header_value`): a warning-free frame's
    // values pass it, so its error (built only for a refused value) is never made here
    let valid = |name: &str, v: &[u8]| {
        std::str::from_utf8(v).is_ok_and(|s| check_header_value(name, s, 0).is_ok())
    };
    if !valid("PW", pw) || !valid("MN", mn) || !qn.map_or(true, |q| valid("QN", q)) {
        return None;
    }
    let flag = h.flag.map(|f| f & !(FLAG_A | FLAG_D));
    if flag.is_some_and(|f| f > 255) {
        return None;
    }
    let mut seg = Vec::with_capacity(96);
    if let Some(q) = qn {
        seg.extend_from_slice(b"QN=");
        seg.extend_from_slice(q);
        seg.push(b';');
    }
    seg.extend_from_slice(format!("ST=91;CN={cn:04};PW=").as_bytes());
    seg.extend_from_slice(pw);
    seg.extend_from_slice(b";MN=");
    seg.extend_from_slice(mn);
    seg.push(b';');
    if let Some(f) = flag {
        seg.extend_from_slice(format!("Flag={f};").as_bytes());
    }
    seg.extend_from_slice(b"CP=&&&&");
    Some(wrap(&seg))
}

/// `answer` by the general encoder (which checks every field and parses what it built).
pub fn answer_by_encoder(frame: &Frame, reply: Reply) -> Option<Vec<u8>> {
    let (cn, cp) = match reply {
        Reply::Auto => {
            if !frame.needs_ack() {
                return None;
            }
            (auto_answer(frame.cn_num())?, Vec::new())
        }
        Reply::QnRtn(n) => (9011, vec![("QnRtn".to_string(), n.to_string())]),
        Reply::ExeRtn(n) => (9012, vec![("ExeRtn".to_string(), n.to_string())]),
        Reply::Notify => (9013, Vec::new()),
        Reply::Data => (9014, Vec::new()),
    };
    let qn = frame.qn();
    let pw = frame.pw()?;
    let mn = frame.mn()?;
    encode(&answer_fields(
        qn.as_deref(),
        &pw,
        &mn,
        frame.flag(),
        cn,
        cp,
    ))
    .ok()
}

/// The 9011 answer to a rejected frame, from a best-effort header scan: QnRtn is the one the
/// error names (100, unknown error, when it names none). None when the sender expects no
/// answer (no Flag, or Flag's A bit clear), when the frame is itself an answer, or when QN,
/// MN or PW are unknown.
pub fn answer_rejected(error: &FrameError, hint: &HeaderHint) -> Option<Vec<u8>> {
    let flag = hint.flag?;
    if flag & FLAG_A == 0 {
        return None;
    }
    if hint.cn.as_deref().is_some_and(|cn| cn.starts_with("90")) {
        return None;
    }
    let qn = hint.qn.as_deref()?;
    let mn = hint.mn.as_deref()?;
    let pw = hint.pw.as_deref()?;
    let code = error.qn_rtn.unwrap_or(100);
    let cp = vec![("QnRtn".to_string(), code.to_string())];
    encode(&answer_fields(Some(qn), pw, mn, Some(flag), 9011, cp)).ok()
}

/// One field of a platform request: its name and whether the request needs it.
type Spec = &'static [(&'static str, bool)];

/// The data area of each platform request in appendix C, in the order the appendix writes it.
fn request_spec(cn: u16) -> Option<Spec> {
    const NONE: Spec = &[];
    const POL: Spec = &[("PolId", true)];
    const HISTORY: Spec = &[("BeginTime", true), ("EndTime", true)];
    Some(match cn {
        1000 => &[("OverTime", true), ("ReCount", true)],
        // C.2/C.3: without PolId the logger's own clock is meant
        1011 => &[("PolId", false)],
        1012 => &[("PolId", false), ("SystemTime", true)],
        1061 | 1063 | 2011 | 2012 | 2021 | 2022 | 3015 => NONE,
        1062 => &[("RtdInterval", true)],
        1064 => &[("MinInterval", true)],
        1072 => &[("NewPW", true)],
        2031 | 2041 | 2051 | 2061 => HISTORY,
        3011..=3014 | 3017..=3019 => POL,
        3016 => &[("PolId", true), ("CstartTime", true), ("Ctime", true)],
        // C.41: the log items (i11xxx) are asked for over a time range
        3020 => &[
            ("PolId", true),
            ("InfoId", true),
            ("BeginTime", false),
            ("EndTime", false),
        ],
        // C.46: the value to set is sent as `<InfoId>-Info`, checked below
        3021 => &[("PolId", true), ("InfoId", true)],
        _ => return None,
    })
}

fn lookup_field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Put the caller's fields in the appendix's order, refusing missing and foreign ones.
fn request_cp(
    cn: u16,
    spec: Spec,
    fields: &[(String, String)],
) -> Result<Vec<(String, String)>, FrameError> {
    let info_name = if cn == 3021 {
        lookup_field(fields, "InfoId").map(|id| format!("{id}-Info"))
    } else {
        None
    };
    for (k, v) in fields {
        let known =
            spec.iter().any(|(name, _)| name == k) || info_name.as_deref() == Some(k.as_str());
        if !known {
            let why = format!("not a field of CN={cn:04} requests (appendix C)");
            return Err(cp_error(ErrorKind::Cp, k, v, 0, why));
        }
    }
    let mut out = Vec::with_capacity(spec.len() + 1);
    for &(name, required) in spec {
        match lookup_field(fields, name) {
            Some(v) => out.push((name.to_string(), v.to_string())),
            None if required => {
                let why = format!("CN={cn:04} requests need {name}");
                return Err(cp_error(ErrorKind::Cp, name, "", 0, why));
            }
            None => {}
        }
    }
    if let Some(info) = info_name {
        match lookup_field(fields, &info) {
            Some(v) => out.push((info, v.to_string())),
            None => {
                let why = format!("CN=3021 requests carry the value to set as {info}");
                return Err(cp_error(ErrorKind::Cp, &info, "", 0, why));
            }
        }
    }
    let begin = lookup_field(&out, "BeginTime");
    let end = lookup_field(&out, "EndTime");
    match (begin, end) {
        (Some(_), None) => {
            return Err(cp_error(
                ErrorKind::Cp,
                "EndTime",
                "",
                0,
                "BeginTime needs EndTime",
            ))
        }
        (None, Some(_)) => {
            return Err(cp_error(
                ErrorKind::Cp,
                "BeginTime",
                "",
                0,
                "EndTime needs BeginTime",
            ))
        }
        (Some(b), Some(e)) => {
            let valid = |t: &str| t.len() == 14 && read_stamp(t.as_bytes()).is_ok();
            // equal-length digit strings of real times order as the times do
            if valid(b) && valid(e) && b > e {
                return Err(cp_error(
                    ErrorKind::Value,
                    "BeginTime",
                    b,
                    0,
                    format!("after EndTime={e}"),
                ));
            }
        }
        (None, None) => {}
    }
    Ok(out)
}

/// A platform request of appendix C: 1000, 1011, 1012, 1061..1064, 1072, 2011, 2012, 2021,
/// 2022, 2031, 2041, 2051, 2061, 3011..3021. `st` is the station's system code (appendix C
/// sends requests with the logger's ST, e.g. 32, not 91); `qn` None takes `now_qn()`.
/// Fields are the standard's names, put in the appendix's order; a missing required field, a
/// field the request does not carry, or a value strict parsing would reject is an error.
#[allow(clippy::too_many_arguments)] // the Python binding's keyword arguments, one for one
pub fn request(
    cn: u16,
    mn: &str,
    pw: &str,
    st: &str,
    qn: Option<&str>,
    edition: u16,
    needs_ack: bool,
    fields: &[(String, String)],
) -> Result<Vec<u8>, FrameError> {
    let Some(spec) = request_spec(cn) else {
        let why = "not a platform request of appendix C (1000, 1011, 1012, 1061-1064, 1072, \
                   2011, 2012, 2021, 2022, 2031, 2041, 2051, 2061, 3011-3021)";
        return Err(field_error("CN", &format!("{cn:04}"), 0, why).with_qn_rtn(8));
    };
    if !matches!(edition, 2005 | 2017 | 2025) {
        return Err(field_error(
            "Flag",
            &edition.to_string(),
            0,
            "the edition is 2005, 2017 or 2025",
        ));
    }
    let cp = request_cp(cn, spec, fields)?;
    let f = Fields {
        qn: Some(qn.map_or_else(now_qn, String::from)),
        st: st.into(),
        cn,
        pw: pw.into(),
        mn: mn.into(),
        flag: Some(flag_for(edition, needs_ack, false)),
        cp,
        ..Fields::default()
    };
    let seg = segment(&f)?;
    check_by_parsing(&seg, &Options::strict())?;
    Ok(wrap(seg.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn base() -> Fields {
        Fields {
            qn: Some("20160801085857223".into()),
            st: "32".into(),
            cn: 1062,
            pw: "100000".into(),
            mn: "010000A8900016F000169DC0".into(),
            flag: Some(5),
            cp: pairs(&[("RtdInterval", "30")]),
            ..Fields::default()
        }
    }

    #[test]
    fn the_standards_example_frame() {
        let frame = encode(&base()).unwrap();
        assert_eq!(
            frame,
            b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
        );
    }

    #[test]
    fn separators_follow_groups() {
        let t = cp_text(&pairs(&[
            ("DataTime", "20160801085857"),
            ("w01001-Rtd", "7.1"),
            ("w01001-Flag", "N"),
            ("w01018-Rtd", "2.2"),
            ("SB1-RS", "1"),
        ]));
        assert_eq!(
            t,
            "DataTime=20160801085857;w01001-Rtd=7.1,w01001-Flag=N;w01018-Rtd=2.2;SB1-RS=1"
        );
    }

    #[test]
    fn values_that_cannot_be_sent() {
        let bad = [
            ("x;y", ErrorKind::Value),
            ("a,b", ErrorKind::Value),
            ("a=b", ErrorKind::Value),
            ("a&&b", ErrorKind::Value),
            ("a\rb", ErrorKind::Value),
            (" 30", ErrorKind::Value),
        ];
        for (v, kind) in bad {
            let mut f = base();
            f.cp = pairs(&[("RtdInterval", v)]);
            let e = segment(&f).unwrap_err();
            assert_eq!(
                (e.kind, e.field.as_deref()),
                (kind, Some("RtdInterval")),
                "{v:?}"
            );
        }
        let mut f = base();
        f.mn = "0100;00".into();
        assert_eq!(segment(&f).unwrap_err().field.as_deref(), Some("MN"));
        let mut f = base();
        f.cn = 12345;
        assert_eq!(segment(&f).unwrap_err().field.as_deref(), Some("CN"));
        let mut f = base();
        f.flag = Some(7);
        assert_eq!(segment(&f).unwrap_err().field.as_deref(), Some("PNUM"));
        let mut f = base();
        f.rf = Some("1".into());
        assert_eq!(segment(&f).unwrap_err().field.as_deref(), Some("RF"));
        let mut f = base();
        f.cp = pairs(&[("a-Info", &"x".repeat(1000))]);
        assert_eq!(segment(&f).unwrap_err().kind, ErrorKind::Cp);
        let mut f = base();
        f.cp = pairs(&[("w01018-Rtd", "1"), ("w01018-Rtd", "2")]);
        assert_eq!(segment(&f).unwrap_err().kind, ErrorKind::Cp);
    }

    #[test]
    fn qn_in_china_standard_time() {
        assert_eq!(qn_from_unix_millis(0), "19700101080000000");
        // 2016-08-01 00:58:57.223 UTC is 08:58:57.223 in Beijing
        assert_eq!(qn_from_unix_millis(1_470_013_137_223), "20160801085857223");
        assert_eq!(qn_from_unix_millis(-1), "19700101075959999");
        let now = now_qn();
        assert_eq!(now.len(), 17);
        assert!(read_stamp(now.as_bytes()).is_ok());
        // extreme inputs give text, not a panic
        let _ = qn_from_unix_millis(i64::MAX);
        let _ = qn_from_unix_millis(i64::MIN);
    }

    #[test]
    fn request_checks_fields() {
        let mn = "010000A8900016F000169DC0";
        let qn = Some("20160801085857223");
        let e = request(
            2051,
            mn,
            "123456",
            "32",
            qn,
            2017,
            true,
            &pairs(&[("EndTime", "20160801084000")]),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("BeginTime"));
        let e = request(
            2051,
            mn,
            "123456",
            "32",
            qn,
            2017,
            true,
            &pairs(&[
                ("BeginTime", "20160801084000"),
                ("EndTime", "20160801084000"),
                ("PolId", "w01018"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("PolId"));
        let e = request(
            1062,
            mn,
            "123456",
            "32",
            qn,
            2017,
            true,
            &pairs(&[("RtdInterval", "10")]),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (ErrorKind::Value, Some("RtdInterval"))
        );
        let e = request(
            1062,
            "short",
            "123456",
            "32",
            qn,
            2017,
            true,
            &pairs(&[("RtdInterval", "30")]),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("MN"));
        let e = request(9014, mn, "123456", "32", qn, 2017, true, &[]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("CN"));
        let e = request(
            2061,
            mn,
            "123456",
            "32",
            qn,
            2017,
            true,
            &pairs(&[
                ("BeginTime", "20160801090000"),
                ("EndTime", "20160801080000"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("BeginTime"));
        let e = request(
            3021,
            mn,
            "123456",
            "32",
            qn,
            2017,
            true,
            &pairs(&[("PolId", "w01018"), ("InfoId", "i13004")]),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("i13004-Info"));
    }
}
