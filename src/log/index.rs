//! The sparse indexes of a segment, in Kafka's on-disk format.
//!
//! - [`OffsetIndex`] (`.index`): 8-byte entries, big-endian (int32 offset
//!   relative to the segment base, int32 position in the `.log`); an entry maps
//!   a batch's last offset to the batch's start position.
//! - [`TimeIndex`] (`.timeindex`): 12-byte entries (int64 largest timestamp so
//!   far, int32 relative offset of the batch carrying it).
//!
//! The active segment's index is preallocated to `segment.index.bytes` and kept
//! in memory too (its unwritten tail is written on flush, on seal or when a
//! few hundred entries are pending); sealed indexes are trimmed to their used
//! size and looked up with positional reads (binary search), like Kafka's mmap
//! but without `unsafe`. Entries are strictly increasing; neither file has a
//! checksum, so a suspect index is rebuilt from the `.log`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::file_cache::SegmentFile;
use super::{io_err, LogError};

/// Entries pending in memory before they are written out.
const MAX_PENDING_ENTRIES: usize = 256;

/// A file of fixed-size entries: the part the two indexes share.
struct RawIndex<const E: usize> {
    /// The index file, opened on demand (see [`super::file_cache`]).
    file: SegmentFile,
    /// Number of valid entries.
    count: usize,
    /// Capacity in entries (from `segment.index.bytes`).
    max_entries: usize,
    /// All entries when the index is active (`Some`), `None` when sealed.
    mem: Option<Vec<[u8; E]>>,
    /// Entries already written to the file.
    written: usize,
    /// Written since the last fsync.
    dirty: bool,
}

