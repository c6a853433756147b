//! The batch decoder's fast path (`decode_batch`) against its validating path
//! (`decode_batch_validating`): the same columns, rows, statuses, warning counts and errors,
//! in lenient and strict mode, on generated frames (well formed, and with every deviation the
//! fast path must hand over) and on the fuzz corpus. The same for single frames: `Frame::parse`
//! and the `Framer` against the validating path alone, and the answers to the frames against
//! the general encoder's.

use std::path::Path;

use hj212::batch::{decode_batch, decode_batch_validating, decode_batch_with, Columns};
use hj212::encode::{answer, answer_by_encoder, Reply};
use hj212::fastpath::{fast_header, KnownCodes};
use hj212::frame::wrap;
use hj212::framer::Framer;
use hj212::segment::parse_header_at;
use hj212::{Frame, Options, Span};
use proptest::prelude::*;

fn assert_same(frames: &[Vec<u8>]) -> (Columns, Columns) {
    let slices: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let mut last = None;
    for opts in [Options::lenient(), Options::strict()] {
        let slow = decode_batch_validating(&slices, &opts);
        // with the fast path's knowledge fresh, and with what the thread's earlier batches
        // (other cases) left
        let fresh = decode_batch_with(&slices, &opts, &mut KnownCodes::default());
        assert!(
            fresh.same_as(&slow),
            "strict={}, fresh: fast path {fresh:?}\nvalidating {slow:?}\nframes {:?}",
            opts.strict,
            frames
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect::<Vec<_>>()
        );
        let fast = decode_batch(&slices, &opts);
        assert!(
            fast.same_as(&slow),
            "strict={}: fast path {fast:?}\nvalidating {slow:?}\nframes {:?}",
            opts.strict,
            frames
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect::<Vec<_>>()
        );
        last = Some((fast, slow));
        assert_same_frames(frames, &opts);
    }
    last.expect("two modes ran")
}

/// The answers `answer` may write straight into bytes (the others always go to the encoder).
const REPLIES: [Reply; 3] = [Reply::Auto, Reply::Data, Reply::Notify];

/// `f` with the framing's lenient deviations (a bare LF for the CRLF, the CRC in lower-case
/// hex): the validating path warns of them, so the frame must not be read as plain.
fn framing_variants(f: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(body) = f.strip_suffix(b"\r\n") {
        let mut lf = body.to_vec();
        lf.push(b'\n');
        out.push(lf);
        if body.len() >= 4 {
            let mut lower = f.to_vec();
            let crc = body.len() - 4..body.len();
            lower[crc.clone()].make_ascii_lowercase();
            if lower[crc] != f[body.len() - 4..body.len()] {
                out.push(lower);
            }
        }
    }
    out
}

/// `Frame::parse` and the stream `Framer`, which read the plain shape by the fast path
/// (`fastpath::plain_frame`, `plain_segment`), give exactly the frames (header, data-area
/// summary, warnings) and rejections of the validating path alone.
fn assert_same_frames(frames: &[Vec<u8>], opts: &Options) {
    let variants = frames.iter().flat_map(|f| framing_variants(f));
    for f in frames.iter().cloned().chain(variants) {
        let f = &f;
        let parsed = Frame::parse(f, opts);
        assert_eq!(
            parsed,
            Frame::parse_validating(f, opts),
            "strict={}: {}",
            opts.strict,
            String::from_utf8_lossy(f)
        );
        // the answer written straight into bytes is the general encoder's
        if let Ok(frame) = &parsed {
            for reply in REPLIES {
                assert_eq!(
                    answer(frame, reply),
                    answer_by_encoder(frame, reply),
                    "{reply:?} to {}",
                    String::from_utf8_lossy(f)
                );
            }
        }
    }
    let mut fast = Framer::new(*opts);
    let mut slow = Framer::validating(*opts);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for f in frames {
        fast.feed(f, &mut a);
        slow.feed(f, &mut b);
    }
    fast.finish(&mut a);
    slow.finish(&mut b);
    assert_eq!(a, b, "strict={}: the framer's frames", opts.strict);
}

