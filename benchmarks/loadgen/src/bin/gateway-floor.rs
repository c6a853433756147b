//! The gateway's per-frame work done entirely in Rust, as a measuring stick: what one
//! frame in flight per connection costs on this machine when no Python runs per read.
//!
//! Per thread: an epoll loop (mio) on its own SO_REUSEPORT listener; per read the codec's
//! `Framer` (the gateway's), the fast path's checks (the MN and PW the connection sent
//! first, not a 9011/9012), the envelope and its spool record (`hj212::envelope`,
//! `hj212::spool`, as the gateway writes them) and the answer (`hj212::encode::answer`).
//! The records of a group go to the thread's spool file, written and `fdatasync`ed by a
//! thread of their own, and the group's answers are sent only once that returns, as the
//! gateway does. What it leaves out: Kafka (publishing the spool), the counters, rate
//! buckets and logs, rejects and downlink. `benchmarks/gateway.py` runs it as the "floor".
//!
//!     gateway-floor --port P --spool DIR [--threads 1]

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hj212::encode::{answer, Reply};
use hj212::framer::Framer;
use hj212::{Frame, Options, Rejected};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use socket2::{Domain, Socket, Type};

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
/// the spool record's topic tag of accepted frames (`pipeline/gateway/publisher.py` FRAMES)
const FRAMES: u8 = 0;

struct Conn {
    stream: TcpStream,
    framer: Framer,
    /// the MN and PW of the connection's first frame: later ones must match (the fast path)
    mn_pw: Option<(String, String)>,
    key: Vec<u8>,
    out: Vec<u8>,
    dead: bool,
}

/// One fsync group on its way to disk and back.
struct Group {
    records: Vec<u8>,
}

