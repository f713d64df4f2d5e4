//! Producer id allocation for InitProducerId (Kafka's `ProducerIdManager`).
//!
//! Ids are handed out from blocks of [`BLOCK_SIZE`]. Before the first id of a
//! block is handed out, the block's end is written (temp file, fsync, rename,
//! directory fsync) to [`PRODUCER_ID_BLOCK_FILE`] in the first log dir, in the
//! JSON that Kafka keeps in ZooKeeper's `/latest_producer_id_block`. A restart
//! continues after the recorded block, so an id is never handed out twice,
//! even after a crash (the unused rest of a block is skipped).
//!
//! Invariants: every id below the current block's next id has been handed out
//! or skipped; ids only grow. The state lock is held across the block write
//! (rare: once per [`BLOCK_SIZE`] ids), so callers run on the blocking pool.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::log::checkpoint::atomic_write;

/// The file holding the last allocated block, in the first log dir.
pub const PRODUCER_ID_BLOCK_FILE: &str = "producer-id-block.json";
/// Ids per block (Kafka's `PRODUCER_ID_BLOCK_SIZE`).
pub const BLOCK_SIZE: i64 = 1000;

/// Why no producer id could be allocated.
#[derive(Debug, thiserror::Error)]
pub enum ProducerIdError {
    /// The block file could not be read or written.
    #[error("producer id block file {path}: {reason}")]
    BlockFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Every id up to `i64::MAX` has been used.
    #[error("producer ids are exhausted")]
    Exhausted,
}

#[derive(Debug)]
struct Block {
    /// Next id to hand out.
    next: i64,
    /// One past the block's last id.
    end: i64,
}

/// Allocates producer ids; `Send + Sync`.
#[derive(Debug)]
pub struct ProducerIdManager {
    path: PathBuf,
    broker_id: i32,
    /// `None` until the block file was read (lazily, on first use).
    block: Mutex<Option<Block>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct BlockJson {
    version: i32,
    broker: i32,
    block_start: String,
    block_end: String,
}

impl ProducerIdManager {
    /// A manager keeping its block in `dir`/[`PRODUCER_ID_BLOCK_FILE`]; no I/O yet.
    pub fn new(dir: &Path, broker_id: i32) -> Self {
        ProducerIdManager {
            path: dir.join(PRODUCER_ID_BLOCK_FILE),
            broker_id,
            block: Mutex::new(None),
        }
    }

    fn file_err(&self, reason: impl ToString) -> ProducerIdError {
        ProducerIdError::BlockFile {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    /// The first id after the recorded block (0 without a file).
    fn read_high_water(&self) -> Result<i64, ProducerIdError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.file_err(e)),
        };
        let json: BlockJson = serde_json::from_str(&text).map_err(|e| self.file_err(e))?;
        let end: i64 = json.block_end.parse().map_err(|_| {
            self.file_err(format!("block_end {:?} is not a number", json.block_end))
        })?;
        end.checked_add(1).ok_or(ProducerIdError::Exhausted)
    }

    fn allocate_block(&self, start: i64) -> Result<Block, ProducerIdError> {
        let end = start
            .checked_add(BLOCK_SIZE)
            .ok_or(ProducerIdError::Exhausted)?;
        let json = BlockJson {
            version: 1,
            broker: self.broker_id,
            block_start: start.to_string(),
            block_end: (end - 1).to_string(),
        };
        let text = serde_json::to_string(&json).map_err(|e| self.file_err(e))?;
        atomic_write(&self.path, text.as_bytes()).map_err(|e| self.file_err(e))?;
        tracing::info!(
            block_start = start,
            block_end = end - 1,
            "allocated producer id block"
        );
        Ok(Block { next: start, end })
    }

    fn with_block<T>(&self, f: impl FnOnce(&mut Block) -> T) -> Result<T, ProducerIdError> {
        let mut guard = self.block.lock();
        let block = match guard.take() {
            Some(b) if b.next < b.end => b,
            Some(b) => self.allocate_block(b.end)?,
            None => {
                let start = self.read_high_water()?;
                self.allocate_block(start)?
            }
        };
        let block = guard.insert(block);
        Ok(f(block))
    }

    /// A producer id never handed out before (blocking I/O once per block).
    pub fn generate(&self) -> Result<i64, ProducerIdError> {
        self.with_block(|b| {
            let id = b.next;
            b.next += 1;
            id
        })
    }

    /// Whether `id` may have been handed out by this broker.
    pub fn is_allocated(&self, id: i64) -> Result<bool, ProducerIdError> {
        if id < 0 {
            return Ok(false);
        }
        self.with_block(|b| id < b.next)
    }

    /// InitProducerId of an idempotent (non-transactional) producer: a
    /// producer passing its current id and epoch (KIP-360) gets the same id
    /// with the next epoch — a stateless answer, so a retried request gets
    /// the same one — unless the epoch is exhausted or the id is not one of
    /// ours; everybody else gets a new id with epoch 0.
    pub fn init_producer(
        &self,
        producer_id: i64,
        epoch: i16,
    ) -> Result<(i64, i16), ProducerIdError> {
        if producer_id >= 0
            && (0..i16::MAX - 1).contains(&epoch)
            && self.is_allocated(producer_id)?
        {
            return Ok((producer_id, epoch + 1));
        }
        Ok((self.generate()?, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let m = ProducerIdManager::new(dir.path(), 1);
        let first: Vec<i64> = (0..1500).map(|_| m.generate().unwrap()).collect();
        assert_eq!(first, (0..1500).collect::<Vec<_>>());
        drop(m);
        // A restart (or crash) skips the rest of the recorded block.
        let m = ProducerIdManager::new(dir.path(), 1);
        assert_eq!(m.generate().unwrap(), 2000);
        let text = std::fs::read_to_string(dir.path().join(PRODUCER_ID_BLOCK_FILE)).unwrap();
        assert!(text.contains("\"block_start\":\"2000\""), "{text}");
        assert!(text.contains("\"block_end\":\"2999\""), "{text}");
    }

    #[test]
    fn epoch_bumps_for_known_producers() {
        let dir = tempfile::tempdir().unwrap();
        let m = ProducerIdManager::new(dir.path(), 1);
        assert_eq!(m.init_producer(-1, -1).unwrap(), (0, 0));
        assert_eq!(m.init_producer(0, 0).unwrap(), (0, 1));
        // A retry gets the same answer.
        assert_eq!(m.init_producer(0, 0).unwrap(), (0, 1));
        // Exhausted epoch or a foreign id: a new id.
        assert_eq!(m.init_producer(0, i16::MAX - 1).unwrap(), (1, 0));
        assert_eq!(m.init_producer(5_000, 3).unwrap(), (2, 0));
    }

    #[test]
    fn unreadable_block_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PRODUCER_ID_BLOCK_FILE), b"{garbage").unwrap();
        let m = ProducerIdManager::new(dir.path(), 1);
        assert!(matches!(
            m.generate(),
            Err(ProducerIdError::BlockFile { .. })
        ));
    }
}
