//! The gateway's front end in Rust: its listener and connections served by one epoll loop
//! on a thread of their own, so that the read loggers make most (one whole frame from the
//! MN and PW the connection is bound to) costs no Python at all.
//!
//! The gateway (`pipeline/gateway/front.py`) stays in charge of everything else. Every
//! connection starts unbound: its reads go to Python as they arrive (`Event::Data`), where
//! a `Session` frames and judges them as it does under asyncio. Once a session has
//! accepted a frame by the short path and its own framer holds nothing, the gateway binds
//! the connection here (`Cmd::Bind`: its MN, PW, the Kafka key and the envelope's sender
//! part). A bound connection's read that is exactly one frame from that MN with that PW,
//! not a command's answer (9011/9012), is kept here: its raw bytes, receive time and
//! answer. Any other read (two frames, a cut frame, another MN, garbage) unbinds the
//! connection and goes to Python whole, with the bytes of
//! any frame begun in earlier reads, so the session's framer sees the same bytes the
//! asyncio gateway would have given it.
//!
//! The gateway takes what was kept (`Front::take`) on its event loop: the spool records are
//! written then, numbered from the spool's next sequence number, and appended to the spool
//! as one blob; the answers wait here under a token until the gateway releases it, once
//! the spool has fsynced that group (`Cmd::Release`). Answers of one connection go out in
//! the order its frames came.
//!
//! Waking the gateway: the first thing put in the inbox after a `take` writes a byte to a
//! pipe whose read end the gateway's event loop watches. Waking this loop: a mio `Waker`.
//! No Python object is touched on this thread.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use socket2::{Domain, Socket, Type};

use crate::encode::{answer, Reply};
use crate::envelope::TooLong;
use crate::framer::Framer;
use crate::{Frame, Options, Rejected};

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
/// bytes read at once (a logger's frame is under 1.1 kB)
const READ_BUF: usize = 64 * 1024;
/// a connection's unsent bytes past which the gateway is told to stop writing to it
/// (asyncio's default high-water mark), and below which it is told it may again
const WRITE_HIGH: usize = 64 * 1024;
const WRITE_LOW: usize = 16 * 1024;
/// accept failures are reported at most this often
const ACCEPT_REPORT_EVERY: Duration = Duration::from_secs(1);

/// What the gateway learns from the loop, in the order it happened.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Opened {
        conn: u64,
        peer: String,
    },
    /// bytes for the connection's session (it is unbound); `seq` counts the connection's
    /// data events from 1
    Data {
        conn: u64,
        seq: u64,
        data: Vec<u8>,
    },
    Closed {
        conn: u64,
        error: Option<String>,
    },
    WritePaused {
        conn: u64,
    },
    WriteResumed {
        conn: u64,
    },
    /// `accept` failed (descriptors exhausted and the like): the connections wait in the
    /// listen queue until a later arrival tries again. Reported once a second at most.
    AcceptFailed {
        error: String,
    },
}

/// What the gateway tells the loop.
#[derive(Debug)]
pub enum Cmd {
    Write(u64, Vec<u8>),
    Pause(u64),
    Resume(u64),
    /// send what is queued, then close
    Close(u64),
    Abort(u64),
    /// bind the connection if its last data event was the `seq`th (none has gone out since
    /// the session's framer was seen empty); otherwise nothing, and the next data event
    /// lets the gateway try again
    Bind(u64, u64, Binding),
    Unbind(u64),
    UnbindAll,
    /// send the answers held under tokens up to this one
    Release(u64),
    /// stop accepting connections
    StopListening,
    /// end the loop (connections are dropped)
    Shutdown,
}

/// A bound connection's fast path: the frames it keeps here.
#[derive(Debug, Clone)]
pub struct Binding {
    pub mn: String,
    pub pw: String,
    /// the spool record's Kafka key
    pub key: Vec<u8>,
    /// the envelope's gateway and peer fields (`envelope.sender_part`)
    pub sender: Vec<u8>,
}

