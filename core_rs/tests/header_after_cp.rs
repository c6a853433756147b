//! A header field written after the data area (`...;CP=&&NewPW=654321&&;Flag=5`, as a popular
//! Java HJ 212 library sends it): the data area ends at its closing `&&`; lenient mode reads
//! the field as the header's and says so, strict mode names it and rejects the frame. Every
//! frame here carries the correct CRC, so the cases are about the segment alone.

use hj212::frame::wrap;
use hj212::{hint, ErrorKind, Frame, Options, WarnCode};

const HEAD: &str = "QN=20160801085857223;ST=32;CN=1072;PW=100000;MN=010000A8900016F000169DC0";

fn frame(segment: &str) -> Vec<u8> {
    wrap(segment.as_bytes())
}

fn codes(f: &Frame) -> Vec<WarnCode> {
    f.warnings.iter().map(|w| w.code).collect()
}

#[test]
fn the_java_library_frame_is_read_right_in_lenient_mode() {
    let raw = frame(&format!("{HEAD};CP=&&NewPW=654321&&;Flag=5"));
    // the frame is signed correctly: the deviation is in the segment only
    let crc = hj212::crc16(&raw[6..raw.len() - 6]);
    assert_eq!(
        &raw[raw.len() - 6..raw.len() - 2],
        format!("{crc:04X}").as_bytes()
    );

    let f = Frame::parse(&raw, &Options::lenient()).unwrap();
    assert_eq!(f.flag(), Some(5));
    assert_eq!(f.edition(), 2017);
    assert!(f.needs_ack(), "Flag=5 asks for an answer");
    assert_eq!(f.field_text("NewPW").as_deref(), Some("654321"));
    assert_eq!(f.cp_text(), "NewPW=654321");
    assert_eq!(f.cp_fields().count(), 1, "Flag is not a data-area field");
    // one warning that says what happened, and none of the misreadings of before
    assert_eq!(codes(&f), [WarnCode::HeaderAfterCp]);
    let w = &f.warnings[0].detail;
    assert!(w.contains("Flag") && w.contains('5'), "{w}");
}

#[test]
fn strict_mode_rejects_it_naming_the_field_and_value() {
    let raw = frame(&format!("{HEAD};CP=&&NewPW=654321&&;Flag=5"));
    let e = Frame::parse(&raw, &Options::strict()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Field);
    assert_eq!(e.field.as_deref(), Some("Flag"));
    assert_eq!(e.value.as_deref(), Some("5"));
    assert_eq!(e.qn_rtn, Some(6), "a misplaced Flag is a wrong Flag");
    assert!(e.message.contains("after the data area"), "{e}");
    assert_eq!(&raw[e.offset..e.offset + 1], b"5");
}

#[test]
fn several_fields_after_the_data_area() {
    let seg = "QN=20160801085857223;ST=32;CN=2061;PW=100000;MN=010000A8900016F000169DC0;\
               CP=&&DataTime=20160801080000;w01018-Avg=1.5&&;Flag=7;PNUM=2;PNO=1";
    let f = Frame::parse(&frame(seg), &Options::lenient()).unwrap();
    assert_eq!((f.flag(), f.pnum(), f.pno()), (Some(7), Some(2), Some(1)));
    assert!(f.is_split());
    assert_eq!(f.data_time().as_deref(), Some("20160801080000"));
    assert_eq!(codes(&f), [WarnCode::HeaderAfterCp; 3]);
    let e = Frame::parse(&frame(seg), &Options::strict()).unwrap_err();
    assert_eq!(
        (e.kind, e.field.as_deref(), e.value.as_deref()),
        (ErrorKind::Field, Some("Flag"), Some("7"))
    );
}

#[test]
fn an_empty_data_area_and_a_trailing_semicolon() {
    let f = Frame::parse(
        &frame(&format!("{HEAD};CP=&&&&;Flag=4;")),
        &Options::lenient(),
    )
    .unwrap();
    assert_eq!((f.flag(), f.cp_text().as_ref()), (Some(4), ""));
    assert_eq!(codes(&f), [WarnCode::HeaderAfterCp]);
}

#[test]
fn a_field_twice_is_rejected_in_both_modes() {
    let raw = frame(&format!("{HEAD};Flag=4;CP=&&NewPW=654321&&;Flag=5"));
    for opts in [Options::lenient(), Options::strict()] {
        let e = Frame::parse(&raw, &opts).unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (ErrorKind::Field, Some("Flag"))
        );
    }
}

