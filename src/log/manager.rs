//! The log manager: owns the log directories, their checkpoint files and the
//! clean-shutdown marker, and opens, creates and deletes partition logs.
//!
//! Invariants: the `.kafka_cleanshutdown` marker is removed at start-up (a
//! crash from then on is detected as unclean) and written back only by
//! [`LogManager::mark_clean_shutdown`]; checkpoints are replaced atomically;
//! a partition lives in exactly one log dir.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::checkpoint::{
    self, atomic_write, read_checkpoint, sync_dir, write_checkpoint,
    LOG_START_OFFSET_CHECKPOINT_FILE, RECOVERY_POINT_CHECKPOINT_FILE,
};
use super::io_err;
use super::{Log, LogConfig, LogError};

pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
/// The file every log dir is locked through (Kafka's `.lock`): an exclusive
/// advisory lock held for the life of the process, so two brokers never
/// share a log dir. It holds the holder's pid, for the refusal message.
pub const LOCK_FILE: &str = ".lock";
pub const PARTITION_METADATA_FILE: &str = "partition.metadata";
/// Suffix of a partition directory being deleted (Kafka's `-delete`).
pub const DELETE_DIR_SUFFIX: &str = "-delete";
const FUTURE_DIR_SUFFIX: &str = "-future";
const STRAY_DIR_SUFFIX: &str = "-stray";

/// A topic id as Kafka prints it: URL-safe base64 of the 16 bytes, no padding (22 chars).
pub fn topic_id_to_string(id: uuid::Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk.first().copied().unwrap_or(0));
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
            out.push(char::from(ALPHABET[idx]));
        }
    }
    out
}

/// Parses `<topic>-<partition>` splitting at the last '-'.
pub fn parse_partition_dir_name(name: &str) -> Option<(String, i32)> {
    let (topic, partition) = name.rsplit_once('-')?;
    if topic.is_empty() || partition.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let partition: i32 = partition.parse().ok()?;
    Some((topic.to_string(), partition))
}

fn partition_dir_name(topic: &str, partition: i32) -> String {
    format!("{topic}-{partition}")
}

struct State {
    /// Which log dir (index into `dirs`) holds each known partition.
    locations: HashMap<(String, i32), usize>,
}

/// Owns the log directories. `Send + Sync`.
pub struct LogManager {
    dirs: Vec<PathBuf>,
    /// The locked `.lock` file of every dir; the locks go with the process.
    _locks: Vec<std::fs::File>,
    /// Per dir: the clean-shutdown marker was present at start-up.
    clean_shutdown: Vec<bool>,
    recovery_points: HashMap<(String, i32), i64>,
    log_start_offsets: HashMap<(String, i32), i64>,
    state: Mutex<State>,
    /// Serialises checkpoint writers (periodic task, retention, DeleteRecords).
    checkpoint_lock: Mutex<()>,
}

fn read_checkpoint_or_warn(path: &Path) -> HashMap<(String, i32), i64> {
    match read_checkpoint(path) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read checkpoint, resetting it (logs are recovered from offset 0)");
            HashMap::new()
        }
    }
}

/// Takes the exclusive lock on `dir/.lock` and writes this process's pid
/// into it; refuses when another process holds it.
pub fn lock_log_dir(dir: &Path) -> Result<std::fs::File, LogError> {
    use std::io::{Read, Seek, Write};
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            // Bounded: the file holds a pid line.
            let _ = (&mut file).take(64).read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "unknown holder".to_string(),
                pid => format!("pid {pid}"),
            };
            return Err(LogError::LogDirLocked {
                dir: dir.to_path_buf(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path, e)),
    }
    file.set_len(0).map_err(|e| io_err(&path, e))?;
    file.rewind().map_err(|e| io_err(&path, e))?;
    writeln!(file, "{}", std::process::id()).map_err(|e| io_err(&path, e))?;
    Ok(file)
}

