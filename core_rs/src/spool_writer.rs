//! The gateway spool's writer: a thread of its own that appends each fsync group to its
//! segment files and syncs them, for `pipeline/gateway/spool.py`, which keeps everything
//! else (segment numbering and sizes, the checkpoint, reading back, the cap).
//!
//! Why a thread of its own and not Python's executor: the group's write and fsync sit on
//! every answer's path, and an executor's thread takes the GIL to start the job, between
//! the write and the fsync, and to finish, each time waiting for the event loop to let it
//! go. Here a job costs the event loop one call to hand it over and one to learn it is
//! done. And a group of frames kept by the gateway's front end (`crate::front`) is
//! answered from here, once its fsync has returned, with no Python on the way
//! (`set_release`).
//!
//! Jobs are done in the order they came; the jobs that queued up while the thread wrote and
//! synced the last ones are written together and synced once (the gateway hands over a job
//! per event-loop turn and never waits for one before the next: the group commit happens
//! here, not in Python). If a write or sync fails, every job of that sync fails, and every
//! later job too, releasing nothing: a record after a hole must never be answered.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// One fsync group: its bytes per segment, in order, and the front end's answers to send
/// once it is synced (0: none).
#[derive(Debug, Default)]
pub struct Job {
    pub chunks: Vec<(u64, Vec<u8>)>,
    pub release: u64,
}

/// Called with a job's `release` once the job is synced.
pub type Release = Box<dyn Fn(u64) + Send>;

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// per job done, in order: None, or why it failed
    done: Vec<Option<String>>,
    closing: bool,
    /// a byte is in the socket and `done` not taken since
    notified: bool,
}

struct Shared {
    state: Mutex<State>,
    more: Condvar,
    notify: Mutex<UnixStream>,
    release: Mutex<Option<Release>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // every critical section is a push, a pop or a swap: a panic elsewhere leaves the data
    // whole
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A segment's file name (`0000000001.seg`), as the spool names them.
pub fn segment_name(index: u64) -> String {
    format!("{index:010}.seg")
}

pub struct SpoolWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    notify_reader: UnixStream,
}

impl SpoolWriter {
    /// Start the thread for the spool in `dir` (which must exist).
    pub fn start(dir: PathBuf) -> io::Result<SpoolWriter> {
        let (notify_reader, notify_writer) = UnixStream::pair()?;
        notify_reader.set_nonblocking(true)?;
        notify_writer.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            more: Condvar::new(),
            notify: Mutex::new(notify_writer),
            release: Mutex::new(None),
        });
        let mut files = Files {
            dir,
            file: None,
            segment: 0,
            failed: None,
        };
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("hj212-spool".into())
            .spawn(move || files.run(&thread_shared))?;
        Ok(SpoolWriter {
            shared,
            thread: Some(thread),
            notify_reader,
        })
    }

    /// A socket that becomes readable when `done` has something.
    pub fn notify_reader(&self) -> &UnixStream {
        &self.notify_reader
    }

    /// What to call with a synced job's `release`.
    pub fn set_release(&self, release: Release) {
        *lock(&self.shared.release) = Some(release);
    }

    pub fn submit(&self, job: Job) {
        lock(&self.shared.state).jobs.push_back(job);
        self.shared.more.notify_one();
    }

    /// The jobs finished since the last call, in order: None, or why one failed.
    pub fn done(&self) -> Vec<Option<String>> {
        // the notice's byte first, then the list: a byte written after this read is for a
        // job finished after the swap, and stays for the next call
        let mut sink = [0u8; 64];
        while let Ok(n) = (&self.notify_reader).read(&mut sink) {
            if n < sink.len() {
                break;
            }
        }
        let mut st = lock(&self.shared.state);
        st.notified = false;
        std::mem::take(&mut st.done)
    }

    /// Finish the jobs handed over, close the file and end the thread.
    pub fn close(&mut self) {
        lock(&self.shared.state).closing = true;
        self.shared.more.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread's own: the segment open for appending.
struct Files {
    dir: PathBuf,
    file: Option<File>,
    segment: u64,
    /// the first failure, which every later job reports
    failed: Option<String>,
}

impl Files {
    fn run(&mut self, shared: &Shared) {
        loop {
            let jobs: Vec<Job> = {
                let mut st = lock(&shared.state);
                loop {
                    if !st.jobs.is_empty() {
                        break st.jobs.drain(..).collect();
                    }
                    if st.closing {
                        return;
                    }
                    st = shared.more.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            };
            let outcome = match &self.failed {
                Some(first) => Some(format!("an earlier write failed: {first}")),
                None => match self.write(&jobs) {
                    Ok(()) => None,
                    Err(e) => {
                        self.failed = Some(e.clone());
                        self.file = None;
                        Some(e)
                    }
                },
            };
            let release = jobs.iter().map(|j| j.release).max().unwrap_or(0);
            if outcome.is_none() && release != 0 {
                if let Some(release_fn) = lock(&shared.release).as_ref() {
                    release_fn(release);
                }
            }
            let wake = {
                let mut st = lock(&shared.state);
                st.done.extend(jobs.iter().map(|_| outcome.clone()));
                !std::mem::replace(&mut st.notified, true)
            };
            if wake {
                // a full socket already wakes the reader
                let _ = lock(&shared.notify).write(&[1]);
            }
        }
    }

    /// Write the jobs' chunks in order and sync once.
    fn write(&mut self, jobs: &[Job]) -> Result<(), String> {
        for (segment, data) in jobs.iter().flat_map(|j| &j.chunks) {
            if self.file.is_none() || *segment != self.segment {
                if let Some(old) = self.file.take() {
                    let path = self.path(self.segment);
                    old.sync_data().map_err(|e| failed("sync", &path, &e))?;
                }
                let path = self.path(*segment);
                let f = OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o644)
                    .open(&path)
                    .map_err(|e| failed("open", &path, &e))?;
                // the new file's name must survive a crash too
                sync_dir(&self.dir).map_err(|e| failed("sync", &self.dir, &e))?;
                self.file = Some(f);
                self.segment = *segment;
            }
            let path = self.path(self.segment);
            if let Some(f) = self.file.as_mut() {
                f.write_all(data).map_err(|e| failed("write", &path, &e))?;
            }
        }
        if let Some(f) = self.file.as_ref() {
            // fdatasync: the data and the file's size, which is all a reader needs
            f.sync_data()
                .map_err(|e| failed("sync", &self.path(self.segment), &e))?;
        }
        Ok(())
    }

    fn path(&self, segment: u64) -> PathBuf {
        self.dir.join(segment_name(segment))
    }
}

fn failed(what: &str, path: &Path, e: &io::Error) -> String {
    format!("{what} {}: {e}", path.display())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
