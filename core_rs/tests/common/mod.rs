//! The standard's appendix C example segments (`core_rs/tests/data/appendix_c.tsv`), shared by the
//! integration tests that check them.

#![allow(dead_code)] // each test crate uses its own part of this

pub struct Row {
    pub id: String,
    pub section: String,
    /// platform to logger
    pub down: bool,
    pub segment: String,
    /// a deviation the standard's own example makes, or empty
    pub note: String,
}

pub fn appendix_c() -> Vec<Row> {
    let text = include_str!("../data/appendix_c.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    assert_eq!(
        header,
        [
            "id",
            "section",
            "direction",
            "description",
            "segment",
            "note"
        ]
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Row {
                id: c[0].into(),
                section: c[1].into(),
                down: c[2] == "down",
                segment: c[4].into(),
                note: c.get(5).unwrap_or(&"").to_string(),
            }
        })
        .collect()
}
