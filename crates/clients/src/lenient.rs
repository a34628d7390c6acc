//! Lenient reading of remote JSON: one malformed string in one item must not make a whole
//! page unreadable, so bytes are made decodable before they are parsed.

use std::borrow::Cow;

/// `bytes` as JSON that serde can read wherever the text, not the structure, was broken:
/// invalid UTF-8 is replaced lossily (U+FFFD), and a `\uD800`–`\uDFFF` escape that is not half
/// of a well-formed pair (high then low) becomes `\uFFFD`. Everything else, including valid
/// pairs and escaped backslashes, is left exactly as it was; unchanged input is not copied.
pub fn sanitize_json(bytes: &[u8]) -> Cow<'_, [u8]> {
    let text = String::from_utf8_lossy(bytes);
    let b = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match surrogate_at(b, i) {
            Some(high) if is_high(high) && surrogate_at(b, i + 6).is_some_and(|low| !is_high(low)) => i += 12,
            Some(_) => {
                let o = out.get_or_insert_with(|| Vec::with_capacity(b.len()));
                o.extend_from_slice(&b[copied..i]);
                o.extend_from_slice(b"\\uFFFD");
                i += 6;
                copied = i;
            }
            // Any other escape (`\\`, `\"`, `\n`, a plain `\u0041`): skip the escaped character.
            None => i += 2,
        }
    }
    if let Some(mut o) = out {
        o.extend_from_slice(&b[copied..]);
        return Cow::Owned(o);
    }
    match text {
        Cow::Borrowed(_) => Cow::Borrowed(bytes),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

fn is_high(unit: u16) -> bool {
    (0xD800..0xDC00).contains(&unit)
}

/// The code unit of a `\uXXXX` escape at `i`, if it is a surrogate.
fn surrogate_at(b: &[u8], i: usize) -> Option<u16> {
    let esc = b.get(i..i + 6)?;
    if esc[0] != b'\\' || esc[1] != b'u' {
        return None;
    }
    let hex = std::str::from_utf8(&esc[2..]).ok()?;
    let unit = u16::from_str_radix(hex, 16).ok()?;
    (0xD800..0xE000).contains(&unit).then_some(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(input: &[u8]) -> String {
        String::from_utf8(sanitize_json(input).into_owned()).unwrap()
    }

    #[test]
    fn broken_text_becomes_readable_and_the_rest_is_untouched() {
        let cases: &[(&[u8], &str)] = &[
            (br#"{"s":"ok \u00e9 \\ud800"}"#, r#"{"s":"ok \u00e9 \\ud800"}"#),
            (br#"{"s":"a\ud800b"}"#, r#"{"s":"a\uFFFDb"}"#),
            (br#"{"s":"\uDC00"}"#, r#"{"s":"\uFFFD"}"#),
            (br#"{"s":"\ud83d\ude00"}"#, r#"{"s":"\ud83d\ude00"}"#),
            (br#"{"s":"\ud83d\ud83d\ude00"}"#, r#"{"s":"\uFFFD\ud83d\ude00"}"#),
            (br#"{"s":"\ude00\ud83d"}"#, r#"{"s":"\uFFFD\uFFFD"}"#),
            (br#"{"s":"end\ud800"}"#, r#"{"s":"end\uFFFD"}"#),
            (b"{\"s\":\"bad \xff\xfe utf8\"}", "{\"s\":\"bad \u{fffd}\u{fffd} utf8\"}"),
            (br#"{"s":"\\\ud800"}"#, r#"{"s":"\\\uFFFD"}"#),
        ];
        for (input, want) in cases {
            let got = clean(input);
            assert_eq!(&got, want, "{}", String::from_utf8_lossy(input));
            let v: serde_json::Value = serde_json::from_str(&got).expect("parses");
            assert!(v["s"].is_string());
        }
    }

    #[test]
    fn clean_input_is_not_copied() {
        let input = br#"{"s":"fine \ud83d\ude00"}"#;
        assert!(matches!(sanitize_json(input), Cow::Borrowed(_)));
    }
}