/// A log dir this broker has never used: missing, or empty but for a
/// `.lock` (and the writability probe) that a start which stopped before
/// writing anything left behind.
fn is_new_log_dir(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().all(|e| {
            let name = e.file_name();
            name == LOCK_FILE || name == ".strom-write-probe"
        }),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// The fix for a log dir the broker may not create or write: `what` to do
/// for its user (named by uid), or another dir.
fn writable_fix(what: &str) -> String {
    format!(
        "{what} (uid {}), or set log.dirs to a writable directory",
        rustix::process::getuid().as_raw()
    )
}

/// Creates `dir` (and its parents) when missing; a path that is not a
/// directory, or one the broker may not create, is [`LogError::LogDirUnusable`].
fn create_log_dir(dir: &Path) -> Result<(), LogError> {
    // A file where the dir, or one of its parents, should be.
    let file_in_the_way = || {
        dir.ancestors()
            .find(|a| std::fs::metadata(a).is_ok_and(|m| !m.is_dir()))
    };
    if let Some(file) = file_in_the_way() {
        return Err(LogError::LogDirUnusable {
            dir: dir.to_path_buf(),
            problem: if file == dir {
                "not a directory".to_string()
            } else {
                format!("{} is not a directory", file.display())
            },
            fix: "set log.dirs to a directory (a missing one is created)".to_string(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            LogError::LogDirUnusable {
                dir: dir.to_path_buf(),
                problem: format!("cannot create it: {e}"),
                fix: writable_fix("create it writable by the broker's user"),
            }
        }
        _ => io_err(dir, e),
    })
}

/// A write in `dir` refused for permissions or a read-only volume, as
/// [`LogError::LogDirUnusable`]; other errors unchanged.
fn unusable_dir(dir: &Path, e: LogError) -> LogError {
    match e {
        LogError::Io { source, .. }
            if matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            LogError::LogDirUnusable {
                dir: dir.to_path_buf(),
                problem: format!("not writable: {source}"),
                fix: writable_fix("give write access to it to the broker's user"),
            }
        }
        e => e,
    }
}

impl LogManager {
    /// Creates missing log dirs, reads the checkpoints, notes and removes the
    /// clean-shutdown marker of every dir.
    pub fn startup(log_dirs: &[PathBuf]) -> Result<LogManager, LogError> {
        let mut clean_shutdown = Vec::with_capacity(log_dirs.len());
        let mut recovery_points = HashMap::new();
        let mut log_start_offsets = HashMap::new();
        let mut locks = Vec::with_capacity(log_dirs.len());
        for dir in log_dirs {
            let new_dir = is_new_log_dir(dir);
            create_log_dir(dir)?;
            // Locked before anything in the dir is read or changed.
            locks.push(lock_log_dir(dir).map_err(|e| unusable_dir(dir, e))?);
            // Writability probe.
            let probe = dir.join(".strom-write-probe");
            std::fs::write(&probe, b"").map_err(|e| unusable_dir(dir, io_err(&probe, e)))?;
            std::fs::remove_file(&probe).map_err(|e| unusable_dir(dir, io_err(&probe, e)))?;

            recovery_points.extend(read_checkpoint_or_warn(
                &dir.join(RECOVERY_POINT_CHECKPOINT_FILE),
            ));
            log_start_offsets.extend(read_checkpoint_or_warn(
                &dir.join(LOG_START_OFFSET_CHECKPOINT_FILE),
            ));

            let marker = dir.join(CLEAN_SHUTDOWN_FILE);
            let clean = marker.exists();
            if clean {
                std::fs::remove_file(&marker).map_err(|e| io_err(&marker, e))?;
                sync_dir(dir)?;
            } else if new_dir {
                tracing::info!(dir = %dir.display(), "initialising new log dir");
            } else {
                tracing::info!(dir = %dir.display(), "no clean shutdown marker: logs will be recovered");
            }
            clean_shutdown.push(clean);
        }
        let manager = LogManager {
            dirs: log_dirs.to_vec(),
            _locks: locks,
            clean_shutdown,
            recovery_points,
            log_start_offsets,
            state: Mutex::new(State {
                locations: HashMap::new(),
            }),
            checkpoint_lock: Mutex::new(()),
        };
        let mut locations = HashMap::new();
        for (topic, partition, dir) in manager.existing_partitions() {
            let idx = manager
                .dirs
                .iter()
                .position(|d| dir.parent() == Some(d.as_path()))
                .unwrap_or(0);
            if let Some(prev) = locations.insert((topic.clone(), partition), idx) {
                tracing::warn!(
                    topic,
                    partition,
                    "partition found in two log dirs; using {}",
                    manager
                        .dirs
                        .get(prev)
                        .map(|d| d.display().to_string())
                        .unwrap_or_default()
                );
                locations.insert((topic, partition), prev);
            }
        }
        manager.state.lock().locations = locations;
        Ok(manager)
    }

    /// The log directories.
    pub fn log_dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// (total, usable) bytes of the volume holding `dir` (statvfs: blocks and
    /// blocks available to unprivileged users, times the fragment size), as
    /// Java's `FileStore.getTotalSpace`/`getUsableSpace`; beyond `i64` is
    /// `i64::MAX`, as Kafka's `adjustForLargeFileSystems`.
    pub fn volume_bytes(&self, dir: &Path) -> Result<(i64, i64), LogError> {
        let st = rustix::fs::statvfs(dir).map_err(|e| io_err(dir, e.into()))?;
        let bytes =
            |blocks: u64| i64::try_from(blocks.saturating_mul(st.f_frsize)).unwrap_or(i64::MAX);
        Ok((bytes(st.f_blocks), bytes(st.f_bavail)))
    }

    /// Partition directories found on disk: (topic, partition, dir).
    pub fn existing_partitions(&self) -> Vec<(String, i32, PathBuf)> {
        let mut out = Vec::new();
        for dir in &self.dirs {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot list log dir");
                    continue;
                }
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if !path.is_dir() {
                    continue;
                }
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if name.starts_with('.')
                    || name.ends_with(DELETE_DIR_SUFFIX)
                    || name.ends_with(".deleted")
                    || name.ends_with(FUTURE_DIR_SUFFIX)
                    || name.ends_with(STRAY_DIR_SUFFIX)
                {
                    continue;
                }
                match parse_partition_dir_name(name) {
                    Some((topic, partition)) => out.push((topic, partition, path.clone())),
                    None => {
                        tracing::warn!(dir = %path.display(), "skipping a directory that is not <topic>-<partition>")
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// Opens or creates the log of a topic-partition.
    pub fn open_log(
        &self,
        topic: &str,
        partition: i32,
        topic_id: uuid::Uuid,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<Log, LogError> {
        let key = (topic.to_string(), partition);
        let dir_index = {
            let mut state = self.state.lock();
            match state.locations.get(&key) {
                Some(&i) => i,
                None => {
                    let mut counts = vec![0usize; self.dirs.len()];
                    for &i in state.locations.values() {
                        if let Some(c) = counts.get_mut(i) {
                            *c += 1;
                        }
                    }
                    let i = counts
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, c)| **c)
                        .map(|(i, _)| i)
                        .ok_or_else(|| {
                            io_err(
                                Path::new(""),
                                std::io::Error::other("no log dirs configured"),
                            )
                        })?;
                    state.locations.insert(key.clone(), i);
                    i
                }
            }
        };
        let parent = self.dirs.get(dir_index).ok_or_else(|| {
            io_err(
                Path::new(""),
                std::io::Error::other("no log dirs configured"),
            )
        })?;
        let dir = parent.join(partition_dir_name(topic, partition));
        let created = !dir.exists();
        if created {
            std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
            sync_dir(parent)?;
        }
        let metadata = dir.join(PARTITION_METADATA_FILE);
        let wanted = format!("version: 0\ntopic_id: {}\n", topic_id_to_string(topic_id));
        match std::fs::read_to_string(&metadata) {
            Ok(existing) if existing == wanted => {}
            Ok(existing) => {
                tracing::warn!(topic, partition, existing = %existing.trim(), "partition.metadata has another topic id; rewriting it");
                atomic_write(&metadata, wanted.as_bytes())?;
            }
            Err(_) => atomic_write(&metadata, wanted.as_bytes())?,
        }
        let (recovery_point, log_start, clean) = if created {
            (0, 0, true)
        } else {
            (
                self.recovery_points.get(&key).copied().unwrap_or(0),
                self.log_start_offsets.get(&key).copied().unwrap_or(0),
                self.clean_shutdown.get(dir_index).copied().unwrap_or(false),
            )
        };
        Log::open(&dir, config, log_start, recovery_point, clean, now_ms)
    }

    /// Writes both checkpoint files of every log dir atomically for the given
    /// logs: (topic, partition, recovery point, log start offset).
    pub fn checkpoint(&self, entries: &[(String, i32, i64, i64)]) -> Result<(), LogError> {
        type Entries = Vec<(String, i32, i64)>;
        let _writer = self.checkpoint_lock.lock();
        let mut per_dir: Vec<(Entries, Entries)> = vec![(Vec::new(), Vec::new()); self.dirs.len()];
        {
            let state = self.state.lock();
            for (topic, partition, recovery_point, log_start) in entries {
                let Some(&i) = state.locations.get(&(topic.clone(), *partition)) else {
                    tracing::warn!(
                        topic,
                        partition,
                        "checkpoint of a partition not in any log dir; skipped"
                    );
                    continue;
                };
                if let Some((rp, ls)) = per_dir.get_mut(i) {
                    rp.push((topic.clone(), *partition, *recovery_point));
                    ls.push((topic.clone(), *partition, *log_start));
                }
            }
        }
        for (dir, (rp, ls)) in self.dirs.iter().zip(per_dir) {
            write_checkpoint(&dir.join(RECOVERY_POINT_CHECKPOINT_FILE), &rp)?;
            write_checkpoint(&dir.join(LOG_START_OFFSET_CHECKPOINT_FILE), &ls)?;
        }
        Ok(())
    }

    /// Closes the log, renames its dir to `<topic>-<partition>.<uuid>-delete`
    /// and removes it.
    pub fn delete_log(&self, mut log: Log) -> Result<(), LogError> {
        log.close()?;
        let dir = log.dir().to_path_buf();
        drop(log);
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
            .unwrap_or_default();
        if let Some(key) = parse_partition_dir_name(&name) {
            self.state.lock().locations.remove(&key);
        }
        let parent = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let renamed = parent.join(format!(
            "{name}.{}{DELETE_DIR_SUFFIX}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::rename(&dir, &renamed).map_err(|e| io_err(&dir, e))?;
        if !parent.as_os_str().is_empty() {
            sync_dir(&parent)?;
        }
        std::fs::remove_dir_all(&renamed).map_err(|e| io_err(&renamed, e))?;
        Ok(())
    }

    /// Writes `.kafka_cleanshutdown` in every log dir (after all logs were
    /// closed and checkpointed).
    pub fn mark_clean_shutdown(&self) -> Result<(), LogError> {
        for dir in &self.dirs {
            let marker = dir.join(CLEAN_SHUTDOWN_FILE);
            let f = std::fs::File::create(&marker).map_err(|e| io_err(&marker, e))?;
            f.sync_all().map_err(|e| io_err(&marker, e))?;
            checkpoint::sync_dir(dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partition_dir_names() {
        assert_eq!(
            parse_partition_dir_name("my-topic-2"),
            Some(("my-topic".into(), 2))
        );
        assert_eq!(parse_partition_dir_name("t-0"), Some(("t".into(), 0)));
        assert_eq!(parse_partition_dir_name("t"), None);
        assert_eq!(parse_partition_dir_name("-1"), None);
        assert_eq!(parse_partition_dir_name("t--1"), Some(("t-".into(), 1)));
        assert_eq!(parse_partition_dir_name("t-x"), None);
        assert_eq!(parse_partition_dir_name("t-99999999999"), None);
    }

    #[test]
    fn a_locked_log_dir_is_refused_naming_its_holder() {
        let root = tempfile::tempdir().unwrap();
        let first = LogManager::startup(&[root.path().to_path_buf()]).unwrap();
        let err = LogManager::startup(&[root.path().to_path_buf()])
            .err()
            .expect("second manager on a locked dir");
        let msg = err.to_string();
        assert!(matches!(err, LogError::LogDirLocked { .. }), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains(&root.path().display().to_string()), "{msg}");
        drop(first);
        // Released with its holder.
        LogManager::startup(&[root.path().to_path_buf()]).unwrap();
    }

    #[test]
    fn a_file_as_log_dir_is_not_a_directory_and_a_fresh_dir_is_new() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("logs");
        std::fs::write(&file, b"x").unwrap();
        for (dir, problem) in [
            (file.clone(), "not a directory".to_string()),
            (
                file.join("sub"),
                format!("{} is not a directory", file.display()),
            ),
        ] {
            let err = LogManager::startup(std::slice::from_ref(&dir))
                .err()
                .expect("a file is no log dir");
            assert_eq!(
                err.to_string(),
                format!(
                    "log.dirs {}: {problem}; set log.dirs to a directory (a missing one is created)",
                    dir.display()
                )
            );
        }
        let fresh = root.path().join("fresh");
        assert!(is_new_log_dir(&fresh));
        let manager = LogManager::startup(std::slice::from_ref(&fresh)).unwrap();
        assert!(is_new_log_dir(&fresh), "only .lock in it");
        drop(manager);
        std::fs::write(fresh.join(RECOVERY_POINT_CHECKPOINT_FILE), b"0\n0\n").unwrap();
        assert!(!is_new_log_dir(&fresh));
    }

    #[test]
    fn topic_id_encoding() {
        let id = uuid::Uuid::from_bytes([0; 16]);
        assert_eq!(topic_id_to_string(id), "AAAAAAAAAAAAAAAAAAAAAA");
        let id = uuid::Uuid::from_bytes([0xff; 16]);
        assert_eq!(topic_id_to_string(id), "_____________________w");
        // Kafka: Uuid(0x123456789abcdef0, 0x0fedcba987654321).toString
        let id = uuid::Uuid::from_u128(0x1234_5678_9abc_def0_0fed_cba9_8765_4321);
        assert_eq!(topic_id_to_string(id), "EjRWeJq83vAP7cuph2VDIQ");
    }

    #[test]
    fn existing_partitions_and_lifecycle() {
        let root = tempfile::tempdir().unwrap();
        let d1 = root.path().join("d1");
        let d2 = root.path().join("d2");
        std::fs::create_dir_all(d1.join("my-topic-2")).unwrap();
        std::fs::create_dir_all(d1.join("my-topic-3.0123abcd-delete")).unwrap();
        std::fs::create_dir_all(d1.join("garbage")).unwrap();
        std::fs::write(d1.join(CLEAN_SHUTDOWN_FILE), b"").unwrap();
        let m = LogManager::startup(&[d1.clone(), d2.clone()]).unwrap();
        assert!(d2.exists());
        assert!(!d1.join(CLEAN_SHUTDOWN_FILE).exists());
        assert_eq!(m.clean_shutdown, vec![true, false]);
        let parts = m.existing_partitions();
        assert_eq!(
            parts,
            vec![("my-topic".to_string(), 2, d1.join("my-topic-2"))]
        );

        // A new partition goes to the dir with fewest partitions (d2).
        let id = uuid::Uuid::new_v4();
        let mut log = m.open_log("new", 0, id, LogConfig::default(), 0).unwrap();
        assert!(log.dir().starts_with(&d2));
        let meta = std::fs::read_to_string(log.dir().join(PARTITION_METADATA_FILE)).unwrap();
        assert_eq!(
            meta,
            format!("version: 0\ntopic_id: {}\n", topic_id_to_string(id))
        );
        let mut b = bytes::BytesMut::from(&crate::log::batch::testing::simple_batch(3, 5)[..]);
        log.append(&mut b, 0).unwrap();
        log.close().unwrap();
        m.checkpoint(&[(
            "new".into(),
            0,
            log.recovery_point(),
            log.log_start_offset(),
        )])
        .unwrap();
        let text = std::fs::read_to_string(d2.join(RECOVERY_POINT_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n1\nnew 0 3\n");
        let text = std::fs::read_to_string(d1.join(RECOVERY_POINT_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n0\n");
        drop(log);
        m.mark_clean_shutdown().unwrap();
        drop(m);

        let m = LogManager::startup(&[d1.clone(), d2.clone()]).unwrap();
        assert_eq!(m.clean_shutdown, vec![true, true]);
        assert_eq!(m.recovery_points.get(&("new".to_string(), 0)), Some(&3));
        let log = m.open_log("new", 0, id, LogConfig::default(), 0).unwrap();
        assert_eq!(log.log_end_offset(), 3);
        let dir = log.dir().to_path_buf();
        m.delete_log(log).unwrap();
        assert!(!dir.exists());
        assert!(std::fs::read_dir(&d2)
            .unwrap()
            .flatten()
            .all(|e| !e.path().is_dir()));
    }
}
