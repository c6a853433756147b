//! Split messages (Flag's D bit, PNUM/PNO): joined in any order, duplicates ignored,
//! conflicts refused, bounded in time and memory, and the standard's own examples.

use hj212::reassemble::{Expired, Reassembler};
use hj212::{ErrorKind, Frame, Options};

const MN: &str = "010000A8900016F000169DC0";

fn part(qn: &str, pnum: u32, pno: u32, cp: &str) -> Frame {
    let seg =
        format!("QN={qn};ST=32;CN=2061;PW=123456;MN={MN};Flag=7;PNUM={pnum};PNO={pno};CP=&&{cp}&&");
    Frame::parse_segment(seg.as_bytes(), &Options::strict())
        .unwrap_or_else(|e| panic!("{seg}: {e}"))
}

fn data(i: u32) -> String {
    let codes = [
        "w00000", "w01018", "w21003", "w21011", "w21001", "w01001", "w01018", "w21003", "w21011",
        "w21001",
    ];
    let c = codes[i as usize % codes.len()];
    format!("DataTime=20160801080000;{c}-Avg={i}.5,{c}-Flag=N")
}

const QN: &str = "20160801085857534";

fn three_parts() -> Vec<Frame> {
    (1..=3).map(|i| part(QN, 3, i, &data(i))).collect()
}

fn big() -> Reassembler {
    Reassembler::new(60_000, 100, 1 << 20)
}

#[test]
fn non_split_frames_pass_through() {
    let seg = format!("QN={QN};ST=32;CN=2011;PW=123456;MN={MN};Flag=5;CP=&&DataTime=20160801080000;w01018-Rtd=1.5&&");
    let f = Frame::parse_segment(seg.as_bytes(), &Options::strict()).unwrap();
    let mut r = big();
    assert_eq!(r.add(f.clone(), 0).unwrap(), Some(f));
    assert_eq!(r.pending(), 0);
}

#[test]
fn in_order() {
    let mut r = big();
    let parts = three_parts();
    assert_eq!(r.add(parts[0].clone(), 0).unwrap(), None);
    assert_eq!(r.add(parts[1].clone(), 10).unwrap(), None);
    assert_eq!(r.pending(), 1);
    assert_eq!(r.pending_bytes(), parts[0].raw.len() + parts[1].raw.len());
    let joined = r.add(parts[2].clone(), 20).unwrap().expect("complete");
    assert_eq!(r.pending(), 0);
    assert_eq!(r.pending_bytes(), 0);
    assert_eq!(
        joined.segment(),
        format!(
            "QN={QN};ST=32;CN=2061;PW=123456;MN={MN};Flag=5;CP=&&\
             DataTime=20160801080000;w01018-Avg=1.5,w01018-Flag=N;\
             w21003-Avg=2.5,w21003-Flag=N;w21011-Avg=3.5,w21011-Flag=N&&"
        )
    );
    assert!(!joined.is_split());
    assert_eq!((joined.pnum(), joined.pno()), (None, None));
    assert_eq!(joined.flag(), Some(5));
    assert!(joined.warnings.is_empty(), "{:?}", joined.warnings);
    // a normal frame: its raw parses back, even in strict mode
    assert_eq!(
        Frame::parse(&joined.raw, &Options::strict()).unwrap(),
        joined
    );
    assert_eq!(joined.pollutants().len(), 3);
}

#[test]
fn out_of_order() {
    let parts = three_parts();
    let mut in_order = big();
    let mut want = None;
    for p in &parts {
        want = in_order.add(p.clone(), 0).unwrap();
    }
    for order in [[2, 0, 1], [1, 2, 0], [2, 1, 0]] {
        let mut r = big();
        let mut got = None;
        for i in order {
            assert!(got.is_none());
            got = r.add(parts[i].clone(), 0).unwrap();
        }
        assert_eq!(got, want, "order {order:?}");
    }
}

#[test]
fn duplicates_are_ignored_while_pending_and_after_joining() {
    let parts = three_parts();
    let mut r = big();
    r.add(parts[0].clone(), 0).unwrap();
    assert_eq!(r.add(parts[0].clone(), 1).unwrap(), None, "resent part");
    assert_eq!(r.pending_bytes(), parts[0].raw.len());
    r.add(parts[1].clone(), 2).unwrap();
    assert!(r.add(parts[2].clone(), 3).unwrap().is_some());
    // the logger missed our answer and sends the last part again
    assert_eq!(r.add(parts[2].clone(), 4).unwrap(), None);
    assert_eq!(
        r.pending(),
        0,
        "a resend after joining opens no new message"
    );
}