const HEADERS: [&str; 4] = [
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "ST=31;CN=2051;PW=123456;MN=12370EA6BA22796C227CA23E;Flag=4;",
    "QN=20160801085857223;ST=32;CN=2061;PW=123456;MN=88888880000001;Flag=1;",
    // a lenient deviation in the header (PW of 5): warnings come from the header too
    "ST=22;CN=2031;PW=12345;MN=010000A8900016F000169DC0;Flag=9;",
];

/// Headers the fast header reader must hand over (or read exactly as the validating one).
const ODD_HEADERS: [&str; 25] = [
    "QN=2024030108000017;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240230080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240301080000174;ST=ZZ;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240301080000174;ST=3;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240301080000174;ST=32;CN=9999;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240301080000174;ST=32;CN=211;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240301080000174;ST=32;CN=2011;PW=12345;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240301080000174;ST=32;CN=2011;PW=12345!;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=cab2c89c46dd9b1ec36edc8d;Flag=5;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=88888880000001;Flag=5;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=8888888-0000001;Flag=1;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=13;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=256;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=7;PNUM=2;PNO=1;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;PNUM=2;PNO=1;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=9;RF=1;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;",
    "ST=32;CN=1011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "ST=32;QN=20240301080000174;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5; ",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;XX=1;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;Flag=5;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=;Flag=5;",
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;CP=&&&&;",
    // a ';' 24 bytes into MN's value, after the real end of a short MN
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=1234567890;Flag=1;RF=123;",
];

const CODES: [&str; 10] = [
    "w01018",
    "a21026",
    "w00000",
    "a34013",
    "SB1",
    "B02",
    "zz999",
    "w01018ab9",
    "a-b",
    "w21003",
];
const SUFFIXES: [&str; 16] = [
    "Rtd",
    "Min",
    "Avg",
    "Max",
    "Cou",
    "ZsRtd",
    "RS",
    "RT",
    "Flag",
    "EFlag",
    "SampleTime",
    "Info",
    "SN",
    "Foo",
    "Data",
    "rtd",
];
const VALUES: [&str; 30] = [
    "1.5",
    "-0.25",
    "+3",
    "0",
    ".5",
    "5.",
    "12345678901234",
    "123456789012345",
    "00000000000000001",
    "1.1234567",
    "1e3",
    "",
    "abc",
    "N",
    "D",
    "X",
    "ab",
    "A1",
    "ABCDE",
    "7",
    "25",
    "3",
    "05",
    "20240101000000",
    " 1.5",
    "1.5 ",
    "-",
    "-0",
    "24",
    "1.5&x",
];
const SEPARATORS: [&str; 5] = [";", ",", ";", ",", ";;"];

/// A data-area piece: mostly `code-Suffix=value`, sometimes a plain field or a stray piece.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0..CODES.len(), 0..SUFFIXES.len(), 0..VALUES.len())
            .prop_map(|(c, s, v)| format!("{}-{}={}", CODES[c], SUFFIXES[s], VALUES[v])),
        1 => (0..VALUES.len()).prop_map(|v| format!("DataTime={}", ["20240301080000", "20240230120000", "2024030108000", VALUES[v]][v % 4])),
        1 => prop::sample::select(vec![
            "Foo=1", "DataTime =20240301080000", " w01018-Rtd=1", "w01018-Rtd", "=5", "-Rtd=1",
            "w01018-=1", "RtdInterval=30", "w01 018-Rtd=1", "w01018-Rtd=1=2", "w\u{e9}-Rtd=1",
        ]).prop_map(str::to_string),
    ]
}

