//! Per-log settings, resolved from topic overrides over broker defaults by
//! `config::BrokerConfig::log_config`. The log reads nothing else.

/// Which timestamp a record batch carries once appended (`message.timestamp.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's timestamp is kept.
    CreateTime,
    /// The broker stamps its clock at append time.
    LogAppendTime,
}

/// Settings of one partition's log, in Kafka's topic-level config names.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment when it would exceed this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment when its first batch is this old.
    pub segment_ms: i64,
    /// `segment.index.bytes`: maximum size of an offset index (and time index) file.
    pub segment_index_bytes: u32,
    /// `index.interval.bytes`: bytes of log between two offset index entries.
    pub index_interval_bytes: u32,
    /// `flush.messages`: fsync after this many messages (`i64::MAX` = never; 1 = before every acknowledgement).
    pub flush_messages: i64,
    /// `flush.ms`: fsync when the oldest unflushed message is this old (`i64::MAX` = never).
    pub flush_ms: i64,
    /// `max.message.bytes`: largest record batch accepted.
    pub max_message_bytes: i32,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `retention.ms` (-1 = unlimited).
    pub retention_ms: i64,
    /// `retention.bytes` (-1 = unlimited).
    pub retention_bytes: i64,
    /// `file.delete.delay.ms`.
    pub file_delete_delay_ms: i64,
}

impl Default for LogConfig {
    /// Kafka 3.5's defaults.
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            max_message_bytes: 1_048_588,
            message_timestamp_type: TimestampType::CreateTime,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            file_delete_delay_ms: 60_000,
        }
    }
}