#[test]
fn same_pno_with_other_bytes_is_a_conflict() {
    let mut r = big();
    r.add(part(QN, 3, 1, &data(1)), 0).unwrap();
    let e = r.add(part(QN, 3, 1, &data(9)), 1).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Field);
    assert_eq!(e.field.as_deref(), Some("PNO"));
    assert_eq!(
        r.pending_bytes(),
        part(QN, 3, 1, &data(1)).raw.len(),
        "what is held is kept"
    );
}

#[test]
fn other_pnum_under_the_same_key_is_a_conflict() {
    let mut r = big();
    r.add(part(QN, 3, 1, &data(1)), 0).unwrap();
    let e = r.add(part(QN, 4, 2, &data(2)), 1).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Field);
    assert_eq!(e.field.as_deref(), Some("PNUM"));
    assert!(e.message.contains("PNUM=3"), "{}", e.message);
    // the held message still completes
    r.add(part(QN, 3, 2, &data(2)), 2).unwrap();
    assert!(r.add(part(QN, 3, 3, &data(3)), 3).unwrap().is_some());
}

#[test]
fn pnum_beyond_the_memory_bound_is_refused() {
    let mut r = Reassembler::new(1000, 10, 4800);
    let e = r.add(part(QN, 101, 1, &data(1)), 0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Field);
    assert_eq!(e.field.as_deref(), Some("PNUM"));
    assert!(r.add(part(QN, 100, 1, &data(1)), 0).unwrap().is_none());
}

#[test]
fn timeout_expires_from_the_first_part() {
    let parts = three_parts();
    let mut r = Reassembler::new(1000, 100, 1 << 20);
    r.add(parts[0].clone(), 0).unwrap();
    r.add(parts[2].clone(), 900).unwrap();
    assert!(r.expire(1000).is_empty(), "not older than the timeout yet");
    let expired = r.expire(1001);
    assert_eq!(
        expired,
        vec![Expired {
            mn: MN.into(),
            qn: QN.into(),
            cn: 2061,
            pnum: 3,
            missing: vec![2],
            parts: vec![parts[0].clone(), parts[2].clone()],
        }]
    );
    assert_eq!((r.pending(), r.pending_bytes()), (0, 0));
    // the late part opens a new message
    assert_eq!(r.add(parts[1].clone(), 1002).unwrap(), None);
    assert_eq!(r.pending(), 1);
}

#[test]
fn memory_bound_evicts_oldest_first() {
    // at most two messages
    let mut r = Reassembler::new(60_000, 2, 1 << 20);
    for (t, qn) in [
        "20160801085857001",
        "20160801085857002",
        "20160801085857003",
    ]
    .iter()
    .enumerate()
    {
        r.add(part(qn, 2, 1, &data(1)), t as u64).unwrap();
    }
    assert_eq!(r.pending(), 2);
    let evicted = r.expire(3);
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0].qn, "20160801085857001");
    assert_eq!(evicted[0].missing, vec![2]);
    assert!(r.expire(4).is_empty(), "handed back once");
    // the others still complete
    assert!(r
        .add(part("20160801085857003", 2, 2, &data(2)), 5)
        .unwrap()
        .is_some());

    // at most this many bytes
    let one = part(QN, 4, 1, &data(1)).raw.len();
    let mut r = Reassembler::new(60_000, 100, 2 * one + one / 2);
    r.add(part("20160801085857001", 4, 1, &data(1)), 0).unwrap();
    r.add(part("20160801085857001", 4, 2, &data(2)), 1).unwrap();
    assert_eq!(r.pending_bytes(), 2 * one);
    r.add(part("20160801085857002", 4, 1, &data(1)), 2).unwrap();
    assert!(r.pending_bytes() <= 2 * one + one / 2);
    assert_eq!(r.pending(), 1);
    let evicted = r.expire(3);
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0].parts.len(), 2);
    assert_eq!(evicted[0].missing, vec![3, 4]);
}

#[test]
fn single_part_message_completes_at_once() {
    let mut r = big();
    let joined = r.add(part(QN, 1, 1, &data(1)), 0).unwrap().unwrap();
    assert_eq!(joined.flag(), Some(5));
    assert_eq!(joined.cp_text(), data(1));
}

// ---- the standard's split examples, appendix C tables C.49 and C.50 ----

fn appendix_segment(id: &str) -> String {
    let text = include_str!("data/appendix_c.tsv");
    text.lines()
        .find(|l| l.split('\t').next() == Some(id))
        .and_then(|l| l.split('\t').nth(4))
        .unwrap_or_else(|| panic!("{id} not in appendix_c.tsv"))
        .to_string()
}

