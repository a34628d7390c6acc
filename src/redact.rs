//! Redaction of personal data (e-mail addresses, phone numbers, operator patterns) from text sent to GitHub.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::config::Redaction;

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").unwrap());

/// Candidate phone numbers: an optional `+country`, then digit groups split by spaces, dots,
/// dashes or brackets. Candidates are then checked for a plausible digit count, so dates,
/// versions and ticket ids are left alone.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{2,5}(?:[\s.-]\d{2,5}){1,4}|\+\d{8,15}").unwrap()
});

static ISO_DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{4}-\d{2}-\d{2}").unwrap());

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
            let replaced = PHONE.replace_all(&out, |c: &regex::Captures| {
                let m = &c[0];
                let digits = m.chars().filter(char::is_ascii_digit).count();
                if (9..=15).contains(&digits) && !ISO_DATE.is_match(m) {
                    "[redacted phone]".to_string()
                } else {
                    m.to_string()
                }
            });
            out = Cow::Owned(replaced.into_owned());
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

    #[test]
    fn operator_patterns_apply_first() {
        let r =
            Redactor::new(Redaction { emails: true, phones: true, patterns: vec![Regex::new(r"ACCT-\d+").unwrap()] });
        assert_eq!(r.redact("account ACCT-991 of a@b.io"), "account [redacted] of [redacted email]");
    }
}
