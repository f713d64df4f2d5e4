//! The partition log: a directory of segments holding v2 record batches in
//! Kafka's on-disk format, crash recovery, and the log manager owning the
//! log directories.
//!
//! **API boundary**: [`Log`], [`LogError`], [`AppendInfo`], [`batch::BatchHeader`]
//! and [`manager::LogManager`] are what other modules use.
//!
//! Invariants:
//! - offsets are dense and assigned here: `append` rewrites each batch's
//!   baseOffset (outside the CRC) and never decodes records;
//! - an append is validated entirely before any byte is written, and is
//!   written with one positional (vectored) write into the active segment:
//!   the caller's bytes with each batch's prefix patched, copied only when a
//!   batch must be rewritten (LogAppendTime, re-encoding);
//! - everything below [`Log::recovery_point`] has been fsynced. Without the
//!   clean-shutdown marker, segments from the one holding the recovery point
//!   are re-validated on open and a torn or corrupt tail is truncated;
//! - durability: like Kafka, nothing is fsynced by default (page-cache
//!   durability only). With `flush.messages=1` every append is fsynced before
//!   `append` returns, i.e. before the produce is acknowledged. Rolled
//!   segments are fsynced by a background thread, as Kafka schedules it.
//! - `read` takes `&self` and uses positional reads: many readers run
//!   concurrently under the caller's read lock; `append` needs the write lock.

pub mod config;
pub mod file_cache;
pub use config::{LogConfig, TimestampType};
pub mod batch;
pub mod checkpoint;
pub mod cleaner;
pub mod index;
pub mod leader_epoch;
pub mod manager;
pub mod producer_state;
pub mod retention;
pub mod segment;
pub mod validator;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::{Bytes, BytesMut};

/// A fetch's batches as byte ranges of segment files ([`Log::read_file_records`]).
pub use crate::records::file::{FileRecords, FileSlice};

use batch::{BATCH_HEADER_SIZE, LOG_OVERHEAD, PATCHED_PREFIX_SIZE, TIMESTAMP_TYPE_MASK};
use segment::{AppendedBatch, LogSegment};

/// The slices of a vectored append: for each batch of `records` (at
/// `infos`' positions) its patched prefix, then the rest of its bytes.
fn batch_parts<'a>(
    records: &'a [u8],
    infos: &[batch::BatchInfo],
    prefixes: &'a [[u8; PATCHED_PREFIX_SIZE]],
) -> Result<Vec<std::io::IoSlice<'a>>, LogError> {
    let mut parts = Vec::with_capacity(infos.len() * 2);
    for (b, prefix) in infos.iter().zip(prefixes) {
        let rest = records
            .get(b.position + PATCHED_PREFIX_SIZE..b.position + b.size)
            .ok_or_else(|| LogError::CorruptMessage("record batch truncated".into()))?;
        parts.push(std::io::IoSlice::new(prefix));
        parts.push(std::io::IoSlice::new(rest));
    }
    Ok(parts)
}

/// A [`LogError::Io`] naming the file it happened on.
pub(crate) fn io_err(path: &Path, source: std::io::Error) -> LogError {
    LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Errors of the log, each mapping to a Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// CORRUPT_MESSAGE (2).
    #[error("corrupt record batch: {0}")]
    CorruptMessage(String),
    /// INVALID_RECORD (87).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// INVALID_RECORD (87) for particular records of a batch, reported to
    /// the producer by their index in the batch (KIP-467).
    #[error("invalid records at batch indexes {indexes:?}: {message}")]
    InvalidRecords { message: String, indexes: Vec<i32> },
    /// MESSAGE_TOO_LARGE (10).
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge { size: usize, max: i32 },
    /// UNSUPPORTED_FOR_MESSAGE_FORMAT (43).
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    /// OFFSET_OUT_OF_RANGE (1).
    #[error("offset {offset} is out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start: i64,
        log_end: i64,
    },
    /// INVALID_TIMESTAMP (32).
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    /// INVALID_PRODUCER_EPOCH (47): an idempotent producer's epoch is older than the partition's.
    #[error("invalid producer epoch: {0}")]
    InvalidProducerEpoch(String),
    /// OUT_OF_ORDER_SEQUENCE_NUMBER (45): an idempotent producer skipped or reordered a sequence.
    #[error("out of order sequence number: {0}")]
    OutOfOrderSequence(String),
    /// Another process holds the log dir's `.lock` (start-up only; Kafka
    /// refuses to start the same way).
    #[error(
        "log dir {dir} is locked by another process ({holder}); is another broker running on it?"
    )]
    LogDirLocked {
        /// The log dir.
        dir: PathBuf,
        /// What the lock file says of its holder (its pid), or "unknown".
        holder: String,
    },
    /// A log dir that cannot be used (start-up only): the whole message an
    /// operator sees, naming `log.dirs`, the dir, the problem once, and the fix.
    #[error("log.dirs {dir}: {problem}; {fix}")]
    LogDirUnusable {
        /// The log dir as configured.
        dir: PathBuf,
        /// What is wrong with it (`not a directory`, `not writable: Permission denied …`).
        problem: String,
        /// What to do about it.
        fix: String,
    },
    /// KAFKA_STORAGE_ERROR (56).
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::records::RecordsError> for LogError {
    fn from(e: crate::records::RecordsError) -> Self {
        use crate::records::RecordsError as R;
        match e {
            R::Corrupt(m) => LogError::CorruptMessage(m),
            R::UnsupportedMagic(m) => LogError::UnsupportedMagic(m),
            e @ (R::Compress { .. } | R::Oversized(_)) => LogError::InvalidRecord(e.to_string()),
        }
    }
}

