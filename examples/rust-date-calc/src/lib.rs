//! date_calc: date and time arithmetic for an agent, as a wasmgate tool.
//!
//! Models are poor at calendars: which weekday a date falls on, what is
//! three weeks and two business days from now, how many days are left until
//! a release, what 14:30 in Paris is in New York. This tool answers those
//! exactly, with [jiff](https://docs.rs/jiff) and its compiled-in time zone
//! database.
//!
//! It is the Rust one of wasmgate's example tools, written as any tool author
//! would: one crate against `wit/tools.wit` through `wasmgate-tool-sdk`,
//! whose `spec` derives the argument schema from the very type the arguments
//! are parsed into. It needs no file and no network, and gets neither.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Unit, Zoned};
use serde::Deserialize;
use serde_json::json;
use wasmgate_tool_sdk::{CallContext, Guest, JsonSchema, ToolError, ToolResult, ToolSpec};

const NAME: &str = "date_calc";

const DESCRIPTION: &str = "Calendar and clock arithmetic, exactly: the weekday, ISO week and day of year of a date; \
a date plus or minus a span (`3 weeks 2 days`, `-1 month`, `90m`) or a number of business days; the time from one \
date until another in days, weeks, months and business days; and a time in another time zone (IANA names, with \
daylight saving). Use it instead of working out dates yourself.";

/// The arguments: a date, then what to do with it (any combination).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Args {
    /// The date to start from: `2026-12-03`, `2026-12-03T14:30`, a timestamp with an offset
    /// (`2026-12-03T14:30:00Z`, `2026-12-03T14:30:00+01:00`), one with its zone
    /// (`2026-12-03T14:30[Europe/Paris]`), or `now` or `today`.
    date: String,
    /// The time zone `date` (and `until`) are in when they name none, an IANA name such as
    /// `Europe/Paris` (default: UTC).
    time_zone: Option<String>,
    /// A span to add, negative to subtract: `3 weeks 2 days`, `-1 month`, `2h 30m`, or ISO 8601 (`P1Y2M`).
    add: Option<String>,
    /// A number of business days (Monday to Friday) to add after `add`, negative to go back.
    add_business_days: Option<i64>,
    /// Another date, written as `date` is: how long from the result until it (days, weeks, a calendar
    /// span, and business days counting the first day but not the last).
    until: Option<String>,
    /// Also shows the result in this time zone (an IANA name).
    in_time_zone: Option<String>,
}

/// A point in time from the arguments, and whether the user gave a time of
/// day (a bare date prints as a date).
struct Moment {
    zoned: Zoned,
    has_time: bool,
}

impl Moment {
    fn parse(text: &str, tz: &TimeZone) -> Result<Moment, String> {
        let text = text.trim();
        let now = || Timestamp::now().to_zoned(tz.clone());
        let at = |zoned: Result<Zoned, jiff::Error>, has_time| {
            zoned.map(|zoned| Moment { zoned, has_time }).map_err(|e| format!("{text}: {e}"))
        };
        match text.to_ascii_lowercase().as_str() {
            "now" => return Ok(Moment { zoned: now(), has_time: true }),
            "today" => return at(now().date().to_zoned(tz.clone()), false),
            _ => {}
        }
        if let Ok(zoned) = text.parse::<Zoned>() {
            return Ok(Moment { zoned, has_time: true });
        }
        if let Ok(timestamp) = text.parse::<Timestamp>() {
            return Ok(Moment { zoned: timestamp.to_zoned(tz.clone()), has_time: true });
        }
        // A civil date-time parses from a bare date too (at midnight).
        let has_time = text.contains(['T', 't', ' ']);
        match text.parse::<DateTime>() {
            Ok(datetime) => at(datetime.to_zoned(tz.clone()), has_time),
            Err(e) => Err(format!(
                "{text:?} is not a date: write 2026-12-03, 2026-12-03T14:30, 2026-12-03T14:30:00Z, \
                 2026-12-03T14:30[Europe/Paris], now or today ({e})"
            )),
        }
    }

    /// `2026-12-24` for a date, the full zoned form for a time.
    fn show(&self) -> String {
        if self.has_time { self.zoned.to_string() } else { self.zoned.date().to_string() }
    }
}

/// A date `n` business days (Monday to Friday) after `date`, or before it
/// for a negative `n`; zero leaves it as it is.
fn add_business_days(mut date: Date, n: i64) -> Result<Date, String> {
    const MOST: i64 = 100_000;
    if n.abs() > MOST {
        return Err(format!("add_business_days: {n} is more than {MOST} business days away"));
    }
    let step = Span::new().days(n.signum());
    for _ in 0..n.abs() {
        date = date.checked_add(step).map_err(|e| e.to_string())?;
        while is_weekend(date.weekday()) {
            date = date.checked_add(step).map_err(|e| e.to_string())?;
        }
    }
    Ok(date)
}

fn is_weekend(day: Weekday) -> bool {
    matches!(day, Weekday::Saturday | Weekday::Sunday)
}

