//! Columnar batch decode: many whole frames into flat columns, one row per pollutant per
//! frame, with no per-field allocation. The stream workers hand these to NumPy and ClickHouse.

use crate::cp::{Accepted, CpSummary};
use crate::cp::{NUMERIC_SUFFIXES, SUFFIX_EFLAG, SUFFIX_FLAG};
use crate::crc::{crc16_lanes, LANES};
use crate::error::FrameError;
use crate::fastpath::{fast_cp, fast_header_known, station_key, KnownCodes};
use crate::frame::{locate_known, plain_segment_end, Located, Options, Span};
use crate::pool;
use crate::segment::{parse_frame_with, Parsed};
use crate::WarnCount;

/// Widths of the fixed-width text columns (bytes, zero padded, longer values cut).
pub const MN_WIDTH: usize = 32;
pub const ST_WIDTH: usize = 2;
pub const CODE_WIDTH: usize = 16;
pub const QN_WIDTH: usize = 32;
pub const FLAG_WIDTH: usize = 1;
pub const EFLAG_WIDTH: usize = 4;
/// `data_time` value for an absent DataTime (NumPy's NaT).
pub const NAT: i64 = i64::MIN;

pub const N_NUMERIC: usize = NUMERIC_SUFFIXES.len();

/// The numeric cells of 32 new rows (all absent).
static NAN_ROWS: [f64; 32 * N_NUMERIC] = [f64::NAN; 32 * N_NUMERIC];

/// A code cell holding the code's bytes as one little-endian word (zero-padded).
#[inline(always)]
fn word_cell(code: u64) -> [u8; CODE_WIDTH] {
    let mut cell = [0u8; CODE_WIDTH];
    cell[..8].copy_from_slice(&code.to_le_bytes());
    cell
}

/// The decoded columns.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Columns {
    // one entry per row (pollutant x frame)
    pub row_frame: Vec<i32>,
    pub mn: Vec<u8>,
    pub st: Vec<u8>,
    pub cn: Vec<u16>,
    pub data_time: Vec<i64>,
    pub code: Vec<u8>,
    /// row-major: `numeric[row * N_NUMERIC + column]`, columns in `NUMERIC_SUFFIXES` order;
    /// one stream to write instead of seventeen
    pub numeric: Vec<f64>,
    pub flag: Vec<u8>,
    pub eflag: Vec<u8>,
    // one entry per input frame
    pub status: Vec<u8>,
    pub frame_mn: Vec<u8>,
    pub frame_st: Vec<u8>,
    pub frame_cn: Vec<u16>,
    pub frame_qn: Vec<u8>,
    pub frame_flag: Vec<i16>,
    pub frame_edition: Vec<u16>,
    pub frame_data_time: Vec<i64>,
    pub frame_rows: Vec<i32>,
    pub frame_warnings: Vec<u32>,
    /// (frame index, error) for each rejected frame
    pub errors: Vec<(usize, FrameError)>,
}

#[inline]
fn put_fixed(col: &mut Vec<u8>, value: &[u8], width: usize) {
    let n = value.len().min(width);
    col.extend_from_slice(&value[..n]);
    col.resize(col.len() + (width - n), 0);
}

/// The text `s` of `buf` (if any) as a zero-padded cell of `W` bytes, longer text cut: what
/// `put_fixed` appends. `W` bytes are copied from the text's start when `buf` has them and
/// those past the text cleared, which needs no call for a copy of unknown length.
#[inline(always)]
fn cell<const W: usize>(buf: &[u8], s: Option<Span>) -> [u8; W] {
    let mut out = [0u8; W];
    let Some(s) = s else { return out };
    let (start, end) = (s.start as usize, s.end as usize);
    let n = end.saturating_sub(start).min(W);
    match buf.get(start..start + W) {
        Some(src) if W % 8 == 0 => {
            // a word at a time, the bytes past the text masked off
            for (k, (o, i)) in out.chunks_exact_mut(8).zip(src.chunks_exact(8)).enumerate() {
                let mut w = [0u8; 8];
                w.copy_from_slice(i);
                let keep = n.saturating_sub(8 * k);
                let mask = if keep >= 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * keep)) - 1
                };
                o.copy_from_slice(&(u64::from_le_bytes(w) & mask).to_le_bytes());
            }
            return out;
        }
        _ => {}
    }
    if let Some(v) = buf.get(start..start + n) {
        out[..n].copy_from_slice(v);
    }
    out
}

