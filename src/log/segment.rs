//! One segment of a partition log: `<20-digit base offset>.log` with its
//! `.index` and `.timeindex`.
//!
//! The `.log` holds v2 record batches exactly as produced (offsets patched).
//! Invariants: `size` is the byte length of valid batches (reads never go
//! past it); batches are in strictly increasing offset order; every index
//! entry points at a batch start inside `size`. Only the active (last)
//! segment is appended to; sealing trims its indexes.

use std::fs::File;
use std::io::IoSlice;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::batch::{self, BatchHeader, BATCH_HEADER_SIZE, LOG_OVERHEAD};
use super::file_cache::SegmentFile;
use super::index::{OffsetIndex, TimeIndex};
use super::io_err;
use super::{LogConfig, LogError};

pub const LOG_FILE_SUFFIX: &str = "log";
pub const INDEX_FILE_SUFFIX: &str = "index";
pub const TIME_INDEX_FILE_SUFFIX: &str = "timeindex";

/// `<20-digit zero-padded base offset>.<suffix>`.
pub fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}.{suffix}")
}

/// Parses a segment file name back to its base offset and suffix.
pub fn parse_file_name(name: &str) -> Option<(i64, &str)> {
    let (stem, suffix) = name.split_once('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem.parse().ok()?, suffix))
}

/// Where one batch of an append goes, relative to the appended buffer.
#[derive(Clone, Copy, Debug)]
pub struct AppendedBatch {
    pub position: usize,
    pub size: usize,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

/// Reads a file forward in large chunks (recovery).
struct ChunkReader<'a> {
    file: &'a File,
    path: &'a Path,
    file_size: u64,
    buf: Vec<u8>,
    start: u64,
}

const CHUNK: usize = 1 << 20;

impl<'a> ChunkReader<'a> {
    fn get(&mut self, pos: u64, len: usize) -> Result<Option<&[u8]>, LogError> {
        let end = pos.saturating_add(len as u64);
        if end > self.file_size {
            return Ok(None);
        }
        let have_end = self.start + self.buf.len() as u64;
        if pos < self.start || end > have_end {
            let want = (len.max(CHUNK) as u64).min(self.file_size - pos) as usize;
            self.buf.resize(want, 0);
            self.file
                .read_exact_at(&mut self.buf, pos)
                .map_err(|e| io_err(self.path, e))?;
            self.start = pos;
        }
        let from = (pos - self.start) as usize;
        Ok(self.buf.get(from..from + len))
    }
}

pub struct LogSegment {
    base_offset: i64,
    /// The `.log` file, opened on demand (see [`super::file_cache`]).
    log: SegmentFile,
    /// Bytes of valid batches.
    size: u64,
    /// Last offset in the segment + 1 (base offset when empty).
    next_offset: i64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_last_index_entry: u64,
    /// Largest batch maxTimestamp seen (-1 when none) and the last offset of that batch.
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// Time of the first batch (for `segment.ms`).
    rolling_base_ms: Option<i64>,
    active: bool,
    log_dirty: bool,
    /// An index file was missing at open: rebuild on load.
    indexes_missing: bool,
}

impl LogSegment {
    /// Creates a new, empty, active segment (replacing leftover files of that name).
    pub fn create(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
    ) -> Result<LogSegment, LogError> {
        for suffix in [LOG_FILE_SUFFIX, INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX] {
            let p = dir.join(file_name(base_offset, suffix));
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&p, e)),
            }
        }
        let mut seg = Self::open(dir, base_offset, config, true)?;
        seg.indexes_missing = false;
        seg.log_dirty = true;
        Ok(seg)
    }

    /// Opens the files of an existing segment; call [`LogSegment::load`] or
    /// [`LogSegment::recover`] next to establish its next offset.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        active: bool,
    ) -> Result<LogSegment, LogError> {
        let log_path = dir.join(file_name(base_offset, LOG_FILE_SUFFIX));
        let index_path = dir.join(file_name(base_offset, INDEX_FILE_SUFFIX));
        let time_index_path = dir.join(file_name(base_offset, TIME_INDEX_FILE_SUFFIX));
        let indexes_missing = !index_path.exists() || !time_index_path.exists();
        let (log, open) = SegmentFile::open(&log_path)?;
        let size = open.metadata().map_err(|e| io_err(&log_path, e))?.len();
        drop(open);
        let index_bytes = config.segment_index_bytes;
        Ok(LogSegment {
            base_offset,
            log,
            size,
            next_offset: base_offset,
            offset_index: OffsetIndex::open(&index_path, base_offset, index_bytes, active)?,
            time_index: TimeIndex::open(&time_index_path, base_offset, index_bytes, active)?,
            bytes_since_last_index_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            rolling_base_ms: None,
            active,
            log_dirty: false,
            indexes_missing,
        })
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    /// Last offset of the batch carrying the max timestamp (-1 when none).
    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }
    pub fn rolling_base_ms(&self) -> Option<i64> {
        self.rolling_base_ms
    }
    pub fn log_path(&self) -> &Path {
        self.log.path()
    }
    /// The log file's modification time in ms (Kafka's `LogSegment.lastModified`), 0 when unknown.
    pub fn last_modified_ms(&self) -> i64 {
        std::fs::metadata(self.log_path())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64)
    }
    /// The `.log` file, shared (for an fsync outside the log's lock).
    pub fn log_file(&self) -> Result<Arc<File>, LogError> {
        self.log.get()
    }
    pub fn is_index_full(&self) -> bool {
        self.offset_index.is_full() || self.time_index.is_full()
    }
    pub fn offset_index(&self) -> &OffsetIndex {
        &self.offset_index
    }
    pub fn time_index(&self) -> &TimeIndex {
        &self.time_index
    }
    pub(crate) fn files(&self) -> Result<[Arc<File>; 3], LogError> {
        Ok([
            self.log.get()?,
            self.offset_index.file()?,
            self.time_index.file()?,
        ])
    }

    /// Reads the batch header at `pos` (must be inside `size`).
    pub fn read_header(&self, pos: u64) -> Result<BatchHeader, LogError> {
        if pos + BATCH_HEADER_SIZE as u64 > self.size {
            return Err(LogError::CorruptMessage(format!(
                "batch header at {pos} extends past the end ({}) of {}",
                self.size,
                self.log.path().display()
            )));
        }
        let mut buf = [0u8; BATCH_HEADER_SIZE];
        self.log
            .get()?
            .read_exact_at(&mut buf, pos)
            .map_err(|e| io_err(self.log.path(), e))?;
        let h = BatchHeader::parse(&buf)?;
        if pos + h.total_size() as u64 > self.size {
            return Err(LogError::CorruptMessage(format!(
                "batch at {pos} of {} bytes extends past the end ({}) of {}",
                h.total_size(),
                self.size,
                self.log.path().display()
            )));
        }
        Ok(h)
    }

    /// The end of the last whole batch in `start..limit`, `start` being a
    /// batch start (`start` itself when none fits): batch lengths are walked
    /// from the last index entry at or below `limit`, 12 bytes read per batch
    /// walked and none of their data — the boundaries [`Log::read`] finds in
    /// the bytes it reads.
    ///
    /// [`Log::read`]: super::Log::read
    pub fn whole_batches_end(&self, start: u64, limit: u64) -> Result<u64, LogError> {
        if limit >= self.size {
            return Ok(self.size.max(start));
        }
        let from = self.offset_index.floor_position(limit)?;
        let mut pos = from.map_or(start, |p| p.max(start));
        let file = self.log.get()?;
        let mut head = [0u8; LOG_OVERHEAD];
        while pos + LOG_OVERHEAD as u64 <= self.size {
            file.read_exact_at(&mut head, pos)
                .map_err(|e| io_err(self.log.path(), e))?;
            let len = i32::from_be_bytes([head[8], head[9], head[10], head[11]]);
            if len < (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32 {
                return Err(LogError::CorruptMessage(format!(
                    "batch at position {pos} of {} has length {len}",
                    self.log.path().display()
                )));
            }
            let next = pos + len as u64 + LOG_OVERHEAD as u64;
            if next > limit {
                break;
            }
            pos = next;
        }
        Ok(pos)
    }

    /// Positional read of `buf.len()` bytes at `pos`.
    pub fn read_into(&self, pos: u64, buf: &mut [u8]) -> Result<(), LogError> {
        self.log
            .get()?
            .read_exact_at(buf, pos)
            .map_err(|e| io_err(self.log.path(), e))
    }

    /// Appends the `len` bytes at `pos` to `buf`, read straight into its
    /// spare capacity (no zero-filling first: for a fetch that would be a
    /// pass over the data as costly as the read itself).
    pub fn read_append(&self, pos: u64, len: usize, buf: &mut Vec<u8>) -> Result<(), LogError> {
        let file = self.log.get()?;
        let end = buf.len() + len;
        buf.reserve_exact(len);
        while buf.len() < end {
            let at = pos + (buf.len() + len - end) as u64;
            match rustix::io::pread(&*file, rustix::buffer::spare_capacity(buf), at) {
                Ok(0) => {
                    return Err(LogError::CorruptMessage(format!(
                        "{} ends at {at}, before {} bytes from {pos} could be read",
                        self.log.path().display(),
                        len
                    )))
                }
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(io_err(self.log.path(), e.into())),
            }
        }
        // Spare capacity beyond `len` may have been filled too.
        buf.truncate(end);
        Ok(())
    }

    /// The first batch whose last offset is >= `offset`: its position and header.
    pub fn translate_offset(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let (_, pos) = self.offset_index.lookup(offset)?;
        let mut pos = u64::from(pos);
        while pos < self.size {
            let h = self.read_header(pos)?;
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
            pos += h.total_size() as u64;
        }
        Ok(None)
    }

    fn index_batch(
        &mut self,
        position: u64,
        size: u64,
        last_offset: i64,
        max_timestamp: i64,
        interval: u64,
    ) -> Result<(), LogError> {
        if max_timestamp > self.max_timestamp {
            self.max_timestamp = max_timestamp;
            self.offset_of_max_timestamp = last_offset;
        }
        if self.bytes_since_last_index_entry > interval {
            if let Ok(pos) = u32::try_from(position) {
                self.offset_index.append(last_offset, pos)?;
            }
            self.time_index.maybe_append(
                self.max_timestamp,
                self.offset_of_max_timestamp,
                false,
            )?;
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += size;
        Ok(())
    }

    /// Appends already validated and patched batches with one positional write.
    pub fn append(
        &mut self,
        buf: &[u8],
        batches: &[AppendedBatch],
        index_interval_bytes: u32,
        now_ms: i64,
    ) -> Result<(), LogError> {
        self.append_vectored(
            &mut [IoSlice::new(buf)],
            batches,
            index_interval_bytes,
            now_ms,
        )
    }

    /// [`LogSegment::append`] of the bytes of `parts` in order, as one
    /// positional vectored write (`pwritev`, repeated after a short write):
    /// the produce path writes each batch as its patched header prefix plus
    /// the request frame's bytes, without copying them into one buffer.
    /// `batches`' positions are relative to the first byte of `parts`.
    pub fn append_vectored(
        &mut self,
        parts: &mut [IoSlice<'_>],
        batches: &[AppendedBatch],
        index_interval_bytes: u32,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let start = self.size;
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let log = self.log.get()?;
        let written = write_all_vectored_at(parts, start, |slices, at| {
            rustix::io::pwritev(&*log, slices, at).map_err(std::io::Error::from)
        });
        if let Err(e) = written {
            let _ = log.set_len(start);
            return Err(io_err(self.log.path(), e));
        }
        self.log_dirty = true;
        for b in batches {
            self.index_batch(
                start + b.position as u64,
                b.size as u64,
                b.last_offset,
                b.max_timestamp,
                u64::from(index_interval_bytes),
            )?;
            self.next_offset = b.last_offset + 1;
        }
        self.size += len;
        if self.rolling_base_ms.is_none() {
            self.rolling_base_ms = Some(now_ms);
        }
        Ok(())
    }

    /// Opening after a clean shutdown (or below the recovery point): trusts the
    /// indexes after sanity checks and scans the batch headers after the last
    /// offset index entry. Falls back to [`LogSegment::recover`] when anything
    /// looks wrong. Returns the bytes truncated by such a recovery.
    pub fn load(&mut self, config: &LogConfig) -> Result<u64, LogError> {
        if self.indexes_missing {
            tracing::info!(segment = %self.log.path().display(), "index files missing, rebuilding them");
            return self.recover(config);
        }
        match self.load_from_indexes() {
            Ok(()) => Ok(0),
            Err(reason) => {
                tracing::warn!(segment = %self.log.path().display(), %reason, "index or segment inconsistent, rebuilding indexes");
                self.recover(config)
            }
        }
    }

    fn load_from_indexes(&mut self) -> Result<(), String> {
        self.offset_index.sanity_check(self.size)?;
        let (mut next, start) = match self.offset_index.last_entry().map_err(|e| e.to_string())? {
            Some((_, pos)) => (self.base_offset, u64::from(pos)),
            None => (self.base_offset, 0),
        };
        let (mut max_ts, mut off_max) =
            match self.time_index.last_entry().map_err(|e| e.to_string())? {
                Some((t, o)) => (t, o),
                None => (-1, -1),
            };
        let mut pos = start;
        while pos < self.size {
            let h = self.read_header(pos).map_err(|e| e.to_string())?;
            if h.base_offset < next || h.base_offset < self.base_offset {
                return Err(format!(
                    "batch at {pos} has base offset {} below {next}",
                    h.base_offset
                ));
            }
            if h.last_offset() - self.base_offset > i64::from(i32::MAX) {
                return Err(format!(
                    "batch at {pos} has offsets beyond the segment's range"
                ));
            }
            if h.max_timestamp > max_ts {
                max_ts = h.max_timestamp;
                off_max = h.last_offset();
            }
            next = h.last_offset() + 1;
            pos += h.total_size() as u64;
        }
        if next == self.base_offset && start > 0 {
            return Err("no batch after the last index entry".into());
        }
        self.time_index.sanity_check(next)?;
        self.next_offset = next;
        self.max_timestamp = max_ts;
        self.offset_of_max_timestamp = off_max;
        self.bytes_since_last_index_entry = self.size - start;
        self.rolling_base_ms = if self.size > 0 {
            let h = self.read_header(0).map_err(|e| e.to_string())?;
            Some(h.max_timestamp)
        } else {
            None
        };
        Ok(())
    }

    /// Validates every batch (size, magic, CRC, offsets increasing),
    /// truncates at the first bad one and rebuilds both indexes. Returns the
    /// number of bytes truncated.
    pub fn recover(&mut self, config: &LogConfig) -> Result<u64, LogError> {
        self.offset_index.make_active()?;
        self.time_index.make_active()?;
        self.offset_index.reset()?;
        self.time_index.reset()?;
        self.next_offset = self.base_offset;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.bytes_since_last_index_entry = 0;
        self.rolling_base_ms = None;
        let log = self.log.get()?;
        let file_size = log
            .metadata()
            .map_err(|e| io_err(self.log.path(), e))?
            .len();
        let path = self.log.path().to_path_buf();
        let mut reader = ChunkReader {
            file: &log,
            path: &path,
            file_size,
            buf: Vec::new(),
            start: 0,
        };
        let interval = u64::from(config.index_interval_bytes);
        let mut pos = 0u64;
        let problem: Option<String> = loop {
            if pos >= file_size {
                break None;
            }
            let Some(head) = reader.get(pos, LOG_OVERHEAD)? else {
                break Some("torn batch header".into());
            };
            let batch_length = batch::get_i32(head, 8)?;
            if batch_length < (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32 {
                break Some(format!("invalid batch length {batch_length}"));
            }
            let size = batch_length as usize + LOG_OVERHEAD;
            let Some(bytes) = reader.get(pos, size)? else {
                break Some(format!(
                    "batch of {size} bytes extends past the end of the file ({file_size} bytes)"
                ));
            };
            let h = match batch::check_batch_integrity(bytes) {
                Ok(h) => h,
                Err(e) => break Some(e.to_string()),
            };
            if h.base_offset < self.next_offset {
                break Some(format!(
                    "batch base offset {} is below the expected {}",
                    h.base_offset, self.next_offset
                ));
            }
            if h.last_offset() - self.base_offset > i64::from(i32::MAX) {
                break Some(format!(
                    "batch last offset {} is beyond the segment's range",
                    h.last_offset()
                ));
            }
            if pos == 0 {
                self.rolling_base_ms = Some(h.max_timestamp);
            }
            self.index_batch(pos, size as u64, h.last_offset(), h.max_timestamp, interval)?;
            self.next_offset = h.last_offset() + 1;
            pos += size as u64;
        };
        let truncated = file_size - pos;
        if let Some(reason) = problem {
            tracing::warn!(
                segment = %self.log.path().display(),
                position = pos,
                truncated_bytes = truncated,
                first_dropped_offset = self.next_offset,
                %reason,
                "truncating corrupt or torn tail of log segment: dropping {truncated} bytes from position {pos} (offsets from {} on)",
                self.next_offset
            );
            self.log
                .get()?
                .set_len(pos)
                .map_err(|e| io_err(self.log.path(), e))?;
            self.log_dirty = true;
        }
        self.size = pos;
        self.indexes_missing = false;
        if !self.active {
            self.seal()?;
        }
        Ok(truncated)
    }

    /// The segment stops being active: final time index entry, indexes
    /// written out and trimmed (Kafka's `onBecomeInactiveSegment`).
    pub fn seal(&mut self) -> Result<(), LogError> {
        self.time_index
            .maybe_append(self.max_timestamp, self.offset_of_max_timestamp, true)?;
        self.offset_index.seal()?;
        self.time_index.seal()?;
        self.active = false;
        Ok(())
    }

    /// fsyncs the `.log` and both indexes.
    pub fn flush(&mut self) -> Result<(), LogError> {
        if self.log_dirty {
            self.log
                .get()?
                .sync_data()
                .map_err(|e| io_err(self.log.path(), e))?;
            self.log_dirty = false;
        }
        self.offset_index.flush()?;
        self.time_index.flush()
    }

    /// Makes a sealed segment the active one again (after later segments were dropped).
    pub fn activate(&mut self) -> Result<(), LogError> {
        self.offset_index.make_active()?;
        self.time_index.make_active()?;
        self.active = true;
        Ok(())
    }

    /// Flush and trim the indexes (Kafka's close).
    pub fn close(&mut self) -> Result<(), LogError> {
        if self.active {
            self.seal()?;
        }
        self.flush()
    }

    /// Finds the first record with timestamp >= `ts` and offset >= `min_offset`.
    pub fn find_offset_by_timestamp(
        &self,
        ts: i64,
        min_offset: i64,
    ) -> Result<Option<(i64, i64)>, LogError> {
        if self.max_timestamp < ts {
            return Ok(None);
        }
        let start = match self.time_index.lookup_below(ts)? {
            Some((_, o)) => (o + 1).max(min_offset),
            None => min_offset,
        };
        let Some((mut pos, _)) = self.translate_offset(start)? else {
            return Ok(None);
        };
        while pos < self.size {
            let h = self.read_header(pos)?;
            if h.max_timestamp >= ts && h.last_offset() >= min_offset {
                if h.is_compressed() || h.is_log_append_time() {
                    return Ok(Some((h.base_offset.max(min_offset), h.max_timestamp)));
                }
                let mut buf = vec![0u8; h.total_size()];
                self.read_into(pos, &mut buf)?;
                if let Some(found) = batch::find_record_at_or_after(&buf, ts, min_offset)? {
                    return Ok(Some(found));
                }
            }
            pos += h.total_size() as u64;
        }
        Ok(None)
    }

    /// (max timestamp, offset of the record carrying it), record-precise for
    /// uncompressed CreateTime batches, the batch's first offset for
    /// LogAppendTime and its last offset for compressed batches.
    pub fn max_timestamp_and_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        if self.offset_of_max_timestamp < 0 {
            return Ok(None);
        }
        let ts = self.max_timestamp;
        let Some((pos, h)) = self.translate_offset(self.offset_of_max_timestamp)? else {
            return Ok(Some((ts, self.offset_of_max_timestamp)));
        };
        if h.is_log_append_time() {
            return Ok(Some((ts, h.base_offset)));
        }
        if h.is_compressed() {
            return Ok(Some((ts, h.last_offset())));
        }
        let mut buf = vec![0u8; h.total_size()];
        self.read_into(pos, &mut buf)?;
        Ok(Some(match batch::find_record_at_or_after(&buf, ts, 0)? {
            Some((o, _)) => (ts, o),
            None => (ts, h.last_offset()),
        }))
    }

    /// Removes the segment's files.
    pub fn delete(self) -> Result<(), LogError> {
        let paths = [
            self.log.path().to_path_buf(),
            self.offset_index.path().to_path_buf(),
            self.time_index.path().to_path_buf(),
        ];
        drop(self);
        for p in paths {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&p, e)),
            }
        }
        Ok(())
    }
}

