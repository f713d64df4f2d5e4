//! The open files of log segments, bounded.
//!
//! Every segment has three files (`.log`, `.index`, `.timeindex`); a broker
//! with 10,000 partitions would need 30,000 descriptors to keep them all open,
//! past the usual `ulimit -n`. Segments hold a [`SegmentFile`] instead: a path
//! whose descriptor lives in one process-wide cache of at most
//! [`capacity`] files, opened on first use and closed least-recently-used
//! first when the cache is full.
//!
//! Invariants:
//! - Writes are positional (`write_all_at`), so a file closed and reopened
//!   continues exactly where it was; `fsync` on a reopened descriptor flushes
//!   the inode's dirty pages whichever descriptor wrote them.
//! - Eviction only drops the cache's reference: a reader or an fsync holding
//!   the `Arc<File>` it got keeps it open until done.
//! - A [`SegmentFile`] leaves the cache when dropped; segment files are only
//!   renamed or deleted after their `SegmentFile` is dropped, so a reopen
//!   never sees a moved path.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

use super::io_err;
use super::LogError;

/// Files kept open when nothing set the capacity (tests, benches).
const DEFAULT_CAPACITY: usize = 4096;
/// The fewest files the cache keeps open, whatever the descriptor limit.
const MIN_CAPACITY: usize = 64;

struct Entry {
    file: Arc<File>,
    last_used: u64,
}

#[derive(Default)]
struct Slots {
    files: HashMap<u64, Entry>,
    clock: u64,
}

/// A bounded set of open files, closed least-recently-used first.
pub struct FileCache {
    capacity: AtomicUsize,
    slots: Mutex<Slots>,
}

/// The broker's one cache of segment files.
static SEGMENT_FILES: LazyLock<FileCache> = LazyLock::new(|| FileCache::new(DEFAULT_CAPACITY));
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The most segment files kept open at once.
pub fn capacity() -> usize {
    SEGMENT_FILES.capacity.load(Ordering::Relaxed)
}

/// Sets the most segment files kept open at once (at least 64).
pub fn set_capacity(files: usize) {
    SEGMENT_FILES
        .capacity
        .store(files.max(MIN_CAPACITY), Ordering::Relaxed);
}

/// Raises the soft limit on open descriptors to the hard limit (as the JVM
/// does for Kafka) and gives half of it to segment files, leaving the rest to
/// connections. Returns (descriptor limit, segment file capacity).
pub fn size_for_descriptor_limit() -> (u64, usize) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => limit = raised,
            Err(e) => {
                tracing::warn!(error = %e, "cannot raise the open file limit to its hard limit")
            }
        }
    }
    let soft = limit.current.unwrap_or(1 << 20);
    let files = usize::try_from(soft / 2).unwrap_or(usize::MAX);
    set_capacity(files);
    (soft, capacity())
}

impl FileCache {
    fn new(capacity: usize) -> FileCache {
        FileCache {
            capacity: AtomicUsize::new(capacity),
            slots: Mutex::new(Slots::default()),
        }
    }

    fn lookup(&self, id: u64) -> Option<Arc<File>> {
        let mut slots = self.slots.lock();
        slots.clock += 1;
        let now = slots.clock;
        slots.files.get_mut(&id).map(|e| {
            e.last_used = now;
            e.file.clone()
        })
    }

    /// Adds a file; when over capacity, closes the least recently used eighth.
    fn insert(&self, id: u64, file: Arc<File>) {
        let evicted: Vec<Entry> = {
            let mut slots = self.slots.lock();
            slots.clock += 1;
            let last_used = slots.clock;
            slots.files.insert(id, Entry { file, last_used });
            let cap = self.capacity.load(Ordering::Relaxed);
            if slots.files.len() <= cap {
                return;
            }
            // Evicting in bulk keeps the amortised cost per insert logarithmic.
            let mut ages: Vec<(u64, u64)> = slots
                .files
                .iter()
                .filter(|(k, _)| **k != id)
                .map(|(k, e)| (e.last_used, *k))
                .collect();
            let n = (cap / 8).max(1).min(ages.len());
            if n == 0 {
                return;
            }
            ages.select_nth_unstable(n - 1);
            ages.iter()
                .take(n)
                .filter_map(|(_, k)| slots.files.remove(k))
                .collect()
        };
        drop(evicted); // closed outside the lock
    }