impl Columns {
    /// Columns with room for `frames` frames of `bytes` bytes, their buffers from the pools
    /// (`pool`: a batch's columns given back by the binding are taken again here).
    fn with_capacity(frames: usize, bytes: usize) -> Self {
        // a pollutant takes ~30 bytes of a real-time frame and more elsewhere; reserving for
        // the dense case costs only address space, while growing copies whole columns
        let rows = bytes / 28 + frames;
        Columns {
            row_frame: pool::take(rows),
            mn: pool::take(rows * MN_WIDTH),
            st: pool::take(rows * ST_WIDTH),
            cn: pool::take(rows),
            data_time: pool::take(rows),
            code: pool::take(rows * CODE_WIDTH),
            numeric: pool::take(rows * N_NUMERIC),
            flag: pool::take(rows * FLAG_WIDTH),
            eflag: pool::take(rows * EFLAG_WIDTH),
            status: pool::take(frames),
            frame_mn: pool::take(frames * MN_WIDTH),
            frame_st: pool::take(frames * ST_WIDTH),
            frame_cn: pool::take(frames),
            frame_qn: pool::take(frames * QN_WIDTH),
            frame_flag: pool::take(frames),
            frame_edition: pool::take(frames),
            frame_data_time: pool::take(frames),
            frame_rows: pool::take(frames),
            frame_warnings: pool::take(frames),
            errors: Vec::new(),
        }
    }

    pub fn n_rows(&self) -> usize {
        self.row_frame.len()
    }

    /// Equal column for column, numbers compared bit for bit (NaN marks an absent value, and
    /// `==` would find two NaN unequal).
    pub fn same_as(&self, other: &Columns) -> bool {
        let bits = |c: &Columns| c.numeric.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let strip = |c: &Columns| Columns {
            numeric: Vec::new(),
            ..c.clone()
        };
        bits(self) == bits(other) && strip(self) == strip(other)
    }

    /// Open a row for one pollutant; the frame-wide columns are filled once the frame is
    /// accepted (`fill_frame_rows`).
    #[inline]
    pub(crate) fn open_row(&mut self, frame: i32, code: &[u8]) {
        let mut cell = [0u8; CODE_WIDTH];
        for (c, &b) in cell.iter_mut().zip(code) {
            *c = b;
        }
        self.push_row(frame, &cell);
    }

    /// `open_row` for a code of at most eight bytes given as a little-endian word (its
    /// bytes past the code zero).
    #[inline]
    pub(crate) fn open_row_word(&mut self, frame: i32, code: u64) {
        self.push_row(frame, &word_cell(code));
    }

    /// `open_row_word` for each of `codes` in turn, each column grown once for all of them.
    #[inline]
    pub(crate) fn open_rows_words(&mut self, frame: i32, codes: &[u64]) {
        let n = codes.len();
        self.row_frame.resize(self.row_frame.len() + n, frame);
        self.code.reserve(n * CODE_WIDTH);
        for &k in codes {
            self.code.extend_from_slice(&word_cell(k));
        }
        // copied from a row of NaN per group (one memcpy), not filled value by value
        let mut left = n * N_NUMERIC;
        while left > 0 {
            let k = left.min(NAN_ROWS.len());
            self.numeric.extend_from_slice(&NAN_ROWS[..k]);
            left -= k;
        }
        self.flag.resize(self.flag.len() + n * FLAG_WIDTH, 0);
        self.eflag.resize(self.eflag.len() + n * EFLAG_WIDTH, 0);
    }

