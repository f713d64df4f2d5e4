//! The partition log (skeleton; being implemented).

pub mod config;
pub use config::{LogConfig, TimestampType};
pub mod batch;
pub mod checkpoint;
pub mod index;
pub mod manager;
pub mod segment;

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

/// Errors of the log, each mapping to a Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("corrupt record batch: {0}")]
    CorruptMessage(String),
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge { size: usize, max: i32 },
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    #[error("offset {offset} is out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange { offset: i64, log_start: i64, log_end: i64 },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LogError {
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            LogError::CorruptMessage(_) => 2,
            LogError::InvalidRecord(_) => 87,
            LogError::MessageTooLarge { .. } => 10,
            LogError::UnsupportedMagic(_) => 43,
            LogError::OffsetOutOfRange { .. } => 1,
            LogError::Io { .. } => 56,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    pub log_append_time: i64,
    pub log_start_offset: i64,
    pub record_count: i64,
}

pub struct Log {
    dir: PathBuf,
    config: LogConfig,
}

#[allow(unused_variables)]
impl Log {
    pub fn open(dir: &Path, config: LogConfig, log_start_offset: i64, recovery_point: i64, clean_shutdown: bool, now_ms: i64) -> Result<Log, LogError> { todo!() }
    pub fn append(&mut self, records: &mut BytesMut, now_ms: i64) -> Result<AppendInfo, LogError> { todo!() }
    pub fn read(&self, offset: i64, max_bytes: usize, min_one_batch: bool) -> Result<Bytes, LogError> { todo!() }
    pub fn log_start_offset(&self) -> i64 { todo!() }
    pub fn log_end_offset(&self) -> i64 { todo!() }
    pub fn recovery_point(&self) -> i64 { todo!() }
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> { todo!() }
    pub fn max_timestamp_and_offset(&self) -> Option<(i64, i64)> { todo!() }
    pub fn flush(&mut self) -> Result<(), LogError> { todo!() }
    pub fn update_config(&mut self, config: LogConfig) { self.config = config }
    pub fn config(&self) -> &LogConfig { &self.config }
    pub fn size_bytes(&self) -> u64 { todo!() }
    pub fn dir(&self) -> &Path { &self.dir }
    pub fn close(&mut self) -> Result<(), LogError> { todo!() }
}
