//! The log cleaner (Kafka's `LogCleaner`): compaction of logs whose
//! `cleanup.policy` contains `compact`, on its own threads
//! (`log.cleaner.threads`), off the request path.
//!
//! One clean of one log:
//! 1. Under the read lock, snapshot the sealed segments (the active segment
//!    is never cleaned) with their `Arc<File>`s; segments younger than
//!    `min.compaction.lag.ms` (by largest timestamp) end the cleanable range.
//! 2. Build the offset map — key → latest offset — over the *dirty* section
//!    (from the cleaner checkpoint on), bounded by the dedupe buffer
//!    (`log.cleaner.dedupe.buffer.size` / threads); a full map ends the range
//!    at a segment boundary.
//! 3. Rewrite every segment from the log start to the end of the range, in
//!    groups whose original sizes add up to at most `segment.bytes` (so small
//!    cleaned segments merge). A record survives when no later offset of its
//!    key is in the map; a tombstone also goes once its segment's largest
//!    timestamp is older than `delete.retention.ms`. Surviving records keep
//!    their offsets: a rewritten batch keeps its base offset, base timestamp,
//!    producer fields and codec, and its records keep their raw bytes (offset
//!    and timestamp deltas included), so only the header's lastOffsetDelta,
//!    maxTimestamp, recordCount, length and CRC change. Compressed batches are
//!    decompressed and recompressed with their codec. Control batches are kept.
//! 4. The group is written as a complete segment in a scratch directory
//!    (`<log dir>/.strom-cleaner/<topic>-<partition>/`), fsynced and moved into
//!    the partition directory as `<base>.{log,index,timeindex}.cleaned`.
//! 5. Swap, under the write lock and with no data I/O: `.cleaned` → `.swap`
//!    (indexes first, the `.log.swap` last: its rename plus a directory fsync
//!    is the commit point), the replaced segments' files → `.deleted`
//!    (removed later by the [`FileDeleter`]), `.swap` → final names, and the
//!    new segment replaces the old ones in the list. If the log changed
//!    meanwhile (retention or DeleteRecords removed a segment), the clean is
//!    dropped.
//!
//! Crash safety: `Log::open` calls [`complete_swaps`] first. A `.log.swap`
//! was committed: the segments it covers are deleted and it is renamed into
//! place (its indexes are rebuilt). `.cleaned` files are deleted: that clean
//! is simply redone. Reads are never affected: a reader holds the old
//! segments' `Arc<File>`s.
//!
//! I/O is throttled to `log.cleaner.io.max.bytes.per.second` over all threads.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::borrow::Cow;

use parking_lot::{Condvar, Mutex, RwLock};

use super::batch::{self, BatchHeader, BATCH_HEADER_SIZE, BATCH_LENGTH_OFFSET, LOG_OVERHEAD};
use super::checkpoint;
use super::index::io_err;
use super::manager::parse_partition_dir_name;
use super::retention::{rename_to_deleted, FileDeleter};
use super::segment::{self, AppendedBatch, LogSegment};
use super::{Log, LogConfig, LogError};
use crate::records::{
    records, records_section, BatchBuilder, Codec, RecordsError, MAX_DECOMPRESSED_BATCH_BYTES,
};

/// Kafka's checkpoint of the first dirty offset of every compacted log, one per log dir.
pub const CLEANER_OFFSET_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";
/// Where cleaned segments are built, inside each log dir (never a partition).
pub const SCRATCH_DIR: &str = ".strom-cleaner";
const CLEANED_SUFFIX: &str = ".cleaned";
const SWAP_SUFFIX: &str = ".swap";
/// Bytes the offset map charges per entry besides the key.
const MAP_ENTRY_OVERHEAD: usize = 48;
/// Output is written to the new segment in chunks of this size.
const WRITE_CHUNK: usize = 1 << 20;

/// Why a clean did not complete.
#[derive(Debug, thiserror::Error)]
pub enum CleanerError {
    /// Reading or writing failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The cleaner is shutting down.
    #[error("cleaning aborted by shutdown")]
    Aborted,
    /// The log changed under the clean (segments deleted); it is redone later.
    #[error("log changed during cleaning")]
    LogChanged,
}

impl From<RecordsError> for CleanerError {
    fn from(e: RecordsError) -> Self {
        CleanerError::Log(e.into())
    }
}

