//! Webhook signatures (HMAC-SHA256, compared in constant time) and Zendesk's replay window.
//! Pure functions: no I/O, no clock of their own.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a Zendesk timestamp may be from now, either way.
pub const ZENDESK_MAX_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// The `X-Hub-Signature-256` value GitHub sends for `body`: `sha256=` and the hex HMAC.
pub fn github_signature(secret: &[u8], body: &[u8]) -> String {
    let tag = mac(secret, &[body]).finalize().into_bytes();
    format!("sha256={}", tag.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Whether `header` (an `X-Hub-Signature-256` value) signs `body` with `secret`.
pub fn github_signature_ok(secret: &[u8], body: &[u8], header: &[u8]) -> bool {
    let Some(hex) = header.strip_prefix(b"sha256=") else { return false };
    let Some(tag) = decode_hex(hex) else { return false };
    mac(secret, &[body]).verify_slice(&tag).is_ok()
}

/// The `X-Zendesk-Webhook-Signature` value for `timestamp` and `body`:
/// base64(HMAC-SHA256(secret as given, timestamp + body)).
pub fn zendesk_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = mac(secret, &[timestamp.as_bytes(), body]).finalize().into_bytes();
    base64::engine::general_purpose::STANDARD.encode(tag)
}

/// Whether `header` (an `X-Zendesk-Webhook-Signature` value) signs `timestamp` + `body`.
pub fn zendesk_signature_ok(secret: &[u8], timestamp: &[u8], body: &[u8], header: &[u8]) -> bool {
    let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(header.trim_ascii()) else { return false };
    mac(secret, &[timestamp, body]).verify_slice(&tag).is_ok()
}

/// Whether a Zendesk timestamp (ISO 8601, `2021-03-25T05:09:27Z`) is within
/// `ZENDESK_MAX_SKEW` of `now`, in either direction. An unreadable one is not.
pub fn zendesk_timestamp_fresh(timestamp: &[u8], now: DateTime<Utc>) -> bool {
    let Ok(text) = std::str::from_utf8(timestamp) else { return false };
    let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) else { return false };
    let skew = now.signed_duration_since(at.with_timezone(&Utc));
    skew.abs() <= ZENDESK_MAX_SKEW
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    hex.chunks(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // ../shared/api-reference/github/webhooks/signature-test-vector.json
    const GH_SECRET: &str = "It's a Secret to Everybody";
    const GH_PAYLOAD: &str = "Hello, World!";
    const GH_HEADER: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    // ../shared/api-reference/zendesk/webhook-signature.test-vector.computed.json
    const ZD_SECRET: &str = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==";
    const ZD_SIGNATURE: &str = "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM=";
    const ZD_TIMESTAMP: &str = "2021-03-25T05:09:27Z";
    const ZD_BODY: &str = "{\"event\":\"ticket.updated\",\"id\":123}";

    #[test]
    fn github_test_vector_signs_and_verifies() {
        assert_eq!(github_signature(GH_SECRET.as_bytes(), GH_PAYLOAD.as_bytes()), GH_HEADER);
        assert!(github_signature_ok(GH_SECRET.as_bytes(), GH_PAYLOAD.as_bytes(), GH_HEADER.as_bytes()));
    }

    #[test]
    fn github_signature_refuses_anything_else() {
        let (s, p) = (GH_SECRET.as_bytes(), GH_PAYLOAD.as_bytes());
        let upper = format!("sha256={}", GH_HEADER["sha256=".len()..].to_uppercase());
        assert!(github_signature_ok(s, p, upper.as_bytes()), "hex digits are case-insensitive");
        for bad in [
            "",
            "sha256=",
            "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6",
            &GH_HEADER[..GH_HEADER.len() - 2],
            &GH_HEADER.replace("757107", "757108"),
            &format!("{GH_HEADER}00"),
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=é",
        ] {
            assert!(!github_signature_ok(s, p, bad.as_bytes()), "{bad}");
        }
        assert!(!github_signature_ok(b"another secret", p, GH_HEADER.as_bytes()));
        assert!(!github_signature_ok(s, b"Hello, World?", GH_HEADER.as_bytes()));
    }

    #[test]
    fn zendesk_test_vector_signs_and_verifies_with_the_secret_as_given() {
        let (s, b) = (ZD_SECRET.as_bytes(), ZD_BODY.as_bytes());
        assert_eq!(zendesk_signature(s, ZD_TIMESTAMP, b), ZD_SIGNATURE);
        assert!(zendesk_signature_ok(s, ZD_TIMESTAMP.as_bytes(), b, ZD_SIGNATURE.as_bytes()));
        assert!(!zendesk_signature_ok(s, b"2021-03-25T05:09:28Z", b, ZD_SIGNATURE.as_bytes()));
        assert!(!zendesk_signature_ok(s, ZD_TIMESTAMP.as_bytes(), b"{}", ZD_SIGNATURE.as_bytes()));
        assert!(!zendesk_signature_ok(s, ZD_TIMESTAMP.as_bytes(), b, b"not base64!"));
        assert!(!zendesk_signature_ok(s, ZD_TIMESTAMP.as_bytes(), b, b""));
        let decoded = base64::engine::general_purpose::STANDARD.decode(ZD_SECRET).unwrap();
        assert!(!zendesk_signature_ok(&decoded, ZD_TIMESTAMP.as_bytes(), b, ZD_SIGNATURE.as_bytes()));
    }

    #[test]
    fn zendesk_timestamps_more_than_five_minutes_away_are_stale() {
        let now: DateTime<Utc> = "2021-03-25T05:09:27Z".parse().unwrap();
        for (ts, fresh) in [
            ("2021-03-25T05:09:27Z", true),
            ("2021-03-25T05:04:27Z", true),
            ("2021-03-25T05:14:27Z", true),
            ("2021-03-25T05:04:26Z", false),
            ("2021-03-25T05:14:28Z", false),
            ("2021-03-25T06:09:27+01:00", true),
            ("2021-03-25 05:09:27", false),
            ("", false),
            ("yesterday", false),
        ] {
            assert_eq!(zendesk_timestamp_fresh(ts.as_bytes(), now), fresh, "{ts}");
        }
        assert!(!zendesk_timestamp_fresh(b"\xff", now));
    }
}
