//! The Python module `hj212._hj212`: the one file that knows about Python.
//! Every type here wraps a pure-Rust type of this crate; no protocol logic lives here.

use std::collections::HashMap;

use numpy::ndarray::Array1;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::batch::{self, Columns};
use crate::cp::NUMERIC_SUFFIXES;
use crate::crc::{CrcVariant, CrcVariants};
use crate::encode::{self as enc, Fields, Reply};
use crate::envelope;
use crate::error::{ErrorKind, FrameError as RsError, Rejected};
use crate::frame::Options;
use crate::framer::Framer as RsFramer;
use crate::hint;
use crate::model::{Frame as RsFrame, Value};
use crate::pool;
use crate::reassemble::Reassembler as RsReassembler;

mod gateway;
mod values;

create_exception!(
    hj212,
    FrameError,
    PyValueError,
    "A frame that cannot be accepted: .kind, .field, .value, .offset, .qn_rtn, .raw, \
     .crc_variant (the known CRC algorithm a mismatched CRC matches) and the best-effort \
     header fields .qn .st .cn .pw .mn .flag for answering and storing it."
);

fn opts(strict: bool) -> Options {
    if strict {
        Options::strict()
    } else {
        Options::lenient()
    }
}

fn variant_named(name: &str) -> PyResult<CrcVariant> {
    CrcVariant::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown CRC variant {name:?}; known: {}",
            variant_names(CrcVariant::ALL.into_iter()).join(", ")
        ))
    })
}

/// Variant names from Python, checked: an unknown name is an error, not ignored.
fn crc_variants(names: &[String]) -> PyResult<CrcVariants> {
    names.iter().map(|n| variant_named(n)).collect()
}

fn variant_names(vs: impl Iterator<Item = CrcVariant>) -> Vec<&'static str> {
    vs.map(CrcVariant::as_str).collect()
}

fn opts_with(strict: bool, variants: &[String]) -> PyResult<Options> {
    Ok(opts(strict).with_crc_variants(crc_variants(variants)?))
}

/// Build a Python FrameError instance (not raised) carrying everything a caller needs.
fn error_object<'py>(py: Python<'py>, e: &RsError, raw: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let err = FrameError::new_err(e.to_string());
    let obj = err.value(py).clone().into_any();
    let h = hint::scan(raw);
    obj.setattr("kind", e.kind.as_str())?;
    obj.setattr("field", e.field.as_deref())?;
    obj.setattr("value", e.value.as_deref())?;
    obj.setattr("offset", e.offset)?;
    obj.setattr("qn_rtn", e.qn_rtn)?;
    obj.setattr("crc_variant", e.crc_variant.map(CrcVariant::as_str))?;
    obj.setattr("message", &e.message)?;
    obj.setattr("raw", PyBytes::new(py, raw))?;
    obj.setattr("qn", h.qn)?;
    obj.setattr("st", h.st)?;
    obj.setattr("cn", h.cn)?;
    obj.setattr("pw", h.pw)?;
    obj.setattr("mn", h.mn)?;
    obj.setattr("flag", h.flag)?;
    Ok(obj)
}

fn raise(py: Python<'_>, e: &RsError, raw: &[u8]) -> PyErr {
    match error_object(py, e, raw) {
        Ok(obj) => PyErr::from_value(obj),
        Err(err) => err,
    }
}

/// Read the Rust error back out of a Python FrameError instance.
fn error_from_object(obj: &Bound<'_, PyAny>) -> PyResult<(RsError, Vec<u8>)> {
    let kind_s: String = obj.getattr("kind")?.extract()?;
    let kind = ErrorKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind_s)
        .ok_or_else(|| PyValueError::new_err(format!("unknown error kind {kind_s:?}")))?;
    // absent on an error built by hand, as before the attribute existed
    let variant: Option<String> = match obj.getattr("crc_variant") {
        Ok(v) => v.extract()?,
        Err(_) => None,
    };
    let e = RsError {
        kind,
        field: obj.getattr("field")?.extract()?,
        value: obj.getattr("value")?.extract()?,
        offset: obj.getattr("offset")?.extract()?,
        message: obj.getattr("message")?.extract()?,
        qn_rtn: obj.getattr("qn_rtn")?.extract()?,
        crc_variant: variant.as_deref().and_then(CrcVariant::from_name),
    };
    let raw: Vec<u8> = obj.getattr("raw")?.extract()?;
    Ok((e, raw))
}

fn value_object<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Number(x) => x.into_pyobject(py)?.into_any(),
        Value::Text(s) => PyString::new(py, s).into_any(),
    })
}

/// A parsed frame.
#[pyclass(module = "hj212", name = "Frame", frozen)]
pub struct Frame {
    inner: RsFrame,
}

