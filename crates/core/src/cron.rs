//! Cron expressions as users write them in crontab(5), turned into `cron::Schedule`s.
//!
//! The `cron` crate wants six or seven fields with seconds first and counts days of the week
//! from 1 = Sunday. Users write five fields (or six with seconds first) and count from
//! 0 = Sunday, 1 = Monday, 7 = Sunday as crontab does. Translating here keeps
//! `"0 9 * * 1-5"` meaning weekdays at nine, as everyone expects.

use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A validated schedule with the text the user wrote.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    text: String,
    schedule: cron::Schedule,
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl CronSchedule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "expected 5 fields (minute hour day month weekday) or 6 with seconds first, found {n}"
                ))
            }
        };
        let weekday = translate_weekday(rest[4])?;
        let expr = format!("{seconds} {} {} {} {} {weekday}", rest[0], rest[1], rest[2], rest[3]);
        let schedule = cron::Schedule::from_str(&expr).map_err(|e| e.to_string())?;
        if schedule.upcoming(Utc).next().is_none() {
            return Err("the expression never fires".into());
        }
        Ok(CronSchedule { text: text.to_string(), schedule })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first firing strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&after).next()
    }
}

/// Rewrites a crontab weekday field (0 or 7 = Sunday) into the `cron` crate's numbering (1 = Sunday).
fn translate_weekday(field: &str) -> Result<String, String> {
    let parts: Result<Vec<String>, String> = field.split(',').map(translate_weekday_part).collect();
    Ok(parts?.join(","))
}

fn translate_weekday_part(part: &str) -> Result<String, String> {
    let (base, step) = match part.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (part, None),
    };
    let step_suffix = step.map(|s| format!("/{s}")).unwrap_or_default();
    if base == "*" || base == "?" {
        // The ordinals shift by one on both ends, so a stepped `*` keeps the same days.
        return Ok(format!("{base}{step_suffix}"));
    }
    let shift = |n: &str| -> Result<Option<u32>, String> {
        if n.chars().all(|c| c.is_ascii_alphabetic()) {
            return Ok(None);
        }
        match n.parse::<u32>() {
            Ok(v) if v <= 7 => Ok(Some(v)),
            _ => Err(format!("weekday `{n}` is out of range 0-7")),
        }
    };
    match base.split_once('-') {
        None => Ok(match shift(base)? {
            Some(v) => format!("{}{step_suffix}", v % 7 + 1),
            None => format!("{base}{step_suffix}"),
        }),
        Some((a, b)) => match (shift(a)?, shift(b)?) {
            (Some(a), Some(7)) if step.is_none() && a > 0 => Ok(format!("{}-7,1", a + 1)),
            (Some(a), Some(b)) if b < 7 || a == 0 => Ok(format!("{}-{}{step_suffix}", a + 1, b.min(6) + 1)),
            (Some(_), Some(_)) => Err(format!("weekday range `{base}` with a step cannot end at 7; use 0 for Sunday")),
            _ => Ok(format!("{base}{step_suffix}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Weekday};

    fn weekdays_of(expr: &str) -> Vec<Weekday> {
        let s = CronSchedule::parse(expr).unwrap();
        let mut at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(); // a Sunday
        let mut days = Vec::new();
        for _ in 0..7 {
            at = s.next_after(at).unwrap();
            days.push(at.weekday());
        }
        days
    }

    #[test]
    fn five_fields_count_weekdays_like_crontab() {
        use Weekday::*;
        assert_eq!(weekdays_of("0 9 * * 1-5")[..5], [Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(weekdays_of("0 9 * * 0")[0], Sun);
        assert_eq!(weekdays_of("0 9 * * 7")[0], Sun);
        assert_eq!(weekdays_of("0 9 * * 5-7")[..3], [Sun, Fri, Sat]);
        assert_eq!(weekdays_of("0 9 * * MON")[0], Mon);
    }

    #[test]
    fn six_fields_take_seconds_first() {
        let s = CronSchedule::parse("*/10 * * * * *").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 1).unwrap();
        assert_eq!(s.next_after(at).unwrap().timestamp() - at.timestamp(), 9);
    }

    #[test]
    fn bad_expressions_are_refused_with_a_reason() {
        for bad in ["* * * *", "61 * * * *", "* * * * 9", "a b c d e", "* * * * * * * *"] {
            assert!(CronSchedule::parse(bad).is_err(), "{bad} should fail");
        }
    }
}