/// A frame kept by the fast path, until the gateway takes it.
#[derive(Debug)]
struct Kept {
    conn: u64,
    binding: Arc<Binding>,
    receive_ns: u64,
    raw: Vec<u8>,
    cn: String,
    answer: Option<Vec<u8>>,
}

#[derive(Default)]
struct Inbox {
    events: Vec<Event>,
    kept: Vec<Kept>,
    /// bytes of the reads kept here (the sessions count their own)
    bytes_in: u64,
    /// a byte is in the pipe and not taken yet
    notified: bool,
}

/// What `Front::take` hands the gateway: the events, and the group of frames kept here.
#[derive(Debug, Default)]
pub struct Taken {
    pub events: Vec<Event>,
    pub group: Option<Group>,
}

/// Frames kept by the fast path since the last take, made into spool records.
#[derive(Debug, Default)]
pub struct Group {
    /// the answers' token (`Cmd::Release`)
    pub token: u64,
    /// the spool records, back to back
    pub records: Vec<u8>,
    /// per record: the key's and the value's ranges in `records`
    pub parts: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
    /// frames per CN
    pub cns: Vec<(String, u64)>,
    /// the connections (each once), their MNs and how many frames each
    pub conns: Vec<(u64, String, u64)>,
    pub bytes_in: u64,
    /// answers held, per answer CN, and their bytes
    pub answers: Vec<(String, u64)>,
    pub answer_bytes: u64,
}

/// answers to send once their group is kept: (connection, answer)
type Answers = Vec<(u64, Vec<u8>)>;

