//! `hj212.ValueKernel`: the value rules of `crate::values` for Python. It keeps each
//! station's `ValuesState` on the Rust side between frames (the worker loads it from, and
//! dumps it to, the dict of `pipeline/detect/state.py`), the resolved plans by id, and
//! hands observations back as plain tuples for `pipeline/detect/values_rs.py` to word.

use std::borrow::Cow;
use std::collections::HashMap;

use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::conversion::FromPyObjectOwned;
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::values::{
    field_id, observe_frame, state_json, Ev, FrameIn, LimitPlan, Obs, Plan, ReadingIn, Remembered,
    Rule, Series, StationPlan, ValuesState, Wanted, FIELD_NAMES,
};

fn bad(what: &str, detail: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{what}: {detail}"))
}

fn req<'py, T: FromPyObjectOwned<'py>>(
    d: &Bound<'py, PyDict>,
    key: &str,
    what: &str,
) -> PyResult<T> {
    match d.get_item(key)? {
        Some(x) => x
            .extract::<T>()
            .map_err(|e| bad(what, format!("{key} = {x}: {}", e.into()))),
        None => Err(bad(what, format!("no {key}"))),
    }
}

fn opt<'py, T: FromPyObjectOwned<'py>>(
    d: &Bound<'py, PyDict>,
    key: &str,
    what: &str,
) -> PyResult<Option<T>> {
    match d.get_item(key)? {
        Some(x) if !x.is_none() => x
            .extract::<T>()
            .map(Some)
            .map_err(|e| bad(what, format!("{key} = {x}: {}", e.into()))),
        _ => Ok(None),
    }
}

fn field_of(name: &str, what: &str) -> PyResult<u8> {
    field_id(name).ok_or_else(|| {
        bad(
            what,
            format!("field {name:?} is none of {}", FIELD_NAMES.join(", ")),
        )
    })
}