#[pymethods]
impl Frame {
    #[getter]
    fn qn(&self) -> Option<String> {
        self.inner.qn().map(|s| s.into_owned())
    }
    #[getter]
    fn st(&self) -> Option<String> {
        self.inner.st().map(|s| s.into_owned())
    }
    #[getter]
    fn cn(&self) -> String {
        self.inner.cn().into_owned()
    }
    #[getter]
    fn pw(&self) -> Option<String> {
        self.inner.pw().map(|s| s.into_owned())
    }
    #[getter]
    fn mn(&self) -> Option<String> {
        self.inner.mn().map(|s| s.into_owned())
    }
    #[getter]
    fn flag(&self) -> Option<u16> {
        self.inner.flag()
    }
    #[getter]
    fn edition(&self) -> u16 {
        self.inner.edition()
    }
    #[getter]
    fn needs_ack(&self) -> bool {
        self.inner.needs_ack()
    }
    #[getter]
    fn is_split(&self) -> bool {
        self.inner.is_split()
    }
    #[getter]
    fn pnum(&self) -> Option<u32> {
        self.inner.pnum()
    }
    #[getter]
    fn pno(&self) -> Option<u32> {
        self.inner.pno()
    }
    #[getter]
    fn rf(&self) -> Option<String> {
        self.inner.rf().map(|s| s.into_owned())
    }
    #[getter]
    fn cp<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.inner.cp_fields() {
            d.set_item(k.as_ref(), v.as_ref())?;
        }
        Ok(d)
    }
    #[getter]
    fn cp_text(&self) -> String {
        self.inner.cp_text().into_owned()
    }
    #[getter]
    fn data_time(&self) -> Option<String> {
        self.inner.data_time().map(|s| s.into_owned())
    }
    #[getter]
    fn pollutants<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (code, fields) in self.inner.pollutants() {
            let g = PyDict::new(py);
            for (suffix, v) in &fields {
                g.set_item(suffix, value_object(py, v)?)?;
            }
            d.set_item(code, g)?;
        }
        Ok(d)
    }
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect()
    }
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.raw)
    }
    #[getter]
    fn segment(&self) -> String {
        self.inner.segment().into_owned()
    }
    #[getter]
    fn crc(&self) -> u16 {
        self.inner.crc()
    }
    fn text(&self, name: &str) -> Option<String> {
        self.inner.field_text(name).map(|s| s.into_owned())
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("qn", self.qn())?;
        d.set_item("st", self.st())?;
        d.set_item("cn", self.cn())?;
        d.set_item("pw", self.pw())?;
        d.set_item("mn", self.mn())?;
        d.set_item("flag", self.flag())?;
        d.set_item("edition", self.edition())?;
        d.set_item("needs_ack", self.needs_ack())?;
        d.set_item("is_split", self.is_split())?;
        d.set_item("pnum", self.pnum())?;
        d.set_item("pno", self.pno())?;
        d.set_item("rf", self.rf())?;
        d.set_item("data_time", self.data_time())?;
        d.set_item("cp", self.cp(py)?)?;
        d.set_item("pollutants", self.pollutants(py)?)?;
        d.set_item("warnings", self.warnings())?;
        d.set_item("crc", self.crc())?;
        Ok(d)
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<Frame>() {
            Ok(o) => o.get().inner == self.inner,
            Err(_) => false,
        }
    }
    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.raw.hash(&mut h);
        h.finish()
    }
    fn __repr__(&self) -> String {
        format!(
            "Frame(cn={}, mn={:?}, qn={:?}, edition={}, data_time={:?}, warnings={})",
            self.inner.cn(),
            self.inner.mn().unwrap_or_default(),
            self.inner.qn().unwrap_or_default(),
            self.inner.edition(),
            self.inner.data_time().unwrap_or_default(),
            self.inner.warnings.len()
        )
    }
}

fn frame_object(py: Python<'_>, f: RsFrame) -> PyResult<Bound<'_, PyAny>> {
    Ok(Bound::new(py, Frame { inner: f })?.into_any())
}

/// ClickHouse's Native form of a `String` column whose values are NumPy `S<width>` items
/// (``column.view(np.uint8)``, contiguous): each value's LEB128 length, then its bytes,
/// trailing NULs dropped as NumPy drops them. The GIL is released while it writes.
#[pyfunction]
fn native_strings<'py>(
    py: Python<'py>,
    data: PyReadonlyArray1<'py, u8>,
    width: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let blob = data.as_slice().map_err(|_| {
        PyValueError::new_err(
            "native_strings: data is not contiguous; fix: pass \
             np.ascontiguousarray(column).view(np.uint8)",
        )
    })?;
    if width == 0 && !blob.is_empty() || width > 0 && blob.len() % width != 0 {
        return Err(PyValueError::new_err(format!(
            "native_strings: width={width} does not divide the {} bytes of data; fix: pass \
             the column's dtype.itemsize",
            blob.len()
        )));
    }
    let mut out = Vec::new();
    py.detach(|| crate::native::write_strings(blob, width, &mut out));
    Ok(PyBytes::new(py, &out))
}

