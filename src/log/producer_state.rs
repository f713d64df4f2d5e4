//! Idempotent producers' state of one partition (Kafka's
//! `ProducerStateManager`): per producer id, its epoch and the sequence
//! ranges and offsets of its last five batches, so that a retried batch is
//! answered with its original offsets instead of being written twice.
//!
//! Rules (Kafka 3.5's `ProducerAppendInfo` for client appends):
//! - a batch whose (epoch, first sequence, last sequence) matches one of the
//!   five cached batches is a duplicate: nothing is written and the original
//!   offsets are returned without error;
//! - an epoch older than the producer's is INVALID_PRODUCER_EPOCH; a newer
//!   epoch must start at sequence 0 (else OUT_OF_ORDER_SEQUENCE_NUMBER) and
//!   forgets the older epoch's batches;
//! - within an epoch, the first sequence must follow the last one (wrapping
//!   after `i32::MAX`), else OUT_OF_ORDER_SEQUENCE_NUMBER;
//! - a producer with no state here (new, expired, or whose batches were all
//!   deleted) is accepted at any sequence, as Kafka does since KIP-360
//!   (2.5); no UNKNOWN_PRODUCER_ID is answered.
//!
//! Persistence: the state is snapshotted into `<20-digit offset>.snapshot`
//! beside the segments in Kafka's format (version 1, CRC-32C), holding the
//! state of every batch below that offset — when a segment rolls (not
//! fsynced: the CRC catches a torn file) and on close (fsynced). Opening a
//! log loads the newest valid snapshot at or below the log end (snapshots
//! above it, left by a truncated tail, are deleted) and replays the batch
//! headers after it — headers carry producer id, epoch, base sequence and last
//! offset delta, so no record is decoded. Strom writes one snapshot entry per
//! cached batch (up to five per producer, oldest first); Kafka, reading the
//! same file, keeps the last entry per producer.
//!
//! Invariant: the state reflects exactly the batches in the log (below the
//! log end offset) minus expired producers; it is updated only after a batch
//! was written.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use super::batch::{BatchHeader, BatchInfo};
use super::checkpoint::atomic_write;
use super::index::io_err;
use super::segment;
use super::{Log, LogError};

/// Batches remembered per producer (Kafka's `NUM_BATCHES_TO_RETAIN`).
pub const NUM_BATCHES_TO_RETAIN: usize = 5;
/// Suffix of producer state snapshot files.
pub const SNAPSHOT_FILE_SUFFIX: &str = "snapshot";
/// Snapshots kept per partition (the newest ones).
const SNAPSHOTS_TO_KEEP: usize = 2;
const SNAPSHOT_VERSION: i16 = 1;
/// version (2) + crc (4).
const SNAPSHOT_HEADER_SIZE: usize = 6;
/// producer id, epoch, last sequence, last offset, offset delta, timestamp,
/// coordinator epoch, current transaction first offset.
const SNAPSHOT_ENTRY_SIZE: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;
/// How often idle producers are looked for (Kafka's
/// `producer.id.expiration.check.interval.ms` default), at most.
const EXPIRY_CHECK_INTERVAL_MS: i64 = 600_000;

/// One appended batch of a producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    /// Broker time of the append (the batch's max timestamp when rebuilt from the log).
    pub timestamp: i64,
}

/// One producer's state in this partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStateEntry {
    pub epoch: i16,
    /// Oldest first, at most [`NUM_BATCHES_TO_RETAIN`].
    pub batches: VecDeque<BatchMetadata>,
    /// Timestamp of the last batch: the producer expires
    /// `producer.id.expiration.ms` after it.
    pub last_timestamp: i64,
}

impl ProducerStateEntry {
    fn add_batch(&mut self, epoch: i16, batch: BatchMetadata) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
        if self.batches.len() >= NUM_BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
        self.last_timestamp = self.last_timestamp.max(batch.timestamp);
    }
}

/// What the producer state says of a batch about to be appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProducerCheck {
    /// Not idempotent, or in sequence: append it.
    Append,
    /// Already in the log: answer these offsets, write nothing.
    Duplicate(BatchMetadata),
}

