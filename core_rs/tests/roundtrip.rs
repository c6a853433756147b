//! encode -> parse gives back every field: generated frames of the 2005, 2017 and 2025
//! editions, with and without QN, RF and split flags, 0..20 pollutants; and `encode_split`
//! parts that each parse and, joined, carry the whole data area.

use hj212::encode::{cp_text, encode, encode_split, qn_from_unix_millis, Fields};
use hj212::segment::{FLAG_A, FLAG_D};
use hj212::text::format_wall_seconds;
use hj212::{ErrorKind, Frame, Options, Value};
use proptest::prelude::*;

const CODES: [&str; 24] = [
    "w00000", "w01001", "w01018", "w21003", "w21011", "w21001", "a00000", "a34013", "a21026",
    "a21002", "a19001", "a01011", "a01012", "a01013", "a01014", "B01", "011", "060", "B02", "01",
    "S01", "e10001", "g10101", "zz9999",
];
const NUMERIC: [&str; 5] = ["Rtd", "Min", "Avg", "Max", "Cou"];
const FLAGS: [&str; 8] = ["N", "F", "M", "S", "D", "C", "T", "B"];

/// A number within N14.6: an integer of at most 14 digits scaled by 10^-k, k <= 6.
fn number() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        0u64..100_000_000_000_000,
        0usize..=6,
        1u32..=14,
    )
        .prop_map(|(neg, m, k, digits)| {
            let m = m % 10u64.pow(digits);
            let s = format!("{m:0width$}", width = k + 1);
            let (int, frac) = s.split_at(s.len() - k);
            let body = if k == 0 {
                int.to_string()
            } else {
                format!("{int}.{frac}")
            };
            if neg && m != 0 {
                format!("-{body}")
            } else {
                body
            }
        })
}

/// One pollutant group: a code and a non-empty choice of its fields.
fn group(code: &'static str) -> impl Strategy<Value = Vec<(String, String)>> {
    (
        proptest::collection::vec(proptest::option::of(number()), NUMERIC.len()),
        proptest::option::of(proptest::sample::select(&FLAGS[..])),
    )
        .prop_map(move |(values, flag)| {
            let mut g: Vec<(String, String)> = NUMERIC
                .iter()
                .zip(values)
                .filter_map(|(s, v)| v.map(|v| (format!("{code}-{s}"), v)))
                .collect();
            if let Some(f) = flag {
                g.push((format!("{code}-Flag"), f.to_string()));
            }
            if g.is_empty() {
                g.push((format!("{code}-Rtd"), "0".into()));
            }
            g
        })
}

fn data_area() -> impl Strategy<Value = Vec<(String, String)>> {
    // 2000-01-01 .. 2099-12-31, wall-clock seconds
    let time = 946_684_800i64..4_102_444_799;
    (
        proptest::option::of(time),
        proptest::sample::subsequence(&CODES[..], 0..20),
    )
        .prop_flat_map(|(time, codes)| {
            let groups: Vec<_> = codes.into_iter().map(group).collect();
            (Just(time), groups)
        })
        .prop_map(|(time, groups)| {
            let mut cp = Vec::new();
            if let Some(t) = time {
                cp.push(("DataTime".to_string(), format_wall_seconds(t)));
            }
            cp.extend(groups.into_iter().flatten());
            cp
        })
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        prop_oneof![Just(2005u16), Just(2017), Just(2025)],
        any::<bool>(),
        proptest::option::of(946_684_800_000i64..4_102_444_799_000),
        proptest::sample::select(&["21", "22", "31", "32", "51"][..]),
        proptest::sample::select(&[2011u16, 2031, 2051, 2061][..]),
        "[0-9a-zA-Z]{6}",
        "[0-9A-F]{24}",
        "[0-9A-Z]{14}",
        proptest::option::of((1u32..=20).prop_flat_map(|n| (Just(n), 1..=n))),
        proptest::option::of(prop_oneof![Just("0"), Just("1")]),
        data_area(),
    )
        .prop_map(
            |(edition, ack, qn_ms, st, cn, pw, mn24, mn14, split, rf, cp)| {
                let flag = match edition {
                    // a 2005 frame either has no Flag at all or one with edition bits 0
                    2005 if qn_ms.is_none() && split.is_none() => None,
                    e => Some(hj212::segment::flag_for(e, ack, split.is_some())),
                };
                let (pnum, pno) = match (flag, split) {
                    (Some(_), Some((n, no))) => (Some(n), Some(no)),
                    _ => (None, None),
                };
                Fields {
                    qn: qn_ms.map(qn_from_unix_millis),
                    st: st.to_string(),
                    cn,
                    pw,
                    mn: if edition == 2005 { mn14 } else { mn24 },
                    flag,
                    pnum,
                    pno,
                    rf: if edition == 2025 {
                        rf.map(String::from)
                    } else {
                        None
                    },
                    cp,
                    cp_raw: None,
                }
            },
        )
}

