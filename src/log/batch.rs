//! The log's checks of produced record batches: offset-range consistency,
//! `max.message.bytes`, and the positions of a produce buffer's batches; and
//! ListOffsets' walk of one batch's timestamps. The batch format itself —
//! header, CRC-32C, patches, records, codecs — is `crate::records`, which this
//! module re-exports for the log's own files.
//!
//! Invariants: nothing here decodes records on the append or read path (the
//! only record-level parsing is [`find_record_at_or_after`], used by
//! ListOffsets by timestamp); every access to input bytes is bounds-checked
//! and failures are [`LogError`]s, never panics.

pub use crate::records::batch::*;
use crate::records::records;

use super::LogError;

/// Validates one whole produced batch (`batch` is exactly the batch's bytes):
/// header, magic, CRC and offset-range consistency.
pub fn validate_batch(batch: &[u8]) -> Result<BatchHeader, LogError> {
    let header = check_batch_integrity(batch)?;
    if header.last_offset_delta < 0 {
        return Err(LogError::InvalidRecord(format!(
            "record batch has an invalid offset range (lastOffsetDelta {})",
            header.last_offset_delta
        )));
    }
    if i64::from(header.record_count) != i64::from(header.last_offset_delta) + 1 {
        return Err(LogError::InvalidRecord(format!(
            "inconsistent batch offset range: lastOffsetDelta {} but recordCount {}",
            header.last_offset_delta, header.record_count
        )));
    }
    Ok(header)
}

/// Where one validated batch sits in a produce buffer, and what the log needs of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchInfo {
    /// Position of the batch in the buffer.
    pub position: usize,
    /// Total size of the batch in bytes.
    pub size: usize,
    pub last_offset_delta: i32,
    pub max_timestamp: i64,
    pub attributes: i16,
}

/// Validates every batch of a produce buffer (v2 batches back to back). Checks
/// magic (`UnsupportedMagic`), length fields vs the buffer and CRC
/// (`CorruptMessage`), size vs `max_message_bytes` (`MessageTooLarge`) and the
/// offset range (`InvalidRecord`). Returns the batches' positions and metadata.
pub fn validate_batches(buf: &[u8], max_message_bytes: i32) -> Result<Vec<BatchInfo>, LogError> {
    let mut infos = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let rest = buf.get(pos..).unwrap_or(&[]);
        if rest.len() < LOG_OVERHEAD {
            return Err(LogError::CorruptMessage(format!(
                "{} trailing bytes at position {pos} are too short for a record batch",
                rest.len()
            )));
        }
        if rest.len() > MAGIC_OFFSET {
            let magic = get_i8(rest, MAGIC_OFFSET)?;
            if magic != MAGIC_V2 {
                return Err(LogError::UnsupportedMagic(magic));
            }
        }
        let batch_length = get_i32(rest, BATCH_LENGTH_OFFSET)?;
        if batch_length < MIN_BATCH_LENGTH {
            return Err(LogError::CorruptMessage(format!(
                "record batch at position {pos} has length {batch_length}, below the minimum {MIN_BATCH_LENGTH}"
            )));
        }
        let size = batch_length as usize + LOG_OVERHEAD;
        if size > rest.len() {
            return Err(LogError::CorruptMessage(format!(
                "record batch at position {pos} claims {size} bytes but only {} remain",
                rest.len()
            )));
        }
        if size > max_message_bytes.max(0) as usize {
            return Err(LogError::MessageTooLarge {
                size,
                max: max_message_bytes,
            });
        }
        let header = validate_batch(rest.get(..size).unwrap_or(&[]))?;
        // Smallest record: length, attributes, timestamp delta, offset delta,
        // key length, value length, header count: one byte each.
        if !header.is_compressed()
            && i64::from(header.record_count) > ((size - BATCH_HEADER_SIZE) / 7) as i64
        {
            return Err(LogError::InvalidRecord(format!(
                "uncompressed record batch of {size} bytes cannot hold {} records",
                header.record_count
            )));
        }
        infos.push(BatchInfo {
            position: pos,
            size,
            last_offset_delta: header.last_offset_delta,
            max_timestamp: header.max_timestamp,
            attributes: header.attributes,
        });
        pos += size;
    }
    Ok(infos)
}

