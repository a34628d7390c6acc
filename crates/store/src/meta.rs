//! The `meta` table: single values kept by key. Each key ticket-sync keeps has typed accessors
//! here, which say how its value is written; a stored value that does not read as its type is
//! an error (`StoreError::Meta`) for the caller, never a silent default.

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

use super::{Result, Store, StoreError};
use ticket_sync_core::domain::UserId;

/// When the escalation pass first read the export (unix seconds).
const FIRST_START: &str = "first_start";
/// When forwarding was switched on (unix seconds, Zendesk's clock).
const FORWARD_ENABLED_AT: &str = "forward_enabled_at";
/// + a GitHub credential's id: the login it writes as.
const GITHUB_LOGIN: &str = "github_login:";
/// + a GitHub credential's id: when that login began writing (RFC 3339, GitHub's clock).
const GITHUB_LOGIN_SINCE: &str = "github_login_since:";
/// + a Zendesk credential's id: the user id it writes as.
const ZENDESK_USER: &str = "zendesk_user:";
/// + the rules' GitHub API URL: GitHub's web base, as its answers showed it.
const GITHUB_WEB_BASE: &str = "github_web_base:";

/// A stored value of `key` that does not read as what the key holds.
fn unreadable(key: &str, value: &str, what: &str) -> StoreError {
    StoreError::Meta { key: key.to_string(), value: value.to_string(), what: what.to_string() }
}

fn unix_seconds(key: &str, value: &str) -> Result<i64> {
    value.parse().map_err(|_| unreadable(key, value, "a time in unix seconds"))
}

fn unix_time(key: &str, value: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(unix_seconds(key, value)?, 0).ok_or_else(|| unreadable(key, value, "a time"))
}

fn user_id(key: &str, value: &str) -> Result<u64> {
    value.parse().map_err(|_| unreadable(key, value, "a Zendesk user id"))
}

