//! Streaming framer for TCP byte streams: feed chunks of any size, get whole frames and
//! rejections in stream order.
//!
//! What comes out:
//! - a frame: framed by `locate` (lenient or strict as `Options` say), then validated like
//!   `Frame::parse`; its warnings (bare `\n`, recovered length, ...) are on the `Frame`;
//! - a frame that is framed but fails validation, or whose CRC is wrong: a rejection with
//!   exactly its bytes;
//! - a `##` whose frame cannot be delimited (length not digits, no tail where one must
//!   be): a rejection with the bytes from that `##` to the next one, or its first
//!   `MAX_FRAME - 2` bytes, whichever comes first (the rest is then a garbage run);
//! - a frame whose first `\n` comes before its declared tail, or that has no tail there (its
//!   declared length is wrong): decided at that `\n`, never by waiting for the declared
//!   length (a data segment holds no control byte). Lenient mode takes it when the CRC
//!   before the `\n` is right (a `length_mismatch` warning), rejects it with exactly its
//!   bytes when four hex digits there carry a wrong CRC, and otherwise (another `##` before
//!   the `\n`: a frame cut short) rejects it as above, so the frame behind comes out in the
//!   same `feed`; strict mode rejects it as above. A wrong CRC at the declared tail with a
//!   `##` inside is a frame cut short too;
//! - a run of bytes that starts no frame: one `header` rejection per run, however many
//!   chunks it spans, with its first `MAX_FRAME - 2` bytes and its length in the message.
//!   The run ends at the next `##` (the last pair of a `###...` run) or at `finish`.
//!
//! Design points:
//! - The result does not depend on how the stream is cut into chunks. Every decision is the
//!   one `locate` makes on the shortest prefix that decides it, so feeding byte by byte,
//!   in random chunks or all at once yields the same frames and the same rejections.
//! - Memory: at most one frame under construction (`max_segment + 12` bytes), the first
//!   `MAX_FRAME` bytes of a run being skipped, and, while `feed` runs, one chunk.
//! - Linear time: a chunk is scanned in place when nothing is buffered; only the unfinished
//!   tail is copied. Frames are never shifted out of the buffer one by one, and a frame
//!   trickling in is not re-examined from its start on every feed (see `Waiting`).

use crate::crc::CrcVariants;
use crate::error::{shown, ErrorKind, FrameError, Rejected, Warning};
use crate::fastpath::plain_segment;
use crate::frame::{locate, Located, Options, MAX_FRAME};
use crate::model::Frame;
use crate::segment::{parse_segment_at, Parsed};

/// The kept head of a run being skipped. While a run goes on, up to two `#` may wait to show
/// where the next frame starts (the last pair of `###...`); head and those together stay
/// within one largest frame.
const HEAD_CAP: usize = MAX_FRAME - 2;
use crate::text::read_uint;

/// Counters over the life of a `Framer`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FramerStats {
    /// frames yielded (framed and valid)
    pub frames: u64,
    /// rejections yielded (garbage runs, broken frames, frames failing validation)
    pub errors: u64,
    /// bytes skipped while looking for the next `##` (garbage, and what follows a `##`
    /// whose frame could not be delimited)
    pub garbage_bytes: u64,
    /// skipped runs that ended at a `##` (the framer found its footing again)
    pub resyncs: u64,
    /// bytes fed
    pub bytes: u64,
}

/// A run of bytes skipped on the way to the next `##`. It becomes one rejection when the
/// next frame start (or the end of the stream) is seen, so a run cut over many chunks is
/// still reported once.
#[derive(Debug)]
struct Skip {
    /// the broken frame that started the run; None for plain garbage
    error: Option<FrameError>,
    /// the run's first bytes, cut at `MAX_FRAME` so a flood cannot grow memory
    head: Vec<u8>,
    /// bytes of the run after the ones the broken frame's `##` took, including those not
    /// kept in `head`
    len: u64,
}

/// Where the next frame may start in a run being skipped.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// a `##` (not followed by another `#`) at this index
    At(usize),
    /// none; the last `n` bytes are `#` and may begin one once more bytes come
    Keep(usize),
}

