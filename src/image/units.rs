//! How Docker prints times and sizes (docker/go-units `HumanDuration`, `HumanSizeWithPrecision`),
//! and the RFC 3339 timestamps image configs carry — so `berth images` reads like `docker images`.

/// Seconds since the Unix epoch of an RFC 3339 timestamp (`2024-05-01T12:00:00.5Z`,
/// `…+02:00`); `None` if it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let tz = rest.get(1..)?;
            let (h, m) = tz.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86400 + hour * 3600 + min * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// go-units `HumanDuration`: "Less than a second", "About a minute", "3 weeks", "2 years".
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let minutes = secs / 60;
    // Go rounds the duration to the nearest hour here (time.Duration.Round).
    let hours = (secs + 1800) / 3600;
    if secs < 1 {
        "Less than a second".to_string()
    } else if secs == 1 {
        "1 second".to_string()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".to_string()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_string()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", secs / 3600 / 24 / 365)
    }
}

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal units, Go's `%.3g` ("2.14MB", "4kB",
/// "123B").
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g3(size), UNITS[i])
}

/// Go's `fmt.Sprintf("%.3g", x)` for non-negative x.
fn go_g3(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    // The exponent after rounding to 3 significant digits decides the notation, as in Go.
    let sci = format!("{x:.2e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..3).contains(&exp) {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = usize::try_from(2 - exp).unwrap_or(0);
    trim_zeros(&format!("{x:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Docker CLI's table layout (text/tabwriter with minwidth 10, padding 3): every column but the
/// last is padded to its widest cell plus three spaces, and to at least ten.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count() + 3).max(10);
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_with_fraction_and_offset() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56.123456789Z"),
            Some(1_709_210_096)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T14:34:56+02:00"),
            Some(1_709_210_096)
        );
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00"), None);
    }

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(119), "About a minute");
        assert_eq!(human_duration(120), "2 minutes");
        assert_eq!(human_duration(3599), "59 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5399), "About an hour");
        assert_eq!(human_duration(5400), "2 hours");
        assert_eq!(human_duration(47 * 3600), "47 hours");
        assert_eq!(human_duration(48 * 3600), "2 days");
        assert_eq!(human_duration(14 * 86400), "2 weeks");
        assert_eq!(human_duration(60 * 86400), "2 months");
        assert_eq!(human_duration(2 * 365 * 86400), "2 years");
        assert_eq!(human_duration(56 * 365 * 86400 + 20 * 86400), "56 years");
    }

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(123), "123B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(4_000), "4kB");
        assert_eq!(human_size(2_140_000), "2.14MB");
        assert_eq!(human_size(4_261_550), "4.26MB");
        assert_eq!(human_size(77_800_000), "77.8MB");
        assert_eq!(human_size(1_230_000_000), "1.23GB");
        // Go's %.3g switches to exponent form when rounding reaches 1000: Docker shows it too.
        assert_eq!(human_size(999_600), "1e+03kB");
        assert_eq!(go_g3(0.5), "0.5");
    }

    #[test]
    fn table_pads_like_tabwriter() {
        let rows = vec![
            vec![
                "REPOSITORY".to_string(),
                "TAG".to_string(),
                "SIZE".to_string(),
            ],
            vec![
                "busybox".to_string(),
                "latest".to_string(),
                "4.26MB".to_string(),
            ],
        ];
        assert_eq!(
            table(&rows),
            "REPOSITORY   TAG       SIZE\nbusybox      latest    4.26MB\n"
        );
    }
}
