//! Redaction of personal data (e-mail addresses, phone numbers, operator patterns) from text sent to GitHub.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::config::Redaction;

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").unwrap());

/// Candidate phone numbers: an optional `+`, then digits with the separators phone numbers
/// are written with (spaces, dots, dashes, brackets), starting and ending with a digit. Each
/// candidate is then judged by `looks_like_phone`, so IP addresses, versions, dates, times and
/// lists of ports survive. (No lookaround in `regex`: the surroundings are checked by hand.)
static PHONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\+?\(?\d[\d().\s-]{5,24}\d").unwrap());

static ISO_DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{4}-\d{2}-\d{2}").unwrap());

/// Whether a candidate is a phone number, not an engineer's number. Rules, from the look-alikes
/// that must survive: 9 to 15 digits (E.164 allows 15); not glued to a word, a path or a dotted
/// token; not an IPv4 address; not an ISO date; not a list of equal-length 4–5 digit groups
/// (ports, years) unless written with `+`.
fn looks_like_phone(text: &str, start: usize, end: usize) -> bool {
    let m = text[start..end].trim_end();
    let digits = m.chars().filter(char::is_ascii_digit).count();
    if !(9..=15).contains(&digits) || ISO_DATE.is_match(m) {
        return false;
    }
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '@'));
    if glued(before) || after.is_some_and(|c| c.is_alphanumeric() || matches!(c, ':' | '/' | '_' | '@')) {
        return false;
    }
    let groups: Vec<&str> = m.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).collect();
    let dots_only = m.chars().all(|c| c.is_ascii_digit() || c == '.');
    if dots_only && groups.len() == 4 && groups.iter().all(|g| g.len() <= 3) {
        return false; // an IPv4 address
    }
    if dots_only && groups.iter().any(|g| g.len() == 1) {
        return false; // a version number
    }
    let spaced_list = !m.starts_with('+') && m.chars().all(|c| c.is_ascii_digit() || c == ' ');
    if spaced_list
        && groups.len() >= 3
        && groups.iter().all(|g| (4..=5).contains(&g.len()) && g.len() == groups[0].len())
    {
        return false; // ports or years
    }
    true
}

/// Applies the configured redaction to text.
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Redaction,
}

impl Redactor {
    pub fn new(rules: Redaction) -> Self {
        Redactor { rules }
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for re in &self.rules.patterns {
            if re.is_match(&out) {
                out = Cow::Owned(re.replace_all(&out, "[redacted]").into_owned());
            }
        }
        if self.rules.emails && EMAIL.is_match(&out) {
            out = Cow::Owned(EMAIL.replace_all(&out, "[redacted email]").into_owned());
        }
        if self.rules.phones && PHONE.is_match(&out) {
            let text = out.as_ref();
            let mut replaced = String::with_capacity(text.len());
            let mut last = 0;
            for m in PHONE.find_iter(text) {
                // A trailing space belongs to the text around it, not to the number.
                let end = m.start() + m.as_str().trim_end().len();
                if looks_like_phone(text, m.start(), end) {
                    replaced.push_str(&text[last..m.start()]);
                    replaced.push_str("[redacted phone]");
                    last = end;
                }
            }
            if last > 0 {
                replaced.push_str(&text[last..]);
                out = Cow::Owned(replaced);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> Redactor {
        Redactor::new(Redaction { emails: true, phones: true, patterns: vec![] })
    }

    #[test]
    fn emails_and_phones_are_redacted() {
        let r = default();
        let cases = [
            ("mail jane.doe+x@example.co.uk now", "mail [redacted email] now"),
            ("call +1 (555) 123-4567 today", "call [redacted phone] today"),
            ("call 555-123-4567", "call [redacted phone]"),
            ("+44 20 7946 0958", "[redacted phone]"),
            ("+4915112345678", "[redacted phone]"),
        ];
        for (input, want) in cases {
            assert_eq!(r.redact(input), want, "{input}");
        }
    }

    #[test]
    fn dates_versions_and_ids_survive() {
        let r = default();
        for keep in ["on 2026-01-15 at 10:30", "version 1.2.3", "ticket 35436", "order 12 34", "ip 10.0.0.1"] {
            assert_eq!(r.redact(keep), keep);
        }
    }

    /// International formats that must be redacted, and engineers' look-alikes that must survive.
    #[test]
    fn international_phones_are_redacted_and_look_alikes_survive() {
        let r = default();
        let redacted = [
            "4155550199",
            "+33 1 42 68 53 00",
            "+31 6 12345678",
            "+81 3-1234-5678",
            "030 1234567",
            "+49 30 1234567",
            "(555) 123-4567",
            "555.123.4567",
            "+1-415-555-0199",
            "+44 (0)20 7946 0958",
        ];
        for phone in redacted {
            assert_eq!(r.redact(&format!("call {phone} now")), "call [redacted phone] now", "{phone}");
        }
        let survive = [
            "host 192.168.100.200 is down",
            "upgrade from 10.4.12.1002 to 10.5.0",
            "at 12:30:45 and 23:59:59 UTC",
            "ports 8080 8443 9090 are open",
            "years 2019 2020 2021 2022",
            "released 2026-11-30 10:30",
            "commit 4e1c2a7f9b and build 20261130",
            "see /var/log/app/123456789/trace",
            "ticket 33144692244499x",
        ];
        for text in survive {
            assert_eq!(r.redact(text), text, "{text}");
        }
    }

    #[test]
    fn operator_patterns_apply_first() {
        let r =
            Redactor::new(Redaction { emails: true, phones: true, patterns: vec![Regex::new(r"ACCT-\d+").unwrap()] });
        assert_eq!(r.redact("account ACCT-991 of a@b.io"), "account [redacted] of [redacted email]");
    }
}