/// The standard prints `…` where it elides the rest of each part's data area; it is not
/// data. Here the placeholder is replaced by one more pollutant group per part, so the
/// segment is a real one.
fn appendix_part(id: &str, elided: &str) -> Frame {
    let seg = appendix_segment(id);
    assert!(seg.contains('…'), "{id} no longer has the placeholder");
    let seg = seg.replace('…', elided);
    Frame::parse_segment(seg.as_bytes(), &Options::strict()).unwrap_or_else(|e| panic!("{id}: {e}"))
}

const ELIDED_1: &str = "w21003-Min=0.5,w21003-Avg=0.6,w21003-Max=0.7,w21003-Flag=N";
const ELIDED_2: &str = "w21011-Min=0.1,w21011-Avg=0.2,w21011-Max=0.3,w21011-Flag=N";

fn check_standard_example(p1: &str, p2: &str, flag: u16) {
    let one = appendix_part(p1, ELIDED_1);
    let two = appendix_part(p2, ELIDED_2);
    // the standard gives the two parts different QNs
    assert_ne!(one.qn(), two.qn());
    for (first, second) in [(&one, &two), (&two, &one)] {
        let mut r = big();
        assert_eq!(r.add(first.clone(), 0).unwrap(), None);
        let joined = r
            .add(second.clone(), 50)
            .unwrap()
            .expect("the parts belong together");
        assert_eq!(r.pending(), 0);
        assert_eq!(
            joined.qn().as_deref(),
            Some("20160801085857534"),
            "the first part's header"
        );
        assert_eq!(joined.flag(), Some(flag));
        assert_eq!(joined.cn_num(), 2061);
        assert_eq!(joined.data_time().as_deref(), Some("20160801080000"));
        let codes: Vec<String> = joined.pollutants().into_iter().map(|(c, _)| c).collect();
        assert_eq!(codes, ["w00000", "w01001", "w21003", "w01018", "w21011"]);
        assert_eq!(
            Frame::parse(&joined.raw, &Options::strict()).unwrap(),
            joined
        );
    }
}

#[test]
fn standard_example_c49_parts_with_their_own_qns() {
    check_standard_example("c147", "c148", 4);
}

#[test]
fn standard_example_c50_parts_with_their_own_qns() {
    check_standard_example("c152", "c154", 5);
}

/// Two messages of the same device in the standard's style (a QN per part), the second's
/// first part arriving before the first's last: each last part joins the message that
/// heard from its device most recently and lacks that part.
#[test]
fn parts_with_own_qns_join_the_most_recent_message() {
    let mut r = big();
    let a1 = part("20160801085857001", 2, 1, &data(1));
    let b1 = part("20160801085857003", 2, 1, &data(3));
    let b2 = part("20160801085857004", 2, 2, &data(4));
    r.add(a1, 0).unwrap();
    r.add(b1, 10).unwrap();
    let joined = r.add(b2.clone(), 20).unwrap().unwrap();
    assert_eq!(joined.qn().as_deref(), Some("20160801085857003"));
    assert_eq!(r.pending(), 1);
    // b2 resent: recognised, not a new message and not a part of message a
    assert_eq!(r.add(b2, 30).unwrap(), None);
    assert_eq!(r.pending(), 1);
    let left = r.expire(100_000);
    assert_eq!(left[0].qn, "20160801085857001");
    assert_eq!(left[0].missing, vec![2]);
}

/// A part of another device, command or PNUM never joins by the sibling rule.
#[test]
fn sibling_rule_needs_same_device_command_and_count() {
    let mut r = big();
    r.add(part("20160801085857001", 2, 1, &data(1)), 0).unwrap();
    let other_pnum = part("20160801085857002", 3, 2, &data(2));
    assert_eq!(r.add(other_pnum, 1).unwrap(), None);
    assert_eq!(r.pending(), 2);
    let seg = format!(
        "QN=20160801085857009;ST=32;CN=2051;PW=123456;MN={MN};Flag=7;PNUM=2;PNO=2;CP=&&{}&&",
        data(2)
    );
    let other_cn = Frame::parse_segment(seg.as_bytes(), &Options::strict()).unwrap();
    assert_eq!(r.add(other_cn, 2).unwrap(), None);
    assert_eq!(r.pending(), 3);
    // too late: the message has not heard a part within the timeout
    let mut r = Reassembler::new(1000, 100, 1 << 20);
    r.add(part("20160801085857001", 2, 1, &data(1)), 0).unwrap();
    assert_eq!(
        r.add(part("20160801085857002", 2, 2, &data(2)), 1001)
            .unwrap(),
        None
    );
    assert_eq!(r.pending(), 2);
}
