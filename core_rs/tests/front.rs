//! The gateway's front end (`hj212::front`) over a real loopback socket: an unbound
//! connection's reads come back as data events; once bound, the usual read is kept, made
//! into a spool record at `take` and answered only when its token is released; a bind
//! that names a stale data event is refused; a read that is not the usual one unbinds the
//! connection and carries the frame an earlier read began; a peer that reads nothing makes
//! the front end keep the bytes and tell the gateway to pause, and gets them all, in
//! order, once it reads (a close waits for them).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hj212::front::{Binding, Cmd, Event, Front, Group, Taken};

fn frame(qn: u32) -> Vec<u8> {
    let seg = format!(
        "QN=20240101{qn:09};ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;\
         CP=&&DataTime=20240101000000;w01018-Rtd=1.5,w01018-Flag=N&&"
    );
    hj212::frame::wrap(seg.as_bytes())
}

/// Take until `done` holds for what was taken so far (or fail after 5 s).
fn take_until(front: &Front, seq: &mut u64, done: impl Fn(&[Event], &[Group]) -> bool) -> Taken {
    let mut all = Taken::default();
    let mut groups = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let t = front.take(*seq, 0).expect("records fit");
        all.events.extend(t.events);
        if let Some(g) = t.group {
            *seq += g.parts.len() as u64;
            groups.push(g);
        }
        if done(&all.events, &groups) {
            all.group = groups.pop();
            return all;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out; events so far: {:?}", all.events);
}

fn binding() -> Binding {
    Binding {
        mn: "010000A8900016F000169DC0".into(),
        pw: "123456".into(),
        key: b"010000A8900016F000169DC0".to_vec(),
        sender: b"\x02gw\x0f127.0.0.1:40000".to_vec(),
    }
}

fn read_line(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        match s.read(&mut b) {
            Ok(1) => out.push(b[0]),
            other => panic!("no answer: {other:?} after {out:?}"),
        }
    }
    out
}