impl Store {
    /// The raw text stored under `key`, for the typed accessors below: outside the store,
    /// each key is read and written only through its accessor (the compiler holds that).
    pub(crate) fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self.conn().query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    /// Every `(key, value)` whose key starts with `prefix`, as raw text.
    pub(crate) fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")?;
        let rows = stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Stores `value` under `key`, replacing what was there.
    pub(crate) fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", [key, value])?;
        Ok(())
    }

    /// Stores `value` under `key` unless a value is there already; returns the stored value.
    pub(crate) fn meta_get_or_set(&self, key: &str, value: &str) -> Result<String> {
        self.conn().execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)", [key, value])?;
        Ok(self.meta(key)?.unwrap_or_else(|| value.to_string()))
    }

    /// Where the escalation pass's first read of the export started (unix seconds), if kept.
    pub fn first_start(&self) -> Result<Option<i64>> {
        self.meta(FIRST_START)?.map(|v| unix_seconds(FIRST_START, &v)).transpose()
    }

    /// Keeps `start` as the first read's start unless one is kept already; returns the kept one.
    pub fn first_start_or_set(&self, start: i64) -> Result<i64> {
        unix_seconds(FIRST_START, &self.meta_get_or_set(FIRST_START, &start.to_string())?)
    }

    /// Keeps `at` (whole seconds) as when forwarding was switched on, unless a time is kept
    /// already; returns the kept one.
    pub fn forward_enabled_at_or_set(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>> {
        unix_time(FORWARD_ENABLED_AT, &self.meta_get_or_set(FORWARD_ENABLED_AT, &at.timestamp().to_string())?)
    }

    /// The login the GitHub credential `credential` (its id) writes as, if known.
    pub fn github_login(&self, credential: &str) -> Result<Option<String>> {
        self.meta(&format!("{GITHUB_LOGIN}{credential}"))
    }

    /// When the login of `credential` began writing (GitHub's clock), if known.
    pub fn github_login_since(&self, credential: &str) -> Result<Option<DateTime<Utc>>> {
        let key = format!("{GITHUB_LOGIN_SINCE}{credential}");
        let Some(value) = self.meta(&key)? else { return Ok(None) };
        let at = DateTime::parse_from_rfc3339(&value).map_err(|_| unreadable(&key, &value, "an RFC 3339 time"))?;
        Ok(Some(at.to_utc()))
    }

    /// Keeps the login of `credential` and when it began (each only if none is kept yet): the
    /// time first, so a login is never kept without it.
    pub fn record_github_login(&self, credential: &str, login: &str, since: DateTime<Utc>) -> Result<()> {
        self.meta_get_or_set(&format!("{GITHUB_LOGIN_SINCE}{credential}"), &since.to_rfc3339())?;
        self.meta_get_or_set(&format!("{GITHUB_LOGIN}{credential}"), login)?;
        Ok(())
    }

    /// Every GitHub login kept, with the id of its credential, by credential id.
    pub fn github_logins(&self) -> Result<Vec<(String, String)>> {
        let rows = self.meta_with_prefix(GITHUB_LOGIN)?;
        Ok(rows.into_iter().map(|(k, login)| (k[GITHUB_LOGIN.len()..].to_string(), login)).collect())
    }

    /// The Zendesk user the credential `credential` (its id) writes as, if known.
    pub fn zendesk_user(&self, credential: &str) -> Result<Option<UserId>> {
        let key = format!("{ZENDESK_USER}{credential}");
        self.meta(&key)?.map(|v| user_id(&key, &v).map(UserId)).transpose()
    }

    /// Keeps the Zendesk user of `credential` unless one is kept already.
    pub fn record_zendesk_user(&self, credential: &str, user: UserId) -> Result<()> {
        self.meta_get_or_set(&format!("{ZENDESK_USER}{credential}"), &user.to_string())?;
        Ok(())
    }

    /// Every Zendesk user kept, with the id of its credential, by credential id. A row that
    /// does not read is left out (as before typed accessors): it only names a user an earlier
    /// credential wrote as, and one unreadable row must not stop every pass and `status`; the
    /// current credential's own row is read by `zendesk_user`, whose error propagates.
    pub fn zendesk_users(&self) -> Result<Vec<(String, UserId)>> {
        Ok((self.meta_with_prefix(ZENDESK_USER)?.into_iter())
            .filter_map(|(k, v)| Some((k[ZENDESK_USER.len()..].to_string(), UserId(user_id(&k, &v).ok()?))))
            .collect())
    }

    /// GitHub's web base for the API at `api_url`, as GitHub's answers last showed it.
    pub fn github_web_base(&self, api_url: &str) -> Result<Option<url::Url>> {
        let key = format!("{GITHUB_WEB_BASE}{api_url}");
        let Some(value) = self.meta(&key)? else { return Ok(None) };
        url::Url::parse(&value).map(Some).map_err(|_| unreadable(&key, &value, "a URL"))
    }

    /// Keeps GitHub's web base for the API at `api_url`, replacing the one kept.
    pub fn set_github_web_base(&self, api_url: &str, base: &url::Url) -> Result<()> {
        self.set_meta(&format!("{GITHUB_WEB_BASE}{api_url}"), base.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_values_read_back_as_their_types_and_are_kept_once() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.first_start().unwrap(), None);
        assert_eq!(store.first_start_or_set(1_577_836_800).unwrap(), 1_577_836_800);
        assert_eq!(store.first_start_or_set(42).unwrap(), 1_577_836_800, "the first one is kept");
        assert_eq!(store.first_start().unwrap(), Some(1_577_836_800));
        assert_eq!(store.meta("first_start").unwrap().as_deref(), Some("1577836800"), "stored as before");

        let on = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(store.forward_enabled_at_or_set(on).unwrap(), on);
        assert_eq!(store.forward_enabled_at_or_set(DateTime::UNIX_EPOCH).unwrap(), on);

        let since = DateTime::from_timestamp(1_700_000_123, 0).unwrap();
        store.record_github_login("tok-1", "ticket-sync-bot", since).unwrap();
        store.record_github_login("tok-1", "someone-else", DateTime::UNIX_EPOCH).unwrap();
        store.record_github_login("app-2", "acme[bot]", since).unwrap();
        assert_eq!(store.github_login("tok-1").unwrap().as_deref(), Some("ticket-sync-bot"));
        assert_eq!(store.github_login_since("tok-1").unwrap(), Some(since));
        assert_eq!(store.meta("github_login_since:tok-1").unwrap().as_deref(), Some("2023-11-14T22:15:23+00:00"));
        assert_eq!(store.github_login("none").unwrap(), None);
        let logins = store.github_logins().unwrap();
        assert_eq!(logins, [("app-2".into(), "acme[bot]".into()), ("tok-1".into(), "ticket-sync-bot".into())]);

        store.record_zendesk_user("zd-1", UserId(7)).unwrap();
        store.record_zendesk_user("zd-1", UserId(8)).unwrap();
        assert_eq!(store.zendesk_user("zd-1").unwrap(), Some(UserId(7)));
        assert_eq!(store.zendesk_users().unwrap(), [("zd-1".to_string(), UserId(7))]);

        let base = url::Url::parse("https://acme.ghe.com/").unwrap();
        store.set_github_web_base("https://api.acme.ghe.com", &base).unwrap();
        assert_eq!(store.github_web_base("https://api.acme.ghe.com").unwrap(), Some(base));
        assert_eq!(store.github_web_base("https://api.github.com").unwrap(), None);
    }

    #[test]
    fn a_kept_value_that_does_not_read_is_an_error_naming_its_key() {
        let store = Store::open_in_memory().unwrap();
        for (key, value) in [
            ("first_start", "soon"),
            ("forward_enabled_at", "99999999999999999"),
            ("github_login_since:tok", "yesterday"),
            ("zendesk_user:zd", "-3"),
            ("github_web_base:https://api.github.com", "not a url"),
        ] {
            store.set_meta(key, value).unwrap();
        }
        let errors = [
            store.first_start().unwrap_err(),
            store.first_start_or_set(1).unwrap_err(),
            store.forward_enabled_at_or_set(Utc::now()).unwrap_err(),
            store.github_login_since("tok").unwrap_err(),
            store.zendesk_user("zd").unwrap_err(),
            store.github_web_base("https://api.github.com").unwrap_err(),
        ];
        for e in errors {
            assert!(matches!(e, StoreError::Meta { .. }), "{e:?}");
            let message = e.to_string();
            assert!(message.contains("meta value"), "{message}");
        }
        let message = store.zendesk_user("zd").unwrap_err().to_string();
        assert!(message.contains("zendesk_user:zd") && message.contains("\"-3\""), "{message}");
        // The list of users earlier credentials wrote as leaves an unreadable row out.
        store.record_zendesk_user("zd-2", UserId(9)).unwrap();
        assert_eq!(store.zendesk_users().unwrap(), [("zd-2".to_string(), UserId(9))]);
    }
}
