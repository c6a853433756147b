//! The abnormal-value rules of one station, over one frame at a time: the Rust form of
//! `pipeline/detect/reference.py` (the oracle) and `pipeline/detect/values.py`.
//!
//! State in, a frame in, observations out. The state (`ValuesState`) has exactly the shape
//! of the Python `ValuesState` dict (`pipeline/detect/state.py`): the binding converts it
//! both ways, so a worker's changelog reads the same whichever implementation wrote it.
//! Thresholds come already resolved per series (`Plan`) and per station (`StationPlan`):
//! no rules file is read here. Observations carry numbers, not text: the caller words the
//! message and the evidence (only hits need words, and hits are rare).
//!
//! What every rule shares (see the oracle's docstring for the why):
//! - every observation carries the frame's data type and data time (the first reading's);
//! - the judged value is Rtd for real-time data (2011) and Avg for period records, the
//!   other when that one is absent; NaN counts as no value;
//! - a reading is in order when its data time is later than the last its series followed;
//!   streaks, spikes and flag runs follow in-order readings only, and only those give the
//!   clean looks of the point rules;
//! - flags first: a rule judges a reading only if its plan's `judged` mask has the
//!   reading's effective flag (its own, N when none, F for N in a frame with an F);
//! - a frame equal to one already received (same data type, data time and `digest`) is a
//!   resend: no rule sees it and no state changes.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The value fields a reading may carry, by id: `cp::NUMERIC_SUFFIXES` in snake case (the
/// keys of a Python `Reading.values`).
pub const FIELD_NAMES: [&str; 17] = [
    "rtd",
    "min",
    "avg",
    "max",
    "cou",
    "zs_rtd",
    "zs_min",
    "zs_avg",
    "zs_max",
    "rs",
    "rt",
    "data",
    "day_data",
    "night_data",
    "ala",
    "up_value",
    "low_value",
];
pub const RTD: u8 = 0;
pub const MIN: u8 = 1;
pub const AVG: u8 = 2;
pub const MAX: u8 = 3;
pub const COU: u8 = 4;
pub const ZS_RTD: u8 = 5;
pub const ZS_MIN: u8 = 6;
pub const ZS_AVG: u8 = 7;
pub const ZS_MAX: u8 = 8;
/// (low, middle, high) fields that must be in order
const TRIPLES: [(u8, u8, u8); 2] = [(MIN, AVG, MAX), (ZS_MIN, ZS_AVG, ZS_MAX)];
const O2_CODE: &str = "a19001";
const MAD_TO_SIGMA: f64 = 1.4826;
const REALTIME: i64 = 2011;

/// A field's id from its name.
pub fn field_id(name: &str) -> Option<u8> {
    FIELD_NAMES.iter().position(|n| *n == name).map(|i| i as u8)
}

/// The rules, in the order the oracle reports them for one reading, then the frame's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    Negative,
    ZeroStreak,
    ConstantStreak,
    OutOfRange,
    Spike,
    NonNFlag,
    OverLimit,
    LogicMinAvgMax,
    LogicZsWithoutO2,
    LogicCou,
    TimeFuture,
    TimeStale,
    TimeConflict,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::Negative,
        Rule::ZeroStreak,
        Rule::ConstantStreak,
        Rule::OutOfRange,
        Rule::Spike,
        Rule::NonNFlag,
        Rule::OverLimit,
        Rule::LogicMinAvgMax,
        Rule::LogicZsWithoutO2,
        Rule::LogicCou,
        Rule::TimeFuture,
        Rule::TimeStale,
        Rule::TimeConflict,
    ];

    /// The rule's name in `pipeline/detect/names.py`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Negative => "negative",
            Rule::ZeroStreak => "zero_streak",
            Rule::ConstantStreak => "constant_streak",
            Rule::OutOfRange => "out_of_range",
            Rule::Spike => "spike",
            Rule::NonNFlag => "non_n_flag",
            Rule::OverLimit => "over_limit",
            Rule::LogicMinAvgMax => "logic_min_avg_max",
            Rule::LogicZsWithoutO2 => "logic_zs_without_o2",
            Rule::LogicCou => "logic_cou",
            Rule::TimeFuture => "time_future",
            Rule::TimeStale => "time_stale",
            Rule::TimeConflict => "time_conflict",
        }
    }

    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// The rules that judge one reading's value and so may skip it by its flag, in the order
/// of `Plan::judged`.
#[derive(Debug, Clone, Copy)]
pub enum Judged {
    Negative = 0,
    ZeroStreak = 1,
    ConstantStreak = 2,
    OutOfRange = 3,
    Spike = 4,
    OverLimit = 5,
    LogicMinAvgMax = 6,
}

/// The instrument flags of HJ 212, one bit each in a `judged` mask; bit 8 is any other.
pub const FLAGS: &str = "NFMSDCTB";
pub const OTHER_FLAG_BIT: u16 = 1 << 8;
pub const EVERY_FLAG: u16 = 0x1ff;

/// A flag's bit in a `judged` mask.
pub fn flag_bit(flag: &str) -> u16 {
    match flag.as_bytes() {
        [b] => match FLAGS.bytes().position(|f| f == *b) {
            Some(i) => 1 << i,
            None => OTHER_FLAG_BIT,
        },
        _ => OTHER_FLAG_BIT,
    }
}

/// The station's limits of one pollutant; None where not set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitPlan {
    pub range_low: Option<f64>,
    pub range_high: Option<f64>,
    pub limit_low: Option<f64>,
    pub limit_high: Option<f64>,
    /// the field the limits apply to; None for a name no reading can carry (Avg is used)
    pub basis: Option<u8>,
}

/// One series' (station, ST, data type, pollutant) thresholds, resolved by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub negative: bool,
    pub zero: bool,
    pub constant: bool,
    pub out_of_range: bool,
    /// on, and the data type is one of `spike_cns`
    pub spike: bool,
    pub non_n_flag: bool,
    /// on, and the data type is one of `over_limit_cns`
    pub over_limit: bool,
    pub logic: bool,
    pub cou: bool,
    /// per `Judged` rule, the flags it judges (`flag_bit`s)
    pub judged: [u16; 7],
    pub zero_tol: f64,
    /// `zero_streak[cn]`, 0 when not set
    pub zero_need: i64,
    pub const_tol: f64,
    pub const_need: i64,
    pub const_min_s: f64,
    pub spike_window: usize,
    pub spike_min_history: usize,
    pub spike_z: f64,
    pub spike_rel: f64,
    pub spike_floor: f64,
    pub spike_max_s: f64,
    /// flag -> seconds it must last before it is reported
    pub flag_min_s: Vec<(String, f64)>,
    pub cou_tolerance: f64,
    pub cou_abs_tolerance: f64,
    pub cou_mass_factor: f64,
    pub cou_volume_factor: f64,
    /// seconds between records of the data type (the station's cadence)
    pub period: i64,
    pub limit: Option<LimitPlan>,
}