struct Shared {
    inbox: Mutex<Inbox>,
    cmds: Mutex<Vec<Cmd>>,
    /// answers waiting for their group's fsync, oldest first
    held: Mutex<VecDeque<(u64, Answers)>>,
    next_token: Mutex<u64>,
    wake_gateway: Mutex<UnixStream>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panic on the loop's thread while it held a lock leaves data that is still whole
    // (every critical section is a push, a swap or a pop)
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The front end: the loop's thread, and the handles the gateway uses.
pub struct Front {
    shared: Arc<Shared>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<io::Result<()>>>,
    wake_reader: UnixStream,
    addr: SocketAddr,
}

impl Front {
    /// Listen on `host:port` (SO_REUSEADDR; SO_REUSEPORT when `reuse_port`) and start the
    /// loop. `strict` is the framers' mode.
    pub fn start(host: &str, port: u16, reuse_port: bool, strict: bool) -> io::Result<Front> {
        let addr: SocketAddr = resolve(host, port)?;
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        s.set_reuse_address(true)?;
        if reuse_port {
            s.set_reuse_port(true)?;
        }
        s.set_nonblocking(true)?;
        s.bind(&addr.into())?;
        s.listen(4096)?;
        let std_listener: std::net::TcpListener = s.into();
        let addr = std_listener.local_addr()?;
        let listener = TcpListener::from_std(std_listener);
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        // a socket pair, not a pipe: std's pipes need a newer Rust than the crate's
        let (wake_reader, wake_writer) = UnixStream::pair()?;
        wake_reader.set_nonblocking(true)?;
        wake_writer.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            inbox: Mutex::new(Inbox::default()),
            cmds: Mutex::new(Vec::new()),
            held: Mutex::new(VecDeque::new()),
            next_token: Mutex::new(0),
            wake_gateway: Mutex::new(wake_writer),
        });
        let opts = if strict {
            Options::strict()
        } else {
            Options::default()
        };
        let mut lp = Loop {
            poll,
            listener: Some(listener),
            shared: Arc::clone(&shared),
            conns: HashMap::new(),
            next_id: 1,
            opts,
            rbuf: vec![0; READ_BUF],
            items: Vec::new(),
            accept_reported: None,
        };
        let thread = std::thread::Builder::new()
            .name("hj212-front".into())
            .spawn(move || lp.run())?;
        Ok(Front {
            shared,
            waker,
            thread: Some(thread),
            wake_reader,
            addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The pipe the gateway watches: readable when `take` has something.
    pub fn wake_reader(&self) -> &UnixStream {
        &self.wake_reader
    }

    pub fn send(&self, cmd: Cmd) {
        push_cmd(&self.shared, &self.waker, cmd);
    }

    /// A function that releases the answers held under a token, for another thread (the
    /// spool's writer, once it has synced the token's group).
    pub fn releaser(&self) -> impl Fn(u64) + Send + 'static {
        let shared = Arc::clone(&self.shared);
        let waker = Arc::clone(&self.waker);
        move |token| push_cmd(&shared, &waker, Cmd::Release(token))
    }

    pub fn alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Everything since the last take: the events, and the frames kept here as spool
    /// records numbered from `first_seq`, under `topic`. A record too long for the spool's
    /// format (it cannot be: a frame is at most `MAX_FRAME` bytes) is an error.
    pub fn take(&self, first_seq: u64, topic: u8) -> Result<Taken, TooLong> {
        // the notice's byte first, then the inbox: a notice written after this read is for
        // something put in after the swap below, and stays for the next wake (read the
        // other way round, a notice could be swallowed while its inbox waits unseen)
        let mut sink = [0u8; 256];
        while let Ok(n) = (&self.wake_reader).read(&mut sink) {
            if n < sink.len() {
                break;
            }
        }
        let (events, kept, bytes_in) = {
            let mut inbox = lock(&self.shared.inbox);
            inbox.notified = false;
            (
                std::mem::take(&mut inbox.events),
                std::mem::take(&mut inbox.kept),
                std::mem::take(&mut inbox.bytes_in),
            )
        };
        if kept.is_empty() {
            return Ok(Taken {
                events,
                group: None,
            });
        }
        let mut g = Group {
            bytes_in,
            ..Group::default()
        };
        let per_record = kept.first().map_or(0, |k| k.raw.len() + 128);
        g.records.reserve(kept.len() * per_record);
        let mut answers = Vec::with_capacity(kept.len());
        let mut cns: HashMap<String, u64> = HashMap::new();
        let mut answer_cns: HashMap<String, u64> = HashMap::new();
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for (i, k) in kept.into_iter().enumerate() {
            let b = &k.binding;
            let value_at = crate::spool::write_record_with(&mut g.records, topic, &b.key, |out| {
                crate::envelope::write_accepted(
                    out,
                    k.receive_ns,
                    first_seq + i as u64,
                    &b.sender,
                    &k.raw,
                )
            })?;
            // the key sits just before the value
            let key_at = value_at - b.key.len();
            g.parts.push((key_at..value_at, value_at..g.records.len()));
            *cns.entry(k.cn).or_default() += 1;
            match seen.get(&k.conn) {
                Some(&at) => {
                    if let Some(c) = g.conns.get_mut(at) {
                        c.2 += 1;
                    }
                }
                None => {
                    seen.insert(k.conn, g.conns.len());
                    g.conns.push((k.conn, b.mn.clone(), 1));
                }
            }
            if let Some(a) = k.answer {
                g.answer_bytes += a.len() as u64;
                *answer_cns.entry(answer_cn(&a)).or_default() += 1;
                answers.push((k.conn, a));
            }
        }
        g.cns = cns.into_iter().collect();
        g.answers = answer_cns.into_iter().collect();
        let token = {
            let mut t = lock(&self.shared.next_token);
            *t += 1;
            *t
        };
        g.token = token;
        lock(&self.shared.held).push_back((token, answers));
        Ok(Taken {
            events,
            group: Some(g),
        })
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.send(Cmd::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn push_cmd(shared: &Shared, waker: &Waker, cmd: Cmd) {
    lock(&shared.cmds).push(cmd);
    // a waker that fails means the loop is gone; the gateway learns it from `alive`
    let _ = waker.wake();
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    (host, port).to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the host {host:?} has no address"),
        )
    })
}

/// The CN of an answer frame (`CN=9014;`), for the answers counter.
fn answer_cn(a: &[u8]) -> String {
    a.windows(3)
        .position(|w| w == b"CN=")
        .and_then(|i| a.get(i + 3..i + 7))
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_else(|| "?".into())
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

struct Conn {
    stream: TcpStream,
    framer: Framer,
    binding: Option<Arc<Binding>>,
    /// the bytes fed to the bound framer since it last held nothing
    carry: Vec<u8>,
    /// data events sent for this connection
    data_sent: u64,
    out: Vec<u8>,
    write_paused: bool,
    paused: bool,
    closing: bool,
}

impl Conn {
    /// Bytes for the connection's session, numbered so that a bind can name the last one.
    fn data_event(&mut self, id: u64, data: Vec<u8>, out: &mut Vec<Event>) {
        self.data_sent += 1;
        out.push(Event::Data {
            conn: id,
            seq: self.data_sent,
            data,
        });
    }
}

struct Loop {
    poll: Poll,
    listener: Option<TcpListener>,
    shared: Arc<Shared>,
    conns: HashMap<u64, Conn>,
    next_id: u64,
    opts: Options,
    rbuf: Vec<u8>,
    items: Vec<Result<Frame, Rejected>>,
    /// when an accept failure was last reported
    accept_reported: Option<Instant>,
}

/// What one read did.
enum Outcome {
    Kept(Kept),
    ToPython(Vec<u8>),
    Waiting,
}

impl Loop {
    fn run(&mut self) -> io::Result<()> {
        if let Some(l) = self.listener.as_mut() {
            self.poll
                .registry()
                .register(l, LISTENER, Interest::READABLE)?;
        }
        let mut events = Events::with_capacity(1024);
        loop {
            if let Err(e) = self.poll.poll(&mut events, None) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut out: Vec<Event> = Vec::new();
            let mut kept: Vec<Kept> = Vec::new();
            let mut bytes_in = 0u64;
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(&mut out),
                    WAKER => {}
                    Token(t) => {
                        let id = t as u64;
                        if ev.is_writable() {
                            self.flush(id, &mut out);
                        }
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            // the peer's end: read on to it, past a short read (an end
                            // already queued raises no new edge)
                            let to_end = ev.is_read_closed() || ev.is_error();
                            self.read(id, to_end, &mut out, &mut kept, &mut bytes_in);
                        }
                    }
                }
            }
            let cmds = std::mem::take(&mut *lock(&self.shared.cmds));
            for c in cmds {
                if let Cmd::Shutdown = c {
                    self.publish(out, kept, bytes_in);
                    return Ok(());
                }
                self.command(c, &mut out, &mut kept, &mut bytes_in);
            }
            self.publish(out, kept, bytes_in);
        }
    }

    /// Put what this turn produced in the inbox, and wake the gateway if it has not been.
    fn publish(&self, out: Vec<Event>, kept: Vec<Kept>, bytes_in: u64) {
        if out.is_empty() && kept.is_empty() {
            return;
        }
        let wake = {
            let mut inbox = lock(&self.shared.inbox);
            inbox.events.extend(out);
            inbox.kept.extend(kept);
            inbox.bytes_in += bytes_in;
            !std::mem::replace(&mut inbox.notified, true)
        };
        if wake {
            // a full pipe already wakes the gateway
            let _ = lock(&self.shared.wake_gateway).write(&[1]);
        }
    }

    fn accept(&mut self, out: &mut Vec<Event>) {
        let Some(listener) = self.listener.as_ref() else {
            return;
        };
        loop {
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    let id = self.next_id;
                    self.next_id += 1;
                    let _ = stream.set_nodelay(true);
                    if self
                        .poll
                        .registry()
                        .register(
                            &mut stream,
                            Token(id as usize),
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .is_err()
                    {
                        continue;
                    }
                    self.conns.insert(
                        id,
                        Conn {
                            stream,
                            framer: Framer::new(self.opts),
                            binding: None,
                            carry: Vec::new(),
                            data_sent: 0,
                            out: Vec::new(),
                            write_paused: false,
                            paused: false,
                            closing: false,
                        },
                    );
                    out.push(Event::Opened {
                        conn: id,
                        peer: peer.to_string(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // out of descriptors and the like: the next readiness tries again
                Err(e) => {
                    if self
                        .accept_reported
                        .map_or(true, |t| t.elapsed() >= ACCEPT_REPORT_EVERY)
                    {
                        self.accept_reported = Some(Instant::now());
                        out.push(Event::AcceptFailed {
                            error: e.to_string(),
                        });
                    }
                    return;
                }
            }
        }
    }

    fn read(
        &mut self,
        id: u64,
        to_end: bool,
        out: &mut Vec<Event>,
        kept: &mut Vec<Kept>,
        bytes_in: &mut u64,
    ) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.paused || c.closing {
            return;
        }
        let mut closed: Option<Option<String>> = None;
        loop {
            match c.stream.read(&mut self.rbuf) {
                Ok(0) => {
                    closed = Some(None);
                    break;
                }
                Ok(n) => {
                    let chunk = &self.rbuf[..n];
                    match fast(c, id, chunk, &mut self.items, self.opts) {
                        Outcome::Kept(k) => {
                            // the frame's bytes, over however many reads it came; bytes
                            // that go to the session are its to count
                            *bytes_in += k.raw.len() as u64;
                            kept.push(k);
                        }
                        Outcome::Waiting => {}
                        Outcome::ToPython(data) => c.data_event(id, data, out),
                    }
                    if n < self.rbuf.len() && !to_end {
                        break; // drained: a later arrival raises a new edge
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    closed = Some(Some(e.to_string()));
                    break;
                }
            }
        }
        if let Some(error) = closed {
            // bytes a bound framer held go to the session, whose framer makes them rejects
            if let Some(c) = self.conns.get_mut(&id) {
                unbind(c, self.opts, out, id);
            }
            self.drop_conn(id, error, out);
        }
    }

    fn drop_conn(&mut self, id: u64, error: Option<String>, out: &mut Vec<Event>) {
        if let Some(mut c) = self.conns.remove(&id) {
            let _ = self.poll.registry().deregister(&mut c.stream);
            out.push(Event::Closed { conn: id, error });
        }
    }

    fn flush(&mut self, id: u64, out: &mut Vec<Event>) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let mut failed = None;
        while !c.out.is_empty() {
            match c.stream.write(&c.out) {
                Ok(0) => {
                    failed = Some("the peer took no bytes".to_string());
                    break;
                }
                Ok(n) => {
                    c.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        if failed.is_some() {
            self.drop_conn(id, failed, out);
            return;
        }
        if c.write_paused && c.out.len() <= WRITE_LOW {
            c.write_paused = false;
            out.push(Event::WriteResumed { conn: id });
        }
        if c.closing && c.out.is_empty() {
            self.drop_conn(id, None, out);
        }
    }

    fn write(&mut self, id: u64, data: &[u8], out: &mut Vec<Event>) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.out.extend_from_slice(data);
        self.flush(id, out);
        if let Some(c) = self.conns.get_mut(&id) {
            if !c.write_paused && c.out.len() > WRITE_HIGH {
                c.write_paused = true;
                out.push(Event::WritePaused { conn: id });
            }
        }
    }

    fn command(
        &mut self,
        cmd: Cmd,
        out: &mut Vec<Event>,
        kept: &mut Vec<Kept>,
        bytes_in: &mut u64,
    ) {
        match cmd {
            Cmd::Write(id, data) => self.write(id, &data, out),
            Cmd::Pause(id) => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.paused = true;
                }
            }
            Cmd::Resume(id) => {
                if let Some(c) = self.conns.get_mut(&id) {
                    if c.paused {
                        c.paused = false;
                        // an edge that came while paused is not raised again: read now
                        // (to the end: one that came meanwhile is not raised again either)
                        self.read(id, true, out, kept, bytes_in);
                    }
                }
            }
            Cmd::Close(id) => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.closing = true;
                    if c.out.is_empty() {
                        self.drop_conn(id, None, out);
                    } else {
                        self.flush(id, out);
                    }
                }
            }
            Cmd::Abort(id) => self.drop_conn(id, None, out),
            Cmd::Bind(id, seq, b) => {
                if let Some(c) = self.conns.get_mut(&id) {
                    // unbound, its framer is fresh and it carries nothing
                    if c.binding.is_none() && c.data_sent == seq {
                        c.binding = Some(Arc::new(b));
                    }
                }
            }
            Cmd::Unbind(id) => {
                if let Some(c) = self.conns.get_mut(&id) {
                    unbind(c, self.opts, out, id);
                }
            }
            Cmd::UnbindAll => {
                let opts = self.opts;
                for (id, c) in self.conns.iter_mut() {
                    unbind(c, opts, out, *id);
                }
            }
            Cmd::Release(token) => {
                let ready: Vec<(u64, Answers)> = {
                    let mut held = lock(&self.shared.held);
                    let mut r = Vec::new();
                    while held.front().is_some_and(|(t, _)| *t <= token) {
                        if let Some(x) = held.pop_front() {
                            r.push(x);
                        }
                    }
                    r
                };
                for (_, answers) in ready {
                    for (id, a) in answers {
                        self.write(id, &a, out);
                    }
                }
            }
            Cmd::StopListening => {
                if let Some(mut l) = self.listener.take() {
                    let _ = self.poll.registry().deregister(&mut l);
                }
            }
            Cmd::Shutdown => {}
        }
    }
}

