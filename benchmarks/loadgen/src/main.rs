//! Load generator for the HJ 212 gateway (`benchmarks/gateway.py` builds and runs it).
//!
//! Opens N TCP connections, sends pre-encoded frames (a file of frames, each ending in
//! CR LF; connection i sends frame i mod K), keeps one frame in flight per connection as
//! a logger does (or `--window W`), and times each answer (send -> the answer line). The
//! offered rate is a token bucket shared by the connections of a thread (`--rate 0`: as
//! fast as the answers come back). Each thread runs its own epoll loop (mio) over its
//! share of the connections, so the client costs a few syscalls per frame and is not what
//! limits the measurement.
//!
//! Prints one JSON object: offered, sent, answered, frames/s, ack p50/p90/p99/max (ms),
//! and `stall_max_ms` (the longest time without any answer during the measured window).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

#[derive(Debug, Clone)]
struct Args {
    addr: SocketAddr,
    connections: usize,
    frames_file: String,
    rate: f64,
    seconds: f64,
    warmup: f64,
    window: usize,
    threads: usize,
}

const USAGE: &str = "usage: hj212-loadgen --addr HOST:PORT --frames FILE [--connections 2000] \
[--rate FRAMES_PER_S (0 = as fast as possible)] [--seconds 10] [--warmup 2] [--window 1] \
[--threads 1]";

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut addr: Option<SocketAddr> = None;
    let mut frames_file: Option<String> = None;
    let mut a = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        connections: 2000,
        frames_file: String::new(),
        rate: 0.0,
        seconds: 10.0,
        warmup: 2.0,
        window: 1,
        threads: 1,
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
        };
        let bad = |v: &str| format!("{flag} {v:?} is not a valid value; {USAGE}");
        match flag.as_str() {
            "--addr" => {
                let v = value()?;
                addr = Some(v.parse().map_err(|_| bad(&v))?);
            }
            "--frames" => frames_file = Some(value()?),
            "--connections" => {
                let v = value()?;
                a.connections = v.parse().map_err(|_| bad(&v))?;
            }
            "--rate" => {
                let v = value()?;
                a.rate = v.parse().map_err(|_| bad(&v))?;
            }
            "--seconds" => {
                let v = value()?;
                a.seconds = v.parse().map_err(|_| bad(&v))?;
            }
            "--warmup" => {
                let v = value()?;
                a.warmup = v.parse().map_err(|_| bad(&v))?;
            }
            "--window" => {
                let v = value()?;
                a.window = v.parse().map_err(|_| bad(&v))?;
            }
            "--threads" => {
                let v = value()?;
                a.threads = v.parse().map_err(|_| bad(&v))?;
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown option {other:?}; {USAGE}")),
        }
    }
    a.addr = addr.ok_or_else(|| format!("--addr is required; {USAGE}"))?;
    a.frames_file = frames_file.ok_or_else(|| format!("--frames is required; {USAGE}"))?;
    if a.connections == 0 || a.window == 0 || a.threads == 0 {
        return Err(format!(
            "--connections, --window and --threads must be at least 1; {USAGE}"
        ));
    }
    if !(a.rate >= 0.0 && a.seconds > 0.0 && a.warmup >= 0.0) {
        return Err(format!(
            "--rate and --warmup must be >= 0 and --seconds > 0; {USAGE}"
        ));
    }
    Ok(a)
}

/// Frames of a file, each `##` .. CR LF; anything else is an error naming the offset.
fn split_frames(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        if !data[pos..].starts_with(b"##") {
            return Err(format!(
                "no frame (\"##\") at byte {pos} of the frames file"
            ));
        }
        let end = data[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| format!("the frame at byte {pos} has no CR LF"))?;
        out.push(data[pos..pos + end + 2].to_vec());
        pos += end + 2;
    }
    if out.is_empty() {
        return Err("the frames file holds no frame".to_string());
    }
    Ok(out)
}

/// Index of the first CR LF in `buf` at or after `from`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(1);
    buf.get(start..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| start + i)
}

struct Conn {
    stream: TcpStream,
    frame: usize,
    /// send times of the frames in flight, oldest first
    inflight: VecDeque<Instant>,
    /// bytes accepted by us but not yet by the socket
    out: Vec<u8>,
    inbuf: Vec<u8>,
    /// queued in `ready` (free to send)
    queued: bool,
    dead: bool,
}