impl Plan {
    fn judges(&self, rule: Judged, flag_bit: u16) -> bool {
        self.judged[rule as usize] & flag_bit != 0
    }

    fn flag_min(&self, flag: &str) -> f64 {
        self.flag_min_s
            .iter()
            .find(|(f, _)| f == flag)
            .map_or(0.0, |(_, s)| *s)
    }
}

/// The station-wide thresholds of one frame (the rules file's `for_(mn, st, "")`), with
/// the per-data-type numbers already picked for the frame's data type.
#[derive(Debug, Clone, PartialEq)]
pub struct StationPlan {
    pub time_conflict: bool,
    /// `conflict_memory[cn]` (20 when not set)
    pub conflict_keep: usize,
    /// `resend_memory_s[cn]` (0 when not set)
    pub resend_span: i64,
    pub resend_max: usize,
    pub zs_without_o2: bool,
    pub time_future: bool,
    pub future_tol: f64,
    pub time_stale: bool,
    pub stale_tol: f64,
    pub flow_code: String,
}

/// One reading of a frame.
#[derive(Debug, Clone, Copy)]
pub struct ReadingIn<'a> {
    pub code: &'a str,
    /// "" when the reading has none
    pub flag: &'a str,
    pub cn: i64,
    /// data time, seconds on the state's clock
    pub t: i64,
    /// (field id, value) in the order the reading carries them
    pub fields: &'a [(u8, f64)],
    pub plan: &'a Plan,
}

impl ReadingIn<'_> {
    fn get(&self, field: u8) -> Option<f64> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| *v)
    }

    fn has(&self, field: u8) -> bool {
        self.fields.iter().any(|(f, _)| *f == field)
    }

    /// Rtd for real-time data, Avg for period records, the other when absent; NaN is none.
    fn judged_value(&self) -> Option<f64> {
        let (first, second) = if self.cn == REALTIME {
            (RTD, AVG)
        } else {
            (AVG, RTD)
        };
        let v = if self.has(first) {
            self.get(first)
        } else {
            self.get(second)
        };
        v.filter(|x| !x.is_nan())
    }
}

/// One frame: its readings and what the frame-wide rules need.
#[derive(Debug, Clone, Copy)]
pub struct FrameIn<'a> {
    /// the data type and data time of the first reading (every observation carries them)
    pub cn: i64,
    pub t: i64,
    /// data time minus receive time, seconds
    pub ahead_s: f64,
    /// the frame, or any of its readings, says it is a resend
    pub resent: bool,
    /// the station's cadence of `cn`, seconds
    pub period: i64,
    pub readings: &'a [ReadingIn<'a>],
}

// --- state ----------------------------------------------------------------------------------

/// One (data type, pollutant) series; None where the Python dict has no such key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub last_time: Option<i64>,
    pub zero_run: Option<i64>,
    pub zero_since: Option<i64>,
    pub constant_run: Option<i64>,
    pub constant_value: Option<f64>,
    pub constant_since: Option<i64>,
    pub spike_window: Option<Vec<f64>>,
    /// (data time, value) of an excursion being watched, oldest first
    pub spike_pending: Option<Vec<(i64, f64)>>,
    /// (flag, since)
    pub flag_run: Option<(String, i64)>,
}

/// The values one data time carried: per pollutant, its fields as received (NaN left out).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remembered {
    pub time: i64,
    pub values: Vec<(String, Vec<(u8, f64)>)>,
}

impl Remembered {
    fn position(&self, code: &str) -> Option<usize> {
        self.values.iter().position(|(c, _)| c == code)
    }
}

/// Per data type ("<cn>", as the dict keys it), in the order first seen.
pub type ByCn<T> = Vec<(String, T)>;

/// A station's value-rule state; each map None until first made, as in the dict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValuesState {
    /// "<cn>/<code>" -> series
    pub series: Option<HashMap<String, Series>>,
    /// "<cn>" -> newest data times seen, oldest first
    pub conflict_memory: Option<ByCn<Vec<Remembered>>>,
    /// "<cn>" -> (data time, digest) of the frames received, oldest first
    pub resend_memory: Option<ByCn<Vec<(i64, i64)>>>,
}

fn keyed<'m, T: Default>(map: &'m mut Vec<(String, T)>, key: &str) -> &'m mut T {
    let at = match map.iter().position(|(k, _)| k == key) {
        Some(i) => i,
        None => {
            map.push((key.to_owned(), T::default()));
            map.len() - 1
        }
    };
    &mut map[at].1
}

// --- output ---------------------------------------------------------------------------------

/// What a hit found (looks carry `Ev::None`).
#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    None,
    /// negative, out_of_range: the judged value
    Value(f64),
    /// zero and constant streaks
    Streak {
        run: i64,
        value: f64,
    },
    /// `sigma` is the robust sigma the window gave (the caller rounds z from it)
    Spike {
        peak: f64,
        median: f64,
        sigma: f64,
        samples: usize,
    },
    /// non_n_flag: how long the reading's flag has lasted
    Flag {
        lasted: i64,
    },
    /// over_limit: the basis value, above the high limit (else below the low)
    Limit {
        value: f64,
        high: bool,
    },
    /// logic_min_avg_max: which triple (0 plain, 1 Zs) and its values
    Triple {
        which: usize,
        low: f64,
        mid: f64,
        high: f64,
    },
    /// logic_zs_without_o2: the readings (indices) with Zs values
    Zs(Vec<usize>),
    /// logic_cou of the flow (`flow`: a = flow Avg, b = period s) or of a pollutant
    /// (a = Avg, b = flow Cou)
    Cou {
        cou: f64,
        expected: f64,
        flow: bool,
        a: f64,
        b: f64,
    },
    /// time_future: ahead; time_stale: late (seconds)
    Seconds(f64),
    /// time_conflict: (field, remembered, now), both rounded to 6 decimals
    Changed(Vec<(u8, f64, f64)>),
}

/// One rule's look at one series of the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    /// the reading it is about (its code); None for the station-level rules
    pub reading: Option<usize>,
    pub rule: Rule,
    pub hit: bool,
    /// data time the evidence began, when not the frame's
    pub first: Option<i64>,
    pub ev: Ev,
}