/// Business days from `from` until `to`, counting `from` and not `to`
/// (negative when `to` comes first).
fn business_days_between(from: Date, to: Date) -> Result<i64, String> {
    if to < from {
        return business_days_between(to, from).map(|n| -n);
    }
    let days = i64::from(from.until((Unit::Day, to)).map_err(|e| e.to_string())?.get_days());
    let mut count = days / 7 * 5;
    let mut day = from.checked_add(Span::new().days(days / 7 * 7)).map_err(|e| e.to_string())?;
    for _ in 0..days % 7 {
        count += i64::from(!is_weekend(day.weekday()));
        day = day.tomorrow().map_err(|e| e.to_string())?;
    }
    Ok(count)
}

fn plural(n: i64, unit: &str) -> String {
    if n.abs() == 1 { format!("{n} {unit}") } else { format!("{n} {unit}s") }
}

fn calculate(args: &Args) -> Result<(String, serde_json::Value), String> {
    let tz = match &args.time_zone {
        Some(name) => TimeZone::get(name).map_err(|e| format!("time_zone: {e}"))?,
        None => TimeZone::UTC,
    };
    let start = Moment::parse(&args.date, &tz)?;
    let mut steps = vec![start.show()];
    let mut moment = start;
    if let Some(text) = &args.add {
        let span: Span =
            text.parse().map_err(|e| format!("add: {text:?} is not a span such as `3 weeks 2 days` ({e})"))?;
        moment.zoned = moment.zoned.checked_add(span).map_err(|e| format!("add: {e}"))?;
        moment.has_time |= span.get_hours() != 0 || span.get_minutes() != 0 || span.get_seconds() != 0;
        steps.push(format!("{} {:#}", if span.is_negative() { "-" } else { "+" }, span.abs()));
    }
    if let Some(n) = args.add_business_days {
        let date = add_business_days(moment.zoned.date(), n)?;
        moment.zoned = moment.zoned.with().date(date).build().map_err(|e| format!("add_business_days: {e}"))?;
        steps.push(format!("{} {}", if n < 0 { "-" } else { "+" }, plural(n.abs(), "business day")));
    }

    let date = moment.zoned.date();
    let week = date.iso_week_date();
    let mut lines = Vec::new();
    let shown = moment.show();
    if steps.len() > 1 {
        lines.push(format!("{} = {shown}", steps.join(" ")));
    } else {
        lines.push(shown.clone());
    }
    lines.push(format!(
        "{:?}, ISO week {} of {} ({week}), day {} of {}",
        date.weekday(),
        week.week(),
        week.year(),
        date.day_of_year(),
        date.days_in_year()
    ));
    let mut metadata = json!({
        "result": shown,
        "weekday": format!("{:?}", date.weekday()),
        "iso_week": week.to_string(),
        "day_of_year": date.day_of_year(),
    });

    if let Some(text) = &args.until {
        let end = Moment::parse(text, &tz).map_err(|e| format!("until: {e}"))?;
        let days = i64::from(date.until((Unit::Day, end.zoned.date())).map_err(|e| e.to_string())?.get_days());
        let calendar = moment.zoned.until((Unit::Year, &end.zoned)).map_err(|e| format!("until: {e}"))?;
        let business = business_days_between(date, end.zoned.date())?;
        let weeks = if days.abs() >= 7 {
            format!(" ({} {})", plural(days / 7, "week"), plural(days % 7, "day"))
        } else {
            String::new()
        };
        lines.push(format!(
            "until {} ({:?}): {}{weeks}, {calendar:#}, {}",
            end.show(),
            end.zoned.date().weekday(),
            plural(days, "day"),
            plural(business, "business day")
        ));
        metadata["until"] = json!({
            "date": end.show(),
            "days": days,
            "span": format!("{calendar:#}"),
            "business_days": business,
        });
    }
    if let Some(name) = &args.in_time_zone {
        let there = moment.zoned.in_tz(name).map_err(|e| format!("in_time_zone: {e}"))?;
        lines.push(format!("in {name}: {there} ({:?})", there.date().weekday()));
        metadata["in_time_zone"] = json!(there.to_string());
    }
    Ok((lines.join("\n"), metadata))
}

struct DateCalc;

impl Guest for DateCalc {
    fn describe() -> Vec<ToolSpec> {
        vec![wasmgate_tool_sdk::spec::<Args>(NAME, DESCRIPTION)]
    }

    fn invoke(name: String, arguments: String, _context: CallContext) -> Result<ToolResult, ToolError> {
        if name != NAME {
            return Err(ToolError::UnknownTool(name));
        }
        let args: Args = wasmgate_tool_sdk::parse(&arguments)?;
        let (output, metadata) = calculate(&args).map_err(ToolError::InvalidArguments)?;
        let title = match (&args.add, &args.until) {
            (Some(add), _) => format!("{} + {add}", args.date),
            (None, Some(until)) => format!("{} until {until}", args.date),
            (None, None) => args.date.clone(),
        };
        wasmgate_tool_sdk::result(title, output, metadata)
    }
}

wasmgate_tool_sdk::export!(DateCalc with_types_in wasmgate_tool_sdk);