#[test]
fn a_bound_connection_keeps_its_usual_read_and_answers_on_release() {
    let front = Front::start("127.0.0.1", 0, false, false).expect("listens");
    let mut client = TcpStream::connect(front.local_addr()).expect("connects");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut seq = 100;
    client.write_all(&frame(1)).expect("writes");
    let t = take_until(&front, &mut seq, |ev, _| {
        ev.iter().any(|e| matches!(e, Event::Data { .. }))
    });
    let (conn, data_seq, data) = t
        .events
        .iter()
        .find_map(|e| match e {
            Event::Data { conn, seq, data } => Some((*conn, *seq, data.clone())),
            _ => None,
        })
        .expect("a data event");
    assert!(matches!(t.events[0], Event::Opened { conn: c, .. } if c == conn));
    assert_eq!((data_seq, data), (1, frame(1)));

    // a bind naming an event before the last one is refused: the read comes back as data
    front.send(Cmd::Bind(conn, 0, binding()));
    client.write_all(&frame(2)).expect("writes");
    let t = take_until(&front, &mut seq, |ev, _| !ev.is_empty());
    assert_eq!(
        t.events,
        vec![Event::Data {
            conn,
            seq: 2,
            data: frame(2)
        }]
    );
    assert!(t.group.is_none());

    front.send(Cmd::Bind(conn, 2, binding()));
    std::thread::sleep(Duration::from_millis(50));
    client.write_all(&frame(3)).expect("writes");
    let t = take_until(&front, &mut seq, |_, g| !g.is_empty());
    let g = t.group.expect("a group");
    assert!(t.events.is_empty(), "{:?}", t.events);
    assert_eq!(g.parts.len(), 1);
    assert_eq!(g.conns, vec![(conn, binding().mn, 1)]);
    assert_eq!(g.cns, vec![("2011".to_string(), 1)]);
    let (k, v) = g.parts[0].clone();
    assert_eq!(&g.records[k], binding().key.as_slice());
    let env = hj212::envelope::read(&g.records[v]).expect("an envelope");
    // numbered from the `first_seq` of the take (the data events took none here)
    assert_eq!((env.seq, env.raw), (100, frame(3).as_slice()));

    // not answered before the group is released
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut b = [0u8; 16];
    assert!(client.read(&mut b).is_err(), "answered before release");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    front.send(Cmd::Release(g.token));
    let answer = read_line(&mut client);
    assert!(
        answer.windows(8).any(|w| w == b"CN=9014;"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn a_read_that_is_not_the_usual_one_carries_the_frame_begun_before_it() {
    let front = Front::start("127.0.0.1", 0, false, false).expect("listens");
    let mut client = TcpStream::connect(front.local_addr()).expect("connects");
    let mut seq = 0;
    client.write_all(&frame(1)).expect("writes");
    let t = take_until(&front, &mut seq, |ev, _| {
        ev.iter().any(|e| matches!(e, Event::Data { .. }))
    });
    let conn = match t.events.last() {
        Some(Event::Data { conn, .. }) => *conn,
        other => panic!("{other:?}"),
    };
    front.send(Cmd::Bind(conn, 1, binding()));
    std::thread::sleep(Duration::from_millis(50));
    let (a, b) = (frame(2), frame(3));
    client.write_all(&a[..40]).expect("writes");
    std::thread::sleep(Duration::from_millis(50));
    let mut rest = a[40..].to_vec();
    rest.extend_from_slice(&b);
    client.write_all(&rest).expect("writes");
    let t = take_until(&front, &mut seq, |ev, _| !ev.is_empty());
    let mut whole = a.clone();
    whole.extend_from_slice(&b);
    assert_eq!(
        t.events,
        vec![Event::Data {
            conn,
            seq: 2,
            data: whole
        }]
    );
    assert!(t.group.is_none());
}

#[test]
fn a_closed_connection_is_an_event_after_its_last_bytes() {
    let front = Front::start("127.0.0.1", 0, false, false).expect("listens");
    let mut client = TcpStream::connect(front.local_addr()).expect("connects");
    client.write_all(&frame(1)[..30]).expect("writes");
    drop(client);
    let mut seq = 0;
    let t = take_until(&front, &mut seq, |ev, _| {
        ev.iter().any(|e| matches!(e, Event::Closed { .. }))
    });
    assert!(matches!(t.events[0], Event::Opened { .. }));
    assert!(matches!(&t.events[1], Event::Data { data, .. } if data.as_slice() == &frame(1)[..30]));
    assert!(matches!(t.events[2], Event::Closed { error: None, .. }));
}

/// The connection's id, from its `Opened` event.
fn opened(front: &Front, seq: &mut u64) -> u64 {
    let t = take_until(front, seq, |ev, _| {
        ev.iter().any(|e| matches!(e, Event::Opened { .. }))
    });
    t.events
        .iter()
        .find_map(|e| match e {
            Event::Opened { conn, .. } => Some(*conn),
            _ => None,
        })
        .expect("opened")
}

/// Chunk `i` of the writes below: its bytes say which it is, so order can be checked.
fn chunk(i: usize) -> Vec<u8> {
    vec![(i % 251) as u8; 16 * 1024]
}

#[test]
fn a_peer_that_does_not_read_pauses_the_gateway_and_gets_every_byte_in_order_after() {
    let front = Front::start("127.0.0.1", 0, false, false).expect("listens");
    // a small receive buffer (set before connecting) so the kernel's buffers fill soon
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.set_recv_buffer_size(4096).expect("rcvbuf");
    sock.connect(&front.local_addr().into()).expect("connects");
    let mut client: TcpStream = sock.into();
    let mut seq = 0;
    let conn = opened(&front, &mut seq);

    // the gateway writes and the logger reads nothing: past the kernel's buffers the
    // front end keeps the bytes and tells the gateway to stop (asyncio's pause_writing)
    let mut sent = 0usize;
    let mut paused = false;
    while !paused {
        assert!(sent < 64 << 20, "no pause after {sent} bytes unread");
        for _ in 0..16 {
            front.send(Cmd::Write(conn, chunk(sent / (16 * 1024))));
            sent += 16 * 1024;
        }
        std::thread::sleep(Duration::from_millis(20));
        let t = front.take(seq, 0).expect("takes");
        assert!(
            !t.events.iter().any(|e| matches!(e, Event::Closed { .. })),
            "{:?}",
            t.events
        );
        paused = t.events.contains(&Event::WritePaused { conn });
    }

    // the logger reads: everything comes, in order, and the gateway may write again
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut got = vec![0u8; sent];
    client.read_exact(&mut got).expect("every byte written");
    for (i, c) in got.chunks(16 * 1024).enumerate() {
        assert!(
            c.iter().all(|&b| b == (i % 251) as u8),
            "chunk {i} out of order"
        );
    }
    take_until(&front, &mut seq, |ev, _| {
        ev.contains(&Event::WriteResumed { conn })
    });

    // queued bytes go before a close: a close asked for with bytes pending waits for them
    for i in 0..64 {
        front.send(Cmd::Write(conn, chunk(1000 + i)));
    }
    front.send(Cmd::Close(conn));
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("read to the end");
    assert_eq!(rest.len(), 64 * 16 * 1024);
    assert!(rest
        .chunks(16 * 1024)
        .enumerate()
        .all(|(i, c)| c.iter().all(|&b| b == ((1000 + i) % 251) as u8)));
    take_until(&front, &mut seq, |ev, _| {
        ev.contains(&Event::Closed { conn, error: None })
    });
}