/// Which clean looks the caller wants: an open episode is the only one that counts them.
#[derive(Debug, Clone, Default)]
pub enum Wanted {
    /// every look (no episode state at hand)
    #[default]
    All,
    /// the looks at these (code, rule) only; empty: none
    Open(Vec<(String, Rule)>),
}

impl Wanted {
    fn wants(&self, code: &str, rule: Rule) -> bool {
        match self {
            Wanted::All => true,
            Wanted::Open(keys) => keys.iter().any(|(c, r)| *r == rule && c == code),
        }
    }
}

struct Out<'a> {
    items: &'a mut Vec<Obs>,
    wanted: &'a Wanted,
}

impl Out<'_> {
    fn hit(&mut self, reading: Option<usize>, rule: Rule, first: Option<i64>, ev: Ev) {
        self.items.push(Obs {
            reading,
            rule,
            hit: true,
            first,
            ev,
        });
    }

    fn look(&mut self, reading: Option<usize>, code: &str, rule: Rule) {
        if self.wanted.wants(code, rule) {
            self.items.push(Obs {
                reading,
                rule,
                hit: false,
                first: None,
                ev: Ev::None,
            });
        }
    }
}

// --- resends --------------------------------------------------------------------------------

/// zlib's CRC-32 of `data`, continuing from `crc` (0 to start): `crc32fast`, as the
/// spool's records use.
pub fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(crc);
    h.update(data);
    h.finalize()
}

/// A CRC-32 fed in small pieces through a buffer on the stack, so that a digest of many
/// short texts neither allocates nor runs the byte-at-a-time loop.
struct CrcStream {
    crc: u32,
    buf: [u8; 256],
    len: usize,
}