fn check_keys(d: &Bound<'_, PyDict>, allowed: &[&str], what: &str) -> PyResult<()> {
    for k in d.keys() {
        let k: String = k.extract()?;
        if !allowed.contains(&k.as_str()) {
            return Err(bad(
                what,
                format!("unknown key {k:?} (known: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

const PLAN_KEYS: [&str; 29] = [
    "negative",
    "zero",
    "constant",
    "out_of_range",
    "spike",
    "non_n_flag",
    "over_limit",
    "logic",
    "cou",
    "judged",
    "zero_tol",
    "zero_need",
    "const_tol",
    "const_need",
    "const_min_s",
    "spike_window",
    "spike_min_history",
    "spike_z",
    "spike_rel",
    "spike_floor",
    "spike_max_s",
    "flag_min_s",
    "cou_tolerance",
    "cou_abs_tolerance",
    "cou_mass_factor",
    "cou_volume_factor",
    "period",
    "limit",
    "code",
];

fn plan_of(d: &Bound<'_, PyDict>) -> PyResult<Plan> {
    let w = "plan";
    check_keys(d, &PLAN_KEYS, w)?;
    let judged: Vec<u16> = req(d, "judged", w)?;
    let judged: [u16; 7] = judged
        .try_into()
        .map_err(|j: Vec<u16>| bad(w, format!("judged has {} masks, not 7", j.len())))?;
    let flag_min: HashMap<String, f64> = req(d, "flag_min_s", w)?;
    let limit = match d.get_item("limit")? {
        Some(l) if !l.is_none() => {
            let l = l.cast::<PyDict>()?;
            let basis: String = req(l, "basis", "plan.limit")?;
            Some(LimitPlan {
                range_low: opt(l, "range_low", "plan.limit")?,
                range_high: opt(l, "range_high", "plan.limit")?,
                limit_low: opt(l, "limit_low", "plan.limit")?,
                limit_high: opt(l, "limit_high", "plan.limit")?,
                basis: field_id(&basis),
            })
        }
        _ => None,
    };
    Ok(Plan {
        negative: req(d, "negative", w)?,
        zero: req(d, "zero", w)?,
        constant: req(d, "constant", w)?,
        out_of_range: req(d, "out_of_range", w)?,
        spike: req(d, "spike", w)?,
        non_n_flag: req(d, "non_n_flag", w)?,
        over_limit: req(d, "over_limit", w)?,
        logic: req(d, "logic", w)?,
        cou: req(d, "cou", w)?,
        judged,
        zero_tol: req(d, "zero_tol", w)?,
        zero_need: req(d, "zero_need", w)?,
        const_tol: req(d, "const_tol", w)?,
        const_need: req(d, "const_need", w)?,
        const_min_s: req(d, "const_min_s", w)?,
        spike_window: req(d, "spike_window", w)?,
        spike_min_history: req(d, "spike_min_history", w)?,
        spike_z: req(d, "spike_z", w)?,
        spike_rel: req(d, "spike_rel", w)?,
        spike_floor: req(d, "spike_floor", w)?,
        spike_max_s: req(d, "spike_max_s", w)?,
        flag_min_s: flag_min.into_iter().collect(),
        cou_tolerance: req(d, "cou_tolerance", w)?,
        cou_abs_tolerance: req(d, "cou_abs_tolerance", w)?,
        cou_mass_factor: req(d, "cou_mass_factor", w)?,
        cou_volume_factor: req(d, "cou_volume_factor", w)?,
        period: req(d, "period", w)?,
        limit,
    })
}

const STATION_KEYS: [&str; 10] = [
    "time_conflict",
    "conflict_keep",
    "resend_span",
    "resend_max",
    "zs_without_o2",
    "time_future",
    "future_tol",
    "time_stale",
    "stale_tol",
    "flow_code",
];

fn station_plan_of(d: &Bound<'_, PyDict>) -> PyResult<StationPlan> {
    let w = "station plan";
    check_keys(d, &STATION_KEYS, w)?;
    Ok(StationPlan {
        time_conflict: req(d, "time_conflict", w)?,
        conflict_keep: req(d, "conflict_keep", w)?,
        resend_span: req(d, "resend_span", w)?,
        resend_max: req(d, "resend_max", w)?,
        zs_without_o2: req(d, "zs_without_o2", w)?,
        time_future: req(d, "time_future", w)?,
        future_tol: req(d, "future_tol", w)?,
        time_stale: req(d, "time_stale", w)?,
        stale_tol: req(d, "stale_tol", w)?,
        flow_code: req(d, "flow_code", w)?,
    })
}

// --- the state, dict <-> Rust ------------------------------------------------------------

const SERIES_KEYS: [&str; 9] = [
    "last_time",
    "zero_run",
    "zero_since",
    "constant_run",
    "constant_value",
    "constant_since",
    "spike_window",
    "spike_pending",
    "flag_run",
];

fn series_of(d: &Bound<'_, PyDict>, key: &str) -> PyResult<Series> {
    let w = format!("values state: series {key:?}");
    check_keys(d, &SERIES_KEYS, &w)?;
    let pending = match d.get_item("spike_pending")? {
        Some(list) => {
            let mut out = Vec::new();
            for q in list.cast::<PyList>()?.iter() {
                let q = q.cast_into::<PyDict>()?;
                out.push((req(&q, "time", &w)?, req(&q, "value", &w)?));
            }
            Some(out)
        }
        None => None,
    };
    let flag_run = match d.get_item("flag_run")? {
        Some(r) if !r.is_none() => {
            let r = r.cast_into::<PyDict>()?;
            Some((req(&r, "flag", &w)?, req(&r, "since", &w)?))
        }
        _ => None,
    };
    Ok(Series {
        last_time: opt(d, "last_time", &w)?,
        zero_run: opt(d, "zero_run", &w)?,
        zero_since: opt(d, "zero_since", &w)?,
        constant_run: opt(d, "constant_run", &w)?,
        constant_value: opt(d, "constant_value", &w)?,
        constant_since: opt(d, "constant_since", &w)?,
        spike_window: opt(d, "spike_window", &w)?,
        spike_pending: pending,
        flag_run,
    })
}

fn fields_of(d: &Bound<'_, PyDict>, what: &str) -> PyResult<Vec<(u8, f64)>> {
    let mut out = Vec::with_capacity(d.len());
    for (k, x) in d.iter() {
        let k: String = k.extract()?;
        out.push((field_of(&k, what)?, x.extract()?));
    }
    Ok(out)
}

fn state_of(d: &Bound<'_, PyDict>) -> PyResult<ValuesState> {
    let mut state = ValuesState::default();
    if let Some(series) = d.get_item("series")? {
        let mut map = HashMap::new();
        for (k, s) in series.cast::<PyDict>()?.iter() {
            let k: String = k.extract()?;
            let s = series_of(s.cast::<PyDict>()?, &k)?;
            map.insert(k, s);
        }
        state.series = Some(map);
    }
    if let Some(memory) = d.get_item("conflict_memory")? {
        let mut out = Vec::new();
        for (cn, entries) in memory.cast::<PyDict>()?.iter() {
            let cn: String = cn.extract()?;
            let w = format!("values state: conflict_memory {cn:?}");
            let mut list = Vec::new();
            for e in entries.cast::<PyList>()?.iter() {
                let e = e.cast_into::<PyDict>()?;
                let mut values = Vec::new();
                if let Some(vals) = e.get_item("values")? {
                    for (code, fields) in vals.cast::<PyDict>()?.iter() {
                        values.push((code.extract()?, fields_of(fields.cast()?, &w)?));
                    }
                }
                list.push(Remembered {
                    time: req(&e, "time", &w)?,
                    values,
                });
            }
            out.push((cn, list));
        }
        state.conflict_memory = Some(out);
    }
    if let Some(memory) = d.get_item("resend_memory")? {
        let mut out = Vec::new();
        for (cn, entries) in memory.cast::<PyDict>()?.iter() {
            let cn: String = cn.extract()?;
            let what = || format!("resend_memory {cn:?}: not [[time, digest], ...]");
            let pairs: Vec<Vec<i64>> = entries
                .extract()
                .map_err(|e| bad("values state", format!("{}: {e}", what())))?;
            let mut list = Vec::with_capacity(pairs.len());
            for pair in pairs {
                match pair[..] {
                    [t, d] => list.push((t, d)),
                    _ => return Err(bad("values state", what())),
                }
            }
            out.push((cn, list));
        }
        state.resend_memory = Some(out);
    }
    Ok(state)
}

fn ev_tuple<'py>(py: Python<'py>, ev: &Ev) -> PyResult<Bound<'py, PyTuple>> {
    Ok(match ev {
        Ev::None => PyTuple::empty(py),
        Ev::Value(x) | Ev::Seconds(x) => (x,).into_pyobject(py)?,
        Ev::Streak { run, value } => (run, value).into_pyobject(py)?,
        Ev::Spike {
            peak,
            median,
            sigma,
            samples,
        } => (peak, median, sigma, samples).into_pyobject(py)?,
        Ev::Flag { lasted } => (lasted,).into_pyobject(py)?,
        Ev::Limit { value, high } => (value, high).into_pyobject(py)?,
        Ev::Triple {
            which,
            low,
            mid,
            high,
        } => (which, low, mid, high).into_pyobject(py)?,
        Ev::Zs(readings) => PyTuple::new(py, readings)?,
        Ev::Cou {
            cou,
            expected,
            flow,
            a,
            b,
        } => (cou, expected, flow, a, b).into_pyobject(py)?,
        Ev::Changed(changes) => PyTuple::new(
            py,
            changes
                .iter()
                .map(|(f, was, now)| (FIELD_NAMES[*f as usize], *was, *now)),
        )?,
    })
}

fn obs_tuple<'py>(py: Python<'py>, o: &Obs) -> PyResult<Bound<'py, PyTuple>> {
    let reading: i64 = o.reading.map_or(-1, |i| i as i64);
    (reading, o.rule.name(), o.hit, o.first, ev_tuple(py, &o.ev)?).into_pyobject(py)
}

/// One reading as the binding takes it: (code, flag, cn, data time s, [(field, value)],
/// plan id).
type ReadingTuple = (String, String, i64, i64, Vec<(String, f64)>, usize);

#[pyclass(module = "hj212", name = "ValueKernel")]
pub struct ValueKernel {
    plans: Vec<Plan>,
    stations: Vec<StationPlan>,
    states: HashMap<String, ValuesState>,
    scratch: Vec<Obs>,
}

#[pymethods]
impl ValueKernel {
    #[new]
    fn new() -> Self {
        ValueKernel {
            plans: Vec::new(),
            stations: Vec::new(),
            states: HashMap::new(),
            scratch: Vec::new(),
        }
    }

    /// Register a series plan (a dict of `crate::values::Plan`'s fields); its id.
    fn add_plan(&mut self, plan: &Bound<'_, PyDict>) -> PyResult<usize> {
        self.plans.push(plan_of(plan)?);
        Ok(self.plans.len() - 1)
    }

    /// Register a station plan; its id.
    fn add_station_plan(&mut self, plan: &Bound<'_, PyDict>) -> PyResult<usize> {
        self.stations.push(station_plan_of(plan)?);
        Ok(self.stations.len() - 1)
    }

    /// Take a station's values state (the dict of `pipeline.detect.state.ValuesState`).
    fn load(&mut self, mn: String, state: &Bound<'_, PyDict>) -> PyResult<()> {
        let s = state_of(state).map_err(|e| bad(&format!("station {mn}"), e))?;
        self.states.insert(mn, s);
        Ok(())
    }

    /// A station's values state as the dict (empty for a station never seen): its JSON
    /// text (`dump_json`) read by Python's json, so that the shape is written in one
    /// place (`values::state_json`).
    fn dump<'py>(&self, py: Python<'py>, mn: &str) -> PyResult<Bound<'py, PyDict>> {
        match self.states.get(mn) {
            Some(s) => Ok(py
                .import("json")?
                .call_method1("loads", (state_json(s),))?
                .cast_into::<PyDict>()?),
            None => Ok(PyDict::new(py)),
        }
    }

    /// A station's values state as the JSON text of that dict (b"{}" for a station never
    /// seen), made without the dict: what the changelog stores.
    fn dump_json<'py>(&self, py: Python<'py>, mn: &str) -> Bound<'py, PyBytes> {
        match self.states.get(mn) {
            Some(s) => PyBytes::new(py, state_json(s).as_bytes()),
            None => PyBytes::new(py, b"{}"),
        }
    }

    /// Forget a station's state (its partition went to another worker).
    fn forget(&mut self, mn: &str) {
        self.states.remove(mn);
    }

    fn __contains__(&self, mn: &str) -> bool {
        self.states.contains_key(mn)
    }

    /// The observations of one frame: (reading index or -1, rule, hit, evidence began or
    /// None, evidence tuple) each. `open`: the (code, rule) of the station's open
    /// episodes, whose clean looks are wanted; None: every look.
    #[pyo3(signature = (mn, station_plan, cn, t, ahead_s, resent, period, readings, open))]
    #[allow(clippy::too_many_arguments)] // one per frame fact, as the adapter has them
    fn observe<'py>(
        &mut self,
        py: Python<'py>,
        mn: &str,
        station_plan: usize,
        cn: i64,
        t: i64,
        ahead_s: f64,
        resent: bool,
        period: i64,
        readings: Vec<ReadingTuple>,
        open: Option<Vec<(String, String)>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let plan = self
            .stations
            .get(station_plan)
            .ok_or_else(|| PyKeyError::new_err(format!("no station plan {station_plan}")))?;
        let mut fields: Vec<Vec<(u8, f64)>> = Vec::with_capacity(readings.len());
        for r in &readings {
            let mut fs = Vec::with_capacity(r.4.len());
            for (name, x) in &r.4 {
                fs.push((field_of(name, &format!("reading {}", r.0))?, *x));
            }
            fields.push(fs);
        }
        let mut ins: Vec<ReadingIn<'_>> = Vec::with_capacity(readings.len());
        for (r, fs) in readings.iter().zip(&fields) {
            let p = self
                .plans
                .get(r.5)
                .ok_or_else(|| PyKeyError::new_err(format!("no plan {}", r.5)))?;
            ins.push(ReadingIn {
                code: &r.0,
                flag: &r.1,
                cn: r.2,
                t: r.3,
                fields: fs,
                plan: p,
            });
        }
        let wanted = match open {
            None => Wanted::All,
            Some(keys) => {
                let mut out = Vec::with_capacity(keys.len());
                for (code, rule) in keys {
                    // an episode of another detector (offline, missing, a clue) wants no look
                    if let Some(r) = Rule::from_name(&rule) {
                        out.push((code, r));
                    }
                }
                Wanted::Open(out)
            }
        };
        let frame = FrameIn {
            cn,
            t,
            ahead_s,
            resent,
            period,
            readings: &ins,
        };
        let state = self.states.entry(mn.to_owned()).or_default();
        self.scratch.clear();
        observe_frame(state, plan, &frame, &wanted, &mut self.scratch);
        let out = PyList::empty(py);
        for o in &self.scratch {
            out.append(obs_tuple(py, o)?)?;
        }
        Ok(out)
    }

    /// The observations of a batch's frames, straight from its columns: frame k (in the
    /// order given; one station's frames in arrival order) is the rows
    /// `frame_start[k]..frame_end[k]` of the row columns. Per frame: its MN, data type,
    /// data time (s), data time minus receive time (s), the data type's period and
    /// station plan. Per row: code and flag (NumPy bytes columns as buffer and item
    /// width), data type, data time (s), the numeric matrix (NaN: absent) and plan id.
    /// `open`: MN -> the (code, rule) of its open episodes (a station not in it has
    /// none); a key hit in the batch is wanted from then on too (the episode it opens
    /// counts the looks; a look at an episode that is not open is ignored by the fold).
    /// Returns (frame k, reading index in the frame or -1, rule, hit, evidence began or
    /// None, evidence) per observation, frames in order.
    #[pyo3(signature = (frame_mn, frame_start, frame_end, frame_cn, frame_t, frame_ahead,
                        frame_period, frame_plan, codes, code_width, flags, flag_width,
                        row_cn, row_t, numeric, row_plan, open))]
    #[allow(clippy::too_many_arguments)] // one per column, as the batch holds them
    fn observe_batch<'py>(
        &mut self,
        py: Python<'py>,
        frame_mn: Vec<String>,
        frame_start: PyReadonlyArray1<'py, i64>,
        frame_end: PyReadonlyArray1<'py, i64>,
        frame_cn: PyReadonlyArray1<'py, i64>,
        frame_t: PyReadonlyArray1<'py, i64>,
        frame_ahead: PyReadonlyArray1<'py, f64>,
        frame_period: PyReadonlyArray1<'py, i64>,
        frame_plan: PyReadonlyArray1<'py, i64>,
        codes: &[u8],
        code_width: usize,
        flags: &[u8],
        flag_width: usize,
        row_cn: PyReadonlyArray1<'py, i64>,
        row_t: PyReadonlyArray1<'py, i64>,
        numeric: PyReadonlyArray2<'py, f64>,
        row_plan: PyReadonlyArray1<'py, i64>,
        open: HashMap<String, Vec<(String, String)>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (fs, fe) = (frame_start.as_slice()?, frame_end.as_slice()?);
        let (fcn, ft, fa) = (
            frame_cn.as_slice()?,
            frame_t.as_slice()?,
            frame_ahead.as_slice()?,
        );
        let (fp, fpl) = (frame_period.as_slice()?, frame_plan.as_slice()?);
        let n = frame_mn.len();
        for (name, len) in [
            ("frame_start", fs.len()),
            ("frame_end", fe.len()),
            ("frame_cn", fcn.len()),
            ("frame_t", ft.len()),
            ("frame_ahead", fa.len()),
            ("frame_period", fp.len()),
            ("frame_plan", fpl.len()),
        ] {
            if len != n {
                return Err(bad(
                    "observe_batch",
                    format!("{name} has {len} items, not {n}"),
                ));
            }
        }
        let b = BatchCols {
            codes,
            code_width: code_width.max(1),
            flags,
            flag_width: flag_width.max(1),
            row_cn: row_cn.as_slice()?,
            row_t: row_t.as_slice()?,
            numeric: numeric.as_array(),
            row_plan: row_plan.as_slice()?,
        };
        let rows = b.row_cn.len();
        if b.row_t.len() != rows || b.row_plan.len() != rows || b.numeric.nrows() != rows {
            return Err(bad("observe_batch", "the row columns differ in length"));
        }
        // per station, the keys whose looks are wanted: open at the start, or hit since
        let mut wanted: HashMap<&str, Wanted> = HashMap::new();
        for (mn, keys) in &open {
            let keys = keys
                .iter()
                .filter_map(|(c, r)| Rule::from_name(r).map(|r| (c.clone(), r)))
                .collect();
            wanted.insert(mn.as_str(), Wanted::Open(keys));
        }
        let out = PyList::empty(py);
        let mut fields: Vec<(u8, f64)> = Vec::new();
        for k in 0..n {
            let (start, end) = (fs[k], fe[k]);
            if start < 0 || end < start || end as usize > rows {
                return Err(bad(
                    "observe_batch",
                    format!("frame {k}: rows {start}..{end}"),
                ));
            }
            let (start, end) = (start as usize, end as usize);
            let plan = usize::try_from(fpl[k])
                .ok()
                .and_then(|i| self.stations.get(i))
                .ok_or_else(|| PyKeyError::new_err(format!("no station plan {}", fpl[k])))?;
            let texts = frame_rows(&b, start, end, &mut fields)?;
            let mut ins: Vec<ReadingIn<'_>> = Vec::with_capacity(texts.len());
            for (j, (code, flag, span)) in texts.iter().enumerate() {
                let row = start + j;
                let p = usize::try_from(b.row_plan[row])
                    .ok()
                    .and_then(|i| self.plans.get(i))
                    .ok_or_else(|| PyKeyError::new_err(format!("no plan {}", b.row_plan[row])))?;
                ins.push(ReadingIn {
                    code,
                    flag,
                    cn: b.row_cn[row],
                    t: b.row_t[row],
                    fields: &fields[span.clone()],
                    plan: p,
                });
            }
            let frame = FrameIn {
                cn: fcn[k],
                t: ft[k],
                ahead_s: fa[k],
                resent: false,
                period: fp[k],
                readings: &ins,
            };
            let mn = frame_mn[k].as_str();
            let want = wanted.entry(mn).or_insert_with(|| Wanted::Open(Vec::new()));
            let state = match self.states.get_mut(mn) {
                Some(state) => state,
                None => self.states.entry(mn.to_owned()).or_default(),
            };
            self.scratch.clear();
            observe_frame(state, plan, &frame, want, &mut self.scratch);
            for o in &self.scratch {
                if o.hit {
                    let code = o.reading.map_or("", |i| ins[i].code);
                    if let Wanted::Open(keys) = want {
                        if !keys.iter().any(|(c, r)| *r == o.rule && c == code) {
                            keys.push((code.to_owned(), o.rule));
                        }
                    }
                }
                let reading: i64 = o.reading.map_or(-1, |i| i as i64);
                let t = (
                    k,
                    reading,
                    o.rule.name(),
                    o.hit,
                    o.first,
                    ev_tuple(py, &o.ev)?,
                );
                out.append(t.into_pyobject(py)?)?;
            }
        }
        Ok(out)
    }
}

