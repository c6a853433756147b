//! CRC variants: a frame signed with another algorithm than the standard's (CRC-16/MODBUS,
//! as a popular simulator does) is rejected by default, with the error naming the variant;
//! allowed, it is accepted with a `crc_variant` warning.

use hj212::batch::decode_batch;
use hj212::crc::{crc16_modbus, CrcVariant, CrcVariants};
use hj212::framer::Framer;
use hj212::{ErrorKind, Frame, Options, WarnCode};

const SEG: &str = "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";
const STD_FRAME: &[u8] = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";

fn modbus() -> CrcVariants {
    [CrcVariant::Modbus].into_iter().collect()
}

/// `segment` framed with the CRC a Modbus-minded logger computes.
fn signed_modbus(segment: &[u8]) -> Vec<u8> {
    let mut f = format!("##{:04}", segment.len()).into_bytes();
    f.extend_from_slice(segment);
    f.extend_from_slice(format!("{:04X}\r\n", crc16_modbus(segment)).as_bytes());
    f
}

fn codes(f: &Frame) -> Vec<WarnCode> {
    f.warnings.iter().map(|w| w.code).collect()
}

#[test]
fn the_standard_example_signed_with_modbus() {
    let raw = signed_modbus(SEG.as_bytes());
    assert_eq!(&raw[107..111], b"0759");
    let mut std_frame = raw.clone();
    std_frame[107..111].copy_from_slice(b"1C80");
    assert_eq!(std_frame, STD_FRAME);
}

#[test]
fn rejected_by_default_naming_the_variant() {
    let raw = signed_modbus(SEG.as_bytes());
    for opts in [Options::lenient(), Options::strict()] {
        let e = Frame::parse(&raw, &opts).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Crc);
        assert_eq!(e.qn_rtn, Some(9));
        assert_eq!(e.crc_variant, Some(CrcVariant::Modbus));
        assert_eq!(e.value.as_deref(), Some("0759"));
        assert!(e.message.contains("1C80"), "{e}");
        assert!(e.message.contains("CRC-16/MODBUS"), "{e}");
    }
}

#[test]
fn a_plainly_wrong_crc_names_no_variant() {
    let mut raw = STD_FRAME.to_vec();
    raw[107..111].copy_from_slice(b"1C81");
    let e = Frame::parse(&raw, &Options::lenient()).unwrap_err();
    assert_eq!((e.kind, e.crc_variant), (ErrorKind::Crc, None));
    // other errors carry none either
    let e = Frame::parse(b"##01x1", &Options::lenient()).unwrap_err();
    assert_eq!((e.kind, e.crc_variant), (ErrorKind::Length, None));
}

#[test]
fn allowed_it_is_accepted_with_a_warning_in_both_modes() {
    let raw = signed_modbus(SEG.as_bytes());
    for opts in [Options::lenient(), Options::strict()] {
        let f = Frame::parse(&raw, &opts.with_crc_variants(modbus())).unwrap();
        assert_eq!(f.crc(), 0x0759);
        assert_eq!(f.field_text("RtdInterval").as_deref(), Some("30"));
        assert_eq!(codes(&f), [WarnCode::CrcVariant]);
        let w = &f.warnings[0].detail;
        assert!(
            w.contains("CRC-16/MODBUS") && w.contains("modbus") && w.contains("1C80"),
            "{w}"
        );
    }
    // the standard's CRC is still the standard's, with no warning
    let f = Frame::parse(STD_FRAME, &Options::strict().with_crc_variants(modbus())).unwrap();
    assert!(f.warnings.is_empty());
}

#[test]
fn an_allowed_variant_does_not_excuse_a_wrong_crc() {
    let mut raw = signed_modbus(SEG.as_bytes());
    raw[110] = b'8';
    let e = Frame::parse(&raw, &Options::lenient().with_crc_variants(modbus())).unwrap_err();
    assert_eq!((e.kind, e.crc_variant), (ErrorKind::Crc, None));
}