impl LogError {
    /// The Kafka protocol error code of this error.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            LogError::CorruptMessage(_) => 2,
            LogError::InvalidRecord(_) | LogError::InvalidRecords { .. } => 87,
            LogError::MessageTooLarge { .. } => 10,
            LogError::UnsupportedMagic(_) => 43,
            LogError::OffsetOutOfRange { .. } => 1,
            LogError::Io { .. }
            | LogError::LogDirLocked { .. }
            | LogError::LogDirUnusable { .. } => 56,
            LogError::InvalidTimestamp(_) => 32,
            LogError::InvalidProducerEpoch(_) => 47,
            LogError::OutOfOrderSequence(_) => 45,
        }
    }
}

/// What an append did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    /// Base offset assigned to the first batch (-1 for an empty append).
    pub first_offset: i64,
    /// Last offset assigned (-1 for an empty append).
    pub last_offset: i64,
    /// The broker time stamped into the batches with LogAppendTime, else -1.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    pub record_count: i64,
}

/// An fsync of the active segment owed before an append may be acknowledged,
/// run outside the log's lock (see [`Log::append_with_deferred_sync`]).
#[derive(Debug)]
pub struct PendingSync {
    file: std::sync::Arc<std::fs::File>,
    path: PathBuf,
    /// The end of the append this sync makes durable.
    end_offset: i64,
    /// How far the same segment has been written (by later appends too).
    written: std::sync::Arc<AtomicI64>,
    /// The log's recovery point.
    durable: std::sync::Arc<AtomicI64>,
    lock: std::sync::Arc<parking_lot::Mutex<()>>,
}

impl PendingSync {
    /// Makes the append durable: skipped when an earlier fsync already
    /// covered it; otherwise one fsync of the segment covers everything
    /// written to it so far, and the recovery point moves there. (Older
    /// segments were durable when this sync was handed out.) Returns the
    /// offset everything below which is durable.
    pub fn sync(self) -> Result<i64, LogError> {
        let _serial = self.lock.lock();
        let durable = self.durable.load(Ordering::Acquire);
        if durable >= self.end_offset {
            return Ok(durable);
        }
        let target = self.written.load(Ordering::Acquire).max(self.end_offset);
        let started = std::time::Instant::now();
        self.file.sync_data().map_err(|source| LogError::Io {
            path: self.path.clone(),
            source,
        })?;
        crate::metrics::log_flushed(started.elapsed());
        self.durable.fetch_max(target, Ordering::AcqRel);
        Ok(target)
    }
}

/// One partition's log.
pub struct Log {
    dir: PathBuf,
    config: LogConfig,
    /// Sorted by base offset, never empty; the last one is active.
    segments: Vec<LogSegment>,
    log_start_offset: i64,
    /// Shared with the background flush of rolled segments.
    recovery_point: Arc<AtomicI64>,
    /// Group commit: the active segment's base offset and how far it was
    /// written when the last deferred fsync was handed out.
    active_written: Option<(i64, Arc<AtomicI64>)>,
    /// Serialises deferred fsyncs, so a waiter whose data an earlier fsync
    /// covered skips its own.
    sync_lock: Arc<parking_lot::Mutex<()>>,
    unflushed_messages: i64,
    last_flush_ms: i64,
    /// fsync of the segments rolled last (chained: each waits for the previous).
    roll_flush: Option<JoinHandle<bool>>,
    /// A file was created in `dir` since the last directory fsync.
    dir_dirty: bool,
    /// Idempotent producers' sequences (see `producer_state`).
    producer_state: producer_state::ProducerStateManager,
    /// Leader epochs and their start offsets (`leader-epoch-checkpoint`).
    leader_epochs: leader_epoch::LeaderEpochCache,
}