impl CrcStream {
    fn new() -> Self {
        CrcStream {
            crc: 0,
            buf: [0; 256],
            len: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buf.len() {
            self.crc = crc32_update(self.crc, &self.buf[..self.len]);
            self.len = 0;
            if bytes.len() > self.buf.len() {
                self.crc = crc32_update(self.crc, bytes);
                return;
            }
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn finish(mut self) -> u32 {
        self.crc = crc32_update(self.crc, &self.buf[..self.len]);
        self.crc
    }
}

/// `pipeline.detect.state.record_digest`: CRC-32 over the text (per reading its code, flag
/// and field names, then RS; all joined by US), continued over the values as
/// little-endian doubles, in frame order.
pub fn record_digest(readings: &[ReadingIn<'_>]) -> u32 {
    let mut crc = CrcStream::new();
    let mut first = true;
    let mut put = |crc: &mut CrcStream, s: &str| {
        if !first {
            crc.put(b"\x1f");
        }
        first = false;
        crc.put(s.as_bytes());
    };
    for r in readings {
        put(&mut crc, r.code);
        put(&mut crc, r.flag);
        for (f, _) in r.fields {
            put(
                &mut crc,
                FIELD_NAMES.get(*f as usize).copied().unwrap_or(""),
            );
        }
        put(&mut crc, "\u{1e}");
    }
    for r in readings {
        for (_, v) in r.fields {
            crc.put(&v.to_le_bytes());
        }
    }
    crc.finish()
}

fn is_resend(state: &ValuesState, cn: &str, t: i64, digest: i64) -> bool {
    state
        .resend_memory
        .as_ref()
        .and_then(|m| m.iter().find(|(k, _)| k == cn))
        .is_some_and(|(_, mem)| mem.iter().any(|&(at, d)| at == t && d == digest))
}

fn remember_frame(state: &mut ValuesState, cn: &str, t: i64, digest: i64, plan: &StationPlan) {
    let memory = keyed(state.resend_memory.get_or_insert_with(Vec::new), cn);
    let span = plan.resend_span;
    if let Some(&(newest, _)) = memory.last() {
        if t < newest - span {
            return;
        }
    }
    let mut at = memory.len();
    while at > 0 && memory[at - 1].0 > t {
        at -= 1;
    }
    memory.insert(at, (t, digest));
    let oldest = memory.last().map_or(t, |e| e.0) - span;
    let stale = memory.iter().take_while(|e| e.0 < oldest).count();
    memory.drain(..stale);
    if memory.len() > plan.resend_max {
        let drop = memory.len() - plan.resend_max;
        memory.drain(..drop);
    }
}

// --- the rules over one reading -------------------------------------------------------------

fn is_zero(r: &ReadingIn<'_>, v: f64, p: &Plan) -> bool {
    if v.abs() > p.zero_tol {
        return false;
    }
    if r.cn == REALTIME {
        return true;
    }
    // NaN compares false: no evidence either way
    ![MIN, MAX, COU]
        .into_iter()
        .any(|k| r.get(k).is_some_and(|x| x.abs() > p.zero_tol))
}

fn moved(r: &ReadingIn<'_>, p: &Plan) -> bool {
    if r.cn == REALTIME {
        return false;
    }
    match (r.get(MIN), r.get(MAX)) {
        (Some(lo), Some(hi)) => hi - lo > p.const_tol,
        _ => false,
    }
}

fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| !v.is_nan())
}

/// An integer that orders as the float does (by IEEE 754 total order: -0.0 below 0.0).
fn order_key(x: f64) -> i64 {
    let bits = x.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// The float of an `order_key` (the map is its own inverse).
fn from_order_key(k: i64) -> f64 {
    f64::from_bits((k ^ ((((k >> 63) as u64) >> 1) as i64)) as u64)
}

/// Windows up to this length are worked on in a copy on the stack.
const STACK_WINDOW: usize = 64;

/// `statistics.median` of a window (no NaN in it: judged values never are).
///
/// By selection, not a sort (this runs for every reading the spike rule judges). The
/// value is the same order statistic a sort gives, but for its sign when it is zero:
/// Python's stable sort puts -0.0 and 0.0 in their window order, so a zero median is
/// taken from a stable sort, as Python takes it.
fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN; // Python raises here; a window is never judged empty
    }
    // Selected as integers that order as the floats do (-0.0 just under 0.0, which only
    // a zero median can tell, and that case is settled below), in a copy on the stack for
    // the usual window: integer compares make the small-slice selection branch-free.
    let mut stack = [0i64; STACK_WINDOW];
    let mut heap = Vec::new();
    let keys: &mut [i64] = if xs.len() <= STACK_WINDOW {
        &mut stack[..xs.len()]
    } else {
        heap.resize(xs.len(), 0);
        &mut heap
    };
    for (k, x) in keys.iter_mut().zip(xs) {
        *k = order_key(*x);
    }
    let n = keys.len();
    let mid = n / 2;
    let (left, upper, _) = keys.select_nth_unstable(mid);
    let upper = from_order_key(*upper);
    // for an even count, the largest of the lower half is the other middle value
    let lower =
        (n % 2 == 0).then(|| from_order_key(left.iter().copied().max().unwrap_or(i64::MIN)));
    let m = match lower {
        None => upper,
        Some(lower) => (lower + upper) / 2.0,
    };
    if m != 0.0 {
        return m;
    }
    // A zero median takes its sign as Python's stable sort gives it: the zero at sorted
    // position q is the (q - below)-th zero of the window in window order, `below`
    // counting the values under zero (no sort, no copy: zero series are common).
    let below = xs.iter().filter(|&&x| x < 0.0).count();
    let at = |q: usize, v: f64| -> f64 {
        if v != 0.0 {
            return v;
        }
        q.checked_sub(below)
            .and_then(|k| xs.iter().copied().filter(|&x| x == 0.0).nth(k))
            .unwrap_or(v)
    };
    match lower {
        None => at(mid, upper),
        Some(lower) => (at(mid - 1, lower) + at(mid, upper)) / 2.0,
    }
}

fn robust_sigma(window: &[f64], med: f64, p: &Plan) -> f64 {
    let mut stack = [0.0f64; STACK_WINDOW];
    let heap: Vec<f64>;
    let deviations: &[f64] = if window.len() <= STACK_WINDOW {
        for (d, x) in stack.iter_mut().zip(window) {
            *d = (x - med).abs();
        }
        &stack[..window.len()]
    } else {
        heap = window.iter().map(|x| (x - med).abs()).collect();
        &heap
    };
    let mad = median(deviations);
    let sigma = MAD_TO_SIGMA * mad;
    // Python's max(a, b): a unless b is greater
    if p.spike_floor > sigma {
        p.spike_floor
    } else {
        sigma
    }
}

/// Python's `max(a, b, c)` over floats: the first unless a later one is greater.
fn py_max3(a: f64, b: f64, c: f64) -> f64 {
    let mut m = a;
    if b > m {
        m = b;
    }
    if c > m {
        m = c;
    }
    m
}

struct Judging<'a, 'r> {
    i: usize,
    r: &'a ReadingIn<'r>,
    p: &'a Plan,
    v: Option<f64>,
    t: i64,
    in_order: bool,
    /// the effective flag's bit, and whether it is F
    bit: u16,
    is_f: bool,
}

fn negative(j: &Judging<'_, '_>, out: &mut Out<'_>) {
    let p = j.p;
    let Some(v) = j.v else { return };
    if !p.negative || !p.judges(Judged::Negative, j.bit) {
        return;
    }
    if v < 0.0 {
        out.hit(Some(j.i), Rule::Negative, None, Ev::Value(v));
    } else if j.in_order {
        out.look(Some(j.i), j.r.code, Rule::Negative);
    }
}

fn zero_streak(j: &Judging<'_, '_>, s: &mut Series, out: &mut Out<'_>) {
    let p = j.p;
    if !j.in_order || !p.zero {
        return;
    }
    if !p.judges(Judged::ZeroStreak, j.bit) {
        if j.is_f {
            s.zero_run = Some(0);
        }
        return;
    }
    let Some(v) = j.v else { return };
    if !is_zero(j.r, v, p) {
        s.zero_run = Some(0);
        out.look(Some(j.i), j.r.code, Rule::ZeroStreak);
        return;
    }
    if s.zero_run.unwrap_or(0) == 0 {
        s.zero_since = Some(j.t);
    }
    let run = s.zero_run.unwrap_or(0) + 1;
    s.zero_run = Some(run);
    if p.zero_need != 0 && run >= p.zero_need {
        out.hit(
            Some(j.i),
            Rule::ZeroStreak,
            Some(s.zero_since.unwrap_or(j.t)),
            Ev::Streak { run, value: v },
        );
    }
}

fn constant_streak(j: &Judging<'_, '_>, s: &mut Series, out: &mut Out<'_>) {
    let p = j.p;
    if !j.in_order || !p.constant {
        return;
    }
    if !p.judges(Judged::ConstantStreak, j.bit) {
        if j.is_f {
            s.constant_run = Some(0);
            s.constant_value = None;
        }
        return;
    }
    let Some(v) = j.v else { return };
    if is_zero(j.r, v, p) {
        s.constant_run = Some(0);
        s.constant_value = None;
        return;
    }
    if moved(j.r, p) {
        s.constant_run = Some(0);
        s.constant_value = None;
        out.look(Some(j.i), j.r.code, Rule::ConstantStreak);
        return;
    }
    let run = match s.constant_value {
        Some(held) if (v - held).abs() <= p.const_tol => s.constant_run.unwrap_or(1) + 1,
        _ => {
            s.constant_value = Some(v);
            s.constant_since = Some(j.t);
            1
        }
    };
    s.constant_run = Some(run);
    let since = s.constant_since.unwrap_or(j.t);
    let lasted = (j.t - since + p.period) as f64;
    if p.const_need != 0 && run >= p.const_need && lasted >= p.const_min_s {
        out.hit(
            Some(j.i),
            Rule::ConstantStreak,
            Some(since),
            Ev::Streak { run, value: v },
        );
    } else if run == 1 {
        out.look(Some(j.i), j.r.code, Rule::ConstantStreak);
    }
}

fn out_of_range(j: &Judging<'_, '_>, out: &mut Out<'_>) {
    let p = j.p;
    let (Some(limit), Some(v)) = (p.limit.as_ref(), j.v) else {
        return;
    };
    if !p.out_of_range || v < 0.0 || !p.judges(Judged::OutOfRange, j.bit) {
        return;
    }
    let above = finite(limit.range_high).is_some_and(|hi| v > hi);
    let below = finite(limit.range_low).is_some_and(|lo| v < lo);
    if above || below {
        out.hit(Some(j.i), Rule::OutOfRange, None, Ev::Value(v));
    } else if j.in_order {
        out.look(Some(j.i), j.r.code, Rule::OutOfRange);
    }
}

fn spike(j: &Judging<'_, '_>, s: &mut Series, out: &mut Out<'_>) {
    let p = j.p;
    let Some(v) = j.v else { return };
    if !j.in_order || !p.spike || v < 0.0 || !p.judges(Judged::Spike, j.bit) {
        return;
    }
    let window = s.spike_window.get_or_insert_with(Vec::new);
    let pending = s.spike_pending.get_or_insert_with(Vec::new);
    if window.len() < p.spike_min_history {
        window.push(v);
        return;
    }
    let med = median(window);
    let dev = (v - med).abs();
    // the relative test first: it needs no MAD, and it settles nearly every reading (the
    // spike needs both, so the order changes no outcome)
    let far = dev > p.spike_rel * med.abs();
    let sigma = if far || !pending.is_empty() {
        robust_sigma(window, med, p)
    } else {
        f64::NAN // not needed: a clean look follows
    };
    if far && dev > p.spike_z * sigma {
        pending.push((j.t, v));
        let (t0, t1) = (pending[0].0, pending[pending.len() - 1].0);
        if (t1 - t0 + p.period) as f64 > p.spike_max_s {
            // it stayed: a level shift, not a spike; the new level is the window
            // Python's [-n:]: the last n, and all of them for n = 0
            let keep = if p.spike_window == 0 {
                0
            } else {
                pending.len().saturating_sub(p.spike_window)
            };
            let level: Vec<f64> = pending[keep..].iter().map(|q| q.1).collect();
            s.spike_window = Some(level);
            s.spike_pending = Some(Vec::new());
        }
        return;
    }
    if pending.is_empty() {
        out.look(Some(j.i), j.r.code, Rule::Spike);
    } else {
        let mut peak = pending[0].1;
        let mut best = (peak - med).abs();
        for q in pending.iter().skip(1) {
            let d = (q.1 - med).abs();
            if d > best {
                best = d;
                peak = q.1;
            }
        }
        out.hit(
            Some(j.i),
            Rule::Spike,
            Some(pending[0].0),
            Ev::Spike {
                peak,
                median: med,
                sigma,
                samples: pending.len(),
            },
        );
        pending.clear();
    }
    window.push(v);
    if window.len() > p.spike_window {
        let drop = window.len() - p.spike_window;
        window.drain(..drop);
    }
}

fn non_n_flag(j: &Judging<'_, '_>, s: &mut Series, out: &mut Out<'_>) {
    let p = j.p;
    let flag = j.r.flag;
    if flag.is_empty() || !p.non_n_flag {
        return;
    }
    if flag == "N" {
        if j.in_order {
            s.flag_run = None;
            out.look(Some(j.i), j.r.code, Rule::NonNFlag);
        }
        return;
    }
    let since = match &s.flag_run {
        Some((f, since)) if f == flag && j.in_order => *since,
        _ => {
            s.flag_run = Some((flag.to_owned(), j.t));
            j.t
        }
    };
    let lasted = j.t - since + p.period;
    if (lasted as f64) < p.flag_min(flag) {
        return;
    }
    out.hit(Some(j.i), Rule::NonNFlag, Some(since), Ev::Flag { lasted });
}

fn over_limit(j: &Judging<'_, '_>, out: &mut Out<'_>) {
    let p = j.p;
    let Some(limit) = p.limit.as_ref() else {
        return;
    };
    if !p.over_limit {
        return;
    }
    let Some(v) = j.v else { return };
    if !p.judges(Judged::OverLimit, j.bit) || v < 0.0 {
        return;
    }
    if finite(limit.range_high).is_some_and(|hi| v > hi)
        || finite(limit.range_low).is_some_and(|lo| v < lo)
    {
        return;
    }
    let basis = match limit.basis {
        Some(b) if j.r.has(b) => b,
        _ => AVG,
    };
    let Some(value) = j.r.get(basis) else { return };
    if finite(limit.limit_high).is_some_and(|hi| value > hi) {
        out.hit(
            Some(j.i),
            Rule::OverLimit,
            None,
            Ev::Limit { value, high: true },
        );
    } else if finite(limit.limit_low).is_some_and(|lo| value < lo) {
        out.hit(
            Some(j.i),
            Rule::OverLimit,
            None,
            Ev::Limit { value, high: false },
        );
    } else if j.in_order {
        out.look(Some(j.i), j.r.code, Rule::OverLimit);
    }
}

fn logic_min_avg_max(j: &Judging<'_, '_>, out: &mut Out<'_>) {
    let p = j.p;
    if !p.logic || !p.judges(Judged::LogicMinAvgMax, j.bit) {
        return;
    }
    for (which, (lo_k, mid_k, hi_k)) in TRIPLES.into_iter().enumerate() {
        let (Some(low), Some(mid), Some(high)) = (j.r.get(lo_k), j.r.get(mid_k), j.r.get(hi_k))
        else {
            continue;
        };
        let tol = 1e-9 + 1e-6 * py_max3(low.abs(), mid.abs(), high.abs());
        if low > mid + tol || mid > high + tol {
            out.hit(
                Some(j.i),
                Rule::LogicMinAvgMax,
                None,
                Ev::Triple {
                    which,
                    low,
                    mid,
                    high,
                },
            );
        } else {
            out.look(Some(j.i), j.r.code, Rule::LogicMinAvgMax);
        }
    }
}

// --- the rules over the whole frame ---------------------------------------------------------

fn zs_without_o2(f: &FrameIn<'_>, plan: &StationPlan, out: &mut Out<'_>) {
    let with_zs: Vec<usize> = f
        .readings
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            [ZS_RTD, ZS_MIN, ZS_AVG, ZS_MAX]
                .into_iter()
                .any(|k| r.has(k))
        })
        .map(|(i, _)| i)
        .collect();
    if with_zs.is_empty() || !plan.zs_without_o2 {
        return;
    }
    if f.readings
        .iter()
        .any(|r| r.code == O2_CODE && !r.fields.is_empty())
    {
        out.look(None, "", Rule::LogicZsWithoutO2);
    } else {
        out.hit(None, Rule::LogicZsWithoutO2, None, Ev::Zs(with_zs));
    }
}