impl<const E: usize> RawIndex<E> {
    fn open(path: &Path, max_index_bytes: u32, active: bool) -> Result<Self, LogError> {
        let (file, open) = SegmentFile::open(path)?;
        let len = open.metadata().map_err(|e| io_err(path, e))?.len();
        let mut idx = RawIndex {
            file,
            count: 0,
            max_entries: (max_index_bytes as usize / E).max(1),
            mem: None,
            written: 0,
            dirty: false,
        };
        let slots = (len / E as u64) as usize;
        // No valid entry is all zero (the first batch of a segment is never
        // indexed and time index timestamps are > 0): the used prefix ends at
        // the first zero entry of a preallocated file. Binary search for it.
        let (mut lo, mut hi) = (0usize, slots);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if idx.read_file_entry(&open, mid)? == [0u8; E] {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        idx.count = lo;
        idx.written = idx.count;
        if len % E as u64 != 0 {
            tracing::warn!(path = %path.display(), len, "index file size is not a multiple of the entry size");
            idx.count = 0; // forces a rebuild via sanity check
            idx.written = 0;
        }
        if active {
            idx.load_into_memory(&open)?;
        }
        Ok(idx)
    }

    fn load_into_memory(&mut self, file: &File) -> Result<(), LogError> {
        let mut bytes = vec![0u8; self.count * E];
        file.read_exact_at(&mut bytes, 0)
            .map_err(|e| io_err(self.file.path(), e))?;
        let entries = bytes
            .chunks_exact(E)
            .filter_map(|c| <[u8; E]>::try_from(c).ok())
            .collect();
        self.mem = Some(entries);
        let want = (self.max_entries.max(self.count) * E) as u64;
        file.set_len(want)
            .map_err(|e| io_err(self.file.path(), e))?;
        Ok(())
    }

    fn read_file_entry(&self, file: &File, i: usize) -> Result<[u8; E], LogError> {
        let mut buf = [0u8; E];
        file.read_exact_at(&mut buf, (i * E) as u64)
            .map_err(|e| io_err(self.file.path(), e))?;
        Ok(buf)
    }

    fn entry(&self, i: usize) -> Result<[u8; E], LogError> {
        match &self.mem {
            Some(m) => m
                .get(i)
                .copied()
                .ok_or_else(|| LogError::CorruptMessage(format!("index entry {i} out of range"))),
            None => self.read_file_entry(&*self.file.get()?, i),
        }
    }

    /// Index of the last entry whose key is <= `target`, if any.
    fn floor<K: Ord>(
        &self,
        target: K,
        key: impl Fn(&[u8; E]) -> K,
    ) -> Result<Option<usize>, LogError> {
        // Find the first entry with key > target.
        let file = match self.mem {
            Some(_) => None,
            None => Some(self.file.get()?),
        };
        let (mut lo, mut hi) = (0usize, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let entry = match &file {
                Some(f) => self.read_file_entry(f, mid)?,
                None => self.entry(mid)?,
            };
            if key(&entry) <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo.checked_sub(1))
    }

    fn is_full(&self) -> bool {
        self.count >= self.max_entries
    }

    fn push(&mut self, entry: [u8; E], force: bool) -> Result<(), LogError> {
        if self.is_full() && !force {
            return Ok(());
        }
        match &mut self.mem {
            Some(m) => {
                m.push(entry);
                self.count += 1;
                if self.count - self.written >= MAX_PENDING_ENTRIES {
                    self.write_pending()?;
                }
            }
            None => {
                self.file
                    .get()?
                    .write_all_at(&entry, (self.count * E) as u64)
                    .map_err(|e| io_err(self.file.path(), e))?;
                self.count += 1;
                self.written = self.count;
                self.dirty = true;
            }
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), LogError> {
        let Some(m) = &self.mem else { return Ok(()) };
        if self.written >= self.count {
            return Ok(());
        }
        let pending = m.get(self.written..self.count).unwrap_or(&[]);
        let bytes: Vec<u8> = pending.iter().flatten().copied().collect();
        self.file
            .get()?
            .write_all_at(&bytes, (self.written * E) as u64)
            .map_err(|e| io_err(self.file.path(), e))?;
        self.written = self.count;
        self.dirty = true;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), LogError> {
        self.write_pending()?;
        if self.dirty {
            self.file
                .get()?
                .sync_data()
                .map_err(|e| io_err(self.file.path(), e))?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Writes what is pending, trims the file to the used entries and drops
    /// the in-memory copy (the segment is no longer active).
    fn seal(&mut self) -> Result<(), LogError> {
        self.write_pending()?;
        self.file
            .get()?
            .set_len((self.count * E) as u64)
            .map_err(|e| io_err(self.file.path(), e))?;
        self.dirty = true;
        self.mem = None;
        Ok(())
    }

    /// Empties the index, keeping it active or sealed as it was.
    fn reset(&mut self) -> Result<(), LogError> {
        let file = self.file.get()?;
        file.set_len(0).map_err(|e| io_err(self.file.path(), e))?;
        self.count = 0;
        self.written = 0;
        self.dirty = true;
        if let Some(m) = &mut self.mem {
            m.clear();
            let want = (self.max_entries * E) as u64;
            file.set_len(want)
                .map_err(|e| io_err(self.file.path(), e))?;
        }
        Ok(())
    }

    fn make_active(&mut self) -> Result<(), LogError> {
        if self.mem.is_none() {
            let file = self.file.get()?;
            self.load_into_memory(&file)?;
        }
        Ok(())
    }
}

fn rel(entry: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    if let Some(s) = entry.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    i32::from_be_bytes(b)
}

fn ts_of(entry: &[u8; 12]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&entry[..8]);
    i64::from_be_bytes(b)
}

/// The `.index` of a segment: batch last offset -> batch start position.
pub struct OffsetIndex {
    base_offset: i64,
    raw: RawIndex<8>,
}

impl OffsetIndex {
    /// Opens (creating if missing) the index. `active` keeps it in memory and
    /// preallocated to `max_index_bytes`.
    pub fn open(
        path: &Path,
        base_offset: i64,
        max_index_bytes: u32,
        active: bool,
    ) -> Result<Self, LogError> {
        Ok(OffsetIndex {
            base_offset,
            raw: RawIndex::open(path, max_index_bytes, active)?,
        })
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    pub fn entries(&self) -> usize {
        self.raw.count
    }
    pub fn is_full(&self) -> bool {
        self.raw.is_full()
    }
    pub fn path(&self) -> &Path {
        self.raw.file.path()
    }

    /// The i-th entry as (absolute offset, position).
    pub fn entry(&self, i: usize) -> Result<(i64, u32), LogError> {
        let e = self.raw.entry(i)?;
        Ok((self.base_offset + i64::from(rel(&e, 0)), rel(&e, 4) as u32))
    }

    pub fn last_entry(&self) -> Result<Option<(i64, u32)>, LogError> {
        match self.raw.count.checked_sub(1) {
            Some(i) => self.entry(i).map(Some),
            None => Ok(None),
        }
    }

    /// Appends (offset, position); ignored when full or not increasing.
    pub fn append(&mut self, offset: i64, position: u32) -> Result<(), LogError> {
        let relative = offset - self.base_offset;
        if !(0..=i64::from(i32::MAX)).contains(&relative) || position > i32::MAX as u32 {
            return Ok(());
        }
        if let Some((last, last_pos)) = self.last_entry()? {
            if offset <= last || position <= last_pos {
                return Ok(());
            }
        }
        let mut e = [0u8; 8];
        e[..4].copy_from_slice(&(relative as i32).to_be_bytes());
        e[4..].copy_from_slice(&(position as i32).to_be_bytes());
        self.raw.push(e, false)
    }

    /// The position of the last entry at or below `position` (a batch start), if any.
    pub fn floor_position(&self, position: u64) -> Result<Option<u64>, LogError> {
        let target = u32::try_from(position).unwrap_or(u32::MAX);
        match self.raw.floor(target, |e| rel(e, 4) as u32)? {
            Some(i) => Ok(Some(u64::from(self.entry(i)?.1))),
            None => Ok(None),
        }
    }

    /// The largest entry with offset <= `offset`, or (base offset, 0).
    pub fn lookup(&self, offset: i64) -> Result<(i64, u32), LogError> {
        let target = offset.saturating_sub(self.base_offset);
        match self.raw.floor(target, |e| i64::from(rel(e, 0)))? {
            Some(i) => self.entry(i),
            None => Ok((self.base_offset, 0)),
        }
    }

    /// Kafka's sanity check, extended: entries strictly increasing (checked
    /// fully when in memory, first/last otherwise) and positions inside the log.
    pub fn sanity_check(&self, log_size: u64) -> Result<(), String> {
        let check = |i: usize| -> Result<(i64, u32), String> {
            let (o, p) = self.entry(i).map_err(|e| e.to_string())?;
            if o < self.base_offset || u64::from(p) >= log_size.max(1) {
                return Err(format!(
                    "entry {i} ({o}, {p}) outside the segment (log size {log_size})"
                ));
            }
            Ok((o, p))
        };
        if self.raw.count == 0 {
            return Ok(());
        }
        if self.raw.mem.is_some() {
            let mut prev: Option<(i64, u32)> = None;
            for i in 0..self.raw.count {
                let cur = check(i)?;
                if let Some(p) = prev {
                    if cur.0 <= p.0 || cur.1 <= p.1 {
                        return Err(format!("entry {i} {cur:?} does not follow {p:?}"));
                    }
                }
                prev = Some(cur);
            }
        } else {
            let first = check(0)?;
            let last = check(self.raw.count - 1)?;
            if self.raw.count > 1 && (last.0 <= first.0 || last.1 <= first.1) {
                return Err(format!(
                    "last entry {last:?} does not follow first {first:?}"
                ));
            }
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), LogError> {
        self.raw.flush()
    }
    pub fn seal(&mut self) -> Result<(), LogError> {
        self.raw.seal()
    }
    pub fn reset(&mut self) -> Result<(), LogError> {
        self.raw.reset()
    }
    pub fn make_active(&mut self) -> Result<(), LogError> {
        self.raw.make_active()
    }
    pub(crate) fn file(&self) -> Result<Arc<File>, LogError> {
        self.raw.file.get()
    }
}

/// The `.timeindex` of a segment: largest timestamp so far -> offset of the batch carrying it.
pub struct TimeIndex {
    base_offset: i64,
    raw: RawIndex<12>,
}

impl TimeIndex {
    pub fn open(
        path: &Path,
        base_offset: i64,
        max_index_bytes: u32,
        active: bool,
    ) -> Result<Self, LogError> {
        Ok(TimeIndex {
            base_offset,
            raw: RawIndex::open(path, max_index_bytes, active)?,
        })
    }

    pub fn entries(&self) -> usize {
        self.raw.count
    }
    pub fn is_full(&self) -> bool {
        self.raw.is_full()
    }
    pub fn path(&self) -> &Path {
        self.raw.file.path()
    }

    /// The i-th entry as (timestamp, absolute offset).
    pub fn entry(&self, i: usize) -> Result<(i64, i64), LogError> {
        let e = self.raw.entry(i)?;
        Ok((ts_of(&e), self.base_offset + i64::from(rel(&e, 8))))
    }

    pub fn last_entry(&self) -> Result<Option<(i64, i64)>, LogError> {
        match self.raw.count.checked_sub(1) {
            Some(i) => self.entry(i).map(Some),
            None => Ok(None),
        }
    }

    /// Appends (timestamp, offset) if the timestamp grew (Kafka's `maybeAppend`).
    /// `final_entry` skips the full check (the last entry, written when the
    /// segment is sealed, so that its maximum timestamp survives a restart).
    pub fn maybe_append(
        &mut self,
        timestamp: i64,
        offset: i64,
        final_entry: bool,
    ) -> Result<(), LogError> {
        let relative = offset - self.base_offset;
        if !(0..=i64::from(i32::MAX)).contains(&relative) || timestamp <= 0 {
            return Ok(());
        }
        if let Some((last_ts, last_off)) = self.last_entry()? {
            if timestamp <= last_ts || offset < last_off {
                return Ok(());
            }
        }
        let mut e = [0u8; 12];
        e[..8].copy_from_slice(&timestamp.to_be_bytes());
        e[8..].copy_from_slice(&(relative as i32).to_be_bytes());
        self.raw.push(e, final_entry)
    }

    /// The last entry with timestamp strictly below `ts`, as (timestamp, offset).
    pub fn lookup_below(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        if ts == i64::MIN {
            return Ok(None);
        }
        match self.raw.floor(ts - 1, ts_of)? {
            Some(i) => self.entry(i).map(Some),
            None => Ok(None),
        }
    }

    /// The largest entry with timestamp <= `ts` (Kafka's `lookup`).
    pub fn lookup(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        match self.raw.floor(ts, ts_of)? {
            Some(i) => self.entry(i).map(Some),
            None => Ok(None),
        }
    }

    /// Entries strictly increasing in timestamp, offsets non-decreasing and
    /// below `next_offset` of the segment.
    pub fn sanity_check(&self, next_offset: i64) -> Result<(), String> {
        let check = |i: usize| -> Result<(i64, i64), String> {
            let (t, o) = self.entry(i).map_err(|e| e.to_string())?;
            if o < self.base_offset || o >= next_offset.max(self.base_offset + 1) {
                return Err(format!(
                    "time index entry {i} ({t}, {o}) outside the segment"
                ));
            }
            Ok((t, o))
        };
        if self.raw.count == 0 {
            return Ok(());
        }
        let n = self.raw.count;
        let indices: Vec<usize> = if self.raw.mem.is_some() {
            (0..n).collect()
        } else {
            vec![0, n - 1]
        };
        let mut prev: Option<(i64, i64)> = None;
        for i in indices {
            let cur = check(i)?;
            if let Some(p) = prev {
                if i > 0 && cur != p && (cur.0 <= p.0 || cur.1 < p.1) {
                    return Err(format!(
                        "time index entry {i} {cur:?} does not follow {p:?}"
                    ));
                }
            }
            prev = Some(cur);
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), LogError> {
        self.raw.flush()
    }
    pub fn seal(&mut self) -> Result<(), LogError> {
        self.raw.seal()
    }
    pub fn reset(&mut self) -> Result<(), LogError> {
        self.raw.reset()
    }
    pub fn make_active(&mut self) -> Result<(), LogError> {
        self.raw.make_active()
    }
    pub(crate) fn file(&self) -> Result<Arc<File>, LogError> {
        self.raw.file.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_index_round_trip_and_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        {
            let mut idx = OffsetIndex::open(&path, 100, 4096, true).unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
            assert_eq!(idx.lookup(150).unwrap(), (100, 0));
            for i in 1..=10u32 {
                idx.append(100 + i64::from(i) * 10, i * 1000).unwrap();
            }
            idx.append(105, 99_999).unwrap(); // not increasing: ignored
            assert_eq!(idx.entries(), 10);
            assert_eq!(idx.lookup(99).unwrap(), (100, 0));
            assert_eq!(idx.lookup(109).unwrap(), (100, 0));
            assert_eq!(idx.lookup(110).unwrap(), (110, 1000));
            assert_eq!(idx.lookup(155).unwrap(), (150, 5000));
            assert_eq!(idx.lookup(10_000).unwrap(), (200, 10_000));
            idx.flush().unwrap();
        }
        // Reopen untrimmed (as after a crash): used entries found by the zero scan.
        {
            let idx = OffsetIndex::open(&path, 100, 4096, false).unwrap();
            assert_eq!(idx.entries(), 10);
            assert_eq!(idx.lookup(155).unwrap(), (150, 5000));
            assert!(idx.sanity_check(20_000).is_ok());
            assert!(idx.sanity_check(5_000).is_err());
        }
        // Seal trims.
        {
            let mut idx = OffsetIndex::open(&path, 100, 4096, true).unwrap();
            idx.seal().unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 80);
            assert_eq!(idx.lookup(199).unwrap(), (190, 9000));
        }
        let idx = OffsetIndex::open(&path, 100, 4096, false).unwrap();
        assert_eq!(idx.entries(), 10);
        assert_eq!(idx.last_entry().unwrap(), Some((200, 10_000)));
    }

    #[test]
    fn offset_index_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut idx = OffsetIndex::open(&path, 0, 20, true).unwrap(); // 2 entries
        idx.append(1, 10).unwrap();
        assert!(!idx.is_full());
        idx.append(2, 20).unwrap();
        assert!(idx.is_full());
        idx.append(3, 30).unwrap();
        assert_eq!(idx.entries(), 2);
    }

    #[test]
    fn time_index_round_trip_and_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.timeindex");
        {
            let mut idx = TimeIndex::open(&path, 0, 1200, true).unwrap();
            idx.maybe_append(1000, 5, false).unwrap();
            idx.maybe_append(1000, 9, false).unwrap(); // not growing: ignored
            idx.maybe_append(2000, 10, false).unwrap();
            idx.maybe_append(3000, 20, false).unwrap();
            assert_eq!(idx.entries(), 3);
            idx.flush().unwrap();
        }
        let idx = TimeIndex::open(&path, 0, 1200, false).unwrap();
        assert_eq!(idx.entries(), 3);
        assert_eq!(idx.lookup(2500).unwrap(), Some((2000, 10)));
        assert_eq!(idx.lookup(999).unwrap(), None);
        assert_eq!(idx.lookup_below(2000).unwrap(), Some((1000, 5)));
        assert_eq!(idx.last_entry().unwrap(), Some((3000, 20)));
        assert!(idx.sanity_check(21).is_ok());
        assert!(idx.sanity_check(15).is_err());
    }
}