/// Find the next frame start: the last `##` of a run of `#` (a length is digits, so in
/// `###0101` the frame starts at the second `#`). With `at_end`, nothing more will come.
fn next_start(data: &[u8], at_end: bool) -> Next {
    let mut from = 0;
    while let Some(off) = data
        .get(from..)
        .and_then(|d| d.iter().position(|&b| b == b'#'))
    {
        let i = from + off;
        let run = data[i..].iter().take_while(|&&b| b == b'#').count();
        let end = i + run;
        if end == data.len() {
            // the run reaches the end: whether it is followed by a digit is not known yet
            return match (at_end, run >= 2) {
                (true, true) => Next::At(end - 2),
                (true, false) => Next::Keep(0),
                (false, _) => Next::Keep(run.min(2)),
            };
        }
        if run >= 2 {
            return Next::At(end - 2);
        }
        from = end;
    }
    Next::Keep(0)
}

/// Whether `data` starts a frame right here: Some(true) yes, Some(false) no, None when the
/// bytes so far (`#` or `##`) cannot tell yet.
fn starts_frame(data: &[u8], at_end: bool) -> Option<bool> {
    match data {
        [b'#', b'#', b'#', ..] => Some(false),
        [b'#', b'#', _, ..] => Some(true),
        [b'#', b'#'] => {
            if at_end {
                Some(true)
            } else {
                None
            }
        }
        [b'#'] => {
            if at_end {
                Some(false)
            } else {
                None
            }
        }
        _ => Some(false),
    }
}

/// A frame at the start of the buffer that `locate` found incomplete, and when asking
/// again can change the answer. Without this, a frame trickling in byte by byte would be
/// re-examined from its start on every feed.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    /// ask again once this many bytes are buffered (the declared tail, or the largest frame)
    need: usize,
    /// ask again as soon as a `\n` shows up past the length field (a frame's first `\n`
    /// ends it); the buffer before this index holds none
    scanned: usize,
}

impl Waiting {
    /// Whether `frame` (the same bytes as before, possibly more) may now be decided.
    fn may_end(&mut self, frame: &[u8]) -> bool {
        if frame.len() >= self.need {
            return true;
        }
        let from = self.scanned.max(6);
        self.scanned = frame.len();
        frame.get(from..).is_some_and(|d| d.contains(&b'\n'))
    }
}

/// A streaming framer over one connection's bytes.
#[derive(Debug)]
pub struct Framer {
    opts: Options,
    /// bytes kept between feeds: an unfinished frame, or one or two `#` that may start one
    buf: Vec<u8>,
    skip: Option<Skip>,
    stats: FramerStats,
    /// reused for each frame's warnings
    warnings: Vec<Warning>,
    /// set while `buf` holds an incomplete frame
    waiting: Option<Waiting>,
    /// try the plain shape's fast path first (`fastpath::plain_segment`); off only in
    /// `Framer::validating`, the reference it is tested against
    plain: bool,
}

impl Framer {
    pub fn new(opts: Options) -> Self {
        Framer {
            opts,
            buf: Vec::new(),
            skip: None,
            stats: FramerStats::default(),
            warnings: Vec::new(),
            waiting: None,
            plain: true,
        }
    }

    /// A framer that reads every frame by the validating path alone: the reference for
    /// tests of the fast path, which must give the same frames.
    pub fn validating(opts: Options) -> Self {
        Framer {
            plain: false,
            ..Framer::new(opts)
        }
    }