#[pyfunction]
#[pyo3(signature = (data, variant = "hj212"))]
fn crc16(data: &[u8], variant: &str) -> PyResult<u16> {
    // the standard's CRC first: the common call, with no name lookup
    if variant == "hj212" {
        return Ok(crate::crc::crc16(data));
    }
    Ok(variant_named(variant)?.compute(data))
}

#[pyfunction]
#[pyo3(
    signature = (data, *, strict = false, crc_variants = Vec::new()),
    text_signature = "(data, *, strict=False, crc_variants=())"
)]
fn parse(py: Python<'_>, data: &[u8], strict: bool, crc_variants: Vec<String>) -> PyResult<Frame> {
    match RsFrame::parse(data, &opts_with(strict, &crc_variants)?) {
        Ok(f) => Ok(Frame { inner: f }),
        Err(e) => Err(raise(py, &e, data)),
    }
}

#[pyfunction]
#[pyo3(signature = (segment, *, strict = false))]
fn parse_segment(py: Python<'_>, segment: &Bound<'_, PyAny>, strict: bool) -> PyResult<Frame> {
    let bytes: Vec<u8> = if let Ok(s) = segment.cast::<PyString>() {
        s.to_str()?.as_bytes().to_vec()
    } else {
        segment.extract()?
    };
    match RsFrame::parse_segment(&bytes, &opts(strict)) {
        Ok(f) => Ok(Frame { inner: f }),
        Err(e) => Err(raise(py, &e, &crate::frame::wrap(&bytes))),
    }
}

fn items_to_list<'py>(
    py: Python<'py>,
    items: Vec<Result<RsFrame, Rejected>>,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for item in items {
        match item {
            Ok(f) => list.append(frame_object(py, f)?)?,
            Err(r) => list.append(error_object(py, &r.error, &r.raw)?)?,
        }
    }
    Ok(list)
}

/// Cuts a TCP byte stream into frames.
#[pyclass(module = "hj212", name = "Framer")]
pub struct Framer {
    inner: RsFramer,
}

#[pymethods]
impl Framer {
    #[new]
    #[pyo3(
        signature = (*, strict = false, crc_variants = Vec::new()),
        text_signature = "(*, strict=False, crc_variants=())"
    )]
    fn new(strict: bool, crc_variants: Vec<String>) -> PyResult<Self> {
        Ok(Framer {
            inner: RsFramer::new(opts_with(strict, &crc_variants)?),
        })
    }
    #[getter(crc_variants)]
    fn get_crc_variants<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, variant_names(self.inner.options().crc_variants.iter()))
    }
    #[setter(crc_variants)]
    fn set_crc_variants(&mut self, names: Vec<String>) -> PyResult<()> {
        self.inner.set_crc_variants(crc_variants(&names)?);
        Ok(())
    }
    fn feed<'py>(&mut self, py: Python<'py>, chunk: &[u8]) -> PyResult<Bound<'py, PyList>> {
        let mut out = Vec::new();
        self.inner.feed(chunk, &mut out);
        items_to_list(py, out)
    }
    /// `feed` for a connection whose frames come from `mn` with password `pw`: when the
    /// chunk completes exactly one frame, from that MN with that PW, and not a command's
    /// answer (9011, 9012), it gives `(cn, envelope, spool record, answer)` for it
    /// (`accept_frame`'s values) instead of the list, so the gateway's usual read costs one
    /// call and no `Frame` object. Anything else: the list `feed` gives.
    #[pyo3(signature = (chunk, mn, pw, topic, key, receive_ns, seq, sender, /))]
    #[allow(clippy::too_many_arguments)]
    fn feed_accepting<'py>(
        &mut self,
        py: Python<'py>,
        chunk: &[u8],
        mn: &str,
        pw: &str,
        topic: u8,
        key: &[u8],
        receive_ns: u64,
        seq: u64,
        sender: &[u8],
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut out = Vec::new();
        self.inner.feed(chunk, &mut out);
        if let [Ok(f)] = out.as_slice() {
            let cn = f.cn();
            if f.mn().as_deref() == Some(mn)
                && f.pw().as_deref() == Some(pw)
                && cn != "9011"
                && cn != "9012"
            {
                let (value, record, reply) =
                    accepted_parts(py, f, topic, key, receive_ns, seq, sender)?;
                let cn = PyString::new(py, &cn);
                return Ok(PyTuple::new(
                    py,
                    [
                        cn.into_any(),
                        value.into_any(),
                        record.into_any(),
                        reply.map_or_else(|| py.None().into_bound(py), Bound::into_any),
                    ],
                )?
                .into_any());
            }
        }
        Ok(items_to_list(py, out)?.into_any())
    }
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut out = Vec::new();
        self.inner.finish(&mut out);
        items_to_list(py, out)
    }
    #[getter]
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
    #[getter]
    fn stats(&self) -> HashMap<&'static str, u64> {
        let s = self.inner.stats();
        HashMap::from([
            ("frames", s.frames),
            ("errors", s.errors),
            ("garbage_bytes", s.garbage_bytes),
            ("resyncs", s.resyncs),
            ("bytes", s.bytes),
        ])
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn secs_to_ms(now: Option<f64>) -> u64 {
    now.map_or_else(now_ms, |s| (s.max(0.0) * 1000.0) as u64)
}