#[test]
fn with_other_deviations_of_the_tail() {
    // a bare \n
    let mut raw = signed_modbus(SEG.as_bytes());
    raw.truncate(raw.len() - 2);
    raw.push(b'\n');
    let f = Frame::parse(&raw, &Options::lenient().with_crc_variants(modbus())).unwrap();
    assert_eq!(codes(&f), [WarnCode::BareLf, WarnCode::CrcVariant]);
    // lower-case digits (a segment whose MODBUS CRC has letters)
    let seg = SEG.replace("RtdInterval=30", "RtdInterval=60");
    let mut raw = signed_modbus(seg.as_bytes());
    let n = raw.len();
    assert!(raw[n - 6..n - 2].iter().any(u8::is_ascii_alphabetic));
    raw[n - 6..n - 2].make_ascii_lowercase();
    let f = Frame::parse(&raw, &Options::strict().with_crc_variants(modbus())).unwrap();
    assert_eq!(codes(&f), [WarnCode::CrcLowercase, WarnCode::CrcVariant]);
    // a wrong declared length, recovered by the variant's CRC at the real tail
    let mut raw = signed_modbus(SEG.as_bytes());
    raw[2..6].copy_from_slice(b"0500");
    let e = Frame::parse(&raw, &Options::lenient()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Length);
    let f = Frame::parse(&raw, &Options::lenient().with_crc_variants(modbus())).unwrap();
    assert_eq!(
        codes(&f),
        [WarnCode::LengthMismatch, WarnCode::CrcVariant],
        "{:?}",
        f.warnings
    );
}

#[test]
fn the_framer_names_the_variant_and_accepts_it_once_allowed() {
    let raw = signed_modbus(SEG.as_bytes());
    let mut stream = raw.clone();
    stream.extend_from_slice(STD_FRAME);
    stream.extend_from_slice(&raw);

    let mut fr = Framer::new(Options::lenient());
    let mut out = Vec::new();
    fr.feed(&stream, &mut out);
    assert_eq!(out.len(), 3);
    let r = out[0].as_ref().unwrap_err();
    assert_eq!(r.error.crc_variant, Some(CrcVariant::Modbus));
    assert_eq!(r.raw, raw);
    // the platform's second look at the rejected bytes, the station being allowed MODBUS
    let again = Frame::parse(&r.raw, &Options::lenient().with_crc_variants(modbus())).unwrap();
    assert_eq!(codes(&again), [WarnCode::CrcVariant]);

    // or the connection's framer allows it from then on
    let mut fr = Framer::new(Options::lenient());
    let mut out = Vec::new();
    fr.feed(&raw, &mut out);
    assert!(out[0].is_err());
    fr.set_crc_variants(modbus());
    fr.feed(&stream, &mut out);
    assert!(out[1..].iter().all(Result::is_ok), "{out:?}");
    assert_eq!(out[1].as_ref().unwrap(), &again);

    // a frame whose length overruns and whose CRC is MODBUS: named too
    let mut long = raw.clone();
    long[2..6].copy_from_slice(b"0500");
    let mut fr = Framer::new(Options::lenient());
    let mut out = Vec::new();
    fr.feed(&long, &mut out);
    let r = out[0].as_ref().unwrap_err();
    assert_eq!(
        (r.error.kind, r.error.crc_variant),
        (ErrorKind::Crc, Some(CrcVariant::Modbus))
    );
    assert_eq!(r.raw, long);
    assert!(Frame::parse(&r.raw, &Options::lenient().with_crc_variants(modbus())).is_ok());
}

#[test]
fn the_batch_decoder_takes_the_same_options() {
    let raw = signed_modbus(SEG.as_bytes());
    let frames = [raw.as_slice(), STD_FRAME];
    let cols = decode_batch(&frames, &Options::lenient());
    assert_eq!(cols.status, [ErrorKind::Crc.code(), 0]);
    assert_eq!(cols.errors[0].1.crc_variant, Some(CrcVariant::Modbus));
    let cols = decode_batch(&frames, &Options::lenient().with_crc_variants(modbus()));
    assert_eq!(cols.status, [0, 0]);
    assert_eq!(cols.frame_warnings, [1, 0]);
}
