//! `Frame`: an owned, parsed frame with accessors for every field.

use std::borrow::Cow;

use crate::cp::{numeric_column, CpFields};
use crate::error::{FrameError, Warning};
use crate::fastpath::plain_frame;
use crate::frame::{Options, Span};
use crate::segment::{parse_frame, Parsed};
use crate::text::read_number;

/// A pollutant field's value: numbers as f64, flags, times and text as text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
}

/// A parsed frame that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub raw: Vec<u8>,
    pub parsed: Parsed,
    pub warnings: Vec<Warning>,
}

impl Frame {
    /// Parse a whole frame.
    pub fn parse(raw: &[u8], opts: &Options) -> Result<Frame, FrameError> {
        if let Some(parsed) = plain_frame(raw, opts) {
            return Ok(Frame {
                raw: raw.to_vec(),
                parsed,
                warnings: Vec::new(),
            });
        }
        Frame::parse_validating(raw, opts)
    }

    /// `parse` by the validating path alone: the reference the plain shape's fast path
    /// (`fastpath::plain_frame`) is tested against.
    pub fn parse_validating(raw: &[u8], opts: &Options) -> Result<Frame, FrameError> {
        let mut warnings = Vec::new();
        let parsed = parse_frame(raw, opts, &mut warnings)?;
        Ok(Frame {
            raw: raw.to_vec(),
            parsed,
            warnings,
        })
    }

    /// Parse a bare data segment, framing it first (length and CRC computed here).
    pub fn parse_segment(segment: &[u8], opts: &Options) -> Result<Frame, FrameError> {
        let raw = crate::frame::wrap(segment);
        let opts = Options {
            max_segment: opts.max_segment.max(segment.len()),
            ..*opts
        };
        Frame::parse(&raw, &opts).map_err(|e| e.shifted(0))
    }

    fn text(&self, s: Span) -> Cow<'_, str> {
        String::from_utf8_lossy(s.of(&self.raw))
    }
    fn opt(&self, s: Option<Span>) -> Option<Cow<'_, str>> {
        s.map(|s| self.text(s))
    }

    pub fn qn(&self) -> Option<Cow<'_, str>> {
        self.opt(self.parsed.header.qn)
    }
    pub fn st(&self) -> Option<Cow<'_, str>> {
        self.opt(self.parsed.header.st)
    }
    pub fn cn(&self) -> Cow<'_, str> {
        self.text(self.parsed.header.cn)
    }
    pub fn cn_num(&self) -> u16 {
        self.parsed.header.cn_num
    }
    pub fn pw(&self) -> Option<Cow<'_, str>> {
        self.opt(self.parsed.header.pw)
    }
    pub fn mn(&self) -> Option<Cow<'_, str>> {
        self.opt(self.parsed.header.mn)
    }
    pub fn flag(&self) -> Option<u16> {
        self.parsed.header.flag
    }
    pub fn edition(&self) -> u16 {
        self.parsed.header.edition
    }
    pub fn needs_ack(&self) -> bool {
        self.parsed.header.needs_ack()
    }
    pub fn is_split(&self) -> bool {
        self.parsed.header.is_split()
    }
    pub fn pnum(&self) -> Option<u32> {
        self.parsed.header.pnum
    }
    pub fn pno(&self) -> Option<u32> {
        self.parsed.header.pno
    }
    pub fn rf(&self) -> Option<Cow<'_, str>> {
        self.opt(self.parsed.header.rf)
    }
    pub fn crc(&self) -> u16 {
        self.parsed.crc
    }
    pub fn segment(&self) -> Cow<'_, str> {
        self.text(self.parsed.segment)
    }
    pub fn segment_bytes(&self) -> &[u8] {
        self.parsed.segment.of(&self.raw)
    }
    pub fn cp_text(&self) -> Cow<'_, str> {
        self.text(self.parsed.header.cp)
    }
    pub fn data_time(&self) -> Option<Cow<'_, str>> {
        self.opt(self.parsed.cp.data_time)
    }
    /// DataTime as wall-clock seconds since 1970 (the zone is the standard's local time).
    pub fn data_time_secs(&self) -> Option<i64> {
        self.parsed.cp.data_time_secs
    }

    /// Every field of the data area in order, as text.
    pub fn cp_fields(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> + '_ {
        CpFields::new(&self.raw, self.parsed.header.cp)
            .filter_map(Result::ok)
            .map(|f| (self.text(f.key), self.text(f.value)))
    }

    /// Original text of a header or data-area field.
    pub fn field_text(&self, name: &str) -> Option<Cow<'_, str>> {
        let h = &self.parsed.header;
        match name {
            "QN" => self.qn(),
            "ST" => self.st(),
            "CN" => Some(self.cn()),
            "PW" => self.pw(),
            "MN" => self.mn(),
            "Flag" => h.flag.map(|f| Cow::Owned(f.to_string())),
            "PNUM" => h.pnum.map(|f| Cow::Owned(f.to_string())),
            "PNO" => h.pno.map(|f| Cow::Owned(f.to_string())),
            "RF" => self.rf(),
            "CP" => Some(self.cp_text()),
            _ => CpFields::new(&self.raw, h.cp)
                .filter_map(Result::ok)
                .filter(|f| f.key.of(&self.raw) == name.as_bytes())
                .last()
                .map(|f| self.text(f.value)),
        }
    }

    /// code -> [(suffix, value)], codes in order of first appearance; a repeated field keeps
    /// its last value. Numeric suffixes with empty values are left out.
    pub fn pollutants(&self) -> Vec<(String, Vec<(String, Value)>)> {
        let mut out: Vec<(String, Vec<(String, Value)>)> = Vec::new();
        for f in CpFields::new(&self.raw, self.parsed.header.cp).filter_map(Result::ok) {
            let (Some(c), Some(s)) = (f.code, f.suffix) else {
                continue;
            };
            let code = self.text(c).into_owned();
            let suffix_b = s.of(&self.raw);
            let v = f.value.of(&self.raw);
            let value = if numeric_column(suffix_b).is_some() {
                match read_number(v) {
                    Some((x, _)) => Value::Number(x),
                    None => continue,
                }
            } else {
                Value::Text(self.text(f.value).into_owned())
            };
            let suffix = self.text(s).into_owned();
            let group = match out.iter_mut().position(|(c, _)| *c == code) {
                Some(i) => &mut out[i].1,
                None => {
                    out.push((code, Vec::new()));
                    &mut out.last_mut().expect("just pushed").1
                }
            };
            match group.iter_mut().find(|(s, _)| *s == suffix) {
                Some(slot) => slot.1 = value,
                None => group.push((suffix, value)),
            }
        }
        out
    }
}
