//! Log manager (skeleton).
use std::path::PathBuf;
use super::{Log, LogConfig, LogError};

pub struct LogManager;

#[allow(unused_variables)]
impl LogManager {
    pub fn startup(log_dirs: &[PathBuf]) -> Result<LogManager, LogError> { todo!() }
    pub fn existing_partitions(&self) -> Vec<(String, i32, PathBuf)> { todo!() }
    pub fn open_log(&self, topic: &str, partition: i32, topic_id: uuid::Uuid, config: LogConfig, now_ms: i64) -> Result<Log, LogError> { todo!() }
    pub fn checkpoint(&self, entries: &[(String, i32, i64, i64)]) -> Result<(), LogError> { todo!() }
    pub fn delete_log(&self, log: Log) -> Result<(), LogError> { todo!() }
    pub fn mark_clean_shutdown(&self) -> Result<(), LogError> { todo!() }
}