    #[inline(always)]
    fn push_row(&mut self, frame: i32, code: &[u8; CODE_WIDTH]) {
        self.row_frame.push(frame);
        self.code.extend_from_slice(code);
        // resize, not extend_from_slice: a fill loop rather than a memcpy call per row
        self.numeric
            .resize(self.numeric.len() + N_NUMERIC, f64::NAN);
        self.flag.resize(self.flag.len() + FLAG_WIDTH, 0);
        self.eflag.resize(self.eflag.len() + EFLAG_WIDTH, 0);
    }

    fn fill_frame_rows(&mut self, from: usize, mn: &[u8], st: &[u8], cn: u16, dt: i64) {
        let mut mn_cell = [0u8; MN_WIDTH];
        mn_cell[..mn.len().min(MN_WIDTH)].copy_from_slice(&mn[..mn.len().min(MN_WIDTH)]);
        let mut st_cell = [0u8; ST_WIDTH];
        st_cell[..st.len().min(ST_WIDTH)].copy_from_slice(&st[..st.len().min(ST_WIDTH)]);
        self.fill_row_cells(from, &mn_cell, &st_cell, cn, dt);
    }

    /// The frame-wide columns of the rows from `from` on; how many rows that is.
    #[inline(always)]
    fn fill_row_cells(
        &mut self,
        from: usize,
        mn: &[u8; MN_WIDTH],
        st: &[u8; ST_WIDTH],
        cn: u16,
        dt: i64,
    ) -> usize {
        let n = self.n_rows() - from;
        for _ in 0..n {
            self.mn.extend_from_slice(mn);
            self.st.extend_from_slice(st);
        }
        self.cn.resize(self.cn.len() + n, cn);
        self.data_time.resize(self.data_time.len() + n, dt);
        n
    }

    /// Drop the rows a rejected frame had opened.
    pub(crate) fn drop_rows_from(&mut self, from: usize) {
        self.row_frame.truncate(from);
        self.code.truncate(from * CODE_WIDTH);
        self.numeric.truncate(from * N_NUMERIC);
        self.flag.truncate(from * FLAG_WIDTH);
        self.eflag.truncate(from * EFLAG_WIDTH);
    }

    /// Fill the row of an accepted data-area field (the validating path's visitor).
    fn visit_field(&mut self, buf: &[u8], first_row: usize, frame: usize, a: &Accepted<'_>) {
        let Some(group) = a.group else { return };
        let row = first_row + group;
        if row == self.n_rows() {
            // groups are numbered in order of first appearance: a new one is the next row
            let code = a.field.code.map_or(&b""[..], |s| s.of(buf));
            self.open_row(frame as i32, code);
        }
        let col = usize::from(a.suffix);
        if col < N_NUMERIC {
            if let Some(x) = a.number {
                self.numeric[row * N_NUMERIC + col] = x;
            }
        } else if a.suffix == SUFFIX_FLAG {
            let v = a.field.value.of(buf);
            let n = v.len().min(FLAG_WIDTH);
            self.flag[row * FLAG_WIDTH..row * FLAG_WIDTH + n].copy_from_slice(&v[..n]);
        } else if a.suffix == SUFFIX_EFLAG {
            let v = a.field.value.of(buf);
            let n = v.len().min(EFLAG_WIDTH);
            let at = row * EFLAG_WIDTH;
            self.eflag[at..at + EFLAG_WIDTH].fill(0);
            self.eflag[at..at + n].copy_from_slice(&v[..n]);
        }
    }