fn cou_check(
    i: usize,
    code: &str,
    cou: f64,
    expected: f64,
    p: &Plan,
    // (of the flow?, flow Avg or Avg, period or flow Cou)
    (flow, a, b): (bool, f64, f64),
    out: &mut Out<'_>,
) {
    let (ea, ca) = (expected.abs(), cou.abs());
    let larger = if ca > ea { ca } else { ea };
    let slack = p.cou_tolerance * larger + p.cou_abs_tolerance;
    if (cou - expected).abs() > slack {
        out.hit(
            Some(i),
            Rule::LogicCou,
            None,
            Ev::Cou {
                cou,
                expected,
                flow,
                a,
                b,
            },
        );
    } else {
        out.look(Some(i), code, Rule::LogicCou);
    }
}

fn logic_cou(f: &FrameIn<'_>, plan: &StationPlan, out: &mut Out<'_>) {
    if f.cn == REALTIME {
        return;
    }
    let Some(fi) = f.readings.iter().position(|r| r.code == plan.flow_code) else {
        return;
    };
    let flow = &f.readings[fi];
    let (flow_avg, flow_cou) = (flow.get(AVG), flow.get(COU));
    if let (Some(avg), Some(cou)) = (flow_avg, flow_cou) {
        if avg >= 0.0 && f.period != 0 && flow.plan.cou {
            let expected = avg * f.period as f64 * flow.plan.cou_volume_factor;
            cou_check(
                fi,
                flow.code,
                cou,
                expected,
                flow.plan,
                (true, avg, f.period as f64),
                out,
            );
        }
    }
    let Some(flow_cou) = flow_cou else { return };
    if flow_avg.unwrap_or(0.0) < 0.0 {
        return;
    }
    for (i, r) in f.readings.iter().enumerate() {
        if i == fi {
            continue;
        }
        let (Some(avg), Some(cou)) = (r.get(AVG), r.get(COU)) else {
            continue;
        };
        if avg < 0.0 || !r.plan.cou {
            continue;
        }
        let expected = avg * flow_cou * r.plan.cou_mass_factor;
        cou_check(
            i,
            r.code,
            cou,
            expected,
            r.plan,
            (false, avg, flow_cou),
            out,
        );
    }
}