fn listener(port: u16) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    s.bind(&addr.into())?;
    s.listen(4096)?;
    Ok(TcpListener::from_std(s.into()))
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn serve(port: u16, spool: File, id: usize) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut lst = listener(port)?;
    poll.registry()
        .register(&mut lst, LISTENER, Interest::READABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);

    // the fsync thread: write the group, fdatasync, hand it back
    let (to_disk, disk_rx) = mpsc::channel::<Group>();
    let (done_tx, done) = mpsc::channel::<io::Result<Group>>();
    let w = Arc::clone(&waker);
    std::thread::spawn(move || {
        let mut f = spool;
        for g in disk_rx {
            let r = f
                .write_all(&g.records)
                .and_then(|()| f.sync_data())
                .map(|()| g);
            if done_tx.send(r).is_err() || w.wake().is_err() {
                return;
            }
        }
    });

    let sender = {
        let gw = format!("floor-{id}");
        let peer = b"127.0.0.1";
        let mut s = vec![gw.len() as u8];
        s.extend_from_slice(gw.as_bytes());
        s.push(peer.len() as u8);
        s.extend_from_slice(peer);
        s
    };
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(4096);
    let mut rbuf = vec![0u8; 64 * 1024];
    let mut items: Vec<Result<Frame, Rejected>> = Vec::new();
    let mut seq: u64 = 0;
    // the group being gathered, and the answers waiting for it / for the one on disk
    let mut records: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut answers: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut on_disk: Option<Vec<(usize, Vec<u8>)>> = None;

    loop {
        poll.poll(&mut events, None)?;
        for ev in events.iter() {
            match ev.token() {
                LISTENER => loop {
                    match lst.accept() {
                        Ok((mut stream, _)) => {
                            let i = free.pop().unwrap_or(conns.len());
                            poll.registry().register(
                                &mut stream,
                                Token(i),
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            let c = Conn {
                                stream,
                                framer: Framer::new(Options::default()),
                                mn_pw: None,
                                key: Vec::new(),
                                out: Vec::new(),
                                dead: false,
                            };
                            if i == conns.len() {
                                conns.push(Some(c));
                            } else {
                                conns[i] = Some(c);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                },
                WAKER => {
                    while let Ok(r) = done.try_recv() {
                        let mut g = r?;
                        g.records.clear();
                        if records.is_empty() {
                            records = g.records; // the buffer back, capacity kept
                        }
                        for (ci, a) in on_disk.take().unwrap_or_default() {
                            if let Some(c) = conns.get_mut(ci).and_then(Option::as_mut) {
                                write_out(c, &a);
                            }
                        }
                    }
                }
                Token(ci) => {
                    let Some(c) = conns.get_mut(ci).and_then(Option::as_mut) else {
                        continue;
                    };
                    if ev.is_writable() && !c.out.is_empty() {
                        flush(c);
                    }
                    if ev.is_readable() || ev.is_read_closed() {
                        let closed = read_frames(c, &mut rbuf, &mut items);
                        let receive_ns = now_ns();
                        for it in items.drain(..) {
                            let Ok(f) = it else { continue };
                            let (Some(mn), Some(pw)) = (f.mn(), f.pw()) else {
                                continue;
                            };
                            let cn = f.cn();
                            if cn == "9011" || cn == "9012" {
                                continue;
                            }
                            match &c.mn_pw {
                                Some((m, p)) if *m == mn && *p == pw => {}
                                Some(_) => continue,
                                None => {
                                    c.key = mn.as_bytes().to_vec();
                                    c.mn_pw = Some((mn.into_owned(), pw.into_owned()));
                                }
                            }
                            seq += 1;
                            let ok = hj212::spool::write_record_with(
                                &mut records,
                                FRAMES,
                                &c.key,
                                |out| {
                                    hj212::envelope::write_accepted(
                                        out, receive_ns, seq, &sender, &f.raw,
                                    )
                                },
                            );
                            if ok.is_ok() {
                                if let Some(a) = answer(&f, Reply::Auto) {
                                    answers.push((ci, a));
                                }
                            }
                        }
                        if closed || c.dead {
                            let mut c = conns[ci].take().expect("present");
                            let _ = poll.registry().deregister(&mut c.stream);
                            free.push(ci);
                        }
                    }
                }
            }
        }
        // one group at a time on disk, as the gateway's spool
        if on_disk.is_none() && !records.is_empty() {
            let g = Group {
                records: std::mem::take(&mut records),
            };
            on_disk = Some(std::mem::take(&mut answers));
            if to_disk.send(g).is_err() {
                return Err(io::Error::other("the fsync thread stopped"));
            }
        }
    }
}

/// Read what is there into the framer; true when the peer closed.
fn read_frames(c: &mut Conn, rbuf: &mut [u8], items: &mut Vec<Result<Frame, Rejected>>) -> bool {
    loop {
        match c.stream.read(rbuf) {
            Ok(0) => return true,
            Ok(n) => {
                c.framer.feed(&rbuf[..n], items);
                if n < rbuf.len() {
                    return false; // drained: a later arrival raises a new edge
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                c.dead = true;
                return false;
            }
        }
    }
}

fn write_out(c: &mut Conn, data: &[u8]) {
    if c.out.is_empty() {
        match c.stream.write(data) {
            Ok(n) if n == data.len() => {}
            Ok(n) => c.out.extend_from_slice(&data[n..]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.out.extend_from_slice(data),
            Err(_) => c.dead = true,
        }
    } else {
        c.out.extend_from_slice(data);
        flush(c);
    }
}

fn flush(c: &mut Conn) {
    while !c.out.is_empty() {
        match c.stream.write(&c.out) {
            Ok(0) => {
                c.dead = true;
                return;
            }
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                c.dead = true;
                return;
            }
        }
    }
}

fn run(argv: &[String]) -> Result<(), String> {
    let mut port: Option<u16> = None;
    let mut spool: Option<std::path::PathBuf> = None;
    let mut threads = 1usize;
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--port" => port = Some(v()?.parse().map_err(|e| format!("--port: {e}"))?),
            "--spool" => spool = Some(v()?.into()),
            "--threads" => threads = v()?.parse().map_err(|e| format!("--threads: {e}"))?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let port = port.ok_or("--port is required")?;
    let spool = spool.ok_or("--spool is required")?;
    std::fs::create_dir_all(&spool).map_err(|e| format!("{}: {e}", spool.display()))?;
    let handles: Vec<_> = (0..threads.max(1))
        .map(|i| {
            let path = spool.join(format!("floor-{i}.seg"));
            let f = File::create(&path).map_err(|e| format!("{}: {e}", path.display()));
            std::thread::spawn(move || -> Result<(), String> {
                serve(port, f?, i).map_err(|e| format!("thread {i}: {e}"))
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "a thread panicked".to_string())??;
    }
    Ok(())
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&argv) {
        eprintln!("gateway-floor: {e}");
        std::process::exit(2);
    }
}