#[test]
fn an_unknown_field_after_the_data_area_is_ignored_or_rejected() {
    let raw = frame(&format!("{HEAD};Flag=5;CP=&&NewPW=654321&&;Foo=1"));
    let f = Frame::parse(&raw, &Options::lenient()).unwrap();
    assert_eq!(f.field_text("NewPW").as_deref(), Some("654321"));
    assert_eq!(f.field_text("Foo"), None);
    assert_eq!(codes(&f), [WarnCode::UnknownHeaderField]);
    let e = Frame::parse(&raw, &Options::strict()).unwrap_err();
    assert_eq!(
        (e.kind, e.field.as_deref(), e.value.as_deref()),
        (ErrorKind::Field, Some("Foo"), Some("1"))
    );
}

#[test]
fn what_else_follows_the_closing_ampersands() {
    // a lone ';': nothing is lost, lenient mode says so
    let raw = frame(&format!("{HEAD};Flag=5;CP=&&NewPW=654321&&;"));
    let f = Frame::parse(&raw, &Options::lenient()).unwrap();
    assert_eq!(f.field_text("NewPW").as_deref(), Some("654321"));
    assert_eq!(codes(&f), [WarnCode::CpTail]);
    assert_eq!(
        Frame::parse(&raw, &Options::strict()).unwrap_err().kind,
        ErrorKind::Cp
    );
    // spaces: trimmed in lenient mode
    let raw = frame(&format!("{HEAD};Flag=5;CP=&&NewPW=654321&&  "));
    let f = Frame::parse(&raw, &Options::lenient()).unwrap();
    assert_eq!(f.field_text("NewPW").as_deref(), Some("654321"));
    assert_eq!(codes(&f), [WarnCode::Whitespace]);
    assert_eq!(
        Frame::parse(&raw, &Options::strict()).unwrap_err().kind,
        ErrorKind::Cp
    );
    // anything else cannot be read without guessing: rejected in both modes, never glued
    // to the last value
    let raw = frame(&format!("{HEAD};Flag=5;CP=&&NewPW=654321&&Flag=5"));
    for opts in [Options::lenient(), Options::strict()] {
        let e = Frame::parse(&raw, &opts).unwrap_err();
        assert_eq!(
            (e.kind, e.value.as_deref()),
            (ErrorKind::Cp, Some("Flag=5"))
        );
    }
    // a second data area
    let raw = frame(&format!("{HEAD};CP=&&NewPW=654321&&;CP=&&Flag=5"));
    assert_eq!(
        Frame::parse(&raw, &Options::lenient()).unwrap_err().kind,
        ErrorKind::Cp
    );
}

#[test]
fn a_data_area_without_closing_ampersands_reads_as_before() {
    // no `&&` after the opening one: lenient mode reads to the end of the segment
    let raw = frame(&format!("{HEAD};Flag=5;CP=&&NewPW=654321"));
    let f = Frame::parse(&raw, &Options::lenient()).unwrap();
    assert_eq!(f.field_text("NewPW").as_deref(), Some("654321"));
    assert_eq!(codes(&f), [WarnCode::CpTail]);
    // a segment that ends with `&&` is all data area, as ever
    let raw = frame(&format!("{HEAD};Flag=5;CP=&&NewPW=654321&&"));
    let f = Frame::parse(&raw, &Options::strict()).unwrap();
    assert!(f.warnings.is_empty());
}

#[test]
fn a_rejected_frame_still_hints_its_flag_for_the_answer() {
    let mut raw = frame(&format!("{HEAD};CP=&&NewPW=654321&&;Flag=5"));
    let n = raw.len();
    raw[n - 6] = if raw[n - 6] == b'0' { b'1' } else { b'0' };
    let e = Frame::parse(&raw, &Options::lenient()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Crc);
    let h = hint::scan(&raw);
    assert_eq!(h.flag, Some(5));
    assert_eq!(h.mn.as_deref(), Some("010000A8900016F000169DC0"));
    let answer = hj212::encode::answer_rejected(&e, &h).expect("Flag=5 asks for an answer");
    let a = Frame::parse(&answer, &Options::strict()).unwrap();
    assert_eq!(
        (a.cn_num(), a.field_text("QnRtn").as_deref()),
        (9011, Some("9"))
    );
}

#[test]
fn the_batch_decoder_reads_it_the_same_way() {
    let raw = frame(&format!("{HEAD};CP=&&NewPW=654321&&;Flag=5"));
    let cols = hj212::batch::decode_batch(&[raw.as_slice()], &Options::lenient());
    assert_eq!(cols.status, [0]);
    assert_eq!(cols.frame_flag, [5]);
    assert_eq!(cols.frame_edition, [2017]);
}
