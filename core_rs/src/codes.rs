//! Code tables (ST, CN, data flags, QnRtn, ExeRtn, pollutants, ...), all read from the one
//! data file `data/codes.tsv`, which was taken from the standard's appendix B and tables 5-9.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

const SOURCE: &str = include_str!("../data/codes.tsv");

/// One row of `codes.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub table: &'static str,
    pub code: &'static str,
    pub code_2005: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub unit: &'static str,
    pub unit_cou: &'static str,
    pub note: &'static str,
}

pub const COLUMNS: [&str; 8] = [
    "table",
    "code",
    "code_2005",
    "name_zh",
    "name_en",
    "unit",
    "unit_cou",
    "note",
];

/// Tables whose codes may appear as `code-Suffix` in a data area.
const FIELD_TABLES: [&str; 5] = ["pollutant", "process", "equipment", "info", "info_class"];

/// A multiplicative hasher for the packed 8-byte code keys: lookups sit on the per-field path.
#[derive(Default)]
struct PackedHasher(u64);

impl Hasher for PackedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    }
}

type PackedSet = HashSet<u64, BuildHasherDefault<PackedHasher>>;

struct Tables {
    rows: Vec<CodeRow>,
    by_key: HashMap<(&'static str, &'static str), usize>,
    field_codes: PackedSet,
    from_2005: HashMap<&'static str, &'static str>,
    /// ST codes (2 characters of 0-9/A-Z) as a bitmap over 36 x 36
    st: Vec<u64>,
    /// CN codes as a bitmap over 0..10000
    cn: Vec<u64>,
    /// one-character data flags of table 8, as a bitmap over ASCII
    data_flags: u128,
}

/// Pack a code of at most 8 bytes into a u64 key; longer codes have no key.
#[inline]
pub fn pack(code: &[u8]) -> Option<u64> {
    if code.is_empty() || code.len() > 8 {
        return None;
    }
    let mut k: u64 = 0;
    for &b in code {
        k = (k << 8) | u64::from(b);
    }
    Some(k | ((code.len() as u64) << 60))
}

fn load() -> Tables {
    let mut rows = Vec::new();
    let mut lines = SOURCE.lines();
    let header = lines.next().unwrap_or_default();
    assert_eq!(
        header.split('\t').collect::<Vec<_>>(),
        COLUMNS,
        "codes.tsv header changed"
    );
    for line in lines {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split('\t');
        let mut next = || cols.next().unwrap_or("").trim();
        rows.push(CodeRow {
            table: next(),
            code: next(),
            code_2005: next(),
            name_zh: next(),
            name_en: next(),
            unit: next(),
            unit_cou: next(),
            note: next(),
        });
    }
    let mut by_key = HashMap::new();
    let mut field_codes = PackedSet::default();
    let mut from_2005 = HashMap::new();
    let mut st = vec![0u64; (36 * 36usize).div_ceil(64)];
    let mut cn = vec![0u64; 10_000usize.div_ceil(64)];
    let mut data_flags = 0u128;
    for (i, r) in rows.iter().enumerate() {
        if r.table == "flag" && r.code.len() == 1 && r.code.is_ascii() {
            data_flags |= 1u128 << r.code.as_bytes()[0];
        }
        by_key.entry((r.table, r.code)).or_insert(i);
        if FIELD_TABLES.contains(&r.table) {
            if let Some(k) = pack(r.code.as_bytes()) {
                field_codes.insert(k);
            }
            if !r.code_2005.is_empty() {
                if let Some(k) = pack(r.code_2005.as_bytes()) {
                    field_codes.insert(k);
                }
                from_2005.entry(r.code_2005).or_insert(r.code);
            }
        }
        match r.table {
            "st" => {
                if let Some(i) = st_index(r.code.as_bytes()) {
                    st[i / 64] |= 1 << (i % 64);
                }
            }
            "cn" => {
                if let Ok(v) = r.code.parse::<u16>() {
                    if v < 10_000 {
                        cn[usize::from(v) / 64] |= 1 << (v % 64);
                    }
                }
            }
            _ => {}
        }
    }
    Tables {
        rows,
        by_key,
        field_codes,
        from_2005,
        st,
        cn,
        data_flags,
    }
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(load)
}

/// Every row of one table, in file order.
pub fn rows(table: &str) -> impl Iterator<Item = &'static CodeRow> + '_ {
    tables().rows.iter().filter(move |r| r.table == table)
}