/// Joins split messages.
#[pyclass(module = "hj212", name = "Reassembler")]
pub struct Reassembler {
    inner: RsReassembler,
}

#[pymethods]
impl Reassembler {
    #[new]
    #[pyo3(signature = (*, timeout_s = 300.0, max_messages = 10_000, max_bytes = 16 * 1024 * 1024))]
    fn new(timeout_s: f64, max_messages: usize, max_bytes: usize) -> Self {
        Reassembler {
            inner: RsReassembler::new(
                (timeout_s.max(0.0) * 1000.0) as u64,
                max_messages,
                max_bytes,
            ),
        }
    }
    #[pyo3(signature = (frame, now = None))]
    fn add(
        &mut self,
        py: Python<'_>,
        frame: &Bound<'_, Frame>,
        now: Option<f64>,
    ) -> PyResult<Option<Frame>> {
        let f = frame.get().inner.clone();
        let raw = f.raw.clone();
        match self.inner.add(f, secs_to_ms(now)) {
            Ok(Some(joined)) => Ok(Some(Frame { inner: joined })),
            Ok(None) => Ok(None),
            Err(e) => Err(raise(py, &e, &raw)),
        }
    }
    #[pyo3(signature = (now = None))]
    fn expire(&mut self, now: Option<f64>) -> Vec<(String, String, Vec<u32>)> {
        self.inner
            .expire(secs_to_ms(now))
            .into_iter()
            .map(|x| (x.mn, x.qn, x.missing))
            .collect()
    }
    #[getter]
    fn pending(&self) -> usize {
        self.inner.pending()
    }
    #[getter]
    fn pending_bytes(&self) -> usize {
        self.inner.pending_bytes()
    }
}

fn fixed_text<'py>(py: Python<'py>, data: Vec<u8>, width: usize) -> PyResult<Bound<'py, PyAny>> {
    pooled_array(py, data)?.call_method1("view", (format!("S{width}"),))
}

/// A batch column's buffer, the base object of the NumPy arrays over it: given back to its
/// pool (`crate::pool`) when the last of them is gone, for a later batch's columns.
#[pyclass(module = "hj212", name = "ColumnBuffer", frozen)]
struct ColumnBuffer {
    cells: Cells,
}

enum Cells {
    U8(Array1<u8>),
    U16(Array1<u16>),
    U32(Array1<u32>),
    I16(Array1<i16>),
    I32(Array1<i32>),
    I64(Array1<i64>),
    F64(Array1<f64>),
    Gone,
}

impl Drop for ColumnBuffer {
    fn drop(&mut self) {
        fn back<T: pool::Pooled>(a: Array1<T>) {
            pool::give(a.into_raw_vec_and_offset().0);
        }
        match std::mem::replace(&mut self.cells, Cells::Gone) {
            Cells::U8(a) => back(a),
            Cells::U16(a) => back(a),
            Cells::U32(a) => back(a),
            Cells::I16(a) => back(a),
            Cells::I32(a) => back(a),
            Cells::I64(a) => back(a),
            Cells::F64(a) => back(a),
            Cells::Gone => {}
        }
    }
}

/// The element types of the batch columns, each with its `Cells` case.
trait Cell: numpy::Element + pool::Pooled {
    fn wrap(a: Array1<Self>) -> Cells;
    fn cells(c: &Cells) -> Option<&Array1<Self>>;
}

macro_rules! cell {
    ($($t:ty => $case:ident),* $(,)?) => {
        $(
            impl Cell for $t {
                fn wrap(a: Array1<$t>) -> Cells {
                    Cells::$case(a)
                }
                fn cells(c: &Cells) -> Option<&Array1<$t>> {
                    match c {
                        Cells::$case(a) => Some(a),
                        _ => None,
                    }
                }
            }
        )*
    };
}

cell!(u8 => U8, u16 => U16, u32 => U32, i16 => I16, i32 => I32, i64 => I64, f64 => F64);

/// A column as a NumPy array over its own buffer (no copy), the buffer going back to its
/// pool once the array and every view of it are gone.
fn pooled_array<'py, T: Cell>(py: Python<'py>, v: Vec<T>) -> PyResult<Bound<'py, PyArray1<T>>> {
    let owner = Bound::new(
        py,
        ColumnBuffer {
            cells: T::wrap(Array1::from_vec(v)),
        },
    )?;
    let Some(cells) = T::cells(&owner.get().cells) else {
        return Err(PyTypeError::new_err("a column buffer of another type"));
    };
    // SAFETY: `borrow_from_array` asks that the array's base object (`owner`) not be
    // dropped before the array, and that `cells` not be reallocated until `owner` is
    // dropped. (1) NumPy keeps a reference to its base object for as long as the array
    // lives, and every view's base chain leads to it, so `owner` outlives them all.
    // (2) `ColumnBuffer` is frozen: after `Bound::new` Rust reaches `cells` only through
    // `&` (no push, no resize, no reallocation), and the one `&mut` is its `Drop`, which
    // runs when the last reference is gone, hence after the last array. So the buffer is
    // given back to the pool, and can be taken by another batch, only once no array over it
    // exists.
    Ok(unsafe { PyArray1::borrow_from_array(cells, owner.clone().into_any()) })
}