#[derive(Default)]
struct Stats {
    offered: f64,
    sent: u64,
    answered: u64,
    bad_answers: u64,
    errors: u64,
    first_error: Option<String>,
    /// ack latencies of the measured window, microseconds
    lat_us: Vec<u32>,
    /// answer times relative to the start of the measured window, microseconds
    stall_max_us: u64,
    not_sent_no_free_connection: f64,
    unanswered_at_end: u64,
}

fn note_error(stats: &mut Stats, e: impl std::fmt::Display) {
    stats.errors += 1;
    if stats.first_error.is_none() {
        stats.first_error = Some(e.to_string());
    }
}

/// One thread's share: its own poll loop over `conns`.
fn run_thread(
    conns_std: Vec<(std::net::TcpStream, usize)>,
    frames: &[Vec<u8>],
    rate: f64,
    window: usize,
    start: Instant,
    measure_from: Instant,
    measure_to: Instant,
) -> Result<Stats, String> {
    let mut poll = Poll::new().map_err(|e| format!("epoll: {e}"))?;
    let mut conns: Vec<Conn> = Vec::with_capacity(conns_std.len());
    for (i, (s, frame)) in conns_std.into_iter().enumerate() {
        s.set_nonblocking(true)
            .map_err(|e| format!("nonblocking: {e}"))?;
        let mut stream = TcpStream::from_std(s);
        poll.registry()
            .register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| format!("register: {e}"))?;
        conns.push(Conn {
            stream,
            frame,
            inflight: VecDeque::with_capacity(window),
            out: Vec::new(),
            inbuf: Vec::with_capacity(4096),
            queued: false,
            dead: false,
        });
    }
    let mut stats = Stats::default();
    // connections with room for another frame, in the order they became free
    let mut ready: VecDeque<usize> = (0..conns.len()).collect();
    for c in conns.iter_mut() {
        c.queued = true;
    }
    let mut events = Events::with_capacity(4096);
    let mut tokens = 0.0f64;
    // a token bucket holds at most this many frames, so an idle spell does not turn
    // into a burst (5 ms worth, at least one frame)
    let bucket = (rate * 0.005).max(1.0);
    let mut last_refill = Instant::now();
    let mut last_answer: Option<Instant> = None;
    let mut rbuf = vec![0u8; 64 * 1024];
    let mut chunk: Vec<u8> = Vec::with_capacity(window * 512);
    let _ = start;

    loop {
        let now = Instant::now();
        if now >= measure_to {
            break;
        }
        // 1. send what the rate allows on free connections
        if rate > 0.0 {
            let dt = now.duration_since(last_refill).as_secs_f64();
            last_refill = now;
            let add = dt * rate;
            if now >= measure_from {
                stats.offered += add;
            }
            tokens += add;
            if tokens > bucket {
                if ready.is_empty() && now >= measure_from {
                    stats.not_sent_no_free_connection += tokens - bucket;
                }
                tokens = bucket;
            }
        }
        while let Some(&ci) = ready.front() {
            if rate > 0.0 && tokens < 1.0 {
                break;
            }
            ready.pop_front();
            let c = &mut conns[ci];
            c.queued = false;
            if c.dead {
                continue;
            }
            // as fast as possible: fill the window; at a set rate: one frame per token
            let room = window - c.inflight.len();
            let n = if rate > 0.0 {
                room.min(tokens as usize).max(1)
            } else {
                room
            };
            if rate > 0.0 {
                tokens -= n as f64;
            }
            chunk.clear();
            for _ in 0..n {
                chunk.extend_from_slice(&frames[c.frame]);
            }
            let t = Instant::now();
            for _ in 0..n {
                c.inflight.push_back(t);
            }
            if t >= measure_from {
                stats.sent += n as u64;
            }
            if let Err(e) = send(c, &chunk) {
                c.dead = true;
                note_error(&mut stats, format!("write: {e}"));
            }
        }
        // 2. wait for answers (at a set rate, no longer than the next token)
        // (at least 1 ms: a shorter wait spins the CPU the gateway needs, and the frames
        // of one millisecond go out together)
        let timeout = if rate > 0.0 && !ready.is_empty() {
            Duration::from_micros((((1.0 - tokens.min(1.0)) / rate * 1e6) as u64).max(1000))
        } else {
            Duration::from_millis(5)
        };
        let timeout = timeout.min(measure_to.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(format!("epoll_wait: {e}"));
            }
        }
        for ev in events.iter() {
            let ci = ev.token().0;
            let c = &mut conns[ci];
            if c.dead {
                continue;
            }
            if ev.is_writable() && !c.out.is_empty() {
                if let Err(e) = flush(c) {
                    c.dead = true;
                    note_error(&mut stats, format!("write: {e}"));
                    continue;
                }
            }
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                match read_answers(c, &mut rbuf) {
                    Ok(closed) => {
                        if closed {
                            c.dead = true;
                            note_error(&mut stats, "the gateway closed a connection");
                        }
                    }
                    Err(e) => {
                        c.dead = true;
                        note_error(&mut stats, format!("read: {e}"));
                        continue;
                    }
                }
                // answers, one line each, oldest frame first
                let mut pos = 0;
                let t = Instant::now();
                while let Some(end) = find_crlf(&c.inbuf, pos) {
                    let line = &c.inbuf[pos..end];
                    if !line.starts_with(b"##") {
                        stats.bad_answers += 1;
                    }
                    if let Some(sent_at) = c.inflight.pop_front() {
                        if sent_at >= measure_from {
                            stats.answered += 1;
                            let us = t.duration_since(sent_at).as_micros();
                            stats.lat_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                        }
                    } else {
                        stats.bad_answers += 1; // an answer to nothing we sent
                    }
                    pos = end + 2;
                }
                if pos > 0 {
                    c.inbuf.drain(..pos);
                    if t >= measure_from {
                        let gap_from = last_answer.unwrap_or(measure_from).max(measure_from);
                        let gap = t.duration_since(gap_from).as_micros() as u64;
                        stats.stall_max_us = stats.stall_max_us.max(gap);
                    }
                    last_answer = Some(t);
                }
                if !c.dead && !c.queued && c.inflight.len() < window {
                    c.queued = true;
                    ready.push_back(ci);
                }
            }
        }
    }
    // the tail: time since the last answer counts as a stall too
    let end = Instant::now().min(measure_to);
    let gap_from = last_answer.unwrap_or(measure_from).max(measure_from);
    stats.stall_max_us = stats
        .stall_max_us
        .max(end.saturating_duration_since(gap_from).as_micros() as u64);
    stats.unanswered_at_end = conns.iter().map(|c| c.inflight.len() as u64).sum();
    Ok(stats)
}