    /// The frame columns of frame `i`, and the frame-wide row columns if it was accepted.
    fn finish_frame(
        &mut self,
        buf: &[u8],
        i: usize,
        first_row: usize,
        result: Result<Parsed, FrameError>,
        warnings: WarnCount,
    ) {
        match result {
            Ok(parsed) => {
                self.push_frame_meta(buf, Some(&parsed), 0);
                let h = &parsed.header;
                let mn = h.mn.map_or(&b""[..], |s| s.of(buf));
                let st = h.st.map_or(&b""[..], |s| s.of(buf));
                let dt = parsed.cp.data_time_secs.unwrap_or(NAT);
                self.fill_frame_rows(first_row, mn, st, h.cn_num, dt);
            }
            Err(e) => {
                self.drop_rows_from(first_row);
                self.push_frame_meta(buf, None, e.kind.code());
                self.errors.push((i, e));
            }
        }
        self.frame_rows.push((self.n_rows() - first_row) as i32);
        self.frame_warnings.push(warnings.0);
    }

    /// `finish_frame` for a frame the fast path read (accepted, with `warnings` from its
    /// framing).
    fn finish_plain(&mut self, buf: &[u8], first_row: usize, p: &Parsed, warnings: u32) {
        let h = &p.header;
        let mn = cell::<MN_WIDTH>(buf, h.mn);
        let st = cell::<ST_WIDTH>(buf, h.st);
        let dt = p.cp.data_time_secs.unwrap_or(NAT);
        self.status.push(0);
        self.frame_mn.extend_from_slice(&mn);
        self.frame_st.extend_from_slice(&st);
        self.frame_cn.push(h.cn_num);
        self.frame_qn
            .extend_from_slice(&cell::<QN_WIDTH>(buf, h.qn));
        self.frame_flag.push(h.flag.map_or(-1, |f| f as i16));
        self.frame_edition.push(h.edition);
        self.frame_data_time.push(dt);
        let n = self.fill_row_cells(first_row, &mn, &st, h.cn_num, dt);
        self.frame_rows.push(n as i32);
        self.frame_warnings.push(warnings);
    }

    fn push_frame_meta(&mut self, buf: &[u8], p: Option<&Parsed>, status: u8) {
        self.status.push(status);
        let h = p.map(|p| &p.header);
        let text = |s: Option<Span>| s.map_or(&b""[..], |s| s.of(buf));
        put_fixed(&mut self.frame_mn, text(h.and_then(|h| h.mn)), MN_WIDTH);
        put_fixed(&mut self.frame_st, text(h.and_then(|h| h.st)), ST_WIDTH);
        self.frame_cn.push(h.map_or(0, |h| h.cn_num));
        put_fixed(&mut self.frame_qn, text(h.and_then(|h| h.qn)), QN_WIDTH);
        self.frame_flag
            .push(h.and_then(|h| h.flag).map_or(-1, |f| f as i16));
        self.frame_edition.push(h.map_or(0, |h| h.edition));
        self.frame_data_time
            .push(p.and_then(|p| p.cp.data_time_secs).unwrap_or(NAT));
    }
}

/// Decode whole frames into columns. Rejected frames get a status (1 + ErrorKind index), an
/// entry in `errors`, and no rows.
///
/// Framing, CRC and header go through the validating parser; each data area is first read
/// by the fast path (`fastpath::fast_cp`), and only when that gives up, by `check_cp`. The
/// result equals `decode_batch_validating`'s, column for column (the differential tests
/// and the `parse` fuzz target hold the two to it).
///
/// What the fast path learns from a batch (the codes found in appendix B, the shape of each
/// station's data areas: `fastpath::KnownCodes`) is kept for the thread's next batch: it
/// only decides how fast a frame is read, never what is read from it.
pub fn decode_batch(frames: &[&[u8]], opts: &Options) -> Columns {
    thread_local! {
        static KNOWN: std::cell::RefCell<KnownCodes> = std::cell::RefCell::new(KnownCodes::default());
    }
    KNOWN.with(|k| match k.try_borrow_mut() {
        Ok(mut known) => decode_batch_with(frames, opts, &mut known),
        // not reachable (nothing here calls back), but no reason to fail either
        Err(_) => decode_batch_with(frames, opts, &mut KnownCodes::default()),
    })
}

