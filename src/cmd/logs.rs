//! `berth logs`: what a container printed, stdout to stdout and stderr to stderr, from running
//! and exited containers; `-f` follows until the container exits.

use crate::cli::lifecycle::LogsArgs;
use crate::container::lifecycle::settle;
use crate::container::log::{self, Record, Stream};
use crate::container::state;
use crate::image::units::parse_rfc3339;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// A time bound: RFC 3339, Unix seconds, or a duration back from now (`10m`, `2h`, `30s`).
fn parse_time(text: &str, now: f64) -> Result<f64> {
    if let Some(t) = parse_rfc3339(text) {
        return Ok(t as f64 + fraction(text));
    }
    if let Ok(secs) = text.parse::<f64>() {
        return Ok(secs);
    }
    let (num, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len()),
    );
    let n: f64 = num
        .parse()
        .with_context(|| format!("invalid time {text:?}"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => bail!("invalid time {text:?}: use RFC 3339, Unix seconds or a duration like 10m"),
    };
    Ok(now - n * scale)
}

/// The sub-second part of an RFC 3339 time, as a fraction of a second.
fn fraction(text: &str) -> f64 {
    text.split_once('.')
        .map(|(_, rest)| {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            format!("0.{digits}").parse().unwrap_or(0.0)
        })
        .unwrap_or(0.0)
}

fn record_time(r: &Record) -> f64 {
    parse_rfc3339(&r.time)
        .map(|t| t as f64 + fraction(&r.time))
        .unwrap_or(0.0)
}

fn print(records: &[Record], timestamps: bool) {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for r in records {
        let w: &mut dyn Write = match r.stream {
            Stream::Stdout => &mut out,
            Stream::Stderr => &mut err,
        };
        if timestamps {
            let _ = w.write_all(r.time.as_bytes());
            let _ = w.write_all(b" ");
        }
        let _ = w.write_all(&r.text);
    }
    let _ = out.flush();
    let _ = err.flush();
}

pub fn logs(root: &Path, args: &LogsArgs) -> Result<i32> {
    let container = state::resolve(root, &args.container)?;
    let record = container.load_state()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let since = args
        .since
        .as_deref()
        .map(|t| parse_time(t, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|t| parse_time(t, now))
        .transpose()?;
    let tail: Option<usize> = match args.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse()
                .with_context(|| format!("invalid tail {n:?}: a number or \"all\""))?,
        ),
    };
    let path = container.log();
    // The current file's complete records end at `offset`; following reads from there.
    let mut records = log::read_all(&path, 1.max(record.config.log_max_file))?;
    let (_, mut offset) = log::read_file(&path)?;
    let keep = |r: &Record| {
        since.is_none_or(|s| record_time(r) >= s) && until.is_none_or(|u| record_time(r) < u)
    };
    records.retain(keep);
    if let Some(n) = tail {
        let skip = records.len().saturating_sub(n);
        records.drain(..skip);
    }
    print(&records, args.timestamps);
    if !args.follow {
        return Ok(0);
    }
    loop {
        // Until the exit is recorded: the owner writes the last lines to the log first.
        let running = settle(&container)?.is_up();
        let (more, next) = log::read_from(&path, offset)?;
        offset = next;
        let more: Vec<Record> = more.into_iter().filter(keep).collect();
        print(&more, args.timestamps);
        if !running {
            // One more read: the last lines may have landed just before the exit was recorded.
            let (last, _) = log::read_from(&path, offset)?;
            print(
                &last.into_iter().filter(keep).collect::<Vec<_>>(),
                args.timestamps,
            );
            return Ok(0);
        }
        if until.is_some_and(|u| now_secs() >= u) {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds() {
        assert_eq!(parse_time("10m", 1000.0).unwrap(), 400.0);
        assert_eq!(parse_time("1700000000", 0.0).unwrap(), 1_700_000_000.0);
        let t = parse_time("2024-01-01T00:00:00.5Z", 0.0).unwrap();
        assert!((t - 1_704_067_200.5).abs() < 1e-6);
        assert!(parse_time("yesterday", 0.0).is_err());
    }
}