/// A well-formed data area: DataTime, then groups of standard fields with good values.
fn plain_cp() -> impl Strategy<Value = String> {
    let group = (
        0..CODES.len() - 3,
        prop::collection::vec(
            (
                0..6usize,
                0u32..1_000_000,
                0u32..1000,
                0..4usize,
                any::<bool>(),
            ),
            1..5,
        ),
        prop::sample::select(vec!["N", "D", "F", "M"]),
    );
    (
        any::<bool>(),
        prop::collection::vec(group, 0..12),
        any::<bool>(),
    )
        .prop_map(|(with_time, groups, trailing)| {
            let code_of = |c: usize| {
                [
                    "w01018", "a21026", "w00000", "a34013", "SB1", "B02", "w21003",
                ][c]
            };
            let mut parts = Vec::new();
            if with_time {
                parts.push("DataTime=20240301080000".to_string());
            }
            let mut codes_seen = Vec::new();
            for (c, fields, flag) in groups {
                // a code once, each suffix once: repeats are deviations
                if codes_seen.contains(&c) {
                    continue;
                }
                codes_seen.push(c);
                let code = code_of(c);
                let mut g = Vec::new();
                let mut suffixes_seen = Vec::new();
                for (s, int, frac, digits, neg) in fields {
                    if suffixes_seen.contains(&s) {
                        continue;
                    }
                    suffixes_seen.push(s);
                    let sfx = ["Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd"][s];
                    let sign = if neg { "-" } else { "" };
                    let v = match digits {
                        0 => format!("{sign}{int}"),
                        d => format!(
                            "{sign}{int}.{:0width$}",
                            frac % 10u32.pow(d as u32),
                            width = d
                        ),
                    };
                    g.push(format!("{code}-{sfx}={v}"));
                }
                g.push(format!("{code}-Flag={flag}"));
                parts.push(g.join(","));
            }
            let mut cp = parts.join(";");
            if trailing && !cp.is_empty() {
                cp.push(';');
            }
            cp
        })
}

fn frame(header: usize, cp: &str) -> Vec<u8> {
    wrap(format!("{}CP=&&{cp}&&", HEADERS[header]).as_bytes())
}

/// Any header (the plain ones and the odd ones) and data area.
fn any_frame(header: usize, cp: &str) -> Vec<u8> {
    let h = HEADERS
        .iter()
        .chain(ODD_HEADERS.iter())
        .nth(header)
        .expect("header index in range");
    wrap(format!("{h}CP=&&{cp}&&").as_bytes())
}

/// Headers of a few stations: two CNs and two flags for one MN, and a second MN (a 2005 one).
const STATION_HEADERS: [&str; 5] = [
    "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240301080000175;ST=32;CN=2051;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;",
    "QN=20240301080000176;ST=32;CN=2011;PW=654321;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=4;",
    "QN=20240301080000177;ST=31;CN=2011;PW=123456;MN=12370EA6BA22796C227CA23E;Flag=9;",
    "QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=88888880000001;Flag=1;",
];

/// A data area as fields (`name`, '=' and value, or a stray piece with no '=') and the
/// separators before each field after the first.
fn fields_of(cp: &str) -> (Vec<String>, Vec<char>) {
    let mut fields = vec![String::new()];
    let mut seps = Vec::new();
    for ch in cp.chars() {
        if ch == ';' || ch == ',' {
            seps.push(ch);
            fields.push(String::new());
        } else if let Some(f) = fields.last_mut() {
            f.push(ch);
        }
    }
    (fields, seps)
}

fn area_of(fields: &[String], seps: &[char]) -> String {
    let mut cp = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            cp.push(seps.get(i - 1).copied().unwrap_or(';'));
        }
        cp.push_str(f);
    }
    cp
}

/// A good number of any length: up to 9 integer digits and 6 decimals, either sign.
fn good_number() -> impl Strategy<Value = String> {
    (0u64..1_000_000_000, 0u32..7, 0u32..1_000_000, 0..3usize).prop_map(
        |(int, digits, frac, sign)| {
            let int = int >> (int % 31); // short numbers as often as long ones
            let sign = ["", "-", "+"][sign];
            match digits {
                0 => format!("{sign}{int}"),
                d => format!(
                    "{sign}{int}.{:0width$}",
                    frac % 10u32.pow(d),
                    width = d as usize
                ),
            }
        },
    )
}

/// One way a station's next data area differs from the one before: only the values, or one
/// field or separator as well.
#[derive(Debug, Clone)]
enum Change {
    /// every value of a numeric field new (of any length)
    Values(Vec<String>),
    Code(prop::sample::Index, usize),
    Suffix(prop::sample::Index, usize),
    Value(prop::sample::Index, usize),
    Remove(prop::sample::Index),
    Insert(prop::sample::Index, String),
    /// the same field twice
    Repeat(prop::sample::Index),
    Separator(prop::sample::Index, usize),
    /// a separator after the last field
    Trailing,
}