fn header_of(frame: &Frame) -> Fields {
    Fields {
        cp: Vec::new(),
        ..Fields::from_frame(frame)
    }
}

fn pairs(frame: &Frame) -> Vec<(String, String)> {
    frame
        .cp_fields()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn check_values(frame: &Frame, cp: &[(String, String)]) -> Result<(), TestCaseError> {
    let polls = frame.pollutants();
    for (k, v) in cp {
        let Some((code, suffix)) = k.rsplit_once('-') else {
            continue;
        };
        let group = polls.iter().find(|(c, _)| c == code).map(|(_, g)| g);
        let got = group
            .and_then(|g| g.iter().find(|(s, _)| s == suffix))
            .map(|(_, v)| v);
        let want = if NUMERIC.contains(&suffix) {
            Value::Number(v.parse::<f64>().unwrap())
        } else {
            Value::Text(v.clone())
        };
        prop_assert_eq!(got, Some(&want), "{}", k);
    }
    Ok(())
}

fn encoded_len(f: &Fields) -> usize {
    cp_text(&f.cp).len()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_parse_gives_every_field(f in fields()) {
        let raw = match encode(&f) {
            Ok(raw) => raw,
            Err(e) => {
                // too long for one frame: over 950 bytes of CP, or over 1024 with the header
                let cp = encoded_len(&f);
                let too_long = (cp > 950 && e.kind == ErrorKind::Cp)
                    || (cp > 1024 - 140 && e.kind == ErrorKind::Field && e.field.as_deref() == Some("segment"));
                prop_assert!(too_long, "{e}");
                return Ok(());
            }
        };
        let frame = Frame::parse(&raw, &Options::strict())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&raw))))?;
        // codes outside appendix B (kept) are the only thing strict mode reports
        let unknown_code = hj212::WarnCode::UnknownCode;
        prop_assert!(frame.warnings.iter().all(|w| w.code == unknown_code), "{:?}", frame.warnings);
        prop_assert_eq!(header_of(&frame), Fields { cp: Vec::new(), ..f.clone() });
        prop_assert_eq!(pairs(&frame), f.cp.clone());
        let data_time = f.cp.iter().find(|(k, _)| k == "DataTime").map(|(_, v)| v.clone());
        prop_assert_eq!(frame.data_time().map(|d| d.into_owned()), data_time);
        check_values(&frame, &f.cp)?;
        prop_assert_eq!(frame.edition(), hj212::segment::edition_of(f.flag).unwrap());
    }

    #[test]
    fn split_parts_parse_and_join_to_the_whole(f in fields(), max_cp in 200usize..=1000) {
        let parts = match encode_split(&f, max_cp) {
            Ok(p) => p,
            Err(e) => {
                // only a split that needs a QN to join its parts may fail here
                prop_assert!(f.qn.is_none() && e.field.as_deref() == Some("QN"), "{e}");
                return Ok(());
            }
        };
        let frames: Vec<Frame> = parts
            .iter()
            .map(|p| Frame::parse(p, &Options::strict()))
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let n = frames.len();
        let data_time = f.cp.first().filter(|(k, _)| k == "DataTime").cloned();
        let mut joined: Vec<(String, String)> = Vec::new();
        for (i, fr) in frames.iter().enumerate() {
            prop_assert!(fr.cp_text().len() <= max_cp.min(950));
            prop_assert!(fr.segment_bytes().len() <= 1024);
            prop_assert_eq!(fr.qn(), f.qn.as_deref().map(Into::into));
            prop_assert_eq!(fr.mn().map(|m| m.into_owned()), Some(f.mn.clone()));
            prop_assert_eq!(fr.rf().map(|r| r.into_owned()), f.rf.clone());
            prop_assert_eq!(fr.needs_ack(), f.flag.is_some_and(|v| v & FLAG_A != 0));
            let mut p = pairs(fr);
            if n == 1 {
                prop_assert!(!fr.is_split());
                prop_assert_eq!((fr.pnum(), fr.pno()), (None, None));
            } else {
                prop_assert!(fr.flag().is_some_and(|v| v & FLAG_D != 0));
                prop_assert_eq!((fr.pnum(), fr.pno()), (Some(n as u32), Some(i as u32 + 1)));
                if let Some(dt) = &data_time {
                    // every part carries the DataTime; a joiner keeps the first
                    prop_assert_eq!(p.first(), Some(dt));
                    if i > 0 {
                        p.remove(0);
                    }
                }
            }
            check_values(fr, &p)?;
            joined.extend(p);
        }
        prop_assert_eq!(joined, f.cp.clone());
    }
}