fn columns_dict<'py>(py: Python<'py>, c: Columns) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("row_frame", pooled_array(py, c.row_frame)?)?;
    d.set_item("mn", fixed_text(py, c.mn, batch::MN_WIDTH)?)?;
    d.set_item("st", fixed_text(py, c.st, batch::ST_WIDTH)?)?;
    d.set_item("cn", pooled_array(py, c.cn)?)?;
    d.set_item(
        "data_time",
        pooled_array(py, c.data_time)?.call_method1("view", ("datetime64[s]",))?,
    )?;
    d.set_item("code", fixed_text(py, c.code, batch::CODE_WIDTH)?)?;
    // row-major (rows x suffixes); hj212.decode_batch makes the per-suffix column views
    d.set_item("numeric", pooled_array(py, c.numeric)?)?;
    d.set_item("flag", fixed_text(py, c.flag, batch::FLAG_WIDTH)?)?;
    d.set_item("eflag", fixed_text(py, c.eflag, batch::EFLAG_WIDTH)?)?;
    d.set_item("status", pooled_array(py, c.status)?)?;
    d.set_item("frame_mn", fixed_text(py, c.frame_mn, batch::MN_WIDTH)?)?;
    d.set_item("frame_st", fixed_text(py, c.frame_st, batch::ST_WIDTH)?)?;
    d.set_item("frame_cn", pooled_array(py, c.frame_cn)?)?;
    d.set_item("frame_qn", fixed_text(py, c.frame_qn, batch::QN_WIDTH)?)?;
    d.set_item("frame_flag", pooled_array(py, c.frame_flag)?)?;
    d.set_item("frame_edition", pooled_array(py, c.frame_edition)?)?;
    d.set_item(
        "frame_data_time",
        pooled_array(py, c.frame_data_time)?.call_method1("view", ("datetime64[s]",))?,
    )?;
    d.set_item("frame_rows", pooled_array(py, c.frame_rows)?)?;
    d.set_item("frame_warnings", pooled_array(py, c.frame_warnings)?)?;
    let errors = PyList::empty(py);
    for (i, e) in &c.errors {
        errors.append((i, e.kind.as_str(), e.field.as_deref(), e.to_string()))?;
    }
    d.set_item("errors", errors)?;
    Ok(d)
}

/// `ZsRtd` -> `zs_rtd`, `UpValue` -> `up_value`, `RS` -> `rs`: column names in snake case.
fn column_name(suffix: &str) -> String {
    let mut s = String::with_capacity(suffix.len() + 2);
    let mut prev_lower = false;
    for ch in suffix.chars() {
        if ch.is_ascii_uppercase() && prev_lower {
            s.push('_');
        }
        prev_lower = ch.is_ascii_lowercase();
        s.push(ch.to_ascii_lowercase());
    }
    s
}

#[pyfunction]
#[pyo3(
    signature = (frames, *, strict = false, crc_variants = Vec::new(), fast = true),
    text_signature = "(frames, *, strict=False, crc_variants=(), fast=True)"
)]
fn decode_batch_raw<'py>(
    py: Python<'py>,
    frames: &Bound<'py, PyAny>,
    strict: bool,
    crc_variants: Vec<String>,
    fast: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let o = opts_with(strict, &crc_variants)?;
    let held = held_bytes(frames)?;
    let slices: Vec<&[u8]> = held
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if let Some(ahead) = held.get(i + OBJECTS_AHEAD) {
                prefetch_object(ahead.as_ptr());
            }
            b.as_bytes()
        })
        .collect();
    // bytes objects are immutable and `held` keeps them alive, so the slices stay valid
    // while other Python threads run
    // `fast=False` forces the validating path for every data area (the differential tests)
    let cols = py.detach(|| {
        if fast {
            batch::decode_batch(&slices, &o)
        } else {
            batch::decode_batch_validating(&slices, &o)
        }
    });
    drop(slices);
    release(held);
    columns_dict(py, cols)
}

/// How many items ahead `held_bytes` and `release` ask for an object's header.
const OBJECTS_AHEAD: usize = 16;

/// Ask for the header of the object at `object` (its reference count, type and size: 32
/// bytes, which may straddle two cache lines); only a hint, for any address.
#[inline(always)]
fn prefetch_object(object: *mut pyo3::ffi::PyObject) {
    let at = object.cast::<u8>().cast_const();
    batch::prefetch_line(at);
    batch::prefetch_line(at.wrapping_add(31));
}