/// `base + delta` in sequence space (wraps to 0 after `i32::MAX`), as Kafka's
/// `DefaultRecordBatch.incrementSequence`.
pub fn increment_sequence(base: i32, delta: i32) -> i32 {
    if base > i32::MAX - delta {
        base - (i32::MAX - delta) - 1
    } else {
        base + delta
    }
}

/// `seq - delta` in sequence space, as Kafka's `decrementSequence`.
pub fn decrement_sequence(seq: i32, delta: i32) -> i32 {
    if seq < delta {
        i32::MAX - (delta - seq) + 1
    } else {
        seq - delta
    }
}

/// The producers of one partition.
#[derive(Debug, Default)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerStateEntry>,
    last_expiry_check_ms: i64,
}

impl ProducerStateManager {
    /// No producers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every producer with its state, in no particular order.
    pub fn producers(&self) -> impl Iterator<Item = (i64, &ProducerStateEntry)> {
        self.producers.iter().map(|(id, entry)| (*id, entry))
    }

    /// The state of one producer.
    pub fn entry(&self, producer_id: i64) -> Option<&ProducerStateEntry> {
        self.producers.get(&producer_id)
    }

    /// Number of producers with state here.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// No producer has state here.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Checks a batch from a client against the producer's state (see the module docs).
    pub fn check(&self, h: &BatchHeader) -> Result<ProducerCheck, LogError> {
        if h.producer_id < 0 {
            return Ok(ProducerCheck::Append);
        }
        let Some(entry) = self.producers.get(&h.producer_id) else {
            return Ok(ProducerCheck::Append);
        };
        let first_seq = h.base_sequence;
        if h.producer_epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch(format!(
                "epoch {} of producer {} is older than its current epoch {}",
                h.producer_epoch, h.producer_id, entry.epoch
            )));
        }
        if h.producer_epoch == entry.epoch {
            let last_seq = increment_sequence(first_seq, h.last_offset_delta.max(0));
            if let Some(b) = entry
                .batches
                .iter()
                .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            {
                return Ok(ProducerCheck::Duplicate(*b));
            }
            let current_last = entry.batches.back().map_or(-1, |b| b.last_seq);
            let in_sequence = i64::from(first_seq) == i64::from(current_last) + 1
                || (first_seq == 0 && current_last == i32::MAX);
            if !in_sequence {
                return Err(LogError::OutOfOrderSequence(format!(
                    "producer {} epoch {}: sequence {first_seq} does not follow {current_last}",
                    h.producer_id, h.producer_epoch
                )));
            }
        } else if first_seq != 0 {
            return Err(LogError::OutOfOrderSequence(format!(
                "producer {} starts its new epoch {} (was {}) at sequence {first_seq}, not 0",
                h.producer_id, h.producer_epoch, entry.epoch
            )));
        }
        Ok(ProducerCheck::Append)
    }

    /// Records a batch written at `first_offset..=last_offset` (no checks:
    /// also what replaying the log does).
    pub fn update(&mut self, h: &BatchHeader, first_offset: i64, last_offset: i64, timestamp: i64) {
        if h.producer_id < 0 || h.is_control() {
            return;
        }
        let delta = i32::try_from(last_offset - first_offset).unwrap_or(h.last_offset_delta);
        let batch = BatchMetadata {
            first_seq: h.base_sequence,
            last_seq: increment_sequence(h.base_sequence, delta.max(0)),
            first_offset,
            last_offset,
            timestamp,
        };
        self.producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerStateEntry {
                epoch: h.producer_epoch,
                batches: VecDeque::new(),
                last_timestamp: timestamp,
            })
            .add_batch(h.producer_epoch, batch);
    }

    /// Forgets producers whose last batch is `expiration_ms` old; looks at
    /// most every ten minutes (or every `expiration_ms` if shorter).
    pub fn maybe_remove_expired(&mut self, now_ms: i64, expiration_ms: i64) {
        let interval = EXPIRY_CHECK_INTERVAL_MS.min(expiration_ms.max(1));
        if now_ms.saturating_sub(self.last_expiry_check_ms) < interval {
            return;
        }
        self.last_expiry_check_ms = now_ms;
        self.remove_expired(now_ms, expiration_ms);
    }

    /// Forgets producers whose last batch is `expiration_ms` old.
    pub fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) {
        let before = self.producers.len();
        self.producers
            .retain(|_, e| now_ms.saturating_sub(e.last_timestamp) < expiration_ms);
        let removed = before - self.producers.len();
        if removed > 0 {
            tracing::debug!(removed, "expired idle producer ids");
        }
    }

    /// The snapshot file contents (Kafka's format, version 1).
    pub fn to_snapshot_bytes(&self) -> Vec<u8> {
        let mut ids: Vec<&i64> = self.producers.keys().collect();
        ids.sort_unstable();
        let count: usize = self.producers.values().map(|e| e.batches.len()).sum();
        let mut out = Vec::with_capacity(SNAPSHOT_HEADER_SIZE + 4 + count * SNAPSHOT_ENTRY_SIZE);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes()); // crc, below
        out.extend_from_slice(&(count as i32).to_be_bytes());
        for id in ids {
            let Some(e) = self.producers.get(id) else {
                continue;
            };
            for b in &e.batches {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&e.epoch.to_be_bytes());
                out.extend_from_slice(&b.last_seq.to_be_bytes());
                out.extend_from_slice(&b.last_offset.to_be_bytes());
                let delta = i32::try_from(b.last_offset - b.first_offset).unwrap_or(0);
                out.extend_from_slice(&delta.to_be_bytes());
                out.extend_from_slice(&b.timestamp.to_be_bytes());
                out.extend_from_slice(&(-1i32).to_be_bytes()); // coordinator epoch
                out.extend_from_slice(&(-1i64).to_be_bytes()); // current txn first offset
            }
        }
        let crc = crc32c::crc32c(out.get(SNAPSHOT_HEADER_SIZE..).unwrap_or(&[]));
        if let Some(dst) = out.get_mut(2..6) {
            dst.copy_from_slice(&crc.to_be_bytes());
        }
        out
    }

    /// Parses a snapshot; `Err` says why it is unusable.
    pub fn from_snapshot_bytes(bytes: &[u8]) -> Result<ProducerStateManager, String> {
        let field = |at: usize, n: usize| -> Result<&[u8], String> {
            bytes
                .get(at..at + n)
                .ok_or_else(|| format!("truncated at byte {at}"))
        };
        let i16_at =
            |at| -> Result<i16, String> { field(at, 2).map(|b| i16::from_be_bytes([b[0], b[1]])) };
        let i32_at = |at| -> Result<i32, String> {
            field(at, 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let i64_at = |at| -> Result<i64, String> {
            field(at, 8).map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                i64::from_be_bytes(a)
            })
        };
        let version = i16_at(0)?;
        if version != SNAPSHOT_VERSION {
            return Err(format!("unknown snapshot version {version}"));
        }
        let crc = i32_at(2)? as u32;
        let computed = crc32c::crc32c(bytes.get(SNAPSHOT_HEADER_SIZE..).unwrap_or(&[]));
        if crc != computed {
            return Err(format!(
                "CRC mismatch: stored {crc:#010x}, computed {computed:#010x}"
            ));
        }
        let count = i32_at(SNAPSHOT_HEADER_SIZE)?;
        let expected = SNAPSHOT_HEADER_SIZE + 4 + count.max(0) as usize * SNAPSHOT_ENTRY_SIZE;
        if count < 0 || bytes.len() != expected {
            return Err(format!(
                "{count} entries do not fill the {} bytes of the file",
                bytes.len()
            ));
        }
        let mut state = ProducerStateManager::new();
        for i in 0..count as usize {
            let at = SNAPSHOT_HEADER_SIZE + 4 + i * SNAPSHOT_ENTRY_SIZE;
            let producer_id = i64_at(at)?;
            let epoch = i16_at(at + 8)?;
            let last_seq = i32_at(at + 10)?;
            let last_offset = i64_at(at + 14)?;
            let delta = i32_at(at + 22)?.max(0);
            let timestamp = i64_at(at + 26)?;
            let batch = BatchMetadata {
                first_seq: decrement_sequence(last_seq, delta),
                last_seq,
                first_offset: last_offset - i64::from(delta),
                last_offset,
                timestamp,
            };
            state
                .producers
                .entry(producer_id)
                .or_insert_with(|| ProducerStateEntry {
                    epoch,
                    batches: VecDeque::new(),
                    last_timestamp: timestamp,
                })
                .add_batch(epoch, batch);
        }
        Ok(state)
    }
}

