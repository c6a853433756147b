//! The platform's side of every conversation of appendix C, built by `encode` and compared
//! with what the appendix prints: requests (`request`), answers (`answer`, `answer_rejected`),
//! and the header scan of rejected frames (`hint::scan`).

use hj212::encode::{answer, answer_rejected, request, Reply};
use hj212::frame::wrap;
use hj212::hint::{scan, HeaderHint};
use hj212::{ErrorKind, Frame, Options};
use proptest::prelude::*;

mod common;

use common::{appendix_c as rows, Row};

/// The appendix's segment with its printing deviations undone, for comparing headers and
/// answers: the `…` placeholders of elided fields, stray spaces after `&&`, and the
/// separators of C.19, C.22 and C.48 (`Flag=5CP=`, `QN=...,ST=`).
fn cleaned(seg: &str) -> String {
    seg.replace(";…&&", "&&")
        .replace("…&&", "&&")
        .replace("&& ", "&&")
        .replace(" &&", "&&")
        .replace("Flag=5CP=", "Flag=5;CP=")
        .replace("534,ST=", "534;ST=")
}

fn parse_clean(r: &Row) -> Frame {
    let seg = cleaned(&r.segment);
    Frame::parse_segment(seg.as_bytes(), &Options::lenient())
        .unwrap_or_else(|e| panic!("{}: {e}\n    {seg}", r.id))
}

fn is_answer(cn: u16) -> bool {
    (9011..=9014).contains(&cn)
}

fn text(frame: &[u8]) -> String {
    String::from_utf8_lossy(frame).into_owned()
}

/// Requests whose printed segment carries a deviation (the data file's note): built from the
/// fields the appendix means, they differ from the print only by that deviation.
/// c065/c116: `,` between BeginTime and EndTime; c097: `CTime` for `Ctime`; c123: a space
/// before `Flag`.
const NOTED_REQUESTS: [&str; 4] = ["c065", "c097", "c116", "c123"];