/// Names of the tables present in the data file.
pub fn table_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for r in &tables().rows {
        if !names.contains(&r.table) {
            names.push(r.table);
        }
    }
    names
}

pub fn lookup(table: &str, code: &str) -> Option<&'static CodeRow> {
    let t = tables();
    t.by_key.get(&(table, code)).map(|&i| &t.rows[i])
}

/// A code that may stand before `-Suffix` in a data area (2017 or 2005 form) is in the tables.
#[inline]
pub fn is_known_field_code(code: &[u8]) -> bool {
    // table 4's SBxxx-RS / SBxxx-RT: "xxx" is the facility's own number, not a code of B
    if let [b'S', b'B', rest @ ..] = code {
        if !rest.is_empty() && rest.len() <= 6 && rest.iter().all(u8::is_ascii_digit) {
            return true;
        }
    }
    match pack(code) {
        Some(k) => tables().field_codes.contains(&k),
        None => false,
    }
}

pub fn pollutant_2017(code_2005: &str) -> Option<&'static str> {
    tables().from_2005.get(code_2005).copied()
}

/// Index of a 2-character ST code of 0-9/A-Z in 0..36*36.
fn st_index(st: &[u8]) -> Option<usize> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(usize::from(b - b'0')),
        b'A'..=b'Z' => Some(usize::from(b - b'A') + 10),
        _ => None,
    };
    match st {
        [a, b] => Some(digit(*a)? * 36 + digit(*b)?),
        _ => None,
    }
}

pub fn is_known_st(st: &str) -> bool {
    is_known_st_bytes(st.as_bytes())
}

/// `is_known_st` for the code's bytes.
pub fn is_known_st_bytes(st: &[u8]) -> bool {
    st_index(st).is_some_and(|i| tables().st[i / 64] & (1 << (i % 64)) != 0)
}

pub fn is_known_cn(cn: u16) -> bool {
    cn < 10_000 && tables().cn[usize::from(cn) / 64] & (1 << (cn % 64)) != 0
}

/// The one-character data flags of table 8, as a bitmap over ASCII (bit `c` for flag `c`):
/// read once by a caller that checks many.
pub fn data_flag_set() -> u128 {
    tables().data_flags
}

pub fn is_known_data_flag(flag: &[u8]) -> bool {
    match flag {
        [c] if c.is_ascii() => tables().data_flags & (1u128 << c) != 0,
        _ => std::str::from_utf8(flag).is_ok_and(|f| lookup("flag", f).is_some()),
    }
}

pub fn is_known_qn_rtn(v: u32) -> bool {
    lookup("qnrtn", &v.to_string()).is_some()
}

pub fn is_known_exe_rtn(v: u32) -> bool {
    lookup("exertn", &v.to_string()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_codes_are_there() {
        for code in [
            "w00000", "w01001", "w01018", "w21003", "w21011", "w21001", "a00000", "a34013",
            "a21026", "a21002", "a19001", "a01011", "a01012", "a01013", "a01014",
        ] {
            assert!(
                lookup("pollutant", code).is_some(),
                "{code} missing from codes.tsv"
            );
            assert!(is_known_field_code(code.as_bytes()));
        }
        assert_eq!(pollutant_2017("011"), Some("w01018"));
        assert!(is_known_st("32") && is_known_st("31") && is_known_st("91"));
        assert!(!is_known_st("99"));
        for cn in [
            1000, 1011, 1012, 1061, 1062, 2011, 2051, 2061, 2031, 9011, 9012, 9013, 9014,
        ] {
            assert!(is_known_cn(cn), "CN {cn} missing");
        }
        for f in ["N", "F", "M", "S", "D", "C", "T", "B"] {
            assert!(is_known_data_flag(f.as_bytes()), "flag {f} missing");
        }
        assert!(is_known_qn_rtn(9) && is_known_exe_rtn(100));
    }

    #[test]
    fn facility_numbers_are_known() {
        assert!(is_known_field_code(b"SB1"));
        assert!(is_known_field_code(b"SB012"));
        assert!(!is_known_field_code(b"SB"));
        assert!(!is_known_field_code(b"SBx1"));
    }

    #[test]
    fn unknown_codes_are_unknown() {
        assert!(!is_known_field_code(b"zz9999"));
        assert!(!is_known_field_code(b"averyveryverylongcode"));
    }
}