/// Queue `data` and write what the socket takes now.
fn send(c: &mut Conn, data: &[u8]) -> io::Result<()> {
    if c.out.is_empty() {
        match c.stream.write(data) {
            Ok(n) if n == data.len() => return Ok(()),
            Ok(n) => c.out.extend_from_slice(&data[n..]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.out.extend_from_slice(data),
            Err(e) => return Err(e),
        }
        Ok(())
    } else {
        c.out.extend_from_slice(data);
        flush(c)
    }
}

fn flush(c: &mut Conn) -> io::Result<()> {
    while !c.out.is_empty() {
        match c.stream.write(&c.out) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote 0 bytes")),
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Read what is there; Ok(true) when the peer closed.
fn read_answers(c: &mut Conn, rbuf: &mut [u8]) -> io::Result<bool> {
    loop {
        match c.stream.read(rbuf) {
            Ok(0) => return Ok(true),
            Ok(n) => {
                c.inbuf.extend_from_slice(&rbuf[..n]);
                // a short read drained the socket: a later arrival raises a new edge
                if n < rbuf.len() {
                    return Ok(false);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64) as usize).min(sorted.len() - 1);
    f64::from(sorted[i]) / 1000.0
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{:.3}", x)
    } else {
        "null".to_string()
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn run(args: &Args) -> Result<String, String> {
    let data = std::fs::read(&args.frames_file)
        .map_err(|e| format!("cannot read frames file {:?}: {e}", args.frames_file))?;
    let frames = split_frames(&data)?;
    // connect first (blocking, one after the other: a SYN burst of thousands overflows
    // the listener's backlog), then hand the sockets to the threads
    let mut per_thread: Vec<Vec<(std::net::TcpStream, usize)>> =
        (0..args.threads).map(|_| Vec::new()).collect();
    for i in 0..args.connections {
        let s = std::net::TcpStream::connect_timeout(&args.addr, Duration::from_secs(10))
            .map_err(|e| format!("connection {i} to {}: {e}", args.addr))?;
        s.set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        per_thread[i % args.threads].push((s, i % frames.len()));
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let measure_to = measure_from + Duration::from_secs_f64(args.seconds);
    let rate = args.rate / args.threads as f64;
    let results: Vec<Result<Stats, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = per_thread
            .into_iter()
            .map(|conns| {
                let frames = &frames;
                let window = args.window;
                scope.spawn(move || {
                    run_thread(conns, frames, rate, window, start, measure_from, measure_to)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a load thread panicked".to_string()))
            })
            .collect()
    });
    let mut total = Stats::default();
    for r in results {
        let s = r?;
        total.offered += s.offered;
        total.sent += s.sent;
        total.answered += s.answered;
        total.bad_answers += s.bad_answers;
        total.errors += s.errors;
        if total.first_error.is_none() {
            total.first_error = s.first_error;
        }
        total.lat_us.extend_from_slice(&s.lat_us);
        // each thread's longest gap without an answer; the run's is at most the smallest
        // of them when threads interleave, so the largest is the conservative figure
        total.stall_max_us = total.stall_max_us.max(s.stall_max_us);
        total.not_sent_no_free_connection += s.not_sent_no_free_connection;
        total.unanswered_at_end += s.unanswered_at_end;
    }
    total.lat_us.sort_unstable();
    let l = &total.lat_us;
    let secs = args.seconds;
    let offered = if args.rate > 0.0 {
        json_num(total.offered)
    } else {
        "null".to_string()
    };
    Ok(format!(
        concat!(
            "{{\"connections\": {}, \"window\": {}, \"threads\": {}, \"rate_offered_per_s\": {}, ",
            "\"seconds\": {}, \"offered\": {}, \"sent\": {}, \"answered\": {}, ",
            "\"sent_per_s\": {}, \"answered_per_s\": {}, ",
            "\"ack_ms_p50\": {}, \"ack_ms_p90\": {}, \"ack_ms_p99\": {}, \"ack_ms_max\": {}, ",
            "\"stall_max_ms\": {}, \"not_sent_no_free_connection\": {}, ",
            "\"unanswered_at_end\": {}, \"bad_answers\": {}, \"errors\": {}, \"first_error\": {}}}"
        ),
        args.connections,
        args.window,
        args.threads,
        if args.rate > 0.0 {
            json_num(args.rate)
        } else {
            "null".to_string()
        },
        json_num(secs),
        offered,
        total.sent,
        total.answered,
        json_num(total.sent as f64 / secs),
        json_num(total.answered as f64 / secs),
        json_num(pct(l, 0.50)),
        json_num(pct(l, 0.90)),
        json_num(pct(l, 0.99)),
        json_num(l.last().map_or(f64::NAN, |&x| f64::from(x) / 1000.0)),
        json_num(total.stall_max_us as f64 / 1000.0),
        json_num(total.not_sent_no_free_connection),
        total.unanswered_at_end,
        total.bad_answers,
        total.errors,
        total
            .first_error
            .as_deref()
            .map_or("null".to_string(), json_str),
    ))
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = parse_args(&argv).and_then(|a| run(&a));
    match result {
        Ok(json) => println!("{json}"),
        Err(msg) => {
            eprintln!("hj212-loadgen: {msg}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_at_crlf() {
        let data = b"##0001a\r\n##0002bc\r\n";
        let f = split_frames(data).unwrap();
        assert_eq!(f, vec![b"##0001a\r\n".to_vec(), b"##0002bc\r\n".to_vec()]);
    }

    #[test]
    fn a_file_without_frames_is_an_error() {
        assert!(split_frames(b"").is_err());
        assert!(split_frames(b"junk\r\n").is_err());
        assert!(split_frames(b"##0001a").is_err());
    }

    #[test]
    fn crlf_found_across_the_resume_point() {
        // "\r" seen in one read, "\n" in the next: searching from the end of the first
        // read must still find the pair
        assert_eq!(find_crlf(b"##ab\r\n", 5), Some(4));
        assert_eq!(find_crlf(b"##ab\r\n##cd\r\n", 6), Some(10));
        assert_eq!(find_crlf(b"##ab", 0), None);
    }

    #[test]
    fn percentiles_of_sorted_micros() {
        let v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(pct(&v, 0.5), 51.0);
        assert_eq!(pct(&v, 0.99), 100.0);
        assert!(pct(&[], 0.5).is_nan());
    }

    #[test]
    fn bad_options_are_errors_not_panics() {
        let a = |s: &[&str]| parse_args(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert!(a(&["--addr", "127.0.0.1:1"]).is_err());
        assert!(a(&["--addr", "nope", "--frames", "f"]).is_err());
        assert!(a(&["--addr", "127.0.0.1:1", "--frames", "f", "--window", "0"]).is_err());
        let ok = a(&["--addr", "127.0.0.1:1", "--frames", "f", "--rate", "5000"]).unwrap();
        assert_eq!(ok.rate, 5000.0);
        assert_eq!(ok.connections, 2000);
    }
}
