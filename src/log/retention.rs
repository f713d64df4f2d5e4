//! Retention: deleting whole segments past `retention.ms` or over
//! `retention.bytes`, or wholly below the log start offset (DeleteRecords),
//! and the asynchronous removal of the deleted files.
//!
//! Invariants:
//! - only whole segments go, always from the front of the log; the log start
//!   offset moves to the base offset of the first remaining segment and never
//!   moves back;
//! - the active segment is never deleted: when it is itself expired (and not
//!   empty) an empty segment is rolled first, as Kafka does, so the log end
//!   offset survives;
//! - a segment is past `retention.ms` when its *largest timestamp* (the
//!   largest batch maxTimestamp, or the file's mtime when it has none) is
//!   older than `now - retention.ms` — as in Kafka;
//! - deleting is two-step: under the log's write lock the files are renamed
//!   to `<name>.deleted` (a metadata operation) and the segment leaves the
//!   list; the [`FileDeleter`] removes the files after `file.delete.delay.ms`.
//!   A reader that copied the segment's `Arc<File>` keeps reading the renamed
//!   inode. `.deleted` files found at start-up are removed by `Log::open`.
//! - decisions take `now` as a parameter, so tests control time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::io_err;
use super::segment::LogSegment;
use super::{Log, LogError};

/// Suffix of a file waiting for its asynchronous removal.
pub const DELETED_FILE_SUFFIX: &str = ".deleted";

/// Why segments were deleted (for the log line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionReason {
    /// Wholly below the log start offset (DeleteRecords).
    LogStartOffset,
    /// Largest timestamp older than `retention.ms`.
    Time,
    /// The log is larger than `retention.bytes`.
    Size,
}

/// What one retention pass did to one log.
#[derive(Debug, Default)]
pub struct RetentionOutcome {
    /// Segments removed from the log.
    pub deleted_segments: usize,
    /// Files renamed to `.deleted`, to be removed after `file.delete.delay.ms`.
    pub deleted_files: Vec<PathBuf>,
    /// The log start offset moved.
    pub log_start_moved: bool,
}

/// The largest timestamp of a segment as retention sees it: the largest batch
/// maxTimestamp, else the file's modification time.
fn largest_timestamp(seg: &LogSegment) -> i64 {
    if seg.max_timestamp() >= 0 {
        return seg.max_timestamp();
    }
    seg.last_modified_ms()
}

/// How many segments from the front of `segments` (given as (size, largest
/// timestamp, upper bound)) retention deletes, and why. The upper bound is the
/// next segment's base offset (the log end for the active segment). The last
/// entry is the active segment: it counts only if not empty (the caller then
/// rolls first), and never for the log start offset (as in Kafka).
pub fn deletable_prefix(
    segments: &[(u64, i64, i64)],
    log_start_offset: i64,
    delete_policy: bool,
    retention_ms: i64,
    retention_bytes: i64,
    now_ms: i64,
) -> (usize, Option<RetentionReason>) {
    let last = segments.len().saturating_sub(1);
    // A segment may go only if it is not the active one, or the active one is
    // not empty (it is then rolled first).
    let eligible = |i: usize, size: u64| i < last || size > 0;
    // 1. Wholly below the log start offset: the next segment starts at or
    //    below it.
    let below_start = segments
        .iter()
        .enumerate()
        .take_while(|(i, (_, _, upper))| *i < last && *upper <= log_start_offset)
        .count();
    if below_start > 0 {
        return (below_start, Some(RetentionReason::LogStartOffset));
    }
    if !delete_policy {
        return (0, None);
    }
    // 2. Time: largest timestamp older than retention.ms.
    if retention_ms >= 0 {
        let expired = segments
            .iter()
            .enumerate()
            .take_while(|(i, (size, ts, _))| {
                eligible(*i, *size) && now_ms.saturating_sub(*ts) > retention_ms
            })
            .count();
        if expired > 0 {
            return (expired, Some(RetentionReason::Time));
        }
    }
    // 3. Size: drop from the front while the rest stays at or above the limit.
    if retention_bytes >= 0 {
        let total: u64 = segments.iter().map(|s| s.0).sum();
        let mut diff = total as i128 - i128::from(retention_bytes);
        let mut n = 0;
        for (i, (size, _, _)) in segments.iter().enumerate() {
            if !eligible(i, *size) || diff - (*size as i128) < 0 {
                break;
            }
            diff -= *size as i128;
            n += 1;
        }
        if n > 0 {
            return (n, Some(RetentionReason::Size));
        }
    }
    (0, None)
}