#[test]
fn every_platform_request_is_built_as_printed() {
    let mut built = 0;
    let mut wrong = Vec::new();
    for r in rows().iter().filter(|r| r.down) {
        let f = parse_clean(r);
        if is_answer(f.cn_num()) {
            continue;
        }
        let fields: Vec<(String, String)> = f
            .cp_fields()
            .map(|(k, v)| {
                (
                    if k == "CTime" {
                        "Ctime".to_string()
                    } else {
                        k.into_owned()
                    },
                    v.into_owned(),
                )
            })
            .collect();
        let out = request(
            f.cn_num(),
            &f.mn().unwrap(),
            &f.pw().unwrap(),
            &f.st().unwrap(),
            f.qn().as_deref(),
            f.edition(),
            f.needs_ack(),
            &fields,
        );
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                wrong.push(format!("{}: {e}", r.id));
                continue;
            }
        };
        built += 1;
        // appendix C sends requests with the station's ST (32 or 23), never 91
        assert_ne!(f.st().as_deref(), Some("91"), "{}", r.id);
        Frame::parse(&out, &Options::strict()).unwrap_or_else(|e| panic!("{}: {e}", r.id));
        let expected = if NOTED_REQUESTS.contains(&r.id.as_str()) {
            let fixed = r
                .segment
                .replace(",EndTime=", ";EndTime=")
                .replace("CTime=", "Ctime=")
                .replace("; Flag=", ";Flag=");
            assert_ne!(
                fixed, r.segment,
                "{}: the noted deviation was not found",
                r.id
            );
            fixed
        } else {
            assert!(
                r.note.is_empty() || r.id == "c001",
                "{}: unexpected note {}",
                r.id,
                r.note
            );
            r.segment.clone()
        };
        if out != wrap(expected.as_bytes()) {
            wrong.push(format!(
                "{}:\n    built    {}\n    appendix {expected}",
                r.id,
                text(&out)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(built >= 30, "only {built} requests found in appendix C");
}

/// Uploads the appendix sends with Flag=5 but shows no 9014 for (noted in the data file).
/// The standard's rule (C.42/C.44: "根据标志 Flag 的值决定是否返回数据应答") is to answer
/// when A=1, so `Auto` answers them; these are the appendix's omissions.
const UNANSWERED_IN_APPENDIX: [&str; 2] = ["c063", "c095"];

#[test]
fn the_platform_answers_uploads_as_the_appendix_shows() {
    let rows = rows();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let f = parse_clean(r);
        // the platform's side: frames from the logger, and the logger's answers to the
        // platform's notifications (2012/2022) to check the same rule from the other side
        let auto = answer(&f, Reply::Auto);
        let next = rows
            .get(i + 1)
            .filter(|n| n.section == r.section && n.down != r.down);
        let next_answer = next
            .map(|n| (n, parse_clean(n)))
            .filter(|(_, nf)| matches!(nf.cn_num(), 9013 | 9014) && nf.qn() == f.qn());
        if r.down && !matches!(f.cn_num(), 2012 | 2022) {
            continue;
        }
        match (auto, next_answer) {
            (Some(a), Some((n, _))) => {
                checked += 1;
                let expected = wrap(cleaned(&n.segment).as_bytes());
                if a != expected {
                    wrong.push(format!(
                        "{} -> {}:\n    built    {}\n    appendix {}",
                        r.id,
                        n.id,
                        text(&a),
                        text(&expected)
                    ));
                }
            }
            (Some(a), None) if UNANSWERED_IN_APPENDIX.contains(&r.id.as_str()) => {
                assert!(text(&a).contains("CN=9014;"), "{}", r.id);
            }
            (Some(a), None) => wrong.push(format!(
                "{}: answered {} but the appendix shows none",
                r.id,
                text(&a)
            )),
            (None, Some((n, _))) => {
                wrong.push(format!("{}: no answer, the appendix shows {}", r.id, n.id))
            }
            (None, None) => {
                // nothing due: Flag=4 (no A bit), or an answer itself
                assert!(
                    !f.needs_ack() || is_answer(f.cn_num()),
                    "{}: A=1 but no answer",
                    r.id
                );
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 20, "only {checked} answers compared");
}

#[test]
fn notifications_get_9013_and_2081_gets_9014() {
    let by_id = |id: &str| rows().into_iter().find(|r| r.id == id).unwrap();
    let cn_of = |frame: &[u8]| Frame::parse(frame, &Options::strict()).unwrap().cn_num();
    // C.4: the logger's time calibration request is a notification
    assert_eq!(
        cn_of(&answer(&parse_clean(&by_id("c012")), Reply::Auto).unwrap()),
        9013
    );
    // C.24: the restart time upload is answered like data, not like a notification
    assert_eq!(
        cn_of(&answer(&parse_clean(&by_id("c069")), Reply::Auto).unwrap()),
        9014
    );
    // C.50: every part of a split reply is answered on its own, echoing its own QN
    let a = answer(&parse_clean(&by_id("c154")), Reply::Auto).unwrap();
    assert_eq!(a, wrap(by_id("c155").segment.as_bytes()));
}

#[test]
fn the_logger_answers_requests_with_9011_and_9012() {
    let rows = rows();
    let mut checked = 0;
    for r in rows.iter().filter(|r| !r.down) {
        let f = parse_clean(r);
        let reply = match f.cn_num() {
            9011 => Reply::QnRtn(f.field_text("QnRtn").unwrap().parse().unwrap()),
            9012 => Reply::ExeRtn(f.field_text("ExeRtn").unwrap().parse().unwrap()),
            _ => continue,
        };
        let request = rows
            .iter()
            .find(|q| q.section == r.section && q.down)
            .map(parse_clean)
            .unwrap_or_else(|| panic!("{}: no request in {}", r.id, r.section));
        if request.qn() != f.qn() {
            // C.43 prints a 9011 whose QN does not echo its request (noted)
            assert_eq!(r.id, "c124");
            continue;
        }
        let built = answer(&request, reply).unwrap();
        assert_eq!(
            text(&built),
            text(&wrap(cleaned(&r.segment).as_bytes())),
            "{}",
            r.id
        );
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} answers compared");
}

fn upload() -> Vec<u8> {
    let seg = "QN=20160801085857223;ST=32;CN=2081;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085857;RestartTime=20160801085624&&";
    wrap(seg.as_bytes())
}

fn with_bad_crc(frame: &[u8]) -> Vec<u8> {
    let mut bad = frame.to_vec();
    let at = bad.len() - 3;
    bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
    bad
}

#[test]
fn a_bad_crc_is_answered_with_qnrtn_9() {
    let bad = with_bad_crc(&upload());
    let err = Frame::parse(&bad, &Options::lenient()).unwrap_err();
    assert_eq!((err.kind, err.qn_rtn), (ErrorKind::Crc, Some(9)));
    let hint = scan(&bad);
    let out = answer_rejected(&err, &hint).unwrap();
    assert_eq!(
        text(&out),
        text(&wrap(b"QN=20160801085857223;ST=91;CN=9011;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&QnRtn=9&&"))
    );
}

#[test]
fn rejected_frames_that_expect_no_answer_get_none() {
    let err = Frame::parse(&with_bad_crc(&upload()), &Options::lenient()).unwrap_err();
    let quiet = wrap(
        b"QN=20160801085857223;ST=32;CN=2081;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&",
    );
    assert_eq!(answer_rejected(&err, &scan(&with_bad_crc(&quiet))), None);
    let answer_frame = wrap(
        b"QN=20160801085857223;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&&&",
    );
    assert_eq!(
        answer_rejected(&err, &scan(&with_bad_crc(&answer_frame))),
        None
    );
    let no_qn = HeaderHint {
        qn: None,
        ..scan(&upload())
    };
    assert_eq!(answer_rejected(&err, &no_qn), None);
    let no_flag = HeaderHint {
        flag: None,
        ..scan(&upload())
    };
    assert_eq!(answer_rejected(&err, &no_flag), None);
    // a 2005 sender's Flag keeps its edition bits (0)
    let old = HeaderHint {
        flag: Some(1),
        ..scan(&upload())
    };
    let out = text(&answer_rejected(&err, &old).unwrap());
    assert!(out.contains(";Flag=0;CP=&&QnRtn=9&&"), "{out}");
}

#[test]
fn answers_keep_the_senders_edition() {
    let seg_2005 =
        "ST=32;CN=2011;PW=123456;MN=88888880000001;CP=&&DataTime=20160801085857;B01-Rtd=1.5&&";
    let f = Frame::parse_segment(seg_2005.as_bytes(), &Options::strict()).unwrap();
    assert_eq!(answer(&f, Reply::Auto), None, "no Flag: no answer wanted");
    let a = answer(&f, Reply::Data).unwrap();
    assert_eq!(
        text(&a),
        text(&wrap(b"ST=91;CN=9014;PW=123456;MN=88888880000001;CP=&&&&"))
    );

    let seg_2025 = "QN=20250801085857223;ST=32;CN=2061;PW=123456;MN=010000A8900016F000169DC0;Flag=11;PNUM=2;PNO=1;RF=1;CP=&&DataTime=20250801080000;w01018-Avg=1.5&&";
    let f = Frame::parse_segment(seg_2025.as_bytes(), &Options::strict()).unwrap();
    let a = answer(&f, Reply::Auto).unwrap();
    assert_eq!(
        text(&a),
        text(&wrap(b"QN=20250801085857223;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=8;CP=&&&&"))
    );
    Frame::parse(&a, &Options::strict()).unwrap();
}

/// An appendix C frame with one byte cut, changed, added or removed; `rewrap` damages the
/// segment and frames it with a correct CRC, so the damage reaches the field checks.
fn any_frame(rewrap: bool) -> impl Strategy<Value = Vec<u8>> {
    let rows = rows();
    let segments: Vec<Vec<u8>> = rows
        .iter()
        .map(|r| r.segment.clone().into_bytes())
        .collect();
    (
        proptest::sample::select(segments),
        any::<prop::sample::Index>(),
        any::<u8>(),
        0usize..4,
    )
        .prop_map(move |(seg, at, byte, how)| {
            let mut f = if rewrap { seg } else { wrap(&seg) };
            let i = at.index(f.len());
            match how {
                0 => f.truncate(i),
                1 => f[i] = byte,
                2 => f.insert(i, byte),
                _ => {
                    f.remove(i);
                }
            }
            if rewrap {
                wrap(&f)
            } else {
                f
            }
        })
}

fn check_hint(h: &HeaderHint) -> Result<(), TestCaseError> {
    for v in [&h.qn, &h.st, &h.cn, &h.pw, &h.mn].into_iter().flatten() {
        prop_assert!(!v.is_empty() && v.len() <= 32, "{v:?}");
        prop_assert!(
            v.bytes()
                .all(|b| b.is_ascii_graphic() && !b"=;,&".contains(&b)),
            "{v:?}"
        );
    }
    prop_assert!(!matches!(h.flag, Some(f) if f > 255));
    Ok(())
}

/// Whatever the bytes, an answer built for them is a frame a receiver accepts: from the
/// header scan when they are rejected, from the frame when lenient mode takes it.
fn check_rejected_answer(raw: &[u8]) -> Result<(), TestCaseError> {
    let hint = scan(raw);
    check_hint(&hint)?;
    match Frame::parse(raw, &Options::lenient()) {
        Err(e) => {
            if let Some(a) = answer_rejected(&e, &hint) {
                let f = Frame::parse(&a, &Options::lenient());
                prop_assert!(f.is_ok(), "{:?} -> {:?}", text(raw), text(&a));
                prop_assert_eq!(f.unwrap().cn_num(), 9011);
            }
        }
        Ok(frame) => {
            let replies = [
                Reply::Auto,
                Reply::QnRtn(1),
                Reply::ExeRtn(100),
                Reply::Notify,
                Reply::Data,
            ];
            for reply in replies {
                if let Some(a) = answer(&frame, reply) {
                    let back = Frame::parse(&a, &Options::lenient()).map_err(|e| {
                        TestCaseError::fail(format!(
                            "{:?} {reply:?} -> {:?}: {e}",
                            text(raw),
                            text(&a)
                        ))
                    })?;
                    prop_assert_eq!(back.qn(), frame.qn());
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scan_survives_random_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2000)) {
        check_rejected_answer(&raw)?;
    }

    #[test]
    fn scan_survives_header_like_noise(parts in proptest::collection::vec(
        prop_oneof![
            Just("##".to_string()), Just("0101".to_string()), Just("QN=".to_string()),
            Just("Flag=".to_string()), Just("MN=".to_string()), Just("PW=".to_string()),
            Just(";".to_string()), Just(",".to_string()), Just("=".to_string()),
            Just("CP=&&".to_string()), Just("&&".to_string()), Just(" ".to_string()),
            "[0-9A-F]{0,40}", "\\PC{0,8}",
        ], 0..40)) {
        check_rejected_answer(parts.concat().as_bytes())?;
    }

    #[test]
    fn scan_survives_damaged_frames(raw in any_frame(false)) {
        check_rejected_answer(&raw)?;
    }

    #[test]
    fn answers_to_damaged_segments_parse(raw in any_frame(true)) {
        check_rejected_answer(&raw)?;
    }
}