/// Broker-level settings of the cleaner.
#[derive(Clone, Debug)]
pub struct CleanerConfig {
    /// `log.cleaner.threads` (0 disables the cleaner).
    pub threads: usize,
    /// `log.cleaner.dedupe.buffer.size`, shared by the threads.
    pub dedupe_buffer_size: usize,
    /// `log.cleaner.io.max.bytes.per.second`.
    pub io_max_bytes_per_second: f64,
    /// `log.cleaner.backoff.ms`: sleep when nothing needs cleaning.
    pub backoff_ms: u64,
}

/// What one clean did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CleanStats {
    /// Bytes of the segments read.
    pub bytes_read: u64,
    /// Bytes of the cleaned segments written.
    pub bytes_written: u64,
    /// Records dropped (superseded or expired tombstones).
    pub records_removed: u64,
    /// Segments before and after.
    pub segments_before: usize,
    pub segments_after: usize,
    /// The new first dirty offset.
    pub end_offset: i64,
    /// Earliest time a kept tombstone may be removed (i64::MAX when none).
    pub tombstones_due_ms: i64,
}

// ---------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------

fn corrupt(msg: impl Into<String>) -> LogError {
    LogError::CorruptMessage(msg.into())
}

/// The records section of a batch, decompressed with the broker's bound
/// ([`MAX_DECOMPRESSED_BATCH_BYTES`]): a batch that expands beyond it is
/// CORRUPT_MESSAGE, never an unbounded allocation.
fn decompressed_section<'a>(batch: &'a [u8], h: &BatchHeader) -> Result<Cow<'a, [u8]>, LogError> {
    let raw = records_section(batch, h)?;
    match Codec::from_attributes(h.attributes)? {
        Codec::None => Ok(Cow::Borrowed(raw)),
        codec => Ok(Cow::Owned(
            codec.decompress(raw, MAX_DECOMPRESSED_BATCH_BYTES)?,
        )),
    }
}

/// What filtering did to a batch.
enum Filtered {
    /// Every record kept: the original bytes stay.
    Unchanged,
    /// No record kept.
    Empty,
    /// Some kept: the rewritten batch.
    Rewritten(Vec<u8>),
}

/// Keeps the records of `batch` for which `keep(offset, key, tombstone)`
/// holds; see the module docs for what a rewritten batch keeps.
fn filter_batch(
    batch: &[u8],
    h: &BatchHeader,
    mut keep: impl FnMut(i64, Option<&[u8]>, bool) -> bool,
) -> Result<(Filtered, u64), LogError> {
    let data = decompressed_section(batch, h)?;
    let mut kept = BatchBuilder::like(h);
    let mut total = 0u64;
    for record in records(&data, h.record_count)? {
        let record = record?;
        total += 1;
        let offset = h.base_offset + i64::from(record.offset_delta);
        if keep(offset, record.key, record.value.is_none()) {
            kept.push_record(&record, record.offset_delta);
        }
    }
    let removed = total - kept.record_count().max(0) as u64;
    if removed == 0 {
        return Ok((Filtered::Unchanged, 0));
    }
    if kept.record_count() == 0 {
        return Ok((Filtered::Empty, removed));
    }
    Ok((Filtered::Rewritten(kept.finish()?), removed))
}

// ---------------------------------------------------------------------------
// Reading segments, throttled
// ---------------------------------------------------------------------------

/// A byte-rate limit shared by the cleaner threads (Kafka's `Throttler`).
struct Throttler {
    bytes_per_second: f64,
    window_start: Instant,
    bytes: f64,
}

impl Throttler {
    fn new(bytes_per_second: f64) -> Self {
        Throttler {
            bytes_per_second,
            window_start: Instant::now(),
            bytes: 0.0,
        }
    }

    /// Records `n` bytes and returns how long to sleep to stay under the rate.
    fn account(&mut self, n: usize) -> Duration {
        if !(self.bytes_per_second.is_finite() && self.bytes_per_second > 0.0) {
            return Duration::ZERO;
        }
        self.bytes += n as f64;
        let elapsed = self.window_start.elapsed().as_secs_f64();
        let wanted = self.bytes / self.bytes_per_second;
        if elapsed > 1.0 && wanted <= elapsed {
            self.window_start = Instant::now();
            self.bytes = 0.0;
            return Duration::ZERO;
        }
        Duration::from_secs_f64((wanted - elapsed).clamp(0.0, 1.0))
    }
}

/// What a clean needs besides the log: shared with the cleaner threads.
pub struct CleanContext {
    stop: Mutex<bool>,
    wake: Condvar,
    throttler: Mutex<Throttler>,
    /// Offset map budget of one clean, in bytes.
    map_budget: usize,
    deleter: Arc<FileDeleter>,
}