/// The frames of a list (or any iterable) of bytes, each held (a reference taken) while
/// the GIL is released.
///
/// A batch's bytes objects are seldom in the cache: each first touch (the reference count,
/// the type) waited on memory, one after the other (perf: three quarters of this function's
/// own time on one load), so the header of the object `OBJECTS_AHEAD` items on is asked for
/// while this one is taken.
fn held_bytes<'py>(frames: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let not_bytes = || PyTypeError::new_err("decode_batch takes a sequence of bytes");
    let mut held: Vec<Bound<'py, PyBytes>> = Vec::new();
    if let Ok(list) = frames.cast::<PyList>() {
        let n = list.len();
        held.reserve(n);
        for i in 0..n {
            let ahead = i + OBJECTS_AHEAD;
            if ahead < n {
                // SAFETY: `ahead < n`, the list's length when the loop began, and the list
                // cannot change meanwhile: this thread holds the GIL (the module does not
                // declare `gil_used = false`, so a free-threaded Python enables the GIL for
                // it) and runs no Python code (the casts and `Vec::push` run none), so
                // `PyList_GET_ITEM` reads an item slot inside the list's array. The pointer
                // read is only given to a prefetch, never dereferenced.
                let item = unsafe {
                    pyo3::ffi::PyList_GET_ITEM(list.as_ptr(), ahead as pyo3::ffi::Py_ssize_t)
                };
                prefetch_object(item);
            }
            held.push(
                list.get_item(i)?
                    .cast_into::<PyBytes>()
                    .map_err(|_| not_bytes())?,
            );
        }
    } else {
        for item in frames.try_iter()? {
            held.push(item?.cast_into::<PyBytes>().map_err(|_| not_bytes())?);
        }
    }
    Ok(held)
}

/// Let go of the references `held_bytes` took, the objects' headers asked for ahead (by
/// then the batch's columns have pushed them out of the cache).
fn release(mut held: Vec<Bound<'_, PyBytes>>) {
    while let Some(b) = held.pop() {
        if let Some(ahead) = held.len().checked_sub(OBJECTS_AHEAD) {
            prefetch_object(held[ahead].as_ptr());
        }
        drop(b);
    }
}

/// Gateway envelopes (`pipeline/gateway/envelope.py`) read a batch at a time: the
/// columns (kind, receive ns, sequence, gateway, peer, reason, raw) of the values that
/// are envelopes, and (index, what is wrong) of those that are not. Texts are read as
/// the reference reads them (gateway and reason UTF-8, peer ASCII, each undecodable byte
/// U+FFFD); a gateway or peer repeated in the batch is one string object.
#[pyfunction]
fn decode_envelopes<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyList>,
) -> PyResult<Bound<'py, PyTuple>> {
    let n = values.len();
    let mut kinds: Vec<u8> = Vec::with_capacity(n);
    let mut receive: Vec<i64> = Vec::with_capacity(n);
    let mut seqs: Vec<u64> = Vec::with_capacity(n);
    let gateways = PyList::empty(py);
    let peers = PyList::empty(py);
    let reasons = PyList::empty(py);
    let raws = PyList::empty(py);
    let errors = PyList::empty(py);
    // per batch, each distinct gateway id and peer made into a string once
    let mut seen: [HashMap<Vec<u8>, Bound<'py, PyString>>; 2] = [HashMap::new(), HashMap::new()];
    let mut text = |ascii: bool, bytes: &[u8]| -> Bound<'py, PyString> {
        let known = &mut seen[usize::from(ascii)];
        if let Some(s) = known.get(bytes) {
            return s.clone();
        }
        let s = if ascii {
            let decoded: String = bytes
                .iter()
                .map(|&b| if b.is_ascii() { b as char } else { '\u{fffd}' })
                .collect();
            PyString::new(py, &decoded)
        } else {
            PyString::new(py, &String::from_utf8_lossy(bytes))
        };
        known.insert(bytes.to_vec(), s.clone());
        s
    };
    for (i, item) in values.iter().enumerate() {
        let value = item
            .cast::<PyBytes>()
            .map_err(|_| PyTypeError::new_err("decode_envelopes takes a list of bytes"))?;
        match envelope::read(value.as_bytes()) {
            Ok(e) => {
                kinds.push(e.kind);
                // ns since 1970 in a u64 exceeds i64 only after the year 2262
                receive.push(i64::try_from(e.receive_ns).unwrap_or(i64::MAX));
                seqs.push(e.seq);
                gateways.append(text(false, e.gateway))?;
                peers.append(text(true, e.peer))?;
                if e.reason.is_empty() {
                    reasons.append(PyString::new(py, ""))?;
                } else {
                    reasons.append(String::from_utf8_lossy(e.reason))?;
                }
                raws.append(PyBytes::new(py, e.raw))?;
            }
            Err(message) => errors.append((i, message))?,
        }
    }
    (
        PyArray1::from_vec(py, kinds),
        PyArray1::from_vec(py, receive),
        PyArray1::from_vec(py, seqs),
        gateways,
        peers,
        reasons,
        raws,
        errors,
    )
        .into_pyobject(py)
}

