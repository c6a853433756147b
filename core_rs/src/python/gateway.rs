//! The gateway's Rust parts: `hj212.Front`, its front end (`crate::front`) for
//! `pipeline/gateway/front.py`; `hj212.SpoolWriter` (`crate::spool_writer`) for
//! `pipeline/gateway/spool.py`; `kafka_split` and `kafka_batch` (`crate::kafka`) for
//! `pipeline/gateway/publisher.py`. Events come back as plain tuples; the group of frames kept
//! by the fast path as its spool records in one `bytes` and the (topic, key, value) the
//! spool keeps for its publisher.

use std::os::fd::AsRawFd;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use pyo3::buffer::PyBuffer;

use crate::front::{Binding, Cmd, Event, Front as RsFront};
use crate::kafka;
use crate::spool_writer::{Job, SpoolWriter as RsSpoolWriter};

#[pyclass(module = "hj212", name = "Front")]
pub struct Front {
    inner: Option<RsFront>,
}

impl Front {
    fn front(&self) -> PyResult<&RsFront> {
        self.inner
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("the front end is shut down"))
    }

    fn send(&self, cmd: Cmd) -> PyResult<()> {
        self.front()?.send(cmd);
        Ok(())
    }
}

#[pymethods]
impl Front {
    #[new]
    #[pyo3(signature = (host, port, *, reuse_port = false, strict = false))]
    fn new(host: &str, port: u16, reuse_port: bool, strict: bool) -> PyResult<Self> {
        let inner = RsFront::start(host, port, reuse_port, strict)
            .map_err(|e| PyOSError::new_err(format!("cannot listen on {host}:{port}: {e}")))?;
        Ok(Front { inner: Some(inner) })
    }

    /// The port listened on (the one the OS chose for port 0).
    #[getter]
    fn port(&self) -> PyResult<u16> {
        Ok(self.front()?.local_addr().port())
    }

    /// A descriptor that becomes readable when `take` has something.
    #[getter]
    fn fd(&self) -> PyResult<i32> {
        Ok(self.front()?.wake_reader().as_raw_fd())
    }

    #[getter]
    fn alive(&self) -> bool {
        self.inner.as_ref().is_some_and(RsFront::alive)
    }

    /// `(events, group)`: the events in order, each a tuple (`("open", conn, peer)`,
    /// `("data", conn, bytes, seq)`, `("closed", conn, error or None)`, `("write_paused",
    /// conn)`, `("write_resumed", conn)`, `("accept_failed", 0, error)`), and None or the
    /// frames the fast path kept since the last take: `(token, records, count, cns, conns, bytes_in, answers,
    /// answer_bytes)`, the `count` records numbered from `first_seq` under `topic`, `cns`
    /// frames per CN, `conns` (conn, MN,
    /// frames) each once, `answers` answers held per CN.
    fn take<'py>(
        &self,
        py: Python<'py>,
        first_seq: u64,
        topic: u8,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyAny>)> {
        let taken = self
            .front()?
            .take(first_seq, topic)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let events = PyList::empty(py);
        for ev in taken.events {
            let t = match ev {
                Event::Opened { conn, peer } => ("open", conn, peer).into_pyobject(py)?,
                Event::Data { conn, seq, data } => {
                    ("data", conn, PyBytes::new(py, &data), seq).into_pyobject(py)?
                }
                Event::Closed { conn, error } => ("closed", conn, error).into_pyobject(py)?,
                Event::WritePaused { conn } => ("write_paused", conn).into_pyobject(py)?,
                Event::WriteResumed { conn } => ("write_resumed", conn).into_pyobject(py)?,
                Event::AcceptFailed { error } => {
                    ("accept_failed", 0u64, error).into_pyobject(py)?
                }
            };
            events.append(t)?;
        }
        let Some(g) = taken.group else {
            return Ok((events, py.None().into_bound(py)));
        };
        let records = PyBytes::new(py, &g.records);
        let count = g.parts.len();
        let cns = PyDict::new(py);
        for (cn, n) in g.cns {
            cns.set_item(cn, n)?;
        }
        let conns = PyList::empty(py);
        for (c, mn, n) in g.conns {
            conns.append((c, mn, n))?;
        }
        let answers = PyDict::new(py);
        for (cn, n) in g.answers {
            answers.set_item(cn, n)?;
        }
        let group = (
            g.token,
            records,
            count,
            cns,
            conns,
            g.bytes_in,
            answers,
            g.answer_bytes,
        )
            .into_pyobject(py)?
            .into_any();
        Ok((events, group))
    }

    fn write(&self, conn: u64, data: &[u8]) -> PyResult<()> {
        self.send(Cmd::Write(conn, data.to_vec()))
    }

    fn pause(&self, conn: u64) -> PyResult<()> {
        self.send(Cmd::Pause(conn))
    }

    fn resume(&self, conn: u64) -> PyResult<()> {
        self.send(Cmd::Resume(conn))
    }

    /// Send what is queued for `conn`, then close it.
    fn close(&self, conn: u64) -> PyResult<()> {
        self.send(Cmd::Close(conn))
    }

    fn abort(&self, conn: u64) -> PyResult<()> {
        self.send(Cmd::Abort(conn))
    }

    /// From now on `conn`'s usual read (one frame from `mn` with `pw`, not 9011/9012) is
    /// kept here under `key` with `sender`, if no data event went out for it after the
    /// `seq`th (the last its session has read).
    #[pyo3(signature = (conn, seq, mn, pw, key, sender))]
    fn bind(
        &self,
        conn: u64,
        seq: u64,
        mn: String,
        pw: String,
        key: Vec<u8>,
        sender: Vec<u8>,
    ) -> PyResult<()> {
        self.send(Cmd::Bind(
            conn,
            seq,
            Binding {
                mn,
                pw,
                key,
                sender,
            },
        ))
    }

    fn unbind(&self, conn: u64) -> PyResult<()> {
        self.send(Cmd::Unbind(conn))
    }

    fn unbind_all(&self) -> PyResult<()> {
        self.send(Cmd::UnbindAll)
    }

    /// The spool kept the group of `token` (and every one before it): send their answers.
    fn release(&self, token: u64) -> PyResult<()> {
        self.send(Cmd::Release(token))
    }

    fn stop_listening(&self) -> PyResult<()> {
        self.send(Cmd::StopListening)
    }

    /// End the loop and its thread; the connections still open are dropped.
    fn shutdown(&mut self, py: Python<'_>) {
        if let Some(f) = self.inner.take() {
            py.detach(move || drop(f));
        }
    }
}

