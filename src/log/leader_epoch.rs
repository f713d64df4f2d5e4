//! Kafka's leader-epoch cache (`LeaderEpochFileCache`): for each leader
//! epoch of the partition, the first offset written in it, kept in the
//! partition directory's `leader-epoch-checkpoint` (line `0`, the entry
//! count, then one `epoch startOffset` line per epoch, oldest first).
//!
//! OffsetForLeaderEpoch answers from it, and replication will truncate by
//! it. On a single broker the leader epoch is 0 from the partition's first
//! offset; a new entry appears only when the leader changes
//! ([`LeaderEpochCache::assign`]).
//!
//! Invariants (as Kafka's): epochs and start offsets both strictly increase;
//! no entry starts beyond the log end (truncated on open and recovery) and
//! the first never starts below the log start offset (moved up when the log
//! start moves). The file is replaced atomically whenever the entries change.

use std::path::{Path, PathBuf};

use super::checkpoint::atomic_write;
use super::LogError;

/// The file in each partition directory.
pub const LEADER_EPOCH_CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";
/// Kafka's `UNDEFINED_EPOCH`: no epoch known.
pub const UNDEFINED_EPOCH: i32 = -1;
/// Kafka's `UNDEFINED_EPOCH_OFFSET`: no end offset known.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;
const CURRENT_VERSION: i32 = 0;

/// One leader epoch and the first offset written in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// The partition's leader epochs, oldest first, mirrored in its checkpoint file.
#[derive(Debug)]
pub struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// Reads `dir`'s checkpoint; a missing file is an empty cache. A malformed
    /// one is reported and the cache starts empty (the log re-seeds it from
    /// its batches).
    pub fn load(dir: &Path) -> LeaderEpochCache {
        let path = dir.join(LEADER_EPOCH_CHECKPOINT_FILE);
        let entries = match std::fs::read_to_string(&path) {
            Ok(text) => match parse(&text) {
                Ok(entries) => entries,
                Err(why) => {
                    tracing::warn!(file = %path.display(), why, "ignoring malformed leader epoch checkpoint");
                    Vec::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read the leader epoch checkpoint");
                Vec::new()
            }
        };
        LeaderEpochCache { path, entries }
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The latest epoch, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Kafka's `assign`: records that `epoch` starts at `start_offset`.
    /// Nothing changes when `epoch` is already the latest with an earlier or
    /// equal start; entries the new one makes non-monotonic (an epoch at or
    /// above it, or a start at or beyond it) are dropped. Returns whether the
    /// cache changed (and the file was rewritten).
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<bool, LogError> {
        if epoch < 0 || start_offset < 0 {
            return Ok(false);
        }
        let needed = self
            .entries
            .last()
            .is_none_or(|l| l.epoch != epoch || start_offset < l.start_offset);
        if !needed {
            return Ok(false);
        }
        self.entries
            .retain(|e| e.epoch < epoch && e.start_offset < start_offset);
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        self.flush()?;
        Ok(true)
    }

    /// Kafka's `truncateFromEnd`: drops the entries starting beyond
    /// `end_offset` (the log end after recovery or truncation). Unlike
    /// Kafka, an entry starting exactly at the log end is kept (its epoch
    /// began there and has no data yet): it answers the same, and an empty
    /// partition's file is not rewritten at every start.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<bool, LogError> {
        if end_offset < 0 || !self.entries.iter().any(|e| e.start_offset > end_offset) {
            return Ok(false);
        }
        self.entries.retain(|e| e.start_offset <= end_offset);
        self.flush()?;
        Ok(true)
    }

    /// Kafka's `truncateFromStart`: the log now starts at `start_offset`;
    /// entries wholly below it go, and the last one starting at or below it
    /// now starts there.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<bool, LogError> {
        let below = self
            .entries
            .partition_point(|e| e.start_offset <= start_offset);
        let Some(last_below) = below.checked_sub(1) else {
            return Ok(false);
        };
        let Some(&kept) = self.entries.get(last_below) else {
            return Ok(false);
        };
        if last_below == 0 && kept.start_offset == start_offset {
            return Ok(false);
        }
        self.entries.drain(..=last_below);
        self.entries.insert(
            0,
            EpochEntry {
                epoch: kept.epoch,
                start_offset,
            },
        );
        self.flush()?;
        Ok(true)
    }

    /// Kafka's `endOffsetFor`: the end offset of `requested` (the start of
    /// the next higher epoch, or `log_end_offset` for the latest), with the
    /// epoch that answer belongs to. `(UNDEFINED_EPOCH,
    /// UNDEFINED_EPOCH_OFFSET)` when the epoch is undefined, the cache is
    /// empty or `requested` is above every known epoch.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        const UNDEFINED: (i32, i64) = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested == UNDEFINED_EPOCH {
            return UNDEFINED;
        }
        let Some(latest) = self.entries.last() else {
            return UNDEFINED;
        };
        if latest.epoch == requested {
            return (requested, log_end_offset);
        }
        let higher = self.entries.partition_point(|e| e.epoch <= requested);
        let Some(next) = self.entries.get(higher) else {
            return UNDEFINED;
        };
        match higher.checked_sub(1).and_then(|i| self.entries.get(i)) {
            // Older than every epoch: the first one's start (data below is gone).
            None => (requested, next.start_offset),
            Some(floor) => (floor.epoch, next.start_offset),
        }
    }

    fn flush(&self) -> Result<(), LogError> {
        let mut s = format!("{CURRENT_VERSION}\n{}\n", self.entries.len());
        for e in &self.entries {
            s.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
        }
        atomic_write(&self.path, s.as_bytes())
    }
}

