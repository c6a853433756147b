//! Small, allocation-free readers for the standard's value forms: dates and N14.6 numbers.

/// A calendar time read from `YYYYMMDDhhmmss` (and optional `zzz` milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millis: u16,
}

fn digits(s: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte of `w` that is not an ASCII digit.
#[inline(always)]
pub(crate) fn non_digits(w: u64) -> u64 {
    // with the high bits cleared no addition below carries into the next byte
    let x = w & (ONES * 0x7F);
    let ge0 = x.wrapping_add(ONES * 0x50); // high bit set iff x >= '0'
    let gt9 = x.wrapping_add(ONES * 0x46); // high bit set iff x > '9'
    (!ge0 | gt9 | w) & (ONES * 0x80)
}

/// Eight ASCII digits (first in the lowest byte) as four two-digit numbers, one in the low
/// byte of each 16-bit lane (the first pair in the lowest lane).
#[inline(always)]
fn digit_pairs(w: u64) -> u64 {
    let d = w & (ONES * 0x0F);
    // byte 2k: 10 * first digit + second digit (at most 99: nothing carries)
    (d.wrapping_mul(10) + (d >> 8)) & 0x00FF_00FF_00FF_00FF
}

pub fn is_leap(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Why a date text is not a real date, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFault {
    Form,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl DateFault {
    pub fn describe(self, want: &str) -> String {
        match self {
            DateFault::Form => format!("not a time of the form {want}"),
            DateFault::Month => "month is not 01..12".into(),
            DateFault::Day => "day does not exist in that month".into(),
            DateFault::Hour => "hour is not 00..23".into(),
            DateFault::Minute => "minute is not 00..59".into(),
            DateFault::Second => "second is not 00..59".into(),
        }
    }
}

/// Read `YYYYMMDDhhmmss` (14 digits) or `YYYYMMDDhhmmsszzz` (17 digits) and check it is real.
pub fn read_stamp(s: &[u8]) -> Result<Stamp, DateFault> {
    if s.len() != 14 && s.len() != 17 {
        return Err(DateFault::Form);
    }
    // YYYYMMDD and DDhhmmss (the two words overlap by the day) as digit pairs
    let (Some(a), Some(b)) = (s.first_chunk::<8>(), s[6..].first_chunk::<8>()) else {
        return Err(DateFault::Form);
    };
    let (a, b) = (u64::from_le_bytes(*a), u64::from_le_bytes(*b));
    if (non_digits(a) | non_digits(b)) != 0 {
        return Err(DateFault::Form);
    }
    let (a, b) = (digit_pairs(a), digit_pairs(b));
    let pair = |w: u64, k: u32| ((w >> (16 * k)) & 0xFF) as u32;
    let year = pair(a, 0) * 100 + pair(a, 1);
    let month = pair(a, 2);
    let day = pair(a, 3);
    let hour = pair(b, 1);
    let minute = pair(b, 2);
    let second = pair(b, 3);
    let millis = if s.len() == 17 {
        digits(&s[14..17]).ok_or(DateFault::Form)?
    } else {
        0
    };
    real_stamp([year, month, day, hour, minute, second, millis])
}

/// `read_stamp(s).is_ok()` for a stamp whose first eight bytes (the date, `YYYYMMDD`) are
/// those of a stamp `read_stamp` accepted: only the time of day (and the milliseconds of a
/// 17-digit stamp) are left to check, a word at a time.
pub(crate) fn time_of_known_date_ok(s: &[u8]) -> bool {
    if s.len() != 14 && s.len() != 17 {
        return false;
    }
    // DDhhmmss: the day's digits again (known), then the time
    let Some(b) = s.get(6..).and_then(|r| r.first_chunk::<8>()) else {
        return false;
    };
    let b = u64::from_le_bytes(*b);
    if non_digits(b) != 0 {
        return false;
    }
    let p = digit_pairs(b);
    let pair = |k: u32| ((p >> (16 * k)) & 0xFF) as u32;
    if pair(1) > 23 || pair(2) > 59 || pair(3) > 59 {
        return false;
    }
    s.len() == 14 || s.get(14..17).and_then(digits).is_some()
}

/// The stamp of these fields (year, month, day, hour, minute, second, millis) if it is a
/// real time.
fn real_stamp(f: [u32; 7]) -> Result<Stamp, DateFault> {
    let [year, month, day, hour, minute, second, millis] = f;
    if !(1..=12).contains(&month) {
        return Err(DateFault::Month);
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(DateFault::Day);
    }
    if hour > 23 {
        return Err(DateFault::Hour);
    }
    if minute > 59 {
        return Err(DateFault::Minute);
    }
    if second > 59 {
        return Err(DateFault::Second);
    }
    Ok(Stamp {
        year: year as u16,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        millis: millis as u16,
    })
}

impl Stamp {
    /// Seconds since 1970-01-01 00:00:00 of this wall-clock time read as if it were UTC.
    /// The standard's clock is local (Asia/Shanghai); callers attach the zone.
    pub fn wall_seconds(&self) -> i64 {
        let days = days_from_civil(
            i64::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        );
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of `days_from_civil`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Format wall-clock seconds (as from `Stamp::wall_seconds`) as `YYYYMMDDhhmmss`.
pub fn format_wall_seconds(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// How a number's text strays from N14.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberForm {
    /// within N14.6: optional sign, at most 14 significant digits and 6 decimals
    Standard,
    /// a number, but longer than N14.6 allows or in exponent form
    Loose,
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Read a decimal number. The common case (at most 15 digits, no exponent) is exact:
/// the integer of the digits is below 2^53 and one division by an exact power of ten is
/// correctly rounded, so the result equals Rust's own parse. Anything else falls back to it.
pub fn read_number(s: &[u8]) -> Option<(f64, NumberForm)> {
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = body.len();
    // digits of a value on the wire rarely pass 15; more would overflow nothing here (the
    // slow path below takes over), but wrapping keeps the digit loop free of checks
    let (mut i, mut mant) = digits_into(body, 0, 0);
    let int_digits = i;
    let mut frac_digits = 0;
    if i < n && body[i] == b'.' {
        let from = i + 1;
        (i, mant) = digits_into(body, from, mant);
        frac_digits = i - from;
    }
    let digits = int_digits + frac_digits;
    if digits == 0 {
        return None;
    }
    if i < n {
        // only an exponent may follow; let the standard library judge the whole text
        if !matches!(body[i], b'e' | b'E') {
            return None;
        }
        let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
        return if v.is_finite() {
            Some((v, NumberForm::Loose))
        } else {
            None
        };
    }
    if digits <= 14 && frac_digits <= 6 {
        // at most 14 digits: below 2^53, and 10^frac is exact, so one division rounds right
        let v = mant as f64 / POW10[frac_digits];
        return Some((if neg { -v } else { v }, NumberForm::Standard));
    }
    let significant = digits
        - body
            .iter()
            .take_while(|&&b| b == b'0' || b == b'.')
            .filter(|&&b| b == b'0')
            .count();
    let form = if significant <= 14 && frac_digits <= 6 {
        NumberForm::Standard
    } else {
        NumberForm::Loose
    };
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    v.is_finite().then_some((v, form))
}

/// Fold the decimal digits of `s` from `i` into `mant`; where they stop, and the mantissa.
#[inline]
fn digits_into(s: &[u8], mut i: usize, mut mant: u64) -> (usize, u64) {
    while let Some(d) = s.get(i).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9) {
        mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    (i, mant)
}

/// Read a non-negative integer of at most 9 digits.
pub fn read_uint(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    digits(s)
}

#[cfg(test)]
mod tests {

    /// `time_of_known_date_ok` against `read_stamp` on stamps of good dates, each time
    /// byte and millisecond byte changed to every value.
    #[test]
    fn time_of_known_date_by_word() {
        for base in [
            &b"20240301080000174"[..],
            b"20240229235959999",
            b"19991231000000000",
            b"20240301080000",
            b"20230630125900",
        ] {
            assert!(read_stamp(base).is_ok());
            for k in 8..base.len() {
                for v in 0..=255u8 {
                    let mut s = base.to_vec();
                    s[k] = v;
                    assert_eq!(
                        time_of_known_date_ok(&s),
                        read_stamp(&s).is_ok(),
                        "{}",
                        String::from_utf8_lossy(&s)
                    );
                }
            }
            for (h, m) in [(23, 59), (24, 0), (0, 60), (19, 5), (30, 30), (9, 99)] {
                for sec in [0, 59, 60, 99] {
                    let mut s = base.to_vec();
                    s[8..14].copy_from_slice(format!("{h:02}{m:02}{sec:02}").as_bytes());
                    assert_eq!(time_of_known_date_ok(&s), read_stamp(&s).is_ok());
                }
            }
            assert!(!time_of_known_date_ok(&base[..13]));
        }
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_dates() {
        assert!(read_stamp(b"20160801085857").is_ok());
        assert!(read_stamp(b"20160801085857223").is_ok());
        assert_eq!(read_stamp(b"20160229000000").map(|s| s.day), Ok(29));
        assert_eq!(read_stamp(b"20170229000000"), Err(DateFault::Day));
        assert_eq!(read_stamp(b"20161301000000"), Err(DateFault::Month));
        assert_eq!(read_stamp(b"20160801240000"), Err(DateFault::Hour));
        assert_eq!(read_stamp(b"20160801236000"), Err(DateFault::Minute));
        assert_eq!(read_stamp(b"2016080108585"), Err(DateFault::Form));
        assert_eq!(read_stamp(b"2016080108585x"), Err(DateFault::Form));
    }

    #[test]
    fn epoch_roundtrip() {
        let s = read_stamp(b"20160801085857").unwrap();
        assert_eq!(s.wall_seconds(), 1_470_041_937);
        assert_eq!(format_wall_seconds(s.wall_seconds()), "20160801085857");
    }

    #[test]
    fn numbers() {
        assert_eq!(read_number(b"12.5"), Some((12.5, NumberForm::Standard)));
        assert_eq!(read_number(b"-0.001"), Some((-0.001, NumberForm::Standard)));
        assert_eq!(read_number(b"7"), Some((7.0, NumberForm::Standard)));
        assert_eq!(read_number(b".5"), Some((0.5, NumberForm::Standard)));
        assert_eq!(read_number(b"5."), Some((5.0, NumberForm::Standard)));
        assert_eq!(
            read_number(b"1.1234567"),
            Some((1.1234567, NumberForm::Loose))
        );
        assert_eq!(read_number(b"1e3"), Some((1000.0, NumberForm::Loose)));
        assert_eq!(read_number(b""), None);
        assert_eq!(read_number(b"-"), None);
        assert_eq!(read_number(b"."), None);
        assert_eq!(read_number(b"1.2.3"), None);
        assert_eq!(read_number(b"abc"), None);
        assert_eq!(read_number(b"NaN"), None);
        assert_eq!(read_number(b"inf"), None);
        assert_eq!(read_number(b"1e999"), None);
        assert_eq!(read_number(b"12 "), None);
    }

    proptest! {
        #[test]
        fn fast_path_equals_std(int in 0u64..100_000_000, frac in 0u32..1_000_000, neg: bool) {
            let text = format!("{}{}.{:06}", if neg { "-" } else { "" }, int, frac);
            let (v, _) = read_number(text.as_bytes()).unwrap();
            prop_assert_eq!(v, text.parse::<f64>().unwrap());
        }

        #[test]
        fn any_float_text_agrees(x in proptest::num::f64::NORMAL) {
            let text = format!("{x}");
            if let Some((v, _)) = read_number(text.as_bytes()) {
                prop_assert_eq!(v, text.parse::<f64>().unwrap());
            }
        }

        #[test]
        fn days_roundtrip(d in -800_000i64..800_000) {
            let (y, m, dd) = civil_from_days(d);
            prop_assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    /// `read_stamp` (digit pairs a word at a time) against the digit-by-digit reading it
    /// replaced, with every byte of good and bad stamps replaced by bytes around the digits.
    #[test]
    fn stamps_by_word_equal_stamps_by_digit() {
        fn reference(s: &[u8]) -> Result<Stamp, DateFault> {
            if s.len() != 14 && s.len() != 17 {
                return Err(DateFault::Form);
            }
            let f = |r: std::ops::Range<usize>| digits(&s[r]).ok_or(DateFault::Form);
            let (year, month, day) = (f(0..4)?, f(4..6)?, f(6..8)?);
            let (hour, minute, second) = (f(8..10)?, f(10..12)?, f(12..14)?);
            let millis = if s.len() == 17 { f(14..17)? } else { 0 };
            real_stamp([year, month, day, hour, minute, second, millis])
        }
        let bases: [&[u8]; 6] = [
            b"20240301080000",
            b"20240229235959123",
            b"19991231000000",
            b"20230229120000",
            b"20241399246060999",
            b"00000000000000",
        ];
        for base in bases {
            assert_eq!(read_stamp(base), reference(base));
            for i in 0..base.len() {
                for b in [
                    b'/', b':', b'0', b'1', b'2', b'3', b'5', b'9', b'a', b' ', 0x80, 0xB9, 0xFF,
                ] {
                    let mut t = base.to_vec();
                    t[i] = b;
                    assert_eq!(
                        read_stamp(&t),
                        reference(&t),
                        "{:?}",
                        String::from_utf8_lossy(&t)
                    );
                }
            }
            for n in 0..base.len() {
                assert_eq!(read_stamp(&base[..n]), reference(&base[..n]));
            }
        }
    }
}