fn change() -> impl Strategy<Value = Change> {
    let i = any::<prop::sample::Index>;
    prop_oneof![
        6 => prop::collection::vec(good_number(), 60).prop_map(Change::Values),
        1 => (i(), 0..CODES.len()).prop_map(|(i, c)| Change::Code(i, c)),
        1 => (i(), 0..SUFFIXES.len()).prop_map(|(i, s)| Change::Suffix(i, s)),
        1 => (i(), 0..VALUES.len()).prop_map(|(i, v)| Change::Value(i, v)),
        1 => i().prop_map(Change::Remove),
        1 => (i(), piece()).prop_map(|(i, p)| Change::Insert(i, p)),
        1 => i().prop_map(Change::Repeat),
        1 => (i(), 0..SEPARATORS.len()).prop_map(|(i, s)| Change::Separator(i, s)),
        1 => Just(Change::Trailing),
    ]
}

/// `cp` changed by `ch`.
fn changed(cp: &str, ch: &Change) -> String {
    let (mut fields, mut seps) = fields_of(cp);
    let n = fields.len();
    let split = |f: &str| -> Option<(String, String, String)> {
        let (name, value) = f.split_once('=')?;
        let (code, suffix) = name.rsplit_once('-')?;
        Some((code.to_string(), suffix.to_string(), value.to_string()))
    };
    match ch {
        Change::Values(values) => {
            let mut next = values.iter().cycle();
            for f in fields.iter_mut() {
                if let Some((code, suffix, value)) = split(f) {
                    let numeric = value.bytes().any(|b| b.is_ascii_digit()) && suffix != "RS";
                    if numeric && suffix != "EFlag" && suffix != "Flag" {
                        let v = next.next().cloned().unwrap_or_default();
                        *f = format!("{code}-{suffix}={v}");
                    }
                }
            }
        }
        Change::Code(i, c) => {
            let f = &mut fields[i.index(n)];
            if let Some((_, suffix, value)) = split(f) {
                *f = format!("{}-{suffix}={value}", CODES[*c]);
            }
        }
        Change::Suffix(i, s) => {
            let f = &mut fields[i.index(n)];
            if let Some((code, _, value)) = split(f) {
                *f = format!("{code}-{}={value}", SUFFIXES[*s]);
            }
        }
        Change::Value(i, v) => {
            let f = &mut fields[i.index(n)];
            if let Some((name, _)) = f.split_once('=') {
                *f = format!("{name}={}", VALUES[*v]);
            }
        }
        Change::Remove(i) => {
            let k = i.index(n);
            fields.remove(k);
            if !seps.is_empty() {
                seps.remove(k.min(seps.len() - 1));
            }
        }
        Change::Insert(i, p) => {
            let k = i.index(n + 1);
            fields.insert(k, p.clone());
            seps.insert(k.min(seps.len()), ';');
        }
        Change::Repeat(i) => {
            let k = i.index(n);
            let f = fields[k].clone();
            fields.insert(k, f);
            seps.insert(k.min(seps.len()), ',');
        }
        Change::Separator(i, s) => {
            if !seps.is_empty() {
                let k = i.index(seps.len());
                let new = SEPARATORS[*s].chars().next().unwrap_or(';');
                seps[k] = if seps[k] == new {
                    if new == ';' {
                        ','
                    } else {
                        ';'
                    }
                } else {
                    new
                };
            }
        }
        Change::Trailing => {
            let mut cp = area_of(&fields, &seps);
            cp.push(';');
            return cp;
        }
    }
    area_of(&fields, &seps)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Frames from a few stations in turn, each station's data area changed a little from
    /// its last one (mostly only its values, so that its template is used; sometimes a
    /// field's code, suffix or value, a field missing, added or repeated, a separator, a
    /// trailing separator; sometimes another CN, flag or station), in one batch and split
    /// into batches: the fast path with templates equals the validating path.
    #[test]
    fn station_sequences_decode_the_same(
        bases in prop::collection::vec(plain_cp(), 1..4),
        steps in prop::collection::vec((0..STATION_HEADERS.len(), any::<prop::sample::Index>(), change()), 1..24),
    ) {
        // each station's current data area: the last one sent (kept even if it was a
        // deviation, so that changes pile up as well)
        let mut current: Vec<String> = (0..STATION_HEADERS.len())
            .map(|h| bases[h % bases.len()].clone())
            .collect();
        let mut frames = Vec::new();
        for (h, base, ch) in &steps {
            let from = if matches!(ch, Change::Values(_)) {
                current[*h].clone()
            } else {
                // now and then a station starts again from a plain area
                bases[base.index(bases.len())].clone()
            };
            let cp = changed(&from, ch);
            frames.push(wrap(format!("{}CP=&&{cp}&&", STATION_HEADERS[*h]).as_bytes()));
            // a deviating area is not kept as the station's usual one half of the time
            if matches!(ch, Change::Values(_)) || base.index(2) == 0 {
                current[*h] = cp;
            }
        }
        assert_same(&frames);
        // the same frames a few at a time, the knowledge carried from batch to batch
        let mut known = KnownCodes::default();
        for part in frames.chunks(3) {
            let slices: Vec<&[u8]> = part.iter().map(|f| f.as_slice()).collect();
            let opts = Options::lenient();
            let fast = decode_batch_with(&slices, &opts, &mut known);
            let slow = decode_batch_validating(&slices, &opts);
            prop_assert!(fast.same_as(&slow), "fast {fast:?}\nvalidating {slow:?}");
        }
    }

    /// Data areas built from good and bad pieces with any separators.
    #[test]
    fn mixed_pieces_decode_the_same(
        frames in prop::collection::vec(
            (0..HEADERS.len() + ODD_HEADERS.len(), prop::collection::vec((piece(), 0..SEPARATORS.len()), 0..14), any::<bool>()),
            1..8,
        )
    ) {
        let frames: Vec<Vec<u8>> = frames
            .into_iter()
            .map(|(h, pieces, lead)| {
                let mut cp = String::new();
                if lead {
                    cp.push(';');
                }
                for (i, (p, s)) in pieces.iter().enumerate() {
                    if i > 0 {
                        cp.push_str(SEPARATORS[*s]);
                    }
                    cp.push_str(p);
                }
                any_frame(h, &cp)
            })
            .collect();
        assert_same(&frames);
    }

    /// Well-formed data areas (the fast path's own shape) decode the same, and are accepted.
    #[test]
    fn plain_data_areas_decode_the_same(cps in prop::collection::vec((0..3usize, plain_cp()), 1..8)) {
        let frames: Vec<Vec<u8>> = cps.iter().map(|(h, cp)| frame(*h, cp)).collect();
        let (fast, _) = assert_same(&frames);
        prop_assert!(fast.status.iter().all(|&s| s == 0), "{:?}", fast.errors);
    }

    /// A well-formed data area with one piece of any kind put in at any field boundary: each
    /// deviation alone, with nothing else sending the frame to the validating path.
    #[test]
    fn one_deviation_in_a_plain_data_area(
        cases in prop::collection::vec((0..3usize, plain_cp(), piece(), any::<prop::sample::Index>(), 0..SEPARATORS.len()), 1..8)
    ) {
        let frames: Vec<Vec<u8>> = cases
            .iter()
            .map(|(h, cp, p, at, sep)| {
                let bounds: Vec<usize> = std::iter::once(0)
                    .chain(cp.match_indices([';', ',']).map(|(i, _)| i))
                    .chain(std::iter::once(cp.len()))
                    .collect();
                let i = bounds[at.index(bounds.len())];
                let cp = if i == 0 {
                    format!("{p}{}{cp}", SEPARATORS[*sep])
                } else {
                    format!("{}{}{p}{}", &cp[..i], SEPARATORS[*sep], &cp[i..])
                };
                frame(*h, &cp)
            })
            .collect();
        assert_same(&frames);
    }

    /// Any bytes at all between the data area's `&&`s.
    #[test]
    fn arbitrary_data_areas_decode_the_same(cps in prop::collection::vec(
        prop::collection::vec(prop::sample::select(b"w01018-RtdFlagN=;,. 1234567890-+&eE\xc3\xa9".to_vec()), 0..60),
        1..6,
    )) {
        let frames: Vec<Vec<u8>> = cps
            .iter()
            .map(|cp| {
                let mut seg = HEADERS[0].as_bytes().to_vec();
                seg.extend_from_slice(b"CP=&&");
                seg.extend_from_slice(cp);
                seg.extend_from_slice(b"&&");
                wrap(&seg)
            })
            .collect();
        assert_same(&frames);
    }
}