fn parse(text: &str) -> Result<Vec<EpochEntry>, String> {
    let mut lines = text.lines();
    let version = lines.next().ok_or("empty file")?;
    if version.trim().parse::<i32>().ok() != Some(CURRENT_VERSION) {
        return Err(format!("unsupported version {version:?}"));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or("missing entry count")?;
    let mut entries: Vec<EpochEntry> = Vec::with_capacity(count.min(1024));
    for line in lines.by_ref().take(count) {
        let mut parts = line.split_whitespace();
        let (Some(Ok(epoch)), Some(Ok(start_offset)), None) = (
            parts.next().map(str::parse::<i32>),
            parts.next().map(str::parse::<i64>),
            parts.next(),
        ) else {
            return Err(format!("line {line:?}"));
        };
        if epoch < 0
            || start_offset < 0
            || entries
                .last()
                .is_some_and(|l| l.epoch >= epoch || l.start_offset > start_offset)
        {
            return Err(format!("non-monotonic entry {line:?}"));
        }
        entries.push(EpochEntry {
            epoch,
            start_offset,
        });
    }
    if entries.len() != count {
        return Err(format!("expected {count} entries, found {}", entries.len()));
    }
    Ok(entries)
}

/// The file's path in `dir` (for tests and tools).
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join(LEADER_EPOCH_CHECKPOINT_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> (tempfile::TempDir, LeaderEpochCache) {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::load(dir.path());
        for &(e, o) in entries {
            c.assign(e, o).unwrap();
        }
        (dir, c)
    }

    #[test]
    fn file_is_kafkas_format_and_round_trips() {
        let (dir, c) = cache(&[(0, 0), (2, 100), (5, 250)]);
        let text = std::fs::read_to_string(checkpoint_path(dir.path())).unwrap();
        assert_eq!(text, "0\n3\n0 0\n2 100\n5 250\n");
        let again = LeaderEpochCache::load(dir.path());
        assert_eq!(again.entries(), c.entries());
        std::fs::write(checkpoint_path(dir.path()), "0\n2\n0 0\n").unwrap();
        assert!(LeaderEpochCache::load(dir.path()).entries().is_empty());
        std::fs::write(checkpoint_path(dir.path()), "0\n2\n3 0\n1 5\n").unwrap();
        assert!(LeaderEpochCache::load(dir.path()).entries().is_empty());
    }

    #[test]
    fn assign_keeps_entries_monotonic() {
        let (_d, mut c) = cache(&[(0, 0)]);
        assert!(
            !c.assign(0, 10).unwrap(),
            "same epoch, later start: no change"
        );
        assert!(c.assign(1, 10).unwrap());
        assert!(
            c.assign(2, 5).unwrap(),
            "start before epoch 1's: epoch 1 dropped"
        );
        let got: Vec<_> = c
            .entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect();
        assert_eq!(got, [(0, 0), (2, 5)]);
        assert!(!c.assign(-1, 3).unwrap());
    }

    #[test]
    fn end_offset_for_follows_kafka() {
        let (_d, c) = cache(&[(1, 10), (3, 20), (6, 40)]);
        assert_eq!(c.end_offset_for(6, 55), (6, 55), "latest: the log end");
        assert_eq!(c.end_offset_for(3, 55), (3, 40));
        assert_eq!(
            c.end_offset_for(4, 55),
            (3, 40),
            "unknown epoch between: floor epoch, next start"
        );
        assert_eq!(
            c.end_offset_for(0, 55),
            (0, 10),
            "below every epoch: the first start"
        );
        assert_eq!(
            c.end_offset_for(7, 55),
            (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
        );
        assert_eq!(
            c.end_offset_for(-1, 55),
            (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
        );
        let (_d, empty) = cache(&[]);
        assert_eq!(
            empty.end_offset_for(0, 5),
            (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
        );
    }

    #[test]
    fn truncation_from_both_ends() {
        let (dir, mut c) = cache(&[(0, 0), (1, 10), (2, 20)]);
        assert!(
            !c.truncate_from_end(20).unwrap(),
            "an epoch starting at the end stays"
        );
        assert!(c.truncate_from_end(19).unwrap());
        assert_eq!(c.latest_epoch(), Some(1));
        assert!(!c.truncate_from_end(30).unwrap());
        assert!(c.truncate_from_start(15).unwrap());
        let got: Vec<_> = c
            .entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect();
        assert_eq!(got, [(1, 15)]);
        assert!(!c.truncate_from_start(15).unwrap());
        assert!(!c.truncate_from_start(3).unwrap());
        let text = std::fs::read_to_string(checkpoint_path(dir.path())).unwrap();
        assert_eq!(text, "0\n1\n1 15\n");
    }
}