impl CleanContext {
    /// A context with `map_budget` bytes for the offset map.
    pub fn new(map_budget: usize, io_max_bytes_per_second: f64, deleter: Arc<FileDeleter>) -> Self {
        CleanContext {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            throttler: Mutex::new(Throttler::new(io_max_bytes_per_second)),
            map_budget,
            deleter,
        }
    }

    fn stopped(&self) -> bool {
        *self.stop.lock()
    }

    fn check(&self) -> Result<(), CleanerError> {
        if self.stopped() {
            Err(CleanerError::Aborted)
        } else {
            Ok(())
        }
    }

    fn throttle(&self, n: usize) {
        let pause = self.throttler.lock().account(n);
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }

    /// Sleeps up to `d` unless stopped; returns whether it was stopped.
    fn sleep(&self, d: Duration) -> bool {
        let mut stop = self.stop.lock();
        if !*stop {
            self.wake.wait_for(&mut stop, d);
        }
        *stop
    }
}

/// A sealed segment as the cleaner sees it, outside the lock.
struct SegmentSnapshot {
    base_offset: i64,
    next_offset: i64,
    size: u64,
    largest_timestamp: i64,
    file: Arc<File>,
    path: PathBuf,
}

/// Calls `f` with every whole batch of a segment, reading in large chunks.
fn for_each_batch(
    seg: &SegmentSnapshot,
    ctx: &CleanContext,
    bytes_read: &mut u64,
    mut f: impl FnMut(&[u8], &BatchHeader) -> Result<(), CleanerError>,
) -> Result<(), CleanerError> {
    let mut buf = Vec::new();
    let mut pos = 0u64;
    while pos < seg.size {
        ctx.check()?;
        let want = (seg.size - pos).min(WRITE_CHUNK as u64) as usize;
        buf.resize(want, 0);
        seg.file
            .read_exact_at(&mut buf, pos)
            .map_err(|e| io_err(&seg.path, e))?;
        ctx.throttle(want);
        *bytes_read += want as u64;
        let mut p = 0usize;
        while p + BATCH_HEADER_SIZE <= buf.len() {
            let size =
                batch::get_i32(&buf, p + BATCH_LENGTH_OFFSET)?.max(0) as usize + LOG_OVERHEAD;
            if size < BATCH_HEADER_SIZE {
                return Err(corrupt(format!(
                    "batch of {size} bytes at {} of {}",
                    pos + p as u64,
                    seg.path.display()
                ))
                .into());
            }
            if p + size > buf.len() {
                break;
            }
            let b = buf.get(p..p + size).unwrap_or(&[]);
            let h = BatchHeader::parse(b)?;
            f(b, &h)?;
            p += size;
        }
        if p == 0 {
            // One batch larger than the chunk: read it whole.
            let mut head = [0u8; LOG_OVERHEAD];
            seg.file
                .read_exact_at(&mut head, pos)
                .map_err(|e| io_err(&seg.path, e))?;
            let size = batch::get_i32(&head, BATCH_LENGTH_OFFSET)?.max(0) as usize + LOG_OVERHEAD;
            if size < BATCH_HEADER_SIZE || pos + size as u64 > seg.size {
                return Err(
                    corrupt(format!("bad batch at {pos} of {}", seg.path.display())).into(),
                );
            }
            let mut big = vec![0u8; size];
            seg.file
                .read_exact_at(&mut big, pos)
                .map_err(|e| io_err(&seg.path, e))?;
            let h = BatchHeader::parse(&big)?;
            f(&big, &h)?;
            p = size;
        }
        pos += p as u64;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// One clean
// ---------------------------------------------------------------------------

/// How dirty a compacted log is, from its segment list alone (no I/O).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dirtiness {
    /// dirty bytes / cleanable bytes.
    pub ratio: f64,
    /// Bytes of cleanable segments from the first dirty offset on.
    pub dirty_bytes: u64,
    /// `max.compaction.lag.ms` passed for the oldest dirty segment.
    pub overdue: bool,
}

impl Log {
    /// Sealed segments that may be cleaned at `now_ms` (respecting
    /// `min.compaction.lag.ms`).
    fn cleanable_segments(&self, now_ms: i64) -> &[LogSegment] {
        let sealed = self
            .segments
            .get(..self.segments.len().saturating_sub(1))
            .unwrap_or(&[]);
        let lag = self.config.min_compaction_lag_ms;
        let n = sealed
            .iter()
            .take_while(|s| lag <= 0 || now_ms.saturating_sub(s.max_timestamp()) > lag)
            .count();
        sealed.get(..n).unwrap_or(&[])
    }

    /// How dirty this log is given the cleaner's first dirty offset.
    pub fn dirtiness(&self, first_dirty: i64, now_ms: i64) -> Dirtiness {
        let first_dirty = first_dirty.max(self.log_start_offset);
        let (mut clean, mut dirty, mut overdue) = (0u64, 0u64, false);
        for s in self.cleanable_segments(now_ms) {
            if s.next_offset() <= first_dirty {
                clean += s.size();
            } else {
                if dirty == 0 && s.max_timestamp() >= 0 {
                    overdue = now_ms.saturating_sub(s.max_timestamp())
                        > self.config.max_compaction_lag_ms;
                }
                dirty += s.size();
            }
        }
        let total = clean + dirty;
        Dirtiness {
            ratio: if total == 0 {
                0.0
            } else {
                dirty as f64 / total as f64
            },
            dirty_bytes: dirty,
            overdue,
        }
    }

    /// Replaces the segments with base offsets `bases` (consecutive, sealed)
    /// by the cleaned segment at `bases[0]` whose files are `<name>.cleaned`
    /// in the log dir; see the module docs. Returns the replaced files, now
    /// `.deleted`.
    fn swap_cleaned(&mut self, bases: &[i64]) -> Result<Vec<PathBuf>, CleanerError> {
        let Some(&first) = bases.first() else {
            return Ok(Vec::new());
        };
        let Some(i) = self.segments.iter().position(|s| s.base_offset() == first) else {
            return Err(CleanerError::LogChanged);
        };
        let k = bases.len();
        let current: Vec<i64> = self
            .segments
            .get(i..i + k)
            .unwrap_or(&[])
            .iter()
            .map(LogSegment::base_offset)
            .collect();
        if current != bases || i + k >= self.segments.len() {
            return Err(CleanerError::LogChanged);
        }
        let dir = self.dir.clone();
        let suffixes = [
            segment::INDEX_FILE_SUFFIX,
            segment::TIME_INDEX_FILE_SUFFIX,
            segment::LOG_FILE_SUFFIX,
        ];
        let with = |suffix: &str, extra: &str| {
            dir.join(format!("{}{extra}", segment::file_name(first, suffix)))
        };
        // Commit point: the .log.swap rename, made durable.
        for s in suffixes {
            let (from, to) = (with(s, CLEANED_SUFFIX), with(s, SWAP_SUFFIX));
            std::fs::rename(&from, &to).map_err(|e| io_err(&from, e))?;
        }
        checkpoint::sync_dir(&dir)?;
        let old: Vec<LogSegment> = self.segments.drain(i..i + k).collect();
        let mut deleted = Vec::new();
        let mut result = Ok(());
        for seg in old {
            match rename_to_deleted(seg) {
                Ok(paths) => deleted.extend(paths),
                Err(e) => result = Err(e),
            }
        }
        self.dir_dirty = true;
        result?;
        for s in suffixes {
            let (from, to) = (with(s, SWAP_SUFFIX), with(s, ""));
            std::fs::rename(&from, &to).map_err(|e| io_err(&from, e))?;
        }
        let mut seg = LogSegment::open(&dir, first, &self.config, false)?;
        seg.load(&self.config)?;
        self.segments.insert(i, seg);
        Ok(deleted)
    }
}

/// Builds one cleaned segment from `group` in `scratch` and moves its files
/// into `dir` as `.cleaned`. Returns whether anything changed.
#[allow(clippy::too_many_arguments)]
fn write_cleaned_group(
    group: &[SegmentSnapshot],
    dir: &Path,
    scratch: &Path,
    config: &LogConfig,
    map: &HashMap<Vec<u8>, i64>,
    now_ms: i64,
    ctx: &CleanContext,
    stats: &mut CleanStats,
) -> Result<bool, CleanerError> {
    let Some(first) = group.first() else {
        return Ok(false);
    };
    let base = first.base_offset;
    let mut out = LogSegment::create(scratch, base, config)?;
    let mut pending: Vec<u8> = Vec::new();
    let mut batches: Vec<AppendedBatch> = Vec::new();
    let mut changed = group.len() > 1;
    let interval = config.index_interval_bytes;
    let flush = |out: &mut LogSegment,
                 pending: &mut Vec<u8>,
                 batches: &mut Vec<AppendedBatch>,
                 stats: &mut CleanStats|
     -> Result<(), CleanerError> {
        if pending.is_empty() {
            return Ok(());
        }
        ctx.throttle(pending.len());
        stats.bytes_written += pending.len() as u64;
        out.append(pending, batches, interval, now_ms)?;
        pending.clear();
        batches.clear();
        Ok(())
    };
    for seg in group {
        let tombstones_expire =
            now_ms.saturating_sub(seg.largest_timestamp) > config.delete_retention_ms;
        let tombstone_due = seg
            .largest_timestamp
            .saturating_add(config.delete_retention_ms);
        let mut read = 0u64;
        for_each_batch(seg, ctx, &mut read, |b, h| {
            let mut kept_tombstone = false;
            let (filtered, removed) = if h.is_control() {
                (Filtered::Unchanged, 0)
            } else {
                filter_batch(b, h, |offset, key, tombstone| {
                    let latest = match key {
                        Some(k) => map.get(k).is_none_or(|&o| o <= offset),
                        None => true,
                    };
                    let keep = latest && !(tombstone && tombstones_expire);
                    kept_tombstone |= keep && tombstone;
                    keep
                })?
            };
            if kept_tombstone {
                stats.tombstones_due_ms = stats.tombstones_due_ms.min(tombstone_due);
            }
            stats.records_removed += removed;
            let bytes: &[u8] = match &filtered {
                Filtered::Unchanged => b,
                Filtered::Empty => {
                    changed = true;
                    return Ok(());
                }
                Filtered::Rewritten(v) => {
                    changed = true;
                    v
                }
            };
            let nh = BatchHeader::parse(bytes)?;
            batches.push(AppendedBatch {
                position: pending.len(),
                size: bytes.len(),
                last_offset: nh.last_offset(),
                max_timestamp: nh.max_timestamp,
            });
            pending.extend_from_slice(bytes);
            if pending.len() >= WRITE_CHUNK {
                flush(&mut out, &mut pending, &mut batches, stats)?;
            }
            Ok(())
        })?;
        stats.bytes_read += read;
    }
    flush(&mut out, &mut pending, &mut batches, stats)?;
    out.close()?;
    let files = [
        out.log_path().to_path_buf(),
        out.offset_index().path().to_path_buf(),
        out.time_index().path().to_path_buf(),
    ];
    drop(out);
    if !changed {
        for f in files {
            let _ = std::fs::remove_file(f);
        }
        return Ok(false);
    }
    for f in files {
        let Some(name) = f.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let to = dir.join(format!("{name}{CLEANED_SUFFIX}"));
        std::fs::rename(&f, &to).map_err(|e| io_err(&f, e))?;
    }
    Ok(true)
}

/// Cleans one compacted log whose dirty section starts at `first_dirty`; see
/// the module docs. The write lock is held only for the swaps.
pub fn clean_log(
    lock: &RwLock<Log>,
    first_dirty: i64,
    now_ms: i64,
    ctx: &CleanContext,
) -> Result<CleanStats, CleanerError> {
    let started = Instant::now();
    let (dir, config, snapshot, log_start, segments_before) = {
        let log = lock.read();
        let snapshot: Vec<SegmentSnapshot> = log
            .cleanable_segments(now_ms)
            .iter()
            .map(|s| {
                Ok(SegmentSnapshot {
                    base_offset: s.base_offset(),
                    next_offset: s.next_offset(),
                    size: s.size(),
                    largest_timestamp: s.max_timestamp(),
                    file: s.log_file()?,
                    path: s.log_path().to_path_buf(),
                })
            })
            .collect::<Result<_, LogError>>()?;
        (
            log.dir.clone(),
            log.config.clone(),
            snapshot,
            log.log_start_offset,
            log.segments.len(),
        )
    };
    let mut stats = CleanStats {
        segments_before,
        tombstones_due_ms: i64::MAX,
        ..CleanStats::default()
    };
    let first_dirty = first_dirty.max(log_start);

    // 1. The offset map over the dirty section, bounded.
    let mut map: HashMap<Vec<u8>, i64> = HashMap::new();
    let mut map_bytes = 0usize;
    let mut end_index = 0usize;
    for (i, seg) in snapshot.iter().enumerate() {
        end_index = i + 1;
        if seg.next_offset <= first_dirty {
            continue;
        }
        for_each_batch(seg, ctx, &mut stats.bytes_read, |b, h| {
            if h.is_control() {
                return Ok(());
            }
            let data = decompressed_section(b, h)?;
            for r in records(&data, h.record_count)? {
                let r = r.map_err(LogError::from)?;
                let Some(key) = r.key else { continue };
                let offset = h.base_offset + i64::from(r.offset_delta);
                if offset < first_dirty {
                    continue;
                }
                match map.get_mut(key) {
                    Some(o) => *o = (*o).max(offset),
                    None => {
                        map_bytes += key.len() + MAP_ENTRY_OVERHEAD;
                        map.insert(key.to_vec(), offset);
                    }
                }
            }
            Ok(())
        })?;
        if map_bytes >= ctx.map_budget {
            tracing::info!(
                dir = %dir.display(),
                entries = map.len(),
                "offset map full: cleaning up to offset {}",
                seg.next_offset
            );
            break;
        }
    }
    let range = snapshot.get(..end_index).unwrap_or(&[]);
    let Some(end_offset) = range.last().map(|s| s.next_offset) else {
        stats.end_offset = first_dirty;
        stats.segments_after = segments_before;
        return Ok(stats);
    };
    stats.end_offset = end_offset;

    // 2. Groups of consecutive segments, each at most segment.bytes.
    let max_size = config.segment_bytes.min(i32::MAX as u64);
    let mut groups: Vec<&[SegmentSnapshot]> = Vec::new();
    let mut start = 0usize;
    while start < range.len() {
        let mut end = start + 1;
        let mut size = range.get(start).map_or(0, |s| s.size);
        let base = range.get(start).map_or(0, |s| s.base_offset);
        while let Some(next) = range.get(end) {
            if size + next.size > max_size || next.next_offset - base > i64::from(i32::MAX) {
                break;
            }
            size += next.size;
            end += 1;
        }
        groups.push(range.get(start..end).unwrap_or(&[]));
        start = end;
    }

    // 3. Clean and swap group by group.
    let scratch = dir
        .parent()
        .unwrap_or(&dir)
        .join(SCRATCH_DIR)
        .join(dir.file_name().unwrap_or_default());
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| io_err(&scratch, e))?;
    let result = (|| -> Result<(), CleanerError> {
        for group in groups {
            ctx.check()?;
            let changed = write_cleaned_group(
                group, &dir, &scratch, &config, &map, now_ms, ctx, &mut stats,
            )?;
            if !changed {
                continue;
            }
            let bases: Vec<i64> = group.iter().map(|s| s.base_offset).collect();
            let swapped = lock.write().swap_cleaned(&bases);
            match swapped {
                Ok(deleted) => {
                    let due = now_ms.saturating_add(config.file_delete_delay_ms.max(0));
                    ctx.deleter.schedule(deleted, due);
                }
                Err(e) => {
                    remove_cleaned(&dir, bases.first().copied().unwrap_or(0));
                    return Err(e);
                }
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    stats.segments_after = lock.read().segments.len();
    tracing::info!(
        dir = %dir.display(),
        bytes_read = stats.bytes_read,
        bytes_written = stats.bytes_written,
        records_removed = stats.records_removed,
        segments = %format!("{} -> {}", stats.segments_before, stats.segments_after),
        end_offset = stats.end_offset,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "cleaned log"
    );
    Ok(stats)
}

fn remove_cleaned(dir: &Path, base: i64) {
    for s in [
        segment::LOG_FILE_SUFFIX,
        segment::INDEX_FILE_SUFFIX,
        segment::TIME_INDEX_FILE_SUFFIX,
    ] {
        for suffix in [CLEANED_SUFFIX, SWAP_SUFFIX] {
            let _ =
                std::fs::remove_file(dir.join(format!("{}{suffix}", segment::file_name(base, s))));
        }
    }
}

/// Completes the swaps a crash interrupted (called by `Log::open` before it
/// lists the segments): every `<base>.log.swap` was committed, so the
/// segments it covers (base offsets in `[base, its next offset)`, and `base`
/// itself) are deleted and it takes their place. Its indexes are rebuilt.
pub fn complete_swaps(dir: &Path) -> Result<(), LogError> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    let log_swap = format!(".{}{SWAP_SUFFIX}", segment::LOG_FILE_SUFFIX);
    let mut completed = false;
    for name in names.iter().filter(|n| n.ends_with(&log_swap)) {
        let Some((base, _)) = segment::parse_file_name(name) else {
            continue;
        };
        let swap = dir.join(name);
        let next = next_offset_of_file(&swap)?;
        tracing::warn!(swap = %swap.display(), base, next_offset = next, "completing an interrupted log cleaner swap");
        for other in &names {
            let Some((b, suffix)) = segment::parse_file_name(other) else {
                continue;
            };
            let is_segment_file = matches!(
                suffix,
                segment::LOG_FILE_SUFFIX
                    | segment::INDEX_FILE_SUFFIX
                    | segment::TIME_INDEX_FILE_SUFFIX
            );
            if is_segment_file && (b == base || (base..next).contains(&b)) {
                let p = dir.join(other);
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&p, e)),
                }
            }
        }
        let to = dir.join(segment::file_name(base, segment::LOG_FILE_SUFFIX));
        std::fs::rename(&swap, &to).map_err(|e| io_err(&swap, e))?;
        completed = true;
    }
    if completed {
        checkpoint::sync_dir(dir)?;
    }
    Ok(())
}