fn time_future(f: &FrameIn<'_>, plan: &StationPlan, out: &mut Out<'_>) {
    if !plan.time_future {
        return;
    }
    if f.ahead_s > plan.future_tol {
        out.hit(None, Rule::TimeFuture, None, Ev::Seconds(f.ahead_s));
    } else {
        out.look(None, "", Rule::TimeFuture);
    }
}

fn time_stale(f: &FrameIn<'_>, plan: &StationPlan, out: &mut Out<'_>) {
    if f.cn != REALTIME || f.resent || !plan.time_stale {
        return;
    }
    let late = -f.ahead_s;
    if late > plan.stale_tol {
        out.hit(None, Rule::TimeStale, None, Ev::Seconds(late));
    } else {
        out.look(None, "", Rule::TimeStale);
    }
}

/// Python's `round(x, 6)`: correctly rounded to 6 decimals (exact ties cannot arise: a
/// double is a dyadic rational, and x * 10**6 ending in exactly .5 needs 5**6 to divide
/// its numerator's odd part, which Rust's exact formatting rounds half to even anyway).
pub fn round6(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let mut text = String::with_capacity(32);
    let _ = write!(text, "{x:.6}");
    text.parse().unwrap_or(x)
}

fn time_conflict(state: &mut ValuesState, f: &FrameIn<'_>, plan: &StationPlan, out: &mut Out<'_>) {
    if !plan.time_conflict {
        return;
    }
    let cn = f.cn.to_string();
    let memory = keyed(state.conflict_memory.get_or_insert_with(Vec::new), &cn);
    // the entry of this data time, taken out while the frame is judged and put back (a
    // new time older than every remembered one is forgotten at once, after serving it)
    let at = memory.iter().position(|e| e.time == f.t);
    // a new time that pushes the oldest out: the oldest's strings and vectors are reused
    // for it (the memory turns over once a frame, and this spares its allocations)
    let mut spare: Vec<(String, Vec<(u8, f64)>)> = Vec::new();
    let mut entry = match at {
        Some(i) => std::mem::take(&mut memory[i]),
        None => {
            if plan.conflict_keep > 0
                && memory.len() >= plan.conflict_keep
                && memory.first().is_some_and(|e| e.time < f.t)
            {
                spare = memory.remove(0).values;
            }
            Remembered {
                time: f.t,
                values: Vec::with_capacity(f.readings.len()),
            }
        }
    };
    for (i, r) in f.readings.iter().enumerate() {
        let present = r.fields.iter().copied().filter(|(_, x)| !x.is_nan());
        let Some(k) = entry.position(r.code) else {
            let (mut code, mut fields) = spare.pop().unwrap_or_default();
            code.clear();
            code.push_str(r.code);
            fields.clear();
            fields.extend(present);
            entry.values.push((code, fields));
            out.look(Some(i), r.code, Rule::TimeConflict);
            continue;
        };
        let old = &entry.values[k].1;
        let mut changed: Vec<(u8, f64, f64)> = Vec::new();
        for &(fid, was) in old {
            if let Some((_, x)) = present.clone().find(|(g, _)| *g == fid) {
                let (was, x) = (round6(was), round6(x));
                // != as Python compares: NaN never is remembered, so no NaN here
                if was != x {
                    changed.push((fid, was, x));
                }
            }
        }
        if !changed.is_empty() {
            out.hit(Some(i), Rule::TimeConflict, None, Ev::Changed(changed));
            entry.values[k].1 = present.map(|(fid, x)| (fid, round6(x))).collect();
        }
    }
    match at {
        Some(i) => memory[i] = entry,
        None => {
            let pos = memory.iter().take_while(|e| e.time < f.t).count();
            memory.insert(pos, entry);
            if memory.len() > plan.conflict_keep {
                let drop = memory.len() - plan.conflict_keep;
                memory.drain(..drop);
            }
        }
    }
}

// --- a frame ----------------------------------------------------------------------------------

/// Every value rule over one frame: the observations, in the oracle's order, pushed to
/// `out`; `state` moved on (unchanged for a resend).
pub fn observe_frame(
    state: &mut ValuesState,
    plan: &StationPlan,
    frame: &FrameIn<'_>,
    wanted: &Wanted,
    out: &mut Vec<Obs>,
) {
    let readings = frame.readings;
    if readings.is_empty() {
        return;
    }
    let digest = i64::from(record_digest(readings));
    let cn = frame.cn.to_string();
    if is_resend(state, &cn, frame.t, digest) {
        return;
    }
    remember_frame(state, &cn, frame.t, digest, plan);
    let stopped = readings.iter().any(|r| r.flag == "F");
    let mut o = Out { items: out, wanted };
    let series = state.series.get_or_insert_with(HashMap::new);
    let mut key = String::with_capacity(24);
    for (i, r) in readings.iter().enumerate() {
        key.clear();
        if r.cn == frame.cn {
            key.push_str(&cn); // the frame's data type, written once a frame
        } else {
            let _ = write!(key, "{}", r.cn);
        }
        key.push('/');
        key.push_str(r.code);
        let s = match series.get_mut(key.as_str()) {
            Some(s) => s,
            None => series.entry(key.clone()).or_default(),
        };
        let in_order = r.t > s.last_time.unwrap_or(-1);
        if in_order {
            s.last_time = Some(r.t);
        }
        let own = if r.flag.is_empty() { "N" } else { r.flag };
        let effective = if own == "N" && stopped { "F" } else { own };
        let j = Judging {
            i,
            r,
            p: r.plan,
            v: r.judged_value(),
            t: r.t,
            in_order,
            bit: flag_bit(effective),
            is_f: effective == "F",
        };
        negative(&j, &mut o);
        zero_streak(&j, s, &mut o);
        constant_streak(&j, s, &mut o);
        out_of_range(&j, &mut o);
        spike(&j, s, &mut o);
        non_n_flag(&j, s, &mut o);
        over_limit(&j, &mut o);
        logic_min_avg_max(&j, &mut o);
    }
    zs_without_o2(frame, plan, &mut o);
    logic_cou(frame, plan, &mut o);
    time_future(frame, plan, &mut o);
    time_stale(frame, plan, &mut o);
    time_conflict(state, frame, plan, &mut o);
}