/// Renames a segment's files to `<name>.deleted` and returns the new paths.
/// The segment's open handles are closed when it is dropped here; readers
/// that cloned them keep working.
pub(crate) fn rename_to_deleted(seg: LogSegment) -> Result<Vec<PathBuf>, LogError> {
    let paths = [
        seg.log_path().to_path_buf(),
        seg.offset_index().path().to_path_buf(),
        seg.time_index().path().to_path_buf(),
    ];
    drop(seg);
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let mut name = p.as_os_str().to_owned();
        name.push(DELETED_FILE_SUFFIX);
        let to = PathBuf::from(name);
        match std::fs::rename(&p, &to) {
            Ok(()) => out.push(to),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&p, e)),
        }
    }
    Ok(out)
}

impl Log {
    /// One retention pass (Kafka's `deleteOldSegments`): deletes the segments
    /// wholly below the log start offset, then — with `cleanup.policy`
    /// containing `delete` — those past `retention.ms` or, failing that, over
    /// `retention.bytes`. Takes `&mut self`: the caller holds the write lock
    /// only for these renames, never for the files' removal.
    pub fn delete_old_segments(&mut self, now_ms: i64) -> Result<RetentionOutcome, LogError> {
        let log_end = self.log_end_offset();
        let view: Vec<(u64, i64, i64)> = self
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let upper = self
                    .segments
                    .get(i + 1)
                    .map_or(log_end, LogSegment::base_offset);
                (s.size(), largest_timestamp(s), upper)
            })
            .collect();
        let (n, reason) = deletable_prefix(
            &view,
            self.log_start_offset,
            self.config.cleanup_delete,
            self.config.retention_ms,
            self.config.retention_bytes,
            now_ms,
        );
        let mut outcome = RetentionOutcome::default();
        if n == 0 {
            return Ok(outcome);
        }
        if n >= self.segments.len() {
            // The active segment goes too: roll an empty one first.
            self.roll()?;
        }
        let doomed: Vec<LogSegment> = self.segments.drain(..n).collect();
        let first_kept = self.segments.first().map(LogSegment::base_offset);
        let (from, to) = (
            doomed.first().map_or(0, LogSegment::base_offset),
            doomed.last().map_or(0, LogSegment::next_offset),
        );
        for seg in doomed {
            outcome.deleted_files.extend(rename_to_deleted(seg)?);
            outcome.deleted_segments += 1;
        }
        self.dir_dirty = true;
        if let Some(base) = first_kept {
            if base > self.log_start_offset {
                self.log_start_offset = base;
                outcome.log_start_moved = true;
                self.leader_epochs_follow_log_start();
            }
        }
        tracing::info!(
            dir = %self.dir.display(),
            reason = ?reason,
            segments = outcome.deleted_segments,
            offsets = %format!("[{from}, {to})"),
            log_start_offset = self.log_start_offset,
            "deleted log segments by retention"
        );
        Ok(outcome)
    }

    /// DeleteRecords: moves the log start offset up to `offset` (-1 = the high
    /// watermark). Segments wholly below it go at the next retention pass.
    /// Returns the new log start offset (the low watermark).
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        let high_watermark = self.log_end_offset();
        let offset = if offset == -1 { high_watermark } else { offset };
        if offset < 0 || offset > high_watermark {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: high_watermark,
            });
        }
        if offset > self.log_start_offset {
            tracing::info!(
                dir = %self.dir.display(),
                from = self.log_start_offset,
                to = offset,
                "log start offset moved by DeleteRecords"
            );
            self.log_start_offset = offset;
            self.leader_epochs_follow_log_start();
        }
        Ok(self.log_start_offset)
    }
}