/// At most this many slices go to one `pwritev` (Linux's `IOV_MAX`).
const MAX_IOVECS: usize = 1024;

/// Writes every byte of `parts`, in order, from file position `at` on with
/// `write_at` (a positional vectored write), again after a short write or an
/// interruption; a write that takes nothing is an error (`WriteZero`).
fn write_all_vectored_at(
    mut parts: &mut [IoSlice<'_>],
    mut at: u64,
    mut write_at: impl FnMut(&[IoSlice<'_>], u64) -> std::io::Result<usize>,
) -> std::io::Result<()> {
    IoSlice::advance_slices(&mut parts, 0);
    while !parts.is_empty() {
        let chunk = parts.get(..MAX_IOVECS).unwrap_or(parts);
        match write_at(chunk, at) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    "failed to write the whole append",
                ))
            }
            Ok(n) => {
                at += n as u64;
                IoSlice::advance_slices(&mut parts, n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes into `file` as `pwritev` would, at most `limit` bytes a call.
    fn short_writer(
        file: &mut Vec<u8>,
        limit: usize,
    ) -> impl FnMut(&[IoSlice<'_>], u64) -> std::io::Result<usize> + '_ {
        move |slices, at| {
            let mut at = at as usize;
            let mut n = 0;
            for s in slices {
                for &b in s.iter() {
                    if n == limit {
                        return Ok(n);
                    }
                    if file.len() <= at {
                        file.resize(at + 1, 0);
                    }
                    file[at] = b;
                    at += 1;
                    n += 1;
                }
            }
            Ok(n)
        }
    }

    #[test]
    fn vectored_write_survives_short_writes_and_empty_parts() {
        let parts: [&[u8]; 5] = [b"0123", b"", b"456789", b"a", b"bcdefghij"];
        let want: Vec<u8> = parts.concat();
        for limit in [1, 2, 3, 5, 7, 100] {
            let mut file = b"xx".to_vec();
            let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            write_all_vectored_at(&mut slices, 2, short_writer(&mut file, limit)).unwrap();
            assert_eq!(&file[..2], b"xx");
            assert_eq!(&file[2..], &want[..], "limit {limit}");
        }
    }

    #[test]
    fn vectored_write_of_many_slices_goes_in_chunks() {
        let data: Vec<[u8; 1]> = (0..3000u32).map(|i| [(i % 251) as u8]).collect();
        let mut slices: Vec<IoSlice<'_>> = data.iter().map(|b| IoSlice::new(b)).collect();
        let mut file = Vec::new();
        let mut most = 0;
        write_all_vectored_at(&mut slices, 0, |s, at| {
            most = most.max(s.len());
            for (i, b) in s.iter().enumerate() {
                let at = at as usize + i;
                if file.len() <= at {
                    file.resize(at + 1, 0);
                }
                file[at] = b[0];
            }
            Ok(s.len())
        })
        .unwrap();
        assert_eq!(most, MAX_IOVECS);
        assert_eq!(file, data.concat());
    }

    #[test]
    fn vectored_write_reports_a_write_of_nothing_and_retries_interrupts() {
        let mut slices = [IoSlice::new(b"abc")];
        let e = write_all_vectored_at(&mut slices, 0, |_, _| Ok(0)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WriteZero);
        let mut slices = [IoSlice::new(b"abc")];
        let mut tries = 0;
        write_all_vectored_at(&mut slices, 0, |s, _| {
            tries += 1;
            if tries == 1 {
                Err(std::io::ErrorKind::Interrupted.into())
            } else {
                Ok(s.iter().map(|s| s.len()).sum())
            }
        })
        .unwrap();
        assert_eq!(tries, 2);
    }
}