/// The text of fixed-width item `i` of a NumPy bytes column handed over as its buffer
/// (`arr.tobytes()`, `arr.dtype.itemsize`): NUL padding cut, each byte outside ASCII read
/// as U+FFFD (as Python's `decode("ascii", "replace")`). Borrowed when it is ASCII, as
/// codes and flags are.
fn item(blob: &[u8], width: usize, i: usize) -> PyResult<Cow<'_, str>> {
    let raw = blob
        .get(i * width..(i + 1) * width)
        .ok_or_else(|| bad("value kernel", format!("bytes column has no item {i}")))?;
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let raw = &raw[..end];
    if raw.is_ascii() {
        if let Ok(text) = std::str::from_utf8(raw) {
            return Ok(Cow::Borrowed(text));
        }
    }
    Ok(Cow::Owned(
        raw.iter()
            .map(|&b| if b.is_ascii() { b as char } else { '\u{fffd}' })
            .collect(),
    ))
}

/// The kernel's columns of one batch, borrowed from NumPy.
struct BatchCols<'a> {
    codes: &'a [u8],
    code_width: usize,
    flags: &'a [u8],
    flag_width: usize,
    row_cn: &'a [i64],
    row_t: &'a [i64],
    numeric: numpy::ndarray::ArrayView2<'a, f64>,
    row_plan: &'a [i64],
}

/// One row's code, flag, and where its present fields are in the frame's field buffer.
type RowText<'a> = (Cow<'a, str>, Cow<'a, str>, std::ops::Range<usize>);

/// One frame's readings from the batch columns: per row its code and flag, and where its
/// present fields are in `fields` (which this fills, after clearing it).
fn frame_rows<'a>(
    b: &BatchCols<'a>,
    start: usize,
    end: usize,
    fields: &mut Vec<(u8, f64)>,
) -> PyResult<Vec<RowText<'a>>> {
    fields.clear();
    let mut out = Vec::with_capacity(end.saturating_sub(start));
    for row in start..end {
        let from = fields.len();
        for (col, x) in b.numeric.row(row).iter().enumerate() {
            if !x.is_nan() && col < FIELD_NAMES.len() {
                fields.push((col as u8, *x));
            }
        }
        out.push((
            item(b.codes, b.code_width, row)?,
            item(b.flags, b.flag_width, row)?,
            from..fields.len(),
        ));
    }
    Ok(out)
}

/// The names the binding exports with the class.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ValueKernel>()?;
    m.add(
        "VALUE_RULES",
        PyTuple::new(m.py(), Rule::ALL.iter().map(|r| r.name()))?,
    )?;
    Ok(())
}
