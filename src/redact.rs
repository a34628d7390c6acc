//! Making customer text safe to write on GitHub: redaction of personal data (e-mail
//! addresses, phone numbers, operator patterns), and neutralised mentions and references.

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

/// Links, left exactly as they are: a `#fragment` or an `@` in one is part of an address.
static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b(?:https?|ftp)://[^\s<>\[\]()]+").unwrap());

/// Breaks a GitHub autolink without changing what a reader sees.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

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

    /// `text` ready for GitHub: operator patterns, e-mails and phones redacted as configured,
    /// then mentions and references neutralised (`neutralise_references`, always on).
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.redact_personal(text) {
            Cow::Borrowed(t) => neutralise_references(t),
            Cow::Owned(t) => Cow::Owned(neutralise_references(&t).into_owned()),
        }
    }

    fn redact_personal<'a>(&self, text: &'a str) -> Cow<'a, str> {
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

/// Customer text that cannot notify anyone or link to anything on GitHub: a zero-width space
/// follows the `@` of a mention (`@user`, `@org/team`) and the `#` of an issue reference
/// (`#123`, `owner/repo#2`, `GH-123` gets one before its dash), so the text reads the same and
/// GitHub sees no mention and makes no backlink. An `@` inside a word (`a@b`, an address) is
/// not a mention and is left, as are links (`https://…/page#12`) and HTML entities (`&#123;`).
pub fn neutralise_references(text: &str) -> Cow<'_, str> {
    if !text.contains(['@', '#']) && !text.contains("GH-") && !text.contains("gh-") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    for link in URL.find_iter(text) {
        neutralise_plain(&text[last..link.start()], &mut out);
        out.push_str(link.as_str());
        last = link.end();
    }
    neutralise_plain(&text[last..], &mut out);
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

fn neutralise_plain(text: &str, out: &mut String) {
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let in_word = |ch: Option<char>| ch.is_some_and(|ch| ch.is_alphanumeric() || "_.+-`".contains(ch));
        let gh = i >= 2 && chars[i - 2..i].iter().collect::<String>().eq_ignore_ascii_case("gh");
        if c == '-' && gh && !in_word(i.checked_sub(3).map(|p| chars[p])) && next.is_some_and(|n| n.is_ascii_digit()) {
            out.push(ZERO_WIDTH_SPACE);
        }
        out.push(c);
        let mention = c == '@' && !in_word(prev) && next.is_some_and(|n| n.is_ascii_alphanumeric());
        let reference = c == '#' && prev != Some('&') && next.is_some_and(|n| n.is_ascii_digit());
        if mention || reference {
            out.push(ZERO_WIDTH_SPACE);
        }
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
    fn mentions_and_references_are_neutralised_and_nothing_else_changes() {
        let z = '\u{200B}';
        let cases = [
            ("ping @octocat now".to_string(), format!("ping @{z}octocat now")),
            ("@acme/owners!".into(), format!("@{z}acme/owners!")),
            ("(@a-b)".into(), format!("(@{z}a-b)")),
            ("see #123.".into(), format!("see #{z}123.")),
            ("owner/repo#2 and repo#3".into(), format!("owner/repo#{z}2 and repo#{z}3")),
            ("GH-45 and gh-6".into(), format!("GH{z}-45 and gh{z}-6")),
            ("a@b and x@y.z stay".into(), "a@b and x@y.z stay".into()),
            ("`code@host` stays".into(), "`code@host` stays".into()),
            (
                "https://x.example/p#12 and http://h/@me stay".into(),
                "https://x.example/p#12 and http://h/@me stay".into(),
            ),
            ("[docs](https://x.example/a#1) then #9".into(), format!("[docs](https://x.example/a#1) then #{z}9")),
            ("&#123; # heading #tag @ alone".into(), "&#123; # heading #tag @ alone".into()),
            ("ТЕСТ @юзер #١".into(), "ТЕСТ @юзер #١".into()),
            ("MAGH-12 stays".into(), "MAGH-12 stays".into()),
        ];
        for (input, want) in cases {
            assert_eq!(neutralise_references(&input), want, "{input}");
        }
    }

    #[test]
    fn emails_are_redacted_before_mentions_are_looked_for() {
        let r = default();
        let z = '\u{200B}';
        assert_eq!(r.redact("jo@example.com cc @jo"), format!("[redacted email] cc @{z}jo"));
        assert!(matches!(r.redact("nothing to do"), Cow::Borrowed(_)));
    }

    #[test]
    fn operator_patterns_apply_first() {
        let r =
            Redactor::new(Redaction { emails: true, phones: true, patterns: vec![Regex::new(r"ACCT-\d+").unwrap()] });
        assert_eq!(r.redact("account ACCT-991 of a@b.io"), "account [redacted] of [redacted email]");
    }
}