/// The offset after the last whole batch of a segment file (its base offset
/// when empty), from the batch headers.
fn next_offset_of_file(path: &Path) -> Result<i64, LogError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let size = file.metadata().map_err(|e| io_err(path, e))?.len();
    let base = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(segment::parse_file_name)
        .map_or(0, |(b, _)| b);
    let mut next = base;
    let mut pos = 0u64;
    let mut head = [0u8; BATCH_HEADER_SIZE];
    while pos + BATCH_HEADER_SIZE as u64 <= size {
        file.read_exact_at(&mut head, pos)
            .map_err(|e| io_err(path, e))?;
        let Ok(h) = BatchHeader::parse(&head) else {
            break;
        };
        if pos + h.total_size() as u64 > size {
            break;
        }
        next = h.last_offset() + 1;
        pos += h.total_size() as u64;
    }
    Ok(next)
}

// ---------------------------------------------------------------------------
// The cleaner threads
// ---------------------------------------------------------------------------

/// The first dirty offsets, persisted per log dir as Kafka's
/// `cleaner-offset-checkpoint`.
#[derive(Default)]
struct Checkpoints {
    /// Partition dir → first dirty offset.
    offsets: HashMap<PathBuf, i64>,
    /// Log dirs whose checkpoint file was read.
    loaded: HashSet<PathBuf>,
    /// Partition dir → earliest time a kept tombstone may go.
    tombstones_due: HashMap<PathBuf, i64>,
}