/// Removes `.deleted` files once their `file.delete.delay.ms` has passed.
#[derive(Default)]
pub struct FileDeleter {
    /// (due time in ms, file), earliest first.
    queue: Mutex<BinaryHeap<Reverse<(i64, PathBuf)>>>,
}

impl FileDeleter {
    /// An empty deleter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes `files` at `due_ms` or later.
    pub fn schedule(&self, files: impl IntoIterator<Item = PathBuf>, due_ms: i64) {
        let mut q = self.queue.lock();
        for f in files {
            q.push(Reverse((due_ms, f)));
        }
    }

    /// Files waiting.
    pub fn pending(&self) -> usize {
        self.queue.lock().len()
    }

    /// Removes every file due at `now_ms`; returns how many went.
    pub fn delete_due(&self, now_ms: i64) -> usize {
        let due: Vec<PathBuf> = {
            let mut q = self.queue.lock();
            let mut out = Vec::new();
            while q.peek().is_some_and(|Reverse((t, _))| *t <= now_ms) {
                if let Some(Reverse((_, p))) = q.pop() {
                    out.push(p);
                }
            }
            out
        };
        let n = due.len();
        for p in due {
            remove_quietly(&p);
        }
        n
    }

    /// Removes everything still waiting (at shutdown).
    pub fn delete_all(&self) -> usize {
        self.delete_due(i64::MAX)
    }
}