fn remove_file_if_exists(path: &Path) -> Result<(), LogError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path, e)),
    }
}

impl Log {
    /// Opens (creating if missing) the partition directory `dir`; see the
    /// module docs for recovery. Indexes missing or failing sanity checks are
    /// rebuilt from the `.log` even after a clean shutdown.
    pub fn open(
        dir: &Path,
        config: LogConfig,
        log_start_offset: i64,
        recovery_point: i64,
        clean_shutdown: bool,
        now_ms: i64,
    ) -> Result<Log, LogError> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        // A committed log cleaner swap takes its place before segments are listed.
        cleaner::complete_swaps(dir)?;
        let mut log_bases = Vec::new();
        let mut index_files = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err(dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = entry.path();
            if name.ends_with(".deleted")
                || name.ends_with(".cleaned")
                || name.ends_with(".swap")
                || name.ends_with(".tmp")
            {
                tracing::info!(file = %path.display(), "removing leftover temporary file");
                remove_file_if_exists(&path)?;
                continue;
            }
            match segment::parse_file_name(name) {
                Some((base, segment::LOG_FILE_SUFFIX)) => log_bases.push(base),
                Some((base, segment::INDEX_FILE_SUFFIX | segment::TIME_INDEX_FILE_SUFFIX)) => {
                    index_files.push((base, path))
                }
                _ => {}
            }
        }
        log_bases.sort_unstable();
        for (base, path) in index_files {
            if log_bases.binary_search(&base).is_err() {
                tracing::warn!(file = %path.display(), "removing index file without a log segment");
                remove_file_if_exists(&path)?;
            }
        }

        let mut segments: Vec<LogSegment> = Vec::with_capacity(log_bases.len().max(1));
        let mut dir_dirty = false;
        // Unclean: recover from the segment holding the recovery point.
        let recover_from = if clean_shutdown {
            usize::MAX
        } else {
            log_bases
                .partition_point(|&b| b <= recovery_point)
                .saturating_sub(1)
        };
        let mut recovered = Vec::new();
        let count = log_bases.len();
        let mut i = 0;
        while i < count {
            let Some(&base) = log_bases.get(i) else { break };
            let active = i + 1 == count;
            let mut seg = LogSegment::open(dir, base, &config, active)?;
            let truncated = if i >= recover_from {
                recovered.push(i);
                seg.recover(&config)?
            } else {
                seg.load(&config)?
            };
            segments.push(seg);
            if truncated > 0 && !active && i >= recover_from {
                let later = log_bases.get(i + 1..).unwrap_or(&[]);
                tracing::warn!(
                    dir = %dir.display(),
                    "deleting {} log segment(s) after the truncated segment {base}: {later:?}",
                    later.len()
                );
                for &b in later {
                    for suffix in [
                        segment::LOG_FILE_SUFFIX,
                        segment::INDEX_FILE_SUFFIX,
                        segment::TIME_INDEX_FILE_SUFFIX,
                    ] {
                        remove_file_if_exists(&dir.join(segment::file_name(b, suffix)))?;
                    }
                }
                dir_dirty = true;
                if let Some(last) = segments.last_mut() {
                    last.activate()?;
                }
                break;
            }
            i += 1;
        }

        let mut log_start_offset = log_start_offset.max(0);
        match segments.first() {
            None => {
                segments.push(LogSegment::create(dir, log_start_offset, &config)?);
                dir_dirty = true;
            }
            Some(first) => {
                log_start_offset = log_start_offset.max(first.base_offset());
                let log_end = segments.last().map_or(0, |s| s.next_offset());
                if log_start_offset > log_end {
                    tracing::warn!(
                        dir = %dir.display(),
                        log_start_offset,
                        log_end,
                        "log start offset is beyond the log end: deleting all segments and starting at the log start offset"
                    );
                    for seg in segments.drain(..) {
                        seg.delete()?;
                    }
                    segments.push(LogSegment::create(dir, log_start_offset, &config)?);
                    dir_dirty = true;
                }
            }
        }

