//! Formatting shared by server rendering and the browser, so both print the same text
//! (anything locale- or timezone-dependent would break hydration).

/// `2026-11-22 21:44 UTC` from milliseconds since the epoch.
pub fn timestamp_utc(millis: i64) -> String {
    if millis <= 0 {
        return "—".to_string();
    }
    let (year, month, day, hour, minute, ..) = aiops_core::time::civil_utc(millis);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// `1.5 KiB` and the like, for file sizes.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(timestamp_utc(0), "—");
        assert_eq!(timestamp_utc(86_400_000), "1970-01-02 00:00 UTC");
        assert_eq!(timestamp_utc(1_795_378_266_718), "2026-11-22 20:11 UTC");
        assert_eq!(timestamp_utc(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}

/// A metric value for tables: short, exact for integers, NaN and infinities spelled out.
pub fn number(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "∞".into() } else { "-∞".into() };
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    let magnitude = value.abs();
    if !(1e-4..1e6).contains(&magnitude) {
        return format!("{value:.4e}");
    }
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod number_tests {
    use super::number;

    #[test]
    fn formats_numbers() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.912345678), "0.912346");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(1.5e-7), "1.5000e-7");
    }
}

/// Text made safe to place between HTML tags or inside a quoted attribute.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod escape_tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape_html("</title><script>alert('x\"&')</script>"),
            "&lt;/title&gt;&lt;script&gt;alert(&#39;x&quot;&amp;&#39;)&lt;/script&gt;"
        );
    }
}

/// `12,345`: counts in the pager and tables.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod thousands_tests {
    #[test]
    fn groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(10_000), "10,000");
        assert_eq!(super::thousands(-1_234_567), "-1,234,567");
    }
}
