//! Kafka's record format, in one place (Kafka's `common.record` package):
//! record batch v2 and its records. Everything in strom that reads or writes
//! batches — the log and its validator, the log cleaner, the group
//! coordinator's `__consumer_offsets`, the produce handler, the client, the
//! tools and `strom perf` — goes through this module; no other copy of the
//! format exists.
//!
//! **API boundary.** This is a leaf: it imports nothing from the rest of
//! strom, and everything may import it. Its public API:
//! - [`batch`]: the 61-byte v2 header — field offsets and attribute bits,
//!   [`BatchHeader::parse`], [`check_batch_integrity`] (length + CRC-32C),
//!   [`compute_crc`]/[`update_crc`], [`records_section`], and the log's
//!   in-place patches [`set_base_offset_and_epoch`] (outside the CRC) and
//!   [`set_max_timestamp`] (CRC recomputed);
//! - [`varint`]: zigzag varints and varlongs, read (bounded: 5 and 10 bytes)
//!   and written;
//! - [`Codec`]: none/gzip/snappy (raw and xerial)/lz4/zstd;
//!   [`Codec::decompress`] always takes a limit, normally
//!   [`MAX_DECOMPRESSED_BATCH_BYTES`];
//! - [`records`] → [`RecordIter`] of borrowed [`Record`]s over a
//!   decompressed records section, every length and count checked first;
//! - [`BatchBuilder`]: writes a batch (any codec, producer fields,
//!   attributes, base offset), and rewrites one ([`BatchBuilder::like`] +
//!   [`BatchBuilder::push_record`]);
//! - [`legacy`]: the magic 0/1 message sets of Produce v0–2 and Fetch v0–3
//!   (Kafka's `LegacyRecord`): a bounded decoder with their CRC-32 (IEEE),
//!   [`legacy::convert`]/[`legacy::up_convert`] into one v2 batch through
//!   [`BatchBuilder`], and [`legacy::down_convert`] of stored batches (read
//!   with [`records`]) back to messages; decompression through [`Codec`],
//!   errors as [`legacy::LegacyError`] (one Kafka error code each);
//! - [`file`]: Kafka's `FileRecords` for a fetch, whole batches as byte
//!   ranges of segment files ([`file::FileSlice`]), sent to a socket with
//!   `sendfile(2)` or read into memory.
//!
//! Errors are [`RecordsError`]s; callers map them to their own (the log:
//! `Corrupt` → CORRUPT_MESSAGE, `UnsupportedMagic` → UNSUPPORTED_VERSION …).

pub mod batch;
pub mod builder;
pub mod codec;
pub mod file;
pub mod legacy;
pub mod record;
pub mod varint;

pub use batch::{
    check_batch_integrity, compute_crc, records_section, set_base_offset_and_epoch,
    set_max_timestamp, update_crc, BatchHeader, BATCH_HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2,
};
pub use builder::{BatchBuilder, Header};
pub use codec::{Codec, MAX_DECOMPRESSED_BATCH_BYTES};
pub use record::{records, Headers, Record, RecordIter};

/// Why bytes are not a valid record batch, or a batch could not be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    /// Malformed: truncated, a bad length, count or varint, a CRC mismatch,
    /// undecompressable data or data over the decompression limit
    /// (Kafka's CORRUPT_MESSAGE).
    #[error("{0}")]
    Corrupt(String),
    /// A magic other than 2.
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    /// The codec failed to compress.
    #[error("cannot compress records with {codec}: {reason}")]
    Compress {
        /// The codec's name.
        codec: &'static str,
        /// What it said.
        reason: String,
    },
    /// A batch built here would exceed batchLength's 2 GiB.
    #[error("record batch of {0} bytes exceeds 2 GiB")]
    Oversized(usize),
}

impl RecordsError {
    pub(crate) fn corrupt(msg: impl Into<String>) -> RecordsError {
        RecordsError::Corrupt(msg.into())
    }
}

/// Batch builders for tests (unit, integration and benches).
#[doc(hidden)]
pub mod testing {
    use super::{BatchBuilder, Codec};

    /// One test record: (timestamp, key, value).
    pub type TestRecord<'a> = (i64, Option<&'a [u8]>, Option<&'a [u8]>);

    /// An uncompressed v2 batch at `base_offset` holding one record per
    /// `(timestamp, key, value)`, CreateTime, no producer id, correct CRC.
    pub fn build_batch(base_offset: i64, records: &[TestRecord<'_>]) -> Vec<u8> {
        let mut b = BatchBuilder::new(Codec::None).with_base_offset(base_offset);
        for (ts, key, value) in records {
            b.append(*ts, *key, *value, &[]);
        }
        b.finish().unwrap_or_default()
    }

    /// A batch of `n` records with values `value-<i>`, all stamped `timestamp`.
    pub fn simple_batch(n: usize, timestamp: i64) -> Vec<u8> {
        let values: Vec<Vec<u8>> = (0..n).map(|i| format!("value-{i}").into_bytes()).collect();
        let recs: Vec<TestRecord<'_>> = values
            .iter()
            .map(|v| (timestamp, None, Some(v.as_slice())))
            .collect();
        build_batch(0, &recs)
    }
}