    fn remove(&self, id: u64) {
        let removed = self.slots.lock().files.remove(&id);
        drop(removed); // closed outside the lock
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.lock().files.len()
    }
}

/// One file of a segment, opened on demand through the cache.
pub struct SegmentFile {
    id: u64,
    path: PathBuf,
    cache: &'static FileCache,
}

impl SegmentFile {
    /// Opens `path` read-write, creating it when missing, and returns the
    /// open file too.
    pub fn open(path: &Path) -> Result<(SegmentFile, Arc<File>), LogError> {
        Self::open_in(&SEGMENT_FILES, path)
    }

    fn open_in(
        cache: &'static FileCache,
        path: &Path,
    ) -> Result<(SegmentFile, Arc<File>), LogError> {
        let file = Arc::new(open_rw(path, true)?);
        let sf = SegmentFile {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            path: path.to_path_buf(),
            cache,
        };
        cache.insert(sf.id, file.clone());
        Ok((sf, file))
    }

    /// The open file, reopened when the cache had closed it.
    pub fn get(&self) -> Result<Arc<File>, LogError> {
        if let Some(f) = self.cache.lookup(self.id) {
            return Ok(f);
        }
        let file = Arc::new(open_rw(&self.path, false)?);
        self.cache.insert(self.id, file.clone());
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SegmentFile {
    fn drop(&mut self) {
        self.cache.remove(self.id);
    }
}

impl std::fmt::Debug for SegmentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SegmentFile").field(&self.path).finish()
    }
}

fn open_rw(path: &Path, create: bool) -> Result<File, LogError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
        .map_err(|e| io_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn keeps_the_bound_and_reopens_evicted_files_where_they_were() {
        let cache: &'static FileCache = Box::leak(Box::new(FileCache::new(8)));
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<SegmentFile> = (0..50)
            .map(|i| {
                let path = dir.path().join(format!("{i}.log"));
                let (sf, f) = SegmentFile::open_in(cache, &path).unwrap();
                f.write_all_at(format!("file {i}").as_bytes(), 0).unwrap();
                assert!(cache.len() <= 8, "{} files open", cache.len());
                sf
            })
            .collect();
        for (i, sf) in files.iter().enumerate() {
            let f = sf.get().unwrap();
            assert!(cache.len() <= 8);
            let mut buf = vec![0u8; format!("file {i}").len()];
            f.read_exact_at(&mut buf, 0).unwrap();
            assert_eq!(buf, format!("file {i}").as_bytes());
            // A positional write through a reopened file lands after the first.
            f.write_all_at(b"!", buf.len() as u64).unwrap();
        }
        for (i, sf) in files.iter().enumerate() {
            assert_eq!(
                std::fs::read(sf.path()).unwrap(),
                format!("file {i}!").as_bytes()
            );
        }
        drop(files);
        assert_eq!(cache.len(), 0, "dropped segment files leave the cache");
    }

    #[test]
    fn the_most_recently_used_stay_open() {
        let cache: &'static FileCache = Box::leak(Box::new(FileCache::new(8)));
        let dir = tempfile::tempdir().unwrap();
        let open =
            |i: usize| SegmentFile::open_in(cache, &dir.path().join(format!("{i}"))).unwrap();
        let (hot, hot_file) = open(0);
        let mut others = Vec::new();
        for i in 1..40 {
            hot.get().unwrap(); // used between every other open
            others.push(open(i).0);
        }
        assert!(
            Arc::ptr_eq(&hot.get().unwrap(), &hot_file),
            "the hot file was never closed"
        );
        // A file in use survives eviction: the cache only drops its reference.
        let old_path = others[0].path().to_path_buf();
        let held = others[0].get().unwrap();
        for i in 40..60 {
            others.push(open(i).0);
        }
        held.write_all_at(b"still open", 0).unwrap();
        assert_eq!(std::fs::read(old_path).unwrap(), b"still open");
    }

    #[test]
    fn a_deleted_file_is_an_error_not_a_new_file() {
        let cache: &'static FileCache = Box::leak(Box::new(FileCache::new(64)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.log");
        let (sf, f) = SegmentFile::open_in(cache, &path).unwrap();
        drop(f);
        cache.remove(sf.id);
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(sf.get(), Err(LogError::Io { .. })));
        assert!(!path.exists());
    }
}