/// CP given as name/value pairs, or as raw text (the second).
type CpInput = (Vec<(String, String)>, Option<String>);

fn pairs(obj: Option<&Bound<'_, PyAny>>) -> PyResult<CpInput> {
    let Some(obj) = obj else {
        return Ok((Vec::new(), None));
    };
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok((Vec::new(), Some(s.to_str()?.to_owned())));
    }
    let mut out = Vec::new();
    if let Ok(d) = obj.cast::<PyDict>() {
        for (k, v) in d.iter() {
            out.push((k.extract::<String>()?, text_value(&v)?));
        }
    } else {
        for item in obj.try_iter()? {
            let item = item?;
            let t = item
                .cast::<PyTuple>()
                .map_err(|_| PyTypeError::new_err("CP pairs are (name, value) tuples"))?;
            out.push((
                t.get_item(0)?.extract::<String>()?,
                text_value(&t.get_item(1)?)?,
            ));
        }
    }
    Ok((out, None))
}

/// A field value as the standard writes it: datetimes as YYYYMMDDhhmmss, numbers as text.
fn text_value(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_str()?.to_owned());
    }
    if v.hasattr("strftime")? {
        return v.call_method1("strftime", ("%Y%m%d%H%M%S",))?.extract();
    }
    Ok(v.str()?.to_str()?.to_owned())
}

fn rs_err(py: Python<'_>, e: RsError) -> PyErr {
    raise(py, &e, b"")
}

#[pyfunction]
#[pyo3(signature = (*, cn, st, mn, pw, qn = None, flag = None, pnum = None, pno = None, rf = None, cp = None))]
#[allow(clippy::too_many_arguments)]
fn encode<'py>(
    py: Python<'py>,
    cn: &Bound<'py, PyAny>,
    st: &Bound<'py, PyAny>,
    mn: Option<String>,
    pw: Option<String>,
    qn: Option<String>,
    flag: Option<u16>,
    pnum: Option<u32>,
    pno: Option<u32>,
    rf: Option<&Bound<'py, PyAny>>,
    cp: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let cn_s = text_value(cn)?;
    let cn_n: u16 = cn_s
        .parse()
        .map_err(|_| PyValueError::new_err(format!("CN={cn_s:?}: CN is 4 digits")))?;
    let (cp_pairs, cp_raw) = pairs(cp)?;
    let f = Fields {
        qn,
        st: text_value(st)?,
        cn: cn_n,
        pw: pw.unwrap_or_default(),
        mn: mn.unwrap_or_default(),
        flag,
        pnum,
        pno,
        rf: rf.map(text_value).transpose()?,
        cp: cp_pairs,
        cp_raw,
    };
    let bytes = enc::encode(&f).map_err(|e| rs_err(py, e))?;
    Ok(PyBytes::new(py, &bytes))
}

#[pyfunction]
#[pyo3(signature = (frame, *, qn_rtn = None, exe_rtn = None, cn = None))]
fn answer<'py>(
    py: Python<'py>,
    frame: &Bound<'py, Frame>,
    qn_rtn: Option<u16>,
    exe_rtn: Option<u16>,
    cn: Option<u16>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let reply = match (qn_rtn, exe_rtn, cn) {
        (Some(q), None, None) => Reply::QnRtn(q),
        (None, Some(x), None) => Reply::ExeRtn(x),
        (None, None, Some(9013)) => Reply::Notify,
        (None, None, Some(9014)) => Reply::Data,
        (None, None, None) => Reply::Auto,
        _ => {
            return Err(PyValueError::new_err(
                "give at most one of qn_rtn, exe_rtn, or cn (9013 or 9014)",
            ))
        }
    };
    Ok(enc::answer(&frame.get().inner, reply).map(|b| PyBytes::new(py, &b)))
}

/// The accepted frame's envelope, its spool record and its answer (see `accept_frame`).
type Accepted<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Option<Bound<'py, PyBytes>>,
);

fn accepted_parts<'py>(
    py: Python<'py>,
    frame: &RsFrame,
    topic: u8,
    key: &[u8],
    receive_ns: u64,
    seq: u64,
    sender: &[u8],
) -> PyResult<Accepted<'py>> {
    // the envelope is written once, inside its record; the value is that slice of it
    let mut record = Vec::new();
    let value_at = crate::spool::write_record_with(&mut record, topic, key, |out| {
        crate::envelope::write_accepted(out, receive_ns, seq, sender, &frame.raw)
    })
    .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((
        PyBytes::new(py, record.get(value_at..).unwrap_or_default()),
        PyBytes::new(py, &record),
        enc::answer(frame, Reply::Auto).map(|b| PyBytes::new(py, &b)),
    ))
}