// --- the state as JSON ------------------------------------------------------------------

/// A station's values state as the JSON text of the dict `pipeline.detect.state` keeps
/// (the same keys and values `orjson.dumps` writes for it, so that loading either gives
/// the same dict): the worker writes each changed station's state at every commit, and
/// making that dict in Python first cost more than the rules.
pub fn state_json(state: &ValuesState) -> String {
    let mut w = Json::default();
    w.open('{');
    if let Some(series) = &state.series {
        w.key("series");
        w.open('{');
        for (k, s) in series {
            w.key(k);
            w.open('{');
            let ints = [
                ("last_time", s.last_time),
                ("zero_run", s.zero_run),
                ("zero_since", s.zero_since),
                ("constant_run", s.constant_run),
            ];
            for (name, x) in ints {
                if let Some(x) = x {
                    w.key(name);
                    w.int(x);
                }
            }
            if let Some(x) = s.constant_value {
                w.key("constant_value");
                w.float(x);
            }
            if let Some(x) = s.constant_since {
                w.key("constant_since");
                w.int(x);
            }
            if let Some(window) = &s.spike_window {
                w.key("spike_window");
                w.open('[');
                for x in window {
                    w.item();
                    w.float(*x);
                }
                w.close(']');
            }
            if let Some(pending) = &s.spike_pending {
                w.key("spike_pending");
                w.open('[');
                for (t, x) in pending {
                    w.item();
                    w.open('{');
                    w.key("time");
                    w.int(*t);
                    w.key("value");
                    w.float(*x);
                    w.close('}');
                }
                w.close(']');
            }
            if let Some((flag, since)) = &s.flag_run {
                w.key("flag_run");
                w.open('{');
                w.key("flag");
                w.string(flag);
                w.key("since");
                w.int(*since);
                w.close('}');
            }
            w.close('}');
        }
        w.close('}');
    }
    if let Some(memory) = &state.conflict_memory {
        w.key("conflict_memory");
        w.open('{');
        for (cn, entries) in memory {
            w.key(cn);
            w.open('[');
            for e in entries {
                w.item();
                w.open('{');
                w.key("time");
                w.int(e.time);
                w.key("values");
                w.open('{');
                for (code, fields) in &e.values {
                    w.key(code);
                    w.open('{');
                    for (f, x) in fields {
                        w.key(FIELD_NAMES.get(*f as usize).copied().unwrap_or(""));
                        w.float(*x);
                    }
                    w.close('}');
                }
                w.close('}');
                w.close('}');
            }
            w.close(']');
        }
        w.close('}');
    }
    if let Some(memory) = &state.resend_memory {
        w.key("resend_memory");
        w.open('{');
        for (cn, entries) in memory {
            w.key(cn);
            w.open('[');
            for (t, d) in entries {
                w.item();
                w.open('[');
                w.item();
                w.int(*t);
                w.item();
                w.int(*d);
                w.close(']');
            }
            w.close(']');
        }
        w.close('}');
    }
    w.close('}');
    w.out
}

/// A small JSON writer: commas between members and items, strings escaped.
#[derive(Default)]
struct Json {
    out: String,
    /// whether the innermost open object or array has a member yet
    filled: Vec<bool>,
}

impl Json {
    fn open(&mut self, c: char) {
        self.out.push(c);
        self.filled.push(false);
    }

    fn close(&mut self, c: char) {
        self.out.push(c);
        self.filled.pop();
    }

    /// Before an array item: a comma unless it is the first.
    fn item(&mut self) {
        if let Some(filled) = self.filled.last_mut() {
            if *filled {
                self.out.push(',');
            }
            *filled = true;
        }
    }

    fn key(&mut self, k: &str) {
        self.item();
        self.string(k);
        self.out.push(':');
    }