#[test]
fn a_group_too_large_for_a_part_is_an_error() {
    let cp: Vec<(String, String)> = NUMERIC
        .iter()
        .map(|s| (format!("w01018-{s}"), "12345678.123456".to_string()))
        .collect();
    let f = Fields {
        qn: Some("20160801085857223".into()),
        st: "32".into(),
        cn: 2061,
        pw: "123456".into(),
        mn: "010000A8900016F000169DC0".into(),
        flag: Some(5),
        cp,
        ..Fields::default()
    };
    let e = encode_split(&f, 60).unwrap_err();
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::Cp, Some("w01018-Rtd"))
    );
    assert_eq!(encode_split(&f, 950).unwrap().len(), 1);
    assert_eq!(encode_split(&f, 134).unwrap().len(), 1);
    assert_eq!(encode_split(&f, 133).unwrap_err().kind, ErrorKind::Cp);
}

#[test]
fn raw_data_areas_split_at_groups() {
    let f = Fields {
        qn: Some("20160801085857534".into()),
        st: "32".into(),
        cn: 2061,
        pw: "123456".into(),
        mn: "010000A8900016F000169DC0".into(),
        flag: Some(5),
        cp_raw: Some("DataTime=20160801080000;w00000-Cou=63.0,w00000-Min=16.4,w00000-Flag=N;w01001-Min=7.1,w01001-Flag=N;w01018-Cou=63.0,w01018-Flag=N".into()),
        ..Fields::default()
    };
    let parts = encode_split(&f, 90).unwrap();
    let segs: Vec<String> = parts
        .iter()
        .map(|p| {
            Frame::parse(p, &Options::strict())
                .unwrap()
                .segment()
                .into_owned()
        })
        .collect();
    assert_eq!(
        segs,
        [
            "QN=20160801085857534;ST=32;CN=2061;PW=123456;MN=010000A8900016F000169DC0;Flag=7;PNUM=2;PNO=1;CP=&&DataTime=20160801080000;w00000-Cou=63.0,w00000-Min=16.4,w00000-Flag=N&&",
            "QN=20160801085857534;ST=32;CN=2061;PW=123456;MN=010000A8900016F000169DC0;Flag=7;PNUM=2;PNO=2;CP=&&DataTime=20160801080000;w01001-Min=7.1,w01001-Flag=N;w01018-Cou=63.0,w01018-Flag=N&&",
        ]
    );
}