/// `(offset, path)` of the snapshot files in `dir`, ascending.
pub fn list_snapshots(dir: &Path) -> Result<Vec<(i64, PathBuf)>, LogError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let name = entry.file_name();
        if let Some((offset, SNAPSHOT_FILE_SUFFIX)) =
            name.to_str().and_then(segment::parse_file_name)
        {
            out.push((offset, entry.path()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(file = %path.display(), error = %e, "cannot delete producer state snapshot");
        }
    }
}

/// What the producer state says of a whole append.
#[derive(Clone, Copy, Debug)]
pub(super) enum ProducerAppend {
    /// No batch with a producer id.
    None,
    /// One idempotent batch, in sequence: record it once written.
    Batch(BatchHeader),
    /// The batch is already in the log.
    Duplicate(BatchMetadata),
}

impl Log {
    /// Checks an append's batches against the producer state (expiring idle
    /// producers first). An append holding a batch with a producer id must
    /// hold exactly that one batch, as Kafka requires of every produce ≥ v3.
    pub(super) fn check_producers(
        &mut self,
        buf: &[u8],
        infos: &[BatchInfo],
        now_ms: i64,
    ) -> Result<ProducerAppend, LogError> {
        self.producer_state
            .maybe_remove_expired(now_ms, self.config.producer_id_expiration_ms);
        let mut found = None;
        for info in infos {
            let h = BatchHeader::parse(buf.get(info.position..).unwrap_or(&[]))?;
            if h.producer_id >= 0 {
                found = Some(h);
                break;
            }
        }
        let Some(h) = found else {
            return Ok(ProducerAppend::None);
        };
        if infos.len() != 1 {
            return Err(LogError::InvalidRecord(format!(
                "a produce of producer {} must hold exactly one record batch, not {}",
                h.producer_id,
                infos.len()
            )));
        }
        Ok(match self.producer_state.check(&h)? {
            ProducerCheck::Append => ProducerAppend::Batch(h),
            ProducerCheck::Duplicate(b) => {
                tracing::debug!(
                    dir = %self.dir.display(),
                    producer_id = h.producer_id,
                    epoch = h.producer_epoch,
                    first_sequence = b.first_seq,
                    first_offset = b.first_offset,
                    "duplicate batch: answering its original offsets"
                );
                ProducerAppend::Duplicate(b)
            }
        })
    }

