//! The state database (SQLite): the only crate that runs SQL. Mappings, intents, cursors,
//! failures, the ledger, pass records, push-back watermarks and rate-limit blocks live here;
//! see `schema.rs` for the tables. Every persisted shape is typed here: intents' payloads
//! (`payload.rs`) are serialised and read back nowhere else.

mod bulk;
mod failures;
mod fixes;
mod forwarding;
mod intents;
mod limits;
mod links;
mod mappings;
mod meta;
mod payload;
mod progress;
mod schema;
mod watermarks;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags};

pub use failures::{Failure, FailureClass, NewFailure};
pub use fixes::{Fix, FixWatermark, KnownPull, PendingFix, Shipped, UntoldReview};
pub use intents::Intent;
pub use links::{ChangeNote, Impact, LinkChange};
pub use payload::{CreatePayload, ForwardPayload, IntentKind, IntentPayload, NotePayload, PayloadError, PushPayload};
pub use progress::{LedgerEntry, PassRecord, RepoRecord};
pub use watermarks::Watermark;

/// Errors from the state database. They are not per-item: a store failure stops the pass.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database: {0}")]
    Sqlite(rusqlite::Error),
    /// `SQLITE_FULL`: the disk (or the file system's quota) has no room for the next write.
    /// Nothing was recorded, so nothing that needed the record was sent.
    #[error("state database: the disk is full ({0}): free space on the disk that holds the [state] path; until then nothing is sent to Zendesk or GitHub, and the first pass after finishes the writes in progress, each once")]
    DiskFull(rusqlite::Error),
    #[error("state database {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("state database was written by a newer ticket-sync (schema {found}, this build knows {known}); upgrade the binary")]
    TooNew { found: i64, known: i64 },
    /// A value kept in the `meta` table does not read as what its key holds.
    #[error("state database: the meta value {key} = {value:?} is not {what}; restore the database from a backup, or delete that row so that ticket-sync finds the value again")]
    Meta { key: String, value: String, what: String },
    /// An issue to record for a ticket is already another ticket's (one issue, one ticket).
    #[error("{repo}#{number} is already linked to ticket {other}")]
    IssueTaken { repo: String, number: u64, other: u64 },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull(e),
            _ => StoreError::Sqlite(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One connection behind a mutex; every method is a short transaction.
pub struct Store {
    conn: Mutex<Connection>,
    read_only: bool,
    /// The database file and its identity (device, inode) when it was opened, so a file
    /// deleted or replaced under a running process is noticed (`replaced`).
    file: Option<(PathBuf, FileIdentity)>,
}

type FileIdentity = (u64, u64);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("read_only", &self.read_only).finish()
    }
}

#[cfg(unix)]
fn file_identity(path: &Path) -> std::io::Result<FileIdentity> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// Without inodes only a deleted file is noticed.
#[cfg(not(unix))]
fn file_identity(path: &Path) -> std::io::Result<FileIdentity> {
    std::fs::metadata(path).map(|_| (0, 0))
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.to_utc())
}

impl Store {
    /// Opens (creating if needed) the database, with its folder made private (0700, file 0600).
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |reason: String| StoreError::Open { path: path.display().to_string(), reason };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|e| open_err(format!("cannot create folder {}: {e}", dir.display())))?;
        }
        let existed = path.exists();
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        if !existed {
            restrict_file(path).map_err(|e| open_err(format!("cannot set mode 0600: {e}")))?;
        }
        let mut store = Self::init(conn, false)?;
        let identity = file_identity(path).map_err(|e| open_err(format!("cannot read the file's identity: {e}")))?;
        store.file = Some((path.to_path_buf(), identity));
        Ok(store)
    }

    /// Why the database file this store opened is no longer at its path (deleted, or replaced
    /// by a restore), if it is not: writes would go to a file nobody will read again.
    pub fn replaced(&self) -> Option<String> {
        let (path, opened) = self.file.as_ref()?;
        match file_identity(path) {
            Ok(now) if now == *opened => None,
            Ok(_) => Some(format!("{} was replaced by another file since ticket-sync opened it", path.display())),
            Err(e) => Some(format!("{} is gone since ticket-sync opened it ({e})", path.display())),
        }
    }

    /// Opens without writing anything (for `status` and `--dry-run`). A missing database reads as empty.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Self::init(Connection::open_in_memory()?, true);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::Open { path: path.display().to_string(), reason: e.to_string() })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let store = Store { conn: Mutex::new(conn), read_only: true, file: None };
        let version: i64 = store.conn().query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > schema::MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew { found: version, known: schema::MIGRATIONS.len() as i64 });
        }
        if version < schema::MIGRATIONS.len() as i64 {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                reason: "the database uses an older schema; run `ticket-sync sync` or the daemon once to upgrade it"
                    .into(),
            });
        }
        Ok(store)
    }

    /// Creates a database with only the first `version` schema steps, as an older release left
    /// it (for upgrade tests).
    #[doc(hidden)]
    pub fn create_at_version(path: &Path, version: usize) -> Result<()> {
        let mut conn = Connection::open(path)?;
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().take(version) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    pub fn open_in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?, false)
    }

    fn init(conn: Connection, read_only: bool) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // WAL lets `status` read while the daemon writes; FULL makes each commit durable
        // before the remote write that follows it.
        let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let store = Store { conn: Mutex::new(conn), read_only, file: None };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.conn();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = schema::MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(unix)]
fn restrict_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}