/// `decode_batch` with the fast path's knowledge `known` (from earlier batches, or
/// `KnownCodes::default()` for none); the columns are the same whatever it holds.
///
/// The CRCs are computed `LANES` frames at a time (`crc16_lanes`): one frame's CRC is a
/// chain of dependent table reads that leaves most of the core idle.
pub fn decode_batch_with(frames: &[&[u8]], opts: &Options, known: &mut KnownCodes) -> Columns {
    let bytes = frames.iter().map(|f| f.len()).sum();
    let mut c = Columns::with_capacity(frames.len(), bytes);
    let mut crcs = [None; LANES];
    for (i, &buf) in frames.iter().enumerate() {
        let lane = i % LANES;
        if lane == 0 {
            for ahead in frames
                .get(i + PREFETCH_AHEAD..)
                .unwrap_or_default()
                .iter()
                .take(LANES)
            {
                prefetch(ahead);
            }
            crcs = lane_crcs(&frames[i..frames.len().min(i + LANES)], opts);
        }
        let first_row = c.n_rows();
        if let Some((parsed, warnings)) = fast_frame(buf, opts, &mut c, i, known, crcs[lane]) {
            c.finish_plain(buf, first_row, &parsed, warnings);
            continue;
        }
        // anything but the plain shape: the whole frame again, by the validating path
        c.drop_rows_from(first_row);
        let mut warnings = WarnCount::default();
        let result = parse_frame_with(buf, opts, &mut warnings, &mut |a| {
            c.visit_field(buf, first_row, i, a)
        });
        c.finish_frame(buf, i, first_row, result, warnings);
    }
    c
}

/// How many frames ahead of the one being decoded `decode_batch_with` asks for the bytes.
const PREFETCH_AHEAD: usize = 2 * LANES;

/// Ask the core to bring `data`'s cache lines in ahead of their use. The CRC is the first to
/// read a frame; without this, its first read of each frame waited on memory (perf: the
/// `##` check in `plain_segment_end` held 15 % of `decode_batch_with`'s samples).
#[inline(always)]
fn prefetch(data: &[u8]) {
    for line in data.chunks(64) {
        prefetch_line(line.as_ptr());
    }
}