impl Checkpoints {
    fn first_dirty(&mut self, partition_dir: &Path) -> i64 {
        if let Some(parent) = partition_dir.parent() {
            if self.loaded.insert(parent.to_path_buf()) {
                match checkpoint::read_checkpoint(&parent.join(CLEANER_OFFSET_CHECKPOINT_FILE)) {
                    Ok(entries) => {
                        for ((topic, partition), offset) in entries {
                            self.offsets
                                .entry(parent.join(format!("{topic}-{partition}")))
                                .or_insert(offset);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the cleaner checkpoint; logs are cleaned from their start")
                    }
                }
            }
        }
        self.offsets.get(partition_dir).copied().unwrap_or(0)
    }

    fn update(&mut self, partition_dir: &Path, offset: i64) -> Result<(), LogError> {
        self.offsets.insert(partition_dir.to_path_buf(), offset);
        let Some(parent) = partition_dir.parent() else {
            return Ok(());
        };
        let mut entries: Vec<(String, i32, i64)> = self
            .offsets
            .iter()
            .filter(|(d, _)| d.parent() == Some(parent) && d.exists())
            .filter_map(|(d, o)| {
                let name = d.file_name()?.to_str()?;
                let (t, p) = parse_partition_dir_name(name)?;
                Some((t, p, *o))
            })
            .collect();
        entries.sort();
        checkpoint::write_checkpoint(&parent.join(CLEANER_OFFSET_CHECKPOINT_FILE), &entries)
    }
}

/// The running cleaner threads. Dropping without [`LogCleaner::shutdown`]
/// leaves them running until the process ends.
pub struct LogCleaner {
    ctx: Arc<CleanContext>,
    threads: Vec<JoinHandle<()>>,
}

/// The logs the cleaner looks at: (topic, partition, the log's lock).
pub type LogSource<P> = Arc<dyn Fn() -> Vec<(String, i32, Arc<P>)> + Send + Sync>;

impl LogCleaner {
    /// Starts `config.threads` cleaner threads over the logs `source` lists.
    pub fn start<P>(
        config: CleanerConfig,
        source: LogSource<P>,
        deleter: Arc<FileDeleter>,
    ) -> Result<LogCleaner, LogError>
    where
        P: AsRef<RwLock<Log>> + Send + Sync + 'static,
    {
        let threads_n = config.threads;
        let ctx = Arc::new(CleanContext::new(
            config.dedupe_buffer_size / threads_n.max(1),
            config.io_max_bytes_per_second,
            deleter,
        ));
        let in_progress: Arc<Mutex<HashSet<PathBuf>>> = Arc::default();
        let checkpoints: Arc<Mutex<Checkpoints>> = Arc::default();
        let mut threads = Vec::with_capacity(threads_n);
        for id in 0..threads_n {
            let ctx = ctx.clone();
            let source = source.clone();
            let in_progress = in_progress.clone();
            let checkpoints = checkpoints.clone();
            let backoff = Duration::from_millis(config.backoff_ms.max(10));
            let handle = std::thread::Builder::new()
                .name(format!("strom-log-cleaner-{id}"))
                .spawn(move || {
                    let span = tracing::info_span!("log-cleaner", thread = id);
                    let _enter = span.enter();
                    loop {
                        if ctx.stopped() {
                            return;
                        }
                        let worked = clean_dirtiest(&source, &ctx, &in_progress, &checkpoints);
                        if !worked && ctx.sleep(backoff) {
                            return;
                        }
                    }
                })
                .map_err(|e| io_err(Path::new("strom-log-cleaner"), e))?;
            threads.push(handle);
        }
        Ok(LogCleaner { ctx, threads })
    }

