//! Calendar arithmetic on Unix milliseconds, without a date crate: the dashboard's dates
//! and the ISO 8601 timestamps webhook bodies carry.

/// UTC date and time of day of `millis`: (year, month, day, hour, minute, second, millisecond).
pub fn civil_utc(millis: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    (
        year,
        month,
        day,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        millis.rem_euclid(1000) as u32,
    )
}

/// `2026-11-23T17:05:09.123000+00:00`, as Python's `datetime.isoformat()` writes UTC
/// (MLflow's webhook `timestamp`).
pub fn iso8601(millis: i64) -> String {
    let (y, mo, d, h, mi, s, ms) = civil_utc(millis);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}000+00:00")
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps_match_python() {
        // datetime.fromtimestamp(1795378266.718, timezone.utc).isoformat()
        assert_eq!(iso8601(1_795_378_266_718), "2026-11-22T20:11:06.718000+00:00");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000000+00:00");
    }
}