/// Ask the core to bring the cache line at `at` in: a hint, for any address.
#[inline(always)]
pub fn prefetch_line(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` is `unsafe` only because it is a `target_feature(enable =
    // "sse")` function, and SSE is part of the x86_64 baseline: the instruction exists on
    // every CPU this code is built for. A prefetch is a hint: it reads nothing into the
    // program and never faults, whatever the address (valid, dangling or null).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast())
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// The CRC of each frame's data segment where `locate` will want it (`plain_segment_end`),
/// computed side by side: `(segment end, CRC)` for each of up to `LANES` frames.
fn lane_crcs(frames: &[&[u8]], opts: &Options) -> [Option<(usize, u16)>; LANES] {
    let ends: [Option<usize>; LANES] =
        std::array::from_fn(|k| frames.get(k).and_then(|f| plain_segment_end(f, opts)));
    let segments: [&[u8]; LANES] = std::array::from_fn(|k| match ends[k] {
        Some(end) => &frames[k][6..end],
        None => &[],
    });
    let crcs = crc16_lanes(segments);
    std::array::from_fn(|k| ends[k].map(|end| (end, crcs[k])))
}

/// One frame of the plain shape, its rows written into `c` as frame `i`, and the number of
/// warnings the validating path gives it: a frame that `locate` finds whole, a header
/// `fast_header` reads and a data area `fast_cp` reads. None for anything else (the rows
/// written so far are the caller's to drop), and the validating path decides.
/// `fast_header` leaves the data area's bytes unchecked; `fast_cp` accepts only printable
/// ASCII there, so an accepted frame has a printable segment, as `parse_header_at` demands.
///
/// `locate`'s warnings (a lenient reading of the framing: a bare `\n`, a lower-case CRC)
/// are the validating path's first ones: `parse_frame_with` passes them on as they are and
/// reads the header and the data area the same way whatever they were. The fast header and
/// data area accept only what gives no warning, so the frame's count is `locate`'s.
///
/// `known_crc`: the CRC of the data segment if computed already (see `locate_known`).
pub fn fast_frame(
    buf: &[u8],
    opts: &Options,
    c: &mut Columns,
    i: usize,
    known: &mut KnownCodes,
    known_crc: Option<(usize, u16)>,
) -> Option<(Parsed, u32)> {
    if !buf.starts_with(b"##") {
        return None;
    }
    // no allocation unless there is a warning
    let mut early = Vec::new();
    let (segment, crc) = match locate_known(buf, true, opts, &mut early, known_crc) {
        Located::Frame {
            segment,
            crc,
            consumed,
        } if consumed == buf.len() => (segment, crc),
        _ => return None,
    };
    let header = fast_header_known(buf, segment, known).ok()?;
    let station = station_key(buf, header.mn, header.cn_num);
    let data_time_secs = fast_cp(buf, header.cp, c, i as i32, known, station).ok()?;
    let parsed = Parsed {
        segment,
        crc,
        header,
        cp: CpSummary {
            data_time: None,
            data_time_secs,
            fields: 0,
        },
    };
    Some((parsed, early.len() as u32))
}

/// Decode whole frames into columns. Rejected frames get a status (1 + ErrorKind index), an
/// entry in `errors`, and no rows. Each data area is scanned once: rows are filled while it
/// is validated.
pub fn decode_batch_validating(frames: &[&[u8]], opts: &Options) -> Columns {
    let bytes = frames.iter().map(|f| f.len()).sum();
    let mut c = Columns::with_capacity(frames.len(), bytes);
    for (i, &buf) in frames.iter().enumerate() {
        let mut warnings = WarnCount::default();
        let first_row = c.n_rows();
        let result = parse_frame_with(buf, opts, &mut warnings, &mut |a| {
            c.visit_field(buf, first_row, i, a)
        });
        c.finish_frame(buf, i, first_row, result, warnings);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::wrap;

    #[test]
    fn rows_per_pollutant_and_rejections() {
        let good = wrap(b"QN=20160801085857223;ST=32;CN=2061;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&DataTime=20160801080000;w01018-Min=1.5,w01018-Avg=2.5,w01018-Max=3.5,w01018-Flag=N;w00000-Cou=120.0,w00000-Flag=D&&");
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 3] ^= 1; // a CRC digit
        let frames: Vec<&[u8]> = vec![&good, &bad, &good];
        let c = decode_batch(&frames, &Options::default());
        assert_eq!(c.status, vec![0, crate::ErrorKind::Crc.code(), 0]);
        assert_eq!(c.n_rows(), 4);
        assert_eq!(c.row_frame, vec![0, 0, 2, 2]);
        assert_eq!(&c.code[..6], b"w01018");
        assert_eq!(c.numeric[2], 2.5);
        assert!(c.numeric[0].is_nan());
        assert_eq!(c.numeric[N_NUMERIC + 4], 120.0);
        assert_eq!(&c.flag, b"NDND");
        assert_eq!(c.cn, vec![2061; 4]);
        assert_eq!(
            c.data_time[0],
            crate::text::read_stamp(b"20160801080000")
                .unwrap()
                .wall_seconds()
        );
        assert_eq!(c.errors.len(), 1);
        assert_eq!(c.errors[0].0, 1);
        assert_eq!(c.frame_rows, vec![2, 0, 2]);
    }

    /// Rows opened together equal rows opened one by one.
    #[test]
    fn rows_opened_at_once() {
        let codes = [u64::from_le_bytes(*b"w01018\0\0"), 0x0032_3042, u64::MAX];
        let mut one = Columns::default();
        one.open_row_word(0, 0x31);
        let mut all = one.clone();
        for &k in &codes {
            one.open_row_word(3, k);
        }
        all.open_rows_words(3, &codes);
        assert!(one.same_as(&all));
        all.open_rows_words(4, &[]);
        assert!(one.same_as(&all));
    }
}
