//! `hj212.Front`: the gateway's Rust front end (`crate::front`) for
//! `pipeline/gateway/front.py`. Events come back as plain tuples; the group of frames kept
//! by the fast path as its spool records in one `bytes` and the (topic, key, value) the
//! spool keeps for its publisher.

use std::os::fd::AsRawFd;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use pyo3::pybacked::PyBackedBytes;

use crate::front::{Binding, Cmd, Event, Front as RsFront};
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
    /// conn)`, `("write_resumed", conn)`), and None or the frames the fast path kept since
    /// the last take: `(token, records, kept, cns, conns, bytes_in, answers,
    /// answer_bytes)`, the records numbered from `first_seq` under `topic`, `kept` the
    /// spool's (topic, key, value) per record, `cns` frames per CN, `conns` (conn, MN,
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
            };
            events.append(t)?;
        }
        let Some(g) = taken.group else {
            return Ok((events, py.None().into_bound(py)));
        };
        let records = PyBytes::new(py, &g.records);
        let kept = PyList::empty(py);
        for (k, v) in &g.parts {
            let key = PyBytes::new(py, g.records.get(k.clone()).unwrap_or_default());
            let value = PyBytes::new(py, g.records.get(v.clone()).unwrap_or_default());
            kept.append(PyTuple::new(
                py,
                [
                    topic.into_pyobject(py)?.into_any(),
                    key.into_any(),
                    value.into_any(),
                ],
            )?)?;
        }
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
            kept,
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
    fn submit(&self, chunks: Vec<(u64, PyBackedBytes)>, release: u64) -> PyResult<()> {
        let job = Job {
            chunks: chunks.into_iter().map(|(s, b)| (s, b.to_vec())).collect(),
            release,
        };
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Front>()?;
    m.add_class::<SpoolWriter>()
}