/// What the gateway keeps and sends for a frame it accepts, in one call: the envelope
/// (`envelope.encode_accepted`), the spool record that holds it under `topic` and `key`
/// (`spool.record`), and the frame's answer (`answer(frame)`).
#[pyfunction]
#[pyo3(signature = (frame, topic, key, receive_ns, seq, sender, /))]
fn accept_frame<'py>(
    py: Python<'py>,
    frame: &Bound<'py, Frame>,
    topic: u8,
    key: &[u8],
    receive_ns: u64,
    seq: u64,
    sender: &[u8],
) -> PyResult<Accepted<'py>> {
    accepted_parts(py, &frame.get().inner, topic, key, receive_ns, seq, sender)
}

#[pyfunction]
fn answer_error<'py>(
    py: Python<'py>,
    error: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let (e, raw) = error_from_object(error)?;
    let h = hint::scan(&raw);
    Ok(enc::answer_rejected(&e, &h).map(|b| PyBytes::new(py, &b)))
}

#[pyfunction]
#[pyo3(signature = (cn, mn, pw, *, st = None, qn = None, edition = 2017, needs_ack = true, **fields))]
#[allow(clippy::too_many_arguments)]
fn request<'py>(
    py: Python<'py>,
    cn: u16,
    mn: &str,
    pw: &str,
    st: Option<&Bound<'py, PyAny>>,
    qn: Option<String>,
    edition: u16,
    needs_ack: bool,
    fields: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let st = match st {
        Some(s) => text_value(s)?,
        None => "32".to_owned(),
    };
    let mut cp = Vec::new();
    if let Some(d) = fields {
        for (k, v) in d.iter() {
            cp.push((k.extract::<String>()?, text_value(&v)?));
        }
    }
    let bytes = enc::request(cn, mn, pw, &st, qn.as_deref(), edition, needs_ack, &cp)
        .map_err(|e| rs_err(py, e))?;
    Ok(PyBytes::new(py, &bytes))
}

#[pyfunction]
fn now_qn() -> String {
    enc::now_qn()
}

fn row_dict(r: &crate::codes::CodeRow) -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("table", r.table),
        ("code", r.code),
        ("code_2005", r.code_2005),
        ("name_zh", r.name_zh),
        ("name_en", r.name_en),
        ("unit", r.unit),
        ("unit_cou", r.unit_cou),
        ("note", r.note),
    ])
}

#[pyfunction]
fn code_table(table: &str) -> PyResult<Vec<HashMap<&'static str, &'static str>>> {
    let rows: Vec<_> = crate::codes::rows(table).map(row_dict).collect();
    if rows.is_empty() {
        return Err(PyValueError::new_err(format!(
            "no code table {table:?}; tables are {}",
            crate::codes::table_names().join(", ")
        )));
    }
    Ok(rows)
}

#[pyfunction]
fn lookup(table: &str, code: &str) -> Option<HashMap<&'static str, &'static str>> {
    crate::codes::lookup(table, code).map(row_dict)
}

#[pyfunction]
fn pollutant_2017(code: &str) -> Option<&'static str> {
    crate::codes::pollutant_2017(code)
}

#[pymodule]
fn _hj212(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FrameError", py.get_type::<FrameError>())?;
    m.add(
        "ERROR_KINDS",
        PyTuple::new(py, ErrorKind::ALL.iter().map(|k| k.as_str()))?,
    )?;
    m.add(
        "CRC_VARIANTS",
        PyTuple::new(py, variant_names(CrcVariant::ALL.into_iter()))?,
    )?;
    m.add(
        "NUMERIC_SUFFIXES",
        PyTuple::new(py, NUMERIC_SUFFIXES.iter().map(|s| column_name(s)))?,
    )?;
    m.add_class::<Frame>()?;
    m.add_class::<Framer>()?;
    m.add_class::<Reassembler>()?;
    m.add_function(wrap_pyfunction!(crc16, m)?)?;
    m.add_function(wrap_pyfunction!(native_strings, m)?)?;
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(parse_segment, m)?)?;
    m.add_function(wrap_pyfunction!(decode_batch_raw, m)?)?;
    m.add_function(wrap_pyfunction!(decode_envelopes, m)?)?;
    m.add_function(wrap_pyfunction!(encode, m)?)?;
    m.add_function(wrap_pyfunction!(answer, m)?)?;
    m.add_function(wrap_pyfunction!(accept_frame, m)?)?;
    m.add_function(wrap_pyfunction!(answer_error, m)?)?;
    m.add_function(wrap_pyfunction!(request, m)?)?;
    m.add_function(wrap_pyfunction!(now_qn, m)?)?;
    m.add_function(wrap_pyfunction!(code_table, m)?)?;
    m.add_function(wrap_pyfunction!(lookup, m)?)?;
    m.add_function(wrap_pyfunction!(pollutant_2017, m)?)?;
    values::register(m)?;
    gateway::register(m)?;
    Ok(())
}
