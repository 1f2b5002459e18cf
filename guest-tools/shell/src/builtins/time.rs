//! Time: `date` (now or a given date, in UTC, in `date`'s formats), the
//! date strings `date -d` and `touch -d` read, and `sleep`. A WASI guest has no time
//! zone, so both work in UTC. Formatting is jiff's strftime.

use super::usage;
use crate::interp::Shell;
use crate::io::{Io, out};
use std::time::SystemTime;

/// `date [-u] [-d DATE | -r FILE] [-I[date|seconds] | -R | +FORMAT]`.
pub fn date(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut time = SystemTime::now();
    let mut format = "%a %b %e %H:%M:%S %Z %Y".to_string();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let parsed = match arg.as_str() {
            "-u" | "--utc" | "--universal" => Ok(()),
            "-d" | "--date" => match rest.next() {
                Some(text) => parse(text).map(|t| time = t),
                None => Err("option requires an argument -- 'd'".to_string()),
            },
            "-r" | "--reference" => match rest.next() {
                Some(file) => shell
                    .resolve(file)
                    .ok()
                    .and_then(|p| std::fs::metadata(p.abs).ok())
                    .and_then(|m| m.modified().ok())
                    .map(|t| time = t)
                    .ok_or_else(|| format!("{file}: No such file or directory")),
                None => Err("option requires an argument -- 'r'".to_string()),
            },
            "-I" | "--iso-8601" | "-Idate" | "--iso-8601=date" => {
                format = "%Y-%m-%d".into();
                Ok(())
            }
            "-Iseconds" | "--iso-8601=seconds" => {
                format = "%Y-%m-%dT%H:%M:%S%:z".into();
                Ok(())
            }
            "-R" | "--rfc-email" => {
                format = "%a, %d %b %Y %H:%M:%S %z".into();
                Ok(())
            }
            text if text.starts_with('+') => {
                format = text[1..].to_string();
                Ok(())
            }
            other => Err(format!("invalid date '{other}'")),
        };
        if let Err(message) = parsed {
            return usage(io, "date", &message, 1);
        }
    }
    let Ok(stamp) = jiff::Timestamp::try_from(time) else {
        return usage(io, "date", "time out of range", 1);
    };
    let zoned = stamp.to_zoned(jiff::tz::TimeZone::UTC);
    match jiff::fmt::strtime::format(format.as_bytes(), &zoned) {
        Ok(text) => {
            out!(io, "{text}\n");
            0
        }
        Err(error) => usage(io, "date", &format!("invalid format: {error}"), 1),
    }
}

/// A date as `date -d` and `touch -d` take it, in UTC: `now`, `@SECONDS`,
/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (or with `T`).
pub fn parse(text: &str) -> Result<SystemTime, String> {
    let invalid = || format!("invalid date '{text}'");
    let text = text.trim();
    if text == "now" {
        return Ok(SystemTime::now());
    }
    if let Some(seconds) = text.strip_prefix('@') {
        let seconds: i64 = seconds.parse().map_err(|_| invalid())?;
        let stamp = jiff::Timestamp::from_second(seconds).map_err(|_| invalid())?;
        return Ok(SystemTime::from(stamp));
    }
    let text = text.replacen(' ', "T", 1);
    let civil: jiff::civil::DateTime = match text.len() {
        10 => text.parse::<jiff::civil::Date>().map(|d| d.to_datetime(jiff::civil::Time::midnight())),
        _ => text.parse(),
    }
    .map_err(|_| invalid())?;
    let stamp = civil.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| invalid())?.timestamp();
    Ok(SystemTime::from(stamp))
}

/// `sleep NUMBER[smhd]...`: waits for their sum (`infinity` too). The
/// call's deadline and an abort end a long wait (the host's watchdog).
pub fn sleep(_: &mut Shell, args: &[String], io: &Io) -> i32 {
    if args.is_empty() {
        return usage(io, "sleep", "missing operand", 1);
    }
    let mut seconds = 0f64;
    for arg in args {
        let (number, scale) = match arg.char_indices().last() {
            Some((at, 's')) => (&arg[..at], 1.0),
            Some((at, 'm')) => (&arg[..at], 60.0),
            Some((at, 'h')) => (&arg[..at], 3600.0),
            Some((at, 'd')) => (&arg[..at], 86400.0),
            _ => (arg.as_str(), 1.0),
        };
        let parsed = match number {
            "inf" | "infinity" => Some(f64::INFINITY),
            number if number.starts_with(|c: char| c.is_ascii_digit() || c == '.') => number.parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(value) if value >= 0.0 => seconds += value * scale,
            _ => return usage(io, "sleep", &format!("invalid time interval '{arg}'"), 1),
        }
    }
    // Longer than any deadline: the host ends the call first.
    std::thread::sleep(std::time::Duration::from_secs_f64(seconds.min(1e9)));
    0
}