fn remove_quietly(p: &Path) {
    match std::fs::remove_file(p) {
        Ok(()) => tracing::debug!(file = %p.display(), "removed deleted file"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(file = %p.display(), error = %e, "cannot remove deleted file"),
    }
}

/// Summary of one retention pass over many logs.
#[derive(Debug, Default)]
pub struct RetentionSummary {
    /// Segments deleted over all logs.
    pub deleted_segments: usize,
    /// Some log start offset moved: the checkpoint should be written.
    pub log_start_moved: bool,
}

/// One retention pass over `logs` at `now_ms`: each log's write lock is held
/// only for its renames; the files are handed to `deleter`.
pub fn enforce_retention<P: AsRef<RwLock<Log>>>(
    logs: &[(String, i32, Arc<P>)],
    now_ms: i64,
    deleter: &FileDeleter,
) -> RetentionSummary {
    let mut summary = RetentionSummary::default();
    for (topic, partition, p) in logs {
        let lock: &RwLock<Log> = (**p).as_ref();
        let mut log = lock.write();
        let delay = log.config.file_delete_delay_ms.max(0);
        match log.delete_old_segments(now_ms) {
            Ok(outcome) => {
                drop(log);
                summary.deleted_segments += outcome.deleted_segments;
                summary.log_start_moved |= outcome.log_start_moved;
                deleter.schedule(outcome.deleted_files, now_ms.saturating_add(delay));
            }
            Err(e) => {
                tracing::warn!(topic, partition, error = %e, "retention pass failed for this log")
            }
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::testing::simple_batch;
    use crate::log::LogConfig;
    use bytes::BytesMut;

    fn config(retention_ms: i64, retention_bytes: i64) -> LogConfig {
        LogConfig {
            segment_bytes: 200,
            retention_ms,
            retention_bytes,
            file_delete_delay_ms: 0,
            ..LogConfig::default()
        }
    }

    fn append(log: &mut Log, ts: i64, now: i64) {
        let mut b = BytesMut::from(&simple_batch(2, ts)[..]);
        log.append(&mut b, now).unwrap();
    }

    fn files(dir: &Path, suffix: &str) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
            .count()
    }

    #[test]
    fn decisions() {
        // (size, largest timestamp, next offset); the last is active.
        let segs = [
            (100, 1_000, 10),
            (100, 2_000, 20),
            (100, 3_000, 30),
            (50, 4_000, 35),
        ];
        // Time: only the first two are older than 1500 ms at now=3600.
        assert_eq!(
            deletable_prefix(&segs, 0, true, 1_500, -1, 3_600),
            (2, Some(RetentionReason::Time))
        );
        // Everything expired: the non-empty active segment counts too.
        assert_eq!(deletable_prefix(&segs, 0, true, 10, -1, 100_000).0, 4);
        // ... but an empty active segment never.
        let empty_active = [(100, 1_000, 10), (0, -1, 10)];
        assert_eq!(
            deletable_prefix(&empty_active, 0, true, 10, -1, 100_000).0,
            1
        );
        // Size: 350 bytes, limit 160: drop while the rest stays >= 160.
        assert_eq!(
            deletable_prefix(&segs, 0, true, -1, 160, 0),
            (1, Some(RetentionReason::Size))
        );
        assert_eq!(deletable_prefix(&segs, 0, true, -1, 50, 0).0, 3);
        // Compact-only logs keep old segments...
        assert_eq!(deletable_prefix(&segs, 0, false, 1, 1, 100_000), (0, None));
        // ... but not those wholly below the log start offset.
        assert_eq!(
            deletable_prefix(&segs, 25, false, -1, -1, 0),
            (2, Some(RetentionReason::LogStartOffset))
        );
        // The active segment never goes for the log start offset.
        assert_eq!(deletable_prefix(&segs, 35, false, -1, -1, 0).0, 3);
        // Unlimited.
        assert_eq!(deletable_prefix(&segs, 0, true, -1, -1, i64::MAX).0, 0);
    }

    #[test]
    fn time_retention_rolls_active_and_deletes_async() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), config(1_000, -1), 0, 0, true, 0).unwrap();
        for i in 0..10 {
            append(&mut log, 1_000 + i, 1_000 + i);
        }
        let segments = log.segment_count();
        assert!(segments > 2);
        // Nothing is old enough yet.
        let o = log.delete_old_segments(1_500).unwrap();
        assert_eq!(o.deleted_segments, 0);
        // A reader holding a segment handle keeps reading after deletion.
        let before = log.read(0, 1 << 20, true).unwrap();
        // Everything is expired: the active segment is rolled first.
        let o = log.delete_old_segments(10_000).unwrap();
        assert_eq!(o.deleted_segments, segments);
        assert!(o.log_start_moved);
        assert_eq!(log.log_start_offset(), 20);
        assert_eq!(log.log_end_offset(), 20);
        assert_eq!(log.segment_count(), 1);
        assert!(matches!(
            log.read(0, 100, true),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        assert_eq!(files(dir.path(), ".log.deleted"), segments);
        assert!(!before.is_empty());
        let deleter = FileDeleter::new();
        deleter.schedule(o.deleted_files, 20_000);
        assert_eq!(deleter.delete_due(19_999), 0);
        assert!(deleter.delete_due(20_000) > 0);
        assert_eq!(files(dir.path(), ".deleted"), 0);
        // Appends continue at the log end.
        append(&mut log, 30_000, 30_000);
        assert_eq!(log.log_end_offset(), 22);
        // Reopening: the log start offset is the first segment's base.
        log.close().unwrap();
        drop(log);
        let log = Log::open(dir.path(), config(1_000, -1), 0, 0, true, 0).unwrap();
        assert_eq!(log.log_start_offset(), 20);
    }

    #[test]
    fn size_retention_keeps_limit_plus_one_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), config(-1, 400), 0, 0, true, 0).unwrap();
        for i in 0..40 {
            append(&mut log, i, i);
        }
        let seg_max = 200;
        log.delete_old_segments(100).unwrap();
        assert!(log.size_bytes() <= 400 + seg_max, "{}", log.size_bytes());
        assert!(log.size_bytes() >= 400);
        assert!(log.log_start_offset() > 0);
    }

    #[test]
    fn delete_records_moves_start_and_retention_drops_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), config(-1, -1), 0, 0, true, 0).unwrap();
        for i in 0..10 {
            append(&mut log, i, i);
        }
        assert!(matches!(
            log.delete_records_before(21),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        assert_eq!(log.delete_records_before(7).unwrap(), 7);
        assert_eq!(log.delete_records_before(3).unwrap(), 7);
        assert!(matches!(
            log.read(6, 100, true),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        assert!(!log.read(7, 1000, true).unwrap().is_empty());
        let o = log.delete_old_segments(0).unwrap();
        assert!(o.deleted_segments >= 1);
        assert_eq!(log.log_start_offset(), 7);
        assert_eq!(log.delete_records_before(-1).unwrap(), 20);
    }
}
