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

/// A topic's `compression.type`: which codec its batches are stored with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionType {
    /// `producer`: batches are stored with the codec the producer chose.
    Producer,
    /// `uncompressed`: compressed batches are decompressed before they are stored.
    Uncompressed,
    /// `gzip`.
    Gzip,
    /// `snappy`.
    Snappy,
    /// `lz4`.
    Lz4,
    /// `zstd`.
    Zstd,
}

impl std::str::FromStr for CompressionType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "producer" => CompressionType::Producer,
            "uncompressed" => CompressionType::Uncompressed,
            "gzip" => CompressionType::Gzip,
            "snappy" => CompressionType::Snappy,
            "lz4" => CompressionType::Lz4,
            "zstd" => CompressionType::Zstd,
            other => return Err(format!("unknown compression type {other:?}")),
        })
    }
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
    /// `compression.type`: the codec batches are stored with.
    pub compression_type: CompressionType,
    /// `message.downconversion.enable`: whether Fetch v0–3 may down-convert
    /// this log's batches (else UNSUPPORTED_VERSION for the partition).
    pub message_downconversion_enable: bool,
    /// `message.timestamp.difference.max.ms`: largest distance between a
    /// CreateTime record timestamp and the broker clock (`i64::MAX` = unchecked).
    pub message_timestamp_difference_max_ms: i64,
    /// `producer.id.expiration.ms` (a broker setting): an idempotent
    /// producer idle this long is forgotten by the partition.
    pub producer_id_expiration_ms: i64,
    /// `cleanup.policy` contains `delete`: segments expire by time and size.
    pub cleanup_delete: bool,
    /// `cleanup.policy` contains `compact`: the log cleaner compacts the log
    /// and keyless records are refused.
    pub cleanup_compact: bool,
    /// `delete.retention.ms`: how long tombstones survive on a compacted log.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`: records younger than this are not compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a log whose dirty head is older is compacted
    /// whatever its dirty ratio.
    pub max_compaction_lag_ms: i64,
    /// `min.cleanable.dirty.ratio`: dirty bytes / all cleanable bytes at which
    /// the cleaner picks the log.
    pub min_cleanable_dirty_ratio: f64,
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
            compression_type: CompressionType::Producer,
            message_downconversion_enable: true,
            message_timestamp_difference_max_ms: i64::MAX,
            producer_id_expiration_ms: 86_400_000,
            cleanup_delete: true,
            cleanup_compact: false,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            min_cleanable_dirty_ratio: 0.5,
        }
    }
}
