//! Making customer text safe to write on GitHub: redaction of personal data (e-mail
//! addresses, phone numbers, operator patterns), and neutralised mentions and references.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::rules::Redaction;

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").unwrap());

/// Candidate phone numbers: an optional `+`, then digits with the separators phone numbers
/// are written with (spaces, dots, dashes, brackets), starting and ending with a digit. Each
/// candidate is then judged by `looks_like_phone`, so IP addresses, versions, dates, times and
/// lists of ports survive. (No lookaround in `regex`: the surroundings are checked by hand.)
static PHONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\+?\(?\d[\d().\s-]{5,24}\d").unwrap());

/// Links, left exactly as they are: a `#fragment` or an `@` in one is part of an address.
static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b(?:https?|ftp)://[^\s<>\[\]()]+").unwrap());

/// Breaks a GitHub autolink without changing what a reader sees.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

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
    // `tel:+1…` and `Tel:0151…` are phone numbers whatever sticks to them.
    let tel = start >= 4 && text.get(start - 4..start).is_some_and(|t| t.eq_ignore_ascii_case("tel:"));
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '@'));
    if (glued(before) && !tel) || after.is_some_and(|c| c.is_alphanumeric() || matches!(c, ':' | '/' | '_' | '@')) {
        return false;
    }
    let groups: Vec<&str> = m.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).collect();
    let dots_only = m.chars().all(|c| c.is_ascii_digit() || c == '.');
    let octet = |g: &&str| g.parse::<u16>().is_ok_and(|v| v <= 255) && (g.len() == 1 || !g.starts_with('0'));
    if dots_only && groups.len() == 4 && groups.iter().all(octet) {
        return false; // an IPv4 address
    }
    // A version number: dotted, no national trunk `0` in front, a one-digit part after the first.
    if dots_only && !m.starts_with('0') && groups.iter().skip(1).any(|g| g.len() == 1) {
        return false;
    }
    let spaced_list = !m.starts_with('+') && m.chars().all(|c| c.is_ascii_digit() || c == ' ');
    let port_or_year = |g: &&str| (4..=5).contains(&g.len()) && !g.starts_with('0') && g.len() == groups[0].len();
    if spaced_list && groups.len() >= 3 && groups.iter().all(port_or_year) {
        return false; // ports or years
    }
    true
}

/// Where a phone number starts and ends in the candidate at `start..end`: the whole, else the
/// longest prefix cut at a space (a number followed by a time or another number), else `None`
/// (the caller then looks again from the candidate's second word).
fn phone_within(text: &str, start: usize, end: usize) -> Option<usize> {
    let mut end = start + text[start..end].trim_end().len();
    loop {
        if looks_like_phone(text, start, end) {
            return Some(end);
        }
        let cut = text[start..end].rfind(char::is_whitespace)?;
        end = start + text[start..start + cut].trim_end().len();
        if end <= start {
            return None;
        }
    }
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
            let text = out.as_ref();
            let mut replaced = String::with_capacity(text.len());
            let (mut last, mut pos) = (0, 0);
            while let Some(m) = PHONE.find_at(text, pos) {
                match phone_within(text, m.start(), m.end()) {
                    Some(end) => {
                        replaced.push_str(&text[last..m.start()]);
                        replaced.push_str("[redacted phone]");
                        (last, pos) = (end, end);
                    }
                    // Not a phone as a whole: look again from its second word (a date or a
                    // version in front of a number must not hide the number).
                    None => match m.as_str().char_indices().find(|(_, c)| c.is_whitespace()) {
                        Some((space, c)) => pos = m.start() + space + c.len_utf8(),
                        None => pos = m.end(),
                    },
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
            "0151 1234 5678",
            "1.800.555.0199",
            "02.123.45.67",
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
        let mixed = [
            ("Tel:+49 30 1234567", "Tel:[redacted phone]"),
            ("tel:+14155550199", "tel:[redacted phone]"),
            ("call 415-555-0199 14:30", "call [redacted phone] 14:30"),
            ("415-555-0199 415-555-0200", "[redacted phone] [redacted phone]"),
            ("on 2026-11-30 call 415-555-0199", "on 2026-11-30 call [redacted phone]"),
        ];
        for (input, want) in mixed {
            assert_eq!(r.redact(input), want, "{input}");
        }
        // Multi-byte spaces and digits around candidates never panic.
        for odd in
            ["415\u{3000}555\u{a0}0199 😀 1.2\u{3000}3 ４１５５５５０１９９", "\u{a0}2026-11-30\u{3000}415-555-0199"]
        {
            let _ = r.redact(odd);
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