/// Each odd header alone in front of a well-formed data area, and the fast header reader
/// equal to the validating one wherever it answers.
#[test]
fn odd_headers_decode_the_same() {
    let cp = "DataTime=20240301080000;w01018-Rtd=30.2,w01018-Flag=N";
    let frames: Vec<Vec<u8>> = (0..HEADERS.len() + ODD_HEADERS.len())
        .map(|h| any_frame(h, cp))
        .collect();
    assert_same(&frames);
    let mut fast_ones = 0;
    for f in &frames {
        let seg = Span::new(6, f.len() - 6);
        if let Ok(h) = fast_header(f, seg) {
            fast_ones += 1;
            let mut warnings: Vec<hj212::Warning> = Vec::new();
            for opts in [Options::lenient(), Options::strict()] {
                assert_eq!(parse_header_at(f, seg, &opts, &mut warnings), Ok(h));
            }
            assert!(warnings.is_empty(), "{warnings:?}");
        }
    }
    // the plain headers (and the odd ones that are only unusual, not deviations)
    assert!(fast_ones >= 3, "{fast_ones}");
}

/// The fast path is taken for a plain data area and gives what an independent reading of the
/// frame says (values written here by hand, not taken from either path).
#[test]
fn plain_frame_values() {
    let f = frame(
        0,
        "DataTime=20240301080000;w01018-Rtd=30.2,w01018-Flag=N;a21026-Min=-1.25,a21026-RS=3,a21026-EFlag=A1,a21026-Flag=D",
    );
    let (c, _) = assert_same(&[f.clone(), f]);
    assert_eq!(c.status, vec![0, 0]);
    assert_eq!(c.row_frame, vec![0, 0, 1, 1]);
    let n = hj212::batch::N_NUMERIC;
    assert_eq!(c.numeric[0], 30.2); // w01018-Rtd
    assert_eq!(c.numeric[n + 1], -1.25); // a21026-Min
    assert_eq!(c.numeric[n + 9], 3.0); // a21026-RS
    assert!(c.numeric[n].is_nan());
    assert_eq!(&c.flag, b"NDND");
    assert_eq!(&c.eflag[4..8], b"A1\0\0");
    // 2024-03-01 08:00:00 as wall seconds: 19783 days since 1970 (by hand: 54 years with 13
    // leap days to 2024-01-01 = 19723 days, + 31 + 29 days of January and February)
    assert_eq!(c.data_time[0], (19_723 + 60) * 86_400 + 8 * 3600);
}