/// Walks the records of an uncompressed batch (the whole batch in `batch`)
/// and returns `(offset, timestamp)` of the first record with
/// `timestamp >= ts` and `offset >= min_offset`.
pub fn find_record_at_or_after(
    batch: &[u8],
    ts: i64,
    min_offset: i64,
) -> Result<Option<(i64, i64)>, LogError> {
    let header = BatchHeader::parse(batch)?;
    if header.is_compressed() {
        return Err(LogError::CorruptMessage(
            "cannot walk the records of a compressed batch".into(),
        ));
    }
    let section = batch
        .get(BATCH_HEADER_SIZE..header.total_size().min(batch.len()))
        .unwrap_or(&[]);
    for record in records(section, header.record_count)? {
        let record = record?;
        let record_ts = header.record_timestamp(record.timestamp_delta);
        let offset = header
            .base_offset
            .saturating_add(i64::from(record.offset_delta));
        if record_ts >= ts && offset >= min_offset {
            return Ok(Some((offset, record_ts)));
        }
    }
    Ok(None)
}

/// Builders of valid batches for tests of this crate and its benches.
#[doc(hidden)]
pub use crate::records::testing;

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn parse_and_validate_built_batch() {
        let b = build_batch(5, &[(100, Some(b"k"), Some(b"v")), (120, None, Some(b"w"))]);
        let h = validate_batch(&b).unwrap();
        assert_eq!(h.base_offset, 5);
        assert_eq!(h.last_offset(), 6);
        assert_eq!(h.record_count, 2);
        assert_eq!(h.max_timestamp, 120);
        assert_eq!(h.total_size(), b.len());
        assert_eq!(find_record_at_or_after(&b, 110, 0).unwrap(), Some((6, 120)));
        assert_eq!(find_record_at_or_after(&b, 50, 0).unwrap(), Some((5, 100)));
        assert_eq!(find_record_at_or_after(&b, 50, 6).unwrap(), Some((6, 120)));
        assert_eq!(find_record_at_or_after(&b, 121, 0).unwrap(), None);
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        let b = simple_batch(3, 1);
        let mut bad = b.clone();
        bad[70] ^= 0xff;
        assert!(matches!(
            validate_batches(&bad, i32::MAX),
            Err(LogError::CorruptMessage(_))
        ));
        let mut v1 = b.clone();
        v1[MAGIC_OFFSET] = 1;
        assert!(matches!(
            validate_batches(&v1, i32::MAX),
            Err(LogError::UnsupportedMagic(1))
        ));
        assert!(matches!(
            validate_batches(&b, 10),
            Err(LogError::MessageTooLarge { .. })
        ));
        for cut in 0..b.len() {
            assert!(validate_batches(&b[..cut], i32::MAX).is_err() || cut == 0);
            let _ = BatchHeader::parse(&b[..cut]);
            let _ = find_record_at_or_after(&b[..cut], 0, 0);
        }
        let mut two = b.clone();
        two.extend_from_slice(&b);
        assert_eq!(validate_batches(&two, i32::MAX).unwrap().len(), 2);
    }

    #[test]
    fn log_append_time_patch_keeps_crc_valid() {
        let mut b = simple_batch(2, 10);
        let len = b.len();
        set_base_offset_and_epoch(&mut b, 0, 42, 0).unwrap();
        set_max_timestamp(&mut b, 0, len, true, 999).unwrap();
        let h = validate_batch(&b).unwrap();
        assert_eq!(h.base_offset, 42);
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 999);
        assert_eq!(h.partition_leader_epoch, 0);
    }
}
