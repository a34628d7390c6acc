//! A disk that can be made full, for the disk-full tests: a SQLite VFS in front of the default
//! one. While a database's disk is full, every write to its files (the database, its WAL, its
//! journal) fails with `SQLITE_FULL`, which is what the default VFS answers when the file
//! system has no space left (`ENOSPC`); reads go on. SQLite itself meets the error where it
//! would meet a real one (a WAL frame at commit, a checkpoint), so the store sees exactly what
//! a full disk gives it. Every other database in this process passes straight through.

use std::ffi::{c_int, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, Once, OnceLock};

use rusqlite::ffi;

/// The state of one database's disk.
#[derive(Default)]
struct DiskState {
    full: AtomicBool,
    /// Not full, but short of space now and then: about one write in this many is refused,
    /// at places a seeded generator picks (0: none).
    one_in: AtomicU64,
    /// The generator's state (xorshift64).
    seed: AtomicU64,
    /// Writes refused: a test shows its disk was full when it mattered.
    refused: AtomicUsize,
}

impl DiskState {
    /// Whether the next write finds no room.
    fn refuses(&self) -> bool {
        if self.full.load(Ordering::SeqCst) {
            return true;
        }
        let one_in = self.one_in.load(Ordering::SeqCst);
        if one_in == 0 {
            return false;
        }
        let mut x = self.seed.load(Ordering::SeqCst);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::SeqCst);
        x.is_multiple_of(one_in)
    }
}

/// The disk of one database (the database file and the files beside it).
#[derive(Clone, Copy)]
pub struct Disk {
    state: &'static DiskState,
}

/// Disks by the database path whose files they hold.
static DISKS: Mutex<Vec<(String, &'static DiskState)>> = Mutex::new(Vec::new());

impl Disk {
    /// The disk of the database at `path`. Connections opened from now on see it; one opened
    /// before keeps writing to the real disk.
    pub fn of(path: &Path) -> Disk {
        install();
        let state: &'static DiskState = Box::leak(Box::default());
        DISKS.lock().unwrap().push((full_path(path).display().to_string(), state));
        Disk { state }
    }

    /// No space left from now on.
    pub fn fill(&self) {
        self.state.full.store(true, Ordering::SeqCst);
    }

    /// Space again.
    pub fn free(&self) {
        self.state.full.store(false, Ordering::SeqCst);
        self.state.one_in.store(0, Ordering::SeqCst);
    }

    /// Nearly full, space coming and going (other programs writing and deleting): about one
    /// write in `n` is refused, wherever it falls (a WAL frame in the middle of a commit, say);
    /// `seed` picks which, so a run can be repeated.
    pub fn short_of_space(&self, n: u64, seed: u64) {
        self.state.seed.store(seed.max(1), Ordering::SeqCst);
        self.state.one_in.store(n, Ordering::SeqCst);
    }

    /// Writes refused so far because the disk was full.
    pub fn refused(&self) -> usize {
        self.state.refused.load(Ordering::SeqCst)
    }
}

/// `path` as SQLite names it to the VFS: absolute, with the links of its existing part resolved.
fn full_path(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
    let mut full = std::fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
    full.extend(rest.iter().rev());
    full
}

/// What the shim keeps beside each file it watches: the real file's methods and its disk.
#[repr(C)]
struct Extra {
    real_methods: *const ffi::sqlite3_io_methods,
    disk: *const DiskState,
}

/// The default VFS as it was before the shim, and where `Extra` sits in a file.
struct Real {
    vfs: *mut ffi::sqlite3_vfs,
    extra_at: usize,
}

// SAFETY: the real VFS is a static of SQLite's, valid and thread-safe for the process's life.
unsafe impl Send for Real {}
unsafe impl Sync for Real {}

static REAL: OnceLock<Real> = OnceLock::new();

/// Registers the shim as the default VFS (once per process).
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_vfs_find(NULL)` gives the default VFS, which lives as long as the
        // process; the copy registered here is leaked, so it does too.
        unsafe {
            let real = ffi::sqlite3_vfs_find(std::ptr::null());
            assert!(!real.is_null(), "SQLite has a default VFS");
            let extra_at = ((*real).szOsFile as usize).div_ceil(8) * 8;
            let _ = REAL.set(Real { vfs: real, extra_at });
            let mut vfs: ffi::sqlite3_vfs = *real;
            vfs.zName = c"ticket-sync-test-full-disk".as_ptr();
            vfs.pNext = std::ptr::null_mut();
            vfs.szOsFile = (extra_at + std::mem::size_of::<Extra>()) as c_int;
            vfs.xOpen = Some(open);
            let vfs = Box::leak(Box::new(vfs));
            assert_eq!(ffi::sqlite3_vfs_register(vfs, 1), ffi::SQLITE_OK);
        }
    });
}

fn real() -> &'static Real {
    REAL.get().expect("the shim is installed")
}

fn disk_for(name: &CStr) -> Option<&'static DiskState> {
    let name = name.to_str().ok()?;
    DISKS.lock().unwrap().iter().find(|(db, _)| name.starts_with(db.as_str())).map(|(_, d)| *d)
}

/// Opens the file with the real VFS (the real file is at the start of SQLite's allocation,
/// so the real methods work on it as they are); a watched file gets methods whose `xWrite`
/// asks its disk first.
unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real = real();
    let rc = ((*real.vfs).xOpen.expect("the default VFS opens files"))(real.vfs, name, file, flags, out_flags);
    if rc != ffi::SQLITE_OK || (*file).pMethods.is_null() || name.is_null() {
        return rc;
    }
    let Some(disk) = disk_for(CStr::from_ptr(name)) else { return rc };
    let extra = (file as *mut u8).add(real.extra_at).cast::<Extra>();
    extra.write(Extra { real_methods: (*file).pMethods, disk });
    (*file).pMethods = watched_methods((*file).pMethods);
    rc
}

/// The real methods with `xWrite` asking the disk first: one leaked copy per real table.
fn watched_methods(real: *const ffi::sqlite3_io_methods) -> *const ffi::sqlite3_io_methods {
    static TABLES: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());
    let mut tables = TABLES.lock().unwrap();
    if let Some((_, ours)) = tables.iter().find(|(r, _)| *r == real as usize) {
        return *ours as *const ffi::sqlite3_io_methods;
    }
    // SAFETY: `real` is a static method table of the default VFS.
    let mut ours: ffi::sqlite3_io_methods = unsafe { *real };
    ours.xWrite = Some(write);
    let ours: &'static ffi::sqlite3_io_methods = Box::leak(Box::new(ours));
    tables.push((real as usize, ours as *const _ as usize));
    ours
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let extra = (file as *mut u8).add(real().extra_at).cast::<Extra>();
    let disk = &*(*extra).disk;
    if disk.refuses() {
        disk.refused.fetch_add(1, Ordering::SeqCst);
        return ffi::SQLITE_FULL;
    }
    ((*(*extra).real_methods).xWrite.expect("files are writable"))(file, buf, amount, offset)
}