    /// Loads the newest usable snapshot at or below the log end and replays
    /// the batch headers after it (see the module docs).
    pub(super) fn load_producer_state(&mut self) -> Result<(), LogError> {
        let log_end = self.log_end_offset();
        let mut snapshots = list_snapshots(&self.dir)?;
        while snapshots.last().is_some_and(|(o, _)| *o > log_end) {
            if let Some((offset, path)) = snapshots.pop() {
                tracing::info!(file = %path.display(), offset, log_end, "deleting producer state snapshot beyond the log end");
                remove_quietly(&path);
            }
        }
        let mut state = ProducerStateManager::new();
        let mut from = self.log_start_offset;
        for (offset, path) in snapshots.iter().rev() {
            let loaded = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| ProducerStateManager::from_snapshot_bytes(&b));
            match loaded {
                Ok(s) => {
                    state = s;
                    from = *offset;
                    break;
                }
                Err(reason) => {
                    tracing::warn!(file = %path.display(), %reason, "ignoring unusable producer state snapshot");
                }
            }
        }
        let mut replayed = 0u64;
        for seg in &self.segments {
            if seg.next_offset() <= from {
                continue;
            }
            let Some((mut pos, _)) = seg.translate_offset(from.max(seg.base_offset()))? else {
                continue;
            };
            while pos < seg.size() {
                let h = seg.read_header(pos)?;
                if h.base_offset >= from && h.producer_id >= 0 {
                    state.update(&h, h.base_offset, h.last_offset(), h.max_timestamp);
                    replayed += 1;
                }
                pos += h.total_size() as u64;
            }
        }
        tracing::debug!(
            dir = %self.dir.display(),
            snapshot_offset = from,
            replayed_batches = replayed,
            producers = state.len(),
            "loaded producer state"
        );
        self.producer_state = state;
        Ok(())
    }

    /// Writes `<log end>.snapshot` (fsynced when `sync`) and deletes all but
    /// the newest snapshots. Failures are logged: a missing snapshot only
    /// means a longer replay at the next start.
    pub(super) fn write_producer_snapshot(&self, sync: bool) {
        let offset = self.log_end_offset();
        let path = self
            .dir
            .join(segment::file_name(offset, SNAPSHOT_FILE_SUFFIX));
        let bytes = self.producer_state.to_snapshot_bytes();
        let written = if sync {
            atomic_write(&path, &bytes)
        } else {
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(".tmp");
            let tmp = PathBuf::from(tmp);
            std::fs::write(&tmp, &bytes)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| io_err(&path, e))
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot write producer state snapshot");
            return;
        }
        match list_snapshots(&self.dir) {
            Ok(all) => {
                let excess = all.len().saturating_sub(SNAPSHOTS_TO_KEEP);
                for (_, old) in all.iter().take(excess) {
                    remove_quietly(old);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list producer state snapshots"),
        }
    }

    /// The producer state (for tests and DescribeProducers).
    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producer_state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: count,
        }
    }

    #[test]
    fn sequences_duplicates_and_epochs() {
        let mut s = ProducerStateManager::new();
        // Unknown producer: any sequence (KIP-360).
        assert_eq!(
            s.check(&header(1, 0, 42, 3)).unwrap(),
            ProducerCheck::Append
        );
        s.update(&header(1, 0, 0, 3), 0, 2, 10);
        s.update(&header(1, 0, 3, 2), 3, 4, 11);
        // Duplicate of either cached batch: original offsets.
        match s.check(&header(1, 0, 0, 3)).unwrap() {
            ProducerCheck::Duplicate(b) => assert_eq!((b.first_offset, b.last_offset), (0, 2)),
            other => panic!("{other:?}"),
        }
        match s.check(&header(1, 0, 3, 2)).unwrap() {
            ProducerCheck::Duplicate(b) => assert_eq!((b.first_offset, b.last_offset), (3, 4)),
            other => panic!("{other:?}"),
        }
        // Next in sequence.
        assert_eq!(s.check(&header(1, 0, 5, 1)).unwrap(), ProducerCheck::Append);
        // Gap and overlap that is not an exact duplicate.
        assert!(matches!(
            s.check(&header(1, 0, 6, 1)),
            Err(LogError::OutOfOrderSequence(_))
        ));
        assert!(matches!(
            s.check(&header(1, 0, 1, 2)),
            Err(LogError::OutOfOrderSequence(_))
        ));
        // New epoch must start at 0; older epoch is fenced.
        assert!(matches!(
            s.check(&header(1, 1, 5, 1)),
            Err(LogError::OutOfOrderSequence(_))
        ));
        assert_eq!(s.check(&header(1, 1, 0, 1)).unwrap(), ProducerCheck::Append);
        s.update(&header(1, 1, 0, 1), 5, 5, 12);
        assert!(matches!(
            s.check(&header(1, 0, 5, 1)),
            Err(LogError::InvalidProducerEpoch(_))
        ));
        assert_eq!(s.entry(1).unwrap().batches.len(), 1);
        // Non-idempotent batches are not tracked.
        assert_eq!(
            s.check(&header(-1, -1, -1, 1)).unwrap(),
            ProducerCheck::Append
        );
    }

    #[test]
    fn keeps_five_batches_and_wraps_sequences() {
        let mut s = ProducerStateManager::new();
        for i in 0..7 {
            s.update(&header(9, 0, i, 1), i64::from(i), i64::from(i), 0);
        }
        let e = s.entry(9).unwrap();
        assert_eq!(e.batches.len(), NUM_BATCHES_TO_RETAIN);
        assert_eq!(e.batches.front().unwrap().first_seq, 2);
        assert!(matches!(
            s.check(&header(9, 0, 1, 1)),
            Err(LogError::OutOfOrderSequence(_))
        ));
        assert!(matches!(
            s.check(&header(9, 0, 2, 1)).unwrap(),
            ProducerCheck::Duplicate(_)
        ));

        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(decrement_sequence(1, 3), i32::MAX - 1);
        let mut s = ProducerStateManager::new();
        s.update(&header(3, 0, i32::MAX - 1, 2), 0, 1, 0);
        assert_eq!(s.entry(3).unwrap().batches[0].last_seq, i32::MAX);
        assert_eq!(s.check(&header(3, 0, 0, 1)).unwrap(), ProducerCheck::Append);
    }

    #[test]
    fn expiry() {
        let mut s = ProducerStateManager::new();
        s.update(&header(1, 0, 0, 1), 0, 0, 1_000);
        s.update(&header(2, 0, 0, 1), 1, 1, 5_000);
        s.remove_expired(6_000, 4_500);
        assert!(s.entry(1).is_none());
        assert!(s.entry(2).is_some());
        // Checked at most every `expiration` ms.
        s.maybe_remove_expired(7_000, 1_000);
        assert!(s.is_empty());
    }

    fn idempotent_batch(pid: i64, epoch: i16, seq: i32, n: usize) -> bytes::BytesMut {
        use crate::log::batch;
        let mut b = batch::testing::simple_batch(n, 1_000);
        b[batch::PRODUCER_ID_OFFSET..batch::PRODUCER_ID_OFFSET + 8]
            .copy_from_slice(&pid.to_be_bytes());
        b[batch::PRODUCER_EPOCH_OFFSET..batch::PRODUCER_EPOCH_OFFSET + 2]
            .copy_from_slice(&epoch.to_be_bytes());
        b[batch::BASE_SEQUENCE_OFFSET..batch::BASE_SEQUENCE_OFFSET + 4]
            .copy_from_slice(&seq.to_be_bytes());
        let crc = batch::compute_crc(&b);
        b[batch::CRC_OFFSET..batch::CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        bytes::BytesMut::from(&b[..])
    }

    fn open(dir: &Path, clean: bool) -> Log {
        let config = crate::log::LogConfig {
            segment_bytes: 600,
            ..crate::log::LogConfig::default()
        };
        Log::open(dir, config, 0, 0, clean, 0).unwrap()
    }

    #[test]
    fn log_deduplicates_and_survives_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t-0");
        let mut log = open(&dir, true);
        let mut offsets = Vec::new();
        for i in 0..12 {
            let info = log
                .append(&mut idempotent_batch(7, 0, i * 3, 3), 5)
                .unwrap();
            offsets.push(info.first_offset);
        }
        assert_eq!(log.log_end_offset(), 36);
        assert!(log.segment_count() > 2, "segments should have rolled");
        // A retry of one of the last five batches: original offsets, nothing written.
        let dup = log.append(&mut idempotent_batch(7, 0, 30, 3), 6).unwrap();
        assert_eq!(
            (dup.first_offset, dup.last_offset, dup.record_count),
            (30, 32, 0)
        );
        assert_eq!(log.log_end_offset(), 36);
        // Older than the five: out of order. Gap: out of order. Old epoch after a bump: fenced.
        assert!(matches!(
            log.append(&mut idempotent_batch(7, 0, 0, 3), 6),
            Err(LogError::OutOfOrderSequence(_))
        ));
        assert!(matches!(
            log.append(&mut idempotent_batch(7, 0, 40, 3), 6),
            Err(LogError::OutOfOrderSequence(_))
        ));
        // Two batches in one append from an idempotent producer are refused.
        let mut two = idempotent_batch(7, 0, 36, 1);
        two.extend_from_slice(&idempotent_batch(7, 0, 37, 1));
        assert!(matches!(
            log.append(&mut two, 6),
            Err(LogError::InvalidRecord(_))
        ));
        log.close().unwrap();
        drop(log);
        assert!(!list_snapshots(&dir).unwrap().is_empty());
        assert!(list_snapshots(&dir).unwrap().len() <= SNAPSHOTS_TO_KEEP);

        // Clean reopen: from the snapshot at the log end.
        let mut log = open(&dir, true);
        let dup = log.append(&mut idempotent_batch(7, 0, 27, 3), 6).unwrap();
        assert_eq!((dup.first_offset, dup.record_count), (27, 0));
        log.append(&mut idempotent_batch(7, 0, 36, 3), 6).unwrap();
        drop(log); // a crash: no close, no snapshot at the end

        // Unclean reopen: the older snapshot plus replay of the log.
        let mut log = open(&dir, false);
        assert_eq!(log.log_end_offset(), 39);
        let dup = log.append(&mut idempotent_batch(7, 0, 36, 3), 6).unwrap();
        assert_eq!((dup.first_offset, dup.record_count), (36, 0));
        let dup = log.append(&mut idempotent_batch(7, 0, 24, 3), 6).unwrap();
        assert_eq!((dup.first_offset, dup.record_count), (24, 0));
        assert_eq!(
            log.append(&mut idempotent_batch(7, 0, 39, 1), 6)
                .unwrap()
                .first_offset,
            39
        );
        drop(log);

        // Without any snapshot: everything is replayed from the log.
        for (_, p) in list_snapshots(&dir).unwrap() {
            std::fs::remove_file(p).unwrap();
        }
        let mut log = open(&dir, false);
        let dup = log.append(&mut idempotent_batch(7, 0, 39, 1), 6).unwrap();
        assert_eq!((dup.first_offset, dup.record_count), (39, 0));
        assert_eq!(
            log.producer_state().entry(7).unwrap().batches.len(),
            NUM_BATCHES_TO_RETAIN
        );
    }

    #[test]
    fn snapshot_beyond_a_truncated_log_end_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t-0");
        let mut log = open(&dir, true);
        log.append(&mut idempotent_batch(3, 0, 0, 2), 5).unwrap();
        log.close().unwrap();
        drop(log);
        // A snapshot claiming offset 1000 (as if the log had been truncated below it).
        let bogus = dir.join(segment::file_name(1000, SNAPSHOT_FILE_SUFFIX));
        std::fs::write(&bogus, ProducerStateManager::new().to_snapshot_bytes()).unwrap();
        let mut log = open(&dir, false);
        assert!(!bogus.exists());
        let dup = log.append(&mut idempotent_batch(3, 0, 0, 2), 6).unwrap();
        assert_eq!((dup.first_offset, dup.record_count), (0, 0));
    }

    #[test]
    fn snapshot_round_trip_and_corruption() {
        let mut s = ProducerStateManager::new();
        for i in 0..7 {
            s.update(
                &header(5, 2, i * 10, 10),
                i64::from(i) * 10,
                i64::from(i) * 10 + 9,
                100 + i64::from(i),
            );
        }
        s.update(&header(77, 0, 0, 1), 70, 70, 99);
        let bytes = s.to_snapshot_bytes();
        assert_eq!(
            bytes.len(),
            SNAPSHOT_HEADER_SIZE + 4 + 6 * SNAPSHOT_ENTRY_SIZE
        );
        let back = ProducerStateManager::from_snapshot_bytes(&bytes).unwrap();
        assert_eq!(back.entry(5), s.entry(5));
        assert_eq!(back.entry(77), s.entry(77));
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(ProducerStateManager::from_snapshot_bytes(&bad).is_err());
        for cut in 0..bytes.len() {
            assert!(ProducerStateManager::from_snapshot_bytes(&bytes[..cut]).is_err());
        }
        assert!(ProducerStateManager::from_snapshot_bytes(
            &ProducerStateManager::new().to_snapshot_bytes()
        )
        .unwrap()
        .is_empty());
    }
}