/// `hj212.SpoolWriter`: the spool's write-and-sync thread (`crate::spool_writer`) for
/// `pipeline/gateway/spool.py`.
#[pyclass(module = "hj212", name = "SpoolWriter")]
pub struct SpoolWriter {
    inner: Option<RsSpoolWriter>,
}

impl SpoolWriter {
    fn writer(&self) -> PyResult<&RsSpoolWriter> {
        self.inner
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("the spool writer is closed"))
    }
}

#[pymethods]
impl SpoolWriter {
    #[new]
    fn new(directory: std::path::PathBuf) -> PyResult<Self> {
        let inner = RsSpoolWriter::start(directory.clone()).map_err(|e| {
            PyOSError::new_err(format!(
                "cannot start the spool writer for {}: {e}",
                directory.display()
            ))
        })?;
        Ok(SpoolWriter { inner: Some(inner) })
    }

    /// A descriptor that becomes readable when `done` has something.
    #[getter]
    fn fd(&self) -> PyResult<i32> {
        Ok(self.writer()?.notify_reader().as_raw_fd())
    }

    /// Once a job is synced, send the answers `front` holds under its `release` token.
    fn release_to(&self, front: &Front) -> PyResult<()> {
        let release = front.front()?.releaser();
        self.writer()?.set_release(Box::new(release));
        Ok(())
    }

    /// Append `chunks` ((segment, bytes) in order) and sync; then release `release`.
    #[pyo3(signature = (chunks, release = 0))]
    fn submit(
        &self,
        py: Python<'_>,
        chunks: Vec<(u64, PyBuffer<u8>)>,
        release: u64,
    ) -> PyResult<()> {
        // one copy of each chunk (bytes or bytearray), into the job
        let chunks = chunks
            .into_iter()
            .map(|(s, b)| Ok((s, b.to_vec(py)?)))
            .collect::<PyResult<_>>()?;
        let job = Job { chunks, release };
        self.writer()?.submit(job);
        Ok(())
    }

    /// The jobs finished since the last call, in order: None, or why one failed.
    fn done(&self) -> PyResult<Vec<Option<String>>> {
        Ok(self.writer()?.done())
    }

    /// Finish the jobs handed over, close the segment and end the thread.
    fn close(&mut self, py: Python<'_>) {
        if let Some(mut w) = self.inner.take() {
            py.detach(move || w.close());
        }
    }
}

/// `kafka_split`'s result: the sections `(topic, partition, records, count)`, the records
/// per topic tag, the round-robin counter
type SplitOut<'py> = (Vec<(u8, i32, Bound<'py, PyBytes>, u32)>, Vec<u64>, u64);

/// A spool read's records (`data`) split by Kafka partition: `(sections, per_topic, rr)`,
/// each section `(topic, partition, records, count)` (see `crate::kafka::split`).
#[pyfunction]
#[pyo3(signature = (data, partitions, rr, first_seq, written, max_section))]
fn kafka_split<'py>(
    py: Python<'py>,
    data: &[u8],
    partitions: Vec<Vec<i32>>,
    rr: u64,
    first_seq: u64,
    written: std::collections::HashMap<(u8, i32), u64>,
    max_section: usize,
) -> PyResult<SplitOut<'py>> {
    let mut rr = rr;
    let split = kafka::split(
        data,
        &partitions,
        &mut rr,
        first_seq,
        |t, p| written.get(&(t, p)).copied(),
        max_section,
    )
    .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let sections = split
        .sections
        .into_iter()
        .map(|s| (s.topic, s.partition, PyBytes::new(py, &s.records), s.count))
        .collect();
    Ok((sections, split.per_topic, rr))
}

/// A Kafka v2 record batch of `count` records made by `kafka_split`.
#[pyfunction]
fn kafka_batch<'py>(
    py: Python<'py>,
    records: &[u8],
    count: u32,
    timestamp_ms: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> PyResult<Bound<'py, PyBytes>> {
    let meta = kafka::BatchMeta {
        count,
        timestamp_ms,
        producer_id,
        producer_epoch,
        base_sequence,
    };
    let head =
        kafka::batch_header(records, &meta).map_err(|e| PyValueError::new_err(e.to_string()))?;
    // made in place: the section is copied once, into the batch
    PyBytes::new_with(py, head.len() + records.len(), |out| {
        out[..head.len()].copy_from_slice(&head);
        out[head.len()..].copy_from_slice(records);
        Ok(())
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Front>()?;
    m.add_class::<SpoolWriter>()?;
    m.add("KAFKA_BATCH_HEAD", kafka::BATCH_HEAD)?;
    m.add_function(wrap_pyfunction!(kafka_split, m)?)?;
    m.add_function(wrap_pyfunction!(kafka_batch, m)?)
}