    fn string(&mut self, text: &str) {
        self.out.push('"');
        for c in text.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", u32::from(c));
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn int(&mut self, x: i64) {
        let _ = write!(self.out, "{x}");
    }

    /// The shortest text that reads back as the same double (Rust's `Debug`: "1.0",
    /// "1e-7"), as orjson writes; not-a-number and infinities as null, as orjson does.
    fn float(&mut self, x: f64) {
        if x.is_finite() {
            let _ = write!(self.out, "{x:?}");
        } else {
            self.out.push_str("null");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            negative: true,
            zero: true,
            constant: true,
            out_of_range: true,
            spike: true,
            non_n_flag: true,
            over_limit: true,
            logic: true,
            cou: true,
            judged: [EVERY_FLAG; 7],
            zero_tol: 1e-9,
            zero_need: 3,
            const_tol: 1e-9,
            const_need: 3,
            const_min_s: 0.0,
            spike_window: 5,
            spike_min_history: 3,
            spike_z: 6.0,
            spike_rel: 0.5,
            spike_floor: 0.01,
            spike_max_s: 300.0,
            flag_min_s: vec![("D".into(), 120.0)],
            cou_tolerance: 0.05,
            cou_abs_tolerance: 0.01,
            cou_mass_factor: 1e-3,
            cou_volume_factor: 1.0,
            period: 60,
            limit: None,
        }
    }

    fn station() -> StationPlan {
        StationPlan {
            time_conflict: true,
            conflict_keep: 20,
            resend_span: 7200,
            resend_max: 600,
            zs_without_o2: true,
            time_future: true,
            future_tol: 600.0,
            time_stale: true,
            stale_tol: 600.0,
            flow_code: "w00000".into(),
        }
    }

    fn frame_of<'a>(t: i64, readings: &'a [ReadingIn<'a>]) -> FrameIn<'a> {
        FrameIn {
            cn: 2011,
            t,
            ahead_s: 0.0,
            resent: false,
            period: 60,
            readings,
        }
    }

    fn hits(state: &mut ValuesState, t: i64, v: f64, p: &Plan) -> Vec<Obs> {
        let fields = [(RTD, v)];
        let rs = [ReadingIn {
            code: "w01018",
            flag: "N",
            cn: 2011,
            t,
            fields: &fields,
            plan: p,
        }];
        let mut out = Vec::new();
        observe_frame(
            state,
            &station(),
            &frame_of(t, &rs),
            &Wanted::Open(vec![]),
            &mut out,
        );
        out
    }

    #[test]
    fn zeros_in_a_row_make_a_streak_from_the_first() {
        let p = plan();
        let mut state = ValuesState::default();
        assert!(hits(&mut state, 60, 0.0, &p).is_empty());
        assert!(hits(&mut state, 120, 0.0, &p).is_empty());
        let out = hits(&mut state, 180, 0.0, &p);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule, Rule::ZeroStreak);
        assert_eq!(out[0].first, Some(60));
        assert_eq!(out[0].ev, Ev::Streak { run: 3, value: 0.0 });
    }

    #[test]
    fn a_resend_changes_nothing_and_other_values_conflict() {
        let p = plan();
        let mut state = ValuesState::default();
        hits(&mut state, 60, 5.0, &p);
        let before = state.clone();
        assert!(hits(&mut state, 60, 5.0, &p).is_empty());
        assert_eq!(state, before);
        let out = hits(&mut state, 60, 6.0, &p);
        assert!(out
            .iter()
            .any(|o| o.rule == Rule::TimeConflict && o.ev == Ev::Changed(vec![(RTD, 5.0, 6.0)])));
    }

    #[test]
    fn a_short_excursion_is_a_spike_when_it_comes_back() {
        let p = plan();
        let mut state = ValuesState::default();
        for (k, v) in [10.0, 10.1, 9.9, 10.0].into_iter().enumerate() {
            assert!(hits(&mut state, 60 * (k as i64 + 1), v, &p).is_empty());
        }
        assert!(hits(&mut state, 300, 100.0, &p).is_empty());
        let out = hits(&mut state, 360, 10.0, &p);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule, Rule::Spike);
        assert_eq!(out[0].first, Some(300));
    }

    #[test]
    fn the_digest_is_zlibs() {
        // zlib.crc32(b"123456789") == 0xCBF43926
        assert_eq!(crc32_update(0, b"123456789"), 0xCBF4_3926);
        let p = plan();
        let fields = [(RTD, 1.5), (AVG, 2.0)];
        let rs = [ReadingIn {
            code: "a",
            flag: "",
            cn: 2011,
            t: 0,
            fields: &fields,
            plan: &p,
        }];
        // zlib.crc32(struct.pack("<2d", 1.5, 2.0), zlib.crc32("a\x1f\x1frtd\x1favg\x1f\x1e".encode()))
        let text = "a\u{1f}\u{1f}rtd\u{1f}avg\u{1f}\u{1e}";
        let mut nums = Vec::new();
        nums.extend_from_slice(&1.5f64.to_le_bytes());
        nums.extend_from_slice(&2.0f64.to_le_bytes());
        assert_eq!(
            record_digest(&rs),
            crc32_update(crc32_update(0, text.as_bytes()), &nums)
        );
    }

    #[test]
    fn the_median_is_pythons_even_for_the_sign_of_zero() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[5.0, 5.0, 1.0, 9.0, 5.0, 2.0]), 5.0);
        // statistics.median([0.0, -0.0, 1.0]) is -0.0 and ([-0.0, 0.0, 1.0]) is 0.0
        assert!(median(&[0.0, -0.0, 1.0]).is_sign_negative());
        assert!(median(&[-0.0, 0.0, 1.0]).is_sign_positive());
        assert!(median(&[-0.0, -0.0]).is_sign_negative());
    }

    /// `statistics.median` as Python computes it: a stable sort, then the middle.
    fn median_by_stable_sort(xs: &[f64]) -> f64 {
        let mut s = xs.to_vec();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let mid = s.len() / 2;
        if s.len() % 2 == 1 {
            s[mid]
        } else {
            (s[mid - 1] + s[mid]) / 2.0
        }
    }

    #[test]
    fn the_median_by_selection_is_the_stable_sorts_to_the_bit() {
        // windows full of ties and signed zeros, on both sides of the stack copy's size
        let values = [-2.0, -1.0, -0.0, 0.0, 0.0, 1.0, 1.0, 3.5];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..20_000 {
            let len = 1 + round % (STACK_WINDOW + 9);
            let xs: Vec<f64> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    values[(seed % values.len() as u64) as usize]
                })
                .collect();
            let (got, want) = (median(&xs), median_by_stable_sort(&xs));
            assert_eq!(got.to_bits(), want.to_bits(), "{xs:?}: {got} vs {want}");
        }
    }

    #[test]
    fn the_state_as_json_escapes_its_strings_and_writes_floats_as_floats() {
        let mut series = HashMap::new();
        series.insert(
            "2011/a\"b\\".to_owned(),
            Series {
                last_time: Some(7),
                constant_value: Some(1.0),
                spike_window: Some(vec![-0.0, 1e-7, f64::NAN]),
                flag_run: Some(("D\u{1}".to_owned(), 3)),
                ..Series::default()
            },
        );
        let state = ValuesState {
            series: Some(series),
            conflict_memory: None,
            resend_memory: Some(vec![("2011".to_owned(), vec![(5, 4_294_967_295)])]),
        };
        assert_eq!(
            state_json(&state),
            concat!(
                r#"{"series":{"2011/a\"b\\":{"last_time":7,"constant_value":1.0,"#,
                r#""spike_window":[-0.0,1e-7,null],"flag_run":{"flag":"D\u0001","since":3}}},"#,
                r#""resend_memory":{"2011":[[5,4294967295]]}}"#
            )
        );
        assert_eq!(state_json(&ValuesState::default()), "{}");
    }

    #[test]
    fn round6_rounds_as_python() {
        assert_eq!(round6(1.234_567_49), 1.234_567);
        assert_eq!(round6(1.234_567_51), 1.234_568);
        assert_eq!(round6(-0.000_000_6), -0.000_001);
        assert!(round6(f64::INFINITY).is_infinite());
    }
}