    /// Stops the threads (a clean in progress is abandoned; its `.cleaned`
    /// files are removed or found at the next start) and waits for them.
    pub fn shutdown(self) {
        *self.ctx.stop.lock() = true;
        self.ctx.wake.notify_all();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Picks the dirtiest cleanable compacted log not being cleaned by another
/// thread and cleans it. Returns whether it cleaned something.
fn clean_dirtiest<P: AsRef<RwLock<Log>>>(
    source: &LogSource<P>,
    ctx: &CleanContext,
    in_progress: &Mutex<HashSet<PathBuf>>,
    checkpoints: &Mutex<Checkpoints>,
) -> bool {
    let now = crate::util::now_ms();
    let mut best: Option<(f64, String, i32, Arc<P>, PathBuf, i64)> = None;
    for (topic, partition, p) in source() {
        let lock: &RwLock<Log> = (*p).as_ref();
        let (dir, compact, ratio_min) = {
            let log = lock.read();
            (
                log.dir.clone(),
                log.config.cleanup_compact,
                log.config.min_cleanable_dirty_ratio,
            )
        };
        if !compact || in_progress.lock().contains(&dir) {
            continue;
        }
        let (first_dirty, tombstones_due) = {
            let mut c = checkpoints.lock();
            let fd = c.first_dirty(&dir);
            (fd, c.tombstones_due.get(&dir).copied().unwrap_or(i64::MAX))
        };
        let d = lock.read().dirtiness(first_dirty, now);
        let due = tombstones_due <= now;
        let eligible = (d.dirty_bytes > 0 && (d.ratio >= ratio_min || d.overdue)) || due;
        if !eligible {
            continue;
        }
        let score = if d.overdue || due { 2.0 } else { d.ratio };
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, topic, partition, p.clone(), dir, first_dirty));
        }
    }
    let Some((_, topic, partition, p, dir, first_dirty)) = best else {
        return false;
    };
    if !in_progress.lock().insert(dir.clone()) {
        return false;
    }
    let span = tracing::info_span!("clean", topic = %topic, partition);
    let _enter = span.enter();
    let result = clean_log((*p).as_ref(), first_dirty, now, ctx);
    in_progress.lock().remove(&dir);
    match result {
        Ok(stats) => {
            crate::metrics::cleaner_cleaned(stats.bytes_read);
            let mut c = checkpoints.lock();
            if stats.tombstones_due_ms == i64::MAX {
                c.tombstones_due.remove(&dir);
            } else {
                c.tombstones_due
                    .insert(dir.clone(), stats.tombstones_due_ms);
            }
            if let Err(e) = c.update(&dir, stats.end_offset) {
                tracing::warn!(error = %e, "cannot write the cleaner checkpoint");
            }
            true
        }
        Err(CleanerError::Aborted) => false,
        Err(CleanerError::LogChanged) => {
            tracing::info!("log changed during cleaning; it is cleaned again later");
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "cleaning failed; retrying after the backoff");
            // Avoid picking the same log in a tight loop.
            checkpoints.lock().tombstones_due.remove(&dir);
            false
        }
    }
}

#[cfg(test)]
mod tests;