    /// Feed a chunk of any size; push complete frames and rejections, in stream order.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Result<Frame, Rejected>>) {
        self.stats.bytes += chunk.len() as u64;
        if self.buf.is_empty() {
            let used = self.scan(chunk, false, out);
            self.buf
                .extend_from_slice(chunk.get(used..).unwrap_or_default());
        } else {
            let mut data = std::mem::take(&mut self.buf);
            data.extend_from_slice(chunk);
            if let Some(mut w) = self.waiting.take() {
                if !w.may_end(&data) {
                    self.waiting = Some(w);
                    self.buf = data;
                    return;
                }
            }
            let used = self.scan(&data, false, out);
            data.drain(..used.min(data.len()));
            self.buf = data;
        }
    }

    /// The connection closed: whatever is buffered becomes a rejection (or, where a later
    /// `##` shows the buffered frame was cut short, one rejection per piece).
    pub fn finish(&mut self, out: &mut Vec<Result<Frame, Rejected>>) {
        self.waiting = None;
        let data = std::mem::take(&mut self.buf);
        self.scan(&data, true, out);
        self.end_skip(out, false);
    }

    pub fn options(&self) -> Options {
        self.opts
    }

    /// Allow other CRC algorithms from now on (a platform learns which station it talks to
    /// from the first frame, and what that station is allowed, after the framer exists).
    pub fn set_crc_variants(&mut self, variants: CrcVariants) {
        self.opts.crc_variants = variants;
    }

    /// Bytes held: an unfinished frame, plus the kept head of a run being skipped.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.skip.as_ref().map_or(0, |s| s.head.len())
    }

    pub fn stats(&self) -> FramerStats {
        self.stats
    }

    /// The largest frame these options allow; holding this much without a frame is an error.
    fn limit(&self) -> usize {
        self.opts.max_segment.saturating_add(12)
    }

    /// Consume as much of `data` as can be decided now; returns how many bytes were used
    /// (the rest must be kept for the next feed). With `at_end` everything is used.
    fn scan(&mut self, data: &[u8], at_end: bool, out: &mut Vec<Result<Frame, Rejected>>) -> usize {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            if self.skip.is_none() {
                match starts_frame(rest, at_end) {
                    Some(true) => match self.take_frame(rest, at_end, out) {
                        Some(used) => {
                            pos += used;
                            continue;
                        }
                        None => return pos,
                    },
                    None => return pos,
                    Some(false) => {
                        self.skip = Some(Skip {
                            error: None,
                            head: Vec::new(),
                            len: 0,
                        });
                    }
                }
            }
            match next_start(rest, at_end) {
                Next::At(i) => {
                    self.skip_bytes(&rest[..i], out);
                    self.end_skip(out, true);
                    pos += i;
                }
                Next::Keep(keep) => {
                    let n = rest.len() - keep.min(rest.len());
                    self.skip_bytes(&rest[..n], out);
                    return pos + n;
                }
            }
        }
        pos
    }

    /// `data` starts with `##`: yield the frame or rejection there and return the bytes it
    /// took, or None when more bytes are needed.
    fn take_frame(
        &mut self,
        data: &[u8],
        at_end: bool,
        out: &mut Vec<Result<Frame, Rejected>>,
    ) -> Option<usize> {
        self.warnings.clear();
        let located = if at_end {
            // The stream is over. A later `##` means this frame was cut short: reject it up
            // to there and let the frame behind have its chance.
            let piece = match next_start(data.get(2..).unwrap_or_default(), true) {
                Next::At(i) => i + 2,
                Next::Keep(_) => data.len(),
            };
            locate(&data[..piece], true, &self.opts, &mut self.warnings)
        } else {
            self.locate_stream(data)
        };
        match located {
            Located::Frame {
                segment,
                crc,
                consumed,
            } => {
                let consumed = consumed.clamp(1, data.len());
                let raw = &data[..consumed];
                // the plain shape by the fast path, when the framing gave no warning
                let plain = if self.warnings.is_empty() && self.plain {
                    plain_segment(raw, segment)
                } else {
                    None
                };
                let parsed = match plain {
                    Some(parsed) => Ok(parsed),
                    None => parse_segment_at(raw, segment, &self.opts, &mut self.warnings),
                };
                match parsed {
                    Ok((header, cp)) => {
                        self.stats.frames += 1;
                        out.push(Ok(Frame {
                            raw: raw.to_vec(),
                            parsed: Parsed {
                                segment,
                                crc,
                                header,
                                cp,
                            },
                            warnings: std::mem::take(&mut self.warnings),
                        }));
                    }
                    Err(error) => self.reject(error, raw.to_vec(), out),
                }
                Some(consumed)
            }
            Located::Error { error, consumed } if consumed > 2 => {
                let consumed = consumed.min(data.len());
                self.reject(error, data[..consumed].to_vec(), out);
                Some(consumed)
            }
            Located::Error { error, consumed } => {
                // Where this frame ends is unknown: it runs to the next `##`.
                let consumed = consumed.clamp(1, data.len());
                self.skip = Some(Skip {
                    error: Some(error),
                    head: data[..consumed].to_vec(),
                    len: 0,
                });
                Some(consumed)
            }
            Located::Incomplete if data.len() >= self.limit() || at_end => {
                // `locate` decides before this with the standard's limits; this guards odd options.
                let error = FrameError::at_field(
                    ErrorKind::Length,
                    "length",
                    data.get(2..6).unwrap_or_default(),
                    2,
                    format!("no frame within {} bytes after ##", data.len()),
                );
                self.skip = Some(Skip {
                    error: Some(error),
                    head: data[..2.min(data.len())].to_vec(),
                    len: 0,
                });
                Some(2.min(data.len()))
            }
            Located::Incomplete => {
                self.waiting = Some(Waiting {
                    need: self.next_decision(data),
                    scanned: data.len(),
                });
                None
            }
        }
    }

    /// `locate` on the bytes that decide the frame (see `window`): the same answer however
    /// much happens to be buffered, so chunking never matters.
    fn locate_stream(&mut self, data: &[u8]) -> Located {
        let data = self.window(data);
        locate(data, false, &self.opts, &mut self.warnings)
    }

    /// The bytes `locate` may look at: as many as decide the frame and no more, so the
    /// answer (down to the bytes an error message quotes) does not depend on how much
    /// happens to be buffered. Lenient mode may look as far as the largest frame for a
    /// tail; strict mode decides at the declared tail.
    fn window<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        let n = if self.opts.strict {
            let declared = data
                .get(2..6)
                .filter(|d| d.iter().all(u8::is_ascii_digit))
                .and_then(read_uint)
                .map(|n| n as usize);
            match declared {
                Some(d) if d <= self.opts.max_segment => {
                    let tail_at = 6 + d + 4;
                    if data.get(tail_at) == Some(&b'\r') {
                        tail_at + 2
                    } else {
                        tail_at + 1
                    }
                }
                _ => 6,
            }
        } else {
            self.limit()
        };
        &data[..n.min(data.len())]
    }

    /// The buffered length at which `locate` may decide a frame it just found incomplete
    /// (`data` starts with `##`): 6 for the length; the declared tail (one more byte when
    /// a `\r` sits there); past it, only lenient mode waits, for the largest frame. A `\n`
    /// past the length field decides earlier (tracked apart, in `Waiting`).
    fn next_decision(&self, data: &[u8]) -> usize {
        let declared = data
            .get(2..6)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .and_then(read_uint)
            .map(|n| n as usize);
        let Some(d) = declared else { return 6 };
        let tail_at = 6 + d + 4;
        match data.len() {
            n if n < tail_at + 1 => tail_at + 1,
            n if n == tail_at + 1 && data.get(tail_at) == Some(&b'\r') => tail_at + 2,
            _ => self.limit(),
        }
    }

    fn reject(&mut self, error: FrameError, raw: Vec<u8>, out: &mut Vec<Result<Frame, Rejected>>) {
        self.stats.errors += 1;
        out.push(Err(Rejected { error, raw }));
    }

    fn skip_bytes(&mut self, mut bytes: &[u8], out: &mut Vec<Result<Frame, Rejected>>) {
        let Some(s) = self.skip.as_mut() else { return };
        self.stats.garbage_bytes += bytes.len() as u64;
        if s.error.is_some() {
            // A broken frame is reported once it has taken the largest frame's worth of
            // bytes, not held back until the next `##`; what follows is a garbage run.
            let room = HEAD_CAP.saturating_sub(s.head.len());
            let (mine, rest) = bytes.split_at(room.min(bytes.len()));
            s.head.extend_from_slice(mine);
            s.len += mine.len() as u64;
            if s.head.len() < HEAD_CAP {
                return;
            }
            self.end_skip(out, false);
            if rest.is_empty() {
                return;
            }
            self.skip = Some(Skip {
                error: None,
                head: Vec::new(),
                len: 0,
            });
            bytes = rest;
        }
        if let Some(s) = self.skip.as_mut() {
            let room = HEAD_CAP.saturating_sub(s.head.len());
            s.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
            s.len += bytes.len() as u64;
        }
    }

    /// Close the run being skipped, if any, as one rejection.
    fn end_skip(&mut self, out: &mut Vec<Result<Frame, Rejected>>, resynced: bool) {
        let Some(s) = self.skip.take() else { return };
        if resynced {
            self.stats.resyncs += 1;
        }
        let error = match s.error {
            None => FrameError {
                kind: ErrorKind::Header,
                field: Some("header".into()),
                value: Some(shown(&s.head)),
                offset: 0,
                message: format!(
                    "skipped {} bytes that are not a frame (a frame starts with ##)",
                    s.len
                ),
                qn_rtn: None,
                crc_variant: None,
            },
            Some(mut e) => {
                if s.len > 0 {
                    e.message
                        .push_str(&format!("; skipped {} more bytes to the next ##", s.len));
                }
                e
            }
        };
        self.reject(error, s.head, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::wrap;

    const SEG: &[u8] = b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";

    fn run(chunks: &[&[u8]], opts: Options) -> Vec<Result<Frame, Rejected>> {
        let mut f = Framer::new(opts);
        let mut out = Vec::new();
        for c in chunks {
            f.feed(c, &mut out);
        }
        f.finish(&mut out);
        out
    }

    #[test]
    fn next_start_takes_the_last_pair_of_a_run() {
        assert_eq!(next_start(b"ab##01", false), Next::At(2));
        assert_eq!(next_start(b"a###01", false), Next::At(2));
        assert_eq!(next_start(b"a#b##0", false), Next::At(3));
        assert_eq!(next_start(b"abc", false), Next::Keep(0));
        assert_eq!(next_start(b"abc#", false), Next::Keep(1));
        assert_eq!(next_start(b"abc####", false), Next::Keep(2));
        assert_eq!(next_start(b"abc##", true), Next::At(3));
        assert_eq!(next_start(b"abc#", true), Next::Keep(0));
        assert_eq!(next_start(b"", false), Next::Keep(0));
    }

    #[test]
    fn starts_frame_waits_on_hashes_only() {
        assert_eq!(starts_frame(b"##0", false), Some(true));
        assert_eq!(starts_frame(b"###", false), Some(false));
        assert_eq!(starts_frame(b"##", false), None);
        assert_eq!(starts_frame(b"#", false), None);
        assert_eq!(starts_frame(b"##", true), Some(true));
        assert_eq!(starts_frame(b"#", true), Some(false));
        assert_eq!(starts_frame(b"#x", false), Some(false));
    }

    #[test]
    fn triple_hash_starts_at_the_second() {
        let mut bytes = b"#".to_vec();
        bytes.extend(wrap(SEG));
        let out = run(&[&bytes], Options::default());
        assert_eq!(out.len(), 2);
        let Err(r) = &out[0] else { panic!("{out:?}") };
        assert_eq!(r.raw, b"#");
        assert!(out[1].is_ok());
    }

    #[test]
    fn lone_hash_at_chunk_end_is_kept() {
        let f = wrap(SEG);
        let out = run(&[b"xy#", &f[1..]], Options::default());
        assert_eq!(out.len(), 2, "{out:?}");
        let Err(r) = &out[0] else { panic!() };
        assert_eq!(r.raw, b"xy");
        assert_eq!(out[1].as_ref().unwrap().raw, f);
    }

    #[test]
    fn stats_count_what_went_by() {
        let f = wrap(SEG);
        let mut bytes = b"junk".to_vec();
        bytes.extend(&f);
        bytes.extend(&f);
        let mut fr = Framer::new(Options::default());
        let mut out = Vec::new();
        fr.feed(&bytes, &mut out);
        fr.finish(&mut out);
        let s = fr.stats();
        assert_eq!(
            s,
            FramerStats {
                frames: 2,
                errors: 1,
                garbage_bytes: 4,
                resyncs: 1,
                bytes: bytes.len() as u64
            }
        );
        assert_eq!(fr.buffered(), 0);
    }
}