/// Every input of the fuzz corpus and seeds, as one batch.
#[test]
fn fuzz_corpus_decodes_the_same() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut frames = Vec::new();
    for dir in ["seeds", "corpus/parse"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(bytes) = std::fs::read(e.path()) {
                frames.push(bytes);
            }
        }
    }
    assert!(frames.len() > 100, "the fuzz corpus is missing");
    let (fast, _) = assert_same(&frames);
    assert!(fast.status.iter().filter(|&&s| s == 0).count() > 10);
}

/// Fields with suffixes the fast path does not read (unknown, empty-valued, of one byte)
/// must reach the validating path: an unknown suffix's id once stood for "DataTime, already
/// read", and such a field was taken with no value and no warning.
#[test]
fn unknown_suffixes_leave_the_fast_path() {
    let cps = [
        "1-w=",
        "1-1=",
        "w01018-Foo=1",
        "w01018-Rtd=1,w01018-Foo=2",
        "DataTime=20240301080000;w01018-Rtd=1;a21026-Foo=3",
        "w01018-SampleTime=20240301080000",
    ];
    let frames: Vec<Vec<u8>> = cps.iter().map(|cp| frame(0, cp)).collect();
    for f in &frames {
        assert_same(std::slice::from_ref(f));
    }
    assert_same(&frames);
}