        let mut log = Log {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset,
            recovery_point: Arc::new(AtomicI64::new(0)),
            active_written: None,
            sync_lock: Arc::new(parking_lot::Mutex::new(())),
            unflushed_messages: 0,
            last_flush_ms: now_ms,
            roll_flush: None,
            dir_dirty,
            producer_state: producer_state::ProducerStateManager::new(),
            leader_epochs: leader_epoch::LeaderEpochCache::load(dir),
        };
        log.load_producer_state()?;
        log.load_leader_epochs()?;
        // Recovered segments (and new files) are made durable now, so the
        // recovery point can be the log end.
        for seg in &mut log.segments {
            seg.flush()?;
        }
        if log.dir_dirty {
            checkpoint::sync_dir(&log.dir)?;
            log.dir_dirty = false;
        }
        let end = log.log_end_offset();
        log.recovery_point.store(end, Ordering::Release);
        tracing::debug!(
            dir = %log.dir.display(),
            segments = log.segments.len(),
            log_start_offset = log.log_start_offset,
            log_end_offset = end,
            recovered = recovered.len(),
            "opened log"
        );
        Ok(log)
    }

    fn active(&self) -> Result<&LogSegment, LogError> {
        self.segments
            .last()
            .ok_or_else(|| io_err(&self.dir, std::io::Error::other("log has no segment")))
    }

    fn active_mut(&mut self) -> Result<&mut LogSegment, LogError> {
        let dir = self.dir.clone();
        self.segments
            .last_mut()
            .ok_or_else(|| io_err(&dir, std::io::Error::other("log has no segment")))
    }

    /// Validates and appends the record batches in `records`; see the module
    /// docs. On error nothing is appended.
    pub fn append(&mut self, records: &mut BytesMut, now_ms: i64) -> Result<AppendInfo, LogError> {
        let (info, sync) =
            self.append_with_deferred_sync(std::mem::take(records).freeze(), now_ms)?;
        if let Some(sync) = sync {
            let end = sync.sync()?;
            self.mark_flushed(end);
        }
        Ok(info)
    }

    /// Like [`Log::append`], but when `flush.messages`/`flush.ms` ask for an
    /// fsync that only the active segment's `.log` needs, the fsync is handed
    /// back as a [`PendingSync`] for the caller to run *after* releasing the
    /// log's write lock, and only then to acknowledge (group commit: appends
    /// made meanwhile by other producers are covered by one fsync). The
    /// caller then calls [`Log::mark_flushed`] with what it returns.
    ///
    /// `records` is not changed: each batch is written as its patched
    /// [`PATCHED_PREFIX_SIZE`] bytes (base offset, leader epoch) followed by
    /// the rest of its bytes in `records` (one vectored write), so a produce
    /// request's frame reaches the segment without a copy. Only batches that
    /// must be rewritten — re-encoded by the validator, or their timestamp
    /// and CRC changed (LogAppendTime) — are copied into a buffer first.
    pub fn append_with_deferred_sync(
        &mut self,
        records: Bytes,
        now_ms: i64,
    ) -> Result<(AppendInfo, Option<PendingSync>), LogError> {
        let mut infos = batch::validate_batches(&records, self.config.max_message_bytes)?;
        let producer = self.check_producers(&records, &infos, now_ms)?;
        if let producer_state::ProducerAppend::Duplicate(b) = producer {
            // The original may still await its fsync (group commit): a retry
            // is acknowledged only once it is durable too.
            if self.config.flush_messages != i64::MAX && self.recovery_point() <= b.last_offset {
                self.flush()?;
            }
            let info = AppendInfo {
                first_offset: b.first_offset,
                last_offset: b.last_offset,
                log_append_time: -1,
                log_start_offset: self.log_start_offset,
                record_count: 0,
            };
            return Ok((info, None));
        }
        let converted = validator::validate_records(&records, &infos, &self.config, now_ms)?;
        if let Some(converted) = &converted {
            infos = batch::validate_batches(converted, self.config.max_message_bytes)?;
        }
        if infos.is_empty() {
            let info = AppendInfo {
                first_offset: -1,
                last_offset: -1,
                log_append_time: -1,
                log_start_offset: self.log_start_offset,
                record_count: 0,
            };
            return Ok((info, None));
        }
        let record_count: i64 = infos
            .iter()
            .map(|b| i64::from(b.last_offset_delta) + 1)
            .sum();
        let first_offset = self.log_end_offset();
        let last_offset = first_offset + record_count - 1;
        let size = converted.as_ref().map_or(records.len(), |c| c.len());
        self.maybe_roll(size, last_offset, now_ms)?;

        let log_append_time = self.config.message_timestamp_type == TimestampType::LogAppendTime;
        // A batch whose timestamp type or max timestamp changes gets a new
        // CRC: that needs the whole batch in a buffer of its own.
        let rewrite = log_append_time
            || infos
                .iter()
                .any(|b| b.attributes & TIMESTAMP_TYPE_MASK != 0);
        let mut owned = match converted {
            Some(c) => Some(c),
            None if rewrite => Some(BytesMut::from(&records[..])),
            None => None,
        };
        let mut prefixes = Vec::with_capacity(if owned.is_some() { 0 } else { infos.len() });
        let mut appended = Vec::with_capacity(infos.len());
        let leader_epoch = self.leader_epoch();
        let mut next = first_offset;
        for b in &infos {
            let Some(buf) = owned.as_mut() else {
                let mut prefix = [0u8; PATCHED_PREFIX_SIZE];
                prefix.copy_from_slice(
                    records
                        .get(b.position..b.position + PATCHED_PREFIX_SIZE)
                        .ok_or_else(|| LogError::CorruptMessage("record batch truncated".into()))?,
                );
                batch::set_base_offset_and_epoch(&mut prefix, 0, next, leader_epoch)?;
                prefixes.push(prefix);
                let last = next + i64::from(b.last_offset_delta);
                appended.push(AppendedBatch {
                    position: b.position,
                    size: b.size,
                    last_offset: last,
                    max_timestamp: b.max_timestamp,
                });
                next = last + 1;
                continue;
            };
            batch::set_base_offset_and_epoch(buf, b.position, next, leader_epoch)?;
            let max_timestamp = if log_append_time {
                batch::set_max_timestamp(buf, b.position, b.size, true, now_ms)?;
                now_ms
            } else {
                if b.attributes & TIMESTAMP_TYPE_MASK != 0 {
                    batch::set_max_timestamp(buf, b.position, b.size, false, b.max_timestamp)?;
                }
                b.max_timestamp
            };
            let last = next + i64::from(b.last_offset_delta);
            appended.push(AppendedBatch {
                position: b.position,
                size: b.size,
                last_offset: last,
                max_timestamp,
            });
            next = last + 1;
        }
        let interval = self.config.index_interval_bytes;
        match &owned {
            Some(buf) => self
                .active_mut()?
                .append(buf, &appended, interval, now_ms)?,
            None => {
                let mut parts = batch_parts(&records, &infos, &prefixes)?;
                self.active_mut()?
                    .append_vectored(&mut parts, &appended, interval, now_ms)?;
            }
        }
        if let producer_state::ProducerAppend::Batch(h) = producer {
            self.producer_state
                .update(&h, first_offset, last_offset, now_ms);
        }
        // A log opened without a leader (tests, tools) starts its epoch here.
        // The batches are written: a failed checkpoint write is reported, not
        // the append (the cache in memory has the entry).
        if self.leader_epochs.latest_epoch().is_none() {
            if let Err(e) = self.leader_epochs.assign(leader_epoch, first_offset) {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the leader epoch checkpoint");
            }
        }

        self.unflushed_messages += record_count;
        let pending = if self.unflushed_messages >= self.config.flush_messages
            || self.flush_ms_elapsed(now_ms)
        {
            self.deferred_flush(now_ms)?
        } else {
            None
        };
        let info = AppendInfo {
            first_offset,
            last_offset,
            log_append_time: if log_append_time { now_ms } else { -1 },
            log_start_offset: self.log_start_offset,
            record_count,
        };
        Ok((info, pending))
    }

    /// Whether `flush.ms` has passed since the last flush.
    fn flush_ms_elapsed(&self, now_ms: i64) -> bool {
        self.config.flush_ms != i64::MAX
            && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms
    }

    /// Kafka's scheduled flush (`log.flush.scheduler.interval.ms`): when
    /// `flush.ms` has passed since the last flush and something is unflushed,
    /// flushes — deferred as in [`Log::append_with_deferred_sync`] when only
    /// the active segment needs it.
    pub fn flush_if_due(&mut self, now_ms: i64) -> Result<Option<PendingSync>, LogError> {
        if !self.flush_ms_elapsed(now_ms) || self.recovery_point() >= self.log_end_offset() {
            return Ok(None);
        }
        self.deferred_flush(now_ms)
    }

    /// Flushes now, or hands back a [`PendingSync`] of the active segment
    /// when no other segment needs one.
    fn deferred_flush(&mut self, now_ms: i64) -> Result<Option<PendingSync>, LogError> {
        self.last_flush_ms = now_ms;
        if !self.only_active_is_dirty() {
            self.flush()?;
            return Ok(None);
        }
        let end_offset = self.log_end_offset();
        let active = self.active()?;
        let base = active.base_offset();
        let (file, path) = (active.log_file()?, active.log_path().to_path_buf());
        let written = match &self.active_written {
            Some((b, w)) if *b == base => {
                w.fetch_max(end_offset, Ordering::AcqRel);
                w.clone()
            }
            _ => {
                let w = Arc::new(AtomicI64::new(end_offset));
                self.active_written = Some((base, w.clone()));
                w
            }
        };
        self.unflushed_messages = 0;
        Ok(Some(PendingSync {
            file,
            path,
            end_offset,
            written,
            durable: self.recovery_point.clone(),
            lock: self.sync_lock.clone(),
        }))
    }

    /// True when an fsync of the active segment's `.log` alone makes the
    /// whole log durable: no rolled segment awaits its fsync, the directory
    /// needs none, and every older segment is below the recovery point.
    fn only_active_is_dirty(&self) -> bool {
        if self.roll_flush.is_some() || self.dir_dirty {
            return false;
        }
        let recovery_point = self.recovery_point();
        let older = self.segments.len().saturating_sub(1);
        self.segments
            .iter()
            .take(older)
            .all(|seg| seg.next_offset() <= recovery_point)
    }

    /// Records that everything below `end_offset` is on disk (after a
    /// [`PendingSync`] ran): the recovery point advances.
    pub fn mark_flushed(&self, end_offset: i64) {
        self.recovery_point.fetch_max(end_offset, Ordering::AcqRel);
    }

    fn maybe_roll(
        &mut self,
        append_size: usize,
        last_offset: i64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let seg = self.active()?;
        if seg.size() == 0 {
            return Ok(());
        }
        let max_size = self.config.segment_bytes.min(i32::MAX as u64);
        let full = seg.size() + append_size as u64 > max_size;
        let aged = seg
            .rolling_base_ms()
            .is_some_and(|t| now_ms.saturating_sub(t) > self.config.segment_ms);
        let offsets_overflow = last_offset - seg.base_offset() > i64::from(i32::MAX);
        if full || aged || seg.is_index_full() || offsets_overflow {
            tracing::debug!(
                dir = %self.dir.display(),
                full, aged, index_full = seg.is_index_full(), offsets_overflow,
                "rolling log segment at offset {}", self.log_end_offset()
            );
            self.roll()?;
        }
        Ok(())
    }

    /// Seals the active segment, starts a new one at the log end offset and
    /// fsyncs the old one in the background (advancing the recovery point).
    fn roll(&mut self) -> Result<(), LogError> {
        let new_base = self.log_end_offset();
        let old = self.active_mut()?;
        old.seal()?;
        let files = old.files()?;
        let new = LogSegment::create(&self.dir, new_base, &self.config)?;
        self.segments.push(new);
        self.dir_dirty = true;
        self.write_producer_snapshot(false);

        let prev = self.roll_flush.take();
        let recovery_point = self.recovery_point.clone();
        let dir = self.dir.clone();
        let job = move || -> bool {
            let prev_ok = match prev {
                Some(h) => h.join().unwrap_or(false),
                None => true,
            };
            for f in &files {
                if let Err(e) = f.sync_data() {
                    tracing::warn!(dir = %dir.display(), error = %e, "fsync of rolled segment failed");
                    return false;
                }
            }
            if let Err(e) = checkpoint::sync_dir(&dir) {
                tracing::warn!(error = %e, "fsync of log dir failed");
                return false;
            }
            if prev_ok {
                recovery_point.fetch_max(new_base, Ordering::AcqRel);
            }
            prev_ok
        };
        match std::thread::Builder::new()
            .name("strom-log-flush".into())
            .spawn(job)
        {
            Ok(h) => self.roll_flush = Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "cannot spawn the segment flush thread; the next flush covers the rolled segment");
            }
        }
        Ok(())
    }

    /// Whole batches starting with the batch containing `offset`, up to
    /// `max_bytes` (or the whole first batch if `min_one_batch`). May span
    /// segments. `offset == log_end_offset` gives empty bytes.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<Bytes, LogError> {
        let Some(first) = self.first_segment_to_read(offset)? else {
            return Ok(Bytes::new());
        };
        let mut buf: Vec<u8> = Vec::new();
        let mut budget = max_bytes;
        for seg in self.segments.get(first..).unwrap_or(&[]) {
            let Some((pos, header)) = seg.translate_offset(offset)? else {
                continue;
            };
            let available = seg.size() - pos;
            let want = available.min(budget as u64) as usize;
            let start = buf.len();
            seg.read_append(pos, want, &mut buf)?;
            let chunk = buf.get(start..).unwrap_or(&[]);
            let mut p = 0usize;
            while p + LOG_OVERHEAD <= chunk.len() {
                let len = batch::get_i32(chunk, p + 8)?;
                if len < (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32 {
                    return Err(LogError::CorruptMessage(format!(
                        "batch at position {} of {} has length {len}",
                        pos + p as u64,
                        seg.log_path().display()
                    )));
                }
                let size = len as usize + LOG_OVERHEAD;
                if p + size > chunk.len() {
                    break;
                }
                p += size;
            }
            if p == 0 {
                if start == 0 && min_one_batch {
                    let size = header.total_size();
                    buf.clear();
                    seg.read_append(pos, size, &mut buf)?;
                    p = size;
                } else {
                    buf.truncate(start);
                    break;
                }
            }
            buf.truncate(start + p);
            budget = budget.saturating_sub(p);
            if (p as u64) < available || budget == 0 {
                break;
            }
        }
        Ok(Bytes::from(buf))
    }

    /// The batches [`Log::read`] returns, as byte ranges of the segment
    /// files instead of bytes in memory (for a zero-copy fetch): the same
    /// whole batches within the same limits, found from batch headers
    /// ([`LogSegment::whole_batches_end`]) without reading the data.
    pub fn read_file_records(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<FileRecords, LogError> {
        let mut out = FileRecords::default();
        let Some(first) = self.first_segment_to_read(offset)? else {
            return Ok(out);
        };
        let mut budget = max_bytes;
        for seg in self.segments.get(first..).unwrap_or(&[]) {
            let Some((pos, header)) = seg.translate_offset(offset)? else {
                continue;
            };
            let available = seg.size() - pos;
            let want = available.min(budget as u64);
            let mut p = seg.whole_batches_end(pos, pos + want)? - pos;
            if p == 0 {
                if out.is_empty() && min_one_batch {
                    p = header.total_size() as u64;
                } else {
                    break;
                }
            }
            out.push(FileSlice::new(seg.log_file()?, pos, p as usize));
            budget = budget.saturating_sub(p as usize);
            if p < available || budget == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// Where a read from `offset` starts: the index of the segment holding it,
    /// `None` at the log end (nothing to read), OFFSET_OUT_OF_RANGE outside the log.
    fn first_segment_to_read(&self, offset: i64) -> Result<Option<usize>, LogError> {
        let log_end = self.log_end_offset();
        if offset < self.log_start_offset || offset > log_end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end,
            });
        }
        if offset == log_end {
            return Ok(None);
        }
        Ok(Some(
            self.segments
                .partition_point(|s| s.base_offset() <= offset)
                .saturating_sub(1),
        ))
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The next offset to assign.
    pub fn log_end_offset(&self) -> i64 {
        self.segments
            .last()
            .map_or(self.log_start_offset, |s| s.next_offset())
    }

    /// Everything below this offset is fsynced.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point.load(Ordering::Acquire)
    }

    /// The earliest offset (>= log start) whose record timestamp is >= `ts`,
    /// with that timestamp; record-precise for uncompressed batches,
    /// batch-precise (base offset, max timestamp) for compressed ones.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        for seg in &self.segments {
            if seg.max_timestamp() < ts || seg.next_offset() <= self.log_start_offset {
                continue;
            }
            if let Some(found) = seg.find_offset_by_timestamp(ts, self.log_start_offset)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// ListOffsets v0's answer (Kafka's `UnifiedLog.legacyFetchOffsetsBefore`):
    /// up to `max_offsets` segment boundaries, newest first. The candidates are
    /// each segment's base offset (at least the log start) with the segment
    /// file's modification time, plus the log end offset at `now_ms` when the
    /// active segment is not empty; -1 (latest) starts at the last candidate,
    /// -2 (earliest) and -4 (earliest local) at the first, a timestamp at the
    /// last candidate whose time is at or before it.
    pub fn legacy_offsets_before(&self, timestamp: i64, max_offsets: i32, now_ms: i64) -> Vec<i64> {
        let mut candidates: Vec<(i64, i64)> = self
            .segments
            .iter()
            .map(|s| {
                (
                    s.base_offset().max(self.log_start_offset),
                    s.last_modified_ms(),
                )
            })
            .collect();
        if self.segments.last().is_some_and(|s| s.size() > 0) {
            candidates.push((self.log_end_offset(), now_ms));
        }
        let start = match timestamp {
            -1 => candidates.len(),
            -2 | -4 => candidates.len().min(1),
            ts => candidates
                .iter()
                .rposition(|&(_, modified)| modified <= ts)
                .map_or(0, |i| i + 1),
        };
        let take = usize::try_from(max_offsets).unwrap_or(0).min(start);
        let mut offsets: Vec<i64> = candidates
            .get(..start)
            .unwrap_or_default()
            .iter()
            .rev()
            .take(take)
            .map(|&(offset, _)| offset)
            .collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets
    }

    /// (max timestamp, offset of the record carrying it) over the whole log.
    pub fn max_timestamp_and_offset(&self) -> Option<(i64, i64)> {
        let mut best: Option<&LogSegment> = None;
        for seg in &self.segments {
            if seg.offset_of_max_timestamp() >= 0
                && best.is_none_or(|b| seg.max_timestamp() > b.max_timestamp())
            {
                best = Some(seg);
            }
        }
        let seg = best?;
        match seg.max_timestamp_and_offset() {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the batch with the max timestamp");
                Some((seg.max_timestamp(), seg.offset_of_max_timestamp()))
            }
        }
    }

    fn join_roll_flush(&mut self) {
        if let Some(h) = self.roll_flush.take() {
            let _ = h.join();
        }
    }

    /// fsyncs all dirty segments and indexes and advances the recovery point
    /// to the log end offset.
    pub fn flush(&mut self) -> Result<(), LogError> {
        let started = std::time::Instant::now();
        self.join_roll_flush();
        let recovery_point = self.recovery_point();
        let last = self.segments.len().saturating_sub(1);
        for (i, seg) in self.segments.iter_mut().enumerate() {
            if i == last || seg.next_offset() > recovery_point {
                seg.flush()?;
            }
        }
        if self.dir_dirty {
            checkpoint::sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        let end = self.log_end_offset();
        self.recovery_point.fetch_max(end, Ordering::AcqRel);
        self.unflushed_messages = 0;
        crate::metrics::log_flushed(started.elapsed());
        Ok(())
    }

    /// New settings apply from the next append (index sizes from the next segment).
    pub fn update_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Bytes of all segments' `.log` files.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size()).sum()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of segments (for tests and metrics).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The epoch stamped into appended batches: the latest leader epoch (0 on
    /// a single broker).
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epochs.latest_epoch().unwrap_or(0).max(0)
    }

    /// The leader epoch cache.
    pub fn leader_epochs(&self) -> &leader_epoch::LeaderEpochCache {
        &self.leader_epochs
    }

    /// Kafka's `maybeAssignEpochStartOffset`: this replica leads from `epoch`
    /// on, starting at `start_offset` (the log end when it became leader).
    pub fn assign_leader_epoch(&mut self, epoch: i32, start_offset: i64) -> Result<(), LogError> {
        self.leader_epochs.assign(epoch, start_offset).map(|_| ())
    }

    /// Kafka's `endOffsetForEpoch`: the epoch and end offset OffsetForLeaderEpoch
    /// answers for `epoch`, or `None` when it is unknown.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        let (found_epoch, offset) = self
            .leader_epochs
            .end_offset_for(epoch, self.log_end_offset());
        (offset != leader_epoch::UNDEFINED_EPOCH_OFFSET).then_some((found_epoch, offset))
    }

    /// Makes the leader epoch cache agree with the opened (maybe recovered)
    /// log: nothing starts beyond the log end or below the log start; an empty
    /// cache of a non-empty log is seeded from its first batch's epoch.
    fn load_leader_epochs(&mut self) -> Result<(), LogError> {
        let end = self.log_end_offset();
        self.leader_epochs.truncate_from_end(end)?;
        self.leader_epochs
            .truncate_from_start(self.log_start_offset)?;
        if self.leader_epochs.latest_epoch().is_none() && end > self.log_start_offset {
            let first = self
                .segments
                .iter()
                .find(|s| s.next_offset() > self.log_start_offset && s.size() > 0);
            if let Some(seg) = first {
                let h = seg.read_header(0)?;
                if h.partition_leader_epoch >= 0 {
                    self.leader_epochs
                        .assign(h.partition_leader_epoch, self.log_start_offset)?;
                }
            }
        }
        Ok(())
    }

    /// Moves the leader epoch cache's first entry up with the log start offset.
    /// (A failed write is reported: the cache in memory is right, and the
    /// next open truncates the file's entries again.)
    fn leader_epochs_follow_log_start(&mut self) {
        if let Err(e) = self
            .leader_epochs
            .truncate_from_start(self.log_start_offset)
        {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the leader epoch checkpoint");
        }
    }

    /// Flushes and closes: indexes trimmed to their used size as Kafka does.
    pub fn close(&mut self) -> Result<(), LogError> {
        self.join_roll_flush();
        for seg in &mut self.segments {
            seg.close()?;
        }
        self.write_producer_snapshot(true);
        if self.dir_dirty {
            checkpoint::sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        let end = self.log_end_offset();
        self.recovery_point.fetch_max(end, Ordering::AcqRel);
        self.unflushed_messages = 0;
        Ok(())
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.dir)
            .field("segments", &self.segments.len())
            .field("log_start_offset", &self.log_start_offset)
            .field("log_end_offset", &self.log_end_offset())
            .field("recovery_point", &self.recovery_point())
            .finish()
    }
}

#[cfg(test)]
mod tests;
