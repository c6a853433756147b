//! Every data segment of the standard's appendix C, framed with a correct CRC, parses.
//!
//! Segments the standard itself prints with a deviation (noted in the data file) must be
//! rejected by strict mode and, where the deviation is one real loggers make, accepted by
//! lenient mode with a warning.

use hj212::{Frame, Options};

mod common;

use common::{appendix_c as rows, Row};

#[test]
fn clean_examples_parse_in_strict_mode() {
    let rows = rows();
    assert!(
        rows.len() >= 150,
        "appendix C has 155 example segments, found {}",
        rows.len()
    );
    let mut failures = Vec::new();
    for r in rows.iter().filter(|r| r.note.is_empty()) {
        if let Err(e) = Frame::parse_segment(r.segment.as_bytes(), &Options::strict()) {
            failures.push(format!("{}: {e}\n    {}", r.id, r.segment));
        }
    }
    assert!(
        failures.is_empty(),
        "{} clean examples failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Notes that describe something other than a wire-level deviation (a typo in the prose, a
/// QN that does not echo its request, a date that disagrees with the prose, a trailing space
/// inside a free-text Info value): these segments are well-formed.
const WELL_FORMED_DESPITE_NOTE: [&str; 4] = ["c001", "c114", "c124", "c125"];

#[test]
fn well_formed_noted_examples_parse_in_strict_mode() {
    for r in rows()
        .iter()
        .filter(|r| WELL_FORMED_DESPITE_NOTE.contains(&r.id.as_str()))
    {
        Frame::parse_segment(r.segment.as_bytes(), &Options::strict())
            .unwrap_or_else(|e| panic!("{}: {e}", r.id));
    }
}

#[test]
fn noted_examples_are_rejected_by_strict_mode() {
    let mut accepted = Vec::new();
    let noted = rows();
    let noted = noted
        .iter()
        .filter(|r| !r.note.is_empty() && !WELL_FORMED_DESPITE_NOTE.contains(&r.id.as_str()));
    for r in noted {
        if Frame::parse_segment(r.segment.as_bytes(), &Options::strict()).is_ok() {
            accepted.push(format!("{}: {}\n    note: {}", r.id, r.segment, r.note));
        }
    }
    assert!(
        accepted.is_empty(),
        "strict mode accepted noted deviations:\n{}",
        accepted.join("\n")
    );
}

/// Rejected even by lenient mode: the standard's `…` placeholders (not data), and header
/// separators that are missing (`Flag=5CP=`) or a comma (`QN=...,ST=`).
fn lenient_rejects(r: &Row) -> bool {
    r.segment.contains('…') || ["c051", "c063", "c142"].contains(&r.id.as_str())
}

/// The deviations real loggers make (stray spaces, empty fields, `,` between groups, a wrong
/// case in a name) are accepted by lenient mode, each reported as a warning.
#[test]
fn lenient_mode_accepts_noted_examples_with_warnings() {
    let mut wrong = Vec::new();
    for r in rows().iter().filter(|r| !r.note.is_empty()) {
        let result = Frame::parse_segment(r.segment.as_bytes(), &Options::lenient());
        let well_formed = WELL_FORMED_DESPITE_NOTE.contains(&r.id.as_str());
        match (result, lenient_rejects(r)) {
            (Ok(f), false) if well_formed || !f.warnings.is_empty() => {}
            (Ok(f), false) => wrong.push(format!(
                "{}: accepted without a warning {:?}",
                r.id, f.warnings
            )),
            (Ok(_), true) => wrong.push(format!("{}: accepted, expected a rejection", r.id)),
            (Err(e), false) => wrong.push(format!("{}: {e}", r.id)),
            (Err(_), true) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