/// Unbind a connection; bytes its framer held go to the session.
fn unbind(c: &mut Conn, opts: Options, out: &mut Vec<Event>, id: u64) {
    if c.binding.take().is_some() {
        c.framer = Framer::new(opts);
        if !c.carry.is_empty() {
            let data = std::mem::take(&mut c.carry);
            c.data_event(id, data, out);
        }
    }
}

/// The fast path over one read of a connection.
fn fast(
    c: &mut Conn,
    id: u64,
    chunk: &[u8],
    items: &mut Vec<Result<Frame, Rejected>>,
    opts: Options,
) -> Outcome {
    let Some(b) = c.binding.clone() else {
        return Outcome::ToPython(chunk.to_vec());
    };
    c.carry.extend_from_slice(chunk);
    items.clear();
    c.framer.feed(chunk, items);
    if items.is_empty() && c.framer.buffered() > 0 {
        return Outcome::Waiting;
    }
    if items.len() == 1 && c.framer.buffered() == 0 {
        if let Some(Ok(f)) = items.pop() {
            let cn = f.cn();
            // nothing but the frame (garbage before it is the session's to count)
            let ok = c.carry.len() == f.raw.len()
                && cn != "9011"
                && cn != "9012"
                && f.mn().as_deref() == Some(b.mn.as_str())
                && f.pw().as_deref() == Some(b.pw.as_str());
            if ok {
                let cn = cn.into_owned();
                let reply = answer(&f, Reply::Auto);
                c.carry.clear();
                return Outcome::Kept(Kept {
                    conn: id,
                    binding: b,
                    receive_ns: now_ns(),
                    raw: f.raw,
                    cn,
                    answer: reply,
                });
            }
        }
    }
    // anything else: the session reads these bytes, and the connection is unbound
    c.binding = None;
    c.framer = Framer::new(opts);
    items.clear();
    Outcome::ToPython(std::mem::take(&mut c.carry))
}
